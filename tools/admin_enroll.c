/*  admin_enroll -- `nrm-admin enroll`, `approve` and `rotate`: an
    organisation's signed request becomes pending (REQUESTED, or
    ROTATE_REQUESTED for new keys signed by its current key), and each
    administrator's approval signs the same certificate (APPROVED). With
    the quorum of the genesis met, the certificate takes effect (ENROLLED or
    ROTATED) carrying every approval's signature, and the organisation's
    connect file is written. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nrm_regadmin.h"
#include "nrm_util.h"

#define S_DAY_MS (24ull * 3600ull * 1000ull)

/* The certificate of a first approval: the request's fields and keys, its
   hash, serial = the record of the request, issuer = this administrator. */
static int
s_new_cert(const nrm_pending_t *p, const nrm_keys_t *admin, uint64_t valid_ms, nrm_action_t *a,
           nrm_err_t *err)
{
    nrm_cert_t cert;
    uint8_t hash[NRM_HASH_BYTES];
    int rc = nrm_request_verify(p->request, p->request_len, &cert, hash, err);
    if (rc)
        return rc;
    uint64_t now = nrm_now_ms();
    cert.not_before_ms = now;
    cert.not_after_ms = now + valid_ms;
    cert.serial = p->request_seq;
    memcpy(cert.issuer_pk, nrm_keys_sign_pk(admin), NRM_PK_BYTES);
    memcpy(cert.request_hash, hash, NRM_HASH_BYTES);
    return nrm_cert_encode(&cert, &a->cert_body, &a->cert_len, err);
}

