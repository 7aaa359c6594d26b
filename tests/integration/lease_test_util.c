/* lease_test_util.c -- see lease_test_util.h. */
#include "lease_test_util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

int64_t lt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lt_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

void lt_env_init(lt_env *env, const char *tag)
{
    const char *conn = getenv("LEASEHOLD_STORAGE_CONNECTION_STRING");
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = conn && *conn ? conn : "UseDevelopmentStorage=true";
    blob_error be;
    env->client = blob_client_new(&o, &be);
    if (!env->client)
        fail_msg("blob client: %s", be.message);
    char guid[37];
    blob_new_guid(guid);
    snprintf(env->container, sizeof(env->container), "lt-%s-%.8s", tag, guid);
}

void lt_env_cleanup(lt_env *env)
{
    blob_error be;
    if (blob_container_delete(env->client, env->container, &be) != BLOB_OK)
        fprintf(stderr, "cleanup %s: %s\n", env->container, be.message);
    blob_client_free(env->client);
    env->client = NULL;
}

lease_manager *lt_manager(lt_env *env, int duration_s, const char *owner)
{
    lease_manager_options o;
    lease_manager_options_init(&o);
    o.container = env->container;
    o.duration_s = duration_s;
    o.owner_id = owner;
    lease_error err;
    lease_manager *mgr = lease_manager_new(env->client, &o, &err);
    if (!mgr)
        fail_msg("lease manager: %s", err.message);
    return mgr;
}

static void lt_renewed(lease *l, int64_t new_expiry_ms, uint64_t count, void *opaque)
{
    (void)l;
    (void)count;
    lt_recorder *r = opaque;
    pthread_mutex_lock(&r->mu);
    r->renewed++;
    r->last_expiry = new_expiry_ms;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void lt_failed(lease *l, int attempt, int will_retry, const char *error, void *opaque)
{
    (void)l;
    lt_recorder *r = opaque;
    fprintf(stderr, "renewal attempt %d failed (retry %d): %s\n", attempt, will_retry, error);
    pthread_mutex_lock(&r->mu);
    if (r->failed < LT_MAX_FAILS) {
        r->attempt[r->failed] = attempt;
        r->will_retry[r->failed] = will_retry;
    }
    r->failed++;
    pthread_mutex_unlock(&r->mu);
}

static void lt_lost(lease *l, lease_loss_reason reason, int64_t last_renewal_ms, void *opaque)
{
    (void)l;
    (void)last_renewal_ms;
    lt_recorder *r = opaque;
    pthread_mutex_lock(&r->mu);
    r->lost++;
    r->reason = reason;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

void lt_recorder_init(lt_recorder *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &attr);
    pthread_condattr_destroy(&attr);
}

void lt_recorder_destroy(lt_recorder *r)
{
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
}

lease_callbacks lt_recorder_callbacks(lt_recorder *r)
{
    lease_callbacks cb = {lt_renewed, lt_failed, lt_lost, r};
    return cb;
}

/* Waits on the recorder until lost (or, with `renewed`, renewed) or `ms`. */
static int lt_await(lt_recorder *r, int64_t ms, int renewed)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->lost && !(renewed && r->renewed) &&
           pthread_cond_timedwait(&r->cond, &r->mu, &until) == 0)
        ;
    int lost = r->lost;
    pthread_mutex_unlock(&r->mu);
    return lost;
}

int lt_await_lost(lt_recorder *r, int64_t ms)
{
    return lt_await(r, ms, 0);
}

void lt_await_renewed_or_lost(lt_recorder *r, int64_t ms)
{
    lt_await(r, ms, 1);
}

lease *lt_acquire_recorded(lease_manager *m, const char *name, lt_recorder *r)
{
    lt_recorder_init(r);
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.callbacks = lt_recorder_callbacks(r);
    lease *l = NULL;
    lease_error err;
    if (lease_try_acquire(m, name, &ao, &l, &err) != LEASE_OK)
        fail_msg("acquire %s: %s", name, err.message);
    return l;
}
