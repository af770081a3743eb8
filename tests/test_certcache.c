/*  Unit tests of the agents' cache of verified certificates
    (agent_verify.h): a certificate verified once is served from the cache
    only when every signed byte and the administrators it was checked
    against are the same; a rotated, re-issued or tampered certificate, or
    another genesis, is verified afresh; the cache stays within its slots. */
#include "agent_verify.h"
#include "nrm_registry.h"
#include "testkeys.h"
#include "testutil.h"

#define N 3

static nrm_keys_t *s_admins[N], *s_stranger;

static void
s_genesis(nrm_genesis_t *g, uint32_t quorum)
{
    t_genesis(g, s_admins, N, quorum);
}

/* A certificate of org_id with fresh keys, issued by admin 0 and cosigned
   by admin 1 (the quorum of 2). */
typedef struct {
    nrm_cert_t  cert;
    uint8_t    *body;
    size_t      len;
    uint8_t     sig[NRM_SIG_BYTES];
    nrm_cosig_t cosig;
} s_cert_t;

static void
s_make(s_cert_t *c, const char *org_id, uint64_t serial)
{
    memset(c, 0, sizeof *c);
    t_cert(nrm_keys_sign_pk(s_admins[0]), org_id, serial, &c->cert, &c->body, &c->len);
    if (nrm_sign(s_admins[0], NRM_CTX_CERT, c->body, c->len, c->sig) != 0
        || nrm_sign(s_admins[1], NRM_CTX_CERT, c->body, c->len, c->cosig.sig) != 0)
        exit(2);
    memcpy(c->cosig.signer_pk, nrm_keys_sign_pk(s_admins[1]), 32);
}

static nrm_signed_view_t
s_view(const s_cert_t *c)
{
    nrm_signed_view_t v = { { c->body, c->len }, { c->sig, NRM_SIG_BYTES }, 1, &c->cosig };
    return v;
}

