/*  agent_store -- the organisation agent's durable state in ORG/data (LMDB,
    one environment per process, shared by the daemon and the CLI commands
    of the same organisation; LMDB serialises their write transactions).

    Databases (all integers big-endian):
      outbox    be64 key -> outbox record (below); keys are the local send
                order, allocated as last key + 1 and never deleted or reused
      outbody   be64 key -> sealed body bytes, until the message reaches a
                final state (delivered, refused or purged); then deleted: the sender
                cannot open it anyway and the broker has logged its hash
      outidx    msg_id (16) -> be64 outbox key
      outq      be64 key -> msg_id: entries still waiting for a receipt
      outacc    be64 key -> msg_id: accepted, not yet delivered or refused
      inbox     be64 key -> inbox record (below), in order of arrival
      inidx     msg_id (16) -> be64 inbox key: at most one entry per msg_id
      directory org id -> Signed{Certificate} bytes (from the last Welcome),
                and "#digest" -> the 32-byte digest naming it (no id
                starts with '#')

    Outbox record, format 1 (local data, still decoded with bounds checks):
      u8 'O', u8 1, u8 state, u8 0,
      u64 created_ms, u64 updated_ms, u64 accepted_seq, u64 delivered_seq,
      u32 reason_code, u8[16] msg_id,
      then four fields of u32 length + bytes: envelope (exact signed bytes),
      envelope signature (64 bytes; for a batch signature followed by the
      exact BatchProof bytes, docs/protocol.md 3), broker receipt (exact
      Signed{Receipt} bytes, empty until answered), reason text (empty
      unless refused).
    Inbox record, format 1:
      u8 'I', u8 1, u8 0, u8 0,
      u64 received_ms, u64 accepted_seq, u8[16] msg_id,
      then four fields of u32 length + bytes: envelope (exact bytes the
      sender signed), envelope signature (64, and its BatchProof bytes
      after it as in the outbox), sender certificate
      (Signed{Certificate} bytes), sealed body (as delivered; it is opened
      with ORG/secret.keys when read, so no plaintext is kept on disk).
      The third byte holds flags: 0x01 purged (retention, agent_in_purge):
      the sealed body field is empty and a u64 purged_ms follows it.

    The invariants between databases (outq and outacc follow the state,
    outbody exists until the state is final) are kept by this module only:
    callers change records through agent_out_add and agent_out_save. */
#ifndef AGENT_STORE_H_INCLUDED
#define AGENT_STORE_H_INCLUDED
#include "nrm_store.h"
#include "nrm_codec.h"

/* Outbox states (stable numbers: they are on disk). */
enum {
    AGENT_OUT_QUEUED   = 0,   /* stored, no receipt yet                    */
    AGENT_OUT_ACCEPTED = 1,   /* broker accepted it (accepted_seq)         */
    AGENT_OUT_DELIVERED = 2,  /* recipient acknowledged (delivered_seq)    */
    AGENT_OUT_REFUSED  = 3,   /* broker refused it (reason_code, reason)   */
    AGENT_OUT_REFUSED_BY_RECIPIENT = 4,
    AGENT_OUT_PURGED   = 5,   /* the broker dropped its body undelivered after
                                 its retention (delivered_seq: the PURGED
                                 record; reason_code purged)              */
};
const char *agent_out_state_name(uint32_t state);
bool agent_out_state_final(uint32_t state);

/* Caps on stored fields, checked when decoding a record. */
#define AGENT_MAX_SIGNED_BYTES (NRM_MAX_CERT_BYTES + 256u) /* Signed{cert/receipt} */

typedef struct {
    uint64_t    key;            /* outbox key (set by add, get, find)     */
    uint32_t    state;          /* AGENT_OUT_*                            */
    uint64_t    created_ms;     /* when it was stored                     */
    uint64_t    updated_ms;     /* last state change                      */
    uint64_t    accepted_seq;
    uint64_t    delivered_seq;
    uint32_t    reason_code;    /* NRM_R_* when refused                   */
    uint8_t     msg_id[NRM_MSGID_BYTES];
    nrm_bytes_t envelope;       /* borrowed: from the txn after get/find  */
    nrm_bytes_t signature;      /* 64 bytes                               */
    nrm_batch_proof_t batch;    /* size 0: a direct signature             */
    nrm_bytes_t receipt;        /* Signed{Receipt} bytes or empty         */
    char        reason[NRM_REASON_MAX + 1];
} agent_out_t;

typedef struct {
    uint64_t    key;            /* inbox key (set by add, get, find)      */
    uint64_t    received_ms;
    uint64_t    accepted_seq;   /* broker's ACCEPTED record               */
    uint8_t     msg_id[NRM_MSGID_BYTES];
    nrm_bytes_t envelope;       /* borrowed, as for agent_out_t           */
    nrm_bytes_t signature;      /* 64 bytes                               */
    nrm_batch_proof_t batch;    /* size 0: a direct signature             */
    nrm_bytes_t sender_cert;
    nrm_bytes_t sealed_body;    /* empty once purged                      */
    uint64_t    purged_ms;      /* 0, or when retention purged the body   */
} agent_in_t;

/* Opens (creating ORG/data with mode 0700 if needed, unless read-only) the
   agent store of the organisation folder org_dir. */
int agent_store_open(const char *org_dir, int flags, nrm_store_t **out,
                     nrm_err_t *err) NRM_WUR;

/* ---- outbox ---- */
/* Inside a write txn: stores a new QUEUED entry with its sealed body and
   fills rec->key. NRM_EEXIST if rec->msg_id is already in the outbox. */
