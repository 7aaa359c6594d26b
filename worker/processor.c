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
 */
#include "processor.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inventory.h"
#include "log.h"
#include "metrics.h"
#include "state_blob.h"
#include "worker_time.h"

#define PROCESSOR_OOM_RETRY_MS 100

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
    int64_t run_start_us;        /* monotonic start of the current run (queue_wait) */
    unsigned seed;               /* jitter */
    struct product *prev, *next; /* held list */
} product;

struct processor {
    processor_options opts;
    char *container;
    atomic_int storage_ok;
    atomic_int abandoned; /* processor_abandon */
    pthread_mutex_t mu;
    product *held; /* products holding a lease */
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
    snprintf(pr->id, sizeof(pr->id), "%s", id);
    snprintf(pr->blob, sizeof(pr->blob), "%s.json", id);
    inv_state_init(&pr->state, id);
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

static void proc_held_add(product *pr) {
    processor *p = pr->proc;
    pthread_mutex_lock(&p->mu);
    pr->prev = NULL;
    pr->next = p->held;
    if (p->held)
        p->held->prev = pr;
    p->held = pr;
    pthread_mutex_unlock(&p->mu);
}

static void proc_held_remove(product *pr) {
    processor *p = pr->proc;
    pthread_mutex_lock(&p->mu);
    if (pr->prev)
        pr->prev->next = pr->next;
    else
        p->held = pr->next;
    if (pr->next)
        pr->next->prev = pr->prev;
    pr->prev = pr->next = NULL;
    pthread_mutex_unlock(&p->mu);
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

/* Reads and decodes the state under the lease. 0, or -1 (retry later). */
static int proc_load_state(product *pr) {
    char *data = NULL;
    size_t len = 0;
    lease_error err;
    int64_t start_us = worker_time_mono_us();
    lease_code rc = lease_read(pr->lease, &data, &len, NULL, &err);
    if (rc != LEASE_OK) {
        proc_storage_result(pr->proc, rc != LEASE_ERR_STORAGE);
        log_warn("Reading state of product %s failed: %s", pr->id, err.message);
        if (rc == LEASE_ERR_LOST)
            proc_drop_lease(pr, 0);
        return -1;
    }
    proc_storage_result(pr->proc, 1);
    proc_forget_state(pr);
    if (len > 0) {
        char msg[256];
        if (inv_state_decode(data, len, &pr->state, msg, sizeof(msg)) != 0) {
            /* Never overwrite a document we cannot read: keep retrying
             * (and shouting) until an operator fixes it. */
            log_error("State blob of product %s is invalid (%s); its commands wait", pr->id, msg);
            inv_state_init(&pr->state, pr->id);
            free(data);
            return -1;
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
            return proc_reject_unknown(pr, items, n, outcomes, retry_ms);
        case PROC_ACQUIRED:
            break;
        }
    }
    /* Events a previous holder (or a failed publish) left pending go out
     * first, so a product's events keep their order. */
    if ((!pr->loaded && proc_load_state(pr) != 0) || proc_publish_outbox(pr) != 0) {
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
    if (n > p->opts.max_batch)
        n = p->opts.max_batch;
    const char **outcomes = calloc(n, sizeof(*outcomes));
    if (outcomes == NULL) {
        *retry_ms = PROCESSOR_OOM_RETRY_MS;
        return 0;
    }
    pr->run_start_us = worker_time_mono_us();
    size_t used = proc_run(pr, items, n, outcomes, retry_ms);
    free(outcomes);
    return used;
}

static void proc_product_free(product *pr) {
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
    atomic_init(&p->storage_ok, 1);
    atomic_init(&p->abandoned, 0);
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

char *processor_leases_json(processor *p) {
    json_t *arr = json_array();
    pthread_mutex_lock(&p->mu);
    for (product *pr = p->held; pr; pr = pr->next) {
        lease *l = pr->lease;
        int64_t left =
            lease_expiry_ms(l) == INT64_MAX ? -1 : lease_expiry_ms(l) - worker_time_mono_ms();
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:b}", "name", lease_name(l),
                           "productId", pr->id, "leaseId", lease_id(l), "epoch",
                           (json_int_t)lease_epoch(l), "expiresInMs", (json_int_t)left, "renewals",
                           (json_int_t)lease_renewal_count(l), "held", lease_is_held(l)));
    }
    pthread_mutex_unlock(&p->mu);
    json_t *doc = json_pack("{s:o}", "leases", arr);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}
