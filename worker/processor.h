/* processor.h -- applies one product's queued commands under its lease.
 *
 * The dispatcher's `process` and `idle` callbacks for inventory commands.
 * One run for a product (design decisions 1-4, 7, 8):
 *   1. hold the product lease: the state blob "{productId}.json" in the
 *      inventory container is leased itself, so every write is fenced. Held
 *      elsewhere -> the product is retried after a backoff with jitter,
 *      other products go on. A product whose blob does not exist is only
 *      created for a batch containing a restock; other commands on it are
 *      rejected ("unknown_product") without a lease or a blob.
 *   2. read the state once per lease (cached while the lease is held) and
 *      publish any events left in its outbox by an earlier holder;
 *   3. apply the whole batch in memory (inventory_apply), ONE fenced write:
 *      paged layout (default): Put Block of the changed pages and the head,
 *      then Put Block List (lease_write_blocks), or one Put Blob while the
 *      state is small; v1 layout: one Put Blob of the whole document;
 *   4. publish the batch's events and wait for Kafka's acknowledgements;
 *      clear the outbox in memory (persisted by the next write, or by the
 *      idle release);
 *   5. finish the commands' offsets in the offset tracker.
 * Any failure before step 5 leaves the commands queued; they run again
 * after a backoff, from state re-read from the blob (replays are recognised
 * by the applied offsets, so nothing applies twice). A lost lease (callback
 * or a fenced write refused) abandons the batch before writing, drops the
 * cached state and re-acquires later: the commands stay in this worker's
 * queue and are applied once the lease is back, or dropped if their
 * partition is revoked first, in which case the new owner consumes them
 * again from the last stored offset.
 * A state that cannot be read or decoded is not retried like that: the
 * product is BLOCKED (see processor_is_blocked below).
 * `idle` persists a cleared outbox, then logs "Releasing lease ..." and
 * releases.
 */
#ifndef LEASEHOLD_WORKER_PROCESSOR_H
#define LEASEHOLD_WORKER_PROCESSOR_H

#include <stddef.h>
#include <stdint.h>

#include "dispatcher.h"
#include "leasehold/inventory_schema.h"
#include "leasehold/lease.h"
#include "offset_tracker.h"
#include "publisher.h"

/* One consumed command; owned by the dispatcher once submitted. */
typedef struct work_item {
    inv_command cmd;
    char topic[256];
    int32_t partition;
    int64_t offset;
    int64_t received_us; /* monotonic (worker_time_mono_us), for the latency metrics */
} work_item;

typedef struct processor_options {
    lease_manager *leases;   /* borrowed */
    const char *container;   /* product state container */
    publisher *pub;          /* borrowed */
    offset_tracker *tracker; /* borrowed */
    size_t max_batch;
    int retry_base_ms, retry_max_ms;
    int blocked_retry_ms;    /* a blocked product is read again this often; 0 = 30 s */
    int blocked_warn_ms;     /* at most one WARN per blocked product this often; 0 = 60 s */
    int64_t (*now_ms)(void); /* monotonic clock; NULL = worker_time_mono_ms (tests inject one) */
    int state_v1;           /* write schema v1 (one document) instead of the paged layout */
    size_t state_single_max; /* paged: at most this many bytes go as one Put Blob */
} processor_options;

/* Reason of the dead letters of a blocked product's commands. */
#define PROCESSOR_DEAD_LETTER_REASON "state_unreadable"

/* What an operator asks for a blocked product (processor_blocked_action). */
typedef enum processor_action {
    PROCESSOR_ACTION_NONE = 0,
    PROCESSOR_ACTION_RETRY,      /* read the state again now; apply the queue if it decodes */
    PROCESSOR_ACTION_DEAD_LETTER /* dead-letter every queued command ("state_unreadable") */
} processor_action;

typedef struct processor processor;

processor *processor_new(const processor_options *opts);
/* Call after dispatcher_free (which releases every product). NULL is a no-op. */
void processor_free(processor *p);

/* The dispatcher callbacks bound to `p`. */
dispatcher_ops processor_dispatcher_ops(processor *p);

/* For the end of a shutdown drain (safe because nothing unfinished had its
 * offset stored: those commands are consumed again): from now on a batch
 * gives up before its next storage or publish step, and releasing a
 * product frees its lease handle without a request (the lease expires on
 * the server; a dirty outbox is republished by the next owner). Storage
 * requests are aborted too, the one in flight included (blob_client_abort on
 * the lease manager's client), so a hanging service cannot hold the exit
 * past the deadline. */
void processor_abandon(processor *p);

/* 0 after a storage failure until the next storage success. */
int processor_storage_healthy(processor *p);

/* Blocked products. A product whose state blob cannot be read or decoded
 * (or whose read fails with a definitive HTTP 4xx other than the lease's
 * own 404/409/412, credentials 401/403 and 429) is BLOCKED: its lease is
 * released so an operator can repair the blob, its commands stay queued
 * and unfinished, it is read again every blocked_retry_ms or on an
 * operator's action, and a WARN names it at most every blocked_warn_ms.
 * The gauge leasehold_products_blocked counts them. A successful read, a
 * deleted blob (its commands are then rejected as unknown_product) or the
 * dead-letter action unblocks it; so does releasing its key (revocation).
 * All of these are thread-safe. */

/* 1 when `product_id` is blocked here; cheap while nothing is blocked (the
 * worker's drain matchers call it for every queued command). */
int processor_is_blocked(processor *p, const char *product_id);

/* Records the operator's `action` for a blocked product; the caller then
 * wakes its key (dispatcher_wake) so it runs now. 0, or -1 when the product
 * is not blocked here. */
int processor_blocked_action(processor *p, const char *product_id, processor_action action);

/* {"blocked":[{"productId","reason","since","queued"}]}, malloc'd (NULL on
 * OOM); `since` in Unix ms, `queued` from queued(productId, arg), called
 * without the processor's lock held. */
char *processor_blocked_json(processor *p, size_t (*queued)(const char *product_id, void *arg),
                             void *arg);

/* The partition number of the latest commands applied to the product in a
 * dispatcher slot (co-partitioned topics give a product one number), or -1
 * when it has seen none. Safe to call while the product's batch runs. */
int processor_product_partition(const void *slot);

/* {"leases":[{"name","productId","partition","leaseId","epoch","expiresInMs","renewals",
 * "held"}]}, malloc'd. */
char *processor_leases_json(processor *p);

#endif
