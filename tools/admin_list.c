/*  admin_list -- `nrm-admin list` and `show`: the registry with each
    organisation's type, key fingerprints, validity and status, requests
    pending approval, and for one organisation its history from the audit
    log and the deliveries held for it. Read-only: safe while the broker
    runs. */
#include "admin.h"

#include <stdio.h>
#include <string.h>

#include "nrm_auditlog.h"
#include "nrm_regadmin.h"
#include "nrm_util.h"

#define S_SOON_MS (30ull * 24ull * 3600ull * 1000ull)   /* "expires soon" */

typedef struct {
    nrm_store_t  *store;
    MDB_txn      *txn;
    nrm_genesis_t g;
    uint64_t      now;
    size_t        count, bad;
} s_list_ctx_t;

static const char *
s_state(const s_list_ctx_t *ctx, const nrm_cert_t *cert, const nrm_orgstatus_t *st)
{
    if (st->status != NRM_ORG_ACTIVE)
        return nrm_org_status_name(st->status);
    if (ctx->now < cert->not_before_ms)
        return "not yet valid";
    if (ctx->now >= cert->not_after_ms)
        return "expired";
    return cert->not_after_ms - ctx->now < S_SOON_MS ? "expires soon" : "valid";
}

static int
s_list_one(void *vctx, const char *org_id, nrm_bytes_t signed_bytes)
{
    s_list_ctx_t *ctx = vctx;
    nrm_cert_t cert;
    nrm_orgstatus_t st;
    nrm_err_t err;
    memset(&err, 0, sizeof err);
    ctx->count++;
    if (nrm_cert_verify_signed(signed_bytes.data, signed_bytes.len, &ctx->g, &cert, &err) != 0
        || nrm_registry_status(ctx->store, ctx->txn, org_id, &st, &err) != 0) {
        ctx->bad++;
        printf("%-16s INVALID CERTIFICATE: ", org_id);
        tool_print_safe(stdout, err.msg);
        printf("\n");
        return 0;
    }
    char fp[17], validity[64];
    nrm_fingerprint(cert.sign_pk, fp);
    admin_validity_format(cert.not_before_ms, cert.not_after_ms, validity, sizeof validity);
    printf("%-16s %-12s %-16s %-24s %-13s ", cert.org_id, cert.org_type, fp, validity,
           s_state(ctx, &cert, &st));
    tool_print_safe(stdout, cert.name);
    if (cert.jurisdiction[0] != '\0') {
        printf(" (");
        tool_print_safe(stdout, cert.jurisdiction);
        printf(")");
    }
    printf("\n");
    return 0;
}

static int
s_pending_one(void *vctx, const char *org_id, const nrm_pending_t *p)
{
    s_list_ctx_t *ctx = vctx;
    printf("pending  %-16s %-16s record %llu, %zu of %u approvals\n", org_id,
           p->kind == NRM_REC_ROTATE_REQUESTED ? "key rotation" : "enrollment",
           (unsigned long long) p->request_seq, p->napprovals, ctx->g.quorum);
    return 0;
}

