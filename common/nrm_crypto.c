/*  nrm_crypto -- libsodium wrappers: key sets, signatures with a context,
    hashes, sealed boxes, Z85.

    Key file format (binary, mode 0600):
      "NRMKEYS1" | parts (1 byte) | sign_sk (64) | curve_sk (32) | box_sk (32)
    Absent parts are zero-filled; public keys are derived on load. */
#include "nrm_crypto.h"
#include "nrm_util.h"
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define KEYFILE_MAGIC "NRMKEYS1"
#define KEYFILE_BYTES (8 + 1 + 64 + 32 + 32)

struct nrm_keys_t {
    int parts;
    uint8_t sign_pk[32], curve_pk[32], box_pk[32];
    uint8_t *secret;        /* sodium_malloc: sign_sk 64 | curve_sk 32 | box_sk 32 */
};

#define SIGN_SK(k)  ((k)->secret)
#define CURVE_SK(k) ((k)->secret + 64)
#define BOX_SK(k)   ((k)->secret + 96)

int
nrm_crypto_init(void)
{
    return sodium_init() < 0 ? NRM_ECRYPTO : 0;
}

static nrm_keys_t *
s_keys_alloc(void)
{
    nrm_keys_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->secret = sodium_malloc(128);
    if (!self->secret) {
        free(self);
        return NULL;
    }
    sodium_memzero(self->secret, 128);
    return self;
}

/* Derives every public key from the secret parts present. */
static void
s_keys_derive(nrm_keys_t *self)
{
    if (self->parts & NRM_KEYS_SIGN)
        crypto_sign_ed25519_sk_to_pk(self->sign_pk, SIGN_SK(self));
    if (self->parts & NRM_KEYS_CURVE)
        crypto_scalarmult_base(self->curve_pk, CURVE_SK(self));
    if (self->parts & NRM_KEYS_BOX)
        crypto_scalarmult_base(self->box_pk, BOX_SK(self));
}

nrm_keys_t *
nrm_keys_generate(int parts)
{
    nrm_keys_t *self = s_keys_alloc();
    if (!self)
        return NULL;
    self->parts = parts & NRM_KEYS_ALL;
    if (parts & NRM_KEYS_SIGN)
        crypto_sign_keypair(self->sign_pk, SIGN_SK(self));
    if (parts & NRM_KEYS_CURVE)
        crypto_box_keypair(self->curve_pk, CURVE_SK(self));
    if (parts & NRM_KEYS_BOX)
        crypto_box_keypair(self->box_pk, BOX_SK(self));
    return self;
}

void
nrm_keys_destroy(nrm_keys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sodium_free((*self_p)->secret);     /* wipes before freeing */
    free(*self_p);
    *self_p = NULL;
}

int
nrm_keys_save(const nrm_keys_t *self, const char *path, nrm_err_t *err)
{
    uint8_t *buf = sodium_malloc(KEYFILE_BYTES);
    if (!buf)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    memcpy(buf, KEYFILE_MAGIC, 8);
    buf[8] = (uint8_t) self->parts;
    memcpy(buf + 9, self->secret, 128);
    int rc = nrm_file_write(path, buf, KEYFILE_BYTES, 0600, err);
    sodium_free(buf);
    return rc;
}

int
nrm_keys_load(const char *path, nrm_keys_t **keys, nrm_err_t *err)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;
    *keys = NULL;
    if (stat(path, &st) != 0)
        return nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
    if (st.st_mode & 077)
        return nrm_err_set(err, NRM_EINVAL,
                           "%s: key file is readable by others (mode %03o); chmod 600 it",
                           path, (unsigned) (st.st_mode & 0777));
    rc = nrm_file_read(path, KEYFILE_BYTES, &data, &len, err);
    if (rc != 0)
        return rc;
    if (len != KEYFILE_BYTES || memcmp(data, KEYFILE_MAGIC, 8) != 0
        || (data[8] & ~NRM_KEYS_ALL) != 0 || data[8] == 0) {
        rc = nrm_err_set(err, NRM_EINVAL, "%s: not an nrmbus key file", path);
        goto out;
    }
    nrm_keys_t *self = s_keys_alloc();
    if (!self) {
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
        goto out;
    }
    self->parts = data[8];
    memcpy(self->secret, data + 9, 128);
    s_keys_derive(self);
    *keys = self;
