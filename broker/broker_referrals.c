/*  broker_referrals -- lifecycle at the broker (see the header). The rules
    themselves are in common/nrm_lifecycle.c, shared with the verifier;
    this file keeps their state in LMDB and acts on the clock. */
#include "broker_referrals.h"
#include "nrm_auditlog.h"
#include "nrm_lifecycle.h"
#include "nrm_log.h"
#include "nrm_policy.h"
#include "nrm_registry.h"
#include "nrm_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct broker_refs {
    const nrm_keys_t *keys;
    broker_notice_out_t *out;
    size_t nout, capout;
};

/* ---- the referral record ---- */

typedef struct {
    nrm_ref_state_t state;
    bool     delivered;
    uint64_t accepted_seq, due_ms, escalated_seq;
    char     sender[NRM_ID_MAX + 1], recipient[NRM_ID_MAX + 1], case_ref[NRM_ID_MAX + 1];
    char     type[NRM_TYPE_MAX + 1], supervisor[NRM_ID_MAX + 1];
} s_ref_t;

#define S_REF_VERSION 1
#define S_REF_FIXED   (4 + 3 * 8)
#define S_REF_MAX     (S_REF_FIXED + 5 * (1 + NRM_ID_MAX))

static size_t
s_put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t) n;
    memcpy(p + 1, s, n);
    return n + 1;
}

static int
s_get_str(const uint8_t **p, const uint8_t *end, char *out, size_t cap)
{
    if (*p >= end || (size_t) **p >= cap || (size_t) (end - *p) < 1u + **p)
        return NRM_ECORRUPT;
    size_t n = **p;
    memcpy(out, *p + 1, n);
    out[n] = '\0';
    *p += n + 1;
    return 0;
}

static size_t
s_ref_encode(const s_ref_t *r, uint8_t buf[S_REF_MAX])
{
    buf[0] = S_REF_VERSION;
    buf[1] = (uint8_t) r->state;
    buf[2] = r->delivered;
    buf[3] = 0;
    nrm_be64_put(buf + 4, r->accepted_seq);
    nrm_be64_put(buf + 12, r->due_ms);
    nrm_be64_put(buf + 20, r->escalated_seq);
    size_t n = S_REF_FIXED;
    n += s_put_str(buf + n, r->sender);
    n += s_put_str(buf + n, r->recipient);
    n += s_put_str(buf + n, r->case_ref);
    n += s_put_str(buf + n, r->type);
    n += s_put_str(buf + n, r->supervisor);
    return n;
}

static int
s_ref_decode(const MDB_val *v, s_ref_t *r)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    memset(r, 0, sizeof *r);
    if (v->mv_size < S_REF_FIXED || p[0] != S_REF_VERSION || p[1] < 1 || p[1] >= NRM_REF_STATES)
        return NRM_ECORRUPT;
    r->state = (nrm_ref_state_t) p[1];
    r->delivered = p[2] != 0;
    r->accepted_seq = nrm_be64_get(p + 4);
    r->due_ms = nrm_be64_get(p + 12);
    r->escalated_seq = nrm_be64_get(p + 20);
    p += S_REF_FIXED;
    if (s_get_str(&p, end, r->sender, sizeof r->sender) || s_get_str(&p, end, r->recipient, sizeof r->recipient)
        || s_get_str(&p, end, r->case_ref, sizeof r->case_ref) || s_get_str(&p, end, r->type, sizeof r->type)
        || s_get_str(&p, end, r->supervisor, sizeof r->supervisor) || p != end)
        return NRM_ECORRUPT;
    return 0;
}

static int
s_ref_get(nrm_store_t *store, MDB_txn *txn, const uint8_t id[NRM_MSGID_BYTES], s_ref_t *r,
          nrm_err_t *err)
{
    MDB_val v;
    int rc = nrm_store_get(store, txn, "referrals", id, NRM_MSGID_BYTES, &v, err);
    if (rc)
        return rc;
    if (s_ref_decode(&v, r) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "damaged referral record");
    return 0;
}

static int
s_ref_put(nrm_store_t *store, MDB_txn *txn, const uint8_t id[NRM_MSGID_BYTES], const s_ref_t *r,
          nrm_err_t *err)
{
    uint8_t buf[S_REF_MAX];
    size_t n = s_ref_encode(r, buf);
    return nrm_store_put(store, txn, "referrals", id, NRM_MSGID_BYTES, buf, n, 0, err);
}