static int
s_open(const char *dir, s_list_ctx_t *ctx, nrm_err_t *err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->now = nrm_now_ms();
    int rc = tool_store_open(dir, NRM_STORE_RDONLY, 0, &ctx->store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(ctx->store, &ctx->txn, err);
    if (rc == 0 && (rc = nrm_registry_genesis(ctx->store, ctx->txn, &ctx->g, err)) != 0)
        nrm_err_prefix(err, "no network genesis in %s/data", dir);
    return rc;
}

static void
s_close(s_list_ctx_t *ctx)
{
    nrm_store_read_end(&ctx->txn);
    nrm_store_destroy(&ctx->store);
}

#define S_USAGE \
    "usage: nrm-admin list --dir NET\n" \
    "  lists the enrolled organisations with their status (valid, expires soon,\n" \
    "  expired, suspended, revoked) and the requests pending approval\n"

int
admin_cmd_list(int argc, char **argv)
{
    const char *dir;
    const tool_opt_t opts[] = { { "dir", &dir, NULL }, { NULL, NULL, NULL } };
    const tool_cmdline_t cl = { "nrm-admin", "list", S_USAGE, opts, NULL, 0 };
    nrm_err_t err;
    s_list_ctx_t ctx;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    code = TOOL_EXIT_FAIL;
    if (s_open(dir, &ctx, &err) != 0)
        goto out;
    char fp[17];
    nrm_fingerprint(ctx.g.admin_pk, fp);
    printf("network %s (%u administrators, quorum %u; first administrator key %s)\n", ctx.g.network,
           ctx.g.nadmins, ctx.g.quorum, fp);
    printf("%-16s %-12s %-16s %-24s %-13s %s\n", "ID", "TYPE", "SIGN KEY", "VALIDITY", "STATE",
           "NAME (JURISDICTION)");
    if (nrm_registry_each(ctx.store, ctx.txn, s_list_one, &ctx, &err) != 0
        || nrm_pending_each(ctx.store, ctx.txn, s_pending_one, &ctx, &err) != 0)
        goto out;
    printf("%zu organisation%s enrolled", ctx.count, ctx.count == 1 ? "" : "s");
    if (ctx.bad > 0)
        printf(", %zu with an INVALID certificate", ctx.bad);
    printf("\n");
    code = ctx.bad > 0 ? TOOL_EXIT_FAIL : TOOL_EXIT_OK;
out:
    if (code != TOOL_EXIT_OK && ctx.bad == 0)
        admin_fail(&err);
    s_close(&ctx);
    return code;
}

/* ---- show ---- */

typedef struct {
    const char *org_id;
    size_t n;
} s_hist_t;

/* A record of the log about org: its registry changes and key events. */
static int
s_hist_one(void *vctx, uint64_t seq, nrm_bytes_t bytes, const nrm_record_t *rec, nrm_err_t *err)
{
    s_hist_t *h = vctx;
    nrm_action_t a;
    nrm_cert_t c;
    nrm_err_t ignore;
    bool about = false;
    (void) bytes;
    (void) err;
    if (!rec)
        return 0;
    if (rec->kind == NRM_REC_ENROLLED || rec->kind == NRM_REC_ROTATED)
        about = nrm_cert_decode(rec->subject, rec->subject_len, &c, &ignore) == 0
                && strcmp(c.org_id, h->org_id) == 0;
    else if (rec->kind == NRM_REC_KEY_RETIRED)
        about = strcmp(rec->actor, h->org_id) == 0;
    else if (rec->kind >= NRM_REC_REQUESTED && rec->kind != NRM_REC_ADMIN_REFUSED
             && nrm_action_decode(rec->subject, rec->subject_len, &a, &ignore) == 0) {
        about = strcmp(a.org_id, h->org_id) == 0;
        nrm_action_clear(&a);
    }
    if (!about)
        return 0;
    char when[32];
    nrm_time_format(rec->time_ms, when, sizeof when);
    printf("  record %-6llu %s  %-16s by %-22s ", (unsigned long long) seq, when,
           nrm_record_kind_name(rec->kind), rec->actor);
    tool_print_safe(stdout, rec->reason);
    printf("\n");
    h->n++;
    return 0;
}

/* Deliveries queued for org (held while it is suspended or revoked). */
static int
s_queued(s_list_ctx_t *ctx, const char *org, size_t *n, nrm_err_t *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t key[NRM_ID_MAX + 9];
    size_t olen = strlen(org);
    *n = 0;
    int mrc = mdb_cursor_open(ctx->txn, nrm_store_dbi(ctx->store, "queue"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "queue cursor", err);
    memcpy(key, org, olen);
    key[olen] = 0;
    k.mv_data = key;
    k.mv_size = olen + 1;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != olen + 9 || memcmp(k.mv_data, key, olen + 1) != 0)
            break;
        (*n)++;
    }
    mdb_cursor_close(cur);
    return 0;
}

