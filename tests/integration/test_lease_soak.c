/* test_lease_soak.c -- auto-renewal over time against a real Azurite:
 * one 15 s lease kept by the scheduler for 45 s (three durations), checked
 * every 200 ms to never reach its safe deadline. The 2,000-lease test lives
 * in test_lease_many.c so ctest can run both at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "lease_test_util.h"

static void test_lease_auto_renew_holds_15s_lease_for_45s(void **state)
{
    (void)state;
    lt_env env;
    lt_env_init(&env, "soak");
    lease_manager *m = lt_manager(&env, 15, "soak-owner");
    lt_recorder rec;
    lease *l = lt_acquire_recorded(m, "soak", &rec);
    lease_error err;

    int64_t start = lt_now_ms(), min_remaining = INT64_MAX;
    while (lt_now_ms() - start < 45000) {
        int64_t rem = lease_remaining_ms(l);
        if (rem < min_remaining)
            min_remaining = rem;
        assert_true(rem > 0);
        assert_true(lease_is_held(l));
        lt_sleep_ms(200);
    }
    pthread_mutex_lock(&rec.mu);
    int renewed = rec.renewed, lost = rec.lost, failed = rec.failed;
    pthread_mutex_unlock(&rec.mu);
    printf("# 45 s hold: %d renewals, %d failed attempts, min remaining %lld ms\n", renewed,
           failed, (long long)min_remaining);
    assert_true(renewed >= 3);
    assert_int_equal(lost, 0);
    assert_int_equal(lease_renewal_count(l), (uint64_t)renewed);
    /* The service agrees: a fenced write still goes through. */
    assert_int_equal(lease_write(l, "still mine", 10, "text/plain", NULL, &err), LEASE_OK);
    assert_int_equal(lease_release(l, &err), LEASE_OK);
    lease_free(l);
    lt_recorder_destroy(&rec);
    lease_manager_free(m);
    lt_env_cleanup(&env);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_auto_renew_holds_15s_lease_for_45s),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
