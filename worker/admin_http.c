/* admin_http.c -- the worker's operator HTTP endpoint (see admin_http.h).
 *
 * libmicrohttpd does the HTTP; this file only routes GET requests, and
 * POSTs to the two repair paths of blocked products, to small handlers that
 * each produce (status, content type, body). Request bodies are never read. The listening
 * socket is created here rather than by libmicrohttpd so that a failure can
 * name the address and the system's reason ("Address already in use"),
 * which MHD_start_daemon does not report; the daemon takes the socket over
 * and closes it when stopped.
 *
 * Connections get their own thread (MHD_USE_THREAD_PER_CONNECTION): a slow
 * storage read behind /api/inventory must not hold up /healthz, which is
 * what an orchestrator uses to decide whether to restart the process.
 */
#include "admin_http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "leasehold/inventory_schema.h"
#include "state_blob.h"

#define ADMIN_MAX_CONNECTIONS 64
#define ADMIN_CONNECTION_TIMEOUT_S 30
#define ADMIN_INVENTORY_PREFIX "/api/inventory/"
#define ADMIN_BLOCKED_PREFIX "/api/blocked/"
#define ADMIN_CONTENT_JSON "application/json"
#define ADMIN_CONTENT_TEXT "text/plain; charset=utf-8"

struct admin_http {
    struct MHD_Daemon *daemon;
    int port;
    metrics_registry *registry;
    blob_client *blob;
    char *container;
    admin_http_callbacks cb;
};

/* What a handler answers: the body is malloc'd and handed to libmicrohttpd. */
typedef struct admin_reply {
    unsigned int status;
    const char *content_type;
    char *body;
} admin_reply;

const char *admin_http_strerror(admin_http_code code) {
    switch (code) {
    case ADMIN_HTTP_OK:
        return "ok";
    case ADMIN_HTTP_ERR_INVALID:
        return "invalid argument";
    case ADMIN_HTTP_ERR_NOMEM:
        return "out of memory";
    case ADMIN_HTTP_ERR_LISTEN:
        return "cannot listen";
    }
    return "unknown error";
}

void admin_http_options_init(admin_http_options *opts) {
    memset(opts, 0, sizeof(*opts));
}

static void admin_reply_text(admin_reply *r, unsigned int status, const char *text) {
    r->status = status;
    r->content_type = ADMIN_CONTENT_TEXT;
    r->body = strdup(text);
}

/* {"error": message} for the /api/ paths. */
static void admin_reply_error_json(admin_reply *r, unsigned int status, const char *message) {
    json_t *obj = json_pack("{s:s}", "error", message);
    r->status = status;
    r->content_type = ADMIN_CONTENT_JSON;
    r->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
}

static void admin_handle_healthz(admin_http *a, admin_reply *r) {
    int alive = a->cb.alive ? a->cb.alive(a->cb.opaque) : 1;
    admin_reply_text(r, alive ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                     alive ? "ok\n" : "main loop stalled\n");
}

