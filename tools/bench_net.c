/*  bench_net -- the network nrm-bench measures: real tools, real broker,
    real agent daemons, all on 127.0.0.1 (see bench_nrm.h). */
#include "bench_nrm.h"
#include "nrm_auditlog.h"
#include "nrm_codec.h"
#include "nrm_util.h"
#include "tool_util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_START_WAIT_MS 20000
#define S_STOP_GRACE_MS 5000

int
bench_org_dir(const bench_net_t *net, bool sender, unsigned i, char *buf, size_t size)
{
    return nrm_path(buf, size, "%s/%c%u", net->work, sender ? 's' : 'r', i);
}

void
bench_org_id(bool sender, unsigned i, char *buf, size_t size)
{
    snprintf(buf, size, "bench-%c%u", sender ? 's' : 'r', i);
}

static void
s_sleep_ms(unsigned ms)
{
    nanosleep(&(struct timespec){ ms / 1000, (long) (ms % 1000) * 1000000L }, NULL);
}

/* Runs one tool of the build folder: argv[0] is "tools/nrm-admin" etc. */
static int
s_tool(const bench_opts_t *o, const bench_net_t *net, char **argv, const char *what,
       nrm_err_t *err)
{
    char exe[BENCH_BIN_MAX + 64], log[BENCH_BIN_MAX + 64];
    const char *rel = argv[0];
    int rc;

    if (nrm_path(exe, sizeof exe, "%s/%s", o->bin, rel) != 0
        || nrm_path(log, sizeof log, "%s/setup.log", net->work) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    argv[0] = exe;
    rc = bench_exec(argv, log, err);
    argv[0] = (char *) rel;
    if (rc != 0)
        nrm_err_prefix(err, "%s", what);
    return rc;
}

/* keygen, enroll, connect.ini for one organisation. */
static int
s_org(const bench_opts_t *o, const bench_net_t *net, bool sender, unsigned i, nrm_err_t *err)
{
    char dir[BENCH_BIN_MAX + 16], id[NRM_ID_MAX + 1], name[64], req[BENCH_BIN_MAX + 32];
    char from[BENCH_BIN_MAX + 64], to[BENCH_BIN_MAX + 32];
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;

    if (bench_org_dir(net, sender, i, dir, sizeof dir) != 0
        || nrm_path(req, sizeof req, "%s/request.nrm", dir) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    bench_org_id(sender, i, id, sizeof id);
    snprintf(name, sizeof name, "Bench %s %u", sender ? "sender" : "recipient", i);
    {
        char *argv[] = { (char *) "agents/nrm-agent", (char *) "keygen", (char *) "--dir", dir,
                         (char *) "--id", id, (char *) "--type",
                         (char *) (sender ? "police" : "msdhs"), (char *) "--name", name, NULL };
        rc = s_tool(o, net, argv, "nrm-agent keygen", err);
        if (rc != 0)
            return rc;
    }
    {
        char *argv[] = { (char *) "tools/nrm-admin", (char *) "enroll", (char *) "--dir",
                         (char *) net->net, req, NULL };
        rc = s_tool(o, net, argv, "nrm-admin enroll", err);
        if (rc != 0)
            return rc;
    }
    if (nrm_path(from, sizeof from, "%s/enrolled/%s.connect.ini", net->net, id) != 0
        || nrm_path(to, sizeof to, "%s/connect.ini", dir) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    rc = nrm_file_read(from, 1u << 20, &data, &len, err);
    if (rc == 0)
        rc = nrm_file_write(to, data, len, 0600, err);
    free(data);
    return rc;
}

/* Waits for NET/broker.endpoint and reads it. */
static int
s_broker_endpoint(bench_net_t *net, nrm_err_t *err)
{
    char path[BENCH_BIN_MAX + 32];
    unsigned waited = 0;
    uint8_t *data = NULL;
    size_t len = 0;

    if (nrm_path(path, sizeof path, "%s/broker.endpoint", net->net) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    for (;;) {
        if (nrm_file_read(path, sizeof net->endpoint - 1, &data, &len, NULL) == 0 && len > 1)
            break;
        free(data);
        data = NULL;
        if (waited >= S_START_WAIT_MS || waitpid(net->broker, NULL, WNOHANG) != 0)
            return nrm_err_set(err, NRM_EIO, "the broker did not start (see %s/broker.log)",
                               net->work);
        s_sleep_ms(20);
        waited += 20;
    }
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    memcpy(net->endpoint, data, len);
    net->endpoint[len] = '\0';
    free(data);
    return 0;
}

static int
s_start_agent(const bench_opts_t *o, bench_net_t *net, bool sender, unsigned i, nrm_err_t *err)
{
    char exe[BENCH_BIN_MAX + 32], dir[BENCH_BIN_MAX + 16], log[BENCH_BIN_MAX + 32];
    pid_t pid;
    int rc;

    if (nrm_path(exe, sizeof exe, "%s/agents/nrm-agent", o->bin) != 0
        || bench_org_dir(net, sender, i, dir, sizeof dir) != 0
        || nrm_path(log, sizeof log, "%s.log", dir) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    char *argv[] = { exe, (char *) "run", (char *) "--dir", dir, (char *) "--endpoint",
                     net->endpoint, (char *) "--log-level", (char *) o->log_level, NULL };
    rc = bench_spawn(argv, log, &pid, err);
    if (rc != 0)
        return rc;
    net->agents[net->nagents++] = pid;
    return 0;
}

int
bench_net_spawn_broker(const bench_opts_t *o, bench_net_t *net, const char *listen, nrm_err_t *err)
{
    char exe[BENCH_BIN_MAX + 32], log[BENCH_BIN_MAX + 32];

    if (nrm_path(exe, sizeof exe, "%s/broker/nrm-broker", o->bin) != 0
        || nrm_path(log, sizeof log, "%s/broker.log", net->work) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    char *argv[] = { exe, (char *) "--dir", net->net, (char *) "--log-level",
                     (char *) o->log_level, (char *) "--listen", (char *) listen, NULL };
    if (listen == NULL)
        argv[5] = NULL;
    return bench_spawn(argv, log, &net->broker, err);
}

int
bench_net_start(const bench_opts_t *o, bench_net_t *net, nrm_err_t *err)
{
    unsigned i;
    int rc;

    memset(net, 0, sizeof *net);
    net->pairs = o->pairs;
    if (o->workdir != NULL) {
        rc = nrm_path(net->work, sizeof net->work, "%s", o->workdir);
        if (rc == 0)
            rc = nrm_mkdirs(net->work, 0700, err);
        if (rc != 0)
            return rc;
    } else {
        const char *tmp = getenv("TMPDIR");
        if (nrm_path(net->work, sizeof net->work, "%s/nrm-bench-XXXXXX",
                     tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp") != 0)
            return nrm_err_set(err, NRM_EINVAL, "TMPDIR is too long");
        if (mkdtemp(net->work) == NULL)
            return nrm_err_set(err, NRM_EIO, "mkdtemp %s: %s", net->work, strerror(errno));
        net->made_work = true;
    }
    if (nrm_path(net->net, sizeof net->net, "%s/net", net->work) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long");
    net->agents = calloc(2 * (size_t) o->pairs, sizeof *net->agents);
    if (net->agents == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    if (o->preload > 0) {
        rc = bench_preload_net(o, net, err);
        if (rc != 0)
            return rc;
    } else {
        char *argv[] = { (char *) "tools/nrm-admin", (char *) "init", (char *) "--dir",
                         net->net, (char *) "--network", (char *) "bench", (char *) "--listen",
                         (char *) "tcp://127.0.0.1:0", NULL };
        rc = s_tool(o, net, argv, "nrm-admin init", err);
        if (rc != 0)
            return rc;
    }
    for (i = 0; i < o->pairs; i++) {
        rc = s_org(o, net, true, i, err);
        if (rc == 0)
            rc = s_org(o, net, false, i, err);
        if (rc != 0)
            return rc;
    }
    if (o->idle_agents > 0 && (rc = bench_idle_enroll(o, net, err)) != 0)
        return rc;
    rc = bench_net_spawn_broker(o, net, NULL, err);
    if (rc == 0)
        rc = s_broker_endpoint(net, err);
    if (rc == 0 && o->idle_agents > 0)
        rc = bench_idle_start(o, net, err);
    for (i = 0; rc == 0 && i < o->pairs; i++)
        rc = s_start_agent(o, net, true, i, err);
    for (i = 0; rc == 0 && i < o->pairs; i++)
        rc = s_start_agent(o, net, false, i, err);
    if (rc != 0)
        bench_net_stop(net);
    return rc;
}

void
bench_net_stop(bench_net_t *net)
{
    size_t i;

    /* Signal them all first, so they stop in parallel. */
    for (i = 0; i < net->nagents; i++)
        if (net->agents[i] > 0)
            (void) kill(net->agents[i], SIGTERM);
    for (i = 0; i < net->nagents; i++) {
        if (net->agents[i] > 0)
            (void) bench_stop(net->agents[i], S_STOP_GRACE_MS);
        net->agents[i] = 0;
    }
    net->nagents = 0;
    if (net->idle > 0)
        (void) bench_stop(net->idle, S_STOP_GRACE_MS);
    net->idle = 0;
    if (net->broker > 0)
        (void) bench_stop(net->broker, S_STOP_GRACE_MS);
    net->broker = 0;
}

double
bench_net_agents_cpu(const bench_net_t *net)
{
    double sum = 0;
    size_t i;

    for (i = 0; i < net->nagents; i++) {
        double c = bench_proc_cpu(net->agents[i]);
        if (c > 0)
            sum += c;
    }
    return sum;
}

typedef struct {
    uint64_t accepted, delivered, refused;
} s_kinds_t;

static int
s_count_kind(void *ctx, uint64_t key_seq, nrm_bytes_t bytes, const nrm_record_t *rec,
             nrm_err_t *err)
{
    s_kinds_t *k = ctx;

    (void) bytes;
    if (rec == NULL) {
        nrm_err_prefix(err, "record %llu", (unsigned long long) key_seq);
        return NRM_ECORRUPT;
    }
    if (rec->kind == NRM_REC_ACCEPTED)
        k->accepted++;
    else if (rec->kind == NRM_REC_DELIVERED)
        k->delivered++;
    else if (rec->kind == NRM_REC_REJECTED || rec->kind == NRM_REC_DELIVERY_REFUSED)
        k->refused++;
    return 0;
}

int
bench_net_check_log(const bench_net_t *net, uint64_t sent, nrm_err_t *err)
{
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    s_kinds_t k = { 0, 0, 0 };
    nrm_verify_opts_t opts = { .threads = 1 };
    nrm_verify_result_t res;
    int rc;

    rc = tool_store_open(net->net, NRM_STORE_RDONLY, 0, &store, err);
    if (rc != 0)
        return rc;
    rc = nrm_auditlog_verify(store, &opts, &res, err);
    if (rc != 0) {
        nrm_err_prefix(err, "the audit log does not verify (record %llu)",
                       (unsigned long long) res.bad_seq);
        goto out;
    }
    rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_auditlog_each(store, txn, net->preloaded + 1, s_count_kind, &k, err);
    nrm_store_read_end(&txn);
    if (rc != 0)
        goto out;
    printf("audit log: %llu records verified; after the %llu preloaded, %llu ACCEPTED, %llu DELIVERED, %llu refusals\n",
           (unsigned long long) res.count, (unsigned long long) net->preloaded,
           (unsigned long long) k.accepted,
           (unsigned long long) k.delivered, (unsigned long long) k.refused);
    if (k.accepted != sent || k.delivered != sent || k.refused != 0)
        rc = nrm_err_set(err, NRM_ECORRUPT, "the audit log should hold %llu ACCEPTED and "
                         "%llu DELIVERED records and no refusal", (unsigned long long) sent,
                         (unsigned long long) sent);
out:
    nrm_store_destroy(&store);
    return rc;
}

/* The work folder holds only what this run made: rm -rf, without a shell. */
void
bench_net_destroy(bench_net_t *net, bool keep)
{
    bench_net_stop(net);
    if (net->made_work && !keep && net->work[0] != '\0') {
        char *argv[] = { (char *) "/bin/rm", (char *) "-rf", net->work, NULL };
        if (bench_exec(argv, NULL, NULL) != 0)
            fprintf(stderr, "nrm-bench: could not remove %s\n", net->work);
    } else if (net->work[0] != '\0') {
        printf("work folder kept: %s\n", net->work);
    }
    free(net->agents);
    net->agents = NULL;
}
