/*  broker -- intake, group commit and delivery.

    One thread, one loop: poll the ROUTER and the ZAP socket; take up to
    batch_max frames; decide every one of them inside ONE LMDB write
    transaction (group commit: one fsync for the batch); only after the
    commit has returned send receipts, delivery notices and deliveries.
    Nothing is acknowledged before it is durable (invariant 1). */
#include "broker.h"
#include "broker_metrics.h"
#include "broker_referrals.h"
#include "nrm_auditlog.h"
#include "nrm_codec.h"
#include "nrm_crypto.h"
#include "nrm_log.h"
#include "nrm_policy.h"
#include "nrm_regadmin.h"
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include "nrm_util.h"
#include <errno.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define BROKER_MAX_PEERS     4096
#define BROKER_RID_MAX       256
#define BROKER_POLL_MS       200
#define BROKER_RESEND_MS     10000    /* resend unacknowledged deliveries   */
#define QUEUE_KEY_MAX        (NRM_ID_MAX + 1 + 8)
#define BROKER_BATCH_BYTES   ((size_t) 64 << 20) /* frames held by one batch */
#define BROKER_PUMP_RETRY_MS 50      /* a recipient whose pipe was full     */
#define BROKER_FULL_RETRY_MS 1000    /* after the store refused a batch     */
#define BROKER_PURGE_TICK_MAX 64      /* bodies purged per timer tick       */
#define BROKER_CERT_CACHE    1024    /* organisations whose certificate and
                                        status are kept decoded (direct-mapped) */
#define BROKER_SUMMARY_MS    10000   /* one info line on the traffic this often */
#define BROKER_RCVHWM        512     /* frames queued per peer by ZeroMQ: with
                                        the hard frame cap, bounds what one
                                        authenticated peer can make us hold */

/* msgids value: state | accepted_seq | delivered_seq | env_hash | sender_len
   | sender | receipt (Signed{Receipt} bytes, the rest). delivered_seq is the
   record that settled the message: DELIVERED, DELIVERY_REFUSED or PURGED. */
enum { MSG_ACCEPTED = 1, MSG_DELIVERED = 2, MSG_REFUSED = 3, MSG_REJECTED = 4, MSG_PURGED = 5 };
#define MSGREC_FIXED (1 + 8 + 8 + NRM_HASH_BYTES + 1)

typedef struct {
    int      state;
    uint64_t accepted_seq, delivered_seq;
    uint8_t  env_hash[NRM_HASH_BYTES];
    char     sender[NRM_ID_MAX + 1];
    const uint8_t *receipt;
    size_t   receipt_len;
} msgrec_t;

typedef struct {
    char     org[NRM_ID_MAX + 1];
    uint8_t  rid[BROKER_RID_MAX];
    size_t   rid_len;
    bool     live;
    bool     want_pump;
    bool     held;               /* deliveries held (suspended, revoked) */
    uint64_t sent_upto;          /* highest queue seq sent this session */
    uint64_t inflight;
    uint64_t last_progress_ms;
    uint64_t pump_after_ms;      /* pipe was full: not before this time */
    bool     ckpt_asked;         /* speaks the checkpoint protocol */
    uint64_t ckpt_size;          /* tree size of the checkpoint it has */
    uint8_t  curve_pk[NRM_PK_BYTES];  /* CURVE key of the connection that said Hello */
} peer_t;

/* An organisation's certificate, decoded, and its status, as the registry
   held them at generation gen (broker_t.reg_gen). Read for every frame of
   a connection and for every recipient: the registry lookup and the
   certificate decode are done once per organisation and registry change
   instead. The registry and the statuses change only through the admin
   endpoint (a write transaction of its own, after which reg_gen moves on)
   while the broker runs: nrm-admin writes the folder only when no broker
   holds it (broker.lock). A key retirement inside a batch changes the old
   certificates only, which are not kept here. */
typedef struct {
    uint64_t        gen;            /* 0: empty */
    char            org[NRM_ID_MAX + 1];
    nrm_cert_t      cert;
    nrm_orgstatus_t st;
} certc_t;

/* One frame taken into a batch, and what the batch decided for it. */
typedef struct {
    uint8_t  rid[BROKER_RID_MAX];
    size_t   rid_len;
    char     org[NRM_ID_MAX + 1];   /* ZAP User-Id */
    uint8_t  curve_pk[NRM_PK_BYTES];/* ZAP metadata BROKER_CURVE_PROP */
    bool     has_curve;
    zmq_msg_t msg;
    int      parts;
    uint8_t *reply;                  /* frame to send back, or NULL */
    size_t   reply_len;
    bool     notify;                 /* tell a sender of a delivery */
    char     notify_org[NRM_ID_MAX + 1];
    nrm_msg_status_t status;
    char     wake[NRM_ID_MAX + 1];   /* recipient with new queue entries */
    bool     hello, acked;
    bool     ckpt_asked;             /* a CheckpointRequest was answered */
    uint64_t ckpt_size;              /* tree size the peer now holds */
    bool     admin;                  /* from the admin endpoint */
    uint8_t  welcome;                /* reply: the batch's shared Welcome,
                                        WELCOME_FULL or WELCOME_SAME */
} item_t;

enum { WELCOME_NONE = 0, WELCOME_FULL = 1, WELCOME_SAME = 2 };

/* A receipt decided in the running transaction, signed with the others of
   the transaction just before it commits (s_receipts_sign): one batch
   signature per group commit, each receipt with its inclusion proof. */
typedef struct {
    item_t  *it;
    uint8_t *body;                   /* exact Receipt bytes, owned */
    size_t   len;
    bool     keep;                   /* msgids[msg_id] keeps it (resubmissions) */
    uint8_t  msg_id[NRM_MSGID_BYTES];
} rcpt_t;

struct broker_t {
    broker_config_t cfg;
    void *zctx, *router, *zap, *admin;
    int lock_fd;                     /* flock on NET/broker.lock while we run */
    nrm_policy_t *policy;            /* routing policy in force, parsed     */
    uint64_t policy_seq;             /* its POLICY record (0: none)         */
    nrm_store_t *store;
    nrm_keys_t *keys;
    broker_refs_t *refs;             /* referral lifecycle (broker_referrals.c) */
    nrm_genesis_t genesis;
    item_t *items;
    size_t nitems;
    peer_t *peers;
    size_t npeers;
    uint64_t records, batches, frames;
    /* Store full: while set, new messages are refused with store-full (a
       small REJECTED record, no body) and everything else goes on, so that
       deliveries, which free space, keep flowing. */
    bool     store_full;
    uint64_t full_until_ms;      /* after a write failed for lack of space */
    char     full_why[200];
    uint64_t ckpt_last_ms;           /* when the last checkpoint was made */
    bool     ckpt_made;              /* by the transaction just run */
    broker_metrics_t *metrics;       /* Prometheus endpoint, or NULL        */
    /* The Welcome of this batch, encoded once and sent to every Hello of
       the batch without a copy (ZeroMQ shares the buffer between the
       pipes): with a thousand organisations a Welcome is a few hundred
       KiB, and a thousand agents connecting at once would otherwise hold a
       copy each (docs/performance.md, p-scale). A Hello that names the
       directory the broker holds gets the Welcome without certificates
       (welcome_same): a thousand agents reconnecting after a restart then
       cost a few dozen bytes each instead of the whole directory. */
    zmq_msg_t welcome, welcome_same;
    bool      welcome_ok, welcome_same_ok;
    uint8_t   dir_digest[NRM_HASH_BYTES];   /* the batch's directory ...  */
    bool      dir_ok;                       /* ... once a Hello asked     */
    certc_t  *certc;                 /* BROKER_CERT_CACHE entries */
    uint64_t  reg_gen;               /* registry generation, from 1 */
    /* Messages decided in the batch being written, and since the last
       summary line (per-message lines are at debug level). */
    uint64_t  b_accepted, b_delivered, b_refused;
    uint64_t  s_accepted, s_delivered, s_refused, s_frames, s_batches, s_ms;
    /* purge notices to push as status replies after the purge commit */
    nrm_msg_status_t purged[BROKER_PURGE_TICK_MAX];
    char     purged_to[BROKER_PURGE_TICK_MAX][NRM_ID_MAX + 1];
    size_t   npurged;
    rcpt_t  *rcpts;                  /* receipts of the running transaction */
    size_t   nrcpts, cap_rcpts;
};

static peer_t *s_peer(broker_t *self, const char *org, bool create);
static int s_send(broker_t *self, const uint8_t *rid, size_t rid_len, const uint8_t *data,
                  size_t len);
static int s_send_shared(broker_t *self, const uint8_t *rid, size_t rid_len, zmq_msg_t *shared);

/* ---- configuration ---- */

int
broker_config_load(const char *dir, broker_config_t *cfg, nrm_err_t *err)
{
    nrm_netconf_t conf;
    memset(cfg, 0, sizeof *cfg);
    if (nrm_path(cfg->dir, sizeof cfg->dir, "%s", dir) != 0)
        return nrm_err_set(err, NRM_EINVAL, "folder path too long: %s", dir);
    int rc = nrm_netconf_load(dir, &conf, err);
    if (rc)
        return rc;
    snprintf(cfg->listen, sizeof cfg->listen, "%s", conf.listen);
    snprintf(cfg->admin_listen, sizeof cfg->admin_listen, "%s", conf.admin_listen);
    snprintf(cfg->network, sizeof cfg->network, "%s", conf.network);
    cfg->batch_max = conf.batch_max;
    cfg->window = conf.window;
    cfg->map_max_mb = conf.map_max_mb;
    cfg->skew_max_ms = conf.clock_skew_max_s * 1000u;
    cfg->reserve_bytes = conf.store_reserve_mb << 20;
    cfg->body_retention_ms = conf.body_retention_ms;
    snprintf(cfg->body_retention, sizeof cfg->body_retention, "%s", conf.body_retention);
    cfg->log_level = nrm_log_level_parse(conf.log_level);
    cfg->checkpoint_records = conf.checkpoint_records;
    cfg->checkpoint_seconds = conf.checkpoint_seconds;
    return 0;
}

/* ---- small codecs of our own store values ---- */

static int
s_msgrec_decode(const MDB_val *v, msgrec_t *m)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < MSGREC_FIXED)
        return NRM_ECORRUPT;
    size_t slen = p[MSGREC_FIXED - 1];
    if (slen == 0 || slen > NRM_ID_MAX || v->mv_size < MSGREC_FIXED + slen)
        return NRM_ECORRUPT;
    m->state = p[0];
    m->accepted_seq = nrm_be64_get(p + 1);
    m->delivered_seq = nrm_be64_get(p + 9);
    memcpy(m->env_hash, p + 17, NRM_HASH_BYTES);
    memcpy(m->sender, p + MSGREC_FIXED, slen);
    m->sender[slen] = '\0';
    m->receipt = p + MSGREC_FIXED + slen;
    m->receipt_len = v->mv_size - MSGREC_FIXED - slen;
    return 0;
}

static int
s_msgrec_put(broker_t *self, MDB_txn *txn, const uint8_t msg_id[NRM_MSGID_BYTES],
             const msgrec_t *m, nrm_err_t *err)
{
    size_t slen = strlen(m->sender);
    size_t len = MSGREC_FIXED + slen + m->receipt_len;
    uint8_t buf[MSGREC_FIXED + NRM_ID_MAX + 1024];
    if (len > sizeof buf)
        return nrm_err_set(err, NRM_EINVAL, "message record too large");
    buf[0] = (uint8_t) m->state;
    nrm_be64_put(buf + 1, m->accepted_seq);
    nrm_be64_put(buf + 9, m->delivered_seq);
    memcpy(buf + 17, m->env_hash, NRM_HASH_BYTES);
    buf[MSGREC_FIXED - 1] = (uint8_t) slen;
    memcpy(buf + MSGREC_FIXED, m->sender, slen);
    if (m->receipt_len)
        memmove(buf + MSGREC_FIXED + slen, m->receipt, m->receipt_len);
    return nrm_store_put(self->store, txn, "msgids", msg_id, NRM_MSGID_BYTES, buf, len, 0, err);
}

static size_t
s_queue_key(uint8_t *key, const char *org, uint64_t seq)
{
    size_t n = strlen(org);
    memcpy(key, org, n);
    key[n] = 0;
    nrm_be64_put(key + n + 1, seq);
    return n + 9;
}

/* The retention index ("expiry"): be64 ACCEPTED seq -> be64 accepted ms ||
   msg_id, for every body the broker still holds, so that the timer reads
   only the oldest entries. */
static int
s_expiry_put(broker_t *self, MDB_txn *txn, uint64_t seq, uint64_t accepted_ms,
             const uint8_t msg_id[NRM_MSGID_BYTES], nrm_err_t *err)
{
    uint8_t key[8], val[8 + NRM_MSGID_BYTES];
    nrm_be64_put(key, seq);
    nrm_be64_put(val, accepted_ms);
    memcpy(val + 8, msg_id, NRM_MSGID_BYTES);
    return nrm_store_put(self->store, txn, "expiry", key, sizeof key, val, sizeof val, 0, err);
}

static int
s_expiry_del(broker_t *self, MDB_txn *txn, uint64_t seq, nrm_err_t *err)
{
    uint8_t key[8];
    nrm_be64_put(key, seq);
    int rc = nrm_store_del(self->store, txn, "expiry", key, sizeof key, err);
    return rc == NRM_ENOTFOUND ? 0 : rc;
}

/* ---- replies ---- */

static int
s_wire_reply(item_t *it, const nrm_wire_t *w, nrm_err_t *err)
{
    free(it->reply);
    it->reply = NULL;
    return nrm_wire_encode(w, &it->reply, &it->reply_len, err);
}

/* Sets the item's reply to a Receipt frame holding a signed receipt
   (proof NULL or of size 0: signed directly). */