out:
    sodium_memzero(data, len);
    free(data);
    return rc;
}

int nrm_keys_parts(const nrm_keys_t *self) { return self->parts; }
const uint8_t *nrm_keys_sign_pk(const nrm_keys_t *self)
{ return self->parts & NRM_KEYS_SIGN ? self->sign_pk : NULL; }
const uint8_t *nrm_keys_curve_pk(const nrm_keys_t *self)
{ return self->parts & NRM_KEYS_CURVE ? self->curve_pk : NULL; }
const uint8_t *nrm_keys_box_pk(const nrm_keys_t *self)
{ return self->parts & NRM_KEYS_BOX ? self->box_pk : NULL; }
const uint8_t *nrm_keys_curve_sk(const nrm_keys_t *self)
{ return self->parts & NRM_KEYS_CURVE ? CURVE_SK(self) : NULL; }

/* Plain Ed25519 has no context input, so we sign ctx || NUL || data. Small
   messages (every envelope, ack and receipt) use a stack buffer; larger
   ones a heap copy. */
static uint8_t *
s_concat(const char *ctx, const uint8_t *data, size_t len, uint8_t *stackbuf,
         size_t stacksize, size_t *total)
{
    size_t clen = strlen(ctx) + 1;
    uint8_t *buf = clen + len <= stacksize ? stackbuf : malloc(clen + len);
    if (!buf)
        return NULL;
    memcpy(buf, ctx, clen);
    if (len)
        memcpy(buf + clen, data, len);
    *total = clen + len;
    return buf;
}

int
nrm_sign(const nrm_keys_t *self, const char *ctx, const uint8_t *data, size_t len,
         uint8_t sig[NRM_SIG_BYTES])
{
    uint8_t stackbuf[4096];
    size_t total;
    if (!(self->parts & NRM_KEYS_SIGN))
        return NRM_EINVAL;
    uint8_t *buf = s_concat(ctx, data, len, stackbuf, sizeof stackbuf, &total);
    if (!buf)
        return NRM_ENOMEM;
    crypto_sign_detached(sig, NULL, buf, total, SIGN_SK(self));
    if (buf != stackbuf)
        free(buf);
    return 0;
}

int
nrm_verify(const uint8_t pk[NRM_PK_BYTES], const char *ctx, const uint8_t *data,
           size_t len, const uint8_t sig[NRM_SIG_BYTES])
{
    uint8_t stackbuf[4096];
    size_t total;
    uint8_t *buf = s_concat(ctx, data, len, stackbuf, sizeof stackbuf, &total);
    if (!buf)
        return NRM_ENOMEM;
    int ok = crypto_sign_verify_detached(sig, buf, total, pk);
    if (buf != stackbuf)
        free(buf);
    return ok == 0 ? 0 : NRM_ECRYPTO;
}

int
nrm_sign_text(const nrm_keys_t *self, const uint8_t *text, size_t len, uint8_t sig[NRM_SIG_BYTES])
{
    if (!(self->parts & NRM_KEYS_SIGN) || (len && memchr(text, 0, len)))
        return NRM_EINVAL;
    crypto_sign_detached(sig, NULL, text, len, SIGN_SK(self));
    return 0;
}

int
nrm_verify_text(const uint8_t pk[NRM_PK_BYTES], const uint8_t *text, size_t len,
                const uint8_t sig[NRM_SIG_BYTES])
{
    if (len && memchr(text, 0, len))
        return NRM_EINVAL;
    return crypto_sign_verify_detached(sig, text, len, pk) == 0 ? 0 : NRM_ECRYPTO;
}

void
nrm_sha256(const uint8_t *data, size_t len, uint8_t out[NRM_HASH_BYTES])
{
    crypto_hash_sha256(out, data, len);
}

