/* processor.c -- one product's batch under its lease (see processor.h).
 *
 * A `product` lives in the dispatcher's slot for its key while this worker
 * holds the product's lease (or is trying to). The lease callbacks only set
 * an atomic flag and log: they run on the lease manager's threads, and the
 * product is only ever changed by the pool thread running its key, which
 * checks the flag before every step that writes.
 *
 * Products holding a lease are also on a list (under `mu`) so the admin
 * endpoint can show them; only lease accessors, which are thread-safe, are
 * read from that list.
 *
 * Blocked products (state unreadable, see processor.h) are on a second list
 * under `mu`: the pool thread running the key changes the blocked fields
 * with `mu` held, other threads read them under it. The operator's action
 * is an atomic the admin thread sets; the key's next run takes it.
 */
#include "processor.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dead_letter.h"
#include "inventory.h"
#include "log.h"
#include "metrics.h"
#include "state_blob.h"
#include "worker_time.h"

#define PROCESSOR_OOM_RETRY_MS 100
#define PROCESSOR_BLOCKED_RETRY_MS 30000
#define PROCESSOR_BLOCKED_WARN_MS 60000
#define PROC_LOAD_UNREADABLE (-2) /* proc_load_state: a permanent failure, see proc_block */

/* A place on one of the processor's lists (held, blocked); `pr` is its product. */
typedef struct proc_node {
    struct proc_node *prev, *next;
    struct product *pr;
} proc_node;

typedef struct product {
    processor *proc;
    char id[INV_PRODUCT_MAX + 1];
    char blob[INV_PRODUCT_MAX + 8];
    lease *lease;    /* NULL while not held */
    atomic_int lost; /* set by the lease's lost callback */
    inv_state state;
    int loaded;                  /* state read under the current lease */
    int exists;                  /* the blob holds a product (restocked at least once) */
    int dirty;                   /* outbox cleared in memory, not yet written */
    int attempts;                /* consecutive failures, for the backoff */
    atomic_int partition;        /* of the latest batch; read by rebalance callbacks */
    int64_t run_start_us;        /* monotonic start of the current run (queue_wait) */
    unsigned seed;               /* jitter */
    proc_node held_node;         /* on processor.held while holding a lease */
    size_t queued;               /* commands queued at the start of the run */
    char unreadable[400];        /* why the last load failed for good */
    /* Blocked: changed by the key's pool thread under proc->mu. */
    int blocked;
    int operator_retry;          /* this run was asked for by an operator */
    char blocked_reason[400];
    int64_t blocked_since_ms;    /* wall clock */
    int64_t blocked_warned_ms;   /* opts.now_ms() of the last WARN */
    atomic_int action;           /* processor_action, set by processor_blocked_action */
    proc_node blocked_node;      /* on processor.blocked while blocked */
} product;

struct processor {
    processor_options opts;
    char *container;
    atomic_int storage_ok;
    atomic_int abandoned; /* processor_abandon */
    pthread_mutex_t mu;
    proc_node *held;         /* products holding a lease */
    proc_node *blocked;      /* blocked products */
    atomic_size_t n_blocked; /* written under mu; read without it as a fast path */
};

/* Exponential backoff with full jitter: uniform in [base/2, min(max, base*2^n)]. */
static int proc_backoff(product *pr) {
    const processor_options *o = &pr->proc->opts;
    long long cap = o->retry_base_ms;
    for (int i = 0; i < pr->attempts && cap < o->retry_max_ms; i++)
        cap *= 2;
    if (cap > o->retry_max_ms)
        cap = o->retry_max_ms;
    if (pr->attempts < 30)
        pr->attempts++;
    long long lo = o->retry_base_ms / 2;
    return (int)(lo + (long long)(rand_r(&pr->seed) % (unsigned)(cap - lo + 1)));
}

static void proc_storage_result(processor *p, int ok) {
    atomic_store(&p->storage_ok, ok);
}

/* ---- lease callbacks (lease manager threads) ---------------------------- */

