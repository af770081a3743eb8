/*  nrm-bench -- benchmark of nrmbus handoffs with the real broker and agents
    (`nrm-bench run`), and plots of any nrm-bench CSV (`nrm-bench plot`).
    Argument parsing only; see bench_nrm.h and bench.h. */
#include "bench_nrm.h"
#include "agent_send.h"
#include "nrm_util.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { S_EXIT_OK = 0, S_EXIT_FAIL = 1, S_EXIT_USAGE = 2 };
#define P "nrm-bench"       /* program name in messages */

static void
s_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-bench [run] [OPTIONS]\n"
        "       nrm-bench plot --csv FILE --png FILE [--title TEXT]\n"
        "\n"
        "run: makes a network in a work folder (nrm-admin init, nrm-agent keygen,\n"
        "nrm-admin enroll), starts nrm-broker and K sending and K receiving\n"
        "`nrm-agent run` daemons on 127.0.0.1 with production settings (CURVE,\n"
        "every envelope signed and verified, fsync at every commit, signed and\n"
        "logged acknowledgements), then runs each load step: sender i sends to\n"
        "recipient i through the agent's own send code, and each handoff is\n"
        "timed from `send` accepted (outbox committed) to the broker's receipt,\n"
        "to the recipient's inbox, and to delivered (the broker logged\n"
        "DELIVERED). One CSV row per step goes to OUT/nrmbus.csv (appended) and\n"
        "a plot of latency against throughput to OUT/nrmbus-latency.png\n"
        "(gnuplot). At the end it checks that every message is in its\n"
        "recipient's inbox exactly once, stops every process by its id, and\n"
        "verifies the audit log (every ACCEPTED and DELIVERED record).\n"
        "\n"
        "  --pairs K            senders and recipients, K each (1..%d; default 2)\n"
        "  --messages N         handoffs per load step over all pairs (default 2000)\n"
        "  --loads LIST         steps, comma-separated: single (one message in flight\n"
        "                       in the whole network), max (W in flight per sender),\n"
        "                       or an offered rate in msg/s over all senders\n"
        "                       (default single,100,200,400,max)\n"
        "  --single-messages N  handoffs of a single step (default 100)\n"
        "  --max-messages N     handoffs of a max step over all pairs (default N)\n"
        "  --window W           messages in flight per sender (1..%d; default 64)\n"
        "  --body BYTES         referral document bytes (%u..%u; default 1024)\n"
        "  --send-batch B       messages stored per outbox commit (1..%d; default 1,\n"
        "                       what `nrm-agent send` does), or auto: each sender\n"
        "                       passes every window slot free at that moment in one\n"
        "                       call (1 under single, up to W under max), so that\n"
        "                       its envelopes share one batch signature\n"
        "  --warmup N           messages per pair before the steps, not reported\n"
        "                       (default 20)\n"
        "  --out DIR            results folder (default bench-results)\n"
        "  --workdir DIR        network folder (default: new under $TMPDIR, removed\n"
        "                       at the end unless --keep or a failure)\n"
        "  --keep               keep the work folder\n"
        "  --no-verify          skip the audit-log verification at the end\n"
        "  --no-plot            no PNG\n"
        "  --round N            round number in the CSV (default 1)\n"
        "  --timeout S          longest a step may take (default 300)\n"
        "  --poll-us U          shortest interval between two looks at the stores\n"
        "                       (default 200)\n"
        "  --log-level LEVEL    of the broker and agents (default info)\n"
        "  --idle-agents N      N more organisations (0..%d; default 0), enrolled in\n"
        "                       bulk and kept connected and idle by one helper\n"
        "                       process while the pairs run their steps; they\n"
        "                       hold the broker's directory, as agents that\n"
        "                       reconnect after a broker restart\n"
        "  --idle-fresh         the idle agents hold no directory yet (their first\n"
        "                       connection: every Welcome carries the directory)\n"
        "  --preload-log N      start from a network whose audit log already holds\n"
        "                       N records (10..10^9), generated once with nrm-loggen\n"
        "                       into the cache and copied for each run\n"
        "  --preload-cache DIR  where preloaded networks are kept (default\n"
        "                       $TMPDIR/nrm-bench-preload; one folder per N)\n"
        "  --restarts K         after the steps, restart the broker K times and time\n"
        "                       exec to bound and to the first Welcome (0..100)\n"
        "  --bin DIR            build folder with tools/, agents/, broker/ (default:\n"
        "                       the one this program is in)\n"
        "\n"
        "Exit status: 0 every step done and every check passed, 1 failure,\n"
        "2 bad command line.\n",
        BENCH_PAIRS_MAX, BENCH_WINDOW_MAX, BENCH_BODY_MIN, BENCH_BODY_MAX, AGENT_SEND_MAX,
        BENCH_IDLE_MAX);
}


