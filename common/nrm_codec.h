/*  nrm_codec -- the only module that sees protobuf-c. Decodes untrusted bytes
    into our own structs, checking every cap and field on the way, and encodes
    our structs into exact bytes for signing and sending.

    Decoders return NRM_EINVAL or NRM_ETOOBIG with err->reason set to the
    NRM_R_* code a receipt should carry. Encoders return a malloc'd buffer
    the caller frees with free(). */
#ifndef NRM_CODEC_H_INCLUDED
#define NRM_CODEC_H_INCLUDED
#include "nrm.h"
#include "nrm_batchsig.h"

typedef struct { const uint8_t *data; size_t len; } nrm_bytes_t;

/* Known message types (docs/protocol.md). */
bool nrm_msg_type_valid(const char *type);
/* Known organisation types (DOMAIN.md). */
bool nrm_org_type_valid(const char *type);

/* Consent assertion of an envelope (clear metadata: codes, no personal
   data). Empty strings mean "not given". */
#define NRM_CODE_MAX           32       /* given_by, lawful_basis          */
#define NRM_LAWFUL_REF_MAX     100      /* lawful_basis_ref, printable ASCII */
#define NRM_MAX_STRIPPED       32       /* names in envelope.stripped      */
#define NRM_STRIPPED_NAME_MAX  64       /* bytes of one such name          */
typedef struct {
    bool services, sharing;
    char given_by[NRM_CODE_MAX + 1];        /* victim, guardian, responsible_official */
    char lawful_basis[NRM_CODE_MAX + 1];    /* vital_interests, public_task, legal_obligation */
    char lawful_basis_ref[NRM_LAWFUL_REF_MAX + 1];
    char overridden_by[NRM_ID_MAX + 1];
} nrm_consent_t;

typedef struct {
    uint32_t version;
    uint8_t  msg_id[NRM_MSGID_BYTES];
    char     type[NRM_TYPE_MAX + 1];
    char     sender[NRM_ID_MAX + 1];
    char     recipient[NRM_ID_MAX + 1];
    char     case_ref[NRM_ID_MAX + 1];
    uint64_t created_ms;
    uint32_t priority;                      /* 0..3 */
    bool     has_reply_to;
    uint8_t  in_reply_to[NRM_MSGID_BYTES];
    uint8_t  body_hash[NRM_HASH_BYTES];
    uint32_t body_size;
    /* lifecycle, consent, minimisation (docs/referrals.md) */
    bool     personal_data;
    bool     has_consent;
    nrm_consent_t consent;
    bool     child;
    char     purpose[NRM_TYPE_MAX + 1];     /* "" or a-z 0-9 . _ - */
    bool     cross_border;
    char     destination_country[3];        /* ISO 3166-1 alpha-2 or "" */
    uint32_t body_schema;                   /* 0 (not stated) or 1 */
    size_t   n_stripped;
    char     stripped[NRM_MAX_STRIPPED][NRM_STRIPPED_NAME_MAX + 1];
    uint64_t response_due_ms;               /* 0 when none */
    char     decision[NRM_CODE_MAX + 1];    /* response: accepted, declined */
} nrm_envelope_t;

int nrm_envelope_encode(const nrm_envelope_t *env, uint8_t **out, size_t *len,
                        nrm_err_t *err) NRM_WUR;
/* Decodes and validates (version, ids, type, sizes). */
int nrm_envelope_decode(const uint8_t *buf, size_t len, nrm_envelope_t *env,
                        nrm_err_t *err) NRM_WUR;

/* Certificate or enrollment request (the request uses created_ms only). */
typedef struct {
    char     org_id[NRM_ID_MAX + 1];
    char     org_type[NRM_TYPE_MAX + 1];
    char     name[NRM_NAME_MAX + 1];
    char     jurisdiction[NRM_NAME_MAX + 1];
    uint8_t  sign_pk[NRM_PK_BYTES];
    uint8_t  curve_pk[NRM_PK_BYTES];
    uint8_t  box_pk[NRM_PK_BYTES];
    uint64_t created_ms;                    /* request */
    uint64_t not_before_ms, not_after_ms;   /* certificate */
    uint64_t serial;
    uint8_t  issuer_pk[NRM_PK_BYTES];
    uint8_t  request_hash[NRM_HASH_BYTES];
} nrm_cert_t;

