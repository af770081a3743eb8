/*  nrm_lcreplay -- lifecycle replay for the verifier (see the header). Two
    tables keyed by message id: the referrals, and the messages whose body
    is still at the broker or was purged. */
#include "nrm_lcreplay.h"
#include "nrm_lifecycle.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every slot of a table begins with its key. */
typedef struct {
    bool     used;
    uint8_t  id[NRM_MSGID_BYTES];
} s_key_t;

/* A referral (an ACCEPTED tip, referral, transfer, interpreter-request). */
typedef struct {
    s_key_t  k;
    nrm_ref_state_t state;
    uint64_t accepted_seq, due_ms;
    char     sender[NRM_ID_MAX + 1], recipient[NRM_ID_MAX + 1], case_ref[NRM_ID_MAX + 1];
} s_ref_t;

/* A message whose body has no fate yet (accepted, not delivered, refused
   or purged), or whose body was purged: the slot of a delivered message is
   freed, so the table holds what is in flight, plus the purged ones. */
enum { S_MSG_PENDING = 1, S_MSG_PURGED = 2 };
typedef struct {
    s_key_t  k;
    int      fate;
    uint64_t accepted_seq, purged_seq;
} s_msg_t;

/* Open addressing with linear probing, grown by doubling, deletion by
   backward shift (no tombstones). */
typedef struct {
    uint8_t *slots;
    size_t size, cap, used;
} s_table_t;

struct nrm_lcreplay {
    s_table_t refs, msgs;
};

nrm_lcreplay_t *
nrm_lcreplay_new(void)
{
    nrm_lcreplay_t *self = calloc(1, sizeof *self);
    if (self) {
        self->refs.size = sizeof(s_ref_t);
        self->msgs.size = sizeof(s_msg_t);
    }
    return self;
}

void
nrm_lcreplay_destroy(nrm_lcreplay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->refs.slots);
    free((*self_p)->msgs.slots);
    free(*self_p);
    *self_p = NULL;
}

static size_t
s_hash(const uint8_t id[NRM_MSGID_BYTES])
{
    size_t h;
    memcpy(&h, id, sizeof h);     /* message ids are random */
    return h;
}

static s_key_t *
s_slot(const s_table_t *t, size_t i)
{
    return (s_key_t *) (void *) (t->slots + i * t->size);
}

static void *
s_find(const s_table_t *t, const uint8_t id[NRM_MSGID_BYTES])
{
    if (!t->cap)
        return NULL;
    for (size_t i = s_hash(id) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        s_key_t *k = s_slot(t, i);
        if (!k->used)
            return NULL;
        if (memcmp(k->id, id, NRM_MSGID_BYTES) == 0)
            return k;
    }
}

/* A new zeroed slot for id (the caller knows it is absent); NULL when out
   of memory. */
static void *
s_add(s_table_t *t, const uint8_t id[NRM_MSGID_BYTES])
{
    if ((t->used + 1) * 2 > t->cap) {
        s_table_t bigger = { NULL, t->size, t->cap ? t->cap * 2 : 256, 0 };
        bigger.slots = calloc(bigger.cap, bigger.size);
        if (!bigger.slots)
            return NULL;
        for (size_t i = 0; i < t->cap; i++)
            if (s_slot(t, i)->used)
                memcpy(s_add(&bigger, s_slot(t, i)->id), s_slot(t, i), t->size);
        free(t->slots);
        *t = bigger;
    }
    size_t i = s_hash(id) & (t->cap - 1);
    while (s_slot(t, i)->used)
        i = (i + 1) & (t->cap - 1);
    t->used++;
    s_key_t *k = s_slot(t, i);
    memset(k, 0, t->size);
    k->used = true;
    memcpy(k->id, id, NRM_MSGID_BYTES);
    return k;
}

/* Removes a slot found by s_find, shifting back the entries of its probe
   run that would no longer be reachable. */
static void
s_remove(s_table_t *t, void *slot)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t) ((uint8_t *) slot - t->slots) / t->size;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        s_key_t *k = s_slot(t, j);
        if (!k->used)
            break;
        size_t home = s_hash(k->id) & mask;
        /* k may move to the hole at i if its home is not in (i, j] */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            memcpy(s_slot(t, i), k, t->size);
            i = j;
        }
    }
    memset(s_slot(t, i), 0, t->size);
    t->used--;
}

