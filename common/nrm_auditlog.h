/*  nrm_auditlog -- the append-only, hash-chained audit log in LMDB.

    Database "log": key = sequence number (big-endian u64, from 1, appended
    with MDB_APPEND), value = exact Record bytes. Each record's prev_hash is
    the RFC 6962 leaf hash SHA-256(0x00 || bytes) of the record before it
    (32 zero bytes for record 1). Database "logmeta" keeps the tip so that the
    last record is covered too. The tip is re-read inside every write
    transaction, so the broker and an offline nrm-admin can both append.

    Database "merkle" keeps the RFC 6962 tree over the log incrementally, in
    the same write transaction as each append: key = leaf index (seq - 1,
    big-endian u64, MDB_APPEND), value = the record's leaf hash followed by
    the hashes of the perfect subtrees of 2^l leaves, l >= NRM_LOGTREE_LEVEL,
    that this leaf completes (lowest level first). Subtrees below that level
    are recomputed from at most 2^(level-1) leaf hashes. A proof or a root for
    any tree size then costs O(log n) reads, never a pass over the log. */
#ifndef NRM_AUDITLOG_H_INCLUDED
#define NRM_AUDITLOG_H_INCLUDED
#include "nrm_store.h"
#include "nrm_codec.h"
#include "nrm_crypto.h"

/* Database names the log needs in the store. */
#define NRM_AUDITLOG_DBS "log", "logmeta", "merkle"

/* Lowest subtree level stored in "merkle" (docs/audit-log.md). */
#define NRM_LOGTREE_LEVEL 4

/* Appends rec (its seq and prev_hash are filled in here) inside txn.
   Outputs the new seq and the record's leaf hash. */
int nrm_auditlog_append(nrm_store_t *store, MDB_txn *txn, nrm_record_t *rec,
                        uint64_t *seq, uint8_t leaf[NRM_HASH_BYTES],
                        nrm_err_t *err) NRM_WUR;
