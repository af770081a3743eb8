/*  agent_store -- outbox, inbox and directory of one organisation agent.
    The record formats are described in agent_store.h. */
#include "agent_store.h"
#include "agent_checkpoint.h"
#include "nrm_crypto.h"
#include "nrm_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_OUT_MAGIC   'O'
#define S_IN_MAGIC    'I'
#define S_FORMAT      1
#define S_OUT_HEAD    (4 + 8 * 4 + 4 + NRM_MSGID_BYTES)
#define S_IN_HEAD     (4 + 8 * 2 + NRM_MSGID_BYTES)
#define S_IN_PURGED   0x01
#define S_DIR_DIGEST  "#digest"  /* directory key of its digest: not an id */     /* inbox flags byte: body purged (retention) */

static const char *const s_dbs[] = {
    "outbox", "outbody", "outidx", "outq", "outacc",
    "inbox", "inidx", "directory",
    "notices",      /* lifecycle: be64 seq -> Signed{Notice} (agent_referrals.c) */
    AGENT_CKPT_DBS, /* checkpoints: trusted and alarms (agent_checkpoint.c) */
    /* integration (agent_hooks.c, agent_api.c): inbox take state, hand-off
       queue and its cursor, idempotency keys of sends */
    "intake", "handoff", "handmeta", "outidem",
    NULL
};

const char *
agent_out_state_name(uint32_t state)
{
    switch (state) {
    case AGENT_OUT_QUEUED:   return "queued";
    case AGENT_OUT_ACCEPTED: return "accepted";
    case AGENT_OUT_DELIVERED: return "delivered";
    case AGENT_OUT_REFUSED:  return "refused";
    case AGENT_OUT_REFUSED_BY_RECIPIENT: return "refused_by_recipient";
    case AGENT_OUT_PURGED:   return "purged";
    default:                 return "unknown";
    }
}

bool
agent_out_state_final(uint32_t state)
{
    return state == AGENT_OUT_DELIVERED || state == AGENT_OUT_REFUSED
        || state == AGENT_OUT_REFUSED_BY_RECIPIENT || state == AGENT_OUT_PURGED;
}

int
agent_store_open(const char *org_dir, int flags, nrm_store_t **out, nrm_err_t *err)
{
    char path[4096];
    int rc;

    *out = NULL;
    rc = nrm_path(path, sizeof path, "%s/data", org_dir);
    if (rc != 0)
        return nrm_err_set(err, rc, "organisation folder path is too long: %s", org_dir);
    if (!(flags & NRM_STORE_RDONLY)) {
        rc = nrm_mkdirs(path, 0700, err);
        if (rc != 0)
            return rc;
    }
    rc = nrm_store_open(path, s_dbs, flags, out, err);
    if (rc != 0)
        nrm_err_prefix(err, "agent store %s", path);
    return rc;
}

/* ---- bounded encoding and decoding of records ---- */

typedef struct {
    uint8_t *p;
    size_t   left;
} s_writer_t;

static void
s_put_u8(s_writer_t *w, uint8_t v)
{
    *w->p++ = v;
    w->left--;
}

static void
s_put_u32(s_writer_t *w, uint32_t v)
{
    w->p[0] = (uint8_t) (v >> 24);
    w->p[1] = (uint8_t) (v >> 16);
    w->p[2] = (uint8_t) (v >> 8);
    w->p[3] = (uint8_t) v;
    w->p += 4;
    w->left -= 4;
}

static void
s_put_u64(s_writer_t *w, uint64_t v)
{
    nrm_be64_put(w->p, v);
    w->p += 8;
    w->left -= 8;
}

static void
s_put_raw(s_writer_t *w, const void *data, size_t len)
{
    if (len > 0)
        memcpy(w->p, data, len);
    w->p += len;
    w->left -= len;
}

static void
s_put_field(s_writer_t *w, const void *data, size_t len)
{
    s_put_u32(w, (uint32_t) len);
    s_put_raw(w, data, len);
}

typedef struct {
    const uint8_t *p;
    size_t         left;
} s_reader_t;

static bool
s_get_u8(s_reader_t *r, uint8_t *v)
{
    if (r->left < 1)
        return false;
    *v = *r->p++;
    r->left--;
    return true;
}

