/* worker.c -- consumer group member and lifecycle of inventory-worker
 * (see worker.h).
 *
 * The consume loop runs on the caller's thread: it polls the high-level
 * consumer, turns each message into a work item for the dispatcher (or a
 * dead letter), and every OFFSET_STORE_MS stores the positions the offset
 * tracker allows (auto-commit then commits stored offsets only, since
 * enable.auto.offset.store=false). Back-pressure: above worker.max_queued
 * queued commands the assignment is paused, and resumed below half of it.
 *
 * Rebalances (cooperative-sticky by default, incremental; the eager
 * strategies of kafka.assignment_strategy also work): on assignment the
 * partitions are tracked and added; on revocation this worker first drains
 * that partition's queued work (bounded by worker.drain_timeout), drops
 * what did not finish (the next owner consumes it again from the stored
 * offset; the product lease serialises the two), stores the finished
 * prefix (auto-commit commits it as the partitions are unassigned), releases the leases of products
 * with nothing left to do, and only then gives the partitions up. A lost assignment (session timed
 * out) skips the drain and the commit: another member already owns it.
 */
#include "worker.h"

#include <librdkafka/rdkafka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "copartition.h"
#include "dead_letter.h"
#include "dispatcher.h"
#include "log.h"
#include "metrics.h"
#include "offset_tracker.h"
#include "processor.h"
#include "publisher.h"
#include "worker_time.h"

#define OFFSET_STORE_MS 200
#define POLL_MS 100
#define KAFKA_ERROR_MEMORY_MS 15000 /* readiness stays false this long after a broker error */
#define KAFKA_PROBE_MS 1000         /* then a metadata request decides (worker_ready) */
#define TOPIC_CHECK_MS 10000        /* start-up: how long a command topic may take to appear */

static const char *const WK_COMMAND_TOPIC_KEYS[] = {"topic.reservations", "topic.releases",
                                                    "topic.admin"};
#define WK_COMMAND_TOPICS 3

struct worker {
    const config *cfg;
    lease_manager *leases;
    rd_kafka_t *rk;
    publisher *pub;
    offset_tracker *tracker;
    processor *proc;
    dispatcher *disp;
    int64_t drain_timeout_ms;
    size_t max_queued;
    int paused;
    int64_t shutdown_end;        /* monotonic deadline of the SIGTERM drain, 0 before */
    int assigned_once;           /* an assign callback has run (consume loop thread only) */
    int release_deferred;        /* an eager revocation kept the leases (consume loop thread) */
    rd_kafka_topic_partition_list_t *owned; /* the assignment (consume loop thread) */
    atomic_llong kafka_error_at; /* monotonic ms of the last broker-level error, 0 = none since */
    atomic_int stopping;
    atomic_llong loop_tick;
    pthread_mutex_t assignment_mu; /* guards assignment (admin thread reads it) */
    char *assignment;              /* JSON of the current assignment, for /api/assignment */
};

static int wk_item_in_list(const void *item, void *arg) {
    const work_item *it = item;
    const rd_kafka_topic_partition_list_t *parts = arg;
    return rd_kafka_topic_partition_list_find(parts, it->topic, it->partition) != NULL;
}

/* Drains wait for what can finish: not for a blocked product (state
 * unreadable), whose commands would wait for an operator, not for the
 * drain. They stay unfinished, so the next owner consumes them again.
 * Called under the dispatcher's lock; processor_is_blocked takes the
 * processor's (that order only). */
typedef struct wk_drain_match {
    worker *w;
    const rd_kafka_topic_partition_list_t *parts; /* NULL: every partition */
} wk_drain_match;

static int wk_item_drains(const void *item, void *arg) {
    const wk_drain_match *m = arg;
    const work_item *it = item;
    if (m->parts && !wk_item_in_list(item, (void *)m->parts))
        return 0;
    return !processor_is_blocked(m->w->proc, it->cmd.product_id);
}

/* Stores the tracker's positions for `parts`. With auto-commit on,
 * librdkafka commits the stored offsets of partitions as it unassigns them,
 * under the right group generation (a commit of our own from inside the
 * rebalance callback can race the generation change and be refused). */
