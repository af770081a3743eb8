/*  nrm_policy -- the routing policy: which organisation types may send which
    message types to which organisation types (docs/policy.md).

    A policy is parsed from the exact bytes an administrator signed (an INI
    document read with inih) and is immutable afterwards, so one parsed
    policy can be shared by every caller without locking. Lookups never
    allocate: the parser folds every rule, written and derived, into a small
    matrix indexed by type numbers. */
#ifndef NRM_POLICY_H_INCLUDED
#define NRM_POLICY_H_INCLUDED
#include "nrm.h"
#include "nrm_lifecycle.h"

/* Caps on a policy document (invariant 6). */
#define NRM_POLICY_MAX_BYTES   (64u * 1024u)  /* whole document              */
#define NRM_POLICY_LINE_MAX    160            /* characters a line, no newline */
#define NRM_POLICY_MAX_RULES   512            /* (sender, type, recipient)
                                                 entries written in the file */
#define NRM_POLICY_MAX_TYPES   32             /* organisation types (with
                                                 `any`) and message types    */
#define NRM_POLICY_DESC_MAX    120            /* [policy] description, bytes */
#define NRM_POLICY_VERSION_MAX 4294967295u    /* [policy] version            */
#define NRM_POLICY_MAX_MIN_RULES 64           /* purposes in [minimise.*]    */
#define NRM_POLICY_MAX_PATHS   1024           /* field names in [minimise.*] */
#define NRM_POLICY_DEADLINE_MAX_MS (30ull * 86400000ull) /* [deadlines] values */

typedef struct nrm_policy nrm_policy_t;

/* Parses policy text (INI). `name` (file name; NULL means "policy") prefixes
   errors: "NAME:LINE: reason". On success *out owns a new policy (free with
   nrm_policy_free). NRM_EINVAL on a bad document, NRM_ENOMEM; on failure
   *out is NULL and nothing is half-built. */
int nrm_policy_parse(const char *text, size_t len, const char *name,
                     nrm_policy_t **out, nrm_err_t *err) NRM_WUR;
/* Reads the file at `path` (at most NRM_POLICY_MAX_BYTES) and parses it,
   with `path` as the name in errors. NRM_EIO when it cannot be read. */
int nrm_policy_load_file(const char *path, nrm_policy_t **out, nrm_err_t *err) NRM_WUR;
/* Frees *p (NULL is fine) and clears the caller's pointer. */
void nrm_policy_free(nrm_policy_t **p);

/* 0 when an organisation of sender_type may send msg_type to one of
   recipient_type; otherwise nrm_err_refuse(err, NRM_R_POLICY, ...) naming
   the missing rule, and NRM_EINVAL. Never allocates; p may be shared by
   threads. A NULL policy or argument refuses everything. */
int nrm_policy_allows(const nrm_policy_t *p, const char *sender_type,
                      const char *msg_type, const char *recipient_type,
                      nrm_err_t *err) NRM_WUR;

/* The exact text it was parsed from (borrowed; *len set), and its SHA-256. */
const uint8_t *nrm_policy_text(const nrm_policy_t *p, size_t *len);
void nrm_policy_hash(const nrm_policy_t *p, uint8_t out[32]);

/* [policy] version (1..NRM_POLICY_VERSION_MAX) and description ("" when
   absent; borrowed). */
uint64_t nrm_policy_version(const nrm_policy_t *p);
const char *nrm_policy_description(const nrm_policy_t *p);

/* Calls fn once for every allowed (sender type, message type, recipient
   type), written or derived: "any" (the wildcard) first, then types in the
   order they first appear in the file. `derived` is true when the route
   follows only from [replies] or [follow-ups]. Stops at the first non-zero
   return of fn and returns it; 0 when all were visited. For
   `nrm-admin policy show`. */
typedef int (*nrm_policy_rule_fn)(void *user, const char *sender, const char *msg_type,
                                  const char *recipient, bool derived);
int nrm_policy_each(const nrm_policy_t *p, nrm_policy_rule_fn fn, void *user);

/* ---- lifecycle sections (docs/policy.md, docs/referrals.md) ---- */

/* [deadlines]: response deadlines per priority; Primero's defaults (3d,
   1d, 3h, 1h) for the keys not given, or when p is NULL. */
void nrm_policy_deadlines(const nrm_policy_t *p, nrm_deadlines_t *out);

/* [escalation]: the organisation id told when a referral sent by an
   organisation of sender_type is overdue ("" when none; borrowed). */
const char *nrm_policy_supervisor(const nrm_policy_t *p, const char *sender_type);

/* [minimise.<recipient_type>]: the body fields an organisation of that
   type may receive for purpose ("" means "any"). Returns 0 when the
   policy says nothing about that type (no minimisation); 1 with the
   allowed paths (borrowed) for purpose, or for the 'any' rule; NRM_EINVAL
   when the section exists but has neither. */
int nrm_policy_minimise(const nrm_policy_t *p, const char *recipient_type, const char *purpose,
                        const char *const **paths, size_t *n, nrm_err_t *err) NRM_WUR;

#endif
