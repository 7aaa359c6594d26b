/* test_lease_azurite.c -- the lease engine against a real Azurite:
 * contention, release and re-acquire, acquire with timeout, loss by break
 * (callback and local refusal), the service-side fence (412), epochs and
 * metadata, explicit data blobs, manager teardown and in-process election.
 * Each test uses its own container and deletes it afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "lease_test_util.h"

static int setup(void **state)
{
    lt_env *env = calloc(1, sizeof(*env));
    lt_env_init(env, "az");
    *state = env;
    return 0;
}

static int teardown(void **state)
{
    lt_env_cleanup(*state);
    free(*state);
    return 0;
}

/* ---- contention ---------------------------------------------------------- */

typedef struct racer {
    lease_manager *mgr;
    pthread_barrier_t *start;
    lease *l;
    lease_code rc;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    lease_error err;
    pthread_barrier_wait(r->start);
    r->rc = lease_try_acquire(r->mgr, "contended", NULL, &r->l, &err);
    if (r->rc != LEASE_OK && r->rc != LEASE_HELD_ELSEWHERE)
        fprintf(stderr, "race: %s\n", err.message);
    return NULL;
}

static void test_lease_try_acquire_two_managers_one_wins(void **state)
{
    lt_env *env = *state;
    racer r[2] = {{lt_manager(env, 15, "owner-a"), NULL, NULL, LEASE_ERR_INVALID},
                  {lt_manager(env, 15, "owner-b"), NULL, NULL, LEASE_ERR_INVALID}};
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        r[i].start = &start;
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);

    int winners = (r[0].rc == LEASE_OK) + (r[1].rc == LEASE_OK);
    int losers = (r[0].rc == LEASE_HELD_ELSEWHERE) + (r[1].rc == LEASE_HELD_ELSEWHERE);
    assert_int_equal(winners, 1);
    assert_int_equal(losers, 1);
    racer *w = r[0].rc == LEASE_OK ? &r[0] : &r[1];
    racer *other = w == &r[0] ? &r[1] : &r[0];
    assert_null(other->l);
    assert_int_equal(lease_epoch(w->l), 1);
    assert_int_equal(strlen(lease_id(w->l)), 36);
    assert_true(lease_is_held(w->l));

    lease_status st;
    assert_int_equal(lease_get_status(other->mgr, "contended", NULL, &st, NULL), LEASE_OK);
    assert_int_equal(st.exists, 1);
    assert_int_equal(st.leased, 1);
    assert_string_equal(st.state, "leased");
    assert_string_equal(st.owner, lease_manager_owner_id(w->mgr));
    assert_int_equal(st.epoch, 1);
    assert_int_equal(st.duration_s, 15);

    lease_free(w->l);
    assert_int_equal(lease_manager_held_count(w->mgr), 0);
    lease_manager_free(r[0].mgr);
    lease_manager_free(r[1].mgr);
}

/* ---- release, re-acquire, idempotence ------------------------------------- */

static void test_lease_release_then_acquire_by_other(void **state)
{
    lt_env *env = *state;
    lease_manager *a = lt_manager(env, 15, "owner-a");
    lease_manager *b = lt_manager(env, 15, "owner-b");
    lease *la = NULL, *lb = NULL;
    lease_error err;
    assert_int_equal(lease_try_acquire(a, "handoff", NULL, &la, &err), LEASE_OK);
    assert_int_equal(lease_manager_held_count(a), 1);
    assert_int_equal(lease_release(la, &err), LEASE_OK);
    assert_int_equal(lease_manager_held_count(a), 0);
    assert_false(lease_is_held(la));
    assert_int_equal(lease_try_acquire(b, "handoff", NULL, &lb, &err), LEASE_OK);
    assert_int_equal(lease_epoch(lb), 2);
    /* Releasing again is a no-op, and the released handle cannot write. */
    assert_int_equal(lease_release(la, &err), LEASE_OK);
    assert_int_equal(lease_write(la, "x", 1, "text/plain", NULL, &err), LEASE_ERR_LOST);
    assert_int_equal(err.storage.code, BLOB_OK); /* refused locally, no request */
    char who[64];
    assert_int_equal(lease_leader(a, "handoff", who, sizeof(who), &err), LEASE_OK);
    assert_string_equal(who, "owner-b");
    lease_free(la);
    lease_free(lb);
    assert_int_equal(lease_leader(a, "handoff", who, sizeof(who), &err), LEASE_ERR_NOT_FOUND);
    lease_manager_free(a);
    lease_manager_free(b);
}

