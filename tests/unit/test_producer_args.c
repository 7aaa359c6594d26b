/* test_producer_args.c -- unit tests for the producer's argument parsing
 * (producer/src/args.c): subcommands, required and conflicting options,
 * options after positionals, load option ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "admin_client.h"
#include "args.h"

/* getopt permutes argv, so each case parses a fresh writable copy. */
static int parse(producer_args *a, char *err, size_t errlen, int argc, const char *const *in) {
    static char storage[32][128];
    static char *argv[33];
    assert_true(argc >= 1 && argc <= 32);
    for (int i = 0; i < argc && i < 32; i++) {
        strncpy(storage[i], in[i], sizeof(storage[i]) - 1);
        argv[i] = storage[i];
    }
    argv[argc] = NULL;
    return args_parse(argc, argv, a, err, errlen);
}

#define PARSE(a, err, ...)                                                                         \
    parse(a, err, sizeof(err), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)),      \
          (const char *[]){__VA_ARGS__})

static void test_args_parse_reserve_with_options_after_positionals(void **state) {
    producer_args a;
    char err[256] = "";
    assert_int_equal(PARSE(&a, err, "p", "reserve", "PROD-001", "10", "--customer", "CUST-123",
                           "--ttl", "60", "--wait", "--command-id", "cmd-1"),
                     0);
    assert_int_equal(a.command, ARGS_RESERVE);
    assert_string_equal(a.product, "PROD-001");
    assert_string_equal(a.quantity, "10");
    assert_string_equal(a.customer, "CUST-123");
    assert_string_equal(a.ttl, "60");
    assert_string_equal(a.command_id, "cmd-1");
    assert_int_equal(a.wait, 1);
}

static void test_args_parse_reserve_requires_customer(void **state) {
    producer_args a;
    char err[256] = "";
    assert_int_equal(PARSE(&a, err, "p", "reserve", "PROD-001", "10"), -1);
    assert_string_equal(err, "reserve: --customer is required");
}

static void test_args_parse_restock_positionals(void **state) {
    producer_args a;
    char err[256] = "";
    assert_int_equal(PARSE(&a, err, "p", "--brokers", "x:1", "restock", "P", "5"), -1);
    assert_string_equal(err, "unknown subcommand '--brokers'");
    assert_int_equal(PARSE(&a, err, "p", "restock", "P", "5", "--brokers", "h:9092"), 0);
    assert_int_equal(a.command, ARGS_RESTOCK);
    assert_string_equal(a.brokers, "h:9092");
    assert_int_equal(PARSE(&a, err, "p", "restock", "P"), -1);
    assert_string_equal(err, "restock: expected 2 arguments, got 1");
}

static void test_args_parse_release_forms(void **state) {
    producer_args a;
    char err[256] = "";
    assert_int_equal(PARSE(&a, err, "p", "release", "P", "--reservation", "R-1"), 0);
    assert_string_equal(a.reservation, "R-1");
    assert_null(a.quantity);
    assert_int_equal(PARSE(&a, err, "p", "release", "P", "--customer", "C", "--quantity", "3"), 0);
    assert_string_equal(a.customer, "C");
    assert_string_equal(a.quantity, "3");
    assert_int_equal(PARSE(&a, err, "p", "release", "P", "--customer", "C"), -1);
    assert_string_equal(err, "release: needs --reservation ID or --customer ID --quantity N");
    assert_int_equal(PARSE(&a, err, "p", "release", "P", "--reservation", "R", "--customer", "C"),
                     -1);
    assert_string_equal(err, "release: use either --reservation or --customer with --quantity");
}

static void test_args_parse_rejects_foreign_option(void **state) {
    producer_args a;
    char err[256] = "";
    assert_int_equal(PARSE(&a, err, "p", "get", "P", "--ttl", "5"), -1);
    assert_string_equal(err, "get: option --ttl does not apply");
    assert_int_equal(PARSE(&a, err, "p", "get", "P", "--bogus"), -1);
    assert_string_equal(err, "get: unknown option or missing value near '--bogus'");
}