static void wk_store_partitions(worker *w, rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        int64_t pos =
            offset_tracker_position(w->tracker, parts->elems[i].topic, parts->elems[i].partition);
        if (pos >= 0)
            rd_kafka_topic_partition_list_add(offsets, parts->elems[i].topic,
                                              parts->elems[i].partition)
                ->offset = pos;
    }
    if (offsets->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(w->rk, offsets);
        if (err)
            log_warn("Storing offsets of revoked partitions failed: %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(offsets);
}

static void wk_log_partitions(const char *what, const rd_kafka_topic_partition_list_t *parts) {
    char buf[1024];
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < parts->cnt && n < sizeof(buf) - 64; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s/%d", i ? " " : "",
                              parts->elems[i].topic, parts->elems[i].partition);
    log_info("%s: %s", what, parts->cnt ? buf : "(none)");
}

/* Tracks the member's whole assignment from the rebalance callback's own
 * lists (rd_kafka_assignment() asks librdkafka's main thread, which a
 * callback running inside rd_kafka_consumer_close must not wait for),
 * records it for /api/assignment and says when it breaks ownership:
 * partition i of one command topic here without partition i of another
 * means another worker consumes some of these products' commands, so the
 * two take turns at their leases. */
static void wk_assignment_changed(worker *w, const rd_kafka_topic_partition_list_t *parts,
                                  int assigned, int cooperative) {
    if (!cooperative) {
        rd_kafka_topic_partition_list_destroy(w->owned);
        w->owned = assigned ? rd_kafka_topic_partition_list_copy(parts)
                            : rd_kafka_topic_partition_list_new(0);
    } else {
        for (int i = 0; i < parts->cnt; i++) {
            const char *topic = parts->elems[i].topic;
            int32_t partition = parts->elems[i].partition;
            if (assigned && !rd_kafka_topic_partition_list_find(w->owned, topic, partition))
                rd_kafka_topic_partition_list_add(w->owned, topic, partition);
            else if (!assigned)
                rd_kafka_topic_partition_list_del(w->owned, topic, partition);
        }
    }
    const rd_kafka_topic_partition_list_t *owned = w->owned;
    const char *topics[WK_COMMAND_TOPICS];
    for (size_t i = 0; i < WK_COMMAND_TOPICS; i++)
        topics[i] = config_string(w->cfg, WK_COMMAND_TOPIC_KEYS[i]);
    copartition_part *pairs = calloc((size_t)owned->cnt + 1, sizeof(*parts));
    json_t *list = json_array();
    for (int i = 0; i < owned->cnt; i++) {
        if (pairs) {
            pairs[i].topic = owned->elems[i].topic;
            pairs[i].partition = owned->elems[i].partition;
        }
        json_array_append_new(list, json_pack("{s:s, s:i}", "topic", owned->elems[i].topic,
                                              "partition", (int)owned->elems[i].partition));
    }
    char detail[512] = "";
    int aligned = pairs ? copartition_aligned(topics, WK_COMMAND_TOPICS, pairs,
                                              (size_t)owned->cnt, detail, sizeof(detail))
                        : -1;
    if (aligned == 0)
        log_error("Assignment breaks product ownership (%s): set kafka.assignment_strategy=range on "
                  "every worker and give the command topics equal partition counts",
                  detail);
    json_t *doc = json_pack("{s:s, s:o, s:o}", "strategy",
                            config_string(w->cfg, "kafka.assignment_strategy"), "coPartitioned",
                            aligned < 0 ? json_null() : json_boolean(aligned), "partitions", list);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    free(pairs);
    pthread_mutex_lock(&w->assignment_mu);
    free(w->assignment);
    w->assignment = text;
    pthread_mutex_unlock(&w->assignment_mu);
}

/* Whether the product in a dispatcher slot has one of the partition
 * numbers in `parts` (the same number in every co-partitioned topic). */
static int wk_slot_in_partitions(const void *slot, void *arg) {
    const rd_kafka_topic_partition_list_t *parts = arg;
    int32_t partition = processor_product_partition(slot);
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].partition == partition)
            return 1;
    return 0;
}

static int wk_slot_not_in_partitions(const void *slot, void *arg) {
    return !wk_slot_in_partitions(slot, arg);
}

