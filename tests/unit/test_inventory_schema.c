/* test_inventory_schema.c -- unit tests of the command, event and
 * dead-letter codec (schemas/src): exact decoded values, exact error
 * messages, exact encoder output. The state blob and its helpers are in
 * test_inventory_schema_state.c, the schema examples in
 * test_inventory_schema_examples.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leasehold/inventory_schema.h"

/* Decodes a NUL-terminated command; returns the rc, message in err. */
static int decode_cmd(const char *json, inv_command *cmd, char err[256])
{
    err[0] = '\0';
    return inv_command_decode(json, strlen(json), cmd, err, 256);
}

static void expect_cmd_error(const char *json, const char *message)
{
    inv_command cmd;
    char err[256];
    assert_int_equal(decode_cmd(json, &cmd, err), -1);
    assert_string_equal(err, message);
}

#define RESERVE_HEAD "{\"schemaVersion\":1,\"type\":\"reserve\",\"commandId\":\"c-1\",\"productId\":\"PROD-001\","

static void test_inv_command_decode_reserve_camel(void **state)
{
    inv_command cmd;
    char err[256];
    assert_int_equal(decode_cmd(RESERVE_HEAD "\"quantity\":10,\"customerId\":\"cust-7\","
                                             "\"issuedAtMs\":1700000000123}",
                                &cmd, err), 0);
    assert_int_equal(cmd.type, INV_CMD_RESERVE);
    assert_string_equal(cmd.command_id, "c-1");
    assert_string_equal(cmd.product_id, "PROD-001");
    assert_int_equal(cmd.quantity, 10);
    assert_string_equal(cmd.customer_id, "cust-7");
    assert_string_equal(cmd.reservation_id, "");
    assert_int_equal(cmd.ttl_seconds, INV_DEFAULT_TTL_S);
    assert_int_equal(cmd.issued_at_ms, 1700000000123LL);
}

static void test_inv_command_decode_reserve_pascal(void **state)
{
    inv_command cmd;
    char err[256];
    assert_int_equal(decode_cmd("{\"SchemaVersion\":1,\"Type\":\"reserve\",\"CommandId\":\"c-2\","
                                "\"ProductId\":\"p.1_x-2\",\"Quantity\":1000000,\"CustomerId\":\"c\","
                                "\"TtlSeconds\":60}",
                                &cmd, err), 0);
    assert_string_equal(cmd.product_id, "p.1_x-2");
    assert_int_equal(cmd.quantity, 1000000);
    assert_int_equal(cmd.ttl_seconds, 60);
}

static void test_inv_command_decode_quantity_wrong_types(void **state)
{
    expect_cmd_error(RESERVE_HEAD "\"quantity\":\"5\",\"customerId\":\"c\"}", "quantity: must be an integer");
    expect_cmd_error(RESERVE_HEAD "\"quantity\":5.5,\"customerId\":\"c\"}", "quantity: must be an integer");
    expect_cmd_error(RESERVE_HEAD "\"quantity\":5.0,\"customerId\":\"c\"}", "quantity: must be an integer");
    expect_cmd_error(RESERVE_HEAD "\"quantity\":true,\"customerId\":\"c\"}", "quantity: must be an integer");
    expect_cmd_error(RESERVE_HEAD "\"quantity\":null,\"customerId\":\"c\"}", "quantity: must be an integer");
}

static void test_inv_command_decode_quantity_range(void **state)
{
    expect_cmd_error(RESERVE_HEAD "\"quantity\":0,\"customerId\":\"c\"}",
                     "quantity: must be an integer from 1 to 1000000");
    expect_cmd_error(RESERVE_HEAD "\"quantity\":1000001,\"customerId\":\"c\"}",
                     "quantity: must be an integer from 1 to 1000000");
    expect_cmd_error(RESERVE_HEAD "\"quantity\":-3,\"customerId\":\"c\"}",
                     "quantity: must be an integer from 1 to 1000000");
}

static void test_inv_command_decode_product_pattern(void **state)
{
    static const char *const bad[] = {"", "-abc", "a b", "a/b", "é",
                                      "x2345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"schemaVersion\":1,\"type\":\"restock\",\"commandId\":\"c\",\"productId\":\"%s\","
                 "\"quantity\":1}", bad[i]);
        expect_cmd_error(json, "productId: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
    }
    /* 64 characters is the maximum. */
    inv_command cmd;
    char err[256];
    assert_int_equal(decode_cmd("{\"schemaVersion\":1,\"type\":\"restock\",\"commandId\":\"c\",\"productId\":"
                                "\"x234567890123456789012345678901234567890123456789012345678901234\","
                                "\"quantity\":1}", &cmd, err), 0);
    assert_int_equal(strlen(cmd.product_id), 64);
}

