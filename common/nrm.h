/*  nrm.h -- shared definitions of the nrmbus common library: status codes,
    the caller-supplied error struct, caps on everything that comes from
    outside, and the contract macros.

    Every function that can fail returns 0 or a negative NRM_E* code and, when
    given a non-NULL nrm_err_t, writes a human-readable reason into it. */
#ifndef NRM_H_INCLUDED
#define NRM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define NRM_WUR     __attribute__((warn_unused_result))
#define NRM_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Status codes (negative on failure). */
enum {
    NRM_OK        = 0,
    NRM_EINVAL    = -1,   /* bad input from outside: decoding, validation  */
    NRM_ENOMEM    = -2,
    NRM_EIO       = -3,   /* file or disk failure                          */
    NRM_ESTORE    = -4,   /* LMDB failure                                  */
    NRM_ECRYPTO   = -5,   /* signature or seal did not verify              */
    NRM_ENOTFOUND = -6,
    NRM_EEXIST    = -7,
    NRM_ETOOBIG   = -8,   /* a cap was exceeded                            */
    NRM_ENET      = -9,   /* ZeroMQ failure                                */
    NRM_ECORRUPT  = -10,  /* a store or log failed its own checks          */
    NRM_EFULL     = -11,  /* disk or map full                              */
};

typedef struct {
    int      code;      /* NRM_E* */
    uint32_t reason;    /* NRM_R_* when input was refused, else 0 */
    char     msg[512];
} nrm_err_t;

/* Sets err (if non-NULL) and returns code, so callers can write
   `return nrm_err_set(err, NRM_EINVAL, "...")`. */
int nrm_err_set(nrm_err_t *err, int code, const char *fmt, ...) NRM_PRINTF(3, 4);
/* Like nrm_err_set with code NRM_EINVAL, and records the refusal reason
   (NRM_R_*) that a receipt or REJECTED record will carry. */
int nrm_err_refuse(nrm_err_t *err, uint32_t reason, const char *fmt, ...) NRM_PRINTF(3, 4);
/* Prefixes err->msg with "<context>: " (keeps the code). */
void nrm_err_prefix(nrm_err_t *err, const char *fmt, ...) NRM_PRINTF(2, 3);
const char *nrm_strerror(int code);

/* Caps: every size and count that comes from outside is bounded. */
#define NRM_ENVELOPE_VERSION     1
#define NRM_PROTOCOL_VERSION     1
#define NRM_ID_MAX               64      /* organisation id, case reference  */
#define NRM_NAME_MAX             200     /* organisation name, jurisdiction  */
#define NRM_TYPE_MAX             32      /* message type, organisation type  */
#define NRM_REASON_MAX           300
#define NRM_MSGID_BYTES          16
#define NRM_HASH_BYTES           32
#define NRM_SIG_BYTES            64
#define NRM_PK_BYTES             32
#define NRM_MAX_BODY_BYTES       (1024u * 1024u)        /* sealed body        */
#define NRM_MAX_DOC_BYTES        (NRM_MAX_BODY_BYTES - 64u) /* plaintext doc   */
#define NRM_MAX_ENVELOPE_BYTES   4096u                  /* clear metadata     */
#define NRM_MAX_FRAME_BYTES      (NRM_MAX_BODY_BYTES + 16384u)
#define NRM_HARD_FRAME_BYTES     (2 * NRM_MAX_FRAME_BYTES) /* ZMQ_MAXMSGSIZE */
#define NRM_MAX_CERT_BYTES       4096u
#define NRM_MAX_RECORD_BYTES     (NRM_MAX_FRAME_BYTES + 8192u)
#define NRM_MAX_STATUS_IDS       256
#define NRM_MAX_CERTS            4096
#define NRM_MAX_DELTA            16      /* certificates + removed ids of a
                                            DirectoryDelta                */
#define NRM_MAX_FILE_BYTES       (4u * 1024u * 1024u)
#define NRM_MAX_ADMINS           16      /* administrators of one network   */
#define NRM_MAX_POLICY_BYTES     (64u * 1024u) /* routing policy text       */
#define NRM_MAX_ACTION_BYTES     (NRM_MAX_POLICY_BYTES + 3 * NRM_MAX_CERT_BYTES)

/* Refusal reasons carried in receipts and REJECTED records. Stable numbers:
   they are part of the protocol and the audit log. */
enum {
    NRM_R_OK               = 0,
    NRM_R_MALFORMED        = 1,   /* frame or envelope does not decode     */
    NRM_R_TOO_BIG          = 2,   /* frame, envelope or body over its cap  */
    NRM_R_BAD_VERSION      = 3,
    NRM_R_INVALID_FIELD    = 4,   /* a field is missing or out of range    */
    NRM_R_SENDER_MISMATCH  = 5,   /* envelope sender != authenticated org  */
    NRM_R_UNKNOWN_SENDER   = 6,
    NRM_R_BAD_SIGNATURE    = 7,
    NRM_R_BODY_MISMATCH    = 8,   /* body hash or size differs             */
    NRM_R_DUPLICATE        = 9,   /* message id already used               */
    NRM_R_UNKNOWN_RECIPIENT = 10,
    NRM_R_POLICY           = 11,
    NRM_R_INTERNAL         = 12,
    NRM_R_STORE_FULL       = 13,
    /* registry and administration (docs/administration.md) */
    NRM_R_REVOKED          = 14,  /* organisation revoked                  */
    NRM_R_SUSPENDED        = 15,  /* organisation suspended                */
    NRM_R_EXPIRED          = 16,  /* certificate outside its validity      */
    NRM_R_KEY_RETIRED      = 17,  /* signed with a key replaced by rotation */
    NRM_R_NOT_ADMIN        = 18,  /* admin command not by an administrator */
    NRM_R_REGISTRY         = 19,  /* admin command conflicts with the registry:
                                     duplicate id or key, nothing pending,
                                     approved twice by one administrator  */
    NRM_R_BAD_POLICY       = 20,  /* policy text does not parse            */
    /* 24-39: referral lifecycle and consent (docs/referrals.md) */
    NRM_R_UNKNOWN_REFERRAL = 24,  /* in_reply_to names no referral        */
    NRM_R_NOT_RECIPIENT    = 25,  /* answered by whom it was not sent to  */
    NRM_R_NOT_SENDER       = 26,  /* withdrawn by whom did not send it    */
    NRM_R_ALREADY_ANSWERED = 27,  /* accepted or declined already         */
    NRM_R_NOT_ACCEPTED     = 28,  /* completing what was not accepted     */
    NRM_R_WITHDRAWN        = 29,  /* the referral was withdrawn           */
    NRM_R_CLOSED           = 30,  /* the referral was completed           */
    NRM_R_CONSENT_MISSING  = 31,  /* personal data without consent or basis */
    NRM_R_DEADLINE         = 32,  /* response-due time missing or too late */
    NRM_R_NOT_OWNER        = 33,  /* transfer of a case one does not own  */
    NRM_R_REPLY_REQUIRED   = 34,  /* answer without in_reply_to           */
    NRM_R_CASE_MISMATCH    = 35,  /* answer names another case           */
    NRM_R_PURGED           = 36,  /* body purged undelivered (notices)    */
    /* 40-49: reliability and faults (docs/reliability.md) */
    NRM_R_IDENTITY_IN_USE  = 40,  /* Hello: the organisation already has a
                                     live connection                       */
    NRM_R_CLOCK_SKEW       = 41,  /* Hello: the agent's clock differs from
                                     the broker's beyond the limit         */
};
const char *nrm_reason_name(uint32_t code);

#endif
