/* test_config.c -- unit tests for common/config.c: parsing, validation
 * messages naming the key, precedence of sources, file format, markdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const config_key test_keys[] = {
    {"kafka.brokers", CONFIG_STRING, "127.0.0.1:9092", 0, 0, 0, "Kafka bootstrap servers"},
    {"worker.threads", CONFIG_INT, "2", 1, 256, 0, "Worker threads"},
    {"log.json", CONFIG_BOOL, "false", 0, 0, 0, "JSON logs"},
    {"lease.idle", CONFIG_DURATION, "5s", 0, 3600000, 0, "Idle | release"},
    {"storage.key", CONFIG_STRING, NULL, 0, 0, 1, "Account key"},
    {"tiny.duration", CONFIG_DURATION, "1s", 1000, 60000, 0, "Bounded"},
};
#define NKEYS (sizeof(test_keys) / sizeof(test_keys[0]))

static int setup_cfg(void **state) {
    *state = config_new(test_keys, NKEYS);
    return *state ? 0 : -1;
}

static int teardown_cfg(void **state) {
    config_free(*state);
    unsetenv("LEASEHOLD_WORKER_THREADS");
    unsetenv("LEASEHOLD_KAFKA_BROKERS");
    return 0;
}

static void test_config_new_defaults(void **state) {
    config *cfg = *state;
    assert_string_equal(config_string(cfg, "kafka.brokers"), "127.0.0.1:9092");
    assert_int_equal(config_int(cfg, "worker.threads"), 2);
    assert_int_equal(config_bool(cfg, "log.json"), 0);
    assert_int_equal(config_duration_ms(cfg, "lease.idle"), 5000);
    assert_null(config_string(cfg, "storage.key"));
}

static void test_config_env_name_maps_dots(void **state) {
    (void)state;
    char buf[64];
    config_env_name("kafka.brokers", buf, sizeof(buf));
    assert_string_equal(buf, "LEASEHOLD_KAFKA_BROKERS");
    config_env_name("worker.drain-timeout", buf, sizeof(buf));
    assert_string_equal(buf, "LEASEHOLD_WORKER_DRAIN_TIMEOUT");
    config_env_name("kafka.brokers", buf, 12);
    assert_string_equal(buf, "LEASEHOLD_K");
}

static void test_config_set_int_out_of_range_names_key(void **state) {
    char err[256];
    assert_int_equal(config_set(*state, "worker.threads", "abc", err, sizeof(err)), -1);
    assert_string_equal(
        err,
        "LEASEHOLD_WORKER_THREADS (worker.threads): must be an integer from 1 to 256, got 'abc'");
    assert_int_equal(config_set(*state, "worker.threads", "257", err, sizeof(err)), -1);
    assert_int_equal(config_set(*state, "worker.threads", "0", err, sizeof(err)), -1);
    assert_int_equal(config_set(*state, "worker.threads", "12x", err, sizeof(err)), -1);
    assert_int_equal(config_int(*state, "worker.threads"), 2);
    assert_int_equal(config_set(*state, "worker.threads", "256", err, sizeof(err)), 0);
    assert_int_equal(config_int(*state, "worker.threads"), 256);
}

static void test_config_set_duration_units(void **state) {
    char err[256];
    config *cfg = *state;
    assert_int_equal(config_set(cfg, "lease.idle", "250ms", err, sizeof(err)), 0);
    assert_int_equal(config_duration_ms(cfg, "lease.idle"), 250);
    assert_int_equal(config_set(cfg, "lease.idle", "2m", err, sizeof(err)), 0);
    assert_int_equal(config_duration_ms(cfg, "lease.idle"), 120000);
    assert_int_equal(config_set(cfg, "lease.idle", "1h", err, sizeof(err)), 0);
    assert_int_equal(config_duration_ms(cfg, "lease.idle"), 3600000);
    assert_int_equal(config_set(cfg, "lease.idle", "1500", err, sizeof(err)), 0);
    assert_int_equal(config_duration_ms(cfg, "lease.idle"), 1500);
    assert_int_equal(config_set(cfg, "lease.idle", "5 s", err, sizeof(err)), -1);
    assert_int_equal(config_set(cfg, "lease.idle", "2d", err, sizeof(err)), -1);
    assert_int_equal(config_set(cfg, "tiny.duration", "500ms", err, sizeof(err)), -1);
    assert_string_equal(err,
                        "LEASEHOLD_TINY_DURATION (tiny.duration): must be a duration from 1000ms "
                        "to 60000ms (e.g. 250ms, 5s, 2m, 1h), got '500ms'");
}

static void test_config_set_bool_spellings(void **state) {
    char err[256];
    config *cfg = *state;
    const char *yes[] = {"true", "1", "YES", "On"};
    const char *no[] = {"false", "0", "no", "OFF"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(config_set(cfg, "log.json", yes[i], err, sizeof(err)), 0);
        assert_int_equal(config_bool(cfg, "log.json"), 1);
        assert_int_equal(config_set(cfg, "log.json", no[i], err, sizeof(err)), 0);
        assert_int_equal(config_bool(cfg, "log.json"), 0);
    }
    assert_int_equal(config_set(cfg, "log.json", "maybe", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "LEASEHOLD_LOG_JSON"));
}

static void test_config_set_unknown_key(void **state) {
    char err[256];
    assert_int_equal(config_set(*state, "no.such", "1", err, sizeof(err)), -1);
    assert_string_equal(err, "unknown configuration key 'no.such'");
}

static void test_config_secret_value_not_echoed(void **state) {
    static const config_key keys[] = {{"storage.pin", CONFIG_INT, NULL, 0, 9, 1, "secret"}};
    config *cfg = config_new(keys, 1);
    char err[256];
    assert_int_equal(config_set(cfg, "storage.pin", "hunter2", err, sizeof(err)), -1);
    assert_null(strstr(err, "hunter2"));
    assert_non_null(strstr(err, "LEASEHOLD_STORAGE_PIN"));
    config_free(cfg);
    (void)state;
}

static void test_config_precedence_set_env_file(void **state) {
    config *cfg = *state;
    char err[256];
    char path[] = "/tmp/test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# comment\n\nworker.threads = 7\nLEASEHOLD_KAFKA_BROKERS=\"file:1\"\nlease.idle=3s\n",
          f);
    fclose(f);

    setenv("LEASEHOLD_WORKER_THREADS", "9", 1);
    assert_int_equal(config_set(cfg, "kafka.brokers", "flag:1", err, sizeof(err)), 0);
    assert_int_equal(config_load_env(cfg, err, sizeof(err)), 0);
    assert_int_equal(config_load_file(cfg, path, err, sizeof(err)), 0);
    unlink(path);

    assert_string_equal(config_string(cfg, "kafka.brokers"), "flag:1"); /* set beats file */
    assert_int_equal(config_int(cfg, "worker.threads"), 9);             /* env beats file */
    assert_int_equal(config_duration_ms(cfg, "lease.idle"), 3000);      /* file beats default */
}

