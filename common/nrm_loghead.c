/*  nrm_loghead -- the check of the audit log's head that the broker makes
    at start-up (see nrm_auditlog.h, nrm_auditlog_head_check). It reads a
    few records and O(log n) tree entries, whatever the size of the log,
    so that a broker on a log of ten million records is ready in
    milliseconds; the whole log is nrm-audit verify's work. */
#include "nrm_auditlog.h"
#include "nrm_checkpoint.h"
#include "nrm_merkle.h"

#include <string.h>

/* Leaf hash of record seq, and the record decoded (caller clears it). */
static int
s_record(nrm_store_t *store, MDB_txn *txn, uint64_t seq, uint8_t leaf[NRM_HASH_BYTES],
         nrm_record_t *rec, nrm_err_t *err)
{
    nrm_bytes_t b;
    int rc = nrm_auditlog_get(store, txn, seq, &b, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, NRM_ECORRUPT, "record %llu is missing", (unsigned long long) seq);
    if (rc)
        return rc;
    nrm_leaf_hash(b.data, b.len, leaf);
    if (rec && nrm_record_decode(b.data, b.len, rec, err) != 0) {
        nrm_err_prefix(err, "record %llu does not decode", (unsigned long long) seq);
        return NRM_ECORRUPT;
    }
    return 0;
}

static int
s_chain(nrm_store_t *store, MDB_txn *txn, uint64_t tip, const uint8_t tip_leaf[NRM_HASH_BYTES],
        nrm_err_t *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    nrm_record_t rec;
    uint8_t leaf[NRM_HASH_BYTES], prev[NRM_HASH_BYTES];
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "log"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "log cursor", err);
    mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    uint64_t last = mrc == 0 && k.mv_size == 8 ? nrm_be64_get(k.mv_data) : 0;
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return nrm_store_lmdb_error(mrc, "log cursor", err);
    if (last != tip)
        return nrm_err_set(err, NRM_ECORRUPT, "the tip says %llu records but the last key of the "
                           "log is %llu", (unsigned long long) tip, (unsigned long long) last);
    if (tip == 0)
        return 0;
    int rc = s_record(store, txn, tip, leaf, &rec, err);
    if (rc)
        return rc;
    memset(prev, 0, sizeof prev);
    if (memcmp(leaf, tip_leaf, NRM_HASH_BYTES) != 0)
        rc = nrm_err_set(err, NRM_ECORRUPT, "record %llu does not hash to the tip: it was altered",
                         (unsigned long long) tip);
    else if (rec.seq != tip)
        rc = nrm_err_set(err, NRM_ECORRUPT, "record %llu says it is record %llu",
                         (unsigned long long) tip, (unsigned long long) rec.seq);
    else if (tip > 1)
        rc = s_record(store, txn, tip - 1, prev, NULL, err);
    if (rc == 0 && memcmp(rec.prev_hash, prev, NRM_HASH_BYTES) != 0)
        rc = nrm_err_set(err, NRM_ECORRUPT, "record %llu does not link to record %llu",
                         (unsigned long long) tip, (unsigned long long) (tip - 1));
    nrm_record_clear(&rec);
    return rc;
}

static int
s_checkpoint(nrm_store_t *store, MDB_txn *txn, const uint8_t broker_pk[NRM_PK_BYTES],
             const char *network, nrm_loghead_t *out, nrm_err_t *err)
{
    nrm_record_t rec;
    nrm_checkpoint_t c;
    nrm_bytes_t b;
    char origin[NRM_CHECKPOINT_ORIGIN_MAX + 1];
    uint8_t root[NRM_HASH_BYTES];
    uint64_t ckpt;
    int rc = nrm_auditlog_checkpoint(store, txn, &ckpt, err);
    if (rc || ckpt == 0)
        return rc;
    if (ckpt > out->records)
        return nrm_err_set(err, NRM_ECORRUPT, "the checkpoint pointer names record %llu of %llu",
                           (unsigned long long) ckpt, (unsigned long long) out->records);
    if ((rc = nrm_auditlog_get(store, txn, ckpt, &b, err)))
        return rc;
    if (nrm_record_decode(b.data, b.len, &rec, err) != 0) {
        nrm_err_prefix(err, "checkpoint record %llu does not decode", (unsigned long long) ckpt);
        return NRM_ECORRUPT;
    }
    nrm_checkpoint_origin(network, origin);
    if (rec.kind != NRM_REC_CHECKPOINT)
        rc = nrm_err_set(err, NRM_ECORRUPT, "record %llu is not a CHECKPOINT", (unsigned long long) ckpt);
    else if (nrm_checkpoint_open(rec.subject, rec.subject_len, broker_pk, origin, &c, err) != 0)
        rc = nrm_err_set(err, NRM_ECORRUPT, "checkpoint record %llu is not signed by this broker's "
                         "key for %s", (unsigned long long) ckpt, origin);
    else if (c.size != ckpt - 1)
        rc = nrm_err_set(err, NRM_ECORRUPT, "checkpoint record %llu signs a tree of %llu records, "
                         "not of the %llu before it", (unsigned long long) ckpt,
                         (unsigned long long) c.size, (unsigned long long) (ckpt - 1));
    nrm_record_clear(&rec);
    if (rc)
        return rc;
    out->ckpt_seq = ckpt;
    out->ckpt_size = c.size;
    if (out->tree_size < c.size)
        return 0;           /* the tree is built at the first append */
    if ((rc = nrm_logtree_root(store, txn, c.size, root, err)))
        return rc;
    if (memcmp(root, c.root, NRM_HASH_BYTES) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "the stored Merkle tree of %llu records does not have "
                           "the root that checkpoint record %llu signs", (unsigned long long) c.size,
                           (unsigned long long) ckpt);
    out->ckpt_root_ok = true;
    return 0;
}

int
nrm_auditlog_head_check(nrm_store_t *store, MDB_txn *txn, const uint8_t broker_pk[NRM_PK_BYTES],
                        const char *network, nrm_loghead_t *out, nrm_err_t *err)
{
    uint8_t tip_leaf[NRM_HASH_BYTES];
    nrm_bytes_t entry;
    memset(out, 0, sizeof *out);
    int rc = nrm_auditlog_tip(store, txn, &out->records, tip_leaf, err);
    if (rc == 0)
        rc = s_chain(store, txn, out->records, tip_leaf, err);
    if (rc == 0)
        rc = nrm_logtree_size(store, txn, &out->tree_size, err);
    if (rc)
        return rc;
    if (out->tree_size > out->records)
        return nrm_err_set(err, NRM_ECORRUPT, "the Merkle tree has %llu leaves but the log %llu "
                           "records", (unsigned long long) out->tree_size,
                           (unsigned long long) out->records);
    if (out->tree_size > 0 && out->tree_size == out->records) {
        if ((rc = nrm_logtree_entry(store, txn, out->tree_size - 1, &entry, err)))
            return rc;
        if (entry.len < NRM_HASH_BYTES || memcmp(entry.data, tip_leaf, NRM_HASH_BYTES) != 0)
            return nrm_err_set(err, NRM_ECORRUPT, "the last leaf of the Merkle tree is not the "
                               "hash of record %llu", (unsigned long long) out->records);
    }
    return s_checkpoint(store, txn, broker_pk, network, out, err);
}
