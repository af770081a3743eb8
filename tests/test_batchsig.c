/*  Unit tests of nrm_batchsig: every item of batches of 1..17 and 256
    items verifies alone, its root is the RFC 6962 root of the leaves (by
    the recursive definition of MTH, written out here), and any change of
    the item, its path, index, size, the root it leads to, the signature,
    the key or the context fails, with a reason; so does a path of the wrong
    length. A batch of one is a direct signature. The per-thread cache never
    accepts what it did not verify: a different key, root or size is a miss
    that fails, a failure is never cached, and threads do not share it. */
#include "nrm_batchsig.h"
#include "nrm_merkle.h"
#include "nrm_store.h"
#include "testutil.h"
#include <pthread.h>

#define S_ITEMS_MAX NRM_BATCH_MAX

typedef struct {
    uint8_t           bytes[S_ITEMS_MAX][40];
    nrm_batch_item_t  items[S_ITEMS_MAX];
    nrm_batch_proof_t proofs[S_ITEMS_MAX];
    uint8_t           sig[NRM_SIG_BYTES];
    size_t            n;
} s_batch_t;

/* MTH(D[lo:hi]) of RFC 6962 2.1, recursively, from the leaves. */
static void
s_mth(uint8_t (*leaves)[NRM_HASH_BYTES], size_t lo, size_t hi, uint8_t out[NRM_HASH_BYTES])
{
    if (hi - lo == 1) {
        memcpy(out, leaves[lo], NRM_HASH_BYTES);
        return;
    }
    size_t k = 1;
    while (k * 2 < hi - lo)
        k *= 2;
    uint8_t l[NRM_HASH_BYTES], r[NRM_HASH_BYTES];
    s_mth(leaves, lo, lo + k, l);
    s_mth(leaves, lo + k, hi, r);
    nrm_node_hash(l, r, out);
}

static void
s_make(s_batch_t *b, const nrm_keys_t *k, const char *ctx, size_t n)
{
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        size_t len = 1 + i % 40;            /* items of different lengths */
        nrm_random(b->bytes[i], len);
        b->items[i].data = b->bytes[i];
        b->items[i].len = len;
    }
    nrm_err_t err = { 0, 0, "" };
    CHECK_RC(nrm_batch_sign(k, ctx, b->items, n, b->sig, b->proofs, &err), 0);
}

static void
t_every_item(const nrm_keys_t *k, size_t n)
{
    static s_batch_t b;
    nrm_err_t err = { 0, 0, "" };
    s_make(&b, k, NRM_CTX_ENVELOPE, n);
    const uint8_t *pk = nrm_keys_sign_pk(k);
    if (n == 1) {
        CHECK(b.proofs[0].size == 0);
        CHECK_RC(nrm_verify(pk, NRM_CTX_ENVELOPE, b.items[0].data, b.items[0].len, b.sig), 0);
        CHECK_RC(nrm_batch_verify(pk, NRM_CTX_ENVELOPE, b.items[0].data, b.items[0].len, b.sig,
                                  &b.proofs[0], &err), 0);
        CHECK_RC(nrm_batch_verify(pk, NRM_CTX_ENVELOPE, b.items[0].data, b.items[0].len, b.sig,
                                  NULL, &err), 0);
        return;
    }
    uint8_t (*leaves)[NRM_HASH_BYTES] = malloc(n * NRM_HASH_BYTES);
    for (size_t i = 0; i < n; i++)
        nrm_batch_leaf(NRM_CTX_ENVELOPE, b.items[i].data, b.items[i].len, leaves[i]);
    uint8_t root[NRM_HASH_BYTES], msg[NRM_BATCH_SIGNED_BYTES];
    s_mth(leaves, 0, n, root);
    nrm_be64_put(msg, n);
    memcpy(msg + 8, root, NRM_HASH_BYTES);
    /* the one signature is over the batch context, the size and the root */
    CHECK_RC(nrm_verify(pk, NRM_CTX_BATCH, msg, sizeof msg, b.sig), 0);
    for (size_t i = 0; i < n; i++) {
        const nrm_batch_proof_t *p = &b.proofs[i];
        CHECK(p->index == i && p->size == n);
        CHECK(p->npath == nrm_merkle_inclusion_len(i, n));
        CHECK(p->npath <= NRM_BATCH_PATH_MAX);
        CHECK_RC(nrm_batch_proof_check(p, &err), 0);
        CHECK_RC(nrm_merkle_inclusion_verify(i, n, leaves[i], (const nrm_hash_t *) p->path,
                                             p->npath, root, &err), 0);
        uint8_t got[NRM_BATCH_SIGNED_BYTES];
        CHECK_RC(nrm_batch_signed_bytes(NRM_CTX_ENVELOPE, b.items[i].data, b.items[i].len, p, got,
                                        &err), 0);
        CHECK(memcmp(got, msg, sizeof msg) == 0);
        memset(&err, 0, sizeof err);
        int rc = nrm_batch_verify(pk, NRM_CTX_ENVELOPE, b.items[i].data, b.items[i].len, b.sig, p,
                                  &err);
        CHECK_RC(rc, 0);
        if (rc)
            fprintf(stderr, "  size %zu item %zu: %s\n", n, i, err.msg);
        /* not directly signed */
        CHECK_RC(nrm_verify(pk, NRM_CTX_ENVELOPE, b.items[i].data, b.items[i].len, b.sig),
                 NRM_ECRYPTO);
    }
    free(leaves);
}

