/*  audit_verify -- `nrm-audit verify`: the whole log, offline, read-only:
    chain, sequence, genesis, certificates, every signature (see
    nrm_auditlog_verify). Exit 0 intact, 1 failed, 2 usage or unreadable. */
#include "audit.h"

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

#define S_USAGE \
    "usage: nrm-audit verify --dir NET\n" \
    "  verifies the audit log in NET/data (read-only; safe while the broker runs)\n" \
    "  exit 0 intact, 1 failed verification, 2 usage or cannot open\n"

int
audit_cmd_verify(int argc, char **argv)
{
    const char *dir;
    const tool_opt_t opts[] = { { "dir", &dir, NULL }, { NULL, NULL, NULL } };
    const tool_cmdline_t cl = { "nrm-audit", "verify", S_USAGE, opts, NULL, 0 };
    nrm_err_t err;
    nrm_store_t *store = NULL;
    s_progress_t prog = { 0, false };
    uint64_t count = 0, bad_seq = 0;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    code = TOOL_EXIT_USAGE;

    memset(&err, 0, sizeof err);
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
