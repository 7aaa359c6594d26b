/* test_admin_http.c -- unit tests for the worker's admin HTTP endpoint
 * (worker/admin_http.c), served on 127.0.0.1 with an ephemeral port and
 * queried with libcurl. The worker is replaced by a fake callback struct;
 * storage by wrapping blob_get (-Wl,--wrap=blob_get) with an in-memory
 * product table, so no service is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "leasehold/inventory_schema.h"
#include "worker/admin_http.h"

/* ---- Fake storage --------------------------------------------------------- */

/* Flipped by the test thread, read on MHD connection threads. */
static atomic_int fake_storage_down;

blob_code __wrap_blob_get(blob_client *c, const char *container, const char *name,
                          const blob_conditions *cond, char **data, size_t *len,
                          blob_props *props, blob_error *err);
blob_code __wrap_blob_get(blob_client *c, const char *container, const char *name,
                          const blob_conditions *cond, char **data, size_t *len,
                          blob_props *props, blob_error *err) {
    memset(err, 0, sizeof(*err));
    /* Runs on a server thread, where cmocka asserts cannot be used: a read
     * with a lease id or in the wrong container answers "invalid", which the
     * tests would see as a 503. */
    if ((cond && cond->lease_id) || strcmp(container, "inv-test") != 0 || fake_storage_down) {
        blob_code code = fake_storage_down ? BLOB_ERR_TRANSIENT : BLOB_ERR_INVALID;
        err->code = code;
        snprintf(err->message, sizeof(err->message), "get %s/%s: %s", container, name,
                 fake_storage_down ? "connection refused" : "unexpected read");
        return code;
    }
    if (strcmp(name, "PROD-001.json") == 0) {
        inv_state st;
        inv_state_init(&st, "PROD-001");
        st.total = 100;
        st.available = 85;
        st.reserved = 15;
        inv_reservation r1 = {.reservation_id = "RES-1", .customer_id = "CUST-1", .quantity = 10,
                              .created_at_ms = 1700000000000, .expires_at_ms = 1700001800000};
        inv_reservation r2 = {.reservation_id = "RES-2", .customer_id = "CUST-2", .quantity = 5,
                              .created_at_ms = 1700000001000, .expires_at_ms = 1700001801000};
        inv_state_add_reservation(&st, &r1);
        inv_state_add_reservation(&st, &r2);
        *data = inv_state_encode(&st);
        inv_state_clear(&st);
        *len = *data ? strlen(*data) : 0;
        return *data ? BLOB_OK : BLOB_ERR_NOMEM;
    }
    if (strcmp(name, "EMPTY.json") == 0) { /* a restock abandoned after creating the blob */
        *data = strdup("");
        *len = 0;
        return *data ? BLOB_OK : BLOB_ERR_NOMEM;
    }
    if (strcmp(name, "BROKEN.json") == 0) {
        *data = strdup("{\"not\":\"a state\"}");
        *len = strlen(*data);
        return BLOB_OK;
    }
    err->code = BLOB_ERR_NOT_FOUND;
    err->http_status = 404;
    snprintf(err->message, sizeof(err->message), "get %s/%s: not found (HTTP 404 BlobNotFound)",
             container, name);
    return BLOB_ERR_NOT_FOUND;
}

/* ---- Fake worker ---------------------------------------------------------- */

/* Flags are atomic: the test thread flips them while MHD's connection
 * threads read them. */
typedef struct fake_worker {
    atomic_int alive;
    atomic_int ready;
    atomic_int collected;
    atomic_int retries, dead_letters; /* blocked_action calls for BLK-1 */
} fake_worker;

static int fake_alive(void *opaque) {
    return ((fake_worker *)opaque)->alive;
}

static int fake_ready(char *reason, size_t cap, void *opaque) {
    fake_worker *w = opaque;
    if (!w->ready)
        snprintf(reason, cap, "kafka: no partitions assigned");
    return w->ready;
}

static void fake_collect(void *opaque) {
    ((fake_worker *)opaque)->collected++;
}

static char *fake_leases(void *opaque) {
    return strdup("{\"leases\":[{\"name\":\"PROD-001\",\"leaseId\":\"0f8fad5b-d9cb-469f-a165-"
                  "70867728950e\",\"epoch\":3,\"expiresInMs\":12000}]}");
}

static char *fake_blocked(void *opaque) {
    (void)opaque;
    return strdup("{\"blocked\":[{\"productId\":\"BLK-1\",\"reason\":\"decode: x\","
                  "\"since\":1700000000000,\"queued\":2}]}");
}

