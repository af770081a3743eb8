/*  Unit tests of the audit log: a real log with genesis, enrollments,
    signed envelopes and acknowledgements verifies; then each kind of
    tampering (a changed byte, a deleted record, two records swapped, a
    changed link, a changed last record) makes verification fail at the
    right sequence number. */
#include "nrm_auditlog.h"
#include "nrm_checkpoint.h"
#include "nrm_crypto.h"
#include "nrm_merkle.h"
#include "nrm_regadmin.h"
#include "nrm_util.h"
#include "testutil.h"

static const char *const s_dbs[] = { NRM_AUDITLOG_DBS, NRM_REGISTRY_DBS, NULL };

typedef struct {
    nrm_keys_t *admin, *police, *msdhs, *broker;
    uint64_t last;
    bool extra;         /* checkpoints and more messages after record 12 */
} world_t;

/* Signs an admin action with the administrator and applies it, as the
   broker would (records of kind a->action, then ENROLLED on quorum). */
static int
s_admin(nrm_store_t *store, MDB_txn *txn, world_t *w, nrm_action_t *a, nrm_err_t *err)
{
    uint8_t *body = NULL, sig[64];
    size_t len = 0;
    nrm_regadmin_result_t res;
    memcpy(a->admin_pk, nrm_keys_sign_pk(w->admin), 32);
    a->created_ms = nrm_now_ms();
    int rc = nrm_action_encode(a, &body, &len, err);
    if (rc == 0 && nrm_sign(w->admin, NRM_CTX_ADMIN, body, len, sig) != 0)
        rc = NRM_ECRYPTO;
    if (rc == 0)
        rc = nrm_regadmin_apply(store, txn, body, len, sig, 64, nrm_now_ms(), &res, err);
    free(body);
    return rc;
}

/* Enrolls an organisation the way nrm-admin does: its signed request
   (REQUESTED), then the administrator's approval (APPROVED, and with a
   quorum of one, ENROLLED): three records. */
static int
s_enroll_valid(nrm_store_t *store, MDB_txn *txn, world_t *w, nrm_keys_t *k, const char *id,
               uint64_t not_before, uint64_t not_after, nrm_err_t *err)
{
    nrm_cert_t c;
    nrm_action_t a;
    uint8_t *req = NULL, *signed_req = NULL, sig[64];
    size_t req_len = 0, signed_len = 0;
    uint64_t seq;
    uint8_t leaf[32];
    memset(&c, 0, sizeof c);
    snprintf(c.org_id, sizeof c.org_id, "%s", id);
    snprintf(c.org_type, sizeof c.org_type, "%s", id);
    snprintf(c.name, sizeof c.name, "Org %s", id);
    memcpy(c.sign_pk, nrm_keys_sign_pk(k), 32);
    memcpy(c.curve_pk, nrm_keys_curve_pk(k), 32);
    memcpy(c.box_pk, nrm_keys_box_pk(k), 32);
    c.created_ms = 1;
    int rc = nrm_request_encode(&c, &req, &req_len, err);
    if (rc == 0 && nrm_sign(k, NRM_CTX_REQUEST, req, req_len, sig) != 0)
        rc = NRM_ECRYPTO;
    if (rc == 0)
        rc = nrm_signed_encode(req, req_len, sig, &signed_req, &signed_len, err);
    memset(&a, 0, sizeof a);
    a.action = NRM_REC_REQUESTED;
    snprintf(a.org_id, sizeof a.org_id, "%s", id);
    a.request = signed_req;
    a.request_len = signed_len;
    if (rc == 0)
        rc = s_admin(store, txn, w, &a, err);
    if (rc == 0)
        rc = nrm_auditlog_tip(store, txn, &seq, leaf, err);
    memset(&a, 0, sizeof a);
    a.action = NRM_REC_APPROVED;
    snprintf(a.org_id, sizeof a.org_id, "%s", id);
    c.not_before_ms = not_before;
    c.not_after_ms = not_after;
    c.serial = seq;
    memcpy(c.issuer_pk, nrm_keys_sign_pk(w->admin), 32);
    nrm_sha256(signed_req, signed_len, c.request_hash);
    if (rc == 0)
        rc = nrm_cert_encode(&c, &a.cert_body, &a.cert_len, err);
    if (rc == 0 && nrm_sign(w->admin, NRM_CTX_CERT, a.cert_body, a.cert_len, a.cert_sig) != 0)
        rc = NRM_ECRYPTO;
    a.has_cert_sig = true;
    if (rc == 0)
        rc = s_admin(store, txn, w, &a, err);
    free(a.cert_body);
    free(req);
    free(signed_req);
    return rc;
}

static int
s_enroll(nrm_store_t *store, MDB_txn *txn, world_t *w, nrm_keys_t *k, const char *id, nrm_err_t *err)
{
    uint64_t now = nrm_now_ms();
    return s_enroll_valid(store, txn, w, k, id, now, now + 3650ull * 24 * 3600 * 1000 - 1, err);
}

