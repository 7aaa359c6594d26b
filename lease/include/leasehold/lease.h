/* lease.h -- distributed leases on Azure Blob Storage.
 *
 * A lease_manager owns a blob_client (borrowed), default timings and ONE
 * renewal scheduler thread that renews every lease the manager holds. A
 * `lease` handle stands for one held blob lease: either a named lock blob
 * ("lease-{name}" in the manager's container, created on demand) or any
 * existing blob, so a data blob can be its own lease and every write to it
 * is fenced by the service (x-ms-lease-id).
 *
 * Timing. The local expiry estimate is taken on the monotonic clock from the
 * moment the acquire/renew request was SENT, so it is never later than the
 * server's. The safe deadline is expiry minus the safety margin: past it the
 * handle declares itself lost without asking the server, and the fenced
 * write path refuses locally.
 *
 * Renewal errors are classified: 409 LeaseIdMismatchWithLeaseOperation,
 * LeaseIsBrokenAndCannotBeRenewed, LeaseNotPresent... or 412 mean the lease
 * is lost now; 5xx, timeouts and connection errors are retried with backoff
 * until the safe deadline, then the lease is lost.
 *
 * Epoch. Every successful acquire increments a counter kept in the leased
 * blob's metadata ("leaseholdepoch"); downstream systems can reject writes
 * carrying an older epoch. The holder's identity is kept in "leaseholdowner".
 *
 * Threads. Manager and handles are thread-safe. Callbacks run on the
 * manager's renewal threads (the scheduler hands due leases to up to
 * renew_concurrency workers), or on the caller's thread when a call of
 * its own (lease_renew, lease_read, lease_write) discovers the loss: keep
 * them short and hand work off; they may read the handle but must not call
 * lease_free() or lease_release() on it.
 */
#ifndef LEASEHOLD_LEASE_H
#define LEASEHOLD_LEASE_H

#include <stdint.h>
#include <stddef.h>

#include "leasehold/blob.h"

typedef enum lease_code {
    LEASE_OK = 0,
    LEASE_HELD_ELSEWHERE, /* try_acquire: someone else holds it -- not an error */
    LEASE_ERR_INVALID,    /* bad argument or option (message names it) */
    LEASE_ERR_NOMEM,
    LEASE_ERR_LOST,       /* the handle's lease is lost: no request was sent */
    LEASE_ERR_TIMEOUT,    /* acquire with timeout gave up */
    LEASE_ERR_NOT_FOUND,  /* the blob to lease does not exist */
    LEASE_ERR_STORAGE     /* storage refused or was unreachable: see err.storage */
} lease_code;

const char *lease_strerror(lease_code code);

typedef struct lease_error {
    lease_code code;
    blob_error storage; /* last storage error, code BLOB_OK when none */
    char message[384];  /* "acquire lease-foo: held elsewhere (HTTP 409 LeaseAlreadyPresent)" */
} lease_error;

typedef enum lease_loss_reason {
    LEASE_LOST_TAKEN,    /* 409/412 lease id mismatch: taken or released by someone else */
    LEASE_LOST_BROKEN,   /* the lease was broken */
    LEASE_LOST_DEADLINE, /* renewals kept failing until the safe deadline passed */
    LEASE_LOST_GONE      /* the blob or container was deleted */
} lease_loss_reason;

const char *lease_loss_reason_name(lease_loss_reason reason); /* "taken", "broken", ... */

typedef struct lease lease;
typedef struct lease_manager lease_manager;

/* Monotonic milliseconds; injectable for tests. */
typedef int64_t (*lease_clock_fn)(void *opaque);

/* Observations for metrics (acquire/renew latency, time-to-expiry at renewal,
 * losses by cause). Called on whichever thread did the work. */
typedef enum lease_event_kind {
    LEASE_EV_ACQUIRED,
    LEASE_EV_ACQUIRE_CONTENDED, /* held elsewhere */
    LEASE_EV_RENEWED,
    LEASE_EV_RENEW_FAILED,
    LEASE_EV_RELEASED,
    LEASE_EV_LOST
} lease_event_kind;

typedef struct lease_event {
    lease_event_kind kind;
    const char *name;
    double latency_ms;        /* request round trip, where a request was made */
    int64_t remaining_ms;     /* RENEWED: time left before the old expiry at renewal */
    lease_loss_reason reason; /* LOST */
} lease_event;

typedef void (*lease_log_fn)(int level, const char *line, void *opaque); /* level: syslog LOG_* */

