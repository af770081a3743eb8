/*  nrm_merkle -- RFC 6962 / RFC 9162 Merkle tree hashing and proofs.

    Leaves are numbered from 0; the audit record with sequence number s is
    leaf s-1, and a tree of size n holds records 1..n. Leaf hash
    SHA-256(0x00 || record), node hash SHA-256(0x01 || left || right)
    (nrm_leaf_hash, nrm_node_hash). The root of the empty tree is
    SHA-256 of the empty string.

    Generation works over a node source: a callback that returns the hash of
    one perfect subtree (2^level leaves starting at leaf index << level). The
    store (nrm_auditlog) keeps those hashes so that a proof costs O(log n)
    reads; tests give a source that computes them from leaves in memory.
    Verification needs nothing but the proof, and is what an auditor runs.

    Proof paths are ordered from the leaf upwards, as in RFC 9162 and
    transparency-dev/merkle. */
#ifndef NRM_MERKLE_H_INCLUDED
#define NRM_MERKLE_H_INCLUDED
#include "nrm.h"

/* Longest proof for tree sizes below 2^63: an inclusion path has at most
   63 hashes, a consistency path at most 2 * 63. */
#define NRM_MERKLE_PATH_MAX 128
/* Largest tree size the module accepts (sizes are u64 on the wire). */
#define NRM_MERKLE_SIZE_MAX (UINT64_C(1) << 62)

typedef uint8_t nrm_hash_t[NRM_HASH_BYTES];

/* Hash of the perfect subtree of 2^level leaves that starts at leaf
   index * 2^level. Returns 0 or an NRM_E code (with err set). */
typedef int (nrm_merkle_node_fn)(void *ctx, unsigned level, uint64_t index,
                                 uint8_t out[NRM_HASH_BYTES], nrm_err_t *err);

/* Root of the tree of the first size leaves (MTH(D[0:size])). */
int nrm_merkle_root(nrm_merkle_node_fn *fn, void *ctx, uint64_t size,
                    uint8_t root[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;

/* Inclusion path of leaf index in the tree of size leaves (RFC 9162
   2.1.3.1). path holds NRM_MERKLE_PATH_MAX hashes; *len is set. */
int nrm_merkle_inclusion_proof(nrm_merkle_node_fn *fn, void *ctx, uint64_t index,
                               uint64_t size, nrm_hash_t *path, size_t *len,
                               nrm_err_t *err) NRM_WUR;

/* Consistency proof from the tree of old_size leaves to the tree of
   new_size leaves (RFC 9162 2.1.4.1); empty when old_size is 0 or equal to
   new_size. */
int nrm_merkle_consistency_proof(nrm_merkle_node_fn *fn, void *ctx, uint64_t old_size,
                                 uint64_t new_size, nrm_hash_t *path, size_t *len,
                                 nrm_err_t *err) NRM_WUR;

/* The root that path leads to from leaf_hash as leaf index of a tree of
   size leaves (RFC 9162 2.1.3.2 without the final comparison). The path
   must have exactly nrm_merkle_inclusion_len(index, size) hashes;
   NRM_ECRYPTO with err saying why otherwise. */
int nrm_merkle_inclusion_root(uint64_t index, uint64_t size,
                              const uint8_t leaf_hash[NRM_HASH_BYTES],
                              const nrm_hash_t *path, size_t len,
                              uint8_t root[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;
/* Number of hashes in the inclusion path of leaf index in a tree of size
   leaves (0 when index >= size). */
size_t nrm_merkle_inclusion_len(uint64_t index, uint64_t size);

/* 0 if path proves that leaf_hash is leaf index of the tree of size leaves
   whose root is root (RFC 9162 2.1.3.2); NRM_ECRYPTO with err saying why
   otherwise. */
int nrm_merkle_inclusion_verify(uint64_t index, uint64_t size,
                                const uint8_t leaf_hash[NRM_HASH_BYTES],
                                const nrm_hash_t *path, size_t len,
                                const uint8_t root[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;

/* 0 if path proves that the tree (old_size, old_root) is a prefix of the
   tree (new_size, new_root) (RFC 9162 2.1.4.2); NRM_ECRYPTO otherwise. */
int nrm_merkle_consistency_verify(uint64_t old_size, uint64_t new_size,
                                  const uint8_t old_root[NRM_HASH_BYTES],
                                  const uint8_t new_root[NRM_HASH_BYTES],
                                  const nrm_hash_t *path, size_t len, nrm_err_t *err) NRM_WUR;

/* A compact range [0, size): the roots of the perfect subtrees that make up
   the tree so far, one per set bit of size, largest first. Appending a leaf
   is amortised O(1) and yields the subtrees it completes; the root is a
   fold of at most 63 hashes. Used by the verifier to rebuild the tree from
   the records alone. */
typedef struct {
    uint64_t   size;
    nrm_hash_t nodes[64];   /* nodes[k]: the k-th subtree from the left */
    unsigned   count;
} nrm_merkle_range_t;

void nrm_merkle_range_init(nrm_merkle_range_t *r);
/* Appends one leaf. completed (may be NULL) receives the hashes of the
   perfect subtrees that this leaf completes, level 1 first (as many as the
   trailing one bits of the new size's index, i.e. ctz(size after)); *ncompleted
   is their number. */
void nrm_merkle_range_append(nrm_merkle_range_t *r, const uint8_t leaf[NRM_HASH_BYTES],
                             nrm_hash_t *completed, unsigned *ncompleted);
/* Root of the range (the empty-tree hash when size is 0). */
void nrm_merkle_range_root(const nrm_merkle_range_t *r, uint8_t root[NRM_HASH_BYTES]);

#endif
