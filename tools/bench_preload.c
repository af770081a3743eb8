/*  bench_preload -- `nrm-bench --preload-log N` and `--restarts K`.

    Preload: the run's network folder starts as a copy of a cached one whose
    audit log already holds N records. The cache is made once per N, in
    CACHE/N (CACHE = --preload-cache, default $TMPDIR/nrm-bench-preload),
    with the real tools: `nrm-admin init`, `nrm-agent keygen` and `nrm-admin
    enroll` of the organisations police and msdhs, then `nrm-loggen`, which
    appends referrals from police to msdhs, each ACCEPTED and DELIVERED
    record signed with their keys, and a broker CHECKPOINT every 1,000
    records, through nrm_auditlog_append (chain, Merkle tree, checkpoints)
    as the broker appends; the log verifies with `nrm-audit verify`.
    CACHE/N/complete is written last, so an interrupted generation starts
    again. The run's own organisations are enrolled into the copy afterwards
    with nrm-admin enroll as usual.

    What is preloaded is the log (log, logmeta, merkle) and the registry;
    the broker's working tables about those past messages (msgids,
    referrals) are not filled by nrm-loggen.

    Restarts: after the steps, the broker is stopped (SIGTERM) and started
    again K times on the same folder and port; each time the time from
    fork+exec of nrm-broker to (1) NET/broker.endpoint written (the socket
    is bound) and (2) the first Welcome received by a client that connected
    with CURVE and sent a Hello is measured. The client is an observer
    connection of the first sender's organisation (the broker answers an
    observer's Hello with the directory and gives it no deliveries), so the
    running agents keep their own connections. */
#include "bench_nrm.h"
#include "nrm_codec.h"
#include "nrm_crypto.h"
#include "nrm_util.h"
#include "tool_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_WELCOME_WAIT_S 60

