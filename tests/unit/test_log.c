/* test_log.c -- unit tests for common/log.c: level filtering, plain and JSON
 * line formats. stderr is redirected to a temporary file per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

typedef struct capture {
    int saved_fd;
    FILE *file;
} capture;

static int capture_start(void **state) {
    capture *c = calloc(1, sizeof(*c));
    c->file = tmpfile();
    c->saved_fd = dup(STDERR_FILENO);
    dup2(fileno(c->file), STDERR_FILENO);
    *state = c;
    return 0;
}

/* Restores stderr and returns everything written meanwhile (malloc'd). */
static char *capture_text(capture *c) {
    fflush(stderr);
    dup2(c->saved_fd, STDERR_FILENO);
    close(c->saved_fd);
    c->saved_fd = -1;
    long n = ftell(c->file);
    char *buf = calloc(1, (size_t)n + 1);
    rewind(c->file);
    size_t got = fread(buf, 1, (size_t)n, c->file);
    buf[got] = '\0';
    return buf;
}

static int capture_end(void **state) {
    capture *c = *state;
    if (c->saved_fd >= 0) {
        dup2(c->saved_fd, STDERR_FILENO);
        close(c->saved_fd);
    }
    fclose(c->file);
    free(c);
    return 0;
}

static void test_log_level_parse_names(void **state) {
    (void)state;
    assert_int_equal(log_level_parse("debug"), LOG_LVL_DEBUG);
    assert_int_equal(log_level_parse("INFO"), LOG_LVL_INFO);
    assert_int_equal(log_level_parse("warn"), LOG_LVL_WARN);
    assert_int_equal(log_level_parse("warning"), LOG_LVL_WARN);
    assert_int_equal(log_level_parse("error"), LOG_LVL_ERROR);
    assert_int_equal(log_level_parse("loud"), -1);
    assert_int_equal(log_level_parse(NULL), -1);
}

static void test_log_write_plain_filters_level(void **state) {
    log_init("worker-1", LOG_LVL_INFO, 0);
    log_debug("hidden %d", 1);
    log_info("Acquired lease %s for product %s", "abc", "PROD-001");
    log_error("boom");
    char *text = capture_text(*state);
    assert_null(strstr(text, "hidden"));
    char *first = strstr(text, " INFO  worker-1 Acquired lease abc for product PROD-001\n");
    assert_non_null(first);
    assert_non_null(strstr(text, " ERROR worker-1 boom\n"));
    /* timestamp shape: 2026-11-28T04:42:12.345Z */
    assert_int_equal(text[4], '-');
    assert_int_equal(text[10], 'T');
    assert_int_equal(text[23], 'Z');
    free(text);
}

static void test_log_write_json_escapes(void **state) {
    log_init("w\"2", LOG_LVL_DEBUG, 1);
    log_warn("quote \" and newline \n end");
    char *text = capture_text(*state);
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    assert_non_null(obj);
    assert_string_equal(json_string_value(json_object_get(obj, "level")), "WARN");
    assert_string_equal(json_string_value(json_object_get(obj, "component")), "w\"2");
    assert_string_equal(json_string_value(json_object_get(obj, "msg")),
                        "quote \" and newline \n end");
    assert_non_null(json_object_get(obj, "ts"));
    json_decref(obj);
    free(text);
}

static void test_log_write_truncates_long_line(void **state) {
    log_init("w", LOG_LVL_INFO, 0);
    char *big = malloc(10000);
    memset(big, 'x', 9999);
    big[9999] = '\0';
    log_info("%s", big);
    free(big);
    char *text = capture_text(*state);
    size_t len = strlen(text);
    assert_true(len < 5000);
    assert_int_equal(text[len - 1], '\n');
    assert_ptr_equal(strchr(text, '\n'), text + len - 1); /* one line, not split */
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_level_parse_names),
        cmocka_unit_test_setup_teardown(test_log_write_plain_filters_level, capture_start,
                                        capture_end),
        cmocka_unit_test_setup_teardown(test_log_write_json_escapes, capture_start, capture_end),
        cmocka_unit_test_setup_teardown(test_log_write_truncates_long_line, capture_start,
                                        capture_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
