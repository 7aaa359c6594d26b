/* test_blob_http.c -- requests, retries, backoff, auth headers and fault injection,
 * against a scripted local HTTP server (no Azurite needed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blob_test_server.h"
#include "lease/src/blob_internal.h"

#define SECRET_SIG "SECRETSIGNATURE42"

/* A SharedKey client for the fake server, with fast retries. */
static blob_client *client_for(blob_test_server *s, const char *sas) {
    char cs[256];
    if (s)
        snprintf(cs, sizeof cs,
                 "BlobEndpoint=http://127.0.0.1:%u/devstoreaccount1;AccountName=devstoreaccount1;"
                 "AccountKey=" STORAGE_DEV_KEY,
                 blob_test_server_port(s));
    else /* port 1: nothing listens there */
        snprintf(cs, sizeof cs, "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1");
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = cs;
    o.sas_token = sas;
    o.retry_base_ms = 1;
    o.retry_max_ms = 4;
    o.connect_timeout_ms = 2000;
    blob_error e;
    blob_client *c = blob_client_new(&o, &e);
    assert_non_null(c);
    return c;
}

static void test_backoff_ms_bounds(void **state) {
    (void)state;
    /* full jitter: uniform in [0, min(cap, base * 2^attempt)] */
    assert_int_equal(storage_backoff_ms(0, 100, 2000, 0), 0);
    assert_int_equal(storage_backoff_ms(0, 100, 2000, 100), 100);
    assert_int_equal(storage_backoff_ms(0, 100, 2000, 101), 0);
    assert_int_equal(storage_backoff_ms(1, 100, 2000, 200), 200);
    assert_int_equal(storage_backoff_ms(3, 100, 2000, 800), 800);
    assert_int_equal(storage_backoff_ms(4, 100, 2000, 1600), 1600);
    assert_int_equal(storage_backoff_ms(5, 100, 2000, 2000), 2000); /* capped */
    assert_int_equal(storage_backoff_ms(30, 100, 2000, 2000), 2000);
    for (int attempt = 0; attempt < 40; attempt++) {
        long ceiling = 100L << (attempt < 10 ? attempt : 10);
        if (ceiling > 2000)
            ceiling = 2000;
        static const uint32_t rnds[] = {0, 1, 99, 12345, 0x7fffffffu, 0xffffffffu};
        for (size_t i = 0; i < sizeof rnds / sizeof *rnds; i++) {
            long ms = storage_backoff_ms(attempt, 100, 2000, rnds[i]);
            assert_true(ms >= 0 && ms <= ceiling);
        }
    }
}

