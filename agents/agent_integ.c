/*  agent_integ -- API, hooks and metrics of `nrm-agent run` (see
    agent_integ.h). The metrics (docs/operations.md) are counters kept by
    the API and the hooks since start, and gauges read from the store in
    one read transaction when scraped. */
#include "agent_integ.h"
#include "agent_api.h"
#include "agent_hooks.h"
#include "agent_store.h"
#include "nrm_httpd.h"
#include "nrm_log.h"
#include "nrm_metrics.h"
#include "nrm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct agent_integ_t {
    char           dir[AGENT_PATH_MAX];
    char           org_id[NRM_ID_MAX + 1];
    nrm_store_t   *store;
    agent_api_t   *api;
    agent_hooks_t *hooks;
    nrm_httpd_t   *metrics;
    agent_link_t   link;
    uint64_t       started_ms;
};

static size_t
s_entries(nrm_store_t *store, MDB_txn *txn, const char *db)
{
    MDB_stat st;
    return mdb_stat(txn, nrm_store_dbi(store, db), &st) == 0 ? st.ms_entries : 0;
}

/* Age in seconds of the oldest outbox entry still waiting for a receipt,
   or still waiting to be delivered. */
static double
s_oldest(nrm_store_t *store, MDB_txn *txn, const char *db, uint64_t now)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    agent_out_t rec;
    double age = 0;

    if (mdb_cursor_open(txn, nrm_store_dbi(store, db), &cur) != 0)
        return 0;
    if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0 && k.mv_size == 8
        && agent_out_get(store, txn, nrm_be64_get(k.mv_data), &rec, NULL) == 0
        && now > rec.created_ms)
        age = (double) (now - rec.created_ms) / 1000.0;
    mdb_cursor_close(cur);
    return age;
}

static void
s_metrics(agent_integ_t *self, nrm_metrics_t *m)
{
    MDB_txn *txn = NULL;
    uint64_t now = nrm_now_ms();
    const char *org[] = { "org", self->org_id, NULL };

    nrm_metrics_family(m, "nrm_agent_up", "gauge", "1 while the agent runs");
    nrm_metrics_sample(m, "nrm_agent_up", org, 1);
    nrm_metrics_one(m, "nrm_agent_start_time_seconds", "gauge",
                    "when the agent started (Unix time)", (double) self->started_ms / 1000.0);
    nrm_metrics_one(m, "nrm_agent_connected", "gauge",
                    "1 when the broker connection is up and welcomed", self->link.welcomed);
    nrm_metrics_one(m, "nrm_agent_inflight", "gauge",
                    "messages submitted to the broker and waiting for a receipt",
                    (double) self->link.inflight);
    if (nrm_store_read_begin(self->store, &txn, NULL) == 0) {
        size_t inbox = s_entries(self->store, txn, "inbox");
        size_t taken = s_entries(self->store, txn, "intake");
        nrm_metrics_family(m, "nrm_agent_outbox_messages", "gauge",
                           "outbox messages by state (queued: no receipt yet; accepted: not "
                           "yet delivered; final: delivered or refused)");
        size_t all = s_entries(self->store, txn, "outbox");
        size_t q = s_entries(self->store, txn, "outq"), a = s_entries(self->store, txn, "outacc");
        nrm_metrics_sample(m, "nrm_agent_outbox_messages",
                           (const char *[]) { "state", "queued", NULL }, (double) q);
        nrm_metrics_sample(m, "nrm_agent_outbox_messages",
                           (const char *[]) { "state", "accepted", NULL }, (double) a);
        nrm_metrics_sample(m, "nrm_agent_outbox_messages",
                           (const char *[]) { "state", "final", NULL },
                           (double) (all >= q + a ? all - q - a : 0));
        nrm_metrics_one(m, "nrm_agent_outbox_oldest_unanswered_seconds", "gauge",
                        "age of the oldest outbox message without a receipt",
                        s_oldest(self->store, txn, "outq", now));
        nrm_metrics_one(m, "nrm_agent_outbox_oldest_undelivered_seconds", "gauge",
                        "age of the oldest accepted outbox message not yet delivered",
                        s_oldest(self->store, txn, "outacc", now));
        nrm_metrics_one(m, "nrm_agent_inbox_messages", "gauge", "messages in the inbox",
                        (double) inbox);
        nrm_metrics_one(m, "nrm_agent_inbox_new", "gauge",
                        "inbox messages the organisation's system has not taken yet",
                        (double) (inbox >= taken ? inbox - taken : 0));
        nrm_metrics_one(m, "nrm_agent_handoff_pending", "gauge",
                        "inbox items waiting to be handed to the spool folder or command",
                        (double) s_entries(self->store, txn, "handoff"));
        nrm_metrics_one(m, "nrm_agent_escalations", "gauge",
                        "broker notices of overdue referrals kept", (double)
                        s_entries(self->store, txn, "notices"));
        nrm_store_read_end(&txn);
    }
    char path[AGENT_PATH_MAX];
    struct stat st;
    if (nrm_path(path, sizeof path, "%s/data/data.mdb", self->dir) == 0 && stat(path, &st) == 0)
        nrm_metrics_one(m, "nrm_agent_store_bytes", "gauge", "size of the agent's LMDB file",
                        (double) st.st_size);
    if (self->api != NULL) {
        const agent_api_stats_t *s = agent_api_stats(self->api);
        static const char *const cls[6] = { "", "1xx", "2xx", "3xx", "4xx", "5xx" };
        nrm_metrics_family(m, "nrm_agent_api_requests_total", "counter",
                           "API requests answered, by status class");
        for (int i = 1; i < 6; i++)
            nrm_metrics_sample(m, "nrm_agent_api_requests_total",
                               (const char *[]) { "class", cls[i], NULL },
                               (double) s->requests[i]);
        nrm_metrics_one(m, "nrm_agent_api_unauthorized_total", "counter",
                        "API requests refused for a missing or wrong token",
                        (double) s->unauthorized);
        nrm_metrics_one(m, "nrm_agent_api_sent_total", "counter",
                        "messages queued through the API", (double) s->sent);
        nrm_metrics_one(m, "nrm_agent_api_taken_total", "counter",
                        "inbox items taken through the API", (double) s->taken);
    }
    if (self->hooks != NULL) {
        const agent_hooks_stats_t *s = agent_hooks_stats(self->hooks);
        nrm_metrics_one(m, "nrm_agent_spool_written_total", "counter",
                        "inbox items written to the spool folder", (double) s->spooled);
        nrm_metrics_one(m, "nrm_agent_spool_failures_total", "counter",
                        "failed spool file writes (retried)", (double) s->spool_failures);
        nrm_metrics_one(m, "nrm_agent_hook_success_total", "counter",
                        "hook command runs that took their item", (double) s->hook_ok);
        nrm_metrics_one(m, "nrm_agent_hook_failures_total", "counter",
                        "hook command runs that failed or timed out (retried)",
                        (double) s->hook_failures);
        nrm_metrics_one(m, "nrm_agent_outspool_sent_total", "counter",
                        "outgoing spool files queued as messages", (double) s->out_sent);
        nrm_metrics_one(m, "nrm_agent_outspool_failed_total", "counter",
                        "outgoing spool files refused (moved to failed/)",
                        (double) s->out_failed);
    }
}