static bool
s_get_u32(s_reader_t *r, uint32_t *v)
{
    if (r->left < 4)
        return false;
    *v = (uint32_t) r->p[0] << 24 | (uint32_t) r->p[1] << 16
       | (uint32_t) r->p[2] << 8 | (uint32_t) r->p[3];
    r->p += 4;
    r->left -= 4;
    return true;
}

static bool
s_get_u64(s_reader_t *r, uint64_t *v)
{
    if (r->left < 8)
        return false;
    *v = nrm_be64_get(r->p);
    r->p += 8;
    r->left -= 8;
    return true;
}

static bool
s_get_raw(s_reader_t *r, void *out, size_t len)
{
    if (r->left < len)
        return false;
    memcpy(out, r->p, len);
    r->p += len;
    r->left -= len;
    return true;
}

/* A length-prefixed field of min..max bytes, borrowed from the reader. */
static bool
s_get_field(s_reader_t *r, size_t min, size_t max, nrm_bytes_t *out)
{
    uint32_t len;

    if (!s_get_u32(r, &len) || len < min || len > max || len > r->left)
        return false;
    out->data = len > 0 ? r->p : NULL;
    out->len = len;
    r->p += len;
    r->left -= len;
    return true;
}

static int
s_corrupt(nrm_err_t *err, const char *db, uint64_t key, const char *what)
{
    return nrm_err_set(err, NRM_ECORRUPT, "agent store: %s entry %llu is damaged (%s)",
                       db, (unsigned long long) key, what);
}

/* The signature field of a record: the 64-byte signature, then the
   BatchProof bytes when it is a batch signature (malloc'd into *out). */
static int
s_sig_field(nrm_bytes_t sig, const nrm_batch_proof_t *batch, uint8_t **out, size_t *len,
            nrm_err_t *err)
{
    uint8_t *proof = NULL;
    size_t plen = 0;
    int rc = nrm_batch_proof_encode(batch, &proof, &plen, err);
    *out = NULL;
    *len = 0;
    if (rc != 0)
        return rc;
    *out = malloc(sig.len + plen + 1);
    if (*out == NULL) {
        free(proof);
        return nrm_err_set(err, NRM_ENOMEM, "out of memory encoding a signature");
    }
    if (sig.len > 0)
        memcpy(*out, sig.data, sig.len);
    if (plen > 0)
        memcpy(*out + sig.len, proof, plen);
    *len = sig.len + plen;
    free(proof);
    return 0;
}

/* Splits a signature field read from the store. */
static bool
s_sig_split(nrm_bytes_t field, nrm_bytes_t *sig, nrm_batch_proof_t *batch)
{
    if (field.len < NRM_SIG_BYTES)
        return false;
    sig->data = field.data;
    sig->len = NRM_SIG_BYTES;
    return nrm_batch_proof_decode(field.data + NRM_SIG_BYTES, field.len - NRM_SIG_BYTES, batch,
                                  NULL) == 0;
}

/* Longest signature field: the signature and a BatchProof of the longest
   path. */
#define S_SIG_FIELD_MAX (NRM_SIG_BYTES + 512u)

static int
s_out_encode(const agent_out_t *rec, uint8_t **out, size_t *len, nrm_err_t *err)
{
    size_t reason_len = strlen(rec->reason);
    uint8_t *sigf = NULL;
    size_t sigf_len = 0;
    s_writer_t w;
    uint8_t *buf;

    *out = NULL;
    *len = 0;
    int rc = s_sig_field(rec->signature, &rec->batch, &sigf, &sigf_len, err);
    if (rc != 0)
        return rc;
    size_t size = S_OUT_HEAD + 4 * 4 + rec->envelope.len + sigf_len + rec->receipt.len
                + reason_len;
    buf = malloc(size);
    if (buf == NULL) {
        free(sigf);
        return nrm_err_set(err, NRM_ENOMEM, "out of memory encoding an outbox entry");
    }
    w.p = buf;
    w.left = size;
    s_put_u8(&w, S_OUT_MAGIC);
    s_put_u8(&w, S_FORMAT);
    s_put_u8(&w, (uint8_t) rec->state);
    s_put_u8(&w, 0);
    s_put_u64(&w, rec->created_ms);
    s_put_u64(&w, rec->updated_ms);
    s_put_u64(&w, rec->accepted_seq);
    s_put_u64(&w, rec->delivered_seq);
    s_put_u32(&w, rec->reason_code);
    s_put_raw(&w, rec->msg_id, NRM_MSGID_BYTES);
    s_put_field(&w, rec->envelope.data, rec->envelope.len);
    s_put_field(&w, sigf, sigf_len);
    s_put_field(&w, rec->receipt.data, rec->receipt.len);
    s_put_field(&w, rec->reason, reason_len);
    free(sigf);
    *out = buf;
    *len = size;
    return 0;
}

