/* test_reconciler.c -- unit tests for the reconciler (worker/reconciler.c)
 * without services: configuration checks, and the sweep against an
 * in-memory container (blob_list_items and blob_get wrapped with -Wl,--wrap,
 * pages of the configured size, each blob's "nextexpiry" hint) and
 * librdkafka's mock cluster, read back with a plain consumer. The real
 * Azurite + Kafka path is tests/integration/test_reconciler.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "leasehold/inventory_schema.h"
#include "integration/test_reconciler_support.h"
#include "worker/reconciler.h"

#define NOW_MS 1800000000000LL
#define TOPIC "inventory.admin"

/* ---- In-memory container -------------------------------------------------- */

typedef struct fake_blob {
    const char *name;
    char *content;
    blob_meta meta;
} fake_blob;

static fake_blob fake_blobs[8];
static size_t fake_n;
static int fake_list_fails;
static size_t fake_lists, fake_gets; /* requests the sweep made */
static int fake_page_size;           /* as the sweep asked for it */

static void fake_reset(void) {
    for (size_t i = 0; i < fake_n; i++)
        free(fake_blobs[i].content);
    memset(fake_blobs, 0, sizeof(fake_blobs));
    fake_n = 0;
    fake_list_fails = 0;
    fake_lists = fake_gets = 0;
    fake_page_size = -1;
}

/* A blob without metadata, as an older version wrote it. */
static void fake_add_raw(const char *name, const char *content) {
    fake_blobs[fake_n].name = name;
    fake_blobs[fake_n].content = strdup(content);
    fake_n++;
}

/* Gives the last blob added a "nextexpiry" hint. */
static void fake_hint(const char *next_expiry) {
    assert_int_equal(blob_meta_set(&fake_blobs[fake_n - 1].meta, "Nextexpiry", next_expiry),
                     BLOB_OK);
}

/* A product with one reservation per entry of `expires_at` (quantity 2). */
static void fake_add_product(const char *name, const char *product, const char *const *ids,
                             const int64_t *expires_at, size_t n) {
    inv_state st;
    inv_state_init(&st, product);
    for (size_t i = 0; i < n; i++) {
        inv_reservation r = {.quantity = 2, .created_at_ms = NOW_MS - 1000000,
                             .expires_at_ms = expires_at[i]};
        snprintf(r.reservation_id, sizeof(r.reservation_id), "%s", ids[i]);
        snprintf(r.customer_id, sizeof(r.customer_id), "CUST-%zu", i);
        assert_int_equal(inv_state_add_reservation(&st, &r), 0);
        st.reserved += 2;
    }
    st.available = 3;
    st.total = st.available + st.reserved;
    char *json = inv_state_encode(&st);
    assert_non_null(json);
    fake_add_raw(name, json);
    free(json);
    inv_state_clear(&st);
}

/* Pages of opts->page_size blobs (one "request" each, at least one). */
blob_code __wrap_blob_list_items(blob_client *c, const char *container,
                                 const blob_list_options *opts, blob_list_item_cb cb,
                                 void *opaque, size_t *pages, blob_error *err);
blob_code __wrap_blob_list_items(blob_client *c, const char *container,
                                 const blob_list_options *opts, blob_list_item_cb cb,
                                 void *opaque, size_t *pages, blob_error *err) {
    assert_string_equal(container, "inventory");
    assert_non_null(opts);
    assert_true(opts->include_metadata);
    assert_null(opts->prefix);
    fake_page_size = opts->page_size;
    assert_true(opts->page_size >= 1 && opts->page_size <= 5000);
    *pages = 0;
    if (fake_list_fails) {
        err->code = BLOB_ERR_TRANSIENT;
        snprintf(err->message, sizeof(err->message), "list inventory: connection refused");
        return BLOB_ERR_TRANSIENT;
    }
    size_t i = 0;
    do {
        (*pages)++;
        fake_lists++;
        for (size_t end = i + (size_t)opts->page_size; i < fake_n && i < end; i++) {
            blob_list_item item = {fake_blobs[i].name, &fake_blobs[i].meta};
            if (cb(&item, opaque))
                return BLOB_OK;
        }
    } while (i < fake_n);
    return BLOB_OK;
}

blob_code __wrap_blob_get(blob_client *c, const char *container, const char *name,
                          const blob_conditions *cond, char **data, size_t *len,
                          blob_props *props, blob_error *err);