static void test_execute_retries_5xx_then_succeeds(void **state) {
    (void)state;
    blob_test_reply script[] = {
        {503, "<Error><Code>ServerBusy</Code></Error>", NULL, NULL},
        {500, NULL, "x-ms-error-code", "InternalError"},
        {201, NULL, "ETag", "\"0xABC\""},
    };
    blob_test_server *s = blob_test_server_start(script, 3);
    blob_client *c = client_for(s, NULL);
    blob_error e;
    char etag[128];
    blob_meta m = {0};
    assert_int_equal(blob_meta_set(&m, "owner", "w1"), BLOB_OK);
    assert_int_equal(blob_put(c, "inventory", "dir/PROD 1.json", "{}", 2, "application/json", &m,
                              NULL, etag, &e),
                     BLOB_OK);
    assert_string_equal(etag, "\"0xABC\"");
    assert_int_equal(blob_test_server_requests(s), 3);
    assert_int_equal(blob_client_attempts(c), 3);
    char v[256], method[16], path[256];
    blob_test_server_last_request(s, method, sizeof method, path, sizeof path);
    assert_string_equal(method, "PUT");
    assert_string_equal(path, "/devstoreaccount1/inventory/dir/PROD 1.json");
    assert_true(blob_test_server_last(s, 'h', "x-ms-blob-type", v, sizeof v));
    assert_string_equal(v, "BlockBlob");
    assert_true(blob_test_server_last(s, 'h', "x-ms-meta-owner", v, sizeof v));
    assert_string_equal(v, "w1");
    assert_true(blob_test_server_last(s, 'h', "x-ms-version", v, sizeof v));
    assert_string_equal(v, STORAGE_API_VERSION);
    assert_true(blob_test_server_last(s, 'h', "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/json");
    assert_true(blob_test_server_last(s, 'h', "Authorization", v, sizeof v));
    assert_memory_equal(v, "SharedKey devstoreaccount1:", 27);
    assert_false(blob_test_server_last(s, 'h', "Expect", v, sizeof v));
    blob_client_free(c);
    blob_test_server_stop(s);
}

static void test_execute_never_retries_definitive_4xx(void **state) {
    (void)state;
    static const struct {
        unsigned int status;
        blob_code code;
    } cases[] = {{400, BLOB_ERR_HTTP},
                 {403, BLOB_ERR_AUTH},
                 {404, BLOB_ERR_NOT_FOUND},
                 {409, BLOB_ERR_CONFLICT},
                 {412, BLOB_ERR_PRECONDITION}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        blob_test_reply script[] = {{cases[i].status, NULL, "x-ms-error-code", "SomeCode"},
                                    {201, NULL, NULL, NULL}};
        blob_test_server *s = blob_test_server_start(script, 2);
        blob_client *c = client_for(s, NULL);
        blob_error e;
        assert_int_equal(blob_put(c, "c", "b", "x", 1, NULL, NULL, NULL, NULL, &e), cases[i].code);
        assert_int_equal(blob_test_server_requests(s), 1);
        assert_int_equal(e.http_status, (long)cases[i].status);
        assert_string_equal(e.storage_code, "SomeCode");
        blob_client_free(c);
        blob_test_server_stop(s);
    }
}

static void test_execute_gives_up_after_max_retries(void **state) {
    (void)state;
    blob_test_reply script[] = {{500, "<Error><Code>InternalError</Code></Error>", NULL, NULL}};
    blob_test_server *s = blob_test_server_start(script, 1);
    blob_client *c = client_for(s, NULL);
    blob_error e;
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(blob_get(c, "c", "b", NULL, &data, &len, NULL, &e), BLOB_ERR_TRANSIENT);
    assert_null(data);
    assert_int_equal(blob_test_server_requests(s), 4); /* 1 + max_retries (3) */
    assert_int_equal(e.http_status, 500);
    assert_string_equal(e.message,
                        "get c/b: transient failure (HTTP 500 InternalError), after 4 attempts");
    blob_client_free(c);
    blob_test_server_stop(s);
}

static void test_lease_ops_are_sent_once(void **state) {
    (void)state;
    blob_test_reply script[] = {{500, NULL, "x-ms-error-code", "InternalError"}};
    blob_test_server *s = blob_test_server_start(script, 1);
    blob_client *c = client_for(s, NULL);
    blob_error e;
    char id[64];
    assert_int_equal(blob_lease_acquire(c, "leases", "lease-x", 15,
                                        "3f2a0c1e-0000-4000-8000-000000000001", id, &e),
                     BLOB_ERR_TRANSIENT);
    assert_int_equal(blob_test_server_requests(s), 1);
    char v[64];
    assert_true(blob_test_server_last(s, 'h', "x-ms-lease-duration", v, sizeof v));
    assert_string_equal(v, "15");
    assert_true(blob_test_server_last(s, 'h', "x-ms-lease-action", v, sizeof v));
    assert_string_equal(v, "acquire");
    assert_true(blob_test_server_last(s, 'a', "comp", v, sizeof v));
    assert_string_equal(v, "lease");
    assert_string_equal(
        e.message, "acquire lease on leases/lease-x: transient failure (HTTP 500 InternalError)");
    assert_int_equal(blob_lease_renew(c, "leases", "lease-x", "id-1", &e), BLOB_ERR_TRANSIENT);
    assert_int_equal(blob_lease_release(c, "leases", "lease-x", "id-1", &e), BLOB_ERR_TRANSIENT);
    assert_int_equal(blob_lease_change(c, "leases", "lease-x", "id-1", "id-2", &e),
                     BLOB_ERR_TRANSIENT);
    assert_int_equal(blob_lease_break(c, "leases", "lease-x", 0, NULL, &e), BLOB_ERR_TRANSIENT);
    assert_int_equal(blob_test_server_requests(s), 5);
    blob_client_free(c);
    blob_test_server_stop(s);
}

static void test_lease_args_validated_locally(void **state) {
    (void)state;
    blob_client *c = client_for(NULL, NULL);
    blob_error e;
    char id[64];
    assert_int_equal(blob_lease_acquire(c, "leases", "x", 10, NULL, id, &e), BLOB_ERR_INVALID);
    assert_string_equal(e.message,
                        "acquire lease on leases/x: duration 10 s is outside 15..60 (or -1 for "
                        "infinite)");
    assert_int_equal(blob_lease_acquire(c, "leases", "x", 61, NULL, id, &e), BLOB_ERR_INVALID);
    assert_int_equal(blob_lease_renew(c, "leases", "x", NULL, &e), BLOB_ERR_INVALID);
    assert_string_equal(e.message, "renew lease on leases/x: lease id is missing or too long");
    assert_int_equal(blob_lease_break(c, "leases", "x", 61, NULL, &e), BLOB_ERR_INVALID);
    assert_int_equal(blob_put(c, "", "x", "a", 1, NULL, NULL, NULL, NULL, &e), BLOB_ERR_INVALID);
    assert_string_equal(e.message, "put: container and blob name are required");
    assert_int_equal(blob_list(c, "c", NULL, 5001, NULL, NULL, &e), BLOB_ERR_INVALID);
    assert_int_equal(blob_client_attempts(c), 0); /* nothing was sent */
    blob_client_free(c);
}

static void test_execute_closed_port_is_transient(void **state) {
    (void)state;
    blob_client *c = client_for(NULL, NULL);
    blob_error e;
    assert_int_equal(blob_container_create(c, "c", &e), BLOB_ERR_TRANSIENT);
    assert_int_equal(e.http_status, 0);
    assert_int_equal(blob_client_attempts(c), 4);
    assert_non_null(strstr(e.message, "create container c: transient failure ("));
    assert_non_null(strstr(e.message, ", after 4 attempts"));
    blob_client_free(c);
}

static void test_fault_injection_connect_and_500(void **state) {
    (void)state;
    blob_test_reply script[] = {{200, "hello", "x-ms-meta-owner", "w9"}};
    blob_test_server *s = blob_test_server_start(script, 1);
    blob_client *c = client_for(s, NULL);
    blob_error e;
    char *data;
    size_t len;
    blob_props p;
    blob_client_inject_fault(c, BLOB_FAULT_CONNECT, 2);
    assert_int_equal(blob_get(c, "c", "b", NULL, &data, &len, &p, &e), BLOB_OK);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    assert_string_equal(blob_meta_get(&p.meta, "owner"), "w9");
    free(data);
    assert_int_equal(blob_client_attempts(c), 3);
    assert_int_equal(blob_test_server_requests(s), 1);

    blob_client_inject_fault(c, BLOB_FAULT_500, 1); /* lease op: not retried */
    assert_int_equal(blob_lease_renew(c, "c", "b", "id", &e), BLOB_ERR_TRANSIENT);
    assert_string_equal(e.message,
                        "renew lease on c/b: transient failure (HTTP 500 InternalError)");
    assert_int_equal(blob_test_server_requests(s), 1);

    blob_client_inject_fault(c, BLOB_FAULT_CONNECT, 9);
    blob_client_inject_fault(c, BLOB_FAULT_CONNECT, 0); /* cleared */
    assert_int_equal(blob_get_properties(c, "c", "b", NULL, &p, &e), BLOB_OK);
    assert_int_equal(blob_test_server_requests(s), 2);
    blob_client_free(c);
    blob_test_server_stop(s);
}

static void test_sas_token_goes_in_query_and_never_in_messages(void **state) {
    (void)state;
    blob_test_reply script[] = {{403, NULL, "x-ms-error-code", "AuthenticationFailed"}};
    blob_test_server *s = blob_test_server_start(script, 1);
    blob_client *c = client_for(s, "?sv=2021-12-02&sp=rw&sig=" SECRET_SIG);
    blob_error e;
    blob_props p;
    assert_int_equal(blob_get_properties(c, "c", "b", NULL, &p, &e), BLOB_ERR_AUTH);
    char v[64];
    assert_true(blob_test_server_last(s, 'a', "sig", v, sizeof v));
    assert_string_equal(v, SECRET_SIG);
    assert_false(blob_test_server_last(s, 'h', "Authorization", v, sizeof v));
    assert_null(strstr(e.message, SECRET_SIG));
    assert_string_equal(e.message, "get properties of c/b: not authorized (HTTP 403 "
                                   "AuthenticationFailed)");
    blob_client_free(c);
    blob_test_server_stop(s);
}

static void test_keep_alive_reuses_one_connection(void **state) {
    (void)state;
    blob_test_reply script[] = {{200, "ok", NULL, NULL}};
    blob_test_server *s = blob_test_server_start(script, 1);
    blob_client *c = client_for(s, NULL);
    for (int i = 0; i < 20; i++) {
        char *data;
        size_t len;
        blob_error e;
        assert_int_equal(blob_get(c, "c", "b", NULL, &data, &len, NULL, &e), BLOB_OK);
        free(data);
    }
    assert_int_equal(blob_test_server_requests(s), 20);
    assert_int_equal(blob_client_connections(c), 1);
    blob_client_free(c);
    blob_test_server_stop(s);
}

/* A client of a socket that listens but never answers (*fd, to close): the
 * kernel completes the handshake, a request then waits for its timeout.
 * Retries back off by 1 ms. */
static blob_client *silent_client(long request_timeout_ms, int max_retries, int *fd) {
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(*fd, 16), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &alen), 0);
    char cs[128];
    snprintf(cs, sizeof cs, "BlobEndpoint=http://127.0.0.1:%d/devstoreaccount1",
             ntohs(a.sin_port));
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = cs;
    o.request_timeout_ms = request_timeout_ms;
    o.max_retries = max_retries;
    o.retry_base_ms = 1;
    o.retry_max_ms = 1;
    blob_error e;
    blob_client *c = blob_client_new(&o, &e);
    assert_non_null(c);
    return c;
}