static size_t
s_deadline_key(uint8_t key[8 + NRM_MSGID_BYTES], uint64_t due, const uint8_t id[NRM_MSGID_BYTES])
{
    nrm_be64_put(key, due);
    memcpy(key + 8, id, NRM_MSGID_BYTES);
    return 8 + NRM_MSGID_BYTES;
}

static size_t
s_notice_key(uint8_t *key, const char *org, uint64_t seq)
{
    size_t n = strlen(org);
    memcpy(key, org, n);
    key[n] = 0;
    nrm_be64_put(key + n + 1, seq);
    return n + 9;
}

static int
s_del(nrm_store_t *store, MDB_txn *txn, const char *db, const void *key, size_t klen,
      nrm_err_t *err)
{
    int rc = nrm_store_del(store, txn, db, key, klen, err);
    return rc == NRM_ENOTFOUND ? 0 : rc;
}

/* The referral no longer waits for an answer: its deadline entry and the
   notices of its escalation go. */
static int
s_settle(nrm_store_t *store, MDB_txn *txn, const uint8_t id[NRM_MSGID_BYTES], const s_ref_t *r,
         nrm_err_t *err)
{
    uint8_t key[NRM_ID_MAX + 9];
    int rc = s_del(store, txn, "deadlines", key, s_deadline_key(key, r->due_ms, id), err);
    if (rc == 0 && r->escalated_seq) {
        rc = s_del(store, txn, "notices", key, s_notice_key(key, r->sender, r->escalated_seq), err);
        if (rc == 0 && r->supervisor[0])
            rc = s_del(store, txn, "notices", key, s_notice_key(key, r->supervisor, r->escalated_seq), err);
    }
    return rc;
}

/* ---- construction ---- */

int
broker_refs_new(const nrm_keys_t *keys, broker_refs_t **out, nrm_err_t *err)
{
    *out = NULL;
    broker_refs_t *self = calloc(1, sizeof *self);
    if (!self)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    self->keys = keys;
    *out = self;
    return 0;
}

void
broker_refs_outbox_clear(broker_refs_t *self)
{
    for (size_t i = 0; i < self->nout; i++)
        free(self->out[i].frame);
    self->nout = 0;
}

void
broker_refs_destroy(broker_refs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_refs_t *self = *self_p;
    broker_refs_outbox_clear(self);
    free(self->out);
    free(self);
    *self_p = NULL;
}

size_t
broker_refs_outbox(broker_refs_t *self, const broker_notice_out_t **out)
{
    *out = self->out;
    return self->nout;
}

/* Adds a notice frame (ServerMsg{notice} around signed bytes) for org. */
static int
s_outbox_add(broker_refs_t *self, const char *org, const uint8_t *signed_bytes, size_t len,
             nrm_err_t *err)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t body_len = 0;
    int rc = nrm_signed_decode(signed_bytes, len, 1024, &body, &body_len, sig, err);
    if (rc)
        return rc;
    if (self->nout == self->capout) {
        size_t cap = self->capout ? self->capout * 2 : 16;
        broker_notice_out_t *bigger = realloc(self->out, cap * sizeof *bigger);
        if (!bigger) {
            free(body);
            return nrm_err_set(err, NRM_ENOMEM, "out of memory");
        }
        self->out = bigger;
        self->capout = cap;
    }
    broker_notice_out_t *o = &self->out[self->nout];
    nrm_wire_t w = { .kind = NRM_WIRE_NOTICE };
    w.signed_obj.body.data = body;
    w.signed_obj.body.len = body_len;
    w.signed_obj.sig.data = sig;
    w.signed_obj.sig.len = NRM_SIG_BYTES;
    snprintf(o->org, sizeof o->org, "%s", org);
    rc = nrm_wire_encode(&w, &o->frame, &o->len, err);
    free(body);
    if (rc == 0)
        self->nout++;
    return rc;
}

/* ---- intake ---- */

