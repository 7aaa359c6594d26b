/* load.c -- runs a load_plan against Kafka and reports what came back.
 *
 * Timing: each command is registered with the tracker just before it is
 * published, and the tracker's thread computes the latency when the
 * outcome arrives, so latencies cover publish + worker + event delivery.
 * Pacing uses absolute monotonic deadlines (start + i / rate), so a slow
 * send does not lower the average rate. Duplicates re-register the same
 * commandId (a no-op) and are not expected to produce a new outcome; invalid
 * payloads are expected on the dead-letter topic, not as outcomes.
 *
 * --latency-log FILE: one line per first outcome of the measured phase,
 * written by the tracker's thread as it arrives:
 *     SEND_UNIX_MS LATENCY_US COMMAND_ID EVENT_TYPE
 * (send time = wall clock at the outcome minus the latency), after a
 * `#` header line, so a benchmark can cut the run into phases by send time.
 */
#include "load.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "leasehold/blob.h"
#include "sender.h"
#include "stats.h"
#include "tracker.h"

#define LOAD_EVENT_TYPES (INV_EV_RESTOCK_REJECTED + 1)

typedef struct load_run_state {
    stats_samples *latency;
    char init_prefix[96];
    atomic_uint_fast64_t by_type[LOAD_EVENT_TYPES];
    atomic_uint_fast64_t failures;
    tracker *tracker;
    FILE *latency_log; /* written only by the tracker's thread; NULL = none */
} load_run_state;

static double load_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Tracker thread: outcomes of the measured phase (not the initial restock). */
static void load_on_event(const inv_event *ev, int64_t latency_us, int first, void *opaque) {
    load_run_state *st = opaque;
    if (!first || !strncmp(ev->command_id, st->init_prefix, strlen(st->init_prefix)))
        return;
    if ((unsigned)ev->type < LOAD_EVENT_TYPES)
        atomic_fetch_add(&st->by_type[ev->type], 1);
    stats_samples_add(st->latency, latency_us);
    if (st->latency_log) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long now_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        fprintf(st->latency_log, "%lld %lld %s %s\n", (now_us - (long long)latency_us) / 1000,
                (long long)latency_us, ev->command_id, inv_event_type_name(ev->type));
    }
}

/* Sender thread: a command that was never delivered will have no outcome. */
static void load_on_failed(const char *command_id, const char *error, void *opaque) {
    load_run_state *st = opaque;
    atomic_fetch_add(&st->failures, 1);
    tracker_fail(st->tracker, command_id, error);
}

char *load_invalid_payload(load_invalid_kind kind, const inv_command *cmd) {
    if (kind == LOAD_INVALID_NOT_JSON)
        return strdup("{\"type\": \"reserve\", this is not JSON");
    char *text = inv_command_encode(cmd);
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!doc)
        return NULL;
    const char *key;
    json_t *value;
    switch (kind) {
    case LOAD_INVALID_BAD_QUANTITY:
        json_object_set_new(doc, "quantity", json_integer(0));
        break;
    case LOAD_INVALID_UNKNOWN_TYPE:
        /* The type tag is whichever field holds the type name; finding it by
         * value keeps the field's name the codec's business. */
        json_object_foreach(doc, key, value) {
            if (json_is_string(value) &&
                !strcmp(json_string_value(value), inv_command_type_name(cmd->type))) {
                json_object_set_new(doc, key, json_string("teleport"));
                break;
            }
        }
        break;
    default:
        json_object_del(doc, "productId");
        break;
    }
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

/* `base`: outcomes counted before the measured phase (initial restocks). */
static void load_progress(long long done, long long total, load_run_state *st, uint64_t base,
                          int final) {
    tracker_counts c;
    tracker_get_counts(st->tracker, &c);
    int width = 30, filled = (int)(done * width / (total ? total : 1));
    char bar[31];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %3lld%% sent %lld/%lld outcomes %llu%s", bar,
            done * 100 / (total ? total : 1), done, total, (unsigned long long)(c.matched - base),
            final ? "\n" : "");
    fflush(stderr);
}

