/*  bench_nrm -- nrm-bench's measurement of nrmbus itself.

    bench_net.c makes a network in a work folder with the real tools
    (nrm-admin init and enroll, nrm-agent keygen), starts the real
    nrm-broker and 2K `nrm-agent run` daemons on 127.0.0.1 as child
    processes, and stops them by process id; after the run it verifies the
    broker's audit log and counts its records.

    bench_run.c drives the agents: one thread per pair (sender i ->
    recipient i) queues messages through the agent's own send code
    (agent_sender_send: seal, sign, durable outbox commit), then watches
    the sender's outbox and the recipient's inbox (LMDB read transactions,
    woken by inotify when a store file is written) to time each handoff. */
#ifndef BENCH_NRM_H_INCLUDED
#define BENCH_NRM_H_INCLUDED
#include "bench.h"

#include <sys/types.h>

#define BENCH_PAIRS_MAX   512
#define BENCH_WINDOW_MAX  256       /* the agent daemon's own in-flight cap */
#define BENCH_BODY_MIN    640u     /* a referral document with its fields */
#define BENCH_BODY_MAX    16384u   /* its narrative is one text value (NRM_BODY_STRING_MAX) */
#define BENCH_BIN_MAX     2048
#define BENCH_IDLE_MAX    3000     /* idle organisations (the broker's peer table is 4,096) */
#define BENCH_SEND_AUTO   0u       /* --send-batch auto: every free window slot */

typedef struct {
    char         bin[BENCH_BIN_MAX];  /* build folder: tools/, agents/, broker/ */
    const char  *workdir;             /* NULL: a new folder under $TMPDIR      */
    const char  *out;                 /* results folder                         */
    const char  *log_level;           /* of the broker and agents               */
    unsigned     pairs, window, body, round, timeout_s, poll_us;
    unsigned     send_batch;          /* messages per send call, or BENCH_SEND_AUTO */
    unsigned     idle_agents;         /* enrolled, connected, idle (bench_idle.c) */
    bool         idle_fresh;          /* idle agents hold no directory yet */
    uint64_t     preload;             /* records in the log before the run (bench_preload.c) */
    const char  *preload_cache;       /* NULL: $TMPDIR/nrm-bench-preload */
    unsigned     restarts;            /* broker restarts timed after the steps */
    uint64_t     messages;            /* per step, over all pairs               */
    uint64_t     single_messages;     /* of a "single" step                     */
    uint64_t     max_messages;        /* of a "max" step, over all pairs        */
    uint64_t     warmup;              /* per pair, before the steps             */
    bench_load_t loads[BENCH_LOADS_MAX];
    size_t       nloads;
    bool         keep, verify, plot;
} bench_opts_t;

/* A running network. */
typedef struct {
    char     work[BENCH_BIN_MAX];
    char     net[BENCH_BIN_MAX + 8];
    char     endpoint[256];
    unsigned pairs;
    pid_t    broker;
    pid_t    idle;                    /* the idle agents' helper, or 0 */
    uint64_t preloaded;               /* records in the log before the run */
    pid_t   *agents;                  /* 2 * pairs: senders, then recipients */
    size_t   nagents;
    bool     made_work;               /* we created work: remove it at the end */
} bench_net_t;

/* Organisation folders and ids: sender i is WORK/s<i> (id bench-s<i>),
   recipient i is WORK/r<i> (id bench-r<i>). */
int bench_org_dir(const bench_net_t *net, bool sender, unsigned i, char *buf, size_t size) NRM_WUR;
void bench_org_id(bool sender, unsigned i, char *buf, size_t size);

/* Makes the network and its 2*pairs organisations, starts the broker and
   the agents. On failure everything started is stopped. */
int bench_net_start(const bench_opts_t *o, bench_net_t *net, nrm_err_t *err) NRM_WUR;
/* Stops agents, then the broker (SIGTERM, then SIGKILL after a grace). */
void bench_net_stop(bench_net_t *net);
/* After bench_net_stop: verifies the broker's audit log (nrm_auditlog_verify)
   and checks that it holds exactly `sent` ACCEPTED and `sent` DELIVERED
   records and no refusals. */
int bench_net_check_log(const bench_net_t *net, uint64_t sent, nrm_err_t *err) NRM_WUR;
/* Removes the work folder if we made it and keep is false. */
void bench_net_destroy(bench_net_t *net, bool keep);
/* CPU seconds of all agents. */
double bench_net_agents_cpu(const bench_net_t *net);

/* Idle organisations (bench_idle.c): ids bench-i<k>, keys in WORK/idle.
   bench_idle_enroll enrols o->idle_agents of them on the stopped broker's
   folder in a few write transactions (nrm_regadmin_apply, as nrm-admin
   enroll does); bench_idle_start starts the helper process that connects
   them all and waits until each has its Welcome; bench_idle_main is that
   helper (`nrm-bench idle-agents`). */
void bench_idle_id(unsigned i, char *buf, size_t size);
int bench_idle_enroll(const bench_opts_t *o, const bench_net_t *net, nrm_err_t *err) NRM_WUR;
int bench_idle_start(const bench_opts_t *o, bench_net_t *net, nrm_err_t *err) NRM_WUR;
int bench_idle_main(int argc, char **argv);

/* Starts nrm-broker on the network (listen: NULL for broker.ini's, or the
   endpoint to bind, for a restart on the same port); logs to
   WORK/broker.log. */
int bench_net_spawn_broker(const bench_opts_t *o, bench_net_t *net, const char *listen,
                           nrm_err_t *err) NRM_WUR;

/* Preloaded logs and restarts (bench_preload.c). bench_preload_net makes
   NET a copy of a cached network whose log holds o->preload records
   (generated once with nrm-loggen) and sets net->preloaded.
   bench_restarts stops and starts the broker o->restarts times and times
   exec -> bound and exec -> first Welcome, one CSV row each to csv (may be
   NULL): round,idle_agents,preload_records,restart,bound_ms,welcome_ms. */
int bench_preload_net(const bench_opts_t *o, bench_net_t *net, nrm_err_t *err) NRM_WUR;
int bench_restarts(const bench_opts_t *o, bench_net_t *net, FILE *csv, nrm_err_t *err) NRM_WUR;

/* The whole run: network, warm-up, every load step (a CSV row each),
   exactly-once check, log check, plot. Returns a process exit code. */
int bench_nrm_run(const bench_opts_t *o);

#endif
