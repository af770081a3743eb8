/*  nrm_sigpool -- Ed25519 verifications spread over threads, for the
    offline verifier: the reading thread queues each signature check with the
    record it belongs to and goes on; worker threads verify batches; the
    lowest record whose check failed is reported, exactly as a sequential
    verifier would report it.

    Checks are grouped in batches (copied into the batch, so the caller's
    buffers may change at once). When every worker is busy and the queue is
    full, the adding thread verifies the batch itself, so all cores stay busy
    and memory stays bounded (NRM_SIGPOOL_QUEUE batches). */
#ifndef NRM_SIGPOOL_H_INCLUDED
#define NRM_SIGPOOL_H_INCLUDED
#include "nrm.h"
#include "nrm_batchsig.h"

#define NRM_SIGPOOL_BATCH   256     /* checks per batch                    */
#define NRM_SIGPOOL_QUEUE   8       /* batches waiting for a worker        */
#define NRM_SIGPOOL_THREADS 16      /* most worker threads                 */

typedef struct nrm_sigpool_t nrm_sigpool_t;

/* threads = 0 verifies every batch on the adding thread. NULL when out of
   memory or a thread cannot start. */
nrm_sigpool_t *nrm_sigpool_new(unsigned threads);
/* Waits for the workers and frees everything; NULL-safe, clears *self_p. */
void nrm_sigpool_destroy(nrm_sigpool_t **self_p);

/* Queues a check of sig over ctx || NUL || data (ctx NULL: data alone, as
   nrm_verify_text) by pk, or by alt_pk when it is not NULL and pk fails (a
   key being rotated), on behalf of record seq; what is the message reported
   if it fails (copied, truncated to 200 bytes). With a batch proof (not
   NULL, size > 0) sig is a batch signature (nrm_batchsig): the adding
   thread computes the root from the proof at once (a proof that does not
   lead to one fails seq now) and queues the check of the signature over
   it, unless the very same check (keys, size, root, signature) is queued
   already: its answer is the answer for every item of that batch, and a
   failure is reported at the lowest record, as a sequential pass would.
   Returns 0 or NRM_ENOMEM. */
int nrm_sigpool_add(nrm_sigpool_t *self, uint64_t seq, const uint8_t pk[NRM_PK_BYTES],
                    const uint8_t *alt_pk, const char *ctx, const uint8_t *data, size_t len,
                    const uint8_t sig[NRM_SIG_BYTES], const nrm_batch_proof_t *proof,
                    const char *what) NRM_WUR;

/* Lowest seq whose check has failed so far (0 if none): lets the reader
   stop early. */
uint64_t nrm_sigpool_failed(nrm_sigpool_t *self);

/* Verifies everything queued and waits for it. Returns the lowest failed
   seq (0 if every check passed) and copies its message into what. */
uint64_t nrm_sigpool_finish(nrm_sigpool_t *self, char *what, size_t size);

/* Checks verified so far (for progress and benchmarks). */
uint64_t nrm_sigpool_count(nrm_sigpool_t *self);

#endif