int
broker_refs_check(broker_refs_t *self, const nrm_policy_t *policy, nrm_store_t *store, MDB_txn *txn,
                  const nrm_envelope_t *env, nrm_err_t *why, nrm_err_t *err)
{
    nrm_deadlines_t deadlines;
    int rc;
    (void) self;
    nrm_policy_deadlines(policy, &deadlines);
    if ((rc = nrm_consent_check(env, why)) || (rc = nrm_deadline_check(&deadlines, env, why)))
        return rc;
    if (nrm_lifecycle_opens(env->type) && env->created_ms > nrm_now_ms() + BROKER_CLOCK_SKEW_MS)
        return nrm_err_refuse(why, NRM_R_DEADLINE, "created_ms is more than %u s ahead of the "
                              "broker's clock, which would put the deadline off",
                              BROKER_CLOCK_SKEW_MS / 1000);
    if (strcmp(env->type, "transfer") == 0) {
        MDB_val v;
        rc = nrm_store_get(store, txn, "cases", env->case_ref, strlen(env->case_ref), &v, err);
        if (rc && rc != NRM_ENOTFOUND)
            return rc;
        if (rc == 0 && (v.mv_size != strlen(env->sender) || memcmp(v.mv_data, env->sender, v.mv_size) != 0))
            return nrm_err_refuse(why, NRM_R_NOT_OWNER, "case %s is owned by '%.*s'; only its owner "
                                  "may transfer it", env->case_ref, (int) (v.mv_size < NRM_ID_MAX ? v.mv_size : NRM_ID_MAX),
                                  (const char *) v.mv_data);
    }
    nrm_ref_event_t ev = nrm_lifecycle_event(env);
    if (!ev && !env->has_reply_to)
        return 0;
    if (!env->has_reply_to)
        return nrm_err_refuse(why, NRM_R_REPLY_REQUIRED, "a %s must name the referral it answers "
                              "(in_reply_to)", env->type);
    s_ref_t r;
    rc = s_ref_get(store, txn, env->in_reply_to, &r, err);
    if (rc == NRM_ENOTFOUND) {
        if (!ev)
            return 0;       /* e.g. an info-reply to an info-request: not a referral */
        return nrm_err_refuse(why, NRM_R_UNKNOWN_REFERRAL, "in_reply_to names no referral (tip, "
                              "referral, transfer or interpreter-request) the broker accepted");
    }
    if (rc)
        return rc;
    if (strcmp(r.case_ref, env->case_ref) != 0)
        return nrm_err_refuse(why, NRM_R_CASE_MISMATCH, "the referral belongs to case %s, this %s "
                              "names case %s", r.case_ref, env->type, env->case_ref);
    nrm_role_t who = strcmp(env->sender, r.sender) == 0 ? NRM_ROLE_SENDER
                   : strcmp(env->sender, r.recipient) == 0 ? NRM_ROLE_RECIPIENT : NRM_ROLE_OTHER;
    if (!ev) {
        if (who == NRM_ROLE_OTHER)
            return nrm_err_refuse(why, NRM_R_NOT_RECIPIENT, "'%s' is not a party to the referral it "
                                  "answers (%s -> %s)", env->sender, r.sender, r.recipient);
        return 0;
    }
    nrm_ref_state_t next;
    if ((rc = nrm_lifecycle_step(r.state, ev, who, &next, why)))
        return rc;
    const char *party = who == NRM_ROLE_SENDER ? r.recipient : r.sender;
    if (strcmp(env->recipient, party) != 0)
        return nrm_err_refuse(why, NRM_R_INVALID_FIELD, "a %s of this referral goes to '%s', not "
                              "to '%s'", env->type, party, env->recipient);
    return 0;
}

