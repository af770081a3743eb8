/*  nrm_lifecycle -- referral state machine, consent rule, deadlines (see
    the header). The transition table below is the single statement of
    what is legal; the broker and the verifier both read it. */
#include "nrm_lifecycle.h"
#include <stdio.h>
#include <string.h>

const char *
nrm_ref_state_name(nrm_ref_state_t s)
{
    switch (s) {
    case NRM_REF_SENT:      return "sent";
    case NRM_REF_DELIVERED: return "delivered";
    case NRM_REF_ACCEPTED:  return "accepted";
    case NRM_REF_DECLINED:  return "declined";
    case NRM_REF_COMPLETED: return "completed";
    case NRM_REF_WITHDRAWN: return "withdrawn";
    case NRM_REF_OVERDUE:   return "overdue";
    case NRM_REF_PURGED:    return "purged";
    default:                return "none";
    }
}

const char *
nrm_ref_event_name(nrm_ref_event_t e)
{
    switch (e) {
    case NRM_EV_DELIVER:  return "delivery";
    case NRM_EV_ACCEPT:   return "acceptance";
    case NRM_EV_DECLINE:  return "decline";
    case NRM_EV_COMPLETE: return "outcome";
    case NRM_EV_WITHDRAW: return "withdrawal";
    case NRM_EV_DEADLINE: return "deadline";
    case NRM_EV_PURGE:    return "purge";
    default:              return "none";
    }
}

bool
nrm_ref_state_final(nrm_ref_state_t s)
{
    return s == NRM_REF_DECLINED || s == NRM_REF_COMPLETED || s == NRM_REF_WITHDRAWN
        || s == NRM_REF_PURGED;
}

bool
nrm_lifecycle_opens(const char *type)
{
    return strcmp(type, "tip") == 0 || strcmp(type, "referral") == 0
           || strcmp(type, "transfer") == 0 || strcmp(type, "interpreter-request") == 0;
}

nrm_ref_event_t
nrm_lifecycle_event(const nrm_envelope_t *env)
{
    if (strcmp(env->type, "response") == 0)
        return strcmp(env->decision, "declined") == 0 ? NRM_EV_DECLINE : NRM_EV_ACCEPT;
    if (strcmp(env->type, "outcome") == 0)
        return NRM_EV_COMPLETE;
    if (strcmp(env->type, "withdrawal") == 0)
        return NRM_EV_WITHDRAW;
    return 0;
}

/* One cell of the table: the next state, or a refusal with its reason. */
typedef struct {
    nrm_ref_state_t next;     /* NRM_REF_NONE: refused */
    uint32_t reason;
    const char *why;
} s_cell_t;

#define OK(s)        { s, 0, NULL }
#define NO(r, text)  { NRM_REF_NONE, r, text }

/* [event][state]; state NONE is never looked up (unknown referrals are
   refused before the table: NRM_R_UNKNOWN_REFERRAL). */
