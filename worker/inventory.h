/* inventory.h -- the domain rules of one product, as a pure function.
 *
 * inventory_apply() takes a product's state, one decoded command and where
 * that command came from, and changes the state in memory: quantities,
 * reservations, the per-partition applied offset, the bounded ledger of
 * command ids, and the outbox, to which it appends the outcome event. It
 * does no I/O and reads no clock (the caller passes `now_ms`), so every rule
 * is unit-tested with exact numbers.
 *
 * Rules:
 * - A product "exists" once restocked. Restock on an unknown product creates
 *   it (total = available = quantity); every other command on an unknown
 *   product is rejected with reason "unknown_product" and creates nothing.
 * - reserve: enough available -> reservation.created (reservation id derived
 *   from the command id, expiry now + ttlSeconds); else reservation.rejected
 *   "insufficient_stock" carrying the available quantity.
 * - release by reservationId -> reservation.released, or release.rejected
 *   "unknown_reservation". Release by customerId + quantity returns up to
 *   `quantity` units from that customer's reservations, oldest first (the
 *   last one touched may be reduced rather than removed); nothing to
 *   release -> release.rejected "no_reservation".
 * - restock adds to total and available (stock.restocked); a total above
 *   INVENTORY_MAX_TOTAL -> restock.rejected "stock_limit".
 * - expire (from the reconciler) returns a reservation to stock only when it
 *   still exists and is past its expiry -> reservation.expired; otherwise it
 *   is a no-op that emits nothing (the sweep will not ask again).
 * Idempotency:
 * - offset <= the applied offset recorded for its topic-partition: a Kafka
 *   replay; its outcome was already published or is in the outbox, so
 *   nothing changes and nothing is emitted (INVENTORY_REPLAY).
 * - command id in the ledger: a client retry; the outcome is re-emitted with
 *   the same eventId (the pending outbox copy if any, else the original
 *   rebuilt from the ledger entry, with the current epoch, time and
 *   quantities) and nothing else changes
 *   (INVENTORY_DUPLICATE). The ledger keeps the last INV_LEDGER_MAX command
 *   ids of the product: that is the documented duplicate window.
 */
#ifndef LEASEHOLD_WORKER_INVENTORY_H
#define LEASEHOLD_WORKER_INVENTORY_H

#include <stdint.h>

#include "leasehold/inventory_schema.h"

#define INVENTORY_MAX_TOTAL 1000000000000LL /* 10^12 units per product */

typedef enum inventory_result {
    INVENTORY_APPLIED =
        0,               /* state changed (or a rejection recorded); event appended to the outbox */
    INVENTORY_DUPLICATE, /* ledger hit: the same event appended again, quantities unchanged */
    INVENTORY_REPLAY,    /* offset already applied: nothing changed, nothing emitted */
    INVENTORY_NOOP,      /* expire of a reservation that is gone or not yet due */
    INVENTORY_ERR_NOMEM
} inventory_result;

/* Where a command came from. */
typedef struct inventory_source {
    const char *topic; /* NULL: not from Kafka, no replay bookkeeping */
    int32_t partition;
    int64_t offset;
} inventory_source;

/* `*exists` is the product's existence flag (a state blob that has been
 * written with a product in it) and is set by a restock. `epoch` is the lease
 * epoch stamped on the event. On INVENTORY_APPLIED / INVENTORY_DUPLICATE the
 * outcome event is copied to `*event` (may be NULL) and is in the outbox
 * (once: a retry whose original is still pending adds nothing). On
 * INVENTORY_ERR_NOMEM the state may be half-changed: drop it. */
inventory_result inventory_apply(inv_state *st, int *exists, const inv_command *cmd,
                                 const inventory_source *src, uint64_t epoch, int64_t now_ms,
                                 inv_event *event);

/* Deterministic reservation id for a reserve command ("R-" + 24 hex digits). */
void inventory_reservation_id(const char *command_id, char out[INV_ID_MAX + 1]);

#endif
