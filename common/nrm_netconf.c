/*  nrm_netconf -- NET/broker.ini. */
#include "nrm_netconf.h"
#include "nrm_config.h"
#include "nrm_log.h"
#include "nrm_util.h"
#include <stdio.h>
#include <string.h>

void
nrm_netconf_defaults(nrm_netconf_t *conf)
{
    memset(conf, 0, sizeof *conf);
    snprintf(conf->listen, sizeof conf->listen, "tcp://127.0.0.1:7100");
    snprintf(conf->admin_listen, sizeof conf->admin_listen, "tcp://127.0.0.1:0");
    snprintf(conf->network, sizeof conf->network, "demo");
    conf->batch_max = 256;
    conf->window = 128;
    conf->map_max_mb = 65536;
    snprintf(conf->log_level, sizeof conf->log_level, "info");
    conf->clock_skew_max_s = 300;
    conf->store_reserve_mb = 64;
    conf->checkpoint_records = 1000;
    conf->checkpoint_seconds = 5;
    snprintf(conf->body_retention, sizeof conf->body_retention, NRM_NETCONF_RETENTION_DEFAULT);
    conf->body_retention_ms = 30ull * 86400000u;
}

int
nrm_netconf_load(const char *net_dir, nrm_netconf_t *conf, nrm_err_t *err)
{
    char path[4096];
    nrm_netconf_defaults(conf);
    if (nrm_path(path, sizeof path, "%s/broker.ini", net_dir) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "folder path too long: %s", net_dir);
    nrm_config_field_t fields[] = {
        { "broker", "listen", NRM_CFG_STR, conf->listen, sizeof conf->listen, true, 0, 0, NULL, false },
        { "broker", "admin_listen", NRM_CFG_STR, conf->admin_listen, sizeof conf->admin_listen, false, 0, 0, NULL, false },
        { "broker", "network", NRM_CFG_ID, conf->network, 0, true, 0, 0, NULL, false },
        { "broker", "batch_max", NRM_CFG_U64, &conf->batch_max, 0, false, 1, 65536, NULL, false },
        { "broker", "window", NRM_CFG_U64, &conf->window, 0, false, 1, 100000, NULL, false },
        { "broker", "map_max_mb", NRM_CFG_U64, &conf->map_max_mb, 0, false, 16, 1u << 24, NULL, false },
        { "broker", "log_level", NRM_CFG_STR, conf->log_level, sizeof conf->log_level, false, 0, 0, NULL, false },
        { "broker", "clock_skew_max_s", NRM_CFG_U64, &conf->clock_skew_max_s, 0, false, 0, 86400, NULL, false },
        { "broker", "store_reserve_mb", NRM_CFG_U64, &conf->store_reserve_mb, 0, false, 0, 1u << 20, NULL, false },
        { "broker", "checkpoint_records", NRM_CFG_U64, &conf->checkpoint_records, 0, false, 1, 1000000, NULL, false },
        { "broker", "checkpoint_seconds", NRM_CFG_U64, &conf->checkpoint_seconds, 0, false, 1, 86400, NULL, false },
        { "broker", "body_retention", NRM_CFG_STR, conf->body_retention, sizeof conf->body_retention, false, 0, 0, NULL, false },
    };
    int rc = nrm_config_load(path, fields, sizeof fields / sizeof fields[0], err);
    if (rc)
        return rc;
    if (nrm_log_level_parse(conf->log_level) < 0)
        return nrm_err_set(err, NRM_EINVAL, "%s: log_level must be error, warn, info or debug (got '%s')",
                           path, conf->log_level);
    if (strcmp(conf->body_retention, "0") == 0)
        conf->body_retention_ms = 0;
    else if (nrm_duration_parse(conf->body_retention, &conf->body_retention_ms) != 0
             || conf->body_retention_ms == 0 || conf->body_retention_ms > NRM_NETCONF_RETENTION_MAX_MS)
        return nrm_err_set(err, NRM_EINVAL, "%s: body_retention must be a duration such as 30d, 72h "
                           "or 90s (at most 3650d), or 0 to keep undelivered bodies until delivered "
                           "(got '%s')", path, conf->body_retention);
    return 0;
}

int
nrm_netconf_save(const char *net_dir, const nrm_netconf_t *conf, nrm_err_t *err)
{
    char path[4096], text[2048];
    if (nrm_path(path, sizeof path, "%s/broker.ini", net_dir) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "folder path too long: %s", net_dir);
    int n = snprintf(text, sizeof text,
                     "[broker]\n"
                     "listen = %s\n"
                     "admin_listen = %s\n"
                     "network = %s\n"
                     "batch_max = %llu\n"
                     "window = %llu\n"
                     "log_level = %s\n"
                     "map_max_mb = %llu\n"
                     "checkpoint_records = %llu\n"
                     "checkpoint_seconds = %llu\n"
                     "clock_skew_max_s = %llu\n"
                     "store_reserve_mb = %llu\n"
                     "# how long the broker keeps a body nobody has acknowledged (docs/referrals.md)\n"
                     "body_retention = %s\n",
                     conf->listen, conf->admin_listen, conf->network, (unsigned long long) conf->batch_max,
                     (unsigned long long) conf->window, conf->log_level,
                     (unsigned long long) conf->map_max_mb,
                     (unsigned long long) conf->checkpoint_records,
                     (unsigned long long) conf->checkpoint_seconds,
                     (unsigned long long) conf->clock_skew_max_s,
                     (unsigned long long) conf->store_reserve_mb, conf->body_retention);
    if (n < 0 || (size_t) n >= sizeof text)
        return nrm_err_set(err, NRM_ETOOBIG, "broker.ini too long");
    return nrm_file_write(path, text, (size_t) n, 0644, err);
}