/* Leases follow ownership. A cooperative revocation names exactly the
 * partitions that move, so their products' leases go at once. An eager
 * one (range) revokes everything although most partitions come straight
 * back: the leases are kept, renewed, until the new assignment says which
 * products moved (wk_rebalance), sparing every kept product a release and
 * a re-acquire; the new owners of moved ones get them at that moment, as
 * every member receives its assignment together. A lost assignment, or
 * none arriving, ends in the idle release (worker.idle_release). */
static void wk_revoke(worker *w, rd_kafka_topic_partition_list_t *parts, int lost,
                      int cooperative) {
    wk_log_partitions(lost ? "Partitions lost" : "Partitions revoked, draining", parts);
    /* At shutdown the drain already ran (and its timeout was spent). */
    int64_t drain_ms = atomic_load(&w->stopping) ? 0 : w->drain_timeout_ms;
    wk_drain_match match = {w, parts};
    int64_t end = worker_time_mono_ms() + drain_ms;
    int drained = !lost && dispatcher_wait_drained(w->disp, wk_item_drains, &match, drain_ms) == 0;
    if (!lost && !drained)
        log_warn("Drain of revoked partitions timed out; unfinished commands go to the next owner");
    size_t dropped = dispatcher_drop(w->disp, wk_item_in_list, parts);
    /* A blocked product's periodic re-read may be running now, and a running
     * batch cannot be dropped: once it is back in its queue (still blocked)
     * it can, so wait for that rather than leave it to retry here. */
    while (drained && dispatcher_wait_drained(w->disp, wk_item_in_list, parts, 0) != 0 &&
           worker_time_mono_ms() < end) {
        dispatcher_wait_drained(w->disp, wk_item_in_list, parts, 50);
        dropped += dispatcher_drop(w->disp, wk_item_in_list, parts);
    }
    if (dropped)
        log_info("Dropped %zu queued commands of revoked partitions", dropped);
    if (!lost)
        wk_store_partitions(w, parts);
    for (int i = 0; i < parts->cnt; i++)
        offset_tracker_revoke(w->tracker, parts->elems[i].topic, parts->elems[i].partition);
    if (cooperative || lost || atomic_load(&w->stopping))
        dispatcher_release_idle(w->disp, wk_slot_in_partitions, parts, drain_ms);
    else
        w->release_deferred = 1;
}