static const s_cell_t s_table[NRM_REF_EVENTS][NRM_REF_STATES] = {
    [NRM_EV_DELIVER] = {
        /* a delivery is a fact, not a decision: it never fails and only
           moves a referral that was merely sent */
        [NRM_REF_SENT] = OK(NRM_REF_DELIVERED), [NRM_REF_DELIVERED] = OK(NRM_REF_DELIVERED),
        [NRM_REF_ACCEPTED] = OK(NRM_REF_ACCEPTED), [NRM_REF_DECLINED] = OK(NRM_REF_DECLINED),
        [NRM_REF_COMPLETED] = OK(NRM_REF_COMPLETED), [NRM_REF_WITHDRAWN] = OK(NRM_REF_WITHDRAWN),
        [NRM_REF_OVERDUE] = OK(NRM_REF_OVERDUE),
        /* the one delivery that is refused: its body is gone */
        [NRM_REF_PURGED] = NO(NRM_R_PURGED, "the body was purged undelivered"),
    },
    [NRM_EV_ACCEPT] = {
        [NRM_REF_SENT] = OK(NRM_REF_ACCEPTED), [NRM_REF_DELIVERED] = OK(NRM_REF_ACCEPTED),
        [NRM_REF_OVERDUE] = OK(NRM_REF_ACCEPTED),
        [NRM_REF_ACCEPTED] = NO(NRM_R_ALREADY_ANSWERED, "the referral was already accepted"),
        [NRM_REF_DECLINED] = NO(NRM_R_ALREADY_ANSWERED, "the referral was already declined"),
        [NRM_REF_COMPLETED] = NO(NRM_R_CLOSED, "the referral is completed"),
        [NRM_REF_WITHDRAWN] = NO(NRM_R_WITHDRAWN, "the referral was withdrawn by its sender"),
        [NRM_REF_PURGED] = NO(NRM_R_PURGED, "the referral was closed undelivered (its body purged)"),
    },
    [NRM_EV_DECLINE] = {
        [NRM_REF_SENT] = OK(NRM_REF_DECLINED), [NRM_REF_DELIVERED] = OK(NRM_REF_DECLINED),
        [NRM_REF_OVERDUE] = OK(NRM_REF_DECLINED),
        [NRM_REF_ACCEPTED] = NO(NRM_R_ALREADY_ANSWERED, "the referral was already accepted"),
        [NRM_REF_DECLINED] = NO(NRM_R_ALREADY_ANSWERED, "the referral was already declined"),
        [NRM_REF_COMPLETED] = NO(NRM_R_CLOSED, "the referral is completed"),
        [NRM_REF_WITHDRAWN] = NO(NRM_R_WITHDRAWN, "the referral was withdrawn by its sender"),
        [NRM_REF_PURGED] = NO(NRM_R_PURGED, "the referral was closed undelivered (its body purged)"),
    },
    [NRM_EV_COMPLETE] = {
        [NRM_REF_ACCEPTED] = OK(NRM_REF_COMPLETED),
        [NRM_REF_SENT] = NO(NRM_R_NOT_ACCEPTED, "an outcome before the referral was accepted"),
        [NRM_REF_DELIVERED] = NO(NRM_R_NOT_ACCEPTED, "an outcome before the referral was accepted"),
        [NRM_REF_OVERDUE] = NO(NRM_R_NOT_ACCEPTED, "an outcome before the referral was accepted"),
        [NRM_REF_DECLINED] = NO(NRM_R_NOT_ACCEPTED, "an outcome of a declined referral"),
        [NRM_REF_COMPLETED] = NO(NRM_R_CLOSED, "the referral is already completed"),
        [NRM_REF_WITHDRAWN] = NO(NRM_R_WITHDRAWN, "the referral was withdrawn by its sender"),
        [NRM_REF_PURGED] = NO(NRM_R_PURGED, "the referral was closed undelivered (its body purged)"),
    },
    [NRM_EV_WITHDRAW] = {
        [NRM_REF_SENT] = OK(NRM_REF_WITHDRAWN), [NRM_REF_DELIVERED] = OK(NRM_REF_WITHDRAWN),
        [NRM_REF_OVERDUE] = OK(NRM_REF_WITHDRAWN), [NRM_REF_ACCEPTED] = OK(NRM_REF_WITHDRAWN),
        [NRM_REF_DECLINED] = NO(NRM_R_ALREADY_ANSWERED, "the referral was declined; there is nothing to withdraw"),
        [NRM_REF_COMPLETED] = NO(NRM_R_CLOSED, "the referral is completed"),
        [NRM_REF_WITHDRAWN] = NO(NRM_R_WITHDRAWN, "the referral was already withdrawn"),
        [NRM_REF_PURGED] = NO(NRM_R_PURGED, "the referral was closed undelivered (its body purged)"),
    },
    [NRM_EV_DEADLINE] = {
        [NRM_REF_SENT] = OK(NRM_REF_OVERDUE), [NRM_REF_DELIVERED] = OK(NRM_REF_OVERDUE),
        [NRM_REF_OVERDUE] = NO(NRM_R_DEADLINE, "the referral is already overdue"),
        [NRM_REF_ACCEPTED] = NO(NRM_R_ALREADY_ANSWERED, "the referral was answered (accepted)"),
        [NRM_REF_DECLINED] = NO(NRM_R_ALREADY_ANSWERED, "the referral was answered (declined)"),
        [NRM_REF_COMPLETED] = NO(NRM_R_CLOSED, "the referral is completed"),
        [NRM_REF_WITHDRAWN] = NO(NRM_R_WITHDRAWN, "the referral was withdrawn"),
        [NRM_REF_PURGED] = NO(NRM_R_PURGED, "the referral was closed undelivered (its body purged)"),
    },
    [NRM_EV_PURGE] = {
        /* the broker drops a body nobody acknowledged within the retention:
           an unanswered referral closes as purged; an answered one (the
           recipient answered before acknowledging) keeps its answer */
        [NRM_REF_SENT] = OK(NRM_REF_PURGED), [NRM_REF_OVERDUE] = OK(NRM_REF_PURGED),
        [NRM_REF_ACCEPTED] = OK(NRM_REF_ACCEPTED), [NRM_REF_DECLINED] = OK(NRM_REF_DECLINED),
        [NRM_REF_COMPLETED] = OK(NRM_REF_COMPLETED), [NRM_REF_WITHDRAWN] = OK(NRM_REF_WITHDRAWN),
        [NRM_REF_DELIVERED] = NO(NRM_R_PURGED, "the referral was delivered; there is no body to purge"),
        [NRM_REF_PURGED] = NO(NRM_R_PURGED, "the body was already purged"),
    },
};

