/*  agent_referrals -- the organisation's side of the referral lifecycle
    (docs/referrals.md): the broker's signed notices (escalations), kept in
    the agent store's "notices" database (be64 ESCALATED seq -> exact
    Signed{Notice} bytes), and the commands `nrm-agent overdue` and
    `nrm-agent case`, which read the outbox, inbox and notices. */
#ifndef AGENT_REFERRALS_H_INCLUDED
#define AGENT_REFERRALS_H_INCLUDED
#include "nrm_codec.h"
#include "nrm_crypto.h"
#include "nrm_store.h"

#include <jansson.h>

/* Checks a decoded NRM_WIRE_NOTICE: the broker's signature (broker_pk,
   NRM_CTX_NOTICE) over the exact body, the notice's fields, and that it is
   addressed to own_id. On success *signed_bytes (caller frees) holds the
   Signed{Notice} to keep. */
int agent_notice_check(const nrm_wire_t *w, const uint8_t broker_pk[NRM_PK_BYTES],
                       const char *own_id, nrm_notice_t *n, uint8_t **signed_bytes,
                       size_t *len, nrm_err_t *err) NRM_WUR;
/* Inside a write txn: keeps a notice once (a notice sent again at the next
   Hello is recognised by its seq). *is_new tells whether it was new. */
int agent_notice_put(nrm_store_t *store, MDB_txn *txn, const nrm_notice_t *n,
                     const uint8_t *signed_bytes, size_t len, bool *is_new,
                     nrm_err_t *err) NRM_WUR;

/* Retention: one write txn dropping the sealed bodies of inbox entries
   received more than older_than_ms ago, at most AGENT_PURGE_MAX of them
   (*purged says how many; call again while it equals the cap). */
#define AGENT_PURGE_MAX 1024
int agent_purge_run(nrm_store_t *store, uint64_t older_than_ms, size_t *purged,
                    nrm_err_t *err) NRM_WUR;

/* Views shared by the CLI (`case`, `overdue`) and the HTTP API, inside a
   read txn. The case of case_ref as this organisation holds it: {case,
   messages, referrals, notices}; with keys, received documents opened.
   NRM_ENOTFOUND when it holds nothing of the case. */
int agent_case_view(nrm_store_t *store, MDB_txn *txn, const nrm_keys_t *keys,
                    const char *case_ref, json_t **out, nrm_err_t *err) NRM_WUR;
/* Escalated referrals (array of {msg_id, case, type, from, to, due_ms,
   due, escalated_seq, role, state}); without all, those still overdue. */
int agent_overdue_view(nrm_store_t *store, MDB_txn *txn, const char *own_id, bool all,
                       json_t **out, nrm_err_t *err) NRM_WUR;

int agent_cmd_overdue(int argc, char **argv);
int agent_cmd_case(int argc, char **argv);

#endif