static int
s_out_decode(uint64_t key, const MDB_val *val, agent_out_t *rec, nrm_err_t *err)
{
    s_reader_t r = { val->mv_data, val->mv_size };
    uint8_t magic, format, state, pad;
    nrm_bytes_t reason, sigf;

    memset(rec, 0, sizeof *rec);
    rec->key = key;
    if (!s_get_u8(&r, &magic) || !s_get_u8(&r, &format) || !s_get_u8(&r, &state)
        || !s_get_u8(&r, &pad))
        return s_corrupt(err, "outbox", key, "too short");
    if (magic != S_OUT_MAGIC || format != S_FORMAT)
        return s_corrupt(err, "outbox", key, "unknown record format");
    if (state > AGENT_OUT_PURGED)
        return s_corrupt(err, "outbox", key, "unknown state");
    rec->state = state;
    if (!s_get_u64(&r, &rec->created_ms) || !s_get_u64(&r, &rec->updated_ms)
        || !s_get_u64(&r, &rec->accepted_seq) || !s_get_u64(&r, &rec->delivered_seq)
        || !s_get_u32(&r, &rec->reason_code)
        || !s_get_raw(&r, rec->msg_id, NRM_MSGID_BYTES))
        return s_corrupt(err, "outbox", key, "truncated header");
    if (!s_get_field(&r, 1, NRM_MAX_ENVELOPE_BYTES, &rec->envelope))
        return s_corrupt(err, "outbox", key, "bad envelope field");
    if (!s_get_field(&r, NRM_SIG_BYTES, S_SIG_FIELD_MAX, &sigf)
        || !s_sig_split(sigf, &rec->signature, &rec->batch))
        return s_corrupt(err, "outbox", key, "bad signature field");
    if (!s_get_field(&r, 0, AGENT_MAX_SIGNED_BYTES, &rec->receipt))
        return s_corrupt(err, "outbox", key, "bad receipt field");
    if (!s_get_field(&r, 0, NRM_REASON_MAX, &reason))
        return s_corrupt(err, "outbox", key, "bad reason field");
    if (r.left != 0)
        return s_corrupt(err, "outbox", key, "trailing bytes");
    if (reason.len > 0) {
        if (memchr(reason.data, '\0', reason.len) != NULL)
            return s_corrupt(err, "outbox", key, "NUL in reason");
        memcpy(rec->reason, reason.data, reason.len);
    }
    rec->reason[reason.len] = '\0';
    return 0;
}

static int
s_in_encode(const agent_in_t *rec, uint8_t **out, size_t *len, nrm_err_t *err)
{
    uint8_t *sigf = NULL;
    size_t sigf_len = 0;
    s_writer_t w;
    uint8_t *buf;

    *out = NULL;
    *len = 0;
    int rc = s_sig_field(rec->signature, &rec->batch, &sigf, &sigf_len, err);
    if (rc != 0)
        return rc;
    size_t size = S_IN_HEAD + 4 * 4 + rec->envelope.len + sigf_len
                + rec->sender_cert.len + rec->sealed_body.len + (rec->purged_ms ? 8 : 0);
    buf = malloc(size);
    if (buf == NULL) {
        free(sigf);
        return nrm_err_set(err, NRM_ENOMEM, "out of memory encoding an inbox entry");
    }
    w.p = buf;
    w.left = size;
    s_put_u8(&w, S_IN_MAGIC);
    s_put_u8(&w, S_FORMAT);
    s_put_u8(&w, rec->purged_ms ? S_IN_PURGED : 0);
    s_put_u8(&w, 0);
    s_put_u64(&w, rec->received_ms);
    s_put_u64(&w, rec->accepted_seq);
    s_put_raw(&w, rec->msg_id, NRM_MSGID_BYTES);
    s_put_field(&w, rec->envelope.data, rec->envelope.len);
    s_put_field(&w, sigf, sigf_len);
    free(sigf);
    s_put_field(&w, rec->sender_cert.data, rec->sender_cert.len);
    s_put_field(&w, rec->sealed_body.data, rec->sealed_body.len);
    if (rec->purged_ms)
        s_put_u64(&w, rec->purged_ms);
    *out = buf;
    *len = size;
    return 0;
}

