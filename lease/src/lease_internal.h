/* lease_internal.h -- what the lease engine's files share inside the library.
 *
 * lease.c owns the manager and handles (acquire, release, fenced I/O),
 * renewer.c the one scheduler per manager that renews held leases,
 * election.c leader election on top of both, lease_timing.c the pure timing
 * and classification rules and lease_heap.c the scheduler's min-heap. The
 * pure parts take every input (clock readings, random numbers) as arguments
 * so unit tests can drive them without a clock or a network.
 *
 * Locking: one mutex per manager (mgr->mu) guards every handle's mutable
 * state, the handle list and the renewal heap. No storage request and no
 * user callback ever runs while it is held.
 */
#ifndef LEASEHOLD_LEASE_INTERNAL_H
#define LEASEHOLD_LEASE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#include "leasehold/lease.h"

/* ---- Pure timing rules (lease_timing.c) ---------------------------------- */

/* Effective timings for one duration, derived from the manager options. */
typedef struct lease_timing {
    int duration_s;        /* 15..60 or -1 */
    int64_t duration_ms;   /* INT64_MAX when infinite */
    int64_t interval_ms;   /* renewal cadence; 0 when infinite */
    int64_t margin_ms;
    int retry_base_ms, retry_max_ms, max_retries;
} lease_timing;

/* Checks every option that does not depend on the duration. 0 or -1 with
 * `msg` naming the option and the bad value. */
int lease_timing_check_options(const lease_manager_options *o, char *msg, size_t cap);

/* Derives the timings for `duration_s` (0 = the options' default) and checks
 * that the renew interval plus max_renew_retries backoffs at retry_max_ms plus
 * the safety margin fit inside the duration. A defaulted interval (0) is 2/3
 * of the duration, shortened when needed so that the retries fit. 0 or -1
 * with `msg` naming the option. */
int lease_timing_for(const lease_manager_options *o, int duration_s, lease_timing *t, char *msg,
                     size_t cap);

/* Local expiry for a request SENT at `sent_ms`: INT64_MAX when infinite. */
int64_t lease_timing_expiry(const lease_timing *t, int64_t sent_ms);
/* Safe deadline: expiry minus the margin (INT64_MAX stays INT64_MAX). */
int64_t lease_timing_safe_deadline(const lease_timing *t, int64_t expiry_ms);
/* When to renew next after a request sent at `sent_ms` succeeded. */
int64_t lease_timing_next_renewal(const lease_timing *t, int64_t sent_ms);

/* Exponential backoff with full jitter: a value in [0, min(cap, base*2^(attempt-1))]
 * picked by `rnd` (any 32-bit random number). attempt >= 1. */
int64_t lease_timing_backoff_ms(int attempt, int base_ms, int cap_ms, uint32_t rnd);

/* What one renewal answer means for the lease. */
typedef enum lease_class {
    LEASE_CLASS_OK,
    LEASE_CLASS_TAKEN,  /* 409 lease id mismatch / not present, 412 */
    LEASE_CLASS_BROKEN, /* 409 ...Broken... / ...Breaking... */
    LEASE_CLASS_GONE,   /* 404 blob or container deleted */
    LEASE_CLASS_RETRY   /* transient (5xx, timeout, connection) or unexpected: retry */
} lease_class;

lease_class lease_classify(const blob_error *e);

typedef enum lease_action { LEASE_ACT_RENEWED, LEASE_ACT_RETRY, LEASE_ACT_LOST } lease_action;

typedef struct lease_decision {
    lease_action action;
    int64_t at_ms;            /* RENEWED: next renewal; RETRY: next attempt */
    lease_loss_reason reason; /* LOST */
} lease_decision;

/* The renewal state machine in one pure function: given the answer class of
 * attempt `attempt` (1 = the scheduled renewal) sent at `sent_ms`, answered
 * at `now_ms`, with the current safe deadline, decide what happens next.
 * Transient failures retry after a full-jitter backoff while the retry would
 * still start before the safe deadline; otherwise the lease is lost with
 * reason DEADLINE. */
lease_decision lease_timing_decide(const lease_timing *t, lease_class cls, int attempt,
                                   int64_t sent_ms, int64_t now_ms, int64_t safe_deadline_ms,
                                   uint32_t rnd);

/* ---- Min-heap keyed by due time (lease_heap.c) --------------------------- */

typedef struct lease_heap_node {
    int64_t due_ms;
    size_t index; /* position in the heap, LEASE_HEAP_NONE when not queued */
} lease_heap_node;

#define LEASE_HEAP_NONE ((size_t)-1)

typedef struct lease_heap {
    lease_heap_node **nodes;
    size_t count, cap;
} lease_heap;

