/* test_processor.c -- unit tests for worker/processor.c: one product's batch
 * under its lease, against fakes.
 *
 * The lease engine and the publisher are replaced at link time
 * (-Wl,--wrap=lease_try_acquire,...): a fake "storage" holds one product
 * blob and its lease, and a fake publisher records or refuses events. The
 * processor's dispatcher callbacks are called directly, so every step and
 * failure path is deterministic: group commit in one write, held
 * elsewhere, unknown product, a write refused because the lease was lost
 * (batch abandoned, applied once after re-acquiring), a failed publish
 * (events stay in the durable outbox, offsets wait), storage errors, and
 * the idle release persisting the cleared outbox.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four headers it needs */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "metrics.h"
#include "processor.h"

/* ---- fakes ------------------------------------------------------------------ */

struct lease {
    int held;
    uint64_t epoch;
    lease_callbacks cb;
};

typedef struct fake_world {
    char *blob; /* NULL: the product blob does not exist */
    int held_elsewhere;
    uint64_t epoch; /* last epoch handed out */
    int acquires, creates, reads, writes, releases, abandons, storage_aborts;
    lease_code next_write;   /* result of the next lease_write */
    lease_code next_acquire; /* LEASE_OK = behave normally */
    int publish_failures;    /* refuse this many publish calls */
    int lose_during_batch;   /* fire the lost callback when the batch starts applying */
    inv_event published[64];
    size_t n_published;
    char last_container[64], last_blob[128];
    char next_expiry[32]; /* "nextexpiry" metadata of the last write, "-" if absent */
    blob_code next_read;  /* BLOB_OK, or the storage error of the next lease_read */
    long next_read_status;
    int64_t clock_ms; /* the processor's monotonic clock */
    int blocked_warnings; /* WARN lines saying a product is blocked */
    char dead_letters[8][1024];
    struct {
        void (*done)(void *);
        void *opaque;
    } dl_done[8];
    size_t n_dead_letters;
    int dead_letter_calls;
    int dead_letter_refuse; /* refuse the call with this number (1 = the first), 0 = none */
} fake_world;

static fake_world W;

/* Blocks staged and committed by the fake lease_write_blocks, like the
 * service: a committed list of ids, the blob being their data in order. */
#define FAKE_BLOCKS 512
typedef struct fake_blocks {
    char id[FAKE_BLOCKS][BLOB_BLOCK_ID_MAX];
    char *data[FAKE_BLOCKS];
    size_t n;
    int puts[3];  /* Put Block requests by kind: head, ledger page, reservation page */
    int lists;    /* Put Block List requests */
    int fail_at;  /* 1-based request of the next write refused with 412; 0 = none */
} fake_blocks;

static fake_blocks B;

static void fake_blocks_reset(void) {
    for (size_t i = 0; i < B.n; i++)
        free(B.data[i]);
    memset(&B, 0, sizeof(B));
}

static void fake_blocks_stage(const lease_block *b) {
    size_t i = 0;
    while (i < B.n && strcmp(B.id[i], b->id) != 0)
        i++;
    if (i == B.n) {
        assert_true(B.n < FAKE_BLOCKS);
        snprintf(B.id[B.n++], BLOB_BLOCK_ID_MAX, "%s", b->id);
    }
    free(B.data[i]);
    B.data[i] = strndup(b->data, b->len);
    const char *d = B.data[i];
    B.puts[strncmp(d, "{\"schemaVersion\"", 16) == 0 ? 0
           : strncmp(d, "[{\"commandId\"", 13) == 0  ? 1
                                                     : 2]++;
}

static const char *fake_blocks_get(const char *id) {
    for (size_t i = 0; i < B.n; i++)
        if (strcmp(B.id[i], id) == 0)
            return B.data[i];
    fail_msg("block %s was never staged", id);
    return NULL;
}

lease_code __wrap_lease_write_blocks(lease *l, const lease_block *blocks, size_t n_blocks,
                                     const char *const *ids, size_t n_ids,
                                     const char *content_type, const blob_meta *meta,
                                     size_t *requests, size_t *bytes, lease_error *err) {
    (void)content_type;
    (void)bytes;
    memset(err, 0, sizeof(*err));
    *requests = 0;
    if (!l->held)
        return LEASE_ERR_LOST;
    for (size_t i = 0; i <= n_blocks; i++) {
        ++*requests;
        if (B.fail_at == (int)*requests) { /* a 412: the handle marks itself lost */
            B.fail_at = 0;
            l->held = 0;
            snprintf(err->message, sizeof(err->message), "write block: fenced out (HTTP 412)");
            return LEASE_ERR_LOST;
        }
        if (i < n_blocks)
            fake_blocks_stage(&blocks[i]);
    }
    B.lists++;
    size_t len = 0;
    for (size_t i = 0; i < n_ids; i++)
        len += strlen(fake_blocks_get(ids[i]));
    free(W.blob);
    W.blob = calloc(1, len + 1);
    for (size_t i = 0; i < n_ids; i++)
        strcat(W.blob, fake_blocks_get(ids[i]));
    const char *next = meta ? blob_meta_get(meta, "nextexpiry") : NULL;
    snprintf(W.next_expiry, sizeof(W.next_expiry), "%s", next ? next : "-");
    W.writes++;
    return LEASE_OK;
}

lease_code __wrap_lease_try_acquire(lease_manager *mgr, const char *name,
                                    const lease_acquire_options *o, lease **out, lease_error *err) {
    (void)mgr;
    (void)name;
    memset(err, 0, sizeof(*err));
    snprintf(W.last_container, sizeof(W.last_container), "%s", o->container);
    snprintf(W.last_blob, sizeof(W.last_blob), "%s", o->blob);
    if (W.next_acquire != LEASE_OK) {
        snprintf(err->message, sizeof(err->message), "acquire: storage down");
        return W.next_acquire;
    }
    if (W.held_elsewhere)
        return LEASE_HELD_ELSEWHERE;
    if (W.blob == NULL) {
        if (!o->create_if_missing)
            return LEASE_ERR_NOT_FOUND;
        W.blob = strdup("");
        W.creates++;
    }
    struct lease *l = calloc(1, sizeof(*l));
    l->held = 1;
    l->epoch = ++W.epoch;
    l->cb = o->callbacks;
    W.acquires++;
    *out = l;
    return LEASE_OK;
}

lease_code __wrap_lease_read(lease *l, char **data, size_t *len, blob_meta *meta,
                             lease_error *err) {
    (void)meta;
    memset(err, 0, sizeof(*err));
    if (!l->held)
        return LEASE_ERR_LOST;
    if (W.next_read != BLOB_OK) {
        err->storage.code = W.next_read;
        err->storage.http_status = W.next_read_status;
        snprintf(err->message, sizeof(err->message), "read: HTTP %ld", W.next_read_status);
        W.next_read = BLOB_OK;
        return LEASE_ERR_STORAGE;
    }
    W.reads++;
    *data = strdup(W.blob);
    *len = strlen(W.blob);
    return LEASE_OK;
}

