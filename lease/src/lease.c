/* lease.c -- lease manager and lease handles: acquire, release, break,
 * fenced reads and writes, status and leader queries.
 *
 * How it works. An acquire sends one Lease Blob request with a fresh GUID
 * (creating the container and lock blob on a 404 when allowed), then stamps
 * the epoch: it reads the blob's metadata with the new lease id, increments
 * "leaseholdepoch", records "leaseholdowner" and writes the metadata back
 * with the lease id. The handle's expiry is measured on the manager's
 * monotonic clock from the moment the acquire request was SENT. Held handles
 * are queued on the manager's renewal scheduler (renewer.c).
 *
 * The fenced write path checks the handle first and refuses locally once
 * the lease is lost or its safe deadline has passed; every request carries
 * x-ms-lease-id so the service refuses a stale writer too (412), which marks
 * the handle lost.
 */
#include "lease_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LEASE_META_EPOCH "leaseholdepoch"
#define LEASE_META_OWNER "leaseholdowner"
/* The service never tells an observer when a lease expires, only that it is
 * leased; the duration lets `status` bound it ("free by ... at the latest"). */
#define LEASE_META_DURATION "leaseholdduration"

const char *lease_strerror(lease_code code)
{
    switch (code) {
    case LEASE_OK:
        return "ok";
    case LEASE_HELD_ELSEWHERE:
        return "held elsewhere";
    case LEASE_ERR_INVALID:
        return "invalid argument";
    case LEASE_ERR_NOMEM:
        return "out of memory";
    case LEASE_ERR_LOST:
        return "lease lost";
    case LEASE_ERR_TIMEOUT:
        return "timed out";
    case LEASE_ERR_NOT_FOUND:
        return "not found";
    case LEASE_ERR_STORAGE:
        return "storage error";
    }
    return "unknown error";
}

const char *lease_loss_reason_name(lease_loss_reason reason)
{
    switch (reason) {
    case LEASE_LOST_TAKEN:
        return "taken";
    case LEASE_LOST_BROKEN:
        return "broken";
    case LEASE_LOST_DEADLINE:
        return "deadline";
    case LEASE_LOST_GONE:
        return "gone";
    }
    return "unknown";
}

void lease_manager_options_init(lease_manager_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->duration_s = 30;
    opts->auto_renew = 1;
    opts->max_renew_retries = 3;
    opts->retry_base_ms = 200;
    opts->retry_max_ms = 2000;
    opts->acquire_timeout_ms = 60000;
    opts->safety_margin_ms = 2000;
    opts->renew_concurrency = 16;
}

/* ---- Small shared helpers ------------------------------------------------ */

static int64_t lease_monotonic_ms(void *opaque)
{
    (void)opaque;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lease_now(const lease_manager *mgr)
{
    return mgr->opts.clock(mgr->opts.clock_opaque);
}

int lease_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr))
        return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) || pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc ? -1 : 0;
}

void lease_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cond, mu, &ts);
}

uint32_t lease_random(void)
{
    return arc4random();
}

