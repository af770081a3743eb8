/*  Unit tests of nrm_crypto: signatures with contexts, sealed boxes, key
    files, RFC 6962 hashes, Z85. */
#include "nrm_crypto.h"
#include "nrm_util.h"
#include "testutil.h"
#include <sys/stat.h>

static void
test_sign(void)
{
    nrm_keys_t *k = nrm_keys_generate(NRM_KEYS_ALL);
    uint8_t sig[NRM_SIG_BYTES], msg[100];
    nrm_random(msg, sizeof msg);
    CHECK_RC(nrm_sign(k, NRM_CTX_ENVELOPE, msg, sizeof msg, sig), 0);
    CHECK_RC(nrm_verify(nrm_keys_sign_pk(k), NRM_CTX_ENVELOPE, msg, sizeof msg, sig), 0);
    /* The same bytes signed for one purpose never verify for another. */
    CHECK_RC(nrm_verify(nrm_keys_sign_pk(k), NRM_CTX_ACK, msg, sizeof msg, sig), NRM_ECRYPTO);
    msg[5] ^= 1;
    CHECK_RC(nrm_verify(nrm_keys_sign_pk(k), NRM_CTX_ENVELOPE, msg, sizeof msg, sig), NRM_ECRYPTO);
    msg[5] ^= 1;
    nrm_keys_t *other = nrm_keys_generate(NRM_KEYS_SIGN);
    CHECK_RC(nrm_verify(nrm_keys_sign_pk(other), NRM_CTX_ENVELOPE, msg, sizeof msg, sig), NRM_ECRYPTO);
    /* Large data takes the heap path. */
    size_t big = 100000;
    uint8_t *data = calloc(1, big);
    CHECK_RC(nrm_sign(k, NRM_CTX_ENVELOPE, data, big, sig), 0);
    CHECK_RC(nrm_verify(nrm_keys_sign_pk(k), NRM_CTX_ENVELOPE, data, big, sig), 0);
    free(data);
    /* A key set without a signing key cannot sign. */
    nrm_keys_t *curve = nrm_keys_generate(NRM_KEYS_CURVE);
    CHECK(nrm_keys_sign_pk(curve) == NULL);
    CHECK(nrm_sign(curve, NRM_CTX_ACK, msg, 1, sig) != 0);
    nrm_keys_destroy(&curve);
    nrm_keys_destroy(&other);
    nrm_keys_destroy(&k);
    nrm_keys_destroy(&k);       /* safe twice */
    CHECK(k == NULL);
}

/* Format 1, libsodium crypto_box_seal: what older agents send and what
   inboxes hold from before format 2. It still opens. */
static void
test_seal1(void)
{
    nrm_keys_t *bob = nrm_keys_generate(NRM_KEYS_ALL), *eve = nrm_keys_generate(NRM_KEYS_ALL);
    const char *plain = "{\"prs_name\":\"test\"}";
    size_t n = strlen(plain), plen = 0;
    uint8_t sealed[256], opened[256];
    nrm_err_t err;
    CHECK_RC(nrm_seal1(nrm_keys_box_pk(bob), (const uint8_t *) plain, n, sealed), 0);
    CHECK(memmem(sealed, n + NRM_SEAL1_OVERHEAD, "prs_name", 8) == NULL);
    CHECK_RC(nrm_seal_plain_len(sealed, n + NRM_SEAL1_OVERHEAD, &plen, &err), 0);
    CHECK(plen == n);
    CHECK_RC(nrm_seal_open(bob, NULL, sealed, n + NRM_SEAL1_OVERHEAD, opened, &err), 0);
    CHECK(memcmp(opened, plain, n) == 0);
    CHECK_RC(nrm_seal_open(eve, NULL, sealed, n + NRM_SEAL1_OVERHEAD, opened, &err), NRM_ECRYPTO);
    CHECK_STR_HAS(err.msg, "format 1) does not open");
    sealed[40] ^= 0x01;
    CHECK_RC(nrm_seal_open(bob, NULL, sealed, n + NRM_SEAL1_OVERHEAD, opened, &err), NRM_ECRYPTO);
    CHECK_RC(nrm_seal_open(bob, NULL, sealed, 10, opened, &err), NRM_ECRYPTO);
    CHECK_STR_HAS(err.msg, "truncated: 10 bytes");
    /* The two formats are told apart by bit 7 of byte 31: a format 1 body
       begins with a canonical X25519 key, which never has it set. */
    for (int i = 0; i < 200; i++) {
        CHECK_RC(nrm_seal1(nrm_keys_box_pk(bob), (const uint8_t *) plain, n, sealed), 0);
        CHECK((sealed[31] & 0x80) == 0);
    }
    nrm_keys_destroy(&bob);
    nrm_keys_destroy(&eve);
}

