/*  fuzz_seedgen -- writes the seed corpus of every fuzz target: valid
    objects of each kind made with fresh keys (so they exercise the paths
    past decoding), and a few near misses. Run it once into a folder and
    commit what it writes under tests/fuzz/corpus/ (see README.md):

        build/tests/fuzz/fuzz_seedgen tests/fuzz/corpus

    Key files in the seeds are throwaway keys made here, used nowhere. */
#include "fuzz_seal_key.h"
#include "nrm_codec.h"
#include "nrm_crypto.h"
#include "nrm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *s_root;

static void
s_die(const char *what)
{
    fprintf(stderr, "fuzz_seedgen: %s\n", what);
    exit(1);
}

static void
s_put(const char *target, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", s_root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", s_root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        s_die(path);
}

static void
s_text(const char *target, const char *name, const char *text)
{
    s_put(target, name, text, strlen(text));
}

#define OK(x) do { if ((x) != 0) s_die(#x); } while (0)

/* Signs body with ctx and wraps it in Signed{}; caller frees *out. */
static void
s_signed(const nrm_keys_t *k, const char *ctx, const uint8_t *body, size_t len,
         uint8_t sig[NRM_SIG_BYTES], uint8_t **out, size_t *out_len)
{
    OK(nrm_sign(k, ctx, body, len, sig));
    OK(nrm_signed_encode(body, len, sig, out, out_len, NULL));
}

/* One seed of the seal target: mode byte, then bytes. */
static void
s_seal_put(const char *name, uint8_t mode, const uint8_t *data, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    if (!buf)
        s_die("out of memory");
    buf[0] = mode;
    memcpy(buf + 1, data, len);
    s_put("seal", name, buf, len + 1);
    free(buf);
}

/* Seeds of the seal target, sealed to its fixed key (fuzz_seal_key.h):
   bodies of both formats and near misses (mode 0), and batches (mode 1). */
static void
s_seal_seeds(void)
{
    uint8_t file[FUZZ_SEAL_KEYFILE_BYTES], one[512], two[4][512];
    char path[4096];
    nrm_keys_t *k = NULL;
    nrm_sealer_t *sealer = nrm_sealer_new(1);
    const char *doc = "{\"cas_OutgoingReferralDetails\":\"seed\"}";
    size_t n = strlen(doc);

    fuzz_seal_keyfile(file);
    snprintf(path, sizeof path, "%s/seal.keys.tmp", s_root);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(file, 1, sizeof file, f) != sizeof file || fclose(f) != 0
        || chmod(path, 0600) != 0)
        s_die(path);
    OK(nrm_keys_load(path, &k, NULL));
    remove(path);
    OK(nrm_seal1(nrm_keys_box_pk(k), (const uint8_t *) doc, n, one));
    s_seal_put("format1", 0, one, n + NRM_SEAL1_OVERHEAD);
    if (!sealer)
        s_die("sealer");
    for (int i = 0; i < 4; i++)
        OK(nrm_sealer_seal(sealer, nrm_keys_box_pk(k), (const uint8_t *) doc, n, two[i]));
    s_seal_put("format2", 0, two[0], n + NRM_SEAL2_OVERHEAD);
    s_seal_put("format2-counter3", 0, two[3], n + NRM_SEAL2_OVERHEAD);
    s_seal_put("format2-truncated", 0, two[1], NRM_SEAL2_OVERHEAD - 1);
    two[2][32] = 9;
    s_seal_put("format2-version9", 0, two[2], n + NRM_SEAL2_OVERHEAD);
    OK(nrm_sealer_seal(sealer, nrm_keys_box_pk(k), (const uint8_t *) doc, 0, two[2]));
    s_seal_put("format2-empty", 0, two[2], NRM_SEAL2_OVERHEAD);
    nrm_sealer_destroy(&sealer);
    /* batches: 4 messages, the second's ephemeral key altered; 8 clean */
    uint8_t head[5 + 64];
    head[1] = 3 | 1 << 3;
    head[2] = 0;
    head[3] = 5;
    head[4] = 0x10;
    memcpy(head + 5, doc, n);
    s_seal_put("batch4-epk", 1, head + 1, 4 + n);
    head[1] = 7;
    head[4] = 0;
    s_seal_put("batch8-clean", 1, head + 1, 4 + n);
    nrm_keys_destroy(&k);
}