static void proc_on_renewed(lease *l, int64_t new_expiry_ms, uint64_t renewal_count, void *opaque) {
    (void)opaque;
    (void)renewal_count;
    /* The handle's expiry is monotonic; show it as wall-clock time. */
    time_t at = (time_t)((worker_time_wall_ms() + (new_expiry_ms - worker_time_mono_ms())) / 1000);
    struct tm tm;
    char text[32];
    gmtime_r(&at, &tm);
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    log_info("Lease %s renewed. New expiration %s", lease_id(l), text);
}

static void proc_on_renew_failed(lease *l, int attempt, int will_retry, const char *error,
                                 void *opaque) {
    product *pr = opaque;
    log_warn("Renewal %d of lease %s for product %s failed (%s)%s", attempt, lease_id(l), pr->id,
             error, will_retry ? "; retrying" : "");
}

static void proc_on_lost(lease *l, lease_loss_reason reason, int64_t last_renewal_ms,
                         void *opaque) {
    product *pr = opaque;
    (void)last_renewal_ms;
    atomic_store(&pr->lost, 1);
    log_warn("Lease %s for product %s lost (%s); abandoning its in-flight work", lease_id(l),
             pr->id, lease_loss_reason_name(reason));
}

/* ---- product lifecycle ---------------------------------------------------- */

static product *proc_product_new(processor *p, const char *id) {
    product *pr = calloc(1, sizeof(*pr));
    if (pr == NULL)
        return NULL;
    pr->proc = p;
    pr->held_node.pr = pr;
    pr->blocked_node.pr = pr;
    snprintf(pr->id, sizeof(pr->id), "%s", id);
    snprintf(pr->blob, sizeof(pr->blob), "%s.json", id);
    inv_state_init(&pr->state, id);
    atomic_init(&pr->partition, -1);
    pr->seed = (unsigned)worker_time_mono_ms() ^ (unsigned)(uintptr_t)pr;
    return pr;
}

static void proc_forget_state(product *pr) {
    inv_state_clear(&pr->state);
    inv_state_init(&pr->state, pr->id);
    pr->loaded = 0;
    pr->exists = 0;
    pr->dirty = 0;
}

/* List operations; the caller holds proc->mu. */
static void proc_list_push(proc_node **head, proc_node *n) {
    n->prev = NULL;
    n->next = *head;
    if (*head)
        (*head)->prev = n;
    *head = n;
}

