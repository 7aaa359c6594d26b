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
    int state_v1;           /* write schema v1 (one document) instead of the paged layout */
    size_t state_single_max; /* paged: at most this many bytes go as one Put Blob */
} processor_options;

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

/* {"leases":[{"name","productId","leaseId","epoch","expiresInMs","renewals"}]}, malloc'd. */
char *processor_leases_json(processor *p);

#endif
