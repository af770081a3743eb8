/*  agent_daemon -- `nrm-agent run`: the organisation's connection to the
    broker. One thread, one ZeroMQ DEALER socket (CURVE client), one LMDB
    environment shared with the CLI commands of the same organisation.

    Each round of the loop (zmq_poll on the broker socket, the socket
    monitor, the wake-up socket ORG/agent.wake and the HTTP listeners, until
    the earliest of its own deadlines, s_next_wait):
      1. drain socket monitor events (handshake done, disconnected, refused)
         and the pokes of senders (agent_wake.h);
      2. receive every frame waiting (up to a batch cap), check each one
         (signatures, seals) outside any transaction, then apply the whole
         batch in ONE write transaction (group commit); only after it has
         committed, queue the acknowledgements of the deliveries it stored;
      3. send queued acknowledgements;
      4. Hello every 2 s until a Welcome arrives (and again after a
         disconnect); after a Welcome: submit new outbox entries (at most 256
         waiting for a receipt), resend those unanswered for 3 s (then 6,
         12 ... 60 s; all at once after each Welcome), and every 2 s ask the
         status of accepted entries not yet delivered.
    The CLI, the API and nrm-bench add outbox entries (agent_sender_send)
    and then poke ORG/agent.wake; step 4 notices them with one cheap read
    transaction per round (outq after the last key taken), so a poke makes
    the round that submits them. A round also runs at least every
    AGENT_SCAN_MS, which finds entries whose poke was lost. Idle, the loop
    sleeps until its next deadline rather than waking on a fixed tick.

    What must stay true: an acknowledgement is sent only for a delivery that
    is committed (or was already in the inbox); a msg_id is stored in the
    inbox at most once (inidx, NOOVERWRITE, checked in the same txn); a
    failed commit acknowledges nothing and the batch is retried; nothing
    from the broker can crash this loop: every frame is decoded by the codec
    with caps, and every check failure is logged and answered. */
#include "agent.h"
#include "agent_conf.h"
#include "agent_docs.h"
#include "agent_integ.h"
#include "agent_referrals.h"
#include "agent_store.h"
#include "agent_checkpoint.h"
#include "agent_verify.h"
#include "agent_wake.h"
#include "nrm_codec.h"
#include "nrm_log.h"
#include "nrm_registry.h"
#include "nrm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define AGENT_BUSY_MS        50      /* again, when something could not go */
#define AGENT_SCAN_MS        1000    /* outbox scan without a poke; longest sleep */
#define AGENT_WAKE_DRAIN     1024    /* pokes read per round */
#define AGENT_HELLO_MS       2000
#define AGENT_HELLO_MAX_MS   60000   /* after refused Hellos, doubling      */
#define AGENT_RESEND_MS      3000    /* first resend; doubles up to the max */
#define AGENT_RESEND_MAX_MS  60000
#define AGENT_FULL_MAX_MS    15000   /* resend cap after a store-full answer */
#define AGENT_STATUS_MS      2000
#define AGENT_PURGE_MS       60000   /* retention check */
#define AGENT_INFLIGHT_MAX   256
#define AGENT_BATCH_MAX      256
#define AGENT_BATCH_BYTES    (64u * 1024u * 1024u)
#define AGENT_ACKQ_MAX       4096
#define AGENT_RETRY_MIN_MS   500
#define AGENT_RETRY_MAX_MS   30000
#define AGENT_SKEW_WARN_MS   (5u * 60u * 1000u)
#define AGENT_MONITOR_EP     "inproc://nrm-agent-monitor"
#define AGENT_CERTS_CACHED   128     /* senders' certificates kept verified */
#define AGENT_SEALS_CACHED   64      /* shared keys of senders' batches (format 2) */
#define AGENT_SUMMARY_MS     10000   /* one info line on the traffic this often */

static const char *const s_cmd = "run";
static volatile sig_atomic_t s_stop;

/* An outbox entry submitted and waiting for its receipt. */
typedef struct {
    uint64_t key;
    uint8_t  msg_id[NRM_MSGID_BYTES];
    uint64_t sent_ms;            /* monotonic; 0 = send at the next chance */
    uint32_t tries;              /* sends in all, for the log              */
    uint32_t backoff;            /* sends since the last Welcome           */
    bool     store_full;         /* last answer was store-full: shorter cap */
    bool     old_key;            /* signed with a key a rotation replaced  */
} s_inflight_t;

/* What applying a batch item did (set inside the txn, acted on after). */
enum {
    S_NONE = 0,
    S_STORED,        /* deliver: new inbox entry            -> ack 0         */
    S_DUPLICATE,     /* deliver: same message already there -> ack 0 again   */
    S_CONFLICT,      /* deliver: id there, other content    -> ack refusal   */
    S_REFUSED,       /* deliver: failed a check             -> ack refusal   */
    S_NOACK,         /* deliver: no msg_id, cannot answer                    */
    S_CHANGED,       /* receipt / status: outbox state changed               */
    S_UNKNOWN,       /* receipt / status: msg_id not in the outbox           */
    S_STALE,         /* receipt / status: nothing to change                  */
    S_LOST,          /* status: the broker does not know an accepted id      */
    S_RETRY,         /* receipt: store-full, not a decision: send again later */
};

/* One frame of a batch: its decoded view and what was checked about it. */
typedef struct {
    nrm_wire_t       *w;
    int               outcome;
    /* deliver */
    agent_delivery_t  d;
    uint8_t          *cert_signed;       /* Signed{Certificate}, owned */
    size_t            cert_len;
    /* receipt */
    bool              receipt_ok;
    nrm_receipt_t     receipt;
    uint8_t          *receipt_signed;    /* Signed{Receipt}, owned */
    size_t            receipt_len;
    /* welcome */
    agent_dir_entry_t *dir;              /* owned, signed bytes owned */
    size_t            ndir, nbad;
    bool              dir_stale;         /* unchanged, but not our directory */
    bool              dir_named;         /* the digest names what we keep    */
    const char       *delta_bad;         /* directory delta: refused (prepare) */
    bool              delta_applied;     /* ...written (apply)               */
    const char       *delta_why;         /* ...or why not (static text)      */
    /* status reply: one outcome per item */
    uint8_t          *status_outcome;
    /* checkpoint */
    agent_ckpt_result_t ckpt;
    /* notice (lifecycle): escalation of a referral, or a body purged */
    bool              notice_ok, notice_new;
    nrm_notice_t      notice;
    uint8_t          *notice_signed;     /* Signed{Notice}, owned */
    size_t            notice_len;
} s_item_t;

typedef struct {
    const char      *dir;
    agent_org_t      org;
    agent_connect_t  conn;
    nrm_keys_t      *keys;               /* in force: signs, CURVE identity */
    nrm_keys_t      *next;               /* secret.keys.next, when it exists */
    nrm_keys_t      *retired[AGENT_RETIRED_MAX]; /* ORG/retired: open old seals */
    size_t           nretired;
    uint8_t          dir_digest[NRM_HASH_BYTES]; /* names the directory held, */
    bool             dir_digest_ok;      /* sent in the Hello (agent_dir_digest) */
    uint8_t          tx_digest[NRM_HASH_BYTES]; /* the same, as the batch being */
    bool             tx_digest_ok;       /* applied leaves it (s_apply)      */
    bool             hello_again;        /* a delta did not apply: Hello now */
    uint8_t         *rotated;            /* own rotated Signed{Certificate}   */
    size_t           rotated_len;        /* from a Welcome, to switch to     */
    nrm_store_t     *store;
    void            *zctx, *sock, *mon;
    bool             monitoring;
    bool             connected, welcomed, drop_acks;
    int              last_failure;       /* last handshake failure event logged */
    uint64_t         last_hello, last_status;
    uint32_t         hello_refused;      /* Hellos refused since the last Welcome */
    uint64_t         last_purge;         /* retention (agent_referrals.c)    */
    uint64_t         scan_after;         /* outq keys <= this are taken      */
    uint64_t         status_after;       /* outacc cursor for status queries */
    s_inflight_t     inflight[AGENT_INFLIGHT_MAX];
    size_t           ninflight;
    s_item_t        *batch;
    size_t           nbatch, batch_bytes;
    bool             batch_pending;      /* commit failed; retry at retry_at */
    uint64_t         retry_at, retry_delay;
    nrm_bytes_t      ackq[AGENT_ACKQ_MAX]; /* encoded Ack frames, owned */
    size_t           nack;
    nrm_bytes_t      acksign[AGENT_BATCH_MAX]; /* Ack bodies of the commit, owned,
                                              signed as one batch (s_ack_sign) */
    size_t           nacksign;
    uint64_t         now_ms;             /* wall clock, for stored times    */
    int              lock_fd;            /* ORG/agent.lock, held while running */
    int              wake_fd;            /* ORG/agent.wake (agent_wake.h)    */
    const char      *config;             /* --config, or NULL: ORG/agent.ini */
    agent_conf_t     conf;
    agent_integ_t   *integ;              /* API, hooks, metrics (agent_integ) */
    agent_certcache_t *certs;            /* senders' verified certificates  */
    nrm_sealcache_t   *seals;            /* shared keys of batches' bodies   */
    /* traffic since the last summary line (s_summary): each message is a
       debug line, the summary an info line, as at the broker */
    uint64_t         sum_ms, sum_accepted, sum_delivered, sum_received;
} s_daemon_t;

static void
s_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-agent run --dir ORG [--endpoint EP] [--log-level LEVEL]\n"
        "                     [--log-format text|kv|json] [--config FILE] [--check-config]\n"
        "\n"
        "Runs the agent of organisation ORG in the foreground until SIGINT or\n"
        "SIGTERM (then exits 0). It connects to the broker named in\n"
        "ORG/connect.ini, keeps the directory of certificates up to date,\n"
        "submits what `nrm-agent send` queued (at once: send pokes the socket\n"
        "ORG/agent.wake that it binds), records receipts and delivery states,\n"
        "and stores incoming messages in the inbox (durably, before\n"
        "acknowledging them).\n"
        "\n"
        "  --dir ORG          organisation folder (org.ini, secret.keys, connect.ini)\n"
        "  --endpoint EP      broker endpoint, overriding [broker] endpoint\n"
        "  --log-level LEVEL  error, warn, info (default) or debug\n"
        "  --log-format FMT   text (default), kv (key=value) or json: one line per event\n"
        "  --config FILE      the agent's integration settings instead of ORG/agent.ini\n"
        "                     (local HTTP API, metrics, hooks, spools, logs: see\n"
        "                     docs/operations.md)\n"
        "  --check-config     check org.ini, agent.ini, connect.ini (its certificate)\n"
        "                     and policy.ini, print what is wrong with file:line, and\n"
        "                     exit (0 all good, 1 not) without starting\n"
        "\n"
        "Logs one line per event on stderr: ids, types and hashes only.\n"
        "Test hook: NRM_TEST_DROP_ACKS=1 stores deliveries but never\n"
        "acknowledges them, so that the broker delivers them again.\n");
}

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

