/*  Unit tests of the referral lifecycle: every (state, event, role) of the
    state machine against a table written from docs/referrals.md, the
    consent rule, deadlines, and the verifier's replay of a log. */
#include "nrm_lifecycle.h"
#include "nrm_lcreplay.h"
#include "nrm_crypto.h"
#include "nrm_util.h"
#include "testutil.h"

/* What docs/referrals.md says, one row per (event, state) for the role that
   may cause the event; 0 in `next` means refused with `reason`. */
typedef struct {
    nrm_ref_event_t ev;
    nrm_ref_state_t from, next;
    uint32_t reason;
    const char *why;
} row_t;

#define S(x) NRM_REF_##x
static const row_t s_rows[] = {
    /* delivery: a fact, never refused; moves only a sent referral */
    { NRM_EV_DELIVER, S(SENT), S(DELIVERED), 0, NULL },
    { NRM_EV_DELIVER, S(DELIVERED), S(DELIVERED), 0, NULL },
    { NRM_EV_DELIVER, S(ACCEPTED), S(ACCEPTED), 0, NULL },
    { NRM_EV_DELIVER, S(DECLINED), S(DECLINED), 0, NULL },
    { NRM_EV_DELIVER, S(COMPLETED), S(COMPLETED), 0, NULL },
    { NRM_EV_DELIVER, S(WITHDRAWN), S(WITHDRAWN), 0, NULL },
    { NRM_EV_DELIVER, S(OVERDUE), S(OVERDUE), 0, NULL },
    { NRM_EV_DELIVER, S(PURGED), 0, NRM_R_PURGED, "purged undelivered" },   /* the body is gone */
    /* acceptance */
    { NRM_EV_ACCEPT, S(SENT), S(ACCEPTED), 0, NULL },
    { NRM_EV_ACCEPT, S(DELIVERED), S(ACCEPTED), 0, NULL },
    { NRM_EV_ACCEPT, S(OVERDUE), S(ACCEPTED), 0, NULL },
    { NRM_EV_ACCEPT, S(ACCEPTED), 0, NRM_R_ALREADY_ANSWERED, "already accepted" },
    { NRM_EV_ACCEPT, S(DECLINED), 0, NRM_R_ALREADY_ANSWERED, "already declined" },
    { NRM_EV_ACCEPT, S(COMPLETED), 0, NRM_R_CLOSED, "completed" },
    { NRM_EV_ACCEPT, S(WITHDRAWN), 0, NRM_R_WITHDRAWN, "withdrawn" },
    { NRM_EV_ACCEPT, S(PURGED), 0, NRM_R_PURGED, "closed undelivered" },
    /* decline */
    { NRM_EV_DECLINE, S(SENT), S(DECLINED), 0, NULL },
    { NRM_EV_DECLINE, S(DELIVERED), S(DECLINED), 0, NULL },
    { NRM_EV_DECLINE, S(OVERDUE), S(DECLINED), 0, NULL },
    { NRM_EV_DECLINE, S(ACCEPTED), 0, NRM_R_ALREADY_ANSWERED, "already accepted" },
    { NRM_EV_DECLINE, S(DECLINED), 0, NRM_R_ALREADY_ANSWERED, "already declined" },
    { NRM_EV_DECLINE, S(COMPLETED), 0, NRM_R_CLOSED, "completed" },
    { NRM_EV_DECLINE, S(WITHDRAWN), 0, NRM_R_WITHDRAWN, "withdrawn" },
    { NRM_EV_DECLINE, S(PURGED), 0, NRM_R_PURGED, "closed undelivered" },
    /* outcome */
    { NRM_EV_COMPLETE, S(ACCEPTED), S(COMPLETED), 0, NULL },
    { NRM_EV_COMPLETE, S(SENT), 0, NRM_R_NOT_ACCEPTED, "before the referral was accepted" },
    { NRM_EV_COMPLETE, S(DELIVERED), 0, NRM_R_NOT_ACCEPTED, "before the referral was accepted" },
    { NRM_EV_COMPLETE, S(OVERDUE), 0, NRM_R_NOT_ACCEPTED, "before the referral was accepted" },
    { NRM_EV_COMPLETE, S(DECLINED), 0, NRM_R_NOT_ACCEPTED, "declined referral" },
    { NRM_EV_COMPLETE, S(COMPLETED), 0, NRM_R_CLOSED, "already completed" },
    { NRM_EV_COMPLETE, S(WITHDRAWN), 0, NRM_R_WITHDRAWN, "withdrawn" },
    { NRM_EV_COMPLETE, S(PURGED), 0, NRM_R_PURGED, "closed undelivered" },
    /* withdrawal */
    { NRM_EV_WITHDRAW, S(SENT), S(WITHDRAWN), 0, NULL },
    { NRM_EV_WITHDRAW, S(DELIVERED), S(WITHDRAWN), 0, NULL },
    { NRM_EV_WITHDRAW, S(OVERDUE), S(WITHDRAWN), 0, NULL },
    { NRM_EV_WITHDRAW, S(ACCEPTED), S(WITHDRAWN), 0, NULL },
    { NRM_EV_WITHDRAW, S(DECLINED), 0, NRM_R_ALREADY_ANSWERED, "nothing to withdraw" },
    { NRM_EV_WITHDRAW, S(COMPLETED), 0, NRM_R_CLOSED, "completed" },
    { NRM_EV_WITHDRAW, S(WITHDRAWN), 0, NRM_R_WITHDRAWN, "already withdrawn" },
    { NRM_EV_WITHDRAW, S(PURGED), 0, NRM_R_PURGED, "closed undelivered" },
    /* deadline */
    { NRM_EV_DEADLINE, S(SENT), S(OVERDUE), 0, NULL },
    { NRM_EV_DEADLINE, S(DELIVERED), S(OVERDUE), 0, NULL },
    { NRM_EV_DEADLINE, S(OVERDUE), 0, NRM_R_DEADLINE, "already overdue" },
    { NRM_EV_DEADLINE, S(ACCEPTED), 0, NRM_R_ALREADY_ANSWERED, "answered" },
    { NRM_EV_DEADLINE, S(DECLINED), 0, NRM_R_ALREADY_ANSWERED, "answered" },
    { NRM_EV_DEADLINE, S(COMPLETED), 0, NRM_R_CLOSED, "completed" },
    { NRM_EV_DEADLINE, S(WITHDRAWN), 0, NRM_R_WITHDRAWN, "withdrawn" },
    { NRM_EV_DEADLINE, S(PURGED), 0, NRM_R_PURGED, "closed undelivered" },
    /* purge: the broker drops a body nobody acknowledged within the
       retention; an unanswered referral closes, an answer stands */
    { NRM_EV_PURGE, S(SENT), S(PURGED), 0, NULL },
    { NRM_EV_PURGE, S(OVERDUE), S(PURGED), 0, NULL },
    { NRM_EV_PURGE, S(ACCEPTED), S(ACCEPTED), 0, NULL },
    { NRM_EV_PURGE, S(DECLINED), S(DECLINED), 0, NULL },
    { NRM_EV_PURGE, S(COMPLETED), S(COMPLETED), 0, NULL },
    { NRM_EV_PURGE, S(WITHDRAWN), S(WITHDRAWN), 0, NULL },
    { NRM_EV_PURGE, S(DELIVERED), 0, NRM_R_PURGED, "no body to purge" },
    { NRM_EV_PURGE, S(PURGED), 0, NRM_R_PURGED, "already purged" },
};

