/* test_lease_many.c -- one manager holds 2,000 leases of 15 s for two
 * durations (30 s) against a real Azurite, renewed by its single scheduler,
 * and loses none. Acquisition uses four threads; the timings printed here
 * are informative only (tests/bench/bench_lease.c measures them properly).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "lease_test_util.h"

#define LEASES 2000
#define THREADS 4

typedef struct many {
    lease_manager *mgr;
    lease *l[LEASES];
    atomic_int lost;
    atomic_int renewed;
    atomic_int failed;
    _Atomic int64_t min_remaining; /* closest a renewal came to the old expiry */
} many;

static void on_event(const lease_event *ev, void *opaque)
{
    many *m = opaque;
    if (ev->kind == LEASE_EV_LOST)
        atomic_fetch_add(&m->lost, 1);
    else if (ev->kind == LEASE_EV_RENEWED) {
        atomic_fetch_add(&m->renewed, 1);
        int64_t cur = atomic_load(&m->min_remaining);
        while (ev->remaining_ms < cur &&
               !atomic_compare_exchange_weak(&m->min_remaining, &cur, ev->remaining_ms))
            ;
    }
    else if (ev->kind == LEASE_EV_RENEW_FAILED)
        atomic_fetch_add(&m->failed, 1);
}

/* Warnings (failed renewals, losses) explain a failure; routine lines are dropped. */
static void on_log(int level, const char *line, void *opaque)
{
    (void)opaque;
    if (level <= 4 /* LOG_WARNING */)
        fprintf(stderr, "%s\n", line);
}

typedef struct slice {
    many *m;
    int from, to;
    int errors;
    int64_t slowest_ms; /* longest single acquire */
} slice;

static void *acquire_slice(void *arg)
{
    slice *s = arg;
    for (int i = s->from; i < s->to; i++) {
        char name[32];
        snprintf(name, sizeof(name), "item-%04d", i);
        lease_error err;
        int64_t t0 = lt_now_ms();
        lease_code rc = lease_try_acquire(s->m->mgr, name, NULL, &s->m->l[i], &err);
        if (lt_now_ms() - t0 > s->slowest_ms)
            s->slowest_ms = lt_now_ms() - t0;
        if (rc != LEASE_OK) {
            fprintf(stderr, "acquire %s: %s\n", name, err.message);
            s->errors++;
        }
    }
    return NULL;
}

static lt_env env;
static many m;

/* Teardown runs even when an assertion failed: free what is left and
 * delete the 2,000 blobs. */
static int setup(void **state)
{
    (void)state;
    lt_env_init(&env, "many");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int64_t t1 = lt_now_ms();
    lease_manager_free(m.mgr); /* releases whatever is still held */
    m.mgr = NULL;
    printf("# released the leases in %" PRId64 " ms\n", lt_now_ms() - t1);
    lt_env_cleanup(&env);
    return 0;
}

static void test_lease_many_2000_held_for_two_durations(void **state)
{
    (void)state;
    lease_manager_options o;
    lease_manager_options_init(&o);
    o.container = env.container;
    o.duration_s = 15;
    o.owner_id = "many-owner";
    o.on_event = on_event;
    o.log = on_log;
    o.opaque = &m;
    lease_error err;
    atomic_store(&m.min_remaining, INT64_MAX);
    m.mgr = lease_manager_new(env.client, &o, &err);
    assert_non_null(m.mgr);

    int64_t t0 = lt_now_ms();
    pthread_t t[THREADS];
    slice s[THREADS];
    for (int i = 0; i < THREADS; i++) {
        s[i] = (slice){&m, i * LEASES / THREADS, (i + 1) * LEASES / THREADS, 0, 0};
        pthread_create(&t[i], NULL, acquire_slice, &s[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(s[i].errors, 0);
    }
    int64_t acquired = lt_now_ms(), slowest = 0;
    for (int i = 0; i < THREADS; i++)
        slowest = s[i].slowest_ms > slowest ? s[i].slowest_ms : slowest;
    printf("# %d leases acquired in %" PRId64 " ms, slowest single acquire %" PRId64 " ms\n",
           LEASES, acquired - t0, slowest);
    assert_int_equal(lease_manager_held_count(m.mgr), LEASES);

    /* Two full durations after the last acquire, polling for losses. */
    while (lt_now_ms() - acquired < 30000) {
        assert_int_equal(atomic_load(&m.lost), 0);
        lt_sleep_ms(500);
    }
    assert_int_equal(atomic_load(&m.lost), 0);
    assert_int_equal(lease_manager_held_count(m.mgr), LEASES);
    uint64_t min_renewals = UINT64_MAX;
    for (int i = 0; i < LEASES; i++) {
        assert_true(lease_is_held(m.l[i]));
        uint64_t n = lease_renewal_count(m.l[i]);
        if (n < min_renewals)
            min_renewals = n;
    }
    printf("# %d renewals in 30 s, %d failed attempts, fewest renewals of one lease %" PRIu64
           ", least time left before expiry at a renewal %" PRId64 " ms\n",
           atomic_load(&m.renewed), atomic_load(&m.failed), min_renewals,
           atomic_load(&m.min_remaining));
    /* Every lease renewed at least once: none rode on its first term. */
    assert_true(min_renewals >= 1);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lease_many_2000_held_for_two_durations, setup,
                                        teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
