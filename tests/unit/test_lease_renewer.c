/* test_lease_renewer.c -- the renewal pool really sends renewals in parallel.
 *
 * A fake Blob service (blob_test_server.c, one thread per connection)
 * answers every request with 201, so acquires, epoch stamps and renewals all
 * succeed. After the leases are taken the server's gate holds each request
 * until `renew_concurrency` of them are inside at the same time: a renewer
 * that sent one renewal at a time (one worker, or a shared connection or
 * lock in the blob client) would never open the gate and the test fails.
 * Renewals come one renew interval (1 s) after the acquires; the test waits
 * for the gate on a condition variable, never by sleeping, and asserts
 * counts only. The same gate shows that lease_manager_free releases the
 * leases it still holds renew_concurrency at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "blob_test_server.h"
#include "lease/src/blob_internal.h"
#include "leasehold/lease.h"

/* Generous: only a renewer that never overlaps its requests gets near it. */
#define GATE_TIMEOUT_MS 30000

/* A request abandoned by the client (its timeout) stays counted in flight
 * by the server, so the tests also require that no request failed. */
typedef struct renewer_counts {
    atomic_int renewed;
    atomic_int failed;
    atomic_int released;
    atomic_int lost;
} renewer_counts;

static void on_event(const lease_event *ev, void *opaque)
{
    renewer_counts *c = opaque;
    if (ev->kind == LEASE_EV_RENEWED)
        atomic_fetch_add(&c->renewed, 1);
    else if (ev->kind == LEASE_EV_RENEW_FAILED)
        atomic_fetch_add(&c->failed, 1);
    else if (ev->kind == LEASE_EV_RELEASED)
        atomic_fetch_add(&c->released, 1);
    else if (ev->kind == LEASE_EV_LOST)
        atomic_fetch_add(&c->lost, 1);
}

static blob_client *renewer_client(blob_test_server *s, long request_timeout_ms)
{
    char cs[256];
    snprintf(cs, sizeof cs,
             "BlobEndpoint=http://127.0.0.1:%u/devstoreaccount1;AccountName=devstoreaccount1;"
             "AccountKey=" STORAGE_DEV_KEY,
             blob_test_server_port(s));
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = cs;
    o.request_timeout_ms = request_timeout_ms;
    blob_error e;
    blob_client *c = blob_client_new(&o, &e);
    assert_non_null(c);
    return c;
}

/* A manager on `client` with `concurrency` renewal workers that counts its
 * events into `counts`; with auto_renew, leases of 15 s renewed every 1 s. */
static lease_manager *renewer_manager(blob_client *client, int concurrency, int auto_renew,
                                      renewer_counts *counts)
{
    lease_manager_options o;
    lease_manager_options_init(&o);
    o.duration_s = 15;
    o.renew_interval_ms = 1000;
    o.auto_renew = auto_renew;
    o.renew_concurrency = concurrency;
    o.on_event = on_event;
    o.opaque = counts;
    lease_error err;
    lease_manager *mgr = lease_manager_new(client, &o, &err);
    assert_non_null(mgr);
    return mgr;
}

/* Takes `n` leases named prefix-NN (the fake service grants everything). */
static void renewer_acquire(lease_manager *mgr, const char *prefix, int n)
{
    for (int i = 0; i < n; i++) {
        char name[32];
        lease *l;
        lease_error err;
        snprintf(name, sizeof name, "%s-%02d", prefix, i);
        assert_int_equal(lease_try_acquire(mgr, name, NULL, &l, &err), LEASE_OK);
    }
}

/* Holds `leases` leases on a manager with `concurrency` renewal workers and
 * checks that exactly `concurrency` renewals were in flight at once. */
static void renewer_check_parallel(int concurrency, int leases)
{
    static const blob_test_reply ok[] = {{201, NULL, NULL, NULL}};
    blob_test_server *s = blob_test_server_start(ok, 1);
    blob_client *client = renewer_client(s, 10000);
    renewer_counts counts = {0, 0, 0, 0};
    lease_manager *mgr = renewer_manager(client, concurrency, 1, &counts);
    /* Renewals that start before the gate is set go through unheld; every
     * lease renews again each second, so later ones meet the gate. */
    renewer_acquire(mgr, "parallel", leases);
    blob_test_server_gate(s, concurrency);

    assert_true(blob_test_server_gate_wait(s, GATE_TIMEOUT_MS));
    /* The pool never exceeds its size, and reached it. */
    assert_int_equal(blob_test_server_max_in_flight(s), concurrency);

    lease_manager_free(mgr); /* releases every lease (the server says 201) */
    assert_int_equal(atomic_load(&counts.lost), 0);
    assert_int_equal(atomic_load(&counts.failed), 0);
    assert_int_equal(atomic_load(&counts.released), leases);
    assert_true(atomic_load(&counts.renewed) >= concurrency);
    blob_client_free(client);
    blob_test_server_stop(s);
}

static void test_renewer_runs_four_in_parallel(void **state)
{
    (void)state;
    renewer_check_parallel(4, 12);
}

static void test_renewer_runs_sixteen_in_parallel(void **state)
{
    (void)state;
    renewer_check_parallel(16, 40);
}

/* lease_manager_free releases what is left renew_concurrency at a time.
 * No renewals here (auto_renew off): only releases meet the gate. One after
 * another they would each be held until the 2 s request timeout and the
 * gate would never open. */
static void test_manager_free_releases_in_parallel(void **state)
{
    (void)state;
    static const blob_test_reply ok[] = {{201, NULL, NULL, NULL}};
    blob_test_server *s = blob_test_server_start(ok, 1);
    blob_client *client = renewer_client(s, 2000);
    renewer_counts counts = {0, 0, 0, 0};
    lease_manager *mgr = renewer_manager(client, 4, 0, &counts);
    renewer_acquire(mgr, "release", 12);
    int before = blob_test_server_requests(s);
    blob_test_server_gate(s, 4);

    lease_manager_free(mgr);
    assert_true(blob_test_server_gate_wait(s, 0));
    assert_int_equal(blob_test_server_max_in_flight(s), 4);
    assert_int_equal(blob_test_server_requests(s) - before, 12); /* one release each ... */
    assert_int_equal(atomic_load(&counts.released), 12);          /* ... and none timed out */
    assert_int_equal(atomic_load(&counts.renewed), 0);
    blob_client_free(client);
    blob_test_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_renewer_runs_four_in_parallel),
        cmocka_unit_test(test_renewer_runs_sixteen_in_parallel),
        cmocka_unit_test(test_manager_free_releases_in_parallel),
    };
    return cmocka_run_group_tests(tests, blob_test_curl_setup, blob_test_curl_teardown);
}