static int fake_blocked_action(const char *product_id, admin_http_blocked_action action,
                               void *opaque) {
    fake_worker *w = opaque;
    if (strcmp(product_id, "BLK-1") != 0)
        return -1;
    if (action == ADMIN_HTTP_BLOCKED_RETRY)
        w->retries++;
    else
        w->dead_letters++;
    return 0;
}

static int fake_inventory(const char *product_id, char **json, void *opaque) {
    if (strcmp(product_id, "CB-1") == 0) {
        *json = strdup("{\"productId\":\"CB-1\"}");
        return 200;
    }
    *json = NULL;
    return 404;
}

/* ---- Fixture -------------------------------------------------------------- */

typedef struct fixture {
    admin_http *server;
    metrics_registry *reg;
    fake_worker worker;
    CURL *curl;
    char base[64];
} fixture;

static int fixture_start(void **state, int with_callbacks) {
    fixture *fx = calloc(1, sizeof(*fx));
    fx->reg = metrics_registry_new();
    char err[256];
    metrics_family *g = metrics_gauge_new(fx->reg, "t_up", "Up.", NULL, err, sizeof(err));
    metrics_gauge_set(g, NULL, 1);
    atomic_init(&fx->worker.alive, 1);
    atomic_init(&fx->worker.ready, 1);
    atomic_init(&fx->worker.collected, 0);
    atomic_init(&fx->worker.retries, 0);
    atomic_init(&fx->worker.dead_letters, 0);

    admin_http_options o;
    admin_http_options_init(&o);
    o.listen = "127.0.0.1:0";
    o.registry = fx->reg;
    o.blob = (blob_client *)fx; /* never dereferenced: blob_get is wrapped */
    o.inventory_container = "inv-test";
    o.callbacks = (admin_http_callbacks){.alive = fake_alive, .ready = fake_ready,
                                         .collect = fake_collect, .opaque = &fx->worker};
    if (with_callbacks) {
        o.callbacks.leases_json = fake_leases;
        o.callbacks.inventory_json = fake_inventory;
        o.callbacks.blocked_json = fake_blocked;
        o.callbacks.blocked_action = fake_blocked_action;
    }
    assert_int_equal(admin_http_start(&o, &fx->server, err, sizeof(err)), ADMIN_HTTP_OK);
    assert_true(admin_http_port(fx->server) > 0);
    snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%d", admin_http_port(fx->server));
    fx->curl = curl_easy_init();
    *state = fx;
    return 0;
}

static int setup_storage(void **state) {
    fake_storage_down = 0;
    return fixture_start(state, 0);
}

static int setup_callbacks(void **state) {
    return fixture_start(state, 1);
}

static int teardown(void **state) {
    fixture *fx = *state;
    curl_easy_cleanup(fx->curl);
    admin_http_stop(fx->server);
    metrics_registry_free(fx->reg);
    free(fx);
    return 0;
}

typedef struct response {
    long status;
    char *body;
    size_t len;
    char content_type[128];
} response;

static size_t collect_body(char *ptr, size_t size, size_t n, void *userdata) {
    response *r = userdata;
    char *grown = realloc(r->body, r->len + size * n + 1);
    assert_non_null(grown);
    memcpy(grown + r->len, ptr, size * n);
    r->len += size * n;
    grown[r->len] = '\0';
    r->body = grown;
    return size * n;
}

/* Performs `method` on base + path and returns the response (body "" when
 * empty). Free with response_free. */
