/*  agent_org -- the organisation folder: org.ini, connect.ini, secret.keys,
    and the small argument helpers every command uses. */
#include "agent.h"
#include "agent_store.h"
#include "nrm_codec.h"
#include "nrm_config.h"
#include "nrm_registry.h"
#include "nrm_util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

int
agent_org_path(char *buf, const char *dir, const char *name, nrm_err_t *err)
{
    int rc = nrm_path(buf, AGENT_PATH_MAX, "%s/%s", dir, name);
    if (rc != 0)
        return nrm_err_set(err, rc, "path of %s in %s is too long", name, dir);
    return 0;
}

/* NRM_ENOTFOUND with a hint when path does not exist. */
static int
s_missing(const char *path, const char *hint, nrm_err_t *err)
{
    struct stat st;

    if (stat(path, &st) != 0 && errno == ENOENT)
        return nrm_err_set(err, NRM_ENOTFOUND, "%s is missing: %s", path, hint);
    return 0;
}

int
agent_org_load(const char *dir, agent_org_t *org, nrm_err_t *err)
{
    char path[AGENT_PATH_MAX];
    int rc;

    memset(org, 0, sizeof *org);
    rc = agent_org_path(path, dir, "org.ini", err);
    if (rc == 0)
        rc = s_missing(path, "is this an organisation folder made by `nrm-agent keygen`?", err);
    if (rc != 0)
        return rc;
    nrm_config_field_t fields[] = {
        { .section = "org", .key = "id", .type = NRM_CFG_ID, .dst = org->id,
          .size = sizeof org->id, .required = true },
        { .section = "org", .key = "type", .type = NRM_CFG_STR, .dst = org->type,
          .size = sizeof org->type, .required = true },
        { .section = "org", .key = "name", .type = NRM_CFG_STR, .dst = org->name,
          .size = sizeof org->name, .required = true },
        { .section = "org", .key = "jurisdiction", .type = NRM_CFG_STR,
          .dst = org->jurisdiction, .size = sizeof org->jurisdiction },
        /* how long opened bodies stay in the inbox (docs/referrals.md) */
        { .section = "retention", .key = "inbox_days", .type = NRM_CFG_U64,
          .dst = &org->retention_days, .min = 0, .max = 3650 },
    };
    rc = nrm_config_load(path, fields, sizeof fields / sizeof fields[0], err);
    if (rc != 0)
        return rc;
    if (!nrm_org_type_valid(org->type))
        return nrm_err_set(err, NRM_EINVAL, "%s: [org] type '%s' is not a known organisation type",
                           path, org->type);
    if (!nrm_text_valid(org->name, NRM_NAME_MAX) || org->name[0] == '\0')
        return nrm_err_set(err, NRM_EINVAL, "%s: [org] name is empty or not valid text", path);
    if (!nrm_text_valid(org->jurisdiction, NRM_NAME_MAX))
        return nrm_err_set(err, NRM_EINVAL, "%s: [org] jurisdiction is not valid text", path);
    return 0;
}

int
agent_keys_load(const char *dir, nrm_keys_t **keys, nrm_err_t *err)
{
    char path[AGENT_PATH_MAX];
    int rc;

    *keys = NULL;
    rc = agent_org_path(path, dir, "secret.keys", err);
    if (rc == 0)
        rc = s_missing(path, "this organisation has no keys (`nrm-agent keygen` makes them)", err);
    if (rc != 0)
        return rc;
    rc = nrm_keys_load(path, keys, err);
    if (rc != 0)
        return rc;
    if ((nrm_keys_parts(*keys) & NRM_KEYS_ALL) != NRM_KEYS_ALL) {
        nrm_keys_destroy(keys);
        return nrm_err_set(err, NRM_EINVAL,
                           "%s lacks a signing, CURVE or sealing key pair", path);
    }
    return 0;
}

void
agent_connect_clear(agent_connect_t *conn)
{
    if (conn == NULL)
        return;
    free(conn->cert_signed);
    memset(conn, 0, sizeof *conn);
}