/* Format 2: one ephemeral key for a batch to one recipient. */
static void
test_seal2(void)
{
    nrm_keys_t *bob = nrm_keys_generate(NRM_KEYS_ALL), *eve = nrm_keys_generate(NRM_KEYS_ALL);
    nrm_sealcache_t *cache = nrm_sealcache_new(4);
    nrm_sealer_t *sealer = NULL;
    enum { N = 300, LEN = 100 };
    uint8_t (*sealed)[LEN + NRM_SEAL2_OVERHEAD] = calloc(N, sizeof *sealed);
    uint8_t plain[LEN], opened[LEN + 1];
    uint64_t hits, misses;
    size_t plen = 0;
    nrm_err_t err;

    CHECK(cache != NULL && sealed != NULL);
    CHECK(nrm_sealer_new(0) == NULL);
    sealer = nrm_sealer_new(2);
    CHECK(sealer != NULL);
    /* round trip of a batch of many, each under its own counter */
    for (int i = 0; i < N; i++) {
        memset(plain, 'a' + i % 26, LEN);
        CHECK_RC(nrm_sealer_seal(sealer, nrm_keys_box_pk(bob), plain, LEN, sealed[i]), 0);
        CHECK((sealed[i][31] & 0x80) != 0 && sealed[i][32] == NRM_SEAL2_VERSION);
        CHECK(sealed[i][33] == (uint8_t) (i >> 24) && sealed[i][36] == (uint8_t) i);
        CHECK(memmem(sealed[i], sizeof sealed[i], plain, 8) == NULL);
    }
    /* one ephemeral key for the whole batch */
    CHECK(memcmp(sealed[0], sealed[N - 1], 32) == 0);
    CHECK(memcmp(sealed[0] + 37, sealed[1] + 37, 16) != 0);
    CHECK_RC(nrm_seal_plain_len(sealed[0], sizeof sealed[0], &plen, &err), 0);
    CHECK(plen == LEN);
    for (int i = 0; i < N; i++) {
        memset(plain, 'a' + i % 26, LEN);
        CHECK_RC(nrm_seal_open(bob, cache, sealed[i], sizeof sealed[i], opened, &err), 0);
        CHECK(memcmp(opened, plain, LEN) == 0);
    }
    /* the recipient made one shared key for the batch */
    nrm_sealcache_stats(cache, &hits, &misses);
    CHECK(misses == 1 && hits == N - 1);
    /* without a cache it opens too */
    CHECK_RC(nrm_seal_open(bob, NULL, sealed[7], sizeof sealed[7], opened, &err), 0);

    /* another recipient's key: the tag does not verify */
    CHECK_RC(nrm_seal_open(eve, cache, sealed[0], sizeof sealed[0], opened, &err), NRM_ECRYPTO);
    CHECK_STR_HAS(err.msg, "format 2) does not open with this box key");
    nrm_sealcache_stats(cache, &hits, &misses);
    CHECK(misses == 2);

    /* any altered byte: ephemeral key, counter, tag, ciphertext */
    static const size_t at[] = { 0, 17, 30, 33, 36, 37, 52, 53, LEN + NRM_SEAL2_OVERHEAD - 1 };
    for (size_t j = 0; j < sizeof at / sizeof at[0]; j++) {
        uint8_t copy[LEN + NRM_SEAL2_OVERHEAD];
        memcpy(copy, sealed[3], sizeof copy);
        copy[at[j]] ^= 0x04;
        CHECK_RC(nrm_seal_open(bob, cache, copy, sizeof copy, opened, &err), NRM_ECRYPTO);
        CHECK_STR_HAS(err.msg, "ephemeral key, counter or ciphertext was altered");
    }
    /* a counter swapped with another message's: the nonce differs */
    {
        uint8_t copy[LEN + NRM_SEAL2_OVERHEAD];
        memcpy(copy, sealed[3], sizeof copy);
        memcpy(copy + 33, sealed[4] + 33, 4);
        CHECK_RC(nrm_seal_open(bob, cache, copy, sizeof copy, opened, &err), NRM_ECRYPTO);
    }
    /* another batch's ephemeral key on this body */
    {
        nrm_sealer_t *other = nrm_sealer_new(1);
        uint8_t copy[LEN + NRM_SEAL2_OVERHEAD], theirs[LEN + NRM_SEAL2_OVERHEAD];
        CHECK_RC(nrm_sealer_seal(other, nrm_keys_box_pk(bob), plain, LEN, theirs), 0);
        CHECK(memcmp(theirs, sealed[0], 32) != 0);
        memcpy(copy, sealed[3], sizeof copy);
        memcpy(copy, theirs, 32);
        CHECK_RC(nrm_seal_open(bob, cache, copy, sizeof copy, opened, &err), NRM_ECRYPTO);
        /* a second recipient in the batch is over this sealer's limit */
        CHECK_RC(nrm_sealer_seal(other, nrm_keys_box_pk(eve), plain, LEN, theirs), NRM_ETOOBIG);
        nrm_sealer_destroy(&other);
        nrm_sealer_destroy(&other);         /* safe twice */
        CHECK(other == NULL);
    }
    /* the format flag cleared: read as format 1, which does not open */
    {
        uint8_t copy[LEN + NRM_SEAL2_OVERHEAD];
        memcpy(copy, sealed[3], sizeof copy);
        copy[31] &= 0x7f;
        CHECK_RC(nrm_seal_open(bob, cache, copy, sizeof copy, opened, &err), NRM_ECRYPTO);
        CHECK_STR_HAS(err.msg, "format 1) does not open");
    }
    /* an unknown version byte */
    {
        uint8_t copy[LEN + NRM_SEAL2_OVERHEAD];
        memcpy(copy, sealed[3], sizeof copy);
        copy[32] = 3;
        CHECK_RC(nrm_seal_plain_len(copy, sizeof copy, &plen, &err), NRM_ECRYPTO);
        CHECK_STR_HAS(err.msg, "format version 3, which this agent does not know");
        CHECK_RC(nrm_seal_open(bob, cache, copy, sizeof copy, opened, &err), NRM_ECRYPTO);
        CHECK_STR_HAS(err.msg, "format version 3");
    }
    /* truncated: below the format 2 header, below any format, empty */
    CHECK_RC(nrm_seal_open(bob, cache, sealed[3], NRM_SEAL2_OVERHEAD - 1, opened, &err),
             NRM_ECRYPTO);
    CHECK_STR_HAS(err.msg, "truncated: 52 bytes, a format 2 body has at least 53");
    CHECK_RC(nrm_seal_open(bob, cache, sealed[3], 40, opened, &err), NRM_ECRYPTO);
    CHECK_STR_HAS(err.msg, "truncated: 40 bytes");
    CHECK_RC(nrm_seal_open(bob, cache, sealed[3], 0, opened, &err), NRM_ECRYPTO);
    CHECK_RC(nrm_seal_open(bob, cache, sealed[3], sizeof sealed[3] - 1, opened, &err),
             NRM_ECRYPTO);
    /* an empty plaintext */
    CHECK_RC(nrm_sealer_seal(sealer, nrm_keys_box_pk(bob), plain, 0, sealed[0]), 0);
    CHECK_RC(nrm_seal_open(bob, cache, sealed[0], NRM_SEAL2_OVERHEAD, opened, &err), 0);
    /* a small-order ephemeral key (zero) is refused, not computed with */
    {
        uint8_t copy[LEN + NRM_SEAL2_OVERHEAD];
        memcpy(copy, sealed[3], sizeof copy);
        memset(copy, 0, 32);
        copy[31] = 0x80;
        CHECK_RC(nrm_seal_open(bob, cache, copy, sizeof copy, opened, &err), NRM_ECRYPTO);
        CHECK_STR_HAS(err.msg, "small order");
    }
    /* a second recipient in the batch gets its own ephemeral key; after
       the end of the batch, every recipient gets a new one */
    {
        uint8_t a[8 + NRM_SEAL2_OVERHEAD], b[8 + NRM_SEAL2_OVERHEAD], c[8 + NRM_SEAL2_OVERHEAD];
        CHECK_RC(nrm_sealer_seal(sealer, nrm_keys_box_pk(eve), plain, 8, a), 0);
        CHECK(memcmp(a, sealed[0], 32) != 0 && a[33] == 0 && a[36] == 0);
        CHECK_RC(nrm_seal_open(eve, cache, a, sizeof a, opened, &err), 0);
        CHECK_RC(nrm_seal_open(bob, cache, a, sizeof a, opened, &err), NRM_ECRYPTO);
        nrm_sealer_end_batch(sealer);
        CHECK_RC(nrm_sealer_seal(sealer, nrm_keys_box_pk(bob), plain, 8, b), 0);
        CHECK_RC(nrm_sealer_seal(sealer, nrm_keys_box_pk(eve), plain, 8, c), 0);
        CHECK(memcmp(b, sealed[0], 32) != 0 && memcmp(c, a, 32) != 0 && b[36] == 0);
        CHECK_RC(nrm_seal_open(bob, cache, b, sizeof b, opened, &err), 0);
        CHECK(memcmp(opened, plain, 8) == 0);
    }
    /* a small-order recipient key is refused, and takes no place */
    {
        uint8_t zero[NRM_PK_BYTES] = { 0 }, out[8 + NRM_SEAL2_OVERHEAD];
        nrm_sealer_end_batch(sealer);
        CHECK_RC(nrm_sealer_seal(sealer, zero, plain, 8, out), NRM_ECRYPTO);
        CHECK_RC(nrm_sealer_seal(sealer, nrm_keys_box_pk(bob), plain, 8, out), 0);
        CHECK_RC(nrm_sealer_seal(sealer, nrm_keys_box_pk(eve), plain, 8, out), 0);
    }
    /* a key set without a box key opens nothing */
    {
        nrm_keys_t *sign = nrm_keys_generate(NRM_KEYS_SIGN);
        CHECK_RC(nrm_seal_open(sign, cache, sealed[3], sizeof sealed[3], opened, &err),
                 NRM_ECRYPTO);
        CHECK_STR_HAS(err.msg, "no box key");
        nrm_keys_destroy(&sign);
    }
    nrm_sealer_destroy(&sealer);
    nrm_sealcache_destroy(&cache);
    nrm_sealcache_destroy(&cache);          /* safe twice */
    CHECK(cache == NULL);
    free(sealed);
    nrm_keys_destroy(&bob);
    nrm_keys_destroy(&eve);
}

