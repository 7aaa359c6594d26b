/* bench_state.c -- what a product state costs to write and to load, in both
 * layouts (storage.state_layout v1 and paged), against a real service.
 *
 *   bench_state [RESERVATIONS [BATCHES [PER_BATCH]]]     (defaults 100000 20 100)
 *
 * For each layout it builds a state of RESERVATIONS active reservations and
 * a full ledger, takes the lease of its own blob in a private container and
 * writes it with state_blob_write (the processor's write path); then it runs
 * BATCHES batches of PER_BATCH new reservations (each also a ledger entry),
 * one fenced write each, and reports the bytes and requests per batch and
 * the write time. Then it releases the lease and, like a new owner, a fresh
 * client and lease manager acquire the lease and read and decode the blob:
 * wall time and storage requests of that acquire + load. Last lines:
 *   RESULT {"layout":..,"reservations":..,"blob_bytes":..,"batch_bytes":..,
 *           "batch_requests":..,"write_ms":..,"load_ms":..,"load_requests":..}
 * Timings are measured here, never asserted by a test. Deletes its container.
 *
 * LEASEHOLD_STORAGE_CONNECTION_STRING (default UseDevelopmentStorage=true);
 * use a private Azurite for 100,000 reservations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "lease/src/blob_internal.h" /* blob_client_attempts */
#include "leasehold/inventory_schema.h"
#include "leasehold/lease.h"
#include "metrics.h"
#include "state_blob.h"

static double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static blob_client *bench_client(void)
{
    const char *cs = getenv("LEASEHOLD_STORAGE_CONNECTION_STRING");
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = cs && *cs ? cs : "UseDevelopmentStorage=true";
    o.request_timeout_ms = 120000;
    blob_error e;
    blob_client *c = blob_client_new(&o, &e);
    if (!c)
        fprintf(stderr, "blob client: %s\n", e.message);
    return c;
}

static void bench_reservation(inv_reservation *r, size_t i)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->reservation_id, sizeof(r->reservation_id), "R-%024zx", i);
    snprintf(r->customer_id, sizeof(r->customer_id), "customer-%zu", i % 5000);
    r->quantity = 1;
    r->created_at_ms = 1764300000000LL + (int64_t)i;
    r->expires_at_ms = r->created_at_ms + 1800000;
}

static void bench_ledger(inv_state *st, size_t i)
{
    inv_event ev = {.type = INV_EV_RESERVATION_CREATED, .quantity = 1};
    snprintf(ev.command_id, sizeof(ev.command_id), "cmd-%zu", i);
    inv_event_id(ev.command_id, ev.type, ev.event_id);
    snprintf(ev.reservation_id, sizeof(ev.reservation_id), "R-%024zx", i);
    snprintf(ev.customer_id, sizeof(ev.customer_id), "customer-%zu", i % 5000);
    snprintf(ev.message, sizeof(ev.message), "Successfully reserved 1 units of PROD-BENCH");
    ev.expires_at_ms = 1764301800000LL + (int64_t)i;
    inv_state_ledger_add(st, &ev, 1764300000000LL + (int64_t)i);
}

/* n reservations set directly (adding one by one checks for duplicates,
 * which is quadratic), a full ledger and one offset. */
static int bench_build(inv_state *st, size_t n)
{
    inv_state_init(st, "PROD-BENCH");
    st->reservations = calloc(n ? n : 1, sizeof(*st->reservations));
    if (!st->reservations)
        return -1;
    st->cap_reservations = n ? n : 1;
    for (size_t i = 0; i < n; i++)
        bench_reservation(&st->reservations[i], i);
    st->n_reservations = n;
    st->reserved = (long long)n;
    st->available = 10000000;
    st->total = st->available + st->reserved;
    for (size_t i = 0; i < INV_LEDGER_MAX; i++)
        bench_ledger(st, n + i);
    return inv_state_offset_set(st, "inventory.reservations", 0, 1);
}

static double bench_counter(const char *name)
{
    return metrics_value(metrics_find(metrics_default(), name), NULL);
}

typedef struct bench_result {
    size_t blob_bytes;
    double batch_bytes, batch_requests, write_ms, load_ms;
    long load_requests;
    size_t loaded;
} bench_result;

static int bench_write(lease *l, inv_state *st, int v1)
{
    blob_meta meta = {0};
    state_blob_meta_set_next_expiry(&meta, st);
    lease_error err;
    if (state_blob_write(l, st, v1, 131072, &meta, &err) != LEASE_OK) {
        fprintf(stderr, "write: %s\n", err.message);
        return -1;
    }
    return 0;
}

static lease_manager *bench_manager(blob_client *c)
{
    lease_manager_options lo;
    lease_manager_options_init(&lo);
    lo.duration_s = 60;
    lease_error err;
    lease_manager *m = lease_manager_new(c, &lo, &err);
    if (!m)
        fprintf(stderr, "lease manager: %s\n", err.message);
    return m;
}

