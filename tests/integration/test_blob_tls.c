/* test_blob_tls.c -- the blob client over HTTPS, with SharedKey and with bearer tokens.
 *
 * Starts its own Azurite with TLS and `--oauth basic` through
 * deploy/local/azurite-tls (a private CA and a certificate for 127.0.0.1 in a
 * temporary folder, a free port), and stops it afterwards. Azurite checks a
 * bearer token's audience, issuer and expiry but not its signature, so the
 * test mints an unsigned JWT itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "leasehold/blob.h"
#include "unit/blob_test_server.h"

#define DEV_KEY                                                                                    \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

typedef struct tls_env {
    char dir[64];
    char ca_file[300];
    char endpoint[128];
    char script[512];
} tls_env;

/* A port that was free a moment ago (the kernel's pick for port 0). */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int group_setup(void **state) {
    tls_env *env = calloc(1, sizeof *env);
    assert_non_null(env);
    const char *src = getenv("LEASEHOLD_SOURCE_DIR");
    snprintf(env->script, sizeof env->script, "%s/deploy/local/azurite-tls", src ? src : ".");
    snprintf(env->dir, sizeof env->dir, "/tmp/leasehold-tls-XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    int port = free_port();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s start %s %d --oauth", env->script, env->dir, port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (!fgets(env->ca_file, sizeof env->ca_file, p))
        env->ca_file[0] = '\0';
    int rc = pclose(p);
    if (rc != 0 || !env->ca_file[0]) {
        print_error("azurite-tls start failed (%d)\n", rc);
        return -1;
    }
    env->ca_file[strcspn(env->ca_file, "\n")] = '\0';
    snprintf(env->endpoint, sizeof env->endpoint, "https://127.0.0.1:%d/devstoreaccount1", port);
    *state = env;
    return 0;
}

static int group_teardown(void **state) {
    tls_env *env = *state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s stop %s >/dev/null && rm -rf %s", env->script, env->dir,
             env->dir);
    int rc = system(cmd);
    free(env);
    return rc == 0 ? 0 : -1;
}

static char *b64url(const char *in) {
    size_t n = strlen(in);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *c = out; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    return out;
}

