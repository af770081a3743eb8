/*  nrm-loggen -- fills a network's audit log for benchmarks: on a network
    made by the real tools (nrm-admin init, nrm-agent keygen of "police" and
    "msdhs", nrm-admin enroll), with the broker stopped, it appends records
    up to N of referrals from police to msdhs accepted and delivered, each
    signed for real with the organisations' keys, and a broker checkpoint
    every 1000 records signed with NET/broker.key, through the same
    nrm_auditlog_append as the broker (chain, Merkle tree, checkpoints), in
    write transactions of 20,000 records.

    usage: nrm-loggen --dir NET --police ORG --msdhs ORG --records N
    Not part of an installation: a tool for docs/performance.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nrm_auditlog.h"
#include "nrm_crypto.h"
#include "nrm_netconf.h"
#include "nrm_registry.h"
#include "nrm_util.h"

#define S_TXN_RECORDS 20000
#define S_CKPT_EVERY  1000

typedef struct {
    nrm_keys_t *broker, *police, *msdhs;
    char        network[NRM_ID_MAX + 1];
    uint64_t    target;
} s_gen_t;

static int
s_append(nrm_store_t *store, MDB_txn *txn, nrm_record_t *rec, uint64_t *seq, nrm_err_t *err)
{
    uint8_t leaf[NRM_HASH_BYTES];
    rec->time_ms = nrm_now_ms();
    return nrm_auditlog_append(store, txn, rec, seq, leaf, err);
}

/* One referral accepted and delivered: two records. */
static int
s_pair(s_gen_t *g, nrm_store_t *store, MDB_txn *txn, uint64_t n, nrm_err_t *err)
{
    nrm_envelope_t e;
    nrm_ack_t a;
    nrm_record_t rec;
    uint8_t *body = NULL;
    size_t len = 0;
    uint64_t accepted, seq;
    memset(&e, 0, sizeof e);
    e.version = 1;
    nrm_random(e.msg_id, 16);
    snprintf(e.type, sizeof e.type, "referral");
    snprintf(e.sender, sizeof e.sender, "police");
    snprintf(e.recipient, sizeof e.recipient, "msdhs");
    snprintf(e.case_ref, sizeof e.case_ref, "case-%llu", (unsigned long long) (n / 7));
    e.created_ms = nrm_now_ms();
    e.priority = (uint32_t) (n % 4);
    e.response_due_ms = e.created_ms + 3600000;   /* within every priority's deadline */
    nrm_random(e.body_hash, 32);
    e.body_size = 3000;
    int rc = nrm_envelope_encode(&e, &body, &len, err);
    if (rc)
        return rc;
    memset(&rec, 0, sizeof rec);
    rec.kind = NRM_REC_ACCEPTED;
    snprintf(rec.actor, sizeof rec.actor, "police");
    rec.subject = body;
    rec.subject_len = len;
    rec.has_signature = rec.has_msg_id = true;
    memcpy(rec.msg_id, e.msg_id, 16);
    rc = nrm_sign(g->police, NRM_CTX_ENVELOPE, body, len, rec.signature);
    if (rc == 0)
        rc = s_append(store, txn, &rec, &accepted, err);
    free(body);
    if (rc)
        return rc;
    memset(&a, 0, sizeof a);
    memcpy(a.msg_id, e.msg_id, 16);
    snprintf(a.recipient, sizeof a.recipient, "msdhs");
    a.accepted_seq = accepted;
    memcpy(a.body_hash, e.body_hash, 32);
    a.time_ms = nrm_now_ms();
    if ((rc = nrm_ack_encode(&a, &body, &len, err)))
        return rc;
    memset(&rec, 0, sizeof rec);
    rec.kind = NRM_REC_DELIVERED;
    snprintf(rec.actor, sizeof rec.actor, "msdhs");
    rec.subject = body;
    rec.subject_len = len;
    rec.has_signature = rec.has_msg_id = true;
    rec.refers_to = accepted;
    memcpy(rec.msg_id, e.msg_id, 16);
    rc = nrm_sign(g->msdhs, NRM_CTX_ACK, body, len, rec.signature);
    if (rc == 0)
        rc = s_append(store, txn, &rec, &seq, err);
    free(body);
    return rc;
}