blob_code __wrap_blob_get(blob_client *c, const char *container, const char *name,
                          const blob_conditions *cond, char **data, size_t *len,
                          blob_props *props, blob_error *err) {
    assert_true(cond == NULL || cond->lease_id == NULL); /* reads never take the lease */
    fake_gets++;
    for (size_t i = 0; i < fake_n; i++) {
        if (strcmp(fake_blobs[i].name, name) == 0) {
            *data = strdup(fake_blobs[i].content);
            *len = strlen(*data);
            return BLOB_OK;
        }
    }
    err->code = BLOB_ERR_NOT_FOUND;
    snprintf(err->message, sizeof(err->message), "get inventory/%s: not found", name);
    return BLOB_ERR_NOT_FOUND;
}

/* ---- Mock Kafka ------------------------------------------------------------ */

typedef struct fixture {
    rd_kafka_t *mock_owner;
    rd_kafka_mock_cluster_t *mock;
    char brokers[256];
} fixture;

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof(*fx));
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
    fx->mock_owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(fx->mock_owner);
    fx->mock = rd_kafka_mock_cluster_new(fx->mock_owner, 1);
    assert_non_null(fx->mock);
    assert_int_equal(rd_kafka_mock_topic_create(fx->mock, TOPIC, 1, 1), 0);
    snprintf(fx->brokers, sizeof(fx->brokers), "%s", rd_kafka_mock_cluster_bootstraps(fx->mock));
    fake_reset();
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    fake_reset();
    rd_kafka_mock_cluster_destroy(fx->mock);
    rd_kafka_destroy(fx->mock_owner);
    free(fx);
    return 0;
}

static const char *const quiet_kafka[] = {"log_level", "0", NULL};

static reconciler *new_reconciler_paged(fixture *fx, int publish_timeout_ms, int page_size) {
    reconciler_config cfg = {.blob = (blob_client *)fx, /* only the wrapped calls see it */
                             .brokers = fx->brokers, .kafka_properties = quiet_kafka,
                             .identity = "unit", .publish_timeout_ms = publish_timeout_ms,
                             .page_size = page_size};
    char err[256] = "";
    reconciler *r = reconciler_new(&cfg, err, sizeof(err));
    if (!r)
        fail_msg("reconciler_new: %s", err);
    return r;
}

static reconciler *new_reconciler(fixture *fx, int publish_timeout_ms) {
    return new_reconciler_paged(fx, publish_timeout_ms, 0);
}

/* ---- Tests ----------------------------------------------------------------- */

static void test_reconciler_new_rejects_bad_config(void **state) {
    (void)state;
    char err[256];
    reconciler_config cfg = {.brokers = "127.0.0.1:1"};
    assert_null(reconciler_new(&cfg, err, sizeof(err)));
    assert_string_equal(err, "blob: a blob client is required");

    cfg = (reconciler_config){.blob = (blob_client *)&cfg};
    assert_null(reconciler_new(&cfg, err, sizeof(err)));
    assert_string_equal(err, "brokers: bootstrap servers are required");

    cfg.brokers = "127.0.0.1:1";
    cfg.interval_ms = 10;
    assert_null(reconciler_new(&cfg, err, sizeof(err)));
    assert_string_equal(err, "interval_ms: must be at least 1000, got 10");

    cfg.interval_ms = 1000;
    cfg.page_size = 5001;
    assert_null(reconciler_new(&cfg, err, sizeof(err)));
    assert_string_equal(err, "page_size: must be 0..5000, got 5001");
    cfg.page_size = -1;
    assert_null(reconciler_new(&cfg, err, sizeof(err)));
    assert_string_equal(err, "page_size: must be 0..5000, got -1");

    cfg.page_size = 0;
    cfg.publish_timeout_ms = -5;
    assert_null(reconciler_new(&cfg, err, sizeof(err)));
    assert_string_equal(err, "publish_timeout_ms: must not be negative, got -5");

    cfg.publish_timeout_ms = 0;
    const char *bad_kafka[] = {"no.such.property", "1", NULL};
    cfg.kafka_properties = bad_kafka;
    assert_null(reconciler_new(&cfg, err, sizeof(err)));
    assert_string_equal(err,
                        "kafka_properties: No such configuration property: \"no.such.property\"");
}