/* An unsigned JWT for storage that expires `exp_in` seconds from now. */
static void make_jwt(char *out, size_t cap, long exp_in) {
    long now = (long)time(NULL);
    char payload[512];
    snprintf(payload, sizeof payload,
             "{\"aud\":\"https://storage.azure.com\","
             "\"iss\":\"https://sts.windows.net/ab1f708d-50f6-404c-a006-d71b2ac7a606/\","
             "\"iat\":%ld,\"nbf\":%ld,\"exp\":%ld,\"oid\":\"leasehold-test\","
             "\"tid\":\"ab1f708d-50f6-404c-a006-d71b2ac7a606\"}",
             now - 600, now - 600, now + exp_in);
    char *h = b64url("{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
    char *b = b64url(payload);
    snprintf(out, cap, "%s.%s.c2lnbmF0dXJl", h, b);
    free(h);
    free(b);
}

static blob_client *client(tls_env *env, const char *connstr, int with_ca, const char *bearer,
                           const char *bearer_file) {
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = connstr;
    o.ca_file = with_ca ? env->ca_file : NULL;
    o.bearer_token = bearer;
    o.bearer_token_file = bearer_file;
    o.retry_base_ms = 5;
    o.retry_max_ms = 20;
    blob_error e;
    blob_client *c = blob_client_new(&o, &e);
    if (!c)
        fail_msg("blob_client_new: %s", e.message);
    return c;
}

/* Container, put, get, lease, list, delete: the whole path works. */
static void exercise(blob_client *c, const char *container) {
    blob_error e;
    assert_int_equal(blob_container_create(c, container, &e), BLOB_OK);
    assert_int_equal(blob_put(c, container, "a.txt", "secure", 6, NULL, NULL, NULL, NULL, &e),
                     BLOB_OK);
    char *data;
    size_t len;
    assert_int_equal(blob_get(c, container, "a.txt", NULL, &data, &len, NULL, &e), BLOB_OK);
    assert_string_equal(data, "secure");
    free(data);
    char id[64];
    assert_int_equal(blob_lease_acquire(c, container, "a.txt", 15, NULL, id, &e), BLOB_OK);
    assert_int_equal(blob_lease_release(c, container, "a.txt", id, &e), BLOB_OK);
    assert_int_equal(blob_container_delete(c, container, &e), BLOB_OK);
}

static void test_https_shared_key_with_ca_file(void **state) {
    tls_env *env = *state;
    char cs[512];
    snprintf(cs, sizeof cs, "AccountName=devstoreaccount1;AccountKey=" DEV_KEY ";BlobEndpoint=%s",
             env->endpoint);
    blob_client *c = client(env, cs, 1, NULL, NULL);
    exercise(c, "tls-sharedkey");
    blob_client_free(c);
}

static void test_https_without_ca_file_fails_verification_once(void **state) {
    tls_env *env = *state;
    char cs[512];
    snprintf(cs, sizeof cs, "AccountName=devstoreaccount1;AccountKey=" DEV_KEY ";BlobEndpoint=%s",
             env->endpoint);
    blob_client *c = client(env, cs, 0, NULL, NULL);
    blob_error e;
    assert_int_equal(blob_container_create(c, "tls-noca", &e), BLOB_ERR_INVALID);
    assert_int_equal(e.http_status, 0);
    assert_non_null(strstr(e.message, "create container tls-noca: invalid argument ("));
    assert_null(strstr(e.message, "after")); /* a certificate problem is not retried */
    blob_client_free(c);
}

static void test_https_bearer_token(void **state) {
    tls_env *env = *state;
    char cs[256], jwt[1024];
    snprintf(cs, sizeof cs, "BlobEndpoint=%s", env->endpoint);
    make_jwt(jwt, sizeof jwt, 3600);
    blob_client *c = client(env, cs, 1, jwt, NULL);
    assert_string_equal(blob_client_account(c), "devstoreaccount1");
    exercise(c, "tls-bearer");
    blob_client_free(c);
}

static void test_https_bearer_token_file(void **state) {
    tls_env *env = *state;
    char cs[256], jwt[1024], path[128];
    snprintf(cs, sizeof cs, "BlobEndpoint=%s", env->endpoint);
    snprintf(path, sizeof path, "%s/token", env->dir);
    make_jwt(jwt, sizeof jwt, 3600);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", jwt);
    fclose(f);
    blob_client *c = client(env, cs, 1, NULL, path);
    exercise(c, "tls-bearer-file");
    blob_client_free(c);
}

static void test_https_expired_bearer_token_is_auth_error(void **state) {
    tls_env *env = *state;
    char cs[256], jwt[1024];
    snprintf(cs, sizeof cs, "BlobEndpoint=%s", env->endpoint);
    make_jwt(jwt, sizeof jwt, -300);
    blob_client *c = client(env, cs, 1, jwt, NULL);
    blob_error e;
    assert_int_equal(blob_container_create(c, "tls-expired", &e), BLOB_ERR_AUTH);
    assert_int_equal(e.http_status, 403);
    assert_string_equal(e.storage_code, "AuthenticationFailed");
    assert_null(strstr(e.message, jwt));
    blob_client_free(c);
}

/* A managed-identity endpoint answer: a JWT valid for jwt_exp_in seconds,
 * whatever it really is, claimed to last an hour. */
static void mi_token_body(char *out, size_t cap, long jwt_exp_in) {
    char jwt[1024];
    make_jwt(jwt, sizeof jwt, jwt_exp_in);
    snprintf(out, cap, "{\"access_token\":\"%s\",\"expires_on\":\"%lld\"}", jwt,
             (long long)time(NULL) + 3600);
}

/* Runs exercise() with tokens from a scripted managed-identity endpoint;
 * returns how many tokens the client fetched. */
static int mi_exercise(tls_env *env, blob_test_reply *script, int n, const char *container,
                       int max_retries) {
    blob_test_server *s = blob_test_server_start(script, n);
    char cs[256], mi[128];
    snprintf(mi, sizeof mi, "http://127.0.0.1:%u/metadata/identity/oauth2/token",
             blob_test_server_port(s));
    snprintf(cs, sizeof cs, "BlobEndpoint=%s", env->endpoint);
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = cs;
    o.ca_file = env->ca_file;
    o.use_managed_identity = 1;
    o.managed_identity_endpoint = mi;
    o.max_retries = max_retries;
    blob_error e;
    blob_client *c = blob_client_new(&o, &e);
    assert_non_null(c);
    exercise(c, container);
    int fetched = blob_test_server_requests(s);
    blob_client_free(c);
    blob_test_server_stop(s);
    return fetched;
}

static void test_https_managed_identity_token(void **state) {
    char body[1400];
    mi_token_body(body, sizeof body, 3600);
    blob_test_reply script[] = {{200, body, "Content-Type", "application/json"}};
    /* One token served every request. */
    assert_int_equal(mi_exercise(*state, script, 1, "tls-managed-identity", 3), 1);
}

/* A token the service refuses although its expires_on lies ahead (revoked,
 * or cut short; Azure and Azurite answer 403 AuthenticationFailed) is
 * dropped: the request is sent again at once with a freshly fetched token.
 * No retries are allowed, so the second try can only be the token's. */
static void test_https_refused_managed_identity_token_is_fetched_again(void **state) {
    char stale[1400], fresh[1400];
    mi_token_body(stale, sizeof stale, -300);
    mi_token_body(fresh, sizeof fresh, 3600);
    blob_test_reply script[] = {{200, stale, "Content-Type", "application/json"},
                                {200, fresh, "Content-Type", "application/json"}};
    assert_int_equal(mi_exercise(*state, script, 2, "tls-mi-refetch", 0), 2);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_https_shared_key_with_ca_file),
        cmocka_unit_test(test_https_without_ca_file_fails_verification_once),
        cmocka_unit_test(test_https_bearer_token),
        cmocka_unit_test(test_https_bearer_token_file),
        cmocka_unit_test(test_https_expired_bearer_token_is_auth_error),
        cmocka_unit_test(test_https_managed_identity_token),
        cmocka_unit_test(test_https_refused_managed_identity_token_is_fetched_again),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return failed;
}
