/*  admin_connect -- the connect file an enrolled organisation receives
    (docs/files.md), and `nrm-admin connect`, which writes it again from the
    registry (a lost file, a new endpoint). */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nrm_registry.h"
#include "nrm_util.h"

/* Hex in lines of 64 characters, continued on indented lines (the INI
   reader takes lines of under 200 characters). */
static void
s_hex_lines(tool_buf_t *b, const uint8_t *data, size_t len)
{
    for (size_t at = 0; at < len; at += 32) {
        if (at)
            tool_buf_printf(b, "\n  ");
        tool_buf_hex(b, data + at, len - at < 32 ? len - at : 32);
    }
}

/* The Signed{Genesis} bytes of the folder's store (malloc'd). */
static int
s_genesis_bytes(const char *net_dir, uint8_t **out, size_t *len, nrm_err_t *err)
{
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    MDB_val v;
    int rc = tool_store_open(net_dir, NRM_STORE_RDONLY, 0, &store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_store_get(store, txn, "netmeta", "genesis", 7, &v, err);
    if (rc == 0 && (*out = malloc(v.mv_size)) == NULL)
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
    if (rc == 0) {
        memcpy(*out, v.mv_data, v.mv_size);
        *len = v.mv_size;
    }
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    return rc;
}

static int
s_connect_write(const char *path, const char *org_id, const char *endpoint,
                const nrm_genesis_t *g, const uint8_t *genesis, size_t genesis_len,
                const uint8_t *signed_cert, size_t signed_len, nrm_err_t *err)
{
    char z85[41];
    tool_buf_t b;
    int rc;
    /* Hex doubles the certificate; the rest is a few hundred bytes. */
    tool_buf_init(&b, 4 * (size_t) NRM_MAX_CERT_BYTES + 8192);
    rc = nrm_z85_encode(g->broker_curve_pk, z85);
    if (rc != 0) {
        rc = nrm_err_set(err, rc, "cannot encode the broker's CURVE key");
        goto out;
    }
    /* In the order and with the names of docs/files.md. Comments start a
       line, so the INI reader skips them. */
    tool_buf_printf(&b,
                    "; nrmbus connect file for organisation %s, made by nrm-admin.\n"
                    "; Public keys only. Copy it to ORG/connect.ini.\n"
                    "[broker]\n"
                    "endpoint = %s\n"
                    "curve_public = %s\n"
                    "sign_public = ",
                    org_id, endpoint, z85);
    tool_buf_hex(&b, g->broker_sign_pk, NRM_PK_BYTES);
    tool_buf_printf(&b, "\n[network]\nname = %s\nadmin_public = ", g->network);
    tool_buf_hex(&b, g->admin_pk, NRM_PK_BYTES);
    /* The administrators and quorum: Signed{Genesis}, by admin_public. */
    tool_buf_printf(&b, "\ngenesis = ");
    s_hex_lines(&b, genesis, genesis_len);
    /* The INI reader takes lines of under 200 characters: the certificate's
       hex continues on indented lines of 64 characters. */
    tool_buf_printf(&b, "\n[certificate]\nsigned = ");
    s_hex_lines(&b, signed_cert, signed_len);
    tool_buf_printf(&b, "\n");
    rc = tool_buf_status(&b, err);
    if (rc != 0)
        goto out;
    rc = nrm_file_write(path, b.data, b.len, 0644, err);
    if (rc != 0)
        nrm_err_prefix(err, "cannot write %s", path);
out:
    tool_buf_free(&b);
    return rc;
}

/* An endpoint the broker binds to is not always one a client can connect
   to: a wildcard address or port 0 (the port is chosen at bind time). */
static bool
s_endpoint_connectable(const char *ep)
{
    size_t n = strlen(ep);
    if (strstr(ep, "*") != NULL || strstr(ep, "://0.0.0.0") != NULL
        || strstr(ep, "://[::]") != NULL)
        return false;
    if (strncmp(ep, "tcp://", 6) == 0 && n >= 2 && strcmp(ep + n - 2, ":0") == 0)
        return false;
    return true;
}

int
admin_connect_emit(const char *net_dir, const char *endpoint, const char *out,
                   const nrm_genesis_t *g, const char *org_id,
                   const uint8_t *signed_cert, size_t signed_len,
                   char *path_used, char *endpoint_used, nrm_err_t *err)
{
    admin_ini_t ini;
    path_used[0] = '\0';
    endpoint_used[0] = '\0';
    if (endpoint == NULL) {
        int rc = admin_ini_load(net_dir, &ini, err);
        if (rc != 0)
            return rc;
        endpoint = ini.listen;
        if (!s_endpoint_connectable(endpoint))
            fprintf(stderr, "nrm-admin: warning: broker.ini listens on %s, which "
                    "organisations cannot connect to; give --endpoint, or run the "
                    "agent with --endpoint\n", endpoint);
    }
    if (out != NULL) {
        if (strlen(out) >= TOOL_PATH_MAX)
            return nrm_err_set(err, NRM_ETOOBIG, "--out: file name too long");
        snprintf(path_used, TOOL_PATH_MAX, "%s", out);
    } else if (nrm_path(path_used, TOOL_PATH_MAX, "%s/enrolled/%s.connect.ini",
                        net_dir, org_id) != 0) {
        return nrm_err_set(err, NRM_ETOOBIG, "folder name too long");
    }
    snprintf(endpoint_used, TOOL_ENDPOINT_MAX + 1, "%s", endpoint);
    uint8_t *genesis = NULL;
    size_t genesis_len = 0;
    int rc = s_genesis_bytes(net_dir, &genesis, &genesis_len, err);
    if (rc == 0)
        rc = s_connect_write(path_used, org_id, endpoint, g, genesis, genesis_len, signed_cert,
                             signed_len, err);
    free(genesis);
    return rc;
}

#define S_USAGE \
    "usage: nrm-admin connect --dir NET ID [--endpoint EP] [--out FILE]\n" \
    "  writes the connect file of enrolled organisation ID again\n"

int
admin_cmd_connect(int argc, char **argv)
{
    const char *dir, *endpoint, *out, *org_id;
    const tool_opt_t opts[] = {
        { "dir", &dir, NULL }, { "endpoint", &endpoint, NULL }, { "out", &out, NULL },
        { NULL, NULL, NULL },
    };
    const tool_cmdline_t cl = { "nrm-admin", "connect", S_USAGE, opts, &org_id, 1 };
    nrm_err_t err;
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    uint8_t *signed_copy = NULL;
    size_t signed_len = 0;
    nrm_genesis_t g;
    nrm_bytes_t signed_bytes;
    char path[TOOL_PATH_MAX], ep[TOOL_ENDPOINT_MAX + 1];
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    code = TOOL_EXIT_FAIL;

    memset(&err, 0, sizeof err);
    if (!nrm_id_valid(org_id)) {
        fprintf(stderr, "nrm-admin connect: '%s' is not an organisation id\n", org_id);
        return TOOL_EXIT_USAGE;
    }
    if (endpoint != NULL && !tool_endpoint_valid(endpoint)) {
        fprintf(stderr, "nrm-admin connect: --endpoint: '%s' is not a tcp:// or ipc:// "
                "endpoint\n", endpoint);
        return TOOL_EXIT_USAGE;
    }
    if (tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, &err) != 0)
        goto out;
    if (nrm_store_read_begin(store, &txn, &err) != 0)
        goto out;
    if (nrm_registry_genesis(store, txn, &g, &err) != 0) {
        nrm_err_prefix(&err, "no network genesis in %s/data", dir);
        goto out;
    }
    int rc = nrm_registry_find(store, txn, org_id, NULL, &signed_bytes, &err);
    if (rc == NRM_ENOTFOUND) {
        nrm_err_set(&err, rc, "organisation %s is not enrolled", org_id);
        goto out;
    }
    if (rc != 0)
        goto out;
    /* The bytes are borrowed from the read transaction; copy them out. */
    signed_copy = malloc(signed_bytes.len ? signed_bytes.len : 1);
    if (signed_copy == NULL) {
        nrm_err_set(&err, NRM_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(signed_copy, signed_bytes.data, signed_bytes.len);
    signed_len = signed_bytes.len;
    nrm_store_read_end(&txn);
    txn = NULL;
    if (admin_connect_emit(dir, endpoint, out, &g, org_id, signed_copy, signed_len,
                           path, ep, &err) != 0)
        goto out;
    printf("connect file for %s written to %s (endpoint %s)\n", org_id, path, ep);
    code = TOOL_EXIT_OK;
out:
    if (code != TOOL_EXIT_OK)
        admin_fail(&err);
    if (txn != NULL)
        nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    free(signed_copy);
    return code;
}
