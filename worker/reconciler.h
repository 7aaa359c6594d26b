/* reconciler.h -- the leader-elected sweep that returns expired reservations.
 *
 * Every worker runs one. It campaigns for the lock "inventory-reconciliation"
 * (blob lease-inventory-reconciliation in the lease manager's container)
 * with lease_election_start. While it leads, its own thread sweeps right
 * after election and then every interval: it lists the product state blobs
 * in the inventory container with their metadata (one List Blobs request
 * per page of up to 5,000), and reads, without a lease, only the products
 * whose "nextexpiry" hint is due or missing (state_blob.h): a sweep costs
 * products/page_size list requests plus one read per product with something
 * due. For every reservation whose expiresAt has passed it publishes an
 * `expire` command (commandId "expire-{reservationId}", key = productId) to
 * the admin topic with its own idempotent producer. The worker that holds
 * the product lease applies it, so state keeps a single writer (design
 * decision 10); republishing in a later sweep is harmless because commands
 * are idempotent by commandId.
 *
 * Only one sweep runs at a time: sweeps run on the reconciler's thread, and
 * a tick that falls due while a sweep still runs is skipped. A sweep checks
 * leadership before every product and stops promptly once demoted.
 *
 * Metrics: leasehold_leader, leasehold_reconciler_sweeps_total{outcome},
 * leasehold_reservations_expired_total, leasehold_reconciler_list_requests_total,
 * leasehold_reconciler_state_reads_total, leasehold_reconciler_sweep_duration_seconds.
 * Logs "elected reconciler leader" and "sweep found N expired reservations
 * in M products (L listed, R read, P list requests, S s)".
 *
 * Threads: reconciler_new/start/stop/free from one owning thread;
 * reconciler_is_leader and reconciler_sweep_once from any thread.
 */
#ifndef LEASEHOLD_RECONCILER_H
#define LEASEHOLD_RECONCILER_H

#include <stddef.h>
#include <stdint.h>

#include "leasehold/blob.h"
#include "leasehold/lease.h"

#define RECONCILER_DEFAULT_INTERVAL_MS 30000LL
#define RECONCILER_DEFAULT_PAGE_SIZE 5000 /* the most List Blobs returns per request */
#define RECONCILER_MIN_INTERVAL_MS 1000LL
#define RECONCILER_LOCK_NAME "inventory-reconciliation"

typedef struct reconciler_config {
    blob_client *blob;         /* required, borrowed */
    lease_manager *leases;     /* required for reconciler_start, borrowed */
    const char *brokers;       /* required: bootstrap servers for the reconciler's producer */
    /* Extra librdkafka producer properties, NULL-terminated key/value pairs
     * ({"security.protocol", "ssl", NULL}); optional. */
    const char *const *kafka_properties;
    const char *topic;         /* default "inventory.admin" */
    const char *container;     /* product state container, default "inventory" */
    const char *lock_name;     /* default RECONCILER_LOCK_NAME */
    const char *identity;      /* leader identity; default the manager's owner id */
    long long interval_ms;     /* 0 = RECONCILER_DEFAULT_INTERVAL_MS; at least RECONCILER_MIN_INTERVAL_MS */
    int publish_timeout_ms;    /* wait for delivery at the end of a sweep; default 30000 */
    int page_size;             /* blobs per List Blobs request, 1..5000; 0 = 5000 */
} reconciler_config;

typedef struct reconciler reconciler;

typedef struct reconciler_sweep_stats {
    size_t listed;        /* product state blobs ("*.json") in the listing */
    size_t list_requests; /* List Blobs pages answered (retries of a page aside) */
    size_t state_reads;   /* state blobs read: hint due, or no hint */
    size_t unhinted;      /* ... of which had no usable nextexpiry metadata */
    size_t products;      /* state blobs read and decoded */
    size_t products_with_expired;
    size_t expired;       /* expired reservations found */
    size_t published;     /* expire commands acknowledged by Kafka */
    size_t errors;        /* blobs that could not be read/decoded, failed deliveries */
    int aborted;          /* stopped early: demoted or stopping */
    double seconds;       /* wall time of the sweep, final delivery wait included */
} reconciler_sweep_stats;

/* Validates the configuration (messages name the field: "interval_ms: must
 * be at least 1000, got 10"; "page_size: must be 0..5000, got 6000") and
 * creates the producer. Strings are copied.
 * NULL on failure with `err` filled. Does not campaign yet. */
reconciler *reconciler_new(const reconciler_config *cfg, char *err, size_t errlen);

/* Starts campaigning and the sweep thread. 0, or -1 with `err`. */
int reconciler_start(reconciler *r, char *err, size_t errlen);

/* Stops the thread (an in-flight sweep stops at the next product) and
 * resigns leadership. Idempotent; also done by reconciler_free. */
void reconciler_stop(reconciler *r);

/* Stops if needed and frees. NULL is a no-op. */
void reconciler_free(reconciler *r);

/* Non-zero while this process leads and its lease's safe deadline is ahead. */
int reconciler_is_leader(reconciler *r);

/* One sweep now, on the calling thread, WITHOUT checking leadership (tools
 * and tests; the thread started by reconciler_start uses the same code while
 * leading). `now_ms` is unix time in ms, 0 = the current time. Returns 0
 * when every blob was read and every command delivered, -1 otherwise (with
 * `err` naming the first failure); `stats` (may be NULL) is filled either way. */
int reconciler_sweep_once(reconciler *r, int64_t now_ms, reconciler_sweep_stats *stats, char *err,
                          size_t errlen);

#endif
