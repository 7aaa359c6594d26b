/* test_lease_options.c -- validation through the public lease API, with no
 * service: every check below fails before any request is sent (the client
 * points at Azurite's address but is never used).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "leasehold/lease.h"

static int setup(void **state)
{
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = "UseDevelopmentStorage=true";
    blob_error be;
    *state = blob_client_new(&o, &be);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    blob_client_free(*state);
    return 0;
}

static void test_lease_manager_new_rejects_bad_options(void **state)
{
    lease_manager_options o;
    lease_error err;
    lease_manager_options_init(&o);
    assert_null(lease_manager_new(NULL, &o, &err));
    assert_int_equal(err.code, LEASE_ERR_INVALID);
    assert_string_equal(err.message, "lease manager: client is NULL");

    o.duration_s = 10;
    assert_null(lease_manager_new(*state, &o, &err));
    assert_int_equal(err.code, LEASE_ERR_INVALID);
    assert_string_equal(err.message,
                        "lease manager: duration_s: must be 15..60 or -1 (infinite), got 10");

    lease_manager_options_init(&o);
    o.renew_interval_ms = 29000;
    assert_null(lease_manager_new(*state, &o, &err));
    assert_string_equal(err.message,
                        "lease manager: renew_interval_ms: 29000 ms plus max_renew_retries (3) x "
                        "retry_max_ms (2000 ms) plus safety_margin_ms (2000 ms) exceed the 30 s "
                        "lease duration");
}

static void test_lease_manager_new_defaults(void **state)
{
    lease_error err;
    lease_manager *m = lease_manager_new(*state, NULL, &err);
    assert_non_null(m);
    assert_int_equal(err.code, LEASE_OK);
    /* Default owner: hostname-pid. */
    char suffix[32];
    snprintf(suffix, sizeof(suffix), "-%ld", (long)getpid());
    const char *owner = lease_manager_owner_id(m);
    assert_true(strlen(owner) > strlen(suffix));
    assert_string_equal(owner + strlen(owner) - strlen(suffix), suffix);
    assert_int_equal(lease_manager_held_count(m), 0);
    lease_manager_free(m);
    lease_manager_free(NULL);
}

static void test_lease_try_acquire_validates_per_call_duration(void **state)
{
    lease_manager_options o;
    lease_manager_options_init(&o);
    o.renew_interval_ms = 20000; /* fine for the 30 s default ... */
    lease_error err;
    lease_manager *m = lease_manager_new(*state, &o, &err);
    assert_non_null(m);
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.duration_s = 15; /* ... not for 15 s */
    lease *l = (lease *)&ao;
    assert_int_equal(lease_try_acquire(m, "orders", &ao, &l, &err), LEASE_ERR_INVALID);
    assert_null(l);
    assert_string_equal(err.message,
                        "acquire orders: renew_interval_ms: 20000 ms plus max_renew_retries (3) x "
                        "retry_max_ms (2000 ms) plus safety_margin_ms (2000 ms) exceed the 15 s "
                        "lease duration");
    ao.duration_s = 90;
    assert_int_equal(lease_acquire(m, "orders", &ao, 1000, &l, &err), LEASE_ERR_INVALID);
    assert_string_equal(err.message,
                        "acquire orders: duration_s: must be 15..60 or -1 (infinite), got 90");
    lease_manager_free(m);
}

static void test_lease_try_acquire_rejects_bad_targets(void **state)
{
    lease_error err;
    lease_manager *m = lease_manager_new(*state, NULL, &err);
    lease *l = NULL;
    assert_int_equal(lease_try_acquire(m, NULL, NULL, &l, &err), LEASE_ERR_INVALID);
    assert_string_equal(err.message, "acquire: lease name must be 1-1000 characters");
    assert_int_equal(lease_try_acquire(m, "", NULL, &l, &err), LEASE_ERR_INVALID);
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.container = "inventory";
    assert_int_equal(lease_try_acquire(m, "x", &ao, &l, &err), LEASE_ERR_INVALID);
    assert_string_equal(err.message, "acquire: acquire options need both container and blob");
    assert_int_equal(lease_break(m, "x", NULL, 61, &err), LEASE_ERR_INVALID);
    assert_string_equal(err.message, "break: break_period_s must be -1..60, got 61");
    assert_int_equal(lease_try_acquire(NULL, "x", NULL, &l, &err), LEASE_ERR_INVALID);
    lease_manager_free(m);
}

static void test_lease_election_start_rejects_bad_arguments(void **state)
{
    lease_manager_options o;
    lease_manager_options_init(&o);
    o.auto_renew = 0;
    lease_error err;
    lease_manager *m = lease_manager_new(*state, &o, &err);
    assert_non_null(m);
    assert_null(lease_election_start(m, "boss", "node-1", NULL, &err));
    assert_string_equal(err.message, "election boss: needs a manager with auto_renew on");
    assert_null(lease_election_start(m, "boss", "", NULL, &err));
    assert_int_equal(err.code, LEASE_ERR_INVALID);
    lease_election_free(NULL);
    lease_free(NULL);
    lease_abandon(NULL);
    lease_manager_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_manager_new_rejects_bad_options),
        cmocka_unit_test(test_lease_manager_new_defaults),
        cmocka_unit_test(test_lease_try_acquire_validates_per_call_duration),
        cmocka_unit_test(test_lease_try_acquire_rejects_bad_targets),
        cmocka_unit_test(test_lease_election_start_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
