/*  bench_idle -- the idle organisations of `nrm-bench --idle-agents N`.

    Enrolment: N organisations (ids bench-i0 ... bench-i<N-1>, type ngo)
    get their keys and a signed enrollment request made in this process, as
    `nrm-agent keygen` makes them, and are enrolled in ONE write transaction
    on the stopped broker's folder through nrm_regadmin_apply, the function
    behind `nrm-admin enroll` (offline) and the broker's admin endpoint: for
    each, a REQUESTED and an APPROVED action signed with NET/admin.key, which
    meet the genesis quorum and write the ENROLLED record and the registry
    entry. Same rules, same records as N runs of `nrm-admin enroll`, without
    starting 2N processes (about 30 s for 1,000 on the development machine,
    against well under a second here).

    Connections: one helper process (`nrm-bench idle-agents`, started by
    nrm-bench after the broker) holds N DEALER sockets in one ZeroMQ
    context and speaks the agent's wire protocol on each, with the agent
    daemon's socket options (CURVE with the organisation's own transport
    key; ZMTP heartbeats every 1 s, timeout 5 s, TTL 10 s, which libzmq
    answers as it does for the agent): Hello every 2 s until the Welcome,
    then a CheckpointRequest as the agent sends after each Welcome; after
    that it only reads, and keeps, nothing but the size of the last
    checkpoint pushed. It writes DIR/ready when every connection has its
    Welcome. */
#include "bench_nrm.h"
#include "nrm_codec.h"
#include "nrm_crypto.h"
#include "nrm_regadmin.h"
#include "nrm_util.h"
#include "tool_util.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_IDLE_TXN      250          /* organisations per write transaction */
#define S_IDLE_HELLO_MS 2000         /* the agent daemon's AGENT_HELLO_MS   */
#define S_IDLE_READY_S  120          /* for every Welcome                   */
#define S_DAY_MS        (24ull * 3600ull * 1000ull)

void
bench_idle_id(unsigned i, char *buf, size_t size)
{
    snprintf(buf, size, "bench-i%u", i);
}

static int
s_idle_dir(const bench_net_t *net, char *buf, size_t size)
{
    return nrm_path(buf, size, "%s/idle", net->work);
}

/* ---- enrolment ---- */

typedef struct {
    nrm_keys_t        *admin;
    const char        *dir;          /* WORK/idle */
    unsigned           from, to;     /* organisations of this transaction */
    nrm_regadmin_result_t res;
} s_enroll_t;

/* Signed{EnrollRequest} for keys, as nrm-agent keygen writes request.nrm. */
static int
s_request(const nrm_keys_t *keys, const char *id, uint8_t **out, size_t *out_len, nrm_err_t *err)
{
    nrm_cert_t req;
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t body_len = 0;
    int rc;

    memset(&req, 0, sizeof req);
    snprintf(req.org_id, sizeof req.org_id, "%s", id);
    snprintf(req.org_type, sizeof req.org_type, "ngo");
    snprintf(req.name, sizeof req.name, "Idle benchmark organisation %s", id);
    memcpy(req.sign_pk, nrm_keys_sign_pk(keys), NRM_PK_BYTES);
    memcpy(req.curve_pk, nrm_keys_curve_pk(keys), NRM_PK_BYTES);
    memcpy(req.box_pk, nrm_keys_box_pk(keys), NRM_PK_BYTES);
    req.created_ms = nrm_now_ms();
    rc = nrm_request_encode(&req, &body, &body_len, err);
    if (rc == 0 && nrm_sign(keys, NRM_CTX_REQUEST, body, body_len, sig) != 0)
        rc = nrm_err_set(err, NRM_ECRYPTO, "signing the enrollment request failed");
    if (rc == 0)
        rc = nrm_signed_encode(body, body_len, sig, out, out_len, err);
    free(body);
    return rc;
}

/* Signs action a with the administrator key and applies it as the
   broker's admin endpoint and nrm-admin do. A refusal is an error here. */
static int
s_apply(nrm_store_t *store, MDB_txn *txn, s_enroll_t *e, nrm_action_t *a, nrm_err_t *err)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t len = 0;
    memcpy(a->admin_pk, nrm_keys_sign_pk(e->admin), NRM_PK_BYTES);
    a->created_ms = nrm_now_ms();
    int rc = nrm_action_encode(a, &body, &len, err);
    if (rc == 0 && nrm_sign(e->admin, NRM_CTX_ADMIN, body, len, sig) != 0)
        rc = nrm_err_set(err, NRM_ECRYPTO, "cannot sign the command");
    if (rc == 0)
        rc = nrm_regadmin_apply(store, txn, body, len, sig, NRM_SIG_BYTES, a->created_ms, &e->res, err);
    if (rc != 0)
        nrm_err_prefix(err, "%s of %s", nrm_record_kind_name(a->action), a->org_id);
    free(body);
    return rc;
}