int nrm_cert_encode(const nrm_cert_t *c, uint8_t **out, size_t *len, nrm_err_t *err) NRM_WUR;
int nrm_cert_decode(const uint8_t *buf, size_t len, nrm_cert_t *c, nrm_err_t *err) NRM_WUR;
int nrm_request_encode(const nrm_cert_t *c, uint8_t **out, size_t *len, nrm_err_t *err) NRM_WUR;
int nrm_request_decode(const uint8_t *buf, size_t len, nrm_cert_t *c, nrm_err_t *err) NRM_WUR;

/* The network's administrators: admin_sign_pks[0] == admin_pk, the key
   that signs the genesis. A certificate takes effect with `quorum` valid
   signatures of distinct administrators. */
typedef struct {
    char     network[NRM_ID_MAX + 1];
    uint8_t  admin_pk[NRM_PK_BYTES];
    uint8_t  broker_sign_pk[NRM_PK_BYTES];
    uint8_t  broker_curve_pk[NRM_PK_BYTES];
    uint64_t created_ms;
    uint32_t nadmins;                                   /* 1..NRM_MAX_ADMINS */
    uint8_t  admin_sign_pks[NRM_MAX_ADMINS][NRM_PK_BYTES];
    uint8_t  admin_curve_pks[NRM_MAX_ADMINS][NRM_PK_BYTES];
    uint32_t quorum;                                    /* 1..nadmins */
} nrm_genesis_t;

/* Index of an administrator's signing key in g, or -1. */
int nrm_genesis_admin(const nrm_genesis_t *g, const uint8_t pk[NRM_PK_BYTES]);
/* Index of an administrator's CURVE key in g, or -1. */
int nrm_genesis_admin_curve(const nrm_genesis_t *g, const uint8_t pk[NRM_PK_BYTES]);

int nrm_genesis_encode(const nrm_genesis_t *g, uint8_t **out, size_t *len, nrm_err_t *err) NRM_WUR;
int nrm_genesis_decode(const uint8_t *buf, size_t len, nrm_genesis_t *g, nrm_err_t *err) NRM_WUR;

/* Signed{body, signature}. Decoding copies body into *body (caller frees).
   A Signed with a batch proof is refused here (certificates and notices are
   signed directly); acks and receipts use the _batch pair. */
int nrm_signed_encode(const uint8_t *body, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                      uint8_t **out, size_t *out_len, nrm_err_t *err) NRM_WUR;
int nrm_signed_decode(const uint8_t *buf, size_t len, size_t max_body,
                      uint8_t **body, size_t *body_len, uint8_t sig[NRM_SIG_BYTES],
                      nrm_err_t *err) NRM_WUR;
/* Signed{body, signature, batch}: proof NULL or of size 0 for a direct
   signature. Decoding fills *proof (size 0 when absent) and checks its shape
   (nrm_batch_proof_check). */
int nrm_signed_encode_batch(const uint8_t *body, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                            const nrm_batch_proof_t *proof, uint8_t **out, size_t *out_len,
                            nrm_err_t *err) NRM_WUR;
int nrm_signed_decode_batch(const uint8_t *buf, size_t len, size_t max_body,
                            uint8_t **body, size_t *body_len, uint8_t sig[NRM_SIG_BYTES],
                            nrm_batch_proof_t *proof, nrm_err_t *err) NRM_WUR;
/* A BatchProof message alone (the agent keeps it beside a signature in its
   store). Encoding a proof of size 0 gives 0 bytes; decoding 0 bytes gives
   size 0. */
int nrm_batch_proof_encode(const nrm_batch_proof_t *proof, uint8_t **out, size_t *len,
                           nrm_err_t *err) NRM_WUR;
