/*  broker_referrals -- the broker's side of the referral lifecycle
    (docs/referrals.md): consent and deadline checks at intake, the state of
    every referral, case ownership, escalation of overdue referrals with
    signed notices. Deadlines and the supervisor come from the policy in
    force (its [deadlines] and [escalation]), the one the routing check
    uses, so the log holds the rules every decision followed.

    Databases (in the broker's store, NRM_BROKER_DBS):
      referrals  msg_id (16) -> referral record: state, whether delivered,
                 ACCEPTED seq, response-due time, escalation seq, sender,
                 recipient, case, type, supervisor told
      deadlines  be64 due_ms || msg_id -> "" : referrals not yet answered,
                 in deadline order, so the timer reads only what is due
      cases      case_ref -> owner organisation id
      notices    addressee NUL be64 seq -> Signed{Notice}: sent at every
                 Hello until the referral is answered or withdrawn; a
                 purge notice until the sender has asked the message's
                 status and been told it is purged
    Every change happens in the write transaction of the record that
    causes it (ACCEPTED, DELIVERED, ESCALATED, PURGED), so the state is always the
    one the log implies. */
#ifndef BROKER_REFERRALS_H_INCLUDED
#define BROKER_REFERRALS_H_INCLUDED
#include "nrm_codec.h"
#include "nrm_crypto.h"
#include "nrm_policy.h"
#include "nrm_store.h"

#define BROKER_REFS_TICK_MAX   256     /* escalations decided per timer tick */
#define BROKER_NOTICES_MAX     256     /* notices sent per Hello             */
#define BROKER_CLOCK_SKEW_MS   (5u * 60u * 1000u)  /* created_ms ahead of us */

typedef struct broker_refs broker_refs_t;

/* keys (the broker's signing key) is borrowed for signing notices. */
int broker_refs_new(const nrm_keys_t *keys, broker_refs_t **out, nrm_err_t *err) NRM_WUR;
void broker_refs_destroy(broker_refs_t **self_p);

/* Intake, inside the batch txn, after the envelope is known authentic and
   its recipient valid: consent, deadline (policy: the one in force, NULL
   for Primero's defaults), ownership, and the lifecycle transition the
   message causes. Returns 0 to accept; NRM_EINVAL with
   why->reason and why->msg to refuse (the caller logs the REJECTED
   record); another code is a store failure (in err). */
int broker_refs_check(broker_refs_t *self, const nrm_policy_t *policy, nrm_store_t *store,
                      MDB_txn *txn, const nrm_envelope_t *env, nrm_err_t *why,
                      nrm_err_t *err) NRM_WUR;
/* After the ACCEPTED record `seq` of env, same txn: records a new
   referral or applies the transition checked above. */
int broker_refs_accepted(broker_refs_t *self, nrm_store_t *store, MDB_txn *txn,
                         const nrm_envelope_t *env, uint64_t seq, nrm_err_t *err) NRM_WUR;
/* After a DELIVERED record for msg_id, same txn. */
int broker_refs_delivered(broker_refs_t *self, nrm_store_t *store, MDB_txn *txn,
                          const uint8_t msg_id[NRM_MSGID_BYTES], nrm_err_t *err) NRM_WUR;

/* After the PURGED record `seq` (leaf hash `leaf`) of the message env,
   accepted at record accepted_seq, same txn: a referral closes as purged
   (its deadline and escalation notices go), and the sender gets a signed
   purge notice (stored, and queued in the outbox now). */
int broker_refs_purged(broker_refs_t *self, nrm_store_t *store, MDB_txn *txn,
                       const nrm_envelope_t *env, uint64_t accepted_seq, uint64_t seq,
                       const uint8_t leaf[NRM_HASH_BYTES], uint64_t now, nrm_err_t *err) NRM_WUR;
/* The sender has been answered that the message of PURGED record seq is
   purged (StatusReply): its purge notice need not be sent again. */
int broker_refs_notice_done(nrm_store_t *store, MDB_txn *txn, const char *org, uint64_t seq,
                            nrm_err_t *err) NRM_WUR;

/* Timer: in one write transaction of its own, escalates every referral
   whose response-due time is before now (at most BROKER_REFS_TICK_MAX):
   ESCALATED record, state overdue, notices to the sender and the
   supervisor. The notice frames wait in the outbox until sent. */
int broker_refs_tick(broker_refs_t *self, const nrm_policy_t *policy, nrm_store_t *store,
                     uint64_t now, nrm_err_t *err) NRM_WUR;
/* Queues (outbox) the stored notices addressed to org, after its Hello. */
int broker_refs_hello(broker_refs_t *self, nrm_store_t *store, const char *org,
                      nrm_err_t *err) NRM_WUR;

/* Notice frames ready to send (ServerMsg{notice}); the broker sends each
   to its organisation if connected (a missed one is sent again at the
   next Hello), then clears the outbox. */
typedef struct {
    char     org[NRM_ID_MAX + 1];
    uint8_t *frame;
    size_t   len;
} broker_notice_out_t;
size_t broker_refs_outbox(broker_refs_t *self, const broker_notice_out_t **out);
void broker_refs_outbox_clear(broker_refs_t *self);

#endif
