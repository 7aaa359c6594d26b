/* dispatcher.c -- per-key queues on a thread pool (see dispatcher.h).
 *
 * One mutex guards everything: a hash table of keys, each with its item
 * queue and a state (IDLE, READY, RUNNING, WAITING), and a FIFO of READY
 * keys that pool threads take from. A key is on the FIFO at most once and
 * RUNNING on at most one thread, which is what orders a key's items. Pool
 * threads drop the lock while `process`/`idle` run. The housekeeping thread
 * ticks every DISPATCH_TICK_MS, moving WAITING keys whose time came and idle
 * keys past idle_ms onto the FIFO; a key table scan per tick is cheap for
 * the thousands of products a worker holds at most. The same scan counts
 * filled slots; above max_slots it also releases the longest-idle ones
 * early (oldest last_active first), which bounds what cached products and
 * their leases cost however many products the partitions carry.
 */
#include "dispatcher.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker_time.h"

#define DISPATCH_BUCKETS 4096
#define DISPATCH_TICK_MS 20

typedef enum dkey_state { DKEY_IDLE, DKEY_READY, DKEY_RUNNING, DKEY_WAITING } dkey_state;

typedef struct dkey {
    char *key;
    void *slot;
    void **items;
    size_t n, cap;
    size_t running_n; /* items handed to the current process call */
    dkey_state state;
    int want_idle;       /* next run is an idle call (release the slot) */
    int releasing;       /* an idle call runs: the slot is being freed, never look inside */
    int wake;            /* dispatcher_wake while RUNNING: skip the retry delay */
    int64_t run_at;      /* WAITING: monotonic ms */
    int64_t last_active; /* when the queue last became empty */
    struct dkey *hnext;  /* hash chain */
    struct dkey *rnext;  /* ready FIFO */
} dkey;

struct dispatcher {
    pthread_mutex_t mu;
    pthread_cond_t work;     /* ready FIFO non-empty, or stopping */
    pthread_cond_t progress; /* a batch or idle call finished */
    dkey *buckets[DISPATCH_BUCKETS];
    dkey *ready_head, *ready_tail;
    size_t queued;
    size_t max_slots;
    int64_t idle_ms;
    int stopping;
    dispatcher_ops ops;
    pthread_t *threads;
    int nthreads;
    pthread_t housekeeper;
    int housekeeper_started;
};

static unsigned dispatch_hash(const char *s) {
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % DISPATCH_BUCKETS;
}

static dkey *dispatch_lookup(dispatcher *d, const char *key) {
    for (dkey *k = d->buckets[dispatch_hash(key)]; k; k = k->hnext)
        if (strcmp(k->key, key) == 0)
            return k;
    return NULL;
}

static void dispatch_forget(dispatcher *d, dkey *k) {
    dkey **pp = &d->buckets[dispatch_hash(k->key)];
    while (*pp != k)
        pp = &(*pp)->hnext;
    *pp = k->hnext;
    free(k->items);
    free(k->key);
    free(k);
}

static void dispatch_make_ready(dispatcher *d, dkey *k) {
    k->state = DKEY_READY;
    k->rnext = NULL;
    if (d->ready_tail)
        d->ready_tail->rnext = k;
    else
        d->ready_head = k;
    d->ready_tail = k;
    pthread_cond_signal(&d->work);
}

/* After a run: decide the key's next state. Called with the lock held. */
static void dispatch_settle(dispatcher *d, dkey *k, int64_t retry_at) {
    if (retry_at >= 0 && k->wake) {
        k->wake = 0;
        dispatch_make_ready(d, k);
    } else if (retry_at >= 0) {
        k->state = DKEY_WAITING;
        k->run_at = retry_at;
    } else if (k->n > 0) {
        dispatch_make_ready(d, k);
    } else if (k->slot == NULL) {
        dispatch_forget(d, k);
    } else if (k->want_idle) { /* release_idle asked while we ran */
        dispatch_make_ready(d, k);
    } else {
        k->state = DKEY_IDLE;
    }
}