void lease_logf(const lease_manager *mgr, int level, const char *fmt, ...)
{
    if (!mgr->opts.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    mgr->opts.log(level, line, mgr->opts.opaque);
}

void lease_emit(const lease_manager *mgr, lease_event_kind kind, const char *name,
                double latency_ms, int64_t remaining_ms, lease_loss_reason reason)
{
    if (!mgr->opts.on_event)
        return;
    lease_event ev = {kind, name, latency_ms, remaining_ms, reason};
    mgr->opts.on_event(&ev, mgr->opts.opaque);
}

lease_code lease_fail(lease_error *err, lease_code code, const blob_error *storage,
                      const char *fmt, ...)
{
    if (!err)
        return code;
    memset(err, 0, sizeof(*err));
    err->code = code;
    if (storage)
        err->storage = *storage;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

static lease_code lease_ok(lease_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
    return LEASE_OK;
}

/* ---- Manager -------------------------------------------------------------- */

lease_manager *lease_manager_new(blob_client *client, const lease_manager_options *opts,
                                 lease_error *err)
{
    lease_manager_options defaults;
    if (!opts) {
        lease_manager_options_init(&defaults);
        opts = &defaults;
    }
    char msg[300];
    lease_timing t;
    if (!client) {
        lease_fail(err, LEASE_ERR_INVALID, NULL, "lease manager: client is NULL");
        return NULL;
    }
    if (lease_timing_check_options(opts, msg, sizeof(msg)) ||
        lease_timing_for(opts, 0, &t, msg, sizeof(msg))) {
        lease_fail(err, LEASE_ERR_INVALID, NULL, "lease manager: %s", msg);
        return NULL;
    }
    lease_manager *mgr = calloc(1, sizeof(*mgr));
    if (!mgr) {
        lease_fail(err, LEASE_ERR_NOMEM, NULL, "lease manager: out of memory");
        return NULL;
    }
    mgr->client = client;
    mgr->opts = *opts;
    if (!mgr->opts.clock)
        mgr->opts.clock = lease_monotonic_ms;
    char owner[256];
    if (opts->owner_id) {
        snprintf(owner, sizeof(owner), "%s", opts->owner_id);
    } else {
        char host[128] = "host";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        snprintf(owner, sizeof(owner), "%s-%ld", host, (long)getpid());
    }
    mgr->container = strdup(opts->container ? opts->container : "leases");
    mgr->owner_id = strdup(owner);
    int mu_ok = 0, cond_ok = 0;
    if (!mgr->container || !mgr->owner_id)
        goto nomem;
    if (pthread_mutex_init(&mgr->mu, NULL))
        goto nomem;
    mu_ok = 1;
    if (lease_cond_init(&mgr->idle))
        goto nomem;
    cond_ok = 1;
    mgr->opts.container = mgr->container;
    mgr->opts.owner_id = mgr->owner_id;
    if (mgr->opts.auto_renew) {
        mgr->renewer = lease_renewer_start(mgr, mgr->opts.renew_concurrency, msg, sizeof(msg));
        if (!mgr->renewer) {
            lease_fail(err, LEASE_ERR_NOMEM, NULL, "lease manager: %s", msg);
            goto err;
        }
    }
    lease_ok(err);
    return mgr;
nomem:
    lease_fail(err, LEASE_ERR_NOMEM, NULL, "lease manager: out of memory");
err:
    if (cond_ok)
        pthread_cond_destroy(&mgr->idle);
    if (mu_ok)
        pthread_mutex_destroy(&mgr->mu);
    free(mgr->container);
    free(mgr->owner_id);
    free(mgr);
    return NULL;
}

/* lease_free_all: what is left of the handles, released and freed by up to
 * renew_concurrency threads (the caller among them). One after another,
 * 10,000 releases would take minutes at a few ms each; the claims go through
 * an atomic index into a snapshot of the list, so no handle is freed twice. */
typedef struct lease_free_batch {
    lease **handles;
    size_t count;
    atomic_size_t next;
} lease_free_batch;

static void *lease_free_batch_run(void *arg)
{
    lease_free_batch *b = arg;
    for (size_t i; (i = atomic_fetch_add(&b->next, 1)) < b->count;)
        lease_free(b->handles[i]);
    return NULL;
}

static void lease_free_all(lease_manager *mgr)
{
    lease_free_batch b = {NULL, 0, 0};
    pthread_mutex_lock(&mgr->mu);
    for (lease *l = mgr->handles; l; l = l->next)
        b.count++;
    b.handles = b.count ? malloc(b.count * sizeof(*b.handles)) : NULL;
    size_t n = 0;
    for (lease *l = mgr->handles; l && b.handles; l = l->next)
        b.handles[n++] = l;
    pthread_mutex_unlock(&mgr->mu);
    if (!b.handles) { /* none, or no memory for the snapshot: one by one */
        for (;;) {
            pthread_mutex_lock(&mgr->mu);
            lease *l = mgr->handles;
            pthread_mutex_unlock(&mgr->mu);
            if (!l)
                return;
            lease_free(l);
        }
    }
    size_t want = (size_t)mgr->opts.renew_concurrency;
    if (want > b.count)
        want = b.count;
    pthread_t threads[64];
    size_t started = 0;
    while (started + 1 < want &&
           pthread_create(&threads[started], NULL, lease_free_batch_run, &b) == 0)
        started++;
    lease_free_batch_run(&b); /* the caller works too, and alone if no thread started */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(b.handles);
}

void lease_manager_free(lease_manager *mgr)
{
    if (!mgr)
        return;
    /* Stop renewing first so no worker touches a handle being freed. */
    lease_renewer_stop(mgr->renewer);
    mgr->renewer = NULL;
    lease_free_all(mgr);
    pthread_cond_destroy(&mgr->idle);
    pthread_mutex_destroy(&mgr->mu);
    free(mgr->container);
    free(mgr->owner_id);
    free(mgr);
}

size_t lease_manager_held_count(lease_manager *mgr)
{
    size_t n = 0;
    pthread_mutex_lock(&mgr->mu);
    for (lease *l = mgr->handles; l; l = l->next)
        n += l->state == LEASE_STATE_HELD;
    pthread_mutex_unlock(&mgr->mu);
    return n;
}

blob_client *lease_manager_client(lease_manager *mgr)
{
    return mgr->client;
}

const char *lease_manager_owner_id(const lease_manager *mgr)
{
    return mgr->owner_id;
}

/* ---- Target resolution ---------------------------------------------------- */

/* Which blob an operation on `name` (or an explicit blob) addresses. */
typedef struct lease_target {
    const char *container;
    char blob[1100];
    char label[1200]; /* for messages: the lock name or container/blob */
    int create;
} lease_target;

static lease_code lease_resolve(lease_manager *mgr, const char *op, const char *name,
                                const lease_acquire_options *o, lease_target *tg, lease_error *err)
{
    memset(tg, 0, sizeof(*tg));
    if (o && (o->container || o->blob)) {
        if (!o->container || !o->blob || !*o->container || !*o->blob ||
            strlen(o->blob) >= sizeof(tg->blob))
            return lease_fail(err, LEASE_ERR_INVALID, NULL,
                              "%s: acquire options need both container and blob", op);
        tg->container = o->container;
        snprintf(tg->blob, sizeof(tg->blob), "%s", o->blob);
        snprintf(tg->label, sizeof(tg->label), "%s/%s", o->container, o->blob);
        tg->create = o->create_if_missing;
        return LEASE_OK;
    }
    if (!name || !*name || strlen(name) > 1000)
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "%s: lease name must be 1-1000 characters",
                          op);
    tg->container = mgr->container;
    snprintf(tg->blob, sizeof(tg->blob), "lease-%s", name);
    snprintf(tg->label, sizeof(tg->label), "%s", name);
    tg->create = 1;
    return LEASE_OK;
}

/* Creates the blob (and its container) unless it exists. Losing a creation
 * race to another process (409/412) is success. */
static blob_code lease_ensure_blob(lease_manager *mgr, const lease_target *tg, blob_error *be)
{
    blob_conditions create_only = {NULL, NULL, "*"};
    for (int pass = 0; pass < 2; pass++) {
        blob_code rc = blob_put(mgr->client, tg->container, tg->blob, "", 0, NULL, NULL,
                                &create_only, NULL, be);
        if (rc == BLOB_OK || rc == BLOB_ERR_CONFLICT || rc == BLOB_ERR_PRECONDITION)
            return BLOB_OK;
        if (rc != BLOB_ERR_NOT_FOUND || pass)
            return rc;
        rc = blob_container_create(mgr->client, tg->container, be);
        if (rc != BLOB_OK)
            return rc;
    }
    return BLOB_OK;
}

/* ---- Acquire --------------------------------------------------------------- */

/* The library's keys in a blob's metadata: epoch, owner, duration (-1 infinite). */
static blob_code lease_meta_stamp(blob_meta *m, uint64_t epoch, const char *owner, int duration_s)
{
    char epoch_text[32], duration_text[16];
    snprintf(epoch_text, sizeof(epoch_text), "%" PRIu64, epoch);
    if (duration_s == -1)
        snprintf(duration_text, sizeof(duration_text), "infinite");
    else
        snprintf(duration_text, sizeof(duration_text), "%d", duration_s);
    blob_code rc;
    if ((rc = blob_meta_set(m, LEASE_META_EPOCH, epoch_text)) != BLOB_OK ||
        (rc = blob_meta_set(m, LEASE_META_OWNER, owner)) != BLOB_OK)
        return rc;
    return blob_meta_set(m, LEASE_META_DURATION, duration_text);
}

/* Reads the metadata under the new lease, bumps the epoch, records the owner. */
static blob_code lease_stamp_epoch(lease_manager *mgr, const lease_target *tg, const char *id,
                                   const char *owner, int duration_s, uint64_t *epoch,
                                   blob_error *be)
{
    blob_conditions cond = {id, NULL, NULL};
    blob_props props;
    blob_code rc = blob_get_properties(mgr->client, tg->container, tg->blob, &cond, &props, be);
    if (rc != BLOB_OK)
        return rc;
    const char *old = blob_meta_get(&props.meta, LEASE_META_EPOCH);
    *epoch = (old ? strtoull(old, NULL, 10) : 0) + 1;
    if ((rc = lease_meta_stamp(&props.meta, *epoch, owner, duration_s)) != BLOB_OK) {
        snprintf(be->message, sizeof(be->message), "epoch %.200s: metadata is full", tg->label);
        be->code = rc;
        return rc;
    }
    return blob_set_metadata(mgr->client, tg->container, tg->blob, &props.meta, &cond, be);
}

static void lease_handle_free_fields(lease *l)
{
    free(l->name);
    free(l->container);
    free(l->blob);
    free(l->owner);
    free(l);
}

static lease *lease_handle_new(lease_manager *mgr, const lease_target *tg, const char *owner,
                               const lease_timing *t, const char *id)
{
    lease *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->mgr = mgr;
    l->name = strdup(tg->label);
    l->container = strdup(tg->container);
    l->blob = strdup(tg->blob);
    l->owner = strdup(owner);
    if (!l->name || !l->container || !l->blob || !l->owner) {
        lease_handle_free_fields(l);
        return NULL;
    }
    snprintf(l->id, sizeof(l->id), "%s", id);
    l->timing = *t;
    l->node.index = LEASE_HEAP_NONE;
    return l;
}

/* Admission control: while the scheduler is behind with renewals of leases
 * already held, a new acquire waits (up to one renew interval) so that the
 * storage service spends its capacity on keeping those leases first. This
 * is what keeps thousands of leases alive while more are being taken on a
 * busy service. */
static void lease_admit(lease_manager *mgr, const lease_timing *t)
{
    if (!mgr->renewer)
        return;
    const int64_t max_lag_ms = 1000;
    int64_t give_up = lease_now(mgr) + (t->interval_ms ? t->interval_ms : 10000);
    pthread_mutex_lock(&mgr->mu);
    for (;;) {
        int64_t now = lease_now(mgr);
        if (now >= give_up || lease_renewer_lag_ms_locked(mgr->renewer, now) <= max_lag_ms)
            break;
        lease_cond_wait_ms(&mgr->idle, &mgr->mu, 50);
    }
    pthread_mutex_unlock(&mgr->mu);
}

lease_code lease_try_acquire_as(lease_manager *mgr, const char *name,
                                const lease_acquire_options *o, const char *owner, lease **out,
                                lease_error *err)
{
    if (out)
        *out = NULL;
    if (!mgr || !out)
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "acquire: manager and out are required");
    lease_target tg;
    lease_code lc = lease_resolve(mgr, "acquire", name, o, &tg, err);
    if (lc != LEASE_OK)
        return lc;
    char msg[300];
    lease_timing t;
    if (lease_timing_for(&mgr->opts, o ? o->duration_s : 0, &t, msg, sizeof(msg)))
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "acquire %s: %s", tg.label, msg);

    lease_admit(mgr, &t);
    char proposed[37], id[64];
    blob_new_guid(proposed);
    blob_error be;
    int64_t sent = 0;
    double latency = 0;
    int created = 0;
    for (;;) {
        sent = lease_now(mgr);
        blob_code rc =
            blob_lease_acquire(mgr->client, tg.container, tg.blob, t.duration_s, proposed, id, &be);
        latency = (double)(lease_now(mgr) - sent);
        if (rc == BLOB_OK)
            break;
        if (rc == BLOB_ERR_CONFLICT) {
            lease_emit(mgr, LEASE_EV_ACQUIRE_CONTENDED, tg.label, latency, 0, LEASE_LOST_TAKEN);
            lease_ok(err);
            if (err)
                snprintf(err->message, sizeof(err->message), "acquire %.200s: held elsewhere (%.150s)",
                         tg.label, be.message);
            return LEASE_HELD_ELSEWHERE;
        }
        if (rc == BLOB_ERR_NOT_FOUND && tg.create && !created) {
            created = 1;
            if (lease_ensure_blob(mgr, &tg, &be) != BLOB_OK)
                return lease_fail(err, LEASE_ERR_STORAGE, &be, "acquire %s: create lock blob: %s",
                                  tg.label, be.message);
            continue;
        }
        return lease_fail(err, rc == BLOB_ERR_NOT_FOUND ? LEASE_ERR_NOT_FOUND : LEASE_ERR_STORAGE,
                          &be, "acquire %s: %s", tg.label, be.message);
    }

    uint64_t epoch = 0;
    if (lease_stamp_epoch(mgr, &tg, id, owner, t.duration_s, &epoch, &be) != BLOB_OK) {
        blob_error ignored;
        blob_lease_release(mgr->client, tg.container, tg.blob, id, &ignored);
        return lease_fail(err, LEASE_ERR_STORAGE, &be, "acquire %s: epoch: %s", tg.label,
                          be.message);
    }
    lease *l = lease_handle_new(mgr, &tg, owner, &t, id);
    if (!l) {
        blob_error ignored;
        blob_lease_release(mgr->client, tg.container, tg.blob, id, &ignored);
        return lease_fail(err, LEASE_ERR_NOMEM, NULL, "acquire %s: out of memory", tg.label);
    }
    if (o)
        l->cb = o->callbacks;
    l->epoch = epoch;
    l->state = LEASE_STATE_HELD;
    l->acquired_at_ms = sent;
    l->last_renewal_ms = sent;
    l->expiry_ms = lease_timing_expiry(&t, sent);
    l->safe_deadline_ms = lease_timing_safe_deadline(&t, l->expiry_ms);

    pthread_mutex_lock(&mgr->mu);
    l->next = mgr->handles;
    if (mgr->handles)
        mgr->handles->prev = l;
    mgr->handles = l;
    int queued = 1;
    if (mgr->renewer && t.duration_s != -1)
        queued = lease_renewer_schedule_locked(mgr->renewer, l,
                                               lease_timing_next_renewal(&t, sent)) == 0;
    pthread_mutex_unlock(&mgr->mu);
    if (!queued) {
        lease_free(l);
        return lease_fail(err, LEASE_ERR_NOMEM, NULL, "acquire %s: out of memory", tg.label);
    }
    lease_emit(mgr, LEASE_EV_ACQUIRED, l->name, latency, 0, LEASE_LOST_TAKEN);
    lease_logf(mgr, LOG_INFO, "acquired lease %s on %s (epoch %" PRIu64 ")", l->id, l->name,
               epoch);
    *out = l;
    return lease_ok(err);
}

