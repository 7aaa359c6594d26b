/* test_lease_timing.c -- unit tests of the lease engine's pure rules:
 * option validation, expiry and renewal times, backoff with jitter, error
 * classification and the renewal state machine driven by an injected clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lease_internal.h"

static lease_manager_options defaults(void)
{
    lease_manager_options o;
    lease_manager_options_init(&o);
    return o;
}

static void test_lease_manager_options_init_defaults(void **state)
{
    (void)state;
    lease_manager_options o = defaults();
    assert_null(o.container);
    assert_int_equal(o.duration_s, 30);
    assert_int_equal(o.auto_renew, 1);
    assert_int_equal(o.renew_interval_ms, 0);
    assert_int_equal(o.max_renew_retries, 3);
    assert_int_equal(o.retry_base_ms, 200);
    assert_int_equal(o.retry_max_ms, 2000);
    assert_int_equal(o.acquire_timeout_ms, 60000);
    assert_int_equal(o.safety_margin_ms, 2000);
    assert_int_equal(o.renew_concurrency, 16);
}

static void test_lease_timing_check_options_accepts_defaults(void **state)
{
    (void)state;
    lease_manager_options o = defaults();
    char msg[300] = "";
    assert_int_equal(lease_timing_check_options(&o, msg, sizeof(msg)), 0);
}

static void test_lease_timing_check_options_names_bad_option(void **state)
{
    (void)state;
    char msg[300];
    lease_manager_options o = defaults();
    o.container = "Bad_Name";
    assert_int_equal(lease_timing_check_options(&o, msg, sizeof(msg)), -1);
    assert_string_equal(msg,
                        "container: must be 3-63 characters of a-z, 0-9 and '-', got 'Bad_Name'");
    o = defaults();
    o.duration_s = 10;
    assert_int_equal(lease_timing_check_options(&o, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "duration_s: must be 15..60 or -1 (infinite), got 10");
    o = defaults();
    o.duration_s = 61;
    assert_int_equal(lease_timing_check_options(&o, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "duration_s: must be 15..60 or -1 (infinite), got 61");
    o = defaults();
    o.renew_concurrency = 0;
    assert_int_equal(lease_timing_check_options(&o, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "renew_concurrency: must be 1..64, got 0");
    o = defaults();
    o.retry_max_ms = 100;
    assert_int_equal(lease_timing_check_options(&o, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "retry_max_ms: must be at least retry_base_ms (200), got 100");
    o = defaults();
    o.renew_interval_ms = 500;
    assert_int_equal(lease_timing_check_options(&o, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "renew_interval_ms: must be 0 (default) or at least 1000, got 500");
    o = defaults();
    o.safety_margin_ms = -1;
    assert_int_equal(lease_timing_check_options(&o, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "safety_margin_ms: must be 0..14999, got -1");
    o = defaults();
    o.owner_id = "bad\nowner";
    assert_int_equal(lease_timing_check_options(&o, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "owner_id: must be 1-200 printable ASCII characters");
    o = defaults();
    o.max_renew_retries = -1;
    assert_int_equal(lease_timing_check_options(&o, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "max_renew_retries: must be 0..100, got -1");
}

static void test_lease_timing_for_default_interval(void **state)
{
    (void)state;
    lease_manager_options o = defaults();
    lease_timing t;
    char msg[300];
    /* 30 s: 2/3 is 20 s, and 20 + 3 x 2 + 2 = 28 fits. */
    assert_int_equal(lease_timing_for(&o, 0, &t, msg, sizeof(msg)), 0);
    assert_int_equal(t.duration_s, 30);
    assert_int_equal(t.duration_ms, 30000);
    assert_int_equal(t.interval_ms, 20000);
    assert_int_equal(t.margin_ms, 2000);
    /* 60 s: 40 s. */
    assert_int_equal(lease_timing_for(&o, 60, &t, msg, sizeof(msg)), 0);
    assert_int_equal(t.interval_ms, 40000);
    /* 15 s: 2/3 would be 10 s, but 10 + 6 + 2 > 15, so 15 - 8 = 7 s. */
    assert_int_equal(lease_timing_for(&o, 15, &t, msg, sizeof(msg)), 0);
    assert_int_equal(t.interval_ms, 7000);
}