static void test_args_parse_serve_requires_listen(void **state) {
    producer_args a;
    char err[256] = "";
    assert_int_equal(PARSE(&a, err, "p", "serve"), -1);
    assert_string_equal(err, "serve: --listen ADDR:PORT is required");
    assert_int_equal(PARSE(&a, err, "p", "serve", "--listen", "127.0.0.1:8080", "--timeout", "2s"),
                     0);
    assert_string_equal(a.listen, "127.0.0.1:8080");
    assert_string_equal(a.timeout, "2s");
}

static void test_args_parse_load_latency_log(void **state) {
    producer_args a;
    char err[256] = "";
    assert_int_equal(PARSE(&a, err, "p", "load"), 0);
    assert_null(a.load.latency_log);
    assert_int_equal(PARSE(&a, err, "p", "load", "--latency-log", "/tmp/lat.log"), 0);
    assert_string_equal(a.load.latency_log, "/tmp/lat.log");
    assert_int_equal(PARSE(&a, err, "p", "load", "--latency-log", ""), -1);
    assert_string_equal(err, "--latency-log: must name a file");
    assert_int_equal(PARSE(&a, err, "p", "get", "P", "--latency-log", "x"), -1);
    assert_string_equal(err, "get: option --latency-log does not apply");
}

/* The repair of blocked products talks to a worker's admin API: --worker is
 * required, and the URLs are exactly the documented ones. */
static void test_args_parse_blocked_commands(void **state) {
    producer_args a;
    char err[256] = "";
    char url[128];
    assert_int_equal(PARSE(&a, err, "p", "blocked"), -1);
    assert_string_equal(err, "blocked: --worker ADDR:PORT is required (the worker's admin address)");
    assert_int_equal(PARSE(&a, err, "p", "blocked", "--worker", "127.0.0.1:9464"), 0);
    assert_int_equal(a.command, ARGS_BLOCKED);
    assert_int_equal(admin_client_url(a.command, a.worker, a.product, url, sizeof(url)), 0);
    assert_string_equal(url, "http://127.0.0.1:9464/api/blocked");
    assert_int_equal(PARSE(&a, err, "p", "retry-blocked", "PROD-7", "--worker", "w:1"), 0);
    assert_int_equal(a.command, ARGS_BLOCKED_RETRY);
    assert_int_equal(admin_client_url(a.command, a.worker, a.product, url, sizeof(url)), 0);
    assert_string_equal(url, "http://w:1/api/blocked/PROD-7/retry");
    assert_int_equal(PARSE(&a, err, "p", "dead-letter-blocked", "--worker", "w:1", "PROD-7"), 0);
    assert_int_equal(a.command, ARGS_BLOCKED_DEAD_LETTER);
    assert_int_equal(admin_client_url(a.command, a.worker, a.product, url, sizeof(url)), 0);
    assert_string_equal(url, "http://w:1/api/blocked/PROD-7/dead-letter");
    assert_int_equal(admin_client_url(a.command, a.worker, a.product, url, 20), -1);
    assert_int_equal(PARSE(&a, err, "p", "retry-blocked", "--worker", "w:1"), -1);
    assert_string_equal(err, "retry-blocked: expected 1 argument, got 0");
    assert_int_equal(PARSE(&a, err, "p", "blocked", "--worker", "w:1", "--brokers", "b:1"), -1);
    assert_string_equal(err, "blocked: option --brokers does not apply");
}

static void test_args_parse_load_options(void **state) {
    producer_args a;
    char err[256] = "";
    assert_int_equal(PARSE(&a, err, "p", "load"), 0);
    assert_int_equal(a.load.products, 10);
    assert_int_equal(a.load.count, 1000);
    assert_int_equal(a.load.weight_reserve, 70);
    assert_int_equal(PARSE(&a, err, "p", "load", "--products", "20", "--count", "2000", "--rate",
                           "150.5", "--mix", "5:3:2", "--hot", "0.5", "--duplicates", "0.1",
                           "--invalid", "0.05", "--seed", "42", "--prefix", "T-"),
                     0);
    assert_int_equal(a.load.products, 20);
    assert_int_equal(a.load.count, 2000);
    assert_true(a.load.rate == 150.5);
    assert_int_equal(a.load.weight_reserve, 5);
    assert_int_equal(a.load.weight_release, 3);
    assert_int_equal(a.load.weight_restock, 2);
    assert_true(a.load.hot_fraction == 0.5);
    assert_true(a.load.duplicate_fraction == 0.1);
    assert_true(a.load.invalid_fraction == 0.05);
    assert_int_equal(a.load.seed, 42);
    assert_string_equal(a.load.product_prefix, "T-");
}

