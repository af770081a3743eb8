/*  nrm_verify -- offline verification of the whole audit log.

    One pass in sequence order. The registry and the routing policy are
    rebuilt from the log itself (nrm_replay), so every signature is checked
    against the key that was enrolled at that moment, and every accepted
    message against the sender's status, certificate validity and the policy
    in force then, not against today's registry. The Merkle tree is rebuilt
    from the records and every CHECKPOINT checked against it.
    The referral lifecycle is replayed too (nrm_lcreplay). Bodies are never
    read: a PURGED record stands for a body dropped undelivered, and nothing
    may be delivered after it.
    Records referred to by DELIVERED records are read back from the log.
    Envelope and acknowledgement signatures are checked on worker threads
    (nrm_sigpool) while this thread reads, decodes, replays and rebuilds the
    tree; the first bad record is the same as a sequential pass finds. */
#include "nrm_auditlog.h"
#include "nrm_checkpoint.h"
#include "nrm_crypto.h"
#include "nrm_merkle.h"
#include "nrm_registry.h"
#include "nrm_lcreplay.h"
#include "nrm_lifecycle.h"
#include "nrm_replay.h"
#include "nrm_sigpool.h"
#include "nrm_util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Message ids seen in ACCEPTED records: open addressing on the first 8
   bytes of the id -> seq; a match of the prefix is confirmed by reading the
   earlier record, so the check is exact with 16 bytes an entry. */
typedef struct {
    uint64_t *slots;            /* pairs (prefix, seq); seq 0 = empty */
    size_t cap, used;
} s_ids_t;

static uint64_t
s_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static int
s_ids_grow(s_ids_t *t)
{
    size_t cap = t->cap ? t->cap * 2 : 1024;
    uint64_t *slots = calloc(cap * 2, sizeof *slots);
    if (!slots)
        return NRM_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[2 * i + 1])
            continue;
        size_t j = s_mix(t->slots[2 * i]) & (cap - 1);
        while (slots[2 * j + 1])
            j = (j + 1) & (cap - 1);
        slots[2 * j] = t->slots[2 * i];
        slots[2 * j + 1] = t->slots[2 * i + 1];
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

typedef struct {
    nrm_store_t *store;
    MDB_txn *txn;
    uint64_t expect;                    /* next sequence number */
    uint8_t prev_leaf[NRM_HASH_BYTES];  /* leaf of the previous record */
    uint64_t prev_seq;
    nrm_replay_t *reg;                  /* registry rebuilt from the log */
    const nrm_genesis_t *genesis;       /* in reg, once GENESIS is applied */
    char origin[NRM_CHECKPOINT_ORIGIN_MAX + 1];
    s_ids_t ids;
    uint8_t *delivered;                 /* bit per ACCEPTED seq acknowledged */
    size_t delivered_cap;               /* bytes */
    uint64_t accepted, acked;
    nrm_merkle_range_t tree;            /* rebuilt from the records alone */
    nrm_sigpool_t *pool;
    const nrm_verify_opts_t *opts;
    nrm_verify_result_t *res;
    uint64_t total;
    uint64_t bad_seq;
    nrm_checkpoint_t trusted;           /* size 0 when none given */
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
        if (strncmp(what, "record", 6) == 0 || seq == 0)
            snprintf(err->msg, sizeof err->msg, "%s", what);
        else
            snprintf(err->msg, sizeof err->msg, "record %llu: %.400s", (unsigned long long) seq, what);
        err->code = NRM_ECORRUPT;
    }
    return NRM_ECORRUPT;
}

/* Queues a signature check for record seq; its failure message is written
   now, as the sequential verifier would have written it. */
/* The key an organisation signs with at this point is its certificate's,
   or during a rotation also the old one: the check passes with either. */
static int
s_sig(s_verify_t *v, const nrm_replay_org_t *o, const char *ctx, const nrm_record_t *rec,
      nrm_err_t *err, const char *fmt, ...) NRM_PRINTF(6, 7);

