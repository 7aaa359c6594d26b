/* test_inventory_schema_state.c -- unit tests of the product state blob
 * codec and the worker's state helpers (reservations, ledger, applied
 * offsets, outbox): exact round trips including large arrays, invariant
 * checks, ledger eviction order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leasehold/inventory_schema.h"

static inv_reservation make_reservation(size_t i)
{
    inv_reservation r = {.quantity = (long long)(i % 7) + 1, .created_at_ms = 1700000000000LL + (int64_t)i,
                         .expires_at_ms = 1700001800000LL + (int64_t)i};
    snprintf(r.reservation_id, sizeof r.reservation_id, "res-%zu", i);
    snprintf(r.customer_id, sizeof r.customer_id, "cust-%zu", i % 13);
    return r;
}

static inv_event make_event(size_t i)
{
    inv_event ev = {.type = INV_EV_RESERVATION_RELEASED, .quantity = 2, .total = 50, .available = 40,
                    .reserved = 10, .epoch = 7, .timestamp_ms = 1700000000500LL};
    snprintf(ev.command_id, sizeof ev.command_id, "cmd-%zu", i);
    inv_event_id(ev.command_id, ev.type, ev.event_id);
    strcpy(ev.product_id, "PROD-001");
    strcpy(ev.customer_id, "cust-1");
    strcpy(ev.message, "Released 2 units");
    return ev;
}

/* A state with n reservations, a full ledger, 3 offsets and 2 pending events. */
static void build_state(inv_state *st, size_t n)
{
    inv_state_init(st, "PROD-001");
    for (size_t i = 0; i < n; i++) {
        inv_reservation r = make_reservation(i);
        assert_int_equal(inv_state_add_reservation(st, &r), 0);
        st->reserved += r.quantity;
    }
    st->available = 123456789012LL;
    st->total = st->available + st->reserved;
    /* Every ledger field in use: releases with a reservation and an
     * expiry, and every third a rejection with a reason. */
    for (size_t i = 0; i < INV_LEDGER_MAX; i++) {
        inv_event ev = make_event(i);
        snprintf(ev.reservation_id, sizeof ev.reservation_id, "res-%zu", i);
        ev.expires_at_ms = 1700000001000LL + (int64_t)i;
        if (i % 3 == 0) {
            ev.type = INV_EV_RELEASE_REJECTED;
            inv_event_id(ev.command_id, ev.type, ev.event_id);
            strcpy(ev.reason, "unknown_reservation");
        }
        assert_int_equal(inv_state_ledger_add(st, &ev, (int64_t)i), 0);
    }
    assert_int_equal(inv_state_offset_set(st, "inventory.reservations", 3, 42), 0);
    assert_int_equal(inv_state_offset_set(st, "inventory.releases", 0, 0), 0);
    assert_int_equal(inv_state_offset_set(st, "inventory.restocks", 11, 9007199254740993LL), 0);
    for (size_t i = 0; i < 2; i++) {
        inv_event ev = make_event(i);
        assert_int_equal(inv_state_outbox_add(st, &ev), 0);
    }
    st->updated_at_ms = 1700000009999LL;
}

static void assert_states_equal(const inv_state *a, const inv_state *b)
{
    assert_string_equal(a->product_id, b->product_id);
    assert_int_equal(a->total, b->total);
    assert_int_equal(a->available, b->available);
    assert_int_equal(a->reserved, b->reserved);
    assert_int_equal(a->updated_at_ms, b->updated_at_ms);
    assert_int_equal(a->n_reservations, b->n_reservations);
    assert_int_equal(a->n_offsets, b->n_offsets);
    assert_int_equal(a->n_ledger, b->n_ledger);
    assert_int_equal(a->n_outbox, b->n_outbox);
    if (a->n_reservations)
        assert_memory_equal(a->reservations, b->reservations, a->n_reservations * sizeof *a->reservations);
    if (a->n_offsets)
        assert_memory_equal(a->offsets, b->offsets, a->n_offsets * sizeof *a->offsets);
    if (a->n_ledger)
        assert_memory_equal(a->ledger, b->ledger, a->n_ledger * sizeof *a->ledger);
    if (a->n_outbox)
        assert_memory_equal(a->outbox, b->outbox, a->n_outbox * sizeof *a->outbox);
}