/* Whether cert holds exactly the public keys of k. */
static bool
s_cert_holds(const nrm_cert_t *cert, const nrm_keys_t *k)
{
    return memcmp(cert->sign_pk, nrm_keys_sign_pk(k), NRM_PK_BYTES) == 0
           && memcmp(cert->curve_pk, nrm_keys_curve_pk(k), NRM_PK_BYTES) == 0
           && memcmp(cert->box_pk, nrm_keys_box_pk(k), NRM_PK_BYTES) == 0;
}

/* Reads connect.ini: broker, network, genesis and the certificate it
   carries, verified against the genesis's administrators and org's id. */
static int
s_connect_read(const char *dir, const agent_org_t *org, agent_connect_t *conn, nrm_cert_t *cert,
               nrm_err_t *err)
{
    char path[AGENT_PATH_MAX];
    uint8_t *genesis = NULL;
    size_t genesis_len = 0;
    int rc;

    memset(conn, 0, sizeof *conn);
    rc = agent_org_path(path, dir, "connect.ini", err);
    if (rc == 0)
        rc = s_missing(path, "the network administrators make it when they enroll "
                       "request.nrm (nrm-admin enroll); save it there", err);
    if (rc != 0)
        return rc;
    nrm_config_field_t fields[] = {
        { .section = "broker", .key = "endpoint", .type = NRM_CFG_STR,
          .dst = conn->endpoint, .size = sizeof conn->endpoint, .required = true },
        { .section = "broker", .key = "curve_public", .type = NRM_CFG_KEY_Z85,
          .dst = conn->broker_curve_pk, .size = NRM_PK_BYTES, .required = true },
        { .section = "broker", .key = "sign_public", .type = NRM_CFG_KEY_HEX,
          .dst = conn->broker_sign_pk, .size = NRM_PK_BYTES, .required = true },
        { .section = "network", .key = "name", .type = NRM_CFG_STR,
          .dst = conn->network, .size = sizeof conn->network, .required = true },
        { .section = "network", .key = "admin_public", .type = NRM_CFG_KEY_HEX,
          .dst = conn->admin_pk, .size = NRM_PK_BYTES, .required = true },
        { .section = "network", .key = "genesis", .type = NRM_CFG_HEXBLOB,
          .dst = &genesis, .size = NRM_MAX_CERT_BYTES + 128, .required = true,
          .len_out = &genesis_len },
        { .section = "certificate", .key = "signed", .type = NRM_CFG_HEXBLOB,
          .dst = &conn->cert_signed, .size = AGENT_MAX_SIGNED_BYTES, .required = true,
          .len_out = &conn->cert_len },
    };
    rc = nrm_config_load(path, fields, sizeof fields / sizeof fields[0], err);
    if (rc != 0)
        goto out;
    /* The administrators and their quorum, signed by admin_public. */
    rc = nrm_genesis_verify_signed(genesis, genesis_len, &conn->genesis, err);
    if (rc == 0 && memcmp(conn->genesis.admin_pk, conn->admin_pk, NRM_PK_BYTES) != 0)
        rc = nrm_err_set(err, NRM_EINVAL, "it is not signed by admin_public");
    if (rc != 0) {
        nrm_err_prefix(err, "%s: [network] genesis", path);
        goto out;
    }
    rc = nrm_cert_verify_signed(conn->cert_signed, conn->cert_len, &conn->genesis,
                                cert, err);
    if (rc != 0) {
        nrm_err_prefix(err, "%s: [certificate] signed does not verify against "
                       "the administrators of [network] genesis", path);
        goto out;
    }
    if (strcmp(cert->org_id, org->id) != 0) {
        rc = nrm_err_set(err, NRM_EINVAL, "%s: the certificate is for organisation '%s', "
                         "but org.ini says this is '%s'", path, cert->org_id, org->id);
        goto out;
    }
    if (conn->endpoint[0] == '\0') {
        rc = nrm_err_set(err, NRM_EINVAL, "%s: [broker] endpoint is empty", path);
        goto out;
    }
out:
    free(genesis);
    if (rc != 0)
        agent_connect_clear(conn);
    return rc;
}