int nrm_batch_proof_decode(const uint8_t *buf, size_t len, nrm_batch_proof_t *proof,
                           nrm_err_t *err) NRM_WUR;

/* Another administrator's signature of a certificate (Signed.cosignatures). */
typedef struct {
    uint8_t signer_pk[NRM_PK_BYTES];
    uint8_t sig[NRM_SIG_BYTES];
} nrm_cosig_t;

/* Signed{body, signature, cosignatures}: a certificate with the signatures
   of the quorum. ncosigs <= NRM_MAX_ADMINS - 1. */
int nrm_signed_encode_cosigs(const uint8_t *body, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                             const nrm_cosig_t *cosigs, size_t ncosigs,
                             uint8_t **out, size_t *out_len, nrm_err_t *err) NRM_WUR;
/* As nrm_signed_decode, and copies the cosignatures into cosigs (room for
   NRM_MAX_ADMINS - 1; more are refused). */
int nrm_signed_decode_cosigs(const uint8_t *buf, size_t len, size_t max_body,
                             uint8_t **body, size_t *body_len, uint8_t sig[NRM_SIG_BYTES],
                             nrm_cosig_t *cosigs, size_t *ncosigs, nrm_err_t *err) NRM_WUR;

/* An administrator's signed change (proto AdminAction). Decoding copies
   the byte fields into malloc'd buffers: release with nrm_action_clear. */
typedef struct {
    int      action;                        /* NRM_REC_* of the change     */
    char     org_id[NRM_ID_MAX + 1];        /* "" for POLICY               */
    uint8_t  admin_pk[NRM_PK_BYTES];
    uint64_t created_ms;
    char     reason[NRM_REASON_MAX + 1];
    uint8_t *request;     size_t request_len;   /* Signed{EnrollRequest}  */
    uint8_t *cert_body;   size_t cert_len;      /* Certificate            */
    bool     has_cert_sig;
    uint8_t  cert_sig[NRM_SIG_BYTES];
    uint8_t *policy_text; size_t policy_len;
    uint64_t policy_version;
    uint64_t request_seq;                   /* CANCELLED: the request's record */
} nrm_action_t;

/* Encoding borrows the byte fields. */
int nrm_action_encode(const nrm_action_t *a, uint8_t **out, size_t *len, nrm_err_t *err) NRM_WUR;
/* Checks the fields each action needs and every cap. */
int nrm_action_decode(const uint8_t *buf, size_t len, nrm_action_t *a, nrm_err_t *err) NRM_WUR;
void nrm_action_clear(nrm_action_t *a);

typedef struct {
    uint8_t  msg_id[NRM_MSGID_BYTES];
    char     recipient[NRM_ID_MAX + 1];
    uint64_t accepted_seq;
    uint8_t  body_hash[NRM_HASH_BYTES];
    uint64_t time_ms;
    uint32_t status;                        /* 0 stored; else NRM_R_* */
    char     reason[NRM_REASON_MAX + 1];
} nrm_ack_t;

int nrm_ack_encode(const nrm_ack_t *a, uint8_t **out, size_t *len, nrm_err_t *err) NRM_WUR;
int nrm_ack_decode(const uint8_t *buf, size_t len, nrm_ack_t *a, nrm_err_t *err) NRM_WUR;

typedef struct {
    bool     has_msg_id;
    uint8_t  msg_id[NRM_MSGID_BYTES];
    uint8_t  frame_hash[NRM_HASH_BYTES];
    uint32_t status;                        /* 0 accepted; else NRM_R_* */
    char     reason[NRM_REASON_MAX + 1];
    uint64_t seq;
    uint8_t  record_hash[NRM_HASH_BYTES];
    uint64_t time_ms;
} nrm_receipt_t;

int nrm_receipt_encode(const nrm_receipt_t *r, uint8_t **out, size_t *len, nrm_err_t *err) NRM_WUR;
int nrm_receipt_decode(const uint8_t *buf, size_t len, nrm_receipt_t *r, nrm_err_t *err) NRM_WUR;