static void test_lease_infinite_lease_is_never_scheduled(void **state)
{
    lt_env *env = *state;
    lease_manager *m = lt_manager(env, 15, "owner-a");
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.duration_s = -1;
    lease *l = NULL;
    lease_error err;
    assert_int_equal(lease_try_acquire(m, "forever", &ao, &l, &err), LEASE_OK);
    assert_true(lease_expiry_ms(l) == INT64_MAX);
    assert_true(lease_remaining_ms(l) == INT64_MAX);
    assert_true(lease_is_held(l));
    assert_int_equal(lease_renew(l, &err), LEASE_OK); /* a manual renew still works */
    assert_int_equal(lease_renewal_count(l), 1);
    assert_int_equal(lease_write(l, "x", 1, "text/plain", NULL, &err), LEASE_OK);
    lease_free(l);
    lease_status st;
    assert_int_equal(lease_get_status(m, "forever", NULL, &st, &err), LEASE_OK);
    assert_int_equal(st.leased, 0);
    assert_int_equal(st.duration_s, -1); /* recorded by the acquire and the write */
    lease_manager_free(m);
}

/* ---- acquire with timeout -------------------------------------------------- */

typedef struct delayed_release {
    lease *l;
    int64_t delay_ms;
} delayed_release;

static void *release_later(void *arg)
{
    delayed_release *d = arg;
    lt_sleep_ms(d->delay_ms); /* the scenario: the holder finishes its work later */
    lease_release(d->l, NULL);
    return NULL;
}

static void test_lease_acquire_times_out_then_succeeds_after_release(void **state)
{
    lt_env *env = *state;
    lease_manager *a = lt_manager(env, 15, "owner-a");
    lease_manager *b = lt_manager(env, 15, "owner-b");
    lease *la = NULL, *lb = NULL;
    lease_error err;
    assert_int_equal(lease_try_acquire(a, "queue", NULL, &la, &err), LEASE_OK);
    assert_int_equal(lease_acquire(b, "queue", NULL, 1000, &lb, &err), LEASE_ERR_TIMEOUT);
    assert_null(lb);
    assert_non_null(strstr(err.message, "not acquired within 1000 ms"));

    delayed_release d = {la, 1500};
    pthread_t t;
    pthread_create(&t, NULL, release_later, &d);
    assert_int_equal(lease_acquire(b, "queue", NULL, 20000, &lb, &err), LEASE_OK);
    pthread_join(t, NULL);
    assert_int_equal(lease_epoch(lb), 2);
    assert_true(lease_is_held(lb));
    lease_free(la);
    lease_free(lb);
    lease_manager_free(a);
    lease_manager_free(b);
}

/* ---- loss ------------------------------------------------------------------ */

static void test_lease_break_fires_lost_within_one_interval(void **state)
{
    lt_env *env = *state;
    lease_manager *a = lt_manager(env, 15, "owner-a");
    lease_manager *ops = lt_manager(env, 15, "operator");
    lt_recorder rec;
    lt_recorder_init(&rec);
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.callbacks = lt_recorder_callbacks(&rec);
    lease *la = NULL;
    lease_error err;
    assert_int_equal(lease_try_acquire(a, "victim", &ao, &la, &err), LEASE_OK);
    assert_int_equal(lease_break(ops, "victim", NULL, -1, &err), LEASE_OK);
    /* The next scheduled renewal (7 s for a 15 s lease) learns of the break:
     * await the callback for one renew interval plus request slack. */
    assert_int_equal(lt_await_lost(&rec, 7000 + 3000), 1);
    assert_int_equal(rec.reason, LEASE_LOST_BROKEN);
    assert_int_equal(rec.renewed, 0);
    assert_false(lease_is_held(la));
    assert_true(lease_remaining_ms(la) <= 0);
    assert_int_equal(lease_manager_held_count(a), 0);
    assert_int_equal(lease_write(la, "late", 4, "text/plain", NULL, &err), LEASE_ERR_LOST);
    assert_int_equal(err.storage.code, BLOB_OK); /* no request was sent */
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(lease_read(la, &data, &len, NULL, &err), LEASE_ERR_LOST);
    assert_null(data);
    lease_free(la);
    lt_recorder_destroy(&rec);
    lease_manager_free(a);
    lease_manager_free(ops);
}

