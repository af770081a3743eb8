/*  nrm_verify -- offline verification of the whole audit log.

    One pass in sequence order. The registry and the routing policy are
    rebuilt from the log itself (nrm_replay), so every signature is checked
    against the key that was enrolled at that moment, and every accepted
    message against the sender's status, certificate validity and the policy
    in force then, not against today's registry.
    Records referred to by DELIVERED records are read back from the log.
    Bodies are never read: a PURGED record stands for a body dropped
    undelivered, and nothing may be delivered after it (nrm_lcreplay). */
#include "nrm_auditlog.h"
#include "nrm_crypto.h"
#include "nrm_registry.h"
#include "nrm_lcreplay.h"
#include "nrm_lifecycle.h"
#include "nrm_replay.h"
#include "nrm_util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    nrm_store_t *store;
    MDB_txn *txn;
    uint64_t expect;                    /* next sequence number */
    uint8_t prev_leaf[NRM_HASH_BYTES];  /* leaf of the previous record */
    uint64_t prev_seq;
    nrm_replay_t *reg;                  /* registry rebuilt from the log */
    uint64_t count, total;
    uint64_t bad_seq;
    nrm_progress_fn *progress;
    void *pctx;
    nrm_lcreplay_t *lc;                 /* referral lifecycle (nrm_lcreplay.c) */
} s_verify_t;

static int
s_bad(s_verify_t *v, uint64_t seq, nrm_err_t *err, const char *fmt, ...) NRM_PRINTF(4, 5);

