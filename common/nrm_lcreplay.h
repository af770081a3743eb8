/*  nrm_lcreplay -- replays the referral lifecycle from the audit log, for
    `nrm-audit verify`: every ACCEPTED answer (response, outcome,
    withdrawal) must have been a legal transition of the referral it
    answers in the state the log had put it in; every ACCEPTED message with
    personal data must assert consent or a lawful basis; every ESCALATED
    record must escalate a referral that was still unanswered after its
    response-due time; every DELIVERED, DELIVERY_REFUSED or PURGED record
    must settle a message whose body was still waiting (accepted, none of
    the three before): so nothing is delivered after its body was purged,
    and a purged referral closes as `purged`. It needs only the records, never the bodies, so a
    log whose bodies were purged verifies the same. The rules are
    nrm_lifecycle's, the very table the broker decides with. */
#ifndef NRM_LCREPLAY_H_INCLUDED
#define NRM_LCREPLAY_H_INCLUDED
#include "nrm_codec.h"

typedef struct nrm_lcreplay nrm_lcreplay_t;

nrm_lcreplay_t *nrm_lcreplay_new(void);
void nrm_lcreplay_destroy(nrm_lcreplay_t **self_p);

/* Each returns 0, NRM_ENOMEM, or NRM_ECORRUPT with what is wrong in why
   (the caller names the record). */
int nrm_lcreplay_accepted(nrm_lcreplay_t *self, const nrm_record_t *rec, const nrm_envelope_t *env,
                        char *why, size_t why_len) NRM_WUR;
/* DELIVERED or DELIVERY_REFUSED (after the caller checked the signed
   acknowledgement against the ACCEPTED record). */
int nrm_lcreplay_delivered(nrm_lcreplay_t *self, const nrm_record_t *rec, char *why,
                         size_t why_len) NRM_WUR;
/* PURGED: reason code purged, refers to the message's ACCEPTED record. */
int nrm_lcreplay_purged(nrm_lcreplay_t *self, const nrm_record_t *rec, char *why,
                      size_t why_len) NRM_WUR;
int nrm_lcreplay_escalated(nrm_lcreplay_t *self, const nrm_record_t *rec, char *why,
                         size_t why_len) NRM_WUR;

#endif