static void test_request_timeout_is_transient_and_retried(void **state) {
    (void)state;
    int fd;
    blob_client *c = silent_client(100, 1, &fd);
    blob_error e;
    blob_props p;
    assert_int_equal(blob_get_properties(c, "c", "b", NULL, &p, &e), BLOB_ERR_TRANSIENT);
    assert_int_equal(blob_client_attempts(c), 2);
    assert_non_null(
        strstr(e.message, "get properties of c/b: transient failure (Operation timed out"));
    assert_non_null(strstr(e.message, ", after 2 attempts"));
    blob_client_free(c);
    close(fd);
}

typedef struct pending_get {
    blob_client *c;
    blob_code rc;
    blob_error e;
} pending_get;

static void *get_in_thread(void *arg) {
    pending_get *g = arg;
    blob_props p;
    g->rc = blob_get_properties(g->c, "c", "b", NULL, &p, &g->e);
    return NULL;
}

/* A request the service never answers, with a 60 s timeout and retries:
 * the abort ends it (instead of the timeout), no retry follows, and every
 * later request fails without being sent. */
static void test_abort_ends_the_request_in_flight_and_later_ones(void **state) {
    (void)state;
    int fd;
    pending_get g = {silent_client(60000, 3, &fd), BLOB_OK, {0}};
    blob_error e;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, get_in_thread, &g), 0);
    while (blob_client_attempts(g.c) == 0) /* the request is on its way */
        usleep(1000);
    blob_client_abort(g.c);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(g.rc, BLOB_ERR_TRANSIENT);
    assert_string_equal(g.e.message,
                        "get properties of c/b: aborted: the client is shutting down");
    assert_int_equal(blob_client_attempts(g.c), 1);
    blob_props p;
    assert_int_equal(blob_get_properties(g.c, "c", "b", NULL, &p, &e), BLOB_ERR_TRANSIENT);
    assert_string_equal(e.message, g.e.message);
    assert_int_equal(blob_client_attempts(g.c), 1);
    blob_client_free(g.c);
    close(fd);
}