static response fetch(fixture *fx, const char *method, const char *path) {
    response r = {0};
    r.body = calloc(1, 1);
    char url[256];
    snprintf(url, sizeof(url), "%s%s", fx->base, path);
    curl_easy_reset(fx->curl);
    curl_easy_setopt(fx->curl, CURLOPT_URL, url);
    curl_easy_setopt(fx->curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0)
        curl_easy_setopt(fx->curl, CURLOPT_POSTFIELDS, "{}");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(fx->curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(fx->curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(fx->curl, CURLOPT_WRITEDATA, &r);
    assert_int_equal(curl_easy_perform(fx->curl), CURLE_OK);
    curl_easy_getinfo(fx->curl, CURLINFO_RESPONSE_CODE, &r.status);
    const char *ct = NULL;
    curl_easy_getinfo(fx->curl, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(r.content_type, sizeof(r.content_type), "%s", ct ? ct : "");
    return r;
}

static void assert_response(fixture *fx, const char *method, const char *path, long status,
                            const char *content_type, const char *body) {
    response r = fetch(fx, method, path);
    assert_int_equal(r.status, status);
    assert_string_equal(r.content_type, content_type);
    assert_string_equal(r.body, body);
    free(r.body);
}

#define TEXT "text/plain; charset=utf-8"
#define JSON "application/json"

/* ---- Tests ---------------------------------------------------------------- */

static void test_admin_healthz_follows_main_loop(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/healthz", 200, TEXT, "ok\n");
    fx->worker.alive = 0;
    assert_response(fx, "GET", "/healthz", 503, TEXT, "main loop stalled\n");
}

static void test_admin_readyz_reports_reason(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/readyz", 200, TEXT, "ready\n");
    fx->worker.ready = 0;
    assert_response(fx, "GET", "/readyz", 503, TEXT, "not ready: kafka: no partitions assigned\n");
}

static void test_admin_metrics_renders_registry(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8",
                    "# HELP t_up Up.\n# TYPE t_up gauge\nt_up 1\n");
    assert_int_equal(fx->worker.collected, 1);
}

static void test_admin_inventory_reads_state_blob(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/api/inventory/PROD-001", 200, JSON,
                    "{\"productId\":\"PROD-001\",\"total\":100,\"available\":85,\"reserved\":15,"
                    "\"activeReservations\":["
                    "{\"reservationId\":\"RES-1\",\"customerId\":\"CUST-1\",\"quantity\":10,"
                    "\"createdAt\":1700000000000,\"expiresAt\":1700001800000},"
                    "{\"reservationId\":\"RES-2\",\"customerId\":\"CUST-2\",\"quantity\":5,"
                    "\"createdAt\":1700000001000,\"expiresAt\":1700001801000}]}");
}

static void test_admin_inventory_unknown_product_404(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/api/inventory/PROD-404", 404, JSON,
                    "{\"error\":\"product PROD-404 not found\"}");
}

static void test_admin_inventory_empty_blob_404(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/api/inventory/EMPTY", 404, JSON,
                    "{\"error\":\"product EMPTY not found\"}");
}

static void test_admin_inventory_invalid_product_400(void **state) {
    fixture *fx = *state;
    const char *expected =
        "{\"error\":\"productId: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$\"}";
    assert_response(fx, "GET", "/api/inventory/-starts-with-dash", 400, JSON, expected);
    assert_response(fx, "GET", "/api/inventory/a%2Fb", 400, JSON, expected);
    assert_response(fx, "GET", "/api/inventory/", 400, JSON, expected);
    assert_response(fx, "GET",
                    "/api/inventory/"
                    "A1234567890123456789012345678901234567890123456789012345678901234",
                    400, JSON, expected);
}

static void test_admin_inventory_storage_down_503(void **state) {
    fixture *fx = *state;
    fake_storage_down = 1;
    assert_response(fx, "GET", "/api/inventory/PROD-001", 503, JSON,
                    "{\"error\":\"storage: get inv-test/PROD-001.json: connection refused\"}");
    fake_storage_down = 0;
}

static void test_admin_inventory_invalid_state_500(void **state) {
    fixture *fx = *state;
    response r = fetch(fx, "GET", "/api/inventory/BROKEN");
    assert_int_equal(r.status, 500);
    assert_string_equal(r.content_type, JSON);
    assert_non_null(strstr(r.body, "{\"error\":\"state of BROKEN is invalid: "));
    free(r.body);
}

static void test_admin_leases_default_empty(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/api/leases", 200, JSON, "{\"leases\":[]}");
}

static void test_admin_leases_from_callback(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/api/leases", 200, JSON,
                    "{\"leases\":[{\"name\":\"PROD-001\",\"leaseId\":\"0f8fad5b-d9cb-469f-a165-"
                    "70867728950e\",\"epoch\":3,\"expiresInMs\":12000}]}");
}

static void test_admin_inventory_from_callback(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/api/inventory/CB-1", 200, JSON, "{\"productId\":\"CB-1\"}");
    assert_response(fx, "GET", "/api/inventory/CB-2", 404, JSON,
                    "{\"error\":\"product CB-2 not found\"}");
}

static void test_admin_unknown_path_and_method(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/nope", 404, TEXT, "not found\n");
    assert_response(fx, "GET", "/api/nope", 404, JSON, "{\"error\":\"no such endpoint\"}");
    assert_response(fx, "HEAD", "/healthz", 200, TEXT, "");
    assert_response(fx, "POST", "/healthz", 405, TEXT, "method not allowed\n");
    assert_response(fx, "DELETE", "/api/leases", 405, TEXT, "method not allowed\n");
}

static void test_admin_blocked_default_empty(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/api/blocked", 200, JSON, "{\"blocked\":[]}");
    assert_response(fx, "POST", "/api/blocked/P-1/retry", 404, JSON,
                    "{\"error\":\"product P-1 is not blocked on this worker\"}");
}

