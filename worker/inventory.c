/* inventory.c -- the domain rules of one product (see inventory.h).
 *
 * Every command goes through the same three steps: replay check against the
 * applied offset of its topic-partition, duplicate check against the
 * ledger, then the rule for its type, which fills one outcome event. The
 * event is appended to the outbox, recorded in the ledger and the offset is
 * advanced, all in memory with the codec's state helpers; the caller
 * persists the state with one fenced write for the whole batch.
 */
#include "inventory.h"

#include <stdio.h>
#include <string.h>

void inventory_reservation_id(const char *command_id, char out[INV_ID_MAX + 1]) {
    char hex[INV_ID_MAX + 1];
    /* Same hash as event ids, salted with a type no event uses, so a
     * retried or replayed reserve always names the same reservation. */
    inv_event_id(command_id, (inv_event_type)100, hex);
    snprintf(out, INV_ID_MAX + 1, "R-%.24s", hex);
}

static void inventory_event_start(inv_event *ev, const inv_command *cmd, inv_event_type type,
                                  uint64_t epoch, int64_t now_ms) {
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    inv_event_id(cmd->command_id, type, ev->event_id);
    snprintf(ev->command_id, sizeof(ev->command_id), "%s", cmd->command_id);
    snprintf(ev->product_id, sizeof(ev->product_id), "%s", cmd->product_id);
    snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", cmd->customer_id);
    snprintf(ev->reservation_id, sizeof(ev->reservation_id), "%s", cmd->reservation_id);
    ev->quantity = cmd->quantity;
    ev->epoch = epoch;
    ev->timestamp_ms = now_ms;
}

static void inventory_reject(inv_event *ev, const char *reason, const char *message) {
    snprintf(ev->reason, sizeof(ev->reason), "%s", reason);
    snprintf(ev->message, sizeof(ev->message), "%s", message);
}

/* Returns -1 on OOM. */
static int inventory_reserve(inv_state *st, int exists, const inv_command *cmd, inv_event *ev,
                             uint64_t epoch, int64_t now_ms) {
    if (!exists) {
        inventory_event_start(ev, cmd, INV_EV_RESERVATION_REJECTED, epoch, now_ms);
        inventory_reject(ev, "unknown_product", "Unknown product");
        return 0;
    }
    if (st->available < cmd->quantity) {
        inventory_event_start(ev, cmd, INV_EV_RESERVATION_REJECTED, epoch, now_ms);
        inventory_reject(ev, "insufficient_stock", "");
        snprintf(ev->message, sizeof(ev->message),
                 "Insufficient stock: requested %lld, available %lld", cmd->quantity,
                 st->available);
        return 0;
    }
    inventory_event_start(ev, cmd, INV_EV_RESERVATION_CREATED, epoch, now_ms);
    inv_reservation r;
    memset(&r, 0, sizeof(r));
    inventory_reservation_id(cmd->command_id, r.reservation_id);
    snprintf(r.customer_id, sizeof(r.customer_id), "%s", cmd->customer_id);
    r.quantity = cmd->quantity;
    r.created_at_ms = now_ms;
    long long ttl = cmd->ttl_seconds > 0 ? cmd->ttl_seconds : INV_DEFAULT_TTL_S;
    r.expires_at_ms = now_ms + ttl * 1000;
    if (inv_state_add_reservation(st, &r) < 0)
        return -1;
    st->available -= cmd->quantity;
    st->reserved += cmd->quantity;
    snprintf(ev->reservation_id, sizeof(ev->reservation_id), "%s", r.reservation_id);
    ev->expires_at_ms = r.expires_at_ms;
    snprintf(ev->message, sizeof(ev->message), "Successfully reserved %lld units of %s for %s",
             cmd->quantity, cmd->product_id, cmd->customer_id);
    return 0;
}

/* Returns `r`'s units to stock and removes it; fills quantity/customer. */
static void inventory_return_reservation(inv_state *st, inv_reservation *r, inv_event *ev) {
    ev->quantity = r->quantity;
    snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", r->customer_id);
    snprintf(ev->reservation_id, sizeof(ev->reservation_id), "%s", r->reservation_id);
    st->available += r->quantity;
    st->reserved -= r->quantity;
    char id[INV_ID_MAX + 1];
    snprintf(id, sizeof(id), "%s", r->reservation_id);
    inv_state_remove_reservation(st, id);
}