/* Audit-log record kinds (stable numbers, part of the log format). */
enum {
    NRM_REC_GENESIS = 1, NRM_REC_ENROLLED = 2, NRM_REC_ACCEPTED = 3,
    NRM_REC_REJECTED = 4, NRM_REC_DELIVERED = 5, NRM_REC_DELIVERY_REFUSED = 6,
    NRM_REC_REQUESTED = 7, NRM_REC_APPROVED = 8, NRM_REC_REVOKED = 9,
    NRM_REC_SUSPENDED = 10, NRM_REC_RESUMED = 11, NRM_REC_POLICY = 12,
    NRM_REC_ADMIN_REFUSED = 13, NRM_REC_ROTATE_REQUESTED = 14, NRM_REC_ROTATED = 15,
    NRM_REC_KEY_RETIRED = 16, NRM_REC_CANCELLED = 17,
    NRM_REC_LAST_ = NRM_REC_CANCELLED,
    NRM_REC_CHECKPOINT = 20,
    /* referral lifecycle, 30-49 */
    NRM_REC_ESCALATED = 30, NRM_REC_PURGED = 31,
};
/* True for a kind this version knows. */
bool nrm_record_kind_valid(int kind);
const char *nrm_record_kind_name(int kind);

typedef struct {
    uint64_t seq;
    uint64_t time_ms;
    int      kind;
    uint8_t  prev_hash[NRM_HASH_BYTES];
    char     actor[NRM_ID_MAX + 1];
    uint8_t *subject;              /* exact signed bytes; owned after decode  */
    size_t   subject_len;
    bool     has_signature;
    uint8_t  signature[NRM_SIG_BYTES];
    bool     has_msg_id;
    uint8_t  msg_id[NRM_MSGID_BYTES];
    uint32_t reason_code;
    char     reason[NRM_REASON_MAX + 1];
    bool     has_frame_hash;
    uint8_t  frame_hash[NRM_HASH_BYTES];
    uint64_t frame_size;
    uint64_t refers_to;
    nrm_batch_proof_t batch;       /* size 0: signature is a direct one */
} nrm_record_t;

/* Encoding borrows rec->subject. */
int nrm_record_encode(const nrm_record_t *rec, uint8_t **out, size_t *len, nrm_err_t *err) NRM_WUR;
/* Decoding allocates rec->subject; release with nrm_record_clear. */
int nrm_record_decode(const uint8_t *buf, size_t len, nrm_record_t *rec, nrm_err_t *err) NRM_WUR;
void nrm_record_clear(nrm_record_t *rec);

/* ---- Wire messages: one ZeroMQ frame each, agent <-> broker ---- */
enum {
    /* agent to broker */
    NRM_WIRE_HELLO = 1, NRM_WIRE_SUBMIT, NRM_WIRE_ACK, NRM_WIRE_STATUS, NRM_WIRE_PING,
    NRM_WIRE_ADMIN,            /* admin endpoint: Signed{AdminAction}       */
    NRM_WIRE_CHECKPOINT_REQUEST,
    /* broker to agent */
    NRM_WIRE_WELCOME = 11, NRM_WIRE_RECEIPT, NRM_WIRE_DELIVER, NRM_WIRE_STATUS_REPLY,
    NRM_WIRE_PONG,
    NRM_WIRE_ADMIN_RECEIPT,    /* admin endpoint: Signed{Receipt}           */
    NRM_WIRE_CHECKPOINT,
    NRM_WIRE_NOTICE = 40,       /* lifecycle: signed_obj = Signed{Notice} */
};

/* Broker's notice of an escalation or a purge (docs/referrals.md). */
enum { NRM_NOTICE_ESCALATED = 1, NRM_NOTICE_PURGED = 2 };
typedef struct {
    uint32_t kind;                          /* NRM_NOTICE_* */
    uint8_t  msg_id[NRM_MSGID_BYTES];
    char     case_ref[NRM_ID_MAX + 1];
    char     sender[NRM_ID_MAX + 1];
    char     recipient[NRM_ID_MAX + 1];
    char     type[NRM_TYPE_MAX + 1];
    uint64_t due_ms;
    uint64_t seq;
    uint8_t  record_hash[NRM_HASH_BYTES];
    uint64_t time_ms;
    char     addressee[NRM_ID_MAX + 1];
} nrm_notice_t;
int nrm_notice_encode(const nrm_notice_t *n, uint8_t **out, size_t *len, nrm_err_t *err) NRM_WUR;
int nrm_notice_decode(const uint8_t *buf, size_t len, nrm_notice_t *n, nrm_err_t *err) NRM_WUR;


