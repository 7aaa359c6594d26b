/* test_reconciler.c -- the reconciler sweep against real Azurite and Kafka.
 *
 * Each test writes product state blobs with the schemas codec into its own
 * container (random suffix), runs the reconciler against its own admin topic
 * (created here with one partition, deleted afterwards), then reads the topic
 * from the beginning up to its end and checks the expire commands exactly.
 * The request-count test writes its products through the real fenced path
 * (lease_write with the processor's "nextexpiry" hint) and counts every
 * storage request the sweep's client attempted.
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
#include "lease/src/blob_internal.h" /* blob_client_attempts */
#include "metrics.h"
#include "state_blob.h"
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

/* Writes product `id` with the given reservations and 10 units available.
 * With `mgr`, as the worker writes it: under the product's lease, one
 * lease_write carrying the "nextexpiry" hint, then released. Without, as an
 * older version wrote it: no metadata, and no lease since nobody holds one
 * in these containers. */
static void put_state(fixture *fx, lease_manager *mgr, const char *id,
                      const inv_reservation *res, size_t n) {
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
    if (!mgr) {
        blob_error be;
        assert_int_equal(blob_put(fx->blob, fx->container, name, json, strlen(json),
                                  "application/json", NULL, NULL, NULL, &be),
                         BLOB_OK);
    } else {
        lease_acquire_options ao = {
            .container = fx->container, .blob = name, .create_if_missing = 1};
        lease *l = NULL;
        lease_error le;
        if (lease_try_acquire(mgr, NULL, &ao, &l, &le) != LEASE_OK)
            fail_msg("acquire %s: %s", name, le.message);
        blob_meta meta = {0};
        assert_int_equal(state_blob_meta_set_next_expiry(&meta, &st), 0);
        if (lease_write(l, json, strlen(json), "application/json", &meta, &le) != LEASE_OK)
            fail_msg("write %s: %s", name, le.message);
        assert_int_equal(lease_release(l, &le), LEASE_OK);
        lease_free(l);
    }
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

static reconciler *new_reconciler_paged(fixture *fx, lease_manager *mgr, long long interval_ms,
                                        int page_size) {
    reconciler_config cfg = {.blob = fx->blob, .leases = mgr, .brokers = fx->brokers,
                             .topic = fx->topic, .container = fx->container,
                             .identity = "reconciler-test", .interval_ms = interval_ms,
                             .publish_timeout_ms = 10000, .page_size = page_size};
    char err[512] = "";
    reconciler *r = reconciler_new(&cfg, err, sizeof(err));
    if (!r)
        fail_msg("reconciler_new: %s", err);
    return r;
}

static reconciler *new_reconciler(fixture *fx, lease_manager *mgr, long long interval_ms) {
    return new_reconciler_paged(fx, mgr, interval_ms, 0);
}

static lease_manager *new_lease_manager(fixture *fx, blob_client *client) {
    lease_manager_options lo;
    lease_manager_options_init(&lo);
    lo.container = fx->lease_container;
    lo.duration_s = 15;
    lease_error le;
    lease_manager *mgr = lease_manager_new(client, &lo, &le);
    if (!mgr)
        fail_msg("lease_manager_new: %s", le.message);
    return mgr;
}

#define COUNT_PRODUCTS 30
#define COUNT_PAGE 7

/* 30 products: 4 with a due hint, 1 written without metadata (an older
 * version) with an expired reservation, 21 whose hint is in the future, 4
 * with no reservation ("none"), plus one blob that is not a product. One sweep with
 * pages of 7 makes exactly ceil(31/7) = 5 list requests and 5 state reads,
 * nothing else, and publishes exactly the 5 expired reservations. */
static void test_reconciler_sweep_reads_only_due_products(void **state) {
    fixture *fx = *state;
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string =
        env_or("LEASEHOLD_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true");
    blob_error be;
    blob_client *writer = blob_client_new(&o, &be); /* keeps fx->blob's count to the sweep */
    assert_non_null(writer);
    lease_manager *mgr = new_lease_manager(fx, writer);

    static const int due_at[] = {3, 10, 17, 24}; /* indices of the due products */
    const int old_at = 28;                       /* no metadata */
    inv_reservation expired[COUNT_PRODUCTS];
    char id[32], rid[32];
    for (int i = 0; i < COUNT_PRODUCTS; i++) {
        snprintf(id, sizeof(id), "PROD-%02d", i);
        snprintf(rid, sizeof(rid), "RES-%02d", i);
        int due = 0;
        for (size_t k = 0; k < sizeof(due_at) / sizeof(due_at[0]); k++)
            due |= due_at[k] == i;
        expired[i] = reservation(fx, rid, -60000);
        if (i == old_at) {
            put_state(fx, NULL, id, &expired[i], 1);
        } else if (due) {
            inv_reservation r[] = {expired[i], reservation(fx, "RES-LATER", 600000)};
            put_state(fx, mgr, id, r, 2);
        } else if (i % 6 == 5) { /* 5, 11, 23, 29 (17 is due): no reservation */
            put_state(fx, mgr, id, NULL, 0);
        } else {
            inv_reservation r[] = {reservation(fx, rid, 600000)};
            put_state(fx, mgr, id, r, 1);
        }
    }
    put_raw(fx, "README.txt", "not a product");
    lease_manager_free(mgr);
    blob_client_free(writer);

    /* The fenced write kept the lease engine's keys beside the hint. */
    blob_props props;
    assert_int_equal(blob_get_properties(fx->blob, fx->container, "PROD-03.json", NULL, &props,
                                         &be),
                     BLOB_OK);
    char want[32];
    snprintf(want, sizeof(want), "%lld", (long long)expired[3].expires_at_ms);
    assert_string_equal(blob_meta_get(&props.meta, "nextexpiry"), want);
    assert_non_null(blob_meta_get(&props.meta, "leaseholdepoch"));
    assert_non_null(blob_meta_get(&props.meta, "leaseholdduration"));
    assert_int_equal(blob_get_properties(fx->blob, fx->container, "PROD-05.json", NULL, &props,
                                         &be),
                     BLOB_OK);
    assert_string_equal(blob_meta_get(&props.meta, "nextexpiry"), "none");

    reconciler *r = new_reconciler_paged(fx, NULL, 0, COUNT_PAGE);
    reconciler_sweep_stats stats;
    char err[512] = "";
    long attempts = blob_client_attempts(fx->blob);
    assert_int_equal(reconciler_sweep_once(r, 0, &stats, err, sizeof(err)), 0);
    attempts = blob_client_attempts(fx->blob) - attempts;
    assert_int_equal(stats.list_requests, (COUNT_PRODUCTS + 1 + COUNT_PAGE - 1) / COUNT_PAGE);
    assert_int_equal(stats.list_requests, 5);
    assert_int_equal(stats.listed, COUNT_PRODUCTS);
    assert_int_equal(stats.state_reads, 5);
    assert_int_equal(stats.unhinted, 1);
    assert_int_equal(attempts, 10); /* the 5 pages and the 5 reads: nothing else */
    assert_int_equal(stats.products, 5);
    assert_int_equal(stats.expired, 5);
    assert_int_equal(stats.published, 5);
    assert_int_equal(stats.errors, 0);
    reconciler_free(r);

    rec_consumed c = consume(fx, 5);
    assert_int_equal(c.n, 5);
    rec_assert_expire(&c, 0, "PROD-03", expired[3].reservation_id, 0);
    rec_assert_expire(&c, 1, "PROD-10", expired[10].reservation_id, 0);
    rec_assert_expire(&c, 2, "PROD-17", expired[17].reservation_id, 0);
    rec_assert_expire(&c, 3, "PROD-24", expired[24].reservation_id, 0);
    rec_assert_expire(&c, 4, "PROD-28", expired[28].reservation_id, 0);
}

static void test_reconciler_sweep_once_publishes_expired(void **state) {
    fixture *fx = *state;
    inv_reservation a[] = {reservation(fx, "RES-OLD", -60000), reservation(fx, "RES-NEW", 600000)};
    inv_reservation b[] = {reservation(fx, "RES-LATER", 600000)};
    put_state(fx, NULL, "PROD-A", a, 2);
    put_state(fx, NULL, "PROD-B", b, 1);
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
    put_state(fx, NULL, "PROD-C", c1, 1);
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
    put_state(fx, NULL, "PROD-D", d, 2);

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
    put_state(fx, NULL, "PROD-E", e, 1);

    lease_error le;
    lease_manager *mgr = new_lease_manager(fx, fx->blob);
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
        cmocka_unit_test_setup_teardown(test_reconciler_sweep_reads_only_due_products, setup,
                                        teardown),
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
