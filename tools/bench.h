/*  bench -- what nrm-bench and nrm-bench-peer share: one row of results
    (one load step of one system), percentiles, the CSV format, CPU and
    memory of a server process from /proc, the gnuplot plot, a clock.

    Every system is measured on the same workload: K producers and K
    consumers, B-byte bodies, N messages per step, at most W in flight per
    producer, durable and confirmed/acknowledged; the row says how fast and
    with which latencies. */
#ifndef BENCH_H_INCLUDED
#define BENCH_H_INCLUDED
#include "nrm.h"

#include <stdio.h>
#include <sys/types.h>

#define BENCH_NAME_MAX   31
#define BENCH_ROWS_MAX   1024       /* rows one plot or table reads         */
#define BENCH_LOADS_MAX  32         /* load steps in one run                */

/* One load step: "single" (one message in flight in the whole system),
   "max" (every producer keeps W in flight), or an offered rate in msg/s
   over all producers (open loop, at most W in flight per producer). */
typedef struct {
    char   name[16];
    double rate;                    /* 0 for single and max */
    bool   single;
} bench_load_t;

/* Parses "single,100,max" (at most max steps; rates 1..10^7). */
bool bench_loads_parse(const char *text, bench_load_t *loads, size_t max, size_t *count);

/* Latency percentiles in milliseconds (nearest rank), and how many samples. */
typedef struct {
    uint64_t n;
    double   p50, p99, p999, max, mean;
} bench_pct_t;

/* One load step of one system. The three latencies start when the message
   was accepted from the producer (nrmbus: `send` committed to the outbox;
   peers: the publish call) and end:
     accept   at the server's durable receipt (nrmbus: the broker's signed
              receipt recorded in the outbox; peers: the publisher confirm);
     inbox    when the consumer has it (nrmbus: committed to the
              recipient's inbox; peers: delivered to the consumer);
     handoff  when the whole handoff is done (nrmbus: the sender's outbox
              says delivered, i.e. the broker logged DELIVERED after the
              recipient's signed ack; peers: the consumer's ack was sent,
              after the publisher confirm). */
typedef struct {
    char        system[BENCH_NAME_MAX + 1];   /* nrmbus, rabbitmq-quorum ...  */
    unsigned    round;                       /* alternation round (1..)      */
    char        load[16];                    /* "single", "max" or a rate     */
    double      offered;                     /* msg/s asked for; 0 = as fast as W allows */
    unsigned    pairs;                       /* K producers and K consumers  */
    unsigned    window;                      /* W in flight per producer     */
    unsigned    body;                        /* body bytes                    */
    uint64_t    messages;                    /* handoffs completed in the step */
    double      seconds;                     /* first send to last completion */
    double      throughput;                  /* messages / seconds            */
    bench_pct_t accept, inbox, handoff;
    double      server_cpu_s;                /* broker/server CPU in the step */
    double      server_cpu_pct;              /* of one core                   */
    uint64_t    server_rss_kib;              /* peak resident set (VmHWM)     */
    double      client_cpu_s;                /* producers, consumers, agents  */
} bench_row_t;

/* What one step measured, from which bench_row_fill makes its row. */
typedef struct {
    double *acc, *in, *done;    /* latencies in ms, n each; sorted by fill  */
    size_t  n;
    double  first, last;        /* first send, last completion (bench_now)  */
    double  wall0, wall1;       /* the step's start and end, for CPU %      */
    pid_t   server;             /* broker or server process                 */
    double  server_cpu0;        /* its CPU seconds at wall0                 */
} bench_step_t;

/* Fills messages, seconds, throughput, the percentiles and the server's
   CPU and peak memory of row; the caller sets the rest. */
void bench_row_fill(bench_row_t *row, bench_step_t *s);

/* Parses a decimal integer in [min, max] (the whole string). */
bool bench_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);

