/*  nrm_auditlog -- append, tip, read and walk the hash-chained audit log. */
#include "nrm_auditlog.h"
#include "nrm_checkpoint.h"
#include "nrm_crypto.h"
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define TIP_KEY "tip"
#define CKPT_KEY "checkpoint"

int
nrm_auditlog_tip(nrm_store_t *store, MDB_txn *txn, uint64_t *seq,
                 uint8_t leaf[NRM_HASH_BYTES], nrm_err_t *err)
{
    MDB_val v;
    *seq = 0;
    memset(leaf, 0, NRM_HASH_BYTES);
    int rc = nrm_store_get(store, txn, "logmeta", TIP_KEY, strlen(TIP_KEY), &v, err);
    if (rc == NRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.mv_size != 8 + NRM_HASH_BYTES)
        return nrm_err_set(err, NRM_ECORRUPT, "audit log tip has %zu bytes, expected %d",
                           v.mv_size, 8 + NRM_HASH_BYTES);
    *seq = nrm_be64_get(v.mv_data);
    memcpy(leaf, (uint8_t *) v.mv_data + 8, NRM_HASH_BYTES);
    return 0;
}

/* Last key actually in the log (0 when empty). */
static int
s_last_key(nrm_store_t *store, MDB_txn *txn, uint64_t *last, nrm_err_t *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    *last = 0;
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "log"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "log cursor", err);
    mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc)
        return nrm_store_lmdb_error(mrc, "log last", err);
    if (k.mv_size != 8)
        return nrm_err_set(err, NRM_ECORRUPT, "audit log key of %zu bytes", k.mv_size);
    *last = nrm_be64_get(k.mv_data);
    return 0;
}

/* Brings "merkle" up to the tip: a no-op except on the first append to a
   log written before the tree existed, which it then builds once. */
static int
s_tree_catch_up(nrm_store_t *store, MDB_txn *txn, uint64_t tip_seq, nrm_err_t *err)
{
    uint64_t size;
    int rc = nrm_logtree_size(store, txn, &size, err);
    if (rc)
        return rc;
    if (size > tip_seq)
        return nrm_err_set(err, NRM_ECORRUPT, "the Merkle tree has %llu leaves but the log %llu "
                           "records; refusing to append", (unsigned long long) size,
                           (unsigned long long) tip_seq);
    for (; size < tip_seq && rc == 0; size++) {
        nrm_bytes_t bytes = { NULL, 0 };
        uint8_t leaf[NRM_HASH_BYTES];
        rc = nrm_auditlog_get(store, txn, size + 1, &bytes, err);
        if (rc == 0) {
            nrm_leaf_hash(bytes.data, bytes.len, leaf);
            rc = nrm_logtree_append(store, txn, size, leaf, err);
        }
    }
    return rc;
}

int
nrm_auditlog_checkpoint(nrm_store_t *store, MDB_txn *txn, uint64_t *ckpt_seq, nrm_err_t *err)
{
    MDB_val v;
    *ckpt_seq = 0;
    int rc = nrm_store_get(store, txn, "logmeta", CKPT_KEY, strlen(CKPT_KEY), &v, err);
    if (rc == NRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.mv_size != 8)
        return nrm_err_set(err, NRM_ECORRUPT, "audit log checkpoint pointer has %zu bytes", v.mv_size);
    *ckpt_seq = nrm_be64_get(v.mv_data);
    return 0;
}

int
nrm_auditlog_append(nrm_store_t *store, MDB_txn *txn, nrm_record_t *rec, uint64_t *seq,
                    uint8_t leaf[NRM_HASH_BYTES], nrm_err_t *err)
{
    uint64_t tip_seq, last;
    uint8_t tip_leaf[NRM_HASH_BYTES], key[8], meta[8 + NRM_HASH_BYTES];
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = nrm_auditlog_tip(store, txn, &tip_seq, tip_leaf, err);
    if (rc == 0)
        rc = s_last_key(store, txn, &last, err);
    if (rc)
        return rc;
    if (last != tip_seq)
        return nrm_err_set(err, NRM_ECORRUPT,
                           "audit log tip says %llu records but the last key is %llu; refusing to append",
                           (unsigned long long) tip_seq, (unsigned long long) last);
    if ((rc = s_tree_catch_up(store, txn, tip_seq, err)))
        return rc;
    rec->seq = tip_seq + 1;
    memcpy(rec->prev_hash, tip_leaf, NRM_HASH_BYTES);
    rc = nrm_record_encode(rec, &bytes, &len, err);
    if (rc)
        return rc;
    nrm_be64_put(key, rec->seq);
    rc = nrm_store_put(store, txn, "log", key, 8, bytes, len, MDB_APPEND, err);
    if (rc == 0) {
        nrm_leaf_hash(bytes, len, leaf);
        memcpy(meta, key, 8);
        memcpy(meta + 8, leaf, NRM_HASH_BYTES);
        rc = nrm_store_put(store, txn, "logmeta", TIP_KEY, strlen(TIP_KEY), meta, sizeof meta, 0, err);
    }
    if (rc == 0)
        rc = nrm_logtree_append(store, txn, rec->seq - 1, leaf, err);
    if (rc == 0 && rec->kind == NRM_REC_CHECKPOINT)
        rc = nrm_store_put(store, txn, "logmeta", CKPT_KEY, strlen(CKPT_KEY), key, 8, 0, err);
    free(bytes);
    if (rc == 0)
        *seq = rec->seq;
    return rc;
}

