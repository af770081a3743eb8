/*  nrm-loggen -- writes a realistic audit log for benchmarks: a GENESIS, two
    enrolled organisations, then N records of referrals accepted and
    delivered, each signed for real by its sender or recipient, with a
    broker checkpoint every 1000 records, appended through the same
    nrm_auditlog_append as the broker (chain, Merkle tree, checkpoints) in
    write transactions of 20,000 records.

    usage: nrm-loggen --dir OUT --records N
    OUT/data is the log store; OUT/broker.pub holds the broker key (hex).
    Not part of an installation: a tool for docs/performance.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nrm_auditlog.h"
#include "nrm_crypto.h"
#include "nrm_registry.h"
#include "nrm_util.h"

#define S_TXN_RECORDS 20000
#define S_CKPT_EVERY  1000

typedef struct {
    nrm_keys_t *admin, *broker, *police, *msdhs;
    uint64_t    target, done;
} s_gen_t;

static int
s_append(nrm_store_t *store, MDB_txn *txn, nrm_record_t *rec, uint64_t *seq, nrm_err_t *err)
{
    uint8_t leaf[NRM_HASH_BYTES];
    rec->time_ms = nrm_now_ms();
    return nrm_auditlog_append(store, txn, rec, seq, leaf, err);
}

static int
s_enroll(s_gen_t *g, nrm_store_t *store, MDB_txn *txn, nrm_keys_t *k, const char *id,
         nrm_err_t *err)
{
    nrm_cert_t c;
    nrm_record_t rec;
    uint8_t *body = NULL;
    size_t len = 0;
    uint64_t seq;
    memset(&c, 0, sizeof c);
    memset(&rec, 0, sizeof rec);
    snprintf(c.org_id, sizeof c.org_id, "%s", id);
    snprintf(c.org_type, sizeof c.org_type, "%s", id);
    snprintf(c.name, sizeof c.name, "Benchmark %s", id);
    memcpy(c.sign_pk, nrm_keys_sign_pk(k), 32);
    memcpy(c.curve_pk, nrm_keys_curve_pk(k), 32);
    memcpy(c.box_pk, nrm_keys_box_pk(k), 32);
    memcpy(c.issuer_pk, nrm_keys_sign_pk(g->admin), 32);
    c.not_before_ms = nrm_now_ms();
    c.not_after_ms = c.not_before_ms + 365ull * 86400000ull;
    int rc = nrm_cert_encode(&c, &body, &len, err);
    if (rc)
        return rc;
    rec.kind = NRM_REC_ENROLLED;
    snprintf(rec.actor, sizeof rec.actor, "admin");
    rec.subject = body;
    rec.subject_len = len;
    rec.has_signature = true;
    rc = nrm_sign(g->admin, NRM_CTX_CERT, body, len, rec.signature);
    if (rc == 0)
        rc = s_append(store, txn, &rec, &seq, err);
    free(body);
    return rc;
}

static int
s_start_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_gen_t *g = ctx;
    nrm_genesis_t gen;
    nrm_record_t rec;
    uint8_t *body = NULL;
    size_t len = 0;
    uint64_t seq;
    memset(&gen, 0, sizeof gen);
    memset(&rec, 0, sizeof rec);
    snprintf(gen.network, sizeof gen.network, "bench");
    memcpy(gen.admin_pk, nrm_keys_sign_pk(g->admin), 32);
    memcpy(gen.broker_sign_pk, nrm_keys_sign_pk(g->broker), 32);
    memcpy(gen.broker_curve_pk, nrm_keys_curve_pk(g->broker), 32);
    gen.created_ms = nrm_now_ms();
    int rc = nrm_genesis_encode(&gen, &body, &len, err);
    if (rc)
        return rc;
    rec.kind = NRM_REC_GENESIS;
    snprintf(rec.actor, sizeof rec.actor, "admin");
    rec.subject = body;
    rec.subject_len = len;
    rec.has_signature = true;
    rc = nrm_sign(g->admin, NRM_CTX_GENESIS, body, len, rec.signature);
    if (rc == 0)
        rc = s_append(store, txn, &rec, &seq, err);
    free(body);
    if (rc == 0)
        rc = s_enroll(g, store, txn, g->police, "police", err);
    if (rc == 0)
        rc = s_enroll(g, store, txn, g->msdhs, "msdhs", err);
    return rc;
}

/* One referral accepted and delivered: two records. */
static int
s_pair(s_gen_t *g, nrm_store_t *store, MDB_txn *txn, uint64_t n, nrm_err_t *err)
{
    nrm_envelope_t e;
    nrm_ack_t a;
    nrm_record_t rec;
    uint8_t *body = NULL;
    size_t len = 0;
    uint64_t accepted, seq;
    memset(&e, 0, sizeof e);
    e.version = 1;
    nrm_random(e.msg_id, 16);
    snprintf(e.type, sizeof e.type, "referral");
    snprintf(e.sender, sizeof e.sender, "police");
    snprintf(e.recipient, sizeof e.recipient, "msdhs");
    snprintf(e.case_ref, sizeof e.case_ref, "case-%llu", (unsigned long long) (n / 7));
    e.created_ms = nrm_now_ms();
    e.priority = (uint32_t) (n % 4);
    nrm_random(e.body_hash, 32);
    e.body_size = 3000;
    int rc = nrm_envelope_encode(&e, &body, &len, err);
    if (rc)
        return rc;
    memset(&rec, 0, sizeof rec);
    rec.kind = NRM_REC_ACCEPTED;
    snprintf(rec.actor, sizeof rec.actor, "police");
    rec.subject = body;
    rec.subject_len = len;
    rec.has_signature = rec.has_msg_id = true;
    memcpy(rec.msg_id, e.msg_id, 16);
    rc = nrm_sign(g->police, NRM_CTX_ENVELOPE, body, len, rec.signature);
    if (rc == 0)
        rc = s_append(store, txn, &rec, &accepted, err);
    free(body);
    if (rc)
        return rc;
    memset(&a, 0, sizeof a);
    memcpy(a.msg_id, e.msg_id, 16);
    snprintf(a.recipient, sizeof a.recipient, "msdhs");
    a.accepted_seq = accepted;
    memcpy(a.body_hash, e.body_hash, 32);
    a.time_ms = nrm_now_ms();
    if ((rc = nrm_ack_encode(&a, &body, &len, err)))
        return rc;
    memset(&rec, 0, sizeof rec);
    rec.kind = NRM_REC_DELIVERED;
    snprintf(rec.actor, sizeof rec.actor, "msdhs");
    rec.subject = body;
    rec.subject_len = len;
    rec.has_signature = rec.has_msg_id = true;
    rec.refers_to = accepted;
    memcpy(rec.msg_id, e.msg_id, 16);
    rc = nrm_sign(g->msdhs, NRM_CTX_ACK, body, len, rec.signature);
    if (rc == 0)
        rc = s_append(store, txn, &rec, &seq, err);
    free(body);
    return rc;
}