static void inventory_release_by_id(inv_state *st, const inv_command *cmd, inv_event *ev,
                                    uint64_t epoch, int64_t now_ms) {
    inv_reservation *r = inv_state_find_reservation(st, cmd->reservation_id);
    if (r == NULL) {
        inventory_event_start(ev, cmd, INV_EV_RELEASE_REJECTED, epoch, now_ms);
        inventory_reject(ev, "unknown_reservation", "No such reservation");
        return;
    }
    inventory_event_start(ev, cmd, INV_EV_RESERVATION_RELEASED, epoch, now_ms);
    inventory_return_reservation(st, r, ev);
    snprintf(ev->message, sizeof(ev->message), "Released %lld units of %s", ev->quantity,
             cmd->product_id);
}

/* The customer's oldest reservation: the array keeps creation order. */
static inv_reservation *inventory_oldest_of(inv_state *st, const char *customer) {
    for (size_t i = 0; i < st->n_reservations; i++)
        if (strcmp(st->reservations[i].customer_id, customer) == 0)
            return &st->reservations[i];
    return NULL;
}

static void inventory_release_by_customer(inv_state *st, const inv_command *cmd, inv_event *ev,
                                          uint64_t epoch, int64_t now_ms) {
    long long want = cmd->quantity, released = 0;
    char first_id[INV_ID_MAX + 1] = "";
    inv_reservation *r;
    while (released < want && (r = inventory_oldest_of(st, cmd->customer_id)) != NULL) {
        if (first_id[0] == '\0')
            snprintf(first_id, sizeof(first_id), "%s", r->reservation_id);
        long long take = r->quantity <= want - released ? r->quantity : want - released;
        released += take;
        if (take == r->quantity) {
            char id[INV_ID_MAX + 1];
            snprintf(id, sizeof(id), "%s", r->reservation_id);
            inv_state_remove_reservation(st, id);
        } else {
            r->quantity -= take;
            inv_state_touch_reservation(st, r);
        }
    }
    if (released == 0) {
        inventory_event_start(ev, cmd, INV_EV_RELEASE_REJECTED, epoch, now_ms);
        inventory_reject(ev, "no_reservation", "Customer holds no reservation for this product");
        return;
    }
    inventory_event_start(ev, cmd, INV_EV_RESERVATION_RELEASED, epoch, now_ms);
    ev->quantity = released;
    snprintf(ev->reservation_id, sizeof(ev->reservation_id), "%s", first_id);
    st->available += released;
    st->reserved -= released;
    snprintf(ev->message, sizeof(ev->message), "Released %lld units of %s for %s", released,
             cmd->product_id, cmd->customer_id);
}

static void inventory_restock(inv_state *st, int *exists, const inv_command *cmd, inv_event *ev,
                              uint64_t epoch, int64_t now_ms) {
    long long base = *exists ? st->total : 0;
    if (base + cmd->quantity > INVENTORY_MAX_TOTAL) {
        inventory_event_start(ev, cmd, INV_EV_RESTOCK_REJECTED, epoch, now_ms);
        inventory_reject(ev, "stock_limit", "Total stock would exceed the per-product limit");
        return;
    }
    inventory_event_start(ev, cmd, INV_EV_STOCK_RESTOCKED, epoch, now_ms);
    if (!*exists) {
        st->total = st->available = st->reserved = 0;
        *exists = 1;
    }
    st->total += cmd->quantity;
    st->available += cmd->quantity;
    snprintf(ev->message, sizeof(ev->message), "Restocked %lld units of %s", cmd->quantity,
             cmd->product_id);
}

/* 1 when an expire command returned the reservation, 0 for a no-op. */
static int inventory_expire(inv_state *st, const inv_command *cmd, inv_event *ev, uint64_t epoch,
                            int64_t now_ms) {
    inv_reservation *r = inv_state_find_reservation(st, cmd->reservation_id);
    if (r == NULL || r->expires_at_ms > now_ms)
        return 0;
    inventory_event_start(ev, cmd, INV_EV_RESERVATION_EXPIRED, epoch, now_ms);
    inventory_return_reservation(st, r, ev);
    snprintf(ev->message, sizeof(ev->message), "Reservation expired; %lld units of %s returned",
             ev->quantity, cmd->product_id);
    return 1;
}

/* Records the offset of an applied command (same write as the change). */
static int inventory_record_offset(inv_state *st, const inventory_source *src) {
    if (src == NULL || src->topic == NULL)
        return 0;
    return inv_state_offset_set(st, src->topic, src->partition, src->offset) < 0 ? -1 : 0;
}

