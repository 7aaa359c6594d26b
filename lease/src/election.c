/* election.c -- leader election on a lease lock blob.
 *
 * How it works. A campaign thread tries to take the lock "lease-{name}"
 * with the candidate's identity written as the owner in metadata. While it
 * fails (someone else leads) it waits a jittered campaign interval (a tenth
 * of the lease duration) and tries again. Once it holds the lease,
 * `elected` fires and the thread watches the lease's safe deadline: the
 * manager's scheduler keeps pushing the deadline out with every renewal; if
 * a renewal reports the lease lost, or the deadline arrives without a
 * renewal (a pause, a partition), the thread demotes the leader and fires
 * `demoted`. The deadline lies a safety margin before the server-side
 * expiry measured from the last renewal's send time, so a new leader (who
 * can only get the lease after that expiry) never overlaps with the old
 * one. lease_election_is_leader() checks the deadline itself, so it turns
 * false at the deadline even if the campaign thread has not run yet (e.g.
 * right after a SIGCONT).
 */
#include "lease_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

struct lease_election {
    lease_manager *mgr;
    char *name;
    char *identity;
    lease_election_callbacks cb;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    int stop;
    lease *l;            /* held lease while leading; owned by the campaign thread */
    int writers;         /* lease_election_write calls using `l` */
    int leader;
    int lost;            /* the lease reported itself lost */
    int64_t lost_at_ms;
    lease_loss_reason lost_reason;
    uint64_t epoch;
    int64_t led_until_ms;
    char lease_id[64];   /* of the current or last lease */
    lease_code resign_rc;
    lease_error resign_err;
};

static void election_on_lost(lease *l, lease_loss_reason reason, int64_t last_renewal_ms,
                             void *opaque)
{
    (void)last_renewal_ms;
    lease_election *e = opaque;
    pthread_mutex_lock(&e->mu);
    if (e->l == l && !e->lost) {
        e->lost = 1;
        e->lost_reason = reason;
        e->lost_at_ms = lease_now(e->mgr);
    }
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->mu);
}

/* Leader right now: holding, not reported lost, safe deadline ahead. */
static int election_leading_locked(lease_election *e)
{
    return e->leader && !e->lost && e->l && lease_is_held(e->l);
}

/* Ends the current term (caller holds e->mu; returns with it held): waits
 * for writers, releases and frees the lease, fires `demoted`. */
static void election_step_down_locked(lease_election *e, const char *reason, int resigning)
{
    lease *l = e->l;
    int64_t now = lease_now(e->mgr);
    int64_t deadline = lease_safe_deadline_ms(l);
    int64_t end = e->lost && e->lost_at_ms < now ? e->lost_at_ms : now;
    e->led_until_ms = end < deadline ? end : deadline;
    e->leader = 0;
    e->l = NULL;
    while (e->writers)
        pthread_cond_wait(&e->cond, &e->mu);
    pthread_mutex_unlock(&e->mu);
    lease_code rc = LEASE_OK;
    lease_error err = {0};
    if (resigning)
        rc = lease_release(l, &err);
    lease_free(l);
    lease_logf(e->mgr, LOG_WARNING, "election %s: %s demoted: %s", e->name, e->identity, reason);
    if (e->cb.demoted)
        e->cb.demoted(e, reason, e->cb.opaque);
    pthread_mutex_lock(&e->mu);
    if (resigning) {
        e->resign_rc = rc;
        e->resign_err = err;
    }
}

/* Waits one campaign interval, jittered so candidates do not move in
 * lockstep: uniformly between half and all of it. The interval is a tenth
 * of the lease duration (at least 1 s, at most the renew interval): a
 * candidate only costs one request per interval, and a short interval is
 * what bounds failover to about one lease duration after a leader dies. */
static void election_pause_locked(lease_election *e)
{
    lease_timing t;
    char msg[64];
    int64_t interval = 5000;
    if (lease_timing_for(&e->mgr->opts, 0, &t, msg, sizeof(msg)) == 0 && t.interval_ms > 0) {
        interval = t.duration_ms / 10;
        if (interval < 1000)
            interval = 1000;
        if (interval > t.interval_ms)
            interval = t.interval_ms;
    }
    int64_t wait = interval / 2 + (int64_t)(lease_random() % (uint64_t)(interval / 2 + 1));
    if (!e->stop)
        lease_cond_wait_ms(&e->cond, &e->mu, wait);
}