static void test_inv_command_decode_command_id_limits(void **state)
{
    char json[1024], id[200];
    memset(id, 'a', 129);
    id[129] = '\0';
    snprintf(json, sizeof json, "{\"schemaVersion\":1,\"type\":\"restock\",\"commandId\":\"%s\","
                                "\"productId\":\"P\",\"quantity\":1}", id);
    expect_cmd_error(json, "commandId: must be at most 128 characters");
    id[128] = '\0';
    snprintf(json, sizeof json, "{\"schemaVersion\":1,\"type\":\"restock\",\"commandId\":\"%s\","
                                "\"productId\":\"P\",\"quantity\":1}", id);
    inv_command cmd;
    char err[256];
    assert_int_equal(decode_cmd(json, &cmd, err), 0);
    assert_string_equal(cmd.command_id, id);
    expect_cmd_error("{\"schemaVersion\":1,\"type\":\"restock\",\"commandId\":\"\",\"productId\":\"P\","
                     "\"quantity\":1}", "commandId: must not be empty");
    expect_cmd_error("{\"schemaVersion\":1,\"type\":\"restock\",\"commandId\":\"a b\",\"productId\":\"P\","
                     "\"quantity\":1}", "commandId: must be printable ASCII without spaces");
    expect_cmd_error("{\"schemaVersion\":1,\"type\":\"restock\",\"commandId\":7,\"productId\":\"P\","
                     "\"quantity\":1}", "commandId: must be a string");
}

static void test_inv_command_decode_message_size(void **state)
{
    const char *doc = "{\"schemaVersion\":1,\"type\":\"restock\",\"commandId\":\"c\",\"productId\":\"P\","
                      "\"quantity\":1}";
    char *big = malloc(INV_MAX_MESSAGE + 2);
    assert_non_null(big);
    size_t n = strlen(doc);
    memcpy(big, doc, n);
    memset(big + n, ' ', INV_MAX_MESSAGE + 1 - n); /* trailing whitespace is valid JSON */
    inv_command cmd;
    char err[256] = "";
    assert_int_equal(inv_command_decode(big, INV_MAX_MESSAGE, &cmd, err, sizeof err), 0);
    assert_int_equal(inv_command_decode(big, INV_MAX_MESSAGE + 1, &cmd, err, sizeof err), -1);
    assert_string_equal(err, "message: larger than 65536 bytes");
    free(big);
}

static void test_inv_command_decode_not_json(void **state)
{
    expect_cmd_error("{\"a\" 1}", "message: not valid JSON (line 1 col 6: ':' expected near '1')");
    expect_cmd_error("", "message: not valid JSON (line 1 col 0: '[' or '{' expected near end of file)");
    expect_cmd_error("[1]", "message: must be a JSON object");
    expect_cmd_error("{\"quantity\":1,\"quantity\":2}",
                     "message: not valid JSON (line 1 col 24: duplicate object key near '\"quantity\"')");
}

static void test_inv_command_decode_length_not_nul_terminated(void **state)
{
    /* The buffer continues past len with garbage: only len bytes count. */
    const char buf[] = "{\"schemaVersion\":1,\"type\":\"expire\",\"commandId\":\"c\",\"productId\":\"P\","
                       "\"reservationId\":\"r-1\"}GARBAGE";
    inv_command cmd;
    char err[256];
    assert_int_equal(inv_command_decode(buf, sizeof buf - 1 - 7, &cmd, err, sizeof err), 0);
    assert_int_equal(cmd.type, INV_CMD_EXPIRE);
    assert_string_equal(cmd.reservation_id, "r-1");
}

static void test_inv_command_decode_type_errors(void **state)
{
    expect_cmd_error("{\"schemaVersion\":1,\"type\":\"foo\"}", "type: unknown command type 'foo'");
    expect_cmd_error("{\"schemaVersion\":1}", "type: required");
    expect_cmd_error("{\"schemaVersion\":1,\"type\":3}", "type: must be a string");
    expect_cmd_error("{\"type\":\"reserve\"}", "schemaVersion: required");
    expect_cmd_error("{\"schemaVersion\":2,\"type\":\"reserve\"}",
                     "schemaVersion: unsupported version 2 (this build reads 1)");
    expect_cmd_error("{\"schemaVersion\":\"1\",\"type\":\"reserve\"}", "schemaVersion: must be an integer");
}

