/*  nrm_batchsig -- batch signatures over RFC 6962 Merkle roots (see
    nrm_batchsig.h). */
#include "nrm_batchsig.h"
#include "nrm_merkle.h"
#include "nrm_store.h"
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- signing: the whole tree of one batch, kept to read paths from ---- */

typedef struct {
    uint16_t lo, hi;            /* leaves [lo, hi) */
    int16_t  left, right;       /* children, -1 for a leaf */
    uint8_t  hash[NRM_HASH_BYTES];
} s_node_t;

typedef struct {
    s_node_t nodes[2 * NRM_BATCH_MAX - 1];
    size_t   n;
    int16_t  leaf[NRM_BATCH_MAX];   /* node of each leaf */
} s_tree_t;

/* Largest power of two strictly below n (n >= 2), as RFC 6962 splits. */
static unsigned
s_split(unsigned n)
{
    unsigned k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

/* Builds MTH(D[lo:hi]) bottom-up through the recursion; returns the node. */
static int16_t
s_build(s_tree_t *t, const uint8_t (*leaves)[NRM_HASH_BYTES], unsigned lo, unsigned hi)
{
    int16_t me = (int16_t) t->n++;
    s_node_t *node = &t->nodes[me];
    node->lo = (uint16_t) lo;
    node->hi = (uint16_t) hi;
    if (hi - lo == 1) {
        node->left = node->right = -1;
        memcpy(node->hash, leaves[lo], NRM_HASH_BYTES);
        t->leaf[lo] = me;
        return me;
    }
    unsigned k = s_split(hi - lo);
    int16_t l = s_build(t, leaves, lo, lo + k);
    int16_t r = s_build(t, leaves, lo + k, hi);
    node = &t->nodes[me];
    node->left = l;
    node->right = r;
    nrm_node_hash(t->nodes[l].hash, t->nodes[r].hash, node->hash);
    return me;
}

/* The inclusion path of leaf i, leaf side first. */
static void
s_path(const s_tree_t *t, unsigned i, nrm_batch_proof_t *p)
{
    int16_t at = 0;
    uint8_t top[NRM_BATCH_PATH_MAX][NRM_HASH_BYTES];
    unsigned n = 0;
    while (t->nodes[at].left >= 0) {
        const s_node_t *node = &t->nodes[at];
        const s_node_t *l = &t->nodes[node->left];
        bool go_left = i < l->hi;
        int16_t sibling = go_left ? node->right : node->left;
        memcpy(top[n++], t->nodes[sibling].hash, NRM_HASH_BYTES);
        at = go_left ? node->left : node->right;
    }
    p->npath = n;
    for (unsigned j = 0; j < n; j++)
        memcpy(p->path[j], top[n - 1 - j], NRM_HASH_BYTES);
}

void
nrm_batch_leaf(const char *ctx, const uint8_t *data, size_t len, uint8_t leaf[NRM_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    const uint8_t zero = 0x00;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, (const uint8_t *) ctx, strlen(ctx) + 1);   /* with its NUL */
    if (len)
        crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, leaf);
}

static void
s_signed_bytes(uint32_t size, const uint8_t root[NRM_HASH_BYTES],
               uint8_t out[NRM_BATCH_SIGNED_BYTES])
{
    nrm_be64_put(out, size);
    memcpy(out + 8, root, NRM_HASH_BYTES);
}