int
admin_cert_for_approval(const char *net_dir, const nrm_keys_t *admin, const char *org_id,
                        uint64_t days, uint64_t valid_ms, nrm_action_t *a, nrm_err_t *err)
{
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    nrm_pending_t p;
    memset(&p, 0, sizeof p);
    int rc = tool_store_open(net_dir, NRM_STORE_RDONLY, 0, &store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_pending_get(store, txn, org_id, &p, err);
    if (rc == 0 && p.napprovals == 0) {
        rc = s_new_cert(&p, admin, valid_ms ? valid_ms : days * S_DAY_MS, a, err);
    } else if (rc == 0) {
        a->cert_body = malloc(p.cert_len);
        if (!a->cert_body)
            rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
        else
            memcpy(a->cert_body, p.cert, p.cert_len);
        a->cert_len = p.cert_len;
    }
    if (rc == 0 && nrm_sign(admin, NRM_CTX_CERT, a->cert_body, a->cert_len, a->cert_sig) != 0)
        rc = nrm_err_set(err, NRM_ECRYPTO, "cannot sign the certificate");
    a->has_cert_sig = rc == 0;
    nrm_pending_clear(&p);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    return rc;
}

/* After a quorum was met: the connect file from the registry. */
static int
s_connect_file(const char *dir, const char *org_id, const char *endpoint, nrm_err_t *err)
{
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    nrm_genesis_t g;
    nrm_bytes_t b;
    uint8_t *copy = NULL;
    size_t len = 0;
    char path[TOOL_PATH_MAX], ep[TOOL_ENDPOINT_MAX + 1];
    int rc = tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_registry_genesis(store, txn, &g, err);
    if (rc == 0)
        rc = nrm_registry_find(store, txn, org_id, NULL, &b, err);
    if (rc == 0 && (copy = malloc(b.len)) == NULL)
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
    if (rc == 0) {
        memcpy(copy, b.data, b.len);
        len = b.len;
    }
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    if (rc == 0)
        rc = admin_connect_emit(dir, endpoint, NULL, &g, org_id, copy, len, path, ep, err);
    if (rc == 0)
        printf("connect file for %s: %s (endpoint %s)\n", org_id, path, ep);
    free(copy);
    return rc;
}

/* One approval by admin; prints what it did and, when the quorum is met,
   writes the connect file. */
static int
s_approve(const char *dir, const nrm_keys_t *admin, const char *org_id, uint64_t days,
          uint64_t valid_ms, const char *endpoint, nrm_err_t *err)
{
    nrm_action_t a;
    admin_result_t r;
    memset(&a, 0, sizeof a);
    a.action = NRM_REC_APPROVED;
    snprintf(a.org_id, sizeof a.org_id, "%s", org_id);
    int rc = admin_cert_for_approval(dir, admin, org_id, days, valid_ms, &a, err);
    if (rc == 0)
        rc = admin_submit(dir, admin, &a, &r, err);
    nrm_action_clear(&a);
    if (rc)
        return rc;
    admin_result_print(org_id, &r);
    if (strstr(r.text, "quorum met") != NULL)
        return s_connect_file(dir, org_id, endpoint, err);
    printf("pending: other administrators approve with nrm-admin approve --dir %s %s --key THEIR.key\n",
           dir, org_id);
    return 0;
}

/* enroll and rotate: the request becomes pending, then this
   administrator's approval. */
static int
s_request_cmd(int argc, char **argv, int kind, const char *usage)
{
    const char *dir, *days_text, *endpoint, *key, *request, *valid_text;
    const tool_opt_t opts[] = {
        { "dir", &dir, NULL }, { "days", &days_text, NULL }, { "endpoint", &endpoint, NULL },
        { "key", &key, NULL }, { "valid-seconds", &valid_text, NULL }, { NULL, NULL, NULL },
    };
    const tool_cmdline_t cl = { "nrm-admin", argv[0], usage, opts, &request, 1 };
    uint64_t days = ADMIN_DEFAULT_DAYS, valid_s = 0;
    nrm_err_t err;
    nrm_keys_t *admin = NULL;
    nrm_action_t a;
    admin_result_t r;
    nrm_cert_t req;
    uint8_t hash[NRM_HASH_BYTES];
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    memset(&a, 0, sizeof a);
    if ((days_text && tool_u64_parse(days_text, 1, ADMIN_MAX_DAYS, &days, "--days", &err) != 0)
        || (valid_text && tool_u64_parse(valid_text, 1, 3600ull * 24 * ADMIN_MAX_DAYS, &valid_s,
                                         "--valid-seconds", &err) != 0)) {
        admin_fail(&err);
        return TOOL_EXIT_USAGE;
    }
    if (endpoint != NULL && !tool_endpoint_valid(endpoint)) {
        fprintf(stderr, "nrm-admin %s: --endpoint: '%s' is not a tcp:// or ipc:// endpoint\n",
                argv[0], endpoint);
        return TOOL_EXIT_USAGE;
    }
    code = TOOL_EXIT_FAIL;
    a.action = kind;
    if (nrm_crypto_init() != 0 || admin_key_open(dir, key, &admin, &err) != 0)
        goto out;
    if (nrm_file_read(request, NRM_MAX_CERT_BYTES, &a.request, &a.request_len, &err) != 0) {
        nrm_err_prefix(&err, "request %s", request);
        goto out;
    }
    /* Its own signature and fields first, for a clear message; the broker
       checks everything again. */
    if (nrm_request_verify(a.request, a.request_len, &req, hash, &err) != 0) {
        nrm_err_prefix(&err, "request %s refused", request);
        goto out;
    }
    snprintf(a.org_id, sizeof a.org_id, "%s", req.org_id);
    if (admin_submit(dir, admin, &a, &r, &err) != 0) {
        nrm_err_prefix(&err, "request of %s", req.org_id);
        goto out;
    }
    admin_result_print(req.org_id, &r);
    if (s_approve(dir, admin, req.org_id, days, valid_s * 1000, endpoint, &err) != 0) {
        nrm_err_prefix(&err, "approval of %s", req.org_id);
        goto out;
    }
    code = TOOL_EXIT_OK;
out:
    if (code != TOOL_EXIT_OK)
        admin_fail(&err);
    nrm_action_clear(&a);
    nrm_keys_destroy(&admin);
    return code;
}

#define S_ENROLL_USAGE \
    "usage: nrm-admin enroll --dir NET REQUEST [--key ADMIN.key] [--days N] [--endpoint EP]\n" \
    "  makes ORG/request.nrm pending and approves it with this administrator's key\n" \
    "  (default NET/admin.key). The certificate (valid N days, default 365) takes\n" \
    "  effect when the genesis quorum of administrators approved it; then the\n" \
    "  connect file NET/enrolled/ID.connect.ini is written.\n"

int
admin_cmd_enroll(int argc, char **argv)
{
    return s_request_cmd(argc, argv, NRM_REC_REQUESTED, S_ENROLL_USAGE);
}

#define S_ROTATE_USAGE \
    "usage: nrm-admin rotate --dir NET REQUEST [--key ADMIN.key] [--days N] [--endpoint EP]\n" \
    "  makes a key rotation request (nrm-agent keygen --rotate: new keys, signed by\n" \
    "  the organisation's current key) pending and approves it. When the quorum\n" \
    "  approved, the new certificate takes effect; the broker accepts the old key\n" \
    "  until the first message signed with the new one.\n"

int
admin_cmd_rotate(int argc, char **argv)
{
    return s_request_cmd(argc, argv, NRM_REC_ROTATE_REQUESTED, S_ROTATE_USAGE);
}

#define S_APPROVE_USAGE \
    "usage: nrm-admin approve --dir NET ID [--key ADMIN.key] [--days N] [--endpoint EP]\n" \
    "  adds this administrator's signature to the pending certificate of ID\n"

int
admin_cmd_approve(int argc, char **argv)
{
    const char *dir, *days_text, *endpoint, *key, *org_id, *valid_text;
    const tool_opt_t opts[] = {
        { "dir", &dir, NULL }, { "days", &days_text, NULL }, { "endpoint", &endpoint, NULL },
        { "key", &key, NULL }, { "valid-seconds", &valid_text, NULL }, { NULL, NULL, NULL },
    };
    const tool_cmdline_t cl = { "nrm-admin", "approve", S_APPROVE_USAGE, opts, &org_id, 1 };
    uint64_t days = ADMIN_DEFAULT_DAYS, valid_s = 0;
    nrm_err_t err;
    nrm_keys_t *admin = NULL;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    if ((days_text && tool_u64_parse(days_text, 1, ADMIN_MAX_DAYS, &days, "--days", &err) != 0)
        || (valid_text && tool_u64_parse(valid_text, 1, 3600ull * 24 * ADMIN_MAX_DAYS, &valid_s,
                                         "--valid-seconds", &err) != 0)
        || !nrm_id_valid(org_id)) {
        if (!err.msg[0])
            nrm_err_set(&err, NRM_EINVAL, "'%s' is not an organisation id", org_id);
        admin_fail(&err);
        return TOOL_EXIT_USAGE;
    }
    code = TOOL_EXIT_FAIL;
    if (nrm_crypto_init() == 0 && admin_key_open(dir, key, &admin, &err) == 0
        && s_approve(dir, admin, org_id, days, valid_s * 1000, endpoint, &err) == 0)
        code = TOOL_EXIT_OK;
    else
        admin_fail(&err);
    nrm_keys_destroy(&admin);
    return code;
}