static int
s_tool(const bench_opts_t *o, const char *log, char **argv, nrm_err_t *err)
{
    char exe[BENCH_BIN_MAX + 64];
    const char *rel = argv[0];
    int rc;

    if (nrm_path(exe, sizeof exe, "%s/%s", o->bin, rel) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    argv[0] = exe;
    rc = bench_exec(argv, log, err);
    argv[0] = (char *) rel;
    return rc;
}

static int
s_rm_rf(const char *path)
{
    char *argv[] = { (char *) "/bin/rm", (char *) "-rf", (char *) path, NULL };
    return bench_exec(argv, NULL, NULL);
}

/* Makes CACHE/N (see the top of the file) unless it is complete. */
static int
s_cache_make(const bench_opts_t *o, const char *cache, nrm_err_t *err)
{
    char tmp[BENCH_BIN_MAX + 16], sub[BENCH_BIN_MAX + 32], req[BENCH_BIN_MAX + 48];
    char log[BENCH_BIN_MAX + 32], net[BENCH_BIN_MAX + 16], police[BENCH_BIN_MAX + 16];
    char msdhs[BENCH_BIN_MAX + 16], done[BENCH_BIN_MAX + 32], records[24], text[128];
    double t0 = bench_now();
    int rc, len;

    if (nrm_path(done, sizeof done, "%s/complete", cache) != 0
        || nrm_path(tmp, sizeof tmp, "%s.tmp", cache) != 0
        || nrm_path(log, sizeof log, "%s/generate.log", tmp) != 0
        || nrm_path(net, sizeof net, "%s/net", tmp) != 0
        || nrm_path(police, sizeof police, "%s/police", tmp) != 0
        || nrm_path(msdhs, sizeof msdhs, "%s/msdhs", tmp) != 0)
        return nrm_err_set(err, NRM_EINVAL, "--preload-cache path too long");
    if (access(done, F_OK) == 0)
        return 0;
    printf("preload: generating a log of %llu records in %s (once; nrm-loggen writes about "
           "30,000 records/s)\n", (unsigned long long) o->preload, cache);
    fflush(stdout);
    (void) s_rm_rf(tmp);
    rc = nrm_mkdirs(tmp, 0700, err);
    if (rc != 0)
        return rc;
    {
        char *argv[] = { (char *) "tools/nrm-admin", (char *) "init", (char *) "--dir", net,
                         (char *) "--network", (char *) "bench", (char *) "--listen",
                         (char *) "tcp://127.0.0.1:0", NULL };
        rc = s_tool(o, log, argv, err);
    }
    for (int i = 0; rc == 0 && i < 2; i++) {
        const char *id = i == 0 ? "police" : "msdhs";
        char *dir = i == 0 ? police : msdhs;
        char *argv[] = { (char *) "agents/nrm-agent", (char *) "keygen", (char *) "--dir", dir,
                         (char *) "--id", (char *) id, (char *) "--type", (char *) id,
                         (char *) "--name", (char *) id, NULL };
        rc = s_tool(o, log, argv, err);
        if (rc == 0 && nrm_path(req, sizeof req, "%s/request.nrm", dir) != 0)
            rc = nrm_err_set(err, NRM_EINVAL, "path too long");
        if (rc == 0) {
            char *eargv[] = { (char *) "tools/nrm-admin", (char *) "enroll", (char *) "--dir", net,
                              req, NULL };
            rc = s_tool(o, log, eargv, err);
        }
    }
    snprintf(records, sizeof records, "%llu", (unsigned long long) o->preload);
    if (rc == 0) {
        char *argv[] = { (char *) "tools/nrm-loggen", (char *) "--dir", net, (char *) "--police",
                         police, (char *) "--msdhs", msdhs, (char *) "--records", records, NULL };
        rc = s_tool(o, log, argv, err);
    }
    if (rc != 0) {
        nrm_err_prefix(err, "preload generation (see %s)", log);
        return rc;
    }
    len = snprintf(text, sizeof text, "%llu records generated in %.1f s\n",
                   (unsigned long long) o->preload, bench_now() - t0);
    if (nrm_path(sub, sizeof sub, "%s/complete", tmp) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    rc = nrm_file_write(sub, text, (size_t) len, 0644, err);
    if (rc == 0 && rename(tmp, cache) != 0)
        rc = nrm_err_set(err, NRM_EIO, "rename %s: %s", tmp, strerror(errno));
    if (rc == 0)
        printf("preload: %s", text);
    return rc;
}

int
bench_preload_net(const bench_opts_t *o, bench_net_t *net, nrm_err_t *err)
{
    char cache[BENCH_BIN_MAX + 32], from[BENCH_BIN_MAX + 48], base[BENCH_BIN_MAX];
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    uint8_t leaf[NRM_HASH_BYTES];
    double t0;
    int rc;

    if (o->preload_cache != NULL) {
        rc = nrm_path(base, sizeof base, "%s", o->preload_cache);
    } else {
        const char *t = getenv("TMPDIR");
        rc = nrm_path(base, sizeof base, "%s/nrm-bench-preload", t && t[0] ? t : "/tmp");
    }
    if (rc != 0 || nrm_path(cache, sizeof cache, "%s/%llu", base, (unsigned long long) o->preload) != 0
        || nrm_path(from, sizeof from, "%s/net", cache) != 0)
        return nrm_err_set(err, NRM_EINVAL, "--preload-cache path too long");
    rc = nrm_mkdirs(base, 0700, err);
    if (rc == 0)
        rc = s_cache_make(o, cache, err);
    if (rc != 0)
        return rc;
    t0 = bench_now();
    {
        char *argv[] = { (char *) "/bin/cp", (char *) "-a", from, net->net, NULL };
        rc = bench_exec(argv, NULL, err);
    }
    if (rc != 0)
        return rc;
    rc = tool_store_open(net->net, NRM_STORE_RDONLY, 0, &store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_auditlog_tip(store, txn, &net->preloaded, leaf, err);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    if (rc == 0)
        printf("preload: the network folder is a copy of %s (%llu records; copied in %.1f s)\n",
               from, (unsigned long long) net->preloaded, bench_now() - t0);
    return rc;
}

/* ---- restarts ---- */

static int
s_welcome_probe(const bench_net_t *net, const nrm_genesis_t *g, const nrm_keys_t *keys,
                const char *org, double *t_welcome, nrm_err_t *err)
{
    void *zctx = zmq_ctx_new(), *sock = NULL;
    int zero = 0, rc = 0;
    double end = bench_now() + S_WELCOME_WAIT_S;
    nrm_wire_t hello = { .kind = NRM_WIRE_HELLO, .version = NRM_PROTOCOL_VERSION,
                         .org_id = org, .observer = true };
    uint8_t *frame = NULL;
    size_t len = 0;

    sock = zctx ? zmq_socket(zctx, ZMQ_DEALER) : NULL;
    if (sock == NULL || zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, g->broker_curve_pk, 32) != 0
        || zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, nrm_keys_curve_pk(keys), 32) != 0
        || zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, nrm_keys_curve_sk(keys), 32) != 0
        || zmq_connect(sock, net->endpoint) != 0) {
        rc = nrm_err_set(err, NRM_ENET, "probe socket: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    hello.time_ms = nrm_now_ms();
    /* Queued until the connection is made: sent at once after the handshake. */
    if (nrm_wire_encode(&hello, &frame, &len, err) != 0 || zmq_send(sock, frame, len, 0) < 0) {
        rc = nrm_err_set(err, NRM_ENET, "probe hello: %s", zmq_strerror(zmq_errno()));
        goto out;
    }
    for (;;) {
        zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
        if (bench_now() > end) {
            rc = nrm_err_set(err, NRM_EIO, "no Welcome within %d s", S_WELCOME_WAIT_S);
            goto out;
        }
        if (zmq_poll(&it, 1, 1) > 0) {
            zmq_msg_t m;
            nrm_wire_t *w = NULL;
            int kind = -1;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0
                && nrm_wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), false, &w, NULL) == 0)
                kind = w->kind;
            nrm_wire_destroy(&w);
            zmq_msg_close(&m);
            if (kind == NRM_WIRE_WELCOME) {
                *t_welcome = bench_now();
                break;
            }
        }
    }
