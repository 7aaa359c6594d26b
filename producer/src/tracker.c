/* tracker.c -- outcome events matched to pending commands.
 *
 * Pending commands live in a chained hash table keyed by commandId (C has
 * no standard map, and hsearch(3) cannot delete). An entry records the
 * monotonic time of registration and, when kept, the outcome event. A
 * waiter parks on a condition variable on its own stack and publishes its
 * address in the entry, so a match wakes exactly that waiter; a
 * tracker-wide condition variable signals overall progress for the load
 * generator. The consumer never commits offsets: each tracker starts at the
 * high watermark taken when it was created.
 */
#include "tracker.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leasehold/blob.h"
#include "log.h"

typedef struct tracker_entry {
    struct tracker_entry *next;
    char id[INV_ID_MAX + 1];
    int64_t sent_us;
    int keep, done, failed;
    inv_event *ev;        /* kept outcome (keep = 1) */
    pthread_cond_t *wake; /* the waiter's condition variable, or NULL */
    char why[200];
} tracker_entry;

struct tracker {
    rd_kafka_t *rk;
    char events_topic[256];
    char dlq_topic[256];
    tracker_event_fn on_event;
    void *opaque;
    pthread_t thread;
    atomic_int stop;

    pthread_mutex_t mu;
    pthread_cond_t progress;
    tracker_entry **buckets;
    size_t nbuckets, nentries;
    tracker_counts counts;
};

static int64_t tracker_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void tracker_deadline(long long timeout_ms, struct timespec *ts) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void tracker_cond_init(pthread_cond_t *c) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
}

/* FNV-1a: short ids, no need for anything stronger. */
static size_t tracker_hash(const char *id, size_t nbuckets) {
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % nbuckets);
}

