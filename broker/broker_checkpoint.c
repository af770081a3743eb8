/*  broker_checkpoint -- when the broker signs a checkpoint, and the
    Checkpoint message it sends to agents (docs/protocol.md). Both run inside
    a transaction of the caller: a checkpoint is appended in the batch's
    write transaction, so it is durable before any agent sees it. */
#include "broker.h"
#include "nrm_auditlog.h"
#include "nrm_checkpoint.h"
#include "nrm_codec.h"
#include "nrm_log.h"
#include "nrm_merkle.h"
#include <stdlib.h>
#include <string.h>

int
broker_checkpoint_due(nrm_store_t *store, MDB_txn *txn, const broker_config_t *cfg,
                      uint64_t last_ms, uint64_t now_ms, bool *due, nrm_err_t *err)
{
    uint64_t tip, ckpt;
    uint8_t leaf[NRM_HASH_BYTES];
    *due = false;
    int rc = nrm_auditlog_tip(store, txn, &tip, leaf, err);
    if (rc == 0)
        rc = nrm_auditlog_checkpoint(store, txn, &ckpt, err);
    if (rc)
        return rc;
    /* Records after the last checkpoint (the checkpoint record itself is
       covered by the next one, so a log ending in one has nothing new). */
    uint64_t fresh = tip - ckpt;
    *due = fresh > 0 && (fresh >= cfg->checkpoint_records
                         || now_ms - last_ms >= cfg->checkpoint_seconds * 1000);
    return 0;
}

int
broker_checkpoint_maybe(nrm_store_t *store, MDB_txn *txn, const nrm_keys_t *keys,
                        const broker_config_t *cfg, uint64_t last_ms, uint64_t now_ms,
                        bool *made, nrm_err_t *err)
{
    uint64_t tip, seq;
    uint8_t leaf[NRM_HASH_BYTES];
    bool due;
    *made = false;
    int rc = broker_checkpoint_due(store, txn, cfg, last_ms, now_ms, &due, err);
    if (rc || !due)
        return rc;
    if ((rc = nrm_auditlog_tip(store, txn, &tip, leaf, err)))
        return rc;
    rc = nrm_auditlog_append_checkpoint(store, txn, keys, cfg->network, now_ms, &seq, err);
    if (rc)
        return rc;
    nrm_debug("checkpoint of %llu records signed (record %llu)", (unsigned long long) tip,
              (unsigned long long) seq);
    *made = true;
    return 0;
}

int
broker_checkpoint_frame(nrm_store_t *store, MDB_txn *txn, uint64_t old_size, uint8_t **out,
                        size_t *len, uint64_t *size, nrm_err_t *err)
{
    uint64_t ckpt;
    nrm_bytes_t bytes;
    nrm_record_t rec;
    nrm_checkpoint_t c;
    nrm_hash_t path[NRM_MERKLE_PATH_MAX];
    nrm_bytes_t views[NRM_MERKLE_PATH_MAX];
    size_t n = 0;
    *out = NULL;
    *len = 0;
    int rc = nrm_auditlog_checkpoint(store, txn, &ckpt, err);
    if (rc)
        return rc;
    if (ckpt == 0)
        return nrm_err_set(err, NRM_ENOTFOUND, "no checkpoint yet");
    if ((rc = nrm_auditlog_get(store, txn, ckpt, &bytes, err))
        || (rc = nrm_record_decode(bytes.data, bytes.len, &rec, err)))
        return rc;
    rc = nrm_checkpoint_parse(rec.subject, rec.subject_len, &c, err);
    /* An agent that trusts a larger tree than ours gets no proof: it will
       see that the log was rolled back. */
    if (rc == 0 && old_size <= c.size)
        rc = nrm_logtree_consistency(store, txn, old_size, c.size, path, &n, err);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            views[i].data = path[i];
            views[i].len = NRM_HASH_BYTES;
        }
        nrm_wire_t w = { .kind = NRM_WIRE_CHECKPOINT, .old_size = old_size, .proof_count = n,
                         .proof = views };
        w.note.data = rec.subject;
        w.note.len = rec.subject_len;
        rc = nrm_wire_encode(&w, out, len, err);
        *size = c.size;
    }
    nrm_record_clear(&rec);
    return rc;
}
