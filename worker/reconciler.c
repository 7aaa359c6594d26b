/* reconciler.c -- leader-elected expiry sweep (see reconciler.h).
 *
 * One thread per reconciler. It sleeps on a condition variable (monotonic
 * clock) until it is stopped, elected, or the next tick falls due; while
 * lease_election_is_leader() holds it sweeps. Election callbacks only set
 * flags and signal the thread, as lease.h asks of callbacks.
 *
 * A sweep streams the listing of the inventory container, metadata
 * included (blob_list_items, page_size blobs per request): for each
 * "{productId}.json" it re-checks leadership (a demoted leader stops at the
 * next product), skips the product when its "nextexpiry" hint says nothing
 * is due yet, and otherwise (due, or no hint: written by an older version)
 * reads the blob without a lease id, decodes it and produces one `expire`
 * command per reservation past its expiry. The hint only decides what to
 * read; what expires is decided from the blob's content. At the end it
 * flushes the producer, so the sweep's result counts commands Kafka
 * acknowledged. The delivery-report callback runs on the sweeping thread
 * (inside rd_kafka_flush/poll) and adds to counters in the reconciler that
 * sweep_mu protects: a report arriving late, after a flush timed out, lands
 * in a later sweep's tally instead of touching freed memory.
 *
 * Missed ticks are skipped, not queued: after a sweep the next tick is the
 * first one still in the future, so sweeps never pile up.
 */
#include "reconciler.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "leasehold/inventory_schema.h"
#include "log.h"
#include "metrics.h"
#include "state_blob.h"

#define RECONCILER_DEFAULT_TOPIC "inventory.admin"
#define RECONCILER_DEFAULT_CONTAINER "inventory"
#define RECONCILER_DEFAULT_PUBLISH_TIMEOUT_MS 30000
#define RECONCILER_EXPIRE_PREFIX "expire-"

struct reconciler {
    blob_client *blob;
    lease_manager *leases;
    char *topic, *container, *lock_name, *identity;
    long long interval_ms;
    int publish_timeout_ms;
    int page_size;
    rd_kafka_t *producer;
    rd_kafka_topic_t *topic_handle; /* held so the topic's metadata is fetched early */
    lease_election *election;

    pthread_mutex_t mu; /* guards the fields below and the thread's sleep */
    pthread_cond_t wake;
    pthread_t thread;
    int thread_running;
    int stopping;
    int elected; /* an election happened since the last sweep: sweep now */

    pthread_mutex_t sweep_mu; /* one sweep at a time; guards the delivery tallies */
    size_t delivered, delivery_failed;
    char delivery_error[256];
};

static int64_t reconciler_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t reconciler_unix_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Delivery report, on the thread inside rd_kafka_flush/poll: the sweeper. */
static void reconciler_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    reconciler *r = opaque;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        r->delivered++;
        return;
    }
    r->delivery_failed++;
    if (!r->delivery_error[0])
        snprintf(r->delivery_error, sizeof(r->delivery_error), "publish to %s: %s", r->topic,
                 rd_kafka_err2str(msg->err));
}

/* Idempotent producer (acks=all, no duplicates from internal retries);
 * message.timeout.ms bounds every delivery by the publish timeout so a
 * flush never waits on a message that could still succeed later. */
