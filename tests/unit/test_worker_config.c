/* test_worker_config.c -- unit tests for worker/worker_config.c: flags,
 * environment and file map onto the key table; invalid values name the
 * key; docs/configuration.md matches the table.
 * LEASEHOLD_REGENERATE_DOCS=1 rewrites the doc instead of comparing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage_config.h"
#include "worker_config.h"

static config *load(int argc, char **argv, worker_config_action *action, char *err, size_t errlen) {
    FILE *out = fopen("/dev/null", "w");
    config *cfg = worker_config_load(argc, argv, out, action, err, errlen);
    fclose(out);
    return cfg;
}

/* The environment and defaults only, as a worker started without flags. */
static config *load_without_flags(void) {
    char *argv[] = {"inventory-worker", NULL};
    worker_config_action action;
    char err[256];
    config *cfg = load(1, argv, &action, err, sizeof(err));
    assert_non_null(cfg);
    assert_int_equal(action, WORKER_CONFIG_RUN);
    return cfg;
}

static void test_worker_config_load_defaults_reach_local_services(void **state) {
    (void)state;
    config *cfg = load_without_flags();
    assert_string_equal(config_string(cfg, "kafka.brokers"), "127.0.0.1:9092");
    assert_string_equal(config_string(cfg, "storage.connection_string"),
                        "UseDevelopmentStorage=true");
    assert_string_equal(config_string(cfg, "kafka.group_id"), "inventory-workers");
    assert_string_equal(config_string(cfg, "topic.reservations"), "inventory.reservations");
    assert_string_equal(config_string(cfg, "topic.releases"), "inventory.releases");
    assert_string_equal(config_string(cfg, "topic.admin"), "inventory.admin");
    assert_string_equal(config_string(cfg, "topic.events"), "inventory.events");
    assert_string_equal(config_string(cfg, "topic.dlq"), "inventory.dlq");
    assert_string_equal(config_string(cfg, "storage.container"), "inventory");
    assert_int_equal(config_duration_ms(cfg, "reconciler.interval"), 30000);
    assert_int_equal(config_int(cfg, "reconciler.page_size"), 5000);
    assert_null(config_string(cfg, "admin.listen"));
    config_free(cfg);
}

static void test_worker_config_load_flags(void **state) {
    (void)state;
    char *argv[] = {"inventory-worker",
                    "--admin",
                    "127.0.0.1:8081",
                    "--id",
                    "worker-7",
                    "--threads",
                    "3",
                    NULL};
    worker_config_action action;
    char err[256];
    setenv("LEASEHOLD_WORKER_THREADS", "9", 1);
    config *cfg = load(7, argv, &action, err, sizeof(err));
    unsetenv("LEASEHOLD_WORKER_THREADS");
    assert_non_null(cfg);
    assert_string_equal(config_string(cfg, "admin.listen"), "127.0.0.1:8081");
    assert_string_equal(config_string(cfg, "worker.id"), "worker-7");
    assert_int_equal(config_int(cfg, "worker.threads"), 3); /* flag beats environment */
    config_free(cfg);
}

static void test_worker_config_load_invalid_env_names_key(void **state) {
    (void)state;
    char *argv[] = {"inventory-worker", NULL};
    worker_config_action action;
    char err[256];
    setenv("LEASEHOLD_LEASE_DURATION", "10", 1);
    config *cfg = load(1, argv, &action, err, sizeof(err));
    unsetenv("LEASEHOLD_LEASE_DURATION");
    assert_null(cfg);
    assert_string_equal(
        err,
        "LEASEHOLD_LEASE_DURATION (lease.duration): must be an integer from 15 to 60, got '10'");

    setenv("LEASEHOLD_LOG_LEVEL", "chatty", 1);
    cfg = load(1, argv, &action, err, sizeof(err));
    unsetenv("LEASEHOLD_LOG_LEVEL");
    assert_null(cfg);
    assert_non_null(strstr(err, "LEASEHOLD_LOG_LEVEL (log.level)"));
}

