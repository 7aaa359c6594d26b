/* rest.c -- outcome-to-status mapping and JSON bodies of the gateway.
 *
 * Kept apart from the libmicrohttpd code so the contract (which outcome is
 * which status, which field names, null vs. absent) is unit-tested without
 * sockets. The CLI uses the same mapping for its exit codes.
 */
#include "rest.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "command.h"

int rest_event_succeeded(inv_event_type type) {
    switch (type) {
    case INV_EV_RESERVATION_CREATED:
    case INV_EV_RESERVATION_RELEASED:
    case INV_EV_RESERVATION_EXPIRED:
    case INV_EV_STOCK_RESTOCKED:
        return 1;
    default:
        return 0;
    }
}

/* Reasons meaning "the thing you named does not exist": unknown_product,
 * unknown_reservation, no_reservation (the customer holds none) and any
 * "*_not_found". */
static int rest_reason_is_missing(const char *reason) {
    size_t n = strlen(reason), suffix = strlen("not_found");
    return !strncmp(reason, "unknown_", 8) || !strcmp(reason, "no_reservation") ||
           (n >= suffix && !strcmp(reason + n - suffix, "not_found"));
}

int rest_status_for_event(const inv_event *ev) {
    if (rest_event_succeeded(ev->type))
        return 200;
    return rest_reason_is_missing(ev->reason) ? 404 : 409;
}

int rest_exit_code_for_event(const inv_event *ev) {
    return rest_event_succeeded(ev->type) ? REST_EXIT_OK : REST_EXIT_REJECTED;
}

void rest_reply_from_event(const inv_event *ev, long long requested, rest_reply *r) {
    memset(r, 0, sizeof(*r));
    r->status = rest_status_for_event(ev);
    r->success = rest_event_succeeded(ev->type);
    r->product_id = ev->product_id;
    r->requested_quantity = requested >= 0 ? requested : ev->quantity;
    r->available_quantity = ev->available;
    r->reservation_id = ev->reservation_id;
    r->message = ev->message[0] ? ev->message : ev->reason;
    r->acquired_lease = ev->epoch > 0;
}

static json_t *rest_opt_int(long long v) {
    return v >= 0 ? json_integer(v) : json_null();
}

static json_t *rest_opt_str(const char *s) {
    return s && *s ? json_string(s) : json_null();
}

char *rest_reply_encode(const rest_reply *r) {
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "success", json_boolean(r->success));
    json_object_set_new(o, "productId", rest_opt_str(r->product_id));
    json_object_set_new(o, "requestedQuantity", rest_opt_int(r->requested_quantity));
    json_object_set_new(o, "availableQuantity", rest_opt_int(r->available_quantity));
    json_object_set_new(o, "reservationId", rest_opt_str(r->reservation_id));
    json_object_set_new(o, "message", json_string(r->message ? r->message : ""));
    json_object_set_new(o, "acquiredLease", json_boolean(r->acquired_lease));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

int rest_parse_body(inv_command_type type, const char *product_id, const char *body, size_t len,
                    inv_command *out, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *fields = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!fields) {
        snprintf(err, errlen, "body: not valid JSON (%s)", jerr.text);
        return -1;
    }
    if (!json_is_object(fields)) {
        snprintf(err, errlen, "body: must be a JSON object");
        json_decref(fields);
        return -1;
    }
    int rc = command_build(type, NULL, product_id, fields, out, err, errlen);
    json_decref(fields);
    return rc;
}

