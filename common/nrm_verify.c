/*  nrm_verify -- offline verification of the whole audit log.

    One pass in sequence order. The registry is rebuilt from the log itself
    (GENESIS, then ENROLLED records), so every signature is checked against
    the key that was enrolled at that moment, not against today's registry.
    Records referred to by DELIVERED records are read back from the log. */
#include "nrm_auditlog.h"
#include "nrm_crypto.h"
#include "nrm_registry.h"
#include "nrm_replay.h"
#include "nrm_util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Open-addressing table org id -> certificate, rebuilt as we replay. */
typedef struct {
    nrm_cert_t *slots;
    size_t cap, used;
} s_certs_t;

static uint64_t
s_fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 1099511628211ull;
    return h;
}

static nrm_cert_t *
s_certs_find(s_certs_t *t, const char *id)
{
    if (!t->cap)
        return NULL;
    for (size_t i = s_fnv(id) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slots[i].org_id[0])
            return NULL;
        if (strcmp(t->slots[i].org_id, id) == 0)
            return &t->slots[i];
    }
}

static int
s_certs_put(s_certs_t *t, const nrm_cert_t *c)
{
    if ((t->used + 1) * 2 > t->cap) {
        s_certs_t bigger = { NULL, t->cap ? t->cap * 2 : 64, 0 };
        bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
        if (!bigger.slots)
            return NRM_ENOMEM;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].org_id[0])
                (void) s_certs_put(&bigger, &t->slots[i]);
        free(t->slots);
        *t = bigger;
    }
    size_t i = s_fnv(c->org_id) & (t->cap - 1);
    while (t->slots[i].org_id[0] && strcmp(t->slots[i].org_id, c->org_id) != 0)
        i = (i + 1) & (t->cap - 1);
    if (!t->slots[i].org_id[0])
        t->used++;
    t->slots[i] = *c;
    return 0;
}

typedef struct {
    nrm_store_t *store;
    MDB_txn *txn;
    uint64_t expect;                    /* next sequence number */
    uint8_t prev_leaf[NRM_HASH_BYTES];  /* leaf of the previous record */
    uint64_t prev_seq;
    bool have_genesis;
    nrm_genesis_t genesis;
    s_certs_t certs;
    uint64_t count, total;
    uint64_t bad_seq;
    nrm_progress_fn *progress;
    void *pctx;
    nrm_replay_t *replay;               /* referral lifecycle (nrm_replay.c) */
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

static int
s_check_genesis(s_verify_t *v, const nrm_record_t *rec, nrm_err_t *err)
{
    nrm_err_t derr;
    if (rec->seq != 1 || v->have_genesis)
        return s_bad(v, rec->seq, err, "GENESIS record at %llu: only record 1 may be one",
                     (unsigned long long) rec->seq);
    if (nrm_genesis_decode(rec->subject, rec->subject_len, &v->genesis, &derr) != 0)
        return s_bad(v, rec->seq, err, "GENESIS: %s", derr.msg);
    if (!rec->has_signature
        || nrm_verify(v->genesis.admin_pk, NRM_CTX_GENESIS, rec->subject, rec->subject_len,
                      rec->signature) != 0)
        return s_bad(v, rec->seq, err, "GENESIS: administrator signature does not verify");
    v->have_genesis = true;
    return 0;
}

static int
s_check_enrolled(s_verify_t *v, const nrm_record_t *rec, nrm_err_t *err)
{
    nrm_cert_t cert;
    nrm_err_t derr;
    if (!rec->has_signature)
        return s_bad(v, rec->seq, err, "ENROLLED: no signature");
    if (nrm_cert_verify(rec->subject, rec->subject_len, rec->signature, v->genesis.admin_pk,
                        &cert, &derr) != 0)
        return s_bad(v, rec->seq, err, "ENROLLED: %s", derr.msg);
    if (s_certs_find(&v->certs, cert.org_id))
        return s_bad(v, rec->seq, err, "ENROLLED: '%s' was already enrolled", cert.org_id);
    if (s_certs_put(&v->certs, &cert) != 0)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    return 0;
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
    const nrm_cert_t *sender = s_certs_find(&v->certs, env.sender);
    if (!sender)
        return s_bad(v, rec->seq, err, "ACCEPTED: sender '%s' was not enrolled at this point",
                     env.sender);
    if (!s_certs_find(&v->certs, env.recipient))
        return s_bad(v, rec->seq, err, "ACCEPTED: recipient '%s' was not enrolled at this point",
                     env.recipient);
    if (!rec->has_signature
        || nrm_verify(sender->sign_pk, NRM_CTX_ENVELOPE, rec->subject, rec->subject_len,
                      rec->signature) != 0)
        return s_bad(v, rec->seq, err, "ACCEPTED: signature of '%s' does not verify", env.sender);
    char why[400];
    int rc = nrm_replay_accepted(v->replay, rec, &env, why, sizeof why);
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
    if (rec->kind == NRM_REC_ESCALATED && nrm_replay_escalated(v->replay, rec, why, sizeof why) != 0)
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
    const nrm_cert_t *recipient = s_certs_find(&v->certs, ack.recipient);
    if (!recipient || strcmp(rec->actor, ack.recipient) != 0)
        return s_bad(v, rec->seq, err, "%s: acknowledging organisation '%s' is not the actor or not enrolled",
                     kind, ack.recipient);
    if (!rec->has_signature
        || nrm_verify(recipient->sign_pk, NRM_CTX_ACK, rec->subject, rec->subject_len,
                      rec->signature) != 0)
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
    if (rec->kind == NRM_REC_DELIVERED && nrm_replay_delivered(v->replay, rec, why, sizeof why) != 0)
        rc = s_bad(v, rec->seq, err, "%s", why);
    else if (acc.kind != NRM_REC_ACCEPTED
        || nrm_envelope_decode(acc.subject, acc.subject_len, &env, &derr) != 0)
        rc = s_bad(v, rec->seq, err, "%s: record %llu is not an accepted message", kind,
                   (unsigned long long) rec->refers_to);
    else if (memcmp(env.msg_id, ack.msg_id, NRM_MSGID_BYTES) != 0
             || strcmp(env.recipient, ack.recipient) != 0
             || memcmp(env.body_hash, ack.body_hash, NRM_HASH_BYTES) != 0)
        rc = s_bad(v, rec->seq, err, "%s: acknowledgement does not match message of record %llu "
                   "(id, recipient or body hash)", kind, (unsigned long long) rec->refers_to);
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
    if (!v->have_genesis && rec->kind != NRM_REC_GENESIS)
        return s_bad(v, key_seq, err, "record 1 is not the network's GENESIS");
    switch (rec->kind) {
    case NRM_REC_GENESIS:          rc = s_check_genesis(v, rec, err); break;
    case NRM_REC_ENROLLED:         rc = s_check_enrolled(v, rec, err); break;
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
    v.replay = nrm_replay_new();
    if (!v.replay)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    int rc = nrm_store_read_begin(store, &v.txn, err);
    if (rc) {
        nrm_replay_destroy(&v.replay);
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
    free(v.certs.slots);
    nrm_replay_destroy(&v.replay);
    *count = v.count;
    *bad_seq = v.bad_seq;
    return rc;
}