int
main(void)
{
    if (nrm_crypto_init() != 0)
        return 2;
    for (int i = 0; i < N; i++)
        s_admins[i] = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE);
    s_stranger = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE);
    nrm_genesis_t g;
    s_genesis(&g, 2);
    nrm_err_t err;
    nrm_cert_t out;
    agent_certcache_t *cache = agent_certcache_new(64);
    CHECK(cache != NULL);

    /* Verified once, then served from the cache with the same fields. */
    s_cert_t a;
    s_make(&a, "police", 3);
    nrm_signed_view_t va = s_view(&a);
    CHECK_RC(agent_cert_check_cached(cache, &va, &g, &out, &err), 0);
    CHECK(agent_certcache_stats(cache).misses == 1 && agent_certcache_stats(cache).hits == 0);
    memset(&out, 0, sizeof out);
    CHECK_RC(agent_cert_check_cached(cache, &va, &g, &out, &err), 0);
    CHECK(agent_certcache_stats(cache).hits == 1);
    CHECK(memcmp(&out, &a.cert, sizeof out) == 0 || (strcmp(out.org_id, "police") == 0
          && out.serial == 3 && memcmp(out.sign_pk, a.cert.sign_pk, 32) == 0));

    /* A rotated certificate of the same organisation: verified, and its
       own keys come back, not the cached ones. */
    s_cert_t b;
    s_make(&b, "police", 4);
    nrm_signed_view_t vb = s_view(&b);
    CHECK_RC(agent_cert_check_cached(cache, &vb, &g, &out, &err), 0);
    CHECK(agent_certcache_stats(cache).misses == 2);
    CHECK(out.serial == 4 && memcmp(out.sign_pk, b.cert.sign_pk, 32) == 0);

    /* The cached body with a bad issuer signature: refused, not served. */
    s_cert_t t = a;
    t.sig[7] ^= 1;
    nrm_signed_view_t vt = s_view(&t);
    CHECK(agent_cert_check_cached(cache, &vt, &g, &out, &err) != 0);
    CHECK_STR_HAS(err.msg, "does not verify");
    /* ... with its cosignature replaced by a stranger's: below the quorum. */
    t = a;
    memcpy(t.cosig.signer_pk, nrm_keys_sign_pk(s_stranger), 32);
    if (nrm_sign(s_stranger, NRM_CTX_CERT, t.body, t.len, t.cosig.sig) != 0)
        return 2;
    vt = s_view(&t);
    CHECK(agent_cert_check_cached(cache, &vt, &g, &out, &err) != 0);
    CHECK_STR_HAS(err.msg, "1 of the 2");
    /* ... without its cosignature. */
    vt = s_view(&a);
    vt.ncosigs = 0;
    CHECK(agent_cert_check_cached(cache, &vt, &g, &out, &err) != 0);
    /* A changed body under the cached signatures (a later expiry). */
    t = a;
    nrm_cert_t longer = a.cert;
    longer.not_after_ms = 9999;
    t.body = NULL;
    if (nrm_cert_encode(&longer, &t.body, &t.len, NULL) != 0)
        return 2;
    vt = s_view(&t);
    CHECK(agent_cert_check_cached(cache, &vt, &g, &out, &err) != 0);
    free(t.body);
    /* Another network's administrators: a's issuer is not among them. */
    nrm_genesis_t other = g;
    memcpy(other.admin_sign_pks[0], nrm_keys_sign_pk(s_stranger), 32);
    CHECK(agent_cert_check_cached(cache, &va, &other, &out, &err) != 0);
    CHECK_STR_HAS(err.msg, "not issued by an administrator");
    /* A higher quorum: 2 signatures no longer suffice. */
    other = g;
    other.quorum = 3;
    CHECK(agent_cert_check_cached(cache, &va, &other, &out, &err) != 0);
    /* And the good one is still served. */
    uint64_t hits = agent_certcache_stats(cache).hits;
    CHECK_RC(agent_cert_check_cached(cache, &va, &g, &out, &err), 0);
    CHECK(agent_certcache_stats(cache).hits == hits + 1);

    /* The stored form (the directory's Signed{Certificate} bytes). */
    uint8_t *sb = NULL;
    size_t slen = 0;
    CHECK_RC(nrm_signed_encode_cosigs(a.body, a.len, a.sig, &a.cosig, 1, &sb, &slen, &err), 0);
    uint64_t misses = agent_certcache_stats(cache).misses;
    CHECK_RC(agent_cert_verify_signed(cache, sb, slen, &g, &out, &err), 0);
    CHECK_RC(agent_cert_verify_signed(cache, sb, slen, &g, &out, &err), 0);
    CHECK(agent_certcache_stats(cache).misses == misses + 1);
    CHECK(out.serial == 3 && strcmp(out.org_id, "police") == 0);
    /* Any byte changed (every 7th is tried): verified again, and refused. */
    size_t flips = 0, refused = 0;
    for (size_t i = 0; i < slen; i += 7) {
        sb[i] ^= 0x20;
        misses = agent_certcache_stats(cache).misses;
        int rc = agent_cert_verify_signed(cache, sb, slen, &g, &out, &err);
        flips++;
        refused += rc != 0;
        CHECK(agent_certcache_stats(cache).misses == misses + 1);
        sb[i] ^= 0x20;
    }
    CHECK(refused == flips);
    free(sb);

    /* Bounded: a cache of 4 slots (one set) keeps the 4 used last. */
    agent_certcache_t *small = agent_certcache_new(4);
    s_cert_t many[6];
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "org%d", i);
        s_make(&many[i], id, 1);
        nrm_signed_view_t v = s_view(&many[i]);
        CHECK_RC(agent_cert_check_cached(small, &v, &g, &out, &err), 0);
    }
    CHECK(agent_certcache_stats(small).misses == 6);
    nrm_signed_view_t v5 = s_view(&many[5]), v0 = s_view(&many[0]);
    CHECK_RC(agent_cert_check_cached(small, &v5, &g, &out, &err), 0);
    CHECK(agent_certcache_stats(small).hits == 1);
    CHECK_RC(agent_cert_check_cached(small, &v0, &g, &out, &err), 0);   /* evicted */
    CHECK(agent_certcache_stats(small).misses == 7 && strcmp(out.org_id, "org0") == 0);
    for (int i = 0; i < 6; i++)
        free(many[i].body);
    agent_certcache_destroy(&small);

    /* Without a cache: verified every time, same answers. */
    CHECK_RC(agent_cert_check_cached(NULL, &va, &g, &out, &err), 0);
    CHECK(agent_certcache_stats(NULL).hits == 0);

    agent_certcache_destroy(&cache);
    agent_certcache_destroy(&cache);           /* safe twice */
    CHECK(cache == NULL);
    free(a.body);
    free(b.body);
    for (int i = 0; i < N; i++)
        nrm_keys_destroy(&s_admins[i]);
    nrm_keys_destroy(&s_stranger);
    TEST_DONE();
}