static int
s_in_decode(uint64_t key, const MDB_val *val, agent_in_t *rec, nrm_err_t *err)
{
    s_reader_t r = { val->mv_data, val->mv_size };
    uint8_t magic, format, pad1, pad2;
    nrm_bytes_t sigf;

    memset(rec, 0, sizeof *rec);
    rec->key = key;
    if (!s_get_u8(&r, &magic) || !s_get_u8(&r, &format) || !s_get_u8(&r, &pad1)
        || !s_get_u8(&r, &pad2))
        return s_corrupt(err, "inbox", key, "too short");
    if (magic != S_IN_MAGIC || format != S_FORMAT)
        return s_corrupt(err, "inbox", key, "unknown record format");
    if (!s_get_u64(&r, &rec->received_ms) || !s_get_u64(&r, &rec->accepted_seq)
        || !s_get_raw(&r, rec->msg_id, NRM_MSGID_BYTES))
        return s_corrupt(err, "inbox", key, "truncated header");
    if (!s_get_field(&r, 1, NRM_MAX_ENVELOPE_BYTES, &rec->envelope))
        return s_corrupt(err, "inbox", key, "bad envelope field");
    if (!s_get_field(&r, NRM_SIG_BYTES, S_SIG_FIELD_MAX, &sigf)
        || !s_sig_split(sigf, &rec->signature, &rec->batch))
        return s_corrupt(err, "inbox", key, "bad signature field");
    if (!s_get_field(&r, 1, AGENT_MAX_SIGNED_BYTES, &rec->sender_cert))
        return s_corrupt(err, "inbox", key, "bad certificate field");
    if (pad1 & ~S_IN_PURGED)
        return s_corrupt(err, "inbox", key, "unknown flags");
    if (pad1 & S_IN_PURGED) {
        /* purged: no body, the time it was purged instead */
        if (!s_get_field(&r, 0, 0, &rec->sealed_body) || !s_get_u64(&r, &rec->purged_ms)
            || rec->purged_ms == 0)
            return s_corrupt(err, "inbox", key, "bad purged entry");
    } else if (!s_get_field(&r, NRM_SEAL_MIN_BYTES, NRM_MAX_BODY_BYTES, &rec->sealed_body)) {
        return s_corrupt(err, "inbox", key, "bad sealed body field");
    }
    if (r.left != 0)
        return s_corrupt(err, "inbox", key, "trailing bytes");
    return 0;
}

/* Value stored under a be64 key of db. */
static int
s_get_keyed(nrm_store_t *store, MDB_txn *txn, const char *db, uint64_t key,
            MDB_val *val, nrm_err_t *err)
{
    uint8_t kbuf[8];

    nrm_be64_put(kbuf, key);
    return nrm_store_get(store, txn, db, kbuf, 8, val, err);
}

/* Key that index idx (outidx, inidx) holds for msg_id. */
static int
s_index_lookup(nrm_store_t *store, MDB_txn *txn, const char *idx,
               const uint8_t msg_id[NRM_MSGID_BYTES], uint64_t *key, nrm_err_t *err)
{
    MDB_val val;
    int rc;

    *key = 0;
    rc = nrm_store_get(store, txn, idx, msg_id, NRM_MSGID_BYTES, &val, err);
    if (rc != 0)
        return rc;
    if (val.mv_size != 8)
        return nrm_err_set(err, NRM_ECORRUPT, "agent store: %s entry has %zu bytes, not 8",
                           idx, val.mv_size);
    *key = nrm_be64_get(val.mv_data);
    return 0;
}

/* Result of a find: rc of the index lookup or of reading entry key of db.
   An index that points nowhere, or at another message, is damage. */
static int
s_found(int rc, const char *db, uint64_t key, const uint8_t found[NRM_MSGID_BYTES],
        const uint8_t wanted[NRM_MSGID_BYTES], nrm_err_t *err)
{
    if (rc == NRM_ENOTFOUND && key != 0)
        return s_corrupt(err, db, key, "its index entry points at nothing");
    if (rc == 0 && memcmp(found, wanted, NRM_MSGID_BYTES) != 0)
        return s_corrupt(err, db, key, "message id differs from its index");
    return rc;
}