void
nrm_leaf_hash(const uint8_t *data, size_t len, uint8_t out[NRM_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    const uint8_t prefix = 0x00;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

void
nrm_node_hash(const uint8_t left[NRM_HASH_BYTES], const uint8_t right[NRM_HASH_BYTES],
              uint8_t out[NRM_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    const uint8_t prefix = 0x01;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, left, NRM_HASH_BYTES);
    crypto_hash_sha256_update(&st, right, NRM_HASH_BYTES);
    crypto_hash_sha256_final(&st, out);
}

void
nrm_fingerprint(const uint8_t pk[NRM_PK_BYTES], char out[17])
{
    uint8_t h[32];
    nrm_sha256(pk, NRM_PK_BYTES, h);
    nrm_hex_encode(h, 8, out);
}

/* ---- sealed bodies (nrm_crypto.h; the argument: docs/protocol.md) ---- */

#define SEAL_EPK     32
#define SEAL2_HEADER 37                 /* epk 32 | version 1 | counter 4 */
#define SEAL_FLAG    0x80               /* byte 31: never set in a canonical key */

_Static_assert(NRM_SEAL1_OVERHEAD == crypto_box_SEALBYTES, "format 1 is crypto_box_seal");
_Static_assert(NRM_SEAL2_OVERHEAD == SEAL2_HEADER + crypto_box_MACBYTES, "format 2 layout");
_Static_assert(crypto_box_BEFORENMBYTES == 32 && crypto_box_NONCEBYTES == 24
               && crypto_box_PUBLICKEYBYTES == SEAL_EPK, "libsodium box sizes");
_Static_assert(NRM_MAX_DOC_BYTES + NRM_SEAL_MAX_OVERHEAD <= NRM_MAX_BODY_BYTES,
               "a document of the largest size must still fit sealed");

int
nrm_seal1(const uint8_t recipient_box_pk[NRM_PK_BYTES], const uint8_t *plain,
          size_t len, uint8_t *out)
{
    return crypto_box_seal(out, plain, len, recipient_box_pk) == 0 ? 0 : NRM_ECRYPTO;
}

/* Format 2's nonce: BLAKE2b-192(epk | recipient_pk | counter). One shared
   key belongs to one (epk, recipient) pair and the sealer never repeats a
   counter, so no nonce repeats under a key; hashing the recipient's key in
   (as crypto_box_seal does) binds the box to that exact key. */
static void
s_seal2_nonce(const uint8_t epk[SEAL_EPK], const uint8_t pk[NRM_PK_BYTES],
              const uint8_t counter[4], uint8_t nonce[crypto_box_NONCEBYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, crypto_box_NONCEBYTES);
    crypto_generichash_update(&st, epk, SEAL_EPK);
    crypto_generichash_update(&st, pk, NRM_PK_BYTES);
    crypto_generichash_update(&st, counter, 4);
    crypto_generichash_final(&st, nonce, crypto_box_NONCEBYTES);
}

/* One recipient of the current batch: public parts only. */
typedef struct {
    uint8_t  pk[NRM_PK_BYTES];
    uint8_t  epk[SEAL_EPK];             /* canonical: bit 7 of byte 31 clear */
    uint64_t next;                      /* counter of the next message */
} s_sealto_t;

struct nrm_sealer_t {
    size_t      max, count;             /* recipients: allowed, in this batch */
    s_sealto_t *to;
    uint8_t    *secret;                 /* sodium_malloc: max shared keys, then
                                           one ephemeral secret key (scratch) */
};

nrm_sealer_t *
nrm_sealer_new(size_t max_recipients)
{
    nrm_sealer_t *self;

    if (max_recipients == 0 || max_recipients > 4096)
        return NULL;
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->max = max_recipients;
    self->to = calloc(max_recipients, sizeof *self->to);
    self->secret = sodium_malloc((max_recipients + 1) * crypto_box_BEFORENMBYTES);
    if (self->to == NULL || self->secret == NULL) {
        nrm_sealer_destroy(&self);
        return NULL;
    }
    sodium_memzero(self->secret, (max_recipients + 1) * crypto_box_BEFORENMBYTES);
    return self;
}

void
nrm_sealer_destroy(nrm_sealer_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    sodium_free((*self_p)->secret);     /* wipes before freeing; NULL is fine */
    free((*self_p)->to);
    free(*self_p);
    *self_p = NULL;
}

void
nrm_sealer_end_batch(nrm_sealer_t *self)
{
    if (self == NULL)
        return;
    sodium_memzero(self->secret, self->count * crypto_box_BEFORENMBYTES);
    memset(self->to, 0, self->count * sizeof *self->to);
    self->count = 0;
}

/* The index of pk's ephemeral key in this batch, made on first use;
   (size_t) -1 with *rc set on failure. */
static size_t
s_sealer_to(nrm_sealer_t *self, const uint8_t pk[NRM_PK_BYTES], int *rc)
{
    uint8_t *esk = self->secret + self->max * crypto_box_BEFORENMBYTES;
    size_t i;

    for (i = 0; i < self->count; i++)
        if (memcmp(self->to[i].pk, pk, NRM_PK_BYTES) == 0)
            return i;
    if (self->count == self->max) {
        *rc = NRM_ETOOBIG;
        return (size_t) -1;
    }
    *rc = 0;
    if (crypto_box_keypair(self->to[i].epk, esk) != 0
        || crypto_box_beforenm(self->secret + i * crypto_box_BEFORENMBYTES, pk, esk) != 0
        /* crypto_scalarmult_base encodes canonically; the flag bit is ours */
        || (self->to[i].epk[SEAL_EPK - 1] & SEAL_FLAG) != 0)
        *rc = NRM_ECRYPTO;              /* a small-order recipient key */
    sodium_memzero(esk, crypto_box_SECRETKEYBYTES);
    if (*rc != 0) {
        sodium_memzero(self->secret + i * crypto_box_BEFORENMBYTES, crypto_box_BEFORENMBYTES);
        return (size_t) -1;
    }
    memcpy(self->to[i].pk, pk, NRM_PK_BYTES);
    self->to[i].next = 0;
    self->count++;
    return i;
}

int
nrm_sealer_seal(nrm_sealer_t *self, const uint8_t recipient_box_pk[NRM_PK_BYTES],
                const uint8_t *plain, size_t len, uint8_t *out)
{
    uint8_t nonce[crypto_box_NONCEBYTES];
    uint8_t *ctr = out + SEAL_EPK + 1;
    s_sealto_t *to;
    int rc = 0;
    size_t i = s_sealer_to(self, recipient_box_pk, &rc);

    if (i == (size_t) -1)
        return rc;
    to = &self->to[i];
    if (to->next > UINT32_MAX)
        return NRM_ETOOBIG;
    memcpy(out, to->epk, SEAL_EPK);
    out[SEAL_EPK - 1] |= SEAL_FLAG;
    out[SEAL_EPK] = NRM_SEAL2_VERSION;
    ctr[0] = (uint8_t) (to->next >> 24);
    ctr[1] = (uint8_t) (to->next >> 16);
    ctr[2] = (uint8_t) (to->next >> 8);
    ctr[3] = (uint8_t) to->next;
    to->next++;
    s_seal2_nonce(to->epk, to->pk, ctr, nonce);
    return crypto_box_easy_afternm(out + SEAL2_HEADER, plain, len, nonce,
                                   self->secret + i * crypto_box_BEFORENMBYTES) == 0
               ? 0 : NRM_ECRYPTO;
}

int
nrm_seal_plain_len(const uint8_t *sealed, size_t len, size_t *plain_len, nrm_err_t *err)
{
    *plain_len = 0;
    if (len < NRM_SEAL_MIN_BYTES)
        return nrm_err_set(err, NRM_ECRYPTO, "the sealed body is truncated: %zu bytes, a "
                           "sealed body has at least %d", len, NRM_SEAL_MIN_BYTES);
    if ((sealed[SEAL_EPK - 1] & SEAL_FLAG) == 0) {
        *plain_len = len - NRM_SEAL1_OVERHEAD;
        return 0;
    }
    if (sealed[SEAL_EPK] != NRM_SEAL2_VERSION)
        return nrm_err_set(err, NRM_ECRYPTO, "the sealed body has format version %u, which "
                           "this agent does not know (it opens 1 and %d)",
                           sealed[SEAL_EPK], NRM_SEAL2_VERSION);
    if (len < NRM_SEAL2_OVERHEAD)
        return nrm_err_set(err, NRM_ECRYPTO, "the sealed body is truncated: %zu bytes, a "
                           "format %d body has at least %d", len, NRM_SEAL2_VERSION,
                           NRM_SEAL2_OVERHEAD);
    *plain_len = len - NRM_SEAL2_OVERHEAD;
    return 0;
}

/* ---- the recipient's cache of format 2 shared keys ---- */

typedef struct {
    uint8_t  pk[NRM_PK_BYTES];          /* our box key */
    uint8_t  epk[SEAL_EPK];             /* canonical */
    uint64_t used;                      /* 0: empty; else the tick of last use */
} s_sealslot_t;

struct nrm_sealcache_t {
    size_t        nslots;
    uint64_t      tick, hits, misses;
    s_sealslot_t *slots;
    uint8_t      *keys;                 /* sodium_malloc: nslots shared keys */
};

nrm_sealcache_t *
nrm_sealcache_new(size_t slots)
{
    nrm_sealcache_t *self;

    if (slots == 0 || slots > 4096)
        return NULL;
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->nslots = slots;
    self->slots = calloc(slots, sizeof *self->slots);
    self->keys = sodium_malloc(slots * crypto_box_BEFORENMBYTES);
    if (self->slots == NULL || self->keys == NULL) {
        nrm_sealcache_destroy(&self);
        return NULL;
    }
    sodium_memzero(self->keys, slots * crypto_box_BEFORENMBYTES);
    return self;
}

void
nrm_sealcache_destroy(nrm_sealcache_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    sodium_free((*self_p)->keys);       /* wipes before freeing */
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

void
nrm_sealcache_stats(const nrm_sealcache_t *self, uint64_t *hits, uint64_t *misses)
{
    *hits = self != NULL ? self->hits : 0;
    *misses = self != NULL ? self->misses : 0;
}

/* The cached shared key of (pk, epk), or NULL. */
static const uint8_t *
s_sealcache_find(nrm_sealcache_t *self, const uint8_t *pk, const uint8_t *epk)
{
    for (size_t i = 0; i < self->nslots; i++) {
        s_sealslot_t *s = &self->slots[i];
        if (s->used != 0 && memcmp(s->epk, epk, SEAL_EPK) == 0
            && memcmp(s->pk, pk, NRM_PK_BYTES) == 0) {
            s->used = ++self->tick;
            return self->keys + i * crypto_box_BEFORENMBYTES;
        }
    }
    return NULL;
}

/* Keeps key for (pk, epk) in an empty slot or in the least recently used
   one, whose key is wiped first. O(slots), next to an X25519. */
static void
s_sealcache_put(nrm_sealcache_t *self, const uint8_t *pk, const uint8_t *epk,
                const uint8_t *key)
{
    size_t victim = 0;
    for (size_t i = 0; i < self->nslots; i++) {
        if (self->slots[i].used < self->slots[victim].used)
            victim = i;
        if (self->slots[victim].used == 0)
            break;
    }
    uint8_t *k = self->keys + victim * crypto_box_BEFORENMBYTES;
    sodium_memzero(k, crypto_box_BEFORENMBYTES);
    memcpy(k, key, crypto_box_BEFORENMBYTES);
    memcpy(self->slots[victim].pk, pk, NRM_PK_BYTES);
    memcpy(self->slots[victim].epk, epk, SEAL_EPK);
    self->slots[victim].used = ++self->tick;
}

static int
s_seal2_open(const nrm_keys_t *self, nrm_sealcache_t *cache, const uint8_t *sealed,
             size_t len, uint8_t *out, nrm_err_t *err)
{
    uint8_t epk[SEAL_EPK], nonce[crypto_box_NONCEBYTES], tmp[crypto_box_BEFORENMBYTES];
    const uint8_t *key = NULL;
    int rc = 0;

    memcpy(epk, sealed, SEAL_EPK);
    epk[SEAL_EPK - 1] &= (uint8_t) ~SEAL_FLAG;
    if (cache != NULL)
        key = s_sealcache_find(cache, self->box_pk, epk);
    if (key != NULL) {
        cache->hits++;
    } else {
        if (cache != NULL)
            cache->misses++;
        if (crypto_box_beforenm(tmp, epk, BOX_SK(self)) != 0) {
            rc = nrm_err_set(err, NRM_ECRYPTO, "the sealed body's ephemeral key is not "
                             "usable (a point of small order)");
            goto out;
        }
        key = tmp;
    }
    s_seal2_nonce(epk, self->box_pk, sealed + SEAL_EPK + 1, nonce);
    if (crypto_box_open_easy_afternm(out, sealed + SEAL2_HEADER, len - SEAL2_HEADER, nonce,
                                     key) != 0) {
        rc = nrm_err_set(err, NRM_ECRYPTO, "the sealed body (format %d) does not open with "
                         "this box key: sealed to another key, or its ephemeral key, "
                         "counter or ciphertext was altered", NRM_SEAL2_VERSION);
        goto out;
    }
    if (cache != NULL && key == tmp)
        s_sealcache_put(cache, self->box_pk, epk, tmp);
out:
    sodium_memzero(tmp, sizeof tmp);
    return rc;
}

int
nrm_seal_open(const nrm_keys_t *self, nrm_sealcache_t *cache, const uint8_t *sealed,
              size_t len, uint8_t *out, nrm_err_t *err)
{
    size_t plain_len;
    int rc;

    if (!(self->parts & NRM_KEYS_BOX))
        return nrm_err_set(err, NRM_ECRYPTO, "this key set has no box key");
    rc = nrm_seal_plain_len(sealed, len, &plain_len, err);
    if (rc != 0)
        return rc;
    if ((sealed[SEAL_EPK - 1] & SEAL_FLAG) != 0)
        return s_seal2_open(self, cache, sealed, len, out, err);
    if (crypto_box_seal_open(out, sealed, len, self->box_pk, BOX_SK(self)) != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "the sealed body (format 1) does not open with "
                           "this box key: sealed to another key, or altered");
    return 0;
}

void
nrm_random(uint8_t *buf, size_t len)
{
    randombytes_buf(buf, len);
}

/* Z85 (ZeroMQ RFC 32) for 32-byte keys: 40 characters. */
static const char s_z85[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int
nrm_z85_encode(const uint8_t key[32], char out[41])
{
    size_t o = 0;
    for (size_t i = 0; i < 32; i += 4) {
        uint32_t v = (uint32_t) key[i] << 24 | (uint32_t) key[i + 1] << 16
                     | (uint32_t) key[i + 2] << 8 | key[i + 3];
        for (int d = 4; d >= 0; d--) {
            out[o + (size_t) d] = s_z85[v % 85];
            v /= 85;
        }
        o += 5;
    }
    out[40] = '\0';
    return 0;
}

int
nrm_z85_decode(const char *text, uint8_t key[32])
{
    if (strlen(text) != 40)
        return NRM_EINVAL;
    for (size_t i = 0, o = 0; i < 40; i += 5, o += 4) {
        uint64_t v = 0;
        for (size_t d = 0; d < 5; d++) {
            const char *p = strchr(s_z85, text[i + d]);
            if (!p || !text[i + d])
                return NRM_EINVAL;
            v = v * 85 + (uint64_t) (p - s_z85);
        }
        if (v > 0xffffffffu)
            return NRM_EINVAL;
        key[o] = (uint8_t) (v >> 24);
        key[o + 1] = (uint8_t) (v >> 16);
        key[o + 2] = (uint8_t) (v >> 8);
        key[o + 3] = (uint8_t) v;
    }
    return 0;
}