static void test_inv_command_decode_required_fields(void **state)
{
    expect_cmd_error(RESERVE_HEAD "\"quantity\":1}", "customerId: required");
    expect_cmd_error(RESERVE_HEAD "\"customerId\":\"c\"}", "quantity: required");
    expect_cmd_error("{\"schemaVersion\":1,\"type\":\"reserve\",\"productId\":\"P\"}", "commandId: required");
    expect_cmd_error("{\"schemaVersion\":1,\"type\":\"reserve\",\"commandId\":\"c\"}", "productId: required");
    expect_cmd_error("{\"schemaVersion\":1,\"type\":\"expire\",\"commandId\":\"c\",\"productId\":\"P\"}",
                     "reservationId: required");
    expect_cmd_error(RESERVE_HEAD "\"quantity\":1,\"customerId\":\"c\",\"ttlSeconds\":0}",
                     "ttlSeconds: must be an integer from 1 to 604800");
}

static void test_inv_command_decode_both_spellings(void **state)
{
    expect_cmd_error("{\"schemaVersion\":1,\"type\":\"restock\",\"commandId\":\"c\",\"productId\":\"P\","
                     "\"ProductId\":\"Q\",\"quantity\":1}",
                     "productId: given twice (productId and ProductId)");
}

static void test_inv_command_decode_unknown_fields_ignored(void **state)
{
    inv_command cmd;
    char err[256];
    assert_int_equal(decode_cmd("{\"schemaVersion\":1,\"type\":\"restock\",\"commandId\":\"c\",\"productId\":\"P\","
                                "\"quantity\":5,\"note\":{\"x\":[1,2]},\"reservationId\":\"ignored\"}",
                                &cmd, err), 0);
    assert_int_equal(cmd.quantity, 5);
    assert_string_equal(cmd.reservation_id, "");
}

static void test_inv_command_decode_null_error_buffer(void **state)
{
    inv_command cmd;
    const char *doc = "{\"schemaVersion\":1,\"type\":\"foo\"}";
    assert_int_equal(inv_command_decode(doc, strlen(doc), &cmd, NULL, 0), -1);
    char small[8];
    assert_int_equal(inv_command_decode(doc, strlen(doc), &cmd, small, sizeof small), -1);
    assert_string_equal(small, "type: u"); /* truncated, still terminated */
}

static void test_inv_command_decode_unknown_type_quote_keeps_utf8(void **state)
{
    /* 63 ASCII bytes then a 2-byte character: the quote stops before it
     * rather than cutting it in half (dead letters must stay valid UTF-8). */
    char type[80], json[160], expected[160];
    memset(type, 'x', 63);
    strcpy(type + 63, "\xc3\xa9tail");
    snprintf(json, sizeof json, "{\"schemaVersion\":1,\"type\":\"%s\"}", type);
    type[63] = '\0';
    snprintf(expected, sizeof expected, "type: unknown command type '%s'", type);
    expect_cmd_error(json, expected);
}

#define RELEASE_HEAD "{\"schemaVersion\":1,\"type\":\"release\",\"commandId\":\"c\",\"productId\":\"P\","

static void test_inv_command_decode_release_forms(void **state)
{
    inv_command cmd;
    char err[256];
    assert_int_equal(decode_cmd(RELEASE_HEAD "\"reservationId\":\"r-9\"}", &cmd, err), 0);
    assert_string_equal(cmd.reservation_id, "r-9");
    assert_int_equal(cmd.quantity, 0);
    assert_int_equal(decode_cmd(RELEASE_HEAD "\"customerId\":\"cu\",\"quantity\":4}", &cmd, err), 0);
    assert_string_equal(cmd.customer_id, "cu");
    assert_int_equal(cmd.quantity, 4);
    assert_string_equal(cmd.reservation_id, "");
    expect_cmd_error(RELEASE_HEAD "\"reservationId\":\"r\",\"customerId\":\"cu\"}",
                     "reservationId: not allowed together with customerId or quantity");
    expect_cmd_error(RELEASE_HEAD "\"x\":1}", "reservationId: required (or customerId with quantity)");
    expect_cmd_error(RELEASE_HEAD "\"customerId\":\"cu\"}", "quantity: required");
    expect_cmd_error(RELEASE_HEAD "\"quantity\":2}", "customerId: required");
}

