/*  Unit tests of the audit log: a real log with genesis, enrollments,
    signed envelopes and acknowledgements verifies; then each kind of
    tampering (a changed byte, a deleted record, two records swapped, a
    changed link, a changed last record) makes verification fail at the
    right sequence number. */
#include "nrm_auditlog.h"
#include "nrm_crypto.h"
#include "nrm_registry.h"
#include "nrm_util.h"
#include "testutil.h"

static const char *const s_dbs[] = { NRM_AUDITLOG_DBS, NRM_REGISTRY_DBS, NULL };

typedef struct {
    nrm_keys_t *admin, *police, *msdhs;
    uint64_t last;
} world_t;

static void
s_cert(world_t *w, nrm_keys_t *k, const char *id, nrm_record_t *rec, uint8_t **body,
       size_t *len)
{
    nrm_cert_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.org_id, sizeof c.org_id, "%s", id);
    snprintf(c.org_type, sizeof c.org_type, "%s", id);
    snprintf(c.name, sizeof c.name, "Org %s", id);
    memcpy(c.sign_pk, nrm_keys_sign_pk(k), 32);
    memcpy(c.curve_pk, nrm_keys_curve_pk(k), 32);
    memcpy(c.box_pk, nrm_keys_box_pk(k), 32);
    memcpy(c.issuer_pk, nrm_keys_sign_pk(w->admin), 32);
    c.not_before_ms = 1;
    c.not_after_ms = UINT64_MAX / 2;
    if (nrm_cert_encode(&c, body, len, NULL) != 0 || nrm_sign(w->admin, NRM_CTX_CERT, *body, *len, rec->signature) != 0)
        exit(2);
    rec->kind = NRM_REC_ENROLLED;
    rec->subject = *body;
    rec->subject_len = *len;
    rec->has_signature = true;
}

static int
s_build_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    world_t *w = ctx;
    nrm_record_t rec;
    uint8_t leaf[32], *body = NULL;
    size_t len = 0;
    uint64_t seq, accepted = 0;
    int rc;

    memset(&rec, 0, sizeof rec);
    nrm_genesis_t g;
    memset(&g, 0, sizeof g);
    snprintf(g.network, sizeof g.network, "test");
    memcpy(g.admin_pk, nrm_keys_sign_pk(w->admin), 32);
    nrm_random(g.broker_sign_pk, 32);
    nrm_random(g.broker_curve_pk, 32);
    g.created_ms = nrm_now_ms();
    if ((rc = nrm_genesis_encode(&g, &body, &len, err)))
        return rc;
    rec.kind = NRM_REC_GENESIS;
    snprintf(rec.actor, sizeof rec.actor, "admin");
    rec.subject = body;
    rec.subject_len = len;
    rec.has_signature = true;
    if (nrm_sign(w->admin, NRM_CTX_GENESIS, body, len, rec.signature) != 0)
        return NRM_ECRYPTO;
    rc = nrm_auditlog_append(store, txn, &rec, &seq, leaf, err);    /* 1 */
    free(body);
    if (rc)
        return rc;
    s_cert(w, w->police, "police", &rec, &body, &len);
    rc = nrm_auditlog_append(store, txn, &rec, &seq, leaf, err);    /* 2 */
    free(body);
    if (rc)
        return rc;
    s_cert(w, w->msdhs, "msdhs", &rec, &body, &len);
    rc = nrm_auditlog_append(store, txn, &rec, &seq, leaf, err);    /* 3 */
    free(body);
    if (rc)
        return rc;

    for (int i = 0; i < 4; i++) {                                    /* 4..11 */
        nrm_envelope_t e;
        memset(&e, 0, sizeof e);
        e.version = 1;
        nrm_random(e.msg_id, 16);
        snprintf(e.type, sizeof e.type, "referral");
        snprintf(e.sender, sizeof e.sender, "police");
        snprintf(e.recipient, sizeof e.recipient, "msdhs");
        snprintf(e.case_ref, sizeof e.case_ref, "case-%d", i);
        e.created_ms = nrm_now_ms();
        e.response_due_ms = e.created_ms + 3600000;   /* a referral has a deadline */
        nrm_random(e.body_hash, 32);
        e.body_size = 100;
        if ((rc = nrm_envelope_encode(&e, &body, &len, err)))
            return rc;
        memset(&rec, 0, sizeof rec);
        rec.kind = NRM_REC_ACCEPTED;
        snprintf(rec.actor, sizeof rec.actor, "police");
        rec.subject = body;
        rec.subject_len = len;
        rec.has_signature = true;
        rec.has_msg_id = true;
        memcpy(rec.msg_id, e.msg_id, 16);
        if (nrm_sign(w->police, NRM_CTX_ENVELOPE, body, len, rec.signature) != 0)
            return NRM_ECRYPTO;
        rc = nrm_auditlog_append(store, txn, &rec, &accepted, leaf, err);
        free(body);
        if (rc)
            return rc;

        nrm_ack_t a;
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
        rec.has_signature = true;
        rec.refers_to = accepted;
        rec.has_msg_id = true;
        memcpy(rec.msg_id, e.msg_id, 16);
        if (nrm_sign(w->msdhs, NRM_CTX_ACK, body, len, rec.signature) != 0)
            return NRM_ECRYPTO;
        rc = nrm_auditlog_append(store, txn, &rec, &seq, leaf, err);
        free(body);
        if (rc)
            return rc;
    }
    memset(&rec, 0, sizeof rec);                                     /* 12 */
    rec.kind = NRM_REC_REJECTED;
    snprintf(rec.actor, sizeof rec.actor, "police");
    rec.reason_code = NRM_R_MALFORMED;
    snprintf(rec.reason, sizeof rec.reason, "frame: does not decode");
    rc = nrm_auditlog_append(store, txn, &rec, &w->last, leaf, err);
    return rc;
}

