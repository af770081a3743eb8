/*  nrm_crypto -- keys, signatures, hashes and sealed bodies (libsodium).

    Secret keys live in sodium_malloc'd memory (guarded, locked, wiped on
    free) and on disk only in files of mode 0600. Every signature is Ed25519
    over a domain context followed by the exact bytes signed, so that bytes
    signed for one purpose can never be replayed as another. */
#ifndef NRM_CRYPTO_H_INCLUDED
#define NRM_CRYPTO_H_INCLUDED
#include "nrm.h"

/* Signature contexts (NUL-terminated strings, the NUL is signed too). */
#define NRM_CTX_ENVELOPE  "nrmbus/envelope/v1"
#define NRM_CTX_ACK       "nrmbus/ack/v1"
#define NRM_CTX_RECEIPT   "nrmbus/receipt/v1"
#define NRM_CTX_CERT      "nrmbus/certificate/v1"
#define NRM_CTX_REQUEST   "nrmbus/enroll-request/v1"
#define NRM_CTX_GENESIS   "nrmbus/genesis/v1"
#define NRM_CTX_ADMIN     "nrmbus/admin-action/v1"   /* AdminAction, by an administrator */
#define NRM_CTX_ROTATE    "nrmbus/rotate-request/v1" /* rotation request, by the OLD sign key */
#define NRM_CTX_NOTICE    "nrmbus/notice/v1"

int nrm_crypto_init(void) NRM_WUR;

/* The key set of one party. Secret parts are in sodium_malloc memory. */
typedef struct nrm_keys_t nrm_keys_t;

/* Which parts a key file holds. */
enum { NRM_KEYS_SIGN = 1, NRM_KEYS_CURVE = 2, NRM_KEYS_BOX = 4,
       NRM_KEYS_ALL = 7 };

/* Makes a fresh key set with the given parts; NULL on failure. */
nrm_keys_t *nrm_keys_generate(int parts);
void nrm_keys_destroy(nrm_keys_t **self_p);
/* Saves secret keys to path (mode 0600, atomically). */
int nrm_keys_save(const nrm_keys_t *self, const char *path, nrm_err_t *err) NRM_WUR;
/* Loads a key file; refuses one that is readable by group or others. */
int nrm_keys_load(const char *path, nrm_keys_t **keys, nrm_err_t *err) NRM_WUR;
int nrm_keys_parts(const nrm_keys_t *self);
/* Borrowed pointers to the public keys (32 bytes each), NULL if absent. */
const uint8_t *nrm_keys_sign_pk(const nrm_keys_t *self);
const uint8_t *nrm_keys_curve_pk(const nrm_keys_t *self);
const uint8_t *nrm_keys_box_pk(const nrm_keys_t *self);
/* Borrowed pointer to the Curve25519 secret key, for ZMQ_CURVE_SECRETKEY. */
const uint8_t *nrm_keys_curve_sk(const nrm_keys_t *self);

/* Ed25519 detached signature over ctx||NUL||data. */
int nrm_sign(const nrm_keys_t *self, const char *ctx, const uint8_t *data,
             size_t len, uint8_t sig[NRM_SIG_BYTES]) NRM_WUR;
/* 0 if sig is valid for ctx||NUL||data under pk, else NRM_ECRYPTO. */
int nrm_verify(const uint8_t pk[NRM_PK_BYTES], const char *ctx,
               const uint8_t *data, size_t len,
               const uint8_t sig[NRM_SIG_BYTES]) NRM_WUR;

/* Ed25519 over text alone, without a context: the C2SP signed-note format
   (checkpoints) signs the note text as it is, so that standard tools can
   verify it. Text containing a NUL byte is refused (NRM_EINVAL), which keeps
   these signatures apart from every context signature above: those always
   sign context || NUL || data. */
int nrm_sign_text(const nrm_keys_t *self, const uint8_t *text, size_t len,
                  uint8_t sig[NRM_SIG_BYTES]) NRM_WUR;
int nrm_verify_text(const uint8_t pk[NRM_PK_BYTES], const uint8_t *text, size_t len,
                    const uint8_t sig[NRM_SIG_BYTES]) NRM_WUR;

void nrm_sha256(const uint8_t *data, size_t len, uint8_t out[NRM_HASH_BYTES]);
/* RFC 6962 leaf hash: SHA-256(0x00 || data). */
void nrm_leaf_hash(const uint8_t *data, size_t len, uint8_t out[NRM_HASH_BYTES]);
/* RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
void nrm_node_hash(const uint8_t left[NRM_HASH_BYTES],
                   const uint8_t right[NRM_HASH_BYTES], uint8_t out[NRM_HASH_BYTES]);
/* Short printable fingerprint of a public key: first 8 bytes of SHA-256, hex. */
void nrm_fingerprint(const uint8_t pk[NRM_PK_BYTES], char out[17]);

/* Sealed box (X25519 + XSalsa20-Poly1305) to a recipient's box key.
   Output size is len + NRM_SEAL_OVERHEAD; caller supplies out. */
#define NRM_SEAL_OVERHEAD 48
int nrm_seal(const uint8_t recipient_box_pk[NRM_PK_BYTES], const uint8_t *plain,
             size_t len, uint8_t *out) NRM_WUR;
/* Opens a sealed box with our box key; out holds len - NRM_SEAL_OVERHEAD. */
int nrm_seal_open(const nrm_keys_t *self, const uint8_t *sealed, size_t len,
                  uint8_t *out) NRM_WUR;

void nrm_random(uint8_t *buf, size_t len);

/* Z85 text of a 32-byte key (41 bytes with NUL), for ZeroMQ and configs. */
int nrm_z85_encode(const uint8_t key[32], char out[41]) NRM_WUR;
int nrm_z85_decode(const char *text, uint8_t key[32]) NRM_WUR;

#endif
