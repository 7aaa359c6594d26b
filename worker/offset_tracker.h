/* offset_tracker.h -- which consumed offsets may be stored, per partition.
 *
 * Commands of one partition finish out of order (different products run in
 * parallel), but Kafka stores one position per partition. The tracker
 * remembers, per topic-partition, every offset handed out and not yet
 * finished, in arrival order; the position that may be stored is the first
 * unfinished offset, or one past the last seen offset when all are
 * finished: the contiguous prefix of finished offsets.
 *
 * Partitions are added on assignment and dropped on revocation; a finish for
 * a dropped partition (a late batch after a revocation timed out) is
 * ignored. Thread-safe: one mutex for the whole tracker.
 */
#ifndef LEASEHOLD_WORKER_OFFSET_TRACKER_H
#define LEASEHOLD_WORKER_OFFSET_TRACKER_H

#include <stddef.h>
#include <stdint.h>

typedef struct offset_tracker offset_tracker;

offset_tracker *offset_tracker_new(void);
void offset_tracker_free(offset_tracker *t); /* NULL is a no-op */

/* Starts tracking (idempotent). Unknown partitions are created by _seen. */
void offset_tracker_assign(offset_tracker *t, const char *topic, int32_t partition);
/* Forgets the partition and its pending offsets. */
void offset_tracker_revoke(offset_tracker *t, const char *topic, int32_t partition);

/* A message at `offset` was received (offsets of a partition arrive in
 * increasing order; anything not above the last seen one is ignored).
 * Returns 0, or -1 on OOM. */
int offset_tracker_seen(offset_tracker *t, const char *topic, int32_t partition, int64_t offset);
/* Its effect is durable. Unknown partition or offset: ignored. */
void offset_tracker_finish(offset_tracker *t, const char *topic, int32_t partition, int64_t offset);

/* Offsets received and not yet finished, for one partition or (topic NULL) all. */
size_t offset_tracker_pending(offset_tracker *t, const char *topic, int32_t partition);

/* Position to store (next offset to consume) for every partition whose
 * position changed since the last call, passed to `fn` (under the tracker's
 * lock: `fn` must not call back into the tracker). Storing the first
 * unfinished offset is always safe: that command will be consumed again. */
typedef void (*offset_tracker_fn)(const char *topic, int32_t partition, int64_t position,
                                  void *opaque);
void offset_tracker_collect(offset_tracker *t, offset_tracker_fn fn, void *opaque);

/* Position to store for one partition: -1 when nothing was seen. */
int64_t offset_tracker_position(offset_tracker *t, const char *topic, int32_t partition);

#endif