lease_code lease_try_acquire(lease_manager *mgr, const char *name, const lease_acquire_options *o,
                             lease **out, lease_error *err)
{
    return lease_try_acquire_as(mgr, name, o, mgr ? mgr->owner_id : NULL, out, err);
}

static void lease_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

lease_code lease_acquire(lease_manager *mgr, const char *name, const lease_acquire_options *o,
                         int timeout_ms, lease **out, lease_error *err)
{
    if (!mgr)
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "acquire: manager is required");
    if (timeout_ms < 0)
        timeout_ms = mgr->opts.acquire_timeout_ms;
    int64_t give_up = lease_now(mgr) + timeout_ms;
    lease_error e;
    for (int attempt = 1;; attempt++) {
        lease_code rc = lease_try_acquire(mgr, name, o, out, &e);
        /* Only contention and transient storage failures are worth waiting for. */
        if (rc != LEASE_HELD_ELSEWHERE &&
            !(rc == LEASE_ERR_STORAGE && blob_code_is_transient(e.storage.code))) {
            if (err)
                *err = e;
            return rc;
        }
        int64_t now = lease_now(mgr);
        if (now >= give_up)
            return lease_fail(err, LEASE_ERR_TIMEOUT, &e.storage,
                              "acquire %s: not acquired within %d ms (last: %s)",
                              name ? name : "", timeout_ms, e.message);
        int64_t delay = lease_timing_backoff_ms(attempt, mgr->opts.retry_base_ms,
                                                mgr->opts.retry_max_ms, lease_random());
        if (delay > give_up - now)
            delay = give_up - now;
        lease_sleep_ms(delay);
    }
}

