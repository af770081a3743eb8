/*  broker_metrics -- Prometheus metrics of the broker (see broker_metrics.h). */
#include "broker_metrics.h"
#include "nrm_auditlog.h"
#include "nrm_codec.h"
#include "nrm_httpd.h"
#include "nrm_log.h"
#include "nrm_metrics.h"
#include "nrm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_KINDS          64
#define S_QUEUE_SCAN_MAX 1000000u   /* queue entries read per scrape */
#define S_RECIPIENTS_MAX 1024u      /* recipients shown one by one    */
#define S_CATCHUP_MAX    100000u    /* log records counted per look   */

/* Histogram buckets: batch sizes (frames) and commit times (seconds). */
static const double s_batch_le[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 65536 };
static const double s_commit_le[] = { 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25,
                                      1, 5 };
#define S_NB (sizeof s_batch_le / sizeof s_batch_le[0])
#define S_NC (sizeof s_commit_le / sizeof s_commit_le[0])

struct broker_metrics_t {
    char         dir[2048];
    char         network[NRM_ID_MAX + 1];
    nrm_store_t *store;
    nrm_httpd_t *httpd;
    uint64_t     started_ms;
    uint64_t     counted;                    /* log records up to here counted */
    uint64_t     catch_stop;                 /* this look counts up to here     */
    uint64_t     kinds[S_KINDS];              /* records by kind                */
    uint64_t     rejected[NRM_METRICS_REASONS];     /* REJECTED by reason       */
    uint64_t     refused_by[NRM_METRICS_REASONS];   /* DELIVERY_REFUSED by reason */
    uint64_t     batches, batch_failures, frames;
    uint64_t     batch_hist[S_NB + 1];
    uint64_t     commit_hist[S_NC + 1];
    double       commit_sum;
    size_t       live;
    uint64_t     inflight;
    uint64_t     ckpt_seq, ckpt_ms;           /* the last CHECKPOINT record  */
};

static int
s_count_one(void *ctx, uint64_t seq, nrm_bytes_t bytes, const nrm_record_t *rec, nrm_err_t *err)
{
    broker_metrics_t *self = ctx;
    (void) bytes;
    (void) err;
    if (seq > self->catch_stop)
        return 1;
    self->counted = seq;
    if (rec == NULL)
        return 0;                 /* nrm-audit verify reports a bad record */
    if (rec->kind >= 0 && rec->kind < S_KINDS)
        self->kinds[rec->kind]++;
    uint32_t r = rec->reason_code < NRM_METRICS_REASONS ? rec->reason_code : 0;
    if (rec->kind == NRM_REC_REJECTED)
        self->rejected[r]++;
    else if (rec->kind == NRM_REC_DELIVERY_REFUSED)
        self->refused_by[r]++;
    else if (rec->kind == NRM_REC_CHECKPOINT) {
        self->ckpt_seq = seq;
        self->ckpt_ms = rec->time_ms;
    }
    return 0;
}

/* Counts the records appended since the last look (at most a cap per
   look; the rest at the next). */
static void
s_catch_up(broker_metrics_t *self)
{
    MDB_txn *txn = NULL;
    uint64_t tip = 0;
    nrm_err_t err = { 0, 0, "" };

    if (nrm_store_read_begin(self->store, &txn, &err) != 0)
        return;
    if (nrm_auditlog_tip(self->store, txn, &tip, (uint8_t[NRM_HASH_BYTES]){ 0 }, &err) == 0
        && tip > self->counted) {
        self->catch_stop = self->counted + S_CATCHUP_MAX;
        if (nrm_auditlog_each(self->store, txn, self->counted + 1, s_count_one, self, &err) != 0)
            nrm_warn("metrics: counting log records: %s", err.msg);
    }
    nrm_store_read_end(&txn);
}

static size_t
s_entries(nrm_store_t *store, MDB_txn *txn, const char *db)
{
    MDB_stat st;
    return mdb_stat(txn, nrm_store_dbi(store, db), &st) == 0 ? st.ms_entries : 0;
}

static void
s_hist(nrm_metrics_t *m, const char *name, const char *help, const double *le, size_t n,
       const uint64_t *counts, double sum, uint64_t count)
{
    char base[96], bucket[112], bound[32];
    uint64_t cum = 0;
    snprintf(base, sizeof base, "%s", name);
    nrm_metrics_family(m, base, "histogram", help);
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    for (size_t i = 0; i < n; i++) {
        cum += counts[i];
        snprintf(bound, sizeof bound, "%g", le[i]);
        nrm_metrics_sample(m, bucket, (const char *[]) { "le", bound, NULL }, (double) cum);
    }
    nrm_metrics_sample(m, bucket, (const char *[]) { "le", "+Inf", NULL }, (double) count);
    snprintf(bucket, sizeof bucket, "%s_sum", name);
    nrm_metrics_sample(m, bucket, NULL, sum);
    snprintf(bucket, sizeof bucket, "%s_count", name);
    nrm_metrics_sample(m, bucket, NULL, (double) count);
}