/* ORG/certificate.nrm, written when a rotation took effect, replaces the
   certificate of connect.ini when it is this organisation's and newer. */
static int
s_rotated_cert(const char *dir, const agent_org_t *org, agent_connect_t *conn, nrm_cert_t *cert,
               nrm_err_t *err)
{
    char path[AGENT_PATH_MAX];
    uint8_t *bytes = NULL;
    size_t len = 0;
    nrm_cert_t c;
    int rc = agent_org_path(path, dir, AGENT_CERT_FILE, err);
    if (rc != 0)
        return rc;
    if (access(path, F_OK) != 0)
        return 0;
    rc = nrm_file_read(path, AGENT_MAX_SIGNED_BYTES, &bytes, &len, err);
    if (rc == 0)
        rc = nrm_cert_verify_signed(bytes, len, &conn->genesis, &c, err);
    if (rc == 0 && strcmp(c.org_id, org->id) != 0)
        rc = nrm_err_set(err, NRM_EINVAL, "it is the certificate of '%s'", c.org_id);
    if (rc != 0) {
        nrm_err_prefix(err, "%s", path);
        free(bytes);
        return rc;
    }
    if (c.serial <= cert->serial) {
        free(bytes);
        return 0;
    }
    free(conn->cert_signed);
    conn->cert_signed = bytes;
    conn->cert_len = len;
    *cert = c;
    return 0;
}

int
agent_keys_settle(const char *dir, const nrm_cert_t *cert, nrm_keys_t **keys, nrm_err_t *err)
{
    char cur_path[AGENT_PATH_MAX], next_path[AGENT_PATH_MAX], old_path[AGENT_PATH_MAX];
    char rdir[AGENT_PATH_MAX], fp[17];
    nrm_keys_t *next = NULL;
    int rc;

    if ((rc = agent_org_path(cur_path, dir, "secret.keys", err)) != 0
        || (rc = agent_org_path(next_path, dir, AGENT_NEXT_KEYS, err)) != 0
        || (rc = agent_org_path(rdir, dir, AGENT_RETIRED_DIR, err)) != 0)
        return rc;
    if (access(next_path, F_OK) != 0) {
        if (s_cert_holds(cert, *keys))
            return 0;
        return nrm_err_set(err, NRM_EINVAL, "the certificate's public keys (serial %llu) are not "
                           "those of secret.keys (was it made for another request?)",
                           (unsigned long long) cert->serial);
    }
    if ((rc = nrm_keys_load(next_path, &next, err)) != 0)
        return rc;
    if (s_cert_holds(cert, *keys)) {
        /* secret.keys already is the certificate's: a switch done but for
           removing its source, or a rotation not yet approved. */
        if (memcmp(nrm_keys_sign_pk(next), nrm_keys_sign_pk(*keys), NRM_PK_BYTES) == 0
            && unlink(next_path) != 0)
            rc = nrm_err_set(err, NRM_EIO, "%s: %s", next_path, strerror(errno));
        goto out;
    }
    if (!s_cert_holds(cert, next)) {
        rc = nrm_err_set(err, NRM_EINVAL, "the certificate's public keys (serial %llu) are neither "
                         "those of secret.keys nor of %s", (unsigned long long) cert->serial,
                         AGENT_NEXT_KEYS);
        goto out;
    }
    /* The rotation took effect: the old keys go to retired/ (to open
       bodies sealed to them), the new ones become secret.keys. Each step
       is atomic and the whole is repeated after a crash. */
    nrm_fingerprint(nrm_keys_sign_pk(*keys), fp);
    if (nrm_path(old_path, sizeof old_path, "%s/%s.keys", rdir, fp) != 0) {
        rc = nrm_err_set(err, NRM_ETOOBIG, "path of %s too long", rdir);
        goto out;
    }
    if ((rc = nrm_mkdirs(rdir, 0700, err)) != 0)
        goto out;
    if ((rc = nrm_keys_save(*keys, old_path, err)) != 0
        || (rc = nrm_keys_save(next, cur_path, err)) != 0)
        goto out;
    if (unlink(next_path) != 0) {
        rc = nrm_err_set(err, NRM_EIO, "%s: %s", next_path, strerror(errno));
        goto out;
    }
    nrm_keys_destroy(keys);
    *keys = next;
    next = NULL;
out:
    nrm_keys_destroy(&next);
    return rc;
}