int
nrm_batch_sign(const nrm_keys_t *keys, const char *ctx, const nrm_batch_item_t *items,
               size_t count, uint8_t sig[NRM_SIG_BYTES], nrm_batch_proof_t *proofs,
               nrm_err_t *err)
{
    if (count == 0 || count > NRM_BATCH_MAX)
        return nrm_err_set(err, NRM_EINVAL, "a batch holds 1..%d items, not %zu", NRM_BATCH_MAX,
                           count);
    if (count == 1) {
        memset(&proofs[0], 0, sizeof proofs[0]);
        if (nrm_sign(keys, ctx, items[0].data, items[0].len, sig) != 0)
            return nrm_err_set(err, NRM_EINVAL, "signing failed (no signing key?)");
        return 0;
    }
    s_tree_t *t = malloc(sizeof *t);
    uint8_t (*leaves)[NRM_HASH_BYTES] = malloc(count * NRM_HASH_BYTES);
    int rc = 0;
    if (!t || !leaves) {
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory signing a batch of %zu", count);
        goto out;
    }
    for (size_t i = 0; i < count; i++)
        nrm_batch_leaf(ctx, items[i].data, items[i].len, leaves[i]);
    t->n = 0;
    (void) s_build(t, (const uint8_t (*)[NRM_HASH_BYTES]) leaves, 0, (unsigned) count);
    uint8_t msg[NRM_BATCH_SIGNED_BYTES];
    s_signed_bytes((uint32_t) count, t->nodes[0].hash, msg);
    if (nrm_sign(keys, NRM_CTX_BATCH, msg, sizeof msg, sig) != 0) {
        rc = nrm_err_set(err, NRM_EINVAL, "signing failed (no signing key?)");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        proofs[i].index = (uint32_t) i;
        proofs[i].size = (uint32_t) count;
        s_path(t, (unsigned) i, &proofs[i]);
    }
out:
    free(leaves);
    free(t);
    return rc;
}

int
nrm_batch_proof_check(const nrm_batch_proof_t *p, nrm_err_t *err)
{
    if (p->size == 0)
        return 0;
    if (p->size == 1)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "batch proof of size 1: a single item "
                              "is signed directly, without a proof");
    if (p->size > NRM_BATCH_MAX)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "batch proof of size %u, over the limit "
                              "of %d", p->size, NRM_BATCH_MAX);
    if (p->index >= p->size)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "batch proof index %u is not below its "
                              "size %u", p->index, p->size);
    size_t want = nrm_merkle_inclusion_len(p->index, p->size);
    if (p->npath != want)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "batch proof path of %u hashes, but "
                              "item %u of %u needs exactly %zu", p->npath, p->index, p->size,
                              want);
    return 0;
}

int
nrm_batch_signed_bytes(const char *ctx, const uint8_t *data, size_t len,
                       const nrm_batch_proof_t *p, uint8_t out[NRM_BATCH_SIGNED_BYTES],
                       nrm_err_t *err)
{
    if (p->size == 0)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "no batch proof");
    int rc = nrm_batch_proof_check(p, err);
    if (rc)
        return rc;
    uint8_t leaf[NRM_HASH_BYTES], root[NRM_HASH_BYTES];
    nrm_err_t why = { 0, 0, "" };
    nrm_batch_leaf(ctx, data, len, leaf);
    if (nrm_merkle_inclusion_root(p->index, p->size, leaf, (const nrm_hash_t *) p->path, p->npath,
                                  root, &why) != 0)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "batch proof: %s", why.msg);
    s_signed_bytes(p->size, root, out);
    return 0;
}

/* ---- the per-thread cache of verified batch signatures ---- */

#define S_SETS 64
#define S_WAYS 4

typedef struct {
    bool     used;
    uint32_t size;
    uint8_t  root[NRM_HASH_BYTES];
    uint8_t  pk[NRM_PK_BYTES];
    uint8_t  sig[NRM_SIG_BYTES];
} s_entry_t;

typedef struct {
    s_entry_t sets[S_SETS][S_WAYS];
    uint8_t   next[S_SETS];         /* way to replace next, round robin */
    uint64_t  hits, misses;
} s_cache_t;

/* One per thread: verification runs on the broker's and agents' loops and
   on nrm_sigpool's workers; nothing is shared, so nothing is locked. */
static _Thread_local s_cache_t s_cache;