/* Queue depth per recipient and the age of each one's oldest entry: the
   queue db is keyed recipient NUL be64 ACCEPTED seq, so the first entry
   of each recipient is its oldest. */
static void
s_queues(broker_metrics_t *self, MDB_txn *txn, nrm_metrics_t *m, uint64_t now)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    char org[NRM_ID_MAX + 1] = "";
    size_t depth = 0, shown = 0, scanned = 0, total = 0;
    double oldest_all = 0, oldest = 0;

    nrm_metrics_family(m, "nrm_broker_queue_depth", "gauge",
                       "accepted messages not yet delivered, by recipient");
    if (mdb_cursor_open(txn, nrm_store_dbi(self->store, "queue"), &cur) != 0)
        return;
    nrm_metrics_t ages = { NULL, 0, 0, false };
    nrm_metrics_family(&ages, "nrm_broker_oldest_undelivered_seconds_by_recipient", "gauge",
                       "age of the oldest undelivered message, by recipient");
    for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);; mrc = mdb_cursor_get(cur, &k, &v,
                                                                                   MDB_NEXT)) {
        const char *key = mrc == 0 ? k.mv_data : NULL;
        size_t n = key ? strnlen(key, k.mv_size) : 0;
        bool end = mrc != 0 || scanned >= S_QUEUE_SCAN_MAX;
        bool same = !end && n + 9 == k.mv_size && n < sizeof org && strncmp(key, org, n) == 0
                    && org[n] == '\0';
        if (!same && depth > 0) {
            if (shown < S_RECIPIENTS_MAX) {
                nrm_metrics_sample(m, "nrm_broker_queue_depth",
                                   (const char *[]) { "recipient", org, NULL }, (double) depth);
                nrm_metrics_sample(&ages, "nrm_broker_oldest_undelivered_seconds_by_recipient",
                                   (const char *[]) { "recipient", org, NULL }, oldest);
                shown++;
            }
            if (oldest > oldest_all)
                oldest_all = oldest;
            depth = 0;
        }
        if (end)
            break;
        scanned++;
        total++;
        if (!same) {
            if (n + 9 != k.mv_size || n >= sizeof org)
                continue;
            memcpy(org, key, n);
            org[n] = '\0';
            /* its oldest entry: the ACCEPTED record's time */
            nrm_bytes_t rb;
            nrm_record_t rec;
            oldest = 0;
            if (nrm_auditlog_get(self->store, txn, nrm_be64_get((const uint8_t *) key + n + 1),
                                 &rb, NULL) == 0
                && nrm_record_decode(rb.data, rb.len, &rec, NULL) == 0) {
                if (now > rec.time_ms)
                    oldest = (double) (now - rec.time_ms) / 1000.0;
                nrm_record_clear(&rec);
            }
        }
        depth++;
    }
    mdb_cursor_close(cur);
    if (ages.buf != NULL && !ages.oom) {
        /* appended after the depth family, as its own family */
        nrm_metrics_t *dst = m;
        size_t need = dst->len + ages.len + 1;
        if (need > dst->cap) {
            char *bigger = realloc(dst->buf, need);
            if (bigger != NULL) {
                dst->buf = bigger;
                dst->cap = need;
            } else {
                dst->oom = true;
            }
        }
        if (!dst->oom) {
            memcpy(dst->buf + dst->len, ages.buf, ages.len + 1);
            dst->len += ages.len;
        }
    }
    free(ages.buf);
    nrm_metrics_one(m, "nrm_broker_queued_messages", "gauge",
                    "accepted messages not yet delivered, all recipients", (double) total);
    nrm_metrics_one(m, "nrm_broker_oldest_undelivered_seconds", "gauge",
                    "age of the oldest accepted message not yet delivered", oldest_all);
}

/* Referrals whose response-due time has passed without an answer (the
   deadlines db is keyed be64 due_ms || msg_id, in deadline order). */
