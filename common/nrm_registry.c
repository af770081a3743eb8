/*  nrm_registry -- certificates of enrolled organisations, the CURVE-key
    index that ZAP uses, and the network's genesis. */
#include "nrm_registry.h"
#include "nrm_crypto.h"
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

int
nrm_cert_verify(const uint8_t *body, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                const uint8_t admin_pk[NRM_PK_BYTES], nrm_cert_t *cert, nrm_err_t *err)
{
    int rc = nrm_cert_decode(body, len, cert, err);
    if (rc)
        return rc;
    if (memcmp(cert->issuer_pk, admin_pk, NRM_PK_BYTES) != 0)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE,
                              "certificate of '%s' was not issued by this network's administrator",
                              cert->org_id);
    if (nrm_verify(admin_pk, NRM_CTX_CERT, body, len, sig) != 0)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE,
                              "certificate of '%s': administrator signature does not verify",
                              cert->org_id);
    return 0;
}

int
nrm_cert_verify_signed(const uint8_t *signed_bytes, size_t len,
                       const uint8_t admin_pk[NRM_PK_BYTES], nrm_cert_t *cert, nrm_err_t *err)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t body_len = 0;
    int rc = nrm_signed_decode(signed_bytes, len, NRM_MAX_CERT_BYTES, &body, &body_len, sig, err);
    if (rc == 0)
        rc = nrm_cert_verify(body, body_len, sig, admin_pk, cert, err);
    free(body);
    return rc;
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
    if (cert) {
        uint8_t *body = NULL, sig[NRM_SIG_BYTES];
        size_t body_len = 0;
        rc = nrm_signed_decode(v.mv_data, v.mv_size, NRM_MAX_CERT_BYTES, &body, &body_len, sig, err);
        if (rc == 0)
            rc = nrm_cert_decode(body, body_len, cert, err);
        free(body);
        if (rc)
            return nrm_err_set(err, NRM_ECORRUPT, "registry entry of '%s' is damaged: %s",
                               org_id, err ? err->msg : "");
    }
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
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t body_len = 0;
    int rc = nrm_store_get(store, txn, "netmeta", "genesis", 7, &v, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, NRM_ENOTFOUND, "no network genesis: run nrm-admin init first");
    if (rc)
        return rc;
    rc = nrm_signed_decode(v.mv_data, v.mv_size, NRM_MAX_CERT_BYTES, &body, &body_len, sig, err);
    if (rc == 0)
        rc = nrm_genesis_decode(body, body_len, g, err);
    if (rc == 0 && nrm_verify(g->admin_pk, NRM_CTX_GENESIS, body, body_len, sig) != 0)
        rc = nrm_err_set(err, NRM_ECORRUPT, "network genesis signature does not verify");
    free(body);
    return rc;
}
