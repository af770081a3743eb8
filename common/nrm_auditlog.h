/*  nrm_auditlog -- the append-only, hash-chained audit log in LMDB.

    Database "log": key = sequence number (big-endian u64, from 1, appended
    with MDB_APPEND), value = exact Record bytes. Each record's prev_hash is
    the RFC 6962 leaf hash SHA-256(0x00 || bytes) of the record before it
    (32 zero bytes for record 1). Database "logmeta" keeps the tip so that the
    last record is covered too. The tip is re-read inside every write
    transaction, so the broker and an offline nrm-admin can both append. */
#ifndef NRM_AUDITLOG_H_INCLUDED
#define NRM_AUDITLOG_H_INCLUDED
#include "nrm_store.h"
#include "nrm_codec.h"

/* Database names the log needs in the store. */
#define NRM_AUDITLOG_DBS "log", "logmeta"

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
   the key enrolled at that moment, body hashes and referenced records.
   Returns 0 if the whole log verifies. Otherwise NRM_ECORRUPT, *bad_seq the
   first bad sequence number and err->msg what is wrong. *count is the
   number of records checked. progress (may be NULL) is called every 4096
   records with the count so far. */
typedef void (nrm_progress_fn)(void *ctx, uint64_t done, uint64_t total);
int nrm_auditlog_verify(nrm_store_t *store, uint64_t *count, uint64_t *bad_seq,
                        nrm_progress_fn *progress, void *pctx,
                        nrm_err_t *err) NRM_WUR;

#endif