/* The first approval's certificate, as admin_cert_for_approval makes it
   (tools/admin_enroll.c): the request's fields, valid 365 days from now,
   serial = the REQUESTED record, issuer = this administrator. */
static int
s_approve(nrm_store_t *store, MDB_txn *txn, s_enroll_t *e, const char *id, nrm_err_t *err)
{
    nrm_pending_t p;
    nrm_action_t a;
    nrm_cert_t cert;
    uint8_t hash[NRM_HASH_BYTES];
    int rc;

    memset(&p, 0, sizeof p);
    memset(&a, 0, sizeof a);
    rc = nrm_pending_get(store, txn, id, &p, err);
    if (rc == 0)
        rc = nrm_request_verify(p.request, p.request_len, &cert, hash, err);
    if (rc == 0) {
        uint64_t now = nrm_now_ms();
        cert.not_before_ms = now;
        cert.not_after_ms = now + 365 * S_DAY_MS;
        cert.serial = p.request_seq;
        memcpy(cert.issuer_pk, nrm_keys_sign_pk(e->admin), NRM_PK_BYTES);
        memcpy(cert.request_hash, hash, NRM_HASH_BYTES);
        rc = nrm_cert_encode(&cert, &a.cert_body, &a.cert_len, err);
    }
    if (rc == 0 && nrm_sign(e->admin, NRM_CTX_CERT, a.cert_body, a.cert_len, a.cert_sig) != 0)
        rc = nrm_err_set(err, NRM_ECRYPTO, "cannot sign the certificate");
    if (rc == 0) {
        a.has_cert_sig = true;
        a.action = NRM_REC_APPROVED;
        snprintf(a.org_id, sizeof a.org_id, "%s", id);
        rc = s_apply(store, txn, e, &a, err);
    }
    if (rc == 0 && e->res.effect != NRM_REC_ENROLLED)
        rc = nrm_err_set(err, NRM_EINVAL, "%s: the approval did not meet the quorum (a network "
                         "with more than one administrator needs more)", id);
    nrm_action_clear(&a);
    nrm_pending_clear(&p);
    return rc;
}

static int
s_enroll_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_enroll_t *e = ctx;
    int rc = 0;

    for (unsigned i = e->from; rc == 0 && i < e->to; i++) {
        char id[NRM_ID_MAX + 1], path[BENCH_BIN_MAX + 64];
        nrm_keys_t *keys = NULL;
        nrm_action_t a;

        bench_idle_id(i, id, sizeof id);
        memset(&a, 0, sizeof a);
        /* A retry after map growth finds the key file of the first try. */
        if (nrm_path(path, sizeof path, "%s/%s.keys", e->dir, id) != 0)
            return nrm_err_set(err, NRM_EINVAL, "path too long");
        if (access(path, F_OK) == 0) {
            rc = nrm_keys_load(path, &keys, err);
        } else {
            keys = nrm_keys_generate(NRM_KEYS_ALL);
            rc = keys ? nrm_keys_save(keys, path, err) : nrm_err_set(err, NRM_ENOMEM, "keygen");
        }
        if (rc == 0)
            rc = s_request(keys, id, &a.request, &a.request_len, err);
        nrm_keys_destroy(&keys);
        if (rc == 0) {
            a.action = NRM_REC_REQUESTED;
            snprintf(a.org_id, sizeof a.org_id, "%s", id);
            rc = s_apply(store, txn, e, &a, err);
        }
        nrm_action_clear(&a);
        if (rc == 0)
            rc = s_approve(store, txn, e, id, err);
    }
    return rc;
}

