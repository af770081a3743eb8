/*  nrm_checkpoint -- the broker's signed checkpoints: a C2SP tlog-checkpoint
    body in a C2SP signed note, signed with the broker's Ed25519 key.

        nrmbus/<network>\n                origin (and key name)
        <tree size, decimal>\n
        <root, base64 of 32 bytes>\n
        \n
        — nrmbus/<network> <base64(key id (4) || signature (64))>\n

    The signature is Ed25519 over the three body lines (with their
    newlines); the key id is the first 4 bytes of
    SHA-256(key name || 0x0A || 0x01 || public key). Standard signed-note
    verifiers (Go's golang.org/x/mod/sumdb/note) accept it with the verifier
    key "nrmbus/<network>+<hex key id>+<base64(0x01 || public key)>". */
#ifndef NRM_CHECKPOINT_H_INCLUDED
#define NRM_CHECKPOINT_H_INCLUDED
#include "nrm.h"
#include "nrm_crypto.h"

/* Longest signed note accepted (ours are about 160 bytes; room for
   cosignatures of witnesses). */
#define NRM_CHECKPOINT_NOTE_MAX 4096
#define NRM_CHECKPOINT_ORIGIN_MAX (7 + NRM_ID_MAX)      /* "nrmbus/" + id */
#define NRM_CHECKPOINT_SIGLINES_MAX 16

typedef struct {
    char     origin[NRM_CHECKPOINT_ORIGIN_MAX + 1];
    uint64_t size;
    uint8_t  root[NRM_HASH_BYTES];
} nrm_checkpoint_t;

/* "nrmbus/<network>" into out. */
void nrm_checkpoint_origin(const char *network, char out[NRM_CHECKPOINT_ORIGIN_MAX + 1]);

/* Signs c with keys (key name = c->origin). *note is malloc'd text (NUL
   terminated, *len without the NUL); the caller frees it. */
int nrm_checkpoint_sign(const nrm_keys_t *keys, const nrm_checkpoint_t *c, char **note,
                        size_t *len, nrm_err_t *err) NRM_WUR;

/* Parses a signed note without checking its signature (for display):
   body lines, size, root, and the form of every signature line. */
int nrm_checkpoint_parse(const uint8_t *note, size_t len, nrm_checkpoint_t *c,
                         nrm_err_t *err) NRM_WUR;

/* Parses and verifies: a signature line whose key name equals the origin
   and whose key id is that of pk must verify with pk; lines of other keys
   are ignored (as the signed-note spec requires). If origin is non-NULL the
   note's origin must equal it. NRM_ECRYPTO when no valid signature. */
int nrm_checkpoint_open(const uint8_t *note, size_t len, const uint8_t pk[NRM_PK_BYTES],
                        const char *origin, nrm_checkpoint_t *c, nrm_err_t *err) NRM_WUR;

/* Key id of an Ed25519 key under a key name (4 bytes). */
void nrm_checkpoint_key_id(const char *name, const uint8_t pk[NRM_PK_BYTES], uint8_t id[4]);

/* The signed-note verifier key text "<name>+<hex id>+<base64(0x01||pk)>"
   (at most NRM_CHECKPOINT_VKEY_MAX bytes with the NUL). */
#define NRM_CHECKPOINT_VKEY_MAX (NRM_CHECKPOINT_ORIGIN_MAX + 1 + 8 + 1 + 48 + 1)
void nrm_checkpoint_vkey(const char *name, const uint8_t pk[NRM_PK_BYTES],
                         char out[NRM_CHECKPOINT_VKEY_MAX]);

#endif
