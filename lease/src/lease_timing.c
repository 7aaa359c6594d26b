/* lease_timing.c -- the lease engine's timing and classification rules.
 *
 * Everything here is pure: clock readings and random numbers come in as
 * arguments, so the unit tests can replay any schedule exactly. The rules:
 *   - a lease's local expiry is measured from when its acquire/renew request
 *     was SENT, so it is never later than the server's expiry;
 *   - the safe deadline is that expiry minus the safety margin; past it the
 *     holder must not act;
 *   - renewals happen every renew interval; a transient failure is retried
 *     after an exponential backoff with full jitter as long as the retry
 *     would start before the safe deadline, otherwise the lease is lost;
 *   - 409/412 lease answers mean the lease is gone now (taken or broken),
 *     404 means the blob itself is gone.
 */
#include "lease_internal.h"

#include <stdio.h>
#include <string.h>

/* Renewing more often than this only loads the service. */
#define LEASE_MIN_INTERVAL_MS 1000

/* Container names per the Blob service rules: 3-63 of [a-z0-9-]. */
static int timing_container_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

/* Metadata values must be printable ASCII; the owner id is stored there. */
static int timing_owner_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 200)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return 0;
    return 1;
}

static int timing_duration_ok(int d)
{
    return d == -1 || (d >= 15 && d <= 60);
}

int lease_timing_check_options(const lease_manager_options *o, char *msg, size_t cap)
{
    if (o->container && !timing_container_ok(o->container)) {
        snprintf(msg, cap, "container: must be 3-63 characters of a-z, 0-9 and '-', got '%s'",
                 o->container);
        return -1;
    }
    if (o->owner_id && !timing_owner_ok(o->owner_id)) {
        snprintf(msg, cap, "owner_id: must be 1-200 printable ASCII characters");
        return -1;
    }
    if (!timing_duration_ok(o->duration_s)) {
        snprintf(msg, cap, "duration_s: must be 15..60 or -1 (infinite), got %d", o->duration_s);
        return -1;
    }
    if (o->renew_interval_ms != 0 && o->renew_interval_ms < LEASE_MIN_INTERVAL_MS) {
        snprintf(msg, cap, "renew_interval_ms: must be 0 (default) or at least %d, got %d",
                 LEASE_MIN_INTERVAL_MS, o->renew_interval_ms);
        return -1;
    }
    if (o->max_renew_retries < 0 || o->max_renew_retries > 100) {
        snprintf(msg, cap, "max_renew_retries: must be 0..100, got %d", o->max_renew_retries);
        return -1;
    }
    if (o->retry_base_ms < 1) {
        snprintf(msg, cap, "retry_base_ms: must be at least 1, got %d", o->retry_base_ms);
        return -1;
    }
    if (o->retry_max_ms < o->retry_base_ms) {
        snprintf(msg, cap, "retry_max_ms: must be at least retry_base_ms (%d), got %d",
                 o->retry_base_ms, o->retry_max_ms);
        return -1;
    }
    if (o->acquire_timeout_ms < 0) {
        snprintf(msg, cap, "acquire_timeout_ms: must be >= 0, got %d", o->acquire_timeout_ms);
        return -1;
    }
    if (o->safety_margin_ms < 0 || o->safety_margin_ms >= 15000) {
        snprintf(msg, cap, "safety_margin_ms: must be 0..14999, got %d", o->safety_margin_ms);
        return -1;
    }
    if (o->renew_concurrency < 1 || o->renew_concurrency > 64) {
        snprintf(msg, cap, "renew_concurrency: must be 1..64, got %d", o->renew_concurrency);
        return -1;
    }
    return 0;
}

