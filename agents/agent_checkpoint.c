/*  agent_checkpoint -- trusted checkpoint and alarms in the agent's store. */
#include "agent_checkpoint.h"
#include "nrm_merkle.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_TRUSTED "trusted"

int
agent_ckpt_trusted(nrm_store_t *store, MDB_txn *txn, nrm_bytes_t *note, uint64_t *received_ms,
                   nrm_err_t *err)
{
    MDB_val v;
    int rc = nrm_store_get(store, txn, "ckpt", S_TRUSTED, strlen(S_TRUSTED), &v, err);
    if (rc)
        return rc;
    if (v.mv_size <= 8)
        return nrm_err_set(err, NRM_ECORRUPT, "trusted checkpoint entry of %zu bytes", v.mv_size);
    *received_ms = nrm_be64_get(v.mv_data);
    note->data = (const uint8_t *) v.mv_data + 8;
    note->len = v.mv_size - 8;
    return 0;
}

static int
s_trust(nrm_store_t *store, MDB_txn *txn, const nrm_wire_t *w, uint64_t now_ms, nrm_err_t *err)
{
    uint8_t *val = malloc(8 + w->note.len);
    if (!val)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    nrm_be64_put(val, now_ms);
    memcpy(val + 8, w->note.data, w->note.len);
    int rc = nrm_store_put(store, txn, "ckpt", S_TRUSTED, strlen(S_TRUSTED), val,
                           8 + w->note.len, 0, err);
    free(val);
    return rc;
}

static int
s_last_alarm(nrm_store_t *store, MDB_txn *txn, uint64_t *last, nrm_err_t *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    *last = 0;
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "ckptalarm"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "ckptalarm cursor", err);
    mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (mrc == 0 && k.mv_size == 8)
        *last = nrm_be64_get(k.mv_data);
    else if (mrc != MDB_NOTFOUND && mrc != 0)
        return nrm_store_lmdb_error(mrc, "ckptalarm last", err);
    return 0;
}

static int
s_alarm(nrm_store_t *store, MDB_txn *txn, const agent_ckpt_result_t *r, const nrm_wire_t *w,
        uint64_t now_ms, nrm_err_t *err)
{
    uint64_t last;
    uint8_t key[8];
    int rc = s_last_alarm(store, txn, &last, err);
    if (rc || last >= AGENT_CKPT_ALARMS_MAX)
        return rc;
    size_t rlen = strlen(r->why), len = 8 + 4 + rlen + w->note.len;
    uint8_t *val = malloc(len);
    if (!val)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    nrm_be64_put(val, now_ms);
    val[8] = (uint8_t) (rlen >> 24);
    val[9] = (uint8_t) (rlen >> 16);
    val[10] = (uint8_t) (rlen >> 8);
    val[11] = (uint8_t) rlen;
    memcpy(val + 12, r->why, rlen);
    memcpy(val + 12 + rlen, w->note.data, w->note.len);
    nrm_be64_put(key, last + 1);
    rc = nrm_store_put(store, txn, "ckptalarm", key, 8, val, len, MDB_APPEND, err);
    free(val);
    return rc;
}