static void dispatch_run_key(dispatcher *d, dkey *k) {
    k->state = DKEY_RUNNING;
    int64_t retry_at = -1;
    if (k->n == 0) { /* an idle call; with items queued, work comes first */
        k->want_idle = 0;
        k->releasing = 1;
        void *slot = k->slot; /* other threads read k->slot under the lock */
        pthread_mutex_unlock(&d->mu);
        if (slot)
            d->ops.idle(k->key, &slot, d->ops.opaque);
        pthread_mutex_lock(&d->mu);
        k->slot = NULL;
        k->releasing = 0;
    } else {
        size_t n = k->n;
        k->running_n = n;
        int retry_ms = 0;
        /* The items array may be reallocated by submit while we run, so
         * hand process a copy of the batch's pointers. */
        void **batch = malloc(n * sizeof(*batch));
        size_t used = 0;
        if (batch) {
            memcpy(batch, k->items, n * sizeof(*batch));
            void *slot = k->slot;
            pthread_mutex_unlock(&d->mu);
            used = d->ops.process(k->key, &slot, batch, n, &retry_ms, d->ops.opaque);
            pthread_mutex_lock(&d->mu);
            k->slot = slot;
        } else {
            retry_ms = 100; /* OOM: try again shortly */
        }
        /* Items may have been dropped from index running_n on; the batch
         * itself is still at the front. */
        memmove(k->items, k->items + used, (k->n - used) * sizeof(*k->items));
        k->n -= used;
        /* Free the applied items only once they are off k->items: other
         * threads (wait_drained's matcher) read queued items under the lock. */
        for (size_t i = 0; i < used; i++)
            d->ops.free_item(batch[i], d->ops.opaque);
        free(batch);
        d->queued -= used;
        k->running_n = 0;
        if (used < n)
            retry_at = worker_time_mono_ms() + (retry_ms > 0 ? retry_ms : 0);
        if (k->n == 0)
            k->last_active = worker_time_mono_ms();
    }
    dispatch_settle(d, k, retry_at);
    pthread_cond_broadcast(&d->progress);
}

static void *dispatch_thread(void *arg) {
    dispatcher *d = arg;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->stopping && d->ready_head == NULL)
            pthread_cond_wait(&d->work, &d->mu);
        if (d->stopping)
            break;
        dkey *k = d->ready_head;
        d->ready_head = k->rnext;
        if (d->ready_head == NULL)
            d->ready_tail = NULL;
        dispatch_run_key(d, k);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

static void dispatch_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int dispatch_older(const void *a, const void *b) {
    int64_t x = (*(dkey *const *)a)->last_active, y = (*(dkey *const *)b)->last_active;
    return (x > y) - (x < y);
}

/* One housekeeping pass, lock held: wake WAITING keys whose time came,
 * release slots idle for idle_ms, and, above max_slots, the longest-idle
 * slots beyond the cap. Candidates for that are gathered (into `spare`,
 * grown as needed) only when the cap is exceeded: every tick pays one scan,
 * not a copy of every idle key. */
static void dispatch_housekeep(dispatcher *d, dkey ***spare, size_t *spare_cap) {
    int64_t now = worker_time_mono_ms();
    size_t filled = 0, releasing = 0;
    for (size_t b = 0; b < DISPATCH_BUCKETS; b++) {
        for (dkey *k = d->buckets[b]; k; k = k->hnext) {
            if (k->state == DKEY_WAITING && k->run_at <= now) {
                dispatch_make_ready(d, k);
            } else if (k->state == DKEY_IDLE && k->slot && now - k->last_active >= d->idle_ms) {
                k->want_idle = 1;
                dispatch_make_ready(d, k);
            }
            filled += k->slot != NULL;
            releasing += k->slot != NULL && k->want_idle;
        }
    }
    if (filled - releasing <= d->max_slots)
        return;
    size_t idle = 0;
    for (size_t b = 0; b < DISPATCH_BUCKETS; b++) {
        for (dkey *k = d->buckets[b]; k; k = k->hnext) {
            if (k->state != DKEY_IDLE || !k->slot || k->want_idle)
                continue;
            if (idle == *spare_cap) {
                size_t ncap = *spare_cap ? *spare_cap * 2 : 256;
                dkey **grown = realloc(*spare, ncap * sizeof(*grown));
                if (grown == NULL)
                    break; /* under memory pressure: evict from what fits */
                *spare = grown;
                *spare_cap = ncap;
            }
            (*spare)[idle++] = k;
        }
    }
    size_t evict = filled - releasing - d->max_slots;
    qsort(*spare, idle, sizeof(**spare), dispatch_older);
    for (size_t i = 0; i < idle && i < evict; i++) {
        (*spare)[i]->want_idle = 1;
        dispatch_make_ready(d, (*spare)[i]);
    }
}

