/*  agent_verify -- checks of deliveries, receipts and certificates, and
    the cache of verified certificates. */
#include "agent_verify.h"
#include "agent_docs.h"
#include "nrm_registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

/* Sets the refusal of a delivery; returns false so checks read
   `if (...) return s_refuse(...)`. */
static bool s_refuse(agent_delivery_t *d, uint32_t status, const char *fmt, ...)
    NRM_PRINTF(3, 4);

static bool
s_refuse(agent_delivery_t *d, uint32_t status, const char *fmt, ...)
{
    va_list ap;

    d->status = status;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
    return false;
}

int
agent_cert_check(const nrm_signed_view_t *v, const nrm_genesis_t *g,
                 nrm_cert_t *cert, nrm_err_t *err)
{
    if (v->sig.len != NRM_SIG_BYTES || v->sig.data == NULL)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE,
                              "certificate signature has %zu bytes, not %d",
                              v->sig.len, NRM_SIG_BYTES);
    if (v->body.len == 0 || v->body.len > NRM_MAX_CERT_BYTES || v->body.data == NULL)
        return nrm_err_refuse(err, NRM_R_TOO_BIG, "certificate of %zu bytes (cap %u)",
                              v->body.len, NRM_MAX_CERT_BYTES);
    return nrm_cert_verify(v->body.data, v->body.len, v->sig.data, v->cosigs, v->ncosigs, g, cert, err);
}

/* ---- the cache of verified certificates ---- */

#define S_WAYS 4

typedef struct {
    uint8_t    key[NRM_HASH_BYTES];
    uint64_t   used;               /* 0: empty; else the cache's clock */
    nrm_cert_t cert;
} s_slot_t;

struct agent_certcache_t {
    size_t   nsets;
    uint64_t clock;
    agent_certcache_stats_t stats;
    s_slot_t slots[];              /* nsets * S_WAYS */
};

agent_certcache_t *
agent_certcache_new(size_t slots)
{
    size_t nsets = slots / S_WAYS > 0 ? slots / S_WAYS : 1;
    agent_certcache_t *self = calloc(1, sizeof *self + nsets * S_WAYS * sizeof(s_slot_t));

    if (self != NULL)
        self->nsets = nsets;
    return self;
}

void
agent_certcache_destroy(agent_certcache_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free(*self_p);
    *self_p = NULL;
}

agent_certcache_stats_t
agent_certcache_stats(const agent_certcache_t *self)
{
    agent_certcache_stats_t none = { 0, 0 };
    return self != NULL ? self->stats : none;
}

/* Starts the key of an entry: what it was checked against (the
   administrators and quorum of g) and which form of the certificate. */
static void
s_key_begin(crypto_hash_sha256_state *st, const char *form, const nrm_genesis_t *g)
{
    uint8_t n[8];

    crypto_hash_sha256_init(st);
    crypto_hash_sha256_update(st, (const uint8_t *) form, strlen(form) + 1);
    nrm_be64_put(n, ((uint64_t) g->quorum << 32) | g->nadmins);
    crypto_hash_sha256_update(st, n, sizeof n);
    crypto_hash_sha256_update(st, &g->admin_sign_pks[0][0],
                              (size_t) (g->nadmins <= NRM_MAX_ADMINS ? g->nadmins
                                                                     : NRM_MAX_ADMINS)
                              * NRM_PK_BYTES);
}

/* Adds len-prefixed bytes to a key. */
static void
s_key_add(crypto_hash_sha256_state *st, const uint8_t *data, size_t len)
{
    uint8_t n[8];

    nrm_be64_put(n, len);
    crypto_hash_sha256_update(st, n, sizeof n);
    if (len > 0)
        crypto_hash_sha256_update(st, data, len);
}

static s_slot_t *
s_set(agent_certcache_t *self, const uint8_t key[NRM_HASH_BYTES])
{
    uint64_t h = nrm_be64_get(key);
    return &self->slots[(h % self->nsets) * S_WAYS];
}

/* The cached certificate of key, or NULL. */
static const nrm_cert_t *
s_lookup(agent_certcache_t *self, const uint8_t key[NRM_HASH_BYTES])
{
    s_slot_t *set = s_set(self, key);

    for (size_t i = 0; i < S_WAYS; i++)
        if (set[i].used != 0 && sodium_memcmp(set[i].key, key, NRM_HASH_BYTES) == 0) {
            set[i].used = ++self->clock;
            self->stats.hits++;
            return &set[i].cert;
        }
    self->stats.misses++;
    return NULL;
}

static void
s_insert(agent_certcache_t *self, const uint8_t key[NRM_HASH_BYTES], const nrm_cert_t *cert)
{
    s_slot_t *set = s_set(self, key), *victim = &set[0];

    for (size_t i = 1; i < S_WAYS; i++)
        if (set[i].used < victim->used)
            victim = &set[i];
    memcpy(victim->key, key, NRM_HASH_BYTES);
    victim->cert = *cert;
    victim->used = ++self->clock;
}