/* Last seq (0 when empty) and its leaf hash (zeros when empty). */
int nrm_auditlog_tip(nrm_store_t *store, MDB_txn *txn, uint64_t *seq,
                     uint8_t leaf[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;
/* Borrowed bytes of one record, valid until txn ends. */
int nrm_auditlog_get(nrm_store_t *store, MDB_txn *txn, uint64_t seq,
                     nrm_bytes_t *bytes, nrm_err_t *err) NRM_WUR;

/* Stores exact record bytes under key_seq, as found in an export, without
   decoding or relinking them (so a verifier sees what the exporter saw):
   key_seq must be above the last key; the tree gets the next leaf, the tip
   becomes (key_seq, leaf hash), and a record that decodes as a CHECKPOINT
   moves the checkpoint pointer. For `nrm-audit import` into a fresh
   folder only; the broker never calls it. */
int nrm_auditlog_import(nrm_store_t *store, MDB_txn *txn, uint64_t key_seq,
                        const uint8_t *bytes, size_t len, nrm_err_t *err) NRM_WUR;

/* Seq of the latest CHECKPOINT record (0 when there is none); it covers
   the tree of the ckpt_seq - 1 records before it. */
int nrm_auditlog_checkpoint(nrm_store_t *store, MDB_txn *txn, uint64_t *ckpt_seq,
                            nrm_err_t *err) NRM_WUR;

/* Appends a CHECKPOINT record (actor "broker") whose subject is the signed
   note (nrm_checkpoint.h) of the tree of every record before it, signed
   with keys under origin "nrmbus/<network>". Outputs its seq. Only the
   broker holds the key. */
int nrm_auditlog_append_checkpoint(nrm_store_t *store, MDB_txn *txn, const nrm_keys_t *keys,
                                   const char *network, uint64_t time_ms, uint64_t *seq,
                                   nrm_err_t *err) NRM_WUR;

/* What the broker checks of the log at start-up (nrm_loghead.c), reading
   a few records and O(log n) tree entries, never the whole log:
   - the tip: the last key of "log" is the tip's seq, the last record hashes
     to the tip's leaf hash, says its own seq, and links (prev_hash) to the
     leaf hash of the record before it;
   - the tree: at most as many leaves as records, and when it is complete
     its last leaf is the tip's leaf hash (a tree behind the log, as in a
     log written before the tree existed, is built at the first append);
   - the latest checkpoint: a CHECKPOINT record, signed with broker_pk under
     "nrmbus/<network>", for the tree of exactly the records before it, and
     the stored tree of that size has the root it signs.
   Fills out; NRM_ECORRUPT with the reason in err when a check fails. */
typedef struct {
    uint64_t records;            /* tip seq                              */
    uint64_t tree_size;          /* leaves in "merkle"                   */
    uint64_t ckpt_seq, ckpt_size;/* latest checkpoint, 0 when none       */
    bool     ckpt_root_ok;       /* its root was compared with the tree  */
} nrm_loghead_t;
int nrm_auditlog_head_check(nrm_store_t *store, MDB_txn *txn, const uint8_t broker_pk[NRM_PK_BYTES],
                            const char *network, nrm_loghead_t *out, nrm_err_t *err) NRM_WUR;

/* ---- the Merkle tree over the log (nrm_logtree.c) ---- */

/* Appends the leaf of index (= seq - 1) to "merkle"; the entries of every
   earlier leaf must be there. Called by nrm_auditlog_append. */
int nrm_logtree_append(nrm_store_t *store, MDB_txn *txn, uint64_t index,
                       const uint8_t leaf[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;
/* Number of leaves in "merkle". */
int nrm_logtree_size(nrm_store_t *store, MDB_txn *txn, uint64_t *size, nrm_err_t *err) NRM_WUR;
/* Raw entry of one leaf (borrowed until txn ends), for the verifier. */
int nrm_logtree_entry(nrm_store_t *store, MDB_txn *txn, uint64_t index, nrm_bytes_t *val,
                      nrm_err_t *err) NRM_WUR;
/* Root of the tree of the first size records (size <= leaves stored). */
int nrm_logtree_root(nrm_store_t *store, MDB_txn *txn, uint64_t size,
                     uint8_t root[NRM_HASH_BYTES], nrm_err_t *err) NRM_WUR;
/* Inclusion path of record seq in the tree of size records, and
   consistency path between two sizes (nrm_merkle.h). path holds
   NRM_MERKLE_PATH_MAX hashes. */
int nrm_logtree_inclusion(nrm_store_t *store, MDB_txn *txn, uint64_t seq, uint64_t size,
                          uint8_t (*path)[NRM_HASH_BYTES], size_t *len, nrm_err_t *err) NRM_WUR;
int nrm_logtree_consistency(nrm_store_t *store, MDB_txn *txn, uint64_t old_size,
                            uint64_t new_size, uint8_t (*path)[NRM_HASH_BYTES], size_t *len,
                            nrm_err_t *err) NRM_WUR;

/* Walks records from seq `from` (1 = all) in order, calling fn with the raw
   bytes and the decoded record. fn returns 0 to go on, >0 to stop early,
   <0 as an error. A record that does not decode is passed with rec == NULL
   and its decode error in err, so verifiers can report it. */
typedef int (nrm_auditlog_fn)(void *ctx, uint64_t key_seq, nrm_bytes_t bytes,
                              const nrm_record_t *rec, nrm_err_t *err);
int nrm_auditlog_each(nrm_store_t *store, MDB_txn *txn, uint64_t from,
                      nrm_auditlog_fn *fn, void *ctx, nrm_err_t *err) NRM_WUR;

/* Full verification: sequence continuity, chain links, tip, record
   decoding, genesis, registry replay (every certificate against the
   administrator key), every envelope and acknowledgement signature against
   the key enrolled at that moment, referenced records, each message
   acknowledged at most once and its id used once, the Merkle tree rebuilt
   from the records and compared with the stored one entry by entry, and
   every CHECKPOINT: signed by the broker's key from GENESIS, for the tree of
   exactly the records before it, with that tree's root.
   Signature checks run on opts->threads worker threads (nrm_sigpool); the
   result is the same as a sequential pass: the first bad record.
   Returns 0 if the whole log verifies. Otherwise NRM_ECORRUPT,
   res->bad_seq the first bad sequence number (0 for a failure not tied to
   a record) and err->msg what is wrong. progress (may be NULL) is called
   from the calling thread every 4096 records. */
typedef void (nrm_progress_fn)(void *ctx, uint64_t done, uint64_t total);
typedef struct {
    unsigned         threads;     /* signature workers; 0 = calling thread */
    nrm_progress_fn *progress;
    void            *pctx;
    /* A checkpoint kept outside the broker (by an agent, an auditor), or
       NULL: it must verify with the broker key of GENESIS and the log must
       hold its tree, so a log truncated and rewritten after it fails. */
    const uint8_t   *trusted_note;
    size_t           trusted_len;
} nrm_verify_opts_t;
typedef struct {
    uint64_t count;               /* records checked                       */
    uint64_t bad_seq;
    uint64_t checkpoints;         /* CHECKPOINT records verified           */
    uint64_t checkpoint_size;     /* tree size the last of them covers     */
    uint64_t signatures;          /* envelope, acknowledgement and checkpoint
                                     signatures verified (registry records'
                                     are checked by the replay)            */
    uint64_t undelivered;         /* ACCEPTED messages not acknowledged    */
    uint8_t  root[NRM_HASH_BYTES];/* root of the tree of all records       */
} nrm_verify_result_t;
int nrm_auditlog_verify(nrm_store_t *store, const nrm_verify_opts_t *opts,
                        nrm_verify_result_t *res, nrm_err_t *err) NRM_WUR;

#endif
