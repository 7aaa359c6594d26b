/* inv_state.c -- the product state blob (schemas/v1/product-state.schema.json):
 * init/clear, decode/validate and encode.
 *
 * Beyond the schema, decoding checks the blob's own arithmetic: total ==
 * available + reserved and reserved == the sum of the reservations. A blob
 * breaking either was written by a bug, and applying commands on top of it
 * would spread the damage, so it is refused loudly instead. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv_json_internal.h"

void inv_state_init(inv_state *st, const char *product_id)
{
    memset(st, 0, sizeof *st);
    snprintf(st->product_id, sizeof st->product_id, "%s", product_id ? product_id : "");
}

void inv_state_clear(inv_state *st)
{
    free(st->reservation_pages.pages);
    free(st->ledger_pages.pages);
    free(st->id_set);
    free(st->reservations);
    free(st->offsets);
    free(st->ledger);
    free(st->outbox);
    memset(st, 0, sizeof *st);
}


/* Decodes the required array `name` of objects into *items (grown to fit,
 * *n counting the elements decoded), at most `max` elements (0: no limit).
 * Element messages are prefixed "name[i].". */
static int inv_state_array(const invj_ctx *c, json_t *obj, const char *name, size_t max,
                           void **items, size_t *n, size_t *cap, size_t elem, invj_item_fn fn)
{
    json_t *arr;
    if (invj_field(c, obj, name, 1, &arr) < 0)
        return -1;
    if (!json_is_array(arr))
        return invj_fail(c, name, "must be an array");
    if (max && json_array_size(arr) > max)
        return invj_fail(c, name, "must have at most %zu entries", max);
    return invj_state_items(c, name, arr, items, n, cap, elem, fn);
}

int invj_state_items(const invj_ctx *c, const char *name, json_t *arr, void **items, size_t *n,
                     size_t *cap, size_t elem, invj_item_fn fn)
{
    size_t base = *n;
    if (invj_grow(items, cap, base + json_array_size(arr), elem) < 0)
        return invj_fail(c, name, "out of memory");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            return invj_fail(c, name, "element %zu must be an object", base + i);
        char pfx[64];
        snprintf(pfx, sizeof pfx, "%s%s[%zu].", c->prefix, name, base + i);
        invj_ctx sub = {pfx, c->err, c->errlen};
        void *item = (char *)*items + (base + i) * elem;
        memset(item, 0, elem);
        if (fn(&sub, e, item) < 0)
            return -1;
        *n = base + i + 1;
    }
    return 0;
}

int invj_reservation_from_json(const invj_ctx *c, json_t *e, void *item)
{
    inv_reservation *r = item;
    if (invj_get_str(c, e, "reservationId", 1, INVJ_ID, r->reservation_id, sizeof r->reservation_id) < 0 ||
        invj_get_str(c, e, "customerId", 1, INVJ_ID, r->customer_id, sizeof r->customer_id) < 0 ||
        invj_get_int(c, e, "quantity", 1, 1, INV_MAX_QUANTITY, &r->quantity) < 0 ||
        invj_get_i64(c, e, "createdAtMs", 1, &r->created_at_ms) < 0 ||
        invj_get_i64(c, e, "expiresAtMs", 1, &r->expires_at_ms) < 0)
        return -1;
    return 0;
}

int invj_ledger_from_json(const invj_ctx *c, json_t *e, void *item)
{
    inv_ledger_entry *l = item;
    char outcome[32];
    if (invj_get_str(c, e, "commandId", 1, INVJ_ID, l->command_id, sizeof l->command_id) < 0 ||
        invj_get_str(c, e, "outcome", 1, INVJ_TEXT, outcome, sizeof outcome) < 0)
        return -1;
    if (inv_event_type_parse(outcome, &l->outcome) < 0)
        return invj_fail(c, "outcome", "unknown event type '%s'", outcome);
    /* The outcome's own fields are optional: absent in blobs written before
     * they were kept, and each absent when the event has none. */
    if (invj_get_str(c, e, "eventId", 1, INVJ_ID, l->event_id, sizeof l->event_id) < 0 ||
        invj_get_i64(c, e, "appliedAtMs", 1, &l->applied_at_ms) < 0 ||
        invj_get_str(c, e, "reason", 0, INVJ_REASON, l->reason, sizeof l->reason) < 0 ||
        invj_get_str(c, e, "reservationId", 0, INVJ_ID, l->reservation_id,
                     sizeof l->reservation_id) < 0 ||
        invj_get_str(c, e, "customerId", 0, INVJ_ID, l->customer_id, sizeof l->customer_id) < 0 ||
        invj_get_int(c, e, "quantity", 0, 0, INV_MAX_QUANTITY, &l->quantity) < 0 ||
        invj_get_i64(c, e, "expiresAtMs", 0, &l->expires_at_ms) < 0 ||
        invj_get_str(c, e, "message", 0, INVJ_TEXT, l->message, sizeof l->message) < 0)
        return -1;
    return 0;
}

static int inv_state_outbox_item(const invj_ctx *c, json_t *e, void *item)
{
    return invj_event_from_json(c, e, item);
}

