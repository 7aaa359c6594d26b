/* gateway.c -- libmicrohttpd front end publishing commands and awaiting outcomes.
 *
 * Request flow for a POST: collect the body (bounded by INV_MAX_MESSAGE),
 * validate it through the codec, register the commandId with the shared
 * tracker, publish, then block on the tracker until the outcome arrives,
 * delivery fails (the sender's callback fails the entry) or the timeout
 * passes. MHD runs each connection on its own thread, so a slow outcome
 * delays only its own client.
 */
#include "gateway.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "log.h"
#include "producer_config.h"
#include "rest.h"
#include "sender.h"
#include "state_blob.h"
#include "tracker.h"

#define GATEWAY_PREFIX "/api/inventory/"

struct gateway {
    config *cfg;
    struct MHD_Daemon *daemon;
    tracker *tracker;
    sender *sender;
    blob_client *blob;
    long long timeout_ms;
};

typedef struct gateway_request {
    char *body;
    size_t len;
    int too_large;
} gateway_request;

int gateway_parse_listen(const char *listen, char addr[64], unsigned short *port, char *err,
                         size_t errlen) {
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    struct in_addr in;
    char *end = NULL;
    if (!colon || (size_t)(colon - listen) >= 64) {
        snprintf(err, errlen, "--listen: expected ADDR:PORT, got '%s'", listen ? listen : "");
        return -1;
    }
    memcpy(addr, listen, (size_t)(colon - listen));
    addr[colon - listen] = '\0';
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (inet_pton(AF_INET, addr, &in) != 1 || errno || end == colon + 1 || *end || p < 1 ||
        p > 65535) {
        snprintf(err, errlen, "--listen: expected IPv4 ADDR:PORT (port 1-65535), got '%s'", listen);
        return -1;
    }
    *port = (unsigned short)p;
    return 0;
}

static void gateway_publish_failed(const char *command_id, const char *error, void *opaque) {
    char why[200];
    snprintf(why, sizeof(why), "publish failed: %s", error);
    tracker_fail(opaque, command_id, why);
}

static enum MHD_Result gateway_send(struct MHD_Connection *conn, int status, char *json) {
    static const char oom[] = "{\"success\":false,\"message\":\"out of memory\"}";
    struct MHD_Response *r =
        json
            ? MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE)
            : MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(json);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, json ? (unsigned)status : 500, r);
    MHD_destroy_response(r);
    return rc;
}

/* A failure answered without an outcome event (400, 503, 504). */
static enum MHD_Result gateway_fail(struct MHD_Connection *conn, int status, const char *product,
                                    long long requested, const char *message) {
    rest_reply r = {.status = status,
                    .product_id = product,
                    .requested_quantity = requested,
                    .available_quantity = -1,
                    .message = message};
    return gateway_send(conn, status, rest_reply_encode(&r));
}

static enum MHD_Result gateway_get_state(gateway *g, struct MHD_Connection *conn,
                                         const char *product) {
    char err[512];
    inv_state st;
    if (command_check_product(product, err, sizeof(err)) != 0)
        return gateway_fail(conn, 400, NULL, -1, err);
    state_blob_result rc = state_blob_read_product(
        g->blob, config_string(g->cfg, "storage.container"), product, &st, err, sizeof(err));
    if (rc == STATE_BLOB_ABSENT) {
        snprintf(err, sizeof(err), "product %s not found", product);
        return gateway_fail(conn, 404, product, -1, err);
    }
    if (rc != STATE_BLOB_OK) {
        log_warn("GET %s: %s", product, err);
        return gateway_fail(conn, rc == STATE_BLOB_INVALID ? 500 : 503, product, -1, err);
    }
    char *text = inv_state_view_encode(&st);
    inv_state_clear(&st);
    return gateway_send(conn, 200, text);
}

/* Quantity as the client sent it, for the 400 answer; -1 when absent or not an integer. */
static long long gateway_body_quantity(const gateway_request *req) {
    json_t *body = json_loadb(req->body ? req->body : "", req->len, 0, NULL);
    json_t *q = json_is_object(body) ? command_field(body, "quantity") : NULL;
    long long v = json_is_integer(q) ? json_integer_value(q) : -1;
    json_decref(body);
    return v;
}

