/* bench_baseline.c -- the original sample's per-command pattern, timed on
 * our storage and lease libraries, as the baseline Leasehold is compared with.
 *
 *   bench_baseline --products N --commands N --threads T [--hot] [--raw]
 *
 * Every command does what the original sample did for one reservation:
 * acquire a 30 s lease on the lock blob "lease-{product}" (its own lock
 * container), read the product's state blob (a separate, unleased blob),
 * write it back with a counter incremented (a plain put without a lease id:
 * nothing fences it), and release the lease. A lease held by another thread
 * is retried with exponential backoff and full jitter (1 ms doubling to
 * 64 ms) until acquired; each refusal counts as one contended acquisition.
 * T threads run commands in a loop until N have been done; each picks a
 * product uniformly from N products, or always the same one with --hot.
 *
 * The lease comes from the lease engine (lease_try_acquire, which also
 * stamps the epoch: 3 requests, plus 2 the first time a lock blob is
 * created); --raw uses the bare Lease Blob calls instead, which is exactly
 * the original's 4 requests per command. The summary prints the requests
 * actually sent per command. The last line is one JSON object for
 * harnesses: RESULT {"commands":..,"seconds":..,"cmd_per_s":..,"p50_ms":..,
 * "p99_ms":..,"contended":..,...}.
 *
 * The account comes from LEASEHOLD_STORAGE_CONNECTION_STRING (default
 * UseDevelopmentStorage=true). Uses two containers of its own and deletes
 * them. Not a test: nothing asserts on these numbers.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "lease/src/blob_internal.h"
#include "leasehold/blob.h"
#include "leasehold/lease.h"

#include "bench_util.h"

#define BASELINE_LEASE_S 30
#define BASELINE_BACKOFF_BASE_MS 1
#define BASELINE_BACKOFF_MAX_MS 64

typedef struct baseline {
    blob_client *client;
    lease_manager *mgr; /* NULL with --raw */
    char locks[64];     /* lock blobs "lease-{product}" */
    char state[64];     /* state blobs "product-{product}" */
    int products, commands, hot;
    atomic_int next;    /* commands handed out */
    atomic_long contended;
    atomic_int errors;
    double *latency_ms; /* one per command */
} baseline;

typedef struct baseline_thread {
    baseline *b;
    unsigned seed;
    pthread_t tid;
} baseline_thread;

/* Full-jitter backoff before attempt `attempt` (>= 1) of a contended lease. */
static void baseline_backoff(unsigned *seed, int attempt)
{
    long cap = BASELINE_BACKOFF_BASE_MS;
    for (int i = 1; i < attempt && cap < BASELINE_BACKOFF_MAX_MS; i++)
        cap *= 2;
    long us = (long)(rand_r(seed) % (unsigned)(cap * 1000 + 1));
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    nanosleep(&ts, NULL); /* backoff against a competitor, not synchronisation */
}

/* The lease as the original took it: the engine's try-acquire on the lock
 * name, or (--raw) one Lease Blob acquire, creating the lock blob on 404.
 * Retries while held elsewhere. 0, or -1 with a message on stderr. */
static int baseline_acquire(baseline *b, unsigned *seed, const char *product, lease **l,
                            char lease_id[64])
{
    char lock[80];
    snprintf(lock, sizeof lock, "lease-%s", product);
    for (int attempt = 1;; attempt++) {
        if (b->mgr) {
            lease_error err;
            lease_code rc = lease_try_acquire(b->mgr, product, NULL, l, &err);
            if (rc == LEASE_OK)
                return 0;
            if (rc != LEASE_HELD_ELSEWHERE) {
                fprintf(stderr, "bench_baseline: %s\n", err.message);
                return -1;
            }
        } else {
            blob_error be;
            blob_code rc = blob_lease_acquire(b->client, b->locks, lock, BASELINE_LEASE_S, NULL,
                                              lease_id, &be);
            if (rc == BLOB_ERR_NOT_FOUND) {
                blob_conditions create_only = {NULL, NULL, "*"};
                rc = blob_put(b->client, b->locks, lock, "", 0, NULL, NULL, &create_only, NULL,
                              &be);
                if (rc == BLOB_OK || rc == BLOB_ERR_CONFLICT || rc == BLOB_ERR_PRECONDITION)
                    continue; /* created (by us or a competitor): acquire again at once */
            }
            if (rc == BLOB_OK)
                return 0;
            if (rc != BLOB_ERR_CONFLICT) {
                fprintf(stderr, "bench_baseline: %s\n", be.message);
                return -1;
            }
        }
        atomic_fetch_add(&b->contended, 1);
        baseline_backoff(seed, attempt);
    }
}