static void
s_overdue(broker_metrics_t *self, MDB_txn *txn, nrm_metrics_t *m, uint64_t now)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t overdue = 0;

    if (mdb_cursor_open(txn, nrm_store_dbi(self->store, "deadlines"), &cur) == 0) {
        for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && k.mv_size >= 8
             && nrm_be64_get(k.mv_data) <= now && overdue < S_QUEUE_SCAN_MAX;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            overdue++;
        mdb_cursor_close(cur);
    }
    nrm_metrics_one(m, "nrm_broker_referrals_open", "gauge",
                    "referrals waiting for their answer", (double)
                    s_entries(self->store, txn, "deadlines"));
    nrm_metrics_one(m, "nrm_broker_referrals_overdue", "gauge",
                    "referrals past their response-due time without an answer",
                    (double) overdue);
}

static void
s_render(broker_metrics_t *self, nrm_metrics_t *m)
{
    MDB_txn *txn = NULL;
    uint64_t now = nrm_now_ms(), tip = 0;
    const char *net[] = { "network", self->network, NULL };

    s_catch_up(self);
    nrm_metrics_family(m, "nrm_broker_up", "gauge", "1 while the broker runs");
    nrm_metrics_sample(m, "nrm_broker_up", net, 1);
    nrm_metrics_one(m, "nrm_broker_start_time_seconds", "gauge",
                    "when the broker started (Unix time)", (double) self->started_ms / 1000.0);
    nrm_metrics_family(m, "nrm_broker_messages_total", "counter",
                       "messages decided since start, by outcome (from the audit log)");
    static const struct { const char *name; int kind; } outcomes[] = {
        { "accepted", NRM_REC_ACCEPTED }, { "rejected", NRM_REC_REJECTED },
        { "delivered", NRM_REC_DELIVERED }, { "delivery_refused", NRM_REC_DELIVERY_REFUSED },
        { "escalated", NRM_REC_ESCALATED }, { "purged", NRM_REC_PURGED },
    };
    for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++)
        nrm_metrics_sample(m, "nrm_broker_messages_total",
                           (const char *[]) { "outcome", outcomes[i].name, NULL },
                           (double) self->kinds[outcomes[i].kind]);
    nrm_metrics_family(m, "nrm_broker_rejected_total", "counter",
                       "submissions refused since start, by reason");
    for (uint32_t r = 0; r < NRM_METRICS_REASONS; r++)
        if (self->rejected[r])
            nrm_metrics_sample(m, "nrm_broker_rejected_total",
                               (const char *[]) { "reason", nrm_reason_name(r), NULL },
                               (double) self->rejected[r]);
    nrm_metrics_family(m, "nrm_broker_delivery_refused_total", "counter",
                       "deliveries refused by their recipient since start, by reason");
    for (uint32_t r = 0; r < NRM_METRICS_REASONS; r++)
        if (self->refused_by[r])
            nrm_metrics_sample(m, "nrm_broker_delivery_refused_total",
                               (const char *[]) { "reason", nrm_reason_name(r), NULL },
                               (double) self->refused_by[r]);
    nrm_metrics_family(m, "nrm_broker_records_total", "counter",
                       "audit-log records appended since start, by kind");
    for (int k = 0; k < S_KINDS; k++)
        if (self->kinds[k])
            nrm_metrics_sample(m, "nrm_broker_records_total",
                               (const char *[]) { "kind", nrm_record_kind_name(k), NULL },
                               (double) self->kinds[k]);
    nrm_metrics_one(m, "nrm_broker_frames_total", "counter",
                    "frames decided (each decoded, its signature verified unless refused "
                    "before): rate() is the verification rate", (double) self->frames);
    nrm_metrics_one(m, "nrm_broker_batch_failures_total", "counter",
                    "batches whose commit failed (nothing acknowledged, retried by senders)",
                    (double) self->batch_failures);
    s_hist(m, "nrm_broker_batch_frames", "frames per committed batch (group commit)",
           s_batch_le, S_NB, self->batch_hist, (double) self->frames, self->batches);
    s_hist(m, "nrm_broker_commit_seconds", "time of each batch's write transaction and fsync",
           s_commit_le, S_NC, self->commit_hist, self->commit_sum, self->batches);
    nrm_metrics_one(m, "nrm_broker_peers_connected", "gauge",
                    "organisations connected and welcomed", (double) self->live);
    nrm_metrics_one(m, "nrm_broker_deliveries_in_flight", "gauge",
                    "deliveries sent and not yet acknowledged", (double) self->inflight);
    if (self->ckpt_seq != 0) {      /* none before the first checkpoint */
        nrm_metrics_one(m, "nrm_broker_checkpoint_age_seconds", "gauge",
                        "time since the broker signed its last checkpoint",
                        now > self->ckpt_ms ? (double) (now - self->ckpt_ms) / 1000.0 : 0.0);
        nrm_metrics_one(m, "nrm_broker_checkpoint_record", "gauge",
                        "sequence number of the last CHECKPOINT record", (double) self->ckpt_seq);
    }
    if (nrm_store_read_begin(self->store, &txn, NULL) == 0) {
        s_queues(self, txn, m, now);
        s_overdue(self, txn, m, now);
        if (nrm_auditlog_tip(self->store, txn, &tip, (uint8_t[NRM_HASH_BYTES]){ 0 }, NULL) == 0)
            nrm_metrics_one(m, "nrm_broker_log_records", "gauge",
                            "records in the audit log (its tip sequence number)", (double) tip);
        nrm_store_read_end(&txn);
    }
    char path[2300];
    struct stat st;
    if (nrm_path(path, sizeof path, "%s/data/data.mdb", self->dir) == 0 && stat(path, &st) == 0)
        nrm_metrics_one(m, "nrm_broker_store_bytes", "gauge",
                        "size of the broker's LMDB file (log, queues, bodies)",
                        (double) st.st_size);
}