/* Runs on the consume loop's thread, inside rd_kafka_consumer_poll. */
static void wk_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    worker *w = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        wk_log_partitions("Partitions assigned", parts);
        w->assigned_once = 1;
        for (int i = 0; i < parts->cnt; i++)
            offset_tracker_assign(w->tracker, parts->elems[i].topic, parts->elems[i].partition);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else if (atomic_load(&w->stopping))
            /* An eager assignment arriving inside rd_kafka_consumer_close
             * (SIGTERM during a rebalance) is declined: taken, it was never
             * revoked again and rd_kafka_destroy waited for it forever
             * (test_worker_ownership under ASan). The partitions go to the
             * others when this member leaves. */
            rd_kafka_assign(rk, NULL);
        else
            rd_kafka_assign(rk, parts);
        if (w->release_deferred) {
            dispatcher_release_idle(w->disp, wk_slot_not_in_partitions, parts, w->drain_timeout_ms);
            w->release_deferred = 0;
        }
        if (w->paused)
            rd_kafka_pause_partitions(rk, parts);
    } else {
        wk_revoke(w, parts, rd_kafka_assignment_lost(rk), cooperative);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (error) {
        log_error("Rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    wk_assignment_changed(w, parts, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, cooperative);
}

static void wk_store_one(const char *topic, int32_t partition, int64_t position, void *opaque) {
    rd_kafka_topic_partition_list_add(opaque, topic, partition)->offset = position;
}

static void wk_store_offsets(worker *w) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
    offset_tracker_collect(w->tracker, wk_store_one, list);
    if (list->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(w->rk, list);
        if (err && err != RD_KAFKA_RESP_ERR__STATE)
            log_warn("Storing offsets failed: %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static void wk_set_paused(worker *w, int pause) {
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(w->rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (pause)
        rd_kafka_pause_partitions(w->rk, assigned);
    else
        rd_kafka_resume_partitions(w->rk, assigned);
    rd_kafka_topic_partition_list_destroy(assigned);
    w->paused = pause;
}

static void wk_backpressure(worker *w) {
    size_t queued = dispatcher_queued(w->disp);
    if (!w->paused && queued >= w->max_queued) {
        log_info("Pausing fetch: %zu commands queued", queued);
        wk_set_paused(w, 1);
    } else if (w->paused && queued < w->max_queued / 2) {
        log_info("Resuming fetch: %zu commands queued", queued);
        wk_set_paused(w, 0);
    }
}

/* A short fixed word for the dead-letter metric. */
static const char *wk_reason_kind(const char *reason) {
    if (strncmp(reason, "message: larger", 15) == 0)
        return "oversize";
    if (strncmp(reason, "message:", 8) == 0)
        return "invalid_json";
    if (strstr(reason, "unknown command type") != NULL)
        return "unknown_type";
    return "schema";
}

static void wk_dead_letter(worker *w, const rd_kafka_message_t *m, const char *topic,
                           const char *reason) {
    inv_dead_letter dl = {reason,     topic,  m->partition,         m->offset, m->key, m->key_len,
                          m->payload, m->len, worker_time_wall_ms()};
    log_warn("Dead letter for %s/%d@%lld: %s", topic, (int)m->partition, (long long)m->offset,
             reason);
    metrics_record_dead_letter(wk_reason_kind(reason));
    /* On failure the offset stays unfinished: the command is consumed again
     * after a restart rather than skipped. */
    char err[64];
    if (dead_letter_send(w->pub, w->tracker, &dl, err, sizeof(err)) != 0)
        log_error("Dead letter for %s/%d@%lld: %s", topic, (int)m->partition,
                  (long long)m->offset, err);
}

static void wk_handle_message(worker *w, const rd_kafka_message_t *m) {
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn("Consumer: %s", rd_kafka_message_errstr(m));
        return;
    }
    atomic_store(&w->kafka_error_at, 0);
    /* The producer's CreateTime (or the broker's LogAppendTime): wall
     * clocks of two hosts, hence millisecond precision at best. */
    int64_t created_ms = rd_kafka_message_timestamp(m, NULL);
    if (created_ms >= 0)
        metrics_record_stage(METRICS_STAGE_CONSUME_DELAY,
                             (double)(worker_time_wall_ms() - created_ms) / 1000.0);
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (offset_tracker_seen(w->tracker, topic, m->partition, m->offset) != 0) {
        log_error("Offset tracker: out of memory");
        return;
    }
    work_item *it = calloc(1, sizeof(*it));
    char reason[512];
    if (it == NULL) {
        log_error("Command at %s/%d@%lld: out of memory", topic, (int)m->partition,
                  (long long)m->offset);
        return;
    }
    if (inv_command_decode(m->payload ? m->payload : "", m->len, &it->cmd, reason,
                           sizeof(reason)) != 0) {
        free(it);
        wk_dead_letter(w, m, topic, reason);
        return;
    }
    snprintf(it->topic, sizeof(it->topic), "%s", topic);
    it->partition = m->partition;
    it->offset = m->offset;
    it->received_us = worker_time_mono_us();
    if (dispatcher_submit(w->disp, it->cmd.product_id, it) != 0) {
        log_error("Command at %s/%d@%lld: out of memory", topic, (int)m->partition,
                  (long long)m->offset);
        free(it);
    }
}

/* librdkafka reconnects by itself; these errors only feed readiness. */
static void wk_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    worker *w = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
        err == RD_KAFKA_RESP_ERR__RESOLVE || err == RD_KAFKA_RESP_ERR__FATAL) {
        atomic_store(&w->kafka_error_at, worker_time_mono_ms());
        log_warn("Kafka: %s", reason);
    }
}

static int wk_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                       size_t errlen) {
    char detail[256];
    if (rd_kafka_conf_set(conf, name, value, detail, sizeof(detail)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "consumer config %s: %s", name, detail);
        return -1;
    }
    return 0;
}

