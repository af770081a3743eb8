/*  nrm_registry -- certificates of enrolled organisations, the CURVE-key
    index that ZAP uses, and the network's genesis. */
#include "nrm_registry.h"
#include "nrm_crypto.h"
#include "nrm_util.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
nrm_request_verify(const uint8_t *signed_bytes, size_t len, nrm_cert_t *req,
                   uint8_t req_hash[NRM_HASH_BYTES], nrm_err_t *err)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t body_len = 0;
    int rc = nrm_signed_decode(signed_bytes, len, NRM_MAX_CERT_BYTES, &body, &body_len, sig, err);
    if (rc) {
        nrm_err_prefix(err, "enrollment request");
        return rc;
    }
    rc = nrm_request_decode(body, body_len, req, err);
    if (rc == 0 && nrm_verify(req->sign_pk, NRM_CTX_REQUEST, body, body_len, sig) != 0)
        rc = nrm_err_refuse(err, NRM_R_BAD_SIGNATURE,
                            "enrollment request: signature does not verify with the key it carries");
    if (rc == 0)
        nrm_sha256(signed_bytes, len, req_hash);
    free(body);
    return rc;
}

uint32_t
nrm_quorum_count(const nrm_genesis_t *g, const uint8_t *body, size_t len,
                 const nrm_cosig_t *sigs, size_t n, char *why, size_t why_size)
{
    bool counted[NRM_MAX_ADMINS] = { false };
    uint32_t count = 0;
    if (why && why_size)
        why[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char fp[17];
        const char *problem = NULL;
        int who = nrm_genesis_admin(g, sigs[i].signer_pk);
        if (who < 0)
            problem = "is not an administrator of this network";
        else if (counted[who])
            problem = "signed more than once (counted once)";
        else if (nrm_verify(sigs[i].signer_pk, NRM_CTX_CERT, body, len, sigs[i].sig) != 0)
            problem = "signature does not verify";
        if (problem) {
            if (why && why_size && !why[0]) {
                nrm_fingerprint(sigs[i].signer_pk, fp);
                snprintf(why, why_size, "key %s %s", fp, problem);
            }
            continue;
        }
        counted[who] = true;
        count++;
    }
    return count;
}

int
nrm_cert_verify(const uint8_t *body, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                const nrm_cosig_t *cosigs, size_t ncosigs, const nrm_genesis_t *g,
                nrm_cert_t *cert, nrm_err_t *err)
{
    nrm_cosig_t all[NRM_MAX_ADMINS];
    char why[160];
    int rc = nrm_cert_decode(body, len, cert, err);
    if (rc)
        return rc;
    if (nrm_genesis_admin(g, cert->issuer_pk) < 0)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE,
                              "certificate of '%s' was not issued by an administrator of this network",
                              cert->org_id);
    if (ncosigs >= NRM_MAX_ADMINS)
        return nrm_err_refuse(err, NRM_R_TOO_BIG, "certificate of '%s': too many cosignatures",
                              cert->org_id);
    memcpy(all[0].signer_pk, cert->issuer_pk, NRM_PK_BYTES);
    memcpy(all[0].sig, sig, NRM_SIG_BYTES);
    if (ncosigs)
        memcpy(all + 1, cosigs, ncosigs * sizeof *cosigs);
    if (nrm_verify(cert->issuer_pk, NRM_CTX_CERT, body, len, sig) != 0)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE,
                              "certificate of '%s': administrator signature does not verify",
                              cert->org_id);
    uint32_t count = nrm_quorum_count(g, body, len, all, ncosigs + 1, why, sizeof why);
    if (count < g->quorum)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE,
                              "certificate of '%s': %u of the %u administrator signatures needed%s%s",
                              cert->org_id, count, g->quorum, why[0] ? "; " : "", why);
    return 0;
}

int
nrm_cert_verify_signed(const uint8_t *signed_bytes, size_t len, const nrm_genesis_t *g,
                       nrm_cert_t *cert, nrm_err_t *err)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    nrm_cosig_t cosigs[NRM_MAX_ADMINS];
    size_t body_len = 0, n = 0;
    int rc = nrm_signed_decode_cosigs(signed_bytes, len, NRM_MAX_CERT_BYTES, &body, &body_len, sig,
                                      cosigs, &n, err);
    if (rc == 0)
        rc = nrm_cert_verify(body, body_len, sig, cosigs, n, g, cert, err);
    free(body);
    return rc;
}