/* reserved must equal the sum of the reservations (each at most
 * INV_MAX_QUANTITY, so the sum cannot overflow before n reaches 2^43). */
int invj_state_check_reserved(const invj_ctx *c, const inv_state *st)
{
    long long sum = 0;
    for (size_t i = 0; i < st->n_reservations; i++)
        sum += st->reservations[i].quantity;
    if (sum != st->reserved)
        return invj_fail(c, "reserved", "must equal the sum of reservation quantities (%lld)", sum);
    return 0;
}

/* "topic/partition": a Kafka topic name, '/', a partition number. */
static int inv_state_offset_key_ok(const char *key)
{
    const char *slash = strrchr(key, '/');
    size_t len = strlen(key);
    if (!slash || slash == key || len >= sizeof ((inv_applied_offset *)0)->topic_partition)
        return 0;
    for (const char *p = key; p < slash; p++)
        if (!invj_is_topic_char((unsigned char)*p))
            return 0;
    const char *digits = slash + 1;
    size_t nd = strlen(digits);
    if (nd == 0 || nd > 10 || (digits[0] == '0' && nd > 1))
        return 0;
    for (size_t i = 0; i < nd; i++)
        if (digits[i] < '0' || digits[i] > '9')
            return 0;
    return 1;
}

static int inv_state_offsets(const invj_ctx *c, json_t *obj, inv_state *st)
{
    json_t *map;
    if (invj_field(c, obj, "appliedOffsets", 1, &map) < 0)
        return -1;
    if (!json_is_object(map))
        return invj_fail(c, "appliedOffsets", "must be an object");
    if (invj_grow((void **)&st->offsets, &st->cap_offsets, json_object_size(map), sizeof *st->offsets) < 0)
        return invj_fail(c, "appliedOffsets", "out of memory");
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v) {
        if (!inv_state_offset_key_ok(key))
            return invj_fail(c, "appliedOffsets", "key '%.*s' must match %s (at most %zu characters)",
                             invj_utf8_prefix(key, 64), key, INVJ_OFFSET_KEY_PATTERN,
                             sizeof st->offsets->topic_partition - 1);
        inv_applied_offset *ao = &st->offsets[st->n_offsets];
        memset(ao, 0, sizeof *ao);
        char pfx[64];
        snprintf(pfx, sizeof pfx, "%sappliedOffsets.", c->prefix);
        invj_ctx sub = {pfx, c->err, c->errlen};
        if (!json_is_integer(v))
            return invj_fail(&sub, key, "must be an integer");
        if (json_integer_value(v) < 0)
            return invj_fail(&sub, key, "must be an integer of at least 0");
        snprintf(ao->topic_partition, sizeof ao->topic_partition, "%s", key);
        ao->offset = json_integer_value(v);
        st->n_offsets++;
    }
    return 0;
}

/* What both layouts keep at the top of the document: quantities, offsets,
 * outbox, updatedAtMs (not the version, reservations or ledger). */
int invj_state_common(const invj_ctx *c, json_t *root, inv_state *out)
{
    if (invj_get_str(c, root, "productId", 1, INVJ_PRODUCT, out->product_id, sizeof out->product_id) < 0 ||
        invj_get_int(c, root, "total", 1, 0, LLONG_MAX, &out->total) < 0 ||
        invj_get_int(c, root, "available", 1, 0, LLONG_MAX, &out->available) < 0 ||
        invj_get_int(c, root, "reserved", 1, 0, LLONG_MAX, &out->reserved) < 0 ||
        invj_get_i64(c, root, "updatedAtMs", 1, &out->updated_at_ms) < 0)
        return -1;
    if (out->available > LLONG_MAX - out->reserved || out->total != out->available + out->reserved)
        return invj_fail(c, "total", "must equal available + reserved");
    return 0;
}

int invj_state_tail(const invj_ctx *c, json_t *root, inv_state *out)
{
    if (inv_state_offsets(c, root, out) < 0 ||
        inv_state_array(c, root, "outbox", 0, (void **)&out->outbox, &out->n_outbox, &out->cap_outbox,
                        sizeof *out->outbox, inv_state_outbox_item) < 0)
        return -1;
    return 0;
}

static int inv_state_fields(const invj_ctx *c, json_t *root, inv_state *out)
{
    if (invj_state_common(c, root, out) < 0 ||
        inv_state_array(c, root, "reservations", 0, (void **)&out->reservations, &out->n_reservations,
                        &out->cap_reservations, sizeof *out->reservations, invj_reservation_from_json) < 0 ||
        invj_state_check_reserved(c, out) < 0 || inv_state_offsets(c, root, out) < 0 ||
        inv_state_array(c, root, "ledger", INV_LEDGER_MAX, (void **)&out->ledger, &out->n_ledger,
                        &out->cap_ledger, sizeof *out->ledger, invj_ledger_from_json) < 0 ||
        inv_state_array(c, root, "outbox", 0, (void **)&out->outbox, &out->n_outbox, &out->cap_outbox,
                        sizeof *out->outbox, inv_state_outbox_item) < 0)
        return -1;
    return 0;
}