lease_code __wrap_lease_write(lease *l, const void *data, size_t len, const char *content_type,
                              const blob_meta *meta, lease_error *err) {
    (void)content_type;
    memset(err, 0, sizeof(*err));
    lease_code rc = W.next_write;
    W.next_write = LEASE_OK;
    if (rc == LEASE_ERR_LOST) { /* a 412: the handle marks itself lost */
        l->held = 0;
        snprintf(err->message, sizeof(err->message), "write: fenced out (HTTP 412)");
        return rc;
    }
    if (rc != LEASE_OK) {
        snprintf(err->message, sizeof(err->message), "write: HTTP 503");
        return rc;
    }
    free(W.blob);
    W.blob = strndup(data, len);
    const char *next = meta ? blob_meta_get(meta, "nextexpiry") : NULL;
    snprintf(W.next_expiry, sizeof(W.next_expiry), "%s", next ? next : "-");
    W.writes++;
    return LEASE_OK;
}

lease_code __wrap_lease_release(lease *l, lease_error *err) {
    memset(err, 0, sizeof(*err));
    l->held = 0;
    W.releases++;
    return LEASE_OK;
}

void __wrap_lease_free(lease *l) {
    free(l);
}

void __wrap_lease_abandon(lease *l) {
    W.abandons++;
    free(l);
}

const char *__wrap_lease_id(const lease *l) {
    (void)l;
    return "11111111-2222-4333-8444-555555555555";
}

const char *__wrap_lease_name(const lease *l) {
    (void)l;
    return "inventory/PROD-1.json";
}

int __wrap_lease_is_held(const lease *l) {
    return l->held;
}

/* The processor reads the epoch right before applying a batch: a good
 * moment for the scheduler thread to report a loss. */
uint64_t __wrap_lease_epoch(const lease *l) {
    if (W.lose_during_batch) {
        W.lose_during_batch = 0;
        struct lease *m = (struct lease *)l;
        m->held = 0;
        m->cb.lost(m, LEASE_LOST_TAKEN, 0, m->cb.opaque);
    }
    return l->epoch;
}

int64_t __wrap_lease_expiry_ms(const lease *l) {
    (void)l;
    return INT64_MAX;
}

uint64_t __wrap_lease_renewal_count(const lease *l) {
    (void)l;
    return 0;
}

/* The fixture's manager is opaque here: its client is a sentinel that
 * only blob_client_abort below ever sees. */
static char fake_client;

blob_client *__wrap_lease_manager_client(lease_manager *mgr) {
    (void)mgr;
    return (blob_client *)&fake_client;
}

void __wrap_blob_client_abort(blob_client *c) {
    assert_ptr_equal(c, &fake_client);
    W.storage_aborts++;
}

const char *__wrap_lease_loss_reason_name(lease_loss_reason reason) {
    (void)reason;
    return "taken";
}

int __wrap_publisher_send_events(publisher *p, const inv_event *events, size_t n, char *err,
                                 size_t errlen) {
    (void)p;
    if (W.publish_failures > 0) {
        W.publish_failures--;
        snprintf(err, errlen, "deliver: broker down");
        return -1;
    }
    for (size_t i = 0; i < n && W.n_published < 64; i++)
        W.published[W.n_published++] = events[i];
    return 0;
}

/* Dead letters are recorded; their delivery (which finishes the offset) is
 * run by the test, so it can check nothing is finished before. */
int __wrap_publisher_send_dead_letter(publisher *p, const char *key, size_t key_len,
                                      const char *record, void (*done)(void *opaque),
                                      void *opaque) {
    (void)p;
    if (++W.dead_letter_calls == W.dead_letter_refuse)
        return -1;
    assert_int_equal(key_len, strlen("PROD-1"));
    assert_memory_equal(key, "PROD-1", key_len);
    assert_true(W.n_dead_letters < 8);
    snprintf(W.dead_letters[W.n_dead_letters], sizeof(W.dead_letters[0]), "%s", record);
    W.dl_done[W.n_dead_letters].done = done;
    W.dl_done[W.n_dead_letters].opaque = opaque;
    W.n_dead_letters++;
    return 0;
}

static void deliver_dead_letters(void) {
    for (size_t i = 0; i < W.n_dead_letters; i++)
        W.dl_done[i].done(W.dl_done[i].opaque);
}

/* Counts the WARN lines that announce a blocked product; nothing printed. */
void __wrap_log_write(log_level level, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (level == LOG_LVL_WARN && strstr(line, " is blocked for ") != NULL)
        W.blocked_warnings++;
}

static int64_t fake_clock_ms(void) {
    return W.clock_ms;
}

/* ---- helpers ------------------------------------------------------------------ */

typedef struct fixture {
    offset_tracker *tracker;
    processor *proc;
    dispatcher_ops ops;
    void *slot;
    int64_t next_offset;
} fixture;

/* The paged layout; `single_max` bytes and less go as one Put Blob. */
static int setup_layout(void **state, size_t single_max) {
    free(W.blob);
    memset(&W, 0, sizeof(W));
    fake_blocks_reset();
    fixture *f = calloc(1, sizeof(*f));
    f->tracker = offset_tracker_new();
    processor_options o = {.container = "inventory",
                           .tracker = f->tracker,
                           .max_batch = 100,
                           .retry_base_ms = 10,
                           .retry_max_ms = 100,
                           .now_ms = fake_clock_ms,
                           .state_single_max = single_max};
    f->proc = processor_new(&o);
    f->ops = processor_dispatcher_ops(f->proc);
    *state = f;
    return 0;
}

/* Small states in one Put Blob (the default for small products). */
static int setup(void **state) {
    return setup_layout(state, 1 << 20);
}

/* Every write as Put Block + Put Block List. */
static int setup_blocks(void **state) {
    return setup_layout(state, 0);
}

static int teardown(void **state) {
    fixture *f = *state;
    if (f->slot)
        f->ops.idle("PROD-1", &f->slot, f->ops.opaque);
    processor_free(f->proc);
    offset_tracker_free(f->tracker);
    free(f);
    free(W.blob);
    W.blob = NULL;
    fake_blocks_reset();
    return 0;
}

static work_item *item(fixture *f, inv_command_type type, const char *command_id, long long qty,
                       const char *customer) {
    work_item *it = calloc(1, sizeof(*it));
    it->cmd.type = type;
    snprintf(it->cmd.command_id, sizeof(it->cmd.command_id), "%s", command_id);
    snprintf(it->cmd.product_id, sizeof(it->cmd.product_id), "PROD-1");
    it->cmd.quantity = qty;
    snprintf(it->cmd.customer_id, sizeof(it->cmd.customer_id), "%s", customer ? customer : "");
    it->cmd.ttl_seconds = type == INV_CMD_RESERVE ? INV_DEFAULT_TTL_S : 0;
    snprintf(it->topic, sizeof(it->topic), "inventory.reservations");
    it->partition = 0;
    it->offset = f->next_offset++;
    offset_tracker_seen(f->tracker, it->topic, 0, it->offset);
    return it;
}