static void *dispatch_housekeeper(void *arg) {
    dispatcher *d = arg;
    dkey **spare = NULL;
    size_t spare_cap = 0;
    for (;;) {
        dispatch_sleep_ms(DISPATCH_TICK_MS);
        pthread_mutex_lock(&d->mu);
        if (d->stopping) {
            pthread_mutex_unlock(&d->mu);
            free(spare);
            return NULL;
        }
        dispatch_housekeep(d, &spare, &spare_cap);
        pthread_mutex_unlock(&d->mu);
    }
}

dispatcher *dispatcher_new(int threads, int64_t idle_ms, size_t max_slots,
                           const dispatcher_ops *ops) {
    dispatcher *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->work, NULL);
    pthread_cond_init(&d->progress, NULL);
    d->ops = *ops;
    d->idle_ms = idle_ms;
    d->max_slots = max_slots;
    d->threads = calloc((size_t)threads, sizeof(*d->threads));
    if (d->threads == NULL)
        goto err;
    for (; d->nthreads < threads; d->nthreads++)
        if (pthread_create(&d->threads[d->nthreads], NULL, dispatch_thread, d) != 0)
            goto err;
    if (pthread_create(&d->housekeeper, NULL, dispatch_housekeeper, d) != 0)
        goto err;
    d->housekeeper_started = 1;
    return d;
err:
    dispatcher_free(d);
    return NULL;
}

int dispatcher_submit(dispatcher *d, const char *key, void *item) {
    pthread_mutex_lock(&d->mu);
    dkey *k = dispatch_lookup(d, key);
    if (k == NULL) {
        k = calloc(1, sizeof(*k));
        if (k == NULL || (k->key = strdup(key)) == NULL) {
            free(k);
            pthread_mutex_unlock(&d->mu);
            return -1;
        }
        unsigned h = dispatch_hash(key);
        k->hnext = d->buckets[h];
        d->buckets[h] = k;
    }
    if (k->n == k->cap) {
        size_t ncap = k->cap ? k->cap * 2 : 16;
        void **ni = realloc(k->items, ncap * sizeof(*ni));
        if (ni == NULL) {
            if (k->n == 0 && k->slot == NULL && k->state == DKEY_IDLE)
                dispatch_forget(d, k);
            pthread_mutex_unlock(&d->mu);
            return -1;
        }
        k->items = ni;
        k->cap = ncap;
    }
    k->items[k->n++] = item;
    d->queued++;
    if (k->state == DKEY_IDLE)
        dispatch_make_ready(d, k);
    pthread_mutex_unlock(&d->mu);
    return 0;
}

size_t dispatcher_queued(dispatcher *d) {
    pthread_mutex_lock(&d->mu);
    size_t n = d->queued;
    pthread_mutex_unlock(&d->mu);
    return n;
}

static size_t dispatch_count_matching(dispatcher *d, dispatcher_match_fn match, void *arg) {
    if (match == NULL)
        return d->queued;
    size_t n = 0;
    for (size_t b = 0; b < DISPATCH_BUCKETS; b++)
        for (dkey *k = d->buckets[b]; k; k = k->hnext)
            for (size_t i = 0; i < k->n; i++)
                n += match(k->items[i], arg) != 0;
    return n;
}