int
agent_cert_check_cached(agent_certcache_t *cache, const nrm_signed_view_t *v,
                        const nrm_genesis_t *g, nrm_cert_t *cert, nrm_err_t *err)
{
    crypto_hash_sha256_state st;
    uint8_t key[NRM_HASH_BYTES], n[8];
    const nrm_cert_t *hit;
    int rc;

    if (cache == NULL)
        return agent_cert_check(v, g, cert, err);
    s_key_begin(&st, "view", g);
    s_key_add(&st, v->body.data, v->body.len);
    s_key_add(&st, v->sig.data, v->sig.len);
    nrm_be64_put(n, v->ncosigs);
    crypto_hash_sha256_update(&st, n, sizeof n);
    for (size_t i = 0; i < v->ncosigs; i++) {
        crypto_hash_sha256_update(&st, v->cosigs[i].signer_pk, NRM_PK_BYTES);
        crypto_hash_sha256_update(&st, v->cosigs[i].sig, NRM_SIG_BYTES);
    }
    crypto_hash_sha256_final(&st, key);
    hit = s_lookup(cache, key);
    if (hit != NULL) {
        *cert = *hit;
        return 0;
    }
    rc = agent_cert_check(v, g, cert, err);
    if (rc == 0)
        s_insert(cache, key, cert);
    return rc;
}

int
agent_cert_verify_signed(agent_certcache_t *cache, const uint8_t *signed_bytes, size_t len,
                         const nrm_genesis_t *g, nrm_cert_t *cert, nrm_err_t *err)
{
    crypto_hash_sha256_state st;
    uint8_t key[NRM_HASH_BYTES];
    const nrm_cert_t *hit;
    int rc;

    if (cache == NULL)
        return nrm_cert_verify_signed(signed_bytes, len, g, cert, err);
    s_key_begin(&st, "signed", g);
    s_key_add(&st, signed_bytes, len);
    crypto_hash_sha256_final(&st, key);
    hit = s_lookup(cache, key);
    if (hit != NULL) {
        *cert = *hit;
        return 0;
    }
    rc = nrm_cert_verify_signed(signed_bytes, len, g, cert, err);
    if (rc == 0)
        s_insert(cache, key, cert);
    return rc;
}

/* ---- deliveries ---- */

static bool
s_check(const nrm_wire_t *w, const char *own_id, const nrm_keys_t *const *keys, size_t nkeys,
        const nrm_genesis_t *g, agent_certcache_t *certs, nrm_sealcache_t *seals,
        agent_delivery_t *d)
{
    nrm_err_t err = { 0 };
    uint8_t *plain = NULL;
    size_t plain_len;
    bool ok;

    if (nrm_envelope_decode(w->envelope.data, w->envelope.len, &d->env, &err) != 0)
        return s_refuse(d, err.reason != 0 ? err.reason : NRM_R_MALFORMED,
                        "envelope does not decode: %s", err.msg);
    d->has_env = true;

    if (agent_cert_check_cached(certs, &w->signed_obj, g, &d->cert, &err) != 0)
        return s_refuse(d, err.reason != 0 ? err.reason : NRM_R_BAD_SIGNATURE,
                        "sender certificate does not verify against the "
                        "administrator key: %s", err.msg);
    d->has_cert = true;
    if ((d->cert.not_before_ms != 0 && d->env.created_ms < d->cert.not_before_ms)
        || (d->cert.not_after_ms != 0 && d->env.created_ms > d->cert.not_after_ms))
        return s_refuse(d, NRM_R_UNKNOWN_SENDER, "sender certificate (serial %llu) "
                        "was not valid when the envelope was created",
                        (unsigned long long) d->cert.serial);
    if (strcmp(d->cert.org_id, d->env.sender) != 0)
        return s_refuse(d, NRM_R_SENDER_MISMATCH, "envelope sender '%s' is not the "
                        "certificate's organisation '%s'", d->env.sender, d->cert.org_id);

    if (w->signature.len != NRM_SIG_BYTES || w->signature.data == NULL)
        return s_refuse(d, NRM_R_BAD_SIGNATURE, "envelope signature has %zu bytes, not %d",
                        w->signature.len, NRM_SIG_BYTES);
    if (nrm_batch_verify(d->cert.sign_pk, NRM_CTX_ENVELOPE, w->envelope.data, w->envelope.len,
                         w->signature.data, &w->batch, &err) != 0)
        return s_refuse(d, NRM_R_BAD_SIGNATURE, "envelope signature does not verify "
                        "with the sign key of '%s': %s", d->cert.org_id, err.msg);

    if (strcmp(d->env.recipient, own_id) != 0)
        return s_refuse(d, NRM_R_UNKNOWN_RECIPIENT, "envelope is addressed to '%s', "
                        "not to this organisation '%s'", d->env.recipient, own_id);
    if (w->sealed_body.len != d->env.body_size)
        return s_refuse(d, NRM_R_BODY_MISMATCH, "sealed body has %zu bytes, the "
                        "envelope says %u", w->sealed_body.len, d->env.body_size);
    if (memcmp(d->body_hash, d->env.body_hash, NRM_HASH_BYTES) != 0)
        return s_refuse(d, NRM_R_BODY_MISMATCH, "SHA-256 of the sealed body differs "
                        "from the envelope's body_hash");
    if (w->sealed_body.len > NRM_MAX_BODY_BYTES)
        return s_refuse(d, NRM_R_BODY_MISMATCH, "sealed body of %zu bytes is over the "
                        "limit of %u", w->sealed_body.len, NRM_MAX_BODY_BYTES);
    if (nrm_seal_plain_len(w->sealed_body.data, w->sealed_body.len, &plain_len, &err) != 0)
        return s_refuse(d, NRM_R_BODY_MISMATCH, "%s", err.msg);

    plain = malloc(plain_len + 1);
    if (plain == NULL)
        return s_refuse(d, NRM_R_INTERNAL, "out of memory opening the body");
    if (agent_seal_open(keys, nkeys, seals, w->sealed_body.data, w->sealed_body.len, plain,
                        &err) != 0) {
        ok = s_refuse(d, NRM_R_BODY_MISMATCH, "%s", err.msg);
        goto out;
    }
    /* lifecycle (issue 4): the body fits its type's schema and agrees
       with the clear metadata (agent_docs.c) */
    if (agent_doc_check_body(&d->env, plain, plain_len, &err) != 0) {
        ok = s_refuse(d, err.reason ? err.reason : NRM_R_INVALID_FIELD, "%s", err.msg);
        goto out;
    }
    ok = true;
out:
    explicit_bzero(plain, plain_len + 1);
    free(plain);
    return ok;
}