/* Runs the product once over items[0..n); returns how many were consumed. */
static size_t run_batch(fixture *f, work_item **items, size_t n, int *retry_ms) {
    *retry_ms = 0;
    return f->ops.process("PROD-1", &f->slot, (void *const *)items, n, retry_ms, f->ops.opaque);
}

static void free_items(work_item **items, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(items[i]);
}

static inv_state stored_state(void) {
    inv_state st;
    char err[256];
    assert_true(W.blob != NULL && W.blob[0] != '\0');
    if (inv_state_decode(W.blob, strlen(W.blob), &st, err, sizeof(err)) != 0)
        fail_msg("stored state does not decode: %s", err);
    return st;
}

/* ---- tests --------------------------------------------------------------------- */

static void test_processor_process_group_commit_one_write(void **state) {
    fixture *f = *state;
    work_item *items[3] = {item(f, INV_CMD_RESTOCK, "s1", 100, NULL),
                           item(f, INV_CMD_RESERVE, "r1", 10, "CUST-1"),
                           item(f, INV_CMD_RESERVE, "r2", 95, "CUST-2")};
    int retry;
    assert_int_equal(run_batch(f, items, 3, &retry), 3);
    assert_string_equal(W.last_container, "inventory");
    assert_string_equal(W.last_blob, "PROD-1.json");
    assert_int_equal(W.creates, 1); /* a restock may create the product */
    assert_int_equal(W.writes, 1);  /* group commit: one fenced write */
    assert_int_equal(W.n_published, 3);
    assert_int_equal(W.published[0].type, INV_EV_STOCK_RESTOCKED);
    assert_int_equal(W.published[1].type, INV_EV_RESERVATION_CREATED);
    assert_int_equal(W.published[2].type, INV_EV_RESERVATION_REJECTED);
    assert_int_equal(W.published[2].available, 90);
    assert_int_equal(W.published[0].epoch, 1);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 3);
    inv_state st = stored_state();
    assert_int_equal(st.total, 100);
    assert_int_equal(st.available, 90);
    assert_int_equal(st.n_outbox, 3); /* cleared in memory, persisted later */
    assert_int_equal(inv_state_offset_get(&st, "inventory.reservations", 0), 2);
    inv_state_clear(&st);

    /* Idle release persists the cleared outbox, then releases. */
    f->ops.idle("PROD-1", &f->slot, f->ops.opaque);
    assert_null(f->slot);
    assert_int_equal(W.writes, 2);
    assert_int_equal(W.releases, 1);
    st = stored_state();
    assert_int_equal(st.n_outbox, 0);
    inv_state_clear(&st);
    free_items(items, 3);
}

static void test_processor_process_held_elsewhere_retries(void **state) {
    fixture *f = *state;
    W.blob = strdup("");
    W.held_elsewhere = 1;
    work_item *items[1] = {item(f, INV_CMD_RESTOCK, "s1", 5, NULL)};
    int retry;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_true(retry >= 5 && retry <= 100);
    assert_int_equal(W.writes + (int)W.n_published, 0);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 0);
    W.held_elsewhere = 0;
    assert_int_equal(run_batch(f, items, 1, &retry), 1);
    assert_int_equal(W.n_published, 1);
    free_items(items, 1);
}

static void test_processor_process_unknown_product_not_created(void **state) {
    fixture *f = *state;
    work_item *items[2] = {item(f, INV_CMD_RESERVE, "r1", 1, "C"),
                           item(f, INV_CMD_RELEASE, "x1", 1, "C")};
    int retry;
    assert_int_equal(run_batch(f, items, 2, &retry), 2);
    assert_null(W.blob);
    assert_int_equal(W.acquires, 0);
    assert_int_equal(W.n_published, 2);
    assert_string_equal(W.published[0].reason, "unknown_product");
    assert_string_equal(W.published[1].reason, "unknown_product");
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 2);
    free_items(items, 2);
}

/* A restock abandoned right after creating the blob leaves it empty: the
 * product still does not exist, and nothing brings it into being but a
 * restock. */
static void test_processor_process_empty_blob_is_unknown_product(void **state) {
    fixture *f = *state;
    W.blob = strdup("");
    work_item *items[2] = {item(f, INV_CMD_RESERVE, "r1", 1, "C"),
                           item(f, INV_CMD_RELEASE, "x1", 1, "C")};
    int retry;
    assert_int_equal(run_batch(f, items, 2, &retry), 2);
    assert_string_equal(W.blob, "");
    assert_int_equal(W.writes, 0);
    assert_int_equal(W.n_published, 2);
    assert_int_equal(W.published[0].type, INV_EV_RESERVATION_REJECTED);
    assert_string_equal(W.published[0].reason, "unknown_product");
    assert_int_equal(W.published[1].type, INV_EV_RELEASE_REJECTED);
    assert_string_equal(W.published[1].reason, "unknown_product");
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 2);
    free_items(items, 2);
}

/* The end of a shutdown drain: no further storage or publish step, and the
 * lease is left to expire rather than released with a request. */
static void test_processor_abandon_gives_up_before_storage(void **state) {
    fixture *f = *state;
    work_item *first[1] = {item(f, INV_CMD_RESTOCK, "s1", 5, NULL)};
    work_item *items[1] = {item(f, INV_CMD_RESERVE, "r1", 1, "C")};
    int retry;
    assert_int_equal(run_batch(f, first, 1, &retry), 1);
    assert_int_equal(W.writes, 1);
    processor_abandon(f->proc);
    assert_int_equal(W.storage_aborts, 1); /* a request in flight is cut off too */
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_true(retry >= 5 && retry <= 100);
    assert_int_equal(W.acquires, 1);
    assert_int_equal(W.reads, 1);
    assert_int_equal(W.writes, 1);
    assert_int_equal(W.n_published, 1);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 1);
    /* Idle release: the dirty outbox is not written, the lease not released. */
    f->ops.idle("PROD-1", &f->slot, f->ops.opaque);
    assert_null(f->slot);
    assert_int_equal(W.writes, 1);
    assert_int_equal(W.releases, 0);
    assert_int_equal(W.abandons, 1);
    free_items(first, 1);
    free_items(items, 1);
}