/* Appends an ACCEPTED record of a message from -> to signed by k, at time
   t; outputs its seq, msg_id and body hash. */
static int
s_accept(nrm_store_t *store, MDB_txn *txn, nrm_keys_t *k, const char *from, const char *to,
         uint64_t t, uint64_t *seq, uint8_t msg_id[16], uint8_t body_hash[32], nrm_err_t *err)
{
    nrm_envelope_t e;
    nrm_record_t rec;
    uint8_t *body = NULL, leaf[32];
    size_t len = 0;
    memset(&e, 0, sizeof e);
    e.version = 1;
    nrm_random(e.msg_id, 16);
    snprintf(e.type, sizeof e.type, "referral");
    snprintf(e.sender, sizeof e.sender, "%s", from);
    snprintf(e.recipient, sizeof e.recipient, "%s", to);
    snprintf(e.case_ref, sizeof e.case_ref, "case-%llu", (unsigned long long) t);
    e.created_ms = t;
    e.response_due_ms = t + 3600000;     /* a referral has a response deadline */
    nrm_random(e.body_hash, 32);
    e.body_size = 100;
    int rc = nrm_envelope_encode(&e, &body, &len, err);
    if (rc)
        return rc;
    memset(&rec, 0, sizeof rec);
    rec.kind = NRM_REC_ACCEPTED;
    rec.time_ms = t;
    snprintf(rec.actor, sizeof rec.actor, "%s", from);
    rec.subject = body;
    rec.subject_len = len;
    rec.has_signature = true;
    rec.has_msg_id = true;
    memcpy(rec.msg_id, e.msg_id, 16);
    if (nrm_sign(k, NRM_CTX_ENVELOPE, body, len, rec.signature) != 0)
        rc = NRM_ECRYPTO;
    if (rc == 0)
        rc = nrm_auditlog_append(store, txn, &rec, seq, leaf, err);
    free(body);
    memcpy(msg_id, e.msg_id, 16);
    memcpy(body_hash, e.body_hash, 32);
    return rc;
}

/* Appends the DELIVERED record of message (accepted, msg_id, body_hash)
   acknowledged by `to` with key k at time t. */
static int
s_deliver(nrm_store_t *store, MDB_txn *txn, nrm_keys_t *k, const char *to, uint64_t accepted,
          const uint8_t msg_id[16], const uint8_t body_hash[32], uint64_t t, nrm_err_t *err)
{
    nrm_ack_t a;
    nrm_record_t rec;
    uint8_t *body = NULL, leaf[32];
    size_t len = 0;
    uint64_t seq;
    memset(&a, 0, sizeof a);
    memcpy(a.msg_id, msg_id, 16);
    snprintf(a.recipient, sizeof a.recipient, "%s", to);
    a.accepted_seq = accepted;
    memcpy(a.body_hash, body_hash, 32);
    a.time_ms = t;
    int rc = nrm_ack_encode(&a, &body, &len, err);
    if (rc)
        return rc;
    memset(&rec, 0, sizeof rec);
    rec.kind = NRM_REC_DELIVERED;
    rec.time_ms = t;
    snprintf(rec.actor, sizeof rec.actor, "%s", to);
    rec.subject = body;
    rec.subject_len = len;
    rec.has_signature = true;
    rec.refers_to = accepted;
    rec.has_msg_id = true;
    memcpy(rec.msg_id, msg_id, 16);
    if (nrm_sign(k, NRM_CTX_ACK, body, len, rec.signature) != 0)
        rc = NRM_ECRYPTO;
    if (rc == 0)
        rc = nrm_auditlog_append(store, txn, &rec, &seq, leaf, err);
    free(body);
    return rc;
}

/* One message from police to msdhs, accepted and delivered: two records. */
static int
s_pair(world_t *w, nrm_store_t *store, MDB_txn *txn, nrm_err_t *err)
{
    uint8_t id[16], hash[32];
    uint64_t accepted;
    int rc = s_accept(store, txn, w->police, "police", "msdhs", nrm_now_ms(), &accepted, id, hash, err);
    return rc ? rc : s_deliver(store, txn, w->msdhs, "msdhs", accepted, id, hash, nrm_now_ms(), err);
}