int
nrm_lcreplay_accepted(nrm_lcreplay_t *self, const nrm_record_t *rec, const nrm_envelope_t *env,
                    char *why, size_t why_len)
{
    nrm_err_t e = { 0, 0, "" };
    if (nrm_consent_check(env, &e) != 0) {
        snprintf(why, why_len, "ACCEPTED a %s that breaks the consent rule: %s", env->type, e.msg);
        return NRM_ECORRUPT;
    }
    /* its body now waits for delivery (or the retention) */
    if (s_find(&self->msgs, env->msg_id) || s_find(&self->refs, env->msg_id)) {
        snprintf(why, why_len, "ACCEPTED a message id the log accepted before");
        return NRM_ECORRUPT;
    }
    s_msg_t *m = s_add(&self->msgs, env->msg_id);
    if (!m)
        return NRM_ENOMEM;
    m->fate = S_MSG_PENDING;
    m->accepted_seq = rec->seq;
    if (nrm_lifecycle_opens(env->type)) {
        if (!env->response_due_ms) {
            snprintf(why, why_len, "ACCEPTED a %s without a response-due time", env->type);
            return NRM_ECORRUPT;
        }
        s_ref_t *r = s_add(&self->refs, env->msg_id);
        if (!r)
            return NRM_ENOMEM;
        r->state = NRM_REF_SENT;
        r->accepted_seq = rec->seq;
        r->due_ms = env->response_due_ms;
        snprintf(r->sender, sizeof r->sender, "%s", env->sender);
        snprintf(r->recipient, sizeof r->recipient, "%s", env->recipient);
        snprintf(r->case_ref, sizeof r->case_ref, "%s", env->case_ref);
        return 0;
    }
    nrm_ref_event_t ev = nrm_lifecycle_event(env);
    if (!ev)
        return 0;
    s_ref_t *r = env->has_reply_to ? s_find(&self->refs, env->in_reply_to) : NULL;
    if (!r) {
        snprintf(why, why_len, "ACCEPTED a %s that answers no referral in the log", env->type);
        return NRM_ECORRUPT;
    }
    nrm_role_t who = strcmp(env->sender, r->sender) == 0 ? NRM_ROLE_SENDER
                   : strcmp(env->sender, r->recipient) == 0 ? NRM_ROLE_RECIPIENT : NRM_ROLE_OTHER;
    nrm_ref_state_t next;
    if (strcmp(env->case_ref, r->case_ref) != 0
        || nrm_lifecycle_step(r->state, ev, who, &next, &e) != 0) {
        snprintf(why, why_len, "ACCEPTED an illegal %s of the referral of record %llu (state %s): %s",
                 env->type, (unsigned long long) r->accepted_seq, nrm_ref_state_name(r->state),
                 e.msg[0] ? e.msg : "another case");
        return NRM_ECORRUPT;
    }
    r->state = next;
    return 0;
}

/* The message of a DELIVERED, DELIVERY_REFUSED or PURGED record: one whose
   body still waits, accepted by the record it refers to. */
static s_msg_t *
s_pending(nrm_lcreplay_t *self, const nrm_record_t *rec, char *why, size_t why_len)
{
    const char *kind = nrm_record_kind_name(rec->kind);
    s_msg_t *m = rec->has_msg_id ? s_find(&self->msgs, rec->msg_id) : NULL;
    if (m && m->fate == S_MSG_PURGED) {
        snprintf(why, why_len, "%s after the body was purged undelivered (record %llu)", kind,
                 (unsigned long long) m->purged_seq);
        return NULL;
    }
    if (!m) {
        snprintf(why, why_len, "%s of a message that is not waiting for delivery (never accepted, "
                 "or delivered, refused or purged before)", kind);
        return NULL;
    }
    if (m->accepted_seq != rec->refers_to) {
        snprintf(why, why_len, "%s refers to record %llu, not to the message's ACCEPTED record %llu",
                 kind, (unsigned long long) rec->refers_to, (unsigned long long) m->accepted_seq);
        return NULL;
    }
    return m;
}

int
nrm_lcreplay_delivered(nrm_lcreplay_t *self, const nrm_record_t *rec, char *why, size_t why_len)
{
    nrm_err_t e = { 0, 0, "" };
    nrm_ref_state_t next;
    s_msg_t *m = s_pending(self, rec, why, why_len);
    if (!m)
        return NRM_ECORRUPT;
    s_remove(&self->msgs, m);
    s_ref_t *r = s_find(&self->refs, rec->msg_id);
    if (!r || rec->kind != NRM_REC_DELIVERED)
        return 0;
    if (nrm_lifecycle_step(r->state, NRM_EV_DELIVER, NRM_ROLE_BROKER, &next, &e) != 0) {
        snprintf(why, why_len, "DELIVERED: %s", e.msg);
        return NRM_ECORRUPT;
    }
    r->state = next;
    return 0;
}

int
nrm_lcreplay_purged(nrm_lcreplay_t *self, const nrm_record_t *rec, char *why, size_t why_len)
{
    nrm_err_t e = { 0, 0, "" };
    nrm_ref_state_t next;
    if (rec->reason_code != NRM_R_PURGED) {
        snprintf(why, why_len, "PURGED with reason code %u, not %u (purged)", rec->reason_code,
                 (unsigned) NRM_R_PURGED);
        return NRM_ECORRUPT;
    }
    s_msg_t *m = s_pending(self, rec, why, why_len);
    if (!m)
        return NRM_ECORRUPT;
    m->fate = S_MSG_PURGED;
    m->purged_seq = rec->seq;
    s_ref_t *r = s_find(&self->refs, rec->msg_id);
    if (!r)
        return 0;
    if (nrm_lifecycle_step(r->state, NRM_EV_PURGE, NRM_ROLE_BROKER, &next, &e) != 0) {
        snprintf(why, why_len, "PURGED a referral in state %s: %s", nrm_ref_state_name(r->state), e.msg);
        return NRM_ECORRUPT;
    }
    r->state = next;
    return 0;
}

int
nrm_lcreplay_escalated(nrm_lcreplay_t *self, const nrm_record_t *rec, char *why, size_t why_len)
{
    nrm_err_t e = { 0, 0, "" };
    nrm_ref_state_t next;
    s_ref_t *r = rec->has_msg_id ? s_find(&self->refs, rec->msg_id) : NULL;
    if (!r || r->accepted_seq != rec->refers_to) {
        snprintf(why, why_len, "ESCALATED names no referral of the log (or refers to record %llu, "
                 "not its ACCEPTED record)", (unsigned long long) rec->refers_to);
        return NRM_ECORRUPT;
    }
    if (rec->time_ms < r->due_ms) {
        snprintf(why, why_len, "ESCALATED before the referral's response-due time");
        return NRM_ECORRUPT;
    }
    if (nrm_lifecycle_step(r->state, NRM_EV_DEADLINE, NRM_ROLE_BROKER, &next, &e) != 0) {
        snprintf(why, why_len, "ESCALATED a referral in state %s: %s", nrm_ref_state_name(r->state),
                 e.msg);
        return NRM_ECORRUPT;
    }
    r->state = next;
    return 0;
}