static void test_processor_process_lost_lease_abandons_then_applies_once(void **state) {
    fixture *f = *state;
    work_item *first[1] = {item(f, INV_CMD_RESTOCK, "s1", 50, NULL)};
    int retry;
    assert_int_equal(run_batch(f, first, 1, &retry), 1);
    assert_int_equal(W.writes, 1);

    /* The lease was taken: the fenced write is refused. */
    work_item *items[1] = {item(f, INV_CMD_RESERVE, "r1", 5, "C")};
    W.next_write = LEASE_ERR_LOST;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_true(retry > 0);
    assert_int_equal(W.writes, 1);
    assert_int_equal(W.n_published, 1); /* nothing of the abandoned batch went out */
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 1);

    /* Next run: a new lease (epoch 2), state re-read, applied exactly once.
     * The restock's event is still in the stored outbox (its removal was
     * never written), so it goes out again first, with the same eventId. */
    assert_int_equal(run_batch(f, items, 1, &retry), 1);
    assert_int_equal(W.acquires, 2);
    assert_int_equal(W.n_published, 3);
    assert_string_equal(W.published[1].event_id, W.published[0].event_id);
    assert_int_equal(W.published[2].type, INV_EV_RESERVATION_CREATED);
    assert_int_equal(W.published[2].epoch, 2);
    assert_int_equal(W.published[2].available, 45);
    inv_state st = stored_state();
    assert_int_equal(st.available, 45);
    assert_int_equal(st.n_reservations, 1);
    inv_state_clear(&st);
    free_items(first, 1);
    free_items(items, 1);
}

static void test_processor_process_lost_callback_before_write(void **state) {
    fixture *f = *state;
    work_item *first[1] = {item(f, INV_CMD_RESTOCK, "s1", 50, NULL)};
    int retry;
    assert_int_equal(run_batch(f, first, 1, &retry), 1);
    /* The loss is reported while the next batch is being applied. */
    work_item *items[1] = {item(f, INV_CMD_RESERVE, "r1", 5, "C")};
    W.lose_during_batch = 1;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_int_equal(W.writes, 1); /* abandoned before the write */
    assert_int_equal(W.n_published, 1);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 1);
    assert_int_equal(run_batch(f, items, 1, &retry), 1);
    assert_int_equal(W.acquires, 2);
    assert_int_equal(W.n_published, 3); /* pending restock event again, then the reserve */
    assert_int_equal(W.published[2].available, 45);
    free_items(first, 1);
    free_items(items, 1);
}

static void test_processor_process_publish_failure_keeps_outbox(void **state) {
    fixture *f = *state;
    work_item *items[2] = {item(f, INV_CMD_RESTOCK, "s1", 20, NULL),
                           item(f, INV_CMD_RESERVE, "r1", 3, "C")};
    int retry;
    W.publish_failures = 1;
    assert_int_equal(run_batch(f, items, 2, &retry), 0);
    assert_true(retry > 0);
    assert_int_equal(W.writes, 1); /* durable, with the events in its outbox */
    inv_state st = stored_state();
    assert_int_equal(st.n_outbox, 2);
    assert_int_equal(st.available, 17);
    inv_state_clear(&st);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 0);

    /* Retry: the outbox goes out first; the commands are replays now. */
    assert_int_equal(run_batch(f, items, 2, &retry), 2);
    assert_int_equal(W.n_published, 2);
    assert_int_equal(W.published[0].type, INV_EV_STOCK_RESTOCKED);
    assert_int_equal(W.published[1].type, INV_EV_RESERVATION_CREATED);
    assert_int_equal(W.writes, 2); /* the cleared outbox rides on this run's write */
    st = stored_state();
    assert_int_equal(st.n_outbox, 0);
    assert_int_equal(st.available, 17);
    inv_state_clear(&st);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 2);
    free_items(items, 2);
}

static void test_processor_process_storage_error_rereads(void **state) {
    fixture *f = *state;
    work_item *first[1] = {item(f, INV_CMD_RESTOCK, "s1", 10, NULL)};
    int retry;
    assert_int_equal(run_batch(f, first, 1, &retry), 1);
    int reads = W.reads;
    work_item *items[1] = {item(f, INV_CMD_RESERVE, "r1", 4, "C")};
    W.next_write = LEASE_ERR_STORAGE;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_int_equal(W.n_published, 1);
    assert_int_equal(run_batch(f, items, 1, &retry), 1);
    assert_int_equal(W.reads, reads + 1); /* cached state dropped, read again */
    assert_int_equal(W.acquires, 1);      /* the lease itself was kept */
    assert_int_equal(W.n_published, 3);   /* the re-read outbox still held the restock */
    assert_string_equal(W.published[1].event_id, W.published[0].event_id);
    assert_int_equal(W.published[2].available, 6);
    free_items(first, 1);
    free_items(items, 1);
}

static void test_processor_process_acquire_error_retries(void **state) {
    fixture *f = *state;
    work_item *items[1] = {item(f, INV_CMD_RESTOCK, "s1", 10, NULL)};
    int retry;
    W.next_acquire = LEASE_ERR_STORAGE;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_true(retry > 0);
    assert_int_equal(processor_storage_healthy(f->proc), 0);
    W.next_acquire = LEASE_OK;
    assert_int_equal(run_batch(f, items, 1, &retry), 1);
    assert_int_equal(processor_storage_healthy(f->proc), 1);
    free_items(items, 1);
}

static void test_processor_process_republishes_pending_outbox(void **state) {
    fixture *f = *state;
    /* A previous holder wrote the change but died before publishing. */
    work_item *items[1] = {item(f, INV_CMD_RESTOCK, "s1", 30, NULL)};
    int retry;
    W.publish_failures = 1;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    f->ops.idle("PROD-1", &f->slot, f->ops.opaque); /* this worker goes away */
    W.n_published = 0;

    processor_options o = {.container = "inventory",
                           .tracker = f->tracker,
                           .max_batch = 100,
                           .retry_base_ms = 10,
                           .retry_max_ms = 100,
                           .state_single_max = 1 << 20};
    processor *other = processor_new(&o);
    dispatcher_ops ops = processor_dispatcher_ops(other);
    void *slot = NULL;
    work_item *next[1] = {item(f, INV_CMD_RESERVE, "r1", 1, "C")};
    retry = 0;
    assert_int_equal(ops.process("PROD-1", &slot, (void *const *)next, 1, &retry, ops.opaque), 1);
    assert_int_equal(W.n_published, 2);
    assert_int_equal(W.published[0].type, INV_EV_STOCK_RESTOCKED); /* pending one first */
    assert_int_equal(W.published[1].type, INV_EV_RESERVATION_CREATED);
    ops.idle("PROD-1", &slot, ops.opaque);
    processor_free(other);
    free_items(items, 1);
    free_items(next, 1);
}

/* Observations of each stage in the default registry, by metrics_stage. */
static void stage_counts(double out[METRICS_STAGE_COUNT]) {
    metrics_family *f = metrics_find(metrics_default(), "leasehold_stage_seconds");
    assert_non_null(f);
    for (int i = 0; i < METRICS_STAGE_COUNT; i++)
        out[i] = metrics_value(f, (const char *[]){metrics_stage_name((metrics_stage)i)});
}

