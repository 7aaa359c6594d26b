/* worker.h -- the inventory worker process: Kafka consumer group member,
 * dispatcher, product processor and event publisher wired together.
 *
 * worker_new() connects nothing yet beyond creating clients; worker_run()
 * consumes until *stop becomes non-zero, then shuts down gracefully:
 * stops fetching, drains in-flight work (bounded by worker.drain_timeout),
 * stores and commits offsets, releases every product lease, leaves the
 * group, flushes the producer. Drains do not wait for blocked products
 * (processor.h): their commands stay unfinished and the next owner
 * consumes them again.
 *
 * Threads: worker_run on one thread; worker_ready / worker_alive /
 * worker_leases_json / worker_assignment_json / worker_blocked_json /
 * worker_blocked_action from any thread (the admin endpoint's).
 */
#ifndef LEASEHOLD_WORKER_WORKER_H
#define LEASEHOLD_WORKER_WORKER_H

#include <stdatomic.h>
#include <stddef.h>

#include "config.h"
#include "leasehold/blob.h"
#include "leasehold/lease.h"

typedef struct worker worker;

/* `leases` is borrowed and must outlive the worker. NULL with
 * `err` on failure. */
worker *worker_new(const config *cfg, const char *worker_id, lease_manager *leases, char *err,
                   size_t errlen);
/* Runs until *stop becomes non-zero (set from a signal handler, which may
 * run on any thread: hence an atomic, not a volatile sig_atomic_t). 0 after
 * a clean shutdown, -1 when the drain timed out or a fatal error stopped
 * the loop, WORKER_RUN_NOT_STARTED when consuming could not begin (e.g. the
 * command topics are not co-partitioned); err says which. */
#define WORKER_RUN_NOT_STARTED (-2)
int worker_run(worker *w, const atomic_int *stop, char *err, size_t errlen);
void worker_free(worker *w); /* NULL is a no-op */

/* Readiness: 1, or 0 with `reason` filled. */
int worker_ready(worker *w, char *reason, size_t cap);
/* Liveness: 1 while the consume loop turns. */
int worker_alive(worker *w);
/* Refreshes gauges read on demand (leases held) before /metrics renders. */
void worker_collect_metrics(worker *w);
/* This member's partitions, its assignment strategy and whether the
 * assignment keeps every product with one owner, malloc'd JSON. */
char *worker_assignment_json(worker *w);
/* Product leases held by this worker, malloc'd JSON. */
char *worker_leases_json(worker *w);
/* Blocked products (state unreadable: processor.h), malloc'd JSON
 * {"blocked":[{"productId","reason","since","queued"}]}. */
char *worker_blocked_json(worker *w);
/* The operator's repair of a blocked product: read its state again now and
 * apply its queued commands if it decodes (dead_letter 0), or dead-letter
 * them with reason "state_unreadable" (dead_letter 1). Runs on the product's
 * pool thread shortly after; 0 once scheduled, -1 when `product_id` is not
 * blocked on this worker. */
int worker_blocked_action(worker *w, const char *product_id, int dead_letter);

#endif