typedef struct lease_manager_options {
    const char *container;    /* lock blobs; default "leases"; created on demand */
    const char *owner_id;     /* identity stored in metadata; default hostname-pid */
    int duration_s;           /* default 30; 15..60 or -1 (infinite) */
    int auto_renew;           /* default 1 */
    int renew_interval_ms;    /* default 0 = 2/3 of the duration, shortened if the retries
                                 would not fit (see max_renew_retries) */
    int max_renew_retries;    /* default 3: retries of one renewal the timing must leave room
                                 for (interval + retries x retry_max_ms + margin <= duration);
                                 transient failures are retried until the safe deadline */
    int retry_base_ms;        /* default 200: backoff with full jitter ... */
    int retry_max_ms;         /* default 2000: ... capped here */
    int acquire_timeout_ms;   /* default for lease_acquire when timeout_ms < 0; 60000 */
    int safety_margin_ms;     /* default 2000 */
    int renew_concurrency;    /* renewal requests in flight at once (1..64); default 16 */
    lease_clock_fn clock;     /* default CLOCK_MONOTONIC */
    void *clock_opaque;
    void (*on_event)(const lease_event *ev, void *opaque); /* optional metrics hook */
    lease_log_fn log;         /* optional; never receives secrets */
    void *opaque;             /* for on_event and log */
} lease_manager_options;

void lease_manager_options_init(lease_manager_options *opts);

/* Validates the options (renew interval plus retries must fit inside the
 * duration minus the margin) and starts the scheduler thread. The client is
 * borrowed and must outlive the manager. NULL on failure, `err` says why. */
lease_manager *lease_manager_new(blob_client *client, const lease_manager_options *opts,
                                 lease_error *err);
/* Stops the scheduler, releases every lease still held and frees every
 * handle not yet freed (do not use them afterwards). The releases are sent
 * renew_concurrency at a time, so thousands of leases go in seconds. NULL
 * is a no-op. */
void lease_manager_free(lease_manager *mgr);
size_t lease_manager_held_count(lease_manager *mgr);
const char *lease_manager_owner_id(const lease_manager *mgr);
/* The blob client the manager was created with (borrowed). */
blob_client *lease_manager_client(lease_manager *mgr);

typedef struct lease_callbacks {
    void (*renewed)(lease *l, int64_t new_expiry_ms, uint64_t renewal_count, void *opaque);
    void (*renew_failed)(lease *l, int attempt, int will_retry, const char *error, void *opaque);
    void (*lost)(lease *l, lease_loss_reason reason, int64_t last_renewal_ms, void *opaque);
    void *opaque;
} lease_callbacks;

/* Per-acquire options; a NULL pointer means all defaults. */
typedef struct lease_acquire_options {
    const char *container;   /* lease this existing blob instead of the lock blob ... */
    const char *blob;        /* ... (both set, or both NULL) */
    int create_if_missing;   /* for container/blob: create an empty blob first */
    int duration_s;          /* 0 = manager default; validated like the manager's */
    lease_callbacks callbacks; /* registered before the first renewal can happen */
} lease_acquire_options;

/* One attempt. LEASE_OK: *out is a held lease. LEASE_HELD_ELSEWHERE: *out is
 * NULL, nothing failed. Anything else is an error. */
lease_code lease_try_acquire(lease_manager *mgr, const char *name, const lease_acquire_options *o,
                             lease **out, lease_error *err);
/* Retries with exponential backoff and full jitter until acquired or
 * `timeout_ms` passes (< 0: manager default) -> LEASE_ERR_TIMEOUT. */
lease_code lease_acquire(lease_manager *mgr, const char *name, const lease_acquire_options *o,
                         int timeout_ms, lease **out, lease_error *err);

/* Renews now (the scheduler does this by itself when auto-renew is on). */
lease_code lease_renew(lease *l, lease_error *err);
/* Releases on the server. Idempotent: releasing a released or lost lease is
 * LEASE_OK. The handle stays valid (not held) until lease_free. */
lease_code lease_release(lease *l, lease_error *err);
/* Releases if still held (best effort) and frees. NULL is a no-op. */
void lease_free(lease *l);
/* Stops renewing and frees the handle WITHOUT releasing: the lease stays on
 * the server until it expires or is released by id (leasectl acquire
 * without --hold). NULL is a no-op. */
void lease_abandon(lease *l);

/* Breaks whatever lease is on `name` (operators, tests). `break_period_s`
 * -1 = immediately for the caller's purposes (0 s). */
lease_code lease_break(lease_manager *mgr, const char *name, const lease_acquire_options *o,
                       int break_period_s, lease_error *err);

/* Handle accessors; strings are borrowed for the handle's lifetime. */
const char *lease_id(const lease *l);      /* GUID */
const char *lease_name(const lease *l);
uint64_t lease_epoch(const lease *l);
int64_t lease_acquired_at_ms(const lease *l); /* monotonic */
int64_t lease_expiry_ms(const lease *l);      /* monotonic local estimate; INT64_MAX if infinite */
int64_t lease_remaining_ms(const lease *l);   /* until the SAFE deadline; <= 0 means do not write */
int lease_is_held(const lease *l);            /* 0 once lost or released */
uint64_t lease_renewal_count(const lease *l);
lease_manager *lease_get_manager(const lease *l);