static void test_config_load_env_invalid_names_key(void **state) {
    char err[256];
    setenv("LEASEHOLD_WORKER_THREADS", "-3", 1);
    assert_int_equal(config_load_env(*state, err, sizeof(err)), -1);
    assert_string_equal(
        err,
        "LEASEHOLD_WORKER_THREADS (worker.threads): must be an integer from 1 to 256, got '-3'");
}

static void test_config_load_file_errors(void **state) {
    config *cfg = *state;
    char err[512];
    char path[] = "/tmp/test_config_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("worker.threads = 4\nbogus.key = 1\n", f);
    fclose(f);
    assert_int_equal(config_load_file(cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":2: unknown configuration key 'bogus.key'"));

    f = fopen(path, "w");
    fputs("worker.threads = lots\n", f);
    fclose(f);
    assert_int_equal(config_load_file(cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":1: LEASEHOLD_WORKER_THREADS (worker.threads)"));

    f = fopen(path, "w");
    fputs("just words\n", f);
    fclose(f);
    assert_int_equal(config_load_file(cfg, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":1: expected 'key = value'"));
    unlink(path);

    assert_int_equal(config_load_file(cfg, "/nonexistent/leasehold.conf", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/leasehold.conf"));
}

static void test_config_write_markdown_rows(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    config_write_markdown(test_keys, 2, out);
    fclose(out);
    assert_string_equal(buf, "| Environment variable | Key | Type | Default | Meaning |\n"
                             "|---|---|---|---|---|\n"
                             "| `LEASEHOLD_KAFKA_BROKERS` | `kafka.brokers` | string | "
                             "`127.0.0.1:9092` | Kafka bootstrap servers |\n"
                             "| `LEASEHOLD_WORKER_THREADS` | `worker.threads` | integer (1..256) | "
                             "`2` | Worker threads |\n");
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_new_defaults, setup_cfg, teardown_cfg),
        cmocka_unit_test(test_config_env_name_maps_dots),
        cmocka_unit_test_setup_teardown(test_config_set_int_out_of_range_names_key, setup_cfg,
                                        teardown_cfg),
        cmocka_unit_test_setup_teardown(test_config_set_duration_units, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_config_set_bool_spellings, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_config_set_unknown_key, setup_cfg, teardown_cfg),
        cmocka_unit_test(test_config_secret_value_not_echoed),
        cmocka_unit_test_setup_teardown(test_config_precedence_set_env_file, setup_cfg,
                                        teardown_cfg),
        cmocka_unit_test_setup_teardown(test_config_load_env_invalid_names_key, setup_cfg,
                                        teardown_cfg),
        cmocka_unit_test_setup_teardown(test_config_load_file_errors, setup_cfg, teardown_cfg),
        cmocka_unit_test(test_config_write_markdown_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
