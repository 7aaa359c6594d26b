/* blob_test_server.h -- a scripted local HTTP server for blob client unit tests.
 *
 * libmicrohttpd on 127.0.0.1 with an ephemeral port. Request i gets reply
 * script[i] (the last one repeats). Each request's headers and query
 * arguments are recorded for the test to inspect; bodies are discarded.
 * One thread per connection, so concurrent clients are served at once; a
 * gate (blob_test_server_gate) can hold requests to prove they overlap.
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

/* From now on, holds every request that arrives (before answering it)
 * until `n` are held at the same time, then lets them all go and every
 * later one through without waiting. The count of requests in flight at
 * once starts again from zero. A client that never has `n` requests out
 * together stays held until its own timeout or blob_test_server_stop. */
void blob_test_server_gate(blob_test_server *s, int n);
/* Waits until the gate opened, for at most timeout_ms (a guard against a
 * hang, not a measurement). Returns 1 when it opened, 0 on timeout. */
int blob_test_server_gate_wait(blob_test_server *s, long timeout_ms);
/* The most requests that were in the server at once since the gate was set. */
int blob_test_server_max_in_flight(blob_test_server *s);

/* cmocka group setup/teardown: curl_global_init / curl_global_cleanup. */
int blob_test_curl_setup(void **state);
int blob_test_curl_teardown(void **state);

#endif