static int
s_sig(s_verify_t *v, const nrm_replay_org_t *o, const char *ctx, const nrm_record_t *rec,
      nrm_err_t *err, const char *fmt, ...)
{
    uint64_t seq = rec->seq;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(what, sizeof what, "record %llu: ", (unsigned long long) seq);
    n += vsnprintf(what + n, sizeof what - (size_t) n, fmt, ap);
    va_end(ap);
    if (rec->batch.size && n > 0 && (size_t) n < sizeof what)
        snprintf(what + n, sizeof what - (size_t) n, " (batch signature, item %u of %u)",
                 rec->batch.index, rec->batch.size);
    v->res->signatures++;
    if (nrm_sigpool_add(v->pool, seq, o->cert.sign_pk, o->has_old ? o->old.sign_pk : NULL, ctx,
                        rec->subject, rec->subject_len, rec->signature, &rec->batch, what) != 0)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    return 0;
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

/* After the replay applied GENESIS: the origin of checkpoints, and the
   trusted checkpoint given by the caller, which must be this broker's. */
static int
s_after_genesis(s_verify_t *v, nrm_err_t *err)
{
    nrm_err_t derr;
    v->genesis = nrm_replay_genesis(v->reg);
    if (!v->genesis)
        return s_bad(v, 1, err, "record 1 is not the network's GENESIS");
    nrm_checkpoint_origin(v->genesis->network, v->origin);
    if (v->opts->trusted_note
        && nrm_checkpoint_open(v->opts->trusted_note, v->opts->trusted_len,
                               v->genesis->broker_sign_pk, v->origin, &v->trusted, &derr) != 0)
        return s_bad(v, 0, err, "the trusted checkpoint is not one of this log's broker: %s", derr.msg);
    return 0;
}

/* Each message id is accepted once. */
static int
s_check_msg_id(s_verify_t *v, const nrm_record_t *rec, nrm_err_t *err)
{
    s_ids_t *t = &v->ids;
    if ((t->used + 1) * 2 > t->cap && s_ids_grow(t) != 0)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    uint64_t prefix = nrm_be64_get(rec->msg_id);
    size_t i = s_mix(prefix) & (t->cap - 1);
    for (; t->slots[2 * i + 1]; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[2 * i] != prefix)
            continue;
        uint64_t earlier = t->slots[2 * i + 1];
        nrm_bytes_t bytes;
        nrm_record_t old;
        nrm_err_t derr;
        if (nrm_auditlog_get(v->store, v->txn, earlier, &bytes, &derr) != 0
            || nrm_record_decode(bytes.data, bytes.len, &old, &derr) != 0)
            return s_bad(v, rec->seq, err, "ACCEPTED: cannot read record %llu: %s",
                         (unsigned long long) earlier, derr.msg);
        bool same = memcmp(old.msg_id, rec->msg_id, NRM_MSGID_BYTES) == 0;
        nrm_record_clear(&old);
        if (same)
            return s_bad(v, rec->seq, err, "ACCEPTED: message id already accepted in record %llu",
                         (unsigned long long) earlier);
    }
    t->slots[2 * i] = prefix;
    t->slots[2 * i + 1] = rec->seq;
    t->used++;
    return 0;
}

/* The key an organisation signed with at this point: its certificate's,
   or during a rotation the old one. NULL if neither verifies. */