/* The role allowed to cause each event, and the refusal for any other. */
static nrm_role_t
s_role_of(nrm_ref_event_t ev, uint32_t *wrong_reason)
{
    switch (ev) {
    case NRM_EV_DELIVER:
    case NRM_EV_DEADLINE:
    case NRM_EV_PURGE:     *wrong_reason = NRM_R_INTERNAL; return NRM_ROLE_BROKER;
    case NRM_EV_WITHDRAW:  *wrong_reason = NRM_R_NOT_SENDER; return NRM_ROLE_SENDER;
    default:               *wrong_reason = NRM_R_NOT_RECIPIENT; return NRM_ROLE_RECIPIENT;
    }
}

static void
test_table(void)
{
    int cells = 0;
    for (int ev = 1; ev < NRM_REF_EVENTS; ev++) {
        for (int st = 1; st < NRM_REF_STATES; st++) {
            const row_t *row = NULL;
            for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++)
                if ((int) s_rows[i].ev == ev && (int) s_rows[i].from == st)
                    row = &s_rows[i];
            CHECK(row != NULL);                 /* the table covers every cell */
            if (!row)
                continue;
            uint32_t wrong;
            nrm_role_t right = s_role_of(row->ev, &wrong);
            for (int role = 0; role < 4; role++) {
                nrm_err_t err = { 0, 0, "" };
                nrm_ref_state_t next = NRM_REF_SENT;
                int rc = nrm_lifecycle_step(row->from, row->ev, (nrm_role_t) role, &next, &err);
                cells++;
                t_checks++;
                bool ok;
                if ((nrm_role_t) role != right)
                    ok = rc == NRM_EINVAL && err.reason == wrong && next == NRM_REF_NONE;
                else if (row->next)
                    ok = rc == 0 && next == row->next;
                else
                    ok = rc == NRM_EINVAL && err.reason == row->reason && strstr(err.msg, row->why)
                         && next == NRM_REF_NONE;
                if (!ok) {
                    t_failures++;
                    fprintf(stderr, "%s in %s by role %d: rc %d next %s reason %s '%s'\n",
                            nrm_ref_event_name(row->ev), nrm_ref_state_name(row->from), role, rc,
                            nrm_ref_state_name(next), nrm_reason_name(err.reason), err.msg);
                }
            }
        }
    }
    CHECK(cells == 7 * 8 * 4);
    CHECK(nrm_ref_state_final(NRM_REF_PURGED));
    CHECK_STR_HAS(nrm_ref_state_name(NRM_REF_PURGED), "purged");
    /* out of range */
    nrm_ref_state_t next;
    nrm_err_t err = { 0, 0, "" };
    CHECK_RC(nrm_lifecycle_step(NRM_REF_NONE, NRM_EV_ACCEPT, NRM_ROLE_RECIPIENT, &next, &err), NRM_EINVAL);
    CHECK(err.reason == NRM_R_UNKNOWN_REFERRAL);
    CHECK_RC(nrm_lifecycle_step(NRM_REF_SENT, (nrm_ref_event_t) 99, NRM_ROLE_RECIPIENT, &next, &err),
             NRM_EINVAL);
}