static void test_inv_command_encode_reserve_exact(void **state)
{
    inv_command cmd = {.type = INV_CMD_RESERVE, .quantity = 10, .ttl_seconds = 0, .issued_at_ms = 5};
    strcpy(cmd.command_id, "c-1");
    strcpy(cmd.product_id, "PROD-001");
    strcpy(cmd.customer_id, "cust");
    char *s = inv_command_encode(&cmd);
    assert_non_null(s);
    assert_string_equal(s, "{\"schemaVersion\":1,\"type\":\"reserve\",\"commandId\":\"c-1\",\"productId\":"
                           "\"PROD-001\",\"quantity\":10,\"customerId\":\"cust\",\"ttlSeconds\":1800,"
                           "\"issuedAtMs\":5}");
    free(s);
}

static void test_inv_command_encode_round_trip_all_types(void **state)
{
    inv_command in[5] = {
        {.type = INV_CMD_RESERVE, .quantity = 3, .ttl_seconds = 90, .issued_at_ms = 1700000000000LL},
        {.type = INV_CMD_RELEASE},
        {.type = INV_CMD_RELEASE, .quantity = 7},
        {.type = INV_CMD_RESTOCK, .quantity = 1000000},
        {.type = INV_CMD_EXPIRE},
    };
    strcpy(in[0].customer_id, "cust-a");
    strcpy(in[1].reservation_id, "res-1");
    strcpy(in[2].customer_id, "cust-b");
    strcpy(in[4].reservation_id, "res-2");
    for (size_t i = 0; i < 5; i++) {
        snprintf(in[i].command_id, sizeof in[i].command_id, "cmd-%zu", i);
        strcpy(in[i].product_id, "PROD-9");
        char *s = inv_command_encode(&in[i]);
        assert_non_null(s);
        inv_command out;
        char err[256] = "";
        assert_int_equal(inv_command_decode(s, strlen(s), &out, err, sizeof err), 0);
        if (in[i].type != INV_CMD_RESERVE)
            in[i].ttl_seconds = 0; /* only reserve carries a TTL */
        assert_memory_equal(&in[i], &out, sizeof out);
        free(s);
    }
}

static void test_inv_command_type_parse_names(void **state)
{
    inv_command_type t;
    assert_int_equal(inv_command_type_parse("release", &t), 0);
    assert_int_equal(t, INV_CMD_RELEASE);
    assert_int_equal(inv_command_type_parse("Release", &t), -1);
    assert_string_equal(inv_command_type_name(INV_CMD_EXPIRE), "expire");
    assert_string_equal(inv_command_type_name((inv_command_type)42), "unknown");
}

static void test_inv_event_id_deterministic(void **state)
{
    char a[INV_ID_MAX + 1], b[INV_ID_MAX + 1];
    inv_event_id("cmd-1", INV_EV_RESERVATION_CREATED, a);
    /* hashlib.sha256(b"cmd-1|reservation.created").hexdigest()[:32] */
    assert_string_equal(a, "c98fac8b12310b70cfc6bc0f34db8eb4");
    inv_event_id("cmd-1", INV_EV_RESERVATION_CREATED, b);
    assert_string_equal(a, b);
    inv_event_id("cmd-1", INV_EV_RESERVATION_REJECTED, b);
    assert_string_not_equal(a, b);
}

static inv_event sample_created(void)
{
    inv_event ev = {.type = INV_EV_RESERVATION_CREATED, .quantity = 10, .total = 100, .available = 90,
                    .reserved = 10, .epoch = 3, .timestamp_ms = 1700000000000LL,
                    .expires_at_ms = 1700001800000LL};
    strcpy(ev.command_id, "cmd-1");
    inv_event_id(ev.command_id, ev.type, ev.event_id);
    strcpy(ev.product_id, "PROD-001");
    strcpy(ev.reservation_id, "res-1");
    strcpy(ev.customer_id, "cust-1");
    strcpy(ev.message, "Successfully reserved 10 units");
    return ev;
}

