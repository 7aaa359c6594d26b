/* offset_tracker.c -- contiguous-prefix offset tracking (see offset_tracker.h).
 *
 * Per partition: a queue (array with a moving head) of received offsets
 * with a finished flag, in arrival order. Finishing marks the entry, then
 * pops finished entries off the head; the storable position is the head's
 * offset, or last_seen + 1 when the queue is empty. Finish looks the offset
 * up by binary search, since the queue is sorted. A worker has a few dozen
 * partitions at most, so partitions live in a plain array.
 */
#include "offset_tracker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct tracker_entry {
    int64_t offset;
    int finished;
} tracker_entry;

typedef struct tracker_partition {
    char *topic;
    int32_t partition;
    tracker_entry *q;
    size_t head, tail, cap; /* live entries are q[head..tail) */
    int64_t last_seen;      /* -1: none */
    int64_t reported;       /* last position handed to collect, -1: none */
} tracker_partition;

struct offset_tracker {
    pthread_mutex_t mu;
    tracker_partition *parts;
    size_t n, cap;
};

offset_tracker *offset_tracker_new(void) {
    offset_tracker *t = calloc(1, sizeof(*t));
    if (t)
        pthread_mutex_init(&t->mu, NULL);
    return t;
}

static void tracker_partition_clear(tracker_partition *p) {
    free(p->topic);
    free(p->q);
}

void offset_tracker_free(offset_tracker *t) {
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        tracker_partition_clear(&t->parts[i]);
    free(t->parts);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static tracker_partition *tracker_find(offset_tracker *t, const char *topic, int32_t partition) {
    for (size_t i = 0; i < t->n; i++)
        if (t->parts[i].partition == partition && strcmp(t->parts[i].topic, topic) == 0)
            return &t->parts[i];
    return NULL;
}

static tracker_partition *tracker_add(offset_tracker *t, const char *topic, int32_t partition) {
    tracker_partition *p = tracker_find(t, topic, partition);
    if (p)
        return p;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        tracker_partition *np = realloc(t->parts, ncap * sizeof(*np));
        if (np == NULL)
            return NULL;
        t->parts = np;
        t->cap = ncap;
    }
    p = &t->parts[t->n];
    memset(p, 0, sizeof(*p));
    p->topic = strdup(topic);
    if (p->topic == NULL)
        return NULL;
    p->partition = partition;
    p->last_seen = -1;
    p->reported = -1;
    t->n++;
    return p;
}

void offset_tracker_assign(offset_tracker *t, const char *topic, int32_t partition) {
    pthread_mutex_lock(&t->mu);
    tracker_add(t, topic, partition);
    pthread_mutex_unlock(&t->mu);
}

void offset_tracker_revoke(offset_tracker *t, const char *topic, int32_t partition) {
    pthread_mutex_lock(&t->mu);
    tracker_partition *p = tracker_find(t, topic, partition);
    if (p) {
        tracker_partition_clear(p);
        *p = t->parts[--t->n];
    }
    pthread_mutex_unlock(&t->mu);
}

int offset_tracker_seen(offset_tracker *t, const char *topic, int32_t partition, int64_t offset) {
    int rc = 0;
    pthread_mutex_lock(&t->mu);
    tracker_partition *p = tracker_add(t, topic, partition);
    if (p == NULL) {
        rc = -1;
    } else if (offset > p->last_seen) {
        if (p->tail == p->cap) {
            if (p->head > 0) { /* compact before growing */
                memmove(p->q, p->q + p->head, (p->tail - p->head) * sizeof(*p->q));
                p->tail -= p->head;
                p->head = 0;
            }
            if (p->tail == p->cap) {
                size_t ncap = p->cap ? p->cap * 2 : 64;
                tracker_entry *nq = realloc(p->q, ncap * sizeof(*nq));
                if (nq == NULL) {
                    pthread_mutex_unlock(&t->mu);
                    return -1;
                }
                p->q = nq;
                p->cap = ncap;
            }
        }
        p->q[p->tail].offset = offset;
        p->q[p->tail].finished = 0;
        p->tail++;
        p->last_seen = offset;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void offset_tracker_finish(offset_tracker *t, const char *topic, int32_t partition,
                           int64_t offset) {
    pthread_mutex_lock(&t->mu);
    tracker_partition *p = tracker_find(t, topic, partition);
    if (p) {
        size_t lo = p->head, hi = p->tail;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (p->q[mid].offset < offset)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < p->tail && p->q[lo].offset == offset)
            p->q[lo].finished = 1;
        while (p->head < p->tail && p->q[p->head].finished)
            p->head++;
        if (p->head == p->tail)
            p->head = p->tail = 0;
    }
    pthread_mutex_unlock(&t->mu);
}

static int64_t tracker_position(const tracker_partition *p) {
    if (p->head < p->tail)
        return p->q[p->head].offset;
    return p->last_seen >= 0 ? p->last_seen + 1 : -1;
}

size_t offset_tracker_pending(offset_tracker *t, const char *topic, int32_t partition) {
    size_t n = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n; i++) {
        tracker_partition *p = &t->parts[i];
        if (topic == NULL || (p->partition == partition && strcmp(p->topic, topic) == 0))
            for (size_t j = p->head; j < p->tail; j++)
                n += !p->q[j].finished;
    }
    pthread_mutex_unlock(&t->mu);
    return n;
}

int64_t offset_tracker_position(offset_tracker *t, const char *topic, int32_t partition) {
    pthread_mutex_lock(&t->mu);
    tracker_partition *p = tracker_find(t, topic, partition);
    int64_t pos = p ? tracker_position(p) : -1;
    pthread_mutex_unlock(&t->mu);
    return pos;
}

void offset_tracker_collect(offset_tracker *t, offset_tracker_fn fn, void *opaque) {
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n; i++) {
        tracker_partition *p = &t->parts[i];
        int64_t pos = tracker_position(p);
        if (pos < 0 || pos == p->reported)
            continue;
        p->reported = pos;
        fn(p->topic, p->partition, pos, opaque);
    }
    pthread_mutex_unlock(&t->mu);
}