/* Prints "PROG: <message>" and a pointer to --help on stderr; returns 2. */
int bench_usage(const char *prog, const char *fmt, ...) NRM_PRINTF(2, 3);

/* Monotonic clock in seconds. */
double bench_now(void);

/* The open-loop schedule of one of `pairs` senders at `rate` msg/s each
   (rate * pairs in all), from t0: sender idx sends its message k at
   t0 + (k + idx / pairs) / rate, so that the senders' messages interleave
   at even intervals of 1 / (rate * pairs) instead of leaving together in
   bursts of `pairs`. */
typedef struct {
    double start;               /* the first message's time */
    double rate;                /* per sender, > 0 */
} bench_pace_t;
bench_pace_t bench_pace(double t0, double rate, unsigned idx, unsigned pairs);
/* How many messages are due by now (0 before start). */
uint64_t bench_pace_due(const bench_pace_t *pc, double now);
/* Seconds from now until message `sent` is due (<= 0: due). */
double bench_pace_next(const bench_pace_t *pc, uint64_t sent, double now);

/* Sorts samples (ms) and fills out; n == 0 gives zeros. */
void bench_pct(double *samples, size_t n, bench_pct_t *out);

/* Opens path for appending rows and writes the header when the file is new
   or empty. NULL with err set on failure. */
FILE *bench_csv_open(const char *path, nrm_err_t *err);
void bench_csv_write(FILE *f, const bench_row_t *r);
/* Reads every row of a CSV written by bench_csv_write (at most max). Checks
   the header and that every field is present and numeric where it must be;
   err names the line that is not. */
int bench_csv_read(const char *path, bench_row_t *rows, size_t max, size_t *count,
                   nrm_err_t *err) NRM_WUR;
/* One human line per row on f. */
void bench_row_print(FILE *f, const bench_row_t *r);

/* CPU seconds (user + system) of process pid, from /proc/PID/stat.
   Negative if it cannot be read. */
double bench_proc_cpu(pid_t pid);
/* Peak resident set of pid in KiB (VmHWM), 0 if it cannot be read. */
uint64_t bench_proc_hwm(pid_t pid);
/* Memory of pid in KiB from /proc/PID/status: resident now (VmRSS), its
   peak (VmHWM), and the resident anonymous (heap, stacks, ZeroMQ buffers)
   and file-backed (LMDB map, libraries) parts; from /proc/PID/smaps, the
   resident part of its mappings of files named data.mdb (the LMDB map:
   page-cache pages mapped into the process) and their size (the map as
   mapped, not the file). All 0 if it cannot be read. */
typedef struct {
    uint64_t rss, hwm, anon, file;
    uint64_t lmdb;
} bench_mem_t;
void bench_proc_mem(pid_t pid, bench_mem_t *out);
/* CPU seconds of this process, all threads, and of its waited-for children. */
double bench_self_cpu(void);

/* Writes a gnuplot script next to png (png with ".gp") that plots handoff
   latency p50 and p99 against throughput, one line per system (rows of
   "single" load are left out: they are one point), and runs gnuplot on it
   when it is installed. Returns 0 when the PNG was made; NRM_ENOTFOUND when
   gnuplot is missing (the script is still written); else an error. */
int bench_plot(const bench_row_t *rows, size_t n, const char *png, const char *title,
               nrm_err_t *err) NRM_WUR;

/* Runs argv (argv[0] a path) with stdout and stderr appended to log (or
   inherited when log is NULL), and waits. 0 if it exited 0. */
int bench_exec(char *const argv[], const char *log, nrm_err_t *err) NRM_WUR;
/* Starts argv in the background the same way; the child gets SIGTERM if
   this process dies. */
int bench_spawn(char *const argv[], const char *log, pid_t *pid, nrm_err_t *err) NRM_WUR;
/* SIGTERM, up to grace_ms for it to exit, then SIGKILL; reaps it. Returns
   its wait status, or -1. */
int bench_stop(pid_t pid, unsigned grace_ms);

#endif
