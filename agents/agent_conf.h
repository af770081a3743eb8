/*  agent_conf -- ORG/agent.ini: how the organisation's own systems reach
    the agent (docs/operations.md): the local HTTP/JSON API, the metrics
    endpoint, the inbox hooks and spool folders, and logging. The file is
    optional (everything off, logs as text at info); when present, every key
    is checked against the table at start, an unknown key or bad value is
    refused with file:line:reason, and `nrm-agent run --check-config` checks
    it (with org.ini, connect.ini and policy.ini) without starting. */
#ifndef AGENT_CONF_H_INCLUDED
#define AGENT_CONF_H_INCLUDED
#include "agent.h"
#include "nrm_httpd.h"

#define AGENT_CONF_FILE "agent.ini"

typedef struct {
    char     api_listen[NRM_HTTPD_LISTEN_MAX];     /* "" = no API            */
    char     api_token[AGENT_PATH_MAX];            /* token file (resolved)  */
    char     metrics_listen[NRM_HTTPD_LISTEN_MAX]; /* "" = no metrics        */
    char     hook_command[AGENT_PATH_MAX];         /* "" = none; absolute    */
    uint64_t hook_timeout_s;                       /* kill the hook after    */
    uint64_t retry_min_ms, retry_max_ms;           /* hook backoff           */
    char     spool_in[AGENT_PATH_MAX];             /* "" = none (resolved)   */
    char     spool_out[AGENT_PATH_MAX];            /* "" = none (resolved)   */
    int      log_format;                           /* NRM_LOG_FMT_*          */
    int      log_level;                            /* NRM_LOG_*              */
} agent_conf_t;

/* Reads ORG/agent.ini into c (defaults when the file does not exist, or
   path names another file, which then must exist). Relative paths in it
   are taken from the organisation folder. */
int agent_conf_load(const char *dir, const char *path, agent_conf_t *c,
                    nrm_err_t *err) NRM_WUR;

#endif
