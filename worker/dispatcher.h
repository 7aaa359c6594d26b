/* dispatcher.h -- per-key queues run on a thread pool.
 *
 * Items submitted under one key are handed to `process` in submission order
 * and never concurrently; different keys run in parallel on `threads` pool
 * threads. `process` receives every item queued for the key at that moment
 * (group commit) and says how many leading items it consumed; the rest stay
 * queued and the key runs again after the delay it asks for, so a key that
 * cannot make progress (its lease is held elsewhere) waits without holding a
 * thread or delaying other keys.
 *
 * Each key has a `slot` that `process` may fill (the worker keeps the
 * product's lease and cached state there). Once a key has had nothing
 * queued for `idle_ms`, or on dispatcher_release_idle(), or when more than
 * `max_slots` slots are filled (the longest-idle go first), `idle` runs on a
 * pool thread to release the slot; a key with an empty slot and no items is
 * forgotten.
 *
 * Threads: every function may be called from any thread; callbacks run on
 * pool threads (dispatcher_free runs the last `idle` calls on the caller's).
 */
#ifndef LEASEHOLD_WORKER_DISPATCHER_H
#define LEASEHOLD_WORKER_DISPATCHER_H

#include <stddef.h>
#include <stdint.h>

typedef struct dispatcher dispatcher;

typedef struct dispatcher_ops {
    /* Returns how many of items[0..n) were consumed (each then freed with
     * free_item). When fewer than n, *retry_ms (preset to 0) is the delay
     * before the key runs again. */
    size_t (*process)(const char *key, void **slot, void *const *items, size_t n, int *retry_ms,
                      void *opaque);
    /* Releases *slot; the dispatcher then forgets it. */
    void (*idle)(const char *key, void **slot, void *opaque);
    void (*free_item)(void *item, void *opaque);
    void *opaque;
} dispatcher_ops;

/* Starts `threads` pool threads and a housekeeping thread that wakes keys
 * whose delay passed and releases idle slots. `ops` is copied. NULL on
 * failure. */
dispatcher *dispatcher_new(int threads, int64_t idle_ms, size_t max_slots,
                           const dispatcher_ops *ops);

/* Queues `item` (ownership passes to the dispatcher) under `key` (copied).
 * 0, or -1 on OOM (the item is not taken). */
int dispatcher_submit(dispatcher *d, const char *key, void *item);

/* Items queued or being processed. */
size_t dispatcher_queued(dispatcher *d);

/* Waits until no queued item satisfies `match` (NULL: any item), or
 * `timeout_ms` passed. 0 when drained, -1 on timeout. */
typedef int (*dispatcher_match_fn)(const void *item, void *arg);
int dispatcher_wait_drained(dispatcher *d, dispatcher_match_fn match, void *arg,
                            int64_t timeout_ms);

/* Removes queued items that satisfy `match` and are not part of a batch
 * being processed right now; returns how many were dropped. */
size_t dispatcher_drop(dispatcher *d, dispatcher_match_fn match, void *arg);

/* Runs `key` now if it is waiting for its retry delay (an operator asked
 * for it). 0 when the key has queued items, -1 when it has none. */
int dispatcher_wake(dispatcher *d, const char *key);

/* Items queued under `key` (including a batch being processed). */
size_t dispatcher_key_queued(dispatcher *d, const char *key);

/* Runs `idle` now for every key with nothing queued and a filled slot that
 * `match` selects (NULL: every such key), and waits (up to timeout_ms)
 * until those slots are released. `match` runs under the dispatcher's lock
 * and may read only what is safe to read while the key's batch runs. */
typedef int (*dispatcher_slot_match_fn)(const void *slot, void *arg);
void dispatcher_release_idle(dispatcher *d, dispatcher_slot_match_fn match, void *arg,
                             int64_t timeout_ms);

/* Stops the threads (a running batch finishes first), frees queued items,
 * then calls `idle` for every filled slot on the calling thread (once). */
void dispatcher_free(dispatcher *d);

#endif
