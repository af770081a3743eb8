/*  fuzz_seal_key.h -- the fixed box key of the `seal` fuzz target, as a
    key file (nrm_crypto.c: "NRMKEYS1" | parts | sign_sk 64 | curve_sk 32 |
    box_sk 32), so that seedgen seals its seeds to the key the target opens
    with. A throwaway key, used nowhere else. */
#ifndef FUZZ_SEAL_KEY_H_INCLUDED
#define FUZZ_SEAL_KEY_H_INCLUDED
#include <stdint.h>
#include <string.h>

#define FUZZ_SEAL_KEYFILE_BYTES (8 + 1 + 64 + 32 + 32)

/* Fills out with the key file: box part only, box_sk = 1, 2, ... 32. */
static inline void
fuzz_seal_keyfile(uint8_t out[FUZZ_SEAL_KEYFILE_BYTES])
{
    memset(out, 0, FUZZ_SEAL_KEYFILE_BYTES);
    memcpy(out, "NRMKEYS1", 8);
    out[8] = 4;                                 /* NRM_KEYS_BOX */
    for (int i = 0; i < 32; i++)
        out[8 + 1 + 64 + 32 + i] = (uint8_t) (i + 1);
}

#endif