static void
s_metrics_handle(void *ctx, const nrm_http_req_t *req, nrm_http_resp_t *resp)
{
    agent_integ_t *self = ctx;
    nrm_metrics_t m = { NULL, 0, 0, false };

    if (strcmp(req->method, "GET") != 0 || strcmp(req->path, "/metrics") != 0) {
        nrm_httpd_error(resp, 404, "not_found", NULL, "metrics are at GET /metrics");
        return;
    }
    s_metrics(self, &m);
    if (m.oom) {
        free(m.buf);
        return;              /* NULL body: answered 500 */
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4";
    resp->body = m.buf;
    resp->len = m.len;
}

int
agent_integ_open(const char *dir, const agent_conf_t *conf, const char *org_id,
                 nrm_store_t *store, agent_integ_t **out, nrm_err_t *err)
{
    agent_integ_t *self;
    int rc = 0;

    *out = NULL;
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    snprintf(self->org_id, sizeof self->org_id, "%s", org_id);
    self->store = store;
    self->started_ms = nrm_now_ms();
    if (conf->api_listen[0])
        rc = agent_api_open(dir, conf, org_id, store, &self->api, err);
    if (rc == 0)
        rc = agent_hooks_open(dir, conf, store, &self->hooks, err);
    if (rc == 0 && conf->metrics_listen[0]) {
        rc = nrm_httpd_start(conf->metrics_listen, 0, s_metrics_handle, self, &self->metrics,
                             err);
        char path[AGENT_PATH_MAX], line[NRM_HTTPD_LISTEN_MAX + 32];
        if (rc == 0)
            rc = agent_org_path(path, dir, "metrics.endpoint", err);
        if (rc == 0) {
            snprintf(line, sizeof line, "%s/metrics\n", nrm_httpd_url(self->metrics));
            rc = nrm_file_write(path, line, strlen(line), 0644, err);
        }
        if (rc != 0)
            nrm_err_prefix(err, "metrics ([metrics] of %s)", AGENT_CONF_FILE);
        else
            nrm_info("metrics on %s/metrics", nrm_httpd_url(self->metrics));
    }
    if (rc != 0) {
        agent_integ_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

size_t
agent_integ_fds(const agent_integ_t *self, int *fds)
{
    size_t n = 0;
    if (self == NULL)
        return 0;
    if (self->api != NULL)
        fds[n++] = agent_api_fd(self->api);
    if (self->metrics != NULL)
        fds[n++] = nrm_httpd_fd(self->metrics);
    return n;
}

void
agent_integ_tick(agent_integ_t *self, uint64_t now_ms, const agent_link_t *link)
{
    if (self == NULL)
        return;
    self->link = *link;
    if (self->api != NULL)
        agent_api_run(self->api);
    if (self->metrics != NULL)
        nrm_httpd_run(self->metrics);
    agent_hooks_tick(self->hooks, now_ms);
}

long
agent_integ_wait_ms(const agent_integ_t *self)
{
    long wait = -1, w;

    if (self == NULL)
        return -1;
    if (self->hooks != NULL)
        wait = AGENT_INTEG_HOOKS_MS;
    w = self->api != NULL ? agent_api_wait_ms(self->api) : -1;
    if (w >= 0 && (wait < 0 || w < wait))
        wait = w;
    w = self->metrics != NULL ? nrm_httpd_wait_ms(self->metrics) : -1;
    if (w >= 0 && (wait < 0 || w < wait))
        wait = w;
    return wait;
}

void
agent_integ_destroy(agent_integ_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    agent_integ_t *self = *self_p;
    agent_api_destroy(&self->api);
    agent_hooks_destroy(&self->hooks);
    nrm_httpd_destroy(&self->metrics);
    free(self);
    *self_p = NULL;
}