static int
s_build_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    world_t *w = ctx;
    nrm_record_t rec;
    uint8_t leaf[32], *body = NULL;
    size_t len = 0;
    uint64_t seq;
    int rc;

    memset(&rec, 0, sizeof rec);
    nrm_genesis_t g;
    memset(&g, 0, sizeof g);
    snprintf(g.network, sizeof g.network, "test");
    memcpy(g.admin_pk, nrm_keys_sign_pk(w->admin), 32);
    memcpy(g.broker_sign_pk, nrm_keys_sign_pk(w->broker), 32);
    nrm_random(g.broker_curve_pk, 32);
    g.created_ms = nrm_now_ms();
    g.nadmins = g.quorum = 1;
    memcpy(g.admin_sign_pks[0], g.admin_pk, 32);
    nrm_random(g.admin_curve_pks[0], 32);
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
    uint8_t *signed_g = NULL;
    size_t signed_len = 0;
    if (rc == 0)
        rc = nrm_signed_encode(body, len, rec.signature, &signed_g, &signed_len, err);
    if (rc == 0)
        rc = nrm_registry_set_genesis(store, txn, signed_g, signed_len, err);
    free(signed_g);
    free(body);
    if (rc == 0)
        rc = s_enroll(store, txn, w, w->police, "police", err);      /* 2..4 */
    if (rc == 0)
        rc = s_enroll(store, txn, w, w->msdhs, "msdhs", err);        /* 5..7 */
    if (rc)
        return rc;

    for (int i = 0; i < 4; i++)                                      /* 8..15 */
        if ((rc = s_pair(w, store, txn, err)))
            return rc;
    memset(&rec, 0, sizeof rec);                                     /* 16 */
    rec.kind = NRM_REC_REJECTED;
    snprintf(rec.actor, sizeof rec.actor, "police");
    rec.reason_code = NRM_R_MALFORMED;
    snprintf(rec.reason, sizeof rec.reason, "frame: does not decode");
    rc = nrm_auditlog_append(store, txn, &rec, &w->last, leaf, err);
    if (rc || !w->extra)
        return rc;
    /* 17 CHECKPOINT(16), 18..37 messages, 38 CHECKPOINT(37), 39..48. */
    rc = nrm_auditlog_append_checkpoint(store, txn, w->broker, "test", nrm_now_ms(), &seq, err);
    for (int i = 0; rc == 0 && i < 10; i++)
        rc = s_pair(w, store, txn, err);
    if (rc == 0)
        rc = nrm_auditlog_append_checkpoint(store, txn, w->broker, "test", nrm_now_ms(), &seq, err);
    for (int i = 0; rc == 0 && i < 5; i++)
        rc = s_pair(w, store, txn, err);
    if (rc == 0)
        rc = nrm_auditlog_tip(store, txn, &w->last, leaf, err);
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

static const uint8_t *s_trusted;       /* checkpoint kept by an outsider */
static size_t s_trusted_len;

static uint64_t
s_verify(nrm_store_t *store, char *why, size_t size)
{
    nrm_verify_result_t res;
    nrm_verify_opts_t opts = { .threads = 2, .trusted_note = s_trusted,
                               .trusted_len = s_trusted_len };
    nrm_err_t err = { 0, 0, "" };
    int rc = nrm_auditlog_verify(store, &opts, &res, &err);
    snprintf(why, size, "%s", err.msg);
    return rc == 0 ? 0 : res.bad_seq ? res.bad_seq : UINT64_MAX;
}

/* Raw LMDB surgery on the log, as an attacker with disk access would do. */
typedef struct { int op; uint64_t a, b; size_t at; world_t *w; } surgery_t;
enum { OP_FLIP, OP_DELETE, OP_SWAP, OP_FLIP_LINK, OP_TREE_FLIP, OP_REWRITE_COPY_CKPT,
       OP_REWRITE, OP_RESIGN, OP_FORGE_KEY };

/* Truncates the log (records, tree, tip, checkpoint pointer) to the
   records before seq `from`, as an attacker who rewrites history would,
   and returns copies of the records removed (caller frees). */
static int
s_truncate(nrm_store_t *store, MDB_txn *txn, uint64_t from, uint8_t ***old, size_t **lens,
           uint64_t *n, nrm_err_t *err)
{
    uint64_t tip, ckpt;
    uint8_t leaf[32], key[8], meta[40];
    nrm_bytes_t b;
    if (nrm_auditlog_tip(store, txn, &tip, leaf, err) != 0)
        return NRM_ECORRUPT;
    *n = tip - from + 1;
    *old = calloc(*n, sizeof **old);
    *lens = calloc(*n, sizeof **lens);
    for (uint64_t q = from; q <= tip; q++) {
        if (nrm_auditlog_get(store, txn, q, &b, err) != 0)
            return NRM_ECORRUPT;
        (*old)[q - from] = malloc(b.len);
        memcpy((*old)[q - from], b.data, b.len);
        (*lens)[q - from] = b.len;
        nrm_be64_put(key, q);
        if (nrm_store_del(store, txn, "log", key, 8, err) != 0)
            return NRM_ECORRUPT;
        nrm_be64_put(key, q - 1);
        if (nrm_store_del(store, txn, "merkle", key, 8, err) != 0)
            return NRM_ECORRUPT;
    }
    if (nrm_auditlog_get(store, txn, from - 1, &b, err) != 0)
        return NRM_ECORRUPT;
    nrm_be64_put(meta, from - 1);
    nrm_leaf_hash(b.data, b.len, meta + 8);
    if (nrm_store_put(store, txn, "logmeta", "tip", 3, meta, 40, 0, err) != 0)
        return NRM_ECORRUPT;
    /* A careful attacker points at the last checkpoint left. */
    if (nrm_auditlog_checkpoint(store, txn, &ckpt, err) != 0)
        return NRM_ECORRUPT;
    for (uint64_t q = from - 1; ckpt >= from && q > 0; q--) {
        nrm_record_t rec;
        if (nrm_auditlog_get(store, txn, q, &b, err) != 0
            || nrm_record_decode(b.data, b.len, &rec, err) != 0)
            return NRM_ECORRUPT;
        int kind = rec.kind;
        nrm_record_clear(&rec);
        if (kind == NRM_REC_CHECKPOINT) {
            nrm_be64_put(key, q);
            if (nrm_store_put(store, txn, "logmeta", "checkpoint", 10, key, 8, 0, err) != 0)
                return NRM_ECORRUPT;
            break;
        }
    }
    return 0;
}

