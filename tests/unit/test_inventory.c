/* test_inventory.c -- unit tests for worker/inventory.c: every command and
 * outcome with exact numbers, replays, client retries, unknown products. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"

#define NOW 1700000000000LL
#define TOPIC "inventory.reservations"

typedef struct fixture {
    inv_state st;
    int exists;
    int64_t next_offset;
} fixture;

static int setup(void **state) {
    static fixture f;
    memset(&f, 0, sizeof(f));
    inv_state_init(&f.st, "PROD-001");
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    inv_state_clear(&f->st);
    return 0;
}

static inv_command make_cmd(inv_command_type type, const char *command_id, long long qty,
                            const char *customer, const char *reservation) {
    inv_command c;
    memset(&c, 0, sizeof(c));
    c.type = type;
    snprintf(c.command_id, sizeof(c.command_id), "%s", command_id);
    snprintf(c.product_id, sizeof(c.product_id), "PROD-001");
    c.quantity = qty;
    snprintf(c.customer_id, sizeof(c.customer_id), "%s", customer ? customer : "");
    snprintf(c.reservation_id, sizeof(c.reservation_id), "%s", reservation ? reservation : "");
    c.ttl_seconds = type == INV_CMD_RESERVE ? INV_DEFAULT_TTL_S : 0;
    return c;
}

/* Applies at the next offset of TOPIC/0 at time NOW + dt_ms. */
static inventory_result apply_at(fixture *f, const inv_command *c, int64_t dt_ms, inv_event *ev) {
    inventory_source src = {TOPIC, 0, f->next_offset++};
    return inventory_apply(&f->st, &f->exists, c, &src, 7, NOW + dt_ms, ev);
}

static void restock(fixture *f, const char *id, long long qty) {
    inv_command c = make_cmd(INV_CMD_RESTOCK, id, qty, NULL, NULL);
    inv_event ev;
    assert_int_equal(apply_at(f, &c, 0, &ev), INVENTORY_APPLIED);
}

