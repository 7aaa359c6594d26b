/* blob_test_server.h -- a scripted local HTTP server for blob client unit tests.
 *
 * libmicrohttpd on 127.0.0.1 with an ephemeral port. Request i gets reply
 * script[i] (the last one repeats). Each request's headers and query
 * arguments are recorded for the test to inspect; bodies are discarded.
 */
#ifndef BLOB_TEST_SERVER_H
#define BLOB_TEST_SERVER_H

#include <stddef.h>

typedef struct blob_test_reply {
    unsigned int status;
    const char *body;   /* NULL = empty */
    const char *header; /* one extra response header, or NULL */
    const char *value;
} blob_test_reply;

typedef struct blob_test_server blob_test_server;

/* The script is borrowed until stop. Fails the test when it cannot start. */
blob_test_server *blob_test_server_start(const blob_test_reply *script, int n);
void blob_test_server_stop(blob_test_server *s);
unsigned short blob_test_server_port(blob_test_server *s);
/* Requests answered so far. */
int blob_test_server_requests(blob_test_server *s);
/* Copies a header (kind 'h', case-insensitive) or query argument (kind 'a')
 * of the last request into out; returns 0 when absent. */
int blob_test_server_last(blob_test_server *s, char kind, const char *name, char *out, size_t cap);
/* Method and URL path of the last request. */
void blob_test_server_last_request(blob_test_server *s, char *method, size_t mcap, char *path,
                                   size_t pcap);

/* cmocka group setup/teardown: curl_global_init / curl_global_cleanup. */
int blob_test_curl_setup(void **state);
int blob_test_curl_teardown(void **state);

#endif