int
nrm_genesis_verify_signed(const uint8_t *signed_bytes, size_t len, nrm_genesis_t *g,
                          nrm_err_t *err)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t body_len = 0;
    int rc = nrm_signed_decode(signed_bytes, len, NRM_MAX_CERT_BYTES, &body, &body_len, sig, err);
    if (rc == 0)
        rc = nrm_genesis_decode(body, body_len, g, err);
    if (rc == 0 && nrm_verify(g->admin_pk, NRM_CTX_GENESIS, body, body_len, sig) != 0)
        rc = nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "network genesis signature does not verify");
    free(body);
    return rc;
}

const char *
nrm_org_status_name(int status)
{
    return status == NRM_ORG_REVOKED ? "revoked" : status == NRM_ORG_SUSPENDED ? "suspended" : "active";
}

int
nrm_registry_status(nrm_store_t *store, MDB_txn *txn, const char *org_id, nrm_orgstatus_t *st,
                    nrm_err_t *err)
{
    MDB_val v;
    memset(st, 0, sizeof *st);
    int rc = nrm_store_get(store, txn, "orgstatus", org_id, strlen(org_id), &v, err);
    if (rc == NRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    const uint8_t *p = v.mv_data;
    if (v.mv_size < 9 || v.mv_size > 9 + NRM_REASON_MAX || p[0] > NRM_ORG_REVOKED)
        return nrm_err_set(err, NRM_ECORRUPT, "status entry of '%s' is damaged", org_id);
    st->status = p[0];
    st->seq = nrm_be64_get(p + 1);
    memcpy(st->reason, p + 9, v.mv_size - 9);
    st->reason[v.mv_size - 9] = '\0';
    return 0;
}

int
nrm_registry_set_status(nrm_store_t *store, MDB_txn *txn, const char *org_id,
                        const nrm_orgstatus_t *st, nrm_err_t *err)
{
    uint8_t buf[9 + NRM_REASON_MAX];
    size_t n = strnlen(st->reason, NRM_REASON_MAX);
    buf[0] = (uint8_t) st->status;
    nrm_be64_put(buf + 1, st->seq);
    memcpy(buf + 9, st->reason, n);
    return nrm_store_put(store, txn, "orgstatus", org_id, strlen(org_id), buf, 9 + n, 0, err);
}

int
nrm_registry_usable(nrm_store_t *store, MDB_txn *txn, const char *org_id, uint64_t now,
                    nrm_cert_t *cert, nrm_err_t *err)
{
    nrm_cert_t local;
    nrm_orgstatus_t st;
    nrm_cert_t *c = cert ? cert : &local;
    int rc = nrm_registry_find(store, txn, org_id, c, NULL, err);
    if (rc == 0)
        rc = nrm_registry_status(store, txn, org_id, &st, err);
    if (rc)
        return rc;
    return nrm_registry_usable_at(c, &st, now, err);
}

int
nrm_registry_usable_at(const nrm_cert_t *c, const nrm_orgstatus_t *st, uint64_t now, nrm_err_t *err)
{
    const char *org_id = c->org_id;
    if (st->status == NRM_ORG_REVOKED)
        return nrm_err_refuse(err, NRM_R_REVOKED, "organisation '%s' is revoked (record %llu: %s)",
                              org_id, (unsigned long long) st->seq, st->reason);
    if (st->status == NRM_ORG_SUSPENDED)
        return nrm_err_refuse(err, NRM_R_SUSPENDED, "organisation '%s' is suspended (record %llu: %s)",
                              org_id, (unsigned long long) st->seq, st->reason);
    if (now < c->not_before_ms || now >= c->not_after_ms) {
        char a[32], b[32];
        nrm_time_format(c->not_before_ms, a, sizeof a);
        nrm_time_format(c->not_after_ms, b, sizeof b);
        return nrm_err_refuse(err, NRM_R_EXPIRED, "the certificate of '%s' is valid from %s to %s, "
                              "not now", org_id, a, b);
    }
    return 0;
}

/* Decodes the certificate inside Signed bytes from the store. */
static int
s_cert_of(const MDB_val *v, const char *org_id, nrm_cert_t *cert, nrm_err_t *err)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    nrm_cosig_t cosigs[NRM_MAX_ADMINS];
    size_t body_len = 0, n = 0;
    int rc = nrm_signed_decode_cosigs(v->mv_data, v->mv_size, NRM_MAX_CERT_BYTES, &body, &body_len,
                                      sig, cosigs, &n, err);
    if (rc == 0)
        rc = nrm_cert_decode(body, body_len, cert, err);
    free(body);
    if (rc) {
        nrm_err_prefix(err, "registry entry of '%s' is damaged", org_id);
        if (err)
            err->code = NRM_ECORRUPT;
        return NRM_ECORRUPT;
    }
    return 0;
}

