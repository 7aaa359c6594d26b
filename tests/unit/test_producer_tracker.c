/* test_producer_tracker.c -- unit tests for producer/src/tracker.c and
 * sender.c against librdkafka's in-process mock cluster (no services):
 * an outcome published after registration wakes its waiter with the event;
 * events of other commands, re-emitted duplicates and undecodable records
 * are counted, not matched; a failed command wakes its waiter at once; a
 * missing outcome times out; records older than the tracker are not read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sender.h"
#include "tracker.h"

#define EVENTS "inventory.events"

typedef struct fixture {
    rd_kafka_t *rk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mock;
    sender *sender;
    char brokers[256];
} fixture;

static int setup(void **state) {
    static fixture f;
    char err[256];
    memset(&f, 0, sizeof(f));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    f.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(f.rk);
    f.mock = rd_kafka_mock_cluster_new(f.rk, 1);
    assert_non_null(f.mock);
    assert_int_equal(rd_kafka_mock_topic_create(f.mock, EVENTS, 3, 1), 0);
    snprintf(f.brokers, sizeof(f.brokers), "%s", rd_kafka_mock_cluster_bootstraps(f.mock));
    f.sender = sender_new(f.brokers, NULL, NULL, err, sizeof(err));
    assert_non_null(f.sender);
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    sender_free(f->sender);
    rd_kafka_mock_cluster_destroy(f->mock);
    rd_kafka_destroy(f->rk);
    return 0;
}

/* Publishes the outcome event of `command_id` and waits for its delivery. */
static void publish_event(fixture *f, const char *command_id, inv_event_type type) {
    inv_event ev;
    char err[256];
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    snprintf(ev.command_id, sizeof(ev.command_id), "%s", command_id);
    inv_event_id(command_id, type, ev.event_id);
    snprintf(ev.product_id, sizeof(ev.product_id), "PROD-001");
    snprintf(ev.customer_id, sizeof(ev.customer_id), "CUST-1");
    snprintf(ev.reservation_id, sizeof(ev.reservation_id), "R-1");
    snprintf(ev.message, sizeof(ev.message), "ok");
    if (inv_event_type_is_rejection(type))
        snprintf(ev.reason, sizeof(ev.reason), "unknown_reservation");
    ev.quantity = 10;
    ev.total = 100;
    ev.available = 90;
    ev.reserved = 10;
    ev.epoch = 4;
    ev.timestamp_ms = 1700000000000;
    ev.expires_at_ms = 1700001800000;
    char *json = inv_event_encode(&ev);
    assert_non_null(json);
    assert_int_equal(
        sender_send(f->sender, EVENTS, ev.product_id, json, strlen(json), NULL, err, sizeof(err)),
        0);
    free(json);
    assert_int_equal(sender_flush(f->sender, 10000), 0);
}

static tracker *new_tracker(fixture *f) {
    char err[256];
    tracker_options o = {.brokers = f->brokers, .events_topic = EVENTS};
    tracker *t = tracker_new(&o, err, sizeof(err));
    assert_non_null(t);
    return t;
}

static void test_tracker_wait_gets_its_outcome(void **state) {
    fixture *f = *state;
    char err[256];
    publish_event(f, "old-command", INV_EV_RESERVATION_CREATED); /* before the tracker */
    tracker *t = new_tracker(f);
    assert_int_equal(tracker_expect(t, "cmd-1", 1), 0);
    publish_event(f, "someone-else", INV_EV_STOCK_RESTOCKED);
    publish_event(f, "cmd-1", INV_EV_RESERVATION_CREATED);
    inv_event ev;
    assert_int_equal(tracker_wait(t, "cmd-1", 20000, &ev, err, sizeof(err)), 0);
    assert_int_equal(ev.type, INV_EV_RESERVATION_CREATED);
    assert_string_equal(ev.command_id, "cmd-1");
    assert_int_equal(ev.available, 90);
    assert_int_equal(ev.epoch, 4);
    /* "someone-else" may sit on another partition and arrive after cmd-1:
     * poll the counts with a deadline (each round waits up to 50 ms for a
     * second match that cannot come). */
    tracker_counts c;
    for (int i = 0; i < 200; i++) {
        tracker_get_counts(t, &c);
        if (c.unmatched >= 1)
            break;
        tracker_wait_matched(t, 2, 50);
    }
    assert_int_equal(c.matched, 1);
    assert_int_equal(c.unmatched, 1); /* "someone-else"; "old-command" predates the tracker */
    tracker_free(t);
}