int inv_state_decode(const char *buf, size_t len, inv_state *out, char *err, size_t errlen)
{
    invj_ctx c = {"", err, errlen};
    inv_state_init(out, NULL);
    /* A v2 blob is a head document followed by its pages: parse the first
     * value only and look at its version. */
    size_t head_len = 0;
    json_t *root = invj_state_parse_head(&c, buf, len, &head_len);
    if (!root)
        return -1;
    int rc;
    json_t *v = json_object_get(root, "schemaVersion");
    if (json_is_integer(v) && json_integer_value(v) == INV_STATE_SCHEMA_PAGED) {
        rc = invj_state_decode_paged(&c, root, buf, len, head_len, out);
    } else {
        json_decref(root);
        /* v1 (or anything else): the whole input is one document, and
         * every message is the one the v1 decoder always gave. */
        if (!(root = invj_parse(&c, buf, len, SIZE_MAX)))
            return -1;
        rc = invj_check_version(&c, root) < 0 ? -1 : inv_state_fields(&c, root, out);
    }
    json_decref(root);
    if (rc < 0)
        inv_state_clear(out);
    return rc;
}

json_t *invj_reservation_to_json(const inv_reservation *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = invj_put_str(o, "reservationId", r->reservation_id);
    bad |= invj_put_str(o, "customerId", r->customer_id);
    bad |= invj_put_int(o, "quantity", r->quantity);
    bad |= invj_put_int(o, "createdAtMs", r->created_at_ms);
    bad |= invj_put_int(o, "expiresAtMs", r->expires_at_ms);
    return invj_built(o, bad);
}

json_t *invj_ledger_to_json(const inv_ledger_entry *l)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = invj_put_str(o, "commandId", l->command_id);
    bad |= invj_put_str(o, "outcome", inv_event_type_name(l->outcome));
    bad |= invj_put_str(o, "eventId", l->event_id);
    bad |= invj_put_int(o, "appliedAtMs", l->applied_at_ms);
    bad |= invj_put_opt_str(o, "reason", l->reason);
    bad |= invj_put_opt_str(o, "reservationId", l->reservation_id);
    bad |= invj_put_opt_str(o, "customerId", l->customer_id);
    bad |= invj_put_opt_int(o, "quantity", l->quantity);
    bad |= invj_put_opt_int(o, "expiresAtMs", l->expires_at_ms);
    bad |= invj_put_opt_str(o, "message", l->message);
    return invj_built(o, bad);
}

char *inv_state_encode(const inv_state *st)
{
    json_t *o = json_object();
    json_t *res = json_array(), *offs = json_object(), *led = json_array(), *outbox = json_array();
    int bad = !o || !res || !offs || !led || !outbox;
    for (size_t i = 0; !bad && i < st->n_reservations; i++)
        bad |= json_array_append_new(res, invj_reservation_to_json(&st->reservations[i]));
    for (size_t i = 0; !bad && i < st->n_offsets; i++)
        bad |= invj_put_int(offs, st->offsets[i].topic_partition, st->offsets[i].offset);
    for (size_t i = 0; !bad && i < st->n_ledger; i++)
        bad |= json_array_append_new(led, invj_ledger_to_json(&st->ledger[i]));
    for (size_t i = 0; !bad && i < st->n_outbox; i++)
        bad |= json_array_append_new(outbox, invj_event_to_json(&st->outbox[i]));
    if (bad || !o) {
        json_decref(res);
        json_decref(offs);
        json_decref(led);
        json_decref(outbox);
        json_decref(o);
        return NULL;
    }
    bad |= invj_put_int(o, "schemaVersion", INV_SCHEMA_VERSION);
    bad |= invj_put_str(o, "productId", st->product_id);
    bad |= invj_put_int(o, "total", st->total);
    bad |= invj_put_int(o, "available", st->available);
    bad |= invj_put_int(o, "reserved", st->reserved);
    bad |= json_object_set_new(o, "reservations", res);
    bad |= json_object_set_new(o, "appliedOffsets", offs);
    bad |= json_object_set_new(o, "ledger", led);
    bad |= json_object_set_new(o, "outbox", outbox);
    bad |= invj_put_int(o, "updatedAtMs", st->updated_at_ms);
    return invj_dump(o, bad);
}

char *inv_state_view_encode(const inv_state *st)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < st->n_reservations; i++) {
        const inv_reservation *r = &st->reservations[i];
        json_t *item = json_pack("{s:s,s:s,s:I,s:I,s:I}", "reservationId", r->reservation_id,
                                 "customerId", r->customer_id, "quantity", (json_int_t)r->quantity,
                                 "createdAt", (json_int_t)r->created_at_ms, "expiresAt",
                                 (json_int_t)r->expires_at_ms);
        if (!item || json_array_append_new(list, item) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (!list)
        return NULL;
    json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:o}", "productId", st->product_id, "total",
                          (json_int_t)st->total, "available", (json_int_t)st->available,
                          "reserved", (json_int_t)st->reserved, "activeReservations", list);
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return text;
}
