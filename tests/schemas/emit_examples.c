/* emit_examples.c -- prints one document of every kind the C codec writes,
 * one per line as "<schema name>\t<json>", for tests/schemas/check_schemas.py
 * to validate against schemas/v1 with a standard JSON Schema validator.
 *
 * Covered: each command type (release in both forms), each event type, a
 * dead letter with a UTF-8 and one with a binary payload, and a state blob
 * holding reservations, offsets, a ledger and an outbox. Exits 1 if an
 * encoder fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leasehold/inventory_schema.h"

static int emit(const char *schema, char *json)
{
    if (!json) {
        fprintf(stderr, "emit_examples: encoding a %s document failed\n", schema);
        return -1;
    }
    printf("%s\t%s\n", schema, json);
    free(json);
    return 0;
}

static int emit_commands(void)
{
    static const char *const schema[] = {"command-reserve", "command-release", "command-release",
                                         "command-restock", "command-expire"};
    inv_command cmds[5] = {
        {.type = INV_CMD_RESERVE, .quantity = 10, .ttl_seconds = 60, .issued_at_ms = 1764300000000LL},
        {.type = INV_CMD_RELEASE},
        {.type = INV_CMD_RELEASE, .quantity = 3},
        {.type = INV_CMD_RESTOCK, .quantity = 1000000},
        {.type = INV_CMD_EXPIRE},
    };
    strcpy(cmds[0].customer_id, "customer-42");
    strcpy(cmds[1].reservation_id, "res-1");
    strcpy(cmds[2].customer_id, "customer-42");
    strcpy(cmds[4].reservation_id, "res-2");
    int rc = 0;
    for (size_t i = 0; i < 5; i++) {
        snprintf(cmds[i].command_id, sizeof cmds[i].command_id, "cmd-%zu", i);
        strcpy(cmds[i].product_id, "PROD-001");
        rc |= emit(schema[i], inv_command_encode(&cmds[i]));
    }
    return rc;
}

/* The event of type t as the worker would write it. */
static inv_event make_event(inv_event_type t)
{
    inv_event ev = {.type = t, .quantity = 5, .total = 100, .available = 95, .reserved = 5, .epoch = 2,
                    .timestamp_ms = 1764300000123LL};
    snprintf(ev.command_id, sizeof ev.command_id, "cmd-ev-%d", (int)t);
    inv_event_id(ev.command_id, t, ev.event_id);
    strcpy(ev.product_id, "PROD-001");
    strcpy(ev.customer_id, "customer-42");
    strcpy(ev.reservation_id, "res-9");
    snprintf(ev.message, sizeof ev.message, "%s of 5 units", inv_event_type_name(t));
    if (t == INV_EV_RESERVATION_CREATED)
        ev.expires_at_ms = 1764301800123LL;
    if (inv_event_type_is_rejection(t))
        strcpy(ev.reason, "insufficient_stock");
    return ev;
}

static int emit_events_and_state(void)
{
    inv_state st;
    inv_state_init(&st, "PROD-001");
    int rc = 0;
    for (int t = INV_EV_RESERVATION_CREATED; t <= INV_EV_RESTOCK_REJECTED; t++) {
        inv_event ev = make_event((inv_event_type)t);
        rc |= emit("event", inv_event_encode(&ev));
        if (inv_state_outbox_add(&st, &ev) < 0 ||
            inv_state_ledger_add(&st, &ev, ev.timestamp_ms) < 0)
            rc = -1;
    }
    inv_reservation r = {.quantity = 5, .created_at_ms = 1764300000123LL, .expires_at_ms = 1764301800123LL};
    strcpy(r.reservation_id, "res-9");
    strcpy(r.customer_id, "customer-42");
    if (inv_state_add_reservation(&st, &r) < 0 ||
        inv_state_offset_set(&st, "inventory.reservations", 3, 1041) < 0)
        rc = -1;
    st.total = 100;
    st.available = 95;
    st.reserved = 5;
    st.updated_at_ms = 1764300000123LL;
    rc |= emit("product-state", inv_state_encode(&st));
    inv_state_clear(&st);
    return rc;
}

static int emit_dead_letters(void)
{
    inv_dead_letter text = {.reason = "quantity: must be an integer", .topic = "inventory.reservations",
                            .partition = 2, .offset = 41, .key = "PROD-001", .key_len = 8,
                            .payload = "{\"quantity\":\"5\"}", .payload_len = 16,
                            .received_at_ms = 1764300000000LL};
    inv_dead_letter binary = {.reason = "message: not valid JSON", .topic = "inventory.restocks",
                              .partition = 0, .offset = 7, .key = "\xff", .key_len = 1,
                              .payload = "\x00\xff\xfe", .payload_len = 3, .received_at_ms = 1};
    return emit("dead-letter", inv_dead_letter_encode(&text)) |
           emit("dead-letter", inv_dead_letter_encode(&binary));
}

int main(void)
{
    int rc = emit_commands() | emit_events_and_state() | emit_dead_letters();
    return rc ? 1 : 0;
}