static rd_kafka_t *wk_consumer_new(worker *w, const char *worker_id, char *err, size_t errlen) {
    const config *cfg = w->cfg;
    char session[32], heartbeat[32];
    long long session_ms = config_duration_ms(cfg, "kafka.session_timeout");
    snprintf(session, sizeof(session), "%lld", session_ms);
    snprintf(heartbeat, sizeof(heartbeat), "%lld", session_ms / 3);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (wk_conf_set(conf, "bootstrap.servers", config_string(cfg, "kafka.brokers"), err, errlen) ||
        wk_conf_set(conf, "group.id", config_string(cfg, "kafka.group_id"), err, errlen) ||
        wk_conf_set(conf, "client.id", worker_id, err, errlen) ||
        wk_conf_set(conf, "partition.assignment.strategy",
                    config_string(cfg, "kafka.assignment_strategy"), err, errlen) ||
        wk_conf_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
        wk_conf_set(conf, "enable.auto.commit", "true", err, errlen) ||
        wk_conf_set(conf, "auto.commit.interval.ms", "1000", err, errlen) ||
        wk_conf_set(conf, "auto.offset.reset", "earliest", err, errlen) ||
        wk_conf_set(conf, "allow.auto.create.topics", "true", err, errlen) ||
        wk_conf_set(conf, "topic.metadata.refresh.interval.ms", "10000", err, errlen) ||
        wk_conf_set(conf, "session.timeout.ms", session, err, errlen) ||
        wk_conf_set(conf, "heartbeat.interval.ms", heartbeat, err, errlen)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, wk_rebalance);
    rd_kafka_conf_set_error_cb(conf, wk_kafka_error);
    rd_kafka_conf_set_opaque(conf, w);
    char detail[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, detail, sizeof(detail));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "create consumer: %s", detail);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

worker *worker_new(const config *cfg, const char *worker_id, lease_manager *leases, char *err,
                   size_t errlen) {
    worker *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(err, errlen, "worker: out of memory");
        return NULL;
    }
    w->cfg = cfg;
    w->leases = leases;
    w->drain_timeout_ms = config_duration_ms(cfg, "worker.drain_timeout");
    w->max_queued = (size_t)config_int(cfg, "worker.max_queued");
    atomic_init(&w->kafka_error_at, 0);
    atomic_init(&w->loop_tick, worker_time_mono_ms());
    pthread_mutex_init(&w->assignment_mu, NULL);
    w->owned = rd_kafka_topic_partition_list_new(0);

    publisher_options po = {config_string(cfg, "kafka.brokers"), worker_id,
                            config_string(cfg, "topic.events"), config_string(cfg, "topic.dlq"),
                            (int)config_duration_ms(cfg, "kafka.delivery_timeout")};
    w->pub = publisher_new(&po, err, errlen);
    w->tracker = offset_tracker_new();
    if (w->pub == NULL || w->tracker == NULL)
        goto err;
    processor_options pr = {.leases = leases,
                            .container = config_string(cfg, "storage.container"),
                            .pub = w->pub,
                            .tracker = w->tracker,
                            .max_batch = (size_t)config_int(cfg, "worker.max_batch"),
                            .retry_base_ms = (int)config_duration_ms(cfg, "worker.retry_base"),
                            .retry_max_ms = (int)config_duration_ms(cfg, "worker.retry_max"),
                            .blocked_retry_ms =
                                (int)config_duration_ms(cfg, "worker.blocked_retry"),
                            .state_v1 = strcmp(config_string(cfg, "storage.state_layout"), "v1") == 0,
                            .state_single_max =
                                (size_t)config_int(cfg, "storage.state_single_max")};
    w->proc = processor_new(&pr);
    if (w->proc == NULL) {
        snprintf(err, errlen, "worker: out of memory");
        goto err;
    }
    int threads = (int)config_int(cfg, "worker.threads");
    if (threads == 0) {
        /* A batch spends most of its time waiting for storage and for
         * Kafka's acknowledgement, so a pool of only one thread per core
         * leaves products queued behind idle CPUs. */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = 8 * (cores > 0 ? (int)cores : 2);
    }
    dispatcher_ops ops = processor_dispatcher_ops(w->proc);
    w->disp = dispatcher_new(threads, config_duration_ms(cfg, "worker.idle_release"),
                             (size_t)config_int(cfg, "worker.max_products"), &ops);
    if (w->disp == NULL) {
        snprintf(err, errlen, "worker: cannot start %d pool threads", threads);
        goto err;
    }
    w->rk = wk_consumer_new(w, worker_id, err, errlen);
    if (w->rk == NULL)
        goto err;
    log_info("Worker %s: %d pool threads, group %s, brokers %s", worker_id, threads,
             config_string(cfg, "kafka.group_id"), config_string(cfg, "kafka.brokers"));
    return w;