int agent_out_add(nrm_store_t *store, MDB_txn *txn, agent_out_t *rec,
                  const uint8_t *sealed, size_t sealed_len, nrm_err_t *err) NRM_WUR;
/* Reads one entry; its byte fields borrow from txn. NRM_ENOTFOUND if absent;
   NRM_ECORRUPT if the record fails its checks. */
int agent_out_get(nrm_store_t *store, MDB_txn *txn, uint64_t key,
                  agent_out_t *rec, nrm_err_t *err) NRM_WUR;
int agent_out_find(nrm_store_t *store, MDB_txn *txn,
                   const uint8_t msg_id[NRM_MSGID_BYTES], agent_out_t *rec,
                   nrm_err_t *err) NRM_WUR;
/* Inside a write txn: rewrites entry rec->key and puts the indexes in step
   with its state (in outq iff queued, in outacc iff accepted; the body is
   deleted once the state is final). rec's byte fields may borrow from the
   same txn. */
int agent_out_save(nrm_store_t *store, MDB_txn *txn, const agent_out_t *rec,
                   nrm_err_t *err) NRM_WUR;
/* Borrowed sealed body of entry key; NRM_ENOTFOUND once final. */
int agent_out_body(nrm_store_t *store, MDB_txn *txn, uint64_t key,
                   nrm_bytes_t *body, nrm_err_t *err) NRM_WUR;
/* Calls fn for every entry in order from key `from` (1 = all). fn returns 0
   to go on, >0 to stop, <0 to fail (its error is returned). */
typedef int (agent_out_fn)(void *ctx, const agent_out_t *rec, nrm_err_t *err);
int agent_out_each(nrm_store_t *store, MDB_txn *txn, uint64_t from,
                   agent_out_fn *fn, void *ctx, nrm_err_t *err) NRM_WUR;
/* Index walks: up to max entries of outq ("waiting for a receipt") or outacc
   ("accepted, not final") with key > after, in key order. Outputs keys and
   msg ids; *count is how many were found. */
enum { AGENT_IDX_QUEUED, AGENT_IDX_ACCEPTED };
int agent_out_pending(nrm_store_t *store, MDB_txn *txn, int which, uint64_t after,
                      size_t max, uint64_t *keys, uint8_t (*ids)[NRM_MSGID_BYTES],
                      size_t *count, nrm_err_t *err) NRM_WUR;
/* Last outbox key (0 when empty): a cheap check for new entries. */
int agent_out_last(nrm_store_t *store, MDB_txn *txn, uint64_t *key,
                   nrm_err_t *err) NRM_WUR;

/* ---- inbox ---- */
/* Inside a write txn: stores a new entry and fills rec->key. NRM_EEXIST if
   the msg_id is already in the inbox (nothing is written then). */
int agent_in_add(nrm_store_t *store, MDB_txn *txn, agent_in_t *rec,
                 nrm_err_t *err) NRM_WUR;
int agent_in_get(nrm_store_t *store, MDB_txn *txn, uint64_t key, agent_in_t *rec,
                 nrm_err_t *err) NRM_WUR;
int agent_in_find(nrm_store_t *store, MDB_txn *txn,
                  const uint8_t msg_id[NRM_MSGID_BYTES], agent_in_t *rec,
                  nrm_err_t *err) NRM_WUR;
typedef int (agent_in_fn)(void *ctx, const agent_in_t *rec, nrm_err_t *err);
/* Inside a write txn: retention. Drops the sealed body of every entry
   received before before_ms (at most max of them; *purged says how many),
   keeping the envelope, its signature, the sender certificate and the
   broker's sequence number, so the entry still proves what arrived and
   when, and the message id is still recognised if delivered again. */
int agent_in_purge(nrm_store_t *store, MDB_txn *txn, uint64_t before_ms, uint64_t now_ms,
                   size_t max, size_t *purged, nrm_err_t *err) NRM_WUR;
int agent_in_each(nrm_store_t *store, MDB_txn *txn, agent_in_fn *fn, void *ctx,
                  nrm_err_t *err) NRM_WUR;
/* The same from inbox key `from` on. */
int agent_in_each_from(nrm_store_t *store, MDB_txn *txn, uint64_t from, agent_in_fn *fn,
                       void *ctx, nrm_err_t *err) NRM_WUR;

/* ---- directory ---- */
typedef struct {
    char         org_id[NRM_ID_MAX + 1];
    nrm_bytes_t  signed_cert;   /* Signed{Certificate} bytes */
} agent_dir_entry_t;
/* Inside a write txn: replaces the whole directory with these entries,
   and the digest that names it (the Welcome's directory field; NULL:
   none, the next Hello asks for the whole directory). */
int agent_dir_replace(nrm_store_t *store, MDB_txn *txn,
                      const agent_dir_entry_t *entries, size_t count,
                      const uint8_t digest[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;
/* Inside a write txn: forgets the digest (the directory stays). */
int agent_dir_digest_drop(nrm_store_t *store, MDB_txn *txn, nrm_err_t *err) NRM_WUR;
/* The digest of the directory held (agent_dir_replace); NRM_ENOTFOUND if
   none. */
int agent_dir_digest(nrm_store_t *store, MDB_txn *txn, uint8_t digest[NRM_HASH_BYTES],
                     nrm_err_t *err) NRM_WUR;
/* Borrowed Signed{Certificate} bytes of org_id; NRM_ENOTFOUND if absent. */
int agent_dir_get(nrm_store_t *store, MDB_txn *txn, const char *org_id,
                  nrm_bytes_t *signed_cert, nrm_err_t *err) NRM_WUR;

#endif