void lease_heap_init(lease_heap *h);
void lease_heap_free(lease_heap *h); /* the nodes are not owned */
/* 0, or -1 when out of memory. The node must not be queued already. */
int lease_heap_push(lease_heap *h, lease_heap_node *n);
lease_heap_node *lease_heap_peek(const lease_heap *h);
lease_heap_node *lease_heap_pop(lease_heap *h);
/* Removes a queued node (no-op when not queued). */
void lease_heap_remove(lease_heap *h, lease_heap_node *n);

/* ---- Manager and handles (lease.c) --------------------------------------- */

typedef enum lease_state { LEASE_STATE_HELD, LEASE_STATE_LOST, LEASE_STATE_RELEASED } lease_state;

struct lease {
    lease_manager *mgr;
    char *name;       /* lock name, or container/blob for an explicit blob */
    char *container;
    char *blob;
    char *owner;      /* written to metadata */
    char id[64];
    lease_timing timing;
    lease_callbacks cb;
    uint64_t epoch;
    /* Below: guarded by mgr->mu. */
    lease_state state;
    int64_t acquired_at_ms;
    int64_t expiry_ms;        /* local estimate from the send time */
    int64_t safe_deadline_ms; /* expiry - margin */
    int64_t last_renewal_ms;  /* send time of the last successful acquire/renew */
    uint64_t renewals;
    int attempt;              /* failed attempts of the current renewal */
    int busy;                 /* a renewal worker is using the handle */
    lease_heap_node node;     /* scheduler queue entry */
    struct lease *prev, *next; /* manager's list of live handles */
};

typedef struct lease_renewer lease_renewer;

struct lease_manager {
    blob_client *client;
    lease_manager_options opts; /* strings point at the copies below */
    char *container;
    char *owner_id;
    pthread_mutex_t mu;
    pthread_cond_t idle;  /* signalled when a handle stops being busy */
    lease *handles;       /* every live handle */
    lease_renewer *renewer;
};

int64_t lease_now(const lease_manager *mgr);
/* Logs through the manager's log hook (printf-style). */
void lease_logf(const lease_manager *mgr, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lease_emit(const lease_manager *mgr, lease_event_kind kind, const char *name,
                double latency_ms, int64_t remaining_ms, lease_loss_reason reason);
/* Fills `err` (may be NULL) and returns `code`. */
lease_code lease_fail(lease_error *err, lease_code code, const blob_error *storage,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Marks the handle lost under mgr->mu (caller holds it) and returns 1 when it
 * was held, so the caller fires `lost` once after unlocking. */
int lease_mark_lost_locked(lease *l);
/* Fires the lost callback and the LOST event (no lock held). */
void lease_notify_lost(lease *l, lease_loss_reason reason, int64_t last_renewal_ms);

/* try_acquire writing `owner` instead of the manager's owner id (elections). */
lease_code lease_try_acquire_as(lease_manager *mgr, const char *name,
                                const lease_acquire_options *o, const char *owner, lease **out,
                                lease_error *err);
/* The handle's safe deadline (reads under the lock). */
int64_t lease_safe_deadline_ms(const lease *l);

/* ---- Renewal scheduler (renewer.c) --------------------------------------- */

/* Starts the scheduler thread and `workers` renewal threads. NULL on failure. */
lease_renewer *lease_renewer_start(lease_manager *mgr, int workers, char *msg, size_t cap);
/* Stops and joins every thread; queued handles stay untouched. */
void lease_renewer_stop(lease_renewer *r);
/* Queues (or re-queues) a held handle for renewal at its next due time.
 * Caller holds mgr->mu. 0, or -1 when out of memory. */
int lease_renewer_schedule_locked(lease_renewer *r, lease *l, int64_t due_ms);
/* How far the earliest due renewal is overdue (0 when on time). Caller
 * holds mgr->mu. */
int64_t lease_renewer_lag_ms_locked(const lease_renewer *r, int64_t now_ms);

/* Takes the handle off the queue (a worker may still be using it: see
 * lease->busy). Caller holds mgr->mu. */
void lease_renewer_unqueue_locked(lease_renewer *r, lease *l);

/* Sends one renewal for a held handle (attempt >= 1; no lock held) and
 * applies the answer: new expiry and count, callbacks, loss. Declares the
 * lease lost without a request when its safe deadline has already passed.
 * `be` receives the storage answer. */
lease_decision lease_renew_attempt(lease *l, int attempt, blob_error *be);

/* Waits on `cond` (created with CLOCK_MONOTONIC) for at most `ms`. */
void lease_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms);
/* Initialises a condition variable that waits on CLOCK_MONOTONIC. 0 or -1. */
int lease_cond_init(pthread_cond_t *cond);
/* A 32-bit random number for jitter (thread-safe). */
uint32_t lease_random(void);

#endif
