/* test_storage_token.c -- bearer token sources: static, token file, managed identity.
 *
 * The managed-identity endpoint is a scripted libmicrohttpd server on
 * 127.0.0.1 (tests never contact 169.254.169.254).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob_test_server.h"
#include "lease/src/blob_internal.h"

static void write_file(const char *path, const char *text, time_t mtime) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static storage_token *new_token(const storage_token_options *o) {
    char err[256];
    storage_token *t = storage_token_new(o, err, sizeof err);
    assert_non_null(t);
    return t;
}

static void expect_token(storage_token *t, const char *want) {
    char *tok = NULL, err[256];
    assert_int_equal(storage_token_get(t, &tok, err, sizeof err), BLOB_OK);
    assert_string_equal(tok, want);
    free(tok);
}

static void test_token_static(void **state) {
    (void)state;
    storage_token_options o = {.static_token = "static-tok"};
    storage_token *t = new_token(&o);
    expect_token(t, "static-tok");
    expect_token(t, "static-tok");
    assert_int_equal(storage_token_fetch_count(t), 0);
    storage_token_free(t);
    storage_token_free(NULL);
}

static void test_token_new_rejects_conflicting_sources(void **state) {
    (void)state;
    char err[256];
    storage_token_options both = {.static_token = "a", .file = "/tmp/x"};
    assert_null(storage_token_new(&both, err, sizeof err));
    assert_string_equal(err, "bearer_token, bearer_token_file and use_managed_identity are "
                             "mutually exclusive");
    storage_token_options empty = {.static_token = ""};
    assert_null(storage_token_new(&empty, err, sizeof err));
    assert_string_equal(err, "bearer_token is empty");
}

static void test_token_file_reread_on_change(void **state) {
    (void)state;
    char path[] = "/tmp/leasehold-token-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "tok-one\n", 1700000000);
    storage_token_options o = {.file = path};
    storage_token *t = new_token(&o);
    expect_token(t, "tok-one");
    expect_token(t, "tok-one");
    assert_int_equal(storage_token_fetch_count(t), 1); /* unchanged file is not re-read */

    write_file(path, "tok-two\n", 1700000100); /* same size, new mtime */
    expect_token(t, "tok-two");
    assert_int_equal(storage_token_fetch_count(t), 2);

    write_file(path, "tok-three-longer", 1700000100); /* same mtime, new size */
    expect_token(t, "tok-three-longer");
    assert_int_equal(storage_token_fetch_count(t), 3);

    write_file(path, "\n", 1700000200);
    char *tok = NULL, err[256];
    assert_int_equal(storage_token_get(t, &tok, err, sizeof err), BLOB_ERR_AUTH);
    assert_null(tok);
    char want[300];
    snprintf(want, sizeof want, "bearer_token_file %s: no token in the file", path);
    assert_string_equal(err, want);

    unlink(path);
    assert_int_equal(storage_token_get(t, &tok, err, sizeof err), BLOB_ERR_AUTH);
    snprintf(want, sizeof want, "bearer_token_file %s: No such file or directory", path);
    assert_string_equal(err, want);
    assert_null(strstr(err, "tok-"));
    storage_token_free(t);
}

static void mi_endpoint(blob_test_server *s, char *out, size_t cap, const char *path) {
    snprintf(out, cap, "http://127.0.0.1:%u%s", blob_test_server_port(s), path);
}

/* An IMDS-style source on the scripted server, no client id. */
static storage_token *imds_token(blob_test_server *s) {
    char url[128];
    mi_endpoint(s, url, sizeof url, "/token");
    storage_token_options o = {.managed_identity = 1, .mi_endpoint = url};
    return new_token(&o);
}