/* Observations since `before`, as "consume_delay queue_wait lease_acquire
 * state_read apply fenced_write publish_ack". */
static void assert_stage_delta(const double before[METRICS_STAGE_COUNT], const char *expected) {
    double now[METRICS_STAGE_COUNT];
    char text[128] = "";
    stage_counts(now);
    for (int i = 0; i < METRICS_STAGE_COUNT; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%d", i ? " " : "",
                 (int)(now[i] - before[i]));
    assert_string_equal(text, expected);
}

/* One batch records each stage it goes through exactly once, and queue_wait
 * once per command; a batch on a held lease skips acquire and read; a
 * refused acquisition records nothing. consume_delay belongs to the consume
 * loop (worker.c), never to the processor. */
static void test_processor_process_records_each_stage_once(void **state) {
    fixture *f = *state;
    double before[METRICS_STAGE_COUNT];
    work_item *first[3] = {item(f, INV_CMD_RESTOCK, "s1", 100, NULL),
                           item(f, INV_CMD_RESERVE, "r1", 10, "CUST-1"),
                           item(f, INV_CMD_RESERVE, "r2", 5, "CUST-2")};
    int retry;
    stage_counts(before);
    assert_int_equal(run_batch(f, first, 3, &retry), 3);
    assert_stage_delta(before, "0 3 1 1 1 1 1");

    work_item *second[2] = {item(f, INV_CMD_RESERVE, "r3", 1, "CUST-3"),
                            item(f, INV_CMD_RELEASE, "x1", 1, "CUST-3")};
    stage_counts(before);
    assert_int_equal(run_batch(f, second, 2, &retry), 2);
    assert_stage_delta(before, "0 2 0 0 1 1 1");

    f->ops.idle("PROD-1", &f->slot, f->ops.opaque); /* persists the outbox: one more write */
    W.held_elsewhere = 1;
    work_item *third[1] = {item(f, INV_CMD_RESERVE, "r4", 1, "CUST-4")};
    stage_counts(before);
    assert_int_equal(run_batch(f, third, 1, &retry), 0);
    assert_stage_delta(before, "0 0 0 0 0 0 0");
    free_items(first, 3);
    free_items(second, 2);
    free_items(third, 1);
}

/* Every fenced write carries the earliest reservation expiry as metadata,
 * so the reconciler can list instead of reading every product. */
static void test_processor_write_records_next_expiry(void **state) {
    fixture *f = *state;
    work_item *items[3] = {item(f, INV_CMD_RESTOCK, "s1", 100, NULL),
                           item(f, INV_CMD_RESERVE, "r1", 10, "CUST-1"),
                           item(f, INV_CMD_RESERVE, "r2", 5, "CUST-2")};
    int retry;
    assert_int_equal(run_batch(f, items, 1, &retry), 1);
    assert_int_equal(W.writes, 1);
    assert_string_equal(W.next_expiry, "none"); /* stock, no reservation */

    assert_int_equal(run_batch(f, items + 1, 2, &retry), 2);
    assert_int_equal(W.writes, 2);
    inv_state st = stored_state();
    assert_int_equal(st.n_reservations, 2);
    int64_t first = st.reservations[0].expires_at_ms, second = st.reservations[1].expires_at_ms;
    char expected[32];
    snprintf(expected, sizeof(expected), "%lld", (long long)(first < second ? first : second));
    assert_string_equal(W.next_expiry, expected);
    inv_state_clear(&st);
    free_items(items, 3);
}

/* ---- blocked products (state that cannot be read) --------------------------------- */

static size_t fake_queued(const char *product_id, void *arg) {
    assert_string_equal(product_id, "PROD-1");
    return *(size_t *)arg;
}

static double blocked_gauge(void) {
    return metrics_value(metrics_find(metrics_default(), "leasehold_products_blocked"), NULL);
}

/* Writes a valid product (restock of 100) and returns its blob, then puts
 * `garbage` in its place, as an outside writer did. */
static char *valid_then_garbage(fixture *f, const char *garbage) {
    work_item *first[1] = {item(f, INV_CMD_RESTOCK, "s1", 100, NULL)};
    int retry;
    assert_int_equal(run_batch(f, first, 1, &retry), 1);
    f->ops.idle("PROD-1", &f->slot, f->ops.opaque); /* persists, releases */
    free_items(first, 1);
    char *good = W.blob;
    W.blob = strdup(garbage);
    W.n_published = 0;
    W.releases = 0;
    return good;
}

/* A state blob that does not decode blocks the product: nothing applied,
 * published or written, no offset finished, the lease released for the
 * operator, a long retry delay; /api/blocked and the gauge name it. */
static void test_processor_process_undecodable_state_blocks(void **state) {
    fixture *f = *state;
    char *good = valid_then_garbage(f, "this is not JSON");
    work_item *items[2] = {item(f, INV_CMD_RESERVE, "r1", 10, "C"),
                           item(f, INV_CMD_RESERVE, "r2", 5, "C")};
    int retry;
    assert_int_equal(run_batch(f, items, 2, &retry), 0);
    assert_int_equal(retry, 30000);
    assert_int_equal(W.releases, 1);
    assert_int_equal(W.n_published, 0);
    assert_int_equal(W.writes, 2); /* the restock and its idle release only */
    assert_string_equal(W.blob, "this is not JSON");
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 1);
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 1);
    assert_int_equal(processor_is_blocked(f->proc, "PROD-2"), 0);
    assert_true(blocked_gauge() == 1);
    assert_int_equal(W.blocked_warnings, 1);

    size_t queued = 2;
    char *text = processor_blocked_json(f->proc, fake_queued, &queued);
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    json_t *list = json_object_get(doc, "blocked");
    assert_int_equal(json_array_size(list), 1);
    json_t *e = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(e, "productId")), "PROD-1");
    assert_int_equal(strncmp(json_string_value(json_object_get(e, "reason")), "decode: ", 8), 0);
    assert_true(json_integer_value(json_object_get(e, "since")) > 1700000000000LL);
    assert_int_equal(json_integer_value(json_object_get(e, "queued")), 2);
    json_decref(doc);
    free(text);

    /* Released with its key (revocation): no longer blocked. */
    f->ops.idle("PROD-1", &f->slot, f->ops.opaque);
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 0);
    assert_true(blocked_gauge() == 0);
    free(good);
    free_items(items, 2);
}

/* One WARN when it blocks, then at most one per minute however often it is
 * retried; an operator's retry always answers with one. */