static void test_inventory_apply_restock_creates_product(void **state) {
    fixture *f = *state;
    inv_command c = make_cmd(INV_CMD_RESTOCK, "cmd-1", 100, NULL, NULL);
    inv_event ev;
    assert_int_equal(apply_at(f, &c, 0, &ev), INVENTORY_APPLIED);
    assert_int_equal(f->exists, 1);
    assert_int_equal(ev.type, INV_EV_STOCK_RESTOCKED);
    assert_int_equal(ev.quantity, 100);
    assert_int_equal(ev.total, 100);
    assert_int_equal(ev.available, 100);
    assert_int_equal(ev.reserved, 0);
    assert_int_equal(ev.epoch, 7);
    assert_int_equal(ev.timestamp_ms, NOW);
    char id[INV_ID_MAX + 1];
    inv_event_id("cmd-1", INV_EV_STOCK_RESTOCKED, id);
    assert_string_equal(ev.event_id, id);
    assert_int_equal(f->st.n_outbox, 1);
    assert_int_equal(f->st.n_ledger, 1);
    assert_int_equal(inv_state_offset_get(&f->st, TOPIC, 0), 0);

    c = make_cmd(INV_CMD_RESTOCK, "cmd-2", 50, NULL, NULL);
    assert_int_equal(apply_at(f, &c, 0, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.total, 150);
    assert_int_equal(ev.available, 150);
    assert_int_equal(f->st.total, 150);
}

static void test_inventory_apply_unknown_product_rejected(void **state) {
    fixture *f = *state;
    inv_event ev;
    inv_command r = make_cmd(INV_CMD_RESERVE, "r-1", 5, "CUST-1", NULL);
    assert_int_equal(apply_at(f, &r, 0, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.type, INV_EV_RESERVATION_REJECTED);
    assert_string_equal(ev.reason, "unknown_product");
    inv_command rel = make_cmd(INV_CMD_RELEASE, "rel-1", 5, "CUST-1", NULL);
    assert_int_equal(apply_at(f, &rel, 0, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.type, INV_EV_RELEASE_REJECTED);
    assert_string_equal(ev.reason, "unknown_product");
    inv_command ex = make_cmd(INV_CMD_EXPIRE, "ex-1", 0, NULL, "R-x");
    assert_int_equal(apply_at(f, &ex, 0, &ev), INVENTORY_NOOP);
    assert_int_equal(f->exists, 0);
    assert_int_equal(f->st.total, 0);
    assert_int_equal(f->st.n_reservations, 0);
}

static void test_inventory_apply_reserve_success(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 100);
    inv_command c = make_cmd(INV_CMD_RESERVE, "r-1", 10, "CUST-123", NULL);
    inv_event ev;
    assert_int_equal(apply_at(f, &c, 5, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.type, INV_EV_RESERVATION_CREATED);
    assert_int_equal(ev.quantity, 10);
    assert_int_equal(ev.total, 100);
    assert_int_equal(ev.available, 90);
    assert_int_equal(ev.reserved, 10);
    assert_string_equal(ev.customer_id, "CUST-123");
    assert_string_equal(ev.message, "Successfully reserved 10 units of PROD-001 for CUST-123");
    assert_int_equal(ev.expires_at_ms, NOW + 5 + 1800LL * 1000);
    char rid[INV_ID_MAX + 1];
    inventory_reservation_id("r-1", rid);
    assert_string_equal(ev.reservation_id, rid);
    assert_int_equal(strlen(rid), 26);
    assert_int_equal(f->st.n_reservations, 1);
    assert_string_equal(f->st.reservations[0].reservation_id, rid);
    assert_int_equal(f->st.reservations[0].quantity, 10);
}

static void test_inventory_apply_reserve_custom_ttl(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 10);
    inv_command c = make_cmd(INV_CMD_RESERVE, "r-1", 1, "C", NULL);
    c.ttl_seconds = 2;
    inv_event ev;
    assert_int_equal(apply_at(f, &c, 0, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.expires_at_ms, NOW + 2000);
}

static void test_inventory_apply_reserve_insufficient_stock(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 100);
    inv_event ev;
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof(id), "r-%d", i);
        inv_command c = make_cmd(INV_CMD_RESERVE, id, 10, "CUST", NULL);
        assert_int_equal(apply_at(f, &c, 0, &ev), INVENTORY_APPLIED);
        assert_int_equal(ev.type, INV_EV_RESERVATION_CREATED);
    }
    inv_command c = make_cmd(INV_CMD_RESERVE, "r-10", 1, "CUST", NULL);
    assert_int_equal(apply_at(f, &c, 0, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.type, INV_EV_RESERVATION_REJECTED);
    assert_string_equal(ev.reason, "insufficient_stock");
    assert_int_equal(ev.available, 0);
    assert_int_equal(ev.reserved, 100);
    assert_int_equal(ev.total, 100);
    assert_string_equal(ev.message, "Insufficient stock: requested 1, available 0");
    assert_int_equal(f->st.n_reservations, 10);
}

static void test_inventory_apply_release_by_reservation_id(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 50);
    inv_event created, ev;
    inv_command r = make_cmd(INV_CMD_RESERVE, "r-1", 20, "CUST-1", NULL);
    apply_at(f, &r, 0, &created);
    inv_command rel = make_cmd(INV_CMD_RELEASE, "rel-1", 0, NULL, created.reservation_id);
    assert_int_equal(apply_at(f, &rel, 0, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.type, INV_EV_RESERVATION_RELEASED);
    assert_int_equal(ev.quantity, 20);
    assert_string_equal(ev.customer_id, "CUST-1");
    assert_string_equal(ev.reservation_id, created.reservation_id);
    assert_int_equal(ev.available, 50);
    assert_int_equal(ev.reserved, 0);
    assert_int_equal(f->st.n_reservations, 0);

    inv_command again = make_cmd(INV_CMD_RELEASE, "rel-2", 0, NULL, created.reservation_id);
    assert_int_equal(apply_at(f, &again, 0, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.type, INV_EV_RELEASE_REJECTED);
    assert_string_equal(ev.reason, "unknown_reservation");
    assert_int_equal(ev.available, 50);
}

static void test_inventory_apply_release_by_customer_oldest_first(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 100);
    inv_event ev, a, b;
    inv_command r1 = make_cmd(INV_CMD_RESERVE, "r-1", 10, "CUST-A", NULL);
    inv_command r2 = make_cmd(INV_CMD_RESERVE, "r-2", 15, "CUST-B", NULL);
    inv_command r3 = make_cmd(INV_CMD_RESERVE, "r-3", 20, "CUST-A", NULL);
    apply_at(f, &r1, 1, &a);
    apply_at(f, &r2, 2, &ev);
    apply_at(f, &r3, 3, &b);
    assert_int_equal(f->st.available, 55);

    /* 25 of CUST-A: all of the oldest (10) and 15 of the next (20 -> 5). */
    inv_command rel = make_cmd(INV_CMD_RELEASE, "rel-1", 25, "CUST-A", NULL);
    assert_int_equal(apply_at(f, &rel, 4, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.type, INV_EV_RESERVATION_RELEASED);
    assert_int_equal(ev.quantity, 25);
    assert_string_equal(ev.reservation_id, a.reservation_id);
    assert_int_equal(ev.available, 80);
    assert_int_equal(ev.reserved, 20);
    assert_null(inv_state_find_reservation(&f->st, a.reservation_id));
    assert_int_equal(inv_state_find_reservation(&f->st, b.reservation_id)->quantity, 5);

    /* More than held: releases what is left (5). */
    inv_command rel2 = make_cmd(INV_CMD_RELEASE, "rel-2", 50, "CUST-A", NULL);
    assert_int_equal(apply_at(f, &rel2, 5, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.quantity, 5);
    assert_int_equal(ev.available, 85);
    assert_int_equal(ev.reserved, 15);

    /* Nothing left for CUST-A. */
    inv_command rel3 = make_cmd(INV_CMD_RELEASE, "rel-3", 1, "CUST-A", NULL);
    assert_int_equal(apply_at(f, &rel3, 6, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.type, INV_EV_RELEASE_REJECTED);
    assert_string_equal(ev.reason, "no_reservation");
    assert_int_equal(f->st.total, 100);
    assert_int_equal(f->st.available + f->st.reserved, 100);
}

static void test_inventory_apply_expire_only_when_due(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 30);
    inv_event created, ev;
    inv_command r = make_cmd(INV_CMD_RESERVE, "r-1", 12, "CUST", NULL);
    r.ttl_seconds = 60;
    apply_at(f, &r, 0, &created);
    inv_command ex = make_cmd(INV_CMD_EXPIRE, "expire-1", 0, NULL, created.reservation_id);
    assert_int_equal(apply_at(f, &ex, 59999, &ev), INVENTORY_NOOP);
    assert_int_equal(f->st.available, 18);
    size_t outbox = f->st.n_outbox;

    inv_command ex2 = make_cmd(INV_CMD_EXPIRE, "expire-2", 0, NULL, created.reservation_id);
    assert_int_equal(apply_at(f, &ex2, 60000, &ev), INVENTORY_APPLIED);
    assert_int_equal(f->st.n_outbox, outbox + 1);
    assert_int_equal(ev.type, INV_EV_RESERVATION_EXPIRED);
    assert_int_equal(ev.quantity, 12);
    assert_string_equal(ev.reservation_id, created.reservation_id);
    assert_string_equal(ev.customer_id, "CUST");
    assert_int_equal(ev.available, 30);
    assert_int_equal(ev.reserved, 0);

    inv_command ex3 = make_cmd(INV_CMD_EXPIRE, "expire-3", 0, NULL, created.reservation_id);
    assert_int_equal(apply_at(f, &ex3, 70000, &ev), INVENTORY_NOOP);
}

static void test_inventory_apply_replayed_offset_skipped(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 10);
    inv_command c = make_cmd(INV_CMD_RESERVE, "r-1", 4, "C", NULL);
    inventory_source src = {TOPIC, 0, 41};
    inv_event ev;
    assert_int_equal(inventory_apply(&f->st, &f->exists, &c, &src, 1, NOW, &ev), INVENTORY_APPLIED);
    size_t outbox = f->st.n_outbox;
    inv_command other = make_cmd(INV_CMD_RESERVE, "r-2", 4, "C", NULL);
    src.offset = 40; /* older offset of the same partition */
    assert_int_equal(inventory_apply(&f->st, &f->exists, &other, &src, 1, NOW, &ev),
                     INVENTORY_REPLAY);
    src.offset = 41;
    assert_int_equal(inventory_apply(&f->st, &f->exists, &c, &src, 1, NOW, &ev), INVENTORY_REPLAY);
    assert_int_equal(f->st.n_outbox, outbox);
    assert_int_equal(f->st.available, 6);
    /* Another partition has its own position. */
    inventory_source src1 = {TOPIC, 1, 5};
    assert_int_equal(inventory_apply(&f->st, &f->exists, &other, &src1, 1, NOW, &ev),
                     INVENTORY_APPLIED);
    assert_int_equal(f->st.available, 2);
}

static void test_inventory_apply_duplicate_command_same_event(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 10);
    inv_command c = make_cmd(INV_CMD_RESERVE, "r-1", 4, "C", NULL);
    inv_event first, dup;
    assert_int_equal(apply_at(f, &c, 0, &first), INVENTORY_APPLIED);
    size_t outbox = f->st.n_outbox;
    /* Pending original: re-emitted as is, not queued twice. */
    assert_int_equal(apply_at(f, &c, 10, &dup), INVENTORY_DUPLICATE);
    assert_string_equal(dup.event_id, first.event_id);
    assert_int_equal(dup.available, 6);
    assert_int_equal(f->st.n_outbox, outbox);

    /* Published (outbox emptied): rebuilt from the ledger, same id and type. */
    f->st.n_outbox = 0;
    assert_int_equal(apply_at(f, &c, 20, &dup), INVENTORY_DUPLICATE);
    assert_string_equal(dup.event_id, first.event_id);
    assert_int_equal(dup.type, INV_EV_RESERVATION_CREATED);
    assert_string_equal(dup.reservation_id, first.reservation_id);
    assert_int_equal(dup.expires_at_ms, first.expires_at_ms);
    assert_int_equal(dup.available, 6);
    assert_int_equal(dup.reserved, 4);
    assert_int_equal(f->st.n_outbox, 1);
    assert_int_equal(f->st.available, 6);
    assert_int_equal(f->st.n_reservations, 1);
}

/* A re-emission equals the original but for the time and the quantities,
 * and is a valid event. */
static void assert_same_outcome(const inv_event *a, const inv_event *b) {
    char *json = inv_event_encode(a), err[256];
    assert_non_null(json);
    inv_event back;
    assert_int_equal(inv_event_decode(json, strlen(json), &back, err, sizeof(err)), 0);
    free(json);
    assert_string_equal(a->event_id, b->event_id);
    assert_int_equal(a->type, b->type);
    assert_string_equal(a->command_id, b->command_id);
    assert_string_equal(a->product_id, b->product_id);
    assert_string_equal(a->reason, b->reason);
    assert_string_equal(a->customer_id, b->customer_id);
    assert_string_equal(a->reservation_id, b->reservation_id);
    assert_int_equal(a->quantity, b->quantity);
    assert_int_equal(a->expires_at_ms, b->expires_at_ms);
    assert_string_equal(a->message, b->message);
    assert_int_equal(a->epoch, b->epoch);
}

static void test_inventory_apply_duplicate_release_rebuilt_exactly(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 10);
    inv_command res = make_cmd(INV_CMD_RESERVE, "r-1", 4, "CUST-1", NULL);
    inv_event created, first, dup;
    apply_at(f, &res, 0, &created);
    /* By reservation id: the command names no customer, the event must. */
    inv_command rel = make_cmd(INV_CMD_RELEASE, "rel-1", 0, NULL, created.reservation_id);
    assert_int_equal(apply_at(f, &rel, 5, &first), INVENTORY_APPLIED);
    f->st.n_outbox = 0;
    restock(f, "s-2", 3);
    assert_int_equal(apply_at(f, &rel, 50, &dup), INVENTORY_DUPLICATE);
    assert_same_outcome(&dup, &first);
    assert_string_equal(dup.customer_id, "CUST-1");
    assert_int_equal(dup.quantity, 4);
    assert_int_equal(dup.available, 13);
}

