/*  nrm_merkle -- RFC 6962 / RFC 9162 tree hashing, proof generation over a
    node source, and proof verification. */
#include "nrm_merkle.h"
#include "nrm_crypto.h"
#include <string.h>

/* Largest power of two strictly smaller than n (n >= 2). */
static uint64_t
s_split(uint64_t n)
{
    uint64_t k = UINT64_C(1) << (63 - __builtin_clzll(n - 1));
    return k;
}

/* MTH(D[lo:hi]), hi > lo. The ranges that the proofs ask for start at a
   multiple of a power of two at least as large as their length, so their
   left parts are perfect subtrees that the node source answers in one call:
   O(log n) calls per range. */
static int
s_range_hash(nrm_merkle_node_fn *fn, void *ctx, uint64_t lo, uint64_t hi,
             uint8_t out[NRM_HASH_BYTES], nrm_err_t *err)
{
    uint64_t n = hi - lo;
    if ((n & (n - 1)) == 0 && (lo & (n - 1)) == 0) {
        unsigned level = (unsigned) __builtin_ctzll(n);
        return fn(ctx, level, lo >> level, out, err);
    }
    uint64_t k = s_split(n);
    uint8_t left[NRM_HASH_BYTES], right[NRM_HASH_BYTES];
    int rc = s_range_hash(fn, ctx, lo, lo + k, left, err);
    if (rc == 0)
        rc = s_range_hash(fn, ctx, lo + k, hi, right, err);
    if (rc == 0)
        nrm_node_hash(left, right, out);
    return rc;
}

int
nrm_merkle_root(nrm_merkle_node_fn *fn, void *ctx, uint64_t size, uint8_t root[NRM_HASH_BYTES],
                nrm_err_t *err)
{
    if (size > NRM_MERKLE_SIZE_MAX)
        return nrm_err_set(err, NRM_EINVAL, "tree size %llu is too large", (unsigned long long) size);
    if (size == 0) {
        nrm_sha256(NULL, 0, root);
        return 0;
    }
    return s_range_hash(fn, ctx, 0, size, root, err);
}

/* Paths are found top-down and stored leaf-first: reverse in place. */
static void
s_reverse(nrm_hash_t *path, size_t len)
{
    for (size_t i = 0; i < len / 2; i++) {
        nrm_hash_t t;
        memcpy(t, path[i], NRM_HASH_BYTES);
        memcpy(path[i], path[len - 1 - i], NRM_HASH_BYTES);
        memcpy(path[len - 1 - i], t, NRM_HASH_BYTES);
    }
}

int
nrm_merkle_inclusion_proof(nrm_merkle_node_fn *fn, void *ctx, uint64_t index, uint64_t size,
                           nrm_hash_t *path, size_t *len, nrm_err_t *err)
{
    *len = 0;
    if (size > NRM_MERKLE_SIZE_MAX || index >= size)
        return nrm_err_set(err, NRM_EINVAL, "leaf %llu is not in a tree of size %llu",
                           (unsigned long long) index, (unsigned long long) size);
    uint64_t lo = 0, hi = size;
    while (hi - lo > 1) {
        uint64_t k = s_split(hi - lo);
        int rc;
        if (index < lo + k) {
            rc = s_range_hash(fn, ctx, lo + k, hi, path[*len], err);
            hi = lo + k;
        } else {
            rc = s_range_hash(fn, ctx, lo, lo + k, path[*len], err);
            lo += k;
        }
        if (rc)
            return rc;
        (*len)++;
    }
    s_reverse(path, *len);
    return 0;
}

int
nrm_merkle_consistency_proof(nrm_merkle_node_fn *fn, void *ctx, uint64_t old_size,
                             uint64_t new_size, nrm_hash_t *path, size_t *len, nrm_err_t *err)
{
    *len = 0;
    if (new_size > NRM_MERKLE_SIZE_MAX || old_size > new_size)
        return nrm_err_set(err, NRM_EINVAL, "no consistency proof from size %llu to size %llu",
                           (unsigned long long) old_size, (unsigned long long) new_size);
    if (old_size == 0 || old_size == new_size)
        return 0;
    /* SUBPROOF(m, D[lo:hi], b) of RFC 6962 2.1.2, unrolled; m is relative
       to lo. */
    uint64_t m = old_size, lo = 0, hi = new_size;
    bool whole = true;
    for (;;) {
        uint64_t n = hi - lo;
        int rc = 0;
        if (m == n) {
            if (!whole)
                rc = s_range_hash(fn, ctx, lo, hi, path[(*len)++], err);
            if (rc)
                return rc;
            break;
        }
        uint64_t k = s_split(n);
        if (m <= k) {
            rc = s_range_hash(fn, ctx, lo + k, hi, path[*len], err);
            hi = lo + k;
        } else {
            rc = s_range_hash(fn, ctx, lo, lo + k, path[*len], err);
            m -= k;
            lo += k;
            whole = false;
        }
        if (rc)
            return rc;
        (*len)++;
    }
    s_reverse(path, *len);
    return 0;
}

