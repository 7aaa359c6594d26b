/* test_reconciler.c -- the reconciler sweep against real Azurite and Kafka.
 *
 * Each test writes product state blobs with the schemas codec into its own
 * container (random suffix), runs the reconciler against its own admin topic
 * (created here with one partition, deleted afterwards), then reads the topic
 * from the beginning up to its end and checks the expire commands exactly.
 * Services: LEASEHOLD_STORAGE_CONNECTION_STRING (default
 * UseDevelopmentStorage=true) and LEASEHOLD_KAFKA_BROKERS (default
 * 127.0.0.1:9092).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

#include "leasehold/blob.h"
#include "leasehold/inventory_schema.h"
#include "leasehold/lease.h"
#include "metrics.h"
#include "test_reconciler_support.h"
#include "worker/reconciler.h"

#define WAIT_MS 30000

typedef struct fixture {
    blob_client *blob;
    const char *brokers;
    char suffix[9];
    char container[64];
    char lease_container[64];
    char topic[96];
    int64_t now_ms;
} fixture;

static int64_t unix_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* Creates or deletes the fixture's topic with the admin API and waits for
 * the broker's answer. */
static void topic_admin(fixture *fx, int create) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", fx->brokers, errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    if (create) {
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(fx->topic, 1, 1, errstr, sizeof(errstr));
        assert_non_null(nt);
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);
        assert_non_null(ev);
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        assert_non_null(res);
        size_t n = 0;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
        assert_int_equal(n, 1);
        assert_int_equal(rd_kafka_topic_result_error(tr[0]), RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_event_destroy(ev);
        rd_kafka_NewTopic_destroy(nt);
    } else {
        rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(fx->topic);
        rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_DeleteTopic_destroy(dt);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof(*fx));
    char guid[37];
    blob_new_guid(guid);
    memcpy(fx->suffix, guid, 8);
    snprintf(fx->container, sizeof(fx->container), "inv-rec-%s", fx->suffix);
    snprintf(fx->lease_container, sizeof(fx->lease_container), "leases-rec-%s", fx->suffix);
    snprintf(fx->topic, sizeof(fx->topic), "inventory.admin.test-%s", fx->suffix);
    fx->brokers = env_or("LEASEHOLD_KAFKA_BROKERS", "127.0.0.1:9092");
    fx->now_ms = unix_ms();

    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string =
        env_or("LEASEHOLD_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true");
    blob_error be;
    fx->blob = blob_client_new(&o, &be);
    assert_non_null(fx->blob);
    assert_int_equal(blob_container_create(fx->blob, fx->container, &be), BLOB_OK);
    topic_admin(fx, 1);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    blob_error be;
    assert_int_equal(blob_container_delete(fx->blob, fx->container, &be), BLOB_OK);
    assert_int_equal(blob_container_delete(fx->blob, fx->lease_container, &be), BLOB_OK);
    topic_admin(fx, 0);
    blob_client_free(fx->blob);
    free(fx);
    return 0;
}

/* Writes product `id` with the given reservations (quantity 5 each) and
 * `extra` units available. Test data is written without a lease: nobody
 * holds one in these containers. */
static void put_state(fixture *fx, const char *id, const inv_reservation *res, size_t n) {
    inv_state st;
    inv_state_init(&st, id);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(inv_state_add_reservation(&st, &res[i]), 0);
        st.reserved += res[i].quantity;
    }
    st.available = 10;
    st.total = st.available + st.reserved;
    st.updated_at_ms = fx->now_ms;
    char *json = inv_state_encode(&st);
    assert_non_null(json);
    char name[96];
    snprintf(name, sizeof(name), "%s.json", id);
    blob_error be;
    assert_int_equal(blob_put(fx->blob, fx->container, name, json, strlen(json),
                              "application/json", NULL, NULL, NULL, &be),
                     BLOB_OK);
    free(json);
    inv_state_clear(&st);
}

static void put_raw(fixture *fx, const char *name, const char *content) {
    blob_error be;
    assert_int_equal(blob_put(fx->blob, fx->container, name, content, strlen(content),
                              "application/json", NULL, NULL, NULL, &be),
                     BLOB_OK);
}

static inv_reservation reservation(fixture *fx, const char *id, int64_t expires_in_ms) {
    inv_reservation r = {.quantity = 5, .created_at_ms = fx->now_ms - 3600000,
                         .expires_at_ms = fx->now_ms + expires_in_ms};
    snprintf(r.reservation_id, sizeof(r.reservation_id), "%s-%s", id, fx->suffix);
    snprintf(r.customer_id, sizeof(r.customer_id), "CUST-%s", id);
    return r;
}

/* Everything on the fixture's topic, read to its end. */
static rec_consumed consume(fixture *fx, size_t expect) {
    char group[64];
    snprintf(group, sizeof(group), "test-reconciler-%s", fx->suffix);
    return rec_consume(fx->brokers, fx->topic, group, expect, WAIT_MS);
}

static reconciler *new_reconciler(fixture *fx, lease_manager *mgr, long long interval_ms) {
    reconciler_config cfg = {.blob = fx->blob, .leases = mgr, .brokers = fx->brokers,
                             .topic = fx->topic, .container = fx->container,
                             .identity = "reconciler-test", .interval_ms = interval_ms,
                             .publish_timeout_ms = 10000};
    char err[512] = "";
    reconciler *r = reconciler_new(&cfg, err, sizeof(err));
    if (!r)
        fail_msg("reconciler_new: %s", err);
    return r;
}