static void test_worker_config_load_secret_not_echoed(void **state) {
    (void)state;
    char path[] = "/tmp/test_worker_config_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("storage.connection_string = AccountKey=c2VjcmV0\nlease.duration = 99\n", f);
    fclose(f);
    char *argv[] = {"inventory-worker", "--config", path, NULL};
    worker_config_action action;
    char err[512];
    config *cfg = load(3, argv, &action, err, sizeof(err));
    unlink(path);
    assert_null(cfg);
    assert_non_null(strstr(err, ":2: LEASEHOLD_LEASE_DURATION (lease.duration)"));
    assert_null(strstr(err, "c2VjcmV0"));
}

static void test_worker_config_load_unknown_flag(void **state) {
    (void)state;
    char *argv[] = {"inventory-worker", "--bogus", NULL};
    worker_config_action action;
    char err[256];
    assert_null(load(2, argv, &action, err, sizeof(err)));
    assert_string_equal(err, "unknown or incomplete option '--bogus' (try --help)");
    char *argv2[] = {"inventory-worker", "--threads", "0x", NULL};
    assert_null(load(3, argv2, &action, err, sizeof(err)));
    assert_non_null(strstr(err, "LEASEHOLD_WORKER_THREADS (worker.threads)"));
}

/* The storage.* keys reach the blob client: a bearer token demands HTTPS, and
 * the refusal names the option but never echoes the token. */
static void test_worker_config_storage_bearer_needs_https(void **state) {
    (void)state;
    char err[256];
    config *cfg = load_without_flags();
    assert_int_equal(config_set(cfg, "storage.bearer_token", "tok-SECRET-123", err, sizeof(err)), 0);
    assert_null(storage_config_blob_client(cfg, err, sizeof(err)));
    assert_non_null(strstr(err, "storage: "));
    assert_non_null(strstr(err, "bearer"));
    assert_null(strstr(err, "tok-SECRET-123"));
    config_free(cfg);
}

static void test_worker_config_storage_defaults_make_a_client(void **state) {
    (void)state;
    char err[256];
    config *cfg = load_without_flags();
    assert_int_equal(config_bool(cfg, "storage.managed_identity"), 0);
    assert_int_equal(config_duration_ms(cfg, "storage.request_timeout"), 10000);
    blob_client *client = storage_config_blob_client(cfg, err, sizeof(err));
    assert_non_null(client);
    assert_string_equal(blob_client_account(client), "devstoreaccount1");
    blob_client_free(client);
    config_free(cfg);
}

static void test_worker_config_doc_matches_table(void **state) {
    (void)state;
    char *want = NULL;
    size_t want_len = 0;
    FILE *mem = open_memstream(&want, &want_len);
    worker_config_write_doc(mem);
    fclose(mem);
    if (getenv("LEASEHOLD_REGENERATE_DOCS")) {
        FILE *out = fopen(LEASEHOLD_CONFIG_DOC, "w");
        assert_non_null(out);
        fwrite(want, 1, want_len, out);
        fclose(out);
    }
    FILE *in = fopen(LEASEHOLD_CONFIG_DOC, "r");
    assert_non_null(in);
    char *have = calloc(1, want_len + 2);
    size_t have_len = fread(have, 1, want_len + 1, in);
    fclose(in);
    if (have_len != want_len || memcmp(have, want, want_len) != 0)
        fail_msg("docs/configuration.md is out of date: regenerate with "
                 "LEASEHOLD_REGENERATE_DOCS=1 %s",
                 "tests/test_worker_config");
    free(have);
    free(want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_config_load_defaults_reach_local_services),
        cmocka_unit_test(test_worker_config_load_flags),
        cmocka_unit_test(test_worker_config_load_invalid_env_names_key),
        cmocka_unit_test(test_worker_config_load_secret_not_echoed),
        cmocka_unit_test(test_worker_config_load_unknown_flag),
        cmocka_unit_test(test_worker_config_storage_bearer_needs_https),
        cmocka_unit_test(test_worker_config_storage_defaults_make_a_client),
        cmocka_unit_test(test_worker_config_doc_matches_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