static nrm_store_t *
s_build(world_t *w, char *dir, size_t size)
{
    nrm_store_t *store = NULL;
    nrm_err_t err;
    t_tmpdir(dir, size);
    if (nrm_store_open(dir, s_dbs, 0, &store, &err) != 0
        || nrm_store_write(store, s_build_fn, w, &err) != 0) {
        fprintf(stderr, "build: %s\n", err.msg);
        exit(2);
    }
    return store;
}

static uint64_t
s_verify(nrm_store_t *store, char *why, size_t size)
{
    uint64_t count = 0, bad = 0;
    nrm_err_t err = { 0, 0, "" };
    int rc = nrm_auditlog_verify(store, &count, &bad, NULL, NULL, &err);
    snprintf(why, size, "%s", err.msg);
    return rc == 0 ? 0 : bad;
}

/* Raw LMDB surgery on the log, as an attacker with disk access would do. */
typedef struct { int op; uint64_t a, b; size_t at; } surgery_t;
enum { OP_FLIP, OP_DELETE, OP_SWAP, OP_FLIP_LINK };

static int
s_surgery_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    surgery_t *s = ctx;
    uint8_t ka[8], kb[8];
    nrm_bytes_t va, vb;
    nrm_be64_put(ka, s->a);
    nrm_be64_put(kb, s->b);
    if (nrm_auditlog_get(store, txn, s->a, &va, err) != 0)
        return NRM_ENOTFOUND;
    uint8_t *copy = malloc(va.len);
    memcpy(copy, va.data, va.len);
    int rc = 0;
    if (s->op == OP_FLIP) {
        copy[s->at < va.len ? s->at : va.len / 2] ^= 0x01;
        rc = nrm_store_put(store, txn, "log", ka, 8, copy, va.len, 0, err);
    } else if (s->op == OP_FLIP_LINK) {
        /* Find the previous record's leaf hash inside this record. */
        nrm_bytes_t prev;
        uint8_t leaf[32];
        if (nrm_auditlog_get(store, txn, s->a - 1, &prev, err) != 0)
            return NRM_ENOTFOUND;
        nrm_leaf_hash(prev.data, prev.len, leaf);
        uint8_t *at = memmem(copy, va.len, leaf, 32);
        if (!at)
            return NRM_ENOTFOUND;
        at[3] ^= 0x40;
        rc = nrm_store_put(store, txn, "log", ka, 8, copy, va.len, 0, err);
    } else if (s->op == OP_DELETE) {
        rc = nrm_store_del(store, txn, "log", ka, 8, err);
    } else {
        if (nrm_auditlog_get(store, txn, s->b, &vb, err) != 0)
            return NRM_ENOTFOUND;
        uint8_t *copyb = malloc(vb.len);
        memcpy(copyb, vb.data, vb.len);
        rc = nrm_store_put(store, txn, "log", ka, 8, copyb, vb.len, 0, err);
        if (rc == 0)
            rc = nrm_store_put(store, txn, "log", kb, 8, copy, va.len, 0, err);
        free(copyb);
    }
    free(copy);
    return rc;
}