static int
s_bad(s_verify_t *v, uint64_t seq, nrm_err_t *err, const char *fmt, ...)
{
    v->bad_seq = seq;
    if (err) {
        char what[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        /* Every message names the record it is about. */
        if (strncmp(what, "record", 6) == 0)
            snprintf(err->msg, sizeof err->msg, "%s", what);
        else
            snprintf(err->msg, sizeof err->msg, "record %llu: %.400s", (unsigned long long) seq, what);
        err->code = NRM_ECORRUPT;
    }
    return NRM_ECORRUPT;
}

/* The chain link into `seq` is broken: decide whether record seq-1 was
   altered (its hash changed, so only this link breaks) or record seq itself
   (its prev_hash changed, so the link out of it breaks too). */
static int
s_bad_link(s_verify_t *v, uint64_t seq, nrm_bytes_t bytes, nrm_err_t *err)
{
    uint8_t leaf[NRM_HASH_BYTES];
    nrm_leaf_hash(bytes.data, bytes.len, leaf);
    bool next_link_ok = false;
    nrm_bytes_t next;
    nrm_err_t ignore;
    if (nrm_auditlog_get(v->store, v->txn, seq + 1, &next, &ignore) == 0) {
        nrm_record_t rec;
        if (nrm_record_decode(next.data, next.len, &rec, &ignore) == 0) {
            next_link_ok = memcmp(rec.prev_hash, leaf, NRM_HASH_BYTES) == 0;
            nrm_record_clear(&rec);
        }
    } else {
        uint64_t tip_seq;
        uint8_t tip_leaf[NRM_HASH_BYTES];
        if (nrm_auditlog_tip(v->store, v->txn, &tip_seq, tip_leaf, &ignore) == 0)
            next_link_ok = tip_seq == seq && memcmp(tip_leaf, leaf, NRM_HASH_BYTES) == 0;
    }
    if (next_link_ok && v->prev_seq > 0)
        return s_bad(v, v->prev_seq, err,
                     "record %llu was altered: its hash no longer matches the link stored in record %llu",
                     (unsigned long long) v->prev_seq, (unsigned long long) seq);
    return s_bad(v, seq, err,
                 "record %llu was altered: its link to record %llu is wrong, and so is the link to it",
                 (unsigned long long) seq, (unsigned long long) v->prev_seq);
}

/* The key an organisation signed with at this point: its certificate's,
   or during a rotation the old one. NULL if neither verifies. */
static const nrm_cert_t *
s_signer(const nrm_replay_org_t *o, const char *ctx, const nrm_record_t *rec)
{
    if (!rec->has_signature)
        return NULL;
    if (nrm_verify(o->cert.sign_pk, ctx, rec->subject, rec->subject_len, rec->signature) == 0)
        return &o->cert;
    if (o->has_old && nrm_verify(o->old.sign_pk, ctx, rec->subject, rec->subject_len, rec->signature) == 0)
        return &o->old;
    return NULL;
}

static bool
s_valid_at(const nrm_cert_t *c, uint64_t t)
{
    return t >= c->not_before_ms && t < c->not_after_ms;
}

static int
s_check_accepted(s_verify_t *v, const nrm_record_t *rec, nrm_err_t *err)
{
    nrm_envelope_t env;
    nrm_err_t derr;
    if (nrm_envelope_decode(rec->subject, rec->subject_len, &env, &derr) != 0)
        return s_bad(v, rec->seq, err, "ACCEPTED: %s", derr.msg);
    if (strcmp(rec->actor, env.sender) != 0)
        return s_bad(v, rec->seq, err, "ACCEPTED: actor '%s' is not the envelope's sender '%s'",
                     rec->actor, env.sender);
    if (!rec->has_msg_id || memcmp(rec->msg_id, env.msg_id, NRM_MSGID_BYTES) != 0)
        return s_bad(v, rec->seq, err, "ACCEPTED: record msg_id differs from the envelope's");
    const nrm_replay_org_t *sender = nrm_replay_org(v->reg, env.sender);
    const nrm_replay_org_t *recipient = nrm_replay_org(v->reg, env.recipient);
    if (!sender)
        return s_bad(v, rec->seq, err, "ACCEPTED: sender '%s' was not enrolled at this point",
                     env.sender);
    if (!recipient)
        return s_bad(v, rec->seq, err, "ACCEPTED: recipient '%s' was not enrolled at this point",
                     env.recipient);
    if (sender->status != NRM_ORG_ACTIVE)
        return s_bad(v, rec->seq, err, "ACCEPTED: sender '%s' was %s at this point", env.sender,
                     nrm_org_status_name(sender->status));
    if (recipient->status == NRM_ORG_REVOKED)
        return s_bad(v, rec->seq, err, "ACCEPTED: recipient '%s' was revoked at this point", env.recipient);
    if (!s_valid_at(&sender->cert, rec->time_ms))
        return s_bad(v, rec->seq, err, "ACCEPTED: the certificate of '%s' was not valid at this time",
                     env.sender);
    /* The broker holds messages for a suspended recipient, and refuses
       them for one whose certificate is not valid. */
    if (!s_valid_at(&recipient->cert, rec->time_ms))
        return s_bad(v, rec->seq, err, "ACCEPTED: the certificate of the recipient '%s' was not valid "
                     "at this time", env.recipient);
    const nrm_cert_t *signer = s_signer(sender, NRM_CTX_ENVELOPE, rec);
    if (!signer)
        return s_bad(v, rec->seq, err, "ACCEPTED: signature of '%s' does not verify", env.sender);
    /* The broker retires the old key at the first message signed with the
       new one, in a KEY_RETIRED record just before it. */
    if (sender->has_old && signer == &sender->cert)
        return s_bad(v, rec->seq, err, "ACCEPTED: signed with the new key of '%s' while its old key "
                     "was not retired (no KEY_RETIRED before it)", env.sender);
    const nrm_policy_t *policy = nrm_replay_policy(v->reg);
    if (policy && nrm_policy_allows(policy, sender->cert.org_type, env.type, recipient->cert.org_type,
                                    &derr) != 0)
        return s_bad(v, rec->seq, err, "ACCEPTED against the policy in force: %s", derr.msg);
    /* lifecycle: the response-due time within the policy's [deadlines] */
    nrm_deadlines_t deadlines;
    nrm_policy_deadlines(policy, &deadlines);
    if (nrm_deadline_check(&deadlines, &env, &derr) != 0)
        return s_bad(v, rec->seq, err, "ACCEPTED with a response deadline the policy in force does "
                     "not allow: %s", derr.msg);
    char why[400];
    int rc = nrm_lcreplay_accepted(v->lc, rec, &env, why, sizeof why);
    if (rc == NRM_ENOMEM)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    if (rc)
        return s_bad(v, rec->seq, err, "%s", why);
    return 0;
}

/* Lifecycle records (kinds 30-49): the broker's own decisions, replayed. */
static int
s_check_lifecycle(s_verify_t *v, const nrm_record_t *rec, nrm_err_t *err)
{
    char why[400];
    if (strcmp(rec->actor, "broker") != 0)
        return s_bad(v, rec->seq, err, "%s: actor '%s' is not the broker", nrm_record_kind_name(rec->kind),
                     rec->actor);
    if (rec->kind == NRM_REC_ESCALATED && nrm_lcreplay_escalated(v->lc, rec, why, sizeof why) != 0)
        return s_bad(v, rec->seq, err, "%s", why);
    if (rec->kind == NRM_REC_PURGED && nrm_lcreplay_purged(v->lc, rec, why, sizeof why) != 0)
        return s_bad(v, rec->seq, err, "%s", why);
    return 0;
}

static int
s_check_delivered(s_verify_t *v, const nrm_record_t *rec, nrm_err_t *err)
{
    nrm_ack_t ack;
    nrm_envelope_t env;
    nrm_record_t acc;
    nrm_bytes_t bytes;
    nrm_err_t derr;
    const char *kind = nrm_record_kind_name(rec->kind);
    if (nrm_ack_decode(rec->subject, rec->subject_len, &ack, &derr) != 0)
        return s_bad(v, rec->seq, err, "%s: %s", kind, derr.msg);
    const nrm_replay_org_t *recipient = nrm_replay_org(v->reg, ack.recipient);
    if (!recipient || strcmp(rec->actor, ack.recipient) != 0)
        return s_bad(v, rec->seq, err, "%s: acknowledging organisation '%s' is not the actor or not enrolled",
                     kind, ack.recipient);
    if (recipient->status != NRM_ORG_ACTIVE)
        return s_bad(v, rec->seq, err, "%s: '%s' was %s at this point", kind, ack.recipient,
                     nrm_org_status_name(recipient->status));
    if (!s_valid_at(&recipient->cert, rec->time_ms))
        return s_bad(v, rec->seq, err, "%s: the certificate of '%s' was not valid at this time", kind,
                     ack.recipient);
    if (!s_signer(recipient, NRM_CTX_ACK, rec))
        return s_bad(v, rec->seq, err, "%s: acknowledgement signature of '%s' does not verify",
                     kind, ack.recipient);
    if (!rec->has_msg_id || memcmp(rec->msg_id, ack.msg_id, NRM_MSGID_BYTES) != 0)
        return s_bad(v, rec->seq, err, "%s: record msg_id differs from the acknowledgement's", kind);
    if ((rec->kind == NRM_REC_DELIVERED) != (ack.status == 0))
        return s_bad(v, rec->seq, err, "%s: acknowledgement status %u does not match the record kind",
                     kind, ack.status);
    if (rec->refers_to == 0 || rec->refers_to >= rec->seq || ack.accepted_seq != rec->refers_to)
        return s_bad(v, rec->seq, err, "%s: refers to record %llu, acknowledgement names %llu",
                     kind, (unsigned long long) rec->refers_to, (unsigned long long) ack.accepted_seq);
    if (nrm_auditlog_get(v->store, v->txn, rec->refers_to, &bytes, &derr) != 0
        || nrm_record_decode(bytes.data, bytes.len, &acc, &derr) != 0)
        return s_bad(v, rec->seq, err, "%s: referenced record %llu: %s", kind,
                     (unsigned long long) rec->refers_to, derr.msg);
    char why[400];
    int rc = 0;
    if (acc.kind != NRM_REC_ACCEPTED
        || nrm_envelope_decode(acc.subject, acc.subject_len, &env, &derr) != 0)
        rc = s_bad(v, rec->seq, err, "%s: record %llu is not an accepted message", kind,
                   (unsigned long long) rec->refers_to);
    else if (memcmp(env.msg_id, ack.msg_id, NRM_MSGID_BYTES) != 0
             || strcmp(env.recipient, ack.recipient) != 0
             || memcmp(env.body_hash, ack.body_hash, NRM_HASH_BYTES) != 0)
        rc = s_bad(v, rec->seq, err, "%s: acknowledgement does not match message of record %llu "
                   "(id, recipient or body hash)", kind, (unsigned long long) rec->refers_to);
    else if (nrm_lcreplay_delivered(v->lc, rec, why, sizeof why) != 0)
        rc = s_bad(v, rec->seq, err, "%s", why);
    nrm_record_clear(&acc);
    return rc;
}

static int
s_verify_one(void *ctx, uint64_t key_seq, nrm_bytes_t bytes, const nrm_record_t *rec,
             nrm_err_t *err)
{
    s_verify_t *v = ctx;
    int rc = 0;
    if (key_seq != v->expect)
        return key_seq > v->expect
                   ? s_bad(v, v->expect, err, "record %llu is missing (the next record is %llu)",
                           (unsigned long long) v->expect, (unsigned long long) key_seq)
                   : s_bad(v, key_seq, err, "record %llu out of order", (unsigned long long) key_seq);
    if (!rec)
        return s_bad(v, key_seq, err, "record %llu does not decode: %s",
                     (unsigned long long) key_seq, err ? err->msg : "");
    if (rec->seq != key_seq)
        return s_bad(v, key_seq, err, "record stored under %llu says it is record %llu (moved or swapped)",
                     (unsigned long long) key_seq, (unsigned long long) rec->seq);
    if (memcmp(rec->prev_hash, v->prev_leaf, NRM_HASH_BYTES) != 0)
        return s_bad_link(v, key_seq, bytes, err);
    char why[400];
    if (nrm_replay_owed(v->reg, rec, why, sizeof why) != 0)
        return s_bad(v, key_seq, err, "%s", why);
    rc = nrm_replay_apply(v->reg, rec, why, sizeof why);
    if (rc == NRM_ENOMEM)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    if (rc)
        return s_bad(v, key_seq, err, "%s", why);
    switch (rec->kind) {
    case NRM_REC_ACCEPTED:         rc = s_check_accepted(v, rec, err); break;
    case NRM_REC_DELIVERED:
    case NRM_REC_DELIVERY_REFUSED: rc = s_check_delivered(v, rec, err); break;
    case NRM_REC_ESCALATED:
    case NRM_REC_PURGED:           rc = s_check_lifecycle(v, rec, err); break;
    case NRM_REC_REJECTED:
        if (rec->reason_code == 0)
            rc = s_bad(v, key_seq, err, "REJECTED record without a reason code");
        break;
    default:
        if (rec->kind < NRM_REC_GENESIS || rec->kind > NRM_REC_LAST_)
            rc = s_bad(v, key_seq, err, "unknown record kind %d", rec->kind);
    }
    if (rc)
        return rc;
    nrm_leaf_hash(bytes.data, bytes.len, v->prev_leaf);
    v->prev_seq = key_seq;
    v->expect = key_seq + 1;
    v->count++;
    if (v->progress && v->count % 4096 == 0)
        v->progress(v->pctx, v->count, v->total);
    return 0;
}

int
nrm_auditlog_verify(nrm_store_t *store, uint64_t *count, uint64_t *bad_seq,
                    nrm_progress_fn *progress, void *pctx, nrm_err_t *err)
{
    s_verify_t v;
    memset(&v, 0, sizeof v);
    v.store = store;
    v.expect = 1;
    v.progress = progress;
    v.pctx = pctx;
    *count = 0;
    *bad_seq = 0;
    v.reg = nrm_replay_new();
    v.lc = nrm_lcreplay_new();
    if (!v.reg || !v.lc) {
        nrm_replay_destroy(&v.reg);
        nrm_lcreplay_destroy(&v.lc);
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    }
    int rc = nrm_store_read_begin(store, &v.txn, err);
    if (rc) {
        nrm_replay_destroy(&v.reg);
        nrm_lcreplay_destroy(&v.lc);
        return rc;
    }
    uint64_t tip_seq;
    uint8_t tip_leaf[NRM_HASH_BYTES];
    rc = nrm_auditlog_tip(store, v.txn, &tip_seq, tip_leaf, err);
    if (rc)
        goto out;
    v.total = tip_seq;
    rc = nrm_auditlog_each(store, v.txn, 1, s_verify_one, &v, err);
    if (rc)
        goto out;
    if (v.count == 0) {
        rc = s_bad(&v, 1, err, "the audit log is empty");
        goto out;
    }
    char why[400];
    if (nrm_replay_owed(v.reg, NULL, why, sizeof why) != 0) {
        rc = s_bad(&v, v.prev_seq, err, "%s", why);
        goto out;
    }
    if (tip_seq != v.prev_seq)
        rc = tip_seq > v.prev_seq
                 ? s_bad(&v, v.prev_seq + 1, err, "records %llu..%llu are missing (the log's tip is %llu)",
                         (unsigned long long) v.prev_seq + 1, (unsigned long long) tip_seq,
                         (unsigned long long) tip_seq)
                 : s_bad(&v, tip_seq + 1, err, "records after %llu are not covered by the log's tip",
                         (unsigned long long) tip_seq);
    else if (memcmp(tip_leaf, v.prev_leaf, NRM_HASH_BYTES) != 0)
        rc = s_bad(&v, v.prev_seq, err, "record %llu was altered: its hash does not match the log's tip",
                   (unsigned long long) v.prev_seq);
out:
    nrm_store_read_end(&v.txn);
    nrm_replay_destroy(&v.reg);
    nrm_lcreplay_destroy(&v.lc);
    *count = v.count;
    *bad_seq = v.bad_seq;
    return rc;
}