static int load_publish(sender *s, tracker *t, config *cfg, const inv_command *cmd, int expect) {
    char err[256];
    char *payload = inv_command_encode(cmd);
    if (!payload)
        return -1;
    if (expect && tracker_expect(t, cmd->command_id, 0) != 0) {
        free(payload);
        return -1;
    }
    int rc = sender_send(s, config_string(cfg, command_topic_key(cmd->type)), cmd->product_id,
                         payload, strlen(payload), cmd->command_id, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "inventory-producer: %s\n", err);
    free(payload);
    return rc;
}

/* Restocks every product and waits for the outcomes, so the measured phase
 * starts with known stock. */
static int load_initial_stock(sender *s, tracker *t, config *cfg, const load_options *o,
                              load_run_state *st, long long timeout_ms) {
    tracker_counts before;
    tracker_get_counts(t, &before);
    for (int i = 0; i < o->products; i++) {
        inv_command c;
        memset(&c, 0, sizeof(c));
        c.type = INV_CMD_RESTOCK;
        c.quantity = o->initial_stock;
        load_plan_product(o, i, c.product_id);
        snprintf(c.command_id, sizeof(c.command_id), "%s%d", st->init_prefix, i);
        if (load_publish(s, t, cfg, &c, 1) != 0)
            return -1;
    }
    sender_flush(s, SENDER_DELIVERY_TIMEOUT_MS + 5000);
    if (tracker_wait_matched(t, before.matched + (uint64_t)o->products, timeout_ms) != 0) {
        fprintf(stderr,
                "inventory-producer: initial restock: no outcome for every product within "
                "%lld ms (is a worker running?)\n",
                timeout_ms);
        return -1;
    }
    return 0;
}

static void load_summary(const load_options *o, const char *run_id, long long sent[3],
                         load_run_state *st, tracker *t, uint64_t expected, uint64_t got,
                         double sending, double elapsed) {
    tracker_counts c;
    stats_summary lat;
    tracker_get_counts(t, &c);
    stats_samples_summary(st->latency, &lat);
    long long total = sent[0] + sent[1] + sent[2];
    printf("load summary: run %s, seed %llu, %d products\n", run_id, (unsigned long long)o->seed,
           o->products);
    printf("  sent:          %lld (commands %lld, duplicates %lld, invalid %lld), delivery "
           "failures %llu\n",
           total, sent[LOAD_OP_COMMAND], sent[LOAD_OP_DUPLICATE], sent[LOAD_OP_INVALID],
           (unsigned long long)atomic_load(&st->failures));
    printf("  outcomes:     ");
    for (int i = 0; i < LOAD_EVENT_TYPES; i++) {
        uint64_t n = atomic_load(&st->by_type[i]);
        if (n)
            printf(" %s %llu", inv_event_type_name((inv_event_type)i), (unsigned long long)n);
    }
    printf("\n  missing:       %llu of %llu commands without an outcome\n",
           (unsigned long long)(expected > got ? expected - got : 0), (unsigned long long)expected);
    printf("  re-emitted:    %llu outcome events for %lld duplicates sent\n",
           (unsigned long long)c.repeated, sent[LOAD_OP_DUPLICATE]);
    printf("  dead letters:  %llu seen\n", (unsigned long long)c.dead_letters);
    printf("  latency ms:    p50 %.1f  p95 %.1f  p99 %.1f  max %.1f  (n=%zu)\n", lat.p50 / 1000.0,
           lat.p95 / 1000.0, lat.p99 / 1000.0, lat.max / 1000.0, lat.count);
    printf("  elapsed:       %.2f s sending (%.0f operations/s), %.2f s until the last outcome\n",
           sending, sending > 0 ? (double)total / sending : 0.0, elapsed);
}