static int
s_receipt_reply(item_t *it, const uint8_t *body, size_t body_len,
                const uint8_t sig[NRM_SIG_BYTES], const nrm_batch_proof_t *proof, nrm_err_t *err)
{
    nrm_wire_t w = { .kind = it->admin ? NRM_WIRE_ADMIN_RECEIPT : NRM_WIRE_RECEIPT };
    w.signed_obj.body.data = body;
    w.signed_obj.body.len = body_len;
    w.signed_obj.sig.data = sig;
    w.signed_obj.sig.len = NRM_SIG_BYTES;
    if (proof)
        w.batch = *proof;
    return s_wire_reply(it, &w, err);
}

/* Forgets the receipts of a transaction (run again, or done). */
static void
s_receipts_reset(broker_t *self)
{
    for (size_t i = 0; i < self->nrcpts; i++)
        free(self->rcpts[i].body);
    self->nrcpts = 0;
}

/* Adds a receipt to the transaction's batch (body owned from here). */
static int
s_receipt_add(broker_t *self, item_t *it, uint8_t *body, size_t len,
              const uint8_t *keep_msg_id, nrm_err_t *err)
{
    if (self->nrcpts == self->cap_rcpts) {
        size_t cap = self->cap_rcpts ? self->cap_rcpts * 2 : self->cfg.batch_max + 1;
        rcpt_t *more = realloc(self->rcpts, cap * sizeof *more);
        if (!more) {
            free(body);
            return nrm_err_set(err, NRM_ENOMEM, "out of memory");
        }
        self->rcpts = more;
        self->cap_rcpts = cap;
    }
    rcpt_t *r = &self->rcpts[self->nrcpts++];
    r->it = it;
    r->body = body;
    r->len = len;
    r->keep = keep_msg_id != NULL;
    if (keep_msg_id)
        memcpy(r->msg_id, keep_msg_id, NRM_MSGID_BYTES);
    free(it->reply);
    it->reply = NULL;
    return 0;
}

/* Decides a receipt: it is signed, with every other receipt of the
   transaction, by s_receipts_sign before the commit, and becomes the
   item's reply then. When keep_msg_id is set, msgids[keep_msg_id] (put
   by the caller with an empty receipt) gets the signed receipt too, so
   that a resubmission is answered with it. */
static int
s_receipt(broker_t *self, item_t *it, const nrm_receipt_t *r, const uint8_t *keep_msg_id,
          nrm_err_t *err)
{
    uint8_t *body = NULL;
    size_t body_len = 0;
    int rc = nrm_receipt_encode(r, &body, &body_len, err);
    if (rc == 0)
        rc = s_receipt_add(self, it, body, body_len, keep_msg_id, err);
    return rc;
}

/* Writes the signed receipt into the message record of msg_id (whatever
   else the transaction changed in it since). */
static int
s_receipt_keep(broker_t *self, MDB_txn *txn, const uint8_t msg_id[NRM_MSGID_BYTES],
               const uint8_t *signed_bytes, size_t signed_len, nrm_err_t *err)
{
    MDB_val v;
    msgrec_t m;
    int rc = nrm_store_get(self->store, txn, "msgids", msg_id, NRM_MSGID_BYTES, &v, err);
    if (rc)
        return rc;
    if (s_msgrec_decode(&v, &m) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "damaged message record");
    m.receipt = signed_bytes;
    m.receipt_len = signed_len;
    return s_msgrec_put(self, txn, msg_id, &m, err);
}

/* Signs the receipts of the transaction: one signature per NRM_BATCH_MAX
   of them (a single one directly, as before batches), sets each item's
   reply and keeps the signed receipts that msgids keeps. Inside the
   transaction, so that nothing is answered unless it commits. */
static int
s_receipts_sign(broker_t *self, MDB_txn *txn, nrm_err_t *err)
{
    nrm_batch_item_t items[NRM_BATCH_MAX];
    nrm_batch_proof_t proofs[NRM_BATCH_MAX];
    uint8_t sig[NRM_SIG_BYTES];
    int rc = 0;
    for (size_t at = 0; at < self->nrcpts && rc == 0;) {
        size_t n = self->nrcpts - at < NRM_BATCH_MAX ? self->nrcpts - at : NRM_BATCH_MAX;
        for (size_t i = 0; i < n; i++)
            items[i] = (nrm_batch_item_t) { self->rcpts[at + i].body, self->rcpts[at + i].len };
        rc = nrm_batch_sign(self->keys, NRM_CTX_RECEIPT, items, n, sig, proofs, err);
        for (size_t i = 0; i < n && rc == 0; i++) {
            rcpt_t *r = &self->rcpts[at + i];
            rc = s_receipt_reply(r->it, r->body, r->len, sig, &proofs[i], err);
            if (rc || !r->keep)
                continue;
            uint8_t *signed_bytes = NULL;
            size_t signed_len = 0;
            rc = nrm_signed_encode_batch(r->body, r->len, sig, &proofs[i], &signed_bytes,
                                         &signed_len, err);
            if (rc == 0)
                rc = s_receipt_keep(self, txn, r->msg_id, signed_bytes, signed_len, err);
            free(signed_bytes);
        }
        at += n;
    }
    s_receipts_reset(self);
    return rc;
}

/* Sets the reply to a stored receipt (a resubmission of an already decided
   message: the same answer again, no new record). A receipt decided in
   this very transaction is not signed yet: this item gets the same
   receipt bytes, signed with the batch. */
static int
s_stored_receipt(broker_t *self, item_t *it, const uint8_t msg_id[NRM_MSGID_BYTES],
                 const msgrec_t *m, nrm_err_t *err)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t body_len = 0;
    nrm_batch_proof_t proof;
    if (m->receipt_len == 0) {
        for (size_t i = self->nrcpts; i-- > 0;) {
            const rcpt_t *r = &self->rcpts[i];
            if (!r->keep || memcmp(r->msg_id, msg_id, NRM_MSGID_BYTES) != 0)
                continue;
            if (!(body = malloc(r->len)))
                return nrm_err_set(err, NRM_ENOMEM, "out of memory");
            memcpy(body, r->body, r->len);
            return s_receipt_add(self, it, body, r->len, NULL, err);
        }
        return nrm_err_set(err, NRM_ECORRUPT, "message record without its receipt");
    }
    int rc = nrm_signed_decode_batch(m->receipt, m->receipt_len, 1024, &body, &body_len, sig,
                                     &proof, err);
    if (rc == 0)
        rc = s_receipt_reply(it, body, body_len, sig, &proof, err);
    free(body);
    return rc;
}

/* ---- intake ---- */

typedef struct {
    const uint8_t *frame;
    size_t frame_len;
    uint8_t frame_hash[NRM_HASH_BYTES];
    const nrm_wire_t *w;            /* NULL if the frame did not decode */
    nrm_envelope_t env;
    bool has_env;
    uint64_t now;                   /* when its checks are made; the time of
                                       an ACCEPTED or DELIVERED record, so
                                       that the verifier sees the same moment */
} submit_t;

/* Appends a REJECTED record for a submitted frame and answers with its
   receipt. When `reserve` is set (the envelope was authentic), the message
   id keeps this decision so that a resubmission gets the same receipt. */
static int
s_reject(broker_t *self, MDB_txn *txn, item_t *it, const submit_t *s, uint32_t reason,
         const char *why, bool reserve, nrm_err_t *err)
{
    nrm_record_t rec;
    uint64_t seq;
    uint8_t leaf[NRM_HASH_BYTES];
    memset(&rec, 0, sizeof rec);
    rec.time_ms = nrm_now_ms();
    rec.kind = NRM_REC_REJECTED;
    snprintf(rec.actor, sizeof rec.actor, "%s", it->org);
    rec.reason_code = reason;
    snprintf(rec.reason, sizeof rec.reason, "%s", why);
    rec.has_frame_hash = true;
    memcpy(rec.frame_hash, s->frame_hash, NRM_HASH_BYTES);
    rec.frame_size = s->frame_len;
    if (s->w && s->w->kind == NRM_WIRE_SUBMIT) {
        /* Keep the exact envelope and signature tried, so an auditor sees
           what was refused; never the body. */
        rec.subject = (uint8_t *) s->w->envelope.data;
        rec.subject_len = s->w->envelope.len;
        if (s->w->signature.len == NRM_SIG_BYTES) {
            rec.has_signature = true;
            memcpy(rec.signature, s->w->signature.data, NRM_SIG_BYTES);
            rec.batch = s->w->batch;
        }
    }
    if (s->has_env) {
        rec.has_msg_id = true;
        memcpy(rec.msg_id, s->env.msg_id, NRM_MSGID_BYTES);
    }
    int rc = nrm_auditlog_append(self->store, txn, &rec, &seq, leaf, err);
    if (rc)
        return rc;
    self->records++;
    nrm_receipt_t r;
    memset(&r, 0, sizeof r);
    r.has_msg_id = s->has_env;
    if (s->has_env)
        memcpy(r.msg_id, s->env.msg_id, NRM_MSGID_BYTES);
    memcpy(r.frame_hash, s->frame_hash, NRM_HASH_BYTES);
    r.status = reason;
    snprintf(r.reason, sizeof r.reason, "%s", why);
    r.seq = seq;
    memcpy(r.record_hash, leaf, NRM_HASH_BYTES);
    r.time_ms = rec.time_ms;
    if (reserve) {
        /* the receipt itself is written in when the batch is signed */
        msgrec_t m = { MSG_REJECTED, seq, 0, { 0 }, "", NULL, 0 };
        nrm_sha256(s->w->envelope.data, s->w->envelope.len, m.env_hash);
        snprintf(m.sender, sizeof m.sender, "%s", s->env.sender);
        rc = s_msgrec_put(self, txn, s->env.msg_id, &m, err);
    }
    if (rc == 0)
        rc = s_receipt(self, it, &r, reserve ? s->env.msg_id : NULL, err);
    nrm_info("refused frame from '%s': %s (%s), record %llu", it->org, nrm_reason_name(reason),
             why, (unsigned long long) seq);
    return rc;
}

/* Checks a signature by an organisation: its certificate's key, or during
   a rotation its old key. *retire is set when the new key signed while the
   old one is still accepted. NRM_EINVAL with err->reason key-retired or
   bad-signature when neither verifies. */
/* ---- certificates of the registry, kept decoded ---- */

static certc_t *
s_certc(broker_t *self, MDB_txn *txn, const char *org, nrm_err_t *err, int *rc)
{
    uint32_t h = 2166136261u;       /* FNV-1a of the id */
    for (const char *p = org; *p; p++)
        h = (h ^ (uint8_t) *p) * 16777619u;
    certc_t *c = &self->certc[h & (BROKER_CERT_CACHE - 1)];
    *rc = 0;
    if (c->gen == self->reg_gen && strcmp(c->org, org) == 0)
        return c;
    c->gen = 0;
    if ((*rc = nrm_registry_find(self->store, txn, org, &c->cert, NULL, err)) != 0
        || (*rc = nrm_registry_status(self->store, txn, org, &c->st, err)) != 0)
        return NULL;
    snprintf(c->org, sizeof c->org, "%s", org);
    c->gen = self->reg_gen;
    return c;
}

/* nrm_registry_usable, from the cache. */
static int
s_usable(broker_t *self, MDB_txn *txn, const char *org, uint64_t now, nrm_cert_t *cert,
         nrm_err_t *err)
{
    int rc;
    const certc_t *c = s_certc(self, txn, org, err, &rc);
    if (!c)
        return rc;
    if (cert)
        *cert = c->cert;
    return nrm_registry_usable_at(&c->cert, &c->st, now, err);
}

/* nrm_registry_find of the certificate, from the cache. */
static int
s_cert(broker_t *self, MDB_txn *txn, const char *org, nrm_cert_t *cert, nrm_err_t *err)
{
    int rc;
    const certc_t *c = s_certc(self, txn, org, err, &rc);
    if (c)
        *cert = c->cert;
    return rc;
}

/* After the registry may have changed: every entry is stale. */
static void
s_certc_flush(broker_t *self)
{
    self->reg_gen++;
}

static int
s_signer_check(broker_t *self, MDB_txn *txn, const nrm_cert_t *cert, const char *ctx,
               nrm_bytes_t data, const uint8_t *sig, const nrm_batch_proof_t *proof,
               bool *retire, nrm_err_t *err)
{
    nrm_err_t why = { 0, 0, "" };
    int which;
    *retire = false;
    int rc = nrm_registry_signer(self->store, txn, cert->org_id, ctx, data.data, data.len, sig,
                                 proof, &which, NULL, NULL, &why);
    if (rc == NRM_ENOTFOUND && proof->size)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "batch signature (item %u of %u) does not "
                              "verify with the enrolled key of '%s'", proof->index, proof->size,
                              cert->org_id);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "signature does not verify with the enrolled "
                              "key of '%s'", cert->org_id);
    if (rc)
        return nrm_err_set(err, rc, "%s", why.msg);
    if (which == NRM_SIGNER_RETIRED)
        return nrm_err_refuse(err, NRM_R_KEY_RETIRED, "signed with a key of '%s' that a rotation "
                              "retired; sign with the new key", cert->org_id);
    if (which == NRM_SIGNER_CURRENT) {
        nrm_cert_t old;
        rc = nrm_registry_old_cert(self->store, txn, cert->org_id, &old, &why);
        if (rc && rc != NRM_ENOTFOUND)
            return nrm_err_set(err, rc, "%s", why.msg);
        *retire = rc == 0;
    }
    return 0;
}

/* The first message signed with a rotation's new key retires the old one:
   from now on it is refused, and a KEY_RETIRED record holds the message. */