static rd_kafka_t *reconciler_producer_new(reconciler *r, const reconciler_config *cfg, char *err,
                                           size_t errlen) {
    char errstr[512], timeout[32], client_id[200];
    snprintf(timeout, sizeof(timeout), "%d", r->publish_timeout_ms);
    snprintf(client_id, sizeof(client_id), "leasehold-reconciler-%s", r->identity);
    const char *base[] = {"bootstrap.servers", cfg->brokers, "enable.idempotence", "true",
                          "message.timeout.ms", timeout, "linger.ms", "5",
                          "client.id", client_id, NULL};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (int pass = 0; pass < 2; pass++) {
        const char *const *kv = pass == 0 ? base : cfg->kafka_properties;
        for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
            if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], errstr, sizeof(errstr)) !=
                RD_KAFKA_CONF_OK) {
                snprintf(err, errlen, "kafka_properties: %s", errstr);
                rd_kafka_conf_destroy(conf);
                return NULL;
            }
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, reconciler_on_delivery);
    rd_kafka_conf_set_opaque(conf, r);
    /* rd_kafka_new takes the conf only on success. */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        snprintf(err, errlen, "reconciler producer: %s", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static char *reconciler_strdup_or(const char *value, const char *fallback) {
    return strdup(value && *value ? value : fallback);
}

reconciler *reconciler_new(const reconciler_config *cfg, char *err, size_t errlen) {
    if (!cfg || !cfg->blob) {
        snprintf(err, errlen, "blob: a blob client is required");
        return NULL;
    }
    if (!cfg->brokers || !*cfg->brokers) {
        snprintf(err, errlen, "brokers: bootstrap servers are required");
        return NULL;
    }
    long long interval = cfg->interval_ms ? cfg->interval_ms : RECONCILER_DEFAULT_INTERVAL_MS;
    if (interval < RECONCILER_MIN_INTERVAL_MS) {
        snprintf(err, errlen, "interval_ms: must be at least %lld, got %lld",
                 RECONCILER_MIN_INTERVAL_MS, cfg->interval_ms);
        return NULL;
    }
    if (cfg->page_size < 0 || cfg->page_size > 5000) {
        snprintf(err, errlen, "page_size: must be 0..5000, got %d", cfg->page_size);
        return NULL;
    }
    if (cfg->publish_timeout_ms < 0) {
        snprintf(err, errlen, "publish_timeout_ms: must not be negative, got %d",
                 cfg->publish_timeout_ms);
        return NULL;
    }
    reconciler *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "reconciler: out of memory");
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->sweep_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    r->blob = cfg->blob;
    r->leases = cfg->leases;
    r->interval_ms = interval;
    r->page_size = cfg->page_size ? cfg->page_size : RECONCILER_DEFAULT_PAGE_SIZE;
    r->publish_timeout_ms =
        cfg->publish_timeout_ms ? cfg->publish_timeout_ms : RECONCILER_DEFAULT_PUBLISH_TIMEOUT_MS;
    const char *identity = cfg->identity;
    if ((!identity || !*identity) && cfg->leases)
        identity = lease_manager_owner_id(cfg->leases);
    r->topic = reconciler_strdup_or(cfg->topic, RECONCILER_DEFAULT_TOPIC);
    r->container = reconciler_strdup_or(cfg->container, RECONCILER_DEFAULT_CONTAINER);
    r->lock_name = reconciler_strdup_or(cfg->lock_name, RECONCILER_LOCK_NAME);
    r->identity = reconciler_strdup_or(identity, "reconciler");
    if (!r->topic || !r->container || !r->lock_name || !r->identity) {
        snprintf(err, errlen, "reconciler: out of memory");
        reconciler_free(r);
        return NULL;
    }
    r->producer = reconciler_producer_new(r, cfg, err, errlen);
    if (!r->producer) {
        reconciler_free(r);
        return NULL;
    }
    /* A topic handle makes librdkafka look up the topic's leader in the
     * background now; otherwise the first expire command of the first sweep
     * waits for that lookup (measured about 0.9 s). Failure only loses the
     * head start. */
    r->topic_handle = rd_kafka_topic_new(r->producer, r->topic, NULL);
    return r;
}

/* ---- Sweep -------------------------------------------------------------- */

/* Caller holds r->mu, which also keeps r->election alive: stop clears it
 * under the mutex before freeing it. Election callbacks run without the
 * election's own lock held, so taking it inside r->mu cannot deadlock. */
static int reconciler_leading_locked(reconciler *r) {
    return r->election && lease_election_is_leader(r->election);
}

