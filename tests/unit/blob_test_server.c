/* blob_test_server.c -- see blob_test_server.h.
 *
 * libmicrohttpd runs each connection on its own thread, so a request held
 * at the gate blocks only its own connection: the gate is a counter and a
 * condition variable that the handler waits on before it answers. */
#include "blob_test_server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct blob_test_server {
    struct MHD_Daemon *daemon;
    const blob_test_reply *script;
    int n;
    pthread_mutex_t lock; /* guards the fields below */
    int requests;
    char last[8192]; /* "kname\0value\0" records of the last request */
    size_t last_len;
    char method[16];
    char path[512];
    int in_flight, max_in_flight;
    int gate_n;    /* hold requests until this many are held; 0: no gate */
    int gate_open; /* the gate let its requests go (or the server stops) */
    pthread_cond_t gate;
};

struct blob_test_record {
    blob_test_server *s;
    char buf[8192];
    size_t len;
};

static enum MHD_Result blob_test_server_record(void *cls, enum MHD_ValueKind kind, const char *key,
                                               const char *value) {
    struct blob_test_record *r = cls;
    size_t kl = strlen(key), vl = value ? strlen(value) : 0;
    if (r->len + kl + vl + 3 <= sizeof r->buf) {
        r->buf[r->len++] = kind == MHD_HEADER_KIND ? 'h' : 'a';
        memcpy(r->buf + r->len, key, kl + 1);
        r->len += kl + 1;
        memcpy(r->buf + r->len, value ? value : "", vl + 1);
        r->len += vl + 1;
    }
    return MHD_YES;
}

static enum MHD_Result blob_test_server_handle(void *cls, struct MHD_Connection *conn,
                                               const char *url, const char *method,
                                               const char *version, const char *upload_data,
                                               size_t *upload_data_size, void **con_cls) {
    blob_test_server *s = cls;
    static int marker;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) { /* first call: headers only */
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size > 0) { /* body chunk: discard */
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct blob_test_record *r = calloc(1, sizeof *r);
    if (!r)
        return MHD_NO;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, blob_test_server_record, r);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, blob_test_server_record, r);
    pthread_mutex_lock(&s->lock);
    int i = s->requests < s->n ? s->requests : s->n - 1;
    s->requests++;
    memcpy(s->last, r->buf, r->len);
    s->last_len = r->len;
    snprintf(s->method, sizeof s->method, "%s", method);
    snprintf(s->path, sizeof s->path, "%s", url);
    if (++s->in_flight > s->max_in_flight)
        s->max_in_flight = s->in_flight;
    if (s->gate_n > 0 && !s->gate_open && s->in_flight >= s->gate_n) {
        s->gate_open = 1;
        pthread_cond_broadcast(&s->gate);
    }
    while (s->gate_n > 0 && !s->gate_open)
        pthread_cond_wait(&s->gate, &s->lock);
    s->in_flight--;
    pthread_mutex_unlock(&s->lock);
    free(r);
    const blob_test_reply *rep = &s->script[i];
    const char *body = rep->body ? rep->body : "";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (rep->header)
        MHD_add_response_header(resp, rep->header, rep->value);
    enum MHD_Result ret = MHD_queue_response(conn, rep->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

blob_test_server *blob_test_server_start(const blob_test_reply *script, int n) {
    blob_test_server *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->script = script;
    s->n = n;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->gate, &ca);
    pthread_condattr_destroy(&ca);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                                 NULL, NULL, blob_test_server_handle, s, MHD_OPTION_SOCK_ADDR,
                                 &addr, MHD_OPTION_END);
    assert_non_null(s->daemon);
    return s;
}

void blob_test_server_stop(blob_test_server *s) {
    if (!s)
        return;
    pthread_mutex_lock(&s->lock); /* held requests must end for the threads to join */
    s->gate_open = 1;
    pthread_cond_broadcast(&s->gate);
    pthread_mutex_unlock(&s->lock);
    MHD_stop_daemon(s->daemon);
    pthread_cond_destroy(&s->gate);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

unsigned short blob_test_server_port(blob_test_server *s) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

int blob_test_server_requests(blob_test_server *s) {
    pthread_mutex_lock(&s->lock);
    int n = s->requests;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void blob_test_server_gate(blob_test_server *s, int n) {
    pthread_mutex_lock(&s->lock);
    s->gate_n = n;
    s->gate_open = 0;
    s->max_in_flight = s->in_flight;
    pthread_mutex_unlock(&s->lock);
}

int blob_test_server_gate_wait(blob_test_server *s, long timeout_ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    while (!s->gate_open && rc == 0)
        rc = pthread_cond_timedwait(&s->gate, &s->lock, &until);
    int open = s->gate_open;
    pthread_mutex_unlock(&s->lock);
    return open;
}

int blob_test_server_max_in_flight(blob_test_server *s) {
    pthread_mutex_lock(&s->lock);
    int n = s->max_in_flight;
    pthread_mutex_unlock(&s->lock);
    return n;
}

int blob_test_server_last(blob_test_server *s, char kind, const char *name, char *out, size_t cap) {
    int found = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t p = 0; p < s->last_len && !found;) {
        char k = s->last[p];
        const char *key = s->last + p + 1;
        const char *value = key + strlen(key) + 1;
        p = (size_t)(value - s->last) + strlen(value) + 1;
        if (k == kind && strcasecmp(key, name) == 0) {
            snprintf(out, cap, "%s", value);
            found = 1;
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

void blob_test_server_last_request(blob_test_server *s, char *method, size_t mcap, char *path,
                                   size_t pcap) {
    pthread_mutex_lock(&s->lock);
    snprintf(method, mcap, "%s", s->method);
    snprintf(path, pcap, "%s", s->path);
    pthread_mutex_unlock(&s->lock);
}

int blob_test_curl_setup(void **state) {
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int blob_test_curl_teardown(void **state) {
    (void)state;
    curl_global_cleanup();
    return 0;
}
