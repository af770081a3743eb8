/*  admin_net -- what the nrm-admin commands share: broker.ini, the
    administrator key, the connect file. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nrm_config.h"
#include "nrm_log.h"
#include "nrm_util.h"

void
admin_fail(const nrm_err_t *err)
{
    fputs("nrm-admin: ", stderr);
    tool_print_safe(stderr, err->msg[0] ? err->msg : nrm_strerror(err->code));
    fputc('\n', stderr);
}

void
admin_ini_defaults(admin_ini_t *ini)
{
    memset(ini, 0, sizeof *ini);
    snprintf(ini->listen, sizeof ini->listen, "%s", ADMIN_DEFAULT_LISTEN);
    snprintf(ini->network, sizeof ini->network, "%s", ADMIN_DEFAULT_NETWORK);
    ini->batch_max = ADMIN_DEFAULT_BATCH_MAX;
    snprintf(ini->log_level, sizeof ini->log_level, "%s", ADMIN_DEFAULT_LOG_LEVEL);
    ini->map_max_mb = ADMIN_DEFAULT_MAP_MAX_MB;
}

int
admin_ini_load(const char *net_dir, admin_ini_t *ini, nrm_err_t *err)
{
    char path[TOOL_PATH_MAX];
    admin_ini_defaults(ini);
    if (nrm_path(path, sizeof path, "%s/broker.ini", net_dir) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "folder name too long");

    /* The same keys the broker reads; one table, every key named. */
    nrm_config_field_t fields[] = {
        { .section = "broker", .key = "listen", .type = NRM_CFG_STR,
          .dst = ini->listen, .size = sizeof ini->listen, .required = true },
        { .section = "broker", .key = "network", .type = NRM_CFG_ID,
          .dst = ini->network, .size = sizeof ini->network, .required = true },
        { .section = "broker", .key = "batch_max", .type = NRM_CFG_U64,
          .dst = &ini->batch_max, .size = sizeof ini->batch_max,
          .min = 1, .max = ADMIN_BATCH_MAX_MAX },
        { .section = "broker", .key = "log_level", .type = NRM_CFG_STR,
          .dst = ini->log_level, .size = sizeof ini->log_level },
        { .section = "broker", .key = "map_max_mb", .type = NRM_CFG_U64,
          .dst = &ini->map_max_mb, .size = sizeof ini->map_max_mb,
          .min = ADMIN_MAP_MAX_MB_MIN, .max = ADMIN_MAP_MAX_MB_MAX },
    };
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return nrm_err_set(err, NRM_ENOTFOUND, "%s is not a network folder: no broker.ini "
                           "(nrm-admin init --dir %s makes one)", net_dir, net_dir);
    int rc = nrm_config_load(path, fields, sizeof fields / sizeof fields[0], err);
    if (rc != 0)
        return rc;
    if (!tool_endpoint_valid(ini->listen))
        return nrm_err_set(err, NRM_EINVAL, "%s: listen: not a tcp:// or ipc:// endpoint",
                           path);
    if (nrm_log_level_parse(ini->log_level) < 0)
        return nrm_err_set(err, NRM_EINVAL, "%s: log_level: unknown level '%s'",
                           path, ini->log_level);
    return 0;
}

int
admin_ini_save(const char *net_dir, const admin_ini_t *ini, nrm_err_t *err)
{
    char path[TOOL_PATH_MAX];
    tool_buf_t b;
    int rc;
    tool_buf_init(&b, 4096);
    if (nrm_path(path, sizeof path, "%s/broker.ini", net_dir) != 0) {
        rc = nrm_err_set(err, NRM_ETOOBIG, "folder name too long");
        goto out;
    }
    tool_buf_printf(&b,
                    "[broker]\n"
                    "listen = %s\n"
                    "network = %s\n"
                    "batch_max = %llu\n"
                    "log_level = %s\n"
                    "map_max_mb = %llu\n",
                    ini->listen, ini->network,
                    (unsigned long long) ini->batch_max, ini->log_level,
                    (unsigned long long) ini->map_max_mb);
    rc = tool_buf_status(&b, err);
    if (rc != 0)
        goto out;
    rc = nrm_file_write(path, b.data, b.len, 0644, err);
out:
    tool_buf_free(&b);
    return rc;
}

int
admin_key_load(const char *net_dir, nrm_keys_t **keys, nrm_err_t *err)
{
    char path[TOOL_PATH_MAX];
    *keys = NULL;
    if (nrm_path(path, sizeof path, "%s/admin.key", net_dir) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "folder name too long");
    int rc = nrm_keys_load(path, keys, err);
    if (rc != 0) {
        nrm_err_prefix(err, "administrator key %s", path);
        return rc;
    }
    if (nrm_keys_sign_pk(*keys) == NULL) {
        nrm_keys_destroy(keys);
        return nrm_err_set(err, NRM_EINVAL, "%s holds no signing key", path);
    }
    return 0;
}

void
admin_validity_format(uint64_t not_before_ms, uint64_t not_after_ms,
                      char *buf, size_t size)
{
    char a[32], b[32];
    nrm_time_format(not_before_ms, a, sizeof a);
    nrm_time_format(not_after_ms, b, sizeof b);
    /* Dates only: "YYYY-MM-DD". */
    a[10] = '\0';
    b[10] = '\0';
    snprintf(buf, size, "%s .. %s", a, b);
}