typedef struct sweep_ctx {
    reconciler *r;
    int64_t now_ms;
    int require_leader;
    reconciler_sweep_stats *stats;
    char first_error[256];
} sweep_ctx;

/* Counts a failure, logs it, and keeps the first one for the caller. */
__attribute__((format(printf, 2, 3))) static void sweep_error(sweep_ctx *ctx, const char *fmt,
                                                              ...) {
    ctx->stats->errors++;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_warn("reconciler: %s", line);
    if (!ctx->first_error[0])
        snprintf(ctx->first_error, sizeof(ctx->first_error), "%s", line);
}

/* Queues one expire command; the delivery report settles it. */
static void sweep_publish_expire(sweep_ctx *ctx, const inv_state *st, const inv_reservation *res) {
    reconciler *r = ctx->r;
    inv_command cmd = {.type = INV_CMD_EXPIRE, .issued_at_ms = ctx->now_ms};
    int n = snprintf(cmd.command_id, sizeof(cmd.command_id), RECONCILER_EXPIRE_PREFIX "%s",
                     res->reservation_id);
    if (n < 0 || (size_t)n >= sizeof(cmd.command_id)) {
        sweep_error(ctx, "product %s: reservation id %s too long for an expire command id",
                    st->product_id, res->reservation_id);
        return;
    }
    snprintf(cmd.product_id, sizeof(cmd.product_id), "%s", st->product_id);
    snprintf(cmd.reservation_id, sizeof(cmd.reservation_id), "%s", res->reservation_id);
    char *json = inv_command_encode(&cmd);
    if (!json) {
        sweep_error(ctx, "product %s: encode expire %s: out of memory", st->product_id,
                    res->reservation_id);
        return;
    }
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            r->producer, RD_KAFKA_V_TOPIC(r->topic),
            RD_KAFKA_V_KEY(cmd.product_id, strlen(cmd.product_id)),
            RD_KAFKA_V_VALUE(json, strlen(json)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return; /* librdkafka owns json now */
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            free(json);
            sweep_error(ctx, "product %s: publish expire: %s", st->product_id,
                        rd_kafka_err2str(e));
            return;
        }
        rd_kafka_poll(r->producer, 100); /* queue full: let deliveries drain */
    }
}

static int sweep_should_stop(sweep_ctx *ctx) {
    reconciler *r = ctx->r;
    pthread_mutex_lock(&r->mu);
    int stop = r->stopping || (ctx->require_leader && !reconciler_leading_locked(r));
    pthread_mutex_unlock(&r->mu);
    return stop;
}

static int sweep_product(const blob_list_item *item, void *opaque) {
    sweep_ctx *ctx = opaque;
    reconciler *r = ctx->r;
    const char *name = item->name;
    size_t n = strlen(name);
    if (n <= 5 || strcmp(name + n - 5, ".json") != 0)
        return 0; /* not a product state blob */
    if (sweep_should_stop(ctx)) {
        ctx->stats->aborted = 1;
        return 1;
    }
    ctx->stats->listed++;
    state_blob_due due = state_blob_meta_due(item->meta, ctx->now_ms);
    if (due == STATE_BLOB_DUE_LATER)
        return 0; /* nothing expires yet: not worth a read */
    if (due == STATE_BLOB_DUE_UNKNOWN)
        ctx->stats->unhinted++;
    ctx->stats->state_reads++;
    inv_state st;
    char why[400];
    switch (state_blob_read(r->blob, r->container, name, &st, why, sizeof(why))) {
    case STATE_BLOB_ABSENT: /* deleted since the listing, or never came to be */
        return 0;
    case STATE_BLOB_UNREACHABLE:
        sweep_error(ctx, "%s", why);
        return 0;
    case STATE_BLOB_INVALID:
        sweep_error(ctx, "state blob %s is invalid: %s", name, why);
        return 0;
    case STATE_BLOB_OK:
        break;
    }
    ctx->stats->products++;
    size_t expired = 0;
    for (size_t i = 0; i < st.n_reservations; i++) {
        if (st.reservations[i].expires_at_ms <= ctx->now_ms) {
            sweep_publish_expire(ctx, &st, &st.reservations[i]);
            expired++;
        }
    }
    if (expired) {
        ctx->stats->expired += expired;
        ctx->stats->products_with_expired++;
    }
    inv_state_clear(&st);
    rd_kafka_poll(r->producer, 0); /* serve delivery reports as we go */
    return 0;
}