/* ---- Loss ------------------------------------------------------------------ */

int lease_mark_lost_locked(lease *l)
{
    if (l->state != LEASE_STATE_HELD)
        return 0;
    l->state = LEASE_STATE_LOST;
    if (l->mgr->renewer)
        lease_renewer_unqueue_locked(l->mgr->renewer, l);
    return 1;
}

void lease_notify_lost(lease *l, lease_loss_reason reason, int64_t last_renewal_ms)
{
    lease_manager *mgr = l->mgr;
    lease_emit(mgr, LEASE_EV_LOST, l->name, 0, 0, reason);
    lease_logf(mgr, LOG_WARNING, "lost lease %s on %s: %s", l->id, l->name,
               lease_loss_reason_name(reason));
    if (l->cb.lost)
        l->cb.lost(l, reason, last_renewal_ms, l->cb.opaque);
}

/* LEASE_OK when the handle may still act; otherwise LEASE_ERR_LOST, having
 * declared the loss when the safe deadline passed unnoticed. */
static lease_code lease_check_usable(lease *l, const char *op, lease_error *err)
{
    lease_manager *mgr = l->mgr;
    pthread_mutex_lock(&mgr->mu);
    lease_state st = l->state;
    int expired = st == LEASE_STATE_HELD && lease_now(mgr) >= l->safe_deadline_ms;
    int fire = expired && lease_mark_lost_locked(l);
    int64_t last = l->last_renewal_ms;
    pthread_mutex_unlock(&mgr->mu);
    if (fire)
        lease_notify_lost(l, LEASE_LOST_DEADLINE, last);
    if (st == LEASE_STATE_HELD && !expired)
        return LEASE_OK;
    return lease_fail(err, LEASE_ERR_LOST, NULL, "%s %s: lease %s is %s (no request sent)", op,
                      l->name, l->id,
                      st == LEASE_STATE_RELEASED ? "released" : "lost or past its safe deadline");
}

