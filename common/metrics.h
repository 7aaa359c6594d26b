/* metrics.h -- process-wide metrics registry with Prometheus text exposition.
 *
 * A registry holds metric families: counters, gauges and histograms with
 * fixed bucket bounds. Each family has a fixed, small list of label names
 * (at most METRICS_MAX_LABELS); every distinct combination of label values
 * is a series, created on first use, at most METRICS_MAX_SERIES per family
 * so a bug feeding unbounded values (product ids, ...) cannot grow memory
 * without limit (the first refused combination is logged as a warning).
 * metrics_render() writes the Prometheus text format 0.0.4:
 * families in registration order, series in creation order, HELP/TYPE
 * lines, histograms as cumulative _bucket{le="..."} lines plus _sum and
 * _count.
 *
 * Besides the logger, metrics_default() is the one global the programs
 * share: it is created on first use and already holds every Leasehold
 * metric (documented in docs/metrics.md); the metrics_record_* helpers below
 * write to it. Tests create private registries with metrics_registry_new().
 *
 * Threads: everything here is thread-safe (one mutex per family; updates
 * are a few arithmetic operations under it). Family pointers stay valid
 * until their registry is freed; the default registry is never freed.
 */
#ifndef LEASEHOLD_METRICS_H
#define LEASEHOLD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS 4
#define METRICS_MAX_SERIES 256
#define METRICS_MAX_BUCKETS 32

typedef enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM } metrics_type;

typedef struct metrics_registry metrics_registry;
typedef struct metrics_family metrics_family;

/* NULL on OOM. */
metrics_registry *metrics_registry_new(void);
/* Frees the registry and its families. NULL is a no-op. */
void metrics_registry_free(metrics_registry *reg);

/* The process-wide registry with the Leasehold families registered.
 * Never NULL (aborts only if the first allocation fails at start-up). */
metrics_registry *metrics_default(void);

/* Registers a family. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]* and be new
 * in the registry; `label_names` is NULL or a NULL-terminated array of at
 * most METRICS_MAX_LABELS names (no "le" for histograms). Histograms take
 * `n_bounds` (1..METRICS_MAX_BUCKETS) strictly increasing finite upper
 * bounds; the +Inf bucket is implicit. Strings are copied. Returns NULL with
 * `err` ("register NAME: cause") on failure. */
metrics_family *metrics_counter_new(metrics_registry *reg, const char *name, const char *help,
                                    const char *const *label_names, char *err, size_t errlen);
metrics_family *metrics_gauge_new(metrics_registry *reg, const char *name, const char *help,
                                  const char *const *label_names, char *err, size_t errlen);
metrics_family *metrics_histogram_new(metrics_registry *reg, const char *name, const char *help,
                                      const char *const *label_names, const double *bounds,
                                      size_t n_bounds, char *err, size_t errlen);
/* Family by name, NULL when not registered. */
metrics_family *metrics_find(metrics_registry *reg, const char *name);

/* Updates. `label_values` has exactly as many entries as the family has
 * label names (NULL when it has none); values are copied into the series.
 * Each returns 0, or -1 when the call does not fit the family (wrong type,
 * a counter decreased, a NULL value) or the family already has
 * METRICS_MAX_SERIES series and this would be a new one. */
int metrics_counter_add(metrics_family *f, const char *const *label_values, double amount);
int metrics_gauge_set(metrics_family *f, const char *const *label_values, double value);
int metrics_gauge_add(metrics_family *f, const char *const *label_values, double delta);
int metrics_histogram_observe(metrics_family *f, const char *const *label_values, double value);

/* Current value of a counter or gauge series, or a histogram's count; 0
 * when the series does not exist (tests, /metrics collectors). */
double metrics_value(metrics_family *f, const char *const *label_values);

/* The whole registry in Prometheus text format 0.0.4 (see the top of this
 * file), malloc'd and NUL-terminated; NULL on OOM. */
char *metrics_render(metrics_registry *reg);

/* Content-Type of metrics_render()'s output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---- Leasehold metrics in the default registry ---------------------------
 * Names, labels and buckets are documented in docs/metrics.md. */

/* leasehold_commands_total{type,outcome} and
 * leasehold_command_latency_seconds (receipt to durable outcome). */
void metrics_record_command(const char *type, const char *outcome, double latency_s);
/* leasehold_batch_size: commands applied in one fenced write. */
void metrics_record_batch(size_t commands);
/* leasehold_leader: 1 while this process leads the reconciler, else 0. */
void metrics_record_leader(int is_leader);
/* leasehold_consumer_lag_messages: total lag over assigned partitions. */
void metrics_record_consumer_lag(int64_t messages);
/* leasehold_dead_letters_total{reason_kind}: a short fixed word such as
 * "invalid_json", "schema", "oversize", "unknown_type". */
void metrics_record_dead_letter(const char *reason_kind);
/* leasehold_reconciler_sweeps_total{outcome}: "ok", "aborted" or "error". */
void metrics_record_sweep(const char *outcome);
/* leasehold_reservations_expired_total: expire commands published. */
void metrics_record_expired(uint64_t n);
/* What one sweep cost: leasehold_reconciler_list_requests_total,
 * leasehold_reconciler_state_reads_total and
 * leasehold_reconciler_sweep_duration_seconds. */
void metrics_record_sweep_cost(size_t list_requests, size_t state_reads, double seconds);
/* One state write request (Put Blob, Put Block or Put Block List) of
 * `bytes` body bytes: leasehold_state_bytes_written_total,
 * leasehold_state_write_requests_total and leasehold_state_write_bytes
 * (buckets 1 KiB .. 4 MiB). */
void metrics_record_state_write(size_t bytes);
/* leasehold_leases_held: overrides the event-driven count with the truth
 * (e.g. lease_manager_held_count() from a /metrics collect hook). */
void metrics_record_leases_held(size_t n);
/* leasehold_products_blocked: products whose state cannot be read. */
void metrics_record_products_blocked(size_t n);

/* leasehold_stage_seconds{stage}: where a command's time goes, one
 * histogram per stage (buckets 0.5 ms .. 30 s). In pipeline order: */
typedef enum metrics_stage {
    METRICS_STAGE_CONSUME_DELAY, /* broker CreateTime -> consumed (wall clock) */
    METRICS_STAGE_QUEUE_WAIT,    /* consumed -> start of the batch that applies it */
    METRICS_STAGE_LEASE_ACQUIRE, /* a successful lease acquisition */
    METRICS_STAGE_STATE_READ,    /* state read + decode after acquiring */
    METRICS_STAGE_APPLY,         /* inventory_apply over one batch */
    METRICS_STAGE_FENCED_WRITE,  /* one fenced state write */
    METRICS_STAGE_PUBLISH_ACK,   /* outbox publish until Kafka acknowledged it */
    METRICS_STAGE_COUNT
} metrics_stage;
/* The `stage` label value ("consume_delay", ...); NULL when out of range. */
const char *metrics_stage_name(metrics_stage stage);
/* One observation of `stage` (seconds; negative values count as 0, since
 * two hosts' clocks can disagree by a little). Out-of-range stages are
 * ignored. Any thread. */
void metrics_record_stage(metrics_stage stage, double seconds);

/* Adapter for lease_manager_options.on_event: records acquire and renew
 * latency, time to expiry at renewal, renewals, renewal failures, leases
 * lost by cause, the held gauge, and the handoff time (first contended
 * attempt on a name until it is acquired). `opaque` is ignored, so the
 * manager's opaque stays free for its log callback. Any thread. */
struct lease_event;
void metrics_lease_event(const struct lease_event *ev, void *opaque);

#endif