static void test_reconciler_sweep_once_publishes_expired(void **state) {
    fixture *fx = *state;
    inv_reservation a[] = {reservation(fx, "RES-OLD", -60000), reservation(fx, "RES-NEW", 600000)};
    inv_reservation b[] = {reservation(fx, "RES-LATER", 600000)};
    put_state(fx, "PROD-A", a, 2);
    put_state(fx, "PROD-B", b, 1);
    put_raw(fx, "README.txt", "not a product");

    reconciler *r = new_reconciler(fx, NULL, 0);
    reconciler_sweep_stats stats;
    char err[512] = "";
    assert_int_equal(reconciler_sweep_once(r, 0, &stats, err, sizeof(err)), 0);
    assert_int_equal(stats.products, 2);
    assert_int_equal(stats.products_with_expired, 1);
    assert_int_equal(stats.expired, 1);
    assert_int_equal(stats.published, 1);
    assert_int_equal(stats.errors, 0);
    assert_int_equal(stats.aborted, 0);
    assert_int_equal(reconciler_is_leader(r), 0);
    reconciler_free(r);

    rec_consumed c = consume(fx, 1);
    assert_int_equal(c.n, 1);
    rec_assert_expire(&c, 0, "PROD-A", a[0].reservation_id, 0);
    assert_true(c.cmd[0].issued_at_ms >= fx->now_ms);
}

static void test_reconciler_sweep_once_reports_invalid_state(void **state) {
    fixture *fx = *state;
    inv_reservation c1[] = {reservation(fx, "RES-GONE", -1000)};
    put_state(fx, "PROD-C", c1, 1);
    put_raw(fx, "BAD.json", "{\"productId\":\"BAD\"}");

    reconciler *r = new_reconciler(fx, NULL, 0);
    reconciler_sweep_stats stats;
    char err[512] = "";
    assert_int_equal(reconciler_sweep_once(r, 0, &stats, err, sizeof(err)), -1);
    assert_int_equal(stats.products, 1);
    assert_int_equal(stats.expired, 1);
    assert_int_equal(stats.published, 1);
    assert_int_equal(stats.errors, 1);
    assert_non_null(strstr(err, "sweep: 1 errors, first: state blob BAD.json is invalid: "));
    reconciler_free(r);

    rec_consumed c = consume(fx, 1);
    assert_int_equal(c.n, 1);
    rec_assert_expire(&c, 0, "PROD-C", c1[0].reservation_id, 0);
}

static void test_reconciler_sweep_once_uses_given_time(void **state) {
    fixture *fx = *state;
    inv_reservation d[] = {reservation(fx, "RES-SOON", 60000), reservation(fx, "RES-LATE", 600000)};
    put_state(fx, "PROD-D", d, 2);

    reconciler *r = new_reconciler(fx, NULL, 0);
    reconciler_sweep_stats stats;
    char err[512] = "";
    /* Two minutes from now, only RES-SOON has expired. */
    assert_int_equal(reconciler_sweep_once(r, fx->now_ms + 120000, &stats, err, sizeof(err)), 0);
    assert_int_equal(stats.expired, 1);
    assert_int_equal(stats.published, 1);
    reconciler_free(r);

    rec_consumed c = consume(fx, 1);
    assert_int_equal(c.n, 1);
    rec_assert_expire(&c, 0, "PROD-D", d[0].reservation_id, fx->now_ms + 120000);
}

static void test_reconciler_leader_sweeps_on_election(void **state) {
    fixture *fx = *state;
    inv_reservation e[] = {reservation(fx, "RES-EXP", -5000)};
    put_state(fx, "PROD-E", e, 1);

    lease_manager_options lo;
    lease_manager_options_init(&lo);
    lo.container = fx->lease_container;
    lo.duration_s = 15;
    lease_error le;
    lease_manager *mgr = lease_manager_new(fx->blob, &lo, &le);
    if (!mgr)
        fail_msg("lease_manager_new: %s", le.message);
    metrics_family *sweeps = metrics_find(metrics_default(), "leasehold_reconciler_sweeps_total");
    metrics_family *leader = metrics_find(metrics_default(), "leasehold_leader");
    double ok_before = metrics_value(sweeps, (const char *[]){"ok"});

    /* A long interval: the only sweep is the one right after election. */
    reconciler *r = new_reconciler(fx, mgr, 3600000);
    char err[512] = "";
    if (reconciler_start(r, err, sizeof(err)) != 0)
        fail_msg("reconciler_start: %s", err);
    int64_t deadline = monotonic_ms() + WAIT_MS;
    while (metrics_value(sweeps, (const char *[]){"ok"}) == ok_before && monotonic_ms() < deadline)
        nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
    assert_int_equal(reconciler_is_leader(r), 1);
    assert_true(metrics_value(leader, NULL) == 1);
    assert_true(metrics_value(sweeps, (const char *[]){"ok"}) == ok_before + 1);

    char identity[128];
    assert_int_equal(
        lease_leader(mgr, RECONCILER_LOCK_NAME, identity, sizeof(identity), &le), LEASE_OK);
    assert_string_equal(identity, "reconciler-test");

    rec_consumed c = consume(fx, 1);
    assert_int_equal(c.n, 1);
    rec_assert_expire(&c, 0, "PROD-E", e[0].reservation_id, 0);

    reconciler_stop(r);
    assert_int_equal(reconciler_is_leader(r), 0);
    assert_true(metrics_value(leader, NULL) == 0);
    /* Resigned: nobody leads now. */
    assert_int_equal(lease_leader(mgr, RECONCILER_LOCK_NAME, identity, sizeof(identity), &le),
                     LEASE_ERR_NOT_FOUND);
    reconciler_free(r);
    lease_manager_free(mgr);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reconciler_sweep_once_publishes_expired, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconciler_sweep_once_reports_invalid_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconciler_sweep_once_uses_given_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconciler_leader_sweeps_on_election, setup,
                                        teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