/* After a fenced request failed: a 412 means someone else's lease fences the
 * blob now, so this handle is lost. */
static lease_code lease_fenced_failure(lease *l, const char *op, const blob_error *be,
                                       lease_error *err)
{
    if (be->code == BLOB_ERR_PRECONDITION) {
        pthread_mutex_lock(&l->mgr->mu);
        int fire = lease_mark_lost_locked(l);
        int64_t last = l->last_renewal_ms;
        pthread_mutex_unlock(&l->mgr->mu);
        if (fire)
            lease_notify_lost(l, LEASE_LOST_TAKEN, last);
        return lease_fail(err, LEASE_ERR_LOST, be, "%s %s: fenced out: %s", op, l->name,
                          be->message);
    }
    return lease_fail(err, be->code == BLOB_ERR_NOT_FOUND ? LEASE_ERR_NOT_FOUND : LEASE_ERR_STORAGE,
                      be, "%s %s: %s", op, l->name, be->message);
}

/* ---- Renew, release, free, break ----------------------------------------- */

lease_code lease_renew(lease *l, lease_error *err)
{
    if (!l)
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "renew: lease is NULL");
    lease_code rc = lease_check_usable(l, "renew", err);
    if (rc != LEASE_OK)
        return rc;
    blob_error be;
    lease_decision d = lease_renew_attempt(l, 1, &be);
    if (d.action == LEASE_ACT_RENEWED)
        return lease_ok(err);
    if (d.action == LEASE_ACT_LOST)
        return lease_fail(err, LEASE_ERR_LOST, &be, "renew %s: lost (%s): %s", l->name,
                          lease_loss_reason_name(d.reason), be.message);
    return lease_fail(err, LEASE_ERR_STORAGE, &be, "renew %s: %s", l->name, be.message);
}

