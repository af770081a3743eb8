/*  broker -- the nrmbus broker: ZAP authentication against the registry,
    intake of signed envelopes with group commit, durable delivery queues. */
#ifndef BROKER_H_INCLUDED
#define BROKER_H_INCLUDED
#include "nrm.h"

#include "nrm_netconf.h"

typedef struct {
    char     dir[2048];           /* NET folder                              */
    char     listen[256];         /* ZeroMQ endpoint; port 0 = ephemeral     */
    char     admin_listen[256];   /* admin endpoint (administrators only)    */
    char     network[NRM_ID_MAX + 1];
    uint64_t batch_max;           /* frames taken into one commit            */
    uint64_t window;              /* unacknowledged deliveries per recipient */
    uint64_t map_max_mb;
    uint64_t skew_max_ms;         /* Hello refused beyond this clock skew; 0 = off */
    uint64_t reserve_bytes;       /* free disk below which new messages wait  */
    uint64_t body_retention_ms;   /* undelivered bodies purged after; 0 never */
    char     body_retention[16];  /* as written in broker.ini               */
    int      log_level;
    uint64_t checkpoint_records;  /* sign a checkpoint after this many records */
    uint64_t checkpoint_seconds;  /* ... or this long after the last one       */
    char     metrics_listen[256]; /* "" or a Prometheus endpoint (--metrics)  */
} broker_config_t;

typedef struct broker_t broker_t;

/* Loads NET/broker.ini into cfg (defaults for keys not given). */
int broker_config_load(const char *dir, broker_config_t *cfg, nrm_err_t *err) NRM_WUR;

/* Opens keys and store, binds. NULL on failure with err set. */
broker_t *broker_new(const broker_config_t *cfg, nrm_err_t *err);
void broker_destroy(broker_t **self_p);
/* Runs until *stop becomes non-zero (set from a signal handler). */
int broker_run(broker_t *self, volatile int *stop, nrm_err_t *err) NRM_WUR;

/* ZAP (ZeroMQ RFC 27) handler on inproc://zeromq.zap.01: answers every
   pending request; a CURVE key is accepted only if it belongs to an
   enrolled organisation whose certificate is valid now, whose id then
   becomes the connection's User-Id. */
typedef struct nrm_store_t nrm_store_t;
#define BROKER_ADMIN_DOMAIN "nrmbus-admin"
/* ZAP metadata property on an organisation's connection: its CURVE key in
   hex (libzmq: application properties start with "X-"). */
#define BROKER_CURVE_PROP "X-Nrm-Curve-Key"
/* The admin endpoint's ZAP domain admits only the CURVE keys of the
   genesis administrators (User-Id "admin:FINGERPRINT"); the agents' domain
   only organisations that are enrolled, active and within validity. */
#include "nrm_codec.h"
void broker_zap_handle(void *zap, nrm_store_t *store, const nrm_genesis_t *genesis);

/* Checkpoints (broker_checkpoint.c). Appends a CHECKPOINT record inside txn
   when records came after the last one and either checkpoint_records of
   them did or checkpoint_seconds passed since last_ms; *made tells. */
#include <lmdb.h>
#include "nrm_crypto.h"
int broker_checkpoint_due(nrm_store_t *store, MDB_txn *txn, const broker_config_t *cfg,
                          uint64_t last_ms, uint64_t now_ms, bool *due, nrm_err_t *err) NRM_WUR;
int broker_checkpoint_maybe(nrm_store_t *store, MDB_txn *txn, const nrm_keys_t *keys,
                            const broker_config_t *cfg, uint64_t last_ms, uint64_t now_ms,
                            bool *made, nrm_err_t *err) NRM_WUR;
/* The Checkpoint frame for an agent that trusts the tree of old_size
   records: the latest note and the consistency proof from old_size (none
   when old_size is larger: the agent will report the rollback). *size is
   the note's tree size. NRM_ENOTFOUND when no checkpoint exists yet. */
int broker_checkpoint_frame(nrm_store_t *store, MDB_txn *txn, uint64_t old_size, uint8_t **out,
                            size_t *len, uint64_t *size, nrm_err_t *err) NRM_WUR;

#endif