int
nrm_merkle_inclusion_root(uint64_t index, uint64_t size, const uint8_t leaf_hash[NRM_HASH_BYTES],
                          const nrm_hash_t *path, size_t len, uint8_t root[NRM_HASH_BYTES],
                          nrm_err_t *err)
{
    if (index >= size)
        return nrm_err_set(err, NRM_ECRYPTO, "leaf index %llu is not below tree size %llu",
                           (unsigned long long) index, (unsigned long long) size);
    if (len > NRM_MERKLE_PATH_MAX)
        return nrm_err_set(err, NRM_ECRYPTO, "inclusion path of %zu hashes is too long", len);
    uint64_t fn = index, sn = size - 1;
    uint8_t r[NRM_HASH_BYTES];
    memcpy(r, leaf_hash, NRM_HASH_BYTES);
    for (size_t i = 0; i < len; i++) {
        if (sn == 0)
            return nrm_err_set(err, NRM_ECRYPTO, "inclusion path is longer than the tree is high "
                               "(%zu hashes, %zu expected)", len, i);
        if ((fn & 1) || fn == sn) {
            nrm_node_hash(path[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            nrm_node_hash(r, path[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "inclusion path of %zu hashes is too short for "
                           "leaf %llu of a tree of size %llu", len,
                           (unsigned long long) index, (unsigned long long) size);
    memcpy(root, r, NRM_HASH_BYTES);
    return 0;
}

size_t
nrm_merkle_inclusion_len(uint64_t index, uint64_t size)
{
    if (index >= size)
        return 0;
    /* RFC 9162 2.1.3.2: the bits where index and size - 1 differ give the
       inner part of the path, the set bits of index above them the border. */
    uint64_t x = index ^ (size - 1);
    unsigned inner = x ? 64u - (unsigned) __builtin_clzll(x) : 0u;
    unsigned border = inner < 64 ? (unsigned) __builtin_popcountll(index >> inner) : 0u;
    return inner + border;
}

int
nrm_merkle_inclusion_verify(uint64_t index, uint64_t size, const uint8_t leaf_hash[NRM_HASH_BYTES],
                            const nrm_hash_t *path, size_t len, const uint8_t root[NRM_HASH_BYTES],
                            nrm_err_t *err)
{
    uint8_t r[NRM_HASH_BYTES];
    int rc = nrm_merkle_inclusion_root(index, size, leaf_hash, path, len, r, err);
    if (rc)
        return rc;
    if (memcmp(r, root, NRM_HASH_BYTES) != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "inclusion path leads to a different root");
    return 0;
}

int
nrm_merkle_consistency_verify(uint64_t old_size, uint64_t new_size,
                              const uint8_t old_root[NRM_HASH_BYTES],
                              const uint8_t new_root[NRM_HASH_BYTES],
                              const nrm_hash_t *path, size_t len, nrm_err_t *err)
{
    if (new_size < old_size)
        return nrm_err_set(err, NRM_ECRYPTO, "the new tree (%llu) is smaller than the old (%llu)",
                           (unsigned long long) new_size, (unsigned long long) old_size);
    if (old_size == new_size) {
        if (len)
            return nrm_err_set(err, NRM_ECRYPTO, "trees of equal size need an empty proof");
        if (memcmp(old_root, new_root, NRM_HASH_BYTES) != 0)
            return nrm_err_set(err, NRM_ECRYPTO, "two trees of size %llu with different roots",
                               (unsigned long long) old_size);
        return 0;
    }
    if (old_size == 0) {
        if (len)
            return nrm_err_set(err, NRM_ECRYPTO, "a proof from the empty tree must be empty");
        return 0;
    }
    if (len == 0)
        return nrm_err_set(err, NRM_ECRYPTO, "empty consistency proof");
    if (len > NRM_MERKLE_PATH_MAX)
        return nrm_err_set(err, NRM_ECRYPTO, "consistency path of %zu hashes is too long", len);
    /* RFC 9162 2.1.4.2: when old_size is a power of two, old_root is the
       implicit first element of the path. */
    size_t i = 0;
    const uint8_t *first = path[0];
    if ((old_size & (old_size - 1)) == 0)
        first = old_root;
    else
        i = 1;
    uint64_t fn = old_size - 1, sn = new_size - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[NRM_HASH_BYTES], sr[NRM_HASH_BYTES];
    memcpy(fr, first, NRM_HASH_BYTES);
    memcpy(sr, first, NRM_HASH_BYTES);
    for (; i < len; i++) {
        if (sn == 0)
            return nrm_err_set(err, NRM_ECRYPTO, "consistency path is too long");
        if ((fn & 1) || fn == sn) {
            nrm_node_hash(path[i], fr, fr);
            nrm_node_hash(path[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            nrm_node_hash(sr, path[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "consistency path is too short");
    if (memcmp(fr, old_root, NRM_HASH_BYTES) != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "consistency path does not lead to the old root: "
                           "the old tree is not a prefix of the new one");
    if (memcmp(sr, new_root, NRM_HASH_BYTES) != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "consistency path does not lead to the new root");
    return 0;
}

void
nrm_merkle_range_init(nrm_merkle_range_t *r)
{
    memset(r, 0, sizeof *r);
}

void
nrm_merkle_range_append(nrm_merkle_range_t *r, const uint8_t leaf[NRM_HASH_BYTES],
                        nrm_hash_t *completed, unsigned *ncompleted)
{
    memcpy(r->nodes[r->count++], leaf, NRM_HASH_BYTES);
    r->size++;
    unsigned merges = (unsigned) __builtin_ctzll(r->size);
    for (unsigned i = 0; i < merges; i++) {
        r->count--;
        nrm_node_hash(r->nodes[r->count - 1], r->nodes[r->count], r->nodes[r->count - 1]);
        if (completed)
            memcpy(completed[i], r->nodes[r->count - 1], NRM_HASH_BYTES);
    }
    if (ncompleted)
        *ncompleted = merges;
}

void
nrm_merkle_range_root(const nrm_merkle_range_t *r, uint8_t root[NRM_HASH_BYTES])
{
    if (r->count == 0) {
        nrm_sha256(NULL, 0, root);
        return;
    }
    uint8_t h[NRM_HASH_BYTES];
    memcpy(h, r->nodes[r->count - 1], NRM_HASH_BYTES);
    for (unsigned k = r->count - 1; k-- > 0;)
        nrm_node_hash(r->nodes[k], h, h);
    memcpy(root, h, NRM_HASH_BYTES);
}