static void test_inv_event_encode_created_exact(void **state)
{
    inv_event ev = sample_created();
    char *s = inv_event_encode(&ev);
    assert_non_null(s);
    assert_string_equal(s, "{\"schemaVersion\":1,\"type\":\"reservation.created\",\"eventId\":"
                           "\"c98fac8b12310b70cfc6bc0f34db8eb4\",\"commandId\":\"cmd-1\",\"productId\":"
                           "\"PROD-001\",\"reservationId\":\"res-1\",\"customerId\":\"cust-1\",\"quantity\":10,"
                           "\"total\":100,\"available\":90,\"reserved\":10,\"message\":"
                           "\"Successfully reserved 10 units\",\"epoch\":3,\"timestampMs\":1700000000000,"
                           "\"expiresAtMs\":1700001800000}");
    free(s);
}

static void test_inv_event_decode_round_trip_all_types(void **state)
{
    for (int t = INV_EV_RESERVATION_CREATED; t <= INV_EV_RESTOCK_REJECTED; t++) {
        inv_event ev = sample_created();
        ev.type = (inv_event_type)t;
        inv_event_id(ev.command_id, ev.type, ev.event_id);
        if (t != INV_EV_RESERVATION_CREATED)
            ev.expires_at_ms = 0;
        if (inv_event_type_is_rejection(ev.type))
            strcpy(ev.reason, "insufficient_stock");
        ev.epoch = 9007199254740993ULL; /* beyond double precision: must stay exact */
        char *s = inv_event_encode(&ev);
        assert_non_null(s);
        inv_event out;
        char err[256] = "";
        assert_int_equal(inv_event_decode(s, strlen(s), &out, err, sizeof err), 0);
        assert_memory_equal(&ev, &out, sizeof out);
        free(s);
    }
}

static void expect_event_error(const char *json, const char *message)
{
    inv_event ev;
    char err[256] = "";
    assert_int_equal(inv_event_decode(json, strlen(json), &ev, err, sizeof err), -1);
    assert_string_equal(err, message);
}

#define EVENT_COMMON "\"schemaVersion\":1,\"eventId\":\"e\",\"commandId\":\"c\",\"productId\":\"P\"," \
                     "\"quantity\":5,\"total\":10,\"available\":10,\"reserved\":0,\"message\":\"m\","  \
                     "\"epoch\":1,\"timestampMs\":2"

static void test_inv_event_decode_per_type_requirements(void **state)
{
    expect_event_error("{" EVENT_COMMON ",\"type\":\"reservation.rejected\"}", "reason: required");
    expect_event_error("{" EVENT_COMMON ",\"type\":\"reservation.rejected\",\"reason\":\"Bad\"}",
                       "reason: must match ^[a-z][a-z0-9_]{0,62}$");
    expect_event_error("{" EVENT_COMMON ",\"type\":\"reservation.created\",\"customerId\":\"c\","
                       "\"expiresAtMs\":3}", "reservationId: required");
    expect_event_error("{" EVENT_COMMON ",\"type\":\"reservation.expired\",\"reservationId\":\"r\"}",
                       "customerId: required");
    expect_event_error("{" EVENT_COMMON ",\"type\":\"stock.moved\"}", "type: unknown event type 'stock.moved'");
    expect_event_error("{\"schemaVersion\":1,\"type\":\"stock.restocked\",\"eventId\":\"e\"}", "commandId: required");
    inv_event ev;
    char err[256];
    const char *ok = "{" EVENT_COMMON ",\"type\":\"release.rejected\",\"reason\":\"reservation_not_found\"}";
    assert_int_equal(inv_event_decode(ok, strlen(ok), &ev, err, sizeof err), 0);
    assert_int_equal(ev.type, INV_EV_RELEASE_REJECTED);
    assert_string_equal(ev.reason, "reservation_not_found");
    assert_int_equal(ev.epoch, 1);
    assert_int_equal(ev.timestamp_ms, 2);
}

static void test_inv_event_decode_pascal_case(void **state)
{
    const char *doc = "{\"SchemaVersion\":1,\"Type\":\"stock.restocked\",\"EventId\":\"e\",\"CommandId\":\"c\","
                      "\"ProductId\":\"P\",\"Quantity\":5,\"Total\":5,\"Available\":5,\"Reserved\":0,"
                      "\"Message\":\"ok\",\"Epoch\":4,\"TimestampMs\":6}";
    inv_event ev;
    char err[256] = "";
    assert_int_equal(inv_event_decode(doc, strlen(doc), &ev, err, sizeof err), 0);
    assert_int_equal(ev.type, INV_EV_STOCK_RESTOCKED);
    assert_int_equal(ev.quantity, 5);
    assert_int_equal(ev.epoch, 4);
    assert_string_equal(ev.message, "ok");
}

