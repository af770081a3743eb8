/*  nrm_netconf -- NET/broker.ini: one table of its keys, read by the broker
    and by nrm-admin, written by nrm-admin init. */
#ifndef NRM_NETCONF_H_INCLUDED
#define NRM_NETCONF_H_INCLUDED
#include "nrm.h"

#define NRM_NETCONF_LISTEN_MAX 255

typedef struct {
    char     listen[NRM_NETCONF_LISTEN_MAX + 1]; /* ZeroMQ endpoint; port 0 = ephemeral */
    char     admin_listen[NRM_NETCONF_LISTEN_MAX + 1]; /* admin endpoint (tcp://127.0.0.1:0) */
    char     network[NRM_ID_MAX + 1];
    uint64_t batch_max;      /* frames taken into one commit, 1..65536 (256)        */
    uint64_t window;         /* unacknowledged deliveries per recipient, 1..100000 (128) */
    uint64_t map_max_mb;     /* LMDB map limit in MiB, 16..2^24 (65536)             */
    char     log_level[16];  /* error, warn, info (default) or debug                */
    uint64_t clock_skew_max_s; /* Hello refused beyond this skew, 0..86400 (300); 0 = not checked */
    uint64_t store_reserve_mb; /* free disk kept: new messages refused below it, 0..1048576 (64) */
    uint64_t checkpoint_records; /* sign a checkpoint after this many records, 1..1000000 (1000) */
    uint64_t checkpoint_seconds; /* ... or this long after the last one if records came, 1..86400 (5) */
    char     body_retention[16]; /* how long an undelivered body is kept: a duration
                                    (30d default), or 0 = until delivered    */
    uint64_t body_retention_ms;  /* the same in ms, 0 = for ever              */
} nrm_netconf_t;

#define NRM_NETCONF_RETENTION_DEFAULT "30d"
#define NRM_NETCONF_RETENTION_MAX_MS  (3650ull * 86400000u)   /* ten years */

void nrm_netconf_defaults(nrm_netconf_t *conf);
/* Loads NET/broker.ini over the defaults; unknown keys and bad values are
   refused with file, line and reason. */
int nrm_netconf_load(const char *net_dir, nrm_netconf_t *conf, nrm_err_t *err) NRM_WUR;
/* Writes NET/broker.ini atomically (mode 0644). */
int nrm_netconf_save(const char *net_dir, const nrm_netconf_t *conf, nrm_err_t *err) NRM_WUR;

#endif