err:
    worker_free(w);
    return NULL;
}

/* Partitions of `name`, waiting up to `until` for an auto-created topic to
 * appear; -1 when Kafka does not say (unreachable, or the topic is still
 * missing). */
static int wk_topic_partitions(worker *w, const char *name, int64_t until) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(w->rk, name, NULL);
    if (rkt == NULL)
        return -1;
    int count = -1;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t left = until - worker_time_mono_ms();
        if (left <= 0 || rd_kafka_metadata(w->rk, 0, rkt, &md, (int)left) != RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
            md->topics[0].partition_cnt > 0)
            count = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
        if (count >= 0 || worker_time_mono_ms() >= until)
            break;
        struct timespec pause = {0, 200 * 1000000L}; /* the broker is creating the topic */
        nanosleep(&pause, NULL);
    }
    rd_kafka_topic_destroy(rkt);
    return count;
}

/* Refuses to start on command topics of unequal partition counts (design
 * decision: co-partitioned topics, see docs/ownership.md). A Kafka that
 * does not answer yet is no reason to refuse: the assignment check in
 * wk_assignment_changed reports a mismatch later. */
static int wk_check_copartitioned(worker *w, char *err, size_t errlen) {
    copartition_topic topics[WK_COMMAND_TOPICS];
    int64_t until = worker_time_mono_ms() + TOPIC_CHECK_MS;
    for (size_t i = 0; i < WK_COMMAND_TOPICS; i++) {
        topics[i].name = config_string(w->cfg, WK_COMMAND_TOPIC_KEYS[i]);
        topics[i].partitions = wk_topic_partitions(w, topics[i].name, until);
    }
    if (copartition_check(topics, WK_COMMAND_TOPICS, err, errlen) != 0)
        return -1;
    if (topics[0].partitions < 0 || topics[1].partitions < 0 || topics[2].partitions < 0)
        log_warn("Partition counts of the command topics not known yet (Kafka did not answer "
                 "within %d s); the assignment will be checked instead",
                 TOPIC_CHECK_MS / 1000);
    else
        log_info("Command topics co-partitioned: %d partitions each", topics[0].partitions);
    return 0;
}

static int wk_subscribe(worker *w, char *err, size_t errlen) {
    if (wk_check_copartitioned(w, err, errlen) != 0)
        return -1;
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(WK_COMMAND_TOPICS);
    for (size_t i = 0; i < WK_COMMAND_TOPICS; i++)
        rd_kafka_topic_partition_list_add(topics, config_string(w->cfg, WK_COMMAND_TOPIC_KEYS[i]),
                                          RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t rc = rd_kafka_subscribe(w->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (rc) {
        snprintf(err, errlen, "subscribe: %s", rd_kafka_err2str(rc));
        return -1;
    }
    return 0;
}

/* Serves rebalance and delivery callbacks during shutdown. Fetching is
 * paused (an assignment arriving now is paused too); a message already
 * fetched is dropped unapplied: its offset is never stored, so the next
 * owner consumes it. */
static void wk_poll_callbacks(worker *w) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, 50);
    if (m)
        rd_kafka_message_destroy(m);
}

/* 1 once the group coordinator gave this member an id (JoinGroup). */
static int wk_joined(worker *w) {
    char *id = rd_kafka_memberid(w->rk);
    int joined = id != NULL && id[0] != '\0';
    if (id)
        rd_kafka_mem_free(w->rk, id);
    return joined;
}

/* Time left until `end`, but at least `floor_ms`. */
static int64_t wk_left_ms(int64_t end, int64_t floor_ms) {
    int64_t left = end - worker_time_mono_ms();
    return left > floor_ms ? left : floor_ms;
}