static void test_inv_event_type_parse_names(void **state)
{
    inv_event_type t;
    assert_int_equal(inv_event_type_parse("restock.rejected", &t), 0);
    assert_int_equal(t, INV_EV_RESTOCK_REJECTED);
    assert_int_equal(inv_event_type_parse("nope", &t), -1);
    assert_int_equal(inv_event_type_is_rejection(INV_EV_RESERVATION_CREATED), 0);
    assert_int_equal(inv_event_type_is_rejection(INV_EV_RELEASE_REJECTED), 1);
}

static void test_inv_dead_letter_encode_utf8_payload(void **state)
{
    inv_dead_letter dl = {.reason = "quantity: must be an integer", .topic = "inventory.reservations",
                          .partition = 2, .offset = 41, .key = "PROD-1", .key_len = 6,
                          .payload = "{\"quantity\":\"5\"}", .payload_len = 16, .received_at_ms = 77};
    char *s = inv_dead_letter_encode(&dl);
    assert_non_null(s);
    assert_string_equal(s, "{\"schemaVersion\":1,\"reason\":\"quantity: must be an integer\",\"topic\":"
                           "\"inventory.reservations\",\"partition\":2,\"offset\":41,\"key\":\"PROD-1\","
                           "\"keyEncoding\":\"utf8\",\"payload\":\"{\\\"quantity\\\":\\\"5\\\"}\","
                           "\"payloadEncoding\":\"utf8\",\"receivedAtMs\":77}");
    free(s);
}

static void test_inv_dead_letter_encode_binary_payload(void **state)
{
    inv_dead_letter dl = {.reason = "message: not valid JSON", .topic = "t", .partition = 0, .offset = 0,
                          .key = NULL, .payload = "\xff\xfe\x00", .payload_len = 3, .received_at_ms = 1};
    char *s = inv_dead_letter_encode(&dl);
    assert_non_null(s);
    assert_string_equal(s, "{\"schemaVersion\":1,\"reason\":\"message: not valid JSON\",\"topic\":\"t\","
                           "\"partition\":0,\"offset\":0,\"payload\":\"//4A\",\"payloadEncoding\":\"base64\","
                           "\"receivedAtMs\":1}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_command_decode_reserve_camel),
        cmocka_unit_test(test_inv_command_decode_reserve_pascal),
        cmocka_unit_test(test_inv_command_decode_quantity_wrong_types),
        cmocka_unit_test(test_inv_command_decode_quantity_range),
        cmocka_unit_test(test_inv_command_decode_product_pattern),
        cmocka_unit_test(test_inv_command_decode_command_id_limits),
        cmocka_unit_test(test_inv_command_decode_message_size),
        cmocka_unit_test(test_inv_command_decode_not_json),
        cmocka_unit_test(test_inv_command_decode_length_not_nul_terminated),
        cmocka_unit_test(test_inv_command_decode_type_errors),
        cmocka_unit_test(test_inv_command_decode_required_fields),
        cmocka_unit_test(test_inv_command_decode_both_spellings),
        cmocka_unit_test(test_inv_command_decode_unknown_fields_ignored),
        cmocka_unit_test(test_inv_command_decode_null_error_buffer),
        cmocka_unit_test(test_inv_command_decode_unknown_type_quote_keeps_utf8),
        cmocka_unit_test(test_inv_command_decode_release_forms),
        cmocka_unit_test(test_inv_command_encode_reserve_exact),
        cmocka_unit_test(test_inv_command_encode_round_trip_all_types),
        cmocka_unit_test(test_inv_command_type_parse_names),
        cmocka_unit_test(test_inv_event_id_deterministic),
        cmocka_unit_test(test_inv_event_encode_created_exact),
        cmocka_unit_test(test_inv_event_decode_round_trip_all_types),
        cmocka_unit_test(test_inv_event_decode_per_type_requirements),
        cmocka_unit_test(test_inv_event_decode_pascal_case),
        cmocka_unit_test(test_inv_event_type_parse_names),
        cmocka_unit_test(test_inv_dead_letter_encode_utf8_payload),
        cmocka_unit_test(test_inv_dead_letter_encode_binary_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
