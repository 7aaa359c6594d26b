/* test_publisher.c -- unit tests for worker/publisher.c without a broker:
 * publisher_abandon ends the wait for delivery reports that cannot come (the
 * bootstrap address has no listener and the delivery timeout is 10 min), and
 * closing frees the abandoned batch through the purge's reports (the ASan
 * build checks for leaks). Without publisher_abandon the sender would block
 * for the whole delivery timeout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "publisher.h"

#define DELIVERY_TIMEOUT_MS 600000

typedef struct sender {
    publisher *pub;
    inv_event events[2];
    int rc;
    char err[256];
} sender;

static publisher *new_unreachable_publisher(void) {
    /* Port 1 on loopback: nothing listens, every connection is refused. */
    publisher_options o = {"127.0.0.1:1", "test-publisher", "t.events", "t.dlq",
                           DELIVERY_TIMEOUT_MS};
    char err[256];
    publisher *p = publisher_new(&o, err, sizeof(err));
    if (p == NULL)
        fail_msg("publisher_new: %s", err);
    return p;
}

static void sender_init(sender *s, publisher *p) {
    memset(s, 0, sizeof(*s));
    s->pub = p;
    for (int i = 0; i < 2; i++) {
        inv_event *ev = &s->events[i];
        ev->type = INV_EV_STOCK_RESTOCKED;
        snprintf(ev->command_id, sizeof(ev->command_id), "cmd-%d", i);
        inv_event_id(ev->command_id, ev->type, ev->event_id);
        snprintf(ev->product_id, sizeof(ev->product_id), "PROD-1");
        ev->quantity = ev->total = ev->available = 5;
        snprintf(ev->message, sizeof(ev->message), "Restocked 5 units of PROD-1");
    }
}

static void *sender_run(void *arg) {
    sender *s = arg;
    s->rc = publisher_send_events(s->pub, s->events, 2, s->err, sizeof(s->err));
    return NULL;
}

static void test_publisher_abandon_ends_waiting_send(void **state) {
    (void)state;
    publisher *p = new_unreachable_publisher();
    sender s;
    sender_init(&s, p);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sender_run, &s), 0);
    publisher_abandon(p);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(s.rc, -1);
    /* Abandoned while waiting, or before it produced anything. */
    if (strcmp(s.err, "deliver 2 events to t.events: abandoned at shutdown") != 0)
        assert_string_equal(s.err, "publish 2 events: abandoned at shutdown");
    publisher_free(p, 0);
}

static void test_publisher_abandon_refuses_later_sends(void **state) {
    (void)state;
    publisher *p = new_unreachable_publisher();
    publisher_abandon(p);
    sender s;
    sender_init(&s, p);
    sender_run(&s);
    assert_int_equal(s.rc, -1);
    assert_string_equal(s.err, "publish 2 events: abandoned at shutdown");
    publisher_free(p, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publisher_abandon_ends_waiting_send),
        cmocka_unit_test(test_publisher_abandon_refuses_later_sends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