static void test_token_imds_cached_until_refresh_window(void **state) {
    (void)state;
    char body[256];
    snprintf(body, sizeof body,
             "{\"access_token\":\"mi-token-1\",\"expires_on\":\"%lld\",\"token_type\":\"Bearer\"}",
             (long long)time(NULL) + 3600);
    blob_test_reply script[] = {{200, body, "Content-Type", "application/json"}};
    blob_test_server *s = blob_test_server_start(script, 1);
    char url[128];
    mi_endpoint(s, url, sizeof url, "/metadata/identity/oauth2/token");
    storage_token_options o = {
        .managed_identity = 1, .mi_endpoint = url, .mi_client_id = "client 1"};
    storage_token *t = new_token(&o);
    expect_token(t, "mi-token-1");
    expect_token(t, "mi-token-1");
    assert_int_equal(blob_test_server_requests(s), 1);
    assert_int_equal(storage_token_fetch_count(t), 1);
    char v[128];
    assert_true(blob_test_server_last(s, 'h', "Metadata", v, sizeof v));
    assert_string_equal(v, "true");
    assert_true(blob_test_server_last(s, 'a', "api-version", v, sizeof v));
    assert_string_equal(v, "2018-02-01");
    assert_true(blob_test_server_last(s, 'a', "resource", v, sizeof v));
    assert_string_equal(v, "https://storage.azure.com/");
    assert_true(blob_test_server_last(s, 'a', "client_id", v, sizeof v));
    assert_string_equal(v, "client 1");
    storage_token_free(t);
    blob_test_server_stop(s);
}

static void test_token_imds_refreshes_within_five_minutes(void **state) {
    (void)state;
    char b1[160], b2[160];
    time_t now = time(NULL);
    /* integer expires_on inside the refresh window, then expires_in only */
    snprintf(b1, sizeof b1, "{\"access_token\":\"near-expiry\",\"expires_on\":%lld}",
             (long long)now + STORAGE_TOKEN_REFRESH_S - 60);
    snprintf(b2, sizeof b2, "{\"access_token\":\"fresh\",\"expires_in\":\"86400\"}");
    blob_test_reply script[] = {{200, b1, NULL, NULL}, {200, b2, NULL, NULL}};
    blob_test_server *s = blob_test_server_start(script, 2);
    storage_token *t = imds_token(s);
    expect_token(t, "near-expiry");
    expect_token(t, "fresh"); /* the first one was due for refresh */
    expect_token(t, "fresh");
    assert_int_equal(blob_test_server_requests(s), 2);
    char v[64];
    assert_false(blob_test_server_last(s, 'a', "client_id", v, sizeof v));
    storage_token_free(t);
    blob_test_server_stop(s);
}

static void test_token_reject_drops_only_the_refused_managed_identity_token(void **state) {
    (void)state;
    char b1[160], b2[160];
    long long later = (long long)time(NULL) + 3600;
    snprintf(b1, sizeof b1, "{\"access_token\":\"revoked\",\"expires_on\":%lld}", later);
    snprintf(b2, sizeof b2, "{\"access_token\":\"replacement\",\"expires_on\":%lld}", later);
    blob_test_reply script[] = {{200, b1, NULL, NULL}, {200, b2, NULL, NULL}};
    blob_test_server *s = blob_test_server_start(script, 2);
    storage_token *t = imds_token(s);
    expect_token(t, "revoked");
    /* A refusal of a token already replaced (by another thread) keeps the cache... */
    assert_int_equal(storage_token_reject(t, "older"), 1);
    expect_token(t, "revoked");
    assert_int_equal(blob_test_server_requests(s), 1);
    /* ... a refusal of the cached one drops it despite its expires_on. */
    assert_int_equal(storage_token_reject(t, "revoked"), 1);
    expect_token(t, "replacement");
    expect_token(t, "replacement");
    assert_int_equal(blob_test_server_requests(s), 2);
    storage_token_free(t);
    blob_test_server_stop(s);

    /* Static and file tokens: a retry would send the same token again. */
    storage_token_options so = {.static_token = "static-tok"};
    t = new_token(&so);
    assert_int_equal(storage_token_reject(t, "static-tok"), 0);
    expect_token(t, "static-tok");
    storage_token_free(t);
}

