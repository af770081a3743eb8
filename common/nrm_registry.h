/*  nrm_registry -- enrolled organisations, in the broker's LMDB.

    Database "registry": org id -> Signed{Certificate} bytes (with the
    cosignatures of the quorum).
    Database "curvekeys": CURVE public key (32 bytes) -> org id, for ZAP.
    Database "orgstatus": org id -> status (suspended or revoked; absent
    means active), the record that set it and its reason.
    Database "pending": org id -> a request waiting for approvals.
    Database "oldcerts": org id -> the certificate a rotation replaced,
    while its key is still accepted; org id '/' serial -> a certificate
    whose key was retired, kept for the messages it signed.
    Database "netmeta": "genesis" -> Signed{Genesis} bytes; "policy" ->
    the routing policy in force (version, record, exact text); "action/"
    || SHA-256 of an applied AdminAction -> BE seq of its record. */
#ifndef NRM_REGISTRY_H_INCLUDED
#define NRM_REGISTRY_H_INCLUDED
#include "nrm_store.h"
#include "nrm_codec.h"

#define NRM_REGISTRY_DBS "registry", "curvekeys", "netmeta", "orgstatus", "pending", "oldcerts"

/* Every database of the broker's store (NET/data), for nrm_store_open by
   the broker and by the tools that open its folder. "msgids": message id
   -> decision and receipt; "queue": recipient NUL seq -> message id;
   "bodies": message id -> sealed body until delivered or purged; "expiry":
   be64 ACCEPTED seq -> be64 accepted ms || message id, one entry per body
   still held, in acceptance order, for the retention timer. */
#define NRM_BROKER_DBS NRM_AUDITLOG_DBS, NRM_REGISTRY_DBS, "msgids", "queue", "bodies", \
    "expiry", NRM_LIFECYCLE_DBS
/* Referral lifecycle (broker/broker_referrals.h): "referrals", "deadlines",
   "cases", "notices". */
#define NRM_LIFECYCLE_DBS "referrals", "deadlines", "cases", "notices"

/* Verifies a signed enrollment request (signature by its own sign key,
   fields valid). Outputs the request and SHA-256 of the signed bytes. */
