/*  nrm_replay -- the registry and routing policy as rebuilt from the audit
    log alone, record by record, for the offline verifier. It checks every
    registry and policy record against the genesis administrators and the
    state before it (the rules of nrm_regadmin, written again independently:
    an auditor must not trust the code that wrote the log), and answers
    what was true at each point: which certificate and key an organisation
    had, whether it was suspended or revoked, which policy was in force. */
#ifndef NRM_REPLAY_H_INCLUDED
#define NRM_REPLAY_H_INCLUDED
#include "nrm_codec.h"
#include "nrm_policy.h"
#include "nrm_registry.h"

typedef struct nrm_replay nrm_replay_t;

/* One organisation as of the record being replayed. */
typedef struct {
    nrm_cert_t cert;             /* certificate in force                   */
    bool       has_old;          /* a rotation's old key is still accepted */
    nrm_cert_t old;
    int        status;           /* NRM_ORG_*                               */
} nrm_replay_org_t;

nrm_replay_t *nrm_replay_new(void);
void nrm_replay_destroy(nrm_replay_t **self_p);

/* Applies a GENESIS or registry/policy record (kinds 2, 7-17). Returns 0,
   or -1 with what is wrong in why; NRM_ENOMEM on memory. Records of other
   kinds are ignored. */
int nrm_replay_apply(nrm_replay_t *self, const nrm_record_t *rec, char *why, size_t why_size);

/* 0 if nothing is owed, else -1 with why: a quorum met by the last
   APPROVED must be followed at once by its ENROLLED or ROTATED record. */
int nrm_replay_owed(const nrm_replay_t *self, const nrm_record_t *next, char *why, size_t why_size);

/* The enrolled organisation, or NULL (borrowed until the next apply). */
const nrm_replay_org_t *nrm_replay_org(const nrm_replay_t *self, const char *org_id);
/* The policy in force, or NULL when none was ever set. */
const nrm_policy_t *nrm_replay_policy(const nrm_replay_t *self);
const nrm_genesis_t *nrm_replay_genesis(const nrm_replay_t *self); /* NULL before GENESIS */

#endif