static void
s_case(world_t *w, surgery_t s, uint64_t want_bad, const char *want_text, int line)
{
    char dir[64], why[600];
    nrm_err_t err;
    nrm_store_t *store = s_build(w, dir, sizeof dir);
    if (s.a == 0)
        s.a = w->last;
    CHECK(s_verify(store, why, sizeof why) == 0);
    if (nrm_store_write(store, s_surgery_fn, &s, &err) != 0) {
        fprintf(stderr, "line %d: surgery failed\n", line);
        t_failures++;
    }
    uint64_t bad = s_verify(store, why, sizeof why);
    t_checks++;
    if (bad != want_bad || !strstr(why, want_text)) {
        t_failures++;
        fprintf(stderr, "line %d: verify reported %llu '%s', expected %llu '%s'\n", line,
                (unsigned long long) bad, why, (unsigned long long) want_bad, want_text);
    }
    nrm_store_destroy(&store);
    t_rmdir(dir);
}

int
main(void)
{
    if (nrm_crypto_init() != 0)
        return 2;
    world_t w = { nrm_keys_generate(NRM_KEYS_SIGN), nrm_keys_generate(NRM_KEYS_ALL),
                  nrm_keys_generate(NRM_KEYS_ALL), 0 };
    char dir[64], why[600];
    nrm_store_t *store = s_build(&w, dir, sizeof dir);
    uint64_t count = 0, bad = 0;
    nrm_err_t err;
    CHECK_RC(nrm_auditlog_verify(store, &count, &bad, NULL, NULL, &err), 0);
    CHECK(count == 12 && w.last == 12);
    /* Every leaf links to the next. */
    MDB_txn *txn = NULL;
    CHECK_RC(nrm_store_read_begin(store, &txn, &err), 0);
    uint64_t tip;
    uint8_t tip_leaf[32], leaf[32];
    CHECK_RC(nrm_auditlog_tip(store, txn, &tip, tip_leaf, &err), 0);
    nrm_bytes_t last;
    CHECK_RC(nrm_auditlog_get(store, txn, 12, &last, &err), 0);
    nrm_leaf_hash(last.data, last.len, leaf);
    CHECK(tip == 12 && memcmp(leaf, tip_leaf, 32) == 0);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    t_rmdir(dir);

    /* Byte flips in a signed envelope record: caught at that record
       whichever byte it is (decode, signature or link). */
    for (size_t at = 5; at < 120; at += 23)
        s_case(&w, (surgery_t) { OP_FLIP, 6, 0, at }, 6, "record 6", __LINE__);
    s_case(&w, (surgery_t) { OP_FLIP, 4, 0, 60 }, 4, "record 4", __LINE__);
    s_case(&w, (surgery_t) { OP_DELETE, 7, 0, 0 }, 7, "record 7 is missing", __LINE__);
    s_case(&w, (surgery_t) { OP_SWAP, 5, 6, 0 }, 5, "record 6", __LINE__);
    s_case(&w, (surgery_t) { OP_FLIP_LINK, 9, 0, 0 }, 9, "record 9 was altered", __LINE__);
    /* The last record is covered by the tip. */
    s_case(&w, (surgery_t) { OP_FLIP, 0, 0, 20 }, 12, "record 12", __LINE__);
    s_case(&w, (surgery_t) { OP_DELETE, 0, 0, 0 }, 12, "missing", __LINE__);
    /* A delivery whose acknowledgement was forged fails at that record. */
    s_case(&w, (surgery_t) { OP_FLIP, 5, 0, 200 }, 5, "record 5", __LINE__);
    (void) why;

    nrm_keys_destroy(&w.admin);
    nrm_keys_destroy(&w.police);
    nrm_keys_destroy(&w.msdhs);
    TEST_DONE();
}
