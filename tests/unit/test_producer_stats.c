/* test_producer_stats.c -- unit tests for producer/src/stats.c: nearest-rank
 * percentiles and the sample summary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "stats.h"

static void test_stats_percentile_nearest_rank(void **state) {
    const int64_t v[] = {1, 2, 3, 4};
    assert_int_equal(stats_percentile(v, 4, 50), 2);
    assert_int_equal(stats_percentile(v, 4, 75), 3);
    assert_int_equal(stats_percentile(v, 4, 76), 4);
    assert_int_equal(stats_percentile(v, 4, 99), 4);
    assert_int_equal(stats_percentile(v, 4, 100), 4);
    assert_int_equal(stats_percentile(v, 4, 0), 1);
}

static void test_stats_percentile_empty_and_single(void **state) {
    const int64_t one[] = {42};
    assert_int_equal(stats_percentile(NULL, 0, 50), 0);
    assert_int_equal(stats_percentile(one, 1, 1), 42);
    assert_int_equal(stats_percentile(one, 1, 99), 42);
}

static void test_stats_samples_summary_hundred(void **state) {
    stats_samples *s = stats_samples_new();
    assert_non_null(s);
    /* 100 down to 1, so the summary must sort. */
    for (int i = 100; i >= 1; i--)
        assert_int_equal(stats_samples_add(s, i * 10), 0);
    stats_summary sum;
    assert_int_equal(stats_samples_summary(s, &sum), 0);
    assert_int_equal(sum.count, 100);
    assert_int_equal(sum.min, 10);
    assert_int_equal(sum.p50, 500);
    assert_int_equal(sum.p95, 950);
    assert_int_equal(sum.p99, 990);
    assert_int_equal(sum.max, 1000);
    assert_true(sum.mean == 505.0);
    stats_samples_free(s);
}

static void test_stats_samples_summary_empty(void **state) {
    stats_samples *s = stats_samples_new();
    stats_summary sum;
    assert_int_equal(stats_samples_summary(s, &sum), 0);
    assert_int_equal(sum.count, 0);
    assert_int_equal(sum.p99, 0);
    stats_samples_free(s);
    stats_samples_free(NULL);
}

static void test_stats_samples_add_grows(void **state) {
    stats_samples *s = stats_samples_new();
    for (int i = 0; i < 5000; i++)
        assert_int_equal(stats_samples_add(s, i), 0);
    stats_summary sum;
    assert_int_equal(stats_samples_summary(s, &sum), 0);
    assert_int_equal(sum.count, 5000);
    assert_int_equal(sum.p50, 2499);
    assert_int_equal(sum.p99, 4949);
    stats_samples_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_percentile_nearest_rank),
        cmocka_unit_test(test_stats_percentile_empty_and_single),
        cmocka_unit_test(test_stats_samples_summary_hundred),
        cmocka_unit_test(test_stats_samples_summary_empty),
        cmocka_unit_test(test_stats_samples_add_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