static nrm_envelope_t
s_env(const char *type, const char *from, const char *to)
{
    nrm_envelope_t e;
    memset(&e, 0, sizeof e);
    e.version = 1;
    nrm_random(e.msg_id, sizeof e.msg_id);
    snprintf(e.type, sizeof e.type, "%s", type);
    snprintf(e.sender, sizeof e.sender, "%s", from);
    snprintf(e.recipient, sizeof e.recipient, "%s", to);
    snprintf(e.case_ref, sizeof e.case_ref, "case-1");
    e.created_ms = 1000000;
    return e;
}

static void
test_consent_and_deadlines(void)
{
    nrm_envelope_t e = s_env("referral", "police", "msdhs");
    nrm_err_t err = { 0, 0, "" };
    CHECK_RC(nrm_consent_check(&e, &err), 0);               /* no personal data */
    e.personal_data = true;
    CHECK_RC(nrm_consent_check(&e, &err), NRM_EINVAL);
    CHECK(err.reason == NRM_R_CONSENT_MISSING);
    CHECK_STR_HAS(err.msg, "asserts neither consent nor a lawful basis");
    e.has_consent = true;
    e.consent.services = true;
    CHECK_RC(nrm_consent_check(&e, &err), NRM_EINVAL);      /* services, not sharing */
    e.consent.sharing = true;
    CHECK_RC(nrm_consent_check(&e, &err), 0);
    e.child = true;
    CHECK_RC(nrm_consent_check(&e, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "consent for a child must say who gave it");
    snprintf(e.consent.given_by, sizeof e.consent.given_by, "victim");
    CHECK_RC(nrm_consent_check(&e, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "a child cannot consent alone");
    snprintf(e.consent.given_by, sizeof e.consent.given_by, "guardian");
    CHECK_RC(nrm_consent_check(&e, &err), 0);
    memset(&e.consent, 0, sizeof e.consent);
    snprintf(e.consent.lawful_basis, sizeof e.consent.lawful_basis, "vital_interests");
    CHECK_RC(nrm_consent_check(&e, &err), NRM_EINVAL);      /* basis without who */
    snprintf(e.consent.overridden_by, sizeof e.consent.overridden_by, "police.officer-1");
    CHECK_RC(nrm_consent_check(&e, &err), 0);

    nrm_deadlines_t d;
    nrm_deadlines_default(&d);
    CHECK(nrm_deadline_for(&d, 0, false) == 3ull * 86400000);
    CHECK(nrm_deadline_for(&d, 1, false) == 86400000ull);
    CHECK(nrm_deadline_for(&d, 2, false) == 3ull * 3600000);
    CHECK(nrm_deadline_for(&d, 3, false) == 3600000ull);
    CHECK(nrm_deadline_for(&d, 0, true) == 3600000ull);     /* a child: the shortest */
    e = s_env("referral", "police", "msdhs");
    CHECK_RC(nrm_deadline_check(&d, &e, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "must carry its response-due time");
    e.priority = 2;
    e.response_due_ms = e.created_ms + 3ull * 3600000;
    CHECK_RC(nrm_deadline_check(&d, &e, &err), 0);
    e.response_due_ms++;
    CHECK_RC(nrm_deadline_check(&d, &e, &err), NRM_EINVAL);
    CHECK(err.reason == NRM_R_DEADLINE);
    e.child = true;
    e.response_due_ms = e.created_ms + 3600000;
    CHECK_RC(nrm_deadline_check(&d, &e, &err), 0);
    nrm_envelope_t s = s_env("status", "police", "msdhs");
    CHECK_RC(nrm_deadline_check(&d, &s, &err), 0);
    s.response_due_ms = s.created_ms + 1;
    CHECK_RC(nrm_deadline_check(&d, &s, &err), NRM_EINVAL);
}

/* The verifier's replay: a legal history passes; an answer the state did
   not allow, an answer to nothing, or an early escalation fails. */
static void
test_replay(void)
{
    nrm_lcreplay_t *r = nrm_lcreplay_new();
    nrm_record_t rec;
    char why[400];
    memset(&rec, 0, sizeof rec);
    nrm_envelope_t ref = s_env("referral", "police", "msdhs");
    ref.response_due_ms = ref.created_ms + 3600000;
    rec.seq = 4;
    CHECK_RC(nrm_lcreplay_accepted(r, &rec, &ref, why, sizeof why), 0);
    nrm_envelope_t acc = s_env("response", "msdhs", "police");
    snprintf(acc.decision, sizeof acc.decision, "accepted");
    acc.has_reply_to = true;
    memcpy(acc.in_reply_to, ref.msg_id, NRM_MSGID_BYTES);
    rec.seq = 6;
    CHECK_RC(nrm_lcreplay_accepted(r, &rec, &acc, why, sizeof why), 0);
    rec.seq = 7;
    nrm_random(acc.msg_id, sizeof acc.msg_id);              /* a second acceptance */
    CHECK_RC(nrm_lcreplay_accepted(r, &rec, &acc, why, sizeof why), NRM_ECORRUPT);   /* twice */
    CHECK_STR_HAS(why, "ACCEPTED an illegal response of the referral of record 4 (state accepted)");
    nrm_envelope_t orphan = s_env("outcome", "msdhs", "police");
    CHECK_RC(nrm_lcreplay_accepted(r, &rec, &orphan, why, sizeof why), NRM_ECORRUPT);
    CHECK_STR_HAS(why, "answers no referral in the log");
    nrm_envelope_t nodue = s_env("tip", "ngo", "police");
    CHECK_RC(nrm_lcreplay_accepted(r, &rec, &nodue, why, sizeof why), NRM_ECORRUPT);
    nrm_envelope_t secret = s_env("status", "ngo", "police");
    secret.personal_data = true;
    CHECK_RC(nrm_lcreplay_accepted(r, &rec, &secret, why, sizeof why), NRM_ECORRUPT);
    CHECK_STR_HAS(why, "breaks the consent rule");

    /* escalation: only after the due time, only while unanswered */
    nrm_envelope_t late = s_env("referral", "police", "labour");
    late.response_due_ms = late.created_ms + 1000;
    rec.seq = 8;
    CHECK_RC(nrm_lcreplay_accepted(r, &rec, &late, why, sizeof why), 0);
    nrm_record_t esc;
    memset(&esc, 0, sizeof esc);
    esc.kind = NRM_REC_ESCALATED;
    esc.has_msg_id = true;
    memcpy(esc.msg_id, late.msg_id, NRM_MSGID_BYTES);
    esc.refers_to = 8;
    esc.time_ms = late.response_due_ms - 1;
    CHECK_RC(nrm_lcreplay_escalated(r, &esc, why, sizeof why), NRM_ECORRUPT);
    CHECK_STR_HAS(why, "before the referral's response-due time");
    esc.time_ms = late.response_due_ms;
    CHECK_RC(nrm_lcreplay_escalated(r, &esc, why, sizeof why), 0);
    CHECK_RC(nrm_lcreplay_escalated(r, &esc, why, sizeof why), NRM_ECORRUPT);
    CHECK_STR_HAS(why, "already overdue");
    memcpy(esc.msg_id, ref.msg_id, NRM_MSGID_BYTES);       /* answered one */
    esc.refers_to = 4;
    CHECK_RC(nrm_lcreplay_escalated(r, &esc, why, sizeof why), NRM_ECORRUPT);
    nrm_lcreplay_destroy(&r);
    CHECK(r == NULL);
}

static nrm_record_t
s_settle_rec(int kind, const uint8_t id[NRM_MSGID_BYTES], uint64_t seq, uint64_t refers_to)
{
    nrm_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.kind = kind;
    rec.seq = seq;
    rec.has_msg_id = true;
    memcpy(rec.msg_id, id, NRM_MSGID_BYTES);
    rec.refers_to = refers_to;
    if (kind == NRM_REC_PURGED)
        rec.reason_code = NRM_R_PURGED;
    return rec;
}

/* Retention in the replay: a PURGED record settles an accepted, undelivered
   message and closes its referral; nothing is delivered after it, and a
   delivered message cannot be purged. */
static void
test_replay_purge(void)
{
    nrm_lcreplay_t *r = nrm_lcreplay_new();
    nrm_record_t acc, rec;
    char why[400];
    memset(&acc, 0, sizeof acc);
    nrm_envelope_t ref = s_env("referral", "police", "msdhs");
    ref.response_due_ms = ref.created_ms + 3600000;
    acc.seq = 10;
    CHECK_RC(nrm_lcreplay_accepted(r, &acc, &ref, why, sizeof why), 0);
    CHECK_RC(nrm_lcreplay_accepted(r, &acc, &ref, why, sizeof why), NRM_ECORRUPT);   /* same id twice */
    CHECK_STR_HAS(why, "message id the log accepted before");

    rec = s_settle_rec(NRM_REC_PURGED, ref.msg_id, 12, 11);          /* wrong ACCEPTED record */
    CHECK_RC(nrm_lcreplay_purged(r, &rec, why, sizeof why), NRM_ECORRUPT);
    CHECK_STR_HAS(why, "not to the message's ACCEPTED record 10");
    rec = s_settle_rec(NRM_REC_PURGED, ref.msg_id, 12, 10);
    rec.reason_code = NRM_R_DEADLINE;
    CHECK_RC(nrm_lcreplay_purged(r, &rec, why, sizeof why), NRM_ECORRUPT);
    CHECK_STR_HAS(why, "PURGED with reason code");
    rec.reason_code = NRM_R_PURGED;
    CHECK_RC(nrm_lcreplay_purged(r, &rec, why, sizeof why), 0);
    CHECK_RC(nrm_lcreplay_purged(r, &rec, why, sizeof why), NRM_ECORRUPT);           /* twice */
    CHECK_STR_HAS(why, "after the body was purged undelivered (record 12)");
    /* the verifier refuses a delivery after the purge, and an answer */
    rec = s_settle_rec(NRM_REC_DELIVERED, ref.msg_id, 13, 10);
    CHECK_RC(nrm_lcreplay_delivered(r, &rec, why, sizeof why), NRM_ECORRUPT);
    CHECK_STR_HAS(why, "DELIVERED after the body was purged undelivered (record 12)");
    rec.kind = NRM_REC_DELIVERY_REFUSED;
    CHECK_RC(nrm_lcreplay_delivered(r, &rec, why, sizeof why), NRM_ECORRUPT);
    nrm_envelope_t ans = s_env("response", "msdhs", "police");
    snprintf(ans.decision, sizeof ans.decision, "accepted");
    ans.has_reply_to = true;
    memcpy(ans.in_reply_to, ref.msg_id, NRM_MSGID_BYTES);
    acc.seq = 14;
    CHECK_RC(nrm_lcreplay_accepted(r, &acc, &ans, why, sizeof why), NRM_ECORRUPT);
    CHECK_STR_HAS(why, "(state purged)");
    nrm_envelope_t wd = s_env("withdrawal", "police", "msdhs");
    wd.has_reply_to = true;
    memcpy(wd.in_reply_to, ref.msg_id, NRM_MSGID_BYTES);
    CHECK_RC(nrm_lcreplay_accepted(r, &acc, &wd, why, sizeof why), NRM_ECORRUPT);
    CHECK_STR_HAS(why, "closed undelivered");

    /* a delivered message has no body left to purge; a status (not a
       referral) is purged like any message */
    nrm_envelope_t ref2 = s_env("referral", "police", "labour");
    ref2.response_due_ms = ref2.created_ms + 3600000;
    acc.seq = 20;
    CHECK_RC(nrm_lcreplay_accepted(r, &acc, &ref2, why, sizeof why), 0);
    rec = s_settle_rec(NRM_REC_DELIVERED, ref2.msg_id, 21, 20);
    CHECK_RC(nrm_lcreplay_delivered(r, &rec, why, sizeof why), 0);
    CHECK_RC(nrm_lcreplay_delivered(r, &rec, why, sizeof why), NRM_ECORRUPT);        /* twice */
    CHECK_STR_HAS(why, "not waiting for delivery");
    rec = s_settle_rec(NRM_REC_PURGED, ref2.msg_id, 22, 20);
    CHECK_RC(nrm_lcreplay_purged(r, &rec, why, sizeof why), NRM_ECORRUPT);
    CHECK_STR_HAS(why, "not waiting for delivery");
    nrm_envelope_t st = s_env("status", "police", "labour");
    acc.seq = 23;
    CHECK_RC(nrm_lcreplay_accepted(r, &acc, &st, why, sizeof why), 0);
    rec = s_settle_rec(NRM_REC_PURGED, st.msg_id, 24, 23);
    CHECK_RC(nrm_lcreplay_purged(r, &rec, why, sizeof why), 0);
    uint8_t none[NRM_MSGID_BYTES] = { 1 };
    rec = s_settle_rec(NRM_REC_PURGED, none, 25, 23);
    CHECK_RC(nrm_lcreplay_purged(r, &rec, why, sizeof why), NRM_ECORRUPT);           /* never accepted */

    /* many messages in flight: the table grows and deletes without losing any */
    enum { N = 3000 };
    static nrm_envelope_t many[N];
    for (int i = 0; i < N; i++) {
        many[i] = s_env("status", "police", "labour");
        acc.seq = 100 + (uint64_t) i;
        CHECK_RC(nrm_lcreplay_accepted(r, &acc, &many[i], why, sizeof why), 0);
    }
    for (int i = 0; i < N; i += 2) {
        rec = s_settle_rec(NRM_REC_DELIVERED, many[i].msg_id, 9000, 100 + (uint64_t) i);
        CHECK_RC(nrm_lcreplay_delivered(r, &rec, why, sizeof why), 0);
    }
    int bad = 0;
    for (int i = 1; i < N; i += 2) {
        rec = s_settle_rec(NRM_REC_PURGED, many[i].msg_id, 9001, 100 + (uint64_t) i);
        bad += nrm_lcreplay_purged(r, &rec, why, sizeof why) != 0;
    }
    for (int i = 0; i < N; i += 2) {
        rec = s_settle_rec(NRM_REC_PURGED, many[i].msg_id, 9002, 100 + (uint64_t) i);
        bad += nrm_lcreplay_purged(r, &rec, why, sizeof why) != NRM_ECORRUPT;
    }
    CHECK(bad == 0);
    nrm_lcreplay_destroy(&r);
}

int
main(void)
{
    test_table();
    test_consent_and_deadlines();
    test_replay();
    test_replay_purge();
    TEST_DONE();
}