int
broker_refs_accepted(broker_refs_t *self, nrm_store_t *store, MDB_txn *txn,
                     const nrm_envelope_t *env, uint64_t seq, nrm_err_t *err)
{
    uint8_t key[8 + NRM_MSGID_BYTES];
    MDB_val v;
    (void) self;
    int rc = nrm_store_get(store, txn, "cases", env->case_ref, strlen(env->case_ref), &v, err);
    if (rc == NRM_ENOTFOUND)
        rc = nrm_store_put(store, txn, "cases", env->case_ref, strlen(env->case_ref), env->sender,
                           strlen(env->sender), 0, err);
    if (rc)
        return rc;
    if (nrm_lifecycle_opens(env->type)) {
        s_ref_t r;
        memset(&r, 0, sizeof r);
        r.state = NRM_REF_SENT;
        r.accepted_seq = seq;
        r.due_ms = env->response_due_ms;
        snprintf(r.sender, sizeof r.sender, "%s", env->sender);
        snprintf(r.recipient, sizeof r.recipient, "%s", env->recipient);
        snprintf(r.case_ref, sizeof r.case_ref, "%s", env->case_ref);
        snprintf(r.type, sizeof r.type, "%s", env->type);
        if ((rc = s_ref_put(store, txn, env->msg_id, &r, err)))
            return rc;
        return nrm_store_put(store, txn, "deadlines", key, s_deadline_key(key, r.due_ms, env->msg_id),
                             "", 0, 0, err);
    }
    nrm_ref_event_t ev = nrm_lifecycle_event(env);
    if (!ev)
        return 0;
    s_ref_t r;
    nrm_ref_state_t next;
    nrm_err_t why = { 0, 0, "" };
    if ((rc = s_ref_get(store, txn, env->in_reply_to, &r, err)))
        return rc;
    nrm_role_t who = strcmp(env->sender, r.sender) == 0 ? NRM_ROLE_SENDER : NRM_ROLE_RECIPIENT;
    if (nrm_lifecycle_step(r.state, ev, who, &next, &why) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "a checked transition failed: %s", why.msg);
    nrm_info("referral of case %s (%s -> %s): %s -> %s", r.case_ref, r.sender, r.recipient,
             nrm_ref_state_name(r.state), nrm_ref_state_name(next));
    r.state = next;
    if ((rc = s_settle(store, txn, env->in_reply_to, &r, err)))
        return rc;
    if (ev == NRM_EV_ACCEPT && strcmp(r.type, "transfer") == 0) {
        if ((rc = nrm_store_put(store, txn, "cases", r.case_ref, strlen(r.case_ref), r.recipient,
                                strlen(r.recipient), 0, err)))
            return rc;
        nrm_info("case %s now belongs to '%s' (transfer accepted)", r.case_ref, r.recipient);
    }
    return s_ref_put(store, txn, env->in_reply_to, &r, err);
}