static void *election_campaign(void *arg)
{
    lease_election *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->stop) {
        if (!e->l) {
            pthread_mutex_unlock(&e->mu);
            lease_acquire_options ao;
            memset(&ao, 0, sizeof(ao));
            ao.callbacks.lost = election_on_lost;
            ao.callbacks.opaque = e;
            lease *l = NULL;
            lease_error err;
            lease_code rc = lease_try_acquire_as(e->mgr, e->name, &ao, e->identity, &l, &err);
            if (rc != LEASE_OK && rc != LEASE_HELD_ELSEWHERE)
                lease_logf(e->mgr, LOG_WARNING, "election %s: campaign attempt failed: %s",
                           e->name, err.message);
            pthread_mutex_lock(&e->mu);
            if (rc != LEASE_OK) {
                election_pause_locked(e);
                continue;
            }
            if (e->stop) {
                /* Resigned while the attempt was out: never announced. */
                pthread_mutex_unlock(&e->mu);
                lease_free(l);
                pthread_mutex_lock(&e->mu);
                break;
            }
            e->l = l;
            e->leader = 1;
            e->lost = 0; /* a loss before this point shows in lease_is_held() */
            e->epoch = lease_epoch(l);
            snprintf(e->lease_id, sizeof(e->lease_id), "%s", lease_id(l));
            uint64_t epoch = e->epoch;
            pthread_mutex_unlock(&e->mu);
            lease_logf(e->mgr, LOG_INFO, "election %s: %s elected (epoch %llu)", e->name,
                       e->identity, (unsigned long long)epoch);
            if (e->cb.elected)
                e->cb.elected(e, epoch, e->cb.opaque);
            pthread_mutex_lock(&e->mu);
            continue;
        }
        int64_t now = lease_now(e->mgr);
        int64_t deadline = lease_safe_deadline_ms(e->l);
        if (e->lost || !lease_is_held(e->l)) {
            char reason[96];
            if (e->lost)
                snprintf(reason, sizeof(reason), "lease lost (%s)",
                         lease_loss_reason_name(e->lost_reason));
            else
                snprintf(reason, sizeof(reason), "lease lost or safe deadline passed");
            election_step_down_locked(e, reason, 0);
            election_pause_locked(e);
            continue;
        }
        lease_cond_wait_ms(&e->cond, &e->mu, deadline - now);
    }
    if (e->l)
        election_step_down_locked(e, "resigned", 1);
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

lease_election *lease_election_start(lease_manager *mgr, const char *name, const char *identity,
                                     const lease_election_callbacks *cb, lease_error *err)
{
    if (!mgr || !name || !*name || !identity || !*identity || strlen(identity) > 200) {
        lease_fail(err, LEASE_ERR_INVALID, NULL,
                   "election: manager, name and identity (1-200 characters) are required");
        return NULL;
    }
    if (!mgr->renewer) {
        lease_fail(err, LEASE_ERR_INVALID, NULL,
                   "election %s: needs a manager with auto_renew on", name);
        return NULL;
    }
    lease_election *e = calloc(1, sizeof(*e));
    if (!e) {
        lease_fail(err, LEASE_ERR_NOMEM, NULL, "election %s: out of memory", name);
        return NULL;
    }
    e->mgr = mgr;
    e->name = strdup(name);
    e->identity = strdup(identity);
    if (cb)
        e->cb = *cb;
    if (!e->name || !e->identity || pthread_mutex_init(&e->mu, NULL)) {
        free(e->name);
        free(e->identity);
        free(e);
        lease_fail(err, LEASE_ERR_NOMEM, NULL, "election %s: out of memory", name);
        return NULL;
    }
    if (lease_cond_init(&e->cond)) {
        pthread_mutex_destroy(&e->mu);
        free(e->name);
        free(e->identity);
        free(e);
        lease_fail(err, LEASE_ERR_NOMEM, NULL, "election %s: cannot create condition", name);
        return NULL;
    }
    if (pthread_create(&e->thread, NULL, election_campaign, e)) {
        pthread_cond_destroy(&e->cond);
        pthread_mutex_destroy(&e->mu);
        free(e->name);
        free(e->identity);
        free(e);
        lease_fail(err, LEASE_ERR_NOMEM, NULL, "election %s: cannot start campaign thread", name);
        return NULL;
    }
    if (err)
        memset(err, 0, sizeof(*err));
    return e;
}

int lease_election_is_leader(lease_election *e)
{
    pthread_mutex_lock(&e->mu);
    int r = election_leading_locked(e);
    pthread_mutex_unlock(&e->mu);
    return r;
}

uint64_t lease_election_epoch(lease_election *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t v = e->epoch;
    pthread_mutex_unlock(&e->mu);
    return v;
}

int64_t lease_election_led_until_ms(lease_election *e)
{
    pthread_mutex_lock(&e->mu);
    int64_t v = e->led_until_ms;
    pthread_mutex_unlock(&e->mu);
    return v;
}

void lease_election_lease_id(lease_election *e, char *out, size_t cap)
{
    pthread_mutex_lock(&e->mu);
    snprintf(out, cap, "%s", e->lease_id);
    pthread_mutex_unlock(&e->mu);
}

lease_code lease_election_write(lease_election *e, const void *data, size_t len,
                                const char *content_type, const blob_meta *meta, lease_error *err)
{
    pthread_mutex_lock(&e->mu);
    if (!election_leading_locked(e)) {
        pthread_mutex_unlock(&e->mu);
        return lease_fail(err, LEASE_ERR_LOST, NULL, "write %s: %s is not the leader", e->name,
                          e->identity);
    }
    lease *l = e->l;
    e->writers++;
    pthread_mutex_unlock(&e->mu);
    lease_code rc = lease_write(l, data, len, content_type, meta, err);
    pthread_mutex_lock(&e->mu);
    e->writers--;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

lease_code lease_election_resign(lease_election *e, lease_error *err)
{
    if (!e)
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "resign: election is NULL");
    pthread_mutex_lock(&e->mu);
    int joined = e->stop;
    e->stop = 1;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->mu);
    if (!joined)
        pthread_join(e->thread, NULL);
    if (e->resign_rc != LEASE_OK) {
        if (err)
            *err = e->resign_err;
        return e->resign_rc;
    }
    if (err)
        memset(err, 0, sizeof(*err));
    return LEASE_OK;
}

void lease_election_free(lease_election *e)
{
    if (!e)
        return;
    lease_election_resign(e, NULL);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->mu);
    free(e->name);
    free(e->identity);
    free(e);
}
