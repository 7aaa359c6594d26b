/* bench_reconciler.c -- what one reconciler sweep costs against a real service (W5).
 *
 *   bench_reconciler PRODUCTS DUE [THREADS [legacy]]     (defaults 10000 100 4)
 *
 * Creates PRODUCTS product state blobs in a private container with THREADS
 * threads (not measured), DUE of them with an expired reservation and the
 * rest with one that expires in an hour. Each blob carries what the
 * worker's fenced write gives it: the state JSON, the "nextexpiry" hint
 * from state_blob_meta_set_next_expiry (the function the processor calls)
 * and the lease engine's three keys. It is written with a plain Put Blob
 * rather than acquire + lease_write + release, which would triple the set-up
 * time and change nothing the sweep sees. With `legacy` the blobs lack the
 * hint, as an older version wrote them: the sweep then reads every product,
 * which is what every sweep cost before the hint existed.
 *
 * Then it runs ONE reconciler_sweep_once with the default page size on a
 * fresh blob client, publishing to a private topic on the real Kafka, and
 * prints a summary and a last line for the lead's harness:
 *   RESULT {"products":..,"due":..,"list_requests":..,"state_reads":..,"seconds":..}
 * `seconds` is the sweep's wall time, final delivery wait included. Exit
 * status 0 when the sweep read and expired exactly the due products without
 * errors. Pass/fail tests never assert on these timings; this program is
 * where they are measured. Deletes its container and topic.
 *
 * LEASEHOLD_STORAGE_CONNECTION_STRING (default UseDevelopmentStorage=true),
 * LEASEHOLD_KAFKA_BROKERS (default 127.0.0.1:9092).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

#include "lease/src/blob_internal.h" /* blob_client_attempts */
#include "leasehold/blob.h"
#include "leasehold/inventory_schema.h"
#include "log.h"
#include "state_blob.h"
#include "worker/reconciler.h"

#define BENCH_MAX_THREADS 32
#define BENCH_ADMIN_TIMEOUT_MS 30000

typedef struct bench {
    blob_client *blob;
    char container[64];
    long products, due;
    int64_t now_ms;
    int threads;
    int legacy; /* no "nextexpiry" hint */
    pthread_mutex_t mu;
    long created, failed;
    char first_error[320];
} bench;

typedef struct bench_worker {
    bench *b;
    int index;
} bench_worker;

