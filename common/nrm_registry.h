/*  nrm_registry -- enrolled organisations, in the broker's LMDB.

    Database "registry": org id -> Signed{Certificate} bytes.
    Database "curvekeys": CURVE public key (32 bytes) -> org id, for ZAP.
    Database "netmeta": "genesis" -> Signed{Genesis} bytes. */
#ifndef NRM_REGISTRY_H_INCLUDED
#define NRM_REGISTRY_H_INCLUDED
#include "nrm_store.h"
#include "nrm_codec.h"

#define NRM_REGISTRY_DBS "registry", "curvekeys", "netmeta"

/* Every database of the broker's store (NET/data), for nrm_store_open by
   the broker and by the tools that open its folder. "msgids": message id
   -> decision and receipt; "queue": recipient NUL seq -> message id;
   "bodies": message id -> sealed body until delivered. */
#define NRM_BROKER_DBS NRM_AUDITLOG_DBS, NRM_REGISTRY_DBS, "msgids", "queue", "bodies", \
    NRM_LIFECYCLE_DBS
/* Referral lifecycle (broker/broker_referrals.h): "referrals", "deadlines",
   "cases", "notices". */
#define NRM_LIFECYCLE_DBS "referrals", "deadlines", "cases", "notices"

/* Verifies a signed enrollment request (signature by its own sign key,
   fields valid). Outputs the request and SHA-256 of the signed bytes. */
int nrm_request_verify(const uint8_t *signed_bytes, size_t len, nrm_cert_t *req,
                       uint8_t req_hash[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;
/* Decodes a Signed{Certificate} and checks the signature with admin_pk. */
int nrm_cert_verify_signed(const uint8_t *signed_bytes, size_t len,
                           const uint8_t admin_pk[NRM_PK_BYTES], nrm_cert_t *cert,
                           nrm_err_t *err) NRM_WUR;
/* Same, with body and signature apart. */
int nrm_cert_verify(const uint8_t *body, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                    const uint8_t admin_pk[NRM_PK_BYTES], nrm_cert_t *cert,
                    nrm_err_t *err) NRM_WUR;

/* Adds a certificate (already verified) inside txn; NRM_EEXIST if the id or
   CURVE key is taken. */
int nrm_registry_add(nrm_store_t *store, MDB_txn *txn, const nrm_cert_t *cert,
                     const uint8_t *signed_bytes, size_t len, nrm_err_t *err) NRM_WUR;
/* Finds by id; cert and/or signed bytes (borrowed until txn ends) may be NULL. */
int nrm_registry_find(nrm_store_t *store, MDB_txn *txn, const char *org_id,
                      nrm_cert_t *cert, nrm_bytes_t *signed_bytes, nrm_err_t *err) NRM_WUR;
/* Finds the org id bound to a CURVE key. */
int nrm_registry_find_curve(nrm_store_t *store, MDB_txn *txn,
                            const uint8_t curve_pk[NRM_PK_BYTES],
                            char org_id[NRM_ID_MAX + 1], nrm_err_t *err) NRM_WUR;
/* Calls fn for every certificate (signed bytes borrowed). */
typedef int (nrm_registry_fn)(void *ctx, const char *org_id, nrm_bytes_t signed_bytes);
int nrm_registry_each(nrm_store_t *store, MDB_txn *txn, nrm_registry_fn *fn,
                      void *ctx, nrm_err_t *err) NRM_WUR;

/* Network genesis (admin and broker keys). */
int nrm_registry_set_genesis(nrm_store_t *store, MDB_txn *txn,
                             const uint8_t *signed_bytes, size_t len, nrm_err_t *err) NRM_WUR;
int nrm_registry_genesis(nrm_store_t *store, MDB_txn *txn, nrm_genesis_t *g,
                         nrm_err_t *err) NRM_WUR;

#endif