static void test_reconciler_start_requires_lease_manager(void **state) {
    fixture *fx = *state;
    reconciler *r = new_reconciler(fx, 0);
    char err[256];
    assert_int_equal(reconciler_start(r, err, sizeof(err)), -1);
    assert_string_equal(err, "leases: a lease manager is required to campaign");
    assert_int_equal(reconciler_is_leader(r), 0);
    reconciler_free(r);
    reconciler_free(NULL);
}

static void test_reconciler_sweep_once_publishes_only_expired(void **state) {
    fixture *fx = *state;
    const char *a_ids[] = {"RES-A1", "RES-A2", "RES-A3"};
    const int64_t a_exp[] = {NOW_MS - 1, NOW_MS, NOW_MS + 1};
    const char *b_ids[] = {"RES-B1"};
    const int64_t b_exp[] = {NOW_MS - 5000};
    fake_add_product("PROD-A.json", "PROD-A", a_ids, a_exp, 3);
    fake_add_raw("notes.txt", "not a product");
    fake_add_product("PROD-B.json", "PROD-B", b_ids, b_exp, 1);
    fake_add_product("PROD-C.json", "PROD-C", NULL, NULL, 0);
    fake_add_raw("PROD-EMPTY.json", ""); /* restock abandoned after creating the blob */

    reconciler *r = new_reconciler(fx, 0);
    reconciler_sweep_stats st;
    char err[256] = "";
    assert_int_equal(reconciler_sweep_once(r, NOW_MS, &st, err, sizeof(err)), 0);
    assert_int_equal(fake_page_size, RECONCILER_DEFAULT_PAGE_SIZE);
    assert_int_equal(st.list_requests, 1);
    assert_int_equal(st.listed, 4); /* notes.txt is not a product */
    assert_int_equal(st.state_reads, 4);
    assert_int_equal(st.unhinted, 4);
    assert_int_equal(fake_gets, 4);
    assert_int_equal(st.products, 3);
    assert_int_equal(st.products_with_expired, 2);
    assert_int_equal(st.expired, 3);
    assert_int_equal(st.published, 3);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.aborted, 0);
    reconciler_free(r);

    rec_consumed c = rec_consume(fx->brokers, TOPIC, "unit", 3, 20000);
    assert_int_equal(c.n, 3);
    rec_assert_expire(&c, 0, "PROD-A", "RES-A1", NOW_MS);
    rec_assert_expire(&c, 1, "PROD-A", "RES-A2", NOW_MS);
    rec_assert_expire(&c, 2, "PROD-B", "RES-B1", NOW_MS);
}

/* Only products whose hint is due, or that have none, are read; the hint
 * decides what is read, the content what expires. */
static void test_reconciler_sweep_once_reads_only_due_products(void **state) {
    fixture *fx = *state;
    const char *due_ids[] = {"RES-D1", "RES-D2"};
    const int64_t due_exp[] = {NOW_MS - 10, NOW_MS + 60000};
    const char *late_ids[] = {"RES-L1"};
    const int64_t late_exp[] = {NOW_MS - 1}; /* expired, but its hint says later: not read */
    const char *old_ids[] = {"RES-O1"};
    const int64_t old_exp[] = {NOW_MS - 1};
    fake_add_product("PROD-DUE.json", "PROD-DUE", due_ids, due_exp, 2);
    fake_hint("1799999999990");
    fake_add_product("PROD-LATER.json", "PROD-LATER", late_ids, late_exp, 1);
    fake_hint("1800000000001");
    fake_add_product("PROD-NONE.json", "PROD-NONE", NULL, NULL, 0);
    fake_hint("none");
    fake_add_product("PROD-OLD.json", "PROD-OLD", old_ids, old_exp, 1); /* no hint */
    fake_add_product("PROD-BAD.json", "PROD-BAD", NULL, NULL, 0);
    fake_hint("soon"); /* not a number: unknown, read */
    fake_add_raw("notes.txt", "not a product");

    reconciler *r = new_reconciler_paged(fx, 0, 2);
    reconciler_sweep_stats st;
    char err[256] = "";
    assert_int_equal(reconciler_sweep_once(r, NOW_MS, &st, err, sizeof(err)), 0);
    assert_int_equal(fake_page_size, 2);
    assert_int_equal(st.list_requests, 3); /* 6 blobs, 2 per page */
    assert_int_equal(fake_lists, 3);
    assert_int_equal(st.listed, 5);
    assert_int_equal(st.state_reads, 3); /* DUE, OLD, BAD */
    assert_int_equal(fake_gets, 3);
    assert_int_equal(st.unhinted, 2);
    assert_int_equal(st.products, 3);
    assert_int_equal(st.expired, 2);
    assert_int_equal(st.published, 2);
    assert_int_equal(st.errors, 0);
    assert_true(st.seconds >= 0);
    reconciler_free(r);

    rec_consumed c = rec_consume(fx->brokers, TOPIC, "unit", 2, 20000);
    assert_int_equal(c.n, 2);
    rec_assert_expire(&c, 0, "PROD-DUE", "RES-D1", NOW_MS);
    rec_assert_expire(&c, 1, "PROD-OLD", "RES-O1", NOW_MS);
}

