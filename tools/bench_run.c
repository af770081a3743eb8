/*  bench_run -- nrm-bench's driver threads, load steps, rows and the
    exactly-once check (see bench_nrm.h).

    Timing: a handoff starts when agent_sender_send has returned (the
    message is committed to the sender's outbox: `send` accepted it). The
    pair's thread then looks at the sender's outbox and the recipient's
    inbox once either store has a newer commit (s_moved: it is woken by
    inotify IN_MODIFY, as every LMDB commit writes its pages and meta page
    with pwrite), at most once per poll interval, and stamps each message
    when it first sees it accepted (broker receipt stored), in the inbox,
    and delivered (the broker logged DELIVERED and told the sender). A new
    read transaction sees a commit only after its meta page's O_DSYNC
    write has returned, so a stamp is never early; it is late by the
    wake-up and the look (tens of microseconds), and by up to the poll
    interval when the commit came just after a look. */
#include "bench_nrm.h"
#include "agent_send.h"
#include "agent_store.h"
#include "nrm_util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_DIR_WAIT_S    30       /* for the sender's directory (Welcome)   */
#define S_IDLE_WAIT_NS  5000000L /* longest sleep between looks            */
#define S_PUBLISH_NS    10000L   /* a written commit not yet readable: again */
#define S_PUBLISH_TRIES 20       /* ... at most this often in one look      */

typedef struct {
    uint8_t id[NRM_MSGID_BYTES];
    double  t_send, t_acc, t_in, t_done;
    bool    acc, in, done;
} s_slot_t;

typedef struct s_bench_t s_bench_t;

typedef struct {
    s_bench_t      *b;
    unsigned        idx;
    pthread_t       tid;
    bool            started;
    char            sdir[BENCH_BIN_MAX + 16], rdir[BENCH_BIN_MAX + 16];
    char            rid[NRM_ID_MAX + 1], case_ref[NRM_ID_MAX + 1];
    agent_sender_t *snd;
    nrm_store_t    *rstore;
    int             ino;
    uint64_t        read_txn[2];           /* sender's, recipient's last look */
    s_slot_t       *slots;
    size_t          nslots;
    uint8_t        *docs;                  /* send_batch documents of body bytes */
    agent_send_req_t *reqs;
    uint8_t       (*newids)[NRM_MSGID_BYTES];
    uint64_t        seq;
    /* the step being run */
    double         *lat_acc, *lat_in, *lat_done;
    size_t          nlat, cap_lat;
    double          t_first, t_last;
    /* every message sent, for the exactly-once check */
    uint8_t       (*ids)[NRM_MSGID_BYTES];
    size_t          nids, cap_ids;
    /* exactly-once results */
    uint64_t        in_count, missing, dup, unexpected, out_delivered, out_other;
    int             rc;
    nrm_err_t       err;
} s_pair_t;

struct s_bench_t {
    const bench_opts_t *o;
    bench_net_t         net;
    s_pair_t           *pairs;
    pthread_barrier_t   bar;
    /* the step every thread runs next */
    uint64_t            quota;       /* messages per pair */
    double              rate;        /* per pair, msg/s; 0 = closed loop */
    unsigned            window;
    bool                single;      /* only pair 0 sends */
    bool                last;        /* no more steps: check and leave */
    atomic_int          failed;
};

static volatile sig_atomic_t s_interrupted;

static void
s_on_signal(int sig)
{
    (void) sig;
    s_interrupted = 1;
}

static int
s_fail(s_pair_t *p, int rc)
{
    p->rc = rc;
    atomic_store(&p->b->failed, 1);
    return rc;
}

/* Most messages one send call passes: --send-batch, or the window under
   auto. */
static unsigned
s_send_most(const bench_opts_t *o)
{
    return o->send_batch == BENCH_SEND_AUTO ? o->window : o->send_batch;
}

/* ---- setting up one pair ---- */