static void dispatch_deadline(struct timespec *ts, int64_t timeout_ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int dispatcher_wait_drained(dispatcher *d, dispatcher_match_fn match, void *arg,
                            int64_t timeout_ms) {
    int64_t end = worker_time_mono_ms() + timeout_ms;
    pthread_mutex_lock(&d->mu);
    int rc = 0;
    while (dispatch_count_matching(d, match, arg) > 0) {
        int64_t left = end - worker_time_mono_ms();
        if (left <= 0) {
            rc = -1;
            break;
        }
        struct timespec ts;
        dispatch_deadline(&ts, left < 100 ? left : 100);
        pthread_cond_timedwait(&d->progress, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

size_t dispatcher_drop(dispatcher *d, dispatcher_match_fn match, void *arg) {
    size_t dropped = 0;
    pthread_mutex_lock(&d->mu);
    for (size_t b = 0; b < DISPATCH_BUCKETS; b++) {
        for (dkey *k = d->buckets[b]; k; k = k->hnext) {
            size_t keep = k->state == DKEY_RUNNING ? k->running_n : 0, w = keep;
            for (size_t i = keep; i < k->n; i++) {
                if (match(k->items[i], arg)) {
                    d->ops.free_item(k->items[i], d->ops.opaque);
                    dropped++;
                } else {
                    k->items[w++] = k->items[i];
                }
            }
            k->n = w;
        }
    }
    d->queued -= dropped;
    pthread_cond_broadcast(&d->progress);
    pthread_mutex_unlock(&d->mu);
    return dropped;
}

int dispatcher_wake(dispatcher *d, const char *key) {
    pthread_mutex_lock(&d->mu);
    dkey *k = dispatch_lookup(d, key);
    int rc = k && k->n > 0 ? 0 : -1;
    if (rc == 0 && k->state == DKEY_WAITING)
        dispatch_make_ready(d, k);
    else if (rc == 0 && k->state == DKEY_RUNNING)
        k->wake = 1; /* the run in progress may be about to ask for a delay */
    pthread_mutex_unlock(&d->mu);
    return rc;
}

size_t dispatcher_key_queued(dispatcher *d, const char *key) {
    pthread_mutex_lock(&d->mu);
    dkey *k = dispatch_lookup(d, key);
    size_t n = k ? k->n : 0;
    pthread_mutex_unlock(&d->mu);
    return n;
}

/* An idle key whose slot `match` selects (NULL: every one). A slot whose
 * idle call runs counts as selected without asking `match`: its memory is
 * being freed, and waiting for it to finish costs nothing. */
static int dispatch_releasable(const dkey *k, dispatcher_slot_match_fn match, void *arg) {
    if (k->slot == NULL || k->n > 0)
        return 0;
    return k->releasing || match == NULL || match(k->slot, arg);
}

static size_t dispatch_count_releasable(dispatcher *d, dispatcher_slot_match_fn match, void *arg) {
    size_t n = 0;
    for (size_t b = 0; b < DISPATCH_BUCKETS; b++)
        for (dkey *k = d->buckets[b]; k; k = k->hnext)
            n += dispatch_releasable(k, match, arg);
    return n;
}

void dispatcher_release_idle(dispatcher *d, dispatcher_slot_match_fn match, void *arg,
                             int64_t timeout_ms) {
    int64_t end = worker_time_mono_ms() + timeout_ms;
    pthread_mutex_lock(&d->mu);
    for (size_t b = 0; b < DISPATCH_BUCKETS; b++) {
        for (dkey *k = d->buckets[b]; k; k = k->hnext) {
            if (k->releasing || !dispatch_releasable(k, match, arg))
                continue;
            k->want_idle = 1;
            if (k->state == DKEY_IDLE || k->state == DKEY_WAITING)
                dispatch_make_ready(d, k);
        }
    }
    while (dispatch_count_releasable(d, match, arg) > 0) {
        int64_t left = end - worker_time_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        dispatch_deadline(&ts, left < 100 ? left : 100);
        pthread_cond_timedwait(&d->progress, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
}

void dispatcher_free(dispatcher *d) {
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = 1;
    pthread_cond_broadcast(&d->work);
    pthread_mutex_unlock(&d->mu);
    for (int i = 0; i < d->nthreads; i++)
        pthread_join(d->threads[i], NULL);
    if (d->housekeeper_started)
        pthread_join(d->housekeeper, NULL);
    for (size_t b = 0; b < DISPATCH_BUCKETS; b++) {
        while (d->buckets[b]) {
            dkey *k = d->buckets[b];
            for (size_t i = 0; i < k->n; i++)
                d->ops.free_item(k->items[i], d->ops.opaque);
            if (k->slot)
                d->ops.idle(k->key, &k->slot, d->ops.opaque);
            dispatch_forget(d, k);
        }
    }
    free(d->threads);
    pthread_cond_destroy(&d->work);
    pthread_cond_destroy(&d->progress);
    pthread_mutex_destroy(&d->mu);
    free(d);
}
