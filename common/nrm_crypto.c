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

int
nrm_seal(const uint8_t recipient_box_pk[NRM_PK_BYTES], const uint8_t *plain,
         size_t len, uint8_t *out)
{
    return crypto_box_seal(out, plain, len, recipient_box_pk) == 0 ? 0 : NRM_ECRYPTO;
}

int
nrm_seal_open(const nrm_keys_t *self, const uint8_t *sealed, size_t len, uint8_t *out)
{
    if (!(self->parts & NRM_KEYS_BOX) || len < NRM_SEAL_OVERHEAD)
        return NRM_ECRYPTO;
    return crypto_box_seal_open(out, sealed, len, self->box_pk, BOX_SK(self)) == 0
               ? 0 : NRM_ECRYPTO;
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