/* Takes the handle off the scheduler and waits until no renewal uses it. */
static void lease_forget_locked(lease *l)
{
    lease_manager *mgr = l->mgr;
    if (mgr->renewer)
        lease_renewer_unqueue_locked(mgr->renewer, l);
    while (l->busy)
        pthread_cond_wait(&mgr->idle, &mgr->mu);
}

lease_code lease_release(lease *l, lease_error *err)
{
    if (!l)
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "release: lease is NULL");
    lease_manager *mgr = l->mgr;
    pthread_mutex_lock(&mgr->mu);
    lease_forget_locked(l);
    int held = l->state == LEASE_STATE_HELD;
    if (held)
        l->state = LEASE_STATE_RELEASED;
    pthread_mutex_unlock(&mgr->mu);
    if (!held)
        return lease_ok(err);
    blob_error be;
    int64_t sent = lease_now(mgr);
    blob_code rc = blob_lease_release(mgr->client, l->container, l->blob, l->id, &be);
    double latency = (double)(lease_now(mgr) - sent);
    /* 409/404: the lease is no longer ours or the blob is gone; either way
     * nothing is left to release. */
    if (rc != BLOB_OK && rc != BLOB_ERR_CONFLICT && rc != BLOB_ERR_NOT_FOUND)
        return lease_fail(err, LEASE_ERR_STORAGE, &be,
                          "release %s: %s (the service keeps the lease until it expires)",
                          l->name, be.message);
    lease_emit(mgr, LEASE_EV_RELEASED, l->name, latency, 0, LEASE_LOST_TAKEN);
    lease_logf(mgr, LOG_INFO, "released lease %s on %s", l->id, l->name);
    return lease_ok(err);
}

void lease_free(lease *l)
{
    if (!l)
        return;
    lease_release(l, NULL);
    lease_manager *mgr = l->mgr;
    pthread_mutex_lock(&mgr->mu);
    lease_forget_locked(l);
    if (l->prev)
        l->prev->next = l->next;
    else
        mgr->handles = l->next;
    if (l->next)
        l->next->prev = l->prev;
    pthread_mutex_unlock(&mgr->mu);
    lease_handle_free_fields(l);
}

void lease_abandon(lease *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mgr->mu);
    lease_forget_locked(l);
    if (l->state == LEASE_STATE_HELD)
        l->state = LEASE_STATE_RELEASED; /* so lease_free sends nothing */
    pthread_mutex_unlock(&l->mgr->mu);
    lease_free(l);
}

