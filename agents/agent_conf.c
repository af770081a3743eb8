/*  agent_conf -- ORG/agent.ini (see agent_conf.h). */
#include "agent_conf.h"
#include "nrm_config.h"
#include "nrm_log.h"
#include "nrm_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static bool
s_check_api(const char *v, char *why, size_t n)
{
    return nrm_httpd_listen_valid(v, false, why, n);
}

static bool
s_check_metrics(const char *v, char *why, size_t n)
{
    return nrm_httpd_listen_valid(v, true, why, n);
}

static bool
s_check_format(const char *v, char *why, size_t n)
{
    if (nrm_log_format_parse(v) >= 0)
        return true;
    snprintf(why, n, "'%.40s' is not one of text, kv, json", v);
    return false;
}

static bool
s_check_level(const char *v, char *why, size_t n)
{
    if (nrm_log_level_parse(v) >= 0)
        return true;
    snprintf(why, n, "'%.40s' is not one of error, warn, info, debug", v);
    return false;
}

static bool
s_check_command(const char *v, char *why, size_t n)
{
    if (v[0] != '/') {
        snprintf(why, n, "the hook command must be an absolute path (it is run without a "
                 "shell, with the item id and file as its arguments)");
        return false;
    }
    return true;
}

static bool
s_check_path(const char *v, char *why, size_t n)
{
    if (v[0] == '\0') {
        snprintf(why, n, "empty path");
        return false;
    }
    return true;
}

/* A path of agent.ini made absolute from the organisation folder. */
static int
s_resolve(const char *dir, char *path, size_t size, nrm_err_t *err)
{
    char tmp[AGENT_PATH_MAX];
    if (path[0] == '\0' || path[0] == '/')
        return 0;
    if (nrm_path(tmp, sizeof tmp, "%s/%s", dir, path) != 0 || strlen(tmp) >= size)
        return nrm_err_set(err, NRM_EINVAL, "path %s/%s is too long", dir, path);
    memcpy(path, tmp, strlen(tmp) + 1);
    return 0;
}

int
agent_conf_load(const char *dir, const char *file, agent_conf_t *c, nrm_err_t *err)
{
    char path[AGENT_PATH_MAX], format[8] = "text", level[8] = "info";
    struct stat st;
    int rc;

    memset(c, 0, sizeof *c);
    snprintf(c->api_token, sizeof c->api_token, "api.token");
    c->hook_timeout_s = 60;
    c->retry_min_ms = 1000;
    c->retry_max_ms = 300000;
    if (file != NULL) {
        if (nrm_path(path, sizeof path, "%s", file) != 0)
            return nrm_err_set(err, NRM_EINVAL, "config path too long");
    } else {
        rc = agent_org_path(path, dir, AGENT_CONF_FILE, err);
        if (rc != 0)
            return rc;
    }
    if (file == NULL && stat(path, &st) != 0 && errno == ENOENT) {
        /* Optional: nothing configured. */
    } else {
        nrm_config_field_t fields[] = {
            { .section = "api", .key = "listen", .type = NRM_CFG_STR, .dst = c->api_listen,
              .size = sizeof c->api_listen },
            { .section = "api", .key = "token_file", .type = NRM_CFG_STR, .dst = c->api_token,
              .size = sizeof c->api_token },
            { .section = "metrics", .key = "listen", .type = NRM_CFG_STR,
              .dst = c->metrics_listen, .size = sizeof c->metrics_listen },
            { .section = "hooks", .key = "command", .type = NRM_CFG_STR, .dst = c->hook_command,
              .size = sizeof c->hook_command },
            { .section = "hooks", .key = "command_timeout_s", .type = NRM_CFG_U64,
              .dst = &c->hook_timeout_s, .min = 1, .max = 3600 },
            { .section = "hooks", .key = "retry_min_ms", .type = NRM_CFG_U64,
              .dst = &c->retry_min_ms, .min = 10, .max = 3600000 },
            { .section = "hooks", .key = "retry_max_ms", .type = NRM_CFG_U64,
              .dst = &c->retry_max_ms, .min = 10, .max = 86400000 },
            { .section = "hooks", .key = "spool_in", .type = NRM_CFG_STR, .dst = c->spool_in,
              .size = sizeof c->spool_in },
            { .section = "hooks", .key = "spool_out", .type = NRM_CFG_STR, .dst = c->spool_out,
              .size = sizeof c->spool_out },
            { .section = "log", .key = "format", .type = NRM_CFG_STR, .dst = format,
              .size = sizeof format },
            { .section = "log", .key = "level", .type = NRM_CFG_STR, .dst = level,
              .size = sizeof level },
        };
        static const nrm_config_check_t checks[] = {
            { "api", "listen", s_check_api },
            { "api", "token_file", s_check_path },
            { "metrics", "listen", s_check_metrics },
            { "hooks", "command", s_check_command },
            { "hooks", "spool_in", s_check_path },
            { "hooks", "spool_out", s_check_path },
            { "log", "format", s_check_format },
            { "log", "level", s_check_level },
        };
        rc = nrm_config_load_checked(path, fields, sizeof fields / sizeof fields[0], checks,
                                     sizeof checks / sizeof checks[0], err);
        if (rc != 0)
            return rc;
        if (c->retry_max_ms < c->retry_min_ms)
            return nrm_err_set(err, NRM_EINVAL, "%s: [hooks] retry_max_ms (%llu) is below "
                               "retry_min_ms (%llu)", path,
                               (unsigned long long) c->retry_max_ms,
                               (unsigned long long) c->retry_min_ms);
    }
    c->log_format = nrm_log_format_parse(format);
    c->log_level = nrm_log_level_parse(level);
    rc = s_resolve(dir, c->api_token, sizeof c->api_token, err);
    if (rc == 0)
        rc = s_resolve(dir, c->spool_in, sizeof c->spool_in, err);
    if (rc == 0)
        rc = s_resolve(dir, c->spool_out, sizeof c->spool_out, err);
    if (rc == 0 && c->spool_in[0] && c->spool_out[0] && strcmp(c->spool_in, c->spool_out) == 0)
        rc = nrm_err_set(err, NRM_EINVAL, "%s: [hooks] spool_in and spool_out are the same "
                         "folder", path);
    return rc;
}