static void test_lease_timing_for_infinite(void **state)
{
    (void)state;
    lease_manager_options o = defaults();
    lease_timing t;
    char msg[300];
    assert_int_equal(lease_timing_for(&o, -1, &t, msg, sizeof(msg)), 0);
    assert_int_equal(t.duration_s, -1);
    assert_true(t.duration_ms == INT64_MAX);
    assert_int_equal(t.interval_ms, 0);
    assert_true(lease_timing_expiry(&t, 5000) == INT64_MAX);
    assert_true(lease_timing_safe_deadline(&t, INT64_MAX) == INT64_MAX);
    assert_true(lease_timing_next_renewal(&t, 5000) == INT64_MAX);
}

static void test_lease_timing_for_rejects_interval_that_leaves_no_room(void **state)
{
    (void)state;
    lease_manager_options o = defaults();
    o.renew_interval_ms = 20000;
    lease_timing t;
    char msg[300];
    /* Fine for the 30 s default ... */
    assert_int_equal(lease_timing_for(&o, 0, &t, msg, sizeof(msg)), 0);
    assert_int_equal(t.interval_ms, 20000);
    /* ... but a per-call 15 s duration is validated too. */
    assert_int_equal(lease_timing_for(&o, 15, &t, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "renew_interval_ms: 20000 ms plus max_renew_retries (3) x "
                             "retry_max_ms (2000 ms) plus safety_margin_ms (2000 ms) exceed "
                             "the 15 s lease duration");
    assert_int_equal(lease_timing_for(&o, 14, &t, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "duration_s: must be 15..60 or -1 (infinite), got 14");
}

static void test_lease_timing_for_rejects_retries_that_leave_no_room(void **state)
{
    (void)state;
    lease_manager_options o = defaults();
    o.max_renew_retries = 7;
    lease_timing t;
    char msg[300];
    assert_int_equal(lease_timing_for(&o, 15, &t, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "max_renew_retries: 7 retries x retry_max_ms (2000 ms) plus "
                             "safety_margin_ms (2000 ms) leave no time to renew a 15 s lease");
    /* The same options suit a 30 s lease: 30 - 16 = 14 s interval. */
    assert_int_equal(lease_timing_for(&o, 30, &t, msg, sizeof(msg)), 0);
    assert_int_equal(t.interval_ms, 14000);
}

static void test_lease_timing_expiry_from_send_time(void **state)
{
    (void)state;
    lease_manager_options o = defaults();
    lease_timing t;
    char msg[300];
    assert_int_equal(lease_timing_for(&o, 15, &t, msg, sizeof(msg)), 0);
    assert_int_equal(lease_timing_expiry(&t, 1000), 16000);
    assert_int_equal(lease_timing_safe_deadline(&t, 16000), 14000);
    assert_int_equal(lease_timing_next_renewal(&t, 1000), 8000);
}

static void test_lease_timing_backoff_ms_full_jitter(void **state)
{
    (void)state;
    /* Ceiling doubles from the base per attempt up to the cap; the random
     * number picks a point in [0, ceiling]. */
    assert_int_equal(lease_timing_backoff_ms(1, 200, 2000, 0), 0);
    assert_int_equal(lease_timing_backoff_ms(1, 200, 2000, 200), 200);
    assert_int_equal(lease_timing_backoff_ms(1, 200, 2000, 201), 0);
    assert_int_equal(lease_timing_backoff_ms(2, 200, 2000, 400), 400);
    assert_int_equal(lease_timing_backoff_ms(4, 200, 2000, 1600), 1600);
    assert_int_equal(lease_timing_backoff_ms(5, 200, 2000, 2000), 2000);
    assert_int_equal(lease_timing_backoff_ms(5, 200, 2000, 2001), 0);
    assert_int_equal(lease_timing_backoff_ms(1000, 200, 2000, 2000), 2000);
    assert_true(lease_timing_backoff_ms(1000, 200, 2000, UINT32_MAX) <= 2000);
}

static blob_error storage(blob_code code, long http, const char *storage_code)
{
    blob_error e;
    memset(&e, 0, sizeof(e));
    e.code = code;
    e.http_status = http;
    strcpy(e.storage_code, storage_code);
    return e;
}

static void test_lease_classify_renewal_answers(void **state)
{
    (void)state;
    blob_error e = storage(BLOB_OK, 200, "");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_OK);
    e = storage(BLOB_ERR_CONFLICT, 409, "LeaseIdMismatchWithLeaseOperation");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_TAKEN);
    e = storage(BLOB_ERR_CONFLICT, 409, "LeaseNotPresentWithLeaseOperation");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_TAKEN);
    e = storage(BLOB_ERR_CONFLICT, 409, "LeaseIsBrokenAndCannotBeRenewed");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_BROKEN);
    e = storage(BLOB_ERR_CONFLICT, 409, "LeaseIsBreakingAndCannotBeChanged");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_BROKEN);
    e = storage(BLOB_ERR_PRECONDITION, 412, "LeaseIdMismatchWithBlobOperation");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_TAKEN);
    e = storage(BLOB_ERR_NOT_FOUND, 404, "BlobNotFound");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_GONE);
    e = storage(BLOB_ERR_NOT_FOUND, 404, "ContainerNotFound");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_GONE);
    e = storage(BLOB_ERR_TRANSIENT, 503, "ServerBusy");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_RETRY);
    e = storage(BLOB_ERR_TRANSIENT, 0, "");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_RETRY);
    e = storage(BLOB_ERR_AUTH, 403, "AuthenticationFailed");
    assert_int_equal(lease_classify(&e), LEASE_CLASS_RETRY);
}

