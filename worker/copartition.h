/* copartition.h -- one owner per product: the command topics are
 * co-partitioned.
 *
 * A product's reserve, release and admin commands travel on three topics,
 * all keyed by productId. With equal partition counts (and one partitioner
 * for every producer) a product's key lands on the same partition number in
 * each topic, and the `range` assignor hands partition i of every topic to
 * the same group member: one worker consumes all of a product's commands,
 * so workers never take turns at its lease. These two pure checks guard
 * the premise: copartition_check() at start-up (unequal counts refuse to
 * start, naming the topics and their counts) and copartition_aligned() on
 * every assignment (a member owning partition i of one topic but not of
 * another is reported: the strategy is not range, or the counts changed).
 */
#ifndef LEASEHOLD_WORKER_COPARTITION_H
#define LEASEHOLD_WORKER_COPARTITION_H

#include <stddef.h>
#include <stdint.h>

typedef struct copartition_topic {
    const char *name;
    int partitions; /* < 0: not known (the topic does not exist yet) */
} copartition_topic;

/* 0 when every topic with a known count has the same count; -1 with `err`
 * naming every topic and its count otherwise. Unknown counts are skipped
 * (such a topic is auto-created with the broker's num.partitions, and the
 * assignment check reports a mismatch then). */
int copartition_check(const copartition_topic *topics, size_t n, char *err, size_t errlen);

typedef struct copartition_part {
    const char *topic;
    int32_t partition;
} copartition_part;

/* 1 when, among `parts` (one member's assignment), every topic of
 * topics[0..ntopics) holds exactly the same partition numbers; 0 with
 * `detail` naming the first partition without its partners otherwise.
 * Parts of other topics are ignored. -1 on OOM. */
int copartition_aligned(const char *const *topics, size_t ntopics, const copartition_part *parts,
                        size_t n, char *detail, size_t cap);

#endif