/* SIGTERM path: stop fetching, drain, commit, release, leave the group.
 * One deadline (worker.drain_timeout) bounds draining and dead-letter
 * delivery; releasing the leases gets at least WK_RELEASE_FLOOR_MS even
 * when the drain used it all, since a release is what spares the next
 * owner the lease expiry. */
#define WK_RELEASE_FLOOR_MS 2000
static int wk_shutdown(worker *w, char *err, size_t errlen) {
    int rc = 0;
    int64_t end = worker_time_mono_ms() + w->drain_timeout_ms;
    w->shutdown_end = end;
    atomic_store(&w->stopping, 1);
    log_info("Shutting down: draining %zu queued commands", dispatcher_queued(w->disp));
    wk_set_paused(w, 1);
    wk_drain_match match = {w, NULL};
    if (dispatcher_wait_drained(w->disp, wk_item_drains, &match, wk_left_ms(end, 0)) != 0) {
        snprintf(err, errlen,
                 "shutdown: drain timed out with %zu commands unfinished (they will be "
                 "consumed again)",
                 dispatcher_queued(w->disp));
        log_warn("%s", err);
        /* A batch stuck in a delivery or storage timeout gives up now
         * rather than holding the pool past the deadline: its offsets were
         * not stored, so its commands replay. */
        publisher_abandon(w->pub);
        processor_abandon(w->proc);
        rc = -1;
    } else if (dispatcher_queued(w->disp) > 0) {
        /* Only blocked products are left: not a drain failure (exit 0). */
        log_warn("Shutdown leaves %zu commands of blocked products unfinished; the next owner "
                 "consumes them again",
                 dispatcher_queued(w->disp));
    }
    /* Dead letters still in flight finish their offsets on delivery. */
    while (offset_tracker_pending(w->tracker, NULL, 0) > dispatcher_queued(w->disp) &&
           worker_time_mono_ms() < end)
        wk_poll_callbacks(w);
    wk_store_offsets(w);
    rd_kafka_resp_err_t cerr = rd_kafka_commit(w->rk, NULL, 0);
    if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
        log_warn("Final commit failed: %s", rd_kafka_err2str(cerr));
    /* Hand the products over before leaving the group, so the next owner
     * does not wait for lease expiry. */
    dispatcher_release_idle(w->disp, NULL, NULL, wk_left_ms(end, WK_RELEASE_FLOOR_MS));
    /* librdkafka < 2.3.0 (issue #4312) aborts in
     * rd_kafka_sticky_assignor_state_destroy when a cooperative-sticky
     * consumer is closed after its JoinGroup but before its first
     * assignment arrived (the assignor state is still NULL). A member that
     * joined is let finish that first rebalance, within the same deadline;
     * one that never joined has no assignor and closes at once. */
    while (!w->assigned_once && wk_joined(w) && worker_time_mono_ms() < end)
        wk_poll_callbacks(w);
    if (!w->assigned_once && wk_joined(w))
        log_warn("Closing the consumer before its first assignment arrived");
    rd_kafka_consumer_close(w->rk);
    log_info("Left consumer group");
    return rc;
}

int worker_run(worker *w, const atomic_int *stop, char *err, size_t errlen) {
    if (wk_subscribe(w, err, errlen) != 0)
        return WORKER_RUN_NOT_STARTED;
    int64_t last_store = worker_time_mono_ms();
    while (!atomic_load(stop)) {
        int64_t now = worker_time_mono_ms();
        atomic_store(&w->loop_tick, now);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, POLL_MS);
        if (m) {
            wk_handle_message(w, m);
            rd_kafka_message_destroy(m);
        }
        if (now - last_store >= OFFSET_STORE_MS) {
            wk_store_offsets(w);
            wk_backpressure(w);
            last_store = now;
        }
    }
    return wk_shutdown(w, err, errlen);
}

void worker_free(worker *w) {
    if (w == NULL)
        return;
    dispatcher_free(w->disp); /* releases every lease still held */
    if (w->rk)
        rd_kafka_destroy(w->rk);
    /* After a shutdown, what is left of its deadline (the events are in
     * their outboxes, the dead letters' offsets unstored: both replay). */
    publisher_free(w->pub, w->shutdown_end ? (int)wk_left_ms(w->shutdown_end, 0) : 10000);
    processor_free(w->proc);
    offset_tracker_free(w->tracker);
    pthread_mutex_destroy(&w->assignment_mu);
    free(w->assignment);
    if (w->owned)
        rd_kafka_topic_partition_list_destroy(w->owned);
    free(w);
}

