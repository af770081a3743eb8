/*  Unit test of nrm-bench's open-loop schedule (bench_pace, tools/
    bench_util.c): K senders at rate r each send, together, one message
    every 1 / (K r) seconds, never several at the same instant. Before it,
    every sender started at t0, so a "100/s" step with 4 pairs was a burst
    of 4 messages every 40 ms, each competing with the other three. */
#include "bench.h"
#include "testutil.h"
#include <math.h>

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void
test_interleaved(unsigned pairs, double total)
{
    enum { PER = 50 };
    double t[64 * PER];
    double rate = total / pairs, t0 = 1000.0;
    size_t n = 0;

    for (unsigned i = 0; i < pairs; i++) {
        bench_pace_t pc = bench_pace(t0, rate, i, pairs);
        for (uint64_t k = 0; k < PER; k++) {
            double at = t0 + bench_pace_next(&pc, k, t0);   /* when message k is due */
            t[n++] = at;
            /* due just after, not just before */
            CHECK(bench_pace_due(&pc, at + 1e-9) == k + 1);
            CHECK(bench_pace_due(&pc, at - 1e-6) == k);
        }
    }
    qsort(t, n, sizeof t[0], s_cmp);
    CHECK(fabs(t[0] - t0) < 1e-9);
    for (size_t j = 1; j < n; j++)
        CHECK(fabs((t[j] - t[j - 1]) - 1.0 / total) < 1e-6);
}

int
main(void)
{
    test_interleaved(1, 100);
    test_interleaved(4, 100);
    test_interleaved(4, 1000);
    test_interleaved(64, 400);
    TEST_DONE();
}