/* Appends a REJECTED record that was never there. */
static int
s_append_other(nrm_store_t *store, MDB_txn *txn, int i, nrm_err_t *err)
{
    nrm_record_t rec;
    uint64_t seq;
    uint8_t leaf[32];
    memset(&rec, 0, sizeof rec);
    rec.kind = NRM_REC_REJECTED;
    snprintf(rec.actor, sizeof rec.actor, "police");
    rec.reason_code = NRM_R_MALFORMED;
    snprintf(rec.reason, sizeof rec.reason, "rewritten history %d", i);
    return nrm_auditlog_append(store, txn, &rec, &seq, leaf, err);
}

/* Re-appends an old record (new seq and link, same subject and signature). */
static int
s_append_old(nrm_store_t *store, MDB_txn *txn, const uint8_t *bytes, size_t len, nrm_err_t *err)
{
    nrm_record_t rec;
    uint64_t seq;
    uint8_t leaf[32];
    int rc = nrm_record_decode(bytes, len, &rec, err);
    if (rc == 0)
        rc = nrm_auditlog_append(store, txn, &rec, &seq, leaf, err);
    nrm_record_clear(&rec);
    return rc;
}

/* A CHECKPOINT record for the current tip signed by keys, over the true
   root or a random one. */
static int
s_append_forged_checkpoint(nrm_store_t *store, MDB_txn *txn, const nrm_keys_t *keys,
                           bool random_root, nrm_err_t *err)
{
    nrm_checkpoint_t c;
    nrm_record_t rec;
    uint8_t leaf[32];
    uint64_t seq;
    char *note = NULL;
    size_t len = 0;
    memset(&c, 0, sizeof c);
    nrm_checkpoint_origin("test", c.origin);
    if (nrm_auditlog_tip(store, txn, &c.size, leaf, err) != 0
        || nrm_logtree_root(store, txn, c.size, c.root, err) != 0)
        return NRM_ECORRUPT;
    if (random_root)
        nrm_random(c.root, 32);
    if (nrm_checkpoint_sign(keys, &c, &note, &len, err) != 0)
        return NRM_ECRYPTO;
    memset(&rec, 0, sizeof rec);
    rec.kind = NRM_REC_CHECKPOINT;
    snprintf(rec.actor, sizeof rec.actor, "broker");
    rec.subject = (uint8_t *) note;
    rec.subject_len = len;
    int rc = nrm_auditlog_append(store, txn, &rec, &seq, leaf, err);
    free(note);
    return rc;
}

/* History rewritten from record a (see the tamper table in main). */
static int
s_rewrite(nrm_store_t *store, MDB_txn *txn, const surgery_t *s, nrm_err_t *err)
{
    uint8_t **old = NULL;
    size_t *lens = NULL;
    uint64_t n = 0;
    int rc = s_truncate(store, txn, s->a, &old, &lens, &n, err);
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint64_t seq = s->a + i;
        if (s->op == OP_REWRITE_COPY_CKPT)
            rc = seq == s->b ? s_append_old(store, txn, old[i], lens[i], err)
                             : s_append_other(store, txn, (int) i, err);
        else if (s->op == OP_REWRITE)
            rc = s_append_other(store, txn, (int) i, err);
        else if (i == 0)        /* OP_RESIGN, OP_FORGE_KEY: replace the checkpoint at a */
            rc = s->op == OP_RESIGN
                     ? s_append_forged_checkpoint(store, txn, s->w->broker, true, err)
                     : s_append_forged_checkpoint(store, txn, s->w->police, false, err);
        else
            rc = s_append_old(store, txn, old[i], lens[i], err);
    }
    for (uint64_t i = 0; i < n; i++)
        free(old[i]);
    free(old);
    free(lens);
    return rc;
}