/* Walks db (be64 keys) from key `from` in order, calling visit with each
   key and value. visit returns 0 to go on, >0 to stop, <0 to fail. */
typedef int (s_visit_fn)(void *ctx, uint64_t key, const MDB_val *val, nrm_err_t *err);

static int
s_walk(nrm_store_t *store, MDB_txn *txn, const char *db, uint64_t from,
       s_visit_fn *visit, void *ctx, nrm_err_t *err)
{
    MDB_cursor *cur = NULL;
    uint8_t kbuf[8];
    MDB_val k, v;
    MDB_cursor_op op = MDB_SET_RANGE;
    int rc;

    rc = mdb_cursor_open(txn, nrm_store_dbi(store, db), &cur);
    if (rc != 0)
        return nrm_store_lmdb_error(rc, db, err);
    nrm_be64_put(kbuf, from);
    k.mv_data = kbuf;
    k.mv_size = 8;
    for (;;) {
        rc = mdb_cursor_get(cur, &k, &v, op);
        op = MDB_NEXT;
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            rc = nrm_store_lmdb_error(rc, db, err);
            break;
        }
        if (k.mv_size != 8) {
            rc = nrm_err_set(err, NRM_ECORRUPT, "agent store: %s key of %zu bytes",
                             db, k.mv_size);
            break;
        }
        rc = visit(ctx, nrm_be64_get(k.mv_data), &v, err);
        if (rc != 0) {
            if (rc > 0)
                rc = 0;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

/* Last key of a be64-keyed database, 0 when it is empty. */
static int
s_last_key(nrm_store_t *store, MDB_txn *txn, const char *db, uint64_t *key,
           nrm_err_t *err)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc;

    *key = 0;
    rc = mdb_cursor_open(txn, nrm_store_dbi(store, db), &cur);
    if (rc != 0)
        return nrm_store_lmdb_error(rc, db, err);
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND) {
        rc = 0;
        goto out;
    }
    if (rc != 0) {
        rc = nrm_store_lmdb_error(rc, db, err);
        goto out;
    }
    if (k.mv_size != 8) {
        rc = nrm_err_set(err, NRM_ECORRUPT, "agent store: %s has a key of %zu bytes",
                         db, k.mv_size);
        goto out;
    }
    *key = nrm_be64_get(k.mv_data);
out:
    mdb_cursor_close(cur);
    return rc;
}

/* Deletes key from db; absent is fine. */
static int
s_del_quiet(nrm_store_t *store, MDB_txn *txn, const char *db, const void *key,
            size_t klen, nrm_err_t *err)
{
    int rc = mdb_del(txn, nrm_store_dbi(store, db),
                     &(MDB_val){ klen, (void *) key }, NULL);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return nrm_store_lmdb_error(rc, db, err);
    return 0;
}

/* ---- outbox ---- */

int
agent_out_last(nrm_store_t *store, MDB_txn *txn, uint64_t *key, nrm_err_t *err)
{
    return s_last_key(store, txn, "outbox", key, err);
}

int
agent_out_add(nrm_store_t *store, MDB_txn *txn, agent_out_t *rec,
              const uint8_t *sealed, size_t sealed_len, nrm_err_t *err)
{
    uint8_t kbuf[8];
    uint8_t *val = NULL;
    size_t vlen;
    uint64_t last;
    int rc;

    if (rec->state != AGENT_OUT_QUEUED)
        return nrm_err_set(err, NRM_EINVAL, "a new outbox entry must be queued");
    rc = s_last_key(store, txn, "outbox", &last, err);
    if (rc != 0)
        return rc;
    rec->key = last + 1;
    nrm_be64_put(kbuf, rec->key);
    rc = nrm_store_put(store, txn, "outidx", rec->msg_id, NRM_MSGID_BYTES, kbuf, 8,
                       MDB_NOOVERWRITE, err);
    if (rc == NRM_EEXIST)
        return nrm_err_set(err, NRM_EEXIST, "message id is already in the outbox");
    if (rc != 0)
        return rc;
    rc = s_out_encode(rec, &val, &vlen, err);
    if (rc != 0)
        goto out;
    rc = nrm_store_put(store, txn, "outbox", kbuf, 8, val, vlen, MDB_APPEND, err);
    if (rc != 0)
        goto out;
    rc = nrm_store_put(store, txn, "outbody", kbuf, 8, sealed, sealed_len, MDB_APPEND, err);
    if (rc != 0)
        goto out;
    rc = nrm_store_put(store, txn, "outq", kbuf, 8, rec->msg_id, NRM_MSGID_BYTES,
                       MDB_APPEND, err);
out:
    free(val);
    return rc;
}