static void test_inventory_apply_duplicate_rejection_keeps_type(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 1);
    inv_command c = make_cmd(INV_CMD_RESERVE, "r-big", 5, "C", NULL);
    inv_event first, dup;
    apply_at(f, &c, 0, &first);
    f->st.n_outbox = 0;
    restock(f, "s-2", 10); /* now it would succeed, but it is a retry */
    assert_int_equal(apply_at(f, &c, 0, &dup), INVENTORY_DUPLICATE);
    assert_int_equal(dup.type, INV_EV_RESERVATION_REJECTED);
    assert_string_equal(dup.reason, "insufficient_stock");
    assert_same_outcome(&dup, &first);
    assert_int_equal(f->st.available, 11);
    assert_int_equal(f->st.n_reservations, 0);
}

static void test_inventory_apply_ledger_bounded(void **state) {
    fixture *f = *state;
    restock(f, "s-0", 1000000);
    inv_event ev;
    for (int i = 0; i < INV_LEDGER_MAX + 10; i++) {
        char id[32];
        snprintf(id, sizeof(id), "s-%d", i + 1);
        inv_command c = make_cmd(INV_CMD_RESTOCK, id, 1, NULL, NULL);
        assert_int_equal(apply_at(f, &c, 0, &ev), INVENTORY_APPLIED);
        f->st.n_outbox = 0;
    }
    assert_int_equal(f->st.n_ledger, INV_LEDGER_MAX);
    /* The oldest ids left the window: a retry of s-0 would apply again. */
    assert_null(inv_state_ledger_find(&f->st, "s-0"));
    assert_non_null(inv_state_ledger_find(&f->st, "s-266"));
}