static void
s_handle(void *ctx, const nrm_http_req_t *req, nrm_http_resp_t *resp)
{
    broker_metrics_t *self = ctx;
    nrm_metrics_t m = { NULL, 0, 0, false };

    if (strcmp(req->method, "GET") != 0 || strcmp(req->path, "/metrics") != 0) {
        nrm_httpd_error(resp, 404, "not_found", NULL, "metrics are at GET /metrics");
        return;
    }
    s_render(self, &m);
    if (m.oom) {
        free(m.buf);
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4";
    resp->body = m.buf;
    resp->len = m.len;
}

int
broker_metrics_open(const char *listen, const char *net_dir, const char *network,
                    nrm_store_t *store, broker_metrics_t **out, nrm_err_t *err)
{
    broker_metrics_t *self;
    MDB_txn *txn = NULL;
    char path[2300], line[NRM_HTTPD_LISTEN_MAX + 32];
    int rc;

    *out = NULL;
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    snprintf(self->dir, sizeof self->dir, "%s", net_dir);
    snprintf(self->network, sizeof self->network, "%s", network);
    self->store = store;
    self->started_ms = nrm_now_ms();
    rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_auditlog_tip(store, txn, &self->counted, (uint8_t[NRM_HASH_BYTES]){ 0 }, err);
    nrm_store_read_end(&txn);
    if (rc == 0)
        rc = nrm_httpd_start(listen, 0, s_handle, self, &self->httpd, err);
    if (rc == 0 && nrm_path(path, sizeof path, "%s/metrics.endpoint", net_dir) != 0)
        rc = nrm_err_set(err, NRM_ETOOBIG, "path too long: %s", net_dir);
    if (rc == 0) {
        snprintf(line, sizeof line, "%s/metrics\n", nrm_httpd_url(self->httpd));
        rc = nrm_file_write(path, line, strlen(line), 0644, err);
    }
    if (rc != 0) {
        nrm_err_prefix(err, "metrics");
        broker_metrics_destroy(&self);
        return rc;
    }
    nrm_info("metrics on %s/metrics", nrm_httpd_url(self->httpd));
    *out = self;
    return 0;
}

int
broker_metrics_fd(const broker_metrics_t *self)
{
    return nrm_httpd_fd(self->httpd);
}

void
broker_metrics_run(broker_metrics_t *self)
{
    if (self != NULL)
        nrm_httpd_run(self->httpd);
}

void
broker_metrics_batch(broker_metrics_t *self, size_t frames, uint64_t commit_us, bool ok)
{
    double s = (double) commit_us / 1e6;
    size_t i;

    if (self == NULL)
        return;
    if (!ok) {
        self->batch_failures++;
        return;
    }
    self->batches++;
    self->frames += frames;
    for (i = 0; i < S_NB && (double) frames > s_batch_le[i]; i++)
        ;
    self->batch_hist[i]++;
    for (i = 0; i < S_NC && s > s_commit_le[i]; i++)
        ;
    self->commit_hist[i]++;
    self->commit_sum += s;
    s_catch_up(self);
}

void
broker_metrics_peers(broker_metrics_t *self, size_t live, uint64_t inflight)
{
    if (self == NULL)
        return;
    self->live = live;
    self->inflight = inflight;
}

void
broker_metrics_destroy(broker_metrics_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    broker_metrics_t *self = *self_p;
    nrm_httpd_destroy(&self->httpd);
    free(self);
    *self_p = NULL;
}
