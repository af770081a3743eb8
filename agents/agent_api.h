/*  agent_api -- the local HTTP/JSON API of `nrm-agent run` (docs/api.yaml,
    docs/operations.md): the organisation's own system, in any language,
    sends messages, lists and fetches its inbox, takes items, and reads its
    outbox, cases and overdue referrals, over 127.0.0.1 or a Unix socket,
    with the bearer token of ORG/api.token (made 0600 at first start).

    It runs on the daemon's thread (nrm_httpd is polled from its loop), so
    it uses the daemon's LMDB environment like any other step of the loop;
    sending goes through agent_sender_send like `nrm-agent send`. */
#ifndef AGENT_API_H_INCLUDED
#define AGENT_API_H_INCLUDED
#include "agent.h"
#include "agent_conf.h"
#include "agent_send.h"

#include <jansson.h>

/* The largest request body: a document and its envelope of fields. */
#define AGENT_API_BODY_MAX  (2u * NRM_MAX_DOC_BYTES + 4096u)
#define AGENT_API_LIST_MAX  1000       /* entries per page                 */
#define AGENT_API_LIST_DEFAULT 100
#define AGENT_TOKEN_MIN     32         /* characters of a token file       */
#define AGENT_TOKEN_MAX     256

/* A send request as JSON (the body of POST /v1/messages, and an outgoing
   spool file): {to, type, case, document, purpose?, destination?,
   reply_to?, priority?}. Fills r (its strings borrow from o; *doc_text is
   the document re-serialised, caller frees). On error, field is the
   offending field's path (e.g. "document" or "priority"). */
int agent_send_parse(const json_t *o, agent_send_req_t *r, char **doc_text,
                     char *field, size_t field_size, nrm_err_t *err) NRM_WUR;
/* The field a send error is about, from agent_sender_send's message:
   "document.<path>" for a document that does not fit its schema, "to",
   "purpose", "destination", or "" when it is not about one field. */
void agent_send_error_field(const nrm_err_t *err, char *field, size_t field_size);

/* What a send of a JSON request did. */
typedef struct {
    uint8_t            msg_id[NRM_MSGID_BYTES];
    bool               repeated;   /* the idempotency key was known       */
    agent_doc_report_t report;     /* (not filled when repeated)          */
    nrm_envelope_t     env;        /* as signed (not filled when repeated) */
} agent_send_result_t;
/* Parses a send request (agent_send_parse) and sends it through
   agent_sender_send with the process's store (borrowed) and the
   idempotency key (NULL for none): the one path of the API and the
   outgoing spool. On error, field names the offending field ("" when the
   error is not about one field); an unknown recipient is NRM_EINVAL. */
int agent_send_json(const char *dir, nrm_store_t *store, const json_t *o,
                    const uint8_t *idem_key, const char *doc_name, agent_send_result_t *res,
                    char *field, size_t field_size, nrm_err_t *err) NRM_WUR;

/* Reads ORG's token file, or makes it (random, hex, mode 0600) when it
   does not exist. A file others may read is refused. */
int agent_token_load(const char *path, char *token, size_t size, nrm_err_t *err) NRM_WUR;

typedef struct agent_api_t agent_api_t;

/* Counters since start, for the metrics. */
typedef struct {
    uint64_t requests[6];      /* by status class: 1xx..5xx (index 1..5) */
    uint64_t unauthorized;
    uint64_t sent;             /* messages queued through the API        */
    uint64_t taken;            /* inbox items taken through the API      */
} agent_api_stats_t;

/* store is borrowed (the daemon's). Starts listening on conf->api_listen
   and writes the URL to ORG/api.endpoint. */
int agent_api_open(const char *dir, const agent_conf_t *conf, const char *org_id,
                   nrm_store_t *store, agent_api_t **out, nrm_err_t *err) NRM_WUR;
int agent_api_fd(const agent_api_t *self);
void agent_api_run(agent_api_t *self);
/* ms until agent_api_run must run again without input (nrm_httpd_wait_ms). */
long agent_api_wait_ms(const agent_api_t *self);
const agent_api_stats_t *agent_api_stats(const agent_api_t *self);
void agent_api_destroy(agent_api_t **self_p);

#endif