int
main(int argc, char **argv)
{
    if (argc != 2)
        s_die("usage: fuzz_seedgen CORPUS_DIR");
    s_root = argv[1];
    mkdir(s_root, 0755);
    OK(nrm_crypto_init());
    nrm_keys_t *admin = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE);
    nrm_keys_t *broker = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE);
    nrm_keys_t *police = nrm_keys_generate(NRM_KEYS_ALL);
    nrm_keys_t *msdhs = nrm_keys_generate(NRM_KEYS_ALL);
    if (!admin || !broker || !police || !msdhs)
        s_die("keys");
    uint64_t now = 1767225600000ull;    /* 2026-01-01: seeds stay the same kind */
    uint8_t *b = NULL, *sb = NULL, sig[NRM_SIG_BYTES], csig[NRM_SIG_BYTES];
    size_t blen = 0, sblen = 0;

    /* Enrollment request and certificate of police. */
    nrm_cert_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.org_id, sizeof c.org_id, "police");
    snprintf(c.org_type, sizeof c.org_type, "police");
    snprintf(c.name, sizeof c.name, "Provincial Police Anti-Trafficking Unit");
    snprintf(c.jurisdiction, sizeof c.jurisdiction, "Tak");
    memcpy(c.sign_pk, nrm_keys_sign_pk(police), 32);
    memcpy(c.curve_pk, nrm_keys_curve_pk(police), 32);
    memcpy(c.box_pk, nrm_keys_box_pk(police), 32);
    c.created_ms = now;
    OK(nrm_request_encode(&c, &b, &blen, NULL));
    s_put("signed", "request-body", b, blen);
    s_signed(police, NRM_CTX_REQUEST, b, blen, sig, &sb, &sblen);
    s_put("signed", "request-signed", sb, sblen);
    s_put("request", "request.nrm", sb, sblen);
    sb[sblen - 1] ^= 1;
    s_put("request", "request-bad-signature.nrm", sb, sblen);
    free(b);
    free(sb);
    c.created_ms = 0;
    c.not_before_ms = now;
    c.not_after_ms = now + 365ull * 86400000ull;
    c.serial = 2;
    memcpy(c.issuer_pk, nrm_keys_sign_pk(admin), 32);
    nrm_random(c.request_hash, 32);
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    OK(nrm_cert_encode(&c, &cert, &cert_len, NULL));
    s_put("signed", "cert-body", cert, cert_len);
    uint8_t *cert_signed = NULL;
    size_t cert_signed_len = 0;
    s_signed(admin, NRM_CTX_CERT, cert, cert_len, csig, &cert_signed, &cert_signed_len);
    s_put("signed", "cert-signed", cert_signed, cert_signed_len);

    /* Genesis. */
    nrm_genesis_t g;
    memset(&g, 0, sizeof g);
    snprintf(g.network, sizeof g.network, "demo");
    memcpy(g.admin_pk, nrm_keys_sign_pk(admin), 32);
    memcpy(g.broker_sign_pk, nrm_keys_sign_pk(broker), 32);
    memcpy(g.broker_curve_pk, nrm_keys_curve_pk(broker), 32);
    g.created_ms = now;
    g.nadmins = 1;
    memcpy(g.admin_sign_pks[0], nrm_keys_sign_pk(admin), 32);
    memcpy(g.admin_curve_pks[0], nrm_keys_curve_pk(admin), 32);
    g.quorum = 1;
    OK(nrm_genesis_encode(&g, &b, &blen, NULL));
    s_put("signed", "genesis-body", b, blen);
    s_signed(admin, NRM_CTX_GENESIS, b, blen, sig, &sb, &sblen);
    s_put("signed", "genesis-signed", sb, sblen);
    nrm_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.seq = 1;
    rec.time_ms = now;
    rec.kind = NRM_REC_GENESIS;
    snprintf(rec.actor, sizeof rec.actor, "admin");
    rec.subject = b;
    rec.subject_len = blen;
    rec.has_signature = true;
    memcpy(rec.signature, sig, 64);
    uint8_t *r = NULL;
    size_t rlen = 0;
    OK(nrm_record_encode(&rec, &r, &rlen, NULL));
    s_put("record", "genesis", r, rlen);
    free(r);
    free(b);
    free(sb);

    /* Envelope police -> msdhs with a sealed document. */
    const char *doc = "{\"prs_age\":16,\"cas_reason\":\"shelter\"}";
    size_t slen = strlen(doc) + NRM_SEAL1_OVERHEAD;
    uint8_t sealed[256];
    OK(nrm_seal1(nrm_keys_box_pk(msdhs), (const uint8_t *) doc, strlen(doc), sealed));
    nrm_envelope_t e;
    memset(&e, 0, sizeof e);
    e.version = NRM_ENVELOPE_VERSION;
    nrm_random(e.msg_id, 16);
    snprintf(e.type, sizeof e.type, "referral");
    snprintf(e.sender, sizeof e.sender, "police");
    snprintf(e.recipient, sizeof e.recipient, "msdhs");
    snprintf(e.case_ref, sizeof e.case_ref, "case-0001");
    e.created_ms = now;
    e.priority = 3;
    nrm_sha256(sealed, slen, e.body_hash);
    e.body_size = (uint32_t) slen;
    uint8_t *env = NULL, esig[64];
    size_t env_len = 0;
    OK(nrm_envelope_encode(&e, &env, &env_len, NULL));
    OK(nrm_sign(police, NRM_CTX_ENVELOPE, env, env_len, esig));
    s_put("envelope", "referral", env, env_len);
    nrm_envelope_t e2 = e;
    e2.has_reply_to = true;
    nrm_random(e2.in_reply_to, 16);
    e2.priority = 0;
    snprintf(e2.type, sizeof e2.type, "response");
    OK(nrm_envelope_encode(&e2, &b, &blen, NULL));
    s_put("envelope", "response", b, blen);
    free(b);

    /* Client frames. */
    nrm_wire_t w = { .kind = NRM_WIRE_HELLO, .version = 1, .org_id = "police", .time_ms = now };
    OK(nrm_wire_encode(&w, &b, &blen, NULL));
    s_put("wire_client", "hello", b, blen);
    free(b);
    uint8_t dir[NRM_HASH_BYTES];
    memset(dir, 0xd1, sizeof dir);
    w.directory = (nrm_bytes_t) { dir, sizeof dir };   /* names the directory it holds */
    OK(nrm_wire_encode(&w, &b, &blen, NULL));
    s_put("wire_client", "hello-directory", b, blen);
    free(b);
    w = (nrm_wire_t) { .kind = NRM_WIRE_SUBMIT };
    w.envelope = (nrm_bytes_t) { env, env_len };
    w.signature = (nrm_bytes_t) { esig, 64 };
    w.sealed_body = (nrm_bytes_t) { sealed, slen };
    OK(nrm_wire_encode(&w, &b, &blen, NULL));
    s_put("wire_client", "submit", b, blen);
    free(b);
    nrm_ack_t a;
    memset(&a, 0, sizeof a);
    memcpy(a.msg_id, e.msg_id, 16);
    snprintf(a.recipient, sizeof a.recipient, "msdhs");
    a.accepted_seq = 4;
    memcpy(a.body_hash, e.body_hash, 32);
    a.time_ms = now;
    OK(nrm_ack_encode(&a, &b, &blen, NULL));
    s_put("signed", "ack-body", b, blen);
    OK(nrm_sign(msdhs, NRM_CTX_ACK, b, blen, sig));
    w = (nrm_wire_t) { .kind = NRM_WIRE_ACK };
    w.signed_obj = (nrm_signed_view_t) { .body = { b, blen }, .sig = { sig, 64 } };
    uint8_t *f = NULL;
    size_t flen = 0;
    OK(nrm_wire_encode(&w, &f, &flen, NULL));
    s_put("wire_client", "ack", f, flen);
    free(f);
    memset(&rec, 0, sizeof rec);
    rec.seq = 5;
    rec.time_ms = now;
    rec.kind = NRM_REC_DELIVERED;
    snprintf(rec.actor, sizeof rec.actor, "msdhs");
    rec.subject = b;
    rec.subject_len = blen;
    rec.has_signature = true;
    memcpy(rec.signature, sig, 64);
    rec.has_msg_id = true;
    memcpy(rec.msg_id, e.msg_id, 16);
    rec.refers_to = 4;
    nrm_random(rec.prev_hash, 32);
    OK(nrm_record_encode(&rec, &r, &rlen, NULL));
    s_put("record", "delivered", r, rlen);
    free(r);
    free(b);
    a.status = NRM_R_BODY_MISMATCH;
    snprintf(a.reason, sizeof a.reason, "the body does not open");
    OK(nrm_ack_encode(&a, &b, &blen, NULL));
    s_put("signed", "ack-refusal-body", b, blen);
    free(b);
    nrm_bytes_t ids[2] = { { e.msg_id, 16 }, { e2.msg_id, 16 } };
    w = (nrm_wire_t) { .kind = NRM_WIRE_STATUS, .count = 2, .ids = ids };
    OK(nrm_wire_encode(&w, &b, &blen, NULL));
    s_put("wire_client", "status", b, blen);
    free(b);
    w = (nrm_wire_t) { .kind = NRM_WIRE_PING, .time_ms = now };
    OK(nrm_wire_encode(&w, &b, &blen, NULL));
    s_put("wire_client", "ping", b, blen);
    free(b);

    /* Records: accepted and rejected. */
    memset(&rec, 0, sizeof rec);
    rec.seq = 4;
    rec.time_ms = now;
    rec.kind = NRM_REC_ACCEPTED;
    snprintf(rec.actor, sizeof rec.actor, "police");
    rec.subject = env;
    rec.subject_len = env_len;
    rec.has_signature = true;
    memcpy(rec.signature, esig, 64);
    rec.has_msg_id = true;
    memcpy(rec.msg_id, e.msg_id, 16);
    nrm_random(rec.prev_hash, 32);
    OK(nrm_record_encode(&rec, &r, &rlen, NULL));
    s_put("record", "accepted", r, rlen);
    free(r);
    rec.kind = NRM_REC_REJECTED;
    rec.reason_code = NRM_R_BAD_SIGNATURE;
    snprintf(rec.reason, sizeof rec.reason, "envelope signature does not verify");
    rec.has_frame_hash = true;
    nrm_random(rec.frame_hash, 32);
    rec.frame_size = 700;
    OK(nrm_record_encode(&rec, &r, &rlen, NULL));
    s_put("record", "rejected", r, rlen);
    free(r);

    /* Server frames: receipt, deliver, welcome, status reply, pong. */
    nrm_receipt_t rc;
    memset(&rc, 0, sizeof rc);
    rc.has_msg_id = true;
    memcpy(rc.msg_id, e.msg_id, 16);
    nrm_random(rc.frame_hash, 32);
    rc.seq = 4;
    nrm_random(rc.record_hash, 32);
    rc.time_ms = now;
    OK(nrm_receipt_encode(&rc, &b, &blen, NULL));
    s_put("signed", "receipt-body", b, blen);
    OK(nrm_sign(broker, NRM_CTX_RECEIPT, b, blen, sig));
    w = (nrm_wire_t) { .kind = NRM_WIRE_RECEIPT };
    w.signed_obj = (nrm_signed_view_t) { .body = { b, blen }, .sig = { sig, 64 } };
    OK(nrm_wire_encode(&w, &f, &flen, NULL));
    s_put("deliver", "receipt", f, flen);
    free(f);
    free(b);
    w = (nrm_wire_t) { .kind = NRM_WIRE_DELIVER, .seq = 4 };
    w.envelope = (nrm_bytes_t) { env, env_len };
    w.signature = (nrm_bytes_t) { esig, 64 };
    w.sealed_body = (nrm_bytes_t) { sealed, slen };
    w.signed_obj = (nrm_signed_view_t) { .body = { cert, cert_len }, .sig = { csig, 64 } };
    OK(nrm_wire_encode(&w, &f, &flen, NULL));
    s_put("deliver", "deliver", f, flen);
    free(f);
    nrm_signed_view_t certs[2] = { { .body = { cert, cert_len }, .sig = { csig, 64 } },
                                   { .body = { cert, cert_len }, .sig = { csig, 64 } } };
    w = (nrm_wire_t) { .kind = NRM_WIRE_WELCOME, .time_ms = now, .count = 2, .certs = certs };
    OK(nrm_wire_encode(&w, &f, &flen, NULL));
    s_put("deliver", "welcome", f, flen);
    free(f);
    w.directory = (nrm_bytes_t) { dir, sizeof dir };
    OK(nrm_wire_encode(&w, &f, &flen, NULL));
    s_put("deliver", "welcome-named", f, flen);
    free(f);
    w = (nrm_wire_t) { .kind = NRM_WIRE_WELCOME, .time_ms = now, .unchanged = true,
                       .directory = { dir, sizeof dir } };
    OK(nrm_wire_encode(&w, &f, &flen, NULL));
    s_put("deliver", "welcome-unchanged", f, flen);
    free(f);
    nrm_msg_status_t st = { .state = NRM_MSG_DELIVERED, .accepted_seq = 4, .delivered_seq = 5 };
    memcpy(st.msg_id, e.msg_id, 16);
    w = (nrm_wire_t) { .kind = NRM_WIRE_STATUS_REPLY, .count = 1, .items = &st };
    OK(nrm_wire_encode(&w, &f, &flen, NULL));
    s_put("deliver", "status-reply", f, flen);
    free(f);
    w = (nrm_wire_t) { .kind = NRM_WIRE_PONG, .time_ms = now };
    OK(nrm_wire_encode(&w, &f, &flen, NULL));
    s_put("deliver", "pong", f, flen);
    free(f);

    /* Batch signatures: three envelopes under one signature, two acks
       under another, three receipts under a third, each item with its
       proof (Submit, Deliver, the Signed of acks and receipts, records). */
    {
        uint8_t *envs[3] = { env, NULL, NULL };
        size_t envl[3] = { env_len, 0, 0 };
        OK(nrm_envelope_encode(&e2, &envs[1], &envl[1], NULL));
        e2.priority = 1;
        OK(nrm_envelope_encode(&e2, &envs[2], &envl[2], NULL));
        nrm_batch_item_t items[3];
        nrm_batch_proof_t proofs[3];
        uint8_t bsig[64];
        for (int i = 0; i < 3; i++)
            items[i] = (nrm_batch_item_t) { envs[i], envl[i] };
        OK(nrm_batch_sign(police, NRM_CTX_ENVELOPE, items, 3, bsig, proofs, NULL));
        w = (nrm_wire_t) { .kind = NRM_WIRE_SUBMIT };
        w.envelope = (nrm_bytes_t) { env, env_len };
        w.signature = (nrm_bytes_t) { bsig, 64 };
        w.sealed_body = (nrm_bytes_t) { sealed, slen };
        w.batch = proofs[0];
        OK(nrm_wire_encode(&w, &f, &flen, NULL));
        s_put("wire_client", "submit-batch", f, flen);
        free(f);
        w = (nrm_wire_t) { .kind = NRM_WIRE_DELIVER, .seq = 4 };
        w.envelope = (nrm_bytes_t) { env, env_len };
        w.signature = (nrm_bytes_t) { bsig, 64 };
        w.sealed_body = (nrm_bytes_t) { sealed, slen };
        w.signed_obj = (nrm_signed_view_t) { .body = { cert, cert_len }, .sig = { csig, 64 } };
        w.batch = proofs[0];
        OK(nrm_wire_encode(&w, &f, &flen, NULL));
        s_put("deliver", "deliver-batch", f, flen);
        free(f);
        OK(nrm_batch_proof_encode(&proofs[2], &f, &flen, NULL));
        s_put("signed", "batch-proof", f, flen);
        free(f);
        memset(&rec, 0, sizeof rec);
        rec.seq = 4;
        rec.time_ms = now;
        rec.kind = NRM_REC_ACCEPTED;
        snprintf(rec.actor, sizeof rec.actor, "police");
        rec.subject = envs[1];
        rec.subject_len = envl[1];
        rec.has_signature = true;
        memcpy(rec.signature, bsig, 64);
        rec.batch = proofs[1];
        rec.has_msg_id = true;
        memcpy(rec.msg_id, e2.msg_id, 16);
        nrm_random(rec.prev_hash, 32);
        OK(nrm_record_encode(&rec, &r, &rlen, NULL));
        s_put("record", "accepted-batch", r, rlen);
        free(r);
        free(envs[1]);
        free(envs[2]);

        uint8_t *acks[2];
        size_t ackl[2];
        a.status = 0;
        a.reason[0] = '\0';
        OK(nrm_ack_encode(&a, &acks[0], &ackl[0], NULL));
        a.accepted_seq = 9;
        OK(nrm_ack_encode(&a, &acks[1], &ackl[1], NULL));
        items[0] = (nrm_batch_item_t) { acks[0], ackl[0] };
        items[1] = (nrm_batch_item_t) { acks[1], ackl[1] };
        OK(nrm_batch_sign(msdhs, NRM_CTX_ACK, items, 2, bsig, proofs, NULL));
        w = (nrm_wire_t) { .kind = NRM_WIRE_ACK };
        w.signed_obj = (nrm_signed_view_t) { .body = { acks[1], ackl[1] }, .sig = { bsig, 64 } };
        w.batch = proofs[1];
        OK(nrm_wire_encode(&w, &f, &flen, NULL));
        s_put("wire_client", "ack-batch", f, flen);
        free(f);
        memset(&rec, 0, sizeof rec);
        rec.seq = 5;
        rec.time_ms = now;
        rec.kind = NRM_REC_DELIVERED;
        snprintf(rec.actor, sizeof rec.actor, "msdhs");
        rec.subject = acks[0];
        rec.subject_len = ackl[0];
        rec.has_signature = true;
        memcpy(rec.signature, bsig, 64);
        rec.batch = proofs[0];
        rec.has_msg_id = true;
        memcpy(rec.msg_id, e.msg_id, 16);
        rec.refers_to = 4;
        nrm_random(rec.prev_hash, 32);
        OK(nrm_record_encode(&rec, &r, &rlen, NULL));
        s_put("record", "delivered-batch", r, rlen);
        free(r);
        free(acks[0]);
        free(acks[1]);

        uint8_t *rcs[3];
        size_t rcl[3];
        for (int i = 0; i < 3; i++) {
            rc.seq = 4 + (uint64_t) i;
            OK(nrm_receipt_encode(&rc, &rcs[i], &rcl[i], NULL));
            items[i] = (nrm_batch_item_t) { rcs[i], rcl[i] };
        }
        OK(nrm_batch_sign(broker, NRM_CTX_RECEIPT, items, 3, bsig, proofs, NULL));
        w = (nrm_wire_t) { .kind = NRM_WIRE_RECEIPT };
        w.signed_obj = (nrm_signed_view_t) { .body = { rcs[2], rcl[2] }, .sig = { bsig, 64 } };
        w.batch = proofs[2];
        OK(nrm_wire_encode(&w, &f, &flen, NULL));
        s_put("deliver", "receipt-batch", f, flen);
        free(f);
        OK(nrm_signed_encode_batch(rcs[1], rcl[1], bsig, &proofs[1], &f, &flen, NULL));
        s_put("signed", "receipt-batch", f, flen);
        free(f);
        for (int i = 0; i < 3; i++)
            free(rcs[i]);
    }

    /* Config files as the programs write them. */
    char z85[41], hex[2 * 4096 + 1], text[16384];
    OK(nrm_z85_encode(nrm_keys_curve_pk(broker), z85));
    s_text("config", "broker.ini",
           "[broker]\nlisten = tcp://127.0.0.1:7100\nnetwork = demo\nbatch_max = 256\n"
           "window = 128\nlog_level = info\nmap_max_mb = 65536\n");
    s_text("config", "org.ini",
           "[org]\nid = police\ntype = police\nname = Provincial Police Anti-Trafficking Unit\n"
           "jurisdiction = Tak\n");
    int n = 0;
    char shex[65], ahex[65];
    nrm_hex_encode(nrm_keys_sign_pk(broker), 32, shex);
    nrm_hex_encode(nrm_keys_sign_pk(admin), 32, ahex);
    n += snprintf(text + n, sizeof text - (size_t) n,
                  "[broker]\nendpoint = tcp://127.0.0.1:7100\ncurve_public = %s\n"
                  "sign_public = %s\n[network]\nname = demo\nadmin_public = %s\n"
                  "[certificate]\nsigned = ", z85, shex, ahex);
    nrm_hex_encode(cert_signed, cert_signed_len, hex);
    for (size_t i = 0; i < strlen(hex); i += 64)
        n += snprintf(text + n, sizeof text - (size_t) n, "%s%.64s\n", i ? "  " : "", hex + i);
    s_text("config", "connect.ini", text);
    s_text("config", "errors.ini", "[broker\nlisten\n = x\n[org]\nid = Police!\n; comment\n");

    /* Key files. */
    char path[4096];
    snprintf(path, sizeof path, "%s/keys", s_root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/keys/org.keys", s_root);
    OK(nrm_keys_save(police, path, NULL));
    snprintf(path, sizeof path, "%s/keys/broker.keys", s_root);
    OK(nrm_keys_save(broker, path, NULL));
    snprintf(path, sizeof path, "%s/keys/admin.keys", s_root);
    OK(nrm_keys_save(admin, path, NULL));

    s_seal_seeds();

    free(env);
    free(cert);
    free(cert_signed);
    nrm_keys_destroy(&admin);
    nrm_keys_destroy(&broker);
    nrm_keys_destroy(&police);
    nrm_keys_destroy(&msdhs);
    return 0;
}