static int
s_retire(broker_t *self, MDB_txn *txn, const char *org, const nrm_wire_t *w, uint64_t now,
         nrm_err_t *err)
{
    nrm_record_t rec;
    uint64_t seq;
    uint8_t leaf[NRM_HASH_BYTES];
    int rc = nrm_registry_retire(self->store, txn, org, err);
    if (rc)
        return rc;
    memset(&rec, 0, sizeof rec);
    rec.time_ms = now;
    rec.kind = NRM_REC_KEY_RETIRED;
    snprintf(rec.actor, sizeof rec.actor, "%s", org);
    rec.subject = (uint8_t *) w->envelope.data;
    rec.subject_len = w->envelope.len;
    rec.has_signature = true;
    memcpy(rec.signature, w->signature.data, NRM_SIG_BYTES);
    rec.batch = w->batch;
    snprintf(rec.reason, sizeof rec.reason, "first message signed with the new key");
    if ((rc = nrm_auditlog_append(self->store, txn, &rec, &seq, leaf, err)))
        return rc;
    self->records++;
    nrm_info("'%s' signed with its new key: old key retired, record %llu", org, (unsigned long long) seq);
    return 0;
}

static int
s_submit(broker_t *self, MDB_txn *txn, item_t *it, submit_t *s, nrm_err_t *err)
{
    const nrm_wire_t *w = s->w;
    nrm_err_t why = { 0, 0, "" };
    nrm_cert_t sender, recipient;
    char text[NRM_REASON_MAX + 1];
    uint8_t env_hash[NRM_HASH_BYTES];
    int rc;

    if (nrm_envelope_decode(w->envelope.data, w->envelope.len, &s->env, &why) != 0)
        return s_reject(self, txn, it, s, why.reason, why.msg, false, err);
    s->has_env = true;
    if (strcmp(s->env.sender, it->org) != 0) {
        snprintf(text, sizeof text, "envelope sender '%s' is not the authenticated organisation '%s'",
                 s->env.sender, it->org);
        return s_reject(self, txn, it, s, NRM_R_SENDER_MISMATCH, text, false, err);
    }
    uint64_t now = s->now;
    rc = s_usable(self, txn, it->org, now, &sender, &why);
    if (rc == NRM_ENOTFOUND)
        return s_reject(self, txn, it, s, NRM_R_UNKNOWN_SENDER, why.msg, false, err);
    if (rc == NRM_EINVAL)
        return s_reject(self, txn, it, s, why.reason, why.msg, false, err);
    if (rc)
        return nrm_err_set(err, rc, "%s", why.msg);
    bool retire = false;
    rc = s_signer_check(self, txn, &sender, NRM_CTX_ENVELOPE, w->envelope, w->signature.data,
                        &w->batch, &retire, &why);
    if (rc == NRM_EINVAL)
        return s_reject(self, txn, it, s, why.reason, why.msg, false, err);
    if (rc)
        return nrm_err_set(err, rc, "%s", why.msg);
    uint8_t body_hash[NRM_HASH_BYTES];
    nrm_sha256(w->sealed_body.data, w->sealed_body.len, body_hash);
    if (memcmp(body_hash, s->env.body_hash, NRM_HASH_BYTES) != 0
        || w->sealed_body.len != s->env.body_size)
        return s_reject(self, txn, it, s, NRM_R_BODY_MISMATCH,
                        "sealed body does not match the envelope's body_hash or body_size", false, err);

    /* Authentic from here on. A message id already decided is answered
       with its first receipt if it is the same envelope (a retry after a
       lost receipt), refused as a duplicate otherwise. */
    nrm_sha256(w->envelope.data, w->envelope.len, env_hash);
    MDB_val v;
    rc = nrm_store_get(self->store, txn, "msgids", s->env.msg_id, NRM_MSGID_BYTES, &v, err);
    if (rc == 0) {
        msgrec_t m;
        if (s_msgrec_decode(&v, &m) != 0)
            return nrm_err_set(err, NRM_ECORRUPT, "damaged message record");
        if (strcmp(m.sender, it->org) == 0 && memcmp(m.env_hash, env_hash, NRM_HASH_BYTES) == 0) {
            nrm_debug("resubmission of a decided message from '%s': same receipt again", it->org);
            return s_stored_receipt(self, it, s->env.msg_id, &m, err);
        }
        return s_reject(self, txn, it, s, NRM_R_DUPLICATE,
                        "message id already used by another message", false, err);
    }
    if (rc != NRM_ENOTFOUND)
        return rc;
    rc = s_usable(self, txn, s->env.recipient, now, &recipient, &why);
    if (rc == NRM_ENOTFOUND) {
        snprintf(text, sizeof text, "recipient '%s' is not enrolled", s->env.recipient);
        return s_reject(self, txn, it, s, NRM_R_UNKNOWN_RECIPIENT, text, true, err);
    }
    /* A suspended recipient's messages are accepted and held until it is
       resumed; a revoked or expired one gets none. */
    if (rc == NRM_EINVAL && why.reason != NRM_R_SUSPENDED) {
        snprintf(text, sizeof text, "recipient: %.*s", (int) sizeof text - 12, why.msg);
        return s_reject(self, txn, it, s, why.reason, text, true, err);
    }
    if (rc && rc != NRM_EINVAL)
        return nrm_err_set(err, rc, "%s", why.msg);
    if (nrm_policy_allows(self->policy, sender.org_type, s->env.type, recipient.org_type, &why) != 0) {
        if (!self->policy)
            snprintf(why.msg, sizeof why.msg, "no routing policy is in force (nrm-admin policy)");
        return s_reject(self, txn, it, s, NRM_R_POLICY, why.msg, true, err);
    }
    /* After the checks that need no write, so that a retry of an accepted
       message still gets its receipt and a message that could never be
       accepted gets its own reason; before anything that changes state
       (lifecycle, key retirement), so that store-full changes nothing. */
    if (self->store_full) {
        snprintf(text, sizeof text, "the broker's store is full (%s): the message was not "
                 "accepted; send it again later", self->full_why);
        return s_reject(self, txn, it, s, NRM_R_STORE_FULL, text, false, err);
    }
    /* Referral lifecycle (issue 4): consent, deadline, case ownership and
       the transition an answer causes; refused like any other decision. */
    memset(&why, 0, sizeof why);
    rc = broker_refs_check(self->refs, self->policy, self->store, txn, &s->env, &why, err);
    if (rc == NRM_EINVAL)
        return s_reject(self, txn, it, s, why.reason, why.msg, true, err);
    if (rc)
        return rc;
    if (retire && (rc = s_retire(self, txn, it->org, w, now, err)))
        return rc;

    /* Accept: record, body, queue entry, message record; then receipt. */
    nrm_record_t rec;
    uint64_t seq;
    uint8_t leaf[NRM_HASH_BYTES], qkey[QUEUE_KEY_MAX];
    memset(&rec, 0, sizeof rec);
    rec.time_ms = now;          /* the time its checks were made at */
    rec.kind = NRM_REC_ACCEPTED;
    snprintf(rec.actor, sizeof rec.actor, "%s", it->org);
    rec.subject = (uint8_t *) w->envelope.data;
    rec.subject_len = w->envelope.len;
    rec.has_signature = true;
    memcpy(rec.signature, w->signature.data, NRM_SIG_BYTES);
    rec.batch = w->batch;
    rec.has_msg_id = true;
    memcpy(rec.msg_id, s->env.msg_id, NRM_MSGID_BYTES);
    if ((rc = nrm_auditlog_append(self->store, txn, &rec, &seq, leaf, err)))
        return rc;
    self->records++;
    if ((rc = nrm_store_put(self->store, txn, "bodies", s->env.msg_id, NRM_MSGID_BYTES,
                            w->sealed_body.data, w->sealed_body.len, 0, err)))
        return rc;
    size_t klen = s_queue_key(qkey, s->env.recipient, seq);
    if ((rc = nrm_store_put(self->store, txn, "queue", qkey, klen, s->env.msg_id,
                            NRM_MSGID_BYTES, 0, err)))
        return rc;
    if ((rc = s_expiry_put(self, txn, seq, now, s->env.msg_id, err)))
        return rc;
    if ((rc = broker_refs_accepted(self->refs, self->store, txn, &s->env, seq, err)))
        return rc;
    nrm_receipt_t r;
    memset(&r, 0, sizeof r);
    r.has_msg_id = true;
    memcpy(r.msg_id, s->env.msg_id, NRM_MSGID_BYTES);
    memcpy(r.frame_hash, s->frame_hash, NRM_HASH_BYTES);
    r.seq = seq;
    memcpy(r.record_hash, leaf, NRM_HASH_BYTES);
    r.time_ms = rec.time_ms;
    /* the receipt itself is written in when the batch is signed */
    msgrec_t m = { MSG_ACCEPTED, seq, 0, { 0 }, "", NULL, 0 };
    memcpy(m.env_hash, env_hash, NRM_HASH_BYTES);
    snprintf(m.sender, sizeof m.sender, "%s", it->org);
    rc = s_msgrec_put(self, txn, s->env.msg_id, &m, err);
    if (rc == 0)
        rc = s_receipt(self, it, &r, s->env.msg_id, err);
    snprintf(it->wake, sizeof it->wake, "%s", s->env.recipient);
    self->b_accepted++;
    nrm_debug("accepted %s %s -> %s, record %llu", s->env.type, it->org, s->env.recipient,
              (unsigned long long) seq);
    return rc;
}

/* Logs a refused acknowledgement (invariant 3: every decision is in the
   log). Acks get no receipt. */
static int
s_reject_ack(broker_t *self, MDB_txn *txn, item_t *it, const submit_t *s,
             const uint8_t *msg_id, uint32_t reason, const char *why, nrm_err_t *err)
{
    const nrm_wire_t *w = s->w;
    nrm_record_t rec;
    uint64_t seq;
    uint8_t leaf[NRM_HASH_BYTES];
    memset(&rec, 0, sizeof rec);
    rec.time_ms = nrm_now_ms();
    rec.kind = NRM_REC_REJECTED;
    snprintf(rec.actor, sizeof rec.actor, "%s", it->org);
    rec.reason_code = reason;
    snprintf(rec.reason, sizeof rec.reason, "acknowledgement: %s", why);
    if (msg_id) {
        rec.has_msg_id = true;
        memcpy(rec.msg_id, msg_id, NRM_MSGID_BYTES);
    }
    /* The exact Ack bytes and signature tried, as for a refused envelope. */
    rec.subject = (uint8_t *) w->signed_obj.body.data;
    rec.subject_len = w->signed_obj.body.len;
    rec.has_signature = true;
    memcpy(rec.signature, w->signed_obj.sig.data, NRM_SIG_BYTES);
    rec.batch = w->batch;
    rec.has_frame_hash = true;
    memcpy(rec.frame_hash, s->frame_hash, NRM_HASH_BYTES);
    rec.frame_size = s->frame_len;
    int rc = nrm_auditlog_append(self->store, txn, &rec, &seq, leaf, err);
    if (rc == 0)
        self->records++;
    nrm_warn("refused acknowledgement from '%s': %s (%s)", it->org, nrm_reason_name(reason), why);
    return rc;
}

