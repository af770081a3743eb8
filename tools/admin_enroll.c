/*  admin_enroll -- `nrm-admin enroll`: turns an organisation's signed
    enrollment request into a certificate signed by the administrator, adds
    it to the registry and the audit log in one durable transaction, and
    writes the organisation's connect file.

    It works while the broker runs: LMDB serialises writers across
    processes, the audit log re-reads its tip inside every write
    transaction, and the broker reads the registry on each lookup. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nrm_auditlog.h"
#include "nrm_registry.h"
#include "nrm_util.h"

#define S_DAY_MS (24ull * 3600ull * 1000ull)

typedef struct {
    const nrm_keys_t *admin;
    nrm_cert_t     cert;          /* in: request fields; out: the certificate */
    uint64_t       days;
    /* out, rebuilt from scratch if the transaction runs again */
    nrm_genesis_t  g;
    uint8_t       *body;          /* Certificate bytes */
    size_t         body_len;
    uint8_t       *signed_bytes;  /* Signed{Certificate} bytes */
    size_t         signed_len;
    uint64_t       seq;
    uint64_t       max_serial;    /* scratch for s_max_serial */
    nrm_err_t      each_err;      /* scratch for s_max_serial */
} s_enroll_ctx_t;

/* Registry walk: the highest serial issued so far. */
static int
s_max_serial(void *vctx, const char *org_id, nrm_bytes_t signed_bytes)
{
    s_enroll_ctx_t *ctx = vctx;
    uint8_t *body = NULL;
    size_t body_len = 0;
    uint8_t sig[NRM_SIG_BYTES];
    nrm_cert_t cert;
    int rc = nrm_signed_decode(signed_bytes.data, signed_bytes.len, NRM_MAX_CERT_BYTES,
                               &body, &body_len, sig, &ctx->each_err);
    if (rc == 0)
        rc = nrm_cert_decode(body, body_len, &cert, &ctx->each_err);
    free(body);
    if (rc != 0) {
        nrm_err_prefix(&ctx->each_err, "registry entry %s", org_id);
        return rc;
    }
    if (cert.serial > ctx->max_serial)
        ctx->max_serial = cert.serial;
    return 0;
}

