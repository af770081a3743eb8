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
    uint64_t start_ms, last_ms;
    bool     shown;
} s_progress_t;

/* Progress on a terminal only: logs and pipes get the result line alone.
   Shown at most every 250 ms. */
static void
s_progress(void *vctx, uint64_t done, uint64_t total)
{
    s_progress_t *p = vctx;
    uint64_t now = nrm_now_ms(), elapsed = now - p->start_ms;
    if (now - p->last_ms < 250)
        return;
    p->last_ms = now;
    double rate = elapsed > 0 ? (double) done * 1000.0 / (double) elapsed : 0.0;
    double left = rate > 0 && total > done ? (double) (total - done) / rate : 0.0;
    fprintf(stderr, "\rverifying: %llu of %llu records (%.0f%%), %.0f records/s, %.0f s left   ",
            (unsigned long long) done, (unsigned long long) total,
            total ? 100.0 * (double) done / (double) total : 100.0, rate, left);
    fflush(stderr);
    p->shown = true;
}

static void
s_report(const nrm_verify_result_t *res, uint64_t ms)
{
    char root[2 * NRM_HASH_BYTES + 1];
    nrm_hex_encode(res->root, NRM_HASH_BYTES, root);
    printf("OK: %llu records verified, chain, tree and signatures intact\n",
           (unsigned long long) res->count);
    printf("  %llu signatures, %llu checkpoints, Merkle root %s\n",
           (unsigned long long) res->signatures, (unsigned long long) res->checkpoints, root);
    if (res->checkpoints == 0)
        printf("  no signed checkpoint yet: the log proves itself consistent, nothing more\n");
    else if (res->checkpoint_size + 1 < res->count)
        printf("  the last checkpoint covers records 1..%llu; records %llu..%llu are not yet "
               "covered by a signed checkpoint\n", (unsigned long long) res->checkpoint_size,
               (unsigned long long) res->checkpoint_size + 2, (unsigned long long) res->count);
    if (res->undelivered)
        printf("  %llu accepted messages not yet acknowledged by their recipient\n",
               (unsigned long long) res->undelivered);
    if (ms > 0)
        fprintf(stderr, "verified in %.1f s, %.0f records/s\n", (double) ms / 1000.0,
                (double) res->count * 1000.0 / (double) ms);
}

#define S_USAGE \
    "usage: nrm-audit verify --dir NET [--checkpoint NOTE]\n" \
    "  verifies the audit log in NET/data (read-only; safe while the broker runs):\n" \
    "  chain, Merkle tree, every signature and checkpoint, on all cores;\n" \
    "  --checkpoint: a signed checkpoint kept elsewhere (an agent's, an earlier\n" \
    "  audit's) that the log must still hold\n" \
    "  exit 0 intact, 1 failed verification, 2 usage or cannot open\n"

int
audit_cmd_verify(int argc, char **argv)
{
    const char *dir = NULL, *trusted = NULL;
    const tool_opt_t opts[] = { { "dir", &dir, NULL }, { "checkpoint", &trusted, NULL },
                                { NULL, NULL, NULL } };
    uint8_t *note = NULL;
    size_t note_len = 0;
    const tool_cmdline_t cl = { "nrm-audit", "verify", S_USAGE, opts, NULL, 0 };
    nrm_err_t err;
    nrm_store_t *store = NULL;
    s_progress_t prog = { 0, 0, false };
    nrm_verify_result_t res;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    code = TOOL_EXIT_USAGE;

    memset(&err, 0, sizeof err);
    if (trusted && nrm_file_read(trusted, NRM_MAX_FILE_BYTES, &note, &note_len, &err) != 0) {
        audit_fail(&err);
        goto out;
    }
    if (tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, &err) != 0) {
        audit_fail(&err);
        goto out;
    }
    prog.start_ms = nrm_now_ms();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    nrm_verify_opts_t vopts = { .threads = cpus > 1 ? (unsigned) cpus - 1 : 1,
                                .progress = isatty(STDERR_FILENO) ? s_progress : NULL,
                                .pctx = &prog, .trusted_note = note,
                                .trusted_len = note_len };
    int rc = nrm_auditlog_verify(store, &vopts, &res, &err);
    if (prog.shown)
        fprintf(stderr, "\r%90s\r", "");     /* clear the progress line */
    if (rc == 0) {
        s_report(&res, nrm_now_ms() - prog.start_ms);
        code = TOOL_EXIT_OK;
        goto out;
    }
    if (res.bad_seq > 0)
        printf("FAILED at seq %llu: ", (unsigned long long) res.bad_seq);
    else
        printf("FAILED: ");
    tool_print_safe(stdout, err.msg[0] ? err.msg : nrm_strerror(rc));
    printf("\n");
    code = TOOL_EXIT_FAIL;
out:
    free(note);
    nrm_store_destroy(&store);
    return code;
}