static uint64_t
s_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static void
s_hex_id(const uint8_t id[NRM_MSGID_BYTES], char out[2 * NRM_MSGID_BYTES + 1])
{
    nrm_hex_encode(id, NRM_MSGID_BYTES, out);
}

static void
s_free_cb(void *data, void *hint)
{
    (void) hint;
    free(data);
}

/* Sends one encoded frame, taking ownership of buf. Returns 0, or EAGAIN
   when the frame cannot go now (not connected, or the queue is full), or
   another errno. */
static int
s_send_frame(s_daemon_t *d, uint8_t *buf, size_t len)
{
    zmq_msg_t m;

    if (zmq_msg_init_data(&m, buf, len, s_free_cb, NULL) != 0) {
        free(buf);
        return ENOMEM;
    }
    if (zmq_msg_send(&m, d->sock, ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();
        zmq_msg_close(&m);
        return e;
    }
    return 0;
}

/* Encodes and sends w. Returns 0, EAGAIN, or another error (logged). */
static int
s_send_wire(s_daemon_t *d, const nrm_wire_t *w, const char *what)
{
    nrm_err_t err = { 0 };
    uint8_t *buf = NULL;
    size_t len = 0;
    int e;

    if (nrm_wire_encode(w, &buf, &len, &err) != 0) {
        nrm_error("cannot encode %s: %s", what, err.msg);
        return EINVAL;
    }
    e = s_send_frame(d, buf, len);
    if (e != 0 && e != EAGAIN)
        nrm_warn("cannot send %s: %s", what, zmq_strerror(e));
    return e;
}

/* ---- outgoing: hello, submits, status queries, acks ---- */

/* When the next Hello is due (monotonic ms; 0: now). */
static uint64_t
s_hello_at(const s_daemon_t *d)
{
    uint64_t every = AGENT_HELLO_MS;
    for (uint32_t i = 0; i < d->hello_refused && every < AGENT_HELLO_MAX_MS; i++)
        every *= 2;
    if (every > AGENT_HELLO_MAX_MS)
        every = AGENT_HELLO_MAX_MS;
    return d->last_hello != 0 ? d->last_hello + every : 0;
}

static void
s_hello_tick(s_daemon_t *d, uint64_t mono)
{
    nrm_wire_t w;

    if ((d->welcomed && !d->hello_again) || s_hello_at(d) > mono)
        return;
    d->last_hello = mono;
    d->hello_again = false;
    memset(&w, 0, sizeof w);
    w.kind = NRM_WIRE_HELLO;
    w.version = NRM_PROTOCOL_VERSION;
    w.org_id = d->org.id;
    w.time_ms = d->now_ms;
    if (d->dir_digest_ok) {
        /* the broker leaves the certificates out if this is its directory */
        w.directory.data = d->dir_digest;
        w.directory.len = NRM_HASH_BYTES;
    }
    if (s_send_wire(d, &w, "hello") == 0)
        nrm_debug("hello sent");
}

static void
s_inflight_remove(s_daemon_t *d, const uint8_t msg_id[NRM_MSGID_BYTES])
{
    size_t i;

    for (i = 0; i < d->ninflight; i++)
        if (memcmp(d->inflight[i].msg_id, msg_id, NRM_MSGID_BYTES) == 0) {
            memmove(&d->inflight[i], &d->inflight[i + 1],
                    (d->ninflight - i - 1) * sizeof d->inflight[0]);
            d->ninflight--;
            return;
        }
}

/* When entry f should be sent (monotonic ms; 0: at the next chance). A
   broker that is slow rather than gone would otherwise get a copy of every
   unanswered frame each 3 s, and the copies pile up in the socket's queue:
   so the interval doubles with every resend (3, 6, 12 ... 60 s), and
   starts again after each Welcome. */
static uint64_t
s_due_at(const s_inflight_t *f)
{
    uint64_t wait = AGENT_RESEND_MS;
    uint64_t cap = f->store_full ? AGENT_FULL_MAX_MS : AGENT_RESEND_MAX_MS;
    uint32_t i;

    if (f->sent_ms == 0)
        return 0;
    for (i = 1; i < f->backoff && wait < cap; i++)
        wait *= 2;
    if (wait > cap)
        wait = cap;
    return f->sent_ms + wait;
}

static bool
s_due(const s_inflight_t *f, uint64_t mono)
{
    return s_due_at(f) <= mono;
}

/* Submits inflight entry i inside read txn. Returns 0 when sent or when the
   entry was dropped from the window (then *dropped is set), EAGAIN to stop
   sending for this round. */
static int
s_submit(s_daemon_t *d, MDB_txn *txn, size_t i, uint64_t mono, bool *dropped)
{
    s_inflight_t *f = &d->inflight[i];
    char hex[2 * NRM_MSGID_BYTES + 1];
    nrm_err_t err = { 0 };
    agent_out_t rec;
    nrm_bytes_t body;
    nrm_wire_t w;
    int e;

    *dropped = false;
    s_hex_id(f->msg_id, hex);
    if (agent_out_get(d->store, txn, f->key, &rec, &err) != 0
        || (rec.state == AGENT_OUT_QUEUED
            && agent_out_body(d->store, txn, f->key, &body, &err) != 0)) {
        nrm_error("outbox entry %llu (msg %s) cannot be read, not sending it: %s",
                  (unsigned long long) f->key, hex, err.msg);
        *dropped = true;
        return 0;
    }
    if (rec.state != AGENT_OUT_QUEUED) {
        *dropped = true;         /* answered meanwhile */
        return 0;
    }
    memset(&w, 0, sizeof w);
    w.kind = NRM_WIRE_SUBMIT;
    w.envelope = rec.envelope;
    w.signature = rec.signature;
    w.batch = rec.batch;
    w.sealed_body = body;
    e = s_send_wire(d, &w, "submit");
    if (e == EAGAIN)
        return EAGAIN;
    if (e != 0) {
        /* Try again at the next resend time rather than spin. */
        f->sent_ms = mono;
        return 0;
    }
    f->sent_ms = mono;
    f->tries++;
    f->backoff++;
    if (f->tries == 1)
        nrm_debug("submitted msg %s (outbox %llu)", hex, (unsigned long long) f->key);
    else
        nrm_info("submitted msg %s again (try %u)", hex, f->tries);
    return 0;
}

/* Marks whether outbox entry f was signed with a key a rotation replaced
   (read inside txn). Without retired keys every entry is signed with the
   keys in force. */
static void
s_classify(s_daemon_t *d, MDB_txn *txn, s_inflight_t *f)
{
    nrm_err_t err = { 0 };
    agent_out_t rec;

    f->old_key = false;
    if (d->nretired == 0 || agent_out_get(d->store, txn, f->key, &rec, &err) != 0)
        return;
    f->old_key = rec.signature.len == NRM_SIG_BYTES
                 && nrm_batch_verify(nrm_keys_sign_pk(d->keys), NRM_CTX_ENVELOPE, rec.envelope.data,
                                     rec.envelope.len, rec.signature.data, &rec.batch, NULL) != 0;
}

/* Takes new queued entries into the window and (re)sends what is due.

   Across a key rotation: the broker accepts the old key until the first
   message signed with the new one, then refuses it (key-retired). So while
   any entry signed with the old key waits for its receipt, entries signed
   with the new key are held back; old ones thus reach the broker first,
   and a resent old one finds its decision (same envelope, same receipt).
   Acknowledgements do not retire a key and are always signed with the
   keys in force. */
static void
s_outbox_tick(s_daemon_t *d, uint64_t mono)
{
    uint64_t keys[AGENT_INFLIGHT_MAX];
    uint8_t ids[AGENT_INFLIGHT_MAX][NRM_MSGID_BYTES];
    size_t room = AGENT_INFLIGHT_MAX - d->ninflight, n = 0, i;
    nrm_err_t err = { 0 };
    MDB_txn *txn = NULL;
    bool due = false, barrier = false;

    for (i = 0; i < d->ninflight && !due; i++)
        due = s_due(&d->inflight[i], mono);
    if (!due && room == 0)
        return;
    if (nrm_store_read_begin(d->store, &txn, &err) != 0) {
        nrm_error("cannot read the outbox: %s", err.msg);
        return;
    }
    if (room > 0) {
        if (agent_out_pending(d->store, txn, AGENT_IDX_QUEUED, d->scan_after, room,
                              keys, ids, &n, &err) != 0) {
            nrm_error("cannot read the outbox queue: %s", err.msg);
            n = 0;
        }
        for (i = 0; i < n; i++) {
            s_inflight_t *f = &d->inflight[d->ninflight++];
            memset(f, 0, sizeof *f);
            f->key = keys[i];
            memcpy(f->msg_id, ids[i], NRM_MSGID_BYTES);
            s_classify(d, txn, f);
            d->scan_after = keys[i];
        }
        if (n > 0)
            due = true;
    }
    for (i = 0; i < d->ninflight && !barrier; i++)
        barrier = d->inflight[i].old_key;
    for (i = 0; due && i < d->ninflight; ) {
        s_inflight_t *f = &d->inflight[i];
        bool dropped = false;
        if (!s_due(f, mono) || (barrier && !f->old_key)) {
            i++;
            continue;
        }
        if (s_submit(d, txn, i, mono, &dropped) == EAGAIN)
            break;
        if (dropped) {
            memmove(&d->inflight[i], &d->inflight[i + 1],
                    (d->ninflight - i - 1) * sizeof d->inflight[0]);
            d->ninflight--;
        } else {
            i++;
        }
    }
    nrm_store_read_end(&txn);
}

static void
s_status_tick(s_daemon_t *d, uint64_t mono)
{
    uint64_t keys[NRM_MAX_STATUS_IDS];
    uint8_t ids[NRM_MAX_STATUS_IDS][NRM_MSGID_BYTES];
    nrm_bytes_t views[NRM_MAX_STATUS_IDS];
    nrm_err_t err = { 0 };
    MDB_txn *txn = NULL;
    nrm_wire_t w;
    size_t n = 0, i;
    int rc;

    if (mono - d->last_status < AGENT_STATUS_MS)
        return;
    d->last_status = mono;
    if (nrm_store_read_begin(d->store, &txn, &err) != 0) {
        nrm_error("cannot read the outbox: %s", err.msg);
        return;
    }
    rc = agent_out_pending(d->store, txn, AGENT_IDX_ACCEPTED, d->status_after,
                           NRM_MAX_STATUS_IDS, keys, ids, &n, &err);
    if (rc == 0 && n == 0 && d->status_after != 0) {
        d->status_after = 0;     /* wrapped around */
        rc = agent_out_pending(d->store, txn, AGENT_IDX_ACCEPTED, 0,
                               NRM_MAX_STATUS_IDS, keys, ids, &n, &err);
    }
    nrm_store_read_end(&txn);
    if (rc != 0) {
        nrm_error("cannot read accepted outbox entries: %s", err.msg);
        return;
    }
    if (n == 0)
        return;
    d->status_after = n < NRM_MAX_STATUS_IDS ? 0 : keys[n - 1];
    for (i = 0; i < n; i++) {
        views[i].data = ids[i];
        views[i].len = NRM_MSGID_BYTES;
    }
    memset(&w, 0, sizeof w);
    w.kind = NRM_WIRE_STATUS;
    w.count = n;
    w.ids = views;
    if (s_send_wire(d, &w, "status query") == 0)
        nrm_debug("status query for %zu accepted messages", n);
}

/* Builds the Ack of one delivery; s_ack_sign signs the acks of the
   commit together and queues them. */
static void
s_ack_queue(s_daemon_t *d, const s_item_t *it, uint32_t status, const char *reason)
{
    char hex[2 * NRM_MSGID_BYTES + 1];
    nrm_err_t err = { 0 };
    uint8_t *body = NULL;
    size_t body_len = 0;
    nrm_ack_t a;

    s_hex_id(it->d.env.msg_id, hex);
    if (d->drop_acks) {
        nrm_warn("NRM_TEST_DROP_ACKS: not acknowledging msg %s", hex);
        return;
    }
    if (d->nack + d->nacksign >= AGENT_ACKQ_MAX || d->nacksign >= AGENT_BATCH_MAX) {
        /* Cannot happen: no batch is received while the queue is this full. */
        nrm_error("acknowledgement queue full, msg %s will be delivered again", hex);
        return;
    }
    memset(&a, 0, sizeof a);
    memcpy(a.msg_id, it->d.env.msg_id, NRM_MSGID_BYTES);
    snprintf(a.recipient, sizeof a.recipient, "%s", d->org.id);
    a.accepted_seq = it->w->seq;
    memcpy(a.body_hash, it->d.body_hash, NRM_HASH_BYTES);
    a.time_ms = d->now_ms;
    a.status = status;
    snprintf(a.reason, sizeof a.reason, "%s", reason != NULL ? reason : "");
    if (nrm_ack_encode(&a, &body, &body_len, &err) != 0) {
        nrm_error("cannot encode the ack of msg %s: %s", hex, err.msg);
        return;
    }
    d->acksign[d->nacksign].data = body;
    d->acksign[d->nacksign].len = body_len;
    d->nacksign++;
}

/* Signs the acks of one commit with one signature (a single ack directly,
   as before batches; nrm_batchsig) and queues their frames in order. */
static void
s_ack_sign(s_daemon_t *d)
{
    nrm_batch_item_t items[AGENT_BATCH_MAX];
    nrm_batch_proof_t proofs[AGENT_BATCH_MAX];
    uint8_t sig[NRM_SIG_BYTES];
    nrm_err_t err = { 0 };
    size_t i, n = d->nacksign;

    if (n == 0)
        return;
    for (i = 0; i < n; i++)
        items[i] = (nrm_batch_item_t) { d->acksign[i].data, d->acksign[i].len };
    if (nrm_batch_sign(d->keys, NRM_CTX_ACK, items, n, sig, proofs, &err) != 0) {
        nrm_error("cannot sign %zu acks: %s (the broker will deliver again)", n, err.msg);
        n = 0;
    }
    for (i = 0; i < n; i++) {
        uint8_t *frame = NULL;
        size_t frame_len = 0;
        nrm_wire_t w;
        memset(&w, 0, sizeof w);
        w.kind = NRM_WIRE_ACK;
        w.signed_obj.body = d->acksign[i];
        w.signed_obj.sig.data = sig;
        w.signed_obj.sig.len = NRM_SIG_BYTES;
        w.batch = proofs[i];
        if (nrm_wire_encode(&w, &frame, &frame_len, &err) != 0) {
            nrm_error("cannot encode an ack frame: %s (the broker will deliver again)", err.msg);
            continue;
        }
        d->ackq[d->nack].data = frame;
        d->ackq[d->nack].len = frame_len;
        d->nack++;
    }
    for (i = 0; i < d->nacksign; i++)
        free((void *) d->acksign[i].data);
    d->nacksign = 0;
}

/* Sends queued acks in order while the socket takes them. */
static void
s_ack_flush(s_daemon_t *d)
{
    size_t sent = 0;

    /* zmq_send copies the frame (acks are small), so a frame the socket
       does not take now stays queued for the next round. */
    while (sent < d->nack) {
        if (zmq_send(d->sock, d->ackq[sent].data, d->ackq[sent].len, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            if (e == EAGAIN || e == EINTR)
                break;
            nrm_warn("cannot send an ack: %s (the broker will deliver again)",
                     zmq_strerror(e));
        }
        free((void *) d->ackq[sent].data);
        sent++;
    }
    if (sent > 0) {
        memmove(&d->ackq[0], &d->ackq[sent], (d->nack - sent) * sizeof d->ackq[0]);
        d->nack -= sent;
    }
}

/* ---- incoming: prepare (checks), apply (one txn), finish (acks, logs) ---- */

static void
s_item_clear(s_item_t *it)
{
    size_t i;

    nrm_wire_destroy(&it->w);
    free(it->cert_signed);
    free(it->receipt_signed);
    for (i = 0; i < it->ndir; i++)
        free((void *) it->dir[i].signed_cert.data);
    free(it->dir);
    free(it->status_outcome);
    free(it->notice_signed);
    memset(it, 0, sizeof *it);
}

static void
s_batch_clear(s_daemon_t *d)
{
    size_t i;

    for (i = 0; i < d->nbatch; i++)
        s_item_clear(&d->batch[i]);
    d->nbatch = 0;
    d->batch_bytes = 0;
}

static void
s_prepare_welcome(s_daemon_t *d, s_item_t *it)
{
    const nrm_wire_t *w = it->w;
    nrm_err_t err = { 0 };
    nrm_cert_t cert;
    size_t i;

    if (w->count > 0) {
        it->dir = calloc(w->count, sizeof *it->dir);
        if (it->dir == NULL) {
            nrm_error("out of memory reading %zu certificates", w->count);
            return;
        }
    }
    for (i = 0; i < w->count; i++) {
        agent_dir_entry_t *e = &it->dir[it->ndir];
        uint8_t *buf = NULL;
        size_t len = 0;

        memset(&err, 0, sizeof err);
        if (agent_cert_check(&w->certs[i], &d->conn.genesis, &cert, &err) != 0) {
            nrm_warn("welcome: certificate %zu refused: %s", i, err.msg);
            it->nbad++;
            continue;
        }
        if (nrm_signed_encode_cosigs(w->certs[i].body.data, w->certs[i].body.len,
                                     w->certs[i].sig.data, w->certs[i].cosigs, w->certs[i].ncosigs,
                                     &buf, &len, &err) != 0) {
            nrm_warn("welcome: certificate of %s cannot be kept: %s", cert.org_id, err.msg);
            it->nbad++;
            continue;
        }
        snprintf(e->org_id, sizeof e->org_id, "%s", cert.org_id);
        e->signed_cert.data = buf;
        e->signed_cert.len = len;
        it->ndir++;
    }
}

/* A directory delta: its certificates are checked as a Welcome's; one
   refused, or an id changed twice, and it is not applied. */
static void
s_prepare_delta(s_daemon_t *d, s_item_t *it)
{
    const nrm_wire_t *w = it->w;
    size_t i, j;

    s_prepare_welcome(d, it);
    if (it->nbad > 0)
        it->delta_bad = "a certificate in it was refused";
    for (i = 0; i < it->ndir && it->delta_bad == NULL; i++) {
        for (j = 0; j < i; j++)
            if (strcmp(it->dir[i].org_id, it->dir[j].org_id) == 0)
                it->delta_bad = "it changes one organisation twice";
        for (j = 0; j < w->nremoved; j++)
            if (strcmp(it->dir[i].org_id, w->removed[j]) == 0)
                it->delta_bad = "it changes one organisation twice";
    }
    if (it->delta_bad == NULL && it->dir == NULL && w->count > 0)
        it->delta_bad = "out of memory";
}

static void
s_prepare_receipt(s_daemon_t *d, s_item_t *it)
{
    nrm_err_t err = { 0 };
    char hex[2 * NRM_MSGID_BYTES + 1];

    if (agent_receipt_check(it->w, d->conn.broker_sign_pk, &it->receipt, &err) != 0) {
        nrm_error("receipt ignored: %s", err.msg);
        return;
    }
    if (!it->receipt.has_msg_id && (it->receipt.status == NRM_R_IDENTITY_IN_USE
                                    || it->receipt.status == NRM_R_CLOCK_SKEW)) {
        /* Our Hello was refused: no Welcome, so nothing is submitted or
           delivered. Say why, and ask again later (2, 4, 8 ... 60 s). */
        d->hello_refused++;
        nrm_error("the broker refused this agent's connection (record %llu): %s: %s",
                  (unsigned long long) it->receipt.seq, nrm_reason_name(it->receipt.status),
                  it->receipt.reason);
        return;
    }
    if (!it->receipt.has_msg_id) {
        nrm_warn("broker could not read a frame we sent (frame seq %llu): %s: %s",
                 (unsigned long long) it->receipt.seq,
                 nrm_reason_name(it->receipt.status), it->receipt.reason);
        return;
    }
    if (nrm_signed_encode_batch(it->w->signed_obj.body.data, it->w->signed_obj.body.len,
                                it->w->signed_obj.sig.data, &it->w->batch, &it->receipt_signed,
                                &it->receipt_len, &err) != 0) {
        s_hex_id(it->receipt.msg_id, hex);
        nrm_error("receipt for msg %s cannot be kept: %s", hex, err.msg);
        return;
    }
    it->receipt_ok = true;
}

static void
s_prepare_deliver(s_daemon_t *d, s_item_t *it)
{
    const nrm_wire_t *w = it->w;
    nrm_err_t err = { 0 };
    char hex[2 * NRM_MSGID_BYTES + 1];

    const nrm_keys_t *keys[2 + AGENT_RETIRED_MAX];
    size_t nkeys = 0;
    /* A sender that already has our rotated certificate seals to the new
       box key, maybe before we switch: `keygen --rotate` may have made it
       after this daemon started. */
    if (d->next == NULL && agent_keys_next(d->dir, &d->next, &err) != 0)
        nrm_warn("%s cannot be read: %s", AGENT_NEXT_KEYS, err.msg);
    keys[nkeys++] = d->keys;
    if (d->next != NULL)
        keys[nkeys++] = d->next;
    for (size_t i = 0; i < d->nretired; i++)
        keys[nkeys++] = d->retired[i];
    agent_delivery_check_cached(w, d->org.id, keys, nkeys, &d->conn.genesis, d->certs, d->seals,
                                &it->d);
    if (!it->d.has_env) {
        nrm_error("delivery seq %llu cannot be acknowledged: %s: %s",
                  (unsigned long long) w->seq, nrm_reason_name(it->d.status), it->d.reason);
        return;
    }
    s_hex_id(it->d.env.msg_id, hex);
    if (it->d.status != NRM_R_OK) {
        nrm_warn("delivery of msg %s (seq %llu, type %s, from %s) refused: %s: %s",
                 hex, (unsigned long long) w->seq, it->d.env.type, it->d.env.sender,
                 nrm_reason_name(it->d.status), it->d.reason);
        return;
    }
    if (nrm_signed_encode_cosigs(w->signed_obj.body.data, w->signed_obj.body.len,
                                 w->signed_obj.sig.data, w->signed_obj.cosigs, w->signed_obj.ncosigs,
                                 &it->cert_signed, &it->cert_len, &err) != 0) {
        it->d.status = NRM_R_INTERNAL;
        snprintf(it->d.reason, sizeof it->d.reason, "sender certificate cannot be kept");
        nrm_error("delivery of msg %s: sender certificate cannot be kept: %s", hex, err.msg);
    }
}

static void
s_prepare(s_daemon_t *d, s_item_t *it)
{
    switch (it->w->kind) {
    case NRM_WIRE_WELCOME:
        s_prepare_welcome(d, it);
        break;
    case NRM_WIRE_DIRECTORY_DELTA:
        s_prepare_delta(d, it);
        break;
    case NRM_WIRE_RECEIPT:
        s_prepare_receipt(d, it);
        break;
    case NRM_WIRE_DELIVER:
        s_prepare_deliver(d, it);
        break;
    case NRM_WIRE_STATUS_REPLY:
        if (it->w->count > 0) {
            it->status_outcome = calloc(it->w->count, 1);
            if (it->status_outcome == NULL)
                nrm_error("out of memory reading a status reply");
        }
        break;
    case NRM_WIRE_PONG:
    case NRM_WIRE_CHECKPOINT:
        break;
    case NRM_WIRE_NOTICE: {
        nrm_err_t err = { 0, 0, "" };
        it->notice_ok = agent_notice_check(it->w, d->conn.broker_sign_pk, d->org.id, &it->notice,
                                           &it->notice_signed, &it->notice_len, &err) == 0;
        if (!it->notice_ok)
            nrm_error("notice from the broker ignored: %s", err.msg);
        break;
    }
    default:
        nrm_warn("unexpected message kind %d from the broker ignored", it->w->kind);
        break;
    }
}

static int
s_apply_receipt(s_daemon_t *d, MDB_txn *txn, s_item_t *it, nrm_err_t *err)
{
    agent_out_t rec;
    int rc;

    if (!it->receipt_ok)
        return 0;
    rc = agent_out_find(d->store, txn, it->receipt.msg_id, &rec, err);
    if (rc == NRM_ENOTFOUND) {
        it->outcome = S_UNKNOWN;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (rec.state != AGENT_OUT_QUEUED) {
        it->outcome = S_STALE;
        return 0;
    }
    if (it->receipt.status == NRM_R_STORE_FULL) {
        /* The broker could not take it now; it stays queued. */
        it->outcome = S_RETRY;
        return 0;
    }
    rec.updated_ms = d->now_ms;
    rec.receipt.data = it->receipt_signed;
    rec.receipt.len = it->receipt_len;
    if (it->receipt.status == NRM_R_OK) {
        rec.state = AGENT_OUT_ACCEPTED;
        rec.accepted_seq = it->receipt.seq;
    } else {
        rec.state = AGENT_OUT_REFUSED;
        rec.accepted_seq = 0;
        rec.reason_code = it->receipt.status;
        snprintf(rec.reason, sizeof rec.reason, "%s", it->receipt.reason);
    }
    rc = agent_out_save(d->store, txn, &rec, err);
    if (rc == 0)
        it->outcome = S_CHANGED;
    return rc;
}

static int
s_apply_status(s_daemon_t *d, MDB_txn *txn, s_item_t *it, nrm_err_t *err)
{
    size_t i;
    int rc;

    if (it->status_outcome == NULL)
        return 0;
    for (i = 0; i < it->w->count; i++) {
        const nrm_msg_status_t *s = &it->w->items[i];
        agent_out_t rec;

        it->status_outcome[i] = S_STALE;
        rc = agent_out_find(d->store, txn, s->msg_id, &rec, err);
        if (rc == NRM_ENOTFOUND) {
            it->status_outcome[i] = S_UNKNOWN;
            continue;
        }
        if (rc != 0)
            return rc;
        /* Only accepted entries move on: a queued one gets its receipt
           first (resent), so the proof of acceptance is always kept. */
        if (rec.state != AGENT_OUT_ACCEPTED)
            continue;
        if (s->state == NRM_MSG_UNKNOWN) {
            it->status_outcome[i] = S_LOST;
            continue;
        }
        if (s->state == NRM_MSG_DELIVERED) {
            rec.state = AGENT_OUT_DELIVERED;
            rec.delivered_seq = s->delivered_seq;
        } else if (s->state == NRM_MSG_REFUSED_BY_RECIPIENT) {
            rec.state = AGENT_OUT_REFUSED_BY_RECIPIENT;
            rec.delivered_seq = s->delivered_seq;
        } else if (s->state == NRM_MSG_PURGED) {
            /* the recipient never acknowledged it within the broker's
               retention: the broker dropped the body (PURGED record) */
            rec.state = AGENT_OUT_PURGED;
            rec.delivered_seq = s->delivered_seq;
            rec.reason_code = NRM_R_PURGED;
            snprintf(rec.reason, sizeof rec.reason, "not delivered within the broker's retention: "
                     "body purged undelivered at record %llu", (unsigned long long) s->delivered_seq);
        } else {
            continue;
        }
        rec.updated_ms = d->now_ms;
        rc = agent_out_save(d->store, txn, &rec, err);
        if (rc != 0)
            return rc;
        it->status_outcome[i] = S_CHANGED;
    }
    return 0;
}

static int
s_apply_deliver(s_daemon_t *d, MDB_txn *txn, s_item_t *it, nrm_err_t *err)
{
    const nrm_wire_t *w = it->w;
    uint8_t stored_hash[NRM_HASH_BYTES];
    agent_in_t rec;
    int rc;

    if (!it->d.has_env) {
        it->outcome = S_NOACK;
        return 0;
    }
    rc = agent_in_find(d->store, txn, it->d.env.msg_id, &rec, err);
    if (rc == 0) {
        nrm_sha256(rec.sealed_body.data, rec.sealed_body.len, stored_hash);
        /* a purged entry (retention) has no body left: its envelope, which
           holds the body hash, decides */
        if (rec.envelope.len == w->envelope.len
            && memcmp(rec.envelope.data, w->envelope.data, w->envelope.len) == 0
            && (rec.purged_ms || memcmp(stored_hash, it->d.body_hash, NRM_HASH_BYTES) == 0))
            it->outcome = S_DUPLICATE;
        else
            it->outcome = S_CONFLICT;
        return 0;
    }
    if (rc != NRM_ENOTFOUND)
        return rc;
    if (it->d.status != NRM_R_OK) {
        it->outcome = S_REFUSED;
        return 0;
    }
    memset(&rec, 0, sizeof rec);
    rec.received_ms = d->now_ms;
    rec.accepted_seq = w->seq;
    memcpy(rec.msg_id, it->d.env.msg_id, NRM_MSGID_BYTES);
    rec.envelope = w->envelope;
    rec.signature = w->signature;
    rec.batch = w->batch;
    rec.sender_cert.data = it->cert_signed;
    rec.sender_cert.len = it->cert_len;
    rec.sealed_body = w->sealed_body;
    rc = agent_in_add(d->store, txn, &rec, err);
    if (rc == 0)
        it->outcome = S_STORED;
    return rc;
}

/* True if c is the certificate this agent uses. */
static bool
s_is_our_cert(const s_daemon_t *d, const nrm_bytes_t *c)
{
    return c->len == d->conn.cert_len && memcmp(c->data, d->conn.cert_signed, c->len) == 0;
}

/* A Welcome with certificates replaces the directory. Its digest is kept
   only when every certificate was kept (the directory held is then the
   broker's whole directory) and ours in it is the one we use: a newer one
   (a rotation) is switched to after this commit (s_rotate), and an agent
   that stops before it has switched must find it in the next Welcome, so
   that Hello must not name this directory. An unchanged Welcome keeps the
   directory, unless it names another directory than ours: then the digest
   is forgotten, and the next Hello asks for the whole directory. */
static int
s_apply_welcome(s_daemon_t *d, MDB_txn *txn, s_item_t *it, nrm_err_t *err)
{
    const nrm_wire_t *w = it->w;
    bool own = false;
    size_t i;
    if (w->unchanged) {
        it->dir_stale = !d->tx_digest_ok
                        || memcmp(w->directory.data, d->tx_digest, NRM_HASH_BYTES) != 0;
        if (!it->dir_stale)
            return 0;
        d->tx_digest_ok = false;
        return agent_dir_digest_drop(d->store, txn, err);
    }
    if (it->dir == NULL && w->count > 0)
        return 0;           /* out of memory while reading it: keep ours */
    for (i = 0; i < it->ndir; i++)
        if (strcmp(it->dir[i].org_id, d->org.id) == 0)
            own = s_is_our_cert(d, &it->dir[i].signed_cert);
    it->dir_named = w->directory.len == NRM_HASH_BYTES && it->nbad == 0 && own;
    d->tx_digest_ok = it->dir_named;
    if (it->dir_named)
        memcpy(d->tx_digest, w->directory.data, NRM_HASH_BYTES);
    return agent_dir_replace(d->store, txn, it->dir, it->ndir,
                             it->dir_named ? w->directory.data : NULL, err);
}

/* A directory delta applies to the directory named `previous` only, and
   only if the result is named `directory` (agent_dir_delta): then the
   directory held is again the broker's, certificate for certificate. Its
   digest is kept on the same terms as a Welcome's (s_apply_welcome): not
   when it changes our own certificate to one we do not use yet. Otherwise
   nothing is written, the digest is forgotten, and the Hello said after
   this commit asks for the whole directory (s_finish_delta). */
static int
s_apply_delta(s_daemon_t *d, MDB_txn *txn, s_item_t *it, nrm_err_t *err)
{
    const nrm_wire_t *w = it->w;
    bool keep = true;
    size_t i;
    int rc;

    it->delta_applied = false;
    it->delta_why = it->delta_bad;
    if (it->delta_why == NULL && !d->tx_digest_ok)
        it->delta_why = "we hold no directory digest";
    else if (it->delta_why == NULL && memcmp(w->previous.data, d->tx_digest, NRM_HASH_BYTES) != 0)
        it->delta_why = "it applies to another directory than ours";
    if (it->delta_why == NULL) {
        for (i = 0; i < it->ndir; i++)
            if (strcmp(it->dir[i].org_id, d->org.id) == 0)
                keep = s_is_our_cert(d, &it->dir[i].signed_cert);
        for (i = 0; i < w->nremoved; i++)
            if (strcmp(w->removed[i], d->org.id) == 0)
                keep = false;
        rc = agent_dir_delta(d->store, txn, it->dir, it->ndir, w->removed, w->nremoved,
                             w->directory.data, keep, &it->delta_applied, err);
        if (rc != 0 && rc != NRM_EINVAL)
            return rc;
        if (!it->delta_applied)
            it->delta_why = "the directory it makes is not the one it names";
    }
    if (!it->delta_applied) {
        d->tx_digest_ok = false;
        return agent_dir_digest_drop(d->store, txn, err);
    }
    it->dir_named = keep;
    d->tx_digest_ok = keep;
    if (keep)
        memcpy(d->tx_digest, w->directory.data, NRM_HASH_BYTES);
    return 0;
}

/* nrm_store_fn: applies the whole batch. May run more than once (map
   growth), so every outcome is set afresh and nothing leaves the txn
   (tx_digest starts again from dir_digest). */
static int
s_apply(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_daemon_t *d = ctx;
    size_t i;
    int rc = 0;

    (void) store;
    d->tx_digest_ok = d->dir_digest_ok;
    memcpy(d->tx_digest, d->dir_digest, NRM_HASH_BYTES);
    for (i = 0; i < d->nbatch && rc == 0; i++) {
        s_item_t *it = &d->batch[i];
        it->outcome = S_NONE;
        switch (it->w->kind) {
        case NRM_WIRE_WELCOME:
            rc = s_apply_welcome(d, txn, it, err);
            break;
        case NRM_WIRE_DIRECTORY_DELTA:
            rc = s_apply_delta(d, txn, it, err);
            break;
        case NRM_WIRE_RECEIPT:
            rc = s_apply_receipt(d, txn, it, err);
            break;
        case NRM_WIRE_DELIVER:
            rc = s_apply_deliver(d, txn, it, err);
            break;
        case NRM_WIRE_STATUS_REPLY:
            rc = s_apply_status(d, txn, it, err);
            break;
        case NRM_WIRE_CHECKPOINT:
            rc = agent_ckpt_judge(d->store, txn, d->conn.broker_sign_pk, d->conn.network, it->w,
                                  d->now_ms, &it->ckpt, err);
            break;
        case NRM_WIRE_NOTICE:
            if (it->notice_ok)
                rc = agent_notice_put(d->store, txn, &it->notice, it->notice_signed,
                                      it->notice_len, &it->notice_new, err);
            break;
        default:
            break;
        }
    }
    return rc;
}

/* Asks the broker for its latest checkpoint and a consistency proof from
   the one we trust. */
static void
s_checkpoint_request(s_daemon_t *d)
{
    MDB_txn *txn = NULL;
    nrm_err_t err = { 0 };
    nrm_bytes_t note;
    nrm_checkpoint_t c;
    uint64_t received;
    nrm_wire_t w;
    memset(&w, 0, sizeof w);
    w.kind = NRM_WIRE_CHECKPOINT_REQUEST;
    if (nrm_store_read_begin(d->store, &txn, &err) == 0
        && agent_ckpt_trusted(d->store, txn, &note, &received, &err) == 0
        && nrm_checkpoint_parse(note.data, note.len, &c, &err) == 0)
        w.old_size = c.size;
    nrm_store_read_end(&txn);
    (void) s_send_wire(d, &w, "checkpoint request");
}

static void
s_finish_checkpoint(s_daemon_t *d, const s_item_t *it)
{
    const agent_ckpt_result_t *r = &it->ckpt;
    switch (r->outcome) {
    case AGENT_CKPT_ACCEPTED:
        if (r->trusted_size)
            nrm_info("checkpoint of %llu records accepted: it extends the one of %llu records",
                     (unsigned long long) r->fresh.size, (unsigned long long) r->trusted_size);
        else
            nrm_info("first checkpoint of the broker's log: %llu records",
                     (unsigned long long) r->fresh.size);
        break;
    case AGENT_CKPT_SAME:
        nrm_debug("checkpoint of %llu records again", (unsigned long long) r->fresh.size);
        break;
    case AGENT_CKPT_NEED_PROOF:
        nrm_debug("checkpoint of %llu records with a proof from %llu; asking from %llu",
                  (unsigned long long) r->fresh.size, (unsigned long long) it->w->old_size,
                  (unsigned long long) r->trusted_size);
        s_checkpoint_request(d);
        break;
    case AGENT_CKPT_INCONSISTENT:
    case AGENT_CKPT_BAD:
        nrm_error("INCONSISTENT CHECKPOINT from the broker: %s; keeping the checkpoint of %llu "
                  "records as trusted; recorded (nrm-agent checkpoint shows it)", r->why,
                  (unsigned long long) r->trusted_size);
        break;
    default:
        break;
    }
}

/* Our own certificate c, if it differs from ours: a rotation took effect.
   The switch waits for the end of this round (s_rotate). */
static void
s_rotated_seen(s_daemon_t *d, const nrm_bytes_t *c)
{
    if (s_is_our_cert(d, c))
        return;
    free(d->rotated);
    d->rotated = malloc(c->len);
    d->rotated_len = 0;
    if (d->rotated == NULL) {
        nrm_error("out of memory keeping our new certificate");
        return;
    }
    memcpy(d->rotated, c->data, c->len);
    d->rotated_len = c->len;
}

static void
s_finish_welcome(s_daemon_t *d, const s_item_t *it)
{
    const nrm_wire_t *w = it->w;
    uint64_t skew;
    size_t i;

    if (w->unchanged && it->dir_stale) {
        /* Not the directory we hold (ours changed since the Hello, or the
           broker is wrong): ask again at once for the whole directory. */
        nrm_warn("welcome without certificates names another directory than ours: "
                 "asking for the whole directory");
        d->dir_digest_ok = false;
        d->last_hello = 0;
        return;
    }
    if (w->unchanged)
        nrm_info("welcome from the broker: the directory we hold is current");
    else
        nrm_info("welcome from the broker: %zu certificates in the directory, %zu refused",
                 it->ndir, it->nbad);
    if (!w->unchanged && !(it->dir == NULL && w->count > 0)) {
        d->dir_digest_ok = it->dir_named;
        if (d->dir_digest_ok)
            memcpy(d->dir_digest, w->directory.data, NRM_HASH_BYTES);
    }
    skew = w->time_ms > d->now_ms ? w->time_ms - d->now_ms : d->now_ms - w->time_ms;
    if (skew > AGENT_SKEW_WARN_MS)
        nrm_warn("this machine's clock differs from the broker's by %llu s",
                 (unsigned long long) (skew / 1000u));
    if (!d->welcomed && d->ninflight > 0)
        nrm_info("resending %zu unanswered messages", d->ninflight);
    d->welcomed = true;
    d->hello_refused = 0;
    for (i = 0; i < d->ninflight; i++) {
        d->inflight[i].sent_ms = 0;
        d->inflight[i].backoff = 0;
    }
    d->last_status = 0;
    for (i = 0; i < it->ndir; i++)
        if (strcmp(it->dir[i].org_id, d->org.id) == 0)
            s_rotated_seen(d, &it->dir[i].signed_cert);
    s_checkpoint_request(d);
}

static void
s_finish_receipt(s_daemon_t *d, const s_item_t *it)
{
    char hex[2 * NRM_MSGID_BYTES + 1];

    if (!it->receipt_ok)
        return;
    s_hex_id(it->receipt.msg_id, hex);
    if (it->outcome == S_RETRY) {
        /* Stays in the window: resent at its next backoff time. The broker
           answered, so it is alive and will have room again once it has
           delivered what it holds: the interval stops growing at 15 s. */
        for (size_t i = 0; i < d->ninflight; i++)
            if (memcmp(d->inflight[i].msg_id, it->receipt.msg_id, NRM_MSGID_BYTES) == 0)
                d->inflight[i].store_full = true;
        nrm_warn("msg %s not accepted yet, the broker's store is full (record %llu): %s; "
                 "sending it again later", hex, (unsigned long long) it->receipt.seq,
                 it->receipt.reason);
        return;
    }
    s_inflight_remove(d, it->receipt.msg_id);
    switch (it->outcome) {
    case S_CHANGED:
        /* debug, counted in the summary (s_summary): the outbox keeps
           the receipt */
        if (it->receipt.status == NRM_R_OK) {
            d->sum_accepted++;
            nrm_debug("msg %s accepted seq %llu", hex, (unsigned long long) it->receipt.seq);
        } else
            nrm_warn("msg %s refused by the broker (seq %llu): %s: %s", hex,
                     (unsigned long long) it->receipt.seq,
                     nrm_reason_name(it->receipt.status), it->receipt.reason);
        break;
    case S_UNKNOWN:
        nrm_warn("receipt for msg %s, which is not in the outbox", hex);
        break;
    default:
        nrm_debug("receipt for msg %s again (already answered)", hex);
        break;
    }
}

static void
s_finish_deliver(s_daemon_t *d, const s_item_t *it)
{
    const nrm_envelope_t *e = &it->d.env;
    char hex[2 * NRM_MSGID_BYTES + 1];
    char bh[2 * NRM_HASH_BYTES + 1];

    if (!it->d.has_env)
        return;
    s_hex_id(e->msg_id, hex);
    switch (it->outcome) {
    case S_STORED:
        /* debug, with a count in the summary: the inbox keeps the
           message, its envelope and the sender's signature */
        d->sum_received++;
        nrm_hex_encode(it->d.body_hash, NRM_HASH_BYTES, bh);
        nrm_debug("received msg %s type %s from %s case %s seq %llu body %s (%u bytes)",
                  hex, e->type, e->sender, e->case_ref, (unsigned long long) it->w->seq,
                  bh, e->body_size);
        s_ack_queue(d, it, NRM_R_OK, "");
        break;
    case S_DUPLICATE:
        nrm_info("msg %s delivered again (seq %llu): already in the inbox, "
                 "acknowledging again", hex, (unsigned long long) it->w->seq);
        s_ack_queue(d, it, NRM_R_OK, "");
        break;
    case S_CONFLICT:
        nrm_error("msg %s delivered (seq %llu) with content that differs from the "
                  "inbox copy; refusing it", hex, (unsigned long long) it->w->seq);
        s_ack_queue(d, it, NRM_R_DUPLICATE,
                    "message id already received with different content");
        break;
    case S_REFUSED:
        s_ack_queue(d, it, it->d.status, it->d.reason);
        break;
    default:
        break;
    }
}

static void
s_finish_status(s_daemon_t *d, const s_item_t *it)
{
    char hex[2 * NRM_MSGID_BYTES + 1];
    size_t i;

    if (it->status_outcome == NULL)
        return;
    for (i = 0; i < it->w->count; i++) {
        const nrm_msg_status_t *s = &it->w->items[i];
        s_hex_id(s->msg_id, hex);
        if (it->status_outcome[i] == S_CHANGED) {
            if (s->state == NRM_MSG_DELIVERED) {
                d->sum_delivered++;
                nrm_debug("msg %s delivered seq %llu", hex,
                          (unsigned long long) s->delivered_seq);
            } else if (s->state == NRM_MSG_PURGED)
                nrm_warn("msg %s not delivered: the broker purged its body after its retention "
                         "(seq %llu)", hex, (unsigned long long) s->delivered_seq);
            else
                nrm_warn("msg %s refused by the recipient (seq %llu)", hex,
                         (unsigned long long) s->delivered_seq);
        } else if (it->status_outcome[i] == S_LOST) {
            nrm_warn("broker does not know accepted msg %s", hex);
        } else if (it->status_outcome[i] == S_UNKNOWN) {
            nrm_debug("status of msg %s, which is not in the outbox", hex);
        }
    }
}

static void
s_finish_delta(s_daemon_t *d, const s_item_t *it)
{
    const nrm_wire_t *w = it->w;
    char from[17], to[17];
    size_t i;

    nrm_hex_encode(w->previous.data, 8, from);
    nrm_hex_encode(w->directory.data, 8, to);
    if (!it->delta_applied) {
        nrm_warn("directory update %s -> %s not applied: %s; asking for the whole directory",
                 from, to, it->delta_why ? it->delta_why : "unknown");
        d->dir_digest_ok = false;
        if (d->welcomed) {
            d->hello_again = true;
            d->last_hello = 0;
        }
        return;
    }
    nrm_info("directory update %s -> %s applied: %zu certificates, %zu removed", from, to,
             it->ndir, w->nremoved);
    d->dir_digest_ok = it->dir_named;
    if (d->dir_digest_ok)
        memcpy(d->dir_digest, w->directory.data, NRM_HASH_BYTES);
    for (i = 0; i < it->ndir; i++)
        if (strcmp(it->dir[i].org_id, d->org.id) == 0)
            s_rotated_seen(d, &it->dir[i].signed_cert);
}

/* Commits the batch; on success acts on it and clears it, else keeps it for
   a retry (nothing has been acknowledged). */
static void
s_batch_commit(s_daemon_t *d, uint64_t mono)
{
    nrm_err_t err = { 0 };
    size_t i;

    d->now_ms = nrm_now_ms();
    if (nrm_store_write(d->store, s_apply, d, &err) != 0) {
        if (d->retry_delay == 0)
            d->retry_delay = AGENT_RETRY_MIN_MS;
        nrm_error("storing %zu messages from the broker failed: %s; nothing was "
                  "acknowledged, retrying in %llu ms", d->nbatch, err.msg,
                  (unsigned long long) d->retry_delay);
        d->batch_pending = true;
        d->retry_at = mono + d->retry_delay;
        d->retry_delay = d->retry_delay * 2 > AGENT_RETRY_MAX_MS ? AGENT_RETRY_MAX_MS
                                                                 : d->retry_delay * 2;
        return;
    }
    d->batch_pending = false;
    d->retry_delay = 0;
    for (i = 0; i < d->nbatch; i++) {
        const s_item_t *it = &d->batch[i];
        switch (it->w->kind) {
        case NRM_WIRE_WELCOME:      s_finish_welcome(d, it); break;
        case NRM_WIRE_DIRECTORY_DELTA: s_finish_delta(d, it); break;
        case NRM_WIRE_RECEIPT:      s_finish_receipt(d, it); break;
        case NRM_WIRE_DELIVER:      s_finish_deliver(d, it); break;
        case NRM_WIRE_STATUS_REPLY: s_finish_status(d, it); break;
        case NRM_WIRE_CHECKPOINT:   s_finish_checkpoint(d, it); break;
        case NRM_WIRE_NOTICE:
            if (it->notice_ok && it->notice_new && it->notice.kind == NRM_NOTICE_PURGED) {
                char hex[2 * NRM_MSGID_BYTES + 1];
                s_hex_id(it->notice.msg_id, hex);
                nrm_warn("purged: %s %s of case %s (%s -> %s) was not delivered within the "
                         "broker's retention; its body is dropped (record %llu)", it->notice.type,
                         hex, it->notice.case_ref, it->notice.sender, it->notice.recipient,
                         (unsigned long long) it->notice.seq);
            } else if (it->notice_ok && it->notice_new) {
                char hex[2 * NRM_MSGID_BYTES + 1];
                s_hex_id(it->notice.msg_id, hex);
                nrm_warn("overdue: %s %s of case %s (%s -> %s) had no answer by its deadline "
                         "(escalated, record %llu)", it->notice.type, hex, it->notice.case_ref,
                         it->notice.sender, it->notice.recipient,
                         (unsigned long long) it->notice.seq);
            }
            break;
        default: break;
        }
    }
    s_ack_sign(d);
    if (d->nbatch > 1)
        nrm_debug("applied %zu messages in one commit", d->nbatch);
    s_batch_clear(d);
}

/* Receives every waiting frame, up to the batch caps, and checks each. */
static void
s_batch_receive(s_daemon_t *d)
{
    while (d->nbatch < AGENT_BATCH_MAX && d->batch_bytes < AGENT_BATCH_BYTES
           && d->nack + d->nbatch < AGENT_ACKQ_MAX) {
        nrm_err_t err = { 0 };
        nrm_wire_t *w = NULL;
        zmq_msg_t m;
        bool more;
        size_t size;
        int rc;

        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d->sock, ZMQ_DONTWAIT) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&m);
            if (e != EAGAIN && e != EINTR)
                nrm_error("receiving from the broker failed: %s", zmq_strerror(e));
            return;
        }
        more = zmq_msg_more(&m) != 0;
        size = zmq_msg_size(&m);
        if (more) {
            /* Our protocol is one frame per message: drop every part. */
            nrm_warn("multi-part message of the broker dropped");
            while (more) {
                zmq_msg_close(&m);
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, d->sock, ZMQ_DONTWAIT) < 0)
                    break;
                more = zmq_msg_more(&m) != 0;
            }
            zmq_msg_close(&m);
            continue;
        }
        rc = nrm_wire_decode(zmq_msg_data(&m), size, false, &w, &err);
        zmq_msg_close(&m);
        if (rc != 0) {
            nrm_warn("frame of %zu bytes from the broker refused: %s: %s", size,
                     nrm_reason_name(err.reason), err.msg);
            continue;
        }
        s_item_t *it = &d->batch[d->nbatch++];
        memset(it, 0, sizeof *it);
        it->w = w;
        d->batch_bytes += size;
        s_prepare(d, it);
    }
}