int
bench_idle_enroll(const bench_opts_t *o, const bench_net_t *net, nrm_err_t *err)
{
    char dir[BENCH_BIN_MAX + 16], path[BENCH_BIN_MAX + 32];
    nrm_store_t *store = NULL;
    s_enroll_t e;
    double t0 = bench_now();
    int rc;

    memset(&e, 0, sizeof e);
    if (s_idle_dir(net, dir, sizeof dir) != 0
        || nrm_path(path, sizeof path, "%s/admin.key", net->net) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    e.dir = dir;
    if (nrm_crypto_init() != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "libsodium could not be initialised");
    rc = nrm_mkdirs(dir, 0700, err);
    if (rc == 0)
        rc = nrm_keys_load(path, &e.admin, err);
    if (rc == 0)
        rc = tool_store_open(net->net, 0, 0, &store, err);
    for (unsigned i = 0; rc == 0 && i < o->idle_agents; i += S_IDLE_TXN) {
        e.from = i;
        e.to = i + S_IDLE_TXN < o->idle_agents ? i + S_IDLE_TXN : o->idle_agents;
        rc = nrm_store_write(store, s_enroll_fn, &e, err);
    }
    nrm_store_destroy(&store);
    nrm_keys_destroy(&e.admin);
    if (rc == 0)
        printf("enrolled %u idle organisations in %.1f s\n", o->idle_agents, bench_now() - t0);
    return rc;
}

/* ---- the helper process: nrm-bench idle-agents ---- */

typedef struct {
    void    *sock;
    bool     welcomed;
    uint64_t last_hello;
    bool     has_dir;                    /* dir: the directory held, as the */
    uint8_t  dir[NRM_HASH_BYTES];        /* agent keeps it (agent_dir_digest) */
} s_conn_t;

typedef struct {
    unsigned welcomed, full, same;       /* Welcomes: first ones, with and */
    uint64_t pushes, frames;             /* without the certificates       */
} s_counts_t;

static volatile sig_atomic_t s_stop;

static void
s_on_term(int sig)
{
    (void) sig;
    s_stop = 1;
}

static int
s_send_wire(void *sock, const nrm_wire_t *w)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = nrm_wire_encode(w, &frame, &len, NULL);
    if (rc == 0 && zmq_send(sock, frame, len, ZMQ_DONTWAIT) < 0)
        rc = NRM_ENET;
    free(frame);
    return rc;
}

/* One socket, as agent_daemon.c sets up its own. */
static void *
s_socket(void *zctx, const char *dir, unsigned i, const uint8_t broker_pk[NRM_PK_BYTES],
         const char *endpoint, nrm_err_t *err)
{
    char id[NRM_ID_MAX + 1], path[BENCH_BIN_MAX + 64];
    nrm_keys_t *keys = NULL;
    int linger = 0, hb_ivl = 1000, hb_timeout = 5000, hb_ttl = 10000, immediate = 1;
    int reconnect = 100, reconnect_max = 5000;
    int64_t maxmsg = (int64_t) NRM_HARD_FRAME_BYTES;
    void *sock = NULL;

    bench_idle_id(i, id, sizeof id);
    if (nrm_path(path, sizeof path, "%s/%s.keys", dir, id) != 0) {
        nrm_err_set(err, NRM_EINVAL, "path too long");
        return NULL;
    }
    if (nrm_keys_load(path, &keys, err) != 0)
        return NULL;
    sock = zmq_socket(zctx, ZMQ_DEALER);
    if (sock == NULL
        || zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, broker_pk, 32) != 0
        || zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, nrm_keys_curve_pk(keys), 32) != 0
        || zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, nrm_keys_curve_sk(keys), 32) != 0
        || zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0
        || zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl) != 0
        || zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) != 0
        || zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &hb_ttl, sizeof hb_ttl) != 0
        || zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect) != 0
        || zmq_setsockopt(sock, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max) != 0
        || zmq_setsockopt(sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate) != 0
        || zmq_connect(sock, endpoint) != 0) {
        nrm_err_set(err, NRM_ENET, "socket of %s: %s", id, zmq_strerror(zmq_errno()));
        if (sock != NULL)
            zmq_close(sock);
        sock = NULL;
    }
    nrm_keys_destroy(&keys);
    return sock;
}

/* Reads every frame waiting on c; a Welcome is answered with a
   CheckpointRequest, as the agent does. Returns how many were read. */
