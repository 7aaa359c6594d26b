/* test_dispatcher.c -- unit tests for worker/dispatcher.c: per-key order,
 * one batch at a time per key, retry of unconsumed items, idle release.
 * Completion is awaited with dispatcher_wait_drained (a condition), never
 * by sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatcher.h"
#include "worker_time.h"

#define KEYS 8
#define PER_KEY 500

typedef struct item {
    int key;
    int seq;
} item;

typedef struct record {
    pthread_mutex_t mu;
    int next_seq[KEYS]; /* per key: the seq expected next */
    int out_of_order;
    int running[KEYS]; /* concurrent process calls per key */
    int overlap;
    int batches;
    int max_batch;
    int refuse_first[KEYS]; /* process consumes nothing this many times */
    int refuse_retry_ms;    /* the delay a refusal asks for (0: 5 ms) */
    int idle_calls;
    unsigned idle_keys; /* bit k: key k's slot was released */
    int slots_filled;
} record;

static size_t rec_process(const char *key, void **slot, void *const *items, size_t n, int *retry_ms,
                          void *opaque) {
    record *r = opaque;
    int k = atoi(key);
    pthread_mutex_lock(&r->mu);
    if (r->running[k]++ > 0)
        r->overlap = 1;
    if (r->refuse_first[k] > 0) {
        r->refuse_first[k]--;
        r->running[k]--;
        pthread_mutex_unlock(&r->mu);
        *retry_ms = r->refuse_retry_ms > 0 ? r->refuse_retry_ms : 5;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const item *it = items[i];
        if (it->seq != r->next_seq[k])
            r->out_of_order = 1;
        r->next_seq[k] = it->seq + 1;
    }
    r->batches++;
    if ((int)n > r->max_batch)
        r->max_batch = (int)n;
    if (*slot == NULL) {
        *slot = r; /* any non-NULL marker: "holding the lease" */
        r->slots_filled++;
    }
    r->running[k]--;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void rec_idle(const char *key, void **slot, void *opaque) {
    record *r = opaque;
    pthread_mutex_lock(&r->mu);
    r->idle_calls++;
    r->idle_keys |= 1u << atoi(key);
    pthread_mutex_unlock(&r->mu);
    *slot = NULL;
}

static void rec_free_item(void *it, void *opaque) {
    (void)opaque;
    free(it);
}

static dispatcher *make_capped(record *r, int threads, int64_t idle_ms, size_t max_slots) {
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    dispatcher_ops ops = {rec_process, rec_idle, rec_free_item, r};
    return dispatcher_new(threads, idle_ms, max_slots, &ops);
}

static dispatcher *make(record *r, int threads, int64_t idle_ms) {
    return make_capped(r, threads, idle_ms, SIZE_MAX);
}

/* Waits (bounded) until `want` idle calls were made; the housekeeper makes
 * them on its own schedule, so this is a condition awaited, not a delay. */
static int await_idle_calls(record *r, int want) {
    for (int i = 0; i < 10000; i++) {
        pthread_mutex_lock(&r->mu);
        int got = r->idle_calls;
        pthread_mutex_unlock(&r->mu);
        if (got >= want)
            return got;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void submit(dispatcher *d, int key, int seq) {
    item *it = malloc(sizeof(*it));
    it->key = key;
    it->seq = seq;
    char name[8];
    snprintf(name, sizeof(name), "%d", key);
    assert_int_equal(dispatcher_submit(d, name, it), 0);
}

static void test_dispatcher_submit_keeps_per_key_order(void **state) {
    (void)state;
    record r;
    dispatcher *d = make(&r, 4, 60000);
    for (int s = 0; s < PER_KEY; s++)
        for (int k = 0; k < KEYS; k++)
            submit(d, k, s);
    assert_int_equal(dispatcher_wait_drained(d, NULL, NULL, 30000), 0);
    assert_int_equal(r.out_of_order, 0);
    assert_int_equal(r.overlap, 0);
    for (int k = 0; k < KEYS; k++)
        assert_int_equal(r.next_seq[k], PER_KEY);
    assert_true(r.batches <= KEYS * PER_KEY);
    assert_int_equal(dispatcher_queued(d), 0);
    assert_int_equal(r.slots_filled, KEYS);
    dispatcher_free(d); /* releases every filled slot */
    assert_int_equal(r.idle_calls, KEYS);
}

static void test_dispatcher_process_retry_keeps_items(void **state) {
    (void)state;
    record r;
    dispatcher *d = make(&r, 2, 60000);
    r.refuse_first[1] = 3; /* key 1 "cannot get its lease" three times */
    for (int s = 0; s < 10; s++) {
        submit(d, 1, s);
        submit(d, 2, s);
    }
    assert_int_equal(dispatcher_wait_drained(d, NULL, NULL, 30000), 0);
    assert_int_equal(r.refuse_first[1], 0);
    assert_int_equal(r.next_seq[1], 10);
    assert_int_equal(r.next_seq[2], 10);
    assert_int_equal(r.out_of_order, 0);
    dispatcher_free(d);
}

static int match_key(const void *it, void *arg) {
    return ((const item *)it)->key == *(int *)arg;
}

static void test_dispatcher_drop_removes_matching(void **state) {
    (void)state;
    record r;
    dispatcher *d = make(&r, 1, 60000);
    r.refuse_first[3] = 1000000; /* key 3 never makes progress */
    for (int s = 0; s < 5; s++) {
        submit(d, 3, s);
        submit(d, 4, s);
    }
    int key = 3;
    assert_int_equal(dispatcher_wait_drained(d, match_key, &(int){4}, 30000), 0);
    assert_int_equal(dispatcher_wait_drained(d, match_key, &key, 50), -1);
    /* A running batch keeps its items; wait until key 3 is between tries. */
    size_t dropped = 0;
    while (dropped < 5)
        dropped += dispatcher_drop(d, match_key, &key);
    assert_int_equal(dropped, 5);
    assert_int_equal(dispatcher_queued(d), 0);
    dispatcher_free(d);
}

static void test_dispatcher_release_idle_releases_slots(void **state) {
    (void)state;
    record r;
    dispatcher *d = make(&r, 2, 3600000);
    for (int k = 0; k < 3; k++)
        submit(d, k, 0);
    assert_int_equal(dispatcher_wait_drained(d, NULL, NULL, 30000), 0);
    dispatcher_release_idle(d, NULL, NULL, 30000);
    pthread_mutex_lock(&r.mu);
    assert_int_equal(r.idle_calls, 3);
    pthread_mutex_unlock(&r.mu);
    dispatcher_free(d);
    assert_int_equal(r.idle_calls, 3); /* nothing left to release */
}

static int slot_of_odd_key(const void *slot, void *arg) {
    (void)arg;
    return ((const int *)slot)[0] % 2 == 1;
}

static size_t key_slot_process(const char *key, void **slot, void *const *items, size_t n,
                               int *retry_ms, void *opaque) {
    (void)items;
    (void)retry_ms;
    (void)opaque;
    if (*slot == NULL) {
        int *k = malloc(sizeof(*k));
        *k = atoi(key);
        *slot = k;
    }
    return n;
}

static void key_slot_idle(const char *key, void **slot, void *opaque) {
    record *r = opaque;
    pthread_mutex_lock(&r->mu);
    r->idle_calls++;
    r->idle_keys |= 1u << atoi(key);
    pthread_mutex_unlock(&r->mu);
    free(*slot);
    *slot = NULL;
}

/* A release with a match lets exactly the selected idle slots go (the
 * worker releases the products of revoked partitions only). */
static void test_dispatcher_release_idle_matching_only(void **state) {
    (void)state;
    record r;
    memset(&r, 0, sizeof(r));
    pthread_mutex_init(&r.mu, NULL);
    dispatcher_ops ops = {key_slot_process, key_slot_idle, rec_free_item, &r};
    dispatcher *d = dispatcher_new(2, 3600000, SIZE_MAX, &ops);
    for (int k = 0; k < 6; k++)
        submit(d, k, 0);
    assert_int_equal(dispatcher_wait_drained(d, NULL, NULL, 30000), 0);
    dispatcher_release_idle(d, slot_of_odd_key, NULL, 30000);
    pthread_mutex_lock(&r.mu);
    assert_int_equal(r.idle_calls, 3);
    assert_int_equal(r.idle_keys, (1u << 1) | (1u << 3) | (1u << 5));
    pthread_mutex_unlock(&r.mu);
    dispatcher_free(d);
    assert_int_equal(r.idle_calls, 6);
}

/* Above max_slots the longest-idle slots are released early, the newest
 * kept, long before idle_ms. */
static void test_dispatcher_cap_releases_longest_idle(void **state) {
    (void)state;
    record r;
    dispatcher *d = make_capped(&r, 2, 3600000, 3);
    for (int k = 0; k < KEYS; k++) {
        submit(d, k, 0);
        assert_int_equal(dispatcher_wait_drained(d, NULL, NULL, 30000), 0);
        /* distinct idle times: let the millisecond clock move on */
        int64_t drained = worker_time_mono_ms();
        while (worker_time_mono_ms() <= drained + 1)
            ;
    }
    assert_int_equal(await_idle_calls(&r, KEYS - 3), KEYS - 3);
    pthread_mutex_lock(&r.mu);
    assert_int_equal(r.idle_keys, (1u << (KEYS - 3)) - 1); /* keys 0..4: the oldest */
    pthread_mutex_unlock(&r.mu);
    dispatcher_free(d);
    assert_int_equal(r.idle_calls, KEYS); /* the three kept are released at the end */
}

/* Waits (bounded) until key `k` has used up its refusals. */
static int await_refusals_done(record *r, int k) {
    for (int i = 0; i < 10000; i++) {
        pthread_mutex_lock(&r->mu);
        int left = r->refuse_first[k];
        pthread_mutex_unlock(&r->mu);
        if (left == 0)
            return 0;
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* A key waiting out a long retry delay (a blocked product) runs at once when
 * woken, whether the wake comes while it waits or while its run is still
 * settling; a key with nothing queued cannot be woken. */
static void test_dispatcher_wake_runs_waiting_key_now(void **state) {
    (void)state;
    record r;
    dispatcher *d = make(&r, 1, 60000);
    r.refuse_first[5] = 1;
    r.refuse_retry_ms = 3600000; /* an hour: only a wake makes it run again */
    submit(d, 5, 0);
    submit(d, 5, 1);
    assert_int_equal(await_refusals_done(&r, 5), 0);
    assert_int_equal(dispatcher_key_queued(d, "5"), 2);
    assert_int_equal(dispatcher_key_queued(d, "6"), 0);
    assert_int_equal(dispatcher_wake(d, "6"), -1);
    assert_int_equal(dispatcher_wake(d, "5"), 0);
    assert_int_equal(dispatcher_wait_drained(d, NULL, NULL, 30000), 0);
    assert_int_equal(r.next_seq[5], 2);
    assert_int_equal(r.out_of_order, 0);
    assert_int_equal(dispatcher_key_queued(d, "5"), 0);
    assert_int_equal(dispatcher_wake(d, "5"), -1);
    dispatcher_free(d);
}

/* Drains skip what the caller's matcher excludes (the worker excludes
 * blocked products): a key that never makes progress does not hold them. */
static int match_not_key(const void *it, void *arg) {
    return ((const item *)it)->key != *(int *)arg;
}

static void test_dispatcher_wait_drained_skips_excluded_key(void **state) {
    (void)state;
    record r;
    dispatcher *d = make(&r, 2, 60000);
    r.refuse_first[2] = 1000000;
    r.refuse_retry_ms = 3600000;
    for (int s = 0; s < 3; s++) {
        submit(d, 2, s);
        submit(d, 3, s);
    }
    int blocked = 2;
    assert_int_equal(dispatcher_wait_drained(d, match_not_key, &blocked, 30000), 0);
    assert_int_equal(r.next_seq[3], 3);
    assert_int_equal(dispatcher_key_queued(d, "2"), 3); /* still queued, not skipped */
    assert_int_equal(dispatcher_queued(d), 3);
    dispatcher_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatcher_submit_keeps_per_key_order),
        cmocka_unit_test(test_dispatcher_process_retry_keeps_items),
        cmocka_unit_test(test_dispatcher_drop_removes_matching),
        cmocka_unit_test(test_dispatcher_release_idle_releases_slots),
        cmocka_unit_test(test_dispatcher_cap_releases_longest_idle),
        cmocka_unit_test(test_dispatcher_release_idle_matching_only),
        cmocka_unit_test(test_dispatcher_wake_runs_waiting_key_now),
        cmocka_unit_test(test_dispatcher_wait_drained_skips_excluded_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
