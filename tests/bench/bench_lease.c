/* bench_lease.c -- timings of the lease engine against a real service.
 *
 *   bench_lease [LEASES [HOLD_SECONDS [THREADS [DURATION_SECONDS]]]]
 *                                               (defaults 2000 30 4 15)
 *
 * Acquires LEASES lock leases of DURATION_SECONDS (15..60, or -1 for
 * infinite, as the service allows) with THREADS threads on one manager,
 * holds them for HOLD_SECONDS while the single scheduler renews them, then
 * releases them all, and prints: acquire latency percentiles and total
 * time, renew latency percentiles, the renewal rate achieved, the smallest
 * time left before expiry at any renewal (the scheduler's slack), losses,
 * the process's CPU use over the hold (getrusage: user + system time as a
 * percentage of one core), its peak RSS and the release time. The last line
 * is the same numbers as one JSON object, "RESULT {...}", for harnesses.
 * Workload W3 is `bench_lease 10000 180 4 60`.
 *
 * The storage account comes from LEASEHOLD_STORAGE_CONNECTION_STRING
 * (default UseDevelopmentStorage=true), so a private Azurite can be used.
 * Pass/fail tests never assert on these numbers; this program is where they
 * are measured. Uses its own container and deletes it.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <sys/resource.h>

#include <curl/curl.h>

#include "leasehold/blob.h"
#include "leasehold/lease.h"

#include "bench_util.h"

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
    return bench_now_us() / 1000;
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

/* Percentile q (0..1) of sorted samples, 0 when there are none. */
static double samples_pct(const samples *s, double q)
{
    return bench_pct(s->v, s->n, q);
}

static void samples_print(const char *what, samples *s)
{
    if (!s->n) {
        printf("%-8s no samples\n", what);
        return;
    }
    qsort(s->v, s->n, sizeof(double), bench_cmp_double);
    printf("%-8s n=%zu p50=%.1f ms p90=%.1f ms p99=%.1f ms max=%.1f ms\n", what, s->n,
           samples_pct(s, 0.5), samples_pct(s, 0.9), samples_pct(s, 0.99), s->v[s->n - 1]);
}

/* User + system CPU time of this process so far, in ms. */
static int64_t bench_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/* Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux). */
static double bench_peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* The renew interval the manager derives by default (lease_timing.c): 2/3 of
 * the duration, shortened until max_renew_retries (3) backoffs of
 * retry_max_ms (2 s) and the safety margin (2 s) fit: 15 s -> 7 s, 60 s -> 40 s. */