int
broker_refs_delivered(broker_refs_t *self, nrm_store_t *store, MDB_txn *txn,
                      const uint8_t msg_id[NRM_MSGID_BYTES], nrm_err_t *err)
{
    s_ref_t r;
    nrm_ref_state_t next;
    nrm_err_t why = { 0, 0, "" };
    (void) self;
    int rc = s_ref_get(store, txn, msg_id, &r, err);
    if (rc == NRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (nrm_lifecycle_step(r.state, NRM_EV_DELIVER, NRM_ROLE_BROKER, &next, &why) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "delivery: %s", why.msg);
    r.state = next;
    r.delivered = true;
    return s_ref_put(store, txn, msg_id, &r, err);
}

/* ---- escalation ---- */

/* Signs a notice and stores it for addressee (sent at each Hello until the
   referral is answered), and queues it in the outbox now. */
static int
s_notice(broker_refs_t *self, nrm_store_t *store, MDB_txn *txn, uint32_t kind,
         const uint8_t id[NRM_MSGID_BYTES], const s_ref_t *r, uint64_t seq,
         const uint8_t leaf[NRM_HASH_BYTES], uint64_t now, const char *addressee, nrm_err_t *err)
{
    nrm_notice_t n;
    uint8_t *body = NULL, *signed_bytes = NULL, sig[NRM_SIG_BYTES], key[NRM_ID_MAX + 9];
    size_t body_len = 0, signed_len = 0;
    memset(&n, 0, sizeof n);
    n.kind = kind;
    memcpy(n.msg_id, id, NRM_MSGID_BYTES);
    snprintf(n.case_ref, sizeof n.case_ref, "%s", r->case_ref);
    snprintf(n.sender, sizeof n.sender, "%s", r->sender);
    snprintf(n.recipient, sizeof n.recipient, "%s", r->recipient);
    snprintf(n.type, sizeof n.type, "%s", r->type);
    snprintf(n.addressee, sizeof n.addressee, "%s", addressee);
    n.due_ms = r->due_ms;
    n.seq = seq;
    memcpy(n.record_hash, leaf, NRM_HASH_BYTES);
    n.time_ms = now;
    int rc = nrm_notice_encode(&n, &body, &body_len, err);
    if (rc == 0)
        rc = nrm_sign(self->keys, NRM_CTX_NOTICE, body, body_len, sig);
    if (rc == 0)
        rc = nrm_signed_encode(body, body_len, sig, &signed_bytes, &signed_len, err);
    if (rc == 0)
        rc = nrm_store_put(store, txn, "notices", key, s_notice_key(key, addressee, seq),
                           signed_bytes, signed_len, 0, err);
    if (rc == 0)
        rc = s_outbox_add(self, addressee, signed_bytes, signed_len, err);
    free(body);
    free(signed_bytes);
    return rc;
}

static int
s_escalate(broker_refs_t *self, const nrm_policy_t *policy, nrm_store_t *store, MDB_txn *txn,
           const uint8_t id[NRM_MSGID_BYTES], uint64_t now, nrm_err_t *err)
{
    s_ref_t r;
    nrm_ref_state_t next;
    nrm_err_t why = { 0, 0, "" };
    nrm_cert_t sender;
    char due[40];
    int rc = s_ref_get(store, txn, id, &r, err);
    if (rc)
        return rc;
    if (nrm_lifecycle_step(r.state, NRM_EV_DEADLINE, NRM_ROLE_BROKER, &next, &why) != 0)
        return 0;           /* answered in the meantime: nothing to escalate */
    const char *sup = "";
    if (nrm_registry_find(store, txn, r.sender, &sender, NULL, err) == 0)
        sup = nrm_policy_supervisor(policy, sender.org_type);
    if (sup[0] && (strcmp(sup, r.sender) == 0
                   || nrm_registry_find(store, txn, sup, NULL, NULL, &why) != 0)) {
        if (strcmp(sup, r.sender) != 0)
            nrm_warn("supervisor '%s' named by the policy is not enrolled; not told", sup);
        sup = "";
    }
    nrm_record_t rec;
    uint64_t seq;
    uint8_t leaf[NRM_HASH_BYTES];
    memset(&rec, 0, sizeof rec);
    rec.time_ms = now;
    rec.kind = NRM_REC_ESCALATED;
    snprintf(rec.actor, sizeof rec.actor, "broker");
    rec.has_msg_id = true;
    memcpy(rec.msg_id, id, NRM_MSGID_BYTES);
    rec.refers_to = r.accepted_seq;
    rec.reason_code = NRM_R_DEADLINE;
    nrm_time_format(r.due_ms, due, sizeof due);
    char text[640];
    snprintf(text, sizeof text, "%s of case %s (%s -> %s) had no answer by %s; told %s%s%s",
             r.type, r.case_ref, r.sender, r.recipient, due, r.sender, sup[0] ? " and " : "", sup);
    memcpy(rec.reason, text, NRM_REASON_MAX);      /* ids are ASCII: a cut is clean */
    rec.reason[NRM_REASON_MAX] = '\0';
    if ((rc = nrm_auditlog_append(store, txn, &rec, &seq, leaf, err)))
        return rc;
    r.state = next;
    r.escalated_seq = seq;
    snprintf(r.supervisor, sizeof r.supervisor, "%s", sup);
    if ((rc = s_ref_put(store, txn, id, &r, err)))
        return rc;
    if ((rc = s_notice(self, store, txn, NRM_NOTICE_ESCALATED, id, &r, seq, leaf, now, r.sender, err)))
        return rc;
    if (sup[0] && (rc = s_notice(self, store, txn, NRM_NOTICE_ESCALATED, id, &r, seq, leaf, now, sup,
                                 err)))
        return rc;
    nrm_warn("escalated, record %llu: %s", (unsigned long long) seq, rec.reason);
    return 0;
}

typedef struct {
    broker_refs_t *self;
    const nrm_policy_t *policy;
    uint64_t now;
} s_tick_t;

static int
s_tick_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_tick_t *t = ctx;
    MDB_cursor *cur = NULL;
    uint8_t ids[BROKER_REFS_TICK_MAX][NRM_MSGID_BYTES];
    uint64_t dues[BROKER_REFS_TICK_MAX];
    size_t n = 0;
    broker_refs_outbox_clear(t->self);          /* this run may be a retry */
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "deadlines"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "deadlines", err);
    MDB_val k, v;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && n < BROKER_REFS_TICK_MAX;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 + NRM_MSGID_BYTES)
            continue;
        dues[n] = nrm_be64_get(k.mv_data);
        if (dues[n] > t->now)
            break;
        memcpy(ids[n++], (uint8_t *) k.mv_data + 8, NRM_MSGID_BYTES);
    }
    mdb_cursor_close(cur);
    if (mrc && mrc != MDB_NOTFOUND)
        return nrm_store_lmdb_error(mrc, "deadlines", err);
    for (size_t i = 0; i < n; i++) {
        uint8_t key[8 + NRM_MSGID_BYTES];
        int rc = s_escalate(t->self, t->policy, store, txn, ids[i], t->now, err);
        if (rc == 0)
            rc = s_del(store, txn, "deadlines", key, s_deadline_key(key, dues[i], ids[i]), err);
        if (rc)
            return rc;
    }
    return 0;
}