static void baseline_release(baseline *b, const char *product, lease *l, const char *lease_id)
{
    if (b->mgr) {
        lease_error err;
        if (lease_release(l, &err) != LEASE_OK) {
            fprintf(stderr, "bench_baseline: %s\n", err.message);
            atomic_fetch_add(&b->errors, 1);
        }
        lease_free(l);
        return;
    }
    char lock[80];
    blob_error be;
    snprintf(lock, sizeof lock, "lease-%s", product);
    if (blob_lease_release(b->client, b->locks, lock, lease_id, &be) != BLOB_OK) {
        fprintf(stderr, "bench_baseline: %s\n", be.message);
        atomic_fetch_add(&b->errors, 1);
    }
}

/* Read the state blob (absent = counter 0) and write it back incremented. */
static int baseline_update(baseline *b, const char *product)
{
    char name[80], body[160];
    snprintf(name, sizeof name, "product-%s", product);
    char *data = NULL;
    size_t len = 0;
    blob_error be;
    long counter = 0;
    blob_code rc = blob_get(b->client, b->state, name, NULL, &data, &len, NULL, &be);
    if (rc == BLOB_OK) {
        const char *c = strstr(data, "\"counter\":");
        counter = c ? strtol(c + 10, NULL, 10) : 0;
    } else if (rc != BLOB_ERR_NOT_FOUND) {
        fprintf(stderr, "bench_baseline: %s\n", be.message);
        return -1;
    }
    free(data);
    int n = snprintf(body, sizeof body, "{\"productId\":\"%s\",\"counter\":%ld}", product,
                     counter + 1);
    rc = blob_put(b->client, b->state, name, body, (size_t)n, "application/json", NULL, NULL, NULL,
                  &be);
    if (rc != BLOB_OK) {
        fprintf(stderr, "bench_baseline: %s\n", be.message);
        return -1;
    }
    return 0;
}

static void *baseline_thread_main(void *arg)
{
    baseline_thread *t = arg;
    baseline *b = t->b;
    for (;;) {
        int i = atomic_fetch_add(&b->next, 1);
        if (i >= b->commands)
            break;
        char product[32];
        snprintf(product, sizeof product, "p%06d", b->hot ? 0 : rand_r(&t->seed) % b->products);
        int64_t start = bench_now_us();
        lease *l = NULL;
        char lease_id[64] = "";
        if (baseline_acquire(b, &t->seed, product, &l, lease_id) != 0) {
            atomic_fetch_add(&b->errors, 1);
            b->latency_ms[i] = -1;
            continue;
        }
        if (baseline_update(b, product) != 0)
            atomic_fetch_add(&b->errors, 1);
        baseline_release(b, product, l, lease_id);
        b->latency_ms[i] = (double)(bench_now_us() - start) / 1000.0;
    }
    return NULL;
}

static int baseline_usage(void)
{
    fprintf(stderr, "usage: bench_baseline --products N --commands N --threads T [--hot] [--raw]\n");
    return 2;
}

/* Parses a positive int option value; 0 when invalid. */
static int baseline_int(const char *s, int max)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 1 && v <= max ? (int)v : 0;
}