static int append_name(const char *name, void *opaque) {
    char *out = opaque;
    strcat(out, name);
    strcat(out, ";");
    return 0;
}

static void test_list_follows_markers(void **state) {
    (void)state;
    blob_test_reply script[] = {
        {200,
         "<EnumerationResults><Blobs><Blob><Name>a</Name></Blob></Blobs>"
         "<NextMarker>m&amp;1</NextMarker></EnumerationResults>",
         NULL, NULL},
        {200,
         "<EnumerationResults><Blobs><Blob><Name>b</Name></Blob></Blobs>"
         "<NextMarker /></EnumerationResults>",
         NULL, NULL},
    };
    blob_test_server *s = blob_test_server_start(script, 2);
    blob_client *c = client_for(s, NULL);
    blob_error e;
    char names[64] = "";
    assert_int_equal(blob_list(c, "c", "p/", 1, append_name, names, &e), BLOB_OK);
    assert_string_equal(names, "a;b;");
    assert_int_equal(blob_test_server_requests(s), 2);
    char v[64];
    assert_true(blob_test_server_last(s, 'a', "marker", v, sizeof v));
    assert_string_equal(v, "m&1");
    assert_true(blob_test_server_last(s, 'a', "prefix", v, sizeof v));
    assert_string_equal(v, "p/");
    assert_true(blob_test_server_last(s, 'a', "maxresults", v, sizeof v));
    assert_string_equal(v, "1");
    assert_true(blob_test_server_last(s, 'a', "restype", v, sizeof v));
    assert_string_equal(v, "container");
    blob_client_free(c);
    blob_test_server_stop(s);
}