static void test_lease_write_fenced_by_service_marks_lost(void **state)
{
    lt_env *env = *state;
    lease_manager *a = lt_manager(env, 15, "owner-a");
    lease_manager *b = lt_manager(env, 15, "owner-b");
    lt_recorder rec;
    lt_recorder_init(&rec);
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.callbacks = lt_recorder_callbacks(&rec);
    lease *la = NULL, *lb = NULL;
    lease_error err;
    assert_int_equal(lease_try_acquire(a, "fence", &ao, &la, &err), LEASE_OK);
    assert_int_equal(lease_write(la, "from-a", 6, "text/plain", NULL, &err), LEASE_OK);
    /* B breaks and takes the lease; A has not renewed yet, so it still
     * believes it holds: only the service can stop its write. */
    assert_int_equal(lease_break(b, "fence", NULL, -1, &err), LEASE_OK);
    assert_int_equal(lease_try_acquire(b, "fence", NULL, &lb, &err), LEASE_OK);
    assert_int_equal(lease_epoch(lb), 2);
    assert_true(lease_is_held(la));
    assert_int_equal(lease_write(la, "stale", 5, "text/plain", NULL, &err), LEASE_ERR_LOST);
    assert_int_equal(err.storage.http_status, 412);
    assert_string_equal(err.storage.storage_code, "LeaseIdMismatchWithBlobOperation");
    assert_int_equal(rec.lost, 1);
    assert_int_equal(rec.reason, LEASE_LOST_TAKEN);
    assert_false(lease_is_held(la));

    char *data = NULL;
    size_t len = 0;
    blob_meta meta;
    assert_int_equal(lease_read(lb, &data, &len, &meta, &err), LEASE_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(data, "from-a", 6);
    assert_string_equal(blob_meta_get(&meta, "leaseholdepoch"), "2");
    assert_string_equal(blob_meta_get(&meta, "leaseholdowner"), "owner-b");
    free(data);
    lease_free(la);
    lease_free(lb);
    lt_recorder_destroy(&rec);
    lease_manager_free(a);
    lease_manager_free(b);
}

/* lease_write_blocks: every request carries the lease id; the second
 * write keeps a committed block by id; once B took the lease, A's Put Block
 * gets 412, A's handle is lost and the blob keeps B's view of it. */
static void test_lease_write_blocks_fenced_by_service_marks_lost(void **state)
{
    lt_env *env = *state;
    lease_manager *a = lt_manager(env, 15, "owner-a");
    lease_manager *b = lt_manager(env, 15, "owner-b");
    lt_recorder rec;
    lt_recorder_init(&rec);
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.callbacks = lt_recorder_callbacks(&rec);
    lease *la = NULL, *lb = NULL;
    lease_error err;
    char id0[BLOB_BLOCK_ID_MAX], id1[BLOB_BLOCK_ID_MAX], id2[BLOB_BLOCK_ID_MAX];
    blob_block_id(0, id0);
    blob_block_id(1, id1);
    blob_block_id(2, id2);
    assert_int_equal(lease_try_acquire(a, "fence-blocks", &ao, &la, &err), LEASE_OK);
    lease_block first[] = {{id0, "head-0|", 7}, {id1, "page-1", 6}};
    const char *ids[] = {id0, id1};
    blob_meta m = {0};
    assert_int_equal(blob_meta_set(&m, "nextexpiry", "none"), BLOB_OK);
    size_t requests = 0, bytes = 0;
    assert_int_equal(lease_write_blocks(la, first, 2, ids, 2, "application/json", &m, &requests,
                                        &bytes, &err),
                     LEASE_OK);
    assert_int_equal(requests, 3);
    assert_int_equal(bytes, 13 + blob_block_list_body_len(2, 32));
    /* Only the head changes: one Put Block, the page kept by id. */
    lease_block second[] = {{id2, "head-2|", 7}};
    const char *ids2[] = {id2, id1};
    assert_int_equal(lease_write_blocks(la, second, 1, ids2, 2, "application/json", &m, &requests,
                                        NULL, &err),
                     LEASE_OK);
    assert_int_equal(requests, 2);
    char *data = NULL;
    size_t len = 0;
    blob_meta meta;
    assert_int_equal(lease_read(la, &data, &len, &meta, &err), LEASE_OK);
    assert_int_equal(len, 13);
    assert_memory_equal(data, "head-2|page-1", 13);
    assert_string_equal(blob_meta_get(&meta, "nextexpiry"), "none");
    assert_string_equal(blob_meta_get(&meta, "leaseholdepoch"), "1");
    free(data);

    assert_int_equal(lease_break(b, "fence-blocks", NULL, -1, &err), LEASE_OK);
    assert_int_equal(lease_try_acquire(b, "fence-blocks", NULL, &lb, &err), LEASE_OK);
    assert_true(lease_is_held(la));
    assert_int_equal(lease_write_blocks(la, first, 2, ids, 2, "application/json", &m, &requests,
                                        NULL, &err),
                     LEASE_ERR_LOST);
    assert_int_equal(requests, 1); /* refused at the first Put Block */
    assert_int_equal(err.storage.http_status, 412);
    assert_string_equal(err.storage.storage_code, "LeaseIdMismatchWithBlobOperation");
    assert_int_equal(rec.lost, 1);
    assert_int_equal(rec.reason, LEASE_LOST_TAKEN);
    /* Lost: refused locally from now on, no request sent. */
    assert_int_equal(lease_write_blocks(la, first, 2, ids, 2, "application/json", &m, &requests,
                                        NULL, &err),
                     LEASE_ERR_LOST);
    assert_int_equal(requests, 0);
    assert_int_equal(lease_read(lb, &data, &len, NULL, &err), LEASE_OK);
    assert_memory_equal(data, "head-2|page-1", 13);
    free(data);
    lease_free(la);
    lease_free(lb);
    lt_recorder_destroy(&rec);
    lease_manager_free(a);
    lease_manager_free(b);
}

/* ---- epoch, metadata, explicit blobs --------------------------------------- */

static void test_lease_write_keeps_epoch_and_owner_metadata(void **state)
{
    lt_env *env = *state;
    lease_manager *m = lt_manager(env, 20, "writer-1");
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.container = env->container;
    ao.blob = "products/PROD-1.json";
    lease *l = NULL;
    lease_error err;
    /* Without create_if_missing a missing blob is an error ... */
    assert_int_equal(lease_try_acquire(m, NULL, &ao, &l, &err), LEASE_ERR_NOT_FOUND);
    assert_null(l);
    /* ... with it, the blob (and container) are created. */
    ao.create_if_missing = 1;
    assert_int_equal(lease_try_acquire(m, NULL, &ao, &l, &err), LEASE_OK);
    char label[128];
    snprintf(label, sizeof(label), "%s/products/PROD-1.json", env->container);
    assert_string_equal(lease_name(l), label);
    assert_int_equal(lease_epoch(l), 1);
    blob_meta meta;
    memset(&meta, 0, sizeof(meta));
    assert_int_equal(blob_meta_set(&meta, "app", "inventory"), BLOB_OK);
    assert_int_equal(lease_write(l, "{\"total\":5}", 11, "application/json", &meta, &err),
                     LEASE_OK);
    lease_free(l);

    /* Next holder: epoch 2, user metadata kept by the epoch stamp. */
    assert_int_equal(lease_try_acquire(m, NULL, &ao, &l, &err), LEASE_OK);
    assert_int_equal(lease_epoch(l), 2);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(lease_read(l, &data, &len, &meta, &err), LEASE_OK);
    assert_int_equal(len, 11);
    assert_memory_equal(data, "{\"total\":5}", 11);
    assert_string_equal(blob_meta_get(&meta, "app"), "inventory");
    assert_string_equal(blob_meta_get(&meta, "leaseholdepoch"), "2");
    assert_string_equal(blob_meta_get(&meta, "leaseholdowner"), "writer-1");
    assert_string_equal(blob_meta_get(&meta, "leaseholdduration"), "20");
    free(data);
    /* A write without metadata still carries the library's keys. */
    assert_int_equal(lease_write(l, "{}", 2, "application/json", NULL, &err), LEASE_OK);
    lease_status st;
    assert_int_equal(lease_get_status(m, NULL, &ao, &st, &err), LEASE_OK);
    assert_int_equal(st.epoch, 2);
    assert_string_equal(st.owner, "writer-1");
    lease_free(l);
    lease_manager_free(m);
}

static void test_lease_manager_free_releases_every_lease(void **state)
{
    lt_env *env = *state;
    lease_manager *m = lt_manager(env, 30, "owner-a");
    lease *l[3];
    const char *names[3] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(lease_try_acquire(m, names[i], NULL, &l[i], NULL), LEASE_OK);
    assert_int_equal(lease_manager_held_count(m), 3);
    lease_free(l[1]); /* the others are freed by the manager */
    lease_manager_free(m);

    lease_manager *probe = lt_manager(env, 30, "probe");
    for (int i = 0; i < 3; i++) {
        lease_status st;
        assert_int_equal(lease_get_status(probe, names[i], NULL, &st, NULL), LEASE_OK);
        assert_int_equal(st.leased, 0);
        assert_string_equal(st.state, "available");
    }
    lease_manager_free(probe);
}

/* ---- election in one process ------------------------------------------------ */

typedef struct votes {
    pthread_mutex_t mu;
    int elected, demoted;
} votes;

static void on_elected(lease_election *e, uint64_t epoch, void *opaque)
{
    (void)e;
    (void)epoch;
    votes *v = opaque;
    pthread_mutex_lock(&v->mu);
    v->elected++;
    pthread_mutex_unlock(&v->mu);
}

static void on_demoted(lease_election *e, const char *reason, void *opaque)
{
    (void)e;
    (void)reason;
    votes *v = opaque;
    pthread_mutex_lock(&v->mu);
    v->demoted++;
    pthread_mutex_unlock(&v->mu);
}

/* Polls until exactly one of the two leads or `ms` pass; returns it or -1. */
static int await_single_leader(lease_election *e[2], int64_t ms)
{
    int64_t until = lt_now_ms() + ms;
    while (lt_now_ms() < until) {
        int a = lease_election_is_leader(e[0]), b = lease_election_is_leader(e[1]);
        assert_false(a && b);
        if (a || b)
            return a ? 0 : 1;
        lt_sleep_ms(50);
    }
    return -1;
}

static void test_lease_election_resign_hands_over(void **state)
{
    lt_env *env = *state;
    lease_manager *m[2] = {lt_manager(env, 15, "node-a"), lt_manager(env, 15, "node-b")};
    votes v[2] = {{PTHREAD_MUTEX_INITIALIZER, 0, 0}, {PTHREAD_MUTEX_INITIALIZER, 0, 0}};
    lease_election *e[2];
    const char *ids[2] = {"node-a", "node-b"};
    for (int i = 0; i < 2; i++) {
        lease_election_callbacks cb = {on_elected, on_demoted, &v[i]};
        e[i] = lease_election_start(m[i], "reconciler", ids[i], &cb, NULL);
        assert_non_null(e[i]);
    }
    int first = await_single_leader(e, 15000);
    assert_true(first >= 0);
    char who[64];
    assert_int_equal(lease_leader(m[0], "reconciler", who, sizeof(who), NULL), LEASE_OK);
    assert_string_equal(who, ids[first]);
    assert_int_equal(lease_election_write(e[1 - first], "x", 1, NULL, NULL, NULL),
                     LEASE_ERR_LOST);
    assert_int_equal(lease_election_write(e[first], "x", 1, NULL, NULL, NULL), LEASE_OK);

    assert_int_equal(lease_election_resign(e[first], NULL), LEASE_OK);
    assert_false(lease_election_is_leader(e[first]));
    int second = await_single_leader(e, 15000); /* within one jittered retry interval */
    assert_int_equal(second, 1 - first);
    assert_int_equal(lease_election_epoch(e[second]), lease_election_epoch(e[first]) + 1);
    assert_int_equal(lease_leader(m[0], "reconciler", who, sizeof(who), NULL), LEASE_OK);
    assert_string_equal(who, ids[second]);
    for (int i = 0; i < 2; i++)
        lease_election_free(e[i]);
    assert_int_equal(v[first].elected, 1);
    assert_int_equal(v[first].demoted, 1);
    assert_int_equal(v[second].elected, 1);
    assert_int_equal(v[second].demoted, 1);
    for (int i = 0; i < 2; i++)
        lease_manager_free(m[i]);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lease_try_acquire_two_managers_one_wins, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lease_release_then_acquire_by_other, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lease_infinite_lease_is_never_scheduled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lease_acquire_times_out_then_succeeds_after_release,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_break_fires_lost_within_one_interval, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lease_write_blocks_fenced_by_service_marks_lost,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_write_fenced_by_service_marks_lost, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lease_write_keeps_epoch_and_owner_metadata, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lease_manager_free_releases_every_lease, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lease_election_resign_hands_over, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