static void round_trip(size_t n)
{
    inv_state st, back;
    build_state(&st, n);
    char *s = inv_state_encode(&st);
    assert_non_null(s);
    char err[256] = "";
    assert_int_equal(inv_state_decode(s, strlen(s), &back, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_states_equal(&st, &back);
    char *again = inv_state_encode(&back);
    assert_string_equal(s, again);
    free(again);
    free(s);
    inv_state_clear(&st);
    inv_state_clear(&back);
}

static void test_inv_state_encode_round_trip_small(void **state)
{
    round_trip(3);
}

static void test_inv_state_encode_round_trip_large(void **state)
{
    /* ~600 KiB: the state blob is no Kafka message, the 64 KiB limit does
     * not apply to it. */
    round_trip(5000);
}

static void test_inv_state_encode_empty_exact(void **state)
{
    inv_state st;
    inv_state_init(&st, "P-1");
    char *s = inv_state_encode(&st);
    assert_non_null(s);
    assert_string_equal(s, "{\"schemaVersion\":1,\"productId\":\"P-1\",\"total\":0,\"available\":0,\"reserved\":0,"
                           "\"reservations\":[],\"appliedOffsets\":{},\"ledger\":[],\"outbox\":[],"
                           "\"updatedAtMs\":0}");
    free(s);
    inv_state_clear(&st);
}

static void expect_state_error(const char *json, const char *message)
{
    inv_state st;
    char err[256] = "";
    assert_int_equal(inv_state_decode(json, strlen(json), &st, err, sizeof err), -1);
    assert_string_equal(err, message);
    assert_null(st.reservations); /* nothing left to free */
    assert_null(st.outbox);
}

#define STATE_HEAD "{\"schemaVersion\":1,\"productId\":\"P\",\"updatedAtMs\":1,"

static void test_inv_state_decode_invariants(void **state)
{
    expect_state_error(STATE_HEAD "\"total\":10,\"available\":5,\"reserved\":4,\"reservations\":[],"
                                  "\"appliedOffsets\":{},\"ledger\":[],\"outbox\":[]}",
                       "total: must equal available + reserved");
    expect_state_error(STATE_HEAD "\"total\":10,\"available\":6,\"reserved\":4,\"reservations\":["
                                  "{\"reservationId\":\"r\",\"customerId\":\"c\",\"quantity\":3,\"createdAtMs\":1,"
                                  "\"expiresAtMs\":2}],\"appliedOffsets\":{},\"ledger\":[],\"outbox\":[]}",
                       "reserved: must equal the sum of reservation quantities (3)");
}

static void test_inv_state_decode_nested_errors(void **state)
{
    expect_state_error(STATE_HEAD "\"total\":3,\"available\":0,\"reserved\":3,\"reservations\":["
                                  "{\"reservationId\":\"r\",\"customerId\":\"c\",\"quantity\":3,\"createdAtMs\":1}],"
                                  "\"appliedOffsets\":{},\"ledger\":[],\"outbox\":[]}",
                       "reservations[0].expiresAtMs: required");
    expect_state_error(STATE_HEAD "\"total\":0,\"available\":0,\"reserved\":0,\"reservations\":[],"
                                  "\"appliedOffsets\":{\"t/1\":-1},\"ledger\":[],\"outbox\":[]}",
                       "appliedOffsets.t/1: must be an integer of at least 0");
    expect_state_error(STATE_HEAD "\"total\":0,\"available\":0,\"reserved\":0,\"reservations\":[],"
                                  "\"appliedOffsets\":{\"t/01\":1},\"ledger\":[],\"outbox\":[]}",
                       "appliedOffsets: key 't/01' must match ^[A-Za-z0-9._-]+/(0|[1-9][0-9]{0,9})$ "
                       "(at most 159 characters)");
    expect_state_error(STATE_HEAD "\"total\":0,\"available\":0,\"reserved\":0,\"reservations\":[],"
                                  "\"appliedOffsets\":{},\"ledger\":[{\"commandId\":\"c\",\"outcome\":\"x.y\","
                                  "\"eventId\":\"e\",\"appliedAtMs\":1}],\"outbox\":[]}",
                       "ledger[0].outcome: unknown event type 'x.y'");
    expect_state_error(STATE_HEAD "\"total\":0,\"available\":0,\"reserved\":0,\"reservations\":[],"
                                  "\"appliedOffsets\":{},\"ledger\":[],\"outbox\":[{\"schemaVersion\":1,"
                                  "\"type\":\"stock.restocked\",\"eventId\":\"e\",\"commandId\":\"c\","
                                  "\"productId\":\"P\",\"quantity\":\"1\"}]}",
                       "outbox[0].quantity: must be an integer");
    expect_state_error(STATE_HEAD "\"total\":0,\"available\":0,\"reserved\":0,\"reservations\":[],"
                                  "\"appliedOffsets\":{},\"ledger\":[]}",
                       "outbox: required");
    expect_state_error(STATE_HEAD "\"total\":0,\"available\":0,\"reserved\":0,\"reservations\":{},"
                                  "\"appliedOffsets\":{},\"ledger\":[],\"outbox\":[]}",
                       "reservations: must be an array");
}

static void test_inv_state_decode_ledger_too_long(void **state)
{
    inv_state st;
    build_state(&st, 0);
    /* Bypass the helper's eviction to build an oversized ledger. */
    st.ledger = realloc(st.ledger, (INV_LEDGER_MAX + 1) * sizeof *st.ledger);
    assert_non_null(st.ledger);
    st.cap_ledger = INV_LEDGER_MAX + 1;
    st.ledger[INV_LEDGER_MAX] = st.ledger[0];
    strcpy(st.ledger[INV_LEDGER_MAX].command_id, "extra");
    st.n_ledger = INV_LEDGER_MAX + 1;
    char *s = inv_state_encode(&st);
    assert_non_null(s);
    inv_state back;
    char err[256] = "";
    assert_int_equal(inv_state_decode(s, strlen(s), &back, err, sizeof err), -1);
    assert_string_equal(err, "ledger: must have at most 256 entries");
    free(s);
    inv_state_clear(&st);
}

static void test_inv_state_find_reservation_and_remove(void **state)
{
    inv_state st;
    inv_state_init(&st, "P");
    for (size_t i = 0; i < 4; i++) {
        inv_reservation r = make_reservation(i);
        assert_int_equal(inv_state_add_reservation(&st, &r), 0);
    }
    inv_reservation dup = make_reservation(2);
    dup.quantity = 99;
    assert_int_equal(inv_state_add_reservation(&st, &dup), 1);
    inv_reservation *r = inv_state_find_reservation(&st, "res-2");
    assert_non_null(r);
    assert_int_equal(r->quantity, 3);
    assert_null(inv_state_find_reservation(&st, "res-9"));
    assert_int_equal(inv_state_remove_reservation(&st, "res-1"), 0);
    assert_int_equal(inv_state_remove_reservation(&st, "res-1"), -1);
    assert_int_equal(st.n_reservations, 3);
    assert_string_equal(st.reservations[0].reservation_id, "res-0");
    assert_string_equal(st.reservations[1].reservation_id, "res-2");
    assert_string_equal(st.reservations[2].reservation_id, "res-3");
    inv_state_clear(&st);
}

static void test_inv_state_ledger_add_evicts_oldest(void **state)
{
    inv_state st;
    inv_state_init(&st, "P");
    for (size_t i = 0; i < INV_LEDGER_MAX + 2; i++) {
        inv_event ev = make_event(i);
        ev.type = INV_EV_RESERVATION_CREATED;
        strcpy(ev.event_id, "ev");
        assert_int_equal(inv_state_ledger_add(&st, &ev, (int64_t)i), 0);
    }
    assert_int_equal(st.n_ledger, INV_LEDGER_MAX);
    assert_string_equal(st.ledger[0].command_id, "cmd-2");
    assert_string_equal(st.ledger[INV_LEDGER_MAX - 1].command_id, "cmd-257");
    assert_null(inv_state_ledger_find(&st, "cmd-0"));
    assert_null(inv_state_ledger_find(&st, "cmd-1"));
    const inv_ledger_entry *l = inv_state_ledger_find(&st, "cmd-100");
    assert_non_null(l);
    assert_int_equal(l->applied_at_ms, 100);
    assert_int_equal(l->outcome, INV_EV_RESERVATION_CREATED);
    assert_string_equal(l->event_id, "ev");
    assert_string_equal(l->customer_id, "cust-1");
    assert_int_equal(l->quantity, 2);
    assert_string_equal(l->message, "Released 2 units");
    inv_event again = make_event(100);
    again.type = INV_EV_RESERVATION_REJECTED;
    assert_int_equal(inv_state_ledger_add(&st, &again, 1), 1);
    assert_int_equal(inv_state_ledger_find(&st, "cmd-100")->outcome, INV_EV_RESERVATION_CREATED);
    inv_state_clear(&st);
}

static void test_inv_state_offset_get_set(void **state)
{
    inv_state st;
    inv_state_init(&st, "P");
    assert_int_equal(inv_state_offset_get(&st, "inventory.reservations", 0), -1);
    assert_int_equal(inv_state_offset_set(&st, "inventory.reservations", 0, 5), 0);
    assert_int_equal(inv_state_offset_set(&st, "inventory.reservations", 1, 6), 0);
    assert_int_equal(inv_state_offset_set(&st, "inventory.reservations", 0, 8), 0);
    assert_int_equal(inv_state_offset_get(&st, "inventory.reservations", 0), 8);
    assert_int_equal(inv_state_offset_get(&st, "inventory.reservations", 1), 6);
    assert_int_equal(st.n_offsets, 2);
    assert_string_equal(st.offsets[0].topic_partition, "inventory.reservations/0");
    char topic[200];
    memset(topic, 't', 199);
    topic[199] = '\0';
    assert_int_equal(inv_state_offset_set(&st, topic, 0, 1), -1);
    assert_int_equal(inv_state_offset_get(&st, topic, 0), -1);
    inv_state_clear(&st);
}

static void test_inv_state_outbox_add_remove(void **state)
{
    inv_state st;
    inv_state_init(&st, "P");
    inv_event a = make_event(1), b = make_event(2), c = make_event(3);
    assert_int_equal(inv_state_outbox_add(&st, &a), 0);
    assert_int_equal(inv_state_outbox_add(&st, &b), 0);
    assert_int_equal(inv_state_outbox_add(&st, &c), 0);
    assert_int_equal(inv_state_outbox_add(&st, &b), 1);
    assert_int_equal(st.n_outbox, 3);
    assert_int_equal(inv_state_outbox_remove(&st, b.event_id), 0);
    assert_int_equal(inv_state_outbox_remove(&st, b.event_id), -1);
    assert_int_equal(st.n_outbox, 2);
    assert_string_equal(st.outbox[0].event_id, a.event_id);
    assert_string_equal(st.outbox[1].event_id, c.event_id);
    inv_state_clear(&st);
}

/* The public view leaves out the ledger, offsets and outbox. */
static void test_inv_state_view_encode_shape(void **state) {
    (void)state;
    inv_state st;
    inv_state_init(&st, "PROD-001");
    st.total = 100;
    st.available = 90;
    st.reserved = 10;
    inv_reservation r = {.reservation_id = "RES-1",
                         .customer_id = "CUST-1",
                         .quantity = 10,
                         .created_at_ms = 1700000000000,
                         .expires_at_ms = 1700001800000};
    assert_int_equal(inv_state_add_reservation(&st, &r), 0);
    char *json = inv_state_view_encode(&st);
    assert_string_equal(json,
                        "{\"productId\":\"PROD-001\",\"total\":100,\"available\":90,"
                        "\"reserved\":10,\"activeReservations\":[{\"reservationId\":\"RES-1\","
                        "\"customerId\":\"CUST-1\",\"quantity\":10,\"createdAt\":1700000000000,"
                        "\"expiresAt\":1700001800000}]}");
    free(json);
    inv_state_clear(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_state_encode_round_trip_small),
        cmocka_unit_test(test_inv_state_encode_round_trip_large),
        cmocka_unit_test(test_inv_state_encode_empty_exact),
        cmocka_unit_test(test_inv_state_decode_invariants),
        cmocka_unit_test(test_inv_state_decode_nested_errors),
        cmocka_unit_test(test_inv_state_decode_ledger_too_long),
        cmocka_unit_test(test_inv_state_find_reservation_and_remove),
        cmocka_unit_test(test_inv_state_ledger_add_evicts_oldest),
        cmocka_unit_test(test_inv_state_offset_get_set),
        cmocka_unit_test(test_inv_state_outbox_add_remove),
        cmocka_unit_test(test_inv_state_view_encode_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
