/*  admin_list -- `nrm-admin list`: the enrolled organisations, each
    certificate checked against the administrator key of the genesis.
    Read-only: works while the broker runs. */
#include "admin.h"

#include <stdio.h>
#include <string.h>

#include "nrm_registry.h"
#include "nrm_util.h"

typedef struct {
    nrm_genesis_t g;
    uint64_t      now;
    size_t        count;
    size_t        bad;
} s_list_ctx_t;

static int
s_list_one(void *vctx, const char *org_id, nrm_bytes_t signed_bytes)
{
    s_list_ctx_t *ctx = vctx;
    nrm_cert_t cert;
    nrm_err_t err;
    memset(&err, 0, sizeof err);
    ctx->count++;
    if (nrm_cert_verify_signed(signed_bytes.data, signed_bytes.len, ctx->g.admin_pk,
                               &cert, &err) != 0) {
        ctx->bad++;
        printf("%-16s INVALID CERTIFICATE: ", org_id);
        tool_print_safe(stdout, err.msg);
        printf("\n");
        return 0;
    }
    char fp[17], validity[64];
    nrm_fingerprint(cert.sign_pk, fp);
    admin_validity_format(cert.not_before_ms, cert.not_after_ms, validity, sizeof validity);
    const char *state = ctx->now < cert.not_before_ms ? "not yet valid"
                        : ctx->now >= cert.not_after_ms ? "expired" : "valid";
    printf("%-16s %-12s %-16s %-24s %-13s ", cert.org_id, cert.org_type, fp,
           validity, state);
    tool_print_safe(stdout, cert.name);
    if (cert.jurisdiction[0] != '\0') {
        printf(" (");
        tool_print_safe(stdout, cert.jurisdiction);
        printf(")");
    }
    printf("\n");
    return 0;
}

#define S_USAGE \
    "usage: nrm-admin list --dir NET\n" \
    "  lists the enrolled organisations (read-only; safe while the broker runs)\n"

int
admin_cmd_list(int argc, char **argv)
{
    const char *dir;
    const tool_opt_t opts[] = { { "dir", &dir, NULL }, { NULL, NULL, NULL } };
    const tool_cmdline_t cl = { "nrm-admin", "list", S_USAGE, opts, NULL, 0 };
    nrm_err_t err;
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    s_list_ctx_t ctx;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    code = TOOL_EXIT_FAIL;

    memset(&err, 0, sizeof err);
    memset(&ctx, 0, sizeof ctx);
    if (tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, &err) != 0)
        goto out;
    if (nrm_store_read_begin(store, &txn, &err) != 0)
        goto out;
    if (nrm_registry_genesis(store, txn, &ctx.g, &err) != 0) {
        nrm_err_prefix(&err, "no network genesis in %s/data", dir);
        goto out;
    }
    char fp[17];
    nrm_fingerprint(ctx.g.admin_pk, fp);
    printf("network %s (administrator key %s)\n", ctx.g.network, fp);
    printf("%-16s %-12s %-16s %-24s %-13s %s\n", "ID", "TYPE", "SIGN KEY",
           "VALIDITY", "STATE", "NAME (JURISDICTION)");
    ctx.now = nrm_now_ms();
    if (nrm_registry_each(store, txn, s_list_one, &ctx, &err) != 0)
        goto out;
    printf("%zu organisation%s enrolled", ctx.count, ctx.count == 1 ? "" : "s");
    if (ctx.bad > 0)
        printf(", %zu with an INVALID certificate", ctx.bad);
    printf("\n");
    code = ctx.bad > 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
out:
    if (code != TOOL_EXIT_OK && ctx.bad == 0)
        admin_fail(&err);
    if (txn != NULL)
        nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    return code;
}