static const nrm_cert_t *
s_signer(const nrm_replay_org_t *o, const char *ctx, const nrm_record_t *rec)
{
    if (!rec->has_signature)
        return NULL;
    if (nrm_batch_verify(o->cert.sign_pk, ctx, rec->subject, rec->subject_len, rec->signature,
                         &rec->batch, NULL) == 0)
        return &o->cert;
    if (o->has_old && nrm_batch_verify(o->old.sign_pk, ctx, rec->subject, rec->subject_len,
                                       rec->signature, &rec->batch, NULL) == 0)
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
    /* During a rotation which key signed matters (the broker retires the
       old key at the first message signed with the new one, in a
       KEY_RETIRED record just before it), so it is checked here, in order;
       otherwise the signature goes to the workers, last. */
    bool now = sender->has_old;
    const nrm_cert_t *signer = now ? s_signer(sender, NRM_CTX_ENVELOPE, rec) : NULL;
    if (!rec->has_signature || (now && !signer))
        return s_bad(v, rec->seq, err, "ACCEPTED: signature of '%s' does not verify", env.sender);
    if (now && signer == &sender->cert)
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
    if ((rc = s_check_msg_id(v, rec, err)))
        return rc;
    v->accepted++;
    if (now) {
        v->res->signatures++;
        return 0;
    }
    /* The signature last, on the workers: a failure there is reported at
       this record, as if it had been checked first. */
    return s_sig(v, sender, NRM_CTX_ENVELOPE, rec, err, "ACCEPTED: signature of '%s' does not verify",
                 env.sender);
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

/* Each ACCEPTED message is acknowledged (delivered or refused) once. */
static int
s_mark_delivered(s_verify_t *v, const nrm_record_t *rec, nrm_err_t *err)
{
    uint64_t a = rec->refers_to;
    if (a / 8 >= v->delivered_cap) {
        size_t cap = v->delivered_cap ? v->delivered_cap : 4096;
        while (a / 8 >= cap)
            cap *= 2;
        uint8_t *bits = realloc(v->delivered, cap);
        if (!bits)
            return nrm_err_set(err, NRM_ENOMEM, "out of memory");
        memset(bits + v->delivered_cap, 0, cap - v->delivered_cap);
        v->delivered = bits;
        v->delivered_cap = cap;
    }
    uint8_t bit = (uint8_t) (1u << (a % 8));
    if (v->delivered[a / 8] & bit)
        return s_bad(v, rec->seq, err, "%s: message of record %llu was already acknowledged",
                     nrm_record_kind_name(rec->kind), (unsigned long long) a);
    v->delivered[a / 8] |= bit;
    v->acked++;
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
    if (!rec->has_signature)
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
    if (rc == 0)
        rc = s_mark_delivered(v, rec, err);
    if (rc == 0)
        rc = s_sig(v, recipient, NRM_CTX_ACK, rec, err,
                   "%s: acknowledgement signature of '%s' does not verify", kind, ack.recipient);
    return rc;
}

/* A CHECKPOINT at seq s signs the tree of records 1..s-1, which is exactly
   the tree rebuilt so far. */
static int
s_check_checkpoint(s_verify_t *v, const nrm_record_t *rec, nrm_err_t *err)
{
    nrm_checkpoint_t c;
    nrm_err_t derr;
    uint8_t root[NRM_HASH_BYTES];
    if (strcmp(rec->actor, "broker") != 0)
        return s_bad(v, rec->seq, err, "CHECKPOINT: actor is '%s', not the broker", rec->actor);
    if (nrm_checkpoint_open(rec->subject, rec->subject_len, v->genesis->broker_sign_pk, v->origin,
                            &c, &derr) != 0)
        return s_bad(v, rec->seq, err, "CHECKPOINT: %s", derr.msg);
    v->res->signatures++;
    if (c.size != rec->seq - 1)
        return s_bad(v, rec->seq, err, "CHECKPOINT: signs a tree of %llu records, but %llu come before it",
                     (unsigned long long) c.size, (unsigned long long) rec->seq - 1);
    nrm_merkle_range_root(&v->tree, root);
    if (memcmp(root, c.root, NRM_HASH_BYTES) != 0)
        return s_bad(v, rec->seq, err, "CHECKPOINT: the signed root of the tree of %llu records is "
                     "not the root of the records in the log (they were changed after it was signed)",
                     (unsigned long long) c.size);
    v->res->checkpoints++;
    v->res->checkpoint_size = c.size;
    return 0;
}

/* The log does not hold the tree of the trusted checkpoint: records were
   changed, removed or replaced somewhere after the last checkpoint of the
   log that still verifies, and no later than the trusted size. */
static int
s_bad_trusted(s_verify_t *v, nrm_err_t *err)
{
    uint64_t from = v->res->checkpoints && v->res->checkpoint_size < v->trusted.size
                        ? v->res->checkpoint_size + 1 : 1;
    return s_bad(v, from, err, "the log is not the one of the trusted checkpoint of %llu records: "
                 "a record in %llu..%llu was changed, removed or replaced (the log's own checkpoints "
                 "verify up to record %llu)", (unsigned long long) v->trusted.size,
                 (unsigned long long) from, (unsigned long long) v->trusted.size,
                 (unsigned long long) (from - 1));
}

/* Adds the record's leaf to the rebuilt tree and compares the stored entry
   of the "merkle" database with it: the leaf hash and each stored subtree
   that this leaf completes. */
static int
s_check_tree(s_verify_t *v, uint64_t seq, const uint8_t leaf[NRM_HASH_BYTES], nrm_err_t *err)
{
    nrm_hash_t completed[64];
    unsigned n = 0;
    nrm_bytes_t entry;
    nrm_err_t derr;
    nrm_merkle_range_append(&v->tree, leaf, completed, &n);
    if (nrm_logtree_entry(v->store, v->txn, seq - 1, &entry, &derr) != 0)
        return s_bad(v, seq, err, "Merkle tree: %s", derr.msg);
    if (memcmp(entry.data, leaf, NRM_HASH_BYTES) != 0)
        return s_bad(v, seq, err, "the Merkle tree holds a different leaf hash for this record");
    for (unsigned l = NRM_LOGTREE_LEVEL; l <= n; l++)
        if (memcmp(entry.data + NRM_HASH_BYTES * (l - NRM_LOGTREE_LEVEL + 1), completed[l - 1],
                   NRM_HASH_BYTES) != 0)
            return s_bad(v, seq, err, "the Merkle tree's subtree of level %u ending here is wrong", l);
    if (v->trusted.size == seq) {
        uint8_t root[NRM_HASH_BYTES];
        nrm_merkle_range_root(&v->tree, root);
        if (memcmp(root, v->trusted.root, NRM_HASH_BYTES) != 0)
            return s_bad_trusted(v, err);
    }
    return 0;
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
    if (!v->genesis && (rc = s_after_genesis(v, err)))
        return rc;
    switch (rec->kind) {
    case NRM_REC_ACCEPTED:         rc = s_check_accepted(v, rec, err); break;
    case NRM_REC_DELIVERED:
    case NRM_REC_DELIVERY_REFUSED: rc = s_check_delivered(v, rec, err); break;
    case NRM_REC_CHECKPOINT:       rc = s_check_checkpoint(v, rec, err); break;
    case NRM_REC_ESCALATED:
    case NRM_REC_PURGED:           rc = s_check_lifecycle(v, rec, err); break;
    case NRM_REC_REJECTED:
        if (rec->reason_code == 0)
            rc = s_bad(v, key_seq, err, "REJECTED record without a reason code");
        break;
    default:
        if (!nrm_record_kind_valid(rec->kind))
            rc = s_bad(v, key_seq, err, "unknown record kind %d", rec->kind);
    }
    if (rc)
        return rc;
    nrm_leaf_hash(bytes.data, bytes.len, v->prev_leaf);
    if ((rc = s_check_tree(v, key_seq, v->prev_leaf, err)))
        return rc;
    v->prev_seq = key_seq;
    v->expect = key_seq + 1;
    v->res->count++;
    if (v->res->count % 4096 == 0) {
        if (v->opts->progress)
            v->opts->progress(v->opts->pctx, v->res->count, v->total);
        /* A signature already failed before this record: nothing later can
           change the answer. */
        uint64_t failed = nrm_sigpool_failed(v->pool);
        if (failed && failed < key_seq)
            return 1;
    }
    return 0;
}

/* Checks after the last record: tip, tree size, checkpoint pointer. */
static int
s_verify_end(s_verify_t *v, nrm_err_t *err)
{
    uint64_t tip_seq, tree_size, ckpt;
    uint8_t tip_leaf[NRM_HASH_BYTES];
    int rc = nrm_auditlog_tip(v->store, v->txn, &tip_seq, tip_leaf, err);
    if (rc)
        return rc;
    if (v->res->count == 0)
        return s_bad(v, 1, err, "the audit log is empty");
    char why[400];
    if (nrm_replay_owed(v->reg, NULL, why, sizeof why) != 0)
        return s_bad(v, v->prev_seq, err, "%s", why);
    if (tip_seq != v->prev_seq)
        return tip_seq > v->prev_seq
                   ? s_bad(v, v->prev_seq + 1, err, "records %llu..%llu are missing (the log's tip is %llu)",
                           (unsigned long long) v->prev_seq + 1, (unsigned long long) tip_seq,
                           (unsigned long long) tip_seq)
                   : s_bad(v, tip_seq + 1, err, "records after %llu are not covered by the log's tip",
                           (unsigned long long) tip_seq);
    if (memcmp(tip_leaf, v->prev_leaf, NRM_HASH_BYTES) != 0)
        return s_bad(v, v->prev_seq, err, "record %llu was altered: its hash does not match the log's tip",
                     (unsigned long long) v->prev_seq);
    if (v->trusted.size > v->prev_seq)
        return s_bad_trusted(v, err);
    if ((rc = nrm_logtree_size(v->store, v->txn, &tree_size, err)))
        return rc;
    if (tree_size != v->prev_seq)
        return s_bad(v, v->prev_seq + 1, err, "the Merkle tree has %llu leaves but the log %llu records",
                     (unsigned long long) tree_size, (unsigned long long) v->prev_seq);
    if ((rc = nrm_auditlog_checkpoint(v->store, v->txn, &ckpt, err)))
        return rc;
    uint64_t last = v->res->checkpoints ? v->res->checkpoint_size + 1 : 0;
    if (ckpt != last)
        return s_bad(v, ckpt > last ? ckpt : last, err, "the log's latest-checkpoint pointer names "
                     "record %llu, but the last CHECKPOINT record is %llu",
                     (unsigned long long) ckpt, (unsigned long long) last);
    nrm_merkle_range_root(&v->tree, v->res->root);
    return 0;
}

int
nrm_auditlog_verify(nrm_store_t *store, const nrm_verify_opts_t *opts, nrm_verify_result_t *res,
                    nrm_err_t *err)
{
    s_verify_t v;
    memset(&v, 0, sizeof v);
    memset(res, 0, sizeof *res);
    v.store = store;
    v.expect = 1;
    v.opts = opts;
    v.res = res;
    nrm_merkle_range_init(&v.tree);
    v.reg = nrm_replay_new();
    v.pool = nrm_sigpool_new(opts->threads);
    v.lc = nrm_lcreplay_new();
    if (!v.pool || !v.reg || !v.lc) {
        nrm_replay_destroy(&v.reg);
        nrm_lcreplay_destroy(&v.lc);
        nrm_sigpool_destroy(&v.pool);
        return nrm_err_set(err, NRM_ENOMEM, "cannot start %u verifying threads", opts->threads);
    }
    int rc = nrm_store_read_begin(store, &v.txn, err);
    uint64_t tip_seq;
    uint8_t tip_leaf[NRM_HASH_BYTES];
    if (rc == 0 && (rc = nrm_auditlog_tip(store, v.txn, &tip_seq, tip_leaf, err)) == 0) {
        v.total = tip_seq;
        rc = nrm_auditlog_each(store, v.txn, 1, s_verify_one, &v, err);
        if (rc == 0 && v.bad_seq == 0 && !(nrm_sigpool_failed(v.pool)))
            rc = s_verify_end(&v, err);
    }
    /* The first bad record is the lowest of what the reading thread found
       and what the signature workers found. */
    char what[256];
    uint64_t sig_bad = nrm_sigpool_finish(v.pool, what, sizeof what);
    if (sig_bad && (v.bad_seq == 0 || sig_bad < v.bad_seq)) {
        v.bad_seq = sig_bad;
        rc = nrm_err_set(err, NRM_ECORRUPT, "%s", what);
    }
    res->undelivered = v.accepted - v.acked;
    res->bad_seq = v.bad_seq;
    nrm_store_read_end(&v.txn);
    nrm_sigpool_destroy(&v.pool);
    nrm_replay_destroy(&v.reg);
    free(v.ids.slots);
    free(v.delivered);
    nrm_lcreplay_destroy(&v.lc);
    return rc;
}