/* The recipient's cache is bounded: with more batches than slots the
   least recently used key goes (and is computed again when needed);
   every batch still opens, and one recipient's entries never open
   another's bodies. */
static void
test_sealcache(void)
{
    nrm_keys_t *bob = nrm_keys_generate(NRM_KEYS_ALL), *carol = nrm_keys_generate(NRM_KEYS_ALL);
    nrm_sealcache_t *cache = nrm_sealcache_new(2);
    uint8_t sealed[5][8 + NRM_SEAL2_OVERHEAD], opened[8];
    uint64_t hits, misses;
    nrm_err_t err;

    CHECK(nrm_sealcache_new(0) == NULL);
    for (int i = 0; i < 5; i++) {
        nrm_sealer_t *s = nrm_sealer_new(1);
        CHECK_RC(nrm_sealer_seal(s, nrm_keys_box_pk(i == 4 ? carol : bob),
                                 (const uint8_t *) "12345678", 8, sealed[i]), 0);
        nrm_sealer_destroy(&s);
    }
    /* batches 0, 1 fill the cache; 0 is used again; 2 evicts 1 */
    CHECK_RC(nrm_seal_open(bob, cache, sealed[0], sizeof sealed[0], opened, &err), 0);
    CHECK_RC(nrm_seal_open(bob, cache, sealed[1], sizeof sealed[1], opened, &err), 0);
    CHECK_RC(nrm_seal_open(bob, cache, sealed[0], sizeof sealed[0], opened, &err), 0);
    CHECK_RC(nrm_seal_open(bob, cache, sealed[2], sizeof sealed[2], opened, &err), 0);
    nrm_sealcache_stats(cache, &hits, &misses);
    CHECK(hits == 1 && misses == 3);
    CHECK_RC(nrm_seal_open(bob, cache, sealed[0], sizeof sealed[0], opened, &err), 0);
    CHECK_RC(nrm_seal_open(bob, cache, sealed[1], sizeof sealed[1], opened, &err), 0);
    nrm_sealcache_stats(cache, &hits, &misses);
    CHECK(hits == 2 && misses == 4);
    CHECK(memcmp(opened, "12345678", 8) == 0);
    /* carol's body opens with carol's key through the same cache, not bob's */
    CHECK_RC(nrm_seal_open(carol, cache, sealed[4], sizeof sealed[4], opened, &err), 0);
    CHECK_RC(nrm_seal_open(bob, cache, sealed[4], sizeof sealed[4], opened, &err), NRM_ECRYPTO);
    CHECK_RC(nrm_seal_open(carol, cache, sealed[3], sizeof sealed[3], opened, &err), NRM_ECRYPTO);
    nrm_sealcache_destroy(&cache);
    nrm_keys_destroy(&bob);
    nrm_keys_destroy(&carol);
}