int main(int argc, char **argv)
{
    static baseline b;
    int threads = 0, raw = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hot") == 0)
            b.hot = 1;
        else if (strcmp(argv[i], "--raw") == 0)
            raw = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--products") == 0)
            b.products = baseline_int(argv[++i], 1000000);
        else if (i + 1 < argc && strcmp(argv[i], "--commands") == 0)
            b.commands = baseline_int(argv[++i], 100000000);
        else if (i + 1 < argc && strcmp(argv[i], "--threads") == 0)
            threads = baseline_int(argv[++i], 256);
        else
            return baseline_usage();
    }
    if (!b.products || !b.commands || !threads)
        return baseline_usage();

    curl_global_init(CURL_GLOBAL_DEFAULT);
    blob_error be;
    int rc = 1;
    baseline_thread *t = NULL;
    if (!(b.client = bench_client_from_env(&be))) {
        fprintf(stderr, "bench_baseline: %s\n", be.message);
        goto out;
    }
    char guid[37];
    blob_new_guid(guid);
    snprintf(b.locks, sizeof b.locks, "baseline-leases-%.8s", guid);
    snprintf(b.state, sizeof b.state, "baseline-state-%.8s", guid);
    if (blob_container_create(b.client, b.locks, &be) != BLOB_OK ||
        blob_container_create(b.client, b.state, &be) != BLOB_OK) {
        fprintf(stderr, "bench_baseline: %s\n", be.message);
        goto out;
    }
    if (!raw) {
        lease_manager_options o;
        lease_manager_options_init(&o);
        o.container = b.locks;
        o.duration_s = BASELINE_LEASE_S;
        lease_error err;
        if (!(b.mgr = lease_manager_new(b.client, &o, &err))) {
            fprintf(stderr, "bench_baseline: %s\n", err.message);
            goto out;
        }
    }
    b.latency_ms = calloc((size_t)b.commands, sizeof *b.latency_ms);
    t = calloc((size_t)threads, sizeof *t);
    if (!b.latency_ms || !t) {
        fprintf(stderr, "bench_baseline: out of memory\n");
        goto out;
    }
    long requests0 = blob_client_attempts(b.client);
    int64_t start = bench_now_us();
    for (int i = 0; i < threads; i++) {
        t[i] = (baseline_thread){&b, (unsigned)time(NULL) ^ (unsigned)(i * 2654435761u), 0};
        pthread_create(&t[i].tid, NULL, baseline_thread_main, &t[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i].tid, NULL);
    double seconds = (double)(bench_now_us() - start) / 1e6;
    long requests = blob_client_attempts(b.client) - requests0;

    /* Failed commands (-1) sort first and are left out of the percentiles. */
    qsort(b.latency_ms, (size_t)b.commands, sizeof(double), bench_cmp_double);
    size_t first = 0;
    while (first < (size_t)b.commands && b.latency_ms[first] < 0)
        first++;
    size_t n = (size_t)b.commands - first;
    double *v = b.latency_ms + first;
    double p50 = bench_pct(v, n, 0.5), p99 = bench_pct(v, n, 0.99), max = bench_pct(v, n, 1);
    double per_s = seconds > 0 ? b.commands / seconds : 0;
    int errors = atomic_load(&b.errors);
    long contended = atomic_load(&b.contended);
    printf("baseline pattern (%s): %d commands, %d %s, %d threads\n",
           raw ? "bare lease calls" : "lease engine", b.commands, b.hot ? 1 : b.products,
           b.hot ? "hot product" : "products (uniform)", threads);
    printf("%.2f s, %.1f commands/s, latency p50 %.1f ms p99 %.1f ms max %.1f ms\n", seconds,
           per_s, p50, p99, max);
    printf("%ld contended acquisitions, %d errors, %.2f storage requests per command\n", contended,
           errors, (double)requests / b.commands);
    printf("RESULT {\"commands\":%d,\"seconds\":%.3f,\"cmd_per_s\":%.1f,\"p50_ms\":%.1f,"
           "\"p99_ms\":%.1f,\"contended\":%ld,\"errors\":%d,\"products\":%d,\"threads\":%d,"
           "\"hot\":%s,\"mode\":\"%s\",\"requests_per_cmd\":%.2f}\n",
           b.commands, seconds, per_s, p50, p99, contended, errors, b.hot ? 1 : b.products,
           threads, b.hot ? "true" : "false", raw ? "raw" : "engine",
           (double)requests / b.commands);
    rc = errors ? 1 : 0;
out:
    lease_manager_free(b.mgr);
    if (b.client) {
        blob_container_delete(b.client, b.locks, &be);
        blob_container_delete(b.client, b.state, &be);
    }
    blob_client_free(b.client);
    free(b.latency_ms);
    free(t);
    curl_global_cleanup();
    return rc;
}