/* The decision, without touching the store. */
static void
s_decide(const uint8_t broker_pk[NRM_PK_BYTES], const char *origin, const nrm_wire_t *w,
         const nrm_checkpoint_t *trusted, agent_ckpt_result_t *r)
{
    nrm_err_t why = { 0, 0, "" };
    if (nrm_checkpoint_open(w->note.data, w->note.len, broker_pk, origin, &r->fresh, &why) != 0) {
        r->outcome = AGENT_CKPT_BAD;
        snprintf(r->why, sizeof r->why, "checkpoint refused: %.300s", why.msg);
        return;
    }
    if (!trusted) {
        r->outcome = AGENT_CKPT_ACCEPTED;
        return;
    }
    if (r->fresh.size < trusted->size) {
        r->outcome = AGENT_CKPT_INCONSISTENT;
        snprintf(r->why, sizeof r->why, "the broker's latest checkpoint (%llu records) is older "
                 "than the one trusted (%llu records): the log was rolled back",
                 (unsigned long long) r->fresh.size, (unsigned long long) trusted->size);
        return;
    }
    if (r->fresh.size == trusted->size) {
        bool same = memcmp(r->fresh.root, trusted->root, NRM_HASH_BYTES) == 0;
        r->outcome = same ? AGENT_CKPT_SAME : AGENT_CKPT_INCONSISTENT;
        if (!same)
            snprintf(r->why, sizeof r->why, "two signed checkpoints of %llu records with "
                     "different roots: the log was forked", (unsigned long long) trusted->size);
        return;
    }
    if (w->old_size != trusted->size) {
        r->outcome = AGENT_CKPT_NEED_PROOF;
        return;
    }
    nrm_hash_t path[NRM_MERKLE_PATH_MAX];
    for (size_t i = 0; i < w->proof_count && i < NRM_MERKLE_PATH_MAX; i++)
        memcpy(path[i], w->proof[i].data, NRM_HASH_BYTES);
    if (nrm_merkle_consistency_verify(trusted->size, r->fresh.size, trusted->root, r->fresh.root,
                                      path, w->proof_count, &why) != 0) {
        r->outcome = AGENT_CKPT_INCONSISTENT;
        snprintf(r->why, sizeof r->why, "the checkpoint of %llu records does not extend the "
                 "trusted one of %llu records (%.200s): the log was forked or rewritten",
                 (unsigned long long) r->fresh.size, (unsigned long long) trusted->size, why.msg);
        return;
    }
    r->outcome = AGENT_CKPT_ACCEPTED;
}

int
agent_ckpt_judge(nrm_store_t *store, MDB_txn *txn, const uint8_t broker_pk[NRM_PK_BYTES],
                 const char *network, const nrm_wire_t *w, uint64_t now_ms,
                 agent_ckpt_result_t *r, nrm_err_t *err)
{
    char origin[NRM_CHECKPOINT_ORIGIN_MAX + 1];
    nrm_checkpoint_t trusted;
    nrm_bytes_t note = { NULL, 0 };
    uint64_t received;
    bool have = false;
    memset(r, 0, sizeof *r);
    nrm_checkpoint_origin(network, origin);
    int rc = agent_ckpt_trusted(store, txn, &note, &received, err);
    if (rc == 0) {
        /* Our own store: it was verified when it was accepted. */
        if ((rc = nrm_checkpoint_open(note.data, note.len, broker_pk, origin, &trusted, err)))
            return rc;
        have = true;
        r->trusted_size = trusted.size;
    } else if (rc != NRM_ENOTFOUND) {
        return rc;
    }
    s_decide(broker_pk, origin, w, have ? &trusted : NULL, r);
    switch (r->outcome) {
    case AGENT_CKPT_ACCEPTED:
        return s_trust(store, txn, w, now_ms, err);
    case AGENT_CKPT_INCONSISTENT:
    case AGENT_CKPT_BAD:
        return s_alarm(store, txn, r, w, now_ms, err);
    default:
        return 0;
    }
}

int
agent_ckpt_alarms(nrm_store_t *store, MDB_txn *txn, agent_ckpt_alarm_fn *fn, void *ctx,
                  uint64_t *count, nrm_err_t *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    *count = 0;
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "ckptalarm"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "ckptalarm cursor", err);
    int rc = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *p = v.mv_data;
        if (v.mv_size < 12) {
            rc = nrm_err_set(err, NRM_ECORRUPT, "checkpoint alarm of %zu bytes", v.mv_size);
            break;
        }
        size_t rlen = (size_t) p[8] << 24 | (size_t) p[9] << 16 | (size_t) p[10] << 8 | p[11];
        if (rlen > v.mv_size - 12 || rlen > 1000) {
            rc = nrm_err_set(err, NRM_ECORRUPT, "checkpoint alarm with a bad length");
            break;
        }
        char reason[1001];
        memcpy(reason, p + 12, rlen);
        reason[rlen] = '\0';
        nrm_bytes_t note = { p + 12 + rlen, v.mv_size - 12 - rlen };
        (*count)++;
        if (fn)
            rc = fn(ctx, nrm_be64_get(p), reason, note);
    }
    mdb_cursor_close(cur);
    if (rc == 0 && mrc != MDB_NOTFOUND && mrc != 0)
        rc = nrm_store_lmdb_error(mrc, "ckptalarm walk", err);
    return rc;
}