static bool
s_uint(const char *text, unsigned min, unsigned max, unsigned *out)
{
    uint64_t v;

    if (!bench_u64(text, min, max, &v))
        return false;
    *out = (unsigned) v;
    return true;
}

/* The build folder: two levels above this executable (build/tools/nrm-bench). */
static int
s_default_bin(char *bin, size_t size)
{
    char exe[BENCH_BIN_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    if (n <= 0)
        return -1;
    exe[n] = '\0';
    return nrm_path(bin, size, "%s", dirname(dirname(exe)));
}

static int
s_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        { "pairs", required_argument, NULL, 'k' },
        { "messages", required_argument, NULL, 'n' },
        { "loads", required_argument, NULL, 'L' },
        { "single-messages", required_argument, NULL, 'S' },
        { "max-messages", required_argument, NULL, 'M' },
        { "window", required_argument, NULL, 'w' },
        { "body", required_argument, NULL, 'b' },
        { "send-batch", required_argument, NULL, 'B' },
        { "warmup", required_argument, NULL, 'W' },
        { "out", required_argument, NULL, 'o' },
        { "workdir", required_argument, NULL, 'd' },
        { "keep", no_argument, NULL, 'K' },
        { "no-verify", no_argument, NULL, 'V' },
        { "no-plot", no_argument, NULL, 'P' },
        { "round", required_argument, NULL, 'r' },
        { "timeout", required_argument, NULL, 't' },
        { "poll-us", required_argument, NULL, 'p' },
        { "log-level", required_argument, NULL, 'l' },
        { "bin", required_argument, NULL, 'x' },
        { "idle-agents", required_argument, NULL, 'I' },
        { "idle-fresh", no_argument, NULL, 'F' },
        { "preload-log", required_argument, NULL, 'G' },
        { "preload-cache", required_argument, NULL, 'C' },
        { "restarts", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bench_opts_t o;
    const char *bin = NULL;

    memset(&o, 0, sizeof o);
    o.pairs = 2;
    o.messages = 2000;
    o.single_messages = 100;
    o.window = 64;
    o.body = 1024;
    o.send_batch = 1;
    o.warmup = 20;
    o.out = "bench-results";
    o.log_level = "info";
    o.round = 1;
    o.timeout_s = 300;
    o.poll_us = 200;
    o.verify = true;
    o.plot = true;
    (void) bench_loads_parse("single,100,200,400,max", o.loads, BENCH_LOADS_MAX, &o.nloads);

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'k':
            if (!s_uint(optarg, 1, BENCH_PAIRS_MAX, &o.pairs))
                return bench_usage(P, "--pairs '%s' is not 1..512", optarg);
            break;
        case 'n':
            if (!bench_u64(optarg, 1, 100000000, &o.messages))
                return bench_usage(P, "--messages '%s' is not 1..100000000", optarg);
            break;
        case 'L':
            if (!bench_loads_parse(optarg, o.loads, BENCH_LOADS_MAX, &o.nloads))
                return bench_usage(P, "--loads '%s': a comma-separated list of at most 32 of "
                               "single, max, or a rate in msg/s (1..10000000)", optarg);
            break;
        case 'S':
            if (!bench_u64(optarg, 1, 10000000, &o.single_messages))
                return bench_usage(P, "--single-messages '%s' is not 1..10000000", optarg);
            break;
        case 'M':
            if (!bench_u64(optarg, 1, 100000000, &o.max_messages))
                return bench_usage(P, "--max-messages '%s' is not 1..100000000", optarg);
            break;
        case 'w':
            if (!s_uint(optarg, 1, BENCH_WINDOW_MAX, &o.window))
                return bench_usage(P, "--window '%s' is not 1..256", optarg);
            break;
        case 'b':
            if (!s_uint(optarg, BENCH_BODY_MIN, BENCH_BODY_MAX, &o.body))
                return bench_usage(P, "--body '%s' is not %u..%u", optarg, BENCH_BODY_MIN,
                                   BENCH_BODY_MAX);
            break;
        case 'B':
            if (strcmp(optarg, "auto") == 0)
                o.send_batch = BENCH_SEND_AUTO;
            else if (!s_uint(optarg, 1, AGENT_SEND_MAX, &o.send_batch))
                return bench_usage(P, "--send-batch '%s' is not 1..1024 or auto", optarg);
            break;
        case 'W':
            if (!bench_u64(optarg, 0, 1000000, &o.warmup))
                return bench_usage(P, "--warmup '%s' is not 0..1000000", optarg);
            break;
        case 'o': o.out = optarg; break;
        case 'd': o.workdir = optarg; break;
        case 'K': o.keep = true; break;
        case 'V': o.verify = false; break;
        case 'P': o.plot = false; break;
        case 'r':
            if (!s_uint(optarg, 1, 1000000, &o.round))
                return bench_usage(P, "--round '%s' is not 1..1000000", optarg);
            break;
        case 't':
            if (!s_uint(optarg, 1, 86400, &o.timeout_s))
                return bench_usage(P, "--timeout '%s' is not 1..86400 seconds", optarg);
            break;
        case 'p':
            if (!s_uint(optarg, 0, 1000000, &o.poll_us))
                return bench_usage(P, "--poll-us '%s' is not 0..1000000", optarg);
            break;
        case 'l':
            if (strcmp(optarg, "error") != 0 && strcmp(optarg, "warn") != 0
                && strcmp(optarg, "info") != 0 && strcmp(optarg, "debug") != 0)
                return bench_usage(P, "--log-level '%s' is not error, warn, info or debug", optarg);
            o.log_level = optarg;
            break;
        case 'x': bin = optarg; break;
        case 'I':
            if (!s_uint(optarg, 0, BENCH_IDLE_MAX, &o.idle_agents))
                return bench_usage(P, "--idle-agents '%s' is not 0..%d", optarg, BENCH_IDLE_MAX);
            break;
        case 'F': o.idle_fresh = true; break;
        case 'G':
            if (!bench_u64(optarg, 10, 1000000000, &o.preload))
                return bench_usage(P, "--preload-log '%s' is not 10..1000000000", optarg);
            break;
        case 'C': o.preload_cache = optarg; break;
        case 'R':
            if (!s_uint(optarg, 0, 100, &o.restarts))
                return bench_usage(P, "--restarts '%s' is not 0..100", optarg);
            break;
        case 'h': s_help(stdout); return S_EXIT_OK;
        case ':': return bench_usage(P, "option %s needs a value", argv[optind - 1]);
        default:  return bench_usage(P, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bench_usage(P, "unexpected argument '%s'", argv[optind]);
    if (o.preload_cache != NULL && o.preload_cache[0] == '\0')
        return bench_usage(P, "%s", "--preload-cache must not be empty");
    if (o.max_messages == 0)
        o.max_messages = o.messages;
    if (o.messages < o.pairs || o.max_messages < o.pairs)
        return bench_usage(P, "--messages must be at least --pairs (%s)", "each pair sends N/K");
    if (o.out[0] == '\0' || (o.workdir != NULL && o.workdir[0] == '\0'))
        return bench_usage(P, "%s", "--out and --workdir must not be empty");
    if (bin != NULL ? nrm_path(o.bin, sizeof o.bin, "%s", bin) != 0
                    : s_default_bin(o.bin, sizeof o.bin) != 0)
        return bench_usage(P, "%s", "cannot tell the build folder: give --bin DIR");
    return bench_nrm_run(&o);
}

static int
s_cmd_plot(int argc, char **argv)
{
    static const struct option opts[] = {
        { "csv", required_argument, NULL, 'c' },
        { "png", required_argument, NULL, 'p' },
        { "title", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *csv = NULL, *png = NULL, *title = "handoff latency against throughput";
    nrm_err_t err = { 0, 0, "" };
    bench_row_t *rows;
    size_t n = 0;
    int rc;

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'c': csv = optarg; break;
        case 'p': png = optarg; break;
        case 't': title = optarg; break;
        case 'h': s_help(stdout); return S_EXIT_OK;
        case ':': return bench_usage(P, "option %s needs a value", argv[optind - 1]);
        default:  return bench_usage(P, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc || csv == NULL || png == NULL)
        return bench_usage(P, "%s", "plot needs --csv FILE and --png FILE");
    rows = calloc(BENCH_ROWS_MAX, sizeof *rows);
    if (rows == NULL) {
        fprintf(stderr, "nrm-bench: out of memory\n");
        return S_EXIT_FAIL;
    }
    rc = bench_csv_read(csv, rows, BENCH_ROWS_MAX, &n, &err);
    if (rc == 0)
        rc = bench_plot(rows, n, png, title, &err);
    free(rows);
    if (rc != 0) {
        fprintf(stderr, "nrm-bench plot: %s\n", err.msg);
        return S_EXIT_FAIL;
    }
    printf("plot: %s (%zu rows)\n", png, n);
    return S_EXIT_OK;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "plot") == 0)
        return s_cmd_plot(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "idle-agents") == 0)
        return bench_idle_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return s_cmd_run(argc - 1, argv + 1);
    return s_cmd_run(argc, argv);
}
