/*  fuzz_checkpoint -- what an agent or an auditor reads from outside about
    the tree: signed checkpoint notes (nrm_checkpoint_parse/open, as agents
    take them from the broker and `nrm-audit check-proof` from a proof
    file) and the proof paths checked against them (inclusion and
    consistency verification with any sizes, indexes and path lengths).
    The first byte picks the mode:
      0  a note: parse, and open with this process's key;
      1  an inclusion proof: index, size (8 bytes each, big-endian), leaf,
         root (32 bytes each), then the path in 32-byte hashes;
      2  a consistency proof: old size, new size, old root, new root, path;
      3  a checkpoint from the input (size, root, origin) signed with this
         process's key: it must open and parse to the same values.
    Properties: a note that opens also parses, to the same checkpoint; a
    proof verifies or is refused with a reason; nothing else happens. */
#include "fuzz.h"
#include "nrm_checkpoint.h"
#include "nrm_merkle.h"
#include "nrm_store.h"
#include "nrm_util.h"

#include <stdlib.h>
#include <string.h>

static nrm_keys_t *s_keys;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_setup();
    s_keys = nrm_keys_generate(NRM_KEYS_SIGN);
    if (s_keys == NULL)
        abort();
    return 0;
}

static uint64_t
s_u64(const uint8_t *p)
{
    return nrm_be64_get(p);
}

static void
s_note(const uint8_t *data, size_t size)
{
    nrm_checkpoint_t a, b;
    nrm_err_t err = { 0, 0, "" };
    int parsed = nrm_checkpoint_parse(data, size, &a, &err);
    if (parsed != 0)
        FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
    if (nrm_checkpoint_open(data, size, nrm_keys_sign_pk(s_keys), NULL, &b, &err) == 0) {
        FUZZ_CHECK(parsed == 0);
        FUZZ_CHECK(a.size == b.size && memcmp(a.root, b.root, NRM_HASH_BYTES) == 0);
        FUZZ_CHECK(strcmp(a.origin, b.origin) == 0);
    }
}

static void
s_path(const uint8_t *data, size_t size, nrm_hash_t *path, size_t *n)
{
    *n = size / NRM_HASH_BYTES;
    if (*n > NRM_MERKLE_PATH_MAX)
        *n = NRM_MERKLE_PATH_MAX;
    memcpy(path, data, *n * NRM_HASH_BYTES);
}

static void
s_inclusion(const uint8_t *data, size_t size)
{
    static nrm_hash_t path[NRM_MERKLE_PATH_MAX];
    nrm_err_t err = { 0, 0, "" };
    size_t n;
    if (size < 16 + 2 * NRM_HASH_BYTES)
        return;
    s_path(data + 80, size - 80, path, &n);
    if (nrm_merkle_inclusion_verify(s_u64(data), s_u64(data + 8), data + 16, path, n,
                                    data + 48, &err) != 0)
        FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
}

static void
s_consistency(const uint8_t *data, size_t size)
{
    static nrm_hash_t path[NRM_MERKLE_PATH_MAX];
    nrm_err_t err = { 0, 0, "" };
    size_t n;
    if (size < 16 + 2 * NRM_HASH_BYTES)
        return;
    s_path(data + 80, size - 80, path, &n);
    if (nrm_merkle_consistency_verify(s_u64(data), s_u64(data + 8), data + 16, data + 48,
                                      path, n, &err) != 0)
        FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
}

static void
s_roundtrip(const uint8_t *data, size_t size)
{
    nrm_checkpoint_t c, back;
    nrm_err_t err = { 0, 0, "" };
    char *note = NULL;
    size_t len = 0;
    if (size < 8 + NRM_HASH_BYTES)
        return;
    memset(&c, 0, sizeof c);
    c.size = s_u64(data);
    memcpy(c.root, data + 8, NRM_HASH_BYTES);
    size_t olen = size - 40 < NRM_ID_MAX ? size - 40 : NRM_ID_MAX;
    char network[NRM_ID_MAX + 1];
    memcpy(network, data + 40, olen);
    network[olen] = '\0';
    if (!nrm_id_valid(network))
        return;                       /* origins are built from network ids */
    nrm_checkpoint_origin(network, c.origin);
    if (nrm_checkpoint_sign(s_keys, &c, &note, &len, &err) != 0) {
        FUZZ_CHECK(err.code != 0);
        return;
    }
    FUZZ_CHECK(nrm_checkpoint_open((const uint8_t *) note, len, nrm_keys_sign_pk(s_keys),
                                   c.origin, &back, &err) == 0);
    FUZZ_CHECK(back.size == c.size && memcmp(back.root, c.root, NRM_HASH_BYTES) == 0);
    FUZZ_CHECK(strcmp(back.origin, c.origin) == 0);
    s_note((const uint8_t *) note, len);
    free(note);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0: s_note(data + 1, size - 1); break;
    case 1: s_inclusion(data + 1, size - 1); break;
    case 2: s_consistency(data + 1, size - 1); break;
    default: s_roundtrip(data + 1, size - 1); break;
    }
    return 0;
}
