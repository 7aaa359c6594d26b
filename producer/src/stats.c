/* stats.c -- latency samples and nearest-rank percentiles.
 *
 * Samples go into a growable array under a mutex (the events consumer thread
 * adds them while the main thread reports progress). The summary sorts a
 * copy, so adding may continue while a summary is computed.
 */
#include "stats.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct stats_samples {
    pthread_mutex_t mu;
    int64_t *values;
    size_t n, cap;
};

int64_t stats_percentile(const int64_t *sorted, size_t n, double p) {
    if (n == 0)
        return 0;
    double rank = ceil(p / 100.0 * (double)n);
    size_t idx = rank < 1.0 ? 0 : (size_t)rank - 1;
    if (idx >= n)
        idx = n - 1;
    return sorted[idx];
}

stats_samples *stats_samples_new(void) {
    stats_samples *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void stats_samples_free(stats_samples *s) {
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->values);
    free(s);
}

int stats_samples_add(stats_samples *s, int64_t value) {
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        int64_t *v = realloc(s->values, cap * sizeof(*v));
        if (!v) {
            rc = -1;
            goto out;
        }
        s->values = v;
        s->cap = cap;
    }
    s->values[s->n++] = value;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static int stats_cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int stats_samples_summary(stats_samples *s, stats_summary *out) {
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    int64_t *copy = n ? malloc(n * sizeof(*copy)) : NULL;
    if (n && !copy) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    if (n)
        memcpy(copy, s->values, n * sizeof(*copy));
    pthread_mutex_unlock(&s->mu);
    if (n == 0)
        return 0;
    qsort(copy, n, sizeof(*copy), stats_cmp);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)copy[i];
    out->count = n;
    out->min = copy[0];
    out->max = copy[n - 1];
    out->p50 = stats_percentile(copy, n, 50);
    out->p95 = stats_percentile(copy, n, 95);
    out->p99 = stats_percentile(copy, n, 99);
    out->mean = sum / (double)n;
    free(copy);
    return 0;
}