static void proc_list_remove(proc_node **head, proc_node *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        *head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

static void proc_held_add(product *pr) {
    pthread_mutex_lock(&pr->proc->mu);
    proc_list_push(&pr->proc->held, &pr->held_node);
    pthread_mutex_unlock(&pr->proc->mu);
}

static void proc_held_remove(product *pr) {
    pthread_mutex_lock(&pr->proc->mu);
    proc_list_remove(&pr->proc->held, &pr->held_node);
    pthread_mutex_unlock(&pr->proc->mu);
}

/* Gives up the lease handle (releasing it on the server when still held)
 * and the cached state. Once abandoned, without any request. */
static void proc_drop_lease(product *pr, int release) {
    if (pr->lease == NULL)
        return;
    proc_held_remove(pr);
    if (atomic_load(&pr->proc->abandoned)) {
        log_info("Leaving lease %s for product %s to expire (shutdown gave up)",
                 lease_id(pr->lease), pr->id);
        lease_abandon(pr->lease);
    } else {
        if (release && lease_is_held(pr->lease)) {
            log_info("Releasing lease %s for product %s", lease_id(pr->lease), pr->id);
            lease_error err;
            if (lease_release(pr->lease, &err) != LEASE_OK)
                log_warn("Release of lease for product %s failed: %s", pr->id, err.message);
        }
        lease_free(pr->lease);
    }
    pr->lease = NULL;
    atomic_store(&pr->lost, 0);
    proc_forget_state(pr);
}

typedef enum proc_acquire { PROC_ACQUIRED, PROC_RETRY, PROC_UNKNOWN_PRODUCT } proc_acquire;

static int proc_batch_has_restock(void *const *items, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (((const work_item *)items[i])->cmd.type == INV_CMD_RESTOCK)
            return 1;
    return 0;
}

static proc_acquire proc_acquire_lease(product *pr, void *const *items, size_t n) {
    processor *p = pr->proc;
    lease_acquire_options o;
    memset(&o, 0, sizeof(o));
    o.container = p->container;
    o.blob = pr->blob;
    o.callbacks.renewed = proc_on_renewed;
    o.callbacks.renew_failed = proc_on_renew_failed;
    o.callbacks.lost = proc_on_lost;
    o.callbacks.opaque = pr;
    /* Only a restock may bring a product into existence (it creates the
     * empty blob first; the state is written under the lease). */
    o.create_if_missing = proc_batch_has_restock(items, n);
    lease_error err;
    lease *l = NULL;
    int64_t start_us = worker_time_mono_us();
    lease_code rc = lease_try_acquire(p->opts.leases, pr->blob, &o, &l, &err);
    switch (rc) {
    case LEASE_OK:
        break;
    case LEASE_HELD_ELSEWHERE:
        proc_storage_result(p, 1);
        log_info("Could not acquire lease for product %s", pr->id);
        return PROC_RETRY;
    case LEASE_ERR_NOT_FOUND:
        proc_storage_result(p, 1);
        return PROC_UNKNOWN_PRODUCT;
    default:
        proc_storage_result(p, rc != LEASE_ERR_STORAGE);
        log_warn("Acquiring lease for product %s failed: %s", pr->id, err.message);
        return PROC_RETRY;
    }
    metrics_record_stage(METRICS_STAGE_LEASE_ACQUIRE, worker_time_since_s(start_us));
    proc_storage_result(p, 1);
    atomic_store(&pr->lost, 0);
    pr->lease = l;
    proc_held_add(pr);
    log_info("Acquired lease %s for product %s", lease_id(l), pr->id);
    return PROC_ACQUIRED;
}

/* A read refused for good: a definitive HTTP 4xx about this blob. Not the
 * lease's own answers (404 gone, 409/412: handled as a lost lease), not
 * credentials (401/403 concern every product: the worker goes unready
 * instead) and not 429 or 5xx/timeouts, which are transient. */
static int proc_read_failure_permanent(lease_code rc, const lease_error *err) {
    return rc == LEASE_ERR_STORAGE && err->storage.code == BLOB_ERR_HTTP &&
           err->storage.http_status != 429;
}

/* Reads and decodes the state under the lease. 0, -1 (retry later), or
 * PROC_LOAD_UNREADABLE with pr->unreadable saying why (the product blocks). */
static int proc_load_state(product *pr) {
    char *data = NULL;
    size_t len = 0;
    lease_error err;
    int64_t start_us = worker_time_mono_us();
    lease_code rc = lease_read(pr->lease, &data, &len, NULL, &err);
    if (rc != LEASE_OK) {
        int permanent = proc_read_failure_permanent(rc, &err);
        proc_storage_result(pr->proc, rc != LEASE_ERR_STORAGE || permanent);
        log_warn("Reading state of product %s failed: %s", pr->id, err.message);
        if (rc == LEASE_ERR_LOST)
            proc_drop_lease(pr, 0);
        if (permanent) {
            snprintf(pr->unreadable, sizeof(pr->unreadable), "read: %s", err.message);
            return PROC_LOAD_UNREADABLE;
        }
        return -1;
    }
    proc_storage_result(pr->proc, 1);
    proc_forget_state(pr);
    if (len > 0) {
        char msg[256];
        if (inv_state_decode(data, len, &pr->state, msg, sizeof(msg)) != 0) {
            /* Never overwrite a document we cannot read: the product
             * blocks until an operator repairs it (proc_block). */
            snprintf(pr->unreadable, sizeof(pr->unreadable), "decode: %s", msg);
            inv_state_init(&pr->state, pr->id);
            free(data);
            return PROC_LOAD_UNREADABLE;
        }
        pr->exists = 1;
    }
    free(data);
    pr->loaded = 1;
    metrics_record_stage(METRICS_STAGE_STATE_READ, worker_time_since_s(start_us));
    return 0;
}

/* Fenced write of the state. 0, or -1 (the caller retries; on a lost lease
 * the lease and the cached state are already dropped; once abandoned the
 * cached state is, and nothing is written). */
static int proc_write_state(product *pr) {
    if (atomic_load(&pr->lost)) {
        proc_drop_lease(pr, 0);
        return -1;
    }
    if (atomic_load(&pr->proc->abandoned)) {
        proc_forget_state(pr);
        return -1;
    }
    pr->state.updated_at_ms = worker_time_wall_ms();
    /* The reconciler's expiry hint travels in the same fenced write (Put
     * Blob or Put Block List; state_blob.h); the lease engine adds its own
     * keys. An empty list always has room for it. */
    blob_meta meta = {0};
    state_blob_meta_set_next_expiry(&meta, &pr->state);
    lease_error err;
    int64_t start_us = worker_time_mono_us();
    lease_code rc = state_blob_write(pr->lease, &pr->state, pr->proc->opts.state_v1,
                                     pr->proc->opts.state_single_max, &meta, &err);
    if (rc == LEASE_OK) {
        metrics_record_stage(METRICS_STAGE_FENCED_WRITE, worker_time_since_s(start_us));
        proc_storage_result(pr->proc, 1);
        pr->dirty = 0;
        return 0;
    }
    if (rc == LEASE_ERR_NOMEM) {
        log_error("Write of product %s not attempted: %s", pr->id, err.message);
        proc_forget_state(pr);
    } else if (rc == LEASE_ERR_LOST || !lease_is_held(pr->lease)) {
        log_warn("Write of product %s refused, lease lost: %s; batch abandoned", pr->id,
                 err.message);
        proc_drop_lease(pr, 0);
    } else {
        proc_storage_result(pr->proc, rc != LEASE_ERR_STORAGE);
        log_warn("Write of product %s failed: %s; will retry", pr->id, err.message);
        proc_forget_state(pr); /* re-read: the batch is applied again from the blob */
    }
    return -1;
}

/* Publishes the outbox and clears it in memory. 0, or -1 (kept). */
static int proc_publish_outbox(product *pr) {
    if (pr->state.n_outbox == 0)
        return 0;
    char err[256];
    int64_t start_us = worker_time_mono_us();
    if (publisher_send_events(pr->proc->opts.pub, pr->state.outbox, pr->state.n_outbox, err,
                              sizeof(err)) != 0) {
        log_warn("Publishing %zu events of product %s failed: %s; will retry", pr->state.n_outbox,
                 pr->id, err);
        return -1;
    }
    metrics_record_stage(METRICS_STAGE_PUBLISH_ACK, worker_time_since_s(start_us));
    pr->state.n_outbox = 0;
    pr->dirty = pr->exists; /* a non-existent product has no blob to update */
    return 0;
}

static const char *proc_outcome_name(inventory_result r, const inv_event *ev) {
    switch (r) {
    case INVENTORY_APPLIED:
        return inv_event_type_name(ev->type);
    case INVENTORY_DUPLICATE:
        return "duplicate";
    case INVENTORY_REPLAY:
        return "replay";
    case INVENTORY_NOOP:
        return "noop";
    default:
        return "error";
    }
}

/* Applies items[0..n) to the cached state. 1 when anything changed, 0 when
 * all were replays, -1 on OOM (state dropped). */
static int proc_apply_batch(product *pr, void *const *items, size_t n, uint64_t epoch,
                            const char **outcomes) {
    int mutated = 0;
    int64_t now = worker_time_wall_ms(), start_us = worker_time_mono_us();
    for (size_t i = 0; i < n; i++) {
        const work_item *it = items[i];
        inventory_source src = {it->topic, it->partition, it->offset};
        inv_event ev;
        inventory_result r =
            inventory_apply(&pr->state, &pr->exists, &it->cmd, &src, epoch, now, &ev);
        if (r == INVENTORY_ERR_NOMEM) {
            proc_forget_state(pr);
            return -1;
        }
        outcomes[i] = proc_outcome_name(r, &ev);
        mutated |= r != INVENTORY_REPLAY;
        if (r == INVENTORY_DUPLICATE)
            log_info("Duplicate command %s for product %s: re-emitting event %s",
                     it->cmd.command_id, pr->id, ev.event_id);
    }
    metrics_record_stage(METRICS_STAGE_APPLY, worker_time_since_s(start_us));
    return mutated;
}

static void proc_finish(product *pr, void *const *items, size_t n, const char **outcomes) {
    int64_t now_us = worker_time_mono_us();
    for (size_t i = 0; i < n; i++) {
        const work_item *it = items[i];
        offset_tracker_finish(pr->proc->opts.tracker, it->topic, it->partition, it->offset);
        /* Logged once durable, so a fenced-out batch never claims success. */
        if (strcmp(outcomes[i], "reservation.created") == 0)
            log_info("Successfully reserved %lld units of %s for %s", it->cmd.quantity, pr->id,
                     it->cmd.customer_id);
        metrics_record_command(inv_command_type_name(it->cmd.type), outcomes[i],
                               (double)(now_us - it->received_us) / 1e6);
        metrics_record_stage(METRICS_STAGE_QUEUE_WAIT,
                             (double)(pr->run_start_us - it->received_us) / 1e6);
    }
    metrics_record_batch(n);
}

/* A product without a blob: reject the batch without a lease (nothing is
 * created, so there is nothing to fence); events are published directly. */
static size_t proc_reject_unknown(product *pr, void *const *items, size_t n, const char **outcomes,
                                  int *retry_ms) {
    proc_forget_state(pr);
    if (proc_apply_batch(pr, items, n, 0, outcomes) < 0 || proc_publish_outbox(pr) != 0) {
        proc_forget_state(pr);
        *retry_ms = proc_backoff(pr);
        return 0;
    }
    proc_forget_state(pr);
    proc_finish(pr, items, n, outcomes);
    pr->attempts = 0;
    return n;
}

/* ---- blocked products ---------------------------------------------------- */

/* The product's state cannot be read: give the lease back (so an operator
 * can repair the blob without fighting this worker for it), keep its
 * commands queued and unfinished (their partition's offsets stop at the
 * first of them), and look again only every blocked_retry_ms or when an
 * operator asks. Consumes nothing. */
static size_t proc_block(product *pr, int *retry_ms) {
    processor *p = pr->proc;
    proc_drop_lease(pr, 1);
    int64_t now = p->opts.now_ms();
    pthread_mutex_lock(&p->mu);
    int first = !pr->blocked;
    snprintf(pr->blocked_reason, sizeof(pr->blocked_reason), "%s", pr->unreadable);
    if (first) {
        pr->blocked = 1;
        pr->blocked_since_ms = worker_time_wall_ms();
        proc_list_push(&p->blocked, &pr->blocked_node);
        atomic_fetch_add(&p->n_blocked, 1);
        metrics_record_products_blocked(atomic_load(&p->n_blocked));
    }
    /* Rate-limited, except right after an operator's retry: they wait for
     * the answer. */
    int warn = first || pr->operator_retry ||
               now - pr->blocked_warned_ms >= p->opts.blocked_warn_ms;
    if (warn)
        pr->blocked_warned_ms = now;
    long long blocked_s = (worker_time_wall_ms() - pr->blocked_since_ms) / 1000;
    pthread_mutex_unlock(&p->mu);
    if (warn)
        log_warn("Product %s is blocked for %lld s: its state cannot be read (%s); %zu queued "
                 "commands wait and its partitions' offsets stop at the first of them. Repair: "
                 "fix or restore the blob, then POST /api/blocked/%s/retry, or POST "
                 "/api/blocked/%s/dead-letter (docs/operations.md)",
                 pr->id, blocked_s, pr->blocked_reason, pr->queued, pr->id, pr->id);
    *retry_ms = p->opts.blocked_retry_ms;
    return 0;
}

static void proc_unblock(product *pr, const char *how) {
    processor *p = pr->proc;
    if (!pr->blocked)
        return;
    pthread_mutex_lock(&p->mu);
    proc_list_remove(&p->blocked, &pr->blocked_node);
    pr->blocked = 0;
    atomic_store(&pr->action, PROCESSOR_ACTION_NONE);
    atomic_fetch_sub(&p->n_blocked, 1);
    metrics_record_products_blocked(atomic_load(&p->n_blocked));
    pthread_mutex_unlock(&p->mu);
    log_info("Product %s is no longer blocked (%s)", pr->id, how);
}

/* The operator gave up a blocked product's queued commands: each goes to
 * the dead-letter topic with reason "state_unreadable" (the command
 * re-encoded, with its topic, partition and offset), and its offset is
 * finished once Kafka acknowledged the dead letter. No outcome event: the
 * state was never read. Returns how many went; on a failure the rest stay
 * queued and the action is kept for the next run. */
static size_t proc_dead_letter_batch(product *pr, void *const *items, size_t n, int *retry_ms) {
    processor *p = pr->proc;
    for (size_t i = 0; i < n; i++) {
        const work_item *it = items[i];
        char *payload = inv_command_encode(&it->cmd);
        inv_dead_letter dl = {PROCESSOR_DEAD_LETTER_REASON,
                              it->topic,
                              it->partition,
                              it->offset,
                              pr->id,
                              strlen(pr->id),
                              payload,
                              payload ? strlen(payload) : 0,
                              worker_time_wall_ms()};
        char err[64] = "out of memory";
        if (payload == NULL || dead_letter_send(p->opts.pub, p->opts.tracker, &dl, err,
                                                sizeof(err)) != 0) {
            free(payload);
            log_error("Dead letter for %s/%d@%lld (product %s): %s; will retry", it->topic,
                      (int)it->partition, (long long)it->offset, pr->id, err);
            atomic_store(&pr->action, PROCESSOR_ACTION_DEAD_LETTER);
            *retry_ms = proc_backoff(pr);
            return i;
        }
        free(payload);
        log_warn("Dead letter for %s/%d@%lld: %s (product %s, command %s)", it->topic,
                 (int)it->partition, (long long)it->offset, PROCESSOR_DEAD_LETTER_REASON, pr->id,
                 it->cmd.command_id);
        metrics_record_dead_letter(PROCESSOR_DEAD_LETTER_REASON);
    }
    if (n == pr->queued) {
        proc_unblock(pr, "its queued commands were dead-lettered");
    } else { /* more queued than one batch: the next run goes on at once */
        atomic_store(&pr->action, PROCESSOR_ACTION_DEAD_LETTER);
        *retry_ms = 0;
    }
    pr->attempts = 0;
    return n;
}

static size_t proc_run(product *pr, void *const *items, size_t n, const char **outcomes,
                       int *retry_ms) {
    if (atomic_load(&pr->proc->abandoned)) {
        *retry_ms = proc_backoff(pr);
        return 0;
    }
    if (pr->lease && (atomic_load(&pr->lost) || !lease_is_held(pr->lease)))
        proc_drop_lease(pr, 0);
    if (pr->lease == NULL) {
        switch (proc_acquire_lease(pr, items, n)) {
        case PROC_RETRY:
            *retry_ms = proc_backoff(pr);
            return 0;
        case PROC_UNKNOWN_PRODUCT:
            proc_unblock(pr, "its state blob was deleted");
            return proc_reject_unknown(pr, items, n, outcomes, retry_ms);
        case PROC_ACQUIRED:
            break;
        }
    }
    if (!pr->loaded) {
        int loaded = proc_load_state(pr);
        if (loaded == PROC_LOAD_UNREADABLE)
            return proc_block(pr, retry_ms);
        if (loaded != 0) {
            *retry_ms = proc_backoff(pr);
            return 0;
        }
        proc_unblock(pr, "its state is readable again");
    }
    /* Events a previous holder (or a failed publish) left pending go out
     * first, so a product's events keep their order. */
    if (proc_publish_outbox(pr) != 0) {
        *retry_ms = proc_backoff(pr);
        return 0;
    }
    int mutated = proc_apply_batch(pr, items, n, lease_epoch(pr->lease), outcomes);
    if (mutated < 0) {
        *retry_ms = PROCESSOR_OOM_RETRY_MS;
        return 0;
    }
    /* Decision 8: a loss noticed now abandons the batch before the write. */
    if (atomic_load(&pr->lost)) {
        proc_drop_lease(pr, 0);
        *retry_ms = proc_backoff(pr);
        return 0;
    }
    if ((mutated || pr->dirty) && pr->exists && proc_write_state(pr) != 0) {
        *retry_ms = proc_backoff(pr);
        return 0;
    }
    if (proc_publish_outbox(pr) != 0) {
        /* Durable in the blob's outbox; the next run publishes them and
         * sees the commands as replays. */
        *retry_ms = proc_backoff(pr);
        return 0;
    }
    proc_finish(pr, items, n, outcomes);
    pr->attempts = 0;
    return n;
}

static size_t proc_process(const char *key, void **slot, void *const *items, size_t n,
                           int *retry_ms, void *opaque) {
    processor *p = opaque;
    product *pr = *slot;
    if (pr == NULL) {
        pr = proc_product_new(p, key);
        if (pr == NULL) {
            *retry_ms = PROCESSOR_OOM_RETRY_MS;
            return 0;
        }
        *slot = pr;
    }
    pr->queued = n;
    if (n > p->opts.max_batch)
        n = p->opts.max_batch;
    atomic_store(&pr->partition, ((const work_item *)items[n - 1])->partition);
    const char **outcomes = calloc(n, sizeof(*outcomes));
    if (outcomes == NULL) {
        *retry_ms = PROCESSOR_OOM_RETRY_MS;
        return 0;
    }
    pr->run_start_us = worker_time_mono_us();
    int action = atomic_exchange(&pr->action, PROCESSOR_ACTION_NONE);
    pr->operator_retry = action == PROCESSOR_ACTION_RETRY;
    size_t used = pr->blocked && action == PROCESSOR_ACTION_DEAD_LETTER
                      ? proc_dead_letter_batch(pr, items, n, retry_ms)
                      : proc_run(pr, items, n, outcomes, retry_ms);
    free(outcomes);
    return used;
}

static void proc_product_free(product *pr) {
    proc_unblock(pr, "released");
    inv_state_clear(&pr->state);
    free(pr);
}

static void proc_idle(const char *key, void **slot, void *opaque) {
    product *pr = *slot;
    (void)key;
    (void)opaque;
    /* Persist the cleared outbox once; if that fails the next holder merely
     * republishes those events (same eventIds), so release anyway. */
    if (pr->lease && lease_is_held(pr->lease) && pr->dirty && pr->exists)
        proc_write_state(pr);
    proc_drop_lease(pr, 1);
    proc_product_free(pr);
    *slot = NULL;
}

static void proc_free_item(void *item, void *opaque) {
    (void)opaque;
    free(item);
}

processor *processor_new(const processor_options *opts) {
    processor *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->opts = *opts;
    p->container = strdup(opts->container);
    if (p->container == NULL) {
        free(p);
        return NULL;
    }
    p->opts.container = p->container;
    if (p->opts.blocked_retry_ms <= 0)
        p->opts.blocked_retry_ms = PROCESSOR_BLOCKED_RETRY_MS;
    if (p->opts.blocked_warn_ms <= 0)
        p->opts.blocked_warn_ms = PROCESSOR_BLOCKED_WARN_MS;
    if (p->opts.now_ms == NULL)
        p->opts.now_ms = worker_time_mono_ms;
    atomic_init(&p->storage_ok, 1);
    atomic_init(&p->abandoned, 0);
    atomic_init(&p->n_blocked, 0);
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

void processor_free(processor *p) {
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->mu);
    free(p->container);
    free(p);
}

dispatcher_ops processor_dispatcher_ops(processor *p) {
    dispatcher_ops ops = {proc_process, proc_idle, proc_free_item, p};
    return ops;
}

void processor_abandon(processor *p) {
    atomic_store(&p->abandoned, 1);
    blob_client_abort(lease_manager_client(p->opts.leases));
}

int processor_storage_healthy(processor *p) {
    return atomic_load(&p->storage_ok);
}

int processor_product_partition(const void *slot) {
    return atomic_load(&((const product *)slot)->partition);
}

char *processor_leases_json(processor *p) {
    json_t *arr = json_array();
    pthread_mutex_lock(&p->mu);
    for (proc_node *n = p->held; n; n = n->next) {
        const product *pr = n->pr;
        lease *l = pr->lease;
        int64_t left =
            lease_expiry_ms(l) == INT64_MAX ? -1 : lease_expiry_ms(l) - worker_time_mono_ms();
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:b}", "name", lease_name(l),
                           "productId", pr->id, "partition", atomic_load(&pr->partition),
                           "leaseId", lease_id(l), "epoch",
                           (json_int_t)lease_epoch(l), "expiresInMs", (json_int_t)left, "renewals",
                           (json_int_t)lease_renewal_count(l), "held", lease_is_held(l)));
    }
    pthread_mutex_unlock(&p->mu);
    json_t *doc = json_pack("{s:o}", "leases", arr);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