static void
test_keyfile(void)
{
    char dir[64], path[128];
    nrm_err_t err;
    t_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/k", dir);
    nrm_keys_t *k = nrm_keys_generate(NRM_KEYS_ALL), *back = NULL;
    CHECK_RC(nrm_keys_save(k, path, &err), 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_RC(nrm_keys_load(path, &back, &err), 0);
    CHECK(back && memcmp(nrm_keys_sign_pk(back), nrm_keys_sign_pk(k), 32) == 0);
    CHECK(back && memcmp(nrm_keys_curve_pk(back), nrm_keys_curve_pk(k), 32) == 0);
    CHECK(back && memcmp(nrm_keys_box_pk(back), nrm_keys_box_pk(k), 32) == 0);
    nrm_keys_destroy(&back);
    chmod(path, 0644);
    CHECK(nrm_keys_load(path, &back, &err) != 0);
    CHECK_STR_HAS(err.msg, "readable by others");
    chmod(path, 0600);
    FILE *f = fopen(path, "r+b");
    fputc('X', f);
    fclose(f);
    CHECK(nrm_keys_load(path, &back, &err) != 0);
    CHECK_STR_HAS(err.msg, "not an nrmbus key file");
    nrm_keys_destroy(&k);
    t_rmdir(dir);
}

static void
test_hashes(void)
{
    uint8_t h[32], l[32];
    char hex[65];
    /* RFC 6962: the leaf hash of the empty string is SHA-256(0x00). */
    nrm_leaf_hash((const uint8_t *) "", 0, h);
    nrm_hex_encode(h, 32, hex);
    CHECK(strcmp(hex, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d") == 0);
    nrm_sha256((const uint8_t *) "abc", 3, h);
    nrm_hex_encode(h, 32, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    /* Node hash is SHA-256(0x01 || l || r). */
    uint8_t buf[65];
    memset(l, 7, 32);
    buf[0] = 1;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, h, 32);
    uint8_t want[32], got[32];
    nrm_sha256(buf, 65, want);
    nrm_node_hash(l, h, got);
    CHECK(memcmp(want, got, 32) == 0);
}

static void
test_z85(void)
{
    /* ZeroMQ RFC 32 test vector, repeated to 32 bytes. */
    uint8_t key[32], back[32];
    const uint8_t hello[8] = { 0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B };
    for (int i = 0; i < 4; i++)
        memcpy(key + 8 * i, hello, 8);
    char text[41];
    CHECK_RC(nrm_z85_encode(key, text), 0);
    CHECK(strcmp(text, "HelloWorldHelloWorldHelloWorldHelloWorld") == 0);
    CHECK_RC(nrm_z85_decode(text, back), 0);
    CHECK(memcmp(key, back, 32) == 0);
    CHECK(nrm_z85_decode("short", back) != 0);
    CHECK(nrm_z85_decode("HelloWorldHelloWorldHelloWorldHelloWorl~", back) != 0);
    CHECK(nrm_z85_decode("#####HelloWorldHelloWorldHelloWorldHello", back) != 0);
}

int
main(void)
{
    if (nrm_crypto_init() != 0)
        return 2;
    test_sign();
    test_seal1();
    test_seal2();
    test_sealcache();
    test_keyfile();
    test_hashes();
    test_z85();
    TEST_DONE();
}