/* Verifies a changed copy and expects a refusal with a reason. */
static void
s_expect_bad(const uint8_t *pk, const char *ctx, const uint8_t *data, size_t len,
             const uint8_t *sig, const nrm_batch_proof_t *p, const char *reason_part, int line)
{
    nrm_err_t err = { 0, 0, "" };
    int rc = nrm_batch_verify(pk, ctx, data, len, sig, p, &err);
    t_checks++;
    if (rc != NRM_ECRYPTO || err.reason != NRM_R_BAD_SIGNATURE || !strstr(err.msg, reason_part)) {
        t_failures++;
        fprintf(stderr, "%s:%d: expected a refusal with '%s', got rc %d reason %u '%s'\n",
                __FILE__, line, reason_part, rc, err.reason, err.msg);
    }
}
#define EXPECT_BAD(data, len, sig, p, part) \
    s_expect_bad(pk, NRM_CTX_ENVELOPE, (data), (len), (sig), (p), (part), __LINE__)

static void
t_tampered(const nrm_keys_t *k, const nrm_keys_t *other)
{
    static s_batch_t b;
    s_make(&b, k, NRM_CTX_ENVELOPE, 13);
    const uint8_t *pk = nrm_keys_sign_pk(k);
    for (size_t i = 0; i < b.n; i++) {
        const nrm_batch_proof_t *good = &b.proofs[i];
        nrm_batch_proof_t p;
        uint8_t item[40], sig[NRM_SIG_BYTES];
        size_t len = b.items[i].len;
        memcpy(item, b.items[i].data, len);
        /* the item */
        item[len / 2] ^= 0x01;
        EXPECT_BAD(item, len, b.sig, good, "batch signature does not verify");
        item[len / 2] ^= 0x01;
        EXPECT_BAD(item, len - 1, b.sig, good, "batch signature does not verify");
        /* each hash of the path */
        for (unsigned j = 0; j < good->npath; j++) {
            p = *good;
            p.path[j][j] ^= 0x80;
            EXPECT_BAD(item, len, b.sig, &p, "batch signature does not verify");
        }
        /* the index: another item's place (same path length where there is one) */
        for (uint32_t idx = 0; idx < good->size; idx++) {
            if (idx == good->index)
                continue;
            p = *good;
            p.index = idx;
            EXPECT_BAD(item, len, b.sig, &p, nrm_merkle_inclusion_len(idx, p.size) == p.npath
                       ? "batch signature does not verify" : "needs exactly");
        }
        /* the size: another tree, or a path of the wrong length for it */
        for (uint32_t size = 2; size <= 20; size++) {
            if (size == good->size || good->index >= size)
                continue;
            p = *good;
            p.size = size;
            EXPECT_BAD(item, len, b.sig, &p, nrm_merkle_inclusion_len(p.index, size) == p.npath
                       ? "batch signature does not verify" : "needs exactly");
        }
        /* path one hash too short, one too long */
        p = *good;
        p.npath--;
        EXPECT_BAD(item, len, b.sig, &p, "needs exactly");
        p = *good;
        if (p.npath < NRM_BATCH_PATH_MAX) {
            p.npath++;
            EXPECT_BAD(item, len, b.sig, &p, "needs exactly");
        }
        /* index out of the batch, sizes 1 and over the cap */
        p = *good;
        p.index = p.size;
        EXPECT_BAD(item, len, b.sig, &p, "is not below its size");
        p = *good;
        p.size = 1;
        p.index = 0;
        EXPECT_BAD(item, len, b.sig, &p, "a single item is signed directly");
        p = *good;
        p.size = NRM_BATCH_MAX + 1;
        EXPECT_BAD(item, len, b.sig, &p, "over the limit");
        /* the signature, the key, the context */
        memcpy(sig, b.sig, sizeof sig);
        sig[i % NRM_SIG_BYTES] ^= 0x04;
        EXPECT_BAD(item, len, sig, good, "batch signature does not verify");
        s_expect_bad(nrm_keys_sign_pk(other), NRM_CTX_ENVELOPE, item, len, b.sig, good,
                     "batch signature does not verify", __LINE__);
        s_expect_bad(pk, NRM_CTX_ACK, item, len, b.sig, good, "batch signature does not verify",
                     __LINE__);
        /* without its proof the batch signature is no direct signature */
        EXPECT_BAD(item, len, b.sig, NULL, "signature does not verify");
        /* and still good */
        nrm_err_t err = { 0, 0, "" };
        CHECK_RC(nrm_batch_verify(pk, NRM_CTX_ENVELOPE, item, len, b.sig, good, &err), 0);
    }
    /* a root the signer never signed: a second batch's signature does not
       cover the first one's items */
    static s_batch_t b2;
    s_make(&b2, k, NRM_CTX_ENVELOPE, 13);
    EXPECT_BAD(b.items[3].data, b.items[3].len, b2.sig, &b.proofs[3], "batch signature does not verify");
}