static void admin_handle_readyz(admin_http *a, admin_reply *r) {
    char reason[256] = "";
    if (!a->cb.ready || a->cb.ready(reason, sizeof(reason), a->cb.opaque)) {
        admin_reply_text(r, MHD_HTTP_OK, "ready\n");
        return;
    }
    char text[sizeof(reason) + 16];
    snprintf(text, sizeof(text), "not ready: %s\n", reason[0] ? reason : "unknown");
    admin_reply_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

static void admin_handle_metrics(admin_http *a, admin_reply *r) {
    if (a->cb.collect)
        a->cb.collect(a->cb.opaque);
    r->status = MHD_HTTP_OK;
    r->content_type = METRICS_CONTENT_TYPE;
    r->body = metrics_render(a->registry);
}

/* A JSON document the owner renders (`render`), or `fallback` without a
 * callback; 500 naming `what` when rendering fails. */
static void admin_handle_document(admin_http *a, char *(*render)(void *), const char *fallback,
                                  const char *what, admin_reply *r) {
    char msg[64];
    r->status = MHD_HTTP_OK;
    r->content_type = ADMIN_CONTENT_JSON;
    r->body = render ? render(a->cb.opaque) : strdup(fallback);
    if (!r->body) {
        snprintf(msg, sizeof(msg), "%s: not available", what);
        admin_reply_error_json(r, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
    }
}

/* The schema's productId rule, ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, checked
 * before the id becomes part of a blob name. */
static int admin_product_id_valid(const char *id) {
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (n == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return n >= 1 && n <= INV_PRODUCT_MAX;
}

static void admin_inventory_from_storage(admin_http *a, const char *product_id, admin_reply *r) {
    char why[400], msg[512];
    inv_state st;
    switch (state_blob_read_product(a->blob, a->container, product_id, &st, why, sizeof(why))) {
    case STATE_BLOB_ABSENT:
        snprintf(msg, sizeof(msg), "product %s not found", product_id);
        admin_reply_error_json(r, MHD_HTTP_NOT_FOUND, msg);
        return;
    case STATE_BLOB_UNREACHABLE:
        snprintf(msg, sizeof(msg), "storage: %s", why);
        admin_reply_error_json(r, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
        return;
    case STATE_BLOB_INVALID:
        snprintf(msg, sizeof(msg), "state of %s is invalid: %s", product_id, why);
        admin_reply_error_json(r, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
        return;
    case STATE_BLOB_OK:
        break;
    }
    r->status = MHD_HTTP_OK;
    r->content_type = ADMIN_CONTENT_JSON;
    r->body = inv_state_view_encode(&st);
    inv_state_clear(&st);
}

static void admin_handle_inventory(admin_http *a, const char *product_id, admin_reply *r) {
    char msg[160];
    if (!admin_product_id_valid(product_id)) {
        admin_reply_error_json(r, MHD_HTTP_BAD_REQUEST,
                               "productId: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
        return;
    }
    if (a->cb.inventory_json) {
        char *json = NULL;
        int status = a->cb.inventory_json(product_id, &json, a->cb.opaque);
        if (json) {
            r->status = (unsigned int)status;
            r->content_type = ADMIN_CONTENT_JSON;
            r->body = json;
        } else if (status == MHD_HTTP_NOT_FOUND) {
            snprintf(msg, sizeof(msg), "product %s not found", product_id);
            admin_reply_error_json(r, MHD_HTTP_NOT_FOUND, msg);
        } else {
            snprintf(msg, sizeof(msg), "inventory %s: not available", product_id);
            admin_reply_error_json(r, status >= 400 ? (unsigned int)status
                                                    : MHD_HTTP_INTERNAL_SERVER_ERROR,
                                   msg);
        }
        return;
    }
    if (!a->blob) {
        admin_reply_error_json(r, MHD_HTTP_SERVICE_UNAVAILABLE, "inventory: no storage configured");
        return;
    }
    admin_inventory_from_storage(a, product_id, r);
}

/* "/api/blocked/{productId}/{retry|dead-letter}": 1 with the id copied
 * into `id` and the action set, else 0. */
static int admin_parse_blocked_path(const char *url, char *id, size_t idcap,
                                    admin_http_blocked_action *action) {
    if (strncmp(url, ADMIN_BLOCKED_PREFIX, strlen(ADMIN_BLOCKED_PREFIX)) != 0)
        return 0;
    const char *start = url + strlen(ADMIN_BLOCKED_PREFIX);
    const char *slash = strchr(start, '/');
    if (slash == NULL || (size_t)(slash - start) >= idcap)
        return 0;
    if (strcmp(slash + 1, "retry") == 0)
        *action = ADMIN_HTTP_BLOCKED_RETRY;
    else if (strcmp(slash + 1, "dead-letter") == 0)
        *action = ADMIN_HTTP_BLOCKED_DEAD_LETTER;
    else
        return 0;
    memcpy(id, start, (size_t)(slash - start));
    id[slash - start] = '\0';
    return 1;
}

/* The operator's repair of a blocked product; the work itself runs on the
 * product's pool thread, hence 202. */
static void admin_handle_blocked_action(admin_http *a, const char *product_id,
                                        admin_http_blocked_action action, admin_reply *r) {
    char msg[160];
    if (!admin_product_id_valid(product_id)) {
        admin_reply_error_json(r, MHD_HTTP_BAD_REQUEST,
                               "productId: must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$");
        return;
    }
    if (!a->cb.blocked_action || a->cb.blocked_action(product_id, action, a->cb.opaque) != 0) {
        snprintf(msg, sizeof(msg), "product %s is not blocked on this worker", product_id);
        admin_reply_error_json(r, MHD_HTTP_NOT_FOUND, msg);
        return;
    }
    json_t *obj = json_pack("{s:s, s:s, s:s}", "productId", product_id, "action",
                            action == ADMIN_HTTP_BLOCKED_RETRY ? "retry" : "dead-letter",
                            "status", "scheduled");
    r->status = MHD_HTTP_ACCEPTED;
    r->content_type = ADMIN_CONTENT_JSON;
    r->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
}

static void admin_route(admin_http *a, const char *url, admin_reply *r) {
    if (strcmp(url, "/healthz") == 0)
        admin_handle_healthz(a, r);
    else if (strcmp(url, "/readyz") == 0)
        admin_handle_readyz(a, r);
    else if (strcmp(url, "/metrics") == 0)
        admin_handle_metrics(a, r);
    else if (strcmp(url, "/api/leases") == 0)
        admin_handle_document(a, a->cb.leases_json, "{\"leases\":[]}", "leases", r);
    else if (strcmp(url, "/api/blocked") == 0)
        admin_handle_document(a, a->cb.blocked_json, "{\"blocked\":[]}", "blocked", r);
    else if (strcmp(url, "/api/assignment") == 0)
        admin_handle_document(a, a->cb.assignment_json, "{\"partitions\":[]}", "assignment", r);
    else if (strncmp(url, ADMIN_INVENTORY_PREFIX, strlen(ADMIN_INVENTORY_PREFIX)) == 0)
        admin_handle_inventory(a, url + strlen(ADMIN_INVENTORY_PREFIX), r);
    else if (strncmp(url, "/api/", 5) == 0)
        admin_reply_error_json(r, MHD_HTTP_NOT_FOUND, "no such endpoint");
    else
        admin_reply_text(r, MHD_HTTP_NOT_FOUND, "not found\n");
}

static enum MHD_Result admin_access(void *cls, struct MHD_Connection *conn, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls) {
    admin_http *a = cls;
    admin_reply r = {0};
    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    int is_head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    char product_id[INV_PRODUCT_MAX + 2];
    admin_http_blocked_action action;
    int repair = admin_parse_blocked_path(url, product_id, sizeof(product_id), &action);
    /* Request bodies are not used by any endpoint: let libmicrohttpd skip
     * them and answer once the request is complete. */
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* The repair paths change things: POST only, and POST nowhere else. */
    if (repair && is_post)
        admin_handle_blocked_action(a, product_id, action, &r);
    else if (repair)
        admin_reply_error_json(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    else if (!is_get && !is_head)
        admin_reply_text(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    else
        admin_route(a, url, &r);
    if (!r.body) /* a handler ran out of memory */
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(r.body), r.body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(r.body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r.status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, repair ? "POST" : "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Splits "ADDR:PORT" ("[v6]:PORT" for IPv6, ":PORT" for every interface)
 * and opens a listening socket. Returns the fd or -1 with `err` filled. */
static int admin_listen(const char *listen_addr, admin_http_code *code, char *err, size_t errlen) {
    char host[256];
    const char *colon = strrchr(listen_addr, ':');
    const char *port = colon ? colon + 1 : NULL;
    size_t hlen = colon ? (size_t)(colon - listen_addr) : 0;
    char *end = NULL;
    long port_num = port && *port ? strtol(port, &end, 10) : -1;
    if (!colon || hlen >= sizeof(host) || !end || *end || port_num < 0 || port_num > 65535) {
        *code = ADMIN_HTTP_ERR_INVALID;
        snprintf(err, errlen, "admin listen '%s': expected ADDR:PORT with a port from 0 to 65535",
                 listen_addr);
        return -1;
    }
    memcpy(host, listen_addr, hlen);
    host[hlen] = '\0';
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0) {
        *code = ADMIN_HTTP_ERR_INVALID;
        snprintf(err, errlen, "admin listen %s: %s", listen_addr, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    int one = 1;
    int failed = fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
                 bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0;
    freeaddrinfo(res);
    if (failed) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        *code = ADMIN_HTTP_ERR_LISTEN;
        snprintf(err, errlen, "admin listen %s: %s", listen_addr, strerror(e));
        return -1;
    }
    return fd;
}

static int admin_bound_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    char serv[16];
    if (getnameinfo((struct sockaddr *)&ss, len, NULL, 0, serv, sizeof(serv), NI_NUMERICSERV) != 0)
        return -1;
    return atoi(serv);
}

admin_http_code admin_http_start(const admin_http_options *opts, admin_http **out, char *err,
                                 size_t errlen) {
    *out = NULL;
    if (!opts || !opts->listen) {
        snprintf(err, errlen, "admin listen: no address given");
        return ADMIN_HTTP_ERR_INVALID;
    }
    admin_http *a = calloc(1, sizeof(*a));
    if (!a || !(a->container = strdup(opts->inventory_container ? opts->inventory_container
                                                                 : "inventory"))) {
        free(a);
        snprintf(err, errlen, "admin start: out of memory");
        return ADMIN_HTTP_ERR_NOMEM;
    }
    a->registry = opts->registry ? opts->registry : metrics_default();
    a->blob = opts->blob;
    a->cb = opts->callbacks;

    admin_http_code code = ADMIN_HTTP_OK;
    int fd = admin_listen(opts->listen, &code, err, errlen);
    if (fd < 0) {
        free(a->container);
        free(a);
        return code;
    }
    a->port = admin_bound_port(fd);
    a->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
        admin_access, a, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)ADMIN_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)ADMIN_CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (!a->daemon) {
        close(fd);
        free(a->container);
        free(a);
        snprintf(err, errlen, "admin listen %s: libmicrohttpd could not start", opts->listen);
        return ADMIN_HTTP_ERR_LISTEN;
    }
    *out = a;
    return ADMIN_HTTP_OK;
}

int admin_http_port(const admin_http *a) {
    return a->port;
}

void admin_http_stop(admin_http *a) {
    if (!a)
        return;
    MHD_stop_daemon(a->daemon);
    free(a->container);
    free(a);
}