static unsigned
s_drain(s_conn_t *c, unsigned i, s_counts_t *k)
{
    unsigned n = 0;
    for (;;) {
        zmq_msg_t m;
        nrm_wire_t *w = NULL;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return n;
        }
        n++;
        if (nrm_wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), false, &w, NULL) == 0) {
            if (w->kind == NRM_WIRE_WELCOME) {
                /* the agent keeps a whole directory and its digest */
                if (!w->unchanged && w->directory.len == NRM_HASH_BYTES) {
                    memcpy(c->dir, w->directory.data, NRM_HASH_BYTES);
                    c->has_dir = true;
                }
                if (w->unchanged)
                    k->same++;
                else
                    k->full++;
            }
            if (w->kind == NRM_WIRE_WELCOME && !c->welcomed) {
                nrm_wire_t req = { .kind = NRM_WIRE_CHECKPOINT_REQUEST };
                c->welcomed = true;
                k->welcomed++;
                if (s_send_wire(c->sock, &req) != 0)
                    fprintf(stderr, "idle agent %u: checkpoint request not sent\n", i);
            } else if (w->kind == NRM_WIRE_CHECKPOINT) {
                k->pushes++;
            } else if (w->kind == NRM_WIRE_RECEIPT) {
                /* a refused Hello (clock, identity): the broker says why */
                fprintf(stderr, "idle agent %u: refused: %s\n", i, "see the broker's log");
            }
        }
        nrm_wire_destroy(&w);
        zmq_msg_close(&m);
    }
}

