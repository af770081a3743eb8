/*  nrm_sigpool -- batches of signature checks verified by worker threads. */
#include "nrm_sigpool.h"
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WHAT_MAX 200

typedef struct {
    uint64_t seq;
    uint8_t  pk[NRM_PK_BYTES];
    bool     has_alt;
    uint8_t  alt_pk[NRM_PK_BYTES];
    uint8_t  sig[NRM_SIG_BYTES];
    size_t   off, len;           /* signed message in the batch arena */
    char     what[S_WHAT_MAX + 1];
} s_job_t;

typedef struct s_batch_t {
    s_job_t  jobs[NRM_SIGPOOL_BATCH];
    size_t   n;
    uint8_t *arena;
    size_t   used, cap;
    struct s_batch_t *next;      /* in the free list */
} s_batch_t;

/* Batch signatures queued lately (adding thread only): the same check is
   queued once. Direct-mapped on a byte of the root. */
#define S_SEEN 64
typedef struct {
    bool    used, has_alt;
    uint8_t pk[NRM_PK_BYTES], alt_pk[NRM_PK_BYTES];
    uint8_t msg[NRM_BATCH_SIGNED_BYTES];
    uint8_t sig[NRM_SIG_BYTES];
} s_seen_t;

struct nrm_sigpool_t {
    pthread_mutex_t mu;
    pthread_cond_t  more, idle;
    pthread_t       threads[NRM_SIGPOOL_THREADS];
    unsigned        nthreads;
    s_batch_t      *queue[NRM_SIGPOOL_QUEUE];
    size_t          head, count;    /* ring of full batches            */
    size_t          busy;           /* batches being verified          */
    bool            stop;
    s_batch_t      *cur;            /* being filled by the adding thread */
    s_batch_t      *free_list;
    uint64_t        failed;         /* lowest failed seq, 0 = none     */
    char            failed_what[S_WHAT_MAX + 1];
    uint64_t        done;
    s_seen_t        seen[S_SEEN];   /* touched by the adding thread only */
};

/* A batch's arena may grow to this before the batch is sent. */
#define S_ARENA_FLUSH ((size_t) 1 << 20)

/* Verifies a batch (no lock held), merges the lowest failure, and puts the
   batch on the free list. */
static void
s_run(nrm_sigpool_t *self, s_batch_t *b)
{
    uint64_t bad = 0;
    const char *what = "";
    for (size_t i = 0; i < b->n; i++) {
        s_job_t *j = &b->jobs[i];
        const uint8_t *m = b->arena + j->off;
        if (crypto_sign_verify_detached(j->sig, m, j->len, j->pk) != 0
            && (!j->has_alt || crypto_sign_verify_detached(j->sig, m, j->len, j->alt_pk) != 0)
            && (bad == 0 || j->seq < bad)) {
            bad = j->seq;
            what = j->what;
        }
    }
    pthread_mutex_lock(&self->mu);
    if (bad && (self->failed == 0 || bad < self->failed)) {
        self->failed = bad;
        snprintf(self->failed_what, sizeof self->failed_what, "%s", what);
    }
    self->done += b->n;
    b->n = 0;
    b->used = 0;
    b->next = self->free_list;
    self->free_list = b;
    pthread_mutex_unlock(&self->mu);
}

static void *
s_worker(void *arg)
{
    nrm_sigpool_t *self = arg;
    pthread_mutex_lock(&self->mu);
    for (;;) {
        while (self->count == 0 && !self->stop)
            pthread_cond_wait(&self->more, &self->mu);
        if (self->count == 0 && self->stop)
            break;
        s_batch_t *b = self->queue[self->head];
        self->head = (self->head + 1) % NRM_SIGPOOL_QUEUE;
        self->count--;
        self->busy++;
        pthread_mutex_unlock(&self->mu);
        s_run(self, b);
        pthread_mutex_lock(&self->mu);
        self->busy--;
        if (self->count == 0 && self->busy == 0)
            pthread_cond_broadcast(&self->idle);
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

nrm_sigpool_t *
nrm_sigpool_new(unsigned threads)
{
    nrm_sigpool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->more, NULL);
    pthread_cond_init(&self->idle, NULL);
    if (threads > NRM_SIGPOOL_THREADS)
        threads = NRM_SIGPOOL_THREADS;
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&self->threads[i], NULL, s_worker, self) != 0) {
            nrm_sigpool_destroy(&self);
            return NULL;
        }
        self->nthreads++;
    }
    return self;
}

/* Hands the current batch to a worker, or verifies it here when the queue
   is full (or there are no workers). Called without the lock. */
static void
s_flush(nrm_sigpool_t *self)
{
    s_batch_t *b = self->cur;
    if (!b || b->n == 0)
        return;
    self->cur = NULL;
    pthread_mutex_lock(&self->mu);
    if (self->nthreads && self->count < NRM_SIGPOOL_QUEUE) {
        self->queue[(self->head + self->count) % NRM_SIGPOOL_QUEUE] = b;
        self->count++;
        pthread_cond_signal(&self->more);
        pthread_mutex_unlock(&self->mu);
        return;
    }
    pthread_mutex_unlock(&self->mu);
    s_run(self, b);
}

/* Records a failure found by the adding thread itself. */
static void
s_fail(nrm_sigpool_t *self, uint64_t seq, const char *what, const char *why)
{
    pthread_mutex_lock(&self->mu);
    if (self->failed == 0 || seq < self->failed) {
        self->failed = seq;
        snprintf(self->failed_what, sizeof self->failed_what, "%s: %s", what, why);
    }
    pthread_mutex_unlock(&self->mu);
}

