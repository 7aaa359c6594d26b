/* test_copartition.c -- unit tests for worker/copartition.c: the start-up
 * check of partition counts (exact error text naming every topic) and the
 * per-assignment alignment check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <string.h>

#include "copartition.h"

static const char *const TOPICS[] = {"res", "rel", "adm"};

static void test_equal_counts_pass(void **state) {
    (void)state;
    copartition_topic t[] = {{"res", 6}, {"rel", 6}, {"adm", 6}};
    char err[256] = "";
    assert_int_equal(copartition_check(t, 3, err, sizeof(err)), 0);
    assert_string_equal(err, "");
}

static void test_unequal_counts_name_every_topic(void **state) {
    (void)state;
    copartition_topic t[] = {{"res", 6}, {"rel", 3}, {"adm", 6}};
    char err[512];
    assert_int_equal(copartition_check(t, 3, err, sizeof(err)), -1);
    assert_string_equal(err, "command topics are not co-partitioned: res has 6 partitions, rel has "
                             "3 partitions, adm has 6 partitions; give them equal partition "
                             "counts so one worker owns all of a product's commands");
}

static void test_unknown_count_is_skipped_but_named(void **state) {
    (void)state;
    copartition_topic ok[] = {{"res", 6}, {"rel", -1}, {"adm", 6}};
    char err[512];
    assert_int_equal(copartition_check(ok, 3, err, sizeof(err)), 0);
    copartition_topic bad[] = {{"res", 6}, {"rel", -1}, {"adm", 12}};
    assert_int_equal(copartition_check(bad, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "rel (not created yet), adm has 12 partitions"));
}

static void test_small_buffer_is_terminated(void **state) {
    (void)state;
    copartition_topic t[] = {{"res", 1}, {"rel", 2}, {"adm", 3}};
    char err[20];
    assert_int_equal(copartition_check(t, 3, err, sizeof(err)), -1);
    assert_int_equal(strlen(err), sizeof(err) - 1);
}

static void test_aligned_assignment(void **state) {
    (void)state;
    copartition_part parts[] = {{"res", 4}, {"adm", 1}, {"rel", 1}, {"res", 1},
                                {"events", 9}, {"adm", 4}, {"rel", 4}};
    char detail[128] = "";
    assert_int_equal(copartition_aligned(TOPICS, 3, parts, 7, detail, sizeof(detail)), 1);
    assert_string_equal(detail, "");
    assert_int_equal(copartition_aligned(TOPICS, 3, NULL, 0, detail, sizeof(detail)), 1);
}

static void test_missing_partner_is_named(void **state) {
    (void)state;
    copartition_part parts[] = {{"res", 0}, {"res", 3}, {"rel", 0}, {"adm", 0}, {"adm", 3}};
    char detail[128];
    assert_int_equal(copartition_aligned(TOPICS, 3, parts, 5, detail, sizeof(detail)), 0);
    assert_string_equal(detail, "res/3 is assigned here but rel/3 is not");
    copartition_part extra[] = {{"res", 0}, {"rel", 0}, {"adm", 0}, {"adm", 5}};
    assert_int_equal(copartition_aligned(TOPICS, 3, extra, 4, detail, sizeof(detail)), 0);
    assert_string_equal(detail, "adm/5 is assigned here but res/5 is not");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_counts_pass),
        cmocka_unit_test(test_unequal_counts_name_every_topic),
        cmocka_unit_test(test_unknown_count_is_skipped_but_named),
        cmocka_unit_test(test_small_buffer_is_terminated),
        cmocka_unit_test(test_aligned_assignment),
        cmocka_unit_test(test_missing_partner_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