lease_code lease_break(lease_manager *mgr, const char *name, const lease_acquire_options *o,
                       int break_period_s, lease_error *err)
{
    if (!mgr)
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "break: manager is required");
    if (break_period_s < -1 || break_period_s > 60)
        return lease_fail(err, LEASE_ERR_INVALID, NULL,
                          "break: break_period_s must be -1..60, got %d", break_period_s);
    lease_target tg;
    lease_code lc = lease_resolve(mgr, "break", name, o, &tg, err);
    if (lc != LEASE_OK)
        return lc;
    blob_error be;
    blob_code rc = blob_lease_break(mgr->client, tg.container, tg.blob,
                                    break_period_s < 0 ? 0 : break_period_s, NULL, &be);
    if (rc == BLOB_OK || rc == BLOB_ERR_CONFLICT) /* 409: no lease to break */
        return lease_ok(err);
    return lease_fail(err, rc == BLOB_ERR_NOT_FOUND ? LEASE_ERR_NOT_FOUND : LEASE_ERR_STORAGE, &be,
                      "break %s: %s", tg.label, be.message);
}

/* ---- Accessors ------------------------------------------------------------- */

const char *lease_id(const lease *l)
{
    return l->id;
}

const char *lease_name(const lease *l)
{
    return l->name;
}

uint64_t lease_epoch(const lease *l)
{
    return l->epoch;
}

lease_manager *lease_get_manager(const lease *l)
{
    return l->mgr;
}

int64_t lease_acquired_at_ms(const lease *l)
{
    return l->acquired_at_ms;
}

/* Reads one int64 field of a handle under the manager lock. */
static int64_t lease_read_locked(const lease *l, const int64_t *field)
{
    pthread_mutex_lock(&l->mgr->mu);
    int64_t v = *field;
    pthread_mutex_unlock(&l->mgr->mu);
    return v;
}

int64_t lease_expiry_ms(const lease *l)
{
    return lease_read_locked(l, &l->expiry_ms);
}

int64_t lease_safe_deadline_ms(const lease *l)
{
    return lease_read_locked(l, &l->safe_deadline_ms);
}

int64_t lease_remaining_ms(const lease *l)
{
    lease_manager *mgr = l->mgr;
    pthread_mutex_lock(&mgr->mu);
    int64_t rem = 0;
    if (l->state == LEASE_STATE_HELD)
        rem = l->safe_deadline_ms == INT64_MAX ? INT64_MAX : l->safe_deadline_ms - lease_now(mgr);
    pthread_mutex_unlock(&mgr->mu);
    return rem;
}

int lease_is_held(const lease *l)
{
    return lease_remaining_ms(l) > 0;
}

uint64_t lease_renewal_count(const lease *l)
{
    pthread_mutex_lock(&l->mgr->mu);
    uint64_t n = l->renewals;
    pthread_mutex_unlock(&l->mgr->mu);
    return n;
}

/* ---- Fenced payload --------------------------------------------------------- */

lease_code lease_read(lease *l, char **data, size_t *len, blob_meta *meta, lease_error *err)
{
    if (!l || !data || !len)
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "read: lease, data and len are required");
    *data = NULL;
    *len = 0;
    lease_code rc = lease_check_usable(l, "read", err);
    if (rc != LEASE_OK)
        return rc;
    blob_conditions cond = {l->id, NULL, NULL};
    blob_props props;
    blob_error be;
    if (blob_get(l->mgr->client, l->container, l->blob, &cond, data, len, &props, &be) != BLOB_OK)
        return lease_fenced_failure(l, "read", &be, err);
    if (meta)
        *meta = props.meta;
    return lease_ok(err);
}

/* A write (Put Blob, Put Block List) replaces all metadata: `meta` (NULL =
 * none) plus the library's keys, into *out. */
static lease_code lease_write_meta(lease *l, const char *op, const blob_meta *meta,
                                   blob_meta *out, lease_error *err)
{
    if (meta)
        *out = *meta;
    else
        memset(out, 0, sizeof(*out));
    if (lease_meta_stamp(out, l->epoch, l->owner, l->timing.duration_s) != BLOB_OK)
        return lease_fail(err, LEASE_ERR_INVALID, NULL,
                          "%s %s: metadata is full (the library needs 3 of %d entries)", op,
                          l->name, BLOB_META_MAX);
    return LEASE_OK;
}

lease_code lease_write(lease *l, const void *data, size_t len, const char *content_type,
                       const blob_meta *meta, lease_error *err)
{
    if (!l || (!data && len))
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "write: lease and data are required");
    lease_code rc = lease_check_usable(l, "write", err);
    if (rc != LEASE_OK)
        return rc;
    blob_meta m;
    if ((rc = lease_write_meta(l, "write", meta, &m, err)) != LEASE_OK)
        return rc;
    blob_conditions cond = {l->id, NULL, NULL};
    blob_error be;
    if (blob_put(l->mgr->client, l->container, l->blob, data ? data : "", len, content_type, &m,
                 &cond, NULL, &be) != BLOB_OK)
        return lease_fenced_failure(l, "write", &be, err);
    return lease_ok(err);
}