static lease_timing timing15(void)
{
    lease_manager_options o = defaults();
    lease_timing t;
    char msg[300];
    assert_int_equal(lease_timing_for(&o, 15, &t, msg, sizeof(msg)), 0);
    return t;
}

static void test_lease_timing_decide_definitive_losses(void **state)
{
    (void)state;
    lease_timing t = timing15();
    lease_decision d = lease_timing_decide(&t, LEASE_CLASS_TAKEN, 1, 7000, 7050, 13000, 0);
    assert_int_equal(d.action, LEASE_ACT_LOST);
    assert_int_equal(d.reason, LEASE_LOST_TAKEN);
    d = lease_timing_decide(&t, LEASE_CLASS_BROKEN, 1, 7000, 7050, 13000, 0);
    assert_int_equal(d.action, LEASE_ACT_LOST);
    assert_int_equal(d.reason, LEASE_LOST_BROKEN);
    d = lease_timing_decide(&t, LEASE_CLASS_GONE, 2, 7000, 7050, 13000, 0);
    assert_int_equal(d.action, LEASE_ACT_LOST);
    assert_int_equal(d.reason, LEASE_LOST_GONE);
}

static void test_lease_timing_decide_retry_until_deadline(void **state)
{
    (void)state;
    lease_timing t = timing15();
    lease_decision d = lease_timing_decide(&t, LEASE_CLASS_RETRY, 1, 7000, 7050, 13000, 100);
    assert_int_equal(d.action, LEASE_ACT_RETRY);
    assert_int_equal(d.at_ms, 7150);
    /* A retry that would start at the deadline is not attempted. */
    d = lease_timing_decide(&t, LEASE_CLASS_RETRY, 1, 12800, 12850, 13000, 150);
    assert_int_equal(d.action, LEASE_ACT_LOST);
    assert_int_equal(d.reason, LEASE_LOST_DEADLINE);
    d = lease_timing_decide(&t, LEASE_CLASS_RETRY, 1, 12800, 12850, 13000, 149);
    assert_int_equal(d.action, LEASE_ACT_RETRY);
    assert_int_equal(d.at_ms, 12999);
}

/* The ceiling of attempt n's backoff for the default options, so the
 * simulated "random" number always picks the longest wait. */
static uint32_t worst_case_rnd(int attempt)
{
    static const uint32_t ceilings[] = {200, 400, 800, 1600};
    return attempt <= 4 ? ceilings[attempt - 1] : 2000;
}

/* Drives the renewal state machine over a scripted sequence of answers on
 * an injected clock: each request takes 50 ms. Returns the decision that
 * ended the script and the send time of the last request. */
typedef struct sim {
    int64_t expiry, deadline, next, last_sent;
    int attempts;
} sim;

static lease_decision sim_run(const lease_timing *t, sim *s, const lease_class *answers, size_t n)
{
    lease_decision d = {LEASE_ACT_RENEWED, s->next, LEASE_LOST_TAKEN};
    int attempt = 1;
    for (size_t i = 0; i < n; i++) {
        int64_t sent = d.at_ms;
        s->last_sent = sent;
        s->attempts++;
        d = lease_timing_decide(t, answers[i], attempt, sent, sent + 50, s->deadline,
                                worst_case_rnd(attempt));
        if (d.action == LEASE_ACT_LOST)
            return d;
        if (d.action == LEASE_ACT_RENEWED) {
            s->expiry = lease_timing_expiry(t, sent);
            s->deadline = lease_timing_safe_deadline(t, s->expiry);
            attempt = 1;
        } else {
            attempt++;
        }
    }
    return d;
}