/* ---- socket monitor ---- */

static void
s_monitor_drain(s_daemon_t *d)
{
    for (;;) {
        zmq_msg_t m;
        uint16_t event;
        uint32_t value;
        uint8_t head[6] = { 0 };
        bool ok;

        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, d->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        ok = zmq_msg_size(&m) == 6 && zmq_msg_more(&m);
        if (ok)
            memcpy(head, zmq_msg_data(&m), 6);
        while (zmq_msg_more(&m)) {           /* the address frame */
            zmq_msg_close(&m);
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, d->mon, ZMQ_DONTWAIT) < 0)
                break;
        }
        zmq_msg_close(&m);
        if (!ok)
            continue;
        memcpy(&event, head, 2);
        memcpy(&value, head + 2, 4);
        switch (event) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            /* Only a disconnect clears `welcomed`: this event may be read
               after the Welcome of the same connection. */
            nrm_info("connected to the broker at %s", d->conn.endpoint);
            d->connected = true;
            if (!d->welcomed)
                d->last_hello = 0;
            d->last_failure = 0;
            break;
        case ZMQ_EVENT_DISCONNECTED:
            if (d->connected)
                nrm_warn("disconnected from the broker; reconnecting");
            d->connected = false;
            d->welcomed = false;
            d->last_hello = 0;
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            if (d->last_failure != event)
                nrm_error("the broker refused this organisation (ZAP status %u): is it "
                          "enrolled and not revoked, and is secret.keys the enrolled "
                          "one?", value);
            d->last_failure = event;
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
            if (d->last_failure != event)
                nrm_error("CURVE handshake with the broker failed (%s 0x%x): check "
                          "[broker] curve_public in connect.ini",
                          event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol error"
                                                                        : "no detail",
                          value);
            d->last_failure = event;
            break;
        default:
            nrm_debug("socket event 0x%x (%u)", event, value);
            break;
        }
    }
}