int
nrm_auditlog_get(nrm_store_t *store, MDB_txn *txn, uint64_t seq, nrm_bytes_t *bytes,
                 nrm_err_t *err)
{
    uint8_t key[8];
    MDB_val v;
    nrm_be64_put(key, seq);
    int rc = nrm_store_get(store, txn, "log", key, 8, &v, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, NRM_ENOTFOUND, "no audit record %llu", (unsigned long long) seq);
    if (rc)
        return rc;
    bytes->data = v.mv_data;
    bytes->len = v.mv_size;
    return 0;
}

int
nrm_auditlog_each(nrm_store_t *store, MDB_txn *txn, uint64_t from, nrm_auditlog_fn *fn,
                  void *ctx, nrm_err_t *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t key[8];
    int rc = 0;
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "log"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "log cursor", err);
    nrm_be64_put(key, from);
    k.mv_size = 8;
    k.mv_data = key;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (mrc == 0) {
        if (k.mv_size != 8) {
            rc = nrm_err_set(err, NRM_ECORRUPT, "audit log key of %zu bytes", k.mv_size);
            break;
        }
        nrm_record_t rec;
        nrm_err_t derr = { 0, 0, "" };
        nrm_bytes_t bytes = { v.mv_data, v.mv_size };
        int drc = nrm_record_decode(bytes.data, bytes.len, &rec, &derr);
        rc = fn(ctx, nrm_be64_get(k.mv_data), bytes, drc == 0 ? &rec : NULL, drc == 0 ? err : &derr);
        if (drc == 0)
            nrm_record_clear(&rec);
        else if (err && rc < 0)
            *err = derr;
        if (rc != 0)
            break;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc > 0)
        return 0;
    if (rc < 0)
        return rc;
    if (mrc != MDB_NOTFOUND)
        return nrm_store_lmdb_error(mrc, "log walk", err);
    return 0;
}

int
nrm_auditlog_append_checkpoint(nrm_store_t *store, MDB_txn *txn, const nrm_keys_t *keys,
                               const char *network, uint64_t time_ms, uint64_t *seq,
                               nrm_err_t *err)
{
    nrm_checkpoint_t c;
    nrm_record_t rec;
    uint8_t tip_leaf[NRM_HASH_BYTES], leaf[NRM_HASH_BYTES];
    char *note = NULL;
    size_t len = 0;
    memset(&c, 0, sizeof c);
    nrm_checkpoint_origin(network, c.origin);
    int rc = nrm_auditlog_tip(store, txn, &c.size, tip_leaf, err);
    if (rc == 0)
        rc = s_tree_catch_up(store, txn, c.size, err);
    if (rc == 0)
        rc = nrm_logtree_root(store, txn, c.size, c.root, err);
    if (rc == 0)
        rc = nrm_checkpoint_sign(keys, &c, &note, &len, err);
    if (rc)
        return rc;
    memset(&rec, 0, sizeof rec);
    rec.kind = NRM_REC_CHECKPOINT;
    rec.time_ms = time_ms;
    snprintf(rec.actor, sizeof rec.actor, "broker");
    rec.subject = (uint8_t *) note;
    rec.subject_len = len;
    rc = nrm_auditlog_append(store, txn, &rec, seq, leaf, err);
    free(note);
    return rc;
}

int
nrm_auditlog_import(nrm_store_t *store, MDB_txn *txn, uint64_t key_seq, const uint8_t *bytes,
                    size_t len, nrm_err_t *err)
{
    uint64_t leaves;
    uint8_t key[8], meta[8 + NRM_HASH_BYTES], leaf[NRM_HASH_BYTES];
    nrm_record_t rec;
    nrm_err_t ignore;
    nrm_be64_put(key, key_seq);
    int rc = nrm_store_put(store, txn, "log", key, 8, bytes, len, MDB_APPEND, err);
    if (rc == NRM_EEXIST)
        return nrm_err_set(err, NRM_EINVAL, "record %llu comes after a record with a higher number",
                           (unsigned long long) key_seq);
    if (rc == 0)
        rc = nrm_logtree_size(store, txn, &leaves, err);
    if (rc)
        return rc;
    nrm_leaf_hash(bytes, len, leaf);
    if ((rc = nrm_logtree_append(store, txn, leaves, leaf, err)))
        return rc;
    memcpy(meta, key, 8);
    memcpy(meta + 8, leaf, NRM_HASH_BYTES);
    rc = nrm_store_put(store, txn, "logmeta", TIP_KEY, strlen(TIP_KEY), meta, sizeof meta, 0, err);
    if (rc == 0 && nrm_record_decode(bytes, len, &rec, &ignore) == 0) {
        if (rec.kind == NRM_REC_CHECKPOINT)
            rc = nrm_store_put(store, txn, "logmeta", CKPT_KEY, strlen(CKPT_KEY), key, 8, 0, err);
        nrm_record_clear(&rec);
    }
    return rc;
}
