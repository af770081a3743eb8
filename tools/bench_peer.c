/*  nrm-bench-peer -- the workload of nrm-bench on the brokers a user would
    pick instead, so that they are measured on the same machine in the same
    run (`make bench-peers`, tools/bench-peers.sh):

      rabbitmq --queue-type quorum|classic   durable queue, persistent
               messages, publisher confirms, manual consumer acks
               (rabbitmq-c);
      nats     JetStream file stream (work-queue retention), async publish
               with acks, durable consumers with explicit acks (cnats).

    K producers and K consumers (producer i -> queue/subject i -> consumer
    i), each on its own connection; B-byte bodies; N messages per step over
    all producers; at most W messages in flight per producer (published and
    not yet acknowledged by its consumer), the bound nrm-bench uses. Times,
    from the publish call: accept = the publisher confirm; inbox = delivered
    to the consumer; handoff = both the confirm and the consumer's ack
    done. One CSV row per step in nrm-bench's format (bench.h). It talks
    only to the server it is given and starts none: tools/bench-peers.sh
    does, and passes the server's process id for CPU and peak memory. */
#include "bench.h"
#include "nrm_util.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <nats/nats.h>

#define S_PAIRS_MAX   512
#define S_WINDOW_MAX  4096
#define S_BODY_MAX    (256u * 1024u)
#define S_WAIT_NS     200000L          /* longest a producer sleeps between looks */

enum { S_EXIT_OK = 0, S_EXIT_FAIL = 1, S_EXIT_USAGE = 2 };
#define P "nrm-bench-peer"  /* program name in messages */

typedef struct s_peer_t s_peer_t;

typedef struct {
    s_peer_t          *b;
    unsigned           idx;
    pthread_t          prod, cons;
    /* the step, indexed by sequence number */
    double            *ts, *tc, *tr, *ta;
    uint8_t           *seen;
    uint64_t           cap, quota;
    atomic_uint_fast64_t consumed, confirmed;
    uint64_t           dup, unexpected, received;
    uint8_t           *pbody;
    double             t_first, t_last;
    /* rabbitmq: the producer's confirm tags map to sequence numbers */
    amqp_connection_state_t pconn, cconn;
    uint64_t          *tag_seq;
    uint64_t           ntags, conf_upto;
    char               queue[64];
    /* nats */
    natsConnection    *pnc, *cnc;
    jsCtx             *pjs, *cjs;
    natsSubscription  *sub;
    char               subject[32], durable[32];
    pthread_mutex_t    mu;
    pthread_cond_t     cv;
    char               err[512];
} s_pair_t;

struct s_peer_t {
    const char        *system;
    bool               nats;
    const char        *queue_type;
    const char        *host;
    unsigned           port;
    pid_t              server;
    unsigned           pairs, window, body, round, timeout_s;
    uint64_t           messages, single_messages, max_messages, warmup;
    bench_load_t       loads[BENCH_LOADS_MAX];
    size_t             nloads;
    s_pair_t          *p;
    pthread_barrier_t  bar;
    /* the step */
    unsigned           step;
    double             rate;          /* per producer */
    unsigned           wnd;
    bool               single, last;
    atomic_int         failed;
};

static int s_fail(s_pair_t *p, const char *fmt, ...) NRM_PRINTF(2, 3);