int
nrm_lifecycle_step(nrm_ref_state_t s, nrm_ref_event_t ev, nrm_role_t who, nrm_ref_state_t *next,
                   nrm_err_t *err)
{
    *next = NRM_REF_NONE;
    if ((int) ev < 1 || ev >= NRM_REF_EVENTS || (int) s < 1 || s >= NRM_REF_STATES)
        return nrm_err_refuse(err, NRM_R_UNKNOWN_REFERRAL, "no referral in a known state");
    switch (ev) {
    case NRM_EV_DELIVER:
    case NRM_EV_DEADLINE:
    case NRM_EV_PURGE:
        if (who != NRM_ROLE_BROKER)
            return nrm_err_refuse(err, NRM_R_INTERNAL, "only the broker decides a %s",
                                  nrm_ref_event_name(ev));
        break;
    case NRM_EV_WITHDRAW:
        if (who != NRM_ROLE_SENDER)
            return nrm_err_refuse(err, NRM_R_NOT_SENDER,
                                  "only the organisation that sent the referral may withdraw it");
        break;
    default:
        if (who != NRM_ROLE_RECIPIENT)
            return nrm_err_refuse(err, NRM_R_NOT_RECIPIENT,
                                  "only the organisation the referral was sent to may answer it (%s)",
                                  nrm_ref_event_name(ev));
        break;
    }
    const s_cell_t *c = &s_table[ev][s];
    if (c->next == NRM_REF_NONE)
        return nrm_err_refuse(err, c->reason, "%s refused: %s", nrm_ref_event_name(ev), c->why);
    *next = c->next;
    return 0;
}

int
nrm_consent_check(const nrm_envelope_t *env, nrm_err_t *err)
{
    if (!env->personal_data)
        return 0;
    if (!env->has_consent)
        return nrm_err_refuse(err, NRM_R_CONSENT_MISSING,
                              "the body carries personal data but the envelope asserts neither "
                              "consent nor a lawful basis");
    const nrm_consent_t *c = &env->consent;
    bool by_consent = c->services && c->sharing;
    bool by_basis = c->lawful_basis[0] && c->overridden_by[0];
    if (!by_consent && !by_basis)
        return nrm_err_refuse(err, NRM_R_CONSENT_MISSING,
                              "personal data needs consent to services and to sharing with the "
                              "recipient, or a lawful basis with the official who relied on it "
                              "(services %s, sharing %s, lawful basis '%s', overridden by '%s')",
                              c->services ? "yes" : "no", c->sharing ? "yes" : "no",
                              c->lawful_basis, c->overridden_by);
    if (env->child && by_consent && !c->given_by[0])
        return nrm_err_refuse(err, NRM_R_CONSENT_MISSING,
                              "consent for a child must say who gave it (guardian or "
                              "responsible_official)");
    if (env->child && by_consent && !by_basis && strcmp(c->given_by, "victim") == 0)
        return nrm_err_refuse(err, NRM_R_CONSENT_MISSING,
                              "a child cannot consent alone: a guardian or the responsible "
                              "official gives consent");
    return 0;
}

void
nrm_deadlines_default(nrm_deadlines_t *d)
{
    d->ms[0] = 3ull * 24 * 3600 * 1000;
    d->ms[1] = 24ull * 3600 * 1000;
    d->ms[2] = 3ull * 3600 * 1000;
    d->ms[3] = 3600ull * 1000;
}

uint64_t
nrm_deadline_for(const nrm_deadlines_t *d, uint32_t priority, bool child)
{
    if (child || priority >= 3)
        return d->ms[3];
    return d->ms[priority];
}

int
nrm_deadline_check(const nrm_deadlines_t *d, const nrm_envelope_t *env, nrm_err_t *err)
{
    if (!nrm_lifecycle_opens(env->type)) {
        if (env->response_due_ms)
            return nrm_err_refuse(err, NRM_R_DEADLINE, "a %s has no response deadline", env->type);
        return 0;
    }
    if (!env->response_due_ms)
        return nrm_err_refuse(err, NRM_R_DEADLINE, "a %s must carry its response-due time", env->type);
    uint64_t limit = nrm_deadline_for(d, env->priority, env->child);
    if (env->response_due_ms - env->created_ms > limit)
        return nrm_err_refuse(err, NRM_R_DEADLINE,
                              "response due %llu s after creation, later than the %llu s the "
                              "policy allows for priority %u%s",
                              (unsigned long long) ((env->response_due_ms - env->created_ms) / 1000),
                              (unsigned long long) (limit / 1000), env->priority,
                              env->child ? " and a child" : "");
    return 0;
}
