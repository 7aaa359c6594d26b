/* bench_util.h -- what the benchmark programs share: a monotonic clock, the
 * storage client they all build from the environment, and percentiles.
 * Header-only (static functions) because each benchmark is one .c file.
 */
#ifndef LEASEHOLD_BENCH_UTIL_H
#define LEASEHOLD_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "leasehold/blob.h"

/* Monotonic microseconds. */
static inline int64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A client for LEASEHOLD_STORAGE_CONNECTION_STRING (default
 * UseDevelopmentStorage=true), so a harness can point a benchmark at a
 * private Azurite. NULL with `err` filled on failure. */
static inline blob_client *bench_client_from_env(blob_error *err)
{
    const char *conn = getenv("LEASEHOLD_STORAGE_CONNECTION_STRING");
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = conn && *conn ? conn : "UseDevelopmentStorage=true";
    return blob_client_new(&o, err);
}

/* qsort order for doubles. */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentile q (0..1) of n sorted values, 0 when there are none. */
static inline double bench_pct(const double *sorted, size_t n, double q)
{
    if (!n)
        return 0;
    size_t i = (size_t)(q * (double)n);
    return sorted[i < n ? i : n - 1];
}

#endif
