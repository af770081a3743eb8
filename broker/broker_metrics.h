/*  broker_metrics -- the broker's Prometheus endpoint (docs/operations.md,
    "Metrics"), served from the broker's own poll loop (nrm_httpd), so it
    reads the store like any other step of the loop, between batches.

    Counters are taken from the audit log itself: after each committed
    batch the records appended since the last look are read and counted by
    kind and refusal reason, so the metrics count exactly the decisions the
    log holds, whichever code path made them (intake, acknowledgements,
    administration, escalation timers). Gauges (queues, overdue referrals,
    log size) are read in one read transaction when scraped. */
#ifndef BROKER_METRICS_H_INCLUDED
#define BROKER_METRICS_H_INCLUDED
#include "nrm.h"
#include "nrm_store.h"

typedef struct broker_metrics_t broker_metrics_t;

/* Listens on listen (nrm_httpd: "127.0.0.1:PORT", any IPv4 address, or
   "unix:/path") and writes the URL to NET/metrics.endpoint. store is
   borrowed. Records already in the log are not counted. */
int broker_metrics_open(const char *listen, const char *net_dir, const char *network,
                        nrm_store_t *store, broker_metrics_t **out, nrm_err_t *err) NRM_WUR;
int broker_metrics_fd(const broker_metrics_t *self);
/* Answers waiting scrapes. */
void broker_metrics_run(broker_metrics_t *self);
/* After a batch's commit (ok) or failure: its size and commit time, and
   the new log records counted. */
void broker_metrics_batch(broker_metrics_t *self, size_t frames, uint64_t commit_us, bool ok);
/* Connected peers and unacknowledged deliveries, from the broker's loop. */
void broker_metrics_peers(broker_metrics_t *self, size_t live, uint64_t inflight);
void broker_metrics_destroy(broker_metrics_t **self_p);

#endif
