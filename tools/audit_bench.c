/*  nrm-auditbench -- the measurements of docs/performance.md ("Audit log").

    nrm-auditbench sigs [SECONDS]
        Ed25519 (libsodium) sign and verify rates of this machine on 1 thread
        and verify on 2 threads, over 150-byte envelopes with our context
        prefix: the ceiling for `nrm-audit verify`.
    nrm-auditbench prove DIR [SAMPLES]
        latency of inclusion and consistency proofs from the stored tree of
        the log in DIR/data (made by nrm-loggen), against the latest
        checkpoint's size, for SAMPLES random records (default 10000), each
        in its own read transaction as `nrm-audit prove` does: median, p99,
        max. */
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nrm_auditlog.h"
#include "nrm_crypto.h"
#include "nrm_merkle.h"
#include "nrm_registry.h"
#include "nrm_util.h"

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

typedef struct {
    const uint8_t *pk, *sig;
    const uint8_t *msg;
    size_t len;
    double seconds;
    uint64_t count;
} s_job_t;

static void *
s_verify_loop(void *arg)
{
    s_job_t *j = arg;
    double end = s_now() + j->seconds;
    while (s_now() < end)
        for (int i = 0; i < 100; i++)
            if (nrm_verify(j->pk, NRM_CTX_ENVELOPE, j->msg, j->len, j->sig) == 0)
                j->count++;
    return NULL;
}

/* CPU seconds used by this process so far (all threads). */
static double
s_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6
         + (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

static int
s_sigs(double seconds)
{
    nrm_keys_t *k = nrm_keys_generate(NRM_KEYS_SIGN);
    uint8_t msg[150], sig[NRM_SIG_BYTES];
    nrm_random(msg, sizeof msg);
    uint64_t n = 0;
    double t0 = s_now();
    while (s_now() - t0 < seconds)
        for (int i = 0; i < 100; i++, n++)
            if (nrm_sign(k, NRM_CTX_ENVELOPE, msg, sizeof msg, sig) != 0)
                return 1;
    printf("sign, 1 thread:    %.0f/s\n", (double) n / (s_now() - t0));
    for (int threads = 1; threads <= 2; threads++) {
        pthread_t th[2];
        s_job_t jobs[2];
        uint64_t total = 0;
        double cpu0 = s_cpu();
        for (int t = 0; t < threads; t++) {
            jobs[t] = (s_job_t) { nrm_keys_sign_pk(k), sig, msg, sizeof msg, seconds, 0 };
            pthread_create(&th[t], NULL, s_verify_loop, &jobs[t]);
        }
        for (int t = 0; t < threads; t++) {
            pthread_join(th[t], NULL);
            total += jobs[t].count;
        }
        printf("verify, %d thread%s: %.0f/s (%.0f per CPU-second)\n", threads,
               threads > 1 ? "s" : " ", (double) total / seconds, (double) total / (s_cpu() - cpu0));
    }
    nrm_keys_destroy(&k);
    return 0;
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void
s_report(const char *what, double *t, size_t n)
{
    qsort(t, n, sizeof *t, s_cmp);
    printf("%s: median %.1f us, p99 %.1f us, max %.1f us (%zu samples)\n", what,
           t[n / 2] * 1e6, t[n * 99 / 100] * 1e6, t[n - 1] * 1e6, n);
}

static int
s_prove(const char *dir, size_t samples)
{
    static const char *const dbs[] = { NRM_BROKER_DBS, NULL };
    char path[4096];
    nrm_err_t err = { 0, 0, "" };
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    uint64_t ckpt = 0;
    snprintf(path, sizeof path, "%s/data", dir);
    if (nrm_store_open(path, dbs, NRM_STORE_RDONLY, &store, &err) != 0
        || nrm_store_read_begin(store, &txn, &err) != 0
        || nrm_auditlog_checkpoint(store, txn, &ckpt, &err) != 0 || ckpt < 2) {
        fprintf(stderr, "nrm-auditbench: %s\n", err.msg[0] ? err.msg : "no checkpoint");
        return 1;
    }
    nrm_store_read_end(&txn);
    uint64_t size = ckpt - 1;
    double *t = calloc(samples, sizeof *t), *c = calloc(samples, sizeof *c);
    nrm_hash_t path_h[NRM_MERKLE_PATH_MAX];
    size_t len = 0;
    for (size_t i = 0; i < samples; i++) {
        uint64_t r;
        nrm_random((uint8_t *) &r, sizeof r);
        uint64_t seq = 1 + r % size;
        double t0 = s_now();
        if (nrm_store_read_begin(store, &txn, &err) != 0
            || nrm_logtree_inclusion(store, txn, seq, size, path_h, &len, &err) != 0) {
            fprintf(stderr, "nrm-auditbench: %s\n", err.msg);
            return 1;
        }
        nrm_store_read_end(&txn);
        t[i] = s_now() - t0;
        t0 = s_now();
        if (nrm_store_read_begin(store, &txn, &err) != 0
            || nrm_logtree_consistency(store, txn, seq, size, path_h, &len, &err) != 0) {
            fprintf(stderr, "nrm-auditbench: %s\n", err.msg);
            return 1;
        }
        nrm_store_read_end(&txn);
        c[i] = s_now() - t0;
    }
    printf("log of %llu records (latest checkpoint)\n", (unsigned long long) size);
    s_report("inclusion proof", t, samples);
    s_report("consistency proof", c, samples);
    free(t);
    free(c);
    nrm_store_destroy(&store);
    return 0;
}

int
main(int argc, char **argv)
{
    if (nrm_crypto_init() != 0)
        return 1;
    if (argc >= 2 && strcmp(argv[1], "sigs") == 0)
        return s_sigs(argc > 2 ? atof(argv[2]) : 5.0);
    if (argc >= 3 && strcmp(argv[1], "prove") == 0)
        return s_prove(argv[2], argc > 3 ? (size_t) strtoull(argv[3], NULL, 10) : 10000);
    fprintf(stderr, "usage: nrm-auditbench sigs [SECONDS] | prove DIR [SAMPLES]\n");
    return 2;
}
