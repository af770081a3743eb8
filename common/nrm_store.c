/*  nrm_store -- one LMDB environment, named databases, map growth in one
    place (nrm_store_write), error mapping.

    The map starts at 256 MiB (sparse) and doubles when a write transaction
    meets MDB_MAP_FULL, up to max_map. Another process (nrm-admin on the
    broker's folder, nrm-agent send on an agent's) may grow it too: LMDB then
    answers MDB_MAP_RESIZED at begin, and we adopt the new size. */
#include "nrm_store.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAX_DBS     32
#define STORE_INITIAL_MAP ((size_t) 256 << 20)
#define STORE_MAX_MAP     ((size_t) 64 << 30)
#define STORE_WRITE_TRIES 8

struct nrm_store_t {
    MDB_env *env;
    int flags;
    int ndbs;
    const char *names[STORE_MAX_DBS];     /* borrowed: string literals */
    MDB_dbi dbis[STORE_MAX_DBS];
    size_t max_map;
    uint64_t commits;
};

int
nrm_store_lmdb_error(int rc, const char *what, nrm_err_t *err)
{
    switch (rc) {
    case MDB_NOTFOUND:
        return nrm_err_set(err, NRM_ENOTFOUND, "%s: not found", what);
    case MDB_KEYEXIST:
        return nrm_err_set(err, NRM_EEXIST, "%s: already exists", what);
    case MDB_MAP_FULL:
        return nrm_err_set(err, NRM_EFULL, "%s: store map full", what);
    case ENOSPC:
        return nrm_err_set(err, NRM_EFULL, "%s: disk full", what);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return nrm_err_set(err, NRM_ECORRUPT, "%s: %s", what, mdb_strerror(rc));
    default:
        return nrm_err_set(err, NRM_ESTORE, "%s: %s", what, mdb_strerror(rc));
    }
}

int
nrm_store_open(const char *dir, const char *const *names, int flags,
               nrm_store_t **out, nrm_err_t *err)
{
    int rc = 0, mrc;
    MDB_txn *txn = NULL;
    nrm_store_t *self = calloc(1, sizeof *self);
    *out = NULL;
    if (!self)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    self->flags = flags;
    self->max_map = STORE_MAX_MAP;
    for (; names[self->ndbs]; self->ndbs++) {
        assert(self->ndbs < STORE_MAX_DBS);
        self->names[self->ndbs] = names[self->ndbs];
    }
    bool rdonly = flags & NRM_STORE_RDONLY;
    if ((mrc = mdb_env_create(&self->env)) != 0
        || (mrc = mdb_env_set_maxdbs(self->env, STORE_MAX_DBS)) != 0
        || (!rdonly && (mrc = mdb_env_set_mapsize(self->env, STORE_INITIAL_MAP)) != 0)) {
        rc = nrm_store_lmdb_error(mrc, dir, err);
        goto out;
    }
    mrc = mdb_env_open(self->env, dir, rdonly ? MDB_RDONLY : 0, 0600);
    if (mrc != 0) {
        rc = nrm_store_lmdb_error(mrc, dir, err);
        goto out;
    }
    mrc = mdb_txn_begin(self->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);
    if (mrc != 0) {
        rc = nrm_store_lmdb_error(mrc, dir, err);
        goto out;
    }
    for (int i = 0; i < self->ndbs; i++) {
        mrc = mdb_dbi_open(txn, self->names[i], rdonly ? 0 : MDB_CREATE, &self->dbis[i]);
        if (mrc != 0) {
            rc = mrc == MDB_NOTFOUND
                     ? nrm_err_set(err, NRM_ENOTFOUND, "%s: no database '%s' (not the right kind of store?)",
                                   dir, self->names[i])
                     : nrm_store_lmdb_error(mrc, dir, err);
            goto out;
        }
    }
    /* Committed even when read-only: LMDB discards database handles opened
       in a transaction that is aborted. */
    mrc = mdb_txn_commit(txn);
    txn = NULL;
    if (mrc != 0) {
        rc = nrm_store_lmdb_error(mrc, dir, err);
        goto out;
    }
    *out = self;
    self = NULL;
out:
    if (txn)
        mdb_txn_abort(txn);
    nrm_store_destroy(&self);
    return rc;
}

void
nrm_store_destroy(nrm_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    nrm_store_t *self = *self_p;
    if (self->env)
        mdb_env_close(self->env);
    free(self);
    *self_p = NULL;
}

MDB_dbi
nrm_store_dbi(const nrm_store_t *self, const char *name)
{
    for (int i = 0; i < self->ndbs; i++)
        if (strcmp(self->names[i], name) == 0)
            return self->dbis[i];
    assert(!"database name not opened");
    return 0;
}