static tracker_entry **tracker_slot(tracker *t, const char *id) {
    tracker_entry **pp = &t->buckets[tracker_hash(id, t->nbuckets)];
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* Doubles the table when chains grow past two entries on average. */
static void tracker_grow(tracker *t) {
    size_t n = t->nbuckets * 2;
    tracker_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* keep the old table: slower, still correct */
    for (size_t i = 0; i < t->nbuckets; i++) {
        tracker_entry *e = t->buckets[i];
        while (e) {
            tracker_entry *next = e->next;
            size_t h = tracker_hash(e->id, n);
            e->next = b[h];
            b[h] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static void tracker_handle_event(tracker *t, const rd_kafka_message_t *m) {
    inv_event ev;
    char err[256];
    if (inv_event_decode(m->payload, m->len, &ev, err, sizeof(err)) != 0) {
        log_debug("event at %s/%d@%lld ignored: %s", rd_kafka_topic_name(m->rkt), (int)m->partition,
                  (long long)m->offset, err);
        pthread_mutex_lock(&t->mu);
        t->counts.undecodable++;
        pthread_mutex_unlock(&t->mu);
        return;
    }
    int64_t now = tracker_now_us();
    pthread_mutex_lock(&t->mu);
    tracker_entry *e = *tracker_slot(t, ev.command_id);
    if (!e) {
        t->counts.unmatched++;
    } else if (e->done) {
        t->counts.repeated++;
        if (t->on_event)
            t->on_event(&ev, now - e->sent_us, 0, t->opaque);
    } else {
        e->done = 1;
        t->counts.matched++;
        if (e->keep) {
            e->ev = malloc(sizeof(*e->ev));
            if (e->ev)
                *e->ev = ev;
            else
                snprintf(e->why, sizeof(e->why), "outcome of %s: out of memory", e->id);
        }
        /* Before the wake-up, so whoever waited on the count sees the
         * callback's effect too. */
        if (t->on_event)
            t->on_event(&ev, now - e->sent_us, 1, t->opaque);
        if (e->wake)
            pthread_cond_signal(e->wake);
        pthread_cond_broadcast(&t->progress);
    }
    pthread_mutex_unlock(&t->mu);
}

static void *tracker_main(void *arg) {
    tracker *t = arg;
    while (!atomic_load(&t->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->rk, 100);
        if (!m)
            continue;
        if (m->err)
            log_debug("events consumer: %s", rd_kafka_message_errstr(m));
        if (!m->err) {
            if (!strcmp(rd_kafka_topic_name(m->rkt), t->events_topic)) {
                tracker_handle_event(t, m);
            } else {
                pthread_mutex_lock(&t->mu);
                t->counts.dead_letters++;
                pthread_mutex_unlock(&t->mu);
            }
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* Adds every partition of `topic` at its high watermark to `list`. */
static int tracker_add_topic(tracker *t, const char *topic, rd_kafka_topic_partition_list_t *list,
                             char *err, size_t errlen) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(t->rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e =
        rkt ? rd_kafka_metadata(t->rk, 0, rkt, &md, 10000) : RD_KAFKA_RESP_ERR__INVALID_ARG;
    int rc = -1;
    if (e) {
        snprintf(err, errlen, "topic %s: metadata: %s", topic, rd_kafka_err2str(e));
        goto out;
    }
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
        snprintf(err, errlen, "topic %s: %s", topic,
                 md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err)
                                                         : "no partitions");
        goto out;
    }
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(t->rk, topic, p, &lo, &hi, 10000);
        if (e) {
            snprintf(err, errlen, "topic %s partition %d: watermarks: %s", topic, (int)p,
                     rd_kafka_err2str(e));
            goto out;
        }
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = hi;
    }
    rc = 0;
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return rc;
}

static int tracker_assign(tracker *t, char *err, size_t errlen) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    int rc = tracker_add_topic(t, t->events_topic, list, err, errlen);
    if (rc == 0 && t->dlq_topic[0])
        rc = tracker_add_topic(t, t->dlq_topic, list, err, errlen);
    if (rc == 0) {
        rd_kafka_resp_err_t e = rd_kafka_assign(t->rk, list);
        if (e) {
            snprintf(err, errlen, "assign %s: %s", t->events_topic, rd_kafka_err2str(e));
            rc = -1;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

tracker *tracker_new(const tracker_options *o, char *err, size_t errlen) {
    tracker *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "tracker: out of memory");
        return NULL;
    }
    snprintf(t->events_topic, sizeof(t->events_topic), "%s", o->events_topic);
    snprintf(t->dlq_topic, sizeof(t->dlq_topic), "%s", o->dlq_topic ? o->dlq_topic : "");
    t->on_event = o->on_event;
    t->opaque = o->opaque;
    pthread_mutex_init(&t->mu, NULL);
    tracker_cond_init(&t->progress);
    t->nbuckets = 1024;
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));

    /* A private group id: offsets are never committed (assign, not
     * subscribe), the id only satisfies the consumer's configuration. */
    char guid[37], group[64];
    blob_new_guid(guid);
    snprintf(group, sizeof(group), "inventory-producer-%s", guid);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *settings[][2] = {{"bootstrap.servers", o->brokers},
                                 {"group.id", group},
                                 {"client.id", "inventory-producer-tracker"},
                                 {"enable.auto.commit", "false"},
                                 {"enable.auto.offset.store", "false"},
                                 {"fetch.wait.max.ms", "50"},
                                 {"enable.partition.eof", "false"}};
    if (!t->buckets) {
        snprintf(err, errlen, "tracker: out of memory");
        rd_kafka_conf_destroy(conf);
        goto err;
    }
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, errlen) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            goto err;
        }
    }
    t->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!t->rk) {
        rd_kafka_conf_destroy(conf);
        goto err;
    }
    if (tracker_assign(t, err, errlen) != 0)
        goto err;
    if (pthread_create(&t->thread, NULL, tracker_main, t) != 0) {
        snprintf(err, errlen, "tracker: cannot start thread");
        goto err;
    }
    return t;