static void test_lease_timing_decide_outage_schedule(void **state)
{
    (void)state;
    lease_timing t = timing15();
    /* Acquired with the request sent at 0: expiry 15 s, deadline 13 s. */
    sim s = {lease_timing_expiry(&t, 0), 13000, lease_timing_next_renewal(&t, 0), 0, 0};
    assert_int_equal(s.next, 7000);
    const lease_class ok_then_outage[] = {LEASE_CLASS_OK,    LEASE_CLASS_RETRY, LEASE_CLASS_RETRY,
                                          LEASE_CLASS_RETRY, LEASE_CLASS_RETRY, LEASE_CLASS_RETRY,
                                          LEASE_CLASS_RETRY, LEASE_CLASS_RETRY};
    lease_decision d = sim_run(&t, &s, ok_then_outage, 8);
    /* Renewed at 7000 -> expiry 22000, deadline 20000, next 14000; then the
     * retries go out at 14000, 14250, 14700, 15550, 17200, 19250; the next
     * would start at 21300, past the deadline, so the lease is lost. */
    assert_int_equal(s.expiry, 22000);
    assert_int_equal(s.deadline, 20000);
    assert_int_equal(d.action, LEASE_ACT_LOST);
    assert_int_equal(d.reason, LEASE_LOST_DEADLINE);
    assert_int_equal(s.last_sent, 19250);
    assert_int_equal(s.attempts, 7);
}

static void test_lease_timing_decide_recovers_after_retries(void **state)
{
    (void)state;
    lease_timing t = timing15();
    sim s = {15000, 13000, 7000, 0, 0};
    const lease_class answers[] = {LEASE_CLASS_RETRY, LEASE_CLASS_RETRY, LEASE_CLASS_OK};
    lease_decision d = sim_run(&t, &s, answers, 3);
    /* Sent at 7000, 7250, 7700: the third renews from its send time. */
    assert_int_equal(d.action, LEASE_ACT_RENEWED);
    assert_int_equal(s.last_sent, 7700);
    assert_int_equal(s.expiry, 22700);
    assert_int_equal(s.deadline, 20700);
    assert_int_equal(d.at_ms, 14700);
}

static void test_lease_loss_reason_name_all(void **state)
{
    (void)state;
    assert_string_equal(lease_loss_reason_name(LEASE_LOST_TAKEN), "taken");
    assert_string_equal(lease_loss_reason_name(LEASE_LOST_BROKEN), "broken");
    assert_string_equal(lease_loss_reason_name(LEASE_LOST_DEADLINE), "deadline");
    assert_string_equal(lease_loss_reason_name(LEASE_LOST_GONE), "gone");
    assert_string_equal(lease_strerror(LEASE_HELD_ELSEWHERE), "held elsewhere");
    assert_string_equal(lease_strerror(LEASE_ERR_LOST), "lease lost");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_manager_options_init_defaults),
        cmocka_unit_test(test_lease_timing_check_options_accepts_defaults),
        cmocka_unit_test(test_lease_timing_check_options_names_bad_option),
        cmocka_unit_test(test_lease_timing_for_default_interval),
        cmocka_unit_test(test_lease_timing_for_infinite),
        cmocka_unit_test(test_lease_timing_for_rejects_interval_that_leaves_no_room),
        cmocka_unit_test(test_lease_timing_for_rejects_retries_that_leave_no_room),
        cmocka_unit_test(test_lease_timing_expiry_from_send_time),
        cmocka_unit_test(test_lease_timing_backoff_ms_full_jitter),
        cmocka_unit_test(test_lease_classify_renewal_answers),
        cmocka_unit_test(test_lease_timing_decide_definitive_losses),
        cmocka_unit_test(test_lease_timing_decide_retry_until_deadline),
        cmocka_unit_test(test_lease_timing_decide_outage_schedule),
        cmocka_unit_test(test_lease_timing_decide_recovers_after_retries),
        cmocka_unit_test(test_lease_loss_reason_name_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
