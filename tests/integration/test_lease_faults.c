/* test_lease_faults.c -- renewal under injected transient failures, against
 * a real Azurite: the blob client's fault hook makes the next N requests
 * fail as connection errors before anything is sent.
 *   - two failures, then success: renew_failed fires for attempts 1 and 2
 *     with will_retry set, the lease is renewed and stays held;
 *   - an outage that outlasts the lease: retries continue with backoff
 *     until the safe deadline, the last failure says will_retry = 0, the
 *     lease is lost with reason "deadline" and writes are refused locally.
 * Both leases run at the same time, each on its own client.
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

#include "lease/src/blob_internal.h"
#include "lease_test_util.h"

static void test_lease_renew_retries_transient_failures(void **state)
{
    (void)state;
    lt_env ok_env, down_env;
    lt_env_init(&ok_env, "flaky");
    lt_env_init(&down_env, "down");
    lease_manager *ok_mgr = lt_manager(&ok_env, 15, "flaky-owner");
    lease_manager *down_mgr = lt_manager(&down_env, 15, "down-owner");
    lt_recorder ok_t, down_t;
    lt_recorder_init(&ok_t);
    lt_recorder_init(&down_t);
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.callbacks = lt_recorder_callbacks(&ok_t);
    lease *ok = NULL, *down = NULL;
    lease_error err;
    assert_int_equal(lease_try_acquire(ok_mgr, "flaky", &ao, &ok, &err), LEASE_OK);
    ao.callbacks = lt_recorder_callbacks(&down_t);
    assert_int_equal(lease_try_acquire(down_mgr, "down", &ao, &down, &err), LEASE_OK);

    /* Nothing else uses these clients now: the faults hit the renewals. */
    blob_client_inject_fault(ok_env.client, BLOB_FAULT_CONNECT, 2);
    blob_client_inject_fault(down_env.client, BLOB_FAULT_CONNECT, 1000000);

    /* Deadlines: one lease duration plus request slack. */
    lt_await_renewed_or_lost(&ok_t, 25000);
    lt_await_renewed_or_lost(&down_t, 25000);

    assert_int_equal(ok_t.lost, 0);
    assert_int_equal(ok_t.renewed >= 1, 1);
    assert_int_equal(ok_t.failed, 2);
    assert_int_equal(ok_t.attempt[0], 1);
    assert_int_equal(ok_t.attempt[1], 2);
    assert_int_equal(ok_t.will_retry[0], 1);
    assert_int_equal(ok_t.will_retry[1], 1);
    assert_true(lease_is_held(ok));
    assert_int_equal(lease_renewal_count(ok), (uint64_t)ok_t.renewed);

    assert_int_equal(down_t.lost, 1);
    assert_int_equal(down_t.reason, LEASE_LOST_DEADLINE);
    assert_int_equal(down_t.renewed, 0);
    assert_true(down_t.failed >= 2 && down_t.failed <= LT_MAX_FAILS);
    for (int i = 0; i < down_t.failed; i++) {
        assert_int_equal(down_t.attempt[i], i + 1);
        assert_int_equal(down_t.will_retry[i], i < down_t.failed - 1);
    }
    printf("# outage: %d attempts before the deadline\n", down_t.failed);
    assert_false(lease_is_held(down));
    assert_int_equal(lease_write(down, "x", 1, NULL, NULL, &err), LEASE_ERR_LOST);
    assert_int_equal(err.storage.code, BLOB_OK);

    blob_client_inject_fault(down_env.client, BLOB_FAULT_NONE, 0);
    lease_free(ok);
    lease_free(down);
    lease_manager_free(ok_mgr);
    lease_manager_free(down_mgr);
    lt_recorder_destroy(&ok_t);
    lt_recorder_destroy(&down_t);
    lt_env_cleanup(&ok_env);
    lt_env_cleanup(&down_env);
}

static void test_lease_acquire_retries_transient_failures(void **state)
{
    (void)state;
    lt_env env;
    lt_env_init(&env, "acq");
    lease_manager *m = lt_manager(&env, 15, "acq-owner");
    lease *l = NULL;
    lease_error err;
    /* Create the lock blob first so the faults hit the lease requests. */
    assert_int_equal(lease_try_acquire(m, "retry", NULL, &l, &err), LEASE_OK);
    lease_free(l);
    blob_client_inject_fault(env.client, BLOB_FAULT_CONNECT, 2);
    assert_int_equal(lease_try_acquire(m, "retry", NULL, &l, &err), LEASE_ERR_STORAGE);
    assert_int_equal(err.storage.code, BLOB_ERR_TRANSIENT);
    assert_null(l);
    /* One fault left: lease_acquire backs off and tries again. */
    assert_int_equal(lease_acquire(m, "retry", NULL, 10000, &l, &err), LEASE_OK);
    assert_int_equal(lease_epoch(l), 2);
    lease_free(l);
    lease_manager_free(m);
    lt_env_cleanup(&env);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_renew_retries_transient_failures),
        cmocka_unit_test(test_lease_acquire_retries_transient_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