int processor_is_blocked(processor *p, const char *product_id) {
    if (atomic_load(&p->n_blocked) == 0)
        return 0;
    int found = 0;
    pthread_mutex_lock(&p->mu);
    for (proc_node *n = p->blocked; n && !found; n = n->next)
        found = strcmp(n->pr->id, product_id) == 0;
    pthread_mutex_unlock(&p->mu);
    return found;
}

int processor_blocked_action(processor *p, const char *product_id, processor_action action) {
    int rc = -1;
    pthread_mutex_lock(&p->mu);
    for (proc_node *n = p->blocked; n; n = n->next) {
        if (strcmp(n->pr->id, product_id) == 0) {
            atomic_store(&n->pr->action, (int)action);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (rc == 0)
        log_info("Operator asked to %s blocked product %s",
                 action == PROCESSOR_ACTION_DEAD_LETTER ? "dead-letter the commands of" : "retry",
                 product_id);
    return rc;
}

char *processor_blocked_json(processor *p, size_t (*queued)(const char *product_id, void *arg),
                             void *arg) {
    json_t *arr = json_array();
    /* Snapshot under the lock, then ask for the queue lengths without it:
     * the dispatcher's lock is taken before ours by the drain matchers. */
    pthread_mutex_lock(&p->mu);
    for (proc_node *n = p->blocked; n && arr; n = n->next)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "productId", n->pr->id, "reason",
                                             n->pr->blocked_reason, "since",
                                             (json_int_t)n->pr->blocked_since_ms));
    pthread_mutex_unlock(&p->mu);
    size_t i;
    json_t *entry;
    json_array_foreach(arr, i, entry) {
        const char *id = json_string_value(json_object_get(entry, "productId"));
        size_t n = queued ? queued(id, arg) : 0;
        json_object_set_new(entry, "queued", json_integer((json_int_t)n));
    }
    json_t *doc = arr ? json_pack("{s:o}", "blocked", arr) : NULL;
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}