int
nrm_registry_old_cert(nrm_store_t *store, MDB_txn *txn, const char *org_id, nrm_cert_t *cert,
                      nrm_err_t *err)
{
    MDB_val v;
    int rc = nrm_store_get(store, txn, "oldcerts", org_id, strlen(org_id), &v, err);
    if (rc)
        return rc;
    return s_cert_of(&v, org_id, cert, err);
}

int
nrm_registry_replace(nrm_store_t *store, MDB_txn *txn, const nrm_cert_t *cert,
                     const uint8_t *signed_bytes, size_t len, nrm_err_t *err)
{
    MDB_val v;
    const char *id = cert->org_id;
    int rc = nrm_store_get(store, txn, "registry", id, strlen(id), &v, err);
    if (rc)
        return rc;
    /* A rotation still in progress ends here: its old key goes. */
    rc = nrm_registry_retire(store, txn, id, err);
    if (rc && rc != NRM_ENOTFOUND)
        return rc;
    if ((rc = nrm_store_get(store, txn, "registry", id, strlen(id), &v, err)))
        return rc;
    if ((rc = nrm_store_put(store, txn, "oldcerts", id, strlen(id), v.mv_data, v.mv_size, 0, err)))
        return rc;
    rc = nrm_store_put(store, txn, "curvekeys", cert->curve_pk, NRM_PK_BYTES, id, strlen(id),
                       MDB_NOOVERWRITE, err);
    if (rc == NRM_EEXIST)
        return nrm_err_set(err, NRM_EEXIST, "the new CURVE key of '%s' is already enrolled", id);
    if (rc)
        return rc;
    return nrm_store_put(store, txn, "registry", id, strlen(id), signed_bytes, len, 0, err);
}

/* Key of a retired certificate in "oldcerts": org id, '/', BE serial. Org
   ids never hold '/', so these keys never meet the plain org id keys. */
static size_t
s_retired_key(uint8_t *key, const char *org_id, uint64_t serial)
{
    size_t n = strlen(org_id);
    memcpy(key, org_id, n);
    key[n] = '/';
    nrm_be64_put(key + n + 1, serial);
    return n + 9;
}

int
nrm_registry_retire(nrm_store_t *store, MDB_txn *txn, const char *org_id, nrm_err_t *err)
{
    nrm_cert_t old;
    MDB_val v;
    uint8_t key[NRM_ID_MAX + 9];
    int rc = nrm_store_get(store, txn, "oldcerts", org_id, strlen(org_id), &v, err);
    if (rc)
        return rc;
    if ((rc = s_cert_of(&v, org_id, &old, err)))
        return rc;
    rc = nrm_store_del(store, txn, "curvekeys", old.curve_pk, NRM_PK_BYTES, err);
    if (rc && rc != NRM_ENOTFOUND)
        return rc;
    /* The certificate is kept for good: a message signed with its key
       and still queued is delivered with it, and a message signed with it
       now is refused as key-retired, not as a bad signature. */
    rc = nrm_store_put(store, txn, "oldcerts", key, s_retired_key(key, org_id, old.serial), v.mv_data,
                       v.mv_size, 0, err);
    if (rc)
        return rc;
    return nrm_store_del(store, txn, "oldcerts", org_id, strlen(org_id), err);
}

/* Whether the certificate in v has a signing key that verifies sig. */
static bool
s_cert_signed(const MDB_val *v, const char *org_id, const char *ctx, const uint8_t *data,
              size_t len, const uint8_t sig[NRM_SIG_BYTES], const nrm_batch_proof_t *proof,
              nrm_cert_t *cert)
{
    nrm_cert_t local;
    nrm_cert_t *c = cert ? cert : &local;
    return s_cert_of(v, org_id, c, NULL) == 0
           && nrm_batch_verify(c->sign_pk, ctx, data, len, sig, proof, NULL) == 0;
}

