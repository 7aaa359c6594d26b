/* test_producer_rest.c -- unit tests for producer/src/rest.c and command.c:
 * REST bodies in camelCase and PascalCase validated by the codec, the
 * outcome-to-status and exit-code mapping, and the exact JSON answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "rest.h"

#define BODY(s) s, strlen(s)

static void test_rest_parse_body_camel_case(void **state) {
    inv_command c;
    char err[256] = "";
    assert_int_equal(rest_parse_body(INV_CMD_RESERVE, "PROD-001",
                                     BODY("{\"quantity\":5,\"customerId\":\"CUST-123\"}"), &c, err,
                                     sizeof(err)),
                     0);
    assert_int_equal(c.type, INV_CMD_RESERVE);
    assert_string_equal(c.product_id, "PROD-001");
    assert_int_equal(c.quantity, 5);
    assert_string_equal(c.customer_id, "CUST-123");
    assert_int_equal(c.ttl_seconds, INV_DEFAULT_TTL_S);
    assert_int_equal(strlen(c.command_id), 36); /* a fresh GUID */
    assert_true(c.issued_at_ms > 0);
}

static void test_rest_parse_body_pascal_case(void **state) {
    inv_command c;
    char err[256] = "";
    assert_int_equal(
        rest_parse_body(INV_CMD_RESERVE, "PROD-001",
                        BODY("{\"Quantity\":10,\"CustomerId\":\"CUST-9\",\"TtlSeconds\":60}"), &c,
                        err, sizeof(err)),
        0);
    assert_int_equal(c.quantity, 10);
    assert_string_equal(c.customer_id, "CUST-9");
    assert_int_equal(c.ttl_seconds, 60);
    assert_int_equal(rest_parse_body(INV_CMD_RELEASE, "PROD-001",
                                     BODY("{\"ReservationId\":\"RES-1\"}"), &c, err, sizeof(err)),
                     0);
    assert_int_equal(c.type, INV_CMD_RELEASE);
    assert_string_equal(c.reservation_id, "RES-1");
}

static void test_rest_parse_body_ignores_body_product_and_type(void **state) {
    /* The URL names the product and the route the command type. */
    inv_command c;
    char err[256] = "";
    assert_int_equal(
        rest_parse_body(INV_CMD_RELEASE, "PROD-002",
                        BODY("{\"type\":\"restock\",\"productId\":\"OTHER\",\"quantity\":2,"
                             "\"customerId\":\"C\"}"),
                        &c, err, sizeof(err)),
        0);
    assert_int_equal(c.type, INV_CMD_RELEASE);
    assert_string_equal(c.product_id, "PROD-002");
    assert_int_equal(c.quantity, 2);
}