int
agent_out_get(nrm_store_t *store, MDB_txn *txn, uint64_t key, agent_out_t *rec,
              nrm_err_t *err)
{
    MDB_val val;
    int rc = s_get_keyed(store, txn, "outbox", key, &val, err);
    if (rc != 0)
        return rc;
    return s_out_decode(key, &val, rec, err);
}

int
agent_out_find(nrm_store_t *store, MDB_txn *txn, const uint8_t msg_id[NRM_MSGID_BYTES],
               agent_out_t *rec, nrm_err_t *err)
{
    uint64_t key = 0;
    int rc = s_index_lookup(store, txn, "outidx", msg_id, &key, err);
    if (rc == 0)
        rc = agent_out_get(store, txn, key, rec, err);
    return s_found(rc, "outbox", key, rec->msg_id, msg_id, err);
}

int
agent_out_save(nrm_store_t *store, MDB_txn *txn, const agent_out_t *rec, nrm_err_t *err)
{
    uint8_t kbuf[8];
    uint8_t *val = NULL;
    size_t vlen;
    int rc;

    nrm_be64_put(kbuf, rec->key);
    /* Encode first: rec's byte fields may point into the page we overwrite. */
    rc = s_out_encode(rec, &val, &vlen, err);
    if (rc != 0)
        return rc;
    rc = nrm_store_put(store, txn, "outbox", kbuf, 8, val, vlen, 0, err);
    if (rc != 0)
        goto out;
    if (rec->state == AGENT_OUT_QUEUED)
        rc = nrm_store_put(store, txn, "outq", kbuf, 8, rec->msg_id, NRM_MSGID_BYTES, 0, err);
    else
        rc = s_del_quiet(store, txn, "outq", kbuf, 8, err);
    if (rc != 0)
        goto out;
    if (rec->state == AGENT_OUT_ACCEPTED)
        rc = nrm_store_put(store, txn, "outacc", kbuf, 8, rec->msg_id, NRM_MSGID_BYTES, 0, err);
    else
        rc = s_del_quiet(store, txn, "outacc", kbuf, 8, err);
    if (rc != 0)
        goto out;
    if (agent_out_state_final(rec->state))
        rc = s_del_quiet(store, txn, "outbody", kbuf, 8, err);
out:
    free(val);
    return rc;
}

int
agent_out_body(nrm_store_t *store, MDB_txn *txn, uint64_t key, nrm_bytes_t *body,
               nrm_err_t *err)
{
    uint8_t kbuf[8];
    MDB_val val;
    int rc;

    body->data = NULL;
    body->len = 0;
    nrm_be64_put(kbuf, key);
    rc = nrm_store_get(store, txn, "outbody", kbuf, 8, &val, err);
    if (rc != 0)
        return rc;
    if (val.mv_size < NRM_SEAL_MIN_BYTES || val.mv_size > NRM_MAX_BODY_BYTES)
        return s_corrupt(err, "outbody", key, "size out of range");
    body->data = val.mv_data;
    body->len = val.mv_size;
    return 0;
}

typedef struct {
    agent_out_fn *fn;
    void         *ctx;
} s_out_walk_t;

static int
s_out_visit(void *ctx, uint64_t key, const MDB_val *val, nrm_err_t *err)
{
    s_out_walk_t *w = ctx;
    agent_out_t rec;
    int rc = s_out_decode(key, val, &rec, err);
    return rc != 0 ? rc : w->fn(w->ctx, &rec, err);
}

int
agent_out_each(nrm_store_t *store, MDB_txn *txn, uint64_t from, agent_out_fn *fn,
               void *ctx, nrm_err_t *err)
{
    s_out_walk_t w = { fn, ctx };
    return s_walk(store, txn, "outbox", from, s_out_visit, &w, err);
}

