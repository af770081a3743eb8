/*  audit_verify -- `nrm-audit verify`: the whole log, offline, read-only:
    chain, sequence, genesis, certificates, every signature (see
    nrm_auditlog_verify). Exit 0 intact, 1 failed, 2 usage or unreadable. */
#include "audit.h"

#include <getopt.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nrm_auditlog.h"
#include "nrm_crypto.h"
#include "nrm_util.h"

typedef struct {
    uint64_t start_ms;
    bool     shown;
} s_progress_t;

/* Progress on a terminal only: logs and pipes get the result line alone. */
static void
s_progress(void *vctx, uint64_t done, uint64_t total)
{
    s_progress_t *p = vctx;
    uint64_t elapsed = nrm_now_ms() - p->start_ms;
    double rate = elapsed > 0 ? (double) done * 1000.0 / (double) elapsed : 0.0;
    fprintf(stderr, "\rverifying: %llu of %llu records, %.0f records/s   ",
            (unsigned long long) done, (unsigned long long) total, rate);
    fflush(stderr);
    p->shown = true;
}

static void
s_usage(FILE *f)
{
    fprintf(f, "usage: nrm-audit verify --dir NET\n"
               "  verifies the audit log in NET/data (read-only; safe while the broker runs)\n");
}

int
audit_cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir",  required_argument, NULL, 'd' },
        { "help", no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL;
    nrm_err_t err;
    nrm_store_t *store = NULL;
    s_progress_t prog = { 0, false };
    uint64_t count = 0, bad_seq = 0;
    int code = TOOL_EXIT_USAGE;

    memset(&err, 0, sizeof err);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'h': s_usage(stdout); return TOOL_EXIT_OK;
        default:
            fprintf(stderr, "nrm-audit verify: bad option '%s'\n", argv[optind - 1]);
            s_usage(stderr);
            return TOOL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    if (tool_dir_check(dir, &err) != 0) {
        audit_fail(&err);
        return TOOL_EXIT_USAGE;
    }
    if (nrm_crypto_init() != 0) {
        nrm_err_set(&err, NRM_ECRYPTO, "cannot initialise libsodium");
        audit_fail(&err);
        goto out;
    }
    if (tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, &err) != 0) {
        audit_fail(&err);
        goto out;
    }
    prog.start_ms = nrm_now_ms();
    int rc = nrm_auditlog_verify(store, &count, &bad_seq,
                                 isatty(STDERR_FILENO) ? s_progress : NULL, &prog, &err);
    if (prog.shown)
        fprintf(stderr, "\r%70s\r", "");     /* clear the progress line */
    if (rc == 0) {
        printf("OK: %llu records verified, chain and signatures intact\n",
               (unsigned long long) count);
        code = TOOL_EXIT_OK;
        goto out;
    }
    if (bad_seq > 0)
        printf("FAILED at seq %llu: ", (unsigned long long) bad_seq);
    else
        printf("FAILED: ");
    tool_print_safe(stdout, err.msg[0] ? err.msg : nrm_strerror(rc));
    printf("\n");
    code = TOOL_EXIT_FAIL;
out:
    nrm_store_destroy(&store);
    return code;
}