static int
s_surgery_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    surgery_t *s = ctx;
    uint8_t ka[8], kb[8];
    nrm_bytes_t va, vb;
    if (s->op >= OP_REWRITE_COPY_CKPT)
        return s_rewrite(store, txn, s, err);
    if (s->op == OP_TREE_FLIP) {
        nrm_bytes_t e;
        if (nrm_logtree_entry(store, txn, s->a - 1, &e, err) != 0)
            return NRM_ENOTFOUND;
        uint8_t copy[64 * 32];
        memcpy(copy, e.data, e.len);
        copy[s->at % e.len] ^= 0x10;
        nrm_be64_put(ka, s->a - 1);
        return nrm_store_put(store, txn, "merkle", ka, 8, copy, e.len, 0, err);
    }
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

/* Records appended to a good log that the verifier must refuse: the
   recipient or the acknowledging organisation was not usable at the
   record's time (certificate expired, revoked, suspended). */
enum { X_OK, X_RECIPIENT_EXPIRED, X_ACK_EXPIRED, X_ACK_REVOKED, X_ACK_SUSPENDED };
typedef struct { world_t *w; int scenario; uint64_t bad; } extra_t;

static int
s_extra_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    extra_t *x = ctx;
    world_t *w = x->w;
    uint8_t id[16], hash[32], leaf[32];
    uint64_t t = nrm_now_ms(), acc;
    nrm_keys_t *labour = nrm_keys_generate(NRM_KEYS_ALL);
    /* labour's certificate is valid for one second from t. */
    int rc = s_enroll_valid(store, txn, w, labour, "labour", t, t + 1000, err);
    if (rc)
        goto out;
    switch (x->scenario) {
    case X_OK:
        if ((rc = s_accept(store, txn, w->police, "police", "labour", t + 500, &acc, id, hash, err)) == 0)
            rc = s_deliver(store, txn, labour, "labour", acc, id, hash, t + 900, err);
        break;
    case X_RECIPIENT_EXPIRED:
        rc = s_accept(store, txn, w->police, "police", "labour", t + 2000, &acc, id, hash, err);
        break;
    case X_ACK_EXPIRED:
        if ((rc = s_accept(store, txn, w->police, "police", "labour", t + 500, &acc, id, hash, err)) == 0)
            rc = s_deliver(store, txn, labour, "labour", acc, id, hash, t + 1000, err);
        break;
    case X_ACK_REVOKED:
    case X_ACK_SUSPENDED: {
        nrm_action_t a;
        memset(&a, 0, sizeof a);
        a.action = x->scenario == X_ACK_REVOKED ? NRM_REC_REVOKED : NRM_REC_SUSPENDED;
        snprintf(a.org_id, sizeof a.org_id, "msdhs");
        snprintf(a.reason, sizeof a.reason, "test");
        if ((rc = s_accept(store, txn, w->police, "police", "msdhs", t, &acc, id, hash, err)) == 0
            && (rc = s_admin(store, txn, w, &a, err)) == 0)
            rc = s_deliver(store, txn, w->msdhs, "msdhs", acc, id, hash, t + 1, err);
        break;
    }
    }
    if (rc == 0)
        rc = nrm_auditlog_tip(store, txn, &x->bad, leaf, err);
out:
    nrm_keys_destroy(&labour);
    return rc;
}

static void
s_extra_case(world_t *w, int scenario, const char *want_text, int line)
{
    char dir[64], why[600];
    nrm_err_t err;
    extra_t x = { w, scenario, 0 };
    nrm_store_t *store = s_build(w, dir, sizeof dir);
    if (nrm_store_write(store, s_extra_fn, &x, &err) != 0) {
        fprintf(stderr, "line %d: cannot append: %s\n", line, err.msg);
        t_failures++;
    }
    uint64_t bad = s_verify(store, why, sizeof why);
    uint64_t want = scenario == X_OK ? 0 : x.bad;
    t_checks++;
    if (bad != want || (want && !strstr(why, want_text))) {
        t_failures++;
        fprintf(stderr, "line %d: verify reported %llu '%s', expected %llu '%s'\n", line,
                (unsigned long long) bad, why, (unsigned long long) want, want_text);
    }
    nrm_store_destroy(&store);
    t_rmdir(dir);
}

/* The stored tree answers roots and proofs for every size, equal to a
   tree rebuilt from the records; checkpoints verify and point right. */
