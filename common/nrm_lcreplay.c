/*  nrm_lcreplay -- lifecycle replay for the verifier (see the header). One
    open-addressing table msg_id -> referral, grown by doubling. */
#include "nrm_lcreplay.h"
#include "nrm_lifecycle.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool     used;
    uint8_t  id[NRM_MSGID_BYTES];
    nrm_ref_state_t state;
    uint64_t accepted_seq, due_ms;
    char     sender[NRM_ID_MAX + 1], recipient[NRM_ID_MAX + 1], case_ref[NRM_ID_MAX + 1];
} s_ref_t;

struct nrm_lcreplay {
    s_ref_t *slots;
    size_t cap, used;
};

nrm_lcreplay_t *
nrm_lcreplay_new(void)
{
    return calloc(1, sizeof(nrm_lcreplay_t));
}

void
nrm_lcreplay_destroy(nrm_lcreplay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
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

static s_ref_t *
s_find(nrm_lcreplay_t *self, const uint8_t id[NRM_MSGID_BYTES])
{
    if (!self->cap)
        return NULL;
    for (size_t i = s_hash(id) & (self->cap - 1);; i = (i + 1) & (self->cap - 1)) {
        if (!self->slots[i].used)
            return NULL;
        if (memcmp(self->slots[i].id, id, NRM_MSGID_BYTES) == 0)
            return &self->slots[i];
    }
}

static s_ref_t *
s_add(nrm_lcreplay_t *self, const uint8_t id[NRM_MSGID_BYTES])
{
    if ((self->used + 1) * 2 > self->cap) {
        nrm_lcreplay_t bigger = { NULL, self->cap ? self->cap * 2 : 256, 0 };
        bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
        if (!bigger.slots)
            return NULL;
        for (size_t i = 0; i < self->cap; i++)
            if (self->slots[i].used)
                *s_add(&bigger, self->slots[i].id) = self->slots[i];
        free(self->slots);
        *self = bigger;
    }
    size_t i = s_hash(id) & (self->cap - 1);
    while (self->slots[i].used)
        i = (i + 1) & (self->cap - 1);
    self->used++;
    memset(&self->slots[i], 0, sizeof self->slots[i]);
    self->slots[i].used = true;
    memcpy(self->slots[i].id, id, NRM_MSGID_BYTES);
    return &self->slots[i];
}

int
nrm_lcreplay_accepted(nrm_lcreplay_t *self, const nrm_record_t *rec, const nrm_envelope_t *env,
                    char *why, size_t why_len)
{
    nrm_err_t e = { 0, 0, "" };
    (void) rec;
    if (nrm_consent_check(env, &e) != 0) {
        snprintf(why, why_len, "ACCEPTED a %s that breaks the consent rule: %s", env->type, e.msg);
        return NRM_ECORRUPT;
    }
    if (nrm_lifecycle_opens(env->type)) {
        if (!env->response_due_ms) {
            snprintf(why, why_len, "ACCEPTED a %s without a response-due time", env->type);
            return NRM_ECORRUPT;
        }
        s_ref_t *r = s_add(self, env->msg_id);
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
    s_ref_t *r = env->has_reply_to ? s_find(self, env->in_reply_to) : NULL;
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

int
nrm_lcreplay_delivered(nrm_lcreplay_t *self, const nrm_record_t *rec, char *why, size_t why_len)
{
    nrm_err_t e = { 0, 0, "" };
    nrm_ref_state_t next;
    s_ref_t *r = rec->has_msg_id ? s_find(self, rec->msg_id) : NULL;
    if (!r)
        return 0;
    if (nrm_lifecycle_step(r->state, NRM_EV_DELIVER, NRM_ROLE_BROKER, &next, &e) != 0) {
        snprintf(why, why_len, "DELIVERED: %s", e.msg);
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
    s_ref_t *r = rec->has_msg_id ? s_find(self, rec->msg_id) : NULL;
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