static int
s_watch(s_pair_t *p, const char *dir, nrm_err_t *err)
{
    char path[BENCH_BIN_MAX + 32];

    if (nrm_path(path, sizeof path, "%s/data/data.mdb", dir) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    if (inotify_add_watch(p->ino, path, IN_MODIFY) < 0)
        return nrm_err_set(err, NRM_EIO, "inotify %s: %s", path, strerror(errno));
    return 0;
}

/* Waits until the sender's directory (from the broker's Welcome) holds the
   recipient, so that send can seal to it. */
static int
s_wait_directory(s_pair_t *p, nrm_err_t *err)
{
    nrm_store_t *store = agent_sender_store(p->snd);
    double end = bench_now() + S_DIR_WAIT_S;

    for (;;) {
        MDB_txn *txn = NULL;
        nrm_bytes_t cert;
        int rc = nrm_store_read_begin(store, &txn, err);
        if (rc != 0)
            return rc;
        rc = agent_dir_get(store, txn, p->rid, &cert, err);
        nrm_store_read_end(&txn);
        if (rc == 0)
            return 0;
        if (rc != NRM_ENOTFOUND)
            return rc;
        if (bench_now() > end || s_interrupted)
            return nrm_err_set(err, NRM_EIO, "%s did not get %s into its directory within "
                               "%d s: did its agent connect? (see %s.log)", p->sdir, p->rid,
                               S_DIR_WAIT_S, p->sdir);
        nanosleep(&(struct timespec){ 0, 20000000L }, NULL);
    }
}

static int
s_pair_open(s_pair_t *p)
{
    const bench_opts_t *o = p->b->o;
    nrm_err_t *err = &p->err;
    size_t i;
    int rc;

    if (bench_org_dir(&p->b->net, true, p->idx, p->sdir, sizeof p->sdir) != 0
        || bench_org_dir(&p->b->net, false, p->idx, p->rdir, sizeof p->rdir) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    bench_org_id(false, p->idx, p->rid, sizeof p->rid);
    snprintf(p->case_ref, sizeof p->case_ref, "bench-case-%u", p->idx);
    p->slots = calloc(BENCH_WINDOW_MAX, sizeof *p->slots);
    unsigned most = s_send_most(o);
    p->docs = malloc((size_t) most * o->body);
    p->reqs = calloc(most, sizeof *p->reqs);
    p->newids = calloc(most, sizeof *p->newids);
    if (p->slots == NULL || p->docs == NULL || p->reqs == NULL || p->newids == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    for (i = 0; i < most; i++) {
        p->reqs[i].to = p->rid;
        p->reqs[i].type = "referral";
        p->reqs[i].case_ref = p->case_ref;
        p->reqs[i].doc = p->docs + i * o->body;
        p->reqs[i].doc_len = o->body;
    }
    rc = agent_sender_open(p->sdir, &p->snd, err);
    if (rc == 0)
        rc = agent_store_open(p->rdir, 0, &p->rstore, err);
    if (rc != 0)
        return rc;
    p->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (p->ino < 0)
        return nrm_err_set(err, NRM_EIO, "inotify_init1: %s", strerror(errno));
    rc = s_watch(p, p->sdir, err);
    if (rc == 0)
        rc = s_watch(p, p->rdir, err);
    if (rc == 0)
        rc = s_wait_directory(p, err);
    return rc;
}

static void
s_pair_close(s_pair_t *p)
{
    agent_sender_destroy(&p->snd);
    nrm_store_destroy(&p->rstore);
    if (p->ino > 0)
        close(p->ino);
    p->ino = -1;
    free(p->slots);
    free(p->docs);
    free(p->reqs);
    free(p->newids);
    free(p->lat_acc);
    free(p->lat_in);
    free(p->lat_done);
    free(p->ids);
    p->slots = NULL;
    p->docs = NULL;
    p->reqs = NULL;
    p->newids = NULL;
    p->lat_acc = p->lat_in = p->lat_done = NULL;
    p->ids = NULL;
}

/* ---- one step ---- */

/* A referral document of the body schema (docs/referrals.md): routine, an
   adult, consent given; its narrative is padded so that the JSON text is
   exactly body bytes. The sequence number makes every document unique. */
#define BENCH_DOC_HEAD \
    "{\"document\":\"referral\",\"schema_version\":1," \
    "\"cas_ReferringOrganisation\":\"police\",\"cas_ReferredOrganisation\":\"msdhs\"," \
    "\"cas_ReasonForOutgoingReferral\":\"AdditionalServicesRequired\"," \
    "\"person\":{\"ext_AgeYears\":30,\"prs_Gender\":\"Feminine\",\"prs_Citizenship\":[\"KH\"]}," \
    "\"request\":{\"ext_Service\":\"shelter\",\"ext_RiskLevel\":\"low\",\"ext_Urgency\":\"3d\"}," \
    "\"consent\":{\"con_Consent\":true,\"ext_ConsentToServices\":true," \
    "\"ext_ConsentToSharing\":[\"msdhs\"],\"ext_GivenBy\":\"victim\"}," \
    "\"narrative_summary\":\"bench %llu "

static void
s_fill_doc(s_pair_t *p, size_t i)
{
    unsigned body = p->b->o->body;
    char *d = (char *) p->docs + i * body;
    int head = snprintf(d, body, BENCH_DOC_HEAD, (unsigned long long) ++p->seq);

    memset(d + head, 'x', body - (size_t) head - 2);
    d[body - 2] = '"';
    d[body - 1] = '}';
}

static int
s_send(s_pair_t *p, size_t n, nrm_err_t *err)
{
    size_t i;
    double t;
    int rc;

    if (p->nids + n > p->cap_ids) {
        size_t cap = p->cap_ids ? p->cap_ids * 2 : 1024;
        void *ids;
        while (cap < p->nids + n)
            cap *= 2;
        ids = realloc(p->ids, cap * sizeof *p->ids);
        if (ids == NULL)
            return nrm_err_set(err, NRM_ENOMEM, "out of memory");
        p->ids = ids;
        p->cap_ids = cap;
    }
    for (i = 0; i < n; i++)
        s_fill_doc(p, i);
    rc = agent_sender_send(p->snd, p->reqs, n, p->newids, err);
    if (rc != 0) {
        nrm_err_prefix(err, "send from %s", p->sdir);
        return rc;
    }
    t = bench_now();
    for (i = 0; i < n; i++) {
        s_slot_t *s = &p->slots[p->nslots++];
        memset(s, 0, sizeof *s);
        memcpy(s->id, p->newids[i], NRM_MSGID_BYTES);
        s->t_send = t;
        memcpy(p->ids[p->nids++], p->newids[i], NRM_MSGID_BYTES);
    }
    return 0;
}

/* Begins a read of store whose snapshot is the newest commit written: the
   writer publishes a commit to new readers microseconds after its meta
   page is written, so a read begun in between is taken again a little
   later (a few times at most). Sets *id to the snapshot read. */
static int
s_read_newest(nrm_store_t *store, MDB_txn **txn, uint64_t *id, nrm_err_t *err)
{
    for (int tries = 0;; tries++) {
        int rc = nrm_store_read_begin(store, txn, err);
        if (rc != 0)
            return rc;
        *id = mdb_txn_id(*txn);
        if (*id >= nrm_store_last_txn(store) || tries == S_PUBLISH_TRIES)
            return 0;
        nrm_store_read_end(txn);
        nanosleep(&(struct timespec){ 0, S_PUBLISH_NS }, NULL);
    }
}

/* One look at both stores; completed handoffs leave the window. */
static int
s_look(s_pair_t *p, uint64_t *done, nrm_err_t *err)
{
    nrm_store_t *ss = agent_sender_store(p->snd);
    MDB_txn *txn = NULL;
    size_t i;
    double t;
    int rc;

    rc = s_read_newest(ss, &txn, &p->read_txn[0], err);
    if (rc != 0)
        return rc;
    for (i = 0; i < p->nslots; i++) {
        s_slot_t *s = &p->slots[i];
        agent_out_t rec;
        rc = agent_out_find(ss, txn, s->id, &rec, err);
        if (rc != 0)
            break;
        if (rec.state == AGENT_OUT_ACCEPTED || rec.state == AGENT_OUT_DELIVERED) {
            /* Stamped after the read (-1 marks "seen in this look"). */
            if (!s->acc) {
                s->acc = true;
                s->t_acc = -1;
            }
            if (rec.state == AGENT_OUT_DELIVERED && !s->done) {
                s->done = true;
                s->t_done = -1;
            }
        } else if (rec.state != AGENT_OUT_QUEUED) {
            rc = nrm_err_set(err, NRM_EINVAL, "message refused (%s): %s: %s",
                             agent_out_state_name(rec.state),
                             nrm_reason_name(rec.reason_code), rec.reason);
            break;
        }
    }
    nrm_store_read_end(&txn);
    if (rc != 0)
        return rc;
    t = bench_now();
    for (i = 0; i < p->nslots; i++) {
        if (p->slots[i].t_acc < 0)
            p->slots[i].t_acc = t;
        if (p->slots[i].t_done < 0)
            p->slots[i].t_done = t;
    }
    rc = s_read_newest(p->rstore, &txn, &p->read_txn[1], err);
    if (rc != 0)
        return rc;
    for (i = 0; i < p->nslots; i++) {
        s_slot_t *s = &p->slots[i];
        agent_in_t rec;
        if (s->in)
            continue;
        rc = agent_in_find(p->rstore, txn, s->id, &rec, err);
        if (rc == NRM_ENOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc != 0)
            break;
        s->in = true;
        s->t_in = -1;
    }
    nrm_store_read_end(&txn);
    if (rc != 0)
        return rc;
    t = bench_now();
    for (i = 0; i < p->nslots; ) {
        s_slot_t *s = &p->slots[i];
        if (s->in && s->t_in < 0)
            s->t_in = t;
        if (!s->done) {
            i++;
            continue;
        }
        /* The recipient acknowledges only what it has committed, so a
           delivered message must be in its inbox by now. */
        if (!s->in)
            return nrm_err_set(err, NRM_ECORRUPT, "a message is delivered at the sender "
                               "but not in the recipient's inbox %s", p->rdir);
        p->lat_acc[p->nlat] = (s->t_acc - s->t_send) * 1e3;
        p->lat_in[p->nlat] = (s->t_in - s->t_send) * 1e3;
        p->lat_done[p->nlat] = (s->t_done - s->t_send) * 1e3;
        p->nlat++;
        p->t_last = s->t_done;
        (*done)++;
        *s = p->slots[--p->nslots];
    }
    return 0;
}

/* True when either store has a commit newer than the last look read: its
   meta page is written. inotify says only that a store file was written,
   and the page writes of a commit come before its meta page; and a look
   that follows the meta page's event at once can still read the
   transaction before, as LMDB publishes the commit to new readers just
   after that write returns. Looking only when this is true, and looking
   again soon while it stays true, stamps each commit at the first look
   that can see it and never waits for a commit whose event was taken by
   a look that came too early. */
static bool
s_moved(s_pair_t *p)
{
    return nrm_store_last_txn(agent_sender_store(p->snd)) > p->read_txn[0]
           || nrm_store_last_txn(p->rstore) > p->read_txn[1];
}

/* Sleeps until a store file is written or timeout_ns pass. */
static void
s_wait(s_pair_t *p, long timeout_ns)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct pollfd pfd = { p->ino, POLLIN, 0 };
    struct timespec ts = { 0, timeout_ns };

    if (timeout_ns > 0 && ppoll(&pfd, 1, &ts, NULL) <= 0)
        return;
    while (read(p->ino, buf, sizeof buf) > 0)
        ;
}

static int
s_lat_room(s_pair_t *p, uint64_t quota, nrm_err_t *err)
{
    if (quota <= p->cap_lat)
        return 0;
    free(p->lat_acc);
    free(p->lat_in);
    free(p->lat_done);
    p->lat_acc = malloc(quota * sizeof(double));
    p->lat_in = malloc(quota * sizeof(double));
    p->lat_done = malloc(quota * sizeof(double));
    if (p->lat_acc == NULL || p->lat_in == NULL || p->lat_done == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory for %llu samples",
                           (unsigned long long) quota);
    p->cap_lat = quota;
    return 0;
}

static int
s_step(s_pair_t *p)
{
    s_bench_t *b = p->b;
    const bench_opts_t *o = b->o;
    nrm_err_t *err = &p->err;
    uint64_t quota = b->single && p->idx != 0 ? 0 : b->quota;
    uint64_t sent = 0, done = 0;
    double rate = b->rate, t0, deadline, last_look = 0;
    bench_pace_t pace;
    int rc;

    p->nlat = 0;
    p->t_first = p->t_last = 0;
    if (quota == 0)
        return 0;
    rc = s_lat_room(p, quota, err);
    if (rc != 0)
        return rc;
    t0 = p->t_first = bench_now();
    deadline = t0 + o->timeout_s;
    if (rate > 0)
        pace = bench_pace(t0, rate, p->idx, o->pairs);
    while (done < quota) {
        double now = bench_now();
        long wait_ns = S_IDLE_WAIT_NS;

        if (atomic_load(&b->failed) || s_interrupted)
            return nrm_err_set(err, NRM_EIO, "stopped (another pair failed, or a signal)");
        while (sent < quota && p->nslots < b->window) {
            /* auto: every slot free now, in one call (one outbox commit,
               one batch signature) */
            uint64_t n = o->send_batch == BENCH_SEND_AUTO ? b->window : o->send_batch;
            if (n > quota - sent)
                n = quota - sent;
            if (n > b->window - p->nslots)
                n = b->window - p->nslots;
            if (rate > 0) {
                uint64_t due = bench_pace_due(&pace, now);
                if (due <= sent)
                    break;
                if (n > due - sent)
                    n = due - sent;
            }
            rc = s_send(p, (size_t) n, err);
            if (rc != 0)
                return rc;
            sent += n;
            now = bench_now();
        }
        if (s_moved(p)) {
            if (now - last_look < o->poll_us / 1e6) {
                long rest = (long) ((o->poll_us / 1e6 - (now - last_look)) * 1e9);
                nanosleep(&(struct timespec){ 0, rest }, NULL);
            }
            last_look = bench_now();
            rc = s_look(p, &done, err);
            if (rc != 0)
                return rc;
            if (done == quota)
                break;
        }
        now = bench_now();
        if (now > deadline)
            return nrm_err_set(err, NRM_EIO, "pair %u: only %llu of %llu messages handed "
                               "over within %u s (see the logs in %s)", p->idx,
                               (unsigned long long) done, (unsigned long long) quota,
                               o->timeout_s, b->net.work);
        if (rate == 0 && sent < quota && p->nslots < b->window)
            wait_ns = 0;            /* closed loop: a slot is free, send now */
        if (rate > 0 && sent < quota && p->nslots < b->window) {
            double next = bench_pace_next(&pace, sent, now);
            if (next < (double) wait_ns / 1e9)
                wait_ns = next > 0 ? (long) (next * 1e9) : 0;
        }
        /* written but still not readable: look again after the poll interval */
        if (s_moved(p) && wait_ns > (long) o->poll_us * 1000)
            wait_ns = (long) o->poll_us * 1000;
        s_wait(p, wait_ns);
    }
    return 0;
}

/* ---- exactly once ---- */

static int
s_cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, NRM_MSGID_BYTES);
}

