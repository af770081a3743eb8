/*  nrm_logtree -- the RFC 6962 tree over the audit log, kept in the "merkle"
    database (layout in nrm_auditlog.h). Appending is amortised O(1) reads
    and one write per record, so the broker's group commit stays cheap; a
    proof for any tree size is O(log n) reads. */
#include "nrm_auditlog.h"
#include "nrm_crypto.h"
#include "nrm_merkle.h"
#include <string.h>

#define L NRM_LOGTREE_LEVEL

/* Subtree hashes stored with leaf i: levels L..ctz(i+1). */
static unsigned
s_stored(uint64_t i)
{
    unsigned c = (unsigned) __builtin_ctzll(i + 1);
    return c >= L ? c - L + 1 : 0;
}

int
nrm_logtree_entry(nrm_store_t *store, MDB_txn *txn, uint64_t index, nrm_bytes_t *val,
                  nrm_err_t *err)
{
    uint8_t key[8];
    MDB_val v;
    nrm_be64_put(key, index);
    int rc = nrm_store_get(store, txn, "merkle", key, 8, &v, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, NRM_ECORRUPT, "the Merkle tree has no leaf %llu (record %llu)",
                           (unsigned long long) index, (unsigned long long) index + 1);
    if (rc)
        return rc;
    if (v.mv_size != (size_t) NRM_HASH_BYTES * (1 + s_stored(index)))
        return nrm_err_set(err, NRM_ECORRUPT, "Merkle tree entry of leaf %llu has %zu bytes",
                           (unsigned long long) index, v.mv_size);
    val->data = v.mv_data;
    val->len = v.mv_size;
    return 0;
}

typedef struct {
    nrm_store_t *store;
    MDB_txn *txn;
} s_src_t;

/* nrm_merkle_node_fn over the store. */
static int
s_node(void *ctx, unsigned level, uint64_t index, uint8_t out[NRM_HASH_BYTES], nrm_err_t *err)
{
    s_src_t *src = ctx;
    nrm_bytes_t v = { NULL, 0 };
    if (level > 62 || index >= (NRM_MERKLE_SIZE_MAX >> level))
        return nrm_err_set(err, NRM_EINVAL, "no subtree at level %u index %llu", level,
                           (unsigned long long) index);
    if (level == 0 || level >= L) {
        uint64_t last = ((index + 1) << level) - 1;
        int rc = nrm_logtree_entry(src->store, src->txn, last, &v, err);
        if (rc)
            return rc;
        size_t off = level == 0 ? 0 : (size_t) NRM_HASH_BYTES * (level - L + 1);
        memcpy(out, v.data + off, NRM_HASH_BYTES);
        return 0;
    }
    uint8_t left[NRM_HASH_BYTES], right[NRM_HASH_BYTES];
    int rc = s_node(ctx, level - 1, 2 * index, left, err);
    if (rc == 0)
        rc = s_node(ctx, level - 1, 2 * index + 1, right, err);
    if (rc == 0)
        nrm_node_hash(left, right, out);
    return rc;
}

int
nrm_logtree_size(nrm_store_t *store, MDB_txn *txn, uint64_t *size, nrm_err_t *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    *size = 0;
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "merkle"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "merkle cursor", err);
    mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (mrc == MDB_NOTFOUND)
        return 0;
    if (mrc)
        return nrm_store_lmdb_error(mrc, "merkle last", err);
    if (k.mv_size != 8)
        return nrm_err_set(err, NRM_ECORRUPT, "Merkle tree key of %zu bytes", k.mv_size);
    *size = nrm_be64_get(k.mv_data) + 1;
    return 0;
}

int
nrm_logtree_append(nrm_store_t *store, MDB_txn *txn, uint64_t index,
                   const uint8_t leaf[NRM_HASH_BYTES], nrm_err_t *err)
{
    s_src_t src = { store, txn };
    uint8_t val[NRM_HASH_BYTES * 64], h[NRM_HASH_BYTES], key[8];
    size_t n = 1;
    if (index >= NRM_MERKLE_SIZE_MAX)
        return nrm_err_set(err, NRM_ETOOBIG, "the Merkle tree is full");
    memcpy(val, leaf, NRM_HASH_BYTES);
    memcpy(h, leaf, NRM_HASH_BYTES);
    unsigned c = (unsigned) __builtin_ctzll(index + 1);
    for (unsigned l = 1; l <= c; l++) {
        /* The subtree of level l ending here is (left sibling at l-1, h). */
        uint8_t left[NRM_HASH_BYTES];
        int rc = s_node(&src, l - 1, ((index + 1) >> (l - 1)) - 2, left, err);
        if (rc)
            return rc;
        nrm_node_hash(left, h, h);
        if (l >= L)
            memcpy(val + NRM_HASH_BYTES * n++, h, NRM_HASH_BYTES);
    }
    nrm_be64_put(key, index);
    int rc = nrm_store_put(store, txn, "merkle", key, 8, val, NRM_HASH_BYTES * n, MDB_APPEND, err);
    if (rc == NRM_EEXIST)
        return nrm_err_set(err, NRM_ECORRUPT, "the Merkle tree already has leaf %llu",
                           (unsigned long long) index);
    return rc;
}

static int
s_check_size(nrm_store_t *store, MDB_txn *txn, uint64_t size, nrm_err_t *err)
{
    uint64_t have;
    int rc = nrm_logtree_size(store, txn, &have, err);
    if (rc == 0 && size > have)
        rc = nrm_err_set(err, NRM_EINVAL, "the log has %llu records, not %llu",
                         (unsigned long long) have, (unsigned long long) size);
    return rc;
}

int
nrm_logtree_root(nrm_store_t *store, MDB_txn *txn, uint64_t size, uint8_t root[NRM_HASH_BYTES],
                 nrm_err_t *err)
{
    s_src_t src = { store, txn };
    int rc = s_check_size(store, txn, size, err);
    return rc ? rc : nrm_merkle_root(s_node, &src, size, root, err);
}

int
nrm_logtree_inclusion(nrm_store_t *store, MDB_txn *txn, uint64_t seq, uint64_t size,
                      uint8_t (*path)[NRM_HASH_BYTES], size_t *len, nrm_err_t *err)
{
    s_src_t src = { store, txn };
    *len = 0;
    if (seq == 0)
        return nrm_err_set(err, NRM_EINVAL, "records are numbered from 1");
    int rc = s_check_size(store, txn, size, err);
    return rc ? rc : nrm_merkle_inclusion_proof(s_node, &src, seq - 1, size, path, len, err);
}

int
nrm_logtree_consistency(nrm_store_t *store, MDB_txn *txn, uint64_t old_size, uint64_t new_size,
                        uint8_t (*path)[NRM_HASH_BYTES], size_t *len, nrm_err_t *err)
{
    s_src_t src = { store, txn };
    *len = 0;
    int rc = s_check_size(store, txn, new_size, err);
    return rc ? rc : nrm_merkle_consistency_proof(s_node, &src, old_size, new_size, path, len, err);
}
