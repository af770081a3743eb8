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

static void
test_seal(void)
{
    nrm_keys_t *bob = nrm_keys_generate(NRM_KEYS_ALL), *eve = nrm_keys_generate(NRM_KEYS_ALL);
    const char *plain = "{\"prs_name\":\"test\"}";
    size_t n = strlen(plain);
    uint8_t sealed[256], opened[256];
    CHECK_RC(nrm_seal(nrm_keys_box_pk(bob), (const uint8_t *) plain, n, sealed), 0);
    CHECK(memmem(sealed, n + NRM_SEAL_OVERHEAD, "prs_name", 8) == NULL);
    CHECK_RC(nrm_seal_open(bob, sealed, n + NRM_SEAL_OVERHEAD, opened), 0);
    CHECK(memcmp(opened, plain, n) == 0);
    CHECK_RC(nrm_seal_open(eve, sealed, n + NRM_SEAL_OVERHEAD, opened), NRM_ECRYPTO);
    sealed[10] ^= 0x80;
    CHECK_RC(nrm_seal_open(bob, sealed, n + NRM_SEAL_OVERHEAD, opened), NRM_ECRYPTO);
    CHECK_RC(nrm_seal_open(bob, sealed, 10, opened), NRM_ECRYPTO);
    nrm_keys_destroy(&bob);
    nrm_keys_destroy(&eve);
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
    test_seal();
    test_keyfile();
    test_hashes();
    test_z85();
    TEST_DONE();
}