int
nrm_registry_signer(nrm_store_t *store, MDB_txn *txn, const char *org_id, const char *ctx,
                    const uint8_t *data, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                    const nrm_batch_proof_t *proof, int *which, nrm_cert_t *cert,
                    nrm_bytes_t *signed_bytes, nrm_err_t *err)
{
    MDB_val v, k;
    MDB_cursor *cur;
    uint8_t key[NRM_ID_MAX + 9];
    size_t n = strlen(org_id);
    int rc = nrm_store_get(store, txn, "registry", org_id, n, &v, err);
    if (rc == 0 && s_cert_signed(&v, org_id, ctx, data, len, sig, proof, cert))
        *which = NRM_SIGNER_CURRENT;
    else if (rc == 0 && (rc = nrm_store_get(store, txn, "oldcerts", org_id, n, &v, err)) == 0
             && s_cert_signed(&v, org_id, ctx, data, len, sig, proof, cert))
        *which = NRM_SIGNER_OLD;
    else if (rc && rc != NRM_ENOTFOUND)
        return rc;
    else {
        /* The retired certificates of org_id, oldest first. */
        int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "oldcerts"), &cur);
        if (mrc)
            return nrm_store_lmdb_error(mrc, "oldcerts cursor", err);
        k.mv_size = s_retired_key(key, org_id, 0);
        k.mv_data = key;
        rc = NRM_ENOTFOUND;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size != n + 9 || memcmp(k.mv_data, key, n + 1) != 0)
                break;
            if (s_cert_signed(&v, org_id, ctx, data, len, sig, proof, cert)) {
                *which = NRM_SIGNER_RETIRED;
                rc = 0;
                break;
            }
        }
        mdb_cursor_close(cur);
        if (mrc && mrc != MDB_NOTFOUND)
            return nrm_store_lmdb_error(mrc, "oldcerts walk", err);
        if (rc)
            return nrm_err_set(err, NRM_ENOTFOUND, "no certificate of '%s' has the key that signed",
                               org_id);
    }
    if (signed_bytes) {
        signed_bytes->data = v.mv_data;
        signed_bytes->len = v.mv_size;
    }
    return 0;
}

int
nrm_registry_add(nrm_store_t *store, MDB_txn *txn, const nrm_cert_t *cert,
                 const uint8_t *signed_bytes, size_t len, nrm_err_t *err)
{
    int rc = nrm_store_put(store, txn, "curvekeys", cert->curve_pk, NRM_PK_BYTES,
                           cert->org_id, strlen(cert->org_id), MDB_NOOVERWRITE, err);
    if (rc == NRM_EEXIST)
        return nrm_err_set(err, NRM_EEXIST, "the CURVE key of '%s' is already enrolled", cert->org_id);
    if (rc)
        return rc;
    rc = nrm_store_put(store, txn, "registry", cert->org_id, strlen(cert->org_id),
                       signed_bytes, len, MDB_NOOVERWRITE, err);
    if (rc == NRM_EEXIST)
        return nrm_err_set(err, NRM_EEXIST, "organisation '%s' is already enrolled", cert->org_id);
    return rc;
}

int
nrm_registry_find(nrm_store_t *store, MDB_txn *txn, const char *org_id, nrm_cert_t *cert,
                  nrm_bytes_t *signed_bytes, nrm_err_t *err)
{
    MDB_val v;
    int rc = nrm_store_get(store, txn, "registry", org_id, strlen(org_id), &v, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, NRM_ENOTFOUND, "organisation '%s' is not enrolled", org_id);
    if (rc)
        return rc;
    if (signed_bytes) {
        signed_bytes->data = v.mv_data;
        signed_bytes->len = v.mv_size;
    }
    if (cert)
        return s_cert_of(&v, org_id, cert, err);
    return 0;
}

int
nrm_registry_find_curve(nrm_store_t *store, MDB_txn *txn, const uint8_t curve_pk[NRM_PK_BYTES],
                        char org_id[NRM_ID_MAX + 1], nrm_err_t *err)
{
    MDB_val v;
    int rc = nrm_store_get(store, txn, "curvekeys", curve_pk, NRM_PK_BYTES, &v, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, NRM_ENOTFOUND, "CURVE key is not enrolled");
    if (rc)
        return rc;
    if (v.mv_size == 0 || v.mv_size > NRM_ID_MAX)
        return nrm_err_set(err, NRM_ECORRUPT, "CURVE key index entry of %zu bytes", v.mv_size);
    memcpy(org_id, v.mv_data, v.mv_size);
    org_id[v.mv_size] = '\0';
    return 0;
}