static void
t_cache(const nrm_keys_t *k, const nrm_keys_t *other)
{
    static s_batch_t b;
    nrm_err_t err = { 0, 0, "" };
    uint64_t hits, misses;
    const uint8_t *pk = nrm_keys_sign_pk(k);
    nrm_batch_cache_clear();
    s_make(&b, k, NRM_CTX_ACK, 17);
    for (size_t i = 0; i < b.n; i++)
        CHECK_RC(nrm_batch_verify(pk, NRM_CTX_ACK, b.items[i].data, b.items[i].len, b.sig,
                                  &b.proofs[i], &err), 0);
    nrm_batch_cache_stats(&hits, &misses);
    CHECK(misses == 1 && hits == 16);          /* one Ed25519 check for the batch */

    /* warm cache, other key: a miss, and it fails */
    s_expect_bad(nrm_keys_sign_pk(other), NRM_CTX_ACK, b.items[0].data, b.items[0].len, b.sig,
                 &b.proofs[0], "batch signature does not verify", __LINE__);
    nrm_batch_cache_stats(&hits, &misses);
    CHECK(misses == 2 && hits == 16);
    /* warm cache, another root (one path hash changed): a miss, fails */
    nrm_batch_proof_t p = b.proofs[5];
    p.path[0][0] ^= 1;
    s_expect_bad(pk, NRM_CTX_ACK, b.items[5].data, b.items[5].len, b.sig, &p,
                 "batch signature does not verify", __LINE__);
    /* warm cache, another size with a path of the right length: fails */
    p = b.proofs[0];                           /* index 0 of 17: 5 hashes; of 32: 5 too */
    p.size = 32;
    CHECK(nrm_merkle_inclusion_len(0, 32) == p.npath);
    s_expect_bad(pk, NRM_CTX_ACK, b.items[0].data, b.items[0].len, b.sig, &p,
                 "batch signature does not verify", __LINE__);
    /* warm cache, another signature over the same root is checked, not taken */
    uint8_t sig[NRM_SIG_BYTES];
    memcpy(sig, b.sig, sizeof sig);
    sig[63] ^= 0x10;
    s_expect_bad(pk, NRM_CTX_ACK, b.items[1].data, b.items[1].len, sig, &b.proofs[1],
                 "batch signature does not verify", __LINE__);
    nrm_batch_cache_stats(&hits, &misses);
    CHECK(misses == 5 && hits == 16);
    /* failures are not remembered: the same bad check misses again */
    s_expect_bad(pk, NRM_CTX_ACK, b.items[1].data, b.items[1].len, sig, &b.proofs[1],
                 "batch signature does not verify", __LINE__);
    nrm_batch_cache_stats(&hits, &misses);
    CHECK(misses == 6 && hits == 16);
    /* many batches: the cache stays bounded and correct (old entries go,
       checks of evicted batches verify again) */
    static s_batch_t many[8];
    for (int round = 0; round < 2; round++)
        for (int j = 0; j < 8; j++) {
            if (round == 0)
                s_make(&many[j], k, NRM_CTX_ACK, 2 + (size_t) j);
            for (size_t i = 0; i < many[j].n; i++)
                CHECK_RC(nrm_batch_verify(pk, NRM_CTX_ACK, many[j].items[i].data,
                                          many[j].items[i].len, many[j].sig, &many[j].proofs[i],
                                          &err), 0);
        }
}

/* Each thread has its own cache: another thread's verification is not a
   hit here, and both verify. */
typedef struct {
    const nrm_keys_t *k;
    s_batch_t *b;
    uint64_t hits, misses;
    int bad;
} s_thread_t;

