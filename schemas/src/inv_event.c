/* inv_event.c -- outcome events (schemas/v1/event.schema.json): type names,
 * deterministic event ids, decode/validate and encode.
 *
 * An event id is derived from the command id and the outcome type only, so
 * a replayed or retried command re-emits the very same id and consumers can
 * dedupe on it. Which optional fields a type requires mirrors the schema's
 * per-type conditionals: rejections carry a reason, reservation.created a
 * reservation, customer and expiry, and so on. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "inv_json_internal.h"

static const char *const inv_event_names[] = {
    [INV_EV_RESERVATION_CREATED] = "reservation.created",
    [INV_EV_RESERVATION_REJECTED] = "reservation.rejected",
    [INV_EV_RESERVATION_RELEASED] = "reservation.released",
    [INV_EV_RELEASE_REJECTED] = "release.rejected",
    [INV_EV_RESERVATION_EXPIRED] = "reservation.expired",
    [INV_EV_STOCK_RESTOCKED] = "stock.restocked",
    [INV_EV_RESTOCK_REJECTED] = "restock.rejected",
};

#define INV_N_EVENTS (sizeof inv_event_names / sizeof inv_event_names[0])

const char *inv_event_type_name(inv_event_type t)
{
    return invj_name_of(inv_event_names, INV_N_EVENTS, (unsigned)t);
}

int inv_event_type_parse(const char *name, inv_event_type *out)
{
    int i = invj_index_of(inv_event_names, INV_N_EVENTS, name);
    if (i < 0)
        return -1;
    *out = (inv_event_type)i;
    return 0;
}

int inv_event_type_is_rejection(inv_event_type t)
{
    return t == INV_EV_RESERVATION_REJECTED || t == INV_EV_RELEASE_REJECTED ||
           t == INV_EV_RESTOCK_REJECTED;
}

void inv_event_id(const char *command_id, inv_event_type type, char out[INV_ID_MAX + 1])
{
    char input[INV_ID_MAX + 64];
    int n = snprintf(input, sizeof input, "%s|%s", command_id, inv_event_type_name(type));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    /* SHA-256 cannot fail for in-memory input short of OOM inside OpenSSL;
     * in that case the id is left empty, which every decoder rejects. */
    out[0] = '\0';
    if (n < 0 || !EVP_Digest(input, strlen(input), md, &mdlen, EVP_sha256(), NULL))
        return;
    for (unsigned i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
}

/* The fields each type must carry beyond the common ones. */
static int inv_event_type_fields(const invj_ctx *c, json_t *obj, inv_event *out, int has_res,
                                 int has_cust, int has_reason, int has_exp)
{
    switch (out->type) {
    case INV_EV_RESERVATION_CREATED:
        if (!has_res)
            return invj_fail(c, "reservationId", "required");
        if (!has_cust)
            return invj_fail(c, "customerId", "required");
        if (!has_exp)
            return invj_fail(c, "expiresAtMs", "required");
        if (out->quantity < 1)
            return invj_fail(c, "quantity", "must be an integer from 1 to %lld", INV_MAX_QUANTITY);
        return 0;
    case INV_EV_RESERVATION_RELEASED:
        return has_cust ? 0 : invj_fail(c, "customerId", "required");
    case INV_EV_RESERVATION_EXPIRED:
        if (!has_res)
            return invj_fail(c, "reservationId", "required");
        return has_cust ? 0 : invj_fail(c, "customerId", "required");
    case INV_EV_STOCK_RESTOCKED:
        if (out->quantity < 1)
            return invj_fail(c, "quantity", "must be an integer from 1 to %lld", INV_MAX_QUANTITY);
        return 0;
    case INV_EV_RESERVATION_REJECTED:
    case INV_EV_RELEASE_REJECTED:
    case INV_EV_RESTOCK_REJECTED:
        return has_reason ? 0 : invj_fail(c, "reason", "required");
    }
    return invj_fail(c, "type", "unsupported");
}