/* A new owner: acquire, read, decode (a fresh client and manager). */
static int bench_load(const char *container, const char *blob, bench_result *res)
{
    blob_client *c = bench_client();
    lease_manager *m = c ? bench_manager(c) : NULL;
    if (!m) {
        blob_client_free(c);
        return -1;
    }
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.container = container;
    ao.blob = blob;
    lease *l = NULL;
    lease_error err;
    long requests0 = blob_client_attempts(c);
    double t0 = bench_now_ms();
    char *data = NULL;
    size_t len = 0;
    inv_state st;
    char msg[256];
    int rc = -1;
    if (lease_try_acquire(m, blob, &ao, &l, &err) == LEASE_OK &&
        lease_read(l, &data, &len, NULL, &err) == LEASE_OK &&
        inv_state_decode(data, len, &st, msg, sizeof(msg)) == 0) {
        res->load_ms = bench_now_ms() - t0;
        res->load_requests = blob_client_attempts(c) - requests0;
        res->loaded = st.n_reservations;
        inv_state_clear(&st);
        rc = 0;
    } else {
        fprintf(stderr, "load: %s\n", err.message);
    }
    free(data);
    if (l) {
        lease_release(l, &err);
        lease_free(l);
    }
    lease_manager_free(m);
    blob_client_free(c);
    return rc;
}

static int bench_layout(blob_client *c, lease_manager *m, const char *container, int v1,
                        size_t n, size_t batches, size_t per_batch, bench_result *res)
{
    const char *blob = v1 ? "v1.json" : "paged.json";
    inv_state st;
    if (bench_build(&st, n) != 0)
        return -1;
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.container = container;
    ao.blob = blob;
    ao.create_if_missing = 1;
    lease *l = NULL;
    lease_error err;
    int rc = -1;
    if (lease_try_acquire(m, blob, &ao, &l, &err) != LEASE_OK) {
        fprintf(stderr, "acquire: %s\n", err.message);
        goto out;
    }
    if (bench_write(l, &st, v1) != 0)
        goto out;
    double bytes0 = bench_counter("leasehold_state_bytes_written_total");
    double req0 = bench_counter("leasehold_state_write_requests_total");
    double t0 = bench_now_ms();
    size_t next = n + INV_LEDGER_MAX;
    for (size_t b = 0; b < batches; b++) {
        for (size_t i = 0; i < per_batch; i++, next++) {
            inv_reservation r;
            bench_reservation(&r, next);
            if (inv_state_add_reservation(&st, &r) != 0)
                goto out;
            st.reserved++;
            st.available--;
            bench_ledger(&st, next);
        }
        if (bench_write(l, &st, v1) != 0)
            goto out;
    }
    res->write_ms = (bench_now_ms() - t0) / (double)(batches ? batches : 1);
    res->batch_bytes =
        (bench_counter("leasehold_state_bytes_written_total") - bytes0) / (double)batches;
    res->batch_requests =
        (bench_counter("leasehold_state_write_requests_total") - req0) / (double)batches;
    blob_props props;
    blob_error be;
    if (blob_get_properties(c, container, blob, NULL, &props, &be) == BLOB_OK)
        res->blob_bytes = (size_t)props.content_length;
    lease_release(l, &err);
    rc = bench_load(container, blob, res);
    if (rc == 0 && res->loaded != st.n_reservations) {
        fprintf(stderr, "load: %zu reservations, wrote %zu\n", res->loaded, st.n_reservations);
        rc = -1;
    }
out:
    lease_free(l);
    inv_state_clear(&st);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    size_t batches = argc > 2 ? strtoul(argv[2], NULL, 10) : 20;
    size_t per_batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 100;
    if (batches == 0 || per_batch == 0) {
        fprintf(stderr, "usage: bench_state [RESERVATIONS [BATCHES [PER_BATCH]]]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    blob_client *c = bench_client();
    lease_manager *m = c ? bench_manager(c) : NULL;
    char container[64], guid[37];
    blob_new_guid(guid);
    snprintf(container, sizeof(container), "benchstate-%.8s", guid);
    blob_error be;
    int rc = 1;
    if (m && blob_container_create(c, container, &be) == BLOB_OK) {
        rc = 0;
        for (int v1 = 1; v1 >= 0 && rc == 0; v1--) {
            bench_result r;
            memset(&r, 0, sizeof(r));
            if (bench_layout(c, m, container, v1, n, batches, per_batch, &r) != 0) {
                rc = 1;
                break;
            }
            printf("%-5s %zu reservations: blob %zu bytes; per batch of %zu: %.0f bytes in %.1f "
                   "requests, %.1f ms; new owner: acquire + read + decode %.0f ms in %ld requests\n",
                   v1 ? "v1" : "paged", n, r.blob_bytes, per_batch, r.batch_bytes,
                   r.batch_requests, r.write_ms, r.load_ms, r.load_requests);
            printf("RESULT {\"layout\":\"%s\",\"reservations\":%zu,\"blob_bytes\":%zu,"
                   "\"batch_bytes\":%.0f,\"batch_requests\":%.1f,\"write_ms\":%.1f,"
                   "\"load_ms\":%.0f,\"load_requests\":%ld}\n",
                   v1 ? "v1" : "paged", n, r.blob_bytes, r.batch_bytes, r.batch_requests,
                   r.write_ms, r.load_ms, r.load_requests);
        }
        blob_container_delete(c, container, &be);
    }
    lease_manager_free(m);
    blob_client_free(c);
    curl_global_cleanup();
    return rc;
}
