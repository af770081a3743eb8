/*  nrm_regadmin -- registry and policy changes signed by administrators:
    enrollment requests, approvals counted to the quorum, revocation,
    suspension, key rotation, routing policy. One function decides and
    applies a signed AdminAction inside a write transaction; the broker
    (admin endpoint) and nrm-admin (offline, on a stopped broker's folder)
    both call it, so both paths keep the same rules.

    Every accepted action is an audit record of the action's kind whose
    subject is the exact AdminAction bytes and whose signature is its
    administrator's; a quorum met adds an ENROLLED or ROTATED record. A
    refused action writes nothing (the broker's admin endpoint and nrm-admin
    on a stopped broker's folder then log ADMIN_REFUSED with
    nrm_regadmin_refused). */
#ifndef NRM_REGADMIN_H_INCLUDED
#define NRM_REGADMIN_H_INCLUDED
#include "nrm_registry.h"

/* Rules that the broker (nrm_regadmin) and the offline verifier
   (nrm_replay) apply alike. Times are the broker's record time. */
#define NRM_DAY_MS              (24ull * 3600ull * 1000ull)
#define NRM_CERT_MAX_VALID_MS   (3650ull * NRM_DAY_MS)     /* longest certificate   */
#define NRM_ADMIN_SKEW_MS       (10ull * 60ull * 1000ull)  /* clocks may differ so much */
/* An AdminAction is applied only within this time of its created_ms, and
   only once (its exact bytes are remembered): a signed command cannot be
   replayed later, nor twice. */
#define NRM_ADMIN_ACTION_TTL_MS (10ull * 60ull * 1000ull)

/* What an applied action did. */
typedef struct {
    int      kind;                    /* record kind written (the action)      */
    uint64_t seq;                     /* its record                            */
    uint8_t  leaf[NRM_HASH_BYTES];
    char     org_id[NRM_ID_MAX + 1];
    uint32_t approvals, quorum;       /* APPROVED: distinct approvals so far   */
    int      effect;                  /* NRM_REC_ENROLLED / NRM_REC_ROTATED, or 0 */
    uint64_t effect_seq;
    uint64_t policy_version;          /* POLICY */
} nrm_regadmin_result_t;

/* Decides one administrator's action (body = AdminAction bytes, sig its
   signature) at time now, inside txn. On success the records and the new
   registry state are written and *res says what happened. On refusal
   returns NRM_EINVAL (or NRM_ETOOBIG) with err->reason an NRM_R_* code and
   err->msg the reason, and has written nothing. Store failures return
   other codes. */
int nrm_regadmin_apply(nrm_store_t *store, MDB_txn *txn, const uint8_t *body, size_t len,
                       const uint8_t *sig, size_t sig_len, uint64_t now,
                       nrm_regadmin_result_t *res, nrm_err_t *err) NRM_WUR;

/* Logs a refused admin command: an ADMIN_REFUSED record by actor, with the
   bytes tried, the signature if it had the right size, the reason code and
   text. Outputs its seq and leaf hash. */
int nrm_regadmin_refused(nrm_store_t *store, MDB_txn *txn, const char *actor,
                         const uint8_t *body, size_t len, const uint8_t *sig, size_t sig_len,
                         uint32_t reason, const char *why, uint64_t now, uint64_t *seq,
                         uint8_t leaf[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;

/* A request waiting for approvals (database "pending"). */
typedef struct {
    int       kind;                   /* NRM_REC_REQUESTED or _ROTATE_REQUESTED */
    uint64_t  request_seq;            /* its record; the certificate's serial   */
    uint64_t  time_ms;
    uint8_t  *request;  size_t request_len;  /* Signed{EnrollRequest}          */
    uint8_t  *cert;     size_t cert_len;     /* Certificate body approved so far, or none */
    size_t    napprovals;
    nrm_cosig_t approvals[NRM_MAX_ADMINS];   /* [0] is the issuer's            */
} nrm_pending_t;

/* Reads the pending request of org_id (NRM_ENOTFOUND if none); release
   with nrm_pending_clear. */
int nrm_pending_get(nrm_store_t *store, MDB_txn *txn, const char *org_id, nrm_pending_t *p,
                    nrm_err_t *err) NRM_WUR;
void nrm_pending_clear(nrm_pending_t *p);
/* Calls fn for each pending request in id order. */
typedef int (nrm_pending_fn)(void *ctx, const char *org_id, const nrm_pending_t *p);
int nrm_pending_each(nrm_store_t *store, MDB_txn *txn, nrm_pending_fn *fn, void *ctx,
                     nrm_err_t *err) NRM_WUR;

/* The routing policy in force: its version and record (0, 0 when none),
   and its exact text borrowed until txn ends (NULL when none). */
int nrm_regadmin_policy(nrm_store_t *store, MDB_txn *txn, uint64_t *version, uint64_t *seq,
                        nrm_bytes_t *text, nrm_err_t *err) NRM_WUR;

/* Whether a rotation request is signed by the organisation's current key:
   Signed{EnrollRequest with the new keys} signed by the new sign key, with
   one cosignature by old_sign_pk over NRM_CTX_ROTATE || body. Outputs the
   request and its hash like nrm_request_verify. */
int nrm_rotate_request_verify(const uint8_t *signed_bytes, size_t len,
                              const uint8_t old_sign_pk[NRM_PK_BYTES], nrm_cert_t *req,
                              uint8_t req_hash[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;

/* Whether a certificate first approved at time now has an acceptable
   validity: it starts within NRM_ADMIN_SKEW_MS of now, ends after it
   starts, and lasts at most NRM_CERT_MAX_VALID_MS. */
bool nrm_cert_validity_ok(const nrm_cert_t *c, uint64_t now);

/* "admin:" and the key's fingerprint: the actor of an administrator's records. */
void nrm_admin_actor(const uint8_t pk[NRM_PK_BYTES], char out[NRM_ID_MAX + 1]);

#endif