static void test_processor_blocked_warn_rate_limited(void **state) {
    fixture *f = *state;
    char *good = valid_then_garbage(f, "{\"schemaVersion\":");
    work_item *items[1] = {item(f, INV_CMD_RESERVE, "r1", 1, "C")};
    int retry;
    W.clock_ms = 1000000;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_int_equal(W.blocked_warnings, 1);
    W.clock_ms += 30000;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    W.clock_ms += 29999;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_int_equal(W.blocked_warnings, 1);
    W.clock_ms += 1; /* a minute after the first */
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_int_equal(W.blocked_warnings, 2);
    assert_int_equal(processor_blocked_action(f->proc, "PROD-1", PROCESSOR_ACTION_RETRY), 0);
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_int_equal(W.blocked_warnings, 3);
    assert_int_equal(W.releases, 5); /* every attempt gives the lease back */
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 1);
    free(good);
    free_items(items, 1);
}

/* The operator restores the blob and asks for a retry: the queued commands
 * are applied exactly once and the product is unblocked. */
static void test_processor_blocked_retry_after_repair_applies(void **state) {
    fixture *f = *state;
    char *good = valid_then_garbage(f, "garbage");
    work_item *items[2] = {item(f, INV_CMD_RESERVE, "r1", 10, "C"),
                           item(f, INV_CMD_RESERVE, "r2", 5, "C")};
    int retry;
    assert_int_equal(processor_blocked_action(f->proc, "PROD-1", PROCESSOR_ACTION_RETRY), -1);
    assert_int_equal(run_batch(f, items, 2, &retry), 0);
    free(W.blob);
    W.blob = good;
    assert_int_equal(processor_blocked_action(f->proc, "PROD-1", PROCESSOR_ACTION_RETRY), 0);
    assert_int_equal(run_batch(f, items, 2, &retry), 2);
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 0);
    assert_true(blocked_gauge() == 0);
    assert_int_equal(W.n_published, 2);
    assert_int_equal(W.published[0].type, INV_EV_RESERVATION_CREATED);
    assert_int_equal(W.published[1].available, 85);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 3);
    inv_state st = stored_state();
    assert_int_equal(st.available, 85);
    inv_state_clear(&st);
    free_items(items, 2);
}

/* The operator dead-letters the queue: one dead letter per command with
 * reason state_unreadable and its position, no outcome event, offsets
 * finished only once Kafka acknowledged the dead letters. */
static void test_processor_blocked_dead_letter_finishes_offsets(void **state) {
    fixture *f = *state;
    char *good = valid_then_garbage(f, "garbage");
    work_item *items[2] = {item(f, INV_CMD_RESERVE, "r1", 10, "C"),
                           item(f, INV_CMD_RELEASE, "x1", 5, "C")};
    int retry;
    assert_int_equal(run_batch(f, items, 2, &retry), 0);
    int reads = W.reads;
    assert_int_equal(processor_blocked_action(f->proc, "PROD-1", PROCESSOR_ACTION_DEAD_LETTER),
                     0);
    assert_int_equal(run_batch(f, items, 2, &retry), 2);
    assert_int_equal(W.reads, reads); /* the state is not read again */
    assert_int_equal(W.n_published, 0);
    assert_int_equal(W.n_dead_letters, 2);
    for (size_t i = 0; i < 2; i++) {
        json_error_t jerr;
        json_t *dl = json_loads(W.dead_letters[i], 0, &jerr);
        assert_non_null(dl);
        assert_string_equal(json_string_value(json_object_get(dl, "reason")), "state_unreadable");
        assert_string_equal(json_string_value(json_object_get(dl, "topic")),
                            "inventory.reservations");
        assert_int_equal(json_integer_value(json_object_get(dl, "partition")), 0);
        assert_int_equal(json_integer_value(json_object_get(dl, "offset")), (json_int_t)(1 + i));
        assert_non_null(strstr(json_string_value(json_object_get(dl, "payload")),
                               i == 0 ? "\"r1\"" : "\"x1\""));
        json_decref(dl);
    }
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 0);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 1);
    deliver_dead_letters();
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 3);
    assert_string_equal(W.blob, "garbage"); /* untouched */
    free(good);
    free_items(items, 2);
}

/* More queued than one batch (max_batch), and a dead letter that cannot be
 * queued: the action carries over to the next runs until the queue is
 * empty; nothing is finished before its dead letter is delivered. */
static void test_processor_blocked_dead_letter_across_runs(void **state) {
    fixture *f = *state;
    processor_free(f->proc);
    processor_options o = {.container = "inventory",
                           .tracker = f->tracker,
                           .max_batch = 2,
                           .retry_base_ms = 10,
                           .retry_max_ms = 100,
                           .now_ms = fake_clock_ms};
    f->proc = processor_new(&o);
    f->ops = processor_dispatcher_ops(f->proc);
    char *good = valid_then_garbage(f, "garbage");
    work_item *items[3] = {item(f, INV_CMD_RESERVE, "r1", 1, "C"),
                           item(f, INV_CMD_RESERVE, "r2", 1, "C"),
                           item(f, INV_CMD_RESERVE, "r3", 1, "C")};
    int retry;
    assert_int_equal(run_batch(f, items, 3, &retry), 0);
    assert_int_equal(processor_blocked_action(f->proc, "PROD-1", PROCESSOR_ACTION_DEAD_LETTER),
                     0);
    W.dead_letter_refuse = 2; /* the second one cannot be queued */
    assert_int_equal(run_batch(f, items, 3, &retry), 1);
    assert_true(retry >= 5 && retry <= 100);
    assert_int_equal(W.n_dead_letters, 1);
    assert_int_equal(run_batch(f, items + 1, 2, &retry), 2); /* one batch: max_batch 2 */
    assert_int_equal(W.n_dead_letters, 3);
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 0);
    assert_int_equal(W.reads, 2); /* the restock's and the one that blocked: no more */
    assert_int_equal(W.n_published, 0);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 1);
    deliver_dead_letters();
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), 4);

    /* Three queued, two per batch: the rest follows at once (retry 0). */
    work_item *more[3] = {item(f, INV_CMD_RESERVE, "r4", 1, "C"),
                          item(f, INV_CMD_RESERVE, "r5", 1, "C"),
                          item(f, INV_CMD_RESERVE, "r6", 1, "C")};
    assert_int_equal(run_batch(f, more, 3, &retry), 0);
    assert_int_equal(processor_blocked_action(f->proc, "PROD-1", PROCESSOR_ACTION_DEAD_LETTER),
                     0);
    assert_int_equal(run_batch(f, more, 3, &retry), 2);
    assert_int_equal(retry, 0);
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 1);
    assert_int_equal(run_batch(f, more + 2, 1, &retry), 1);
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 0);
    assert_int_equal(W.n_dead_letters, 6);
    free(good);
    free_items(items, 3);
    free_items(more, 3);
}

/* Storage 5xx and timeouts stay transient (short backoff, not blocked); a
 * definitive 4xx on the read blocks. */