static void test_rest_parse_body_field_messages(void **state) {
    inv_command c;
    char err[256] = "";
    assert_int_equal(rest_parse_body(INV_CMD_RESERVE, "PROD-001",
                                     BODY("{\"quantity\":0,\"customerId\":\"C\"}"), &c, err,
                                     sizeof(err)),
                     -1);
    assert_string_equal(err, "quantity: must be an integer from 1 to 1000000");
    assert_int_equal(rest_parse_body(INV_CMD_RESERVE, "PROD-001",
                                     BODY("{\"quantity\":\"5\",\"customerId\":\"C\"}"), &c, err,
                                     sizeof(err)),
                     -1);
    assert_string_equal(err, "quantity: must be an integer");
    assert_int_equal(rest_parse_body(INV_CMD_RESERVE, "PROD-001", BODY("{\"quantity\":5}"), &c, err,
                                     sizeof(err)),
                     -1);
    assert_string_equal(err, "customerId: required");
    assert_int_equal(rest_parse_body(INV_CMD_RELEASE, "PROD-001", BODY("{}"), &c, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "reservationId: required (or customerId with quantity)");
    assert_int_equal(rest_parse_body(INV_CMD_RESERVE, "BAD PRODUCT",
                                     BODY("{\"quantity\":5,\"customerId\":\"C\"}"), &c, err,
                                     sizeof(err)),
                     -1);
    assert_memory_equal(err, "productId: must match", strlen("productId: must match"));
}

static void test_rest_parse_body_not_an_object(void **state) {
    inv_command c;
    char err[256] = "";
    assert_int_equal(rest_parse_body(INV_CMD_RESERVE, "P", BODY("[1]"), &c, err, sizeof(err)), -1);
    assert_string_equal(err, "body: must be a JSON object");
    assert_int_equal(rest_parse_body(INV_CMD_RESERVE, "P", BODY("{oops"), &c, err, sizeof(err)),
                     -1);
    assert_memory_equal(err, "body: not valid JSON (", strlen("body: not valid JSON ("));
}

static inv_event make_event(inv_event_type type, const char *reason) {
    inv_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    strcpy(ev.product_id, "PROD-001");
    strcpy(ev.reason, reason);
    return ev;
}

static void test_rest_status_for_event_mapping(void **state) {
    struct {
        inv_event_type type;
        const char *reason;
        int status, exit_code;
    } cases[] = {
        {INV_EV_RESERVATION_CREATED, "", 200, 0},
        {INV_EV_RESERVATION_RELEASED, "", 200, 0},
        {INV_EV_STOCK_RESTOCKED, "", 200, 0},
        {INV_EV_RESERVATION_REJECTED, "insufficient_stock", 409, 3},
        {INV_EV_RESERVATION_REJECTED, "unknown_product", 404, 3},
        {INV_EV_RELEASE_REJECTED, "unknown_reservation", 404, 3},
        {INV_EV_RELEASE_REJECTED, "no_reservation", 404, 3},
        {INV_EV_RELEASE_REJECTED, "reservation_not_found", 404, 3},
        {INV_EV_RESTOCK_REJECTED, "stock_limit", 409, 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        inv_event ev = make_event(cases[i].type, cases[i].reason);
        assert_int_equal(rest_status_for_event(&ev), cases[i].status);
        assert_int_equal(rest_exit_code_for_event(&ev), cases[i].exit_code);
    }
}

static void test_rest_reply_encode_created(void **state) {
    inv_event ev = make_event(INV_EV_RESERVATION_CREATED, "");
    ev.quantity = 10;
    ev.available = 90;
    ev.epoch = 3;
    strcpy(ev.reservation_id, "RES-abc");
    strcpy(ev.message, "Successfully reserved 10 units of PROD-001 for CUST-123");
    rest_reply r;
    rest_reply_from_event(&ev, 10, &r);
    assert_int_equal(r.status, 200);
    char *json = rest_reply_encode(&r);
    assert_string_equal(json,
                        "{\"success\":true,\"productId\":\"PROD-001\",\"requestedQuantity\":10,"
                        "\"availableQuantity\":90,\"reservationId\":\"RES-abc\",\"message\":"
                        "\"Successfully reserved 10 units of PROD-001 for CUST-123\","
                        "\"acquiredLease\":true}");
    free(json);
}

static void test_rest_reply_encode_rejected_and_failure(void **state) {
    inv_event ev = make_event(INV_EV_RESERVATION_REJECTED, "insufficient_stock");
    ev.quantity = 500;
    ev.available = 50;
    ev.epoch = 0;
    rest_reply r;
    rest_reply_from_event(&ev, 500, &r);
    assert_int_equal(r.status, 409);
    char *json = rest_reply_encode(&r);
    assert_string_equal(json,
                        "{\"success\":false,\"productId\":\"PROD-001\",\"requestedQuantity\":500,"
                        "\"availableQuantity\":50,\"reservationId\":null,\"message\":"
                        "\"insufficient_stock\",\"acquiredLease\":false}");
    free(json);
    rest_reply f = {.status = 504,
                    .product_id = "PROD-001",
                    .requested_quantity = 5,
                    .available_quantity = -1,
                    .message = "no outcome"};
    json = rest_reply_encode(&f);
    assert_string_equal(json,
                        "{\"success\":false,\"productId\":\"PROD-001\",\"requestedQuantity\":5,"
                        "\"availableQuantity\":null,\"reservationId\":null,\"message\":"
                        "\"no outcome\",\"acquiredLease\":false}");
    free(json);
}

static void test_command_build_cli_text_quantity(void **state) {
    inv_command c;
    char err[256] = "";
    json_t *f = json_object();
    json_object_set_new(f, "quantity", command_number_text("abc"));
    assert_int_equal(command_build(INV_CMD_RESTOCK, "cmd-7", "PROD-001", f, &c, err, sizeof(err)),
                     -1);
    assert_string_equal(err, "quantity: must be an integer");
    json_object_set_new(f, "quantity", command_number_text("100"));
    assert_int_equal(command_build(INV_CMD_RESTOCK, "cmd-7", "PROD-001", f, &c, err, sizeof(err)),
                     0);
    assert_string_equal(c.command_id, "cmd-7");
    assert_int_equal(c.quantity, 100);
    assert_string_equal(command_topic_key(c.type), "topic.admin");
    json_decref(f);
}

static void test_command_check_product_uses_codec_rules(void **state) {
    char err[256] = "";
    assert_int_equal(command_check_product("PROD-001", err, sizeof(err)), 0);
    assert_int_equal(command_check_product("BAD ID", err, sizeof(err)), -1);
    assert_memory_equal(err, "productId: must match", strlen("productId: must match"));
    assert_int_equal(command_check_product("", err, sizeof(err)), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest_parse_body_camel_case),
        cmocka_unit_test(test_rest_parse_body_pascal_case),
        cmocka_unit_test(test_rest_parse_body_ignores_body_product_and_type),
        cmocka_unit_test(test_rest_parse_body_field_messages),
        cmocka_unit_test(test_rest_parse_body_not_an_object),
        cmocka_unit_test(test_rest_status_for_event_mapping),
        cmocka_unit_test(test_rest_reply_encode_created),
        cmocka_unit_test(test_rest_reply_encode_rejected_and_failure),
        cmocka_unit_test(test_command_build_cli_text_quantity),
        cmocka_unit_test(test_command_check_product_uses_codec_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
