/*  nrm_store -- one LMDB environment per process, with named databases,
    map growth handled in one place, and write transactions that retry after
    growing the map.

    LMDB gives ACID with fsync at commit (we never set MDB_NOSYNC): when
    nrm_store_write returns 0, the transaction is durable. */
#ifndef NRM_STORE_H_INCLUDED
#define NRM_STORE_H_INCLUDED
#include "nrm.h"
#include <lmdb.h>

typedef struct nrm_store_t nrm_store_t;

enum { NRM_STORE_RDONLY = 1 };

/* Opens (creating if writable) the environment in folder dir (which must
   exist) with the named databases. NULL-terminated names. */
int nrm_store_open(const char *dir, const char *const *names, int flags,
                   nrm_store_t **out, nrm_err_t *err) NRM_WUR;
void nrm_store_destroy(nrm_store_t **self_p);

/* dbi of a database named at open; asserts the name is known (programmer
   error otherwise). */
MDB_dbi nrm_store_dbi(const nrm_store_t *self, const char *name);
/* Grows the map beyond this many bytes at most (default 64 GiB). */
void nrm_store_set_max_map(nrm_store_t *self, size_t max_bytes);

/* The id of the newest transaction whose meta page is written, read from
   the map without a system call or a transaction. It moves on as soon as
   a writer (of any process) has written its meta page; a read transaction
   begun at that moment may still see the transaction before, since LMDB
   publishes a commit to new readers only after that write has returned
   (durable). So "the store has a commit newer than what I read" is
   last_txn > the id of my last read transaction (mdb_txn_id). */
uint64_t nrm_store_last_txn(nrm_store_t *self);

/* Read transaction. */
int nrm_store_read_begin(nrm_store_t *self, MDB_txn **txn, nrm_err_t *err) NRM_WUR;
void nrm_store_read_end(MDB_txn **txn);

/* Runs fn inside one write transaction and commits it durably. When the map
   fills, the transaction is aborted, the map grown and fn run again from the
   start, so fn must not keep side effects outside the transaction until it
   returns 0 (write them into ctx and act on them after nrm_store_write
   returns). fn returns 0 or an NRM_E code; a failure aborts. Returns
   NRM_EFULL when the map cannot grow (disk full or max reached). */
typedef int (nrm_store_fn)(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err);
int nrm_store_write(nrm_store_t *self, nrm_store_fn *fn, void *ctx, nrm_err_t *err) NRM_WUR;

/* Helpers that map LMDB codes to NRM codes (MDB_MAP_FULL -> NRM_EFULL,
   MDB_NOTFOUND -> NRM_ENOTFOUND, MDB_KEYEXIST -> NRM_EEXIST). */
int nrm_store_get(nrm_store_t *self, MDB_txn *txn, const char *db,
                  const void *key, size_t klen, MDB_val *val, nrm_err_t *err) NRM_WUR;
int nrm_store_put(nrm_store_t *self, MDB_txn *txn, const char *db,
                  const void *key, size_t klen, const void *val, size_t vlen,
                  unsigned flags, nrm_err_t *err) NRM_WUR;
int nrm_store_del(nrm_store_t *self, MDB_txn *txn, const char *db,
                  const void *key, size_t klen, nrm_err_t *err) NRM_WUR;
int nrm_store_lmdb_error(int rc, const char *what, nrm_err_t *err);

/* Big-endian u64 keys sort numerically. */
void nrm_be64_put(uint8_t out[8], uint64_t v);
uint64_t nrm_be64_get(const uint8_t in[8]);

/* Counters for the group-commit evidence (writes committed, retries). */
uint64_t nrm_store_commits(const nrm_store_t *self);

#endif
