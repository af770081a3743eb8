/*  nrm_batchsig -- one Ed25519 signature over many items (batch signatures).

    Under load a party signs the items it sends together (the envelopes of
    one outbox commit, the receipts of one broker commit, the acks of one
    inbox commit) with ONE signature, and each item carries its inclusion
    path, so that each one still verifies alone, long after the others are
    gone (X-Road's batch signer does the same).

    Leaf of an item: the RFC 6962 leaf hash of exactly what a direct
    signature would cover,

        leaf = SHA-256(0x00 || context || 0x00 || exact bytes)

    so leaves are separated by context as direct signatures are. The tree
    is the RFC 6962 Merkle tree over the leaves in order (nrm_merkle), and
    the signature is a plain context signature (nrm_sign) over

        "nrmbus/batch/v1" || 0x00 || size (8 bytes, big-endian) || root

    An item of a batch carries the signature and a proof {index, size, path}
    with exactly the RFC 9162 path length for (index, size). A batch of one
    is never made: a single item gets the direct signature over context ||
    0x00 || bytes and no proof, exactly as before batches existed, so every
    old signature, store and log stays valid.

    Verification computes the leaf, the root from the proof, then checks
    the signature over the root. Verified (signer key, size, root,
    signature) tuples are remembered in a small per-thread cache, so the 2nd
    to nth item of a batch cost hashing only; a direct signature is
    remembered the same way under size 1 and the SHA-256 of context ||
    0x00 || bytes, so checking the same signed bytes again is hashing only. The cache is a memo of a pure
    function: a hit requires all four values to be equal, only successful
    checks are entered, and each thread has its own (no lock, nothing
    shared). */
#ifndef NRM_BATCHSIG_H_INCLUDED
#define NRM_BATCHSIG_H_INCLUDED
#include "nrm_crypto.h"

#define NRM_CTX_BATCH      "nrmbus/batch/v1"
#define NRM_BATCH_MAX      256      /* items under one signature            */
#define NRM_BATCH_PATH_MAX 8        /* log2(NRM_BATCH_MAX): longest path    */

/* Where an item sits in its batch. size 0: none, a direct signature. */
typedef struct {
    uint32_t index;                 /* 0 .. size-1                          */
    uint32_t size;                  /* 2 .. NRM_BATCH_MAX, or 0             */
    uint32_t npath;                 /* exactly nrm_merkle_inclusion_len     */
    uint8_t  path[NRM_BATCH_PATH_MAX][NRM_HASH_BYTES]; /* leaf side first   */
} nrm_batch_proof_t;

/* One item to sign: its exact bytes (borrowed). */
typedef struct {
    const uint8_t *data;
    size_t         len;
} nrm_batch_item_t;

/* leaf = SHA-256(0x00 || ctx || 0x00 || data). */
void nrm_batch_leaf(const char *ctx, const uint8_t *data, size_t len,
                    uint8_t leaf[NRM_HASH_BYTES]);

/* Signs count (1..NRM_BATCH_MAX) items of context ctx with one signature.
   count == 1: the direct signature over ctx || 0x00 || bytes, and
   proofs[0].size = 0. Otherwise the batch signature, and proofs[i] says
   where item i is. proofs has room for count entries. Returns 0, or
   NRM_EINVAL (count out of range, keys without a signing key) or
   NRM_ENOMEM with err set. */
int nrm_batch_sign(const nrm_keys_t *keys, const char *ctx, const nrm_batch_item_t *items,
                   size_t count, uint8_t sig[NRM_SIG_BYTES], nrm_batch_proof_t *proofs,
                   nrm_err_t *err) NRM_WUR;

/* Checks the shape of a proof (size 2..NRM_BATCH_MAX, index below it, the
   path exactly as long as RFC 9162 gives for them). 0, or NRM_EINVAL with
   err->reason NRM_R_BAD_SIGNATURE and the reason. A proof of size 0 is no
   proof and passes. */
int nrm_batch_proof_check(const nrm_batch_proof_t *proof, nrm_err_t *err) NRM_WUR;

/* The bytes a batch signature covers after its context: size (8 bytes,
   big-endian) || root, computed from an item and its proof (which must
   have size >= 2). 0, or NRM_EINVAL with err->reason NRM_R_BAD_SIGNATURE. */
#define NRM_BATCH_SIGNED_BYTES (8 + NRM_HASH_BYTES)
int nrm_batch_signed_bytes(const char *ctx, const uint8_t *data, size_t len,
                           const nrm_batch_proof_t *proof,
                           uint8_t out[NRM_BATCH_SIGNED_BYTES], nrm_err_t *err) NRM_WUR;

/* 0 if sig by pk covers data of context ctx: directly when proof is NULL
   or of size 0, else through the batch proof. Otherwise NRM_ECRYPTO with
   err->reason NRM_R_BAD_SIGNATURE and a reason that says which part failed
   (the proof's shape, or the signature over the batch root, naming the
   item's index and the batch size). Uses the calling thread's cache. */
int nrm_batch_verify(const uint8_t pk[NRM_PK_BYTES], const char *ctx, const uint8_t *data,
                     size_t len, const uint8_t sig[NRM_SIG_BYTES],
                     const nrm_batch_proof_t *proof, nrm_err_t *err) NRM_WUR;

/* The calling thread's cache: hits and misses since it started (or since
   nrm_batch_cache_clear), for tests and metrics. */
void nrm_batch_cache_stats(uint64_t *hits, uint64_t *misses);
/* Forgets the calling thread's cache and zeroes its counters. */
void nrm_batch_cache_clear(void);

#endif