int
agent_out_pending(nrm_store_t *store, MDB_txn *txn, int which, uint64_t after,
                  size_t max, uint64_t *keys, uint8_t (*ids)[NRM_MSGID_BYTES],
                  size_t *count, nrm_err_t *err)
{
    const char *db = which == AGENT_IDX_QUEUED ? "outq" : "outacc";
    MDB_cursor *cur = NULL;
    uint8_t kbuf[8];
    MDB_val k, v;
    MDB_cursor_op op = MDB_SET_RANGE;
    size_t n = 0;
    int rc;

    *count = 0;
    if (max == 0 || after == UINT64_MAX)
        return 0;
    rc = mdb_cursor_open(txn, nrm_store_dbi(store, db), &cur);
    if (rc != 0)
        return nrm_store_lmdb_error(rc, db, err);
    nrm_be64_put(kbuf, after + 1);
    k.mv_data = kbuf;
    k.mv_size = 8;
    while (n < max) {
        rc = mdb_cursor_get(cur, &k, &v, op);
        op = MDB_NEXT;
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            rc = nrm_store_lmdb_error(rc, db, err);
            break;
        }
        if (k.mv_size != 8 || v.mv_size != NRM_MSGID_BYTES) {
            rc = nrm_err_set(err, NRM_ECORRUPT, "agent store: %s entry has a bad size", db);
            break;
        }
        keys[n] = nrm_be64_get(k.mv_data);
        memcpy(ids[n], v.mv_data, NRM_MSGID_BYTES);
        n++;
    }
    mdb_cursor_close(cur);
    *count = n;
    return rc;
}

/* ---- inbox ---- */

int
agent_in_add(nrm_store_t *store, MDB_txn *txn, agent_in_t *rec, nrm_err_t *err)
{
    uint8_t kbuf[8];
    uint8_t *val = NULL;
    size_t vlen;
    uint64_t last;
    int rc;

    rc = s_last_key(store, txn, "inbox", &last, err);
    if (rc != 0)
        return rc;
    rec->key = last + 1;
    nrm_be64_put(kbuf, rec->key);
    /* The index is written first with NOOVERWRITE: it is what makes a second
       copy of the same message impossible. */
    rc = nrm_store_put(store, txn, "inidx", rec->msg_id, NRM_MSGID_BYTES, kbuf, 8,
                       MDB_NOOVERWRITE, err);
    if (rc == NRM_EEXIST)
        return nrm_err_set(err, NRM_EEXIST, "message id is already in the inbox");
    if (rc != 0)
        return rc;
    rc = s_in_encode(rec, &val, &vlen, err);
    if (rc != 0)
        goto out;
    rc = nrm_store_put(store, txn, "inbox", kbuf, 8, val, vlen, MDB_APPEND, err);
out:
    free(val);
    return rc;
}

int
agent_in_get(nrm_store_t *store, MDB_txn *txn, uint64_t key, agent_in_t *rec,
             nrm_err_t *err)
{
    MDB_val val;
    int rc = s_get_keyed(store, txn, "inbox", key, &val, err);
    if (rc != 0)
        return rc;
    return s_in_decode(key, &val, rec, err);
}

int
agent_in_find(nrm_store_t *store, MDB_txn *txn, const uint8_t msg_id[NRM_MSGID_BYTES],
              agent_in_t *rec, nrm_err_t *err)
{
    uint64_t key = 0;
    int rc = s_index_lookup(store, txn, "inidx", msg_id, &key, err);
    if (rc == 0)
        rc = agent_in_get(store, txn, key, rec, err);
    return s_found(rc, "inbox", key, rec->msg_id, msg_id, err);
}

typedef struct {
    agent_in_fn *fn;
    void        *ctx;
} s_in_walk_t;

static int
s_in_visit(void *ctx, uint64_t key, const MDB_val *val, nrm_err_t *err)
{
    s_in_walk_t *w = ctx;
    agent_in_t rec;
    int rc = s_in_decode(key, val, &rec, err);
    return rc != 0 ? rc : w->fn(w->ctx, &rec, err);
}

int
agent_in_each(nrm_store_t *store, MDB_txn *txn, agent_in_fn *fn, void *ctx,
              nrm_err_t *err)
{
    return agent_in_each_from(store, txn, 1, fn, ctx, err);
}

int
agent_in_each_from(nrm_store_t *store, MDB_txn *txn, uint64_t from, agent_in_fn *fn,
                   void *ctx, nrm_err_t *err)
{
    s_in_walk_t w = { fn, ctx };
    return s_walk(store, txn, "inbox", from, s_in_visit, &w, err);
}

