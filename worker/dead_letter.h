/* dead_letter.h -- a command that will not be applied goes to the
 * dead-letter topic, and its offset is finished once Kafka acknowledged it.
 *
 * Used by the consume loop (input that does not decode) and by the
 * processor (an operator dead-letters a blocked product's queued commands).
 * Until the acknowledgement the offset stays unfinished, so a crash in
 * between replays the command rather than skipping it.
 *
 * Threads: callable from any thread; the offset is finished on the
 * publisher's polling thread.
 */
#ifndef LEASEHOLD_WORKER_DEAD_LETTER_H
#define LEASEHOLD_WORKER_DEAD_LETTER_H

#include <stddef.h>

#include "leasehold/inventory_schema.h"
#include "offset_tracker.h"
#include "publisher.h"

/* Encodes `dl` (copied), queues it keyed by dl->key and finishes
 * dl->topic/partition/offset in `tracker` on delivery. 0, or -1 with `err`
 * ("out of memory", "could not be queued"): the offset then stays
 * unfinished. */
int dead_letter_send(publisher *pub, offset_tracker *tracker, const inv_dead_letter *dl,
                     char *err, size_t errlen);

#endif