static int append_name_and_expiry(const blob_list_item *item, void *opaque) {
    char *out = opaque;
    const char *v = blob_meta_get(item->meta, "nextexpiry");
    sprintf(out + strlen(out), "%s=%s;", item->name, v ? v : "-");
    return 0;
}

static void test_list_items_metadata_pages(void **state) {
    (void)state;
    blob_test_reply script[] = {
        {200,
         "<EnumerationResults><Blobs><Blob><Name>a</Name><Metadata><Nextexpiry>5</Nextexpiry>"
         "</Metadata></Blob><Blob><Name>b</Name><Metadata/></Blob></Blobs>"
         "<NextMarker>b</NextMarker></EnumerationResults>",
         NULL, NULL},
        {200,
         "<EnumerationResults><Blobs><Blob><Name>c</Name><Metadata><nextexpiry>none</nextexpiry>"
         "</Metadata></Blob></Blobs><NextMarker /></EnumerationResults>",
         NULL, NULL},
    };
    blob_test_server *s = blob_test_server_start(script, 2);
    blob_client *c = client_for(s, NULL);
    blob_error e;
    char out[128] = "";
    size_t pages = 99;
    blob_list_options o = {.page_size = 2, .include_metadata = 1};
    assert_int_equal(blob_list_items(c, "c", &o, append_name_and_expiry, out, &pages, &e), BLOB_OK);
    assert_string_equal(out, "a=5;b=-;c=none;");
    assert_int_equal(pages, 2);
    assert_int_equal(blob_test_server_requests(s), 2);
    char v[64];
    assert_true(blob_test_server_last(s, 'a', "include", v, sizeof v));
    assert_string_equal(v, "metadata");
    assert_true(blob_test_server_last(s, 'a', "maxresults", v, sizeof v));
    assert_string_equal(v, "2");
    assert_true(blob_test_server_last(s, 'a', "marker", v, sizeof v));
    assert_string_equal(v, "b");
    assert_false(blob_test_server_last(s, 'a', "prefix", v, sizeof v));
    blob_client_free(c);
    blob_test_server_stop(s);
}