/* ---- directory ---- */

int
agent_dir_replace(nrm_store_t *store, MDB_txn *txn, const agent_dir_entry_t *entries,
                  size_t count, const uint8_t digest[NRM_HASH_BYTES], nrm_err_t *err)
{
    size_t i;
    int rc;

    rc = mdb_drop(txn, nrm_store_dbi(store, "directory"), 0);
    if (rc != 0)
        return nrm_store_lmdb_error(rc, "directory", err);
    for (i = 0; i < count; i++) {
        rc = nrm_store_put(store, txn, "directory", entries[i].org_id,
                           strlen(entries[i].org_id), entries[i].signed_cert.data,
                           entries[i].signed_cert.len, 0, err);
        if (rc != 0)
            return rc;
    }
    if (digest != NULL)
        return nrm_store_put(store, txn, "directory", S_DIR_DIGEST, sizeof S_DIR_DIGEST - 1,
                             digest, NRM_HASH_BYTES, 0, err);
    return 0;
}

int
agent_dir_digest_drop(nrm_store_t *store, MDB_txn *txn, nrm_err_t *err)
{
    int rc = nrm_store_del(store, txn, "directory", S_DIR_DIGEST, sizeof S_DIR_DIGEST - 1, err);
    return rc == NRM_ENOTFOUND ? 0 : rc;
}

int
agent_dir_digest(nrm_store_t *store, MDB_txn *txn, uint8_t digest[NRM_HASH_BYTES], nrm_err_t *err)
{
    MDB_val val;
    int rc = nrm_store_get(store, txn, "directory", S_DIR_DIGEST, sizeof S_DIR_DIGEST - 1, &val, err);
    if (rc != 0)
        return rc;
    if (val.mv_size != NRM_HASH_BYTES)
        return nrm_err_set(err, NRM_ECORRUPT, "agent store: the directory digest has a bad size");
    memcpy(digest, val.mv_data, NRM_HASH_BYTES);
    return 0;
}

int
agent_dir_get(nrm_store_t *store, MDB_txn *txn, const char *org_id,
              nrm_bytes_t *signed_cert, nrm_err_t *err)
{
    MDB_val val;
    int rc;

    signed_cert->data = NULL;
    signed_cert->len = 0;
    rc = nrm_store_get(store, txn, "directory", org_id, strlen(org_id), &val, err);
    if (rc != 0)
        return rc;
    if (val.mv_size == 0 || val.mv_size > AGENT_MAX_SIGNED_BYTES)
        return nrm_err_set(err, NRM_ECORRUPT,
                           "agent store: directory entry of %s has a bad size", org_id);
    signed_cert->data = val.mv_data;
    signed_cert->len = val.mv_size;
    return 0;
}

int
agent_in_purge(nrm_store_t *store, MDB_txn *txn, uint64_t before_ms, uint64_t now_ms,
               size_t max, size_t *purged, nrm_err_t *err)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = 0, mrc;
    *purged = 0;
    mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "inbox"), &cur);
    if (mrc != 0)
        return nrm_store_lmdb_error(mrc, "inbox", err);
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && *purged < max;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        agent_in_t rec;
        uint8_t *val = NULL;
        size_t vlen = 0;
        if (k.mv_size != 8) {
            rc = s_corrupt(err, "inbox", 0, "bad key");
            break;
        }
        rc = s_in_decode(nrm_be64_get(k.mv_data), &v, &rec, err);
        if (rc != 0)
            break;
        if (rec.purged_ms || rec.received_ms >= before_ms)
            continue;
        rec.sealed_body.data = NULL;
        rec.sealed_body.len = 0;
        rec.purged_ms = now_ms;
        /* LMDB reuses the freed pages; the bytes that stay there until
           then are the sealed ciphertext, never the plaintext. */
        rc = s_in_encode(&rec, &val, &vlen, err);
        if (rc == 0) {
            MDB_val nv = { vlen, val };
            mrc = mdb_cursor_put(cur, &k, &nv, MDB_CURRENT);
            if (mrc != 0)
                rc = nrm_store_lmdb_error(mrc, "inbox", err);
        }
        free(val);
        if (rc != 0)
            break;
        (*purged)++;
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = nrm_store_lmdb_error(mrc, "inbox", err);
    mdb_cursor_close(cur);
    return rc;
}
