/*  agent_hooks -- handing inbox items to the organisation's system without
    polling, and taking its outgoing messages from a folder
    (docs/operations.md, "Hooks and spool folders").

    Inbox item state (db "intake", be64 inbox key -> be64 taken_ms): an
    item is "new" until the organisation's system says it has taken it
    (POST /v1/inbox/{id}/take, or a hook command that exits 0), then
    "taken", durably and idempotently (taking it again changes nothing).

    Hand-off (db "handoff", be64 inbox key -> record below; db "handmeta",
    "cursor" -> be64 last inbox key queued): every inbox item that arrives
    after hooks are configured is queued for hand-off in one write txn
    (the cursor moves in the same txn), and handed to the spool folder
    and/or the command, each marked done durably only after it succeeded:
      spool: ITEM.json written to a temp file, fsync, rename, fsync of the
             folder, then marked done; a crash before the mark redoes it, and
             the redo replaces the same file (named by the item id), so the
             folder never holds an item twice and never misses one;
      command: run as COMMAND ITEM_ID FILE (the spool file, or a private
             file under ORG/hooks/), exit 0 = taken; otherwise, or after
             command_timeout_s, retried with exponential backoff and jitter
             up to retry_max_ms, for ever, with each failure logged and
             counted. The command is killed if the agent dies (so it cannot
             finish after the agent forgot it); if the agent dies between
             the command's exit 0 and the mark, it is run again with the
             same item id, which is how the organisation's system recognises
             it (docs/operations.md).

    Outgoing spool: files *.json in spool_out, each a send request
    (the body of POST /v1/messages): moved atomically into
    spool_out/processing/, sent through agent_sender_send with the
    idempotency key sha256(name || content) stored in the same outbox txn,
    then moved to spool_out/sent/ with NAME.result.json beside it (the
    message id), or to spool_out/failed/ with NAME.error.json (the error:
    code, message, field). A crash anywhere redoes processing/ at start;
    the idempotency key makes the redo find the message already queued. */
#ifndef AGENT_HOOKS_H_INCLUDED
#define AGENT_HOOKS_H_INCLUDED
#include "agent.h"
#include "agent_conf.h"
#include "agent_send.h"
#include "nrm_store.h"

#include <jansson.h>

/* Take state of inbox entry key: *taken_ms 0 when new. */
int agent_intake_get(nrm_store_t *store, MDB_txn *txn, uint64_t key, uint64_t *taken_ms,
                     nrm_err_t *err) NRM_WUR;
/* Inside a write txn: marks it taken at now_ms unless it was; *taken_ms
   is when it was taken (the first time). */
int agent_intake_take(nrm_store_t *store, MDB_txn *txn, uint64_t key, uint64_t now_ms,
                      uint64_t *taken_ms, nrm_err_t *err) NRM_WUR;
/* Hand-off state of entry key as JSON (NULL when never queued): spool
   (pending, done), command (pending, done), tries, next_ms. */
json_t *agent_handoff_view(nrm_store_t *store, MDB_txn *txn, uint64_t key);

/* Counters (since start) for the metrics. */
typedef struct {
    uint64_t spooled, spool_failures;
    uint64_t hook_ok, hook_failures;
    uint64_t out_sent, out_failed;
} agent_hooks_stats_t;

typedef struct agent_hooks_t agent_hooks_t;
/* store is borrowed (the daemon's). NULL *out (and 0) when nothing is
   configured. Redoes what a crash left in spool_out/processing/. */
int agent_hooks_open(const char *dir, const agent_conf_t *conf, nrm_store_t *store,
                     agent_hooks_t **out, nrm_err_t *err) NRM_WUR;
/* One round from the daemon's loop: reap the command, queue new inbox
   items, hand off what is due, take outgoing files. Never blocks long
   (a spool write is one fsync'd file). */
void agent_hooks_tick(agent_hooks_t *self, uint64_t now_ms);
const agent_hooks_stats_t *agent_hooks_stats(const agent_hooks_t *self);
void agent_hooks_destroy(agent_hooks_t **self_p);

#endif