int
admin_cmd_show(int argc, char **argv)
{
    const char *dir, *org_id;
    const tool_opt_t opts[] = { { "dir", &dir, NULL }, { NULL, NULL, NULL } };
    const tool_cmdline_t cl = { "nrm-admin", "show", "usage: nrm-admin show --dir NET ID\n"
                                "  one organisation: certificate, keys, status, held deliveries, history\n",
                                opts, &org_id, 1 };
    nrm_err_t err;
    s_list_ctx_t ctx;
    nrm_bytes_t b;
    nrm_cert_t cert, old;
    nrm_orgstatus_t st;
    nrm_pending_t p;
    size_t queued = 0;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    memset(&p, 0, sizeof p);
    code = TOOL_EXIT_FAIL;
    if (!nrm_id_valid(org_id)) {
        fprintf(stderr, "nrm-admin show: '%s' is not an organisation id\n", org_id);
        return TOOL_EXIT_USAGE;
    }
    if (s_open(dir, &ctx, &err) != 0)
        goto out;
    int rc = nrm_registry_find(ctx.store, ctx.txn, org_id, NULL, &b, &err);
    bool enrolled = rc == 0;
    if (rc && rc != NRM_ENOTFOUND)
        goto out;
    bool pending = nrm_pending_get(ctx.store, ctx.txn, org_id, &p, NULL) == 0;
    if (!enrolled && !pending) {
        nrm_err_set(&err, NRM_ENOTFOUND, "organisation %s is neither enrolled nor pending", org_id);
        goto out;
    }
    printf("%s\n", org_id);
    if (enrolled) {
        if (nrm_cert_verify_signed(b.data, b.len, &ctx.g, &cert, &err) != 0
            || nrm_registry_status(ctx.store, ctx.txn, org_id, &st, &err) != 0
            || s_queued(&ctx, org_id, &queued, &err) != 0)
            goto out;
        char fs[17], fc[17], fb[17], validity[64];
        nrm_fingerprint(cert.sign_pk, fs);
        nrm_fingerprint(cert.curve_pk, fc);
        nrm_fingerprint(cert.box_pk, fb);
        admin_validity_format(cert.not_before_ms, cert.not_after_ms, validity, sizeof validity);
        printf("  type          %s\n  name          ", cert.org_type);
        tool_print_safe(stdout, cert.name);
        printf("\n  jurisdiction  ");
        tool_print_safe(stdout, cert.jurisdiction[0] ? cert.jurisdiction : "-");
        printf("\n  keys          sign %s  curve %s  box %s\n", fs, fc, fb);
        if (nrm_registry_old_cert(ctx.store, ctx.txn, org_id, &old, NULL) == 0) {
            nrm_fingerprint(old.sign_pk, fs);
            printf("  old key       sign %s (accepted until the first message with the new key)\n", fs);
        }
        printf("  certificate   serial %llu, valid %s\n", (unsigned long long) cert.serial, validity);
        printf("  status        %s", s_state(&ctx, &cert, &st));
        if (st.seq) {
            printf(" (record %llu: ", (unsigned long long) st.seq);
            tool_print_safe(stdout, st.reason);
            printf(")");
        }
        printf("\n  queued        %zu deliver%s%s\n", queued, queued == 1 ? "y" : "ies",
               queued && st.status != NRM_ORG_ACTIVE ? " (held)" : "");
    }
    if (pending)
        printf("  pending       %s, record %llu, %zu of %u approvals\n",
               p.kind == NRM_REC_ROTATE_REQUESTED ? "key rotation" : "enrollment",
               (unsigned long long) p.request_seq, p.napprovals, ctx.g.quorum);
    printf("  history\n");
    s_hist_t h = { org_id, 0 };
    if (nrm_auditlog_each(ctx.store, ctx.txn, 1, s_hist_one, &h, &err) != 0)
        goto out;
    code = TOOL_EXIT_OK;
out:
    if (code != TOOL_EXIT_OK)
        admin_fail(&err);
    nrm_pending_clear(&p);
    s_close(&ctx);
    return code;
}