static int
s_ack(broker_t *self, MDB_txn *txn, item_t *it, const submit_t *s, nrm_err_t *err)
{
    const nrm_wire_t *w = s->w;
    nrm_ack_t ack;
    nrm_err_t why = { 0, 0, "" };
    nrm_cert_t cert;
    nrm_envelope_t env;
    nrm_record_t acc;
    nrm_bytes_t bytes;
    msgrec_t m;
    MDB_val v;
    int rc;

    if (nrm_ack_decode(w->signed_obj.body.data, w->signed_obj.body.len, &ack, &why) != 0)
        return s_reject_ack(self, txn, it, s, NULL, why.reason, why.msg, err);
    if (strcmp(ack.recipient, it->org) != 0)
        return s_reject_ack(self, txn, it, s, ack.msg_id, NRM_R_SENDER_MISMATCH,
                            "signed for another organisation", err);
    /* The signature first: nothing an ack does, not even freeing a slot
       of the delivery window, happens on an unverified one. */
    rc = s_cert(self, txn, it->org, &cert, &why);
    if (rc == NRM_ENOTFOUND)
        return s_reject_ack(self, txn, it, s, ack.msg_id, NRM_R_UNKNOWN_SENDER, why.msg, err);
    bool retire = false;
    if (rc == 0)
        rc = s_signer_check(self, txn, &cert, NRM_CTX_ACK, w->signed_obj.body, w->signed_obj.sig.data,
                            &w->batch, &retire, &why);
    if (rc == NRM_EINVAL)
        return s_reject_ack(self, txn, it, s, ack.msg_id, why.reason, why.msg, err);
    if (rc)
        return nrm_err_set(err, rc, "%s", why.msg);
    if (strcmp(nrm_reason_name(ack.status), "unknown-reason") == 0)   /* lifecycle codes too */
        return s_reject_ack(self, txn, it, s, ack.msg_id, NRM_R_INVALID_FIELD,
                            "unknown refusal code", err);
    rc = nrm_store_get(self->store, txn, "msgids", ack.msg_id, NRM_MSGID_BYTES, &v, err);
    if (rc == NRM_ENOTFOUND)
        return s_reject_ack(self, txn, it, s, ack.msg_id, NRM_R_INVALID_FIELD, "unknown message id", err);
    if (rc)
        return rc;
    if (s_msgrec_decode(&v, &m) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "damaged message record");
    if (m.state == MSG_DELIVERED || m.state == MSG_REFUSED) {
        it->acked = true;           /* a repeated ack after redelivery: nothing new */
        return 0;
    }
    if (m.state == MSG_PURGED) {
        /* It was in flight when the retention ran out: the log keeps the
           recipient's signed acknowledgement as refused (docs/referrals.md). */
        char text[NRM_REASON_MAX + 1];
        snprintf(text, sizeof text, "the body was purged undelivered at record %llu, before this "
                 "acknowledgement", (unsigned long long) m.delivered_seq);
        it->acked = true;
        return s_reject_ack(self, txn, it, s, ack.msg_id, NRM_R_PURGED, text, err);
    }
    if (m.state != MSG_ACCEPTED)
        return s_reject_ack(self, txn, it, s, ack.msg_id, NRM_R_INVALID_FIELD,
                            "message was not accepted", err);
    if ((rc = nrm_auditlog_get(self->store, txn, m.accepted_seq, &bytes, err)))
        return rc;
    if (nrm_record_decode(bytes.data, bytes.len, &acc, &why) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "record %llu: %s", (unsigned long long) m.accepted_seq, why.msg);
    rc = nrm_envelope_decode(acc.subject, acc.subject_len, &env, &why);
    nrm_record_clear(&acc);
    if (rc)
        return nrm_err_set(err, NRM_ECORRUPT, "record %llu: %s", (unsigned long long) m.accepted_seq, why.msg);
    if (strcmp(env.recipient, it->org) != 0)
        return s_reject_ack(self, txn, it, s, ack.msg_id, NRM_R_SENDER_MISMATCH,
                            "message was not addressed to this organisation", err);
    if (ack.accepted_seq != m.accepted_seq || memcmp(ack.body_hash, env.body_hash, NRM_HASH_BYTES) != 0)
        return s_reject_ack(self, txn, it, s, ack.msg_id, NRM_R_INVALID_FIELD,
                            "sequence number or body hash does not match the message", err);

    nrm_record_t rec;
    uint64_t seq;
    uint8_t leaf[NRM_HASH_BYTES], qkey[QUEUE_KEY_MAX];
    memset(&rec, 0, sizeof rec);
    rec.time_ms = s->now;
    rec.kind = ack.status == 0 ? NRM_REC_DELIVERED : NRM_REC_DELIVERY_REFUSED;
    snprintf(rec.actor, sizeof rec.actor, "%s", it->org);
    rec.subject = (uint8_t *) w->signed_obj.body.data;
    rec.subject_len = w->signed_obj.body.len;
    rec.has_signature = true;
    memcpy(rec.signature, w->signed_obj.sig.data, NRM_SIG_BYTES);
    rec.batch = w->batch;
    rec.has_msg_id = true;
    memcpy(rec.msg_id, ack.msg_id, NRM_MSGID_BYTES);
    rec.refers_to = m.accepted_seq;
    if (ack.status) {
        rec.reason_code = ack.status;
        snprintf(rec.reason, sizeof rec.reason, "%s", ack.reason);
    }
    if ((rc = nrm_auditlog_append(self->store, txn, &rec, &seq, leaf, err)))
        return rc;
    self->records++;
    if (ack.status == 0 && (rc = broker_refs_delivered(self->refs, self->store, txn, ack.msg_id, err)))
        return rc;
    size_t klen = s_queue_key(qkey, it->org, m.accepted_seq);
    rc = nrm_store_del(self->store, txn, "queue", qkey, klen, err);
    if (rc && rc != NRM_ENOTFOUND)
        return rc;
    rc = nrm_store_del(self->store, txn, "bodies", ack.msg_id, NRM_MSGID_BYTES, err);
    if (rc && rc != NRM_ENOTFOUND)
        return rc;
    if ((rc = s_expiry_del(self, txn, m.accepted_seq, err)))
        return rc;
    /* The receipt bytes live in v (LMDB memory); copy before rewriting. */
    uint8_t receipt[1024];
    if (m.receipt_len > sizeof receipt)
        return nrm_err_set(err, NRM_ECORRUPT, "stored receipt too large");
    memcpy(receipt, m.receipt, m.receipt_len);
    m.receipt = receipt;
    m.state = ack.status == 0 ? MSG_DELIVERED : MSG_REFUSED;
    m.delivered_seq = seq;
    if ((rc = s_msgrec_put(self, txn, ack.msg_id, &m, err)))
        return rc;
    it->acked = true;
    it->notify = true;
    snprintf(it->notify_org, sizeof it->notify_org, "%s", m.sender);
    memcpy(it->status.msg_id, ack.msg_id, NRM_MSGID_BYTES);
    it->status.state = ack.status == 0 ? NRM_MSG_DELIVERED : NRM_MSG_REFUSED_BY_RECIPIENT;
    it->status.accepted_seq = m.accepted_seq;
    it->status.delivered_seq = seq;
    if (ack.status)
        self->b_refused++;
    else
        self->b_delivered++;
    nrm_debug("%s %s -> %s, record %llu (of %llu)", ack.status ? "delivery refused" : "delivered",
              m.sender, it->org, (unsigned long long) seq, (unsigned long long) m.accepted_seq);
    return 0;
}

typedef struct {
    nrm_signed_view_t *views;
    uint8_t **bodies;
    size_t n, cap;
    uint8_t (*sigs)[NRM_SIG_BYTES];
    nrm_cosig_t (*cosigs)[NRM_MAX_ADMINS];
} certs_ctx_t;

static int
s_collect_cert(void *ctx, const char *org_id, nrm_bytes_t signed_bytes)
{
    certs_ctx_t *c = ctx;
    size_t body_len = 0, ncosigs = 0;
    (void) org_id;
    if (c->n >= c->cap)
        return 1;
    if (nrm_signed_decode_cosigs(signed_bytes.data, signed_bytes.len, NRM_MAX_CERT_BYTES,
                                 &c->bodies[c->n], &body_len, c->sigs[c->n], c->cosigs[c->n],
                                 &ncosigs, NULL) != 0)
        return 0;           /* a damaged entry is skipped, not sent */
    c->views[c->n].body.data = c->bodies[c->n];
    c->views[c->n].body.len = body_len;
    c->views[c->n].sig.data = c->sigs[c->n];
    c->views[c->n].sig.len = NRM_SIG_BYTES;
    c->views[c->n].cosigs = c->cosigs[c->n];
    c->views[c->n].ncosigs = ncosigs;
    c->n++;
    return 0;
}

/* The Welcome with the whole directory (nrm_registry_directory) and its
   digest. */
static int
s_welcome(broker_t *self, MDB_txn *txn, item_t *it, nrm_err_t *err)
{
    size_t count = 0;
    uint8_t digest[NRM_HASH_BYTES];
    int rc = nrm_registry_directory(self->store, txn, NULL, NULL, NULL, &count, err);
    if (rc)
        return rc;
    certs_ctx_t c = { calloc(count + 1, sizeof *c.views), calloc(count + 1, sizeof *c.bodies),
                      0, count, calloc(count + 1, sizeof *c.sigs),
                      calloc(count + 1, sizeof *c.cosigs) };
    if (!c.views || !c.bodies || !c.sigs || !c.cosigs) {
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
        goto out;
    }
    rc = nrm_registry_directory(self->store, txn, s_collect_cert, &c, digest, NULL, err);
    if (rc == 0) {
        nrm_wire_t w = { .kind = NRM_WIRE_WELCOME, .time_ms = nrm_now_ms(), .count = c.n,
                         .certs = c.views, .directory = { digest, sizeof digest } };
        rc = s_wire_reply(it, &w, err);
    }
out:
    for (size_t i = 0; c.bodies && i < c.n; i++)
        free(c.bodies[i]);
    free(c.views);
    free(c.bodies);
    free(c.sigs);
    free(c.cosigs);
    return rc;
}

/* Wraps a malloc'd frame in a ZeroMQ message that owns it. */
static void
s_free_frame(void *data, void *hint)
{
    (void) hint;
    free(data);
}

static int
s_frame_msg(zmq_msg_t *msg, uint8_t *frame, size_t len, nrm_err_t *err)
{
    if (zmq_msg_init_data(msg, frame, len, s_free_frame, NULL) != 0) {
        free(frame);
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    }
    return 0;
}

/* Answers a Hello with the batch's Welcome, built at the first Hello of
   the batch that needs it. Every Hello of one batch is decided in the same
   transaction, so they would all get the same directory; they get the same
   time too. A Hello whose directory digest names the directory of this
   transaction gets the Welcome without certificates (unchanged). */
static int
s_welcome_shared(broker_t *self, MDB_txn *txn, item_t *it, nrm_bytes_t digest, nrm_err_t *err)
{
    int rc = 0;
    if (!self->dir_ok) {
        rc = nrm_registry_directory(self->store, txn, NULL, NULL, self->dir_digest, NULL, err);
        if (rc)
            return rc;
        self->dir_ok = true;
    }
    bool same = digest.len == NRM_HASH_BYTES
                && memcmp(digest.data, self->dir_digest, NRM_HASH_BYTES) == 0;
    item_t tmp;
    memset(&tmp, 0, sizeof tmp);
    if (same && !self->welcome_same_ok) {
        nrm_wire_t w = { .kind = NRM_WIRE_WELCOME, .time_ms = nrm_now_ms(), .unchanged = true,
                         .directory = { self->dir_digest, NRM_HASH_BYTES } };
        rc = s_wire_reply(&tmp, &w, err);
        if (rc == 0)
            rc = s_frame_msg(&self->welcome_same, tmp.reply, tmp.reply_len, err);
        self->welcome_same_ok = rc == 0;
    } else if (!same && !self->welcome_ok) {
        rc = s_welcome(self, txn, &tmp, err);
        if (rc == 0)
            rc = s_frame_msg(&self->welcome, tmp.reply, tmp.reply_len, err);
        else
            free(tmp.reply);
        self->welcome_ok = rc == 0;
    }
    if (rc)
        return rc;
    free(it->reply);
    it->reply = NULL;
    it->welcome = same ? WELCOME_SAME : WELCOME_FULL;
    return 0;
}

static void
s_welcome_drop(broker_t *self)
{
    if (self->welcome_ok)
        zmq_msg_close(&self->welcome);
    if (self->welcome_same_ok)
        zmq_msg_close(&self->welcome_same);
    self->welcome_ok = self->welcome_same_ok = self->dir_ok = false;
}

/* True if connection rid of org is still there: a Pong is sent to it (the
   agent ignores it). With ZMQ_ROUTER_MANDATORY a routing id whose
   connection has closed gives EHOSTUNREACH; a full pipe (EAGAIN) means a
   connection that is there but slow. A crashed agent's connection closes
   at once (its kernel resets it), a vanished host's after the heartbeat
   timeout (5 s). */
static bool
s_probe(broker_t *self, const uint8_t *rid, size_t rid_len)
{
    nrm_wire_t pong = { .kind = NRM_WIRE_PONG, .time_ms = nrm_now_ms() };
    uint8_t *frame = NULL;
    size_t len = 0;
    if (nrm_wire_encode(&pong, &frame, &len, NULL) != 0)
        return true;            /* cannot tell: keep the connection we have */
    int rc = s_send(self, rid, rid_len, frame, len);
    free(frame);
    return rc != EHOSTUNREACH;
}

/* Hello: the clock and the identity are checked before the Welcome.
   - Clock: the agent's time_ms must be within skew_max_ms of ours, or the
     times it signs (created_ms, ack time_ms) could not be trusted to order
     anything; refused with clock-skew, saying by how much.
   - Identity: one live connection per organisation receives deliveries.
     A Hello from another connection of an organisation that has a live
     one is refused with identity-in-use (a second agent started with the
     same keys); if the old connection is gone, the new one takes over (a
     restarted agent). */
static int
s_hello(broker_t *self, MDB_txn *txn, item_t *it, submit_t *s, nrm_err_t *err)
{
    const nrm_wire_t *w = s->w;
    char text[NRM_REASON_MAX + 1];
    if (w->version != NRM_PROTOCOL_VERSION || strcmp(w->org_id, it->org) != 0)
        nrm_warn("hello from '%s' names '%s', version %u", it->org, w->org_id, w->version);
    uint64_t now = nrm_now_ms();
    uint64_t skew = w->time_ms > now ? w->time_ms - now : now - w->time_ms;
    if (self->cfg.skew_max_ms && skew > self->cfg.skew_max_ms) {
        snprintf(text, sizeof text, "the agent's clock is %llu s %s the broker's (limit %llu s): "
                 "set the clock right (NTP) and connect again",
                 (unsigned long long) (skew / 1000), w->time_ms > now ? "ahead of" : "behind",
                 (unsigned long long) (self->cfg.skew_max_ms / 1000));
        return s_reject(self, txn, it, s, NRM_R_CLOCK_SKEW, text, false, err);
    }
    if (w->observer)
        return s_welcome_shared(self, txn, it, w->directory, err);   /* no deliveries */
    bool taken = false;
    /* An earlier Hello of the same batch from another connection... */
    for (item_t *o = self->items; o < it && !taken; o++)
        taken = o->hello && strcmp(o->org, it->org) == 0
                && (o->rid_len != it->rid_len || memcmp(o->rid, it->rid, it->rid_len) != 0);
    /* ...or the connection the broker delivers to now, if still there. */
    peer_t *p = s_peer(self, it->org, false);
    if (!taken && p && p->live && (p->rid_len != it->rid_len || memcmp(p->rid, it->rid, it->rid_len) != 0)) {
        taken = s_probe(self, p->rid, p->rid_len);
        if (!taken)
            nrm_info("'%s' connects again; its previous connection is gone", it->org);
    }
    if (taken) {
        snprintf(text, sizeof text, "organisation '%s' already has a live connection to the "
                 "broker: is another nrm-agent running with the same keys?", it->org);
        return s_reject(self, txn, it, s, NRM_R_IDENTITY_IN_USE, text, false, err);
    }
    it->hello = true;
    return s_welcome_shared(self, txn, it, w->directory, err);
}