static int
s_chunk_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_gen_t *g = ctx;
    uint64_t tip, ckpt, seq;
    uint8_t leaf[NRM_HASH_BYTES];
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < S_TXN_RECORDS / 2; i++) {
        if ((rc = nrm_auditlog_tip(store, txn, &tip, leaf, err)))
            break;
        if (tip >= g->target)
            break;
        rc = s_pair(g, store, txn, tip, err);
        if (rc == 0)
            rc = nrm_auditlog_checkpoint(store, txn, &ckpt, err);
        if (rc == 0 && tip + 2 - ckpt >= S_CKPT_EVERY)
            rc = nrm_auditlog_append_checkpoint(store, txn, g->broker, g->network, nrm_now_ms(),
                                                &seq, err);
    }
    return rc;
}

static int
s_load(const char *dir, const char *file, nrm_keys_t **keys, nrm_err_t *err)
{
    char path[4096];
    if (nrm_path(path, sizeof path, "%s/%s", dir, file) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "path too long");
    return nrm_keys_load(path, keys, err);
}

int
main(int argc, char **argv)
{
    static const char *const dbs[] = { NRM_BROKER_DBS, NULL };
    const char *dir = NULL, *police = NULL, *msdhs = NULL;
    uint64_t n = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--police") == 0)
            police = argv[i + 1];
        else if (strcmp(argv[i], "--msdhs") == 0)
            msdhs = argv[i + 1];
        else if (strcmp(argv[i], "--records") == 0)
            n = strtoull(argv[i + 1], NULL, 10);
    }
    if (!dir || !police || !msdhs || n < 10 || n > 1000000000ull) {
        fprintf(stderr, "usage: nrm-loggen --dir NET --police ORG --msdhs ORG --records N "
                "(N from 10 to 10^9)\n");
        return 2;
    }
    char path[4096];
    nrm_err_t err = { 0, 0, "" };
    nrm_store_t *store = NULL;
    nrm_netconf_t conf;
    s_gen_t g = { NULL, NULL, NULL, "", n };
    int code = 1;
    if (nrm_crypto_init() != 0)
        return 1;
    if (nrm_netconf_load(dir, &conf, &err) != 0 || s_load(dir, "broker.key", &g.broker, &err) != 0
        || s_load(police, "secret.keys", &g.police, &err) != 0
        || s_load(msdhs, "secret.keys", &g.msdhs, &err) != 0)
        goto out;
    snprintf(g.network, sizeof g.network, "%s", conf.network);
    if (nrm_path(path, sizeof path, "%s/data", dir) != 0
        || nrm_store_open(path, dbs, 0, &store, &err) != 0)
        goto out;
    uint64_t start = nrm_now_ms(), last = 0;
    for (;;) {
        MDB_txn *txn = NULL;
        uint64_t tip = 0;
        uint8_t leaf[NRM_HASH_BYTES];
        if (nrm_store_write(store, s_chunk_fn, &g, &err) != 0
            || nrm_store_read_begin(store, &txn, &err) != 0
            || nrm_auditlog_tip(store, txn, &tip, leaf, &err) != 0) {
            nrm_store_read_end(&txn);
            goto out;
        }
        nrm_store_read_end(&txn);
        if (tip / 1000000 != last / 1000000)
            fprintf(stderr, "%llu records, %.0f records/s\n", (unsigned long long) tip,
                    (double) tip * 1000.0 / (double) (nrm_now_ms() - start + 1));
        last = tip;
        if (tip >= n)
            break;
    }
    fprintf(stderr, "wrote records up to %llu in %.1f s\n", (unsigned long long) last,
            (double) (nrm_now_ms() - start) / 1000.0);
    code = 0;
out:
    if (code)
        fprintf(stderr, "nrm-loggen: %s\n", err.msg);
    nrm_store_destroy(&store);
    nrm_keys_destroy(&g.broker);
    nrm_keys_destroy(&g.police);
    nrm_keys_destroy(&g.msdhs);
    return code;
}