/* ---- setup and the loop ---- */

static int
s_socket_open(s_daemon_t *d, nrm_err_t *err)
{
    int linger = 0, hb_ivl = 1000, hb_timeout = 5000, hb_ttl = 10000;
    int immediate = 1;
    /* Reconnection backs off from ~100 ms to ~5 s (libzmq doubles the
       interval and adds up to one base interval at random each time). The
       base and the cap are drawn per process too, so that many agents cut
       off by one broker restart do not all come back at the same moment. */
    uint8_t r[2];
    nrm_random(r, sizeof r);
    int reconnect = 100 + r[0] % 200, reconnect_max = 5000 + (r[1] % 64) * 50;
    int64_t maxmsg = (int64_t) NRM_HARD_FRAME_BYTES;
    int events = ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
               | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
               | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
               | ZMQ_EVENT_CONNECT_RETRIED;

    d->zctx = zmq_ctx_new();
    if (d->zctx == NULL)
        return nrm_err_set(err, NRM_ENET, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
    d->sock = zmq_socket(d->zctx, ZMQ_DEALER);
    if (d->sock == NULL)
        return nrm_err_set(err, NRM_ENET, "zmq_socket: %s", zmq_strerror(zmq_errno()));
    if (zmq_setsockopt(d->sock, ZMQ_CURVE_SERVERKEY, d->conn.broker_curve_pk, 32) != 0
        || zmq_setsockopt(d->sock, ZMQ_CURVE_PUBLICKEY, nrm_keys_curve_pk(d->keys), 32) != 0
        || zmq_setsockopt(d->sock, ZMQ_CURVE_SECRETKEY, nrm_keys_curve_sk(d->keys), 32) != 0)
        return nrm_err_set(err, NRM_ENET, "cannot set CURVE keys: %s (is libzmq built "
                           "with CURVE?)", zmq_strerror(zmq_errno()));
    if (zmq_setsockopt(d->sock, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_setsockopt(d->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0
        || zmq_setsockopt(d->sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl) != 0
        || zmq_setsockopt(d->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) != 0
        || zmq_setsockopt(d->sock, ZMQ_HEARTBEAT_TTL, &hb_ttl, sizeof hb_ttl) != 0
        || zmq_setsockopt(d->sock, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect) != 0
        || zmq_setsockopt(d->sock, ZMQ_RECONNECT_IVL_MAX, &reconnect_max,
                          sizeof reconnect_max) != 0
        /* Frames wait in our store, not in a pipe to a dead connection. */
        || zmq_setsockopt(d->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate) != 0)
        return nrm_err_set(err, NRM_ENET, "zmq_setsockopt: %s", zmq_strerror(zmq_errno()));
    if (zmq_socket_monitor(d->sock, AGENT_MONITOR_EP, events) != 0)
        return nrm_err_set(err, NRM_ENET, "zmq_socket_monitor: %s", zmq_strerror(zmq_errno()));
    d->monitoring = true;
    d->mon = zmq_socket(d->zctx, ZMQ_PAIR);
    if (d->mon == NULL
        || zmq_setsockopt(d->mon, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_connect(d->mon, AGENT_MONITOR_EP) != 0)
        return nrm_err_set(err, NRM_ENET, "socket monitor: %s", zmq_strerror(zmq_errno()));
    if (zmq_connect(d->sock, d->conn.endpoint) != 0)
        return nrm_err_set(err, NRM_ENET, "cannot connect to broker endpoint '%s': %s",
                           d->conn.endpoint, zmq_strerror(zmq_errno()));
    return 0;
}

static void
s_socket_close(s_daemon_t *d)
{
    size_t i;

    for (i = 0; i < d->nack; i++)
        free((void *) d->ackq[i].data);
    d->nack = 0;
    if (d->monitoring)
        (void) zmq_socket_monitor(d->sock, NULL, 0);
    if (d->mon != NULL)
        zmq_close(d->mon);
    if (d->sock != NULL)
        zmq_close(d->sock);
    if (d->zctx != NULL)
        zmq_ctx_term(d->zctx);
    d->mon = d->sock = d->zctx = NULL;
}

static void
s_retired_clear(s_daemon_t *d)
{
    while (d->nretired > 0)
        nrm_keys_destroy(&d->retired[--d->nretired]);
}

/* Switches to the keys of a rotation when the broker's directory holds
   our new certificate: ORG/certificate.nrm, then the key files
   (agent_keys_settle), then the keys in memory, then a new connection with
   the new CURVE key. Returns 0 (also when there is nothing to switch to),
   or an error when the key files could not be switched: the daemon stops,
   and its next start finishes the switch. */
static int
s_rotate(s_daemon_t *d, nrm_err_t *err)
{
    nrm_cert_t cur, cert;
    nrm_err_t why = { 0 };
    char path[AGENT_PATH_MAX];
    MDB_txn *txn = NULL;
    int rc = 0;
    size_t i;

    if (nrm_cert_verify_signed(d->rotated, d->rotated_len, &d->conn.genesis, &cert, &why) != 0
        || nrm_cert_verify_signed(d->conn.cert_signed, d->conn.cert_len, &d->conn.genesis, &cur,
                                  &why) != 0) {
        nrm_error("our certificate from the broker does not verify: %s", why.msg);
        goto out;
    }
    if (cert.serial <= cur.serial)
        goto out;
    if (d->next == NULL && agent_keys_next(d->dir, &d->next, &why) != 0) {
        nrm_error("a rotated certificate (serial %llu) arrived, but %s: %s",
                  (unsigned long long) cert.serial, AGENT_NEXT_KEYS, why.msg);
        goto out;
    }
    if (d->next == NULL
        || memcmp(cert.sign_pk, nrm_keys_sign_pk(d->next), NRM_PK_BYTES) != 0) {
        nrm_error("the broker's directory holds a newer certificate of %s (serial %llu) whose "
                  "keys are not those of %s: not switching", d->org.id,
                  (unsigned long long) cert.serial, AGENT_NEXT_KEYS);
        goto out;
    }
    rc = agent_org_path(path, d->dir, AGENT_CERT_FILE, err);
    if (rc == 0)
        rc = nrm_file_write(path, d->rotated, d->rotated_len, 0644, err);
    if (rc == 0)
        rc = agent_keys_settle(d->dir, &cert, &d->keys, err);
    if (rc != 0) {
        nrm_err_prefix(err, "switching to the rotated keys");
        goto out;
    }
    nrm_keys_destroy(&d->next);
    s_retired_clear(d);
    if ((rc = agent_keys_retired(d->dir, d->retired, AGENT_RETIRED_MAX, &d->nretired, err)) != 0)
        goto out;
    free(d->conn.cert_signed);
    d->conn.cert_signed = d->rotated;
    d->conn.cert_len = d->rotated_len;
    d->rotated = NULL;
    if (nrm_store_read_begin(d->store, &txn, &why) == 0) {
        for (i = 0; i < d->ninflight; i++)
            s_classify(d, txn, &d->inflight[i]);
        nrm_store_read_end(&txn);
    }
    for (i = 0; i < d->ninflight && !d->inflight[i].old_key; i++)
        ;
    nrm_info("key rotation: certificate serial %llu in force, signing with the new key%s; "
             "reconnecting with the new CURVE key", (unsigned long long) cert.serial,
             i < d->ninflight ? " once the messages signed with the old one are answered" : "");
    s_socket_close(d);
    d->connected = d->welcomed = false;
    d->last_hello = 0;
    rc = s_socket_open(d, err);
out:
    free(d->rotated);
    d->rotated = NULL;
    return rc;
}

/* Retention: ORG/org.ini [retention] inbox_days, applied every minute. */
static void
s_purge_tick(s_daemon_t *d, uint64_t mono)
{
    nrm_err_t err = { 0, 0, "" };
    size_t n = 0;
    if (d->org.retention_days == 0 || (d->last_purge && mono - d->last_purge < AGENT_PURGE_MS))
        return;
    d->last_purge = mono;
    if (agent_purge_run(d->store, d->org.retention_days * 86400000u, &n, &err) != 0)
        nrm_error("retention: purging old bodies failed: %s", err.msg);
    else if (n)
        nrm_info("retention: purged the bodies of %zu messages older than %llu days", n,
                 (unsigned long long) d->org.retention_days);
}

/* One info line on the traffic of the last AGENT_SUMMARY_MS while there
   is some, and one at the end (last): the lines per message are at debug.
   Refusals, redeliveries and everything else unusual keep their own
   lines. */
static void
s_summary(s_daemon_t *d, uint64_t mono, bool last)
{
    if (!(d->sum_accepted || d->sum_delivered || d->sum_received)) {
        d->sum_ms = mono;               /* idle: the next period starts now */
        return;
    }
    if (!last && mono - d->sum_ms < AGENT_SUMMARY_MS)
        return;
    nrm_info("last %llu s: %llu of our messages accepted by the broker, %llu delivered; "
             "%llu messages received", (unsigned long long) ((mono - d->sum_ms + 500) / 1000),
             (unsigned long long) d->sum_accepted, (unsigned long long) d->sum_delivered,
             (unsigned long long) d->sum_received);
    d->sum_accepted = d->sum_delivered = d->sum_received = 0;
    d->sum_ms = mono;
}

/* Lowers *wait to the time left until `at` (0 when it is due). */
static void
s_sooner(uint64_t *wait, uint64_t mono, uint64_t at)
{
    uint64_t left = at > mono ? at - mono : 0;
    if (left < *wait)
        *wait = left;
}

/* How long zmq_poll may sleep: until the earliest deadline of what the
   loop does on its own -- the Hello (not welcomed), resends and status
   queries (welcomed), retention, the retry of a failed commit, the timers
   of the API and hooks -- and at most AGENT_SCAN_MS, the outbox scan that
   finds entries whose poke was lost. Frames, monitor events, pokes and
   HTTP requests wake it anyway. What was due but could not go in the last
   round (the socket would not take a resend or an acknowledgement, or a
   key rotation holds entries back) is tried again after AGENT_BUSY_MS. */
static long
s_next_wait(const s_daemon_t *d, uint64_t mono)
{
    uint64_t wait = AGENT_SCAN_MS;
    long integ;
    size_t i;

    if (!d->welcomed || d->hello_again)
        s_sooner(&wait, mono, s_hello_at(d));
    if (d->welcomed) {
        for (i = 0; i < d->ninflight; i++) {
            uint64_t at = s_due_at(&d->inflight[i]);
            s_sooner(&wait, mono, at > mono ? at : mono + AGENT_BUSY_MS);
        }
        s_sooner(&wait, mono, d->last_status + AGENT_STATUS_MS);
    }
    if (d->org.retention_days != 0)
        s_sooner(&wait, mono, d->last_purge + AGENT_PURGE_MS);
    if (d->batch_pending)
        s_sooner(&wait, mono, d->retry_at);
    if (d->nack > 0)
        s_sooner(&wait, mono, mono + AGENT_BUSY_MS);
    integ = agent_integ_wait_ms(d->integ);
    if (integ >= 0 && (uint64_t) integ < wait)
        wait = (uint64_t) integ;
    return (long) wait;
}

static int
s_loop(s_daemon_t *d, nrm_err_t *err)
{
    while (!s_stop) {
        /* No frame is taken while a failed batch waits for its retry or
           the acknowledgement queue is full: not polling the socket then
           keeps the loop from spinning on frames it will not read. */
        bool take = !d->batch_pending && d->nack < AGENT_ACKQ_MAX;
        zmq_pollitem_t items[3 + AGENT_INTEG_FDS] = {
            { d->sock, 0, take ? ZMQ_POLLIN : 0, 0 },
            { d->mon, 0, ZMQ_POLLIN, 0 },
            { NULL, d->wake_fd, ZMQ_POLLIN, 0 },
        };
        int fds[AGENT_INTEG_FDS];
        size_t nfds = agent_integ_fds(d->integ, fds);
        uint64_t mono = s_mono_ms();

        for (size_t i = 0; i < nfds; i++)
            items[3 + i] = (zmq_pollitem_t) { NULL, fds[i], ZMQ_POLLIN, 0 };
        if (zmq_poll(items, 3 + (int) nfds, s_next_wait(d, mono)) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            return nrm_err_set(err, NRM_ENET, "zmq_poll: %s", zmq_strerror(zmq_errno()));
        }
        mono = s_mono_ms();
        d->now_ms = nrm_now_ms();
        /* Pokes only say "look at the outbox", which this round does
           (s_outbox_tick) after reading them all: many are one look. */
        if (items[2].revents & ZMQ_POLLIN) {
            size_t pokes = agent_wake_drain(d->wake_fd, AGENT_WAKE_DRAIN);
            nrm_debug("outbox poked (%zu)", pokes);
        }
        if (items[1].revents & ZMQ_POLLIN)
            s_monitor_drain(d);
        if (d->batch_pending) {
            if (mono >= d->retry_at)
                s_batch_commit(d, mono);
        } else if (items[0].revents & ZMQ_POLLIN) {
            s_batch_receive(d);
            if (d->nbatch > 0)
                s_batch_commit(d, mono);
        }
        s_ack_flush(d);
        if (d->rotated != NULL && s_rotate(d, err) != 0)
            return -1;
        d->now_ms = nrm_now_ms();
        s_hello_tick(d, mono);
        s_purge_tick(d, mono);
        agent_integ_tick(d->integ, d->now_ms, &(agent_link_t) { d->connected, d->welcomed,
                                                                 d->ninflight });
        if (d->welcomed) {
            s_outbox_tick(d, mono);
            s_status_tick(d, mono);
        }
        s_summary(d, mono, false);
    }
    s_summary(d, s_mono_ms(), true);
    return 0;
}

/* One daemon per organisation folder: a second one would share the CURVE
   identity and race the first. The lock is released when the process ends,
   however it ends. */
static int
s_lock(s_daemon_t *d, nrm_err_t *err)
{
    char path[AGENT_PATH_MAX];
    struct flock fl;
    int rc;

    rc = agent_org_path(path, d->dir, "agent.lock", err);
    if (rc != 0)
        return rc;
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d->lock_fd < 0)
        return nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(d->lock_fd, F_SETLK, &fl) == 0)
        return 0;
    if (errno != EACCES && errno != EAGAIN)
        return nrm_err_set(err, NRM_EIO, "cannot lock %s: %s", path, strerror(errno));
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(d->lock_fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
        return nrm_err_set(err, NRM_EEXIST, "another `nrm-agent run` (pid %ld) is already "
                           "running for %s", (long) fl.l_pid, d->dir);
    return nrm_err_set(err, NRM_EEXIST, "another `nrm-agent run` is already running for %s",
                       d->dir);
}

/* jansson's free: wipe first, so no document text stays in freed memory. */
static void
s_json_free(void *p)
{
    if (p == NULL)
        return;
    explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

/* --check-config: every file the agent reads at start, checked as it
   would be, without taking the lock or opening the store. */
static int
s_check_config(s_daemon_t *d, nrm_err_t *err)
{
    nrm_policy_t *policy = NULL;
    int rc = nrm_crypto_init();
    if (rc != 0)
        return nrm_err_set(err, rc, "libsodium could not be initialised");
    rc = agent_org_load(d->dir, &d->org, err);
    if (rc == 0)
        rc = agent_conf_load(d->dir, d->config, &d->conf, err);
    if (rc == 0)
        rc = agent_identity_load(d->dir, &d->org, &d->keys, &d->conn, err);
    if (rc == 0)
        rc = agent_policy_load(d->dir, &policy, err);
    nrm_policy_free(&policy);
    return rc;
}

static int
s_run(s_daemon_t *d, const char *endpoint, int level, int format, nrm_err_t *err)
{
    struct sigaction sa;
    MDB_txn *txn = NULL;
    const char *drop;
    int rc;

    rc = nrm_crypto_init();
    if (rc != 0)
        return nrm_err_set(err, rc, "libsodium could not be initialised");
    rc = agent_org_load(d->dir, &d->org, err);
    if (rc != 0)
        return rc;
    rc = agent_conf_load(d->dir, d->config, &d->conf, err);
    if (rc != 0)
        return rc;
    rc = agent_identity_load(d->dir, &d->org, &d->keys, &d->conn, err);
    if (rc != 0)
        return rc;
    rc = agent_keys_retired(d->dir, d->retired, AGENT_RETIRED_MAX, &d->nretired, err);
    if (rc == 0)
        rc = agent_keys_next(d->dir, &d->next, err);
    if (rc != 0)
        return rc;
    rc = s_lock(d, err);
    if (rc != 0)
        return rc;
    if (endpoint != NULL)
        snprintf(d->conn.endpoint, sizeof d->conn.endpoint, "%s", endpoint);
    nrm_log_init("agent", d->org.id, level >= 0 ? level : d->conf.log_level);
    nrm_log_set_format(format >= 0 ? format : d->conf.log_format);
    json_set_alloc_funcs(malloc, s_json_free);
    rc = agent_store_open(d->dir, 0, &d->store, err);
    if (rc != 0)
        return rc;
    rc = nrm_store_read_begin(d->store, &txn, err);
    if (rc != 0)
        return rc;
    rc = agent_dir_digest(d->store, txn, d->dir_digest, err);
    nrm_store_read_end(&txn);
    d->dir_digest_ok = rc == 0;
    if (rc != 0 && rc != NRM_ENOTFOUND)
        return rc;
    d->batch = calloc(AGENT_BATCH_MAX, sizeof *d->batch);
    d->certs = agent_certcache_new(AGENT_CERTS_CACHED);
    d->seals = nrm_sealcache_new(AGENT_SEALS_CACHED);
    if (d->batch == NULL || d->certs == NULL || d->seals == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    drop = getenv("NRM_TEST_DROP_ACKS");
    d->drop_acks = drop != NULL && strcmp(drop, "1") == 0;
    if (d->drop_acks)
        nrm_warn("NRM_TEST_DROP_ACKS=1: deliveries are stored but never acknowledged");

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rc = agent_integ_open(d->dir, &d->conf, d->org.id, d->store, &d->integ, err);
    if (rc != 0)
        return rc;
    rc = agent_wake_listen(d->dir, &d->wake_fd, err);
    if (rc != 0)
        return rc;
    rc = s_socket_open(d, err);
    if (rc != 0)
        return rc;
    nrm_info("agent of %s (%s) started: network %s, broker %s", d->org.id, d->org.type,
             d->conn.network, d->conn.endpoint);
    rc = s_loop(d, err);
    if (rc == 0)
        nrm_info("stopping (%zu messages waiting for a receipt)", d->ninflight);
    return rc;
}

int
agent_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "endpoint", required_argument, NULL, 'e' },
        { "log-level", required_argument, NULL, 'l' },
        { "log-format", required_argument, NULL, 'f' },
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *endpoint = NULL;
    int level = -1, format = -1;
    bool check = false;
    nrm_err_t err = { 0 };
    s_daemon_t *d;
    int rc;

    d = calloc(1, sizeof *d);
    if (d == NULL) {
        fprintf(stderr, "nrm-agent run: out of memory\n");
        return AGENT_EXIT_ERROR;
    }
    d->lock_fd = -1;
    d->wake_fd = -1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd': d->dir = optarg; break;
        case 'e': endpoint = optarg; break;
        case 'l':
            level = nrm_log_level_parse(optarg);
            if (level < 0) {
                free(d);
                return agent_usage_error(s_cmd, "--log-level '%s' is not one of error, "
                                         "warn, info, debug", optarg);
            }
            break;
        case 'f':
            format = nrm_log_format_parse(optarg);
            if (format < 0) {
                free(d);
                return agent_usage_error(s_cmd, "--log-format '%s' is not one of text, kv, "
                                         "json", optarg);
            }
            break;
        case 'c': d->config = optarg; break;
        case 'C': check = true; break;
        case 'h': s_help(stdout); free(d); return AGENT_EXIT_OK;
        default:  free(d); return agent_opt_error(s_cmd, c, argv);
        }
    }
    rc = AGENT_EXIT_OK;
    if (optind < argc)
        rc = agent_usage_error(s_cmd, "unexpected argument '%s'", argv[optind]);
    else if (d->dir == NULL || d->dir[0] == '\0')
        rc = agent_usage_error(s_cmd, "--dir is required");
    else if (endpoint != NULL && (endpoint[0] == '\0'
                                  || strlen(endpoint) >= AGENT_ENDPOINT_MAX))
        rc = agent_usage_error(s_cmd, "--endpoint must be 1-%d characters",
                               AGENT_ENDPOINT_MAX - 1);
    if (rc != AGENT_EXIT_OK) {
        free(d);
        return rc;
    }
    if (check) {
        if (s_check_config(d, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            rc = AGENT_EXIT_ERROR;
        } else {
            printf("configuration of %s is valid\n", d->dir);
        }
    } else if (s_run(d, endpoint, level, format, &err) != 0) {
        rc = agent_fail(s_cmd, &err);
    }
    agent_integ_destroy(&d->integ);
    s_batch_clear(d);
    free(d->batch);
    agent_certcache_destroy(&d->certs);
    nrm_sealcache_destroy(&d->seals);   /* wipes the shared keys */
    s_socket_close(d);
    nrm_store_destroy(&d->store);
    agent_connect_clear(&d->conn);
    nrm_keys_destroy(&d->keys);
    nrm_keys_destroy(&d->next);
    s_retired_clear(d);
    free(d->rotated);
    agent_wake_close(d->dir, &d->wake_fd);      /* while the lock is held */
    if (d->lock_fd >= 0)
        close(d->lock_fd);
    free(d);
    return rc;
}