static int
s_status(broker_t *self, MDB_txn *txn, item_t *it, const nrm_wire_t *w, nrm_err_t *err)
{
    nrm_msg_status_t items[NRM_MAX_STATUS_IDS];
    size_t n = 0;
    for (size_t i = 0; i < w->count && n < NRM_MAX_STATUS_IDS; i++) {
        MDB_val v;
        msgrec_t m;
        nrm_msg_status_t *st = &items[n];
        memset(st, 0, sizeof *st);
        memcpy(st->msg_id, w->ids[i].data, NRM_MSGID_BYTES);
        int rc = nrm_store_get(self->store, txn, "msgids", w->ids[i].data, NRM_MSGID_BYTES, &v, err);
        if (rc && rc != NRM_ENOTFOUND)
            return rc;
        /* Only the sender may learn the state of its messages. */
        if (rc == 0 && s_msgrec_decode(&v, &m) == 0 && strcmp(m.sender, it->org) == 0) {
            st->state = m.state == MSG_ACCEPTED ? NRM_MSG_ACCEPTED
                      : m.state == MSG_DELIVERED ? NRM_MSG_DELIVERED
                      : m.state == MSG_REFUSED ? NRM_MSG_REFUSED_BY_RECIPIENT
                      : m.state == MSG_PURGED ? NRM_MSG_PURGED : NRM_MSG_UNKNOWN;
            st->accepted_seq = m.accepted_seq;
            st->delivered_seq = m.delivered_seq;
            /* told now (and again if it asks again): the purge notice,
               which waits for its next Hello, has done its work */
            if (m.state == MSG_PURGED
                && (rc = broker_refs_notice_done(self->store, txn, it->org, m.delivered_seq, err)))
                return rc;
        }
        n++;
    }
    nrm_wire_t r = { .kind = NRM_WIRE_STATUS_REPLY, .count = n, .items = items };
    return s_wire_reply(it, &r, err);
}

/* Answers a CheckpointRequest: the latest checkpoint with a consistency
   proof from the size the agent trusts. Before the first checkpoint there
   is no answer; the agent is sent one when it is made. */
static int
s_checkpoint_reply(broker_t *self, MDB_txn *txn, item_t *it, uint64_t old_size, nrm_err_t *err)
{
    nrm_err_t why = { 0, 0, "" };
    it->ckpt_asked = true;
    it->ckpt_size = old_size;
    int rc = broker_checkpoint_frame(self->store, txn, old_size, &it->reply, &it->reply_len,
                                     &it->ckpt_size, &why);
    if (rc == NRM_ENOTFOUND || rc == NRM_EINVAL) {
        /* EINVAL: a size the log never had; the agent learns of the
           rollback from the next pushed checkpoint. */
        it->ckpt_size = old_size;
        return 0;
    }
    if (rc && err)
        *err = why;
    return rc;
}

/* Whether the CURVE key of a connection is still one the registry accepts
   for its organisation (curvekeys: the certificate in force, and during a
   rotation the old one until it is retired). A connection outlives its ZAP
   check: a ROUTER cannot close it, so this is asked on every frame and
   before every delivery. 0, NRM_EINVAL with reason key-retired, or a store
   error. */
static int
s_conn_key_ok(broker_t *self, MDB_txn *txn, const char *org, bool has_curve,
              const uint8_t curve_pk[NRM_PK_BYTES], nrm_err_t *err)
{
    char owner[NRM_ID_MAX + 1];
    if (!has_curve)
        return nrm_err_refuse(err, NRM_R_KEY_RETIRED, "the connection of '%s' carries no CURVE key "
                              "from its authentication; reconnect", org);
    nrm_err_t why = { 0, 0, "" };
    int rc = nrm_registry_find_curve(self->store, txn, curve_pk, owner, &why);
    if (rc == NRM_ENOTFOUND || (rc == 0 && strcmp(owner, org) != 0)) {
        char fp[17];
        nrm_fingerprint(curve_pk, fp);
        return nrm_err_refuse(err, NRM_R_KEY_RETIRED, "this connection of '%s' was opened with CURVE "
                              "key %s, which a rotation has retired; reconnect with the new key",
                              org, fp);
    }
    if (rc)
        return nrm_err_set(err, rc, "%s", why.msg);
    return 0;
}

/* Decides one frame inside the batch's write transaction. Returns < 0 only
   for store failures, which abort (and retry) the whole batch. */
static int
s_process(broker_t *self, MDB_txn *txn, item_t *it, nrm_err_t *err)
{
    submit_t s;
    nrm_wire_t *w = NULL;
    nrm_err_t why = { 0, 0, "" };
    int rc = 0;
    memset(&s, 0, sizeof s);
    s.now = nrm_now_ms();
    s.frame = zmq_msg_data(&it->msg);
    s.frame_len = zmq_msg_size(&it->msg);
    nrm_sha256(s.frame, s.frame_len, s.frame_hash);
    if (it->parts != 1)
        return s_reject(self, txn, it, &s, NRM_R_MALFORMED,
                        "a message must be exactly one frame", false, err);
    if (nrm_wire_decode(s.frame, s.frame_len, true, &w, &why) != 0) {
        /* An envelope that is only too big is still worth naming. */
        return s_reject(self, txn, it, &s, why.reason ? why.reason : NRM_R_MALFORMED, why.msg,
                        false, err);
    }
    s.w = w;
    rc = s_conn_key_ok(self, txn, it->org, it->has_curve, it->curve_pk, &why);
    if (rc == NRM_EINVAL) {
        rc = w->kind == NRM_WIRE_ACK ? s_reject_ack(self, txn, it, &s, NULL, why.reason, why.msg, err)
                                     : s_reject(self, txn, it, &s, why.reason, why.msg, false, err);
        nrm_wire_destroy(&w);
        return rc;
    }
    if (rc) {
        nrm_wire_destroy(&w);
        return nrm_err_set(err, rc, "%s", why.msg);
    }
    if (w->kind != NRM_WIRE_SUBMIT) {
        /* A revoked, suspended or expired organisation is told so on every
           frame (its connection may predate the change: a ROUTER cannot
           close it). Submissions say it in their own checks. */
        rc = s_usable(self, txn, it->org, s.now, NULL, &why);
        if (rc == NRM_EINVAL || rc == NRM_ENOTFOUND) {
            uint32_t reason = rc == NRM_EINVAL ? why.reason : NRM_R_UNKNOWN_SENDER;
            rc = w->kind == NRM_WIRE_ACK
                     ? s_reject_ack(self, txn, it, &s, NULL, reason, why.msg, err)
                     : s_reject(self, txn, it, &s, reason, why.msg, false, err);
            nrm_wire_destroy(&w);
            return rc;
        }
        if (rc) {
            nrm_wire_destroy(&w);
            return nrm_err_set(err, rc, "%s", why.msg);
        }
    }
    switch (w->kind) {
    case NRM_WIRE_SUBMIT:
        rc = s_submit(self, txn, it, &s, err);
        break;
    case NRM_WIRE_ACK:
        rc = s_ack(self, txn, it, &s, err);
        break;
    case NRM_WIRE_HELLO:
        rc = s_hello(self, txn, it, &s, err);
        break;
    case NRM_WIRE_STATUS:
        rc = s_status(self, txn, it, w, err);
        break;
    case NRM_WIRE_PING: {
        nrm_wire_t pong = { .kind = NRM_WIRE_PONG, .time_ms = nrm_now_ms() };
        rc = s_wire_reply(it, &pong, err);
        break;
    }
    case NRM_WIRE_CHECKPOINT_REQUEST:
        rc = s_checkpoint_reply(self, txn, it, w->old_size, err);
        break;
    default:
        rc = s_reject(self, txn, it, &s, NRM_R_MALFORMED, "unexpected message kind", false, err);
    }
    nrm_wire_destroy(&w);
    return rc;
}

/* Keeps the parsed policy equal to the one in the store, which an
   administrator may have changed (admin endpoint, or nrm-admin on the
   folder). One read per batch; parsing only when it changed. */
static int
s_policy_refresh(broker_t *self, MDB_txn *txn, nrm_err_t *err)
{
    uint64_t version, seq;
    nrm_bytes_t text;
    int rc = nrm_regadmin_policy(self->store, txn, &version, &seq, &text, err);
    if (rc || seq == self->policy_seq)
        return rc;
    nrm_policy_t *p = NULL;
    nrm_err_t perr = { 0, 0, "" };
    if (nrm_policy_parse((const char *) text.data, text.len, "policy", &p, &perr) != 0)
        nrm_error("the policy of record %llu does not parse (everything is refused): %s",
                  (unsigned long long) seq, perr.msg);
    else
        nrm_info("routing policy version %llu in force (record %llu)", (unsigned long long) version,
                 (unsigned long long) seq);
    nrm_policy_free(&self->policy);
    self->policy = p;
    self->policy_seq = seq;
    return 0;
}

static int
s_batch_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    broker_t *self = ctx;
    (void) store;
    int prc = s_policy_refresh(self, txn, err);
    if (prc)
        return prc;
    for (size_t i = 0; i < self->nitems; i++) {
        item_t *it = &self->items[i];
        free(it->reply);
        it->reply = NULL;
        it->notify = it->hello = it->acked = it->ckpt_asked = false;
        it->welcome = WELCOME_NONE;
        it->wake[0] = '\0';
    }
    s_welcome_drop(self);   /* a retry after map growth builds it again */
    self->records = 0;      /* recounted on a retry after map growth */
    self->b_accepted = self->b_delivered = self->b_refused = 0;
    s_receipts_reset(self);
    for (size_t i = 0; i < self->nitems; i++) {
        int rc = s_process(self, txn, &self->items[i], err);
        if (rc)
            return rc;
    }
    int rc = s_receipts_sign(self, txn, err);
    if (rc)
        return rc;
    return broker_checkpoint_maybe(store, txn, self->keys, &self->cfg, self->ckpt_last_ms,
                                   nrm_now_ms(), &self->ckpt_made, err);
}

/* A checkpoint on the timer alone, when records wait and no frame comes. */
static int
s_checkpoint_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    broker_t *self = ctx;
    return broker_checkpoint_maybe(store, txn, self->keys, &self->cfg, self->ckpt_last_ms,
                                   nrm_now_ms(), &self->ckpt_made, err);
}

static void s_checkpoint_push(broker_t *self);

static void
s_checkpoint_timer(broker_t *self)
{
    nrm_err_t err = { 0, 0, "" };
    MDB_txn *txn = NULL;
    bool due = false;
    int rc = nrm_store_read_begin(self->store, &txn, &err);
    if (rc == 0)
        rc = broker_checkpoint_due(self->store, txn, &self->cfg, self->ckpt_last_ms, nrm_now_ms(),
                                   &due, &err);
    nrm_store_read_end(&txn);
    if (rc)
        nrm_error("checkpoint: %s", err.msg);
    if (!due)
        return;
    if (nrm_store_write(self->store, s_checkpoint_fn, self, &err) != 0)
        nrm_error("checkpoint not committed: %s", err.msg);
    else if (self->ckpt_made)
        s_checkpoint_push(self);
}

/* After a commit that made a checkpoint: send it, with a consistency proof
   from what each agent holds, to every connected agent that asked once. */
static int s_send(broker_t *self, const uint8_t *rid, size_t rid_len, const uint8_t *data,
                  size_t len);

static void
s_checkpoint_push(broker_t *self)
{
    MDB_txn *txn = NULL;
    nrm_err_t err = { 0, 0, "" };
    self->ckpt_made = false;
    self->ckpt_last_ms = nrm_now_ms();
    if (nrm_store_read_begin(self->store, &txn, &err) != 0) {
        nrm_error("checkpoint: %s", err.msg);
        return;
    }
    /* Peers that hold the same tree size get the same frame: it is built
       (consistency proof included) once per size and shared, not once per
       peer; after the first push nearly every agent holds the last size. */
    zmq_msg_t frame;
    bool have = false;
    uint64_t have_old = 0, size = 0;
    for (size_t i = 0; i < self->npeers; i++) {
        peer_t *p = &self->peers[i];
        if (!p->live || !p->ckpt_asked)
            continue;
        if (!have || have_old != p->ckpt_size) {
            uint8_t *bytes = NULL;
            size_t flen = 0;
            if (have)
                zmq_msg_close(&frame);
            have = false;
            if (broker_checkpoint_frame(self->store, txn, p->ckpt_size, &bytes, &flen, &size, &err) != 0
                || s_frame_msg(&frame, bytes, flen, &err) != 0) {
                nrm_error("checkpoint for '%s': %s", p->org, err.msg);
                continue;
            }
            have = true;
            have_old = p->ckpt_size;
        }
        if (s_send_shared(self, p->rid, p->rid_len, &frame) == 0)
            p->ckpt_size = size;
    }
    if (have)
        zmq_msg_close(&frame);
    nrm_store_read_end(&txn);
}

/* ---- peers and delivery ---- */

static peer_t *
s_peer(broker_t *self, const char *org, bool create)
{
    for (size_t i = 0; i < self->npeers; i++)
        if (strcmp(self->peers[i].org, org) == 0)
            return &self->peers[i];
    if (!create || self->npeers >= BROKER_MAX_PEERS)
        return NULL;
    peer_t *p = &self->peers[self->npeers++];
    memset(p, 0, sizeof *p);
    snprintf(p->org, sizeof p->org, "%s", org);
    return p;
}

/* Sends one frame to a routing id without blocking. Returns 0, or EAGAIN
   (peer's pipe is full: try later), or EHOSTUNREACH (peer gone). */