static int reconciler_sweep(reconciler *r, int64_t now_ms, int require_leader,
                            reconciler_sweep_stats *stats_out, char *err, size_t errlen) {
    reconciler_sweep_stats stats = {0};
    sweep_ctx ctx = {.r = r, .now_ms = now_ms ? now_ms : reconciler_unix_ms(),
                     .require_leader = require_leader, .stats = &stats};
    pthread_mutex_lock(&r->sweep_mu);
    int64_t started = reconciler_monotonic_ms();
    r->delivered = r->delivery_failed = 0;
    r->delivery_error[0] = '\0';

    blob_error be;
    blob_list_options lo = {.page_size = r->page_size, .include_metadata = 1};
    blob_code rc = blob_list_items(r->blob, r->container, &lo, sweep_product, &ctx,
                                   &stats.list_requests, &be);
    if (rc == BLOB_ERR_NOT_FOUND) {
        rc = BLOB_OK; /* no container yet: no products, nothing expired */
    } else if (rc != BLOB_OK) {
        sweep_error(&ctx, "%s", be.message);
    }
    rd_kafka_flush(r->producer, r->publish_timeout_ms + 1000);
    stats.published = r->delivered;
    stats.errors += r->delivery_failed;
    if (r->delivery_failed && !ctx.first_error[0])
        snprintf(ctx.first_error, sizeof(ctx.first_error), "%s", r->delivery_error);
    stats.seconds = (double)(reconciler_monotonic_ms() - started) / 1000.0;
    pthread_mutex_unlock(&r->sweep_mu);

    log_info("sweep found %zu expired reservations in %zu products (%zu listed, %zu read, %zu "
             "list requests, %.3f s)",
             stats.expired, stats.products_with_expired, stats.listed, stats.state_reads,
             stats.list_requests, stats.seconds);
    if (stats.aborted)
        log_info("reconciler: sweep stopped early after %zu products (no longer leader or "
                 "stopping)",
                 stats.products);
    metrics_record_sweep(stats.aborted ? "aborted" : stats.errors ? "error" : "ok");
    metrics_record_expired(stats.published);
    metrics_record_sweep_cost(stats.list_requests, stats.state_reads, stats.seconds);
    if (stats_out)
        *stats_out = stats;
    if (stats.errors) {
        snprintf(err, errlen, "sweep: %zu errors, first: %s", stats.errors, ctx.first_error);
        return -1;
    }
    return 0;
}

int reconciler_sweep_once(reconciler *r, int64_t now_ms, reconciler_sweep_stats *stats,
                          char *err, size_t errlen) {
    return reconciler_sweep(r, now_ms, 0, stats, err, errlen);
}

/* ---- Leadership and the thread ------------------------------------------ */

static void reconciler_on_elected(lease_election *e, uint64_t epoch, void *opaque) {
    reconciler *r = opaque;
    metrics_record_leader(1);
    log_info("elected reconciler leader as %s (epoch %llu)", r->identity,
             (unsigned long long)epoch);
    pthread_mutex_lock(&r->mu);
    r->elected = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);
}

static void reconciler_on_demoted(lease_election *e, const char *reason, void *opaque) {
    reconciler *r = opaque;
    metrics_record_leader(0);
    pthread_mutex_lock(&r->mu);
    int stopping = r->stopping;
    pthread_mutex_unlock(&r->mu);
    if (stopping)
        log_info("reconciler resigned leadership of %s", r->lock_name);
    else
        log_warn("reconciler no longer leader: %s", reason ? reason : "unknown");
}