static void
test_tree_and_checkpoints(world_t *w)
{
    char dir[64];
    nrm_err_t err;
    w->extra = true;
    nrm_store_t *store = s_build(w, dir, sizeof dir);
    w->extra = false;
    nrm_verify_result_t res;
    nrm_verify_opts_t opts = { .threads = 2 };
    CHECK_RC(nrm_auditlog_verify(store, &opts, &res, &err), 0);
    CHECK(res.count == 48 && res.checkpoints == 2 && res.checkpoint_size == 37);
    CHECK(res.signatures == 2 * 19 + 2);
    MDB_txn *txn = NULL;
    CHECK_RC(nrm_store_read_begin(store, &txn, &err), 0);
    uint64_t ckpt = 0;
    CHECK_RC(nrm_auditlog_checkpoint(store, txn, &ckpt, &err), 0);
    CHECK(ckpt == 38);
    nrm_merkle_range_t r;
    nrm_merkle_range_init(&r);
    nrm_hash_t roots[49];
    int bad = 0;
    for (uint64_t seq = 1; seq <= 48; seq++) {
        nrm_bytes_t b;
        uint8_t leaf[32], root[32];
        if (nrm_auditlog_get(store, txn, seq, &b, &err) != 0)
            bad++;
        nrm_leaf_hash(b.data, b.len, leaf);
        nrm_merkle_range_append(&r, leaf, NULL, NULL);
        nrm_merkle_range_root(&r, roots[seq]);
        if (nrm_logtree_root(store, txn, seq, root, &err) != 0 || memcmp(root, roots[seq], 32) != 0)
            bad++;
    }
    CHECK(bad == 0);
    for (uint64_t size = 1; size <= 48; size++)
        for (uint64_t seq = 1; seq <= size; seq++) {
            nrm_hash_t path[NRM_MERKLE_PATH_MAX];
            size_t len = 0;
            nrm_bytes_t b;
            uint8_t leaf[32];
            if (nrm_auditlog_get(store, txn, seq, &b, &err) != 0)
                bad++;
            nrm_leaf_hash(b.data, b.len, leaf);
            if (nrm_logtree_inclusion(store, txn, seq, size, path, &len, &err) != 0
                || nrm_merkle_inclusion_verify(seq - 1, size, leaf, path, len, roots[size], &err) != 0)
                bad++;
            if (nrm_logtree_consistency(store, txn, seq, size, path, &len, &err) != 0
                || nrm_merkle_consistency_verify(seq, size, roots[seq], roots[size], path, len, &err) != 0)
                bad++;
        }
    CHECK(bad == 0);
    /* The checkpoint note of record 38 signs the root of 1..37. */
    nrm_bytes_t b;
    nrm_record_t rec;
    nrm_checkpoint_t c;
    CHECK_RC(nrm_auditlog_get(store, txn, 38, &b, &err), 0);
    CHECK_RC(nrm_record_decode(b.data, b.len, &rec, &err), 0);
    CHECK(rec.kind == NRM_REC_CHECKPOINT);
    CHECK_RC(nrm_checkpoint_open(rec.subject, rec.subject_len, nrm_keys_sign_pk(w->broker),
                                 "nrmbus/test", &c, &err), 0);
    CHECK(c.size == 37 && memcmp(c.root, roots[37], 32) == 0);
    CHECK_STR_HAS((const char *) rec.subject, "nrmbus/test\n37\n");
    /* Another key, another origin: refused. */
    CHECK_RC(nrm_checkpoint_open(rec.subject, rec.subject_len, nrm_keys_sign_pk(w->admin),
                                 NULL, &c, &err), NRM_ECRYPTO);
    CHECK_RC(nrm_checkpoint_open(rec.subject, rec.subject_len, nrm_keys_sign_pk(w->broker),
                                 "nrmbus/other", &c, &err), NRM_ECRYPTO);
    rec.subject[20] ^= 1;
    CHECK(nrm_checkpoint_open(rec.subject, rec.subject_len, nrm_keys_sign_pk(w->broker),
                              NULL, &c, &err) != 0);
    nrm_record_clear(&rec);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    t_rmdir(dir);
}

/* The broker's start-up check of the log's head (nrm_auditlog_head_check):
   a good log passes and says what it checked; each tampering at the head
   is refused with its reason. */
enum { H_OK, H_FLIP_LAST, H_TREE_LAST, H_CKPT_ROOT, H_CKPT_KEY };
typedef struct { world_t *w; int op; } head_t;

static int
s_head_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    head_t *h = ctx;
    surgery_t s = { OP_FLIP, 48, 0, 20, NULL };
    switch (h->op) {
    case H_FLIP_LAST:
        return s_surgery_fn(store, txn, &s, err);
    case H_TREE_LAST:
        s.op = OP_TREE_FLIP;
        s.at = 3;
        return s_surgery_fn(store, txn, &s, err);
    case H_CKPT_ROOT:
        return s_append_forged_checkpoint(store, txn, h->w->broker, true, err);
    case H_CKPT_KEY:
        return s_append_forged_checkpoint(store, txn, h->w->admin, false, err);
    default:
        return 0;
    }
}