lease_code lease_write_blocks(lease *l, const lease_block *blocks, size_t n_blocks,
                              const char *const *ids, size_t n_ids, const char *content_type,
                              const blob_meta *meta, size_t *requests, size_t *bytes,
                              lease_error *err)
{
    size_t sent = 0, sent_bytes = 0;
    if (requests)
        *requests = 0;
    if (bytes)
        *bytes = 0;
    if (!l || (n_blocks && !blocks) || !ids || n_ids == 0)
        return lease_fail(err, LEASE_ERR_INVALID, NULL,
                          "write blocks: lease, blocks and at least one id are required");
    blob_meta m;
    lease_code rc = lease_write_meta(l, "write blocks", meta, &m, err);
    if (rc != LEASE_OK)
        return rc;
    blob_conditions cond = {l->id, NULL, NULL};
    blob_error be;
    for (size_t i = 0; i < n_blocks && rc == LEASE_OK; i++) {
        /* Checked before every request: a pause between two of them must
         * not let this holder commit after its safe deadline. */
        if ((rc = lease_check_usable(l, "write block", err)) != LEASE_OK)
            break;
        sent++;
        sent_bytes += blocks[i].len;
        if (blob_put_block(l->mgr->client, l->container, l->blob, blocks[i].id,
                           blocks[i].data ? blocks[i].data : "", blocks[i].len, &cond,
                           &be) != BLOB_OK)
            rc = lease_fenced_failure(l, "write block", &be, err);
    }
    if (rc == LEASE_OK && (rc = lease_check_usable(l, "write block list", err)) == LEASE_OK) {
        sent++;
        sent_bytes += blob_block_list_body_len(n_ids, strlen(ids[0]));
        if (blob_put_block_list(l->mgr->client, l->container, l->blob, ids, n_ids, content_type,
                                &m, &cond, NULL, &be) != BLOB_OK)
            rc = lease_fenced_failure(l, "write block list", &be, err);
        else
            rc = lease_ok(err);
    }
    if (requests)
        *requests = sent;
    if (bytes)
        *bytes = sent_bytes;
    return rc;
}

/* ---- Status and leader ------------------------------------------------------- */

lease_code lease_get_status(lease_manager *mgr, const char *name, const lease_acquire_options *o,
                            lease_status *st, lease_error *err)
{
    if (!mgr || !st)
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "status: manager and st are required");
    memset(st, 0, sizeof(*st));
    lease_target tg;
    lease_code lc = lease_resolve(mgr, "status", name, o, &tg, err);
    if (lc != LEASE_OK)
        return lc;
    blob_props props;
    blob_error be;
    blob_code rc = blob_get_properties(mgr->client, tg.container, tg.blob, NULL, &props, &be);
    if (rc == BLOB_ERR_NOT_FOUND) {
        snprintf(st->state, sizeof(st->state), "absent");
        return lease_ok(err);
    }
    if (rc != BLOB_OK)
        return lease_fail(err, LEASE_ERR_STORAGE, &be, "status %s: %s", tg.label, be.message);
    st->exists = 1;
    snprintf(st->state, sizeof(st->state), "%s", props.lease_state);
    st->leased = !strcmp(props.lease_state, "leased") || !strcmp(props.lease_state, "breaking");
    const char *owner = blob_meta_get(&props.meta, LEASE_META_OWNER);
    const char *epoch = blob_meta_get(&props.meta, LEASE_META_EPOCH);
    snprintf(st->owner, sizeof(st->owner), "%s", owner ? owner : "");
    st->epoch = epoch ? strtoull(epoch, NULL, 10) : 0;
    const char *duration = blob_meta_get(&props.meta, LEASE_META_DURATION);
    if (duration)
        st->duration_s = !strcmp(duration, "infinite") ? -1 : atoi(duration);
    return lease_ok(err);
}

lease_code lease_leader(lease_manager *mgr, const char *name, char *identity, size_t cap,
                        lease_error *err)
{
    if (!identity || !cap)
        return lease_fail(err, LEASE_ERR_INVALID, NULL, "leader: identity buffer is required");
    identity[0] = '\0';
    lease_status st;
    lease_code rc = lease_get_status(mgr, name, NULL, &st, err);
    if (rc != LEASE_OK)
        return rc;
    /* The owner key outlives the lease: only a live lease names a leader. */
    if (!st.leased || !st.owner[0])
        return lease_fail(err, LEASE_ERR_NOT_FOUND, NULL, "leader %s: nobody leads", name);
    snprintf(identity, cap, "%s", st.owner);
    return lease_ok(err);
}