/* Re-emission for a client retry: the pending copy if the original is
 * still in the outbox, else the original rebuilt from its ledger entry
 * (same eventId, type, reason, reservation, customer, quantity, expiry and
 * message); epoch, timestamp and the product quantities are those of this
 * re-emission. An entry from a blob written before the ledger kept the
 * outcome's fields falls back to the command's fields and a generic text. */
static void inventory_rebuild_duplicate(const inv_state *st, const inv_ledger_entry *le,
                                        const inv_command *cmd, uint64_t epoch, int64_t now_ms,
                                        inv_event *ev) {
    for (size_t i = 0; i < st->n_outbox; i++) {
        if (strcmp(st->outbox[i].event_id, le->event_id) == 0) {
            *ev = st->outbox[i];
            return;
        }
    }
    inventory_event_start(ev, cmd, le->outcome, epoch, now_ms);
    snprintf(ev->event_id, sizeof(ev->event_id), "%s", le->event_id);
    if (le->message[0] != '\0') {
        snprintf(ev->reason, sizeof(ev->reason), "%s", le->reason);
        snprintf(ev->reservation_id, sizeof(ev->reservation_id), "%s", le->reservation_id);
        snprintf(ev->customer_id, sizeof(ev->customer_id), "%s", le->customer_id);
        ev->quantity = le->quantity;
        ev->expires_at_ms = le->expires_at_ms;
        snprintf(ev->message, sizeof(ev->message), "%s", le->message);
    } else {
        if (le->outcome == INV_EV_RESERVATION_CREATED) {
            inventory_reservation_id(cmd->command_id, ev->reservation_id);
            inv_reservation *r = inv_state_find_reservation((inv_state *)st, ev->reservation_id);
            if (r)
                ev->expires_at_ms = r->expires_at_ms;
        }
        if (inv_event_type_is_rejection(le->outcome))
            inventory_reject(ev, "duplicate_command", "Duplicate command: outcome already emitted");
        else
            snprintf(ev->message, sizeof(ev->message),
                     "Duplicate command: outcome already applied");
    }
    ev->total = st->total;
    ev->available = st->available;
    ev->reserved = st->reserved;
}

inventory_result inventory_apply(inv_state *st, int *exists, const inv_command *cmd,
                                 const inventory_source *src, uint64_t epoch, int64_t now_ms,
                                 inv_event *event) {
    if (src && src->topic && src->offset <= inv_state_offset_get(st, src->topic, src->partition))
        return INVENTORY_REPLAY;

    inv_event ev;
    const inv_ledger_entry *le = inv_state_ledger_find(st, cmd->command_id);
    if (le != NULL) {
        inventory_rebuild_duplicate(st, le, cmd, epoch, now_ms, &ev);
        if (inventory_record_offset(st, src) != 0 || inv_state_outbox_add(st, &ev) < 0)
            return INVENTORY_ERR_NOMEM;
        if (event)
            *event = ev;
        return INVENTORY_DUPLICATE;
    }

    switch (cmd->type) {
    case INV_CMD_RESERVE:
        if (inventory_reserve(st, *exists, cmd, &ev, epoch, now_ms) != 0)
            return INVENTORY_ERR_NOMEM;
        break;
    case INV_CMD_RELEASE:
        if (!*exists) {
            inventory_event_start(&ev, cmd, INV_EV_RELEASE_REJECTED, epoch, now_ms);
            inventory_reject(&ev, "unknown_product", "Unknown product");
        } else if (cmd->reservation_id[0] != '\0') {
            inventory_release_by_id(st, cmd, &ev, epoch, now_ms);
        } else {
            inventory_release_by_customer(st, cmd, &ev, epoch, now_ms);
        }
        break;
    case INV_CMD_RESTOCK:
        inventory_restock(st, exists, cmd, &ev, epoch, now_ms);
        break;
    case INV_CMD_EXPIRE:
        if (!*exists || !inventory_expire(st, cmd, &ev, epoch, now_ms))
            return inventory_record_offset(st, src) != 0 ? INVENTORY_ERR_NOMEM : INVENTORY_NOOP;
        break;
    }
    ev.total = st->total;
    ev.available = st->available;
    ev.reserved = st->reserved;
    if (inv_state_ledger_add(st, &ev, now_ms) < 0 || inventory_record_offset(st, src) != 0 ||
        inv_state_outbox_add(st, &ev) < 0)
        return INVENTORY_ERR_NOMEM;
    st->updated_at_ms = now_ms;
    if (event)
        *event = ev;
    return INVENTORY_APPLIED;
}
