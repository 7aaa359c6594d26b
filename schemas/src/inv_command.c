/* inv_command.c -- decode/validate and encode the four commands
 * (schemas/v1/command-{reserve,release,restock,expire}.schema.json).
 *
 * Decoding checks, in order: size and JSON syntax, schemaVersion (it decides
 * how the rest is read), type, then the fields of that type. Fields that do
 * not belong to the type are ignored like unknown ones. A release names
 * either a reservationId or a customerId with a quantity, never both. */
#include <string.h>

#include "inv_json_internal.h"

static const char *const inv_command_names[] = {
    [INV_CMD_RESERVE] = "reserve",
    [INV_CMD_RELEASE] = "release",
    [INV_CMD_RESTOCK] = "restock",
    [INV_CMD_EXPIRE] = "expire",
};

#define INV_N_COMMANDS (sizeof inv_command_names / sizeof inv_command_names[0])

const char *inv_command_type_name(inv_command_type t)
{
    return invj_name_of(inv_command_names, INV_N_COMMANDS, (unsigned)t);
}

int inv_command_type_parse(const char *name, inv_command_type *out)
{
    int i = invj_index_of(inv_command_names, INV_N_COMMANDS, name);
    if (i < 0)
        return -1;
    *out = (inv_command_type)i;
    return 0;
}

static int inv_command_release_fields(const invj_ctx *c, json_t *obj, inv_command *out)
{
    int has_res = invj_get_str(c, obj, "reservationId", 0, INVJ_ID, out->reservation_id,
                               sizeof out->reservation_id);
    if (has_res < 0)
        return -1;
    int has_cust = invj_get_str(c, obj, "customerId", 0, INVJ_ID, out->customer_id,
                                sizeof out->customer_id);
    if (has_cust < 0)
        return -1;
    int has_qty = invj_get_int(c, obj, "quantity", 0, 1, INV_MAX_QUANTITY, &out->quantity);
    if (has_qty < 0)
        return -1;
    if (has_res)
        return (has_cust || has_qty)
                   ? invj_fail(c, "reservationId", "not allowed together with customerId or quantity")
                   : 0;
    if (!has_cust && !has_qty)
        return invj_fail(c, "reservationId", "required (or customerId with quantity)");
    if (!has_cust)
        return invj_fail(c, "customerId", "required");
    if (!has_qty)
        return invj_fail(c, "quantity", "required");
    return 0;
}

static int inv_command_fields(const invj_ctx *c, json_t *obj, inv_command *out)
{
    if (invj_get_str(c, obj, "commandId", 1, INVJ_ID, out->command_id, sizeof out->command_id) < 0 ||
        invj_get_str(c, obj, "productId", 1, INVJ_PRODUCT, out->product_id, sizeof out->product_id) < 0 ||
        invj_get_i64(c, obj, "issuedAtMs", 0, &out->issued_at_ms) < 0)
        return -1;
    switch (out->type) {
    case INV_CMD_RESERVE:
        out->ttl_seconds = INV_DEFAULT_TTL_S;
        if (invj_get_int(c, obj, "quantity", 1, 1, INV_MAX_QUANTITY, &out->quantity) < 0 ||
            invj_get_str(c, obj, "customerId", 1, INVJ_ID, out->customer_id, sizeof out->customer_id) < 0 ||
            invj_get_int(c, obj, "ttlSeconds", 0, 1, INVJ_TTL_MAX, &out->ttl_seconds) < 0)
            return -1;
        return 0;
    case INV_CMD_RELEASE:
        return inv_command_release_fields(c, obj, out);
    case INV_CMD_RESTOCK:
        return invj_get_int(c, obj, "quantity", 1, 1, INV_MAX_QUANTITY, &out->quantity) < 0 ? -1 : 0;
    case INV_CMD_EXPIRE:
        return invj_get_str(c, obj, "reservationId", 1, INVJ_ID, out->reservation_id,
                            sizeof out->reservation_id) < 0 ? -1 : 0;
    }
    return invj_fail(c, "type", "unsupported");
}

int inv_command_decode(const char *buf, size_t len, inv_command *out, char *err, size_t errlen)
{
    invj_ctx c = {"", err, errlen};
    memset(out, 0, sizeof *out);
    json_t *root = invj_parse(&c, buf, len, INV_MAX_MESSAGE);
    if (!root)
        return -1;
    int rc = -1;
    const char *type;
    if (invj_check_version(&c, root) < 0 || invj_get_type(&c, root, &type) < 0)
        goto done;
    if (inv_command_type_parse(type, &out->type) < 0) {
        invj_fail(&c, "type", "unknown command type '%.*s'", invj_utf8_prefix(type, 64), type);
        goto done;
    }
    rc = inv_command_fields(&c, root, out);
done:
    json_decref(root);
    return rc;
}

char *inv_command_encode(const inv_command *cmd)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = invj_put_int(o, "schemaVersion", INV_SCHEMA_VERSION);
    bad |= invj_put_str(o, "type", inv_command_type_name(cmd->type));
    bad |= invj_put_str(o, "commandId", cmd->command_id);
    bad |= invj_put_str(o, "productId", cmd->product_id);
    switch (cmd->type) {
    case INV_CMD_RESERVE:
        bad |= invj_put_int(o, "quantity", cmd->quantity);
        bad |= invj_put_str(o, "customerId", cmd->customer_id);
        bad |= invj_put_int(o, "ttlSeconds", cmd->ttl_seconds ? cmd->ttl_seconds : INV_DEFAULT_TTL_S);
        break;
    case INV_CMD_RELEASE:
        if (cmd->reservation_id[0]) {
            bad |= invj_put_str(o, "reservationId", cmd->reservation_id);
        } else {
            bad |= invj_put_str(o, "customerId", cmd->customer_id);
            bad |= invj_put_int(o, "quantity", cmd->quantity);
        }
        break;
    case INV_CMD_RESTOCK:
        bad |= invj_put_int(o, "quantity", cmd->quantity);
        break;
    case INV_CMD_EXPIRE:
        bad |= invj_put_str(o, "reservationId", cmd->reservation_id);
        break;
    }
    bad |= invj_put_opt_int(o, "issuedAtMs", cmd->issued_at_ms);
    return invj_dump(o, bad);
}