out:
    free(frame);
    if (sock != NULL)
        zmq_close(sock);
    if (zctx != NULL)
        zmq_ctx_term(zctx);
    return rc;
}

int
bench_restarts(const bench_opts_t *o, bench_net_t *net, FILE *csv, nrm_err_t *err)
{
    char keyfile[BENCH_BIN_MAX + 32], dir[BENCH_BIN_MAX + 16], ep[BENCH_BIN_MAX + 32];
    char org[NRM_ID_MAX + 1];
    nrm_keys_t *keys = NULL;
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    nrm_genesis_t g;
    int rc;

    bench_org_id(true, 0, org, sizeof org);
    if (bench_org_dir(net, true, 0, dir, sizeof dir) != 0
        || nrm_path(keyfile, sizeof keyfile, "%s/secret.keys", dir) != 0
        || nrm_path(ep, sizeof ep, "%s/broker.endpoint", net->net) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    rc = nrm_keys_load(keyfile, &keys, err);
    if (rc == 0)
        rc = tool_store_open(net->net, NRM_STORE_RDONLY, 0, &store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_registry_genesis(store, txn, &g, err);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    for (unsigned k = 1; rc == 0 && k <= o->restarts; k++) {
        double t0, t_bound = 0, t_welcome = 0;
        (void) bench_stop(net->broker, 5000);
        net->broker = 0;
        (void) unlink(ep);
        t0 = bench_now();
        rc = bench_net_spawn_broker(o, net, net->endpoint, err);
        while (rc == 0 && access(ep, F_OK) != 0) {
            if (waitpid(net->broker, NULL, WNOHANG) != 0) {
                net->broker = 0;
                rc = nrm_err_set(err, NRM_EIO, "the broker did not start again (see %s/broker.log)",
                                 net->work);
            } else if (bench_now() - t0 > S_WELCOME_WAIT_S) {
                rc = nrm_err_set(err, NRM_EIO, "the broker did not bind within %d s",
                                 S_WELCOME_WAIT_S);
            } else {
                nanosleep(&(struct timespec){ 0, 200000L }, NULL);
            }
        }
        t_bound = bench_now();
        if (rc == 0)
            rc = s_welcome_probe(net, &g, keys, org, &t_welcome, err);
        if (rc != 0)
            break;
        printf("restart %u: %llu records; exec to bound %.1f ms, to the first Welcome %.1f ms\n",
               k, (unsigned long long) net->preloaded, (t_bound - t0) * 1e3,
               (t_welcome - t0) * 1e3);
        if (csv != NULL)
            fprintf(csv, "%u,%u,%llu,%u,%.3f,%.3f\n", o->round, o->idle_agents,
                    (unsigned long long) net->preloaded, k, (t_bound - t0) * 1e3,
                    (t_welcome - t0) * 1e3);
    }
    nrm_keys_destroy(&keys);
    return rc;
}
