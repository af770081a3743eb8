/*  nrm_lifecycle -- the rules of a referral's life, as pure functions of
    clear metadata: which message types open a referral, which answer one,
    the state machine with the reason for every refusal, the consent rule,
    and response deadlines. Used by the broker (to decide) and by
    `nrm-audit verify` (to replay the log and check that every decision
    the broker logged was legal). No store, no clock, no I/O here.

    States (docs/referrals.md has the diagram):
      sent -> delivered -> accepted -> completed
                        -> declined
      sent, delivered -> overdue (deadline passed, no answer yet); an
      overdue referral can still be delivered, accepted or declined.
      withdrawn: by its sender, any time before it is answered by a decline
      or completed.
      purged: the broker dropped its body undelivered after the retention
      (PURGED record); closed, nothing can follow (final). */
#ifndef NRM_LIFECYCLE_H_INCLUDED
#define NRM_LIFECYCLE_H_INCLUDED
#include "nrm.h"
#include "nrm_codec.h"

typedef enum {
    NRM_REF_NONE = 0,
    NRM_REF_SENT = 1,        /* accepted by the broker                     */
    NRM_REF_DELIVERED = 2,   /* the recipient's agent acknowledged it      */
    NRM_REF_ACCEPTED = 3,    /* the recipient accepted it                  */
    NRM_REF_DECLINED = 4,    /* the recipient declined it (final)          */
    NRM_REF_COMPLETED = 5,   /* the recipient reported the outcome (final) */
    NRM_REF_WITHDRAWN = 6,   /* the sender withdrew it (final)             */
    NRM_REF_OVERDUE = 7,     /* no answer by the response-due time         */
    NRM_REF_PURGED = 8,      /* body purged undelivered: closed (final)    */
} nrm_ref_state_t;
#define NRM_REF_STATES 9

typedef enum {
    NRM_EV_DELIVER = 1,      /* broker: DELIVERED record of the referral   */
    NRM_EV_ACCEPT = 2,       /* a response with decision accepted          */
    NRM_EV_DECLINE = 3,      /* a response with decision declined          */
    NRM_EV_COMPLETE = 4,     /* an outcome                                 */
    NRM_EV_WITHDRAW = 5,     /* a withdrawal                               */
    NRM_EV_DEADLINE = 6,     /* broker: the response-due time passed       */
    NRM_EV_PURGE = 7,        /* broker: body dropped undelivered (PURGED)  */
} nrm_ref_event_t;
#define NRM_REF_EVENTS 8

/* Who causes an event, relative to the referral. */
typedef enum {
    NRM_ROLE_BROKER = 0, NRM_ROLE_SENDER = 1, NRM_ROLE_RECIPIENT = 2, NRM_ROLE_OTHER = 3,
} nrm_role_t;

const char *nrm_ref_state_name(nrm_ref_state_t s);
const char *nrm_ref_event_name(nrm_ref_event_t e);
bool nrm_ref_state_final(nrm_ref_state_t s);

/* Message types that open a referral and get a response deadline: tip,
   referral, transfer, interpreter-request. */
bool nrm_lifecycle_opens(const char *type);
/* The event a message of this envelope causes on the referral it answers
   (in_reply_to), or 0 when it causes none (status, consent, info-*). */
nrm_ref_event_t nrm_lifecycle_event(const nrm_envelope_t *env);

/* One step of the state machine. On success *next is the new state and 0
   is returned; an illegal step returns NRM_EINVAL with err->reason the
   NRM_R_* code and err->msg saying why, e.g. "referral already accepted".
   Total: every (state, event, role) has an answer (tests walk them all). */
int nrm_lifecycle_step(nrm_ref_state_t s, nrm_ref_event_t ev, nrm_role_t who,
                       nrm_ref_state_t *next, nrm_err_t *err) NRM_WUR;

/* The consent rule (docs/referrals.md): an envelope whose body carries
   personal data asserts either consent to services and to sharing, or a
   lawful basis with the official who relied on it; consent for a child
   says who gave it. 0, or NRM_EINVAL with reason NRM_R_CONSENT_MISSING. */
int nrm_consent_check(const nrm_envelope_t *env, nrm_err_t *err) NRM_WUR;

/* Response deadlines, in ms, per priority 0..3 (index); a child or a
   priority of 3 takes deadline[3]. Defaults after Primero: 3 days, 1 day,
   3 hours, 1 hour. */
typedef struct { uint64_t ms[4]; } nrm_deadlines_t;
void nrm_deadlines_default(nrm_deadlines_t *d);
uint64_t nrm_deadline_for(const nrm_deadlines_t *d, uint32_t priority, bool child);

/* Checks a message that opens a referral: response_due_ms is set and no
   later than created_ms plus the deadline for its priority. */
int nrm_deadline_check(const nrm_deadlines_t *d, const nrm_envelope_t *env,
                       nrm_err_t *err) NRM_WUR;

#endif