/* Fenced payload: the only write path to a leased blob. Fails locally with
 * LEASE_ERR_LOST, without a request, once the handle knows it is lost or its
 * safe deadline has passed; a 412 from the service marks the handle lost.
 * lease_write replaces content and metadata; the library keeps its own
 * metadata keys (epoch, owner, duration). *data from lease_read is malloc'd. */
lease_code lease_read(lease *l, char **data, size_t *len, blob_meta *meta, lease_error *err);
lease_code lease_write(lease *l, const void *data, size_t len, const char *content_type,
                       const blob_meta *meta, lease_error *err);

/* Fenced write of a block blob in parts: stages blocks[0..n_blocks) with
 * Put Block, then commits ids[0..n_ids) with Put Block List (content type
 * and metadata as lease_write). Every request carries the lease id and is
 * preceded by the safe-deadline check, so a loss between two requests stops
 * the write before its commit; until the commit succeeds the blob's content
 * is unchanged (staged blocks are dropped by the next commit or by the
 * service). `requests` and `bytes` (may be NULL) count what was sent, also
 * on failure. Errors as lease_write: a 412 at either step = LEASE_ERR_LOST. */
typedef struct lease_block {
    const char *id; /* blob_block_id */
    const void *data;
    size_t len;
} lease_block;
lease_code lease_write_blocks(lease *l, const lease_block *blocks, size_t n_blocks,
                              const char *const *ids, size_t n_ids, const char *content_type,
                              const blob_meta *meta, size_t *requests, size_t *bytes,
                              lease_error *err);

/* Status of a name without holding it (leasectl status). */
typedef struct lease_status {
    int exists;
    int leased;              /* lease_state is "leased" or "breaking" */
    char state[16];          /* service lease state */
    char owner[128];         /* from metadata, "" if unknown */
    uint64_t epoch;
    /* Duration of the latest acquire, from metadata: seconds, -1 infinite,
     * 0 unknown (never acquired by this library). The service does not
     * publish when a lease expires; a live holder renews it before
     * duration_s passes, a dead one leaves it free by duration_s from its
     * last renewal, so "now + duration_s" bounds when it frees up. */
    int duration_s;
} lease_status;
lease_code lease_get_status(lease_manager *mgr, const char *name, const lease_acquire_options *o,
                            lease_status *st, lease_error *err);

/* ---- Leader election ---------------------------------------------------
 * A campaign thread tries to take the lock `name` under `identity`; once it
 * holds it, `elected` fires; when the lease is lost, or its safe deadline
 * passes without a renewal, `demoted` fires BEFORE the server-side lease can
 * expire, so two leaders never act at once. After demotion it campaigns
 * again. Callbacks run on the campaign or scheduler thread. */
typedef struct lease_election lease_election;

typedef struct lease_election_callbacks {
    void (*elected)(lease_election *e, uint64_t epoch, void *opaque);
    void (*demoted)(lease_election *e, const char *reason, void *opaque);
    void *opaque;
} lease_election_callbacks;

lease_election *lease_election_start(lease_manager *mgr, const char *name, const char *identity,
                                     const lease_election_callbacks *cb, lease_error *err);
/* True only while the lease is held AND its safe deadline is ahead. */
int lease_election_is_leader(lease_election *e);
uint64_t lease_election_epoch(lease_election *e);
/* Monotonic time (manager clock) at which the last term ended: the
 * demotion time, or the safe deadline if that came first (e.g. the process
 * was paused). 0 before the first demotion. */
int64_t lease_election_led_until_ms(lease_election *e);
/* Copies the lease id of the current or last term ("" before the first). */
void lease_election_lease_id(lease_election *e, char *out, size_t cap);
/* Fenced write to the lock blob as leader (see lease_write). LEASE_ERR_LOST,
 * without a request, when not the leader at the time of the call. */
lease_code lease_election_write(lease_election *e, const void *data, size_t len,
                                const char *content_type, const blob_meta *meta, lease_error *err);
/* Gives up leadership (releases) and stops campaigning. */
lease_code lease_election_resign(lease_election *e, lease_error *err);
/* Resigns if needed and frees. NULL is a no-op. */
void lease_election_free(lease_election *e);

/* Identity of the current leader of `name` from the lock blob's metadata.
 * LEASE_OK with `identity` filled; LEASE_ERR_NOT_FOUND when nobody leads. */
lease_code lease_leader(lease_manager *mgr, const char *name, char *identity, size_t cap,
                        lease_error *err);

#endif