static double bench_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *bench_env(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Spreads exactly `due` of `products` evenly: i is due when i * due mod
 * products falls below due, which holds for exactly `due` values of i. */
static int bench_is_due(const bench *b, long i) {
    return (i * b->due) % b->products < b->due;
}

/* One product blob as the fenced write leaves it. 0, or -1 with `err`. */
static int bench_put_product(bench *b, long i, char *err, size_t errlen) {
    inv_state st;
    char id[32];
    snprintf(id, sizeof(id), "BENCH-%06ld", i);
    inv_state_init(&st, id);
    inv_reservation r = {.quantity = 2, .created_at_ms = b->now_ms - 600000,
                         .expires_at_ms = bench_is_due(b, i) ? b->now_ms - 60000
                                                             : b->now_ms + 3600000};
    snprintf(r.reservation_id, sizeof(r.reservation_id), "R-%s", id);
    snprintf(r.customer_id, sizeof(r.customer_id), "CUST-%ld", i % 97);
    blob_meta meta = {0};
    int rc = -1;
    char *json = NULL;
    if (inv_state_add_reservation(&st, &r) != 0) {
        snprintf(err, errlen, "%s: out of memory", id);
        goto done;
    }
    st.reserved = r.quantity;
    st.available = 100;
    st.total = st.available + st.reserved;
    st.updated_at_ms = b->now_ms;
    json = inv_state_encode(&st);
    /* lease_write stamps these three beside the caller's keys. */
    if (!json || (!b->legacy && state_blob_meta_set_next_expiry(&meta, &st) != 0) ||
        blob_meta_set(&meta, "leaseholdepoch", "1") != BLOB_OK ||
        blob_meta_set(&meta, "leaseholdowner", "bench-reconciler") != BLOB_OK ||
        blob_meta_set(&meta, "leaseholdduration", "30") != BLOB_OK) {
        snprintf(err, errlen, "%s: cannot encode", id);
        goto done;
    }
    char name[48];
    snprintf(name, sizeof(name), "%s.json", id);
    blob_error be;
    if (blob_put(b->blob, b->container, name, json, strlen(json), "application/json", &meta, NULL,
                 NULL, &be) != BLOB_OK) {
        snprintf(err, errlen, "%s", be.message);
        goto done;
    }
    rc = 0;
done:
    free(json);
    inv_state_clear(&st);
    return rc;
}

static void *bench_create_thread(void *arg) {
    bench_worker *w = arg;
    bench *b = w->b;
    long created = 0, failed = 0;
    char err[320] = "";
    for (long i = w->index; i < b->products; i += b->threads) {
        if (bench_put_product(b, i, err, sizeof(err)) == 0)
            created++;
        else
            failed++;
    }
    pthread_mutex_lock(&b->mu);
    b->created += created;
    b->failed += failed;
    if (failed && !b->first_error[0])
        snprintf(b->first_error, sizeof(b->first_error), "%s", err);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* Creates (create = 1) or deletes the bench's topic and waits for the
 * broker's answer. 0, or -1 with the reason on stderr. */
static int bench_topic(const char *brokers, const char *topic, int create) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_NewTopic_t *nt = NULL;
    rd_kafka_DeleteTopic_t *dt = NULL;
    if (create) {
        nt = rd_kafka_NewTopic_new(topic, 1, 1, errstr, sizeof(errstr));
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    } else {
        dt = rd_kafka_DeleteTopic_new(topic);
        rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    }
    int rc = -1;
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, BENCH_ADMIN_TIMEOUT_MS);
    if (!ev) {
        fprintf(stderr, "%s topic %s: no answer from %s\n", create ? "create" : "delete", topic,
                brokers);
    } else if (rd_kafka_event_error(ev)) {
        fprintf(stderr, "%s topic %s: %s\n", create ? "create" : "delete", topic,
                rd_kafka_event_error_string(ev));
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **tr =
            create ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n)
                   : rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        if (n == 1 && rd_kafka_topic_result_error(tr[0]) == RD_KAFKA_RESP_ERR_NO_ERROR)
            rc = 0;
        else
            fprintf(stderr, "%s topic %s: %s\n", create ? "create" : "delete", topic,
                    n == 1 ? rd_kafka_topic_result_error_string(tr[0]) : "no result");
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    if (dt)
        rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

static blob_client *bench_client(const char *connection_string) {
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = connection_string;
    blob_error be;
    blob_client *c = blob_client_new(&o, &be);
    if (!c)
        fprintf(stderr, "blob client: %s\n", be.message);
    return c;
}

/* Creates the products, then runs and reports the sweep. 0 when the sweep
 * did exactly what it should. */
static int bench_run(bench *b, const char *connection_string, const char *brokers,
                     const char *topic) {
    double t0 = bench_seconds();
    pthread_t tid[BENCH_MAX_THREADS];
    bench_worker workers[BENCH_MAX_THREADS];
    int started = 0;
    for (int t = 0; t < b->threads; t++) {
        workers[t] = (bench_worker){b, t};
        if (pthread_create(&tid[t], NULL, bench_create_thread, &workers[t]) != 0)
            break;
        started++;
    }
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    if (started < b->threads || b->failed) {
        fprintf(stderr, "creating products failed (%ld): %s\n", b->failed,
                started < b->threads ? "cannot start threads" : b->first_error);
        return -1;
    }
    printf("created %ld products (%ld due%s) in %.1f s with %d threads\n", b->created, b->due,
           b->legacy ? ", no nextexpiry hint" : "", bench_seconds() - t0, b->threads);
    fflush(stdout); /* progress, when the output is a file */

    /* A fresh client: its request count is the sweep's alone. */
    blob_client *sweeper = bench_client(connection_string);
    if (!sweeper)
        return -1;
    reconciler_config cfg = {.blob = sweeper, .brokers = brokers, .topic = topic,
                             .container = b->container, .identity = "bench-reconciler"};
    char err[512] = "";
    reconciler *r = reconciler_new(&cfg, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "reconciler_new: %s\n", err);
        blob_client_free(sweeper);
        return -1;
    }
    reconciler_sweep_stats st;
    double started_at = bench_seconds();
    int rc = reconciler_sweep_once(r, 0, &st, err, sizeof(err));
    double seconds = bench_seconds() - started_at;
    long attempts = blob_client_attempts(sweeper);
    reconciler_free(r);
    blob_client_free(sweeper);
    if (rc != 0)
        fprintf(stderr, "sweep: %s\n", err);

    printf("sweep: %zu listed, %zu list requests, %zu state reads (%zu without hint), %zu "
           "expired, %zu published, %zu errors\n",
           st.listed, st.list_requests, st.state_reads, st.unhinted, st.expired, st.published,
           st.errors);
    printf("sweep: %ld storage requests attempted, %.3f s (reconciler's own clock %.3f s)\n",
           attempts, seconds, st.seconds);
    printf("RESULT {\"products\":%ld,\"due\":%ld,\"list_requests\":%zu,\"state_reads\":%zu,"
           "\"seconds\":%.3f}\n",
           b->products, b->due, st.list_requests, st.state_reads, seconds);
    fflush(stdout);
    size_t reads = (size_t)(b->legacy ? b->products : b->due);
    int exact = rc == 0 && st.listed == (size_t)b->products && st.state_reads == reads &&
                st.published == (size_t)b->due;
    if (!exact)
        fprintf(stderr, "sweep did not read %zu products and expire exactly the %ld due ones\n",
                reads, b->due);
    return exact ? 0 : -1;
}