static enum MHD_Result gateway_post(gateway *g, struct MHD_Connection *conn, const char *product,
                                    inv_command_type type, const gateway_request *req) {
    char err[512];
    inv_command cmd;
    if (req->too_large)
        return gateway_fail(conn, 413, product, -1, "body: larger than 64 KiB");
    if (rest_parse_body(type, product, req->body ? req->body : "", req->len, &cmd, err,
                        sizeof(err)) != 0)
        return gateway_fail(conn, 400, product, gateway_body_quantity(req), err);
    long long requested = cmd.quantity > 0 ? cmd.quantity : -1;
    char *payload = inv_command_encode(&cmd);
    if (!payload || tracker_expect(g->tracker, cmd.command_id, 1) != 0) {
        free(payload);
        return gateway_fail(conn, 500, product, requested, "out of memory");
    }
    const char *topic = config_string(g->cfg, command_topic_key(type));
    if (sender_send(g->sender, topic, cmd.product_id, payload, strlen(payload), cmd.command_id, err,
                    sizeof(err)) != 0)
        tracker_fail(g->tracker, cmd.command_id, err);
    free(payload);

    inv_event ev;
    int rc = tracker_wait(g->tracker, cmd.command_id, g->timeout_ms, &ev, err, sizeof(err));
    if (rc == 1) {
        log_warn("%s %s for %s: %s", inv_command_type_name(type), cmd.command_id, product, err);
        return gateway_fail(conn, 504, product, requested, err);
    }
    if (rc != 0) {
        log_warn("%s %s for %s: %s", inv_command_type_name(type), cmd.command_id, product, err);
        return gateway_fail(conn, 503, product, requested, err);
    }
    rest_reply r;
    rest_reply_from_event(&ev, requested, &r);
    log_info("%s %s for %s: %s -> %d", inv_command_type_name(type), cmd.command_id, product,
             inv_event_type_name(ev.type), r.status);
    return gateway_send(conn, r.status, rest_reply_encode(&r));
}

/* Routes a complete request. */
static enum MHD_Result gateway_route(gateway *g, struct MHD_Connection *conn, const char *url,
                                     const char *method, const gateway_request *req) {
    int is_get = !strcmp(method, MHD_HTTP_METHOD_GET);
    int is_post = !strcmp(method, MHD_HTTP_METHOD_POST);
    if (!strcmp(url, "/healthz") && is_get) {
        char *ok = strdup("{\"status\":\"ok\"}");
        return gateway_send(conn, 200, ok);
    }
    size_t plen = strlen(GATEWAY_PREFIX);
    if (strncmp(url, GATEWAY_PREFIX, plen) != 0 || url[plen] == '\0')
        return gateway_fail(conn, 404, NULL, -1, "no such route");
    char product[INV_PRODUCT_MAX * 2];
    const char *rest = url + plen;
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n >= sizeof(product))
        return gateway_fail(conn, 400, NULL, -1, "productId: must be 1 to 64 characters");
    memcpy(product, rest, n);
    product[n] = '\0';
    if (!slash) {
        if (!is_get)
            return gateway_fail(conn, 405, product, -1, "use GET for the product state");
        return gateway_get_state(g, conn, product);
    }
    inv_command_type type;
    if (!strcmp(slash, "/reserve"))
        type = INV_CMD_RESERVE;
    else if (!strcmp(slash, "/release"))
        type = INV_CMD_RELEASE;
    else
        return gateway_fail(conn, 404, product, -1, "no such route");
    if (!is_post)
        return gateway_fail(conn, 405, product, -1, "use POST");
    return gateway_post(g, conn, product, type, req);
}

static enum MHD_Result gateway_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    gateway_request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof(*req));
        if (!req)
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t add = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large || req->len + add > INV_MAX_MESSAGE) {
            req->too_large = 1;
            return MHD_YES;
        }
        char *b = realloc(req->body, req->len + add + 1);
        if (!b)
            return MHD_NO;
        memcpy(b + req->len, upload_data, add);
        req->body = b;
        req->len += add;
        req->body[req->len] = '\0';
        return MHD_YES;
    }
    return gateway_route(cls, conn, url, method, req);
}

static void gateway_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    gateway_request *req = *con_cls;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

gateway *gateway_start(config *cfg, const char *listen, char *err, size_t errlen) {
    char addr[64];
    unsigned short port;
    if (gateway_parse_listen(listen, addr, &port, err, errlen) != 0)
        return NULL;
    gateway *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "gateway: out of memory");
        return NULL;
    }
    g->cfg = cfg;
    g->timeout_ms = config_duration_ms(cfg, "producer.outcome_timeout");
    const char *brokers = config_string(cfg, "kafka.brokers");
    tracker_options to = {.brokers = brokers, .events_topic = config_string(cfg, "topic.events")};
    g->tracker = tracker_new(&to, err, errlen);
    if (!g->tracker)
        goto err;
    g->sender = sender_new(brokers, gateway_publish_failed, g->tracker, err, errlen);
    if (!g->sender)
        goto err;
    g->blob = storage_config_blob_client(cfg, err, errlen);
    if (!g->blob)
        goto err;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, addr, &sa.sin_addr);
    g->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                                 port, NULL, NULL, gateway_handle, g, MHD_OPTION_SOCK_ADDR, &sa,
                                 MHD_OPTION_NOTIFY_COMPLETED, gateway_completed, NULL,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!g->daemon) {
        snprintf(err, errlen, "gateway: cannot listen on %s (%s)", listen, strerror(errno));
        goto err;
    }
    log_info("gateway listening on %s (outcome timeout %lld ms)", listen, g->timeout_ms);
    return g;
err:
    gateway_stop(g);
    return NULL;
}

void gateway_stop(gateway *g) {
    if (!g)
        return;
    if (g->daemon)
        MHD_stop_daemon(g->daemon);
    sender_free(g->sender);
    tracker_free(g->tracker);
    blob_client_free(g->blob);
    free(g);
}
