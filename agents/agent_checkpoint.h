/*  agent_checkpoint -- the agent's watch over the broker's log: it keeps the
    last signed checkpoint it accepted and accepts a new one only with a
    valid consistency proof from it. A checkpoint that does not extend the
    trusted one (a forked, rolled-back or rewritten log) is recorded as an
    alarm, logged at error level, and the old checkpoint stays trusted.

    Databases in ORG/data:
      ckpt       "trusted" -> u64 received_ms (BE) || the signed note
      ckptalarm  be64 n    -> u64 time_ms (BE) || u32 reason length (BE) ||
                              reason text || the refused note
                 (at most AGENT_CKPT_ALARMS_MAX; later ones are only logged) */
#ifndef AGENT_CHECKPOINT_H_INCLUDED
#define AGENT_CHECKPOINT_H_INCLUDED
#include "nrm_checkpoint.h"
#include "nrm_codec.h"
#include "nrm_store.h"

#define AGENT_CKPT_DBS "ckpt", "ckptalarm"
#define AGENT_CKPT_ALARMS_MAX 1000

enum {
    AGENT_CKPT_ACCEPTED = 1,   /* new trusted checkpoint                        */
    AGENT_CKPT_SAME,           /* the one already trusted                       */
    AGENT_CKPT_NEED_PROOF,     /* the proof starts elsewhere: ask from ours     */
    AGENT_CKPT_INCONSISTENT,   /* does not extend the trusted one: alarm       */
    AGENT_CKPT_BAD,            /* not a valid checkpoint of this broker: alarm */
};

typedef struct {
    int              outcome;          /* AGENT_CKPT_*                     */
    nrm_checkpoint_t fresh;            /* the checkpoint received           */
    uint64_t         trusted_size;     /* the trusted one before (0: none)  */
    char             why[400];
} agent_ckpt_result_t;

/* Inside a write txn: judges the Checkpoint message w from the broker whose
   key is broker_pk, for network `network`, against the trusted checkpoint,
   and stores the outcome (new trusted checkpoint or alarm). */
int agent_ckpt_judge(nrm_store_t *store, MDB_txn *txn, const uint8_t broker_pk[NRM_PK_BYTES],
                     const char *network, const nrm_wire_t *w, uint64_t now_ms,
                     agent_ckpt_result_t *r, nrm_err_t *err) NRM_WUR;

/* The trusted checkpoint: its note (borrowed until txn ends) and when it
   was received; NRM_ENOTFOUND when there is none. */
int agent_ckpt_trusted(nrm_store_t *store, MDB_txn *txn, nrm_bytes_t *note,
                       uint64_t *received_ms, nrm_err_t *err) NRM_WUR;

/* Walks the recorded alarms, oldest first. */
typedef int (agent_ckpt_alarm_fn)(void *ctx, uint64_t time_ms, const char *reason,
                                  nrm_bytes_t note);
int agent_ckpt_alarms(nrm_store_t *store, MDB_txn *txn, agent_ckpt_alarm_fn *fn, void *ctx,
                      uint64_t *count, nrm_err_t *err) NRM_WUR;

#endif
