/*  agent_send -- what `nrm-agent send` does, as a library: seal each
    document to its recipient's box key, build and sign the envelope over
    its exact bytes, and store the messages in the outbox in ONE durable
    write transaction. Only when that has committed are the messages
    "sent" (the daemon, `nrm-agent run`, submits them to the broker; the
    send pokes it through ORG/agent.wake so that it does so at once).

    Used by the CLI's `send` (one message at a time) and by nrm-bench, so
    the benchmark drives the agent's own code path. */
#ifndef AGENT_SEND_H_INCLUDED
#define AGENT_SEND_H_INCLUDED
#include "agent.h"
#include "agent_docs.h"
#include "nrm_store.h"

typedef struct agent_sender_t agent_sender_t;

/* One message to send. */
typedef struct {
    const char    *to;          /* recipient organisation id               */
    const char    *type;        /* message type (nrm_msg_type_valid)       */
    const char    *case_ref;    /* pseudonymous case reference (an id)     */
    const uint8_t *doc;         /* JSON document of the type's schema
                                   (docs/referrals.md), at most
                                   NRM_MAX_DOC_BYTES                       */
    size_t         doc_len;
    const char    *doc_name;    /* NULL or the file name, for errors       */
    const char    *purpose;     /* NULL or a purpose (policy [minimise.*]) */
    const char    *destination; /* NULL or ISO 3166 alpha-2 (cross-border) */
    bool           has_reply_to;
    uint8_t        reply_to[NRM_MSGID_BYTES];
    uint32_t       priority;    /* 0..3; raised for a child or high risk   */
    /* Out (each may be NULL): what minimisation did and whether the
       priority was raised; the envelope as signed (its `stripped` names the
       fields removed); the recipient's certificate it was sealed to. */
    agent_doc_report_t *report;
    nrm_envelope_t     *env_out;
    nrm_cert_t         *cert_out;
    /* NULL, or AGENT_IDEM_BYTES naming this send (an HTTP Idempotency-Key,
       an outgoing spool file): stored with the message in the same outbox
       txn, so a send repeated with the same key (after a crash, a client's
       retry) queues nothing again and returns the first message's id, with
       *idem_hit set (the report and env_out are then not filled). */
    const uint8_t      *idem_key;
    bool               *idem_hit;
} agent_send_req_t;
#define AGENT_IDEM_BYTES 32

/* Loads org.ini, secret.keys, connect.ini and policy.ini (if present) of
   organisation folder dir and opens its store. On error *out is NULL and err says what was wrong. */
int agent_sender_open(const char *dir, agent_sender_t **out, nrm_err_t *err) NRM_WUR;
/* The same with the process's store, already open (borrowed: one LMDB
   environment per process), as `nrm-agent run` does for its API and
   spool. A sender is cheap: open one per send so that a key rotation or a
   new policy.ini takes effect at the next send, as for the CLI. */
int agent_sender_open_store(const char *dir, nrm_store_t *store, agent_sender_t **out,
                            nrm_err_t *err) NRM_WUR;
/* Frees everything (keys are wiped); NULL-safe, clears *self_p. */
void agent_sender_destroy(agent_sender_t **self_p);
/* The organisation's store (borrowed, owned by the sender): for reading the
   outbox and inbox from the same process. */
nrm_store_t *agent_sender_store(agent_sender_t *self);

/* Validates each document for its type, minimises it for its recipient per
   the policy, checks consent (agent_doc_prepare), seals to the recipient's
   certificate from the directory (verified once per sender and exact
   certificate, checked valid now every time), signs and stores count
   (1..AGENT_SEND_MAX) messages in one outbox transaction, committed with
   fsync, then pokes the daemon; fills ids[i] with the message id of
   reqs[i]. All or nothing: on error nothing was queued and err names
   the message (its index when count > 1) and what was wrong. */
#define AGENT_SEND_MAX 1024
int agent_sender_send(agent_sender_t *self, const agent_send_req_t *reqs, size_t count,
                      uint8_t (*ids)[NRM_MSGID_BYTES], nrm_err_t *err) NRM_WUR;

#endif