int
broker_refs_tick(broker_refs_t *self, const nrm_policy_t *policy, nrm_store_t *store, uint64_t now,
                 nrm_err_t *err)
{
    /* A read first: most ticks find nothing due and need no write. */
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    bool due = false;
    int rc = nrm_store_read_begin(store, &txn, err);
    if (rc)
        return rc;
    if (mdb_cursor_open(txn, nrm_store_dbi(store, "deadlines"), &cur) == 0) {
        due = mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size >= 8
              && nrm_be64_get(k.mv_data) <= now;
        mdb_cursor_close(cur);
    }
    nrm_store_read_end(&txn);
    if (!due)
        return 0;
    s_tick_t t = { self, policy, now };
    rc = nrm_store_write(store, s_tick_fn, &t, err);
    if (rc)
        broker_refs_outbox_clear(self);         /* nothing committed: nothing to tell */
    return rc;
}

int
broker_refs_hello(broker_refs_t *self, nrm_store_t *store, const char *org, nrm_err_t *err)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint8_t key[NRM_ID_MAX + 9];
    size_t olen = strlen(org), n = 0;
    int rc = nrm_store_read_begin(store, &txn, err);
    if (rc)
        return rc;
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "notices"), &cur);
    if (mrc) {
        nrm_store_read_end(&txn);
        return nrm_store_lmdb_error(mrc, "notices", err);
    }
    MDB_val k = { s_notice_key(key, org, 0), key }, v;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && n < BROKER_NOTICES_MAX;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
        if (k.mv_size != olen + 9 || memcmp(k.mv_data, org, olen) != 0 || ((uint8_t *) k.mv_data)[olen])
            break;
        if ((rc = s_outbox_add(self, org, v.mv_data, v.mv_size, err)))
            break;
    }
    mdb_cursor_close(cur);
    nrm_store_read_end(&txn);
    return rc;
}

/* ---- retention ---- */

int
broker_refs_purged(broker_refs_t *self, nrm_store_t *store, MDB_txn *txn, const nrm_envelope_t *env,
                   uint64_t accepted_seq, uint64_t seq, const uint8_t leaf[NRM_HASH_BYTES],
                   uint64_t now, nrm_err_t *err)
{
    s_ref_t r;
    nrm_ref_state_t next;
    nrm_err_t why = { 0, 0, "" };
    int rc = s_ref_get(store, txn, env->msg_id, &r, err);
    if (rc == 0) {
        if (nrm_lifecycle_step(r.state, NRM_EV_PURGE, NRM_ROLE_BROKER, &next, &why) != 0)
            return nrm_err_set(err, NRM_ECORRUPT, "purge: %s", why.msg);
        if (next != r.state)
            nrm_info("referral of case %s (%s -> %s): %s -> %s", r.case_ref, r.sender, r.recipient,
                     nrm_ref_state_name(r.state), nrm_ref_state_name(next));
        r.state = next;
        /* closed: no deadline left, and its escalation notices go */
        if ((rc = s_settle(store, txn, env->msg_id, &r, err))
            || (rc = s_ref_put(store, txn, env->msg_id, &r, err)))
            return rc;
    } else if (rc == NRM_ENOTFOUND) {
        /* not a referral (a status, an answer ...): its sender is told too */
        memset(&r, 0, sizeof r);
        r.accepted_seq = accepted_seq;
        snprintf(r.sender, sizeof r.sender, "%s", env->sender);
        snprintf(r.recipient, sizeof r.recipient, "%s", env->recipient);
        snprintf(r.case_ref, sizeof r.case_ref, "%s", env->case_ref);
        snprintf(r.type, sizeof r.type, "%s", env->type);
    } else {
        return rc;
    }
    return s_notice(self, store, txn, NRM_NOTICE_PURGED, env->msg_id, &r, seq, leaf, now, r.sender, err);
}

int
broker_refs_notice_done(nrm_store_t *store, MDB_txn *txn, const char *org, uint64_t seq,
                        nrm_err_t *err)
{
    uint8_t key[NRM_ID_MAX + 9];
    return s_del(store, txn, "notices", key, s_notice_key(key, org, seq), err);
}
