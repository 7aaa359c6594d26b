/* rest.h -- the REST contract of the gateway, free of HTTP plumbing.
 *
 * Maps outcome events to HTTP statuses and CLI exit codes, parses request
 * bodies (camelCase or PascalCase, validated by the codec) and renders the
 * answers of design.md section 3:
 *   {"success","productId","requestedQuantity","availableQuantity",
 *    "reservationId","message","acquiredLease"}
 * and the product state of GET /api/inventory/{productId}.
 */
#ifndef PRODUCER_REST_H
#define PRODUCER_REST_H

#include <stddef.h>

#include "leasehold/inventory_schema.h"

#define REST_EXIT_OK 0
#define REST_EXIT_ERROR 1
#define REST_EXIT_REJECTED 3

/* 1 for outcomes that mean the command took effect. */
int rest_event_succeeded(inv_event_type type);
/* 200 on success; 404 when the product or reservation does not exist
 * (reasons unknown_product, unknown_reservation, no_reservation,
 * *_not_found); 409 for any other rejection (insufficient_stock,
 * stock_limit, ...). */
int rest_status_for_event(const inv_event *ev);
/* REST_EXIT_OK or REST_EXIT_REJECTED. */
int rest_exit_code_for_event(const inv_event *ev);

typedef struct rest_reply {
    int status;
    int success;
    const char *product_id;
    long long requested_quantity; /* < 0: null */
    long long available_quantity; /* < 0: null */
    const char *reservation_id;   /* NULL or "": null */
    const char *message;
    int acquired_lease;
} rest_reply;

/* Fills `r` from an outcome event (pointers borrow from `ev`).
 * `requested` is the quantity the client asked for (< 0 if none). */
void rest_reply_from_event(const inv_event *ev, long long requested, rest_reply *r);
/* Compact JSON, malloc'd; NULL on OOM. */
char *rest_reply_encode(const rest_reply *r);

/* Parses a POST body for `type` (reserve or release) against the product in
 * the URL. Returns 0, or -1 with "field: reason" in err (the codec's words,
 * or "body: ..." when the body is not a JSON object). */
int rest_parse_body(inv_command_type type, const char *product_id, const char *body, size_t len,
                    inv_command *out, char *err, size_t errlen);

#endif