int
agent_seal_open(const nrm_keys_t *const *keys, size_t nkeys, nrm_sealcache_t *seals,
                const uint8_t *sealed, size_t len, uint8_t *out, nrm_err_t *err)
{
    nrm_err_t first = { 0, 0, "" };

    for (size_t i = 0; i < nkeys; i++) {
        nrm_err_t e = { 0, 0, "" };
        if (nrm_seal_open(keys[i], seals, sealed, len, out, &e) == 0)
            return 0;
        if (i == 0)
            first = e;
    }
    if (nkeys == 0)
        return nrm_err_set(err, NRM_ECRYPTO, "no box key to open the sealed body with");
    /* The current key's reason: the others fail the same way or were
       retired (a format error is the same for every key). */
    return nrm_err_set(err, NRM_ECRYPTO, "%s%s", first.msg,
                       nkeys > 1 ? " (nor with a key set a rotation replaced)" : "");
}

void
agent_delivery_check_cached(const nrm_wire_t *w, const char *own_id,
                            const nrm_keys_t *const *keys, size_t nkeys, const nrm_genesis_t *g,
                            agent_certcache_t *certs, nrm_sealcache_t *seals,
                            agent_delivery_t *out)
{
    memset(out, 0, sizeof *out);
    nrm_sha256(w->sealed_body.data, w->sealed_body.len, out->body_hash);
    if (s_check(w, own_id, keys, nkeys, g, certs, seals, out))
        out->status = NRM_R_OK;
}

void
agent_delivery_check(const nrm_wire_t *w, const char *own_id, const nrm_keys_t *const *keys,
                     size_t nkeys, const nrm_genesis_t *g, agent_delivery_t *out)
{
    agent_delivery_check_cached(w, own_id, keys, nkeys, g, NULL, NULL, out);
}

int
agent_receipt_check(const nrm_wire_t *w, const uint8_t broker_pk[NRM_PK_BYTES],
                    nrm_receipt_t *r, nrm_err_t *err)
{
    const nrm_signed_view_t *v = &w->signed_obj;

    memset(r, 0, sizeof *r);
    if (v->sig.len != NRM_SIG_BYTES || v->sig.data == NULL)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE,
                              "receipt signature has %zu bytes, not %d",
                              v->sig.len, NRM_SIG_BYTES);
    if (v->body.data == NULL || v->body.len == 0)
        return nrm_err_refuse(err, NRM_R_MALFORMED, "receipt body is empty");
    nrm_err_t why = { 0, 0, "" };
    if (nrm_batch_verify(broker_pk, NRM_CTX_RECEIPT, v->body.data, v->body.len,
                         v->sig.data, &w->batch, &why) != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "receipt signature does not verify with "
                           "the broker's sign key (connect.ini sign_public): %s", why.msg);
    return nrm_receipt_decode(v->body.data, v->body.len, r, err);
}