/* A failing page still reports the pages answered before it. */
static void test_list_items_counts_pages_on_failure(void **state) {
    (void)state;
    blob_test_reply script[] = {
        {200,
         "<EnumerationResults><Blobs><Blob><Name>a</Name></Blob></Blobs>"
         "<NextMarker>a</NextMarker></EnumerationResults>",
         NULL, NULL},
        {403, "<Error><Code>AuthorizationFailure</Code></Error>", NULL, NULL},
    };
    blob_test_server *s = blob_test_server_start(script, 2);
    blob_client *c = client_for(s, NULL);
    blob_error e;
    char out[64] = "";
    size_t pages = 99;
    assert_int_equal(blob_list_items(c, "c", NULL, append_name_and_expiry, out, &pages, &e),
                     BLOB_ERR_AUTH);
    assert_string_equal(out, "a=-;");
    assert_int_equal(pages, 1);
    assert_false(blob_test_server_last(s, 'a', "include", out, sizeof out));
    assert_false(blob_test_server_last(s, 'a', "maxresults", out, sizeof out));
    blob_client_free(c);
    blob_test_server_stop(s);
}

struct thread_arg {
    blob_client *c;
    int ok;
};

static void *thread_gets(void *opaque) {
    struct thread_arg *a = opaque;
    for (int i = 0; i < 25; i++) {
        char *data;
        size_t len;
        blob_error e;
        if (blob_get(a->c, "c", "b", NULL, &data, &len, NULL, &e) == BLOB_OK) {
            a->ok += len == 2 && strcmp(data, "ok") == 0;
            free(data);
        }
    }
    return NULL;
}

static void test_client_shared_across_threads(void **state) {
    (void)state;
    blob_test_reply script[] = {{200, "ok", NULL, NULL}};
    blob_test_server *s = blob_test_server_start(script, 1);
    blob_client *c = client_for(s, NULL);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){c, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_gets, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 25);
    }
    assert_int_equal(blob_test_server_requests(s), 100);
    blob_client_free(c);
    blob_test_server_stop(s);
}

static void test_block_id_fixed_length_base64(void **state) {
    (void)state;
    char a[BLOB_BLOCK_ID_MAX], b[BLOB_BLOCK_ID_MAX];
    blob_block_id(0, a);
    blob_block_id(123456789012ULL, b);
    /* base64("lhblk-000000000000000000") */
    assert_string_equal(a, "bGhibGstMDAwMDAwMDAwMDAwMDAwMDAw");
    assert_int_equal(strlen(b), 32);
    assert_string_not_equal(a, b);
}