/* A signed object inside a wire message. Certificates also carry the
   cosignatures of the quorum (ncosigs, cosigs borrowed). */
typedef struct {
    nrm_bytes_t body;
    nrm_bytes_t sig;
    size_t ncosigs;
    const nrm_cosig_t *cosigs;
} nrm_signed_view_t;

/* Caps of a Checkpoint message (same values as NRM_CHECKPOINT_NOTE_MAX and
   NRM_MERKLE_PATH_MAX). */
#define NRM_WIRE_NOTE_MAX  4096
#define NRM_WIRE_PROOF_MAX 128

typedef struct {
    uint8_t  msg_id[NRM_MSGID_BYTES];
    uint32_t state;                         /* NRM_MSG_* */
    uint64_t accepted_seq;
    uint64_t delivered_seq;
} nrm_msg_status_t;
enum { NRM_MSG_UNKNOWN = 0, NRM_MSG_ACCEPTED = 1, NRM_MSG_DELIVERED = 2,
       NRM_MSG_REFUSED_BY_RECIPIENT = 3,
       NRM_MSG_PURGED = 4 /* body dropped undelivered; delivered_seq: the PURGED record */ };

/* A view of one wire message. For encoding the caller fills the fields the
   kind uses (pointers borrowed). A decoded view borrows from an internal
   buffer released by nrm_wire_destroy. */
typedef struct nrm_wire_t {
    int         kind;
    uint32_t    version;        /* hello */
    bool        observer;       /* hello: wants no deliveries */
    bool        unchanged;      /* welcome: certificates left out, the
                                   agent's directory (hello) is current */
    nrm_bytes_t directory;      /* hello, welcome: directory digest,
                                   NRM_HASH_BYTES or empty */
    const char *org_id;         /* hello */
    uint64_t    time_ms;        /* hello, ping, pong, welcome */
    nrm_bytes_t envelope;       /* submit, deliver */
    nrm_bytes_t signature;      /* submit, deliver: envelope signature */
    nrm_batch_proof_t batch;    /* submit, deliver: of the envelope signature;
                                   ack, receipt: of signed_obj's; size 0: none */
    nrm_bytes_t sealed_body;    /* submit, deliver */
    nrm_signed_view_t signed_obj; /* ack, receipt, notice; deliver: sender certificate */
    uint64_t    seq;            /* deliver */
    size_t      count;          /* status: ids; welcome: certs; status reply: items */
    nrm_bytes_t *ids;           /* status */
    nrm_signed_view_t *certs;   /* welcome */
    nrm_msg_status_t  *items;   /* status reply */
    nrm_bytes_t note;           /* checkpoint: the signed note (<= 4 KiB) */
    uint64_t    old_size;       /* checkpoint, checkpoint request */
    size_t      proof_count;    /* checkpoint: consistency proof, at most 128 */
    nrm_bytes_t *proof;         /* 32 bytes each */
    void       *owner_;         /* decoded protobuf; do not touch */
} nrm_wire_t;

int nrm_wire_encode(const nrm_wire_t *w, uint8_t **out, size_t *len, nrm_err_t *err) NRM_WUR;
/* from_client: true to decode an agent-to-broker message, false for
   broker-to-agent. Checks caps and the presence of every field the kind
   needs. On success *out is a new view (nrm_wire_destroy). */
int nrm_wire_decode(const uint8_t *buf, size_t len, bool from_client,
                    nrm_wire_t **out, nrm_err_t *err) NRM_WUR;
void nrm_wire_destroy(nrm_wire_t **self_p);

#endif
