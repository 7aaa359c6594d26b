/* test_state_blob.c -- the "nextexpiry" metadata hint of common/state_blob.c:
 * what a fenced write records, and how the reconciler reads it back from a
 * listing. (Reading state blobs is covered through the admin API and
 * reconciler tests.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "state_blob.h"

#define NOW_MS 1800000000000LL

static void add_reservation(inv_state *st, const char *id, int64_t expires_at_ms) {
    inv_reservation r = {.quantity = 1, .created_at_ms = NOW_MS - 1000,
                         .expires_at_ms = expires_at_ms};
    snprintf(r.reservation_id, sizeof(r.reservation_id), "%s", id);
    snprintf(r.customer_id, sizeof(r.customer_id), "CUST-1");
    assert_int_equal(inv_state_add_reservation(st, &r), 0);
    st->reserved += 1;
}

static void test_state_blob_meta_set_next_expiry_earliest(void **state) {
    (void)state;
    inv_state st;
    inv_state_init(&st, "PROD-1");
    blob_meta meta = {0};
    assert_int_equal(blob_meta_set(&meta, "leaseholdepoch", "4"), BLOB_OK);
    add_reservation(&st, "R-1", NOW_MS + 300);
    add_reservation(&st, "R-2", NOW_MS + 100); /* the earliest is not the first */
    add_reservation(&st, "R-3", NOW_MS + 200);
    assert_int_equal(state_blob_meta_set_next_expiry(&meta, &st), 0);
    assert_string_equal(blob_meta_get(&meta, "nextexpiry"), "1800000000100");
    assert_string_equal(blob_meta_get(&meta, "leaseholdepoch"), "4");
    assert_int_equal(meta.count, 2);
    inv_state_clear(&st);

    /* Rewritten, not added again, once the last reservation is gone. */
    inv_state_init(&st, "PROD-1");
    assert_int_equal(state_blob_meta_set_next_expiry(&meta, &st), 0);
    assert_string_equal(blob_meta_get(&meta, "nextexpiry"), "none");
    assert_int_equal(meta.count, 2);
    inv_state_clear(&st);
}

static void test_state_blob_meta_set_next_expiry_full(void **state) {
    (void)state;
    inv_state st;
    inv_state_init(&st, "PROD-1");
    blob_meta meta = {0};
    char name[16];
    for (int i = 0; i < BLOB_META_MAX; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        assert_int_equal(blob_meta_set(&meta, name, "v"), BLOB_OK);
    }
    assert_int_equal(state_blob_meta_set_next_expiry(&meta, &st), -1);
    assert_null(blob_meta_get(&meta, "nextexpiry"));
    inv_state_clear(&st);
}

static state_blob_due due_of(const char *name, const char *value, int64_t now_ms) {
    blob_meta meta = {0};
    if (name)
        assert_int_equal(blob_meta_set(&meta, name, value), BLOB_OK);
    return state_blob_meta_due(&meta, now_ms);
}

static void test_state_blob_meta_due(void **state) {
    (void)state;
    assert_int_equal(due_of(NULL, NULL, NOW_MS), STATE_BLOB_DUE_UNKNOWN); /* older writer */
    assert_int_equal(due_of("leaseholdepoch", "3", NOW_MS), STATE_BLOB_DUE_UNKNOWN);
    assert_int_equal(due_of("nextexpiry", "none", NOW_MS), STATE_BLOB_DUE_LATER);
    assert_int_equal(due_of("nextexpiry", "1800000000000", NOW_MS), STATE_BLOB_DUE_NOW);
    assert_int_equal(due_of("nextexpiry", "1799999999999", NOW_MS), STATE_BLOB_DUE_NOW);
    assert_int_equal(due_of("nextexpiry", "1800000000001", NOW_MS), STATE_BLOB_DUE_LATER);
    assert_int_equal(due_of("nextexpiry", "0", NOW_MS), STATE_BLOB_DUE_NOW);
    /* Listings spell names as the service likes (Azurite: "Nextexpiry"). */
    assert_int_equal(due_of("Nextexpiry", "1", NOW_MS), STATE_BLOB_DUE_NOW);
    const char *bad[] = {"", " 1", "+1", "-1", "12a", "None", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(due_of("nextexpiry", bad[i], NOW_MS), STATE_BLOB_DUE_UNKNOWN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_blob_meta_set_next_expiry_earliest),
        cmocka_unit_test(test_state_blob_meta_set_next_expiry_full),
        cmocka_unit_test(test_state_blob_meta_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
