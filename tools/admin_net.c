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
    nrm_netconf_defaults(ini);
    snprintf(ini->listen, sizeof ini->listen, "%s", ADMIN_DEFAULT_LISTEN);
    snprintf(ini->network, sizeof ini->network, "%s", ADMIN_DEFAULT_NETWORK);
}

int
admin_ini_load(const char *net_dir, admin_ini_t *ini, nrm_err_t *err)
{
    char path[TOOL_PATH_MAX];
    if (nrm_path(path, sizeof path, "%s/broker.ini", net_dir) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "folder name too long");
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return nrm_err_set(err, NRM_ENOTFOUND, "%s is not a network folder: no broker.ini "
                           "(nrm-admin init --dir %s makes one)", net_dir, net_dir);
    int rc = nrm_netconf_load(net_dir, ini, err);
    if (rc != 0)
        return rc;
    if (!tool_endpoint_valid(ini->listen))
        return nrm_err_set(err, NRM_EINVAL, "%s: listen: not a tcp:// or ipc:// endpoint", path);
    return 0;
}

int
admin_ini_save(const char *net_dir, const admin_ini_t *ini, nrm_err_t *err)
{
    return nrm_netconf_save(net_dir, ini, err);
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