static int
s_write_ready(const char *dir, unsigned n, double seconds, const s_counts_t *k, nrm_err_t *err)
{
    char path[BENCH_BIN_MAX + 16], text[160];
    int len = snprintf(text, sizeof text, "%u welcomed in %.3f s, Welcomes with the directory %u, "
                       "without %u", n, seconds, k->full, k->same);
    if (nrm_path(path, sizeof path, "%s/ready", dir) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    return nrm_file_write(path, text, (size_t) len, 0644, err);
}

/* fresh: the agents hold no directory; else each holds the one in the
   broker's registry now, as agents reconnecting after a broker restart. */
static int
s_idle_run(const char *dir, const char *net_dir, unsigned n, const char *endpoint, bool fresh,
           nrm_err_t *err)
{
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    nrm_genesis_t g;
    s_conn_t *conns = NULL;
    zmq_pollitem_t *items = NULL;
    void *zctx = NULL;
    unsigned i;
    s_counts_t k = { 0 };
    uint8_t digest[NRM_HASH_BYTES];
    bool ready = false;
    double t0 = bench_now();
    int rc;

    rc = tool_store_open(net_dir, NRM_STORE_RDONLY, 0, &store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_registry_genesis(store, txn, &g, err);
    if (rc == 0 && !fresh)
        rc = nrm_registry_directory(store, txn, NULL, NULL, digest, NULL, err);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    if (rc != 0)
        return rc;
    conns = calloc(n, sizeof *conns);
    items = calloc(n, sizeof *items);
    zctx = zmq_ctx_new();
    if (conns == NULL || items == NULL || zctx == NULL
        || zmq_ctx_set(zctx, ZMQ_MAX_SOCKETS, (int) n + 64) != 0) {
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory or sockets for %u connections", n);
        goto out;
    }
    for (i = 0; i < n; i++) {
        conns[i].sock = s_socket(zctx, dir, i, g.broker_curve_pk, endpoint, err);
        if (conns[i].sock == NULL) {
            rc = err->code ? err->code : NRM_ENET;
            goto out;
        }
        items[i] = (zmq_pollitem_t) { conns[i].sock, 0, ZMQ_POLLIN, 0 };
        if (!fresh) {
            memcpy(conns[i].dir, digest, NRM_HASH_BYTES);
            conns[i].has_dir = true;
        }
    }
    while (!s_stop) {
        uint64_t now = nrm_mono_us() / 1000;
        for (i = 0; i < n; i++) {
            s_conn_t *c = &conns[i];
            if (c->welcomed || (c->last_hello != 0 && now - c->last_hello < S_IDLE_HELLO_MS))
                continue;
            char id[NRM_ID_MAX + 1];
            bench_idle_id(i, id, sizeof id);
            nrm_wire_t w = { .kind = NRM_WIRE_HELLO, .version = NRM_PROTOCOL_VERSION,
                             .org_id = id, .time_ms = nrm_now_ms() };
            if (c->has_dir)
                w.directory = (nrm_bytes_t) { c->dir, NRM_HASH_BYTES };
            c->last_hello = now;
            (void) s_send_wire(c->sock, &w);   /* EAGAIN until connected */
        }
        int np = zmq_poll(items, (int) n, 200);
        if (np < 0 && zmq_errno() != EINTR) {
            rc = nrm_err_set(err, NRM_ENET, "poll: %s", zmq_strerror(zmq_errno()));
            goto out;
        }
        for (i = 0; np > 0 && i < n; i++)
            if (items[i].revents & ZMQ_POLLIN)
                k.frames += s_drain(&conns[i], i, &k);
        if (!ready && k.welcomed == n) {
            ready = true;
            printf("all %u idle agents welcomed in %.3f s (%s; Welcomes with the directory %u, "
                   "without %u)\n", n, bench_now() - t0,
                   fresh ? "holding no directory" : "holding the directory", k.full, k.same);
            fflush(stdout);
            rc = s_write_ready(dir, n, bench_now() - t0, &k, err);
            if (rc != 0)
                goto out;
        }
    }
    printf("stopping: %u of %u welcomed, %llu frames read, %llu checkpoints pushed to us, "
           "Welcomes with the directory %u, without %u\n", k.welcomed, n,
           (unsigned long long) k.frames, (unsigned long long) k.pushes, k.full, k.same);
out:
    for (i = 0; conns != NULL && i < n; i++)
        if (conns[i].sock != NULL)
            zmq_close(conns[i].sock);
    if (zctx != NULL)
        zmq_ctx_term(zctx);
    free(conns);
    free(items);
    return rc;
}

int
bench_idle_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "net", required_argument, NULL, 'n' },
        { "count", required_argument, NULL, 'c' },
        { "endpoint", required_argument, NULL, 'e' },
        { "fresh", no_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *net = NULL, *endpoint = NULL;
    uint64_t count = 0;
    bool fresh = false;
    nrm_err_t err = { 0, 0, "" };
    struct sigaction sa;

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd': dir = optarg; break;
        case 'n': net = optarg; break;
        case 'e': endpoint = optarg; break;
        case 'f': fresh = true; break;
        case 'c':
            if (!bench_u64(optarg, 1, BENCH_IDLE_MAX, &count))
                return bench_usage("nrm-bench idle-agents", "--count '%s' is not 1..%d", optarg,
                                   BENCH_IDLE_MAX);
            break;
        default:
            return bench_usage("nrm-bench idle-agents", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (dir == NULL || net == NULL || endpoint == NULL || count == 0 || optind < argc)
        return bench_usage("nrm-bench idle-agents", "%s",
                           "needs --dir IDLE --net NET --count N --endpoint EP");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (nrm_crypto_init() != 0
        || s_idle_run(dir, net, (unsigned) count, endpoint, fresh, &err) != 0) {
        fprintf(stderr, "nrm-bench idle-agents: %s\n", err.msg[0] ? err.msg : "libsodium");
        return 1;
    }
    return 0;
}

/* ---- started and stopped by nrm-bench ---- */

int
bench_idle_start(const bench_opts_t *o, bench_net_t *net, nrm_err_t *err)
{
    char exe[BENCH_BIN_MAX + 32], dir[BENCH_BIN_MAX + 16], log[BENCH_BIN_MAX + 32];
    char ready[BENCH_BIN_MAX + 32], count[16];
    double end;
    int rc;

    if (nrm_path(exe, sizeof exe, "%s/tools/nrm-bench", o->bin) != 0
        || s_idle_dir(net, dir, sizeof dir) != 0
        || nrm_path(log, sizeof log, "%s/idle.log", net->work) != 0
        || nrm_path(ready, sizeof ready, "%s/ready", dir) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    (void) unlink(ready);
    snprintf(count, sizeof count, "%u", o->idle_agents);
    char *argv[] = { exe, (char *) "idle-agents", (char *) "--dir", dir, (char *) "--net",
                     net->net, (char *) "--count", count, (char *) "--endpoint", net->endpoint,
                     o->idle_fresh ? (char *) "--fresh" : NULL, NULL };
    rc = bench_spawn(argv, log, &net->idle, err);
    if (rc != 0)
        return rc;
    end = bench_now() + S_IDLE_READY_S;
    while (access(ready, F_OK) != 0) {
        if (waitpid(net->idle, NULL, WNOHANG) != 0) {
            net->idle = 0;
            return nrm_err_set(err, NRM_EIO, "the idle agents' helper stopped (see %s)", log);
        }
        if (bench_now() > end)
            return nrm_err_set(err, NRM_EIO, "the %u idle agents were not all welcomed within "
                               "%d s (see %s)", o->idle_agents, S_IDLE_READY_S, log);
        nanosleep(&(struct timespec){ 0, 20000000L }, NULL);
    }
    char text[160];
    FILE *f = fopen(ready, "r");
    if (f == NULL || fgets(text, sizeof text, f) == NULL)
        snprintf(text, sizeof text, "%u welcomed", o->idle_agents);
    if (f != NULL)
        fclose(f);
    printf("%u idle agents connected (pid %ld, %s): %s\n", o->idle_agents, (long) net->idle,
           o->idle_fresh ? "holding no directory" : "holding the directory", text);
    return 0;
}
