/*  fuzz_seal -- sealed bodies as an agent opens them: nrm_seal_open of
    both formats (1: crypto_box_seal; 2: one ephemeral key per batch, with
    a counter) through a cache of shared keys as the daemon does. The
    deliver target cannot reach the opening (it comes after the sender's
    signature, which the fuzzer cannot forge), so this target opens the
    bytes directly, with a fixed box key (fuzz_seal_key.h) to which the
    seeds are sealed: mutations of real bodies reach every check (length,
    format flag, version, a small-order ephemeral key, the tag).

    Input byte 0 even: the rest is one sealed body. Property: it opens
    or fails with NRM_ECRYPTO and a reason; opening it again (now through
    the cache) gives the same result and the same plaintext, of the length
    nrm_seal_plain_len says.

    Input byte 0 odd: a batch. Byte 1: n = 1 + (b % 8) messages, and which
    one is altered, (b / 8) % n; bytes 2-3: the position altered
    (big-endian, modulo the body's length); byte 4: the XOR mask; the rest:
    the plaintext of each message. Property: every message opens to its
    plaintext except the altered one, which opens only if the mask is 0. */
#include "fuzz.h"
#include "fuzz_seal_key.h"
#include "nrm_crypto.h"

#include <stdlib.h>
#include <string.h>

#define S_PLAIN_MAX 4096

static nrm_keys_t *s_keys;
static nrm_sealcache_t *s_cache;

static void
s_one(const uint8_t *data, size_t size)
{
    nrm_err_t err = { 0, 0, "" }, err2 = { 0, 0, "" };
    size_t plen = 0;
    uint8_t *a, *b;
    int rc, rc2;

    if (nrm_seal_plain_len(data, size, &plen, &err) != 0) {
        FUZZ_CHECK(err.code == NRM_ECRYPTO && err.msg[0] != '\0');
        plen = 0;
    }
    FUZZ_CHECK(plen <= size);
    a = malloc(plen + 1);
    b = malloc(plen + 1);
    FUZZ_CHECK(a != NULL && b != NULL);
    rc = nrm_seal_open(s_keys, s_cache, data, size, a, &err);
    rc2 = nrm_seal_open(s_keys, s_cache, data, size, b, &err2);
    FUZZ_CHECK(rc == rc2);
    if (rc == 0)
        FUZZ_CHECK(memcmp(a, b, plen) == 0);
    else
        FUZZ_CHECK(rc == NRM_ECRYPTO && err.msg[0] != '\0' && strcmp(err.msg, err2.msg) == 0);
    free(a);
    free(b);
}

static void
s_batch(const uint8_t *data, size_t size)
{
    nrm_sealer_t *sealer;
    nrm_err_t err = { 0, 0, "" };
    size_t n, which, pos, plen;
    uint8_t mask, *sealed, *out;
    const uint8_t *plain;

    if (size < 5)
        return;
    n = 1 + data[1] % 8u;
    which = (size_t) (data[1] / 8u) % n;
    pos = (size_t) data[2] << 8 | data[3];
    mask = data[4];
    plain = data + 5;
    plen = size - 5 > S_PLAIN_MAX ? S_PLAIN_MAX : size - 5;
    sealer = nrm_sealer_new(1);
    sealed = malloc(n * (plen + NRM_SEAL2_OVERHEAD));
    out = malloc(plen + 1);
    FUZZ_CHECK(sealer != NULL && sealed != NULL && out != NULL);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(nrm_sealer_seal(sealer, nrm_keys_box_pk(s_keys), plain, plen,
                                   sealed + i * (plen + NRM_SEAL2_OVERHEAD)) == 0);
    nrm_sealer_destroy(&sealer);
    sealed[which * (plen + NRM_SEAL2_OVERHEAD) + pos % (plen + NRM_SEAL2_OVERHEAD)] ^= mask;
    for (size_t i = 0; i < n; i++) {
        int rc = nrm_seal_open(s_keys, s_cache, sealed + i * (plen + NRM_SEAL2_OVERHEAD),
                               plen + NRM_SEAL2_OVERHEAD, out, &err);
        if (i != which || mask == 0) {
            FUZZ_CHECK(rc == 0);
            FUZZ_CHECK(memcmp(out, plain, plen) == 0);
        } else {
            FUZZ_CHECK(rc == NRM_ECRYPTO && err.msg[0] != '\0');
        }
    }
    free(sealed);
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    if (s_keys == NULL) {
        uint8_t file[FUZZ_SEAL_KEYFILE_BYTES];
        nrm_err_t err = { 0, 0, "" };
        fuzz_seal_keyfile(file);
        FUZZ_CHECK(nrm_keys_load(fuzz_write("seal.keys", file, sizeof file, 0600), &s_keys,
                                 &err) == 0);
        s_cache = nrm_sealcache_new(4);
        FUZZ_CHECK(s_cache != NULL);
    }
    if (size == 0)
        return 0;
    if ((data[0] & 1) == 0)
        s_one(data + 1, size - 1);
    else
        s_batch(data, size);
    return 0;
}
