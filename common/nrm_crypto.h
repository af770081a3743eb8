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

/* Sealed bodies: what a recipient's box key opens. Two formats, told
   apart by bit 7 of byte 31 (docs/protocol.md, "Sealed bodies"):

   format 1, libsodium crypto_box_seal (one ephemeral key per message):
     epk (32) | Poly1305 tag (16) | XSalsa20 ciphertext
   Byte 31 is the last byte of a canonical X25519 public key, below 0x80.

   format 2, one ephemeral key per batch to one recipient (nrm_sealer_t):
     epk (32, bit 7 of byte 31 set) | version 0x02 | counter (4, big-endian)
     | Poly1305 tag (16) | XSalsa20 ciphertext
   shared key = crypto_box_beforenm(epk, recipient), nonce =
   BLAKE2b-192(epk | recipient_pk | counter), the body
   crypto_box_easy_afternm(plain, nonce, shared key). */
#define NRM_SEAL1_OVERHEAD    48
#define NRM_SEAL2_OVERHEAD    53
#define NRM_SEAL2_VERSION     2
#define NRM_SEAL_MIN_BYTES    NRM_SEAL1_OVERHEAD   /* shortest body of any format */
#define NRM_SEAL_MAX_OVERHEAD NRM_SEAL2_OVERHEAD   /* largest overhead of any     */

/* Format 1 (crypto_box_seal) to a recipient's box key; out holds
   len + NRM_SEAL1_OVERHEAD. New bodies are sealed in format 2; this stays
   for tests and tools that stand for older agents. */
int nrm_seal1(const uint8_t recipient_box_pk[NRM_PK_BYTES], const uint8_t *plain,
              size_t len, uint8_t *out) NRM_WUR;

/* Seals the messages of one batch (format 2): one ephemeral X25519 key
   pair per recipient, made when the batch's first message to it is
   sealed, and each message under the next counter of that key. The
   ephemeral secret keys are wiped as soon as their shared keys are made;
   the shared keys are in sodium_malloc memory (allocated once, by
   nrm_sealer_new) and wiped by nrm_sealer_end_batch and
   nrm_sealer_destroy. One sealer serves batch after batch. */
typedef struct nrm_sealer_t nrm_sealer_t;
/* A sealer for batches to at most max_recipients recipients (1..4096);
   NULL when out of memory. */
nrm_sealer_t *nrm_sealer_new(size_t max_recipients);
void nrm_sealer_destroy(nrm_sealer_t **self_p);
/* Seals plain to recipient_box_pk into out (len + NRM_SEAL2_OVERHEAD
   bytes). NRM_ECRYPTO when the recipient's key is one X25519 refuses
   (small order) or libsodium fails; NRM_ETOOBIG when the batch already
   has max_recipients recipients or 2^32 messages to this one. */
int nrm_sealer_seal(nrm_sealer_t *self, const uint8_t recipient_box_pk[NRM_PK_BYTES],
                    const uint8_t *plain, size_t len, uint8_t *out) NRM_WUR;
/* Ends the batch: wipes every shared key, so that the next message to
   any recipient starts a new ephemeral key. */
void nrm_sealer_end_batch(nrm_sealer_t *self);

/* The plaintext length of a sealed body of either format: 0, or
   NRM_ECRYPTO with the reason (too short, unknown version) in err. */
int nrm_seal_plain_len(const uint8_t *sealed, size_t len, size_t *plain_len,
                       nrm_err_t *err) NRM_WUR;

/* A recipient's cache of format 2 shared keys, keyed by (own box key,
   ephemeral key): the second to last message of a batch open without an
   X25519. Bounded (slots); only keys that opened a body are kept; the
   least recently used is wiped when a new one needs its slot; every key is
   wiped by nrm_sealcache_destroy. Not thread-safe: one per thread. */
typedef struct nrm_sealcache_t nrm_sealcache_t;
nrm_sealcache_t *nrm_sealcache_new(size_t slots);
void nrm_sealcache_destroy(nrm_sealcache_t **self_p);
/* How many format 2 opens found their key cached / had to compute it. */
void nrm_sealcache_stats(const nrm_sealcache_t *self, uint64_t *hits, uint64_t *misses);

/* Opens a sealed body of either format with our box key (cache may be
   NULL); out holds the plaintext length (nrm_seal_plain_len). NRM_ECRYPTO
   with the reason in err when it does not open: too short, unknown
   version, or the tag does not verify (another recipient's body, or the
   ephemeral key, counter or ciphertext altered). */
int nrm_seal_open(const nrm_keys_t *self, nrm_sealcache_t *cache, const uint8_t *sealed,
                  size_t len, uint8_t *out, nrm_err_t *err) NRM_WUR;

void nrm_random(uint8_t *buf, size_t len);

/* Z85 text of a 32-byte key (41 bytes with NUL), for ZeroMQ and configs. */
int nrm_z85_encode(const uint8_t key[32], char out[41]) NRM_WUR;
int nrm_z85_decode(const char *text, uint8_t key[32]) NRM_WUR;

#endif