static void *
s_thread(void *arg)
{
    s_thread_t *t = arg;
    nrm_err_t err = { 0, 0, "" };
    nrm_batch_cache_clear();
    for (int round = 0; round < 50; round++)
        for (size_t i = 0; i < t->b->n; i++)
            if (nrm_batch_verify(nrm_keys_sign_pk(t->k), NRM_CTX_RECEIPT, t->b->items[i].data,
                                 t->b->items[i].len, t->b->sig, &t->b->proofs[i], &err) != 0)
                t->bad++;
    nrm_batch_cache_stats(&t->hits, &t->misses);
    return NULL;
}

static void
t_threads(const nrm_keys_t *k)
{
    static s_batch_t b;
    s_make(&b, k, NRM_CTX_RECEIPT, 9);
    s_thread_t t[2] = { { k, &b, 0, 0, 0 }, { k, &b, 0, 0, 0 } };
    pthread_t id[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&id[i], NULL, s_thread, &t[i]) == 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(id[i], NULL);
        CHECK(t[i].bad == 0);
        CHECK(t[i].misses == 1 && t[i].hits == 50 * 9 - 1);
    }
}

/* Direct signatures are remembered too (size 1 and the hash of what they
   cover): the same check again is a hit; other bytes, another key or
   another signature are misses that fail. */
static void
t_cache_direct(const nrm_keys_t *k, const nrm_keys_t *other)
{
    uint8_t data[100], sig[NRM_SIG_BYTES];
    uint64_t hits, misses;
    nrm_err_t err = { 0, 0, "" };
    const uint8_t *pk = nrm_keys_sign_pk(k);
    nrm_random(data, sizeof data);
    CHECK_RC(nrm_sign(k, NRM_CTX_ENVELOPE, data, sizeof data, sig), 0);
    nrm_batch_cache_clear();
    CHECK_RC(nrm_batch_verify(pk, NRM_CTX_ENVELOPE, data, sizeof data, sig, NULL, &err), 0);
    CHECK_RC(nrm_batch_verify(pk, NRM_CTX_ENVELOPE, data, sizeof data, sig, NULL, &err), 0);
    nrm_batch_cache_stats(&hits, &misses);
    CHECK(hits == 1 && misses == 1);
    data[5] ^= 1;
    s_expect_bad(pk, NRM_CTX_ENVELOPE, data, sizeof data, sig, NULL, "signature does not verify",
                 __LINE__);
    data[5] ^= 1;
    s_expect_bad(pk, NRM_CTX_ACK, data, sizeof data, sig, NULL, "signature does not verify",
                 __LINE__);
    s_expect_bad(pk, NRM_CTX_ENVELOPE, data, sizeof data - 1, sig, NULL,
                 "signature does not verify", __LINE__);
    s_expect_bad(nrm_keys_sign_pk(other), NRM_CTX_ENVELOPE, data, sizeof data, sig, NULL,
                 "signature does not verify", __LINE__);
    sig[0] ^= 1;
    s_expect_bad(pk, NRM_CTX_ENVELOPE, data, sizeof data, sig, NULL, "signature does not verify",
                 __LINE__);
    nrm_batch_cache_stats(&hits, &misses);
    CHECK(hits == 1 && misses == 6);
}

static void
t_limits(const nrm_keys_t *k)
{
    nrm_batch_item_t items[1] = { { (const uint8_t *) "x", 1 } };
    nrm_batch_proof_t proofs[1];
    uint8_t sig[NRM_SIG_BYTES];
    nrm_err_t err = { 0, 0, "" };
    CHECK_RC(nrm_batch_sign(k, NRM_CTX_ACK, items, 0, sig, proofs, &err), NRM_EINVAL);
    CHECK_RC(nrm_batch_sign(k, NRM_CTX_ACK, items, NRM_BATCH_MAX + 1, sig, proofs, &err), NRM_EINVAL);
    /* RFC 9162 path lengths: every leaf of every size up to the cap */
    for (uint64_t n = 1; n <= NRM_BATCH_MAX; n++)
        for (uint64_t i = 0; i < n; i++) {
            size_t len = nrm_merkle_inclusion_len(i, n);
            CHECK(len <= NRM_BATCH_PATH_MAX);
            if (n == NRM_BATCH_MAX)
                CHECK(len == NRM_BATCH_PATH_MAX);
        }
    CHECK(nrm_merkle_inclusion_len(5, 5) == 0);
}

int
main(void)
{
    CHECK_RC(nrm_crypto_init(), 0);
    nrm_keys_t *k = nrm_keys_generate(NRM_KEYS_SIGN);
    nrm_keys_t *other = nrm_keys_generate(NRM_KEYS_SIGN);
    for (size_t n = 1; n <= 17; n++)
        t_every_item(k, n);
    t_every_item(k, NRM_BATCH_MAX);
    t_tampered(k, other);
    t_cache(k, other);
    t_cache_direct(k, other);
    t_threads(k);
    t_limits(k);
    nrm_keys_destroy(&k);
    nrm_keys_destroy(&other);
    TEST_DONE();
}