int lease_timing_for(const lease_manager_options *o, int duration_s, lease_timing *t, char *msg,
                     size_t cap)
{
    int d = duration_s ? duration_s : o->duration_s;
    if (!timing_duration_ok(d)) {
        snprintf(msg, cap, "duration_s: must be 15..60 or -1 (infinite), got %d", d);
        return -1;
    }
    memset(t, 0, sizeof(*t));
    t->duration_s = d;
    t->margin_ms = o->safety_margin_ms;
    t->retry_base_ms = o->retry_base_ms;
    t->retry_max_ms = o->retry_max_ms;
    t->max_retries = o->max_renew_retries;
    if (d == -1) {
        t->duration_ms = INT64_MAX;
        return 0;
    }
    t->duration_ms = (int64_t)d * 1000;
    /* Room the retries of one renewal and the margin need before expiry. */
    int64_t budget = (int64_t)o->max_renew_retries * o->retry_max_ms + o->safety_margin_ms;
    if (o->renew_interval_ms) {
        if (o->renew_interval_ms + budget > t->duration_ms) {
            snprintf(msg, cap,
                     "renew_interval_ms: %d ms plus max_renew_retries (%d) x retry_max_ms (%d ms) "
                     "plus safety_margin_ms (%d ms) exceed the %d s lease duration",
                     o->renew_interval_ms, o->max_renew_retries, o->retry_max_ms,
                     o->safety_margin_ms, d);
            return -1;
        }
        t->interval_ms = o->renew_interval_ms;
        return 0;
    }
    int64_t interval = t->duration_ms * 2 / 3;
    if (interval + budget > t->duration_ms)
        interval = t->duration_ms - budget;
    if (interval < LEASE_MIN_INTERVAL_MS) {
        snprintf(msg, cap,
                 "max_renew_retries: %d retries x retry_max_ms (%d ms) plus safety_margin_ms "
                 "(%d ms) leave no time to renew a %d s lease",
                 o->max_renew_retries, o->retry_max_ms, o->safety_margin_ms, d);
        return -1;
    }
    t->interval_ms = interval;
    return 0;
}

int64_t lease_timing_expiry(const lease_timing *t, int64_t sent_ms)
{
    return t->duration_s == -1 ? INT64_MAX : sent_ms + t->duration_ms;
}

int64_t lease_timing_safe_deadline(const lease_timing *t, int64_t expiry_ms)
{
    return expiry_ms == INT64_MAX ? INT64_MAX : expiry_ms - t->margin_ms;
}

int64_t lease_timing_next_renewal(const lease_timing *t, int64_t sent_ms)
{
    return t->duration_s == -1 ? INT64_MAX : sent_ms + t->interval_ms;
}

int64_t lease_timing_backoff_ms(int attempt, int base_ms, int cap_ms, uint32_t rnd)
{
    int64_t ceiling = base_ms;
    for (int i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    return (int64_t)(rnd % (uint64_t)(ceiling + 1));
}

/* Substring test for storage codes such as "LeaseIsBrokenAndCannotBeRenewed". */
static int timing_code_has(const blob_error *e, const char *word)
{
    return strstr(e->storage_code, word) != NULL;
}

lease_class lease_classify(const blob_error *e)
{
    switch (e->code) {
    case BLOB_OK:
        return LEASE_CLASS_OK;
    case BLOB_ERR_CONFLICT:
        if (timing_code_has(e, "Broken") || timing_code_has(e, "Breaking"))
            return LEASE_CLASS_BROKEN;
        return LEASE_CLASS_TAKEN;
    case BLOB_ERR_PRECONDITION:
        return LEASE_CLASS_TAKEN;
    case BLOB_ERR_NOT_FOUND:
        return LEASE_CLASS_GONE;
    default:
        /* Transient failures, but also auth (a token may refresh) and
         * anything unexpected: the lease may still be ours, so keep trying
         * until the safe deadline rather than give it up early. */
        return LEASE_CLASS_RETRY;
    }
}

lease_decision lease_timing_decide(const lease_timing *t, lease_class cls, int attempt,
                                   int64_t sent_ms, int64_t now_ms, int64_t safe_deadline_ms,
                                   uint32_t rnd)
{
    lease_decision d = {LEASE_ACT_LOST, 0, LEASE_LOST_DEADLINE};
    switch (cls) {
    case LEASE_CLASS_OK:
        d.action = LEASE_ACT_RENEWED;
        d.at_ms = lease_timing_next_renewal(t, sent_ms);
        return d;
    case LEASE_CLASS_TAKEN:
        d.reason = LEASE_LOST_TAKEN;
        return d;
    case LEASE_CLASS_BROKEN:
        d.reason = LEASE_LOST_BROKEN;
        return d;
    case LEASE_CLASS_GONE:
        d.reason = LEASE_LOST_GONE;
        return d;
    case LEASE_CLASS_RETRY:
        break;
    }
    int64_t at = now_ms + lease_timing_backoff_ms(attempt, t->retry_base_ms, t->retry_max_ms, rnd);
    if (at < safe_deadline_ms) {
        d.action = LEASE_ACT_RETRY;
        d.at_ms = at;
    }
    return d;
}
