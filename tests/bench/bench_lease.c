/* bench_lease.c -- timings of the lease engine against a real service.
 *
 *   bench_lease [LEASES [HOLD_SECONDS [THREADS]]]     (defaults 2000 30 4)
 *
 * Acquires LEASES lock leases of 15 s with THREADS threads on one manager,
 * holds them for HOLD_SECONDS while the single scheduler renews them, then
 * releases them all, and prints: acquire latency percentiles and total
 * time, renew latency percentiles, the renewal rate achieved, the smallest
 * time left before expiry at any renewal (the scheduler's slack), losses,
 * and the release time. Pass/fail tests never assert on these numbers; this
 * program is where they are measured. Uses its own container and deletes it.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "leasehold/blob.h"
#include "leasehold/lease.h"

typedef struct samples {
    pthread_mutex_t mu;
    double *v;
    size_t n, cap;
} samples;

typedef struct bench {
    samples acquire, renew;
    int64_t min_remaining;
    int lost, failed;
    pthread_mutex_t mu;
} bench;

static int64_t bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void samples_add(samples *s, double x)
{
    pthread_mutex_lock(&s->mu);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        double *v = realloc(s->v, cap * sizeof(*v));
        if (!v) {
            pthread_mutex_unlock(&s->mu);
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    pthread_mutex_unlock(&s->mu);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void samples_print(const char *what, samples *s)
{
    if (!s->n) {
        printf("%-8s no samples\n", what);
        return;
    }
    qsort(s->v, s->n, sizeof(double), cmp_double);
    printf("%-8s n=%zu p50=%.1f ms p90=%.1f ms p99=%.1f ms max=%.1f ms\n", what, s->n,
           s->v[s->n / 2], s->v[s->n * 9 / 10], s->v[s->n * 99 / 100], s->v[s->n - 1]);
}

static void on_event(const lease_event *ev, void *opaque)
{
    bench *b = opaque;
    switch (ev->kind) {
    case LEASE_EV_ACQUIRED:
        samples_add(&b->acquire, ev->latency_ms);
        break;
    case LEASE_EV_RENEWED:
        samples_add(&b->renew, ev->latency_ms);
        pthread_mutex_lock(&b->mu);
        if (ev->remaining_ms < b->min_remaining)
            b->min_remaining = ev->remaining_ms;
        pthread_mutex_unlock(&b->mu);
        break;
    case LEASE_EV_RENEW_FAILED:
        pthread_mutex_lock(&b->mu);
        b->failed++;
        pthread_mutex_unlock(&b->mu);
        break;
    case LEASE_EV_LOST:
        pthread_mutex_lock(&b->mu);
        b->lost++;
        pthread_mutex_unlock(&b->mu);
        break;
    default:
        break;
    }
}

typedef struct worker {
    lease_manager *mgr;
    lease **l;
    int from, to;
} worker;

static void *acquire_range(void *arg)
{
    worker *w = arg;
    for (int i = w->from; i < w->to; i++) {
        char name[32];
        snprintf(name, sizeof(name), "bench-%05d", i);
        lease_error err;
        if (lease_try_acquire(w->mgr, name, NULL, &w->l[i], &err) != LEASE_OK)
            fprintf(stderr, "%s\n", err.message);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int leases = argc > 1 ? atoi(argv[1]) : 2000;
    int hold_s = argc > 2 ? atoi(argv[2]) : 30;
    int threads = argc > 3 ? atoi(argv[3]) : 4;
    if (leases < 1 || hold_s < 0 || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: bench_lease [LEASES [HOLD_SECONDS [THREADS]]]\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *conn = getenv("LEASEHOLD_STORAGE_CONNECTION_STRING");
    blob_client_options bo;
    blob_client_options_init(&bo);
    bo.connection_string = conn && *conn ? conn : "UseDevelopmentStorage=true";
    blob_error be;
    blob_client *client = blob_client_new(&bo, &be);
    if (!client) {
        fprintf(stderr, "%s\n", be.message);
        return 1;
    }
    char guid[37], container[64];
    blob_new_guid(guid);
    snprintf(container, sizeof(container), "bench-%.8s", guid);

    static bench b;
    pthread_mutex_init(&b.mu, NULL);
    pthread_mutex_init(&b.acquire.mu, NULL);
    pthread_mutex_init(&b.renew.mu, NULL);
    b.min_remaining = INT64_MAX;
    lease_manager_options o;
    lease_manager_options_init(&o);
    o.container = container;
    o.duration_s = 15;
    o.on_event = on_event;
    o.opaque = &b;
    lease_error err;
    lease_manager *mgr = lease_manager_new(client, &o, &err);
    if (!mgr) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    lease **l = calloc((size_t)leases, sizeof(*l));
    pthread_t *t = calloc((size_t)threads, sizeof(*t));
    worker *w = calloc((size_t)threads, sizeof(*w));
    int64_t t0 = bench_now_ms();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){mgr, l, (int)((int64_t)i * leases / threads),
                        (int)((int64_t)(i + 1) * leases / threads)};
        pthread_create(&t[i], NULL, acquire_range, &w[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    int64_t acquired_ms = bench_now_ms() - t0;
    size_t held = lease_manager_held_count(mgr);
    size_t renew_before = b.renew.n;
    int64_t t1 = bench_now_ms();
    while (bench_now_ms() - t1 < (int64_t)hold_s * 1000) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    size_t renewals = b.renew.n - renew_before;
    size_t still = lease_manager_held_count(mgr);
    int64_t t2 = bench_now_ms();
    lease_manager_free(mgr);
    int64_t released_ms = bench_now_ms() - t2;

    printf("leases=%d threads=%d duration=15s hold=%ds\n", leases, threads, hold_s);
    printf("acquired %zu in %" PRId64 " ms (%.0f/s)\n", held, acquired_ms,
           acquired_ms ? held * 1000.0 / (double)acquired_ms : 0.0);
    samples_print("acquire", &b.acquire);
    samples_print("renew", &b.renew);
    printf("renewals during the hold: %zu (%.0f/s; needed %.0f/s)\n", renewals,
           hold_s ? renewals / (double)hold_s : 0.0, leases / 7.0);
    printf("least time left before expiry at a renewal: %" PRId64 " ms (margin 2000 ms)\n",
           b.min_remaining == INT64_MAX ? -1 : b.min_remaining);
    printf("failed renewal attempts: %d, lost: %d, held at the end: %zu\n", b.failed, b.lost,
           still);
    printf("released all in %" PRId64 " ms\n", released_ms);
    blob_container_delete(client, container, &be);
    blob_client_free(client);
    free(l);
    free(t);
    free(w);
    free(b.acquire.v);
    free(b.renew.v);
    curl_global_cleanup();
    return b.lost ? 1 : 0;
}