static int
s_send_on(void *sock, const uint8_t *rid, size_t rid_len, const uint8_t *data, size_t len)
{
    if (zmq_send(sock, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno;
    if (zmq_send(sock, data, len, ZMQ_DONTWAIT) < 0)
        return errno;   /* libzmq accepts the last part if it took the first */
    return 0;
}

static int
s_send(broker_t *self, const uint8_t *rid, size_t rid_len, const uint8_t *data, size_t len)
{
    return s_send_on(self->router, rid, rid_len, data, len);
}

/* Sends a message shared between many peers: a reference, not a copy. */
static int
s_send_shared(broker_t *self, const uint8_t *rid, size_t rid_len, zmq_msg_t *shared)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_copy(&m, shared) != 0 || zmq_send(self->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(&m);
        return e;
    }
    if (zmq_msg_send(&m, self->router, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(&m);
        return e;
    }
    return 0;
}

/* The certificate that goes with a delivery: the sender's certificate
   whose key signed the message, which after a rotation may be the old
   one or a retired one (kept for this), so that a message queued across
   a rotation still verifies at its recipient. */
static int
s_sender_cert(broker_t *self, MDB_txn *txn, const nrm_envelope_t *env, const nrm_record_t *rec,
              nrm_bytes_t *cert, nrm_err_t *err)
{
    int which;
    int rc = nrm_registry_signer(self->store, txn, env->sender, NRM_CTX_ENVELOPE, rec->subject,
                                 rec->subject_len, rec->signature, &rec->batch, &which, NULL, cert,
                                 err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, NRM_ECORRUPT, "no certificate of '%s' verifies the message of record "
                           "%llu", env->sender, (unsigned long long) rec->seq);
    return rc;
}

/* Builds the Deliver frame of queue entry (seq, msg_id) into *out. */
static int
s_build_deliver(broker_t *self, MDB_txn *txn, uint64_t seq, const uint8_t *msg_id,
                uint8_t **out, size_t *len, nrm_err_t *err)
{
    nrm_bytes_t bytes, cert;
    nrm_record_t rec;
    nrm_envelope_t env;
    MDB_val body;
    uint8_t *cert_body = NULL, cert_sig[NRM_SIG_BYTES];
    nrm_cosig_t cosigs[NRM_MAX_ADMINS];
    size_t cert_len = 0, ncosigs = 0;
    int rc = nrm_auditlog_get(self->store, txn, seq, &bytes, err);
    if (rc)
        return rc;
    if ((rc = nrm_record_decode(bytes.data, bytes.len, &rec, err)))
        return rc;
    if (rec.kind != NRM_REC_ACCEPTED || !rec.has_signature
        || nrm_envelope_decode(rec.subject, rec.subject_len, &env, err) != 0) {
        rc = nrm_err_set(err, NRM_ECORRUPT, "queued record %llu is not an accepted message",
                         (unsigned long long) seq);
        goto out;
    }
    if ((rc = nrm_store_get(self->store, txn, "bodies", msg_id, NRM_MSGID_BYTES, &body, err))) {
        rc = nrm_err_set(err, NRM_ECORRUPT, "body of queued record %llu is missing",
                         (unsigned long long) seq);
        goto out;
    }
    if ((rc = s_sender_cert(self, txn, &env, &rec, &cert, err)))
        goto out;
    if ((rc = nrm_signed_decode_cosigs(cert.data, cert.len, NRM_MAX_CERT_BYTES, &cert_body, &cert_len,
                                       cert_sig, cosigs, &ncosigs, err)))
        goto out;
    nrm_wire_t w = { .kind = NRM_WIRE_DELIVER, .seq = seq };
    w.envelope.data = rec.subject;
    w.envelope.len = rec.subject_len;
    w.signature.data = rec.signature;
    w.signature.len = NRM_SIG_BYTES;
    w.batch = rec.batch;
    w.sealed_body.data = body.mv_data;
    w.sealed_body.len = body.mv_size;
    w.signed_obj.body.data = cert_body;
    w.signed_obj.body.len = cert_len;
    w.signed_obj.sig.data = cert_sig;
    w.signed_obj.sig.len = NRM_SIG_BYTES;
    w.signed_obj.cosigs = cosigs;
    w.signed_obj.ncosigs = ncosigs;
    rc = nrm_wire_encode(&w, out, len, err);
out:
    free(cert_body);
    nrm_record_clear(&rec);
    return rc;
}

/* Sends queued messages to a connected recipient, in order, up to the
   window of unacknowledged deliveries. */
static void
s_pump(broker_t *self, peer_t *p)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    nrm_err_t err = { 0, 0, "" };
    uint8_t key[QUEUE_KEY_MAX];
    size_t olen = strlen(p->org);
    p->want_pump = false;
    if (!p->live || p->inflight >= self->cfg.window)
        return;
    if (nrm_store_read_begin(self->store, &txn, &err) != 0) {
        nrm_error("delivery to '%s': %s", p->org, err.msg);
        return;
    }
    /* Held: nothing goes to a revoked, suspended or expired organisation;
       its queue stays as it is until it is resumed. */
    if (s_usable(self, txn, p->org, nrm_now_ms(), NULL, &err) != 0) {
        if (!p->held)
            nrm_info("deliveries to '%s' held: %s", p->org, err.msg);
        p->held = true;
        goto out;
    }
    p->held = false;
    /* The connection that said Hello must still hold an accepted key: after
       a rotation retires it, nothing more goes to it until the
       organisation connects with its new key and says Hello again. */
    if (s_conn_key_ok(self, txn, p->org, true, p->curve_pk, &err) != 0) {
        nrm_info("deliveries to '%s' stopped: %s", p->org, err.msg);
        p->live = false;
        goto out;
    }
    if (mdb_cursor_open(txn, nrm_store_dbi(self->store, "queue"), &cur) != 0)
        goto out;
    MDB_val k = { s_queue_key(key, p->org, p->sent_upto + 1), key }, v;
    int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; mrc == 0 && p->inflight < self->cfg.window; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != olen + 9 || memcmp(k.mv_data, p->org, olen) != 0
            || ((uint8_t *) k.mv_data)[olen] != 0)
            break;
        if (v.mv_size != NRM_MSGID_BYTES)
            continue;
        uint64_t seq = nrm_be64_get((uint8_t *) k.mv_data + olen + 1);
        uint8_t *frame = NULL;
        size_t flen = 0;
        if (s_build_deliver(self, txn, seq, v.mv_data, &frame, &flen, &err) != 0) {
            nrm_error("delivery of record %llu to '%s': %s", (unsigned long long) seq, p->org, err.msg);
            p->sent_upto = seq;     /* skip it; it stays queued and is reported */
            continue;
        }
        int src = s_send(self, p->rid, p->rid_len, frame, flen);
        free(frame);
        if (src == EAGAIN) {
            /* The recipient does not read (slow or stuck): its pipe is full.
               Try it again a little later; nobody else waits for it. */
            p->want_pump = true;
            p->pump_after_ms = nrm_now_ms() + BROKER_PUMP_RETRY_MS;
            break;
        }
        if (src != 0) {
            nrm_info("'%s' is not connected (%s); deliveries wait", p->org, zmq_strerror(src));
            p->live = false;
            break;
        }
        if (p->inflight == 0)
            p->last_progress_ms = nrm_now_ms();
        p->sent_upto = seq;
        p->inflight++;
        nrm_debug("delivering record %llu to '%s'", (unsigned long long) seq, p->org);
    }
out:
    if (cur)
        mdb_cursor_close(cur);
    nrm_store_read_end(&txn);
}

/* ---- the loop ---- */

static void
s_items_release(broker_t *self)
{
    for (size_t i = 0; i < self->nitems; i++) {
        zmq_msg_close(&self->items[i].msg);
        free(self->items[i].reply);
        self->items[i].reply = NULL;
    }
    self->nitems = 0;
    s_welcome_drop(self);
}

/* Reads one whole message from the ROUTER into a batch item: the routing
   id, then the payload frames (only the first is kept; more than one is
   refused later). Returns 1 if one was read, 0 if none was waiting. */
static int
s_read_one(void *sock, item_t *it)
{
    zmq_msg_t part;
    zmq_msg_init(&part);
    if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&part);
        return 0;
    }
    it->rid_len = zmq_msg_size(&part) < BROKER_RID_MAX ? zmq_msg_size(&part) : BROKER_RID_MAX;
    memcpy(it->rid, zmq_msg_data(&part), it->rid_len);
    it->parts = 0;
    it->org[0] = '\0';
    it->has_curve = false;
    it->reply = NULL;
    it->admin = false;
    zmq_msg_init(&it->msg);
    int more = zmq_msg_more(&part);
    while (more) {
        zmq_msg_close(&part);
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, 0) < 0)
            break;
        more = zmq_msg_more(&part);
        if (it->parts++ == 0) {
            const char *user = zmq_msg_gets(&part, "User-Id");
            const char *key = zmq_msg_gets(&part, BROKER_CURVE_PROP);
            snprintf(it->org, sizeof it->org, "%s", user ? user : "");
            it->has_curve = key && strlen(key) == 2 * NRM_PK_BYTES
                            && nrm_hex_decode(key, it->curve_pk, NRM_PK_BYTES) == 0;
            zmq_msg_move(&it->msg, &part);
        }
    }
    zmq_msg_close(&part);
    return 1;
}

/* Sends the lifecycle notices waiting in broker_referrals' outbox to the
   organisations connected now; the others get them at their next Hello. */
static void
s_send_notices(broker_t *self)
{
    const broker_notice_out_t *out = NULL;
    size_t n = broker_refs_outbox(self->refs, &out);
    for (size_t i = 0; i < n; i++) {
        peer_t *p = s_peer(self, out[i].org, false);
        if (p && p->live)
            (void) s_send(self, p->rid, p->rid_len, out[i].frame, out[i].len);
    }
    broker_refs_outbox_clear(self->refs);
}

static void
s_after_commit(broker_t *self)
{
    for (size_t i = 0; i < self->nitems; i++) {
        item_t *it = &self->items[i];
        peer_t *p = it->org[0] ? s_peer(self, it->org, it->hello) : NULL;
        if (it->hello && p) {
            /* (Re)connection: deliver everything unacknowledged again. */
            memcpy(p->rid, it->rid, it->rid_len);
            p->rid_len = it->rid_len;
            memcpy(p->curve_pk, it->curve_pk, NRM_PK_BYTES);
            p->live = true;
            p->sent_upto = 0;
            p->inflight = 0;
            p->want_pump = true;
        }
        if (it->ckpt_asked && p) {
            p->ckpt_asked = true;
            p->ckpt_size = it->ckpt_size;
        }
        if (it->reply)
            (void) s_send(self, it->rid, it->rid_len, it->reply, it->reply_len);
        else if (it->welcome == WELCOME_FULL && self->welcome_ok)
            (void) s_send_shared(self, it->rid, it->rid_len, &self->welcome);
        else if (it->welcome == WELCOME_SAME && self->welcome_same_ok)
            (void) s_send_shared(self, it->rid, it->rid_len, &self->welcome_same);
        if (it->acked && p) {
            if (p->inflight)
                p->inflight--;
            p->last_progress_ms = nrm_now_ms();
            p->want_pump = true;
        }
        if (it->notify) {
            peer_t *sender = s_peer(self, it->notify_org, false);
            if (sender && sender->live) {
                nrm_wire_t w = { .kind = NRM_WIRE_STATUS_REPLY, .count = 1, .items = &it->status };
                uint8_t *frame = NULL;
                size_t flen = 0;
                if (nrm_wire_encode(&w, &frame, &flen, NULL) == 0)
                    (void) s_send(self, sender->rid, sender->rid_len, frame, flen);
                free(frame);
            }
        }
        if (it->wake[0]) {
            peer_t *r = s_peer(self, it->wake, false);
            if (r)
                r->want_pump = true;
        }
        if (it->hello && p) {
            /* after the Welcome: lifecycle notices still waiting for it */
            nrm_err_t nerr = { 0, 0, "" };
            if (broker_refs_hello(self->refs, self->store, it->org, &nerr) != 0)
                nrm_error("notices for '%s': %s", it->org, nerr.msg);
            s_send_notices(self);
        }
    }
}

/* ---- retention of undelivered bodies ---- */

/* Purges the body of the message accepted at record `seq`, if nobody has
   acknowledged it: PURGED record, body, queue entry and index entry gone,
   the message record says purged, the referral closes, the sender gets a
   notice. Inside the purge txn. */
