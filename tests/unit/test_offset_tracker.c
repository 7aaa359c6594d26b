/* test_offset_tracker.c -- unit tests for worker/offset_tracker.c: only the
 * contiguous prefix of finished offsets becomes storable, per partition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <string.h>

#include "offset_tracker.h"

static int setup(void **state) {
    *state = offset_tracker_new();
    return *state ? 0 : -1;
}

static int teardown(void **state) {
    offset_tracker_free(*state);
    return 0;
}

static void test_offset_tracker_position_contiguous_prefix(void **state) {
    offset_tracker *t = *state;
    for (int64_t o = 10; o < 15; o++)
        assert_int_equal(offset_tracker_seen(t, "a", 0, o), 0);
    assert_int_equal(offset_tracker_position(t, "a", 0), 10);
    offset_tracker_finish(t, "a", 0, 12);
    offset_tracker_finish(t, "a", 0, 13);
    assert_int_equal(offset_tracker_position(t, "a", 0), 10); /* 10 still pending */
    offset_tracker_finish(t, "a", 0, 10);
    assert_int_equal(offset_tracker_position(t, "a", 0), 11);
    offset_tracker_finish(t, "a", 0, 11);
    assert_int_equal(offset_tracker_position(t, "a", 0), 14);
    assert_int_equal(offset_tracker_pending(t, "a", 0), 1);
    offset_tracker_finish(t, "a", 0, 14);
    assert_int_equal(offset_tracker_position(t, "a", 0), 15);
    assert_int_equal(offset_tracker_pending(t, NULL, 0), 0);
}

static void test_offset_tracker_partitions_independent(void **state) {
    offset_tracker *t = *state;
    offset_tracker_seen(t, "a", 0, 5);
    offset_tracker_seen(t, "a", 1, 7);
    offset_tracker_seen(t, "b", 0, 9);
    offset_tracker_finish(t, "a", 1, 7);
    assert_int_equal(offset_tracker_position(t, "a", 0), 5);
    assert_int_equal(offset_tracker_position(t, "a", 1), 8);
    assert_int_equal(offset_tracker_position(t, "b", 0), 9);
    assert_int_equal(offset_tracker_position(t, "c", 0), -1);
    assert_int_equal(offset_tracker_pending(t, NULL, 0), 2);
}

static void test_offset_tracker_finish_unknown_ignored(void **state) {
    offset_tracker *t = *state;
    offset_tracker_seen(t, "a", 0, 1);
    offset_tracker_finish(t, "a", 0, 99); /* never seen */
    offset_tracker_finish(t, "z", 3, 1);  /* unknown partition */
    assert_int_equal(offset_tracker_position(t, "a", 0), 1);
    offset_tracker_seen(t, "a", 0, 1); /* not above the last seen: ignored */
    assert_int_equal(offset_tracker_pending(t, "a", 0), 1);
}

static void test_offset_tracker_revoke_forgets(void **state) {
    offset_tracker *t = *state;
    offset_tracker_assign(t, "a", 0);
    assert_int_equal(offset_tracker_position(t, "a", 0), -1);
    offset_tracker_seen(t, "a", 0, 3);
    offset_tracker_revoke(t, "a", 0);
    offset_tracker_finish(t, "a", 0, 3); /* late batch after revocation */
    assert_int_equal(offset_tracker_position(t, "a", 0), -1);
    assert_int_equal(offset_tracker_pending(t, NULL, 0), 0);
}

typedef struct collected {
    int calls;
    char topic[16];
    int32_t partition;
    int64_t position;
} collected;

static void collect_fn(const char *topic, int32_t partition, int64_t position, void *opaque) {
    collected *c = opaque;
    c->calls++;
    strcpy(c->topic, topic);
    c->partition = partition;
    c->position = position;
}

static void test_offset_tracker_collect_reports_changes_once(void **state) {
    offset_tracker *t = *state;
    collected c = {0};
    offset_tracker_seen(t, "a", 2, 0);
    offset_tracker_seen(t, "a", 2, 1);
    offset_tracker_finish(t, "a", 2, 0);
    offset_tracker_collect(t, collect_fn, &c);
    assert_int_equal(c.calls, 1);
    assert_string_equal(c.topic, "a");
    assert_int_equal(c.partition, 2);
    assert_int_equal(c.position, 1);
    offset_tracker_collect(t, collect_fn, &c);
    assert_int_equal(c.calls, 1); /* unchanged: not reported again */
    offset_tracker_finish(t, "a", 2, 1);
    offset_tracker_collect(t, collect_fn, &c);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.position, 2);
}

static void test_offset_tracker_many_offsets_grow(void **state) {
    offset_tracker *t = *state;
    for (int64_t o = 0; o < 10000; o++)
        offset_tracker_seen(t, "a", 0, o);
    for (int64_t o = 9999; o >= 1; o--) /* finish in reverse: nothing storable */
        offset_tracker_finish(t, "a", 0, o);
    assert_int_equal(offset_tracker_position(t, "a", 0), 0);
    offset_tracker_finish(t, "a", 0, 0);
    assert_int_equal(offset_tracker_position(t, "a", 0), 10000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offset_tracker_position_contiguous_prefix, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offset_tracker_partitions_independent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offset_tracker_finish_unknown_ignored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offset_tracker_revoke_forgets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_tracker_collect_reports_changes_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_offset_tracker_many_offsets_grow, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