static void test_processor_read_errors_classified(void **state) {
    fixture *f = *state;
    work_item *first[1] = {item(f, INV_CMD_RESTOCK, "s1", 10, NULL)};
    int retry;
    assert_int_equal(run_batch(f, first, 1, &retry), 1);
    f->ops.idle("PROD-1", &f->slot, f->ops.opaque);
    work_item *items[1] = {item(f, INV_CMD_RESERVE, "r1", 1, "C")};
    W.next_read = BLOB_ERR_TRANSIENT;
    W.next_read_status = 503;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_true(retry >= 5 && retry <= 100);
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 0);
    assert_int_equal(processor_storage_healthy(f->proc), 0);
    W.next_read = BLOB_ERR_HTTP;
    W.next_read_status = 400;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_int_equal(retry, 30000);
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 1);
    assert_int_equal(processor_storage_healthy(f->proc), 1);
    /* The next read succeeds: applied, unblocked. */
    assert_int_equal(run_batch(f, items, 1, &retry), 1);
    assert_int_equal(processor_is_blocked(f->proc, "PROD-1"), 0);
    free_items(first, 1);
    free_items(items, 1);
}

/* ---- paged layout ------------------------------------------------------------ */

/* Restock 100000, then `n` reserves of 1 unit (batches of 100). */
static void reserve_many(fixture *f, size_t n) {
    int retry;
    work_item *restock[1] = {item(f, INV_CMD_RESTOCK, "s1", 100000, NULL)};
    assert_int_equal(run_batch(f, restock, 1, &retry), 1);
    free_items(restock, 1);
    for (size_t done = 0; done < n; done += 100) {
        work_item *items[100];
        for (size_t i = 0; i < 100; i++) {
            char id[32];
            snprintf(id, sizeof(id), "r%zu", done + i);
            items[i] = item(f, INV_CMD_RESERVE, id, 1, "CUST-1");
        }
        assert_int_equal(run_batch(f, items, 100, &retry), 100);
        free_items(items, 100);
    }
}

static void test_processor_paged_reserve_writes_tail_page_and_head(void **state) {
    fixture *f = *state;
    reserve_many(f, 600); /* pages of 256, 256, 88 */
    inv_state st = stored_state();
    assert_int_equal(st.n_reservations, 600);
    assert_int_equal(st.reservation_pages.n_pages, 3);
    assert_int_equal(st.blocks_committed, 1);
    inv_state_clear(&st);
    int puts[3] = {B.puts[0], B.puts[1], B.puts[2]}, lists = B.lists;

    work_item *items[2] = {item(f, INV_CMD_RESERVE, "x1", 2, "CUST-2"),
                           item(f, INV_CMD_RESERVE, "x2", 3, "CUST-3")};
    int retry;
    assert_int_equal(run_batch(f, items, 2, &retry), 2);
    /* One commit: the head, the tail reservation page, and the ledger's
     * first page (its oldest entries evicted) and tail page. */
    assert_int_equal(B.lists - lists, 1);
    assert_int_equal(B.puts[0] - puts[0], 1);
    assert_int_equal(B.puts[1] - puts[1], 2);
    assert_int_equal(B.puts[2] - puts[2], 1);
    st = stored_state();
    assert_int_equal(st.n_reservations, 602);
    assert_int_equal(st.reservation_pages.pages[2].count, 90);
    assert_int_equal(st.available, 100000 - 600 - 5);
    assert_string_equal(st.reservations[601].customer_id, "CUST-3");
    inv_state_clear(&st);
    free_items(items, 2);
}

static void test_processor_paged_release_by_id_touches_one_page(void **state) {
    fixture *f = *state;
    reserve_many(f, 600);
    inv_state st = stored_state();
    char rid[INV_ID_MAX + 1];
    snprintf(rid, sizeof(rid), "%s", st.reservations[300].reservation_id); /* page 1 */
    unsigned long long page0 = st.reservation_pages.pages[0].block,
                       page2 = st.reservation_pages.pages[2].block;
    inv_state_clear(&st);
    int res_puts = B.puts[2];
    work_item *items[1] = {item(f, INV_CMD_RELEASE, "rel-1", 0, NULL)};
    snprintf(items[0]->cmd.reservation_id, sizeof(items[0]->cmd.reservation_id), "%s", rid);
    int retry;
    assert_int_equal(run_batch(f, items, 1, &retry), 1);
    assert_int_equal(B.puts[2] - res_puts, 1);
    st = stored_state();
    assert_int_equal(st.n_reservations, 599);
    assert_null(inv_state_find_reservation(&st, rid));
    assert_int_equal(st.reservation_pages.pages[0].block, page0);
    assert_int_equal(st.reservation_pages.pages[1].count, 255);
    assert_int_equal(st.reservation_pages.pages[2].block, page2);
    inv_state_clear(&st);
    free_items(items, 1);
}

/* Decision 8 at either request of a block write: a 412 abandons the batch
 * (nothing committed, nothing published, offsets not finished); after
 * re-acquiring, the batch is applied once from the re-read blob. */
static void paged_fenced_out_at(fixture *f, int request) {
    reserve_many(f, 300);
    char *before = strdup(W.blob);
    int writes = W.writes, acquires = W.acquires;
    size_t published = W.n_published;
    int64_t position = offset_tracker_position(f->tracker, "inventory.reservations", 0);
    work_item *items[1] = {item(f, INV_CMD_RESERVE, "late", 4, "CUST-9")};
    B.fail_at = request;
    int retry;
    assert_int_equal(run_batch(f, items, 1, &retry), 0);
    assert_true(retry > 0);
    assert_string_equal(W.blob, before);
    assert_int_equal(W.writes, writes);
    assert_int_equal(W.n_published, published);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0), position);

    assert_int_equal(run_batch(f, items, 1, &retry), 1);
    assert_int_equal(W.acquires, acquires + 1);
    inv_state st = stored_state();
    assert_int_equal(st.n_reservations, 301);
    assert_int_equal(st.reserved, 304);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.reservations", 0),
                     position + 1);
    inv_state_clear(&st);
    free(before);
    free_items(items, 1);
}

static void test_processor_paged_fenced_out_at_put_block(void **state) {
    paged_fenced_out_at(*state, 1);
}

static void test_processor_paged_fenced_out_at_put_block_list(void **state) {
    /* head, ledger first + tail page, reservation tail page: the list is 5th */
    paged_fenced_out_at(*state, 5);
}