int reconciler_is_leader(reconciler *r) {
    pthread_mutex_lock(&r->mu);
    int leading = reconciler_leading_locked(r);
    pthread_mutex_unlock(&r->mu);
    return leading;
}

static void *reconciler_thread(void *arg) {
    reconciler *r = arg;
    int64_t next_due = reconciler_monotonic_ms();
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        int64_t now = reconciler_monotonic_ms();
        int leader = reconciler_leading_locked(r);
        if (leader && (r->elected || now >= next_due)) {
            r->elected = 0;
            pthread_mutex_unlock(&r->mu);
            char err[512];
            int64_t started = now;
            if (reconciler_sweep(r, 0, 1, NULL, err, sizeof(err)) != 0)
                log_warn("reconciler: %s", err);
            now = reconciler_monotonic_ms();
            next_due = started + r->interval_ms;
            long long skipped = 0;
            for (; next_due <= now; next_due += r->interval_ms)
                skipped++;
            if (skipped)
                log_warn("reconciler: sweep took %lld ms, skipped %lld tick(s)",
                         (long long)(now - started), skipped);
            pthread_mutex_lock(&r->mu);
            continue;
        }
        if (!leader) {
            /* Every election fires `elected`, which signals under r->mu;
             * the election already counts as leading by then, so this check
             * cannot miss it. A flag left from a term that has already
             * ended is stale. */
            r->elected = 0;
            if (!r->stopping)
                pthread_cond_wait(&r->wake, &r->mu);
            continue;
        }
        struct timespec ts = {.tv_sec = next_due / 1000,
                              .tv_nsec = (long)(next_due % 1000) * 1000000};
        while (!r->stopping && !r->elected && reconciler_monotonic_ms() < next_due)
            pthread_cond_timedwait(&r->wake, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int reconciler_start(reconciler *r, char *err, size_t errlen) {
    if (!r->leases) {
        snprintf(err, errlen, "leases: a lease manager is required to campaign");
        return -1;
    }
    if (r->election || r->thread_running) {
        snprintf(err, errlen, "reconciler: already started");
        return -1;
    }
    lease_election_callbacks cb = {.elected = reconciler_on_elected,
                                   .demoted = reconciler_on_demoted,
                                   .opaque = r};
    lease_error le;
    lease_election *e = lease_election_start(r->leases, r->lock_name, r->identity, &cb, &le);
    if (!e) {
        snprintf(err, errlen, "campaign %s: %s", r->lock_name, le.message);
        return -1;
    }
    pthread_mutex_lock(&r->mu);
    r->election = e;
    r->stopping = 0;
    pthread_mutex_unlock(&r->mu);
    if (pthread_create(&r->thread, NULL, reconciler_thread, r) != 0) {
        reconciler_stop(r);
        snprintf(err, errlen, "reconciler: cannot start thread");
        return -1;
    }
    r->thread_running = 1;
    log_info("reconciler campaigning for %s as %s, sweep every %lld ms", r->lock_name,
             r->identity, r->interval_ms);
    return 0;
}

void reconciler_stop(reconciler *r) {
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    lease_election *e = r->election;
    r->election = NULL; /* an in-flight sweep sees "not leader" and stops */
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);
    if (r->thread_running) {
        pthread_join(r->thread, NULL);
        r->thread_running = 0;
    }
    /* Resigns (the next leader need not wait for expiry); `demoted` fires
     * if this process was leading. */
    lease_election_free(e);
}

void reconciler_free(reconciler *r) {
    if (!r)
        return;
    reconciler_stop(r);
    /* Every sweep ends with a flush bounded by message.timeout.ms, so nothing
     * can still be waiting for delivery here. */
    if (r->topic_handle)
        rd_kafka_topic_destroy(r->topic_handle);
    if (r->producer)
        rd_kafka_destroy(r->producer);
    free(r->topic);
    free(r->container);
    free(r->lock_name);
    free(r->identity);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->sweep_mu);
    free(r);
}