static void test_args_parse_load_rejects_bad_values(void **state) {
    producer_args a;
    char err[256] = "";
    assert_int_equal(PARSE(&a, err, "p", "load", "--hot", "1.5"), -1);
    assert_string_equal(err, "--hot: must be a number from 0 to 1, got '1.5'");
    assert_int_equal(PARSE(&a, err, "p", "load", "--mix", "0:0:0"), -1);
    assert_string_equal(
        err,
        "--mix: must be RESERVE:RELEASE:RESTOCK weights (non-negative, not all 0), got '0:0:0'");
    assert_int_equal(PARSE(&a, err, "p", "load", "--count", "ten"), -1);
    assert_string_equal(err, "--count: must be an integer from 1 to 100000000, got 'ten'");
}

static void test_args_parse_load_products_range(void **state) {
    producer_args a;
    char err[256] = "";
    const char *ok[] = {"1", "999", "1000", "1000000"};
    const int want[] = {1, 999, 1000, 1000000};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(PARSE(&a, err, "p", "load", "--products", ok[i]), 0);
        assert_int_equal(a.load.products, want[i]);
    }
    const char *bad[] = {"0", "-5", "1000001", "many", "12abc", "", "99999999999999999999"};
    for (int i = 0; i < 7; i++) {
        char expected[128];
        snprintf(expected, sizeof(expected),
                 "--products: must be an integer from 1 to 1000000, got '%s'", bad[i]);
        assert_int_equal(PARSE(&a, err, "p", "load", "--products", bad[i]), -1);
        assert_string_equal(err, expected);
    }
}

static void test_args_parse_load_prefix_is_a_product_id_start(void **state) {
    producer_args a;
    char err[256] = "";
    const char *max = "P2345678901234567890123456789.-_"; /* 32 characters */
    assert_int_equal(PARSE(&a, err, "p", "load", "--prefix", max), 0);
    assert_string_equal(a.load.product_prefix, max);
    const char *bad[] = {"", "-LOAD", "LO/AD-", "LOAD ", "P23456789012345678901234567890123"};
    for (int i = 0; i < 5; i++) {
        char expected[200];
        snprintf(expected, sizeof(expected),
                 "--prefix: must be 1 to 32 characters of A-Z a-z 0-9 . _ -, starting with a "
                 "letter or digit (productId's pattern), got '%s'",
                 bad[i]);
        assert_int_equal(PARSE(&a, err, "p", "load", "--prefix", bad[i]), -1);
        assert_string_equal(err, expected);
    }
}

static void test_args_parse_help_and_unknown(void **state) {
    producer_args a;
    char err[256] = "";
    assert_int_equal(PARSE(&a, err, "p"), 0);
    assert_int_equal(a.command, ARGS_HELP);
    assert_int_equal(PARSE(&a, err, "p", "reserve", "--help"), 0);
    assert_int_equal(a.command, ARGS_HELP);
    assert_int_equal(PARSE(&a, err, "p", "teleport"), -1);
    assert_string_equal(err, "unknown subcommand 'teleport'");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_parse_reserve_with_options_after_positionals),
        cmocka_unit_test(test_args_parse_reserve_requires_customer),
        cmocka_unit_test(test_args_parse_restock_positionals),
        cmocka_unit_test(test_args_parse_release_forms),
        cmocka_unit_test(test_args_parse_rejects_foreign_option),
        cmocka_unit_test(test_args_parse_serve_requires_listen),
        cmocka_unit_test(test_args_parse_load_latency_log),
        cmocka_unit_test(test_args_parse_blocked_commands),
        cmocka_unit_test(test_args_parse_load_options),
        cmocka_unit_test(test_args_parse_load_rejects_bad_values),
        cmocka_unit_test(test_args_parse_load_products_range),
        cmocka_unit_test(test_args_parse_load_prefix_is_a_product_id_start),
        cmocka_unit_test(test_args_parse_help_and_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
