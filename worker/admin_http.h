/* admin_http.h -- the worker's operator HTTP endpoint (libmicrohttpd).
 *
 * Serves, on the address given with --admin ADDR:PORT:
 *   GET /healthz                  200 "ok" while the process loop is alive, else 503
 *   GET /readyz                   200 "ready", or 503 with the reason the worker gives
 *   GET /metrics                  Prometheus text 0.0.4 from the metrics registry
 *   GET /api/inventory/{product}  product state read without taking a lease:
 *        200 {"productId","total","available","reserved","activeReservations":[
 *              {"reservationId","customerId","quantity","createdAt","expiresAt"}]}
 *        (createdAt/expiresAt in unix ms), 400 invalid productId, 404 unknown
 *        product, 503 storage unreachable
 *   GET /api/leases               JSON from the worker's callback
 *   GET /api/blocked              products whose state cannot be read (callback)
 *   POST /api/blocked/{product}/retry        re-read the state, apply the queue
 *   POST /api/blocked/{product}/dead-letter  dead-letter the queued commands
 *        202 {"productId","action","status":"scheduled"}, 404 not blocked here,
 *        400 invalid productId
 * Anything else is 404 (unknown path) or 405 (other method: POST is accepted
 * on the two repair paths only, and only POST there). There is no
 * authentication: the port must not be reachable from outside the host or
 * pod. Error bodies are
 * JSON {"error": "..."} on /api/ paths and plain text elsewhere.
 *
 * The product state comes from callbacks.inventory when set, otherwise
 * directly from storage: blob_get of "{productId}.json" in the inventory
 * container with no lease id, decoded with inv_state_decode.
 *
 * Threads: libmicrohttpd serves each connection on its own thread, so
 * callbacks may run concurrently with each other and with the worker's
 * threads: they must be thread-safe and quick.
 */
#ifndef LEASEHOLD_ADMIN_HTTP_H
#define LEASEHOLD_ADMIN_HTTP_H

#include <stddef.h>

#include "leasehold/blob.h"
#include "metrics.h"

typedef enum admin_http_code {
    ADMIN_HTTP_OK = 0,
    ADMIN_HTTP_ERR_INVALID, /* bad option, e.g. a listen address that does not parse */
    ADMIN_HTTP_ERR_NOMEM,
    ADMIN_HTTP_ERR_LISTEN   /* could not bind/listen (address in use, no permission, ...) */
} admin_http_code;

const char *admin_http_strerror(admin_http_code code);

typedef enum admin_http_blocked_action {
    ADMIN_HTTP_BLOCKED_RETRY = 0,
    ADMIN_HTTP_BLOCKED_DEAD_LETTER
} admin_http_blocked_action;

typedef struct admin_http_callbacks {
    /* /healthz: non-zero while the main loop is alive. NULL = always alive. */
    int (*alive)(void *opaque);
    /* /readyz: non-zero when ready; otherwise fill `reason` (NUL-terminated,
     * at most `cap` bytes), e.g. "kafka: no partitions assigned". NULL = ready. */
    int (*ready)(char *reason, size_t cap, void *opaque);
    /* Called before /metrics renders, to refresh gauges that are cheaper to
     * read than to track (leases held, consumer lag). Optional. */
    void (*collect)(void *opaque);
    /* /api/leases: malloc'd JSON document, e.g.
     * {"leases":[{"name","leaseId","epoch","expiresInMs"}]}; NULL -> 500.
     * NULL callback -> {"leases":[]}. */
    char *(*leases_json)(void *opaque);
    /* /api/assignment: malloc'd JSON, {"strategy","coPartitioned",
     * "partitions":[{"topic","partition"}]}; NULL -> 500. NULL callback ->
     * {"partitions":[]}. */
    char *(*assignment_json)(void *opaque);
    /* GET /api/blocked: malloc'd JSON {"blocked":[{"productId","reason",
     * "since","queued"}]}; NULL -> 500. NULL callback -> {"blocked":[]}. */
    char *(*blocked_json)(void *opaque);
    /* POST /api/blocked/{productId}/{retry|dead-letter} (id validated): 0
     * when scheduled, -1 when the product is not blocked here. NULL -> 404. */
    int (*blocked_action)(const char *product_id, admin_http_blocked_action action,
                          void *opaque);
    /* /api/inventory/{productId} override (product id already validated):
     * return the HTTP status and set *json to a malloc'd body (an object as
     * described above for 200, or NULL for the standard error body). */
    int (*inventory_json)(const char *product_id, char **json, void *opaque);
    void *opaque;
} admin_http_callbacks;

typedef struct admin_http_options {
    const char *listen;              /* "ADDR:PORT" (IPv4 address or "localhost"); port 0 = ephemeral */
    metrics_registry *registry;      /* default metrics_default() */
    blob_client *blob;               /* for /api/inventory without a callback; borrowed */
    const char *inventory_container; /* default "inventory" */
    admin_http_callbacks callbacks;
} admin_http_options;

typedef struct admin_http admin_http;

/* Zeroes the options. */
void admin_http_options_init(admin_http_options *opts);

/* Binds and starts serving. Strings are copied; blob client and registry are
 * borrowed until admin_http_stop. On failure returns the code, *out stays
 * NULL and `err` says what failed ("admin listen 127.0.0.1:8080: Address
 * already in use"). */
admin_http_code admin_http_start(const admin_http_options *opts, admin_http **out, char *err,
                                 size_t errlen);
/* The port actually bound (useful with port 0). */
int admin_http_port(const admin_http *a);
/* Stops serving (waits for in-flight requests) and frees. NULL is a no-op. */
void admin_http_stop(admin_http *a);

#endif
