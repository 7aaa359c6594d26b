/* renewer.c -- the one renewal scheduler of a lease manager.
 *
 * How it works. Every held lease with a finite duration sits in a min-heap
 * keyed by its next renewal time (lease_heap.c). The scheduler thread sleeps
 * on a CLOCK_MONOTONIC condition variable until the earliest due time, then
 * hands due leases to a small pool of renewal workers through a ready queue,
 * never more than `renew_concurrency` at a time, so one slow request does
 * not hold up thousands of other leases. A worker sends the renewal, lets
 * the pure rules in lease_timing.c decide (renewed / retry after backoff /
 * lost) and puts the lease back into the heap at the decided time. A
 * renewal request never outlives the lease's safe deadline (its timeout is
 * the time left), so `lost` fires by then even if the service hangs.
 *
 * While a worker uses a handle the handle is marked busy; release and free
 * wait for that (mgr->idle) so a handle never disappears under a renewal.
 * Callbacks run on the worker threads, outside every lock.
 */
#include "blob_internal.h"
#include "lease_internal.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

struct lease_renewer {
    lease_manager *mgr;
    lease_heap heap;
    pthread_cond_t wake; /* scheduler: heap changed, a slot freed, stop */
    pthread_cond_t work; /* workers: ready queue filled, stop */
    lease **ready;       /* ring of `nworkers` slots */
    size_t ready_head, ready_count;
    int inflight;        /* handed to workers and not yet back */
    int nworkers;
    int stop;
    int started;         /* threads created, scheduler included */
    pthread_t *threads;  /* [0] scheduler, [1..] workers */
};

/* The handle that embeds a heap node. */
static lease *renewer_lease_of(lease_heap_node *n)
{
    return (lease *)((char *)n - offsetof(lease, node));
}

/* ---- One renewal ------------------------------------------------------------ */

lease_decision lease_renew_attempt(lease *l, int attempt, blob_error *be)
{
    lease_manager *mgr = l->mgr;
    lease_decision d = {LEASE_ACT_LOST, 0, LEASE_LOST_DEADLINE};
    be->code = BLOB_OK;
    be->http_status = 0;
    be->storage_code[0] = '\0';
    be->message[0] = '\0';

    pthread_mutex_lock(&mgr->mu);
    if (l->state != LEASE_STATE_HELD) {
        d.reason = LEASE_LOST_TAKEN;
        snprintf(be->message, sizeof(be->message), "renew %s: not held", l->name);
        pthread_mutex_unlock(&mgr->mu);
        return d;
    }
    int64_t now = lease_now(mgr);
    if (now >= l->safe_deadline_ms) {
        /* E.g. the process was paused past the deadline: do not even ask. */
        lease_mark_lost_locked(l);
        int64_t last = l->last_renewal_ms;
        pthread_mutex_unlock(&mgr->mu);
        snprintf(be->message, sizeof(be->message), "renew %s: safe deadline passed", l->name);
        lease_notify_lost(l, LEASE_LOST_DEADLINE, last);
        return d;
    }
    int64_t old_expiry = l->expiry_ms;
    /* A request still out at the safe deadline is cut off there: the loss
     * is then reported on time even when the service hangs. */
    int64_t budget_ms = l->safe_deadline_ms - now;
    pthread_mutex_unlock(&mgr->mu);

    int64_t sent = lease_now(mgr);
    blob_lease_renew_within(mgr->client, l->container, l->blob, l->id, (long)budget_ms, be);
    int64_t done = lease_now(mgr);
    lease_class cls = lease_classify(be);

    pthread_mutex_lock(&mgr->mu);
    if (l->state != LEASE_STATE_HELD) {
        /* Released or declared lost while the request was out. */
        pthread_mutex_unlock(&mgr->mu);
        d.reason = LEASE_LOST_TAKEN;
        return d;
    }
    d = lease_timing_decide(&l->timing, cls, attempt, sent, done, l->safe_deadline_ms,
                            lease_random());
    int64_t last = l->last_renewal_ms;
    uint64_t count = 0;
    int64_t expiry = 0;
    switch (d.action) {
    case LEASE_ACT_RENEWED:
        l->expiry_ms = lease_timing_expiry(&l->timing, sent);
        l->safe_deadline_ms = lease_timing_safe_deadline(&l->timing, l->expiry_ms);
        l->last_renewal_ms = sent;
        l->attempt = 0;
        count = ++l->renewals;
        expiry = l->expiry_ms;
        break;
    case LEASE_ACT_RETRY:
        l->attempt = attempt;
        break;
    case LEASE_ACT_LOST:
        lease_mark_lost_locked(l);
        break;
    }
    pthread_mutex_unlock(&mgr->mu);

    double latency = (double)(done - sent);
    if (d.action == LEASE_ACT_RENEWED) {
        lease_emit(mgr, LEASE_EV_RENEWED, l->name, latency, old_expiry - sent, LEASE_LOST_TAKEN);
        lease_logf(mgr, LOG_DEBUG, "renewed lease %s on %s (renewal %" PRIu64 ")", l->id, l->name,
                   count);
        if (l->cb.renewed)
            l->cb.renewed(l, expiry, count, l->cb.opaque);
        return d;
    }
    if (cls == LEASE_CLASS_RETRY) {
        int will_retry = d.action == LEASE_ACT_RETRY;
        lease_emit(mgr, LEASE_EV_RENEW_FAILED, l->name, latency, 0, LEASE_LOST_TAKEN);
        lease_logf(mgr, LOG_WARNING, "renewal %d of lease %s on %s failed (%s): %s", attempt,
                   l->id, l->name, will_retry ? "will retry" : "giving up", be->message);
        if (l->cb.renew_failed)
            l->cb.renew_failed(l, attempt, will_retry, be->message, l->cb.opaque);
    }
    if (d.action == LEASE_ACT_LOST)
        lease_notify_lost(l, d.reason, last);
    return d;
}

