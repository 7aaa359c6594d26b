/* sender.h -- publishes commands to Kafka.
 *
 * One idempotent librdkafka producer (acks=all) with its own thread serving
 * delivery reports. A failed delivery is reported through `failed` with the
 * command id given to sender_send, on the sender's poll thread, so a waiter
 * for that command's outcome can give up at once instead of timing out.
 * A sender may be used by any number of threads.
 */
#ifndef PRODUCER_SENDER_H
#define PRODUCER_SENDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sender sender;

/* A message not acknowledged within this time fails (message.timeout.ms). */
#define SENDER_DELIVERY_TIMEOUT_MS 30000

/* Called on the sender's poll thread; keep it short. */
typedef void (*sender_failed_fn)(const char *command_id, const char *error, void *opaque);

/* `brokers` is copied. `failed` may be NULL. NULL with `err` on failure. */
sender *sender_new(const char *brokers, sender_failed_fn failed, void *opaque, char *err,
                   size_t errlen);
/* Flushes for up to 5 s, then stops. NULL is a no-op. */
void sender_free(sender *s);

/* Queues `payload` (copied) for `topic`, keyed by `key`. `command_id` (may
 * be NULL, copied) is handed to `failed` if delivery fails. Blocks while the
 * local queue is full. Returns 0, or -1 with `err`. */
int sender_send(sender *s, const char *topic, const char *key, const void *payload, size_t len,
                const char *command_id, char *err, size_t errlen);

/* Fetches `topic`'s metadata (partitions and leaders) so that the first
 * sends to it do not wait for that round trip: a load measures latency
 * from its first command. 0, or -1 with `err` naming the topic. */
int sender_prepare(sender *s, const char *topic, int timeout_ms, char *err, size_t errlen);

/* Waits until every queued message is delivered or failed. 0, or -1 when
 * `timeout_ms` passed first. */
int sender_flush(sender *s, int timeout_ms);

/* Delivery counters (since creation). */
uint64_t sender_delivered(sender *s);
uint64_t sender_failures(sender *s);
/* Text of the most recent delivery error, "" if none (copied into out). */
void sender_last_error(sender *s, char *out, size_t cap);

#endif