err:
    if (t->rk)
        rd_kafka_destroy(t->rk);
    free(t->buckets);
    pthread_cond_destroy(&t->progress);
    pthread_mutex_destroy(&t->mu);
    free(t);
    return NULL;
}

void tracker_free(tracker *t) {
    if (!t)
        return;
    atomic_store(&t->stop, 1);
    pthread_join(t->thread, NULL);
    rd_kafka_consumer_close(t->rk);
    rd_kafka_destroy(t->rk);
    for (size_t i = 0; i < t->nbuckets; i++) {
        tracker_entry *e = t->buckets[i];
        while (e) {
            tracker_entry *next = e->next;
            free(e->ev);
            free(e);
            e = next;
        }
    }
    free(t->buckets);
    pthread_cond_destroy(&t->progress);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int tracker_expect(tracker *t, const char *command_id, int keep) {
    int rc = 0;
    pthread_mutex_lock(&t->mu);
    tracker_entry **pp = tracker_slot(t, command_id);
    if (!*pp) {
        tracker_entry *e = calloc(1, sizeof(*e));
        if (!e) {
            rc = -1;
        } else {
            snprintf(e->id, sizeof(e->id), "%s", command_id);
            e->keep = keep;
            e->sent_us = tracker_now_us();
            *pp = e;
            if (++t->nentries > t->nbuckets * 2)
                tracker_grow(t);
        }
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void tracker_fail(tracker *t, const char *command_id, const char *why) {
    pthread_mutex_lock(&t->mu);
    tracker_entry *e = *tracker_slot(t, command_id);
    if (e && !e->done) {
        e->failed = 1;
        snprintf(e->why, sizeof(e->why), "%s", why);
        if (e->wake)
            pthread_cond_signal(e->wake);
    }
    pthread_mutex_unlock(&t->mu);
}

int tracker_wait(tracker *t, const char *command_id, long long timeout_ms, inv_event *out,
                 char *err, size_t errlen) {
    pthread_cond_t wake;
    struct timespec deadline;
    int rc = 1;
    tracker_cond_init(&wake);
    tracker_deadline(timeout_ms, &deadline);
    pthread_mutex_lock(&t->mu);
    tracker_entry **pp = tracker_slot(t, command_id);
    tracker_entry *e = *pp;
    if (!e) {
        snprintf(err, errlen, "command %s: not registered", command_id);
        rc = -1;
        goto out;
    }
    e->wake = &wake;
    while (!e->done && !e->failed) {
        if (pthread_cond_timedwait(&wake, &t->mu, &deadline) != 0 && !e->done && !e->failed)
            break;
    }
    if (e->done && e->ev) {
        *out = *e->ev;
        rc = 0;
    } else if (e->done || e->failed) {
        snprintf(err, errlen, "%s", e->why[0] ? e->why : "outcome not kept");
        rc = -1;
    } else {
        snprintf(err, errlen, "no outcome for command %s within %lld ms", command_id, timeout_ms);
    }
    /* Unlink: the entry is this waiter's to remove. */
    pp = tracker_slot(t, command_id);
    *pp = e->next;
    t->nentries--;
    free(e->ev);
    free(e);
out:
    pthread_mutex_unlock(&t->mu);
    pthread_cond_destroy(&wake);
    return rc;
}

int tracker_wait_matched(tracker *t, uint64_t n, long long timeout_ms) {
    struct timespec deadline;
    tracker_deadline(timeout_ms, &deadline);
    pthread_mutex_lock(&t->mu);
    while (t->counts.matched < n) {
        if (pthread_cond_timedwait(&t->progress, &t->mu, &deadline) != 0)
            break;
    }
    int rc = t->counts.matched >= n ? 0 : 1;
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void tracker_get_counts(tracker *t, tracker_counts *out) {
    pthread_mutex_lock(&t->mu);
    *out = t->counts;
    pthread_mutex_unlock(&t->mu);
}