static void
s_head_case(world_t *w, int op, const char *want, int line)
{
    char dir[64];
    nrm_err_t err = { 0, 0, "" };
    nrm_loghead_t head;
    head_t h = { w, op };
    MDB_txn *txn = NULL;
    w->extra = true;
    nrm_store_t *store = s_build(w, dir, sizeof dir);
    w->extra = false;
    if (nrm_store_write(store, s_head_fn, &h, &err) != 0) {
        fprintf(stderr, "line %d: surgery failed: %s\n", line, err.msg);
        t_failures++;
    }
    CHECK_RC(nrm_store_read_begin(store, &txn, &err), 0);
    int rc = nrm_auditlog_head_check(store, txn, nrm_keys_sign_pk(w->broker), "test", &head, &err);
    t_checks++;
    if (op == H_OK ? rc != 0 || head.records != 48 || head.tree_size != 48 || head.ckpt_seq != 38
                         || head.ckpt_size != 37 || !head.ckpt_root_ok
                   : rc != NRM_ECORRUPT || !strstr(err.msg, want)) {
        t_failures++;
        fprintf(stderr, "line %d: head check returned %d '%s', expected '%s'\n", line, rc, err.msg,
                want);
    }
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    t_rmdir(dir);
}

static void
test_head_check(world_t *w)
{
    s_head_case(w, H_OK, "", __LINE__);
    s_head_case(w, H_FLIP_LAST, "record 48 does not hash to the tip", __LINE__);
    s_head_case(w, H_TREE_LAST, "last leaf of the Merkle tree", __LINE__);
    s_head_case(w, H_CKPT_ROOT, "does not have the root that checkpoint record 49 signs", __LINE__);
    s_head_case(w, H_CKPT_KEY, "checkpoint record 49 is not signed by this broker's key", __LINE__);
}

/* Tamperings of the stored log with checkpoints: each must fail verify at
   the record named, with the reason given. */
static void
test_tamper_table(world_t *w)
{
    static const struct {
        const char *name;
        surgery_t s;
        uint64_t bad;
        const char *why;
        bool trusted;
    } table[] = {
        { "a byte flipped in a record", { OP_FLIP, 20, 0, 30, NULL }, 20, "record 20", false },
        { "a byte flipped in a checkpoint", { OP_FLIP, 38, 0, 40, NULL }, 38, "record 38", false },
        { "a record removed", { OP_DELETE, 25, 0, 0, NULL }, 25, "record 25 is missing", false },
        { "two records swapped", { OP_SWAP, 16, 17, 0, NULL }, 16, "moved or swapped", false },
        { "a stored tree entry altered", { OP_TREE_FLIP, 24, 0, 5, NULL }, 24,
          "Merkle tree holds a different leaf", false },
        { "a stored subtree altered", { OP_TREE_FLIP, 32, 0, 40, NULL }, 32,
          "subtree of level 4", false },
        { "truncated at 20, re-extended, the old checkpoint copied", { OP_REWRITE_COPY_CKPT, 20, 38, 0, NULL },
          38, "changed after it was signed", false },
        { "truncated at 20, re-extended without checkpoints, checked against a kept checkpoint",
          { OP_REWRITE, 20, 0, 0, NULL }, 17, "a record in 17..37 was changed", true },
        { "a checkpoint re-signed by the broker key over another root", { OP_RESIGN, 38, 0, 0, NULL },
          38, "changed after it was signed", false },
        { "a checkpoint signed by another key", { OP_FORGE_KEY, 38, 0, 0, NULL }, 38,
          "no signature by the key", false },
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char dir[64], why[600];
        nrm_err_t err;
        w->extra = true;
        nrm_store_t *store = s_build(w, dir, sizeof dir);
        w->extra = false;
        surgery_t s = table[i].s;
        s.w = w;
        uint8_t *note = NULL;
        size_t note_len = 0;
        if (table[i].trusted) {
            /* An agent kept the checkpoint of record 38 before the rewrite. */
            MDB_txn *txn = NULL;
            nrm_bytes_t b;
            nrm_record_t rec;
            if (nrm_store_read_begin(store, &txn, &err) == 0
                && nrm_auditlog_get(store, txn, 38, &b, &err) == 0
                && nrm_record_decode(b.data, b.len, &rec, &err) == 0) {
                note = malloc(rec.subject_len);
                memcpy(note, rec.subject, rec.subject_len);
                note_len = rec.subject_len;
                nrm_record_clear(&rec);
            }
            nrm_store_read_end(&txn);
        }
        CHECK(s_verify(store, why, sizeof why) == 0);
        if (nrm_store_write(store, s_surgery_fn, &s, &err) != 0) {
            fprintf(stderr, "%s: surgery failed: %s\n", table[i].name, err.msg);
            t_failures++;
        }
        if (table[i].trusted) {
            /* Without the kept checkpoint the rewritten log is consistent
               with itself; with it, the rewrite shows. */
            uint64_t plain = s_verify(store, why, sizeof why);
            CHECK(plain == 0);
            if (plain)
                fprintf(stderr, "rewritten log without the kept checkpoint: %llu %s\n",
                        (unsigned long long) plain, why);
            s_trusted = note;
            s_trusted_len = note_len;
        }
        uint64_t bad = s_verify(store, why, sizeof why);
        s_trusted = NULL;
        free(note);
        t_checks++;
        if (bad != table[i].bad || !strstr(why, table[i].why)) {
            t_failures++;
            fprintf(stderr, "%s: verify reported %llu '%s', expected %llu '%s'\n", table[i].name,
                    (unsigned long long) bad, why, (unsigned long long) table[i].bad, table[i].why);
        } else {
            printf("caught: %s -> seq %llu: %s\n", table[i].name, (unsigned long long) bad, why);
        }
        nrm_store_destroy(&store);
        t_rmdir(dir);
    }
}