static void test_tracker_wait_times_out_and_fails_fast(void **state) {
    fixture *f = *state;
    char err[256];
    inv_event ev;
    tracker *t = new_tracker(f);
    assert_int_equal(tracker_expect(t, "never", 1), 0);
    assert_int_equal(tracker_wait(t, "never", 200, &ev, err, sizeof(err)), 1);
    assert_string_equal(err, "no outcome for command never within 200 ms");
    assert_int_equal(tracker_expect(t, "doomed", 1), 0);
    tracker_fail(t, "doomed", "publish to x: Broker: boom");
    assert_int_equal(tracker_wait(t, "doomed", 60000, &ev, err, sizeof(err)), -1);
    assert_string_equal(err, "publish to x: Broker: boom");
    assert_int_equal(tracker_wait(t, "unknown", 10, &ev, err, sizeof(err)), -1);
    assert_string_equal(err, "command unknown: not registered");
    tracker_free(t);
}

typedef struct seen {
    int first, repeated;
} seen;

static void on_event(const inv_event *ev, int64_t latency_us, int first, void *opaque) {
    seen *s = opaque;
    if (first)
        s->first++;
    else
        s->repeated++;
}

static void test_tracker_counts_repeats_and_garbage(void **state) {
    fixture *f = *state;
    char err[256];
    seen s = {0, 0};
    tracker_options o = {
        .brokers = f->brokers, .events_topic = EVENTS, .on_event = on_event, .opaque = &s};
    tracker *t = tracker_new(&o, err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(tracker_expect(t, "load-1", 0), 0);
    assert_int_equal(tracker_expect(t, "load-1", 0), 0); /* a duplicate send: no-op */
    assert_int_equal(tracker_expect(t, "load-2", 0), 0);
    assert_int_equal(
        sender_send(f->sender, EVENTS, "PROD-001", "not json", 8, NULL, err, sizeof(err)), 0);
    publish_event(f, "load-1", INV_EV_RESERVATION_CREATED);
    publish_event(f, "load-2", INV_EV_RELEASE_REJECTED);
    assert_int_equal(tracker_wait_matched(t, 2, 20000), 0);
    publish_event(f, "load-1", INV_EV_RESERVATION_CREATED); /* re-emitted */
    tracker_counts c;
    for (int i = 0; i < 400; i++) {
        tracker_get_counts(t, &c);
        if (c.repeated == 1)
            break;
        tracker_wait_matched(t, 3, 50); /* poll with a deadline, as above */
    }
    assert_int_equal(c.matched, 2);
    assert_int_equal(c.repeated, 1);
    assert_int_equal(c.undecodable, 1);
    assert_int_equal(s.first, 2);
    assert_int_equal(s.repeated, 1);
    tracker_free(t);
}

static void test_tracker_new_unknown_topic(void **state) {
    fixture *f = *state;
    char err[256];
    /* The mock cluster creates topics on demand unless told otherwise. */
    rd_kafka_mock_topic_set_error(f->mock, "no.such.topic",
                                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    tracker_options o = {.brokers = f->brokers, .events_topic = "no.such.topic"};
    assert_null(tracker_new(&o, err, sizeof(err)));
    assert_string_equal(err, "topic no.such.topic: Broker: Unknown topic or partition");
}

/* sender_prepare fetches a topic's metadata ahead of the first send, and
 * names the topic when the cluster says it does not exist. */
static void test_sender_prepare_fetches_topic_metadata(void **state) {
    fixture *f = *state;
    char err[256] = "";
    assert_int_equal(sender_prepare(f->sender, EVENTS, 10000, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    rd_kafka_mock_topic_set_error(f->mock, "cold.topic", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    assert_int_equal(sender_prepare(f->sender, "cold.topic", 10000, err, sizeof(err)), -1);
    assert_string_equal(err, "metadata of cold.topic: Broker: Unknown topic or partition");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sender_prepare_fetches_topic_metadata),
        cmocka_unit_test(test_tracker_wait_gets_its_outcome),
        cmocka_unit_test(test_tracker_wait_times_out_and_fails_fast),
        cmocka_unit_test(test_tracker_counts_repeats_and_garbage),
        cmocka_unit_test(test_tracker_new_unknown_topic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