static int
s_purge_one(broker_t *self, MDB_txn *txn, uint64_t seq, const uint8_t msg_id[NRM_MSGID_BYTES],
            uint64_t now, nrm_err_t *err)
{
    MDB_val v;
    msgrec_t m;
    nrm_bytes_t bytes;
    nrm_record_t acc, rec;
    nrm_envelope_t env;
    nrm_err_t why = { 0, 0, "" };
    uint8_t leaf[NRM_HASH_BYTES], qkey[QUEUE_KEY_MAX], receipt[1024];
    uint64_t pseq;
    int rc = s_expiry_del(self, txn, seq, err);
    if (rc)
        return rc;
    rc = nrm_store_get(self->store, txn, "msgids", msg_id, NRM_MSGID_BYTES, &v, err);
    if (rc == NRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (s_msgrec_decode(&v, &m) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "damaged message record");
    if (m.state != MSG_ACCEPTED || m.accepted_seq != seq)
        return 0;                   /* settled already: a stale index entry */
    if ((rc = nrm_auditlog_get(self->store, txn, seq, &bytes, err)))
        return rc;
    if (nrm_record_decode(bytes.data, bytes.len, &acc, &why) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "record %llu: %s", (unsigned long long) seq, why.msg);
    rc = nrm_envelope_decode(acc.subject, acc.subject_len, &env, &why);
    nrm_record_clear(&acc);
    if (rc)
        return nrm_err_set(err, NRM_ECORRUPT, "record %llu: %s", (unsigned long long) seq, why.msg);

    memset(&rec, 0, sizeof rec);
    rec.time_ms = now;
    rec.kind = NRM_REC_PURGED;
    snprintf(rec.actor, sizeof rec.actor, "broker");
    rec.has_msg_id = true;
    memcpy(rec.msg_id, msg_id, NRM_MSGID_BYTES);
    rec.refers_to = seq;
    rec.reason_code = NRM_R_PURGED;
    char text[640];
    snprintf(text, sizeof text, "%s of case %s (%s -> %s) not acknowledged within the body "
             "retention of %s; body dropped, %s told", env.type, env.case_ref, env.sender,
             env.recipient, self->cfg.body_retention, env.sender);
    memcpy(rec.reason, text, NRM_REASON_MAX);      /* ids are ASCII: a cut is clean */
    rec.reason[NRM_REASON_MAX] = '\0';
    if ((rc = nrm_auditlog_append(self->store, txn, &rec, &pseq, leaf, err)))
        return rc;
    rc = nrm_store_del(self->store, txn, "bodies", msg_id, NRM_MSGID_BYTES, err);
    if (rc == 0 || rc == NRM_ENOTFOUND)
        rc = nrm_store_del(self->store, txn, "queue", qkey, s_queue_key(qkey, env.recipient, seq), err);
    if (rc && rc != NRM_ENOTFOUND)
        return rc;
    if (m.receipt_len > sizeof receipt)
        return nrm_err_set(err, NRM_ECORRUPT, "stored receipt too large");
    memcpy(receipt, m.receipt, m.receipt_len);      /* v is rewritten below */
    m.receipt = receipt;
    m.state = MSG_PURGED;
    m.delivered_seq = pseq;
    if ((rc = s_msgrec_put(self, txn, msg_id, &m, err))
        || (rc = broker_refs_purged(self->refs, self->store, txn, &env, seq, pseq, leaf, now, err)))
        return rc;
    if (self->npurged < BROKER_PURGE_TICK_MAX) {
        nrm_msg_status_t *st = &self->purged[self->npurged];
        memcpy(st->msg_id, msg_id, NRM_MSGID_BYTES);
        st->state = NRM_MSG_PURGED;
        st->accepted_seq = seq;
        st->delivered_seq = pseq;
        snprintf(self->purged_to[self->npurged++], NRM_ID_MAX + 1, "%s", env.sender);
    }
    nrm_warn("purged undelivered, record %llu: %s", (unsigned long long) pseq, rec.reason);
    return 0;
}

/* Reads the oldest entries of the retention index, stopping at the first
   that is not due (acceptance order is log order), and purges those due:
   at most BROKER_PURGE_TICK_MAX, in ONE write transaction. */
static int
s_purge_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    broker_t *self = ctx;
    uint64_t now = nrm_now_ms(), seqs[BROKER_PURGE_TICK_MAX];
    uint8_t ids[BROKER_PURGE_TICK_MAX][NRM_MSGID_BYTES];
    size_t n = 0;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    broker_refs_outbox_clear(self->refs);      /* this run may be a retry */
    self->npurged = 0;
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "expiry"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "expiry", err);
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && n < BROKER_PURGE_TICK_MAX;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || v.mv_size != 8 + NRM_MSGID_BYTES)
            continue;
        if (nrm_be64_get(v.mv_data) + self->cfg.body_retention_ms > now)
            break;
        seqs[n] = nrm_be64_get(k.mv_data);
        memcpy(ids[n++], (uint8_t *) v.mv_data + 8, NRM_MSGID_BYTES);
    }
    mdb_cursor_close(cur);
    if (mrc && mrc != MDB_NOTFOUND)
        return nrm_store_lmdb_error(mrc, "expiry", err);
    for (size_t i = 0; i < n; i++) {
        int rc = s_purge_one(self, txn, seqs[i], ids[i], now, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Timer: a read of the index's first entry; a write only when a body is
   due. Then the sender of each purged message is told at once if
   connected (notice and status), else at its next Hello and status query. */
static void
s_purge_tick(broker_t *self, uint64_t now)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    nrm_err_t err = { 0, 0, "" };
    bool due = false;
    if (self->cfg.body_retention_ms == 0 || nrm_store_read_begin(self->store, &txn, &err) != 0)
        return;
    if (mdb_cursor_open(txn, nrm_store_dbi(self->store, "expiry"), &cur) == 0) {
        due = mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && v.mv_size == 8 + NRM_MSGID_BYTES
              && nrm_be64_get(v.mv_data) + self->cfg.body_retention_ms <= now;
        mdb_cursor_close(cur);
    }
    nrm_store_read_end(&txn);
    if (!due)
        return;
    if (nrm_store_write(self->store, s_purge_fn, self, &err) != 0) {
        nrm_error("purge of undelivered bodies: %s", err.msg);
        broker_refs_outbox_clear(self->refs);   /* nothing committed: nothing to tell */
        return;
    }
    s_send_notices(self);
    for (size_t i = 0; i < self->npurged; i++) {
        peer_t *p = s_peer(self, self->purged_to[i], false);
        if (!p || !p->live)
            continue;
        nrm_wire_t w = { .kind = NRM_WIRE_STATUS_REPLY, .count = 1, .items = &self->purged[i] };
        uint8_t *frame = NULL;
        size_t flen = 0;
        if (nrm_wire_encode(&w, &frame, &flen, NULL) == 0)
            (void) s_send(self, p->rid, p->rid_len, frame, flen);
        free(frame);
    }
    self->npurged = 0;
}

static void
s_timers(broker_t *self)
{
    uint64_t now = nrm_now_ms();
    nrm_err_t err = { 0, 0, "" };
    /* response deadlines (issue 4): ESCALATED records and notices */
    if (broker_refs_tick(self->refs, self->policy, self->store, now, &err) != 0)
        nrm_error("escalation of overdue referrals: %s", err.msg);
    s_send_notices(self);
    /* bodies nobody acknowledged within the retention */
    s_purge_tick(self, now);
    for (size_t i = 0; i < self->npeers; i++) {
        peer_t *p = &self->peers[i];
        if (p->live && p->held)
            p->want_pump = true;        /* resumed? s_pump looks again */
        if (p->live && p->inflight && now - p->last_progress_ms > BROKER_RESEND_MS) {
            nrm_info("no acknowledgement from '%s' for %d s: sending its queue again",
                     p->org, BROKER_RESEND_MS / 1000);
            p->sent_upto = 0;
            p->inflight = 0;
            p->want_pump = true;
        }
    }
}

/* Free bytes on the store's file system (UINT64_MAX if it cannot tell). */
static uint64_t
s_disk_avail(broker_t *self)
{
    char path[2300];
    struct statvfs st;
    if (nrm_path(path, sizeof path, "%s/data", self->cfg.dir) != 0 || statvfs(path, &st) != 0)
        return UINT64_MAX;
    return (uint64_t) st.f_bavail * st.f_frsize;
}

static uint64_t
s_batch_bytes(const broker_t *self)
{
    uint64_t n = 0;
    for (size_t i = 0; i < self->nitems; i++)
        n += zmq_msg_size((zmq_msg_t *) &self->items[i].msg);
    return n;
}

/* Sets store_full for the next batch: the free disk space of the store's
   file system under the reserve, or a write that failed for lack of space
   less than BROKER_FULL_RETRY_MS ago. Logs each change. */
static void
s_store_check(broker_t *self)
{
    bool full = false;
    char why[200] = "";
    uint64_t now = nrm_now_ms();
    if (now < self->full_until_ms) {
        full = true;
        snprintf(why, sizeof why, "%s", self->full_why);
    } else if (self->cfg.reserve_bytes) {
        uint64_t avail = s_disk_avail(self);
        if (avail < self->cfg.reserve_bytes) {
            full = true;
            snprintf(why, sizeof why, "%llu MiB of disk left, under the reserve of %llu MiB",
                     (unsigned long long) (avail >> 20),
                     (unsigned long long) (self->cfg.reserve_bytes >> 20));
        }
    }
    if (full && !self->store_full)
        nrm_warn("store full: %s; new messages are refused with store-full", why);
    else if (!full && self->store_full)
        nrm_info("store has room again: accepting new messages");
    self->store_full = full;
    if (full)
        snprintf(self->full_why, sizeof self->full_why, "%s", why);
}

/* ---- admin endpoint ---- */

typedef struct {
    broker_t *self;
    const char *actor;              /* ZAP User-Id: "admin:FINGERPRINT" */
    const uint8_t *frame;
    size_t frame_len;
    item_t *it;                     /* reply goes here */
    nrm_regadmin_result_t res;
} admin_ctx_t;

/* Decides one admin command in its own write transaction: applied, or
   refused and logged as ADMIN_REFUSED; answered with a signed receipt. */
static int
s_admin_fn(nrm_store_t *store, MDB_txn *txn, void *vctx, nrm_err_t *err)
{
    admin_ctx_t *a = vctx;
    nrm_wire_t *w = NULL;
    nrm_err_t why = { 0, 0, "" };
    nrm_receipt_t r;
    uint64_t now = nrm_now_ms();
    const uint8_t *body = a->frame, *sig = NULL;
    size_t body_len = a->frame_len, sig_len = 0;
    memset(&r, 0, sizeof r);
    nrm_sha256(a->frame, a->frame_len, r.frame_hash);
    int rc = nrm_wire_decode(a->frame, a->frame_len, true, &w, &why);
    if (rc == 0 && w->kind != NRM_WIRE_ADMIN)
        rc = nrm_err_refuse(&why, NRM_R_MALFORMED, "the admin endpoint takes admin commands only");
    if (rc == 0) {
        body = w->signed_obj.body.data;
        body_len = w->signed_obj.body.len;
        sig = w->signed_obj.sig.data;
        sig_len = w->signed_obj.sig.len;
        rc = nrm_regadmin_apply(store, txn, body, body_len, sig, sig_len, now, &a->res, &why);
    }
    if (rc == 0) {
        r.seq = a->res.seq;
        memcpy(r.record_hash, a->res.leaf, NRM_HASH_BYTES);
        if (a->res.effect)
            snprintf(r.reason, sizeof r.reason, "%s: quorum met, %s at record %llu",
                     nrm_record_kind_name(a->res.kind), nrm_record_kind_name(a->res.effect),
                     (unsigned long long) a->res.effect_seq);
        else if (a->res.kind == NRM_REC_APPROVED)
            snprintf(r.reason, sizeof r.reason, "APPROVED: %u of %u approvals", a->res.approvals,
                     a->res.quorum);
        else
            snprintf(r.reason, sizeof r.reason, "%s", nrm_record_kind_name(a->res.kind));
    } else if (rc == NRM_EINVAL || rc == NRM_ETOOBIG) {
        r.status = why.reason ? why.reason : NRM_R_MALFORMED;
        snprintf(r.reason, sizeof r.reason, "%.*s", (int) sizeof r.reason - 1, why.msg);
        rc = nrm_regadmin_refused(store, txn, a->actor, body, body_len, sig, sig_len, r.status, why.msg,
                                  now, &r.seq, r.record_hash, err);
        nrm_warn("admin command from %s refused: %s (%s), record %llu", a->actor,
                 nrm_reason_name(r.status), why.msg, (unsigned long long) r.seq);
    } else {
        rc = nrm_err_set(err, rc, "%s", why.msg);
    }
    nrm_wire_destroy(&w);
    if (rc)
        return rc;
    r.time_ms = now;
    s_receipts_reset(a->self);
    rc = s_receipt(a->self, a->it, &r, NULL, err);
    if (rc == 0)
        rc = s_receipts_sign(a->self, txn, err);
    if (rc == 0 && r.status == 0)
        nrm_info("admin command from %s: %s", a->actor, r.reason);
    return rc;
}

/* After a certificate took effect (ENROLLED, ROTATED): the directory
   goes at once to every connected organisation that may use the network,
   so that senders seal to the new keys and a rotated organisation's agent
   learns its new certificate and switches to it. */
static void
s_push_directory(broker_t *self)
{
    MDB_txn *txn = NULL;
    nrm_err_t err = { 0, 0, "" };
    item_t w;
    zmq_msg_t shared;
    size_t sent = 0;
    memset(&w, 0, sizeof w);
    if (nrm_store_read_begin(self->store, &txn, &err) != 0 || s_welcome(self, txn, &w, &err) != 0) {
        free(w.reply);
        nrm_error("directory not pushed: %s", err.msg);
        goto out;
    }
    if (s_frame_msg(&shared, w.reply, w.reply_len, &err) != 0) {   /* owns w.reply now */
        nrm_error("directory not pushed: %s", err.msg);
        goto out;
    }
    /* one buffer for every peer (see s_welcome_shared) */
    for (size_t i = 0; i < self->npeers; i++) {
        peer_t *p = &self->peers[i];
        if (p->live && nrm_registry_usable(self->store, txn, p->org, nrm_now_ms(), NULL, NULL) == 0
            && s_send_shared(self, p->rid, p->rid_len, &shared) == 0)
            sent++;
    }
    zmq_msg_close(&shared);
    nrm_info("certificate in force: directory sent to %zu connected organisations", sent);
out:
    nrm_store_read_end(&txn);
}

/* Reads and answers every admin command waiting. */
static void
s_admin_handle(broker_t *self)
{
    item_t it;
    memset(&it, 0, sizeof it);
    while (s_read_one(self->admin, &it)) {
        admin_ctx_t a = { self, it.org, zmq_msg_data(&it.msg), zmq_msg_size(&it.msg), &it, { 0 } };
        nrm_err_t err = { 0, 0, "" };
        if (it.parts != 1)
            a.frame_len = 0;        /* refused below as malformed */
        it.admin = true;
        /* The receipt goes out only after the commit. */
        int wrc = nrm_store_write(self->store, s_admin_fn, &a, &err);
        s_certc_flush(self);        /* enrolled, revoked, suspended, rotated... */
        if (wrc == 0) {
            if (it.reply)
                (void) s_send_on(self->admin, it.rid, it.rid_len, it.reply, it.reply_len);
            if (a.res.effect)
                s_push_directory(self);
        } else if (err.code) {
            nrm_error("admin command not committed: %s", err.msg);
        }
        zmq_msg_close(&it.msg);
        free(it.reply);
        it.reply = NULL;
    }
}

/* One info line on the messages decided since the last one, every
   BROKER_SUMMARY_MS while there is traffic (and at the end); the lines
   about each message are at debug level. Refusals keep their own lines. */
static void
s_summary(broker_t *self, bool last)
{
    uint64_t now = nrm_now_ms();
    if (!self->s_frames || (!last && now - self->s_ms < BROKER_SUMMARY_MS))
        return;
    nrm_info("last %llu s: %llu messages accepted, %llu delivered, %llu delivery refusals; "
             "%llu frames in %llu batches", (unsigned long long) ((now - self->s_ms + 500) / 1000),
             (unsigned long long) self->s_accepted, (unsigned long long) self->s_delivered,
             (unsigned long long) self->s_refused, (unsigned long long) self->s_frames,
             (unsigned long long) self->s_batches);
    self->s_accepted = self->s_delivered = self->s_refused = 0;
    self->s_frames = self->s_batches = 0;
    self->s_ms = now;
}

int
broker_run(broker_t *self, volatile int *stop, nrm_err_t *err)
{
    self->s_ms = nrm_now_ms();
    uint64_t last_timer = nrm_now_ms();
    while (!*stop) {
        bool pending = false;
        uint64_t now = nrm_now_ms();
        for (size_t i = 0; i < self->npeers; i++)
            pending |= self->peers[i].want_pump && self->peers[i].live
                       && self->peers[i].pump_after_ms <= now;
        zmq_pollitem_t items[4] = { { self->router, 0, ZMQ_POLLIN, 0 },
                                    { self->zap, 0, ZMQ_POLLIN, 0 },
                                    { self->admin, 0, ZMQ_POLLIN, 0 },
                                    { NULL, self->metrics ? broker_metrics_fd(self->metrics)
                                                          : -1, ZMQ_POLLIN, 0 } };
        int n = zmq_poll(items, self->metrics ? 4 : 3, pending ? 10 : BROKER_POLL_MS);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return nrm_err_set(err, NRM_ENET, "poll: %s", zmq_strerror(errno));
        }
        if (items[1].revents & ZMQ_POLLIN)
            broker_zap_handle(self->zap, self->store, &self->genesis);
        if (items[2].revents & ZMQ_POLLIN)
            s_admin_handle(self);
        if (items[0].revents & ZMQ_POLLIN) {
            size_t bytes = 0;
            while (self->nitems < self->cfg.batch_max && bytes < BROKER_BATCH_BYTES
                   && s_read_one(self->router, &self->items[self->nitems]))
                bytes += zmq_msg_size(&self->items[self->nitems++].msg);
        }
        if (self->nitems) {
            nrm_err_t berr = { 0, 0, "" };
            uint64_t t0 = self->metrics ? nrm_mono_us() : 0;
            s_store_check(self);
            int rc = nrm_store_write(self->store, s_batch_fn, self, &berr);
            /* LMDB reports a write cut short by a full disk as EIO: look. */
            uint64_t avail = rc != 0 && rc != NRM_EFULL ? s_disk_avail(self) : UINT64_MAX;
            if (avail < s_batch_bytes(self) + (1u << 20)) {
                snprintf(berr.msg, sizeof berr.msg, "the disk is full (%llu KiB left)",
                         (unsigned long long) (avail >> 10));
                rc = NRM_EFULL;
            }
            if (rc == NRM_EFULL && !self->store_full) {
                /* The batch did not fit: nothing of it was written. Decide
                   it again with new messages refused, so that the rest
                   (acknowledgements free space) goes on. */
                nrm_warn("store full (%s): refusing new messages for a while", berr.msg);
                self->store_full = true;
                self->full_until_ms = nrm_now_ms() + BROKER_FULL_RETRY_MS;
                snprintf(self->full_why, sizeof self->full_why, "%.*s",
                         (int) sizeof self->full_why - 1, berr.msg);
                memset(&berr, 0, sizeof berr);
                rc = nrm_store_write(self->store, s_batch_fn, self, &berr);
            }
            if (self->metrics)
                broker_metrics_batch(self->metrics, self->nitems, nrm_mono_us() - t0, rc == 0);
            if (rc == 0) {
                self->batches++;
                self->frames += self->nitems;
                self->s_accepted += self->b_accepted;
                self->s_delivered += self->b_delivered;
                self->s_refused += self->b_refused;
                self->s_frames += self->nitems;
                self->s_batches++;
                s_after_commit(self);
                if (self->ckpt_made)
                    s_checkpoint_push(self);
            } else {
                /* Nothing was acknowledged; senders will retry. */
                nrm_error("batch of %zu frames not committed: %s", self->nitems, berr.msg);
            }
            s_items_release(self);
        }
        now = nrm_now_ms();
        for (size_t i = 0; i < self->npeers; i++)
            if (self->peers[i].want_pump && self->peers[i].pump_after_ms <= now)
                s_pump(self, &self->peers[i]);
        if (nrm_now_ms() - last_timer > 1000) {
            s_summary(self, false);
            s_timers(self);
            s_checkpoint_timer(self);
            last_timer = nrm_now_ms();
        }
        if (self->metrics) {
            size_t live = 0;
            uint64_t inflight = 0;
            for (size_t i = 0; i < self->npeers; i++) {
                live += self->peers[i].live;
                inflight += self->peers[i].inflight;
            }
            broker_metrics_peers(self->metrics, live, inflight);
            broker_metrics_run(self->metrics);
        }
    }
    return 0;
}