/* Whether this batch check is queued already; if not, remembers it. */
static bool
s_seen(nrm_sigpool_t *self, const uint8_t pk[NRM_PK_BYTES], const uint8_t *alt_pk,
       const uint8_t msg[NRM_BATCH_SIGNED_BYTES], const uint8_t sig[NRM_SIG_BYTES])
{
    s_seen_t *e = &self->seen[msg[8] % S_SEEN];
    if (e->used && e->has_alt == (alt_pk != NULL) && memcmp(e->msg, msg, sizeof e->msg) == 0
        && memcmp(e->pk, pk, NRM_PK_BYTES) == 0 && memcmp(e->sig, sig, NRM_SIG_BYTES) == 0
        && (!alt_pk || memcmp(e->alt_pk, alt_pk, NRM_PK_BYTES) == 0))
        return true;
    e->used = true;
    e->has_alt = alt_pk != NULL;
    memcpy(e->pk, pk, NRM_PK_BYTES);
    if (alt_pk)
        memcpy(e->alt_pk, alt_pk, NRM_PK_BYTES);
    memcpy(e->msg, msg, sizeof e->msg);
    memcpy(e->sig, sig, NRM_SIG_BYTES);
    return false;
}

int
nrm_sigpool_add(nrm_sigpool_t *self, uint64_t seq, const uint8_t pk[NRM_PK_BYTES],
                const uint8_t *alt_pk, const char *ctx, const uint8_t *data, size_t len,
                const uint8_t sig[NRM_SIG_BYTES], const nrm_batch_proof_t *proof,
                const char *what)
{
    uint8_t msg[NRM_BATCH_SIGNED_BYTES];
    if (proof && proof->size && ctx) {
        nrm_err_t why = { 0, 0, "" };
        if (nrm_batch_signed_bytes(ctx, data, len, proof, msg, &why) != 0) {
            s_fail(self, seq, what, why.msg);
            return 0;
        }
        if (s_seen(self, pk, alt_pk, msg, sig))
            return 0;
        ctx = NRM_CTX_BATCH;
        data = msg;
        len = sizeof msg;
    }
    size_t clen = ctx ? strlen(ctx) + 1 : 0;
    if (!self->cur) {
        pthread_mutex_lock(&self->mu);
        self->cur = self->free_list;
        if (self->cur)
            self->free_list = self->cur->next;
        pthread_mutex_unlock(&self->mu);
        if (!self->cur && !(self->cur = calloc(1, sizeof *self->cur)))
            return NRM_ENOMEM;
    }
    s_batch_t *b = self->cur;
    if (b->used + clen + len > b->cap) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap < b->used + clen + len)
            cap *= 2;
        uint8_t *arena = realloc(b->arena, cap);
        if (!arena)
            return NRM_ENOMEM;
        b->arena = arena;
        b->cap = cap;
    }
    s_job_t *j = &b->jobs[b->n++];
    j->seq = seq;
    memcpy(j->pk, pk, NRM_PK_BYTES);
    j->has_alt = alt_pk != NULL;
    if (alt_pk)
        memcpy(j->alt_pk, alt_pk, NRM_PK_BYTES);
    memcpy(j->sig, sig, NRM_SIG_BYTES);
    j->off = b->used;
    j->len = clen + len;
    snprintf(j->what, sizeof j->what, "%s", what);
    if (clen)
        memcpy(b->arena + b->used, ctx, clen);
    if (len)
        memcpy(b->arena + b->used + clen, data, len);
    b->used += clen + len;
    if (b->n == NRM_SIGPOOL_BATCH || b->used >= S_ARENA_FLUSH)
        s_flush(self);
    return 0;
}

uint64_t
nrm_sigpool_failed(nrm_sigpool_t *self)
{
    pthread_mutex_lock(&self->mu);
    uint64_t f = self->failed;
    pthread_mutex_unlock(&self->mu);
    return f;
}

uint64_t
nrm_sigpool_count(nrm_sigpool_t *self)
{
    pthread_mutex_lock(&self->mu);
    uint64_t n = self->done;
    pthread_mutex_unlock(&self->mu);
    return n;
}

uint64_t
nrm_sigpool_finish(nrm_sigpool_t *self, char *what, size_t size)
{
    s_flush(self);
    pthread_mutex_lock(&self->mu);
    while (self->count > 0 || self->busy > 0)
        pthread_cond_wait(&self->idle, &self->mu);
    uint64_t f = self->failed;
    if (what && size)
        snprintf(what, size, "%s", self->failed_what);
    pthread_mutex_unlock(&self->mu);
    return f;
}

void
nrm_sigpool_destroy(nrm_sigpool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    nrm_sigpool_t *self = *self_p;
    pthread_mutex_lock(&self->mu);
    self->stop = true;
    pthread_cond_broadcast(&self->more);
    pthread_mutex_unlock(&self->mu);
    for (unsigned i = 0; i < self->nthreads; i++)
        pthread_join(self->threads[i], NULL);
    for (size_t i = 0; i < self->count; i++) {
        s_batch_t *b = self->queue[(self->head + i) % NRM_SIGPOOL_QUEUE];
        free(b->arena);
        free(b);
    }
    while (self->free_list) {
        s_batch_t *b = self->free_list;
        self->free_list = b->next;
        free(b->arena);
        free(b);
    }
    if (self->cur) {
        free(self->cur->arena);
        free(self->cur);
    }
    pthread_cond_destroy(&self->more);
    pthread_cond_destroy(&self->idle);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}
