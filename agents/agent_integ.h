/*  agent_integ -- what `nrm-agent run` offers the organisation's own
    systems besides the broker connection, from ORG/agent.ini: the local
    HTTP/JSON API (agent_api), the inbox hooks and spool folders
    (agent_hooks) and the Prometheus metrics endpoint. All of it runs on
    the daemon's thread: the daemon polls the descriptors given by
    agent_integ_fds with its sockets and calls agent_integ_tick each
    round, at least as often as agent_integ_wait_ms asks. */
#ifndef AGENT_INTEG_H_INCLUDED
#define AGENT_INTEG_H_INCLUDED
#include "agent.h"
#include "agent_conf.h"
#include "nrm_store.h"

#define AGENT_INTEG_FDS 2

typedef struct agent_integ_t agent_integ_t;

/* What the daemon knows that the metrics show. */
typedef struct {
    bool   connected, welcomed;
    size_t inflight;            /* submitted, waiting for a receipt */
} agent_link_t;

/* store is borrowed. *out is NULL-safe to use when nothing is configured
   (every function accepts NULL). */
int agent_integ_open(const char *dir, const agent_conf_t *conf, const char *org_id,
                     nrm_store_t *store, agent_integ_t **out, nrm_err_t *err) NRM_WUR;
/* File descriptors to poll for input (at most AGENT_INTEG_FDS). */
size_t agent_integ_fds(const agent_integ_t *self, int *fds);
void agent_integ_tick(agent_integ_t *self, uint64_t now_ms, const agent_link_t *link);
/* How long the daemon may wait before the next agent_integ_tick when no
   descriptor of agent_integ_fds is ready, in ms; -1: no limit. The hooks
   (a command to reap, retries, the outgoing spool folder to look at) are
   ticked every AGENT_INTEG_HOOKS_MS; the HTTP servers say when a
   connection times out. */
#define AGENT_INTEG_HOOKS_MS 50
long agent_integ_wait_ms(const agent_integ_t *self);
void agent_integ_destroy(agent_integ_t **self_p);

#endif