/* ---- construction ---- */

/* Binds sock to listen ("tcp://host:0" asks for an ephemeral port, which
   ZeroMQ spells "*") and writes the endpoint bound to NET/file. */
static int
s_bind(broker_t *self, void *sock, const char *listen, const char *file, nrm_err_t *err)
{
    char endpoint[260], path[2300];
    size_t n = strlen(listen);
    if (n >= 2 && strcmp(listen + n - 2, ":0") == 0)
        snprintf(endpoint, sizeof endpoint, "%.*s:*", (int) (n - 2), listen);
    else
        snprintf(endpoint, sizeof endpoint, "%s", listen);
    if (zmq_bind(sock, endpoint) != 0)
        return nrm_err_set(err, NRM_ENET, "bind %s: %s", endpoint, zmq_strerror(errno));
    size_t size = sizeof endpoint;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0)
        return nrm_err_set(err, NRM_ENET, "last endpoint: %s", zmq_strerror(errno));
    if (nrm_path(path, sizeof path, "%s/%s", self->cfg.dir, file) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    n = strnlen(endpoint, sizeof endpoint);
    char line[264];
    snprintf(line, sizeof line, "%.*s\n", (int) n, endpoint);
    nrm_info("%s on %s", strcmp(file, "admin.endpoint") == 0 ? "admin endpoint" : "listening", endpoint);
    return nrm_file_write(path, line, strlen(line), 0644, err);
}

/* One broker per folder: an exclusive lock on NET/broker.lock, held while
   it runs. nrm-admin tests it to choose between the admin endpoint (the
   broker runs) and writing the folder itself (it does not). */
static int
s_lock(broker_t *self, nrm_err_t *err)
{
    char path[2300];
    if (nrm_path(path, sizeof path, "%s/broker.lock", self->cfg.dir) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    self->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0)
        return nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return nrm_err_set(err, NRM_EEXIST, "%s: another broker runs on this folder", path);
    return 0;
}

/* The admin endpoint: a second ROUTER with CURVE whose ZAP domain admits
   the administrators' transport keys only. */
static int
s_admin_socket(broker_t *self, nrm_err_t *err)
{
    int one = 1, zero = 0;
    int64_t maxmsg = NRM_MAX_FRAME_BYTES;
    self->admin = zmq_socket(self->zctx, ZMQ_ROUTER);
    if (!self->admin
        || zmq_setsockopt(self->admin, ZMQ_CURVE_SERVER, &one, sizeof one) != 0
        || zmq_setsockopt(self->admin, ZMQ_CURVE_SECRETKEY, nrm_keys_curve_sk(self->keys), 32) != 0
        || zmq_setsockopt(self->admin, ZMQ_ZAP_DOMAIN, BROKER_ADMIN_DOMAIN, strlen(BROKER_ADMIN_DOMAIN)) != 0
        || zmq_setsockopt(self->admin, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0
        || zmq_setsockopt(self->admin, ZMQ_LINGER, &zero, sizeof zero) != 0)
        return nrm_err_set(err, NRM_ENET, "admin socket: %s", zmq_strerror(errno));
    return s_bind(self, self->admin, self->cfg.admin_listen, "admin.endpoint", err);
}

broker_t *
broker_new(const broker_config_t *cfg, nrm_err_t *err)
{
    static const char *const dbs[] = { NRM_BROKER_DBS, NULL };
    char path[2300];
    MDB_txn *txn = NULL;
    broker_t *self = calloc(1, sizeof *self);
    if (!self) {
        nrm_err_set(err, NRM_ENOMEM, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->lock_fd = -1;
    if (s_lock(self, err) != 0)
        goto fail;
    self->items = calloc(cfg->batch_max, sizeof *self->items);
    self->peers = calloc(BROKER_MAX_PEERS, sizeof *self->peers);
    self->certc = calloc(BROKER_CERT_CACHE, sizeof *self->certc);
    self->reg_gen = 1;
    if (!self->items || !self->peers || !self->certc) {
        nrm_err_set(err, NRM_ENOMEM, "out of memory");
        goto fail;
    }
    if (nrm_path(path, sizeof path, "%s/broker.key", cfg->dir) != 0
        || nrm_keys_load(path, &self->keys, err) != 0)
        goto fail;
    if ((nrm_keys_parts(self->keys) & (NRM_KEYS_SIGN | NRM_KEYS_CURVE)) != (NRM_KEYS_SIGN | NRM_KEYS_CURVE)) {
        nrm_err_set(err, NRM_EINVAL, "%s: needs a signing and a CURVE key", path);
        goto fail;
    }
    if (broker_refs_new(self->keys, &self->refs, err) != 0)
        goto fail;
    if (nrm_path(path, sizeof path, "%s/data", cfg->dir) != 0
        || nrm_store_open(path, dbs, 0, &self->store, err) != 0)
        goto fail;
    nrm_store_set_max_map(self->store, (size_t) cfg->map_max_mb << 20);
    if (nrm_store_read_begin(self->store, &txn, err) != 0
        || nrm_registry_genesis(self->store, txn, &self->genesis, err) != 0)
        goto fail;
    if (memcmp(self->genesis.broker_sign_pk, nrm_keys_sign_pk(self->keys), NRM_PK_BYTES) != 0
        || memcmp(self->genesis.broker_curve_pk, nrm_keys_curve_pk(self->keys), NRM_PK_BYTES) != 0) {
        nrm_err_set(err, NRM_EINVAL, "broker.key does not hold the keys named in this network's genesis");
        goto fail;
    }
    /* The head of the log, in O(log n) whatever its length: start-up
       never reads the whole log (docs/audit-log.md, section 1). */
    {
        nrm_loghead_t head;
        uint64_t t0 = nrm_mono_us();
        if (nrm_auditlog_head_check(self->store, txn, self->genesis.broker_sign_pk,
                                    cfg->network, &head, err) != 0) {
            nrm_err_prefix(err, "the audit log's head does not check (nrm-audit verify --dir %s "
                           "says more)", cfg->dir);
            goto fail;
        }
        nrm_info("audit log: %llu records; tip, last link, tree of %llu leaves%s checked in %llu us",
                 (unsigned long long) head.records, (unsigned long long) head.tree_size,
                 head.ckpt_root_ok ? " and the latest checkpoint's signature and root" : "",
                 (unsigned long long) (nrm_mono_us() - t0));
    }
    nrm_store_read_end(&txn);

    self->zctx = zmq_ctx_new();
    self->zap = self->zctx ? zmq_socket(self->zctx, ZMQ_REP) : NULL;
    if (!self->zap || zmq_bind(self->zap, "inproc://zeromq.zap.01") != 0) {
        nrm_err_set(err, NRM_ENET, "ZAP handler: %s", zmq_strerror(errno));
        goto fail;
    }
    self->router = zmq_socket(self->zctx, ZMQ_ROUTER);
    int one = 1, zero = 0, hwm = 10000, rcvhwm = BROKER_RCVHWM;
    int64_t maxmsg = NRM_HARD_FRAME_BYTES;
    int hb_ivl = 1000, hb_ttl = 10000, hb_timeout = 5000;
    if (!self->router
        || zmq_setsockopt(self->router, ZMQ_CURVE_SERVER, &one, sizeof one) != 0
        || zmq_setsockopt(self->router, ZMQ_CURVE_SECRETKEY, nrm_keys_curve_sk(self->keys), 32) != 0
        || zmq_setsockopt(self->router, ZMQ_ZAP_DOMAIN, "nrmbus", 6) != 0
        || zmq_setsockopt(self->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0
        || zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0
        || zmq_setsockopt(self->router, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0
        || zmq_setsockopt(self->router, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm) != 0
        || zmq_setsockopt(self->router, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_setsockopt(self->router, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl) != 0
        || zmq_setsockopt(self->router, ZMQ_HEARTBEAT_TTL, &hb_ttl, sizeof hb_ttl) != 0
        || zmq_setsockopt(self->router, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) != 0) {
        nrm_err_set(err, NRM_ENET, "router socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (s_admin_socket(self, err) != 0 || s_bind(self, self->router, cfg->listen, "broker.endpoint", err) != 0)
        goto fail;
    if (cfg->metrics_listen[0]
        && broker_metrics_open(cfg->metrics_listen, cfg->dir, cfg->network, self->store,
                               &self->metrics, err) != 0)
        goto fail;
    return self;
fail:
    nrm_store_read_end(&txn);
    broker_destroy(&self);
    return NULL;
}

void
broker_destroy(broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    if (self->records || self->batches)
        nrm_info("stopping: %llu frames in %llu batches, %llu commits",
                 (unsigned long long) self->frames, (unsigned long long) self->batches,
                 (unsigned long long) (self->store ? nrm_store_commits(self->store) : 0));
    s_summary(self, true);
    s_items_release(self);
    s_welcome_drop(self);
    broker_metrics_destroy(&self->metrics);
    if (self->router)
        zmq_close(self->router);
    if (self->zap)
        zmq_close(self->zap);
    if (self->admin) {
        char path[2300];
        zmq_close(self->admin);
        if (nrm_path(path, sizeof path, "%s/admin.endpoint", self->cfg.dir) == 0)
            (void) unlink(path);
    }
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    nrm_policy_free(&self->policy);
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    nrm_store_destroy(&self->store);
    broker_refs_destroy(&self->refs);
    nrm_keys_destroy(&self->keys);
    s_receipts_reset(self);
    free(self->rcpts);
    free(self->items);
    free(self->peers);
    free(self->certc);
    free(self);
    *self_p = NULL;
}