int
agent_identity_load(const char *dir, const agent_org_t *org, nrm_keys_t **keys,
                    agent_connect_t *conn, nrm_err_t *err)
{
    nrm_cert_t cert;
    int rc = agent_keys_load(dir, keys, err);
    if (rc == 0)
        rc = s_connect_read(dir, org, conn, &cert, err);
    if (rc != 0)
        goto fail;
    if ((rc = s_rotated_cert(dir, org, conn, &cert, err)) != 0
        || (rc = agent_keys_settle(dir, &cert, keys, err)) != 0) {
        agent_connect_clear(conn);
        goto fail;
    }
    return 0;
fail:
    nrm_keys_destroy(keys);
    return rc;
}

int
agent_keys_next(const char *dir, nrm_keys_t **next, nrm_err_t *err)
{
    char path[AGENT_PATH_MAX];
    int rc = agent_org_path(path, dir, AGENT_NEXT_KEYS, err);

    *next = NULL;
    if (rc != 0 || access(path, F_OK) != 0)
        return rc;
    return nrm_keys_load(path, next, err);
}

int
agent_keys_retired(const char *dir, nrm_keys_t **out, size_t max, size_t *n, nrm_err_t *err)
{
    char rdir[AGENT_PATH_MAX], path[AGENT_PATH_MAX];
    struct dirent *e;
    DIR *d;
    int rc = agent_org_path(rdir, dir, AGENT_RETIRED_DIR, err);

    *n = 0;
    if (rc != 0)
        return rc;
    d = opendir(rdir);
    if (d == NULL)
        return errno == ENOENT ? 0 : nrm_err_set(err, NRM_EIO, "%s: %s", rdir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".keys") != 0)
            continue;
        if (*n == max) {
            rc = nrm_err_set(err, NRM_ETOOBIG, "%s holds more than %zu key files", rdir, max);
            break;
        }
        if (nrm_path(path, sizeof path, "%s/%s", rdir, e->d_name) != 0) {
            rc = nrm_err_set(err, NRM_ETOOBIG, "path of %s too long", e->d_name);
            break;
        }
        if ((rc = nrm_keys_load(path, &out[*n], err)) != 0)
            break;
        (*n)++;
    }
    closedir(d);
    if (rc != 0) {
        while (*n > 0)
            nrm_keys_destroy(&out[--*n]);
    }
    return rc;
}

int
agent_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    unsigned long long v;
    char *end = NULL;

    *out = 0;
    if (text == NULL || !isdigit((unsigned char) text[0]))
        return NRM_EINVAL;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return NRM_EINVAL;
    *out = (uint64_t) v;
    return 0;
}

int
agent_parse_msgid(const char *text, uint8_t id[NRM_MSGID_BYTES])
{
    if (text == NULL || strlen(text) != 2 * NRM_MSGID_BYTES)
        return NRM_EINVAL;
    return nrm_hex_decode(text, id, NRM_MSGID_BYTES);
}

int
agent_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "nrm-agent %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'nrm-agent %s --help'.\n", cmd);
    return AGENT_EXIT_USAGE;
}

int
agent_opt_error(const char *cmd, int c, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";

    if (c == ':')
        return agent_usage_error(cmd, "option '%s' needs a value", arg);
    return agent_usage_error(cmd, "unknown option '%s'", arg);
}

int
agent_fail(const char *cmd, const nrm_err_t *err)
{
    fprintf(stderr, "nrm-agent %s: %s\n", cmd,
            err->msg[0] != '\0' ? err->msg : nrm_strerror(err->code));
    return AGENT_EXIT_ERROR;
}