/* GET lists; POST is accepted on the two repair paths only, and only POST
 * there; the answer is 202 because the product's own thread does the work. */
static void test_admin_blocked_repair_actions(void **state) {
    fixture *fx = *state;
    assert_response(fx, "GET", "/api/blocked", 200, JSON,
                    "{\"blocked\":[{\"productId\":\"BLK-1\",\"reason\":\"decode: x\","
                    "\"since\":1700000000000,\"queued\":2}]}");
    assert_response(fx, "POST", "/api/blocked/BLK-1/retry", 202, JSON,
                    "{\"productId\":\"BLK-1\",\"action\":\"retry\",\"status\":\"scheduled\"}");
    assert_response(fx, "POST", "/api/blocked/BLK-1/dead-letter", 202, JSON,
                    "{\"productId\":\"BLK-1\",\"action\":\"dead-letter\","
                    "\"status\":\"scheduled\"}");
    assert_int_equal(fx->worker.retries, 1);
    assert_int_equal(fx->worker.dead_letters, 1);
    assert_response(fx, "POST", "/api/blocked/OTHER/dead-letter", 404, JSON,
                    "{\"error\":\"product OTHER is not blocked on this worker\"}");
    assert_response(fx, "POST", "/api/blocked/-bad/retry", 400, JSON,
                    "{\"error\":\"productId: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$\"}");
    assert_response(fx, "GET", "/api/blocked/BLK-1/retry", 405, JSON,
                    "{\"error\":\"method not allowed\"}");
    assert_response(fx, "POST", "/api/blocked/BLK-1/explode", 405, TEXT, "method not allowed\n");
    assert_response(fx, "POST", "/api/blocked", 405, TEXT, "method not allowed\n");
    assert_response(fx, "POST", "/api/leases", 405, TEXT, "method not allowed\n");
    assert_int_equal(fx->worker.retries, 1);
    assert_int_equal(fx->worker.dead_letters, 1);
}

static void test_admin_http_start_address_in_use(void **state) {
    fixture *fx = *state;
    char listen_addr[64], expected[128], err[256];
    snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", admin_http_port(fx->server));
    snprintf(expected, sizeof(expected), "admin listen %s: Address already in use", listen_addr);
    admin_http_options o;
    admin_http_options_init(&o);
    o.listen = listen_addr;
    admin_http *second = NULL;
    assert_int_equal(admin_http_start(&o, &second, err, sizeof(err)), ADMIN_HTTP_ERR_LISTEN);
    assert_null(second);
    assert_string_equal(err, expected);
}

static void test_admin_http_start_rejects_bad_address(void **state) {
    (void)state;
    const char *bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:80x", ""};
    char err[256], expected[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        admin_http_options o;
        admin_http_options_init(&o);
        o.listen = bad[i];
        admin_http *a = NULL;
        assert_int_equal(admin_http_start(&o, &a, err, sizeof(err)), ADMIN_HTTP_ERR_INVALID);
        assert_null(a);
        snprintf(expected, sizeof(expected),
                 "admin listen '%s': expected ADDR:PORT with a port from 0 to 65535", bad[i]);
        assert_string_equal(err, expected);
    }
    admin_http_options o;
    admin_http_options_init(&o);
    admin_http *a = NULL;
    assert_int_equal(admin_http_start(&o, &a, err, sizeof(err)), ADMIN_HTTP_ERR_INVALID);
    assert_string_equal(err, "admin listen: no address given");
    admin_http_stop(NULL);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_admin_healthz_follows_main_loop, setup_storage,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_readyz_reports_reason, setup_storage, teardown),
        cmocka_unit_test_setup_teardown(test_admin_metrics_renders_registry, setup_storage,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_inventory_reads_state_blob, setup_storage,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_inventory_unknown_product_404, setup_storage,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_inventory_empty_blob_404, setup_storage,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_inventory_invalid_product_400, setup_storage,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_inventory_storage_down_503, setup_storage,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_inventory_invalid_state_500, setup_storage,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_leases_default_empty, setup_storage, teardown),
        cmocka_unit_test_setup_teardown(test_admin_leases_from_callback, setup_callbacks,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_inventory_from_callback, setup_callbacks,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_unknown_path_and_method, setup_storage,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_blocked_default_empty, setup_storage, teardown),
        cmocka_unit_test_setup_teardown(test_admin_blocked_repair_actions, setup_callbacks,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_admin_http_start_address_in_use, setup_storage,
                                        teardown),
        cmocka_unit_test(test_admin_http_start_rejects_bad_address),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