static double bench_default_interval_s(int duration_s)
{
    double interval = duration_s * 2.0 / 3.0, fit = duration_s - 3 * 2.0 - 2.0;
    return interval < fit ? interval : fit;
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

/* Warnings explain failures and losses: print the first few, count the rest. */
static void on_log(int level, const char *line, void *opaque)
{
    static atomic_int printed;
    (void)opaque;
    if (level <= LOG_WARNING && atomic_fetch_add(&printed, 1) < 20)
        fprintf(stderr, "bench_lease: %s\n", line);
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

static int bench_usage(void)
{
    fprintf(stderr, "usage: bench_lease [LEASES [HOLD_SECONDS [THREADS [DURATION_SECONDS]]]]\n"
                    "  DURATION_SECONDS: 15..60, or -1 for infinite (default 15)\n");
    return 1;
}

/* Every 10 s until told to stop, a progress line on stderr, so a long run
 * that never gets to its summary still shows where it stands. */
typedef struct progress {
    bench *b;
    lease_manager *mgr;
    int64_t t0;
    pthread_mutex_t mu;
    pthread_cond_t stop_cv;
    int stop;
} progress;

static void *progress_run(void *arg)
{
    progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        if (pthread_cond_timedwait(&p->stop_cv, &p->mu, &until) == 0 || p->stop)
            continue;
        pthread_mutex_lock(&p->b->renew.mu);
        size_t renewed = p->b->renew.n;
        pthread_mutex_unlock(&p->b->renew.mu);
        pthread_mutex_lock(&p->b->mu);
        int lost = p->b->lost, failed = p->b->failed;
        pthread_mutex_unlock(&p->b->mu);
        fprintf(stderr, "bench_lease: t=%" PRId64 "s held=%zu renewals=%zu failed=%d lost=%d\n",
                (bench_now_ms() - p->t0) / 1000, lease_manager_held_count(p->mgr), renewed,
                failed, lost);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void bench_run(worker *w, pthread_t *t, int threads, void *(*fn)(void *))
{
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, fn, &w[i]);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
}

int main(int argc, char **argv)
{
    if (argc > 5)
        return bench_usage();
    int leases = argc > 1 ? atoi(argv[1]) : 2000;
    int hold_s = argc > 2 ? atoi(argv[2]) : 30;
    int threads = argc > 3 ? atoi(argv[3]) : 4;
    int duration_s = argc > 4 ? atoi(argv[4]) : 15;
    if (leases < 1 || hold_s < 0 || threads < 1 || threads > 64 ||
        (duration_s != -1 && (duration_s < 15 || duration_s > 60)))
        return bench_usage();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    blob_error be;
    blob_client *client = bench_client_from_env(&be);
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
    o.duration_s = duration_s;
    o.on_event = on_event;
    o.log = on_log;
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
    static progress prog;
    prog = (progress){&b, mgr, t0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    pthread_t prog_tid;
    int prog_started = pthread_create(&prog_tid, NULL, progress_run, &prog) == 0;
    for (int i = 0; i < threads; i++)
        w[i] = (worker){mgr, l, (int)((int64_t)i * leases / threads),
                        (int)((int64_t)(i + 1) * leases / threads)};
    bench_run(w, t, threads, acquire_range);
    int64_t acquired_ms = bench_now_ms() - t0;
    size_t held = lease_manager_held_count(mgr);
    printf("acquired %zu in %" PRId64 " ms; holding for %d s\n", held, acquired_ms, hold_s);
    fflush(stdout); /* progress for whoever watches a long run */
    pthread_mutex_lock(&b.renew.mu);
    size_t renew_before = b.renew.n;
    pthread_mutex_unlock(&b.renew.mu);
    int64_t cpu1 = bench_cpu_ms();
    int64_t t1 = bench_now_ms();
    while (bench_now_ms() - t1 < (int64_t)hold_s * 1000) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL); /* the hold period itself, not synchronisation */
    }
    int64_t hold_ms = bench_now_ms() - t1;
    int64_t cpu_ms = bench_cpu_ms() - cpu1;
    pthread_mutex_lock(&b.renew.mu);
    size_t renewals = b.renew.n - renew_before;
    pthread_mutex_unlock(&b.renew.mu);
    size_t still = lease_manager_held_count(mgr);
    if (prog_started) {
        pthread_mutex_lock(&prog.mu);
        prog.stop = 1;
        pthread_cond_signal(&prog.stop_cv);
        pthread_mutex_unlock(&prog.mu);
        pthread_join(prog_tid, NULL);
    }
    int64_t t2 = bench_now_ms();
    lease_manager_free(mgr); /* releases renew_concurrency at a time */
    int64_t released_ms = bench_now_ms() - t2;
    double peak_rss = bench_peak_rss_mib();

    double rate = hold_ms ? renewals * 1000.0 / (double)hold_ms : 0.0;
    double cpu_pct = hold_ms ? cpu_ms * 100.0 / (double)hold_ms : 0.0;
    double needed = duration_s == -1 ? 0.0 : leases / bench_default_interval_s(duration_s);
    int64_t min_remaining = b.min_remaining == INT64_MAX ? -1 : b.min_remaining;
    printf("leases=%d threads=%d duration=%ds hold=%ds\n", leases, threads, duration_s, hold_s);
    printf("acquire rate %.0f/s\n", acquired_ms ? held * 1000.0 / (double)acquired_ms : 0.0);
    samples_print("acquire", &b.acquire);
    samples_print("renew", &b.renew);
    printf("renewals during the hold: %zu (%.1f/s; needed %.1f/s)\n", renewals, rate, needed);
    printf("least time left before expiry at a renewal: %" PRId64 " ms (margin 2000 ms)\n",
           min_remaining);
    printf("failed renewal attempts: %d, lost: %d, held at the end: %zu\n", b.failed, b.lost,
           still);
    printf("cpu during the hold: %.1f%% of one core (%" PRId64 " ms in %" PRId64
           " ms); peak RSS %.1f MiB\n",
           cpu_pct, cpu_ms, hold_ms, peak_rss);
    printf("released all in %" PRId64 " ms\n", released_ms);
    /* One line for harnesses; keep the name and keys stable. */
    printf("RESULT {\"leases\":%d,\"held\":%zu,\"threads\":%d,\"duration_s\":%d,\"hold_s\":%d,"
           "\"acquire_ms\":%" PRId64 ",\"renewals\":%zu,\"renewals_per_s\":%.1f,"
           "\"needed_per_s\":%.1f,\"lost\":%d,\"failed_renewals\":%d,\"held_at_end\":%zu,"
           "\"min_remaining_ms\":%" PRId64 ",\"cpu_pct_core\":%.2f,\"peak_rss_mib\":%.1f,"
           "\"acquire_p50_ms\":%.1f,\"acquire_p99_ms\":%.1f,\"renew_p50_ms\":%.1f,"
           "\"renew_p99_ms\":%.1f,\"release_ms\":%" PRId64 "}\n",
           leases, held, threads, duration_s, hold_s, acquired_ms, renewals, rate, needed, b.lost,
           b.failed, still, min_remaining, cpu_pct, peak_rss, samples_pct(&b.acquire, 0.5),
           samples_pct(&b.acquire, 0.99), samples_pct(&b.renew, 0.5), samples_pct(&b.renew, 0.99),
           released_ms);
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
