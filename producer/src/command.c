/* command.c -- validated commands from CLI arguments or REST bodies.
 *
 * The codec is the single authority on the wire format, so this file never
 * names a JSON field the client does not supply: it encodes an empty
 * command of the right type (which yields the type tag, schema version and
 * timestamp in the codec's spelling), replaces the client-controlled fields
 * and decodes the result.
 */
#include "command.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leasehold/blob.h"

const char *const command_client_fields[4] = {"quantity", "customerId", "reservationId",
                                              "ttlSeconds"};

static void command_pascal(const char *camel, char *out, size_t cap) {
    snprintf(out, cap, "%s", camel);
    out[0] = (char)toupper((unsigned char)out[0]);
}

json_t *command_field(json_t *obj, const char *camel) {
    char pascal[64];
    json_t *v = json_object_get(obj, camel);
    if (v)
        return v;
    command_pascal(camel, pascal, sizeof(pascal));
    return json_object_get(obj, pascal);
}

static void command_drop(json_t *obj, const char *camel) {
    char pascal[64];
    command_pascal(camel, pascal, sizeof(pascal));
    json_object_del(obj, camel);
    json_object_del(obj, pascal);
}

json_t *command_number_text(const char *text) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!errno && end != text && *end == '\0')
        return json_integer(v);
    return json_string(text);
}

const char *command_topic_key(inv_command_type type) {
    switch (type) {
    case INV_CMD_RESERVE:
        return "topic.reservations";
    case INV_CMD_RELEASE:
        return "topic.releases";
    default:
        return "topic.admin";
    }
}

static int64_t command_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int command_build(inv_command_type type, const char *command_id, const char *product_id,
                  json_t *fields, inv_command *out, char *err, size_t errlen) {
    int rc = -1;
    char guid[37];
    inv_command blank;
    memset(&blank, 0, sizeof(blank));
    blank.type = type;
    blank.issued_at_ms = command_now_ms();
    char *text = inv_command_encode(&blank);
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "command: out of memory");
        goto out;
    }
    if (!command_id) {
        blob_new_guid(guid);
        command_id = guid;
    }
    command_drop(doc, "commandId");
    command_drop(doc, "productId");
    json_object_set_new(doc, "commandId", json_string(command_id));
    json_object_set_new(doc, "productId", json_string(product_id ? product_id : ""));
    for (size_t i = 0; i < sizeof(command_client_fields) / sizeof(command_client_fields[0]); i++) {
        const char *camel = command_client_fields[i];
        command_drop(doc, camel);
        json_t *v = fields ? command_field(fields, camel) : NULL;
        if (v)
            json_object_set(doc, camel, v);
    }
    text = json_dumps(doc, JSON_COMPACT);
    if (!text) {
        snprintf(err, errlen, "command: out of memory");
        goto out;
    }
    rc = inv_command_decode(text, strlen(text), out, err, errlen) == 0 ? 0 : -1;
    free(text);
out:
    json_decref(doc);
    return rc;
}

/* The codec has no standalone product-id check; validating a minimal
 * restock of that product applies exactly its rules and words. */
int command_check_product(const char *product_id, char *err, size_t errlen) {
    inv_command cmd;
    json_t *fields = json_pack("{s:i}", "quantity", 1);
    int rc = command_build(INV_CMD_RESTOCK, "check", product_id, fields, &cmd, err, errlen);
    json_decref(fields);
    return rc;
}