static void test_token_app_service_style(void **state) {
    (void)state;
    char body[160];
    snprintf(body, sizeof body, "{\"access_token\":\"app-token\",\"expires_on\":\"%lld\"}",
             (long long)time(NULL) + 7200);
    blob_test_reply script[] = {{200, body, NULL, NULL}};
    blob_test_server *s = blob_test_server_start(script, 1);
    char url[128];
    mi_endpoint(s, url, sizeof url, "/msi/token");
    setenv("IDENTITY_ENDPOINT", url, 1);
    setenv("IDENTITY_HEADER", "identity-header-secret", 1);
    storage_token_options o = {.managed_identity = 1};
    storage_token *t = new_token(&o);
    unsetenv("IDENTITY_ENDPOINT");
    unsetenv("IDENTITY_HEADER");
    expect_token(t, "app-token");
    char v[128], method[16], path[128];
    assert_true(blob_test_server_last(s, 'h', "X-IDENTITY-HEADER", v, sizeof v));
    assert_string_equal(v, "identity-header-secret");
    assert_false(blob_test_server_last(s, 'h', "Metadata", v, sizeof v));
    assert_true(blob_test_server_last(s, 'a', "api-version", v, sizeof v));
    assert_string_equal(v, "2019-08-01");
    blob_test_server_last_request(s, method, sizeof method, path, sizeof path);
    assert_string_equal(method, "GET");
    assert_string_equal(path, "/msi/token");
    storage_token_free(t);
    blob_test_server_stop(s);
}

static void test_token_imds_errors_classified_without_secrets(void **state) {
    (void)state;
    blob_test_reply script[] = {
        {400, "{\"error\":\"invalid_request\",\"access_token\":\"leaked?\"}", NULL, NULL},
        {503, "busy", NULL, NULL},
        {200, "{\"token\":\"x\"}", NULL, NULL},
        {200, "{\"access_token\":\"no-expiry-secret\"}", NULL, NULL},
        {200, "not json", NULL, NULL},
    };
    static const struct {
        blob_code code;
        const char *message;
    } want[] = {
        {BLOB_ERR_AUTH, "managed identity endpoint: HTTP 400"},
        {BLOB_ERR_TRANSIENT, "managed identity endpoint: HTTP 503"},
        {BLOB_ERR_AUTH, "managed identity: the answer has no access_token"},
        {BLOB_ERR_AUTH, "managed identity: the answer has no expires_on"},
        {BLOB_ERR_AUTH, "managed identity: the answer has no access_token"},
    };
    blob_test_server *s = blob_test_server_start(script, 5);
    char url[128];
    mi_endpoint(s, url, sizeof url, "/token");
    storage_token_options o = {.managed_identity = 1, .mi_endpoint = url};
    storage_token *t = new_token(&o);
    for (int i = 0; i < 5; i++) {
        char *tok = NULL, err[256];
        assert_int_equal(storage_token_get(t, &tok, err, sizeof err), want[i].code);
        assert_string_equal(err, want[i].message);
        assert_null(tok);
    }
    storage_token_free(t);
    blob_test_server_stop(s);
}

static void test_token_imds_unreachable_is_transient(void **state) {
    (void)state;
    /* a port nobody listens on: bind one, learn its number, close it */
    blob_test_reply script[] = {{200, "{}", NULL, NULL}};
    blob_test_server *s = blob_test_server_start(script, 1);
    char url[128];
    mi_endpoint(s, url, sizeof url, "/token");
    blob_test_server_stop(s);
    storage_token_options o = {.managed_identity = 1, .mi_endpoint = url, .timeout_ms = 2000};
    storage_token *t = new_token(&o);
    char *tok = NULL, err[256];
    assert_int_equal(storage_token_get(t, &tok, err, sizeof err), BLOB_ERR_TRANSIENT);
    assert_non_null(strstr(err, "managed identity endpoint: "));
    storage_token_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_static),
        cmocka_unit_test(test_token_new_rejects_conflicting_sources),
        cmocka_unit_test(test_token_file_reread_on_change),
        cmocka_unit_test(test_token_imds_cached_until_refresh_window),
        cmocka_unit_test(test_token_imds_refreshes_within_five_minutes),
        cmocka_unit_test(test_token_reject_drops_only_the_refused_managed_identity_token),
        cmocka_unit_test(test_token_app_service_style),
        cmocka_unit_test(test_token_imds_errors_classified_without_secrets),
        cmocka_unit_test(test_token_imds_unreachable_is_transient),
    };
    return cmocka_run_group_tests(tests, blob_test_curl_setup, blob_test_curl_teardown);
}