static s_entry_t *
s_lookup(const uint8_t pk[NRM_PK_BYTES], const uint8_t msg[NRM_BATCH_SIGNED_BYTES],
         const uint8_t sig[NRM_SIG_BYTES])
{
    const uint8_t *root = msg + 8;
    uint32_t size = (uint32_t) nrm_be64_get(msg);
    s_entry_t *set = s_cache.sets[root[0] % S_SETS];
    for (unsigned w = 0; w < S_WAYS; w++) {
        s_entry_t *e = &set[w];
        if (e->used && e->size == size && memcmp(e->root, root, NRM_HASH_BYTES) == 0
            && memcmp(e->pk, pk, NRM_PK_BYTES) == 0 && memcmp(e->sig, sig, NRM_SIG_BYTES) == 0)
            return e;
    }
    return NULL;
}

static void
s_remember(const uint8_t pk[NRM_PK_BYTES], const uint8_t msg[NRM_BATCH_SIGNED_BYTES],
           const uint8_t sig[NRM_SIG_BYTES])
{
    unsigned s = msg[8] % S_SETS;
    s_entry_t *e = &s_cache.sets[s][s_cache.next[s]];
    s_cache.next[s] = (uint8_t) ((s_cache.next[s] + 1) % S_WAYS);
    e->used = true;
    e->size = (uint32_t) nrm_be64_get(msg);
    memcpy(e->root, msg + 8, NRM_HASH_BYTES);
    memcpy(e->pk, pk, NRM_PK_BYTES);
    memcpy(e->sig, sig, NRM_SIG_BYTES);
}

int
nrm_batch_verify(const uint8_t pk[NRM_PK_BYTES], const char *ctx, const uint8_t *data, size_t len,
                 const uint8_t sig[NRM_SIG_BYTES], const nrm_batch_proof_t *proof, nrm_err_t *err)
{
    uint8_t msg[NRM_BATCH_SIGNED_BYTES];
    if (!proof || proof->size == 0) {
        /* A direct signature is remembered under size 1 (which no batch
           has) and the SHA-256 of everything it covers, ctx || 0x00 ||
           data: the broker checks an envelope when it is submitted and
           again when it delivers it. */
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, (const uint8_t *) ctx, strlen(ctx) + 1);
        if (len)
            crypto_hash_sha256_update(&st, data, len);
        nrm_be64_put(msg, 1);
        crypto_hash_sha256_final(&st, msg + 8);
        if (s_lookup(pk, msg, sig)) {
            s_cache.hits++;
            return 0;
        }
        s_cache.misses++;
        if (nrm_verify(pk, ctx, data, len, sig) == 0) {
            s_remember(pk, msg, sig);
            return 0;
        }
        int rc = nrm_err_set(err, NRM_ECRYPTO, "signature does not verify");
        if (err)
            err->reason = NRM_R_BAD_SIGNATURE;
        return rc;
    }
    nrm_err_t why = { 0, 0, "" };
    if (nrm_batch_signed_bytes(ctx, data, len, proof, msg, &why) != 0) {
        int rc = nrm_err_set(err, NRM_ECRYPTO, "%s", why.msg);
        if (err)
            err->reason = NRM_R_BAD_SIGNATURE;
        return rc;
    }
    if (s_lookup(pk, msg, sig)) {
        s_cache.hits++;
        return 0;
    }
    s_cache.misses++;
    if (nrm_verify(pk, NRM_CTX_BATCH, msg, sizeof msg, sig) != 0)
    {
        int rc = nrm_err_set(err, NRM_ECRYPTO, "batch signature does not verify (item %u of a "
                             "batch of %u: the item, its proof or the signature was changed, or "
                             "another key signed)", proof->index, proof->size);
        if (err)
            err->reason = NRM_R_BAD_SIGNATURE;
        return rc;
    }
    s_remember(pk, msg, sig);
    return 0;
}

void
nrm_batch_cache_stats(uint64_t *hits, uint64_t *misses)
{
    if (hits)
        *hits = s_cache.hits;
    if (misses)
        *misses = s_cache.misses;
}

void
nrm_batch_cache_clear(void)
{
    memset(&s_cache, 0, sizeof s_cache);
}