void
nrm_store_set_max_map(nrm_store_t *self, size_t max_bytes)
{
    MDB_envinfo info;
    self->max_map = max_bytes;
    /* A limit under the initial map takes effect now: LMDB keeps the map
       at least as large as the data it holds. */
    if (!(self->flags & NRM_STORE_RDONLY) && mdb_env_info(self->env, &info) == 0
        && info.me_mapsize > max_bytes)
        (void) mdb_env_set_mapsize(self->env, max_bytes);
}

/* Begins a transaction, adopting a map grown by another process. */
static int
s_begin(nrm_store_t *self, unsigned flags, MDB_txn **txn, nrm_err_t *err)
{
    int mrc = mdb_txn_begin(self->env, NULL, flags, txn);
    if (mrc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(self->env, 0);
        mrc = mdb_txn_begin(self->env, NULL, flags, txn);
    }
    if (mrc != 0) {
        *txn = NULL;
        return nrm_store_lmdb_error(mrc, "begin transaction", err);
    }
    return 0;
}

uint64_t
nrm_store_last_txn(nrm_store_t *self)
{
    MDB_envinfo info;
    if (mdb_env_info(self->env, &info) != 0)
        return 0;
    return info.me_last_txnid;
}

int
nrm_store_read_begin(nrm_store_t *self, MDB_txn **txn, nrm_err_t *err)
{
    return s_begin(self, MDB_RDONLY, txn, err);
}

void
nrm_store_read_end(MDB_txn **txn)
{
    if (txn && *txn) {
        mdb_txn_abort(*txn);
        *txn = NULL;
    }
}

/* Doubles the map, within max_map. No transaction of ours may be open. */
static int
s_grow(nrm_store_t *self, nrm_err_t *err)
{
    MDB_envinfo info;
    mdb_env_info(self->env, &info);
    size_t next = info.me_mapsize * 2;
    if (info.me_mapsize >= self->max_map)
        return nrm_err_set(err, NRM_EFULL, "store map full at its limit of %zu MiB",
                           self->max_map >> 20);
    if (next > self->max_map)
        next = self->max_map;
    int mrc = mdb_env_set_mapsize(self->env, next);
    if (mrc != 0)
        return nrm_store_lmdb_error(mrc, "grow store map", err);
    return 0;
}

int
nrm_store_write(nrm_store_t *self, nrm_store_fn *fn, void *ctx, nrm_err_t *err)
{
    int rc = 0;
    for (int attempt = 0; attempt < STORE_WRITE_TRIES; attempt++) {
        MDB_txn *txn = NULL;
        rc = s_begin(self, 0, &txn, err);
        if (rc != 0)
            return rc;
        rc = fn(self, txn, ctx, err);
        if (rc == 0) {
            int mrc = mdb_txn_commit(txn);
            txn = NULL;
            if (mrc == 0) {
                self->commits++;
                return 0;
            }
            rc = nrm_store_lmdb_error(mrc, "commit", err);
            /* Only a full map is worth a retry; a full disk is reported. */
            if (mrc != MDB_MAP_FULL)
                return rc;
        } else {
            mdb_txn_abort(txn);
            if (rc != NRM_EFULL)
                return rc;
        }
        rc = s_grow(self, err);
        if (rc != 0)
            return rc;
    }
    return nrm_err_set(err, NRM_EFULL, "store still full after growing the map %d times",
                       STORE_WRITE_TRIES);
}

int
nrm_store_get(nrm_store_t *self, MDB_txn *txn, const char *db, const void *key,
              size_t klen, MDB_val *val, nrm_err_t *err)
{
    MDB_val k = { klen, (void *) key };
    int mrc = mdb_get(txn, nrm_store_dbi(self, db), &k, val);
    if (mrc == MDB_NOTFOUND)
        return NRM_ENOTFOUND;       /* an expected answer: no message */
    return mrc == 0 ? 0 : nrm_store_lmdb_error(mrc, db, err);
}

int
nrm_store_put(nrm_store_t *self, MDB_txn *txn, const char *db, const void *key,
              size_t klen, const void *val, size_t vlen, unsigned flags, nrm_err_t *err)
{
    MDB_val k = { klen, (void *) key }, v = { vlen, (void *) val };
    int mrc = mdb_put(txn, nrm_store_dbi(self, db), &k, &v, flags);
    return mrc == 0 ? 0 : nrm_store_lmdb_error(mrc, db, err);
}

int
nrm_store_del(nrm_store_t *self, MDB_txn *txn, const char *db, const void *key,
              size_t klen, nrm_err_t *err)
{
    MDB_val k = { klen, (void *) key };
    int mrc = mdb_del(txn, nrm_store_dbi(self, db), &k, NULL);
    if (mrc == MDB_NOTFOUND)
        return NRM_ENOTFOUND;
    return mrc == 0 ? 0 : nrm_store_lmdb_error(mrc, db, err);
}

void
nrm_be64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t) v;
        v >>= 8;
    }
}

uint64_t
nrm_be64_get(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

uint64_t
nrm_store_commits(const nrm_store_t *self)
{
    return self->commits;
}