static void test_processor_paged_migrates_v1_blob_on_first_write(void **state) {
    fixture *f = *state;
    inv_state v1;
    inv_state_init(&v1, "PROD-1");
    v1.available = 1000;
    for (size_t i = 0; i < 300; i++) {
        inv_reservation r = {.quantity = 1, .created_at_ms = 1, .expires_at_ms = 4102444800000LL};
        snprintf(r.reservation_id, sizeof(r.reservation_id), "old-%zu", i);
        snprintf(r.customer_id, sizeof(r.customer_id), "C%zu", i);
        assert_int_equal(inv_state_add_reservation(&v1, &r), 0);
    }
    v1.reserved = 300;
    v1.total = 1300;
    W.blob = inv_state_encode(&v1);
    inv_state_clear(&v1);
    assert_memory_equal(W.blob, "{\"schemaVersion\":1,", 18);

    work_item *items[1] = {item(f, INV_CMD_RESERVE, "new-1", 7, "CUST-7")};
    int retry;
    assert_int_equal(run_batch(f, items, 1, &retry), 1);
    /* First write: every part as a block (head, 1 ledger page, 2 pages). */
    assert_int_equal(B.lists, 1);
    assert_int_equal(B.puts[0], 1);
    assert_int_equal(B.puts[1], 1);
    assert_int_equal(B.puts[2], 2);
    assert_memory_equal(W.blob, "{\"schemaVersion\":2,", 18);
    inv_state st = stored_state();
    assert_int_equal(st.n_reservations, 301);
    assert_string_equal(st.reservations[0].reservation_id, "old-0");
    assert_string_equal(st.reservations[300].customer_id, "CUST-7");
    assert_int_equal(st.available, 993);
    assert_int_equal(st.total, 1300);
    inv_state_clear(&st);
    free_items(items, 1);
}

/* Reservations that fall due together expire in bounded batches: each
 * batch of 100 expire commands is one write that sends at most the two
 * reservation pages holding them (never the whole state); emptied pages
 * leave the blob, so the last write holds no reservation page. */
static void test_processor_paged_mass_expiry_in_bounded_batches(void **state) {
    fixture *f = *state;
    enum { N = 2000 };
    inv_state v1;
    inv_state_init(&v1, "PROD-1");
    v1.reservations = calloc(N, sizeof(*v1.reservations));
    v1.cap_reservations = N;
    for (size_t i = 0; i < N; i++) {
        inv_reservation *r = &v1.reservations[i];
        snprintf(r->reservation_id, sizeof(r->reservation_id), "due-%zu", i);
        snprintf(r->customer_id, sizeof(r->customer_id), "C%zu", i % 7);
        r->quantity = 2;
        r->created_at_ms = 1;
        r->expires_at_ms = 1000; /* long past */
    }
    v1.n_reservations = N;
    v1.reserved = 2 * N;
    v1.available = 5;
    v1.total = v1.reserved + v1.available;
    W.blob = inv_state_encode(&v1);
    inv_state_clear(&v1);

    int retry;
    for (size_t b = 0; b < N / 100; b++) {
        work_item *items[100];
        for (size_t i = 0; i < 100; i++) {
            char id[32];
            snprintf(id, sizeof(id), "expire-%zu", b * 100 + i);
            items[i] = item(f, INV_CMD_EXPIRE, id, 0, NULL);
            snprintf(items[i]->cmd.reservation_id, sizeof(items[i]->cmd.reservation_id),
                     "due-%zu", b * 100 + i);
            snprintf(items[i]->topic, sizeof(items[i]->topic), "inventory.admin");
            offset_tracker_seen(f->tracker, "inventory.admin", 0, items[i]->offset);
        }
        int res_puts = B.puts[2], lists = B.lists;
        assert_int_equal(run_batch(f, items, 100, &retry), 100);
        assert_int_equal(B.lists - lists, 1);
        if (b == 0)
            assert_int_equal(B.puts[2] - res_puts, 8); /* migration: all of 2000 / 256 */
        else
            assert_true(B.puts[2] - res_puts <= 2);
        inv_state st = stored_state();
        assert_int_equal(st.n_reservations, N - 100 * (b + 1));
        assert_int_equal(st.reserved, 2 * (long long)(N - 100 * (b + 1)));
        if (st.n_reservations > 0) { /* the oldest left is the next one due */
            char oldest[32];
            snprintf(oldest, sizeof(oldest), "due-%zu", 100 * (b + 1));
            assert_string_equal(st.reservations[0].reservation_id, oldest);
        }
        inv_state_clear(&st);
        free_items(items, 100);
    }
    inv_state st = stored_state();
    assert_int_equal(st.n_reservations, 0);
    assert_int_equal(st.reservation_pages.n_pages, 0);
    assert_int_equal(st.available, 4005);
    assert_int_equal(st.total, 4005);
    assert_int_equal(offset_tracker_position(f->tracker, "inventory.admin", 0), N);
    inv_state_clear(&st);
}

/* storage.state_layout=v1 writes the whole document with one Put Blob. */
static void test_processor_v1_layout_writes_one_document(void **state) {
    fixture *f = *state;
    processor_free(f->proc);
    processor_options o = {.container = "inventory",
                           .tracker = f->tracker,
                           .max_batch = 100,
                           .retry_base_ms = 10,
                           .retry_max_ms = 100,
                           .state_v1 = 1};
    f->proc = processor_new(&o);
    f->ops = processor_dispatcher_ops(f->proc);
    reserve_many(f, 100);
    assert_int_equal(B.lists, 0);
    assert_memory_equal(W.blob, "{\"schemaVersion\":1,", 18);
    inv_state st = stored_state();
    assert_int_equal(st.n_reservations, 100);
    inv_state_clear(&st);
}

int main(void) {
    log_init("test", LOG_LVL_ERROR, 0); /* the processor's expected warnings are noise here */
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_processor_process_group_commit_one_write),
        T(test_processor_process_held_elsewhere_retries),
        T(test_processor_process_unknown_product_not_created),
        T(test_processor_process_empty_blob_is_unknown_product),
        T(test_processor_abandon_gives_up_before_storage),
        T(test_processor_process_lost_lease_abandons_then_applies_once),
        T(test_processor_process_lost_callback_before_write),
        T(test_processor_process_publish_failure_keeps_outbox),
        T(test_processor_process_storage_error_rereads),
        T(test_processor_process_acquire_error_retries),
        T(test_processor_process_republishes_pending_outbox),
        T(test_processor_process_records_each_stage_once),
        T(test_processor_write_records_next_expiry),
        T(test_processor_v1_layout_writes_one_document),
#define TB(name) cmocka_unit_test_setup_teardown(name, setup_blocks, teardown)
        TB(test_processor_paged_reserve_writes_tail_page_and_head),
        TB(test_processor_paged_release_by_id_touches_one_page),
        TB(test_processor_paged_fenced_out_at_put_block),
        TB(test_processor_paged_fenced_out_at_put_block_list),
        TB(test_processor_paged_migrates_v1_blob_on_first_write),
        TB(test_processor_paged_mass_expiry_in_bounded_batches),
#undef TB
        T(test_processor_process_undecodable_state_blocks),
        T(test_processor_blocked_warn_rate_limited),
        T(test_processor_blocked_retry_after_repair_applies),
        T(test_processor_blocked_dead_letter_finishes_offsets),
        T(test_processor_read_errors_classified),
        T(test_processor_blocked_dead_letter_across_runs),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