/* ---- Threads ------------------------------------------------------------------ */

static void *renewer_scheduler(void *arg)
{
    lease_renewer *r = arg;
    lease_manager *mgr = r->mgr;
    pthread_mutex_lock(&mgr->mu);
    while (!r->stop) {
        lease_heap_node *top = lease_heap_peek(&r->heap);
        if (!top || r->inflight >= r->nworkers) {
            pthread_cond_wait(&r->wake, &mgr->mu);
            continue;
        }
        int64_t wait = top->due_ms - lease_now(mgr);
        if (wait > 0) {
            lease_cond_wait_ms(&r->wake, &mgr->mu, wait);
            continue;
        }
        lease *l = renewer_lease_of(lease_heap_pop(&r->heap));
        l->busy = 1;
        r->inflight++;
        r->ready[(r->ready_head + r->ready_count++) % (size_t)r->nworkers] = l;
        pthread_cond_signal(&r->work);
    }
    pthread_mutex_unlock(&mgr->mu);
    return NULL;
}

static void *renewer_worker(void *arg)
{
    lease_renewer *r = arg;
    lease_manager *mgr = r->mgr;
    pthread_mutex_lock(&mgr->mu);
    for (;;) {
        while (!r->stop && !r->ready_count)
            pthread_cond_wait(&r->work, &mgr->mu);
        if (!r->ready_count) /* stopping and nothing left */
            break;
        lease *l = r->ready[r->ready_head];
        r->ready_head = (r->ready_head + 1) % (size_t)r->nworkers;
        r->ready_count--;
        int attempt = l->attempt + 1;
        pthread_mutex_unlock(&mgr->mu);

        blob_error be;
        lease_decision d = r->stop ? (lease_decision){LEASE_ACT_RETRY, 0, LEASE_LOST_TAKEN}
                                   : lease_renew_attempt(l, attempt, &be);

        pthread_mutex_lock(&mgr->mu);
        if (l->state == LEASE_STATE_HELD && d.action != LEASE_ACT_LOST) {
            if (d.action == LEASE_ACT_RETRY && r->stop)
                d.at_ms = lease_now(mgr);
            l->node.due_ms = d.at_ms;
            if (lease_heap_push(&r->heap, &l->node) != 0) {
                /* Cannot track it any more: stop acting on it rather than
                 * let it expire silently. */
                lease_mark_lost_locked(l);
                int64_t last = l->last_renewal_ms;
                pthread_mutex_unlock(&mgr->mu);
                lease_notify_lost(l, LEASE_LOST_DEADLINE, last);
                pthread_mutex_lock(&mgr->mu);
            }
        }
        l->busy = 0;
        r->inflight--;
        pthread_cond_broadcast(&mgr->idle);
        pthread_cond_signal(&r->wake);
    }
    pthread_mutex_unlock(&mgr->mu);
    return NULL;
}

lease_renewer *lease_renewer_start(lease_manager *mgr, int workers, char *msg, size_t cap)
{
    lease_renewer *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(msg, cap, "renewer: out of memory");
        return NULL;
    }
    r->mgr = mgr;
    r->nworkers = workers;
    lease_heap_init(&r->heap);
    r->ready = calloc((size_t)workers, sizeof(*r->ready));
    r->threads = calloc((size_t)workers + 1, sizeof(*r->threads));
    if (!r->ready || !r->threads) {
        snprintf(msg, cap, "renewer: out of memory");
        free(r->ready);
        free(r->threads);
        free(r);
        return NULL;
    }
    if (lease_cond_init(&r->wake) || lease_cond_init(&r->work)) {
        snprintf(msg, cap, "renewer: cannot create condition variables");
        free(r->ready);
        free(r->threads);
        free(r);
        return NULL;
    }
    for (int i = 0; i <= workers; i++) {
        if (pthread_create(&r->threads[i], NULL, i ? renewer_worker : renewer_scheduler, r)) {
            snprintf(msg, cap, "renewer: cannot start thread %d", i);
            lease_renewer_stop(r);
            return NULL;
        }
        r->started++;
    }
    return r;
}

void lease_renewer_stop(lease_renewer *r)
{
    if (!r)
        return;
    lease_manager *mgr = r->mgr;
    pthread_mutex_lock(&mgr->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->wake);
    pthread_cond_broadcast(&r->work);
    pthread_mutex_unlock(&mgr->mu);
    for (int i = 0; i < r->started; i++)
        pthread_join(r->threads[i], NULL);
    /* Handles still queued stay held; their owner releases them. */
    while (lease_heap_pop(&r->heap))
        ;
    lease_heap_free(&r->heap);
    pthread_cond_destroy(&r->wake);
    pthread_cond_destroy(&r->work);
    free(r->ready);
    free(r->threads);
    free(r);
}

int lease_renewer_schedule_locked(lease_renewer *r, lease *l, int64_t due_ms)
{
    lease_heap_remove(&r->heap, &l->node);
    l->node.due_ms = due_ms;
    if (lease_heap_push(&r->heap, &l->node) != 0)
        return -1;
    pthread_cond_signal(&r->wake);
    return 0;
}

void lease_renewer_unqueue_locked(lease_renewer *r, lease *l)
{
    lease_heap_remove(&r->heap, &l->node);
}

int64_t lease_renewer_lag_ms_locked(const lease_renewer *r, int64_t now_ms)
{
    const lease_heap_node *top = lease_heap_peek(&r->heap);
    return top && top->due_ms < now_ms ? now_ms - top->due_ms : 0;
}