static int
s_fail(s_pair_t *p, const char *fmt, ...)
{
    va_list ap;

    if (p->err[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(p->err, sizeof p->err, fmt, ap);
        va_end(ap);
    }
    atomic_store(&p->b->failed, 1);
    return -1;
}

/* Body: "<step> <seq> " then padding, exactly body bytes. */
static void
s_fill(s_pair_t *p, uint64_t seq)
{
    int n = snprintf((char *) p->pbody, p->b->body, "%u %llu ", p->b->step,
                     (unsigned long long) seq);
    memset(p->pbody + n, 'x', p->b->body - (size_t) n);
}

/* Parses a body; false if it is not one of ours. */
static bool
s_parse(const void *data, size_t len, unsigned *step, uint64_t *seq)
{
    char head[48];
    unsigned long long q;
    size_t n = len < sizeof head - 1 ? len : sizeof head - 1;

    memcpy(head, data, n);
    head[n] = '\0';
    if (sscanf(head, "%u %llu ", step, &q) != 2)
        return false;
    *seq = q;
    return true;
}

/* Records one delivery on the consumer side; true when it is new. */
static bool
s_received(s_pair_t *p, const void *data, size_t len)
{
    unsigned step;
    uint64_t seq;

    if (!s_parse(data, len, &step, &seq) || step != p->b->step || seq >= p->quota) {
        p->unexpected++;
        return false;
    }
    if (p->seen[seq]++ > 0) {
        p->dup++;
        return false;
    }
    p->tr[seq] = bench_now();
    p->received++;
    return true;
}

static void
s_acked(s_pair_t *p, const void *data, size_t len)
{
    unsigned step;
    uint64_t seq;

    if (s_parse(data, len, &step, &seq) && step == p->b->step && seq < p->quota) {
        p->ta[seq] = bench_now();
        pthread_mutex_lock(&p->mu);
        atomic_fetch_add(&p->consumed, 1);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void
s_confirmed(s_pair_t *p, uint64_t seq)
{
    if (seq >= p->quota || p->tc[seq] != 0)
        return;
    p->tc[seq] = bench_now();
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->confirmed, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* ---- rabbitmq ---- */

static int
s_amqp_check(s_pair_t *p, amqp_connection_state_t c, const char *what)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);

    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        return s_fail(p, "rabbitmq %s: %s", what, amqp_error_string2(r.library_error));
    return s_fail(p, "rabbitmq %s: the server refused (reply class %u method %u)", what,
                  (unsigned) (r.reply.id >> 16), (unsigned) (r.reply.id & 0xffff));
}

static int
s_amqp_open(s_pair_t *p, amqp_connection_state_t *out)
{
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *sock;
    amqp_rpc_reply_t r;

    *out = c;
    if (c == NULL)
        return s_fail(p, "rabbitmq: out of memory");
    sock = amqp_tcp_socket_new(c);
    if (sock == NULL)
        return s_fail(p, "rabbitmq: cannot make a socket");
    if (amqp_socket_open(sock, p->b->host, (int) p->b->port) != AMQP_STATUS_OK)
        return s_fail(p, "rabbitmq: cannot connect to %s:%u", p->b->host, p->b->port);
    r = amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        return s_fail(p, "rabbitmq: login as guest failed");
    amqp_channel_open(c, 1);
    return s_amqp_check(p, c, "channel.open");
}

static void
s_amqp_close(amqp_connection_state_t *c)
{
    if (*c == NULL)
        return;
    (void) amqp_channel_close(*c, 1, AMQP_REPLY_SUCCESS);
    (void) amqp_connection_close(*c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(*c);
    *c = NULL;
}

/* Declares queue i afresh (deleted first, so it starts empty). */
static int
s_amqp_declare(s_pair_t *p, amqp_connection_state_t c)
{
    amqp_table_entry_t arg;
    amqp_table_t args = { 1, &arg };

    arg.key = amqp_cstring_bytes("x-queue-type");
    arg.value.kind = AMQP_FIELD_KIND_UTF8;
    arg.value.value.bytes = amqp_cstring_bytes(p->b->queue_type);
    amqp_queue_delete(c, 1, amqp_cstring_bytes(p->queue), 0, 0);
    if (s_amqp_check(p, c, "queue.delete") != 0)
        return -1;
    amqp_queue_declare(c, 1, amqp_cstring_bytes(p->queue), 0, 1, 0, 0, args);
    return s_amqp_check(p, c, "queue.declare");
}

static int
s_rabbit_setup(s_pair_t *p)
{
    snprintf(p->queue, sizeof p->queue, "nrm-bench-%s-%u", p->b->queue_type, p->idx);
    if (s_amqp_open(p, &p->pconn) != 0 || s_amqp_open(p, &p->cconn) != 0)
        return -1;
    if (s_amqp_declare(p, p->pconn) != 0)
        return -1;
    amqp_confirm_select(p->pconn, 1);
    if (s_amqp_check(p, p->pconn, "confirm.select") != 0)
        return -1;
    amqp_basic_qos(p->cconn, 1, 0, (uint16_t) (p->b->window > 65535 ? 65535 : p->b->window), 0);
    if (s_amqp_check(p, p->cconn, "basic.qos") != 0)
        return -1;
    amqp_basic_consume(p->cconn, 1, amqp_cstring_bytes(p->queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    return s_amqp_check(p, p->cconn, "basic.consume");
}

static int
s_rabbit_publish(s_pair_t *p, uint64_t seq)
{
    amqp_basic_properties_t props;

    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    s_fill(p, seq);
    p->tag_seq[p->ntags % p->cap] = seq;
    p->ntags++;
    if (amqp_basic_publish(p->pconn, 1, amqp_empty_bytes, amqp_cstring_bytes(p->queue), 0, 0,
                           &props, (amqp_bytes_t) { p->b->body, p->pbody }) != AMQP_STATUS_OK)
        return s_fail(p, "rabbitmq: publish failed");
    return 0;
}

/* Reads publisher confirms, waiting up to wait_ns for the first. The wait
   is our own poll(): rabbitmq-c's timed waits poll in whole milliseconds
   and spin through the last one. */
static int
s_rabbit_confirms(s_pair_t *p, long wait_ns)
{
    struct pollfd pfd = { amqp_get_sockfd(p->pconn), POLLIN, 0 };
    struct timespec ts = { 0, wait_ns };
    amqp_frame_t f;

    if (!amqp_frames_enqueued(p->pconn) && !amqp_data_in_buffer(p->pconn)
        && ppoll(&pfd, 1, &ts, NULL) == 0)
        return 0;
    for (;;) {
        struct timeval tv = { 0, 0 };
        int rc = amqp_simple_wait_frame_noblock(p->pconn, &f, &tv);
        if (rc == AMQP_STATUS_TIMEOUT)
            return 0;
        if (rc != AMQP_STATUS_OK)
            return s_fail(p, "rabbitmq: reading confirms: %s", amqp_error_string2(rc));
        if (f.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            const amqp_basic_ack_t *a = f.payload.method.decoded;
            uint64_t upto = a->delivery_tag;
            uint64_t from = a->multiple ? p->conf_upto + 1 : upto;
            for (uint64_t t = from; t <= upto; t++)
                s_confirmed(p, p->tag_seq[(t - 1) % p->cap]);
            if (upto > p->conf_upto)
                p->conf_upto = upto;
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            return s_fail(p, "rabbitmq: a publish was refused (nack)");
        } else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
            return s_fail(p, "rabbitmq: the server closed the producer's channel");
        }
        amqp_maybe_release_buffers(p->pconn);
    }
}

static int
s_rabbit_consume(s_pair_t *p, double deadline)
{
    while (atomic_load(&p->consumed) < p->quota) {
        struct timeval tv = { 0, 50000 };
        amqp_envelope_t env;
        amqp_rpc_reply_t r;

        if (atomic_load(&p->b->failed) || bench_now() > deadline)
            return atomic_load(&p->b->failed) ? -1 : s_fail(p, "consumer %u timed out", p->idx);
        amqp_maybe_release_buffers(p->cconn);
        r = amqp_consume_message(p->cconn, &env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
            && r.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
            return s_fail(p, "rabbitmq: consume failed");
        s_received(p, env.message.body.bytes, env.message.body.len);
        if (amqp_basic_ack(p->cconn, 1, env.delivery_tag, 0) != AMQP_STATUS_OK) {
            amqp_destroy_envelope(&env);
            return s_fail(p, "rabbitmq: ack failed");
        }
        s_acked(p, env.message.body.bytes, env.message.body.len);
        amqp_destroy_envelope(&env);
    }
    return 0;
}

/* ---- nats ---- */

static void
s_nats_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    s_pair_t *p = closure;
    unsigned step;
    uint64_t seq;

    (void) js;
    if (pae != NULL || pa == NULL)
        s_fail(p, "nats: a publish was not acknowledged: %s",
               pae != NULL && pae->ErrText != NULL ? pae->ErrText : "no reason");
    else if (s_parse(natsMsg_GetData(msg), (size_t) natsMsg_GetDataLength(msg), &step, &seq)
             && step == p->b->step)
        s_confirmed(p, seq);
    natsMsg_Destroy(msg);
}

static void
s_nats_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    s_pair_t *p = closure;
    const char *data = natsMsg_GetData(msg);
    size_t len = (size_t) natsMsg_GetDataLength(msg);

    (void) nc;
    (void) sub;
    s_received(p, data, len);
    if (natsMsg_Ack(msg, NULL) != NATS_OK)
        s_fail(p, "nats: ack failed");
    else
        s_acked(p, data, len);
    natsMsg_Destroy(msg);
}

static int
s_nats_setup(s_pair_t *p)
{
    char url[128];
    jsOptions jo;
    jsSubOptions so;
    jsErrCode jerr = 0;
    natsStatus s;

    snprintf(url, sizeof url, "nats://%s:%u", p->b->host, p->b->port);
    snprintf(p->subject, sizeof p->subject, "nrmbench.%u", p->idx);
    snprintf(p->durable, sizeof p->durable, "c%u", p->idx);
    if (natsConnection_ConnectTo(&p->pnc, url) != NATS_OK
        || natsConnection_ConnectTo(&p->cnc, url) != NATS_OK)
        return s_fail(p, "nats: cannot connect to %s", url);
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = p->b->window;
    jo.PublishAsync.AckHandler = s_nats_pub_ack;
    jo.PublishAsync.AckHandlerClosure = p;
    if (natsConnection_JetStream(&p->pjs, p->pnc, &jo) != NATS_OK
        || natsConnection_JetStream(&p->cjs, p->cnc, NULL) != NATS_OK)
        return s_fail(p, "nats: no JetStream context");
    jsSubOptions_Init(&so);
    so.Stream = "NRMBENCH";
    so.ManualAck = true;
    so.Config.Durable = p->durable;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.MaxAckPending = p->b->window;
    s = js_Subscribe(&p->sub, p->cjs, p->subject, s_nats_on_msg, p, NULL, &so, &jerr);
    if (s != NATS_OK)
        return s_fail(p, "nats: subscribe to %s: %s (JetStream error %d)", p->subject,
                      natsStatus_GetText(s), (int) jerr);
    return 0;
}

/* The stream of every pair, made afresh. */
static int
s_nats_stream(s_peer_t *b, char *err, size_t errsize)
{
    static const char *subjects[] = { "nrmbench.>" };
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamConfig sc;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    char url[128];
    natsStatus s;
    int rc = 0;

    snprintf(url, sizeof url, "nats://%s:%u", b->host, b->port);
    if (natsConnection_ConnectTo(&nc, url) != NATS_OK
        || natsConnection_JetStream(&js, nc, NULL) != NATS_OK) {
        snprintf(err, errsize, "nats: cannot connect to %s", url);
        rc = -1;
        goto out;
    }
    (void) js_DeleteStream(js, "NRMBENCH", NULL, NULL);
    jsStreamConfig_Init(&sc);
    sc.Name = "NRMBENCH";
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Retention = js_WorkQueuePolicy;
    sc.Replicas = 1;
    s = js_AddStream(&si, js, &sc, NULL, &jerr);
    if (s != NATS_OK) {
        snprintf(err, errsize, "nats: cannot make the stream: %s (JetStream error %d)",
                 natsStatus_GetText(s), (int) jerr);
        rc = -1;
    }
    jsStreamInfo_Destroy(si);
out:
    if (js != NULL)
        jsCtx_Destroy(js);
    if (nc != NULL)
        natsConnection_Destroy(nc);
    return rc;
}

static int
s_nats_publish(s_pair_t *p, uint64_t seq)
{
    natsStatus s;

    s_fill(p, seq);
    s = js_PublishAsync(p->pjs, p->subject, p->pbody, (int) p->b->body, NULL);
    if (s != NATS_OK)
        return s_fail(p, "nats: publish: %s", natsStatus_GetText(s));
    return 0;
}

/* ---- the step, shared by both ---- */

/* Waits up to wait_ns for progress (a confirm or a consumer ack). */
static int
s_wait(s_pair_t *p, long wait_ns)
{
    struct timespec ts;

    if (!p->b->nats)
        return s_rabbit_confirms(p, wait_ns);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += wait_ns;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    (void) pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

static int
s_produce(s_pair_t *p, double deadline)
{
    s_peer_t *b = p->b;
    uint64_t sent = 0;
    double t0 = bench_now();
    bench_pace_t pace = bench_pace(t0, b->rate > 0 ? b->rate : 1, p->idx, b->pairs);

    p->t_first = t0;
    while (atomic_load(&p->confirmed) < p->quota || atomic_load(&p->consumed) < p->quota) {
        double now = bench_now();
        long wait_ns = S_WAIT_NS;

        if (atomic_load(&b->failed))
            return -1;
        if (now > deadline)
            return s_fail(p, "producer %u: only %llu of %llu confirmed and %llu consumed in "
                          "time", p->idx, (unsigned long long) atomic_load(&p->confirmed),
                          (unsigned long long) p->quota,
                          (unsigned long long) atomic_load(&p->consumed));
        while (sent < p->quota && sent - atomic_load(&p->consumed) < b->wnd) {
            if (b->rate > 0 && bench_pace_due(&pace, now) <= sent)
                break;
            p->ts[sent] = bench_now();
            if ((b->nats ? s_nats_publish(p, sent) : s_rabbit_publish(p, sent)) != 0)
                return -1;
            sent++;
            now = bench_now();
        }
        if (b->rate > 0 && sent < p->quota) {
            double next = bench_pace_next(&pace, sent, now);
            if (next * 1e9 < (double) wait_ns)
                wait_ns = next > 0 ? (long) (next * 1e9) : 1000;
        }
        if (s_wait(p, wait_ns) != 0)
            return -1;
    }
    return 0;
}

static int
s_consume(s_pair_t *p, double deadline)
{
    if (!p->b->nats)
        return s_rabbit_consume(p, deadline);
    /* The subscription's callback does the work on the library's thread. */
    while (atomic_load(&p->consumed) < p->quota) {
        if (atomic_load(&p->b->failed))
            return -1;
        if (bench_now() > deadline)
            return s_fail(p, "consumer %u timed out", p->idx);
        s_wait(p, 5000000L);
    }
    return 0;
}

static int
s_step_prepare(s_pair_t *p, uint64_t quota)
{
    p->quota = quota;
    if (quota > p->cap) {
        free(p->ts);
        free(p->tc);
        free(p->tr);
        free(p->ta);
        free(p->seen);
        free(p->tag_seq);
        p->ts = calloc(quota, sizeof(double));
        p->tc = calloc(quota, sizeof(double));
        p->tr = calloc(quota, sizeof(double));
        p->ta = calloc(quota, sizeof(double));
        p->seen = calloc(quota, 1);
        p->tag_seq = calloc(quota, sizeof(uint64_t));
        if (!p->ts || !p->tc || !p->tr || !p->ta || !p->seen || !p->tag_seq)
            return s_fail(p, "out of memory");
        p->cap = quota;
    } else {
        memset(p->ts, 0, quota * sizeof(double));
        memset(p->tc, 0, quota * sizeof(double));
        memset(p->tr, 0, quota * sizeof(double));
        memset(p->ta, 0, quota * sizeof(double));
        memset(p->seen, 0, quota);
    }
    atomic_store(&p->consumed, 0);
    atomic_store(&p->confirmed, 0);
    p->received = 0;
    return 0;
}

static void *
s_producer_main(void *arg)
{
    s_pair_t *p = arg;
    s_peer_t *b = p->b;

    for (;;) {
        pthread_barrier_wait(&b->bar);           /* step starts */
        if (b->last)
            break;
        if (p->quota > 0 && !atomic_load(&b->failed))
            (void) s_produce(p, bench_now() + b->timeout_s);
        pthread_barrier_wait(&b->bar);           /* step ends */
    }
    return NULL;
}

static void *
s_consumer_main(void *arg)
{
    s_pair_t *p = arg;
    s_peer_t *b = p->b;

    for (;;) {
        pthread_barrier_wait(&b->bar);
        if (b->last)
            break;
        if (p->quota > 0 && !atomic_load(&b->failed))
            (void) s_consume(p, bench_now() + b->timeout_s);
        pthread_barrier_wait(&b->bar);
    }
    return NULL;
}

/* Runs one step; fills row unless it is NULL (warm-up). */
static void
s_run_step(s_peer_t *b, uint64_t quota, double rate, unsigned wnd, bool single,
           bench_row_t *row)
{
    double scpu0 = bench_proc_cpu(b->server), ccpu0 = bench_self_cpu(), w0, w1;
    double first = 0, last = 0, *acc = NULL, *in = NULL, *done = NULL;
    bench_step_t st;
    size_t n = 0;
    unsigned i;

    b->step++;
    b->rate = rate;
    b->wnd = wnd;
    b->single = single;
    for (i = 0; i < b->pairs; i++)
        if (s_step_prepare(&b->p[i], single && i > 0 ? 0 : quota) != 0)
            return;
    w0 = bench_now();
    pthread_barrier_wait(&b->bar);
    pthread_barrier_wait(&b->bar);
    w1 = bench_now();
    if (atomic_load(&b->failed) || row == NULL)
        return;
    acc = malloc((quota * b->pairs + 1) * sizeof *acc);
    in = malloc((quota * b->pairs + 1) * sizeof *in);
    done = malloc((quota * b->pairs + 1) * sizeof *done);
    if (acc == NULL || in == NULL || done == NULL) {
        atomic_store(&b->failed, 1);
        snprintf(b->p[0].err, sizeof b->p[0].err, "out of memory for the samples");
        goto out;
    }
    for (i = 0; i < b->pairs; i++) {
        s_pair_t *p = &b->p[i];
        for (uint64_t s = 0; s < p->quota; s++) {
            double end = p->tc[s] > p->ta[s] ? p->tc[s] : p->ta[s];
            acc[n] = (p->tc[s] - p->ts[s]) * 1e3;
            in[n] = (p->tr[s] - p->ts[s]) * 1e3;
            done[n] = (end - p->ts[s]) * 1e3;
            n++;
            if (end > last)
                last = end;
        }
        if (p->quota > 0 && (first == 0 || p->t_first < first))
            first = p->t_first;
    }
    snprintf(row->system, sizeof row->system, "%s", b->system);
    row->round = b->round;
    row->pairs = single ? 1 : b->pairs;
    row->window = wnd;
    row->body = b->body;
    st.acc = acc;
    st.in = in;
    st.done = done;
    st.n = n;
    st.first = first;
    st.last = last;
    st.wall0 = w0;
    st.wall1 = w1;
    st.server = b->server;
    st.server_cpu0 = scpu0;
    bench_row_fill(row, &st);
    row->client_cpu_s = bench_self_cpu() - ccpu0;
out:
    free(acc);
    free(in);
    free(done);
}

static void
s_teardown(s_peer_t *b)
{
    for (unsigned i = 0; i < b->pairs; i++) {
        s_pair_t *p = &b->p[i];
        if (p->sub != NULL) {
            (void) natsSubscription_Unsubscribe(p->sub);
            natsSubscription_Destroy(p->sub);
        }
        if (p->pjs != NULL)
            jsCtx_Destroy(p->pjs);
        if (p->cjs != NULL)
            jsCtx_Destroy(p->cjs);
        if (p->pnc != NULL)
            natsConnection_Destroy(p->pnc);
        if (p->cnc != NULL)
            natsConnection_Destroy(p->cnc);
        s_amqp_close(&p->pconn);
        s_amqp_close(&p->cconn);
        free(p->ts);
        free(p->tc);
        free(p->tr);
        free(p->ta);
        free(p->seen);
        free(p->tag_seq);
        free(p->pbody);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
    }
}

static int
s_run(s_peer_t *b, const char *out)
{
    bench_row_t rows[BENCH_LOADS_MAX];
    char csvpath[4096], err[512] = "";
    nrm_err_t nerr = { 0, 0, "" };
    uint64_t dup = 0, unexpected = 0;
    size_t nrows = 0, i;
    unsigned started = 0;
    FILE *csv;
    int code = S_EXIT_FAIL;

    if (nrm_mkdirs(out, 0755, &nerr) != 0
        || nrm_path(csvpath, sizeof csvpath, "%s/peers.csv", out) != 0) {
        fprintf(stderr, "nrm-bench-peer: --out %s: %s\n", out, nerr.msg);
        return S_EXIT_FAIL;
    }
    csv = bench_csv_open(csvpath, &nerr);
    if (csv == NULL) {
        fprintf(stderr, "nrm-bench-peer: %s\n", nerr.msg);
        return S_EXIT_FAIL;
    }
    if (b->nats && s_nats_stream(b, err, sizeof err) != 0) {
        fprintf(stderr, "nrm-bench-peer: %s\n", err);
        fclose(csv);
        return S_EXIT_FAIL;
    }
    b->p = calloc(b->pairs, sizeof *b->p);
    if (b->p == NULL || pthread_barrier_init(&b->bar, NULL, 2 * b->pairs + 1) != 0) {
        fprintf(stderr, "nrm-bench-peer: out of memory\n");
        fclose(csv);
        free(b->p);
        return S_EXIT_FAIL;
    }
    for (i = 0; i < b->pairs; i++) {
        s_pair_t *p = &b->p[i];
        p->b = b;
        p->idx = (unsigned) i;
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
        p->pbody = malloc(b->body);
        if (p->pbody == NULL) {
            s_fail(p, "out of memory");
            break;
        }
        if ((b->nats ? s_nats_setup(p) : s_rabbit_setup(p)) != 0)
            break;
    }
    if (!atomic_load(&b->failed)) {
        for (i = 0; i < b->pairs; i++) {
            if (pthread_create(&b->p[i].prod, NULL, s_producer_main, &b->p[i]) != 0
                || pthread_create(&b->p[i].cons, NULL, s_consumer_main, &b->p[i]) != 0) {
                fprintf(stderr, "nrm-bench-peer: cannot start threads\n");
                _exit(S_EXIT_FAIL);     /* the barrier would never open */
            }
            started++;
        }
        if (b->warmup > 0)
            s_run_step(b, b->warmup, 0, b->window, false, NULL);
        for (i = 0; i < b->nloads && !atomic_load(&b->failed); i++) {
            const bench_load_t *l = &b->loads[i];
            bench_row_t *row = &rows[nrows];
            memset(row, 0, sizeof *row);
            s_run_step(b, l->single ? b->single_messages
                          : (l->rate > 0 ? b->messages : b->max_messages) / b->pairs,
                       l->rate / b->pairs, l->single ? 1 : b->window, l->single, row);
            if (atomic_load(&b->failed))
                break;
            snprintf(row->load, sizeof row->load, "%s", l->name);
            row->offered = l->rate;
            bench_csv_write(csv, row);
            bench_row_print(stdout, row);
            fflush(stdout);
            nrows++;
            for (unsigned k = 0; k < b->pairs; k++) {
                dup += b->p[k].dup;
                unexpected += b->p[k].unexpected;
                b->p[k].dup = b->p[k].unexpected = 0;
            }
        }
        b->last = true;
        pthread_barrier_wait(&b->bar);
        for (i = 0; i < started; i++) {
            pthread_join(b->p[i].prod, NULL);
            pthread_join(b->p[i].cons, NULL);
        }
    }
    if (atomic_load(&b->failed)) {
        for (i = 0; i < b->pairs; i++)
            if (b->p[i].err[0] != '\0') {
                fprintf(stderr, "nrm-bench-peer: %s: %s\n", b->system, b->p[i].err);
                break;
            }
    } else {
        printf("%s: every step's messages consumed once; %llu redelivered copies, %llu "
               "unexpected\n", b->system, (unsigned long long) dup,
               (unsigned long long) unexpected);
        code = dup == 0 && unexpected == 0 ? S_EXIT_OK : S_EXIT_FAIL;
    }
    s_teardown(b);
    pthread_barrier_destroy(&b->bar);
    free(b->p);
    fclose(csv);
    return code;
}

static void
s_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-bench-peer rabbitmq --port P [--queue-type quorum|classic] [OPTIONS]\n"
        "       nrm-bench-peer nats --port P [OPTIONS]\n"
        "\n"
        "Runs nrm-bench's workload on a RabbitMQ (durable queue, persistent\n"
        "messages, publisher confirms, consumer acks) or NATS JetStream (file\n"
        "stream, acked publishes, explicit consumer acks) server already running\n"
        "on 127.0.0.1, and appends one CSV row per step to OUT/peers.csv.\n"
        "\n"
        "  --port P            the server's client port\n"
        "  --server-pid PID    the server process, for its CPU and peak memory\n"
        "  --queue-type T      rabbitmq: quorum (default) or classic\n"
        "  --pairs K           producers and consumers, K each (default 2)\n"
        "  --messages N        messages per step over all producers (default 2000)\n"
        "  --loads LIST        as nrm-bench (default single,100,200,400,max)\n"
        "  --single-messages N messages of a single step (default 100)\n"
        "  --max-messages N    messages of a max step (default N)\n"
        "  --window W          in flight per producer (1..%d; default 64)\n"
        "  --body BYTES        body bytes (64..%u; default 1024)\n"
        "  --warmup N          per pair before the steps (default 20)\n"
        "  --round N           round number in the CSV (default 1)\n"
        "  --timeout S         longest a step may take (default 300)\n"
        "  --out DIR           results folder (default bench-results)\n",
        S_WINDOW_MAX, S_BODY_MAX);
}


int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "port", required_argument, NULL, 'P' },
        { "server-pid", required_argument, NULL, 's' },
        { "queue-type", required_argument, NULL, 'q' },
        { "pairs", required_argument, NULL, 'k' },
        { "messages", required_argument, NULL, 'n' },
        { "loads", required_argument, NULL, 'L' },
        { "single-messages", required_argument, NULL, 'S' },
        { "max-messages", required_argument, NULL, 'M' },
        { "window", required_argument, NULL, 'w' },
        { "body", required_argument, NULL, 'b' },
        { "warmup", required_argument, NULL, 'W' },
        { "round", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 't' },
        { "out", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    s_peer_t b;
    const char *out = "bench-results";
    uint64_t v;
    char name[BENCH_NAME_MAX + 1];

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        s_help(stdout);
        return S_EXIT_OK;
    }
    if (argc < 2 || (strcmp(argv[1], "rabbitmq") != 0 && strcmp(argv[1], "nats") != 0))
        return bench_usage(P, "the first argument is rabbitmq or nats");
    memset(&b, 0, sizeof b);
    b.nats = strcmp(argv[1], "nats") == 0;
    b.queue_type = "quorum";
    b.host = "127.0.0.1";
    b.pairs = 2;
    b.window = 64;
    b.body = 1024;
    b.round = 1;
    b.timeout_s = 300;
    b.messages = 2000;
    b.single_messages = 100;
    b.warmup = 20;
    (void) bench_loads_parse("single,100,200,400,max", b.loads, BENCH_LOADS_MAX, &b.nloads);
    opterr = 0;
    optind = 2;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'P':
            if (!bench_u64(optarg, 1, 65535, &v))
                return bench_usage(P, "--port '%s' is not 1..65535", optarg);
            b.port = (unsigned) v;
            break;
        case 's':
            if (!bench_u64(optarg, 1, 1u << 30, &v))
                return bench_usage(P, "--server-pid '%s' is not a process id", optarg);
            b.server = (pid_t) v;
            break;
        case 'q':
            if (strcmp(optarg, "quorum") != 0 && strcmp(optarg, "classic") != 0)
                return bench_usage(P, "--queue-type '%s' is not quorum or classic", optarg);
            b.queue_type = optarg;
            break;
        case 'k':
            if (!bench_u64(optarg, 1, S_PAIRS_MAX, &v))
                return bench_usage(P, "--pairs '%s' is not 1..%d", optarg, S_PAIRS_MAX);
            b.pairs = (unsigned) v;
            break;
        case 'n':
            if (!bench_u64(optarg, 1, 100000000, &v))
                return bench_usage(P, "--messages '%s' is not 1..100000000", optarg);
            b.messages = v;
            break;
        case 'L':
            if (!bench_loads_parse(optarg, b.loads, BENCH_LOADS_MAX, &b.nloads))
                return bench_usage(P, "--loads '%s': single, max or rates, comma-separated", optarg);
            break;
        case 'S':
            if (!bench_u64(optarg, 1, 10000000, &v))
                return bench_usage(P, "--single-messages '%s' is not 1..10000000", optarg);
            b.single_messages = v;
            break;
        case 'M':
            if (!bench_u64(optarg, 1, 100000000, &v))
                return bench_usage(P, "--max-messages '%s' is not 1..100000000", optarg);
            b.max_messages = v;
            break;
        case 'w':
            if (!bench_u64(optarg, 1, S_WINDOW_MAX, &v))
                return bench_usage(P, "--window '%s' is not 1..%d", optarg, S_WINDOW_MAX);
            b.window = (unsigned) v;
            break;
        case 'b':
            if (!bench_u64(optarg, 64, S_BODY_MAX, &v))
                return bench_usage(P, "--body '%s' is not 64..%u", optarg, S_BODY_MAX);
            b.body = (unsigned) v;
            break;
        case 'W':
            if (!bench_u64(optarg, 0, 1000000, &v))
                return bench_usage(P, "--warmup '%s' is not 0..1000000", optarg);
            b.warmup = v;
            break;
        case 'r':
            if (!bench_u64(optarg, 1, 1000000, &v))
                return bench_usage(P, "--round '%s' is not 1..1000000", optarg);
            b.round = (unsigned) v;
            break;
        case 't':
            if (!bench_u64(optarg, 1, 86400, &v))
                return bench_usage(P, "--timeout '%s' is not 1..86400", optarg);
            b.timeout_s = (unsigned) v;
            break;
        case 'o': out = optarg; break;
        case 'h': s_help(stdout); return S_EXIT_OK;
        case ':': return bench_usage(P, "option %s needs a value", argv[optind - 1]);
        default:  return bench_usage(P, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bench_usage(P, "unexpected argument '%s'", argv[optind]);
    if (b.port == 0)
        return bench_usage(P, "--port is required");
    if (b.max_messages == 0)
        b.max_messages = b.messages;
    if (b.messages < b.pairs || b.max_messages < b.pairs)
        return bench_usage(P, "--messages and --max-messages must be at least --pairs");
    if (b.nats)
        snprintf(name, sizeof name, "nats-js");
    else
        snprintf(name, sizeof name, "rabbitmq-%s", b.queue_type);
    b.system = name;
    {
        int code = s_run(&b, out);
        if (b.nats)
            nats_Close();
        return code;
    }
}