static void test_inventory_apply_restock_over_limit_rejected(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 1000000);
    f->st.total = INVENTORY_MAX_TOTAL - 5;
    f->st.available = INVENTORY_MAX_TOTAL - 5 - f->st.reserved;
    inv_command c = make_cmd(INV_CMD_RESTOCK, "s-2", 6, NULL, NULL);
    inv_event ev;
    assert_int_equal(apply_at(f, &c, 0, &ev), INVENTORY_APPLIED);
    assert_int_equal(ev.type, INV_EV_RESTOCK_REJECTED);
    assert_string_equal(ev.reason, "stock_limit");
    assert_int_equal(f->st.total, INVENTORY_MAX_TOTAL - 5);
}

static void test_inventory_apply_state_roundtrip_keeps_dedupe(void **state) {
    fixture *f = *state;
    restock(f, "s-1", 10);
    inv_command c = make_cmd(INV_CMD_RESERVE, "r-1", 3, "C", NULL);
    inv_event first, dup;
    apply_at(f, &c, 0, &first);
    char *json = inv_state_encode(&f->st);
    assert_non_null(json);
    inv_state copy;
    char err[256];
    assert_int_equal(inv_state_decode(json, strlen(json), &copy, err, sizeof(err)), 0);
    free(json);
    int exists = 1;
    inventory_source src = {TOPIC, 0, 1}; /* replay of the reserve's offset */
    assert_int_equal(inventory_apply(&copy, &exists, &c, &src, 7, NOW, &dup), INVENTORY_REPLAY);
    src.offset = 99; /* client retry at a new offset */
    assert_int_equal(inventory_apply(&copy, &exists, &c, &src, 7, NOW, &dup), INVENTORY_DUPLICATE);
    assert_string_equal(dup.event_id, first.event_id);
    assert_int_equal(copy.available, 7);
    inv_state_clear(&copy);
}

int main(void) {
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_inventory_apply_restock_creates_product),
        T(test_inventory_apply_unknown_product_rejected),
        T(test_inventory_apply_reserve_success),
        T(test_inventory_apply_reserve_custom_ttl),
        T(test_inventory_apply_reserve_insufficient_stock),
        T(test_inventory_apply_release_by_reservation_id),
        T(test_inventory_apply_release_by_customer_oldest_first),
        T(test_inventory_apply_expire_only_when_due),
        T(test_inventory_apply_replayed_offset_skipped),
        T(test_inventory_apply_duplicate_command_same_event),
        T(test_inventory_apply_duplicate_rejection_keeps_type),
        T(test_inventory_apply_ledger_bounded),
        T(test_inventory_apply_duplicate_release_rebuilt_exactly),
        T(test_inventory_apply_restock_over_limit_rejected),
        T(test_inventory_apply_state_roundtrip_keeps_dedupe),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