int
nrm_registry_each(nrm_store_t *store, MDB_txn *txn, nrm_registry_fn *fn, void *ctx, nrm_err_t *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    char id[NRM_ID_MAX + 1];
    int rc = 0;
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "registry"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "registry cursor", err);
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size == 0 || k.mv_size > NRM_ID_MAX)
            continue;
        memcpy(id, k.mv_data, k.mv_size);
        id[k.mv_size] = '\0';
        nrm_bytes_t b = { v.mv_data, v.mv_size };
        rc = fn(ctx, id, b);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    if (rc)
        return rc < 0 ? rc : 0;
    if (mrc != MDB_NOTFOUND)
        return nrm_store_lmdb_error(mrc, "registry walk", err);
    return 0;
}

typedef struct {
    nrm_store_t *store;
    MDB_txn *txn;
    nrm_registry_fn *fn;
    void *ctx;
    crypto_hash_sha256_state h;
    size_t n;
} s_dir_t;

static int
s_dir_entry(void *vctx, const char *org_id, nrm_bytes_t signed_bytes)
{
    s_dir_t *d = vctx;
    nrm_orgstatus_t st;
    uint8_t idlen = (uint8_t) strlen(org_id);
    uint8_t be[4] = { (uint8_t) (signed_bytes.len >> 24), (uint8_t) (signed_bytes.len >> 16),
                      (uint8_t) (signed_bytes.len >> 8), (uint8_t) signed_bytes.len };
    if (d->n >= NRM_MAX_CERTS)
        return 1;
    /* A revoked organisation leaves the directory: nobody seals to it. */
    if (nrm_registry_status(d->store, d->txn, org_id, &st, NULL) == 0 && st.status == NRM_ORG_REVOKED)
        return 0;
    crypto_hash_sha256_update(&d->h, &idlen, 1);
    crypto_hash_sha256_update(&d->h, (const uint8_t *) org_id, idlen);
    crypto_hash_sha256_update(&d->h, be, sizeof be);
    crypto_hash_sha256_update(&d->h, signed_bytes.data, signed_bytes.len);
    d->n++;
    return d->fn ? d->fn(d->ctx, org_id, signed_bytes) : 0;
}

int
nrm_registry_directory(nrm_store_t *store, MDB_txn *txn, nrm_registry_fn *fn, void *ctx,
                       uint8_t digest[NRM_HASH_BYTES], size_t *count, nrm_err_t *err)
{
    static const char tag[] = "nrmbus directory v1\n";
    s_dir_t d = { .store = store, .txn = txn, .fn = fn, .ctx = ctx };
    crypto_hash_sha256_init(&d.h);
    crypto_hash_sha256_update(&d.h, (const uint8_t *) tag, sizeof tag - 1);
    int rc = nrm_registry_each(store, txn, s_dir_entry, &d, err);
    if (rc == 0 && digest)
        crypto_hash_sha256_final(&d.h, digest);
    if (count)
        *count = d.n;
    return rc;
}

int
nrm_registry_set_genesis(nrm_store_t *store, MDB_txn *txn, const uint8_t *signed_bytes,
                         size_t len, nrm_err_t *err)
{
    int rc = nrm_store_put(store, txn, "netmeta", "genesis", 7, signed_bytes, len,
                           MDB_NOOVERWRITE, err);
    if (rc == NRM_EEXIST)
        return nrm_err_set(err, NRM_EEXIST, "this network already has a genesis");
    return rc;
}

int
nrm_registry_genesis(nrm_store_t *store, MDB_txn *txn, nrm_genesis_t *g, nrm_err_t *err)
{
    MDB_val v;
    int rc = nrm_store_get(store, txn, "netmeta", "genesis", 7, &v, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, NRM_ENOTFOUND, "no network genesis: run nrm-admin init first");
    if (rc)
        return rc;
    if (nrm_genesis_verify_signed(v.mv_data, v.mv_size, g, err) != 0) {
        nrm_err_prefix(err, "network genesis");
        if (err)
            err->code = NRM_ECORRUPT;
        return NRM_ECORRUPT;
    }
    return 0;
}