int invj_event_from_json(const invj_ctx *c, json_t *obj, inv_event *out)
{
    memset(out, 0, sizeof *out);
    const char *type;
    long long epoch = 0;
    if (invj_check_version(c, obj) < 0 || invj_get_type(c, obj, &type) < 0)
        return -1;
    if (inv_event_type_parse(type, &out->type) < 0)
        return invj_fail(c, "type", "unknown event type '%.*s'", invj_utf8_prefix(type, 64), type);
    if (invj_get_str(c, obj, "eventId", 1, INVJ_ID, out->event_id, sizeof out->event_id) < 0 ||
        invj_get_str(c, obj, "commandId", 1, INVJ_ID, out->command_id, sizeof out->command_id) < 0 ||
        invj_get_str(c, obj, "productId", 1, INVJ_PRODUCT, out->product_id, sizeof out->product_id) < 0 ||
        invj_get_int(c, obj, "quantity", 1, 0, INV_MAX_QUANTITY, &out->quantity) < 0 ||
        invj_get_int(c, obj, "total", 1, 0, LLONG_MAX, &out->total) < 0 ||
        invj_get_int(c, obj, "available", 1, 0, LLONG_MAX, &out->available) < 0 ||
        invj_get_int(c, obj, "reserved", 1, 0, LLONG_MAX, &out->reserved) < 0 ||
        invj_get_str(c, obj, "message", 1, INVJ_TEXT, out->message, sizeof out->message) < 0 ||
        invj_get_int(c, obj, "epoch", 1, 0, LLONG_MAX, &epoch) < 0 ||
        invj_get_i64(c, obj, "timestampMs", 1, &out->timestamp_ms) < 0)
        return -1;
    out->epoch = (uint64_t)epoch;
    int has_res = invj_get_str(c, obj, "reservationId", 0, INVJ_ID, out->reservation_id,
                               sizeof out->reservation_id);
    int has_cust = has_res < 0 ? -1
                               : invj_get_str(c, obj, "customerId", 0, INVJ_ID, out->customer_id,
                                              sizeof out->customer_id);
    int has_reason = has_cust < 0 ? -1
                                  : invj_get_str(c, obj, "reason", 0, INVJ_REASON, out->reason,
                                                 sizeof out->reason);
    int has_exp = has_reason < 0 ? -1 : invj_get_i64(c, obj, "expiresAtMs", 0, &out->expires_at_ms);
    if (has_exp < 0)
        return -1;
    return inv_event_type_fields(c, obj, out, has_res, has_cust, has_reason, has_exp);
}

json_t *invj_event_to_json(const inv_event *ev)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = invj_put_int(o, "schemaVersion", INV_SCHEMA_VERSION);
    bad |= invj_put_str(o, "type", inv_event_type_name(ev->type));
    bad |= invj_put_str(o, "eventId", ev->event_id);
    bad |= invj_put_str(o, "commandId", ev->command_id);
    bad |= invj_put_str(o, "productId", ev->product_id);
    bad |= invj_put_opt_str(o, "reservationId", ev->reservation_id);
    bad |= invj_put_opt_str(o, "customerId", ev->customer_id);
    bad |= invj_put_int(o, "quantity", ev->quantity);
    bad |= invj_put_int(o, "total", ev->total);
    bad |= invj_put_int(o, "available", ev->available);
    bad |= invj_put_int(o, "reserved", ev->reserved);
    bad |= invj_put_opt_str(o, "reason", ev->reason);
    bad |= invj_put_str(o, "message", ev->message);
    bad |= invj_put_int(o, "epoch", (long long)ev->epoch);
    bad |= invj_put_int(o, "timestampMs", ev->timestamp_ms);
    bad |= invj_put_opt_int(o, "expiresAtMs", ev->expires_at_ms);
    return invj_built(o, bad);
}

char *inv_event_encode(const inv_event *ev)
{
    return invj_dump(invj_event_to_json(ev), 0);
}

int inv_event_decode(const char *buf, size_t len, inv_event *out, char *err, size_t errlen)
{
    invj_ctx c = {"", err, errlen};
    memset(out, 0, sizeof *out);
    json_t *root = invj_parse(&c, buf, len, INV_MAX_MESSAGE);
    if (!root)
        return -1;
    int rc = invj_event_from_json(&c, root, out);
    json_decref(root);
    return rc;
}
