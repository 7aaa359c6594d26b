/* stats.h -- latency samples and percentiles for the load generator.
 *
 * A stats_samples collects latencies (microseconds) from any thread (it has
 * its own mutex); stats_samples_summary sorts a copy and reports nearest-rank
 * percentiles, so p50 of {1,2,3,4} is 2 and p99 of 100 samples is the 99th.
 */
#ifndef PRODUCER_STATS_H
#define PRODUCER_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Nearest-rank percentile of `sorted` (ascending, n > 0): the value at rank
 * ceil(p / 100 * n), clamped to [1, n]. Returns 0 when n == 0. */
int64_t stats_percentile(const int64_t *sorted, size_t n, double p);

typedef struct stats_samples stats_samples;

typedef struct stats_summary {
    size_t count;
    int64_t min, p50, p95, p99, max; /* all 0 when count == 0 */
    double mean;
} stats_summary;

/* NULL on OOM. */
stats_samples *stats_samples_new(void);
/* NULL is a no-op. */
void stats_samples_free(stats_samples *s);
/* Thread-safe. Returns 0, or -1 on OOM (the sample is dropped). */
int stats_samples_add(stats_samples *s, int64_t value);
/* Thread-safe. Returns 0, or -1 on OOM. */
int stats_samples_summary(stats_samples *s, stats_summary *out);

#endif
