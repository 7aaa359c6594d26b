/* tracker.h -- correlates published commands with their outcome events.
 *
 * A tracker owns one Kafka consumer on the events topic (and optionally the
 * dead-letter topic) and one thread reading it. On creation it assigns every
 * partition at its current high watermark, so any outcome of a command
 * produced after tracker_new returns is seen, and nothing older is read.
 * Commands are registered with tracker_expect *before* they are published;
 * the thread matches events by commandId, records the latency since
 * registration and wakes the waiter (each waiter sleeps on its own condition
 * variable). All functions are thread-safe.
 */
#ifndef PRODUCER_TRACKER_H
#define PRODUCER_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "leasehold/inventory_schema.h"

typedef struct tracker tracker;

/* Called on the tracker thread, with the tracker's lock held, for every
 * event whose commandId is registered; `first` is 0 when the same command
 * already had an outcome (a re-emitted duplicate). Keep it short and never
 * call tracker functions from it. Its effects are visible to a thread that
 * returns from tracker_wait / tracker_wait_matched because of this event. */
typedef void (*tracker_event_fn)(const inv_event *ev, int64_t latency_us, int first, void *opaque);

typedef struct tracker_options {
    const char *brokers;       /* required */
    const char *events_topic;  /* required */
    const char *dlq_topic;     /* NULL: dead letters are not counted */
    tracker_event_fn on_event; /* may be NULL */
    void *opaque;
} tracker_options;

typedef struct tracker_counts {
    uint64_t matched;      /* first outcome of a registered command */
    uint64_t repeated;     /* further outcomes of a registered command */
    uint64_t unmatched;    /* events of commands not registered here */
    uint64_t undecodable;  /* events the codec rejected */
    uint64_t dead_letters; /* records on the dead-letter topic */
} tracker_counts;

/* Strings are copied. Returns NULL with `err` (e.g. "events topic
 * inventory.events: Broker: Unknown topic or partition"). */
tracker *tracker_new(const tracker_options *o, char *err, size_t errlen);
/* Stops the thread and closes the consumer. NULL is a no-op. */
void tracker_free(tracker *t);

/* Registers a command before it is published. `keep` = 1 keeps its outcome
 * for tracker_wait (which then removes the entry); 0 only counts and times
 * it (load generation). Registering an id twice is a no-op. 0, or -1 on OOM. */
int tracker_expect(tracker *t, const char *command_id, int keep);
/* Marks a command failed (its publish failed): its waiter wakes with -1. */
void tracker_fail(tracker *t, const char *command_id, const char *why);
/* Waits for the outcome of a command registered with keep = 1. Returns 0
 * with *out filled, 1 on timeout, -1 if it failed or was never registered
 * (message in err). The entry is removed in every case. */
int tracker_wait(tracker *t, const char *command_id, long long timeout_ms, inv_event *out,
                 char *err, size_t errlen);
/* Waits until `matched` reaches `n`; 0, or 1 on timeout. */
int tracker_wait_matched(tracker *t, uint64_t n, long long timeout_ms);
void tracker_get_counts(tracker *t, tracker_counts *out);

#endif