typedef struct {
    s_pair_t *p;
    uint8_t  *seen;
} s_once_t;

static int
s_inbox_one(void *ctx, const agent_in_t *rec, nrm_err_t *err)
{
    s_once_t *c = ctx;
    s_pair_t *p = c->p;
    uint8_t (*hit)[NRM_MSGID_BYTES];

    (void) err;
    p->in_count++;
    hit = bsearch(rec->msg_id, p->ids, p->nids, NRM_MSGID_BYTES, s_cmp_id);
    if (hit == NULL)
        p->unexpected++;
    else if (c->seen[hit - p->ids]++ > 0)
        p->dup++;
    return 0;
}

static int
s_outbox_one(void *ctx, const agent_out_t *rec, nrm_err_t *err)
{
    s_pair_t *p = ctx;

    (void) err;
    if (rec->state == AGENT_OUT_DELIVERED)
        p->out_delivered++;
    else
        p->out_other++;
    return 0;
}

/* Every message sent is in the recipient's inbox exactly once, nothing
   else is, and every outbox entry says delivered. */
static int
s_exactly_once(s_pair_t *p, nrm_err_t *err)
{
    s_once_t c = { p, NULL };
    MDB_txn *txn = NULL;
    size_t i;
    int rc;

    qsort(p->ids, p->nids, NRM_MSGID_BYTES, s_cmp_id);
    c.seen = calloc(p->nids + 1, 1);
    if (c.seen == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    rc = nrm_store_read_begin(p->rstore, &txn, err);
    if (rc == 0)
        rc = agent_in_each(p->rstore, txn, s_inbox_one, &c, err);
    nrm_store_read_end(&txn);
    for (i = 0; rc == 0 && i < p->nids; i++)
        if (c.seen[i] == 0)
            p->missing++;
    free(c.seen);
    if (rc == 0)
        rc = nrm_store_read_begin(agent_sender_store(p->snd), &txn, err);
    if (rc == 0)
        rc = agent_out_each(agent_sender_store(p->snd), txn, 1, s_outbox_one, p, err);
    nrm_store_read_end(&txn);
    return rc;
}

/* ---- threads ---- */

static void *
s_pair_main(void *arg)
{
    s_pair_t *p = arg;
    s_bench_t *b = p->b;

    if (s_pair_open(p) != 0)
        s_fail(p, p->err.code ? p->err.code : NRM_EIO);
    pthread_barrier_wait(&b->bar);               /* ready */
    for (;;) {
        pthread_barrier_wait(&b->bar);           /* step starts */
        if (b->last)
            break;
        if (p->rc == 0 && !atomic_load(&b->failed) && s_step(p) != 0)
            s_fail(p, p->err.code ? p->err.code : NRM_EIO);
        pthread_barrier_wait(&b->bar);           /* step ends */
    }
    if (p->rc == 0 && !atomic_load(&b->failed) && s_exactly_once(p, &p->err) != 0)
        s_fail(p, p->err.code ? p->err.code : NRM_EIO);
    s_pair_close(p);
    return NULL;
}

/* Prints the first pair error. */
static void
s_report_failure(const s_bench_t *b)
{
    unsigned i;

    for (i = 0; i < b->o->pairs; i++)
        if (b->pairs[i].rc != 0 && b->pairs[i].err.msg[0] != '\0'
            && strncmp(b->pairs[i].err.msg, "stopped", 7) != 0) {
            fprintf(stderr, "nrm-bench: pair %u: %s\n", i, b->pairs[i].err.msg);
            return;
        }
    fprintf(stderr, "nrm-bench: stopped\n");
}

/* Runs one step on every thread and, unless it is the warm-up (row NULL),
   fills row. */
static void
s_run_step(s_bench_t *b, uint64_t quota, double rate, unsigned window, bool single,
           bench_row_t *row)
{
    const bench_opts_t *o = b->o;
    double bcpu0, acpu0, scpu0, w0, w1, first = 0, last = 0;
    double *acc = NULL, *in = NULL, *done = NULL;
    bench_step_t st;
    size_t n = 0, i, k;

    b->quota = quota;
    b->rate = rate;
    b->window = window;
    b->single = single;
    bcpu0 = bench_proc_cpu(b->net.broker);
    acpu0 = bench_net_agents_cpu(&b->net);
    scpu0 = bench_self_cpu();
    w0 = bench_now();
    pthread_barrier_wait(&b->bar);               /* step starts */
    pthread_barrier_wait(&b->bar);               /* step ends */
    w1 = bench_now();
    if (row == NULL || atomic_load(&b->failed))
        return;
    for (i = 0; i < o->pairs; i++)
        n += b->pairs[i].nlat;
    acc = malloc((n + 1) * sizeof *acc);
    in = malloc((n + 1) * sizeof *in);
    done = malloc((n + 1) * sizeof *done);
    if (acc == NULL || in == NULL || done == NULL) {
        fprintf(stderr, "nrm-bench: out of memory for the samples\n");
        atomic_store(&b->failed, 1);
        goto out;
    }
    for (i = 0, k = 0; i < o->pairs; i++) {
        const s_pair_t *p = &b->pairs[i];
        memcpy(acc + k, p->lat_acc, p->nlat * sizeof *acc);
        memcpy(in + k, p->lat_in, p->nlat * sizeof *in);
        memcpy(done + k, p->lat_done, p->nlat * sizeof *done);
        k += p->nlat;
        if (p->nlat > 0 && (first == 0 || p->t_first < first))
            first = p->t_first;
        if (p->nlat > 0 && p->t_last > last)
            last = p->t_last;
    }
    snprintf(row->system, sizeof row->system, "nrmbus");
    row->round = o->round;
    row->pairs = single ? 1 : o->pairs;
    row->window = window;
    row->body = o->body;
    st.acc = acc;
    st.in = in;
    st.done = done;
    st.n = n;
    st.first = first;
    st.last = last;
    st.wall0 = w0;
    st.wall1 = w1;
    st.server = b->net.broker;
    st.server_cpu0 = bcpu0;
    bench_row_fill(row, &st);
    row->client_cpu_s = (bench_net_agents_cpu(&b->net) - acpu0) + (bench_self_cpu() - scpu0);
out:
    free(acc);
    free(in);
    free(done);
}

/* One line on stdout and one row of OUT/nrmbus-scale.csv with the
   broker's memory now; row is NULL for a line about a moment (label). */
static void
s_scale_row(const s_bench_t *b, FILE *scale, const bench_row_t *row, const char *label)
{
    const bench_opts_t *o = b->o;
    bench_mem_t m;

    bench_proc_mem(b->net.broker, &m);
    printf("broker memory %s: VmRSS %llu KiB (anonymous %llu, file %llu of which LMDB map %llu), "
           "VmHWM %llu KiB; %u idle agents, %llu records preloaded\n", row ? row->load : label,
           (unsigned long long) m.rss, (unsigned long long) m.anon, (unsigned long long) m.file,
           (unsigned long long) m.lmdb, (unsigned long long) m.hwm, o->idle_agents,
           (unsigned long long) b->net.preloaded);
    if (scale == NULL)
        return;
    fprintf(scale, "%u,%u,%llu,%s,%.1f,%llu,%llu,%llu,%llu,%llu\n", o->round, o->idle_agents,
            (unsigned long long) b->net.preloaded, row ? row->load : "start-up",
            row ? row->throughput : 0.0, (unsigned long long) m.rss, (unsigned long long) m.hwm,
            (unsigned long long) m.anon, (unsigned long long) m.file, (unsigned long long) m.lmdb);
    fflush(scale);
}

static FILE *
s_scale_open(const bench_opts_t *o, nrm_err_t *err)
{
    char path[BENCH_BIN_MAX + 32];
    FILE *f;
    long end;

    if (nrm_path(path, sizeof path, "%s/nrmbus-scale.csv", o->out) != 0) {
        nrm_err_set(err, NRM_EINVAL, "--out path too long");
        return NULL;
    }
    f = fopen(path, "a");
    if (f == NULL) {
        nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    end = ftell(f);
    if (end == 0)
        fprintf(f, "round,idle_agents,preload_records,load,throughput_per_s,broker_rss_kib,"
                   "broker_hwm_kib,broker_anon_kib,broker_file_kib,broker_lmdb_kib\n");
    return f;
}

static int
s_write_results(const bench_opts_t *o, const bench_row_t *rows, size_t nrows, nrm_err_t *err)
{
    char csv[BENCH_BIN_MAX + 32], png[BENCH_BIN_MAX + 32];
    bench_row_t *back = NULL;
    size_t nback = 0;
    int rc;

    if (nrm_path(csv, sizeof csv, "%s/nrmbus.csv", o->out) != 0
        || nrm_path(png, sizeof png, "%s/nrmbus-latency.png", o->out) != 0)
        return nrm_err_set(err, NRM_EINVAL, "--out path too long");
    /* Read back what was written: the file must parse as the CSV we
       document, whatever was in it before this run. */
    back = calloc(BENCH_ROWS_MAX, sizeof *back);
    if (back == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    rc = bench_csv_read(csv, back, BENCH_ROWS_MAX, &nback, err);
    free(back);
    if (rc != 0)
        return rc;
    printf("results: %s (%zu rows in the file)\n", csv, nback);
    if (!o->plot)
        return 0;
    rc = bench_plot(rows, nrows, png, "nrmbus handoff latency against throughput", err);
    if (rc == 0) {
        printf("plot: %s\n", png);
    } else if (rc == NRM_ENOTFOUND) {
        fprintf(stderr, "nrm-bench: no plot: %s\n", err->msg);
        rc = 0;
    }
    return rc;
}

int
bench_nrm_run(const bench_opts_t *o)
{
    s_bench_t b;
    bench_row_t rows[BENCH_LOADS_MAX];
    size_t nrows = 0, i;
    uint64_t sent = 0, in = 0, missing = 0, dup = 0, unexpected = 0, delivered = 0, other = 0;
    char csvpath[BENCH_BIN_MAX + 32];
    nrm_err_t err = { 0, 0, "" };
    struct sigaction sa;
    FILE *csv = NULL, *scale = NULL;
    unsigned started = 0;
    bool ok = false;
    int rc;

    memset(&b, 0, sizeof b);
    b.o = o;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (nrm_mkdirs(o->out, 0755, &err) != 0
        || nrm_path(csvpath, sizeof csvpath, "%s/nrmbus.csv", o->out) != 0) {
        fprintf(stderr, "nrm-bench: --out %s: %s\n", o->out, err.msg[0] ? err.msg : "too long");
        return 1;
    }
    csv = bench_csv_open(csvpath, &err);
    if (csv == NULL || (scale = s_scale_open(o, &err)) == NULL) {
        fprintf(stderr, "nrm-bench: %s\n", err.msg);
        if (csv != NULL)
            fclose(csv);
        return 1;
    }
    char batch[16];
    if (o->send_batch == BENCH_SEND_AUTO)
        snprintf(batch, sizeof batch, "auto");
    else
        snprintf(batch, sizeof batch, "%u", o->send_batch);
    printf("nrm-bench: %u pairs, %u-byte bodies, window %u, send batch %s, %llu messages "
           "per step, %u idle agents, %llu records preloaded; setting up the network...\n",
           o->pairs, o->body, o->window, batch, (unsigned long long) o->messages,
           o->idle_agents, (unsigned long long) o->preload);
    fflush(stdout);
    if (bench_net_start(o, &b.net, &err) != 0) {
        fprintf(stderr, "nrm-bench: %s\n", err.msg);
        bench_net_destroy(&b.net, true);
        fclose(csv);
        fclose(scale);
        return 1;
    }
    printf("broker pid %ld at %s; %zu agents; work folder %s\n", (long) b.net.broker,
           b.net.endpoint, b.net.nagents, b.net.work);
    s_scale_row(&b, scale, NULL, "after start-up");
    b.pairs = calloc(o->pairs, sizeof *b.pairs);
    if (b.pairs == NULL || pthread_barrier_init(&b.bar, NULL, o->pairs + 1) != 0) {
        fprintf(stderr, "nrm-bench: out of memory\n");
        goto out;
    }
    for (i = 0; i < o->pairs; i++) {
        b.pairs[i].b = &b;
        b.pairs[i].idx = (unsigned) i;
        b.pairs[i].ino = -1;
        if (pthread_create(&b.pairs[i].tid, NULL, s_pair_main, &b.pairs[i]) != 0) {
            fprintf(stderr, "nrm-bench: cannot start a thread\n");
            /* The barrier counts every pair: without all threads it
               would never open. Nothing more can be done safely. */
            bench_net_destroy(&b.net, true);
            _exit(1);
        }
        started++;
    }
    pthread_barrier_wait(&b.bar);                /* ready */
    if (o->warmup > 0 && !atomic_load(&b.failed)) {
        printf("warm-up: %llu messages per pair\n", (unsigned long long) o->warmup);
        fflush(stdout);
        s_run_step(&b, o->warmup, 0, o->window, false, NULL);
    }
    for (i = 0; i < o->nloads && !atomic_load(&b.failed); i++) {
        const bench_load_t *l = &o->loads[i];
        bench_row_t *row = &rows[nrows];
        uint64_t quota = l->single ? o->single_messages
                       : (l->rate > 0 ? o->messages : o->max_messages) / o->pairs;

        memset(row, 0, sizeof *row);
        s_run_step(&b, quota, l->rate / o->pairs, l->single ? 1 : o->window, l->single, row);
        if (atomic_load(&b.failed))
            break;
        snprintf(row->load, sizeof row->load, "%s", l->name);
        row->offered = l->rate;
        bench_csv_write(csv, row);
        bench_row_print(stdout, row);
        s_scale_row(&b, scale, row, NULL);
        fflush(stdout);
        nrows++;
    }
    b.last = true;
    pthread_barrier_wait(&b.bar);                /* no more steps */
    for (i = 0; i < started; i++)
        pthread_join(b.pairs[i].tid, NULL);
    started = 0;
    if (atomic_load(&b.failed)) {
        s_report_failure(&b);
        goto out;
    }
    for (i = 0; i < o->pairs; i++) {
        const s_pair_t *p = &b.pairs[i];
        sent += p->nids;
        in += p->in_count;
        missing += p->missing;
        dup += p->dup;
        unexpected += p->unexpected;
        delivered += p->out_delivered;
        other += p->out_other;
    }
    printf("exactly once: %llu sent, %llu in the recipients' inboxes, %llu missing, "
           "%llu twice, %llu unexpected; %llu delivered and %llu not in the senders' "
           "outboxes\n", (unsigned long long) sent, (unsigned long long) in,
           (unsigned long long) missing, (unsigned long long) dup,
           (unsigned long long) unexpected, (unsigned long long) delivered,
           (unsigned long long) other);
    if (in != sent || missing || dup || unexpected || delivered != sent || other) {
        fprintf(stderr, "nrm-bench: FAILED: not every message arrived exactly once\n");
        goto out;
    }
    if (o->restarts > 0) {
        char rpath[BENCH_BIN_MAX + 32];
        FILE *rcsv = NULL;
        if (nrm_path(rpath, sizeof rpath, "%s/nrmbus-restart.csv", o->out) == 0
            && (rcsv = fopen(rpath, "a")) != NULL && ftell(rcsv) == 0)
            fprintf(rcsv, "round,idle_agents,preload_records,restart,bound_ms,welcome_ms\n");
        rc = bench_restarts(o, &b.net, rcsv, &err);
        if (rcsv != NULL)
            fclose(rcsv);
        if (rc != 0) {
            fprintf(stderr, "nrm-bench: FAILED: restart: %s\n", err.msg);
            goto out;
        }
        s_scale_row(&b, NULL, NULL, "after the restarts");
    }
    bench_net_stop(&b.net);
    if (o->verify) {
        rc = bench_net_check_log(&b.net, sent, &err);
        if (rc != 0) {
            fprintf(stderr, "nrm-bench: FAILED: %s\n", err.msg);
            goto out;
        }
    }
    fclose(csv);
    csv = NULL;
    if (s_write_results(o, rows, nrows, &err) != 0) {
        fprintf(stderr, "nrm-bench: %s\n", err.msg);
        goto out;
    }
    ok = true;
out:
    if (csv != NULL)
        fclose(csv);
    if (scale != NULL)
        fclose(scale);
    bench_net_destroy(&b.net, o->keep || !ok);
    if (b.pairs != NULL)
        pthread_barrier_destroy(&b.bar);
    free(b.pairs);
    return ok ? 0 : 1;
}