int
main(void)
{
    if (nrm_crypto_init() != 0)
        return 2;
    world_t w = { nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE), nrm_keys_generate(NRM_KEYS_ALL),
                  nrm_keys_generate(NRM_KEYS_ALL), nrm_keys_generate(NRM_KEYS_SIGN), 0, false };
    char dir[64], why[600];
    nrm_store_t *store = s_build(&w, dir, sizeof dir);
    nrm_verify_result_t res;
    nrm_verify_opts_t opts = { .threads = 0 };
    nrm_err_t err;
    CHECK_RC(nrm_auditlog_verify(store, &opts, &res, &err), 0);
    CHECK(res.count == 16 && w.last == 16);
    /* Every leaf links to the next. */
    MDB_txn *txn = NULL;
    CHECK_RC(nrm_store_read_begin(store, &txn, &err), 0);
    uint64_t tip;
    uint8_t tip_leaf[32], leaf[32];
    CHECK_RC(nrm_auditlog_tip(store, txn, &tip, tip_leaf, &err), 0);
    nrm_bytes_t last;
    CHECK_RC(nrm_auditlog_get(store, txn, 16, &last, &err), 0);
    nrm_leaf_hash(last.data, last.len, leaf);
    CHECK(tip == 16 && memcmp(leaf, tip_leaf, 32) == 0);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    t_rmdir(dir);

    /* Byte flips in a signed envelope record: caught at that record
       whichever byte it is (decode, signature or link). */
    for (size_t at = 5; at < 120; at += 23)
        s_case(&w, (surgery_t) { OP_FLIP, 10, 0, at, NULL }, 10, "record 10", __LINE__);
    s_case(&w, (surgery_t) { OP_FLIP, 8, 0, 60, NULL }, 8, "record 8", __LINE__);
    s_case(&w, (surgery_t) { OP_DELETE, 11, 0, 0, NULL }, 11, "record 11 is missing", __LINE__);
    s_case(&w, (surgery_t) { OP_SWAP, 9, 10, 0, NULL }, 9, "record 10", __LINE__);
    s_case(&w, (surgery_t) { OP_FLIP_LINK, 13, 0, 0, NULL }, 13, "record 13 was altered", __LINE__);
    /* The last record is covered by the tip. */
    s_case(&w, (surgery_t) { OP_FLIP, 0, 0, 20, NULL }, 16, "record 16", __LINE__);
    s_case(&w, (surgery_t) { OP_DELETE, 0, 0, 0, NULL }, 16, "missing", __LINE__);
    /* A delivery whose acknowledgement was forged fails at that record. */
    s_case(&w, (surgery_t) { OP_FLIP, 9, 0, 200, NULL }, 9, "record 9", __LINE__);
    /* Registry records: a changed byte in an approval or an enrollment,
       a request removed (its approval then approves nothing). */
    for (size_t at = 10; at < 200; at += 37)
        s_case(&w, (surgery_t) { OP_FLIP, 3, 0, at, NULL }, 3, "record 3", __LINE__);
    s_case(&w, (surgery_t) { OP_FLIP, 4, 0, 90, NULL }, 4, "record 4", __LINE__);
    s_case(&w, (surgery_t) { OP_SWAP, 2, 3, 0, NULL }, 2, "record 3", __LINE__);
    (void) why;

    /* The recipient of a message and the organisation that acknowledges
       it must have been usable at the record's time. */
    s_extra_case(&w, X_OK, "", __LINE__);
    s_extra_case(&w, X_RECIPIENT_EXPIRED, "certificate of the recipient 'labour' was not valid", __LINE__);
    s_extra_case(&w, X_ACK_EXPIRED, "DELIVERED: the certificate of 'labour' was not valid", __LINE__);
    s_extra_case(&w, X_ACK_REVOKED, "DELIVERED: 'msdhs' was revoked", __LINE__);
    s_extra_case(&w, X_ACK_SUSPENDED, "DELIVERED: 'msdhs' was suspended", __LINE__);

    test_tree_and_checkpoints(&w);
    test_tamper_table(&w);
    test_head_check(&w);

    nrm_keys_destroy(&w.broker);
    nrm_keys_destroy(&w.admin);
    nrm_keys_destroy(&w.police);
    nrm_keys_destroy(&w.msdhs);
    TEST_DONE();
}
