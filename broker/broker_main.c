/*  nrm-broker -- the broker daemon, in the foreground. */
#include "broker.h"
#include "nrm_crypto.h"
#include "nrm_httpd.h"
#include "nrm_log.h"
#include <signal.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <string.h>

static volatile int s_stop;     /* set by the signal handler only */

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: nrm-broker --dir NET [--listen ENDPOINT] [--log-level LEVEL]\n"
            "                  [--log-format text|kv|json] [--metrics ADDRESS] [--check-config]\n"
            "\n"
            "Runs the nrmbus broker of the network in folder NET (made by nrm-admin init)\n"
            "in the foreground until SIGTERM or SIGINT.\n"
            "\n"
            "  --dir NET          network folder: broker.ini, broker.key, data/\n"
            "  --listen ENDPOINT  overrides [broker] listen, e.g. tcp://127.0.0.1:7100;\n"
            "                     port 0 picks a free port. The bound endpoint is written\n"
            "                     to NET/broker.endpoint.\n"
            "  --log-level LEVEL  error, warn, info (default) or debug\n"
            "  --log-format FMT   text (default), kv (key=value) or json: one line per event\n"
            "  --metrics ADDRESS  serve Prometheus metrics at http://ADDRESS/metrics\n"
            "                     (127.0.0.1:9464; port 0 picks one, written to\n"
            "                     NET/metrics.endpoint; docs/operations.md lists them)\n"
            "  --check-config     check NET/broker.ini (file:line:reason) and exit:\n"
            "                     0 valid, 1 not\n");
}

int
main(int argc, char **argv)
{
    const char *dir = NULL, *listen = NULL, *level = NULL, *format = NULL, *metrics = NULL;
    int check = 0;
    nrm_err_t err = { 0, 0, "" };
    broker_config_t cfg;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen = argv[++i];
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            level = argv[++i];
        } else if (strcmp(argv[i], "--log-format") == 0 && i + 1 < argc) {
            format = argv[++i];
        } else if (strcmp(argv[i], "--metrics") == 0 && i + 1 < argc) {
            metrics = argv[++i];
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check = 1;
        } else {
            fprintf(stderr, "nrm-broker: unknown or incomplete option '%s'\n", argv[i]);
            s_usage(stderr);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "nrm-broker: --dir NET is required\n");
        s_usage(stderr);
        return 2;
    }
    if (nrm_crypto_init() != 0) {
        fprintf(stderr, "nrm-broker: libsodium failed to initialise\n");
        return 1;
    }
    if (broker_config_load(dir, &cfg, &err) != 0) {
        fprintf(stderr, check ? "%s\n" : "nrm-broker: %s\n", err.msg);
        return 1;
    }
    if (check) {
        printf("configuration of %s is valid\n", dir);
        return 0;
    }
    char why[200] = "the address is too long";
    if (metrics && (!nrm_httpd_listen_valid(metrics, true, why, sizeof why)
                    || snprintf(cfg.metrics_listen, sizeof cfg.metrics_listen, "%s", metrics)
                       >= (int) sizeof cfg.metrics_listen)) {
        fprintf(stderr, "nrm-broker: --metrics: %s\n", why);
        return 2;
    }
    int fmt = format ? nrm_log_format_parse(format) : NRM_LOG_FMT_TEXT;
    if (fmt < 0) {
        fprintf(stderr, "nrm-broker: --log-format must be text, kv or json\n");
        return 2;
    }
    if (listen && snprintf(cfg.listen, sizeof cfg.listen, "%s", listen) >= (int) sizeof cfg.listen) {
        fprintf(stderr, "nrm-broker: --listen too long\n");
        return 2;
    }
    if (level && (cfg.log_level = nrm_log_level_parse(level)) < 0) {
        fprintf(stderr, "nrm-broker: --log-level must be error, warn, info or debug\n");
        return 2;
    }
    nrm_log_init("broker", cfg.network, cfg.log_level);
    nrm_log_set_format(fmt);

#ifdef __GLIBC__
    /* Buffers of 128 KiB and more (Welcomes of a large directory, CURVE
       copies of them in libzmq's I/O thread, big bodies) are mapped and
       given back to the system when freed. glibc would otherwise raise this
       threshold after the first such free and serve them from the heap,
       which a thousand agents connecting at once leaves fragmented: 200 MiB
       and more resident for good instead of under 64 MiB
       (docs/performance.md, p-scale). */
    (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    broker_t *broker = broker_new(&cfg, &err);
    if (!broker) {
        nrm_error("cannot start: %s", err.msg);
        return 1;
    }
    int rc = broker_run(broker, &s_stop, &err);
    if (rc)
        nrm_error("stopped on error: %s", err.msg);
    broker_destroy(&broker);
    return rc ? 1 : 0;
}