static int bench_parse(const char *text, long min, long max, long *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    long products = 10000, due = 100, threads = 4;
    if (argc > 5 || (argc > 1 && bench_parse(argv[1], 1, 10000000, &products) != 0) ||
        (argc > 2 && bench_parse(argv[2], 0, products, &due) != 0) ||
        (argc > 3 && bench_parse(argv[3], 1, BENCH_MAX_THREADS, &threads) != 0) ||
        (argc > 4 && strcmp(argv[4], "legacy") != 0)) {
        fprintf(stderr, "usage: bench_reconciler [PRODUCTS [DUE [THREADS [legacy]]]]  (DUE <= "
                        "PRODUCTS, THREADS 1..%d)\n",
                BENCH_MAX_THREADS);
        return 2;
    }
    const char *conn =
        bench_env("LEASEHOLD_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true");
    const char *brokers = bench_env("LEASEHOLD_KAFKA_BROKERS", "127.0.0.1:9092");
    log_init("bench_reconciler", LOG_LVL_WARN, 0); /* the sweep's own summary is printed here */
    curl_global_init(CURL_GLOBAL_DEFAULT);

    bench b = {.products = products, .due = due, .threads = (int)threads, .legacy = argc > 4};
    pthread_mutex_init(&b.mu, NULL);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    b.now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    char guid[37], topic[96];
    blob_new_guid(guid);
    snprintf(b.container, sizeof(b.container), "bench-rec-%.8s", guid);
    snprintf(topic, sizeof(topic), "bench.reconciler.%.8s", guid);

    int rc = 1;
    blob_error be;
    b.blob = bench_client(conn);
    if (b.blob && blob_container_create(b.blob, b.container, &be) != BLOB_OK)
        fprintf(stderr, "create container: %s\n", be.message);
    else if (b.blob && bench_topic(brokers, topic, 1) == 0) {
        rc = bench_run(&b, conn, brokers, topic) == 0 ? 0 : 1;
        bench_topic(brokers, topic, 0);
    }
    if (b.blob && blob_container_delete(b.blob, b.container, &be) != BLOB_OK)
        fprintf(stderr, "delete container %s: %s\n", b.container, be.message);
    blob_client_free(b.blob);
    pthread_mutex_destroy(&b.mu);
    curl_global_cleanup();
    return rc;
}