static int
s_enroll_txn(nrm_store_t *store, MDB_txn *txn, void *vctx, nrm_err_t *err)
{
    s_enroll_ctx_t *ctx = vctx;
    nrm_cert_t *cert = &ctx->cert;
    char other[NRM_ID_MAX + 1];
    uint8_t sig[NRM_SIG_BYTES];
    int rc;

    /* Run again after the map grew: start from scratch. */
    free(ctx->body);
    free(ctx->signed_bytes);
    ctx->body = ctx->signed_bytes = NULL;

    rc = nrm_registry_genesis(store, txn, &ctx->g, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, rc, "the store holds no network genesis "
                           "(was the folder made by nrm-admin init?)");
    if (rc != 0)
        return rc;
    if (memcmp(ctx->g.admin_pk, nrm_keys_sign_pk(ctx->admin), NRM_PK_BYTES) != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "admin.key is not the administrator key "
                           "of network %s", ctx->g.network);
    if (memcmp(cert->curve_pk, ctx->g.broker_curve_pk, NRM_PK_BYTES) == 0
        || memcmp(cert->sign_pk, ctx->g.broker_sign_pk, NRM_PK_BYTES) == 0
        || memcmp(cert->sign_pk, ctx->g.admin_pk, NRM_PK_BYTES) == 0)
        return nrm_err_set(err, NRM_EINVAL, "the request reuses a key of the broker "
                           "or the administrator");

    rc = nrm_registry_find(store, txn, cert->org_id, NULL, NULL, err);
    if (rc == 0)
        return nrm_err_set(err, NRM_EEXIST, "organisation %s is already enrolled",
                           cert->org_id);
    if (rc != NRM_ENOTFOUND)
        return rc;
    rc = nrm_registry_find_curve(store, txn, cert->curve_pk, other, err);
    if (rc == 0)
        return nrm_err_set(err, NRM_EEXIST, "CURVE key already enrolled "
                           "(organisation %s)", other);
    if (rc != NRM_ENOTFOUND)
        return rc;

    /* Serials: one more than the highest issued. Writers are serialised,
       so two enrollments never get the same one. O(N) in the registry,
       which enrollment can afford. */
    ctx->max_serial = 0;
    memset(&ctx->each_err, 0, sizeof ctx->each_err);
    rc = nrm_registry_each(store, txn, s_max_serial, ctx, err);
    if (rc != 0) {
        if (ctx->each_err.msg[0] != '\0')
            *err = ctx->each_err;
        return rc < 0 ? rc : NRM_ECORRUPT;
    }
    uint64_t now = nrm_now_ms();
    cert->serial = ctx->max_serial + 1;
    cert->not_before_ms = now;
    cert->not_after_ms = now + ctx->days * S_DAY_MS;
    memcpy(cert->issuer_pk, ctx->g.admin_pk, NRM_PK_BYTES);

    rc = nrm_cert_encode(cert, &ctx->body, &ctx->body_len, err);
    if (rc != 0)
        return rc;
    if (nrm_sign(ctx->admin, NRM_CTX_CERT, ctx->body, ctx->body_len, sig) != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "cannot sign the certificate");
    rc = nrm_signed_encode(ctx->body, ctx->body_len, sig, &ctx->signed_bytes,
                           &ctx->signed_len, err);
    if (rc != 0)
        return rc;
    rc = nrm_registry_add(store, txn, cert, ctx->signed_bytes, ctx->signed_len, err);
    if (rc == NRM_EEXIST)
        return nrm_err_set(err, rc, "organisation %s or its CURVE key is already "
                           "enrolled", cert->org_id);
    if (rc != 0)
        return rc;

    nrm_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.time_ms = now;
    rec.kind = NRM_REC_ENROLLED;
    snprintf(rec.actor, sizeof rec.actor, "admin");
    rec.subject = ctx->body;          /* borrowed by the encoder */
    rec.subject_len = ctx->body_len;
    rec.has_signature = true;
    memcpy(rec.signature, sig, NRM_SIG_BYTES);
    uint8_t leaf[NRM_HASH_BYTES];
    return nrm_auditlog_append(store, txn, &rec, &ctx->seq, leaf, err);
}

#define S_USAGE \
    "usage: nrm-admin enroll --dir NET REQUEST [--days N] [--endpoint EP] [--out FILE]\n" \
    "  signs a certificate for the organisation that made REQUEST (ORG/request.nrm),\n" \
    "  valid N days (default 365), and writes its connect file\n" \
    "  (default NET/enrolled/ID.connect.ini; endpoint default: broker.ini's listen)\n"

