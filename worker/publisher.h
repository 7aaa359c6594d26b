/* publisher.h -- the worker's Kafka producer for outcome events and dead letters.
 *
 * One idempotent producer (enable.idempotence=true, acks=all) per process,
 * served by its own polling thread that runs the delivery reports.
 * Events are keyed by productId so one product's events stay in order on
 * one partition. publisher_send_events() blocks until Kafka acknowledged
 * every event of the batch, or reports failure; the caller keeps the
 * events in its outbox and retries. Dead letters are sent asynchronously
 * and re-sent until delivered; `done` then runs on the polling thread.
 *
 * Threads: all functions may be called from any thread.
 */
#ifndef LEASEHOLD_WORKER_PUBLISHER_H
#define LEASEHOLD_WORKER_PUBLISHER_H

#include <stddef.h>
#include <stdint.h>

#include "leasehold/inventory_schema.h"

typedef struct publisher publisher;

typedef struct publisher_options {
    const char *brokers;
    const char *client_id;
    const char *events_topic;
    const char *dlq_topic;
    int delivery_timeout_ms; /* message.timeout.ms */
} publisher_options;

/* NULL with `err` on failure. Strings are copied. */
publisher *publisher_new(const publisher_options *opts, char *err, size_t errlen);
/* Flushes (up to timeout_ms), stops the polling thread, frees. NULL is a no-op. */
void publisher_free(publisher *p, int timeout_ms);

/* Makes every publisher_send_events waiting now, and every later one,
 * return -1 at once ("abandoned at shutdown") instead of waiting up to the
 * delivery timeout; the events stay in their owners' outboxes. For the end
 * of a shutdown drain; there is no way back. */
void publisher_abandon(publisher *p);

/* 0 when every event was acknowledged; -1 with `err` naming the first
 * failure (already retried by librdkafka up to the delivery timeout). */
int publisher_send_events(publisher *p, const inv_event *events, size_t n, char *err,
                          size_t errlen);

/* Queues a dead letter (JSON `record`, copied); `done(opaque)` runs once it
 * is acknowledged. 0, or -1 when it could not even be queued. */
int publisher_send_dead_letter(publisher *p, const char *key, size_t key_len, const char *record,
                               void (*done)(void *opaque), void *opaque);

/* 1 while the last produce attempt or delivery succeeded, 0 after a failure
 * (readiness). */
int publisher_healthy(publisher *p);

#endif