static int
s_chunk_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_gen_t *g = ctx;
    uint64_t tip, ckpt, seq;
    uint8_t leaf[NRM_HASH_BYTES];
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < S_TXN_RECORDS / 2; i++) {
        if ((rc = nrm_auditlog_tip(store, txn, &tip, leaf, err)))
            break;
        if (tip >= g->target)
            break;
        rc = s_pair(g, store, txn, tip, err);
        if (rc == 0)
            rc = nrm_auditlog_checkpoint(store, txn, &ckpt, err);
        if (rc == 0 && tip + 2 - ckpt >= S_CKPT_EVERY)
            rc = nrm_auditlog_append_checkpoint(store, txn, g->broker, "bench", nrm_now_ms(),
                                                &seq, err);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    static const char *const dbs[] = { NRM_BROKER_DBS, NULL };
    const char *dir = NULL;
    uint64_t n = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--records") == 0)
            n = strtoull(argv[i + 1], NULL, 10);
    }
    if (!dir || n < 10 || n > 1000000000ull) {
        fprintf(stderr, "usage: nrm-loggen --dir OUT --records N (N from 10 to 10^9)\n");
        return 2;
    }
    char path[4096];
    nrm_err_t err = { 0, 0, "" };
    nrm_store_t *store = NULL;
    s_gen_t g = { NULL, NULL, NULL, NULL, n, 0 };
    int code = 1;
    if (nrm_crypto_init() != 0)
        return 1;
    g.admin = nrm_keys_generate(NRM_KEYS_SIGN);
    g.broker = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE);
    g.police = nrm_keys_generate(NRM_KEYS_ALL);
    g.msdhs = nrm_keys_generate(NRM_KEYS_ALL);
    if (!g.admin || !g.broker || !g.police || !g.msdhs)
        goto out;
    if (nrm_path(path, sizeof path, "%s/data", dir) != 0 || nrm_mkdirs(path, 0700, &err) != 0
        || nrm_store_open(path, dbs, 0, &store, &err) != 0
        || nrm_store_write(store, s_start_fn, &g, &err) != 0)
        goto out;
    uint64_t start = nrm_now_ms(), last = 0;
    for (;;) {
        MDB_txn *txn = NULL;
        uint64_t tip = 0;
        uint8_t leaf[NRM_HASH_BYTES];
        if (nrm_store_write(store, s_chunk_fn, &g, &err) != 0
            || nrm_store_read_begin(store, &txn, &err) != 0
            || nrm_auditlog_tip(store, txn, &tip, leaf, &err) != 0) {
            nrm_store_read_end(&txn);
            goto out;
        }
        nrm_store_read_end(&txn);
        if (tip / 1000000 != last / 1000000)
            fprintf(stderr, "%llu records, %.0f records/s\n", (unsigned long long) tip,
                    (double) tip * 1000.0 / (double) (nrm_now_ms() - start + 1));
        last = tip;
        if (tip >= n)
            break;
    }
    char hex[65];
    nrm_hex_encode(nrm_keys_sign_pk(g.broker), 32, hex);
    hex[64] = '\n';
    if (nrm_path(path, sizeof path, "%s/broker.pub", dir) != 0
        || nrm_file_write(path, hex, 65, 0644, &err) != 0)
        goto out;
    fprintf(stderr, "wrote %llu records in %.1f s\n", (unsigned long long) last,
            (double) (nrm_now_ms() - start) / 1000.0);
    code = 0;
out:
    if (code)
        fprintf(stderr, "nrm-loggen: %s\n", err.msg);
    nrm_store_destroy(&store);
    nrm_keys_destroy(&g.admin);
    nrm_keys_destroy(&g.broker);
    nrm_keys_destroy(&g.police);
    nrm_keys_destroy(&g.msdhs);
    return code;
}