static void test_put_block_and_list_requests(void **state) {
    (void)state;
    blob_test_reply script[] = {{201, NULL, "ETag", "\"0x1\""}};
    blob_test_server *s = blob_test_server_start(script, 1);
    blob_client *c = client_for(s, NULL);
    blob_error e;
    char id[BLOB_BLOCK_ID_MAX], v[256], method[16], path[256];
    blob_block_id(7, id);
    blob_conditions cond = {.lease_id = "11111111-1111-4111-8111-111111111111"};
    assert_int_equal(blob_put_block(c, "inventory", "P.json", id, "abc", 3, &cond, &e), BLOB_OK);
    blob_test_server_last_request(s, method, sizeof method, path, sizeof path);
    assert_string_equal(method, "PUT");
    assert_string_equal(path, "/devstoreaccount1/inventory/P.json");
    assert_true(blob_test_server_last(s, 'a', "comp", v, sizeof v));
    assert_string_equal(v, "block");
    assert_true(blob_test_server_last(s, 'a', "blockid", v, sizeof v));
    assert_string_equal(v, id);
    assert_true(blob_test_server_last(s, 'h', "x-ms-lease-id", v, sizeof v));
    assert_string_equal(v, cond.lease_id);

    const char *ids[] = {id, id};
    blob_meta m = {0};
    assert_int_equal(blob_meta_set(&m, "nextexpiry", "none"), BLOB_OK);
    char etag[128];
    assert_int_equal(blob_put_block_list(c, "inventory", "P.json", ids, 2, "application/json", &m,
                                         &cond, etag, &e),
                     BLOB_OK);
    assert_string_equal(etag, "\"0x1\"");
    assert_true(blob_test_server_last(s, 'a', "comp", v, sizeof v));
    assert_string_equal(v, "blocklist");
    assert_true(blob_test_server_last(s, 'h', "x-ms-lease-id", v, sizeof v));
    assert_string_equal(v, cond.lease_id);
    assert_true(blob_test_server_last(s, 'h', "x-ms-blob-content-type", v, sizeof v));
    assert_string_equal(v, "application/json");
    assert_true(blob_test_server_last(s, 'h', "x-ms-meta-nextexpiry", v, sizeof v));
    assert_string_equal(v, "none");
    assert_true(blob_test_server_last(s, 'h', "Content-Length", v, sizeof v));
    char want[16];
    snprintf(want, sizeof want, "%zu", blob_block_list_body_len(2, 32));
    assert_string_equal(v, want);
    assert_int_equal(blob_block_list_body_len(2, 32), 49 + 12 + 2 * (8 + 32 + 9));
    assert_int_equal(blob_test_server_requests(s), 2);

    /* validated locally: no request */
    const char *uneven[] = {id, "c2hvcnQ="};
    assert_int_equal(blob_put_block_list(c, "inventory", "P.json", uneven, 2, NULL, NULL, &cond,
                                         NULL, &e),
                     BLOB_ERR_INVALID);
    assert_int_equal(blob_put_block_list(c, "inventory", "P.json", ids, 0, NULL, NULL, &cond, NULL,
                                         &e),
                     BLOB_ERR_INVALID);
    assert_int_equal(blob_put_block(c, "inventory", "P.json", "", "x", 1, &cond, &e),
                     BLOB_ERR_INVALID);
    assert_int_equal(blob_test_server_requests(s), 2);
    blob_client_free(c);
    blob_test_server_stop(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_ms_bounds),
        cmocka_unit_test(test_execute_retries_5xx_then_succeeds),
        cmocka_unit_test(test_execute_never_retries_definitive_4xx),
        cmocka_unit_test(test_execute_gives_up_after_max_retries),
        cmocka_unit_test(test_lease_ops_are_sent_once),
        cmocka_unit_test(test_lease_args_validated_locally),
        cmocka_unit_test(test_execute_closed_port_is_transient),
        cmocka_unit_test(test_fault_injection_connect_and_500),
        cmocka_unit_test(test_sas_token_goes_in_query_and_never_in_messages),
        cmocka_unit_test(test_abort_ends_the_request_in_flight_and_later_ones),
        cmocka_unit_test(test_list_follows_markers),
        cmocka_unit_test(test_list_items_metadata_pages),
        cmocka_unit_test(test_list_items_counts_pages_on_failure),
        cmocka_unit_test(test_keep_alive_reuses_one_connection),
        cmocka_unit_test(test_request_timeout_is_transient_and_retried),
        cmocka_unit_test(test_client_shared_across_threads),
        cmocka_unit_test(test_block_id_fixed_length_base64),
        cmocka_unit_test(test_put_block_and_list_requests),
    };
    return cmocka_run_group_tests(tests, blob_test_curl_setup, blob_test_curl_teardown);
}