static void test_reconciler_sweep_once_reports_unusable_blobs(void **state) {
    fixture *fx = *state;
    char long_id[INV_ID_MAX + 1];
    memset(long_id, 'x', INV_ID_MAX);
    long_id[INV_ID_MAX] = '\0';
    const char *ids[] = {long_id};
    const int64_t exp[] = {NOW_MS - 1};
    fake_add_raw("BROKEN.json", "{");
    fake_add_product("PROD-L.json", "PROD-L", ids, exp, 1);

    reconciler *r = new_reconciler(fx, 0);
    reconciler_sweep_stats st;
    char err[512] = "";
    assert_int_equal(reconciler_sweep_once(r, NOW_MS, &st, err, sizeof(err)), -1);
    assert_int_equal(st.products, 1);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.published, 0);
    assert_int_equal(st.errors, 2);
    assert_non_null(strstr(err, "sweep: 2 errors, first: state blob BROKEN.json is invalid: "));
    reconciler_free(r);
}

static void test_reconciler_sweep_once_listing_failure(void **state) {
    fixture *fx = *state;
    fake_list_fails = 1;
    reconciler *r = new_reconciler(fx, 0);
    reconciler_sweep_stats st;
    char err[256] = "";
    assert_int_equal(reconciler_sweep_once(r, NOW_MS, &st, err, sizeof(err)), -1);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.products, 0);
    assert_string_equal(err, "sweep: 1 errors, first: list inventory: connection refused");
    reconciler_free(r);
}

static void test_reconciler_sweep_once_delivery_failure(void **state) {
    fixture *fx = *state;
    const char *ids[] = {"RES-T1"};
    const int64_t exp[] = {NOW_MS - 1};
    fake_add_product("PROD-T.json", "PROD-T", ids, exp, 1);
    /* The next Produce request (API key 0) fails with a permanent error. */
    rd_kafka_mock_push_request_errors(fx->mock, 0, 1,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

    reconciler *r = new_reconciler(fx, 5000);
    reconciler_sweep_stats st;
    char err[256] = "";
    assert_int_equal(reconciler_sweep_once(r, NOW_MS, &st, err, sizeof(err)), -1);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.published, 0);
    assert_int_equal(st.errors, 1);
    assert_string_equal(err, "sweep: 1 errors, first: publish to inventory.admin: Broker: Topic "
                             "authorization failed");
    reconciler_free(r);
}

static void test_reconciler_sweep_once_after_stop_aborts(void **state) {
    fixture *fx = *state;
    const char *ids[] = {"RES-S1"};
    const int64_t exp[] = {NOW_MS - 1};
    fake_add_product("PROD-S.json", "PROD-S", ids, exp, 1);
    reconciler *r = new_reconciler(fx, 0);
    reconciler_stop(r);
    reconciler_sweep_stats st;
    char err[256] = "";
    assert_int_equal(reconciler_sweep_once(r, NOW_MS, &st, err, sizeof(err)), 0);
    assert_int_equal(st.aborted, 1);
    assert_int_equal(st.products, 0);
    assert_int_equal(st.expired, 0);
    reconciler_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconciler_new_rejects_bad_config),
        cmocka_unit_test_setup_teardown(test_reconciler_start_requires_lease_manager, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconciler_sweep_once_publishes_only_expired, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconciler_sweep_once_reads_only_due_products, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconciler_sweep_once_reports_unusable_blobs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconciler_sweep_once_listing_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconciler_sweep_once_delivery_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconciler_sweep_once_after_stop_aborts, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