int
admin_cmd_enroll(int argc, char **argv)
{
    const char *dir, *days_text, *endpoint, *out, *request;
    const tool_opt_t opts[] = {
        { "dir", &dir, NULL }, { "days", &days_text, NULL },
        { "endpoint", &endpoint, NULL }, { "out", &out, NULL }, { NULL, NULL, NULL },
    };
    const tool_cmdline_t cl = { "nrm-admin", "enroll", S_USAGE, opts, &request, 1 };
    uint64_t days = ADMIN_DEFAULT_DAYS;
    nrm_err_t err;
    nrm_keys_t *admin = NULL;
    nrm_store_t *store = NULL;
    uint8_t *req_bytes = NULL;
    size_t req_len = 0;
    uint8_t req_hash[NRM_HASH_BYTES];
    s_enroll_ctx_t ctx;
    admin_ini_t ini;
    char path[TOOL_PATH_MAX], ep[TOOL_ENDPOINT_MAX + 1];
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    code = TOOL_EXIT_FAIL;

    memset(&err, 0, sizeof err);
    memset(&ctx, 0, sizeof ctx);
    if (days_text != NULL
        && tool_u64_parse(days_text, 1, ADMIN_MAX_DAYS, &days, "--days", &err) != 0) {
        admin_fail(&err);
        return TOOL_EXIT_USAGE;
    }
    if (endpoint != NULL && !tool_endpoint_valid(endpoint)) {
        fprintf(stderr, "nrm-admin enroll: --endpoint: '%s' is not a tcp:// or ipc:// "
                "endpoint\n", endpoint);
        return TOOL_EXIT_USAGE;
    }
    if (nrm_crypto_init() != 0) {
        nrm_err_set(&err, NRM_ECRYPTO, "cannot initialise libsodium");
        goto out;
    }
    /* broker.ini first: a broken one should stop us before anything is signed. */
    if (admin_ini_load(dir, &ini, &err) != 0)
        goto out;

    /* The request: its own signature, then every field. A request is far
       smaller than a certificate, so the certificate cap bounds it. */
    if (nrm_file_read(request, NRM_MAX_CERT_BYTES, &req_bytes, &req_len, &err) != 0) {
        nrm_err_prefix(&err, "request %s", request);
        goto out;
    }
    if (nrm_request_verify(req_bytes, req_len, &ctx.cert, req_hash, &err) != 0) {
        nrm_err_prefix(&err, "request %s refused", request);
        goto out;
    }
    if (!nrm_id_valid(ctx.cert.org_id)) {
        nrm_err_set(&err, NRM_EINVAL, "request %s: organisation id is not valid", request);
        goto out;
    }
    if (!nrm_org_type_valid(ctx.cert.org_type)) {
        nrm_err_set(&err, NRM_EINVAL, "request %s: unknown organisation type '%s'",
                    request, ctx.cert.org_type);
        goto out;
    }
    if (!nrm_text_valid(ctx.cert.name, NRM_NAME_MAX) || ctx.cert.name[0] == '\0'
        || !nrm_text_valid(ctx.cert.jurisdiction, NRM_NAME_MAX)) {
        nrm_err_set(&err, NRM_EINVAL, "request %s: name or jurisdiction is not valid text",
                    request);
        goto out;
    }
    memcpy(ctx.cert.request_hash, req_hash, NRM_HASH_BYTES);
    ctx.days = days;

    if (admin_key_load(dir, &admin, &err) != 0)
        goto out;
    ctx.admin = admin;
    if (tool_store_open(dir, 0, ini.map_max_mb, &store, &err) != 0)
        goto out;
    if (nrm_store_write(store, s_enroll_txn, &ctx, &err) != 0) {
        nrm_err_prefix(&err, "enrollment of %s refused", ctx.cert.org_id);
        goto out;
    }
    nrm_store_destroy(&store);

    /* The certificate is committed; the connect file can be made again
       with `nrm-admin connect` if writing it fails now. */
    if (admin_connect_emit(dir, endpoint, out, &ctx.g, ctx.cert.org_id,
                           ctx.signed_bytes, ctx.signed_len, path, ep, &err) != 0) {
        nrm_err_prefix(&err, "%s is enrolled, but its connect file is not written "
                       "(nrm-admin connect --dir %s %s writes it again)",
                       ctx.cert.org_id, dir, ctx.cert.org_id);
        goto out;
    }

    char fp_sign[17], fp_curve[17], fp_box[17], validity[64];
    nrm_fingerprint(ctx.cert.sign_pk, fp_sign);
    nrm_fingerprint(ctx.cert.curve_pk, fp_curve);
    nrm_fingerprint(ctx.cert.box_pk, fp_box);
    admin_validity_format(ctx.cert.not_before_ms, ctx.cert.not_after_ms,
                          validity, sizeof validity);
    printf("enrolled %s (%s): ", ctx.cert.org_id, ctx.cert.org_type);
    tool_print_safe(stdout, ctx.cert.name);
    printf("\n  jurisdiction  ");
    tool_print_safe(stdout, ctx.cert.jurisdiction[0] ? ctx.cert.jurisdiction : "-");
    printf("\n  keys          sign %s  curve %s  box %s\n", fp_sign, fp_curve, fp_box);
    printf("  valid         %s (%llu days, serial %llu)\n", validity,
           (unsigned long long) days, (unsigned long long) ctx.cert.serial);
    printf("  audit record  seq %llu\n", (unsigned long long) ctx.seq);
    printf("  connect file  %s (endpoint %s)\n", path, ep);
    code = TOOL_EXIT_OK;
out:
    if (code != TOOL_EXIT_OK)
        admin_fail(&err);
    nrm_store_destroy(&store);
    nrm_keys_destroy(&admin);
    free(req_bytes);
    free(ctx.body);
    free(ctx.signed_bytes);
    return code;
}