int nrm_request_verify(const uint8_t *signed_bytes, size_t len, nrm_cert_t *req,
                       uint8_t req_hash[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;
/* Counts the distinct administrators of g whose signature over
   NRM_CTX_CERT || body is among sigs (n signer/signature pairs). A key
   outside g, a bad signature or a key counted before adds nothing; the
   first such problem is described in why (may be NULL, >= 160 bytes). */
uint32_t nrm_quorum_count(const nrm_genesis_t *g, const uint8_t *body, size_t len,
                          const nrm_cosig_t *sigs, size_t n, char *why, size_t why_size);

/* Decodes a Signed{Certificate} and checks that it is issued by an
   administrator of g and signed by at least g->quorum distinct ones. */
int nrm_cert_verify_signed(const uint8_t *signed_bytes, size_t len, const nrm_genesis_t *g,
                           nrm_cert_t *cert, nrm_err_t *err) NRM_WUR;
/* Same, with body, issuer signature and cosignatures apart. */
int nrm_cert_verify(const uint8_t *body, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                    const nrm_cosig_t *cosigs, size_t ncosigs, const nrm_genesis_t *g,
                    nrm_cert_t *cert, nrm_err_t *err) NRM_WUR;
/* Decodes a Signed{Genesis} and checks its signature by its admin_pk. */
int nrm_genesis_verify_signed(const uint8_t *signed_bytes, size_t len, nrm_genesis_t *g,
                              nrm_err_t *err) NRM_WUR;

/* Status of an organisation (database "orgstatus"). */
enum { NRM_ORG_ACTIVE = 0, NRM_ORG_SUSPENDED = 1, NRM_ORG_REVOKED = 2 };
typedef struct {
    int      status;                        /* NRM_ORG_* */
    uint64_t seq;                           /* record that set it (0: never) */
    char     reason[NRM_REASON_MAX + 1];
} nrm_orgstatus_t;
const char *nrm_org_status_name(int status);
int nrm_registry_status(nrm_store_t *store, MDB_txn *txn, const char *org_id,
                        nrm_orgstatus_t *st, nrm_err_t *err) NRM_WUR;
int nrm_registry_set_status(nrm_store_t *store, MDB_txn *txn, const char *org_id,
                            const nrm_orgstatus_t *st, nrm_err_t *err) NRM_WUR;

/* Whether org_id may send or receive now: enrolled, certificate valid at
   now, neither suspended nor revoked. Returns 0 and fills cert (may be
   NULL), or NRM_ENOTFOUND / NRM_EINVAL with err->reason NRM_R_REVOKED,
   NRM_R_SUSPENDED or NRM_R_EXPIRED and the reason in err->msg. */
int nrm_registry_usable(nrm_store_t *store, MDB_txn *txn, const char *org_id, uint64_t now,
                        nrm_cert_t *cert, nrm_err_t *err) NRM_WUR;

/* The same decision from a certificate and a status already read (the
   broker keeps them per organisation between registry changes). */
int nrm_registry_usable_at(const nrm_cert_t *cert, const nrm_orgstatus_t *st, uint64_t now,
                           nrm_err_t *err) NRM_WUR;

/* The certificate a rotation replaced (database "oldcerts"), while its key
   is still accepted: NRM_ENOTFOUND when there is none. */
int nrm_registry_old_cert(nrm_store_t *store, MDB_txn *txn, const char *org_id,
                          nrm_cert_t *cert, nrm_err_t *err) NRM_WUR;

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

/* The directory the broker sends in a Welcome: the certificates of every
   organisation that is not revoked (expired and suspended ones too), in id
   order, at most NRM_MAX_CERTS. Calls fn (may be NULL) for each, and
   writes into digest (may be NULL) the SHA-256 that names this directory:
   over "nrmbus directory v1\n", then per entry the id's length (1 byte),
   the id, the signed bytes' length (4 bytes, big-endian) and the signed
   bytes as stored. Equal digests mean equal Welcome certificates; any
   enrolment, rotation or revocation changes it. *count (may be NULL): the
   entries. */
int nrm_registry_directory(nrm_store_t *store, MDB_txn *txn, nrm_registry_fn *fn, void *ctx,
                           uint8_t digest[NRM_HASH_BYTES], size_t *count,
                           nrm_err_t *err) NRM_WUR;

/* Replaces a certificate after a rotation: the old one moves to
   "oldcerts" (its CURVE key stays admitted), the new one takes its place. */
int nrm_registry_replace(nrm_store_t *store, MDB_txn *txn, const nrm_cert_t *cert,
                         const uint8_t *signed_bytes, size_t len, nrm_err_t *err) NRM_WUR;
/* Ends a rotation: drops the old certificate's CURVE key and keeps the
   certificate for good among the retired ones ("oldcerts" key: org id,
   '/', big-endian serial). */
int nrm_registry_retire(nrm_store_t *store, MDB_txn *txn, const char *org_id,
                        nrm_err_t *err) NRM_WUR;
/* Finds the certificate of org_id whose signing key made sig over
   ctx || data (directly, or through batch proof when it is not NULL and
   of size > 0: nrm_batch_verify): the one in force (*which = NRM_SIGNER_CURRENT), a
   rotation's old one still accepted (NRM_SIGNER_OLD) or a retired one
   (NRM_SIGNER_RETIRED). cert and signed bytes (borrowed until txn ends)
   may be NULL. NRM_ENOTFOUND when none verifies. */
enum { NRM_SIGNER_CURRENT = 0, NRM_SIGNER_OLD = 1, NRM_SIGNER_RETIRED = 2 };
int nrm_registry_signer(nrm_store_t *store, MDB_txn *txn, const char *org_id, const char *ctx,
                        const uint8_t *data, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                        const nrm_batch_proof_t *proof, int *which, nrm_cert_t *cert,
                        nrm_bytes_t *signed_bytes, nrm_err_t *err) NRM_WUR;

/* Network genesis (admin and broker keys). */
int nrm_registry_set_genesis(nrm_store_t *store, MDB_txn *txn,
                             const uint8_t *signed_bytes, size_t len, nrm_err_t *err) NRM_WUR;
int nrm_registry_genesis(nrm_store_t *store, MDB_txn *txn, nrm_genesis_t *g,
                         nrm_err_t *err) NRM_WUR;

#endif