/* Whether Kafka has recovered from the error recorded at `err_at`. Quiet
 * is no proof: librdkafka reports a broker's repeated identical errors once
 * per 30 s (rd_kafka_broker_fail), so a broker down for good went quiet for
 * 30 s at a time and /readyz said 200 mid-outage (tests/integration
 * kafka_outage). Once the error is older than KAFKA_ERROR_MEMORY_MS, a
 * metadata request (thread-safe; at most KAFKA_PROBE_MS) asks a broker; an
 * answer clears the error, unless a newer one arrived meanwhile. */
static int wk_kafka_recovered(worker *w, long long err_at) {
    if (err_at == 0)
        return 1;
    long long now = worker_time_mono_ms();
    if (now - err_at < KAFKA_ERROR_MEMORY_MS)
        return 0;
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(w->rk, 0, NULL, &md, KAFKA_PROBE_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        long long expected = err_at;
        atomic_compare_exchange_strong(&w->kafka_error_at, &expected, now);
        return 0;
    }
    rd_kafka_metadata_destroy(md);
    atomic_compare_exchange_strong(&w->kafka_error_at, &err_at, 0);
    return 1;
}

int worker_ready(worker *w, char *reason, size_t cap) {
    if (atomic_load(&w->stopping)) {
        snprintf(reason, cap, "shutting down");
        return 0;
    }
    if (!wk_kafka_recovered(w, atomic_load(&w->kafka_error_at)) || !publisher_healthy(w->pub)) {
        snprintf(reason, cap, "kafka: unreachable or failing");
        return 0;
    }
    if (!processor_storage_healthy(w->proc)) {
        snprintf(reason, cap, "storage: unreachable or failing");
        return 0;
    }
    return 1;
}

int worker_alive(worker *w) {
    /* The loop polls every POLL_MS; a rebalance drain may hold it for up
     * to the drain timeout. */
    return worker_time_mono_ms() - atomic_load(&w->loop_tick) < w->drain_timeout_ms + 10000;
}

void worker_collect_metrics(worker *w) {
    metrics_record_leases_held(lease_manager_held_count(w->leases));
    /* Lag from the cached high watermarks (updated by fetches, no request)
     * and the consumer's position; thread-safe librdkafka calls. */
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(w->rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_position(w->rk, assigned);
    int64_t lag = 0;
    for (int i = 0; i < assigned->cnt; i++) {
        int64_t low, high;
        const rd_kafka_topic_partition_t *tp = &assigned->elems[i];
        if (tp->offset >= 0 &&
            rd_kafka_get_watermark_offsets(w->rk, tp->topic, tp->partition, &low, &high) == 0 &&
            high > tp->offset)
            lag += high - tp->offset;
    }
    rd_kafka_topic_partition_list_destroy(assigned);
    metrics_record_consumer_lag(lag);
}

char *worker_assignment_json(worker *w) {
    pthread_mutex_lock(&w->assignment_mu);
    char *copy = strdup(w->assignment ? w->assignment
                                      : "{\"strategy\":null,\"coPartitioned\":null,\"partitions\":[]}");
    pthread_mutex_unlock(&w->assignment_mu);
    return copy;
}

char *worker_leases_json(worker *w) {
    return processor_leases_json(w->proc);
}

static size_t wk_key_queued(const char *product_id, void *arg) {
    return dispatcher_key_queued(arg, product_id);
}

char *worker_blocked_json(worker *w) {
    return processor_blocked_json(w->proc, wk_key_queued, w->disp);
}

int worker_blocked_action(worker *w, const char *product_id, int dead_letter) {
    if (processor_blocked_action(w->proc, product_id,
                                 dead_letter ? PROCESSOR_ACTION_DEAD_LETTER
                                             : PROCESSOR_ACTION_RETRY) != 0)
        return -1;
    dispatcher_wake(w->disp, product_id);
    return 0;
}
