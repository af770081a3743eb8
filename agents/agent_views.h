/*  agent_views -- what the organisation sees of its store, as JSON: the
    outbox, the inbox (opened with its keys), one message. The CLI (outbox,
    inbox) prints these objects and the local HTTP API (agent_api.c) returns
    them, so both show the same thing from the same code. The case and
    overdue views are in agent_referrals.h. */
#ifndef AGENT_VIEWS_H_INCLUDED
#define AGENT_VIEWS_H_INCLUDED
#include "agent.h"
#include "agent_store.h"

#include <jansson.h>

/* Every key set that may open a body sealed to this organisation: the one
   in force, secret.keys.next (a rotation not yet in force), and the
   retired sets. */
typedef struct {
    nrm_keys_t *keys[2 + AGENT_RETIRED_MAX];
    size_t      n;
} agent_keyring_t;
int agent_keyring_load(const char *dir, agent_keyring_t *kr, nrm_err_t *err) NRM_WUR;
void agent_keyring_clear(agent_keyring_t *kr);

/* One outbox entry: msg_id, to, type, case, priority, reply_to,
   created_ms, created, state, accepted_seq, delivered_seq, reason_code,
   reason_name, reason (the last three when refused). Caller decrefs. */
int agent_view_out(const agent_out_t *rec, json_t **out, nrm_err_t *err) NRM_WUR;

/* One inbox entry: msg_id, from, type, case, reply_to, priority,
   created_ms, received_ms, received, accepted_seq, body_hash, state (new
   or taken), taken_ms, handoff; and with docs (kr non-NULL) the document
   opened with kr (a purged body shows as a string saying so). */
int agent_view_in(nrm_store_t *store, MDB_txn *txn, const agent_keyring_t *kr,
                  const agent_in_t *rec, json_t **out, nrm_err_t *err) NRM_WUR;

/* Lists. An entry that does not decode or open is kept as an object with
   msg_id and "error", so a listing always shows every entry.
   state: NULL (all), "new" or "taken" (inbox only). At most max entries
   with key > after; *next is the last key listed (0 when none). */
int agent_view_outbox(nrm_store_t *store, MDB_txn *txn, uint64_t after, size_t max,
                      json_t **arr, uint64_t *next, nrm_err_t *err) NRM_WUR;
int agent_view_inbox(nrm_store_t *store, MDB_txn *txn, const agent_keyring_t *kr,
                     const char *state, uint64_t after, size_t max, json_t **arr,
                     uint64_t *next, nrm_err_t *err) NRM_WUR;

/* Hex of a message id (33 bytes with the NUL). */
typedef char agent_hex_t[2 * NRM_MSGID_BYTES + 1];

#endif