int load_run(config *cfg, const load_options *o) {
    char err[512], run_id[80];
    if (o->run_id) {
        snprintf(run_id, sizeof(run_id), "%s", o->run_id);
    } else {
        char guid[37];
        blob_new_guid(guid);
        snprintf(run_id, sizeof(run_id), "load-%.8s", guid);
    }
    long long timeout_ms = config_duration_ms(cfg, "producer.outcome_timeout");
    const char *brokers = config_string(cfg, "kafka.brokers");
    load_run_state st;
    memset(&st, 0, sizeof(st));
    snprintf(st.init_prefix, sizeof(st.init_prefix), "%s-init-", run_id);
    st.latency = stats_samples_new();
    load_plan *plan = load_plan_new(o, run_id);
    tracker_options to = {.brokers = brokers,
                          .events_topic = config_string(cfg, "topic.events"),
                          .dlq_topic = config_string(cfg, "topic.dlq"),
                          .on_event = load_on_event,
                          .opaque = &st};
    tracker *t = NULL;
    sender *s = NULL;
    int exit_code = 1;
    if (!st.latency || !plan) {
        fprintf(stderr, "inventory-producer: load: out of memory\n");
        goto out;
    }
    if (o->latency_log) {
        st.latency_log = fopen(o->latency_log, "w");
        if (!st.latency_log) {
            fprintf(stderr, "inventory-producer: --latency-log %s: %s\n", o->latency_log,
                    strerror(errno));
            goto out;
        }
        fprintf(st.latency_log, "# send_unix_ms latency_us command_id event_type\n");
    }
    t = st.tracker = tracker_new(&to, err, sizeof(err));
    s = t ? sender_new(brokers, load_on_failed, &st, err, sizeof(err)) : NULL;
    if (!s) {
        fprintf(stderr, "inventory-producer: %s\n", err);
        goto out;
    }
    if (o->initial_stock > 0 && load_initial_stock(s, t, cfg, o, &st, timeout_ms) != 0)
        goto out;
    /* Latency counts from each command's send: a topic the producer has not
     * used yet would make the first ones wait for its metadata. */
    static const char *const command_topics[] = {"topic.reservations", "topic.releases",
                                                 "topic.admin"};
    for (size_t i = 0; i < 3; i++)
        if (sender_prepare(s, config_string(cfg, command_topics[i]), 10000, err, sizeof(err)) != 0)
            fprintf(stderr, "inventory-producer: load: %s (sending anyway)\n", err);
    tracker_counts base;
    tracker_get_counts(t, &base);

    int tty = isatty(STDERR_FILENO);
    long long sent[3] = {0, 0, 0};
    uint64_t expected = 0;
    double start = load_now_s(), last_progress = 0;
    for (long long i = 0; i < o->count; i++) {
        if (o->rate > 0) {
            double due = start + (double)i / o->rate, now = load_now_s();
            if (due > now) {
                struct timespec d = {(time_t)(due - now),
                                     (long)((due - now - (time_t)(due - now)) * 1e9)};
                nanosleep(&d, NULL); /* pacing, not synchronisation */
            }
        }
        load_op op;
        load_plan_next(plan, &op);
        int rc;
        if (op.kind == LOAD_OP_INVALID) {
            char *payload = load_invalid_payload(op.invalid_kind, &op.cmd);
            rc = payload
                     ? sender_send(s, config_string(cfg, "topic.reservations"), op.cmd.product_id,
                                   payload, strlen(payload), NULL, err, sizeof(err))
                     : -1;
            free(payload);
        } else {
            rc = load_publish(s, t, cfg, &op.cmd, 1);
            if (rc == 0 && op.kind == LOAD_OP_COMMAND)
                expected++;
        }
        if (rc != 0)
            goto out;
        sent[op.kind]++;
        if (tty && load_now_s() - last_progress > 0.1) {
            last_progress = load_now_s();
            load_progress(i + 1, o->count, &st, base.matched, 0);
        }
    }
    sender_flush(s, SENDER_DELIVERY_TIMEOUT_MS + 5000);
    double sending = load_now_s() - start;
    tracker_wait_matched(t, base.matched + expected, timeout_ms);
    double elapsed = load_now_s() - start;
    if (tty)
        load_progress(o->count, o->count, &st, base.matched, 1);
    tracker_counts end;
    tracker_get_counts(t, &end);
    uint64_t got = end.matched - base.matched;
    load_summary(o, run_id, sent, &st, t, expected, got, sending, elapsed);
    exit_code = got >= expected && atomic_load(&st.failures) == 0 ? 0 : 1;
out:
    sender_free(s);
    tracker_free(t); /* joins the tracker's thread, the log's only writer */
    if (st.latency_log && fclose(st.latency_log) != 0) {
        fprintf(stderr, "inventory-producer: --latency-log %s: %s\n", o->latency_log,
                strerror(errno));
        exit_code = 1;
    }
    load_plan_free(plan);
    stats_samples_free(st.latency);
    return exit_code;
}
