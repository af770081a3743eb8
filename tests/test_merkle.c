/*  Unit tests of nrm_merkle against the published RFC 6962 test vectors.

    The leaves, roots, inclusion and consistency proofs below are those of
    transparency-dev/merkle, file proof/verify_test.go (tables `leaves`,
    `roots`, `inclusionProofs`, `consistencyProofs`; the same data as the
    Certificate Transparency C++ and Go test suites). The negative cases
    follow its corruptInclusionProof / corruptConsistencyProof and
    TestVerifyConsistency: wrong index or size, a flipped bit, a truncated,
    extended or prefixed proof, wrong or swapped roots. On top of the vectors,
    every proof for every pair of sizes up to 70 is generated, verified, and
    the roots compared with a direct implementation of the RFC's recursive
    definition of MTH. */
#include "nrm_merkle.h"
#include "nrm_crypto.h"
#include "nrm_util.h"
#include "testutil.h"

/* ---- the vectors (transparency-dev/merkle proof/verify_test.go) ---- */

static const char *const s_leaves_hex[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static const char *const s_roots_hex[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

#define EMPTY_TREE "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SOME_HASH  "abacaba000000000000000000000000000000000000000000060061e00123456"

typedef struct {
    uint64_t a, b;              /* inclusion: leaf (1-based), size; consistency: size1, size2 */
    size_t n;
    const char *proof[3];
} s_vector_t;

static const s_vector_t s_inclusion[] = {
    { 1, 8, 3, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                 "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                 "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
    { 6, 8, 3, { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                 "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                 "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
    { 3, 3, 1, { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" } },
    { 2, 5, 3, { "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                 "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                 "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
    { 1, 1, 0, { NULL } },
};

static const s_vector_t s_consistency[] = {
    { 1, 1, 0, { NULL } },
    { 1, 8, 3, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                 "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                 "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
    { 6, 8, 3, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                 "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                 "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
    { 2, 5, 2, { "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                 "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
    { 6, 7, 3, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                 "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                 "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
};

/* ---- an in-memory node source ---- */

#define MAXLEAVES 256
static nrm_hash_t s_leaf[MAXLEAVES];
static int s_calls;

static void
s_hex(const char *hex, uint8_t *out, size_t len)
{
    if (nrm_hex_decode(hex, out, len) != 0) {
        fprintf(stderr, "bad hex in a vector: %s\n", hex);
        exit(2);
    }
}

static int
s_node(void *ctx, unsigned level, uint64_t index, uint8_t out[NRM_HASH_BYTES], nrm_err_t *err)
{
    (void) ctx;
    (void) err;
    if (level == 0) {
        memcpy(out, s_leaf[index], NRM_HASH_BYTES);
        return 0;
    }
    uint8_t l[NRM_HASH_BYTES], r[NRM_HASH_BYTES];
    int rc = s_node(ctx, level - 1, 2 * index, l, err);
    if (rc == 0)
        rc = s_node(ctx, level - 1, 2 * index + 1, r, err);
    nrm_node_hash(l, r, out);
    return rc;
}

/* MTH(D[lo:hi]) exactly as RFC 6962 2.1 defines it, for cross-checking. */
static void
s_mth(uint64_t lo, uint64_t hi, uint8_t out[NRM_HASH_BYTES])
{
    uint64_t n = hi - lo;
    if (n == 1) {
        memcpy(out, s_leaf[lo], NRM_HASH_BYTES);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    uint8_t l[NRM_HASH_BYTES], r[NRM_HASH_BYTES];
    s_mth(lo, lo + k, l);
    s_mth(lo + k, hi, r);
    nrm_node_hash(l, r, out);
}

static void
s_load_vector_leaves(void)
{
    for (int i = 0; i < 8; i++) {
        uint8_t data[16];
        size_t len = strlen(s_leaves_hex[i]) / 2;
        s_hex(s_leaves_hex[i], data, len);
        nrm_leaf_hash(data, len, s_leaf[i]);
    }
}

/* ---- helpers for corrupted proofs ---- */

typedef struct {
    nrm_hash_t h[NRM_MERKLE_PATH_MAX];
    size_t n;
} s_path_t;

static void
s_path_from(s_path_t *p, const s_vector_t *v)
{
    p->n = v->n;
    for (size_t i = 0; i < v->n; i++)
        s_hex(v->proof[i], p->h[i], NRM_HASH_BYTES);
}

static void
s_path_append(s_path_t *p, const uint8_t *h)
{
    memcpy(p->h[p->n++], h, NRM_HASH_BYTES);
}

static void
s_path_prepend(s_path_t *p, const uint8_t *h)
{
    memmove(p->h[1], p->h[0], p->n * NRM_HASH_BYTES);
    memcpy(p->h[0], h, NRM_HASH_BYTES);
    p->n++;
}

/* Every corruption of an inclusion proof must be refused. */
static void
s_inclusion_probes(uint64_t index, uint64_t size, const s_path_t *good, const uint8_t *root,
                   const uint8_t *leaf)
{
    uint8_t empty[32], some[32], wrong_leaf[32], zero[32] = { 0 };
    s_hex(EMPTY_TREE, empty, 32);
    s_hex(SOME_HASH, some, 32);
    nrm_leaf_hash((const uint8_t *) "WrongLeaf", 9, wrong_leaf);
    nrm_err_t err;
    s_path_t p;
#define REFUSE(i_, s_, leaf_, path_, root_) do { \
        CHECK_RC(nrm_merkle_inclusion_verify((i_), (s_), (leaf_), (path_).h, (path_).n, (root_), &err), \
                 NRM_ECRYPTO); } while (0)
    REFUSE(index - 1, size, leaf, *good, root);
    REFUSE(index + 1, size, leaf, *good, root);
    REFUSE(index ^ 2, size, leaf, *good, root);
    REFUSE(index, size * 2, leaf, *good, root);
    REFUSE(index, size / 2, leaf, *good, root);
    REFUSE(index, size, wrong_leaf, *good, root);
    REFUSE(index, size, leaf, *good, empty);
    REFUSE(index, size, leaf, *good, some);
    p = *good; s_path_append(&p, zero); REFUSE(index, size, leaf, p, root);   /* trailing garbage */
    p = *good; s_path_append(&p, root); REFUSE(index, size, leaf, p, root);   /* trailing root */
    p = *good; s_path_prepend(&p, zero); REFUSE(index, size, leaf, p, root);  /* preceding garbage */
    p = *good; s_path_prepend(&p, root); REFUSE(index, size, leaf, p, root);  /* preceding root */
    for (size_t i = 0; i < good->n; i++) {                                     /* flipped bit */
        p = *good;
        p.h[i][0] ^= 8;
        REFUSE(index, size, leaf, p, root);
    }
    if (good->n > 0) {                                                         /* truncated */
        p = *good;
        p.n--;
        REFUSE(index, size, leaf, p, root);
    }
    if (good->n > 1) {                                                         /* inserted */
        p = *good;
        memmove(p.h[2], p.h[1], (p.n - 1) * NRM_HASH_BYTES);
        memcpy(p.h[1], some, NRM_HASH_BYTES);
        p.n++;
        REFUSE(index, size, leaf, p, root);
    }
#undef REFUSE
}

static void
s_consistency_probes(uint64_t s1, uint64_t s2, const uint8_t *r1, const uint8_t *r2,
                     const s_path_t *good)
{
    uint8_t wrong[32], zero[32] = { 0 };
    nrm_sha256((const uint8_t *) "WrongRoot", 9, wrong);
    nrm_err_t err;
    s_path_t p, none = { .n = 0 };
#define REFUSE(a_, b_, ra_, rb_, path_) do { \
        CHECK_RC(nrm_merkle_consistency_verify((a_), (b_), (ra_), (rb_), (path_).h, (path_).n, &err), \
                 NRM_ECRYPTO); } while (0)
    REFUSE(s1 - 1, s2, r1, r2, *good);
    REFUSE(s1 + 1, s2, r1, r2, *good);
    REFUSE(s1 ^ 2, s2, r1, r2, *good);
    REFUSE(s1, s2 * 2, r1, r2, *good);
    REFUSE(s1, s2 / 2, r1, r2, *good);
    REFUSE(s1, s2, wrong, r2, *good);
    REFUSE(s1, s2, r1, wrong, *good);
    REFUSE(s1, s2, r2, r1, *good);
    REFUSE(s1, s2, r1, r2, none);
    p = *good; s_path_append(&p, zero); REFUSE(s1, s2, r1, r2, p);
    p = *good; s_path_append(&p, r1); REFUSE(s1, s2, r1, r2, p);
    p = *good; s_path_append(&p, r2); REFUSE(s1, s2, r1, r2, p);
    p = *good; s_path_prepend(&p, zero); REFUSE(s1, s2, r1, r2, p);
    p = *good; s_path_prepend(&p, r1); REFUSE(s1, s2, r1, r2, p);
    p = *good; s_path_prepend(&p, r2); REFUSE(s1, s2, r1, r2, p);
    p = *good; s_path_prepend(&p, good->h[0]); REFUSE(s1, s2, r1, r2, p);
    if (good->n > 0) {
        p = *good;
        p.n--;
        REFUSE(s1, s2, r1, r2, p);
    }
    for (size_t i = 0; i < good->n; i++) {
        p = *good;
        p.h[i][0] ^= 16;
        REFUSE(s1, s2, r1, r2, p);
    }
#undef REFUSE
}

/* ---- tests ---- */

static void
test_roots(void)
{
    uint8_t root[32], want[32];
    nrm_err_t err;
    s_load_vector_leaves();
    for (uint64_t n = 1; n <= 8; n++) {
        s_hex(s_roots_hex[n - 1], want, 32);
        CHECK_RC(nrm_merkle_root(s_node, NULL, n, root, &err), 0);
        CHECK(memcmp(root, want, 32) == 0);
        nrm_merkle_range_t r;
        nrm_merkle_range_init(&r);
        for (uint64_t i = 0; i < n; i++)
            nrm_merkle_range_append(&r, s_leaf[i], NULL, NULL);
        nrm_merkle_range_root(&r, root);
        CHECK(memcmp(root, want, 32) == 0);
    }
    s_hex(EMPTY_TREE, want, 32);
    CHECK_RC(nrm_merkle_root(s_node, NULL, 0, root, &err), 0);
    CHECK(memcmp(root, want, 32) == 0);
}

static void
test_inclusion_vectors(void)
{
    nrm_err_t err;
    s_load_vector_leaves();
    for (size_t v = 0; v < sizeof s_inclusion / sizeof s_inclusion[0]; v++) {
        const s_vector_t *vec = &s_inclusion[v];
        uint64_t index = vec->a - 1, size = vec->b;
        s_path_t want, got;
        uint8_t root[32];
        s_path_from(&want, vec);
        s_hex(s_roots_hex[size - 1], root, 32);
        CHECK_RC(nrm_merkle_inclusion_proof(s_node, NULL, index, size, got.h, &got.n, &err), 0);
        CHECK(got.n == want.n);
        CHECK(memcmp(got.h, want.h, want.n * 32) == 0);
        CHECK_RC(nrm_merkle_inclusion_verify(index, size, s_leaf[index], want.h, want.n, root, &err), 0);
        s_inclusion_probes(index, size, &want, root, s_leaf[index]);
    }
    /* TestVerifyInclusion: sizes and indices that can never verify. */
    const uint64_t bad[4][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 2, 1 } };
    uint8_t some[32], empty[32];
    s_hex(SOME_HASH, some, 32);
    s_hex(EMPTY_TREE, empty, 32);
    for (int i = 0; i < 4; i++)
        CHECK_RC(nrm_merkle_inclusion_verify(bad[i][0], bad[i][1], some, NULL, 0, empty, &err),
                 NRM_ECRYPTO);
    /* A leaf outside the tree has no proof. */
    s_path_t p;
    CHECK_RC(nrm_merkle_inclusion_proof(s_node, NULL, 8, 8, p.h, &p.n, &err), NRM_EINVAL);
    /* A one-leaf tree: the root is the leaf, the proof is empty. */
    uint8_t h[32];
    nrm_leaf_hash((const uint8_t *) "data", 4, h);
    CHECK_RC(nrm_merkle_inclusion_verify(0, 1, h, NULL, 0, h, &err), 0);
    CHECK_RC(nrm_merkle_inclusion_verify(0, 1, h, NULL, 0, empty, &err), NRM_ECRYPTO);
}

static void
test_consistency_vectors(void)
{
    nrm_err_t err;
    s_load_vector_leaves();
    for (size_t v = 0; v < sizeof s_consistency / sizeof s_consistency[0]; v++) {
        const s_vector_t *vec = &s_consistency[v];
        s_path_t want, got;
        uint8_t r1[32], r2[32];
        s_path_from(&want, vec);
        s_hex(s_roots_hex[vec->a - 1], r1, 32);
        s_hex(s_roots_hex[vec->b - 1], r2, 32);
        CHECK_RC(nrm_merkle_consistency_proof(s_node, NULL, vec->a, vec->b, got.h, &got.n, &err), 0);
        CHECK(got.n == want.n);
        CHECK(memcmp(got.h, want.h, want.n * 32) == 0);
        CHECK_RC(nrm_merkle_consistency_verify(vec->a, vec->b, r1, r2, want.h, want.n, &err), 0);
        if (want.n > 0)
            s_consistency_probes(vec->a, vec->b, r1, r2, &want);
    }
    /* TestVerifyConsistency's table of edge cases. */
    uint8_t c1[32], c2[32], empty[32];
    nrm_sha256((const uint8_t *) "don't care 1", 12, c1);
    nrm_sha256((const uint8_t *) "don't care 2", 12, c2);
    s_hex(EMPTY_TREE, empty, 32);
    s_path_t none = { .n = 0 }, one = { .n = 1 };
    memcpy(one.h[0], empty, 32);
    const struct { uint64_t s1, s2; const uint8_t *r1, *r2; const s_path_t *p; int want; } t[] = {
        { 0, 0, c1, c2, &none, NRM_ECRYPTO },
        { 1, 1, c1, c2, &none, NRM_ECRYPTO },
        { 0, 0, c1, c1, &none, 0 },
        { 0, 1, c1, c2, &none, 0 },
        { 1, 1, c2, c2, &none, 0 },
        { 1, 0, c1, c2, &none, NRM_ECRYPTO },
        { 2, 1, c1, c2, &none, NRM_ECRYPTO },
        { 1, 2, c1, c2, &none, NRM_ECRYPTO },
        { 0, 0, empty, c2, &none, NRM_ECRYPTO },
        { 1, 1, empty, c2, &none, NRM_ECRYPTO },
        { 0, 0, empty, empty, &one, NRM_ECRYPTO },
        { 0, 1, empty, empty, &one, NRM_ECRYPTO },
        { 1, 1, empty, empty, &one, NRM_ECRYPTO },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        CHECK_RC(nrm_merkle_consistency_verify(t[i].s1, t[i].s2, t[i].r1, t[i].r2, t[i].p->h,
                                               t[i].p->n, &err), t[i].want);
    s_path_t p;
    CHECK_RC(nrm_merkle_consistency_proof(s_node, NULL, 5, 4, p.h, &p.n, &err), NRM_EINVAL);
}

/* Every pair of sizes up to 70: generated proofs verify, roots agree with
   the RFC's definition, and a compact range reports the subtrees it
   completes. */
static void
test_exhaustive(void)
{
    enum { N = 70 };
    nrm_hash_t roots[N + 1];
    nrm_err_t err;
    for (int i = 0; i < N; i++) {
        uint8_t data[4] = { (uint8_t) i, 0xa5, (uint8_t) (i * 7), 1 };
        nrm_leaf_hash(data, sizeof data, s_leaf[i]);
    }
    nrm_merkle_range_t r;
    nrm_merkle_range_init(&r);
    int bad_roots = 0, bad_incl = 0, bad_cons = 0, bad_completed = 0;
    for (uint64_t n = 1; n <= N; n++) {
        uint8_t want[32], got[32];
        nrm_hash_t completed[64];
        unsigned nc = 0;
        s_mth(0, n, want);
        if (nrm_merkle_root(s_node, NULL, n, got, &err) != 0 || memcmp(got, want, 32) != 0)
            bad_roots++;
        nrm_merkle_range_append(&r, s_leaf[n - 1], completed, &nc);
        nrm_merkle_range_root(&r, got);
        if (memcmp(got, want, 32) != 0)
            bad_roots++;
        if (nc != (unsigned) __builtin_ctzll(n))
            bad_completed++;
        for (unsigned l = 1; l <= nc; l++) {
            uint8_t node[32];
            (void) s_node(NULL, l, (n >> l) - 1, node, &err);
            if (memcmp(node, completed[l - 1], 32) != 0)
                bad_completed++;
        }
        memcpy(roots[n], want, 32);
        for (uint64_t i = 0; i < n; i++) {
            s_path_t p;
            if (nrm_merkle_inclusion_proof(s_node, NULL, i, n, p.h, &p.n, &err) != 0
                || nrm_merkle_inclusion_verify(i, n, s_leaf[i], p.h, p.n, want, &err) != 0
                || (i + 1 < n && nrm_merkle_inclusion_verify(i + 1, n, s_leaf[i], p.h, p.n, want,
                                                             &err) == 0))
                bad_incl++;
        }
    }
    for (uint64_t a = 1; a <= N; a++)
        for (uint64_t b = a; b <= N; b++) {
            s_path_t p;
            if (nrm_merkle_consistency_proof(s_node, NULL, a, b, p.h, &p.n, &err) != 0
                || nrm_merkle_consistency_verify(a, b, roots[a], roots[b], p.h, p.n, &err) != 0)
                bad_cons++;
            /* A forked old tree (a different last leaf) never verifies. */
            if (a < b) {
                uint8_t saved[32], forked[32];
                memcpy(saved, s_leaf[a - 1], 32);
                s_leaf[a - 1][3] ^= 1;
                s_mth(0, a, forked);
                memcpy(s_leaf[a - 1], saved, 32);
                if (nrm_merkle_consistency_verify(a, b, forked, roots[b], p.h, p.n, &err) == 0)
                    bad_cons++;
            }
        }
    CHECK(bad_roots == 0);
    CHECK(bad_incl == 0);
    CHECK(bad_cons == 0);
    CHECK(bad_completed == 0);
}

/* The source as the store sees it: one call per perfect subtree asked. */
static int
s_counting_node(void *ctx, unsigned level, uint64_t index, uint8_t out[NRM_HASH_BYTES],
                nrm_err_t *err)
{
    s_calls++;
    return s_node(ctx, level, index, out, err);
}

/* Proofs cost O(log n) reads of stored subtrees, not O(n). */
static void
test_cost(void)
{
    nrm_err_t err;
    s_path_t p;
    for (int i = 0; i < MAXLEAVES; i++)
        nrm_leaf_hash((const uint8_t *) &i, sizeof i, s_leaf[i]);
    for (uint64_t n = 2; n <= MAXLEAVES; n++) {
        int worst_incl = 0, worst_cons = 0, log2n = 64 - __builtin_clzll(n - 1);
        for (uint64_t i = 0; i < n; i++) {
            s_calls = 0;
            if (nrm_merkle_inclusion_proof(s_counting_node, NULL, i, n, p.h, &p.n, &err) != 0)
                worst_incl = 1000;
            worst_incl = s_calls > worst_incl ? s_calls : worst_incl;
            s_calls = 0;
            if (i > 0 && nrm_merkle_consistency_proof(s_counting_node, NULL, i, n, p.h, &p.n, &err) != 0)
                worst_cons = 1000;
            worst_cons = s_calls > worst_cons ? s_calls : worst_cons;
        }
        CHECK(worst_incl <= 2 * log2n);
        CHECK(worst_cons <= 3 * log2n);
    }
}

int
main(void)
{
    if (nrm_crypto_init() != 0)
        return 2;
    test_roots();
    test_inclusion_vectors();
    test_consistency_vectors();
    test_exhaustive();
    test_cost();
    TEST_DONE();
}
