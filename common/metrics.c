/* metrics.c -- metrics registry and Prometheus text rendering (see metrics.h).
 *
 * A registry is a linked list of families in registration order; a family
 * keeps its series in a small array searched linearly (label sets are fixed
 * and small, METRICS_MAX_SERIES bounds the scan). Each family has its own
 * mutex so unrelated metrics never contend; the registry mutex only guards
 * the list itself. Histogram buckets are stored per bucket and made
 * cumulative when rendered.
 *
 * The exposition format is written by hand because none of the project's
 * libraries produce it and the C Prometheus clients are not packaged here;
 * it is a few dozen lines (format 0.0.4: HELP/TYPE comments, escaped label
 * values, Go-style float text such as +Inf and NaN).
 *
 * The default registry is created once (pthread_once) with every Leasehold
 * family; the metrics_record_* helpers and the lease event adapter write to
 * it. The adapter also remembers, per lease name, when an acquire was first
 * refused (bounded table, oldest entry evicted) to measure handoff time.
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leasehold/lease.h"
#include "log.h"

typedef struct metrics_series {
    char *values[METRICS_MAX_LABELS];
    double value;      /* counter and gauge */
    uint64_t *buckets; /* histogram: n_bounds + 1 counts, the last one for +Inf */
    double sum;
    uint64_t count;
} metrics_series;

struct metrics_family {
    metrics_family *next;
    metrics_type type;
    char *name;
    char *help;
    char *labels[METRICS_MAX_LABELS];
    size_t n_labels;
    double bounds[METRICS_MAX_BUCKETS];
    size_t n_bounds;
    pthread_mutex_t mu;
    metrics_series *series;
    size_t n_series, cap_series;
    int overflow_logged;
};

struct metrics_registry {
    pthread_mutex_t mu;
    metrics_family *head, *tail;
};

metrics_registry *metrics_registry_new(void) {
    metrics_registry *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return NULL;
    pthread_mutex_init(&reg->mu, NULL);
    return reg;
}

static void metrics_family_free(metrics_family *f) {
    for (size_t i = 0; i < f->n_series; i++) {
        for (size_t j = 0; j < f->n_labels; j++)
            free(f->series[i].values[j]);
        free(f->series[i].buckets);
    }
    for (size_t j = 0; j < f->n_labels; j++)
        free(f->labels[j]);
    free(f->series);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void metrics_registry_free(metrics_registry *reg) {
    if (!reg)
        return;
    metrics_family *f = reg->head;
    while (f) {
        metrics_family *next = f->next;
        metrics_family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

/* Prometheus metric and label name grammar: [a-zA-Z_:][a-zA-Z0-9_:]*
 * (colons are reserved for metric names, so labels may not use them). */
static int metrics_name_valid(const char *name, int allow_colon) {
    if (!name || !*name)
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (allow_colon && c == ':') || (p != name && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

metrics_family *metrics_find(metrics_registry *reg, const char *name) {
    metrics_family *found = NULL;
    pthread_mutex_lock(&reg->mu);
    for (metrics_family *f = reg->head; f && !found; f = f->next)
        if (strcmp(f->name, name) == 0)
            found = f;
    pthread_mutex_unlock(&reg->mu);
    return found;
}

static metrics_series *metrics_series_lookup(metrics_family *f, const char *const *values,
                                             int create);

static metrics_family *metrics_family_new(metrics_registry *reg, metrics_type type,
                                          const char *name, const char *help,
                                          const char *const *label_names, const double *bounds,
                                          size_t n_bounds, char *err, size_t errlen) {
    const char *shown = name ? name : "(null)";
    if (!metrics_name_valid(name, 1)) {
        snprintf(err, errlen, "register %s: invalid metric name", shown);
        return NULL;
    }
    size_t n_labels = 0;
    while (label_names && label_names[n_labels]) {
        const char *l = label_names[n_labels];
        if (n_labels == METRICS_MAX_LABELS) {
            snprintf(err, errlen, "register %s: more than %d labels", shown, METRICS_MAX_LABELS);
            return NULL;
        }
        if (!metrics_name_valid(l, 0) || strncmp(l, "__", 2) == 0 ||
            (type == METRICS_HISTOGRAM && strcmp(l, "le") == 0)) {
            snprintf(err, errlen, "register %s: invalid label name '%s'", shown, l);
            return NULL;
        }
        n_labels++;
    }
    if (type == METRICS_HISTOGRAM) {
        if (!bounds || n_bounds < 1 || n_bounds > METRICS_MAX_BUCKETS) {
            snprintf(err, errlen, "register %s: histograms need 1 to %d bucket bounds", shown,
                     METRICS_MAX_BUCKETS);
            return NULL;
        }
        for (size_t i = 0; i < n_bounds; i++) {
            if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
                snprintf(err, errlen,
                         "register %s: bucket bounds must be finite and strictly increasing",
                         shown);
                return NULL;
            }
        }
    }
    if (metrics_find(reg, name)) {
        snprintf(err, errlen, "register %s: already registered", shown);
        return NULL;
    }

    metrics_family *f = calloc(1, sizeof(*f));
    if (!f)
        goto oom;
    pthread_mutex_init(&f->mu, NULL);
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    if (!f->name || !f->help)
        goto oom;
    for (size_t i = 0; i < n_labels; i++) {
        f->labels[i] = strdup(label_names[i]);
        f->n_labels++;
        if (!f->labels[i])
            goto oom;
    }
    if (type == METRICS_HISTOGRAM) {
        memcpy(f->bounds, bounds, n_bounds * sizeof(bounds[0]));
        f->n_bounds = n_bounds;
    }
    /* An unlabelled family has exactly one series: create it now so it is
     * exposed (as 0) before its first update. */
    if (n_labels == 0 && !metrics_series_lookup(f, NULL, 1))
        goto oom;

    pthread_mutex_lock(&reg->mu);
    if (reg->tail)
        reg->tail->next = f;
    else
        reg->head = f;
    reg->tail = f;
    pthread_mutex_unlock(&reg->mu);
    return f;
oom:
    if (f)
        metrics_family_free(f);
    snprintf(err, errlen, "register %s: out of memory", shown);
    return NULL;
}

metrics_family *metrics_counter_new(metrics_registry *reg, const char *name, const char *help,
                                    const char *const *label_names, char *err, size_t errlen) {
    return metrics_family_new(reg, METRICS_COUNTER, name, help, label_names, NULL, 0, err,
                              errlen);
}

metrics_family *metrics_gauge_new(metrics_registry *reg, const char *name, const char *help,
                                  const char *const *label_names, char *err, size_t errlen) {
    return metrics_family_new(reg, METRICS_GAUGE, name, help, label_names, NULL, 0, err, errlen);
}

metrics_family *metrics_histogram_new(metrics_registry *reg, const char *name, const char *help,
                                      const char *const *label_names, const double *bounds,
                                      size_t n_bounds, char *err, size_t errlen) {
    return metrics_family_new(reg, METRICS_HISTOGRAM, name, help, label_names, bounds, n_bounds,
                              err, errlen);
}

/* Finds the series for `values` (caller holds f->mu), creating it when
 * `create` is set and there is room. NULL when absent, full or out of memory. */
static metrics_series *metrics_series_lookup(metrics_family *f, const char *const *values,
                                             int create) {
    for (size_t j = 0; j < f->n_labels; j++)
        if (!values || !values[j])
            return NULL;
    for (size_t i = 0; i < f->n_series; i++) {
        size_t j = 0;
        while (j < f->n_labels && strcmp(f->series[i].values[j], values[j]) == 0)
            j++;
        if (j == f->n_labels)
            return &f->series[i];
    }
    if (!create)
        return NULL;
    if (f->n_series == METRICS_MAX_SERIES) {
        /* Once per family: a label fed with unbounded values is a bug worth
         * seeing, but not on every update. */
        if (!f->overflow_logged)
            log_warn("metrics %s: more than %d label combinations, new ones are dropped",
                     f->name, METRICS_MAX_SERIES);
        f->overflow_logged = 1;
        return NULL;
    }
    if (f->n_series == f->cap_series) {
        size_t cap = f->cap_series ? f->cap_series * 2 : 4;
        metrics_series *grown = realloc(f->series, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        f->series = grown;
        f->cap_series = cap;
    }
    metrics_series *s = &f->series[f->n_series];
    memset(s, 0, sizeof(*s));
    if (f->type == METRICS_HISTOGRAM) {
        s->buckets = calloc(f->n_bounds + 1, sizeof(s->buckets[0]));
        if (!s->buckets)
            return NULL;
    }
    for (size_t j = 0; j < f->n_labels; j++) {
        s->values[j] = strdup(values[j]);
        if (!s->values[j]) {
            for (size_t k = 0; k < j; k++)
                free(s->values[k]);
            free(s->buckets);
            return NULL;
        }
    }
    f->n_series++;
    return s;
}

typedef enum metrics_op { METRICS_OP_ADD, METRICS_OP_SET, METRICS_OP_OBSERVE } metrics_op;

/* The single update path: checks that the operation fits the family type,
 * then applies it to the (possibly new) series under the family mutex. */
static int metrics_update(metrics_family *f, const char *const *values, metrics_op op, double v) {
    if (!f)
        return -1;
    int fits = (op == METRICS_OP_ADD && f->type != METRICS_HISTOGRAM) ||
               (op == METRICS_OP_SET && f->type == METRICS_GAUGE) ||
               (op == METRICS_OP_OBSERVE && f->type == METRICS_HISTOGRAM);
    if (!fits || (f->type == METRICS_COUNTER && !(v >= 0)))
        return -1;
    pthread_mutex_lock(&f->mu);
    metrics_series *s = metrics_series_lookup(f, values, 1);
    if (s) {
        if (op == METRICS_OP_ADD) {
            s->value += v;
        } else if (op == METRICS_OP_SET) {
            s->value = v;
        } else {
            size_t b = 0;
            while (b < f->n_bounds && !(v <= f->bounds[b]))
                b++;
            s->buckets[b]++;
            s->sum += v;
            s->count++;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return s ? 0 : -1;
}

int metrics_counter_add(metrics_family *f, const char *const *label_values, double amount) {
    return f && f->type == METRICS_COUNTER ? metrics_update(f, label_values, METRICS_OP_ADD, amount)
                                           : -1;
}

int metrics_gauge_set(metrics_family *f, const char *const *label_values, double value) {
    return metrics_update(f, label_values, METRICS_OP_SET, value);
}

int metrics_gauge_add(metrics_family *f, const char *const *label_values, double delta) {
    return f && f->type == METRICS_GAUGE ? metrics_update(f, label_values, METRICS_OP_ADD, delta)
                                         : -1;
}

int metrics_histogram_observe(metrics_family *f, const char *const *label_values, double value) {
    return metrics_update(f, label_values, METRICS_OP_OBSERVE, value);
}

/* Creates the series for `values` without updating it, so it is exposed
 * (as zeros) before its first observation. */
static void metrics_histogram_touch(metrics_family *f, const char *const *values) {
    pthread_mutex_lock(&f->mu);
    metrics_series_lookup(f, values, 1);
    pthread_mutex_unlock(&f->mu);
}

double metrics_value(metrics_family *f, const char *const *label_values) {
    double v = 0;
    pthread_mutex_lock(&f->mu);
    metrics_series *s = metrics_series_lookup(f, label_values, 0);
    if (s)
        v = f->type == METRICS_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&f->mu);
    return v;
}

/* ---- Rendering ---------------------------------------------------------- */

/* Shortest decimal text that reads back as the same double, laid out the
 * way Prometheus clients (Go's strconv 'g', -1) print values: plain
 * notation for decimal exponents from -4 to 20 ("10", "0.1",
 * "123456789012"), exponent notation outside ("1e-07"). */
static void metrics_format_double(double v, char out[40]) {
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(out, 40, "%.*e", digits - 1, v);
        if (strtod(out, NULL) == v)
            break;
    }
    snprintf(out, 40, "%.*e", digits - 1, v);
    int exponent = atoi(strchr(out, 'e') + 1);
    if (exponent < -4 || exponent >= 21) {
        /* Go drops the fraction's trailing zeros like %g does. */
        snprintf(out, 40, "%.*g", digits, v);
        return;
    }
    int decimals = digits - 1 - exponent;
    snprintf(out, 40, "%.*f", decimals > 0 ? decimals : 0, v);
}

/* Escapes `s` for a HELP line (backslash, newline) or, with `quote`, for a
 * label value (also double quotes). */
static void metrics_write_escaped(FILE *out, const char *s, int quote) {
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", out);
        else if (*s == '\n')
            fputs("\\n", out);
        else if (quote && *s == '"')
            fputs("\\\"", out);
        else
            fputc(*s, out);
    }
}

/* Writes "name{l1="v1",...,le="x"} " (braces omitted when there are no
 * labels). `le` is NULL except for histogram buckets. */
static void metrics_write_series_name(FILE *out, const metrics_family *f, const char *suffix,
                                      const metrics_series *s, const char *le) {
    fprintf(out, "%s%s", f->name, suffix);
    if (f->n_labels == 0 && !le) {
        fputc(' ', out);
        return;
    }
    fputc('{', out);
    for (size_t j = 0; j < f->n_labels; j++) {
        fprintf(out, "%s%s=\"", j ? "," : "", f->labels[j]);
        metrics_write_escaped(out, s->values[j], 1);
        fputc('"', out);
    }
    if (le)
        fprintf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    fputs("} ", out);
}

static void metrics_render_family(FILE *out, metrics_family *f) {
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    char num[40];
    fprintf(out, "# HELP %s ", f->name);
    metrics_write_escaped(out, f->help, 0);
    fprintf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    for (size_t i = 0; i < f->n_series; i++) {
        const metrics_series *s = &f->series[i];
        if (f->type != METRICS_HISTOGRAM) {
            metrics_write_series_name(out, f, "", s, NULL);
            metrics_format_double(s->value, num);
            fprintf(out, "%s\n", num);
            continue;
        }
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= f->n_bounds; b++) {
            cumulative += s->buckets[b];
            if (b < f->n_bounds)
                metrics_format_double(f->bounds[b], num);
            else
                strcpy(num, "+Inf");
            metrics_write_series_name(out, f, "_bucket", s, num);
            fprintf(out, "%llu\n", (unsigned long long)cumulative);
        }
        metrics_write_series_name(out, f, "_sum", s, NULL);
        metrics_format_double(s->sum, num);
        fprintf(out, "%s\n", num);
        metrics_write_series_name(out, f, "_count", s, NULL);
        fprintf(out, "%llu\n", (unsigned long long)s->count);
    }
}

char *metrics_render(metrics_registry *reg) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return NULL;
    pthread_mutex_lock(&reg->mu);
    for (metrics_family *f = reg->head; f; f = f->next) {
        pthread_mutex_lock(&f->mu);
        metrics_render_family(out, f);
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_unlock(&reg->mu);
    int failed = ferror(out);
    if (fclose(out) != 0 || failed) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- The default registry with the Leasehold families ---------------------- */

#define METRICS_HANDOFF_SLOTS 1024

typedef struct metrics_handoff_slot {
    char *name;        /* lease name whose acquire was refused; NULL = free */
    int64_t since_ms;  /* monotonic time of the first refusal */
} metrics_handoff_slot;

static struct {
    metrics_registry *reg;
    metrics_family *commands, *command_latency, *batch_size;
    metrics_family *leases_held, *acquire_latency, *renew_latency, *time_to_expiry;
    metrics_family *renewals, *renewal_failures, *acquire_contended, *leases_lost, *handoff;
    metrics_family *leader, *consumer_lag, *dead_letters, *sweeps, *expired, *stages;
    metrics_family *sweep_lists, *sweep_reads, *sweep_duration;
    metrics_family *products_blocked;
    metrics_family *state_bytes, *state_requests, *state_write_bytes;
    pthread_mutex_t handoff_mu;
    metrics_handoff_slot handoff_slots[METRICS_HANDOFF_SLOTS];
} metrics_lh = {.handoff_mu = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t metrics_lh_once = PTHREAD_ONCE_INIT;

/* Registration of the fixed families cannot fail except for lack of memory
 * at start-up, where there is nothing sensible to continue with. */
static metrics_family *metrics_must(metrics_family *f, const char *err) {
    if (!f) {
        fprintf(stderr, "metrics: %s\n", err);
        abort();
    }
    return f;
}

static void metrics_lh_init(void) {
    static const double latency[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10};
    static const double batch[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
    static const double expiry[] = {0, 1, 2, 5, 10, 15, 20, 30, 45, 60};
    static const double handoff[] = {0.1, 0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90};
    /* Finer and longer than `latency`: a latency study needs the sub-ms
     * steps and the multi-second tail (retry backoffs, lease handoffs). */
    static const double stage[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                   0.25,   0.5,   1,      2.5,   5,    10,   30};
    static const char *const stage_label[] = {"stage", NULL};
    /* Up to 4 MiB: a v1 state of 20,000 reservations is about 3 MB. */
    static const double write_bytes[] = {1024,   4096,    16384,   65536,  131072,
                                         262144, 524288, 1048576, 2097152, 4194304};
    static const double sweep[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
    static const char *const type_outcome[] = {"type", "outcome", NULL};
    static const char *const cause[] = {"cause", NULL};
    static const char *const reason_kind[] = {"reason_kind", NULL};
    static const char *const outcome[] = {"outcome", NULL};
    const size_t nlat = sizeof(latency) / sizeof(latency[0]);
    char err[256] = "";
    metrics_registry *r = metrics_registry_new();
    if (!r)
        metrics_must(NULL, "default registry: out of memory");
    metrics_lh.reg = r;

#define LH_COUNTER(field, name, labels, help)                                                      \
    metrics_lh.field = metrics_must(metrics_counter_new(r, name, help, labels, err, sizeof(err)), err)
#define LH_GAUGE(field, name, help)                                                                \
    metrics_lh.field = metrics_must(metrics_gauge_new(r, name, help, NULL, err, sizeof(err)), err)
#define LH_HISTOGRAM(field, name, bounds, n, help)                                                 \
    metrics_lh.field = metrics_must(                                                               \
        metrics_histogram_new(r, name, help, NULL, bounds, n, err, sizeof(err)), err)

    LH_COUNTER(commands, "leasehold_commands_total", type_outcome,
               "Commands finished, by command type and outcome.");
    LH_HISTOGRAM(command_latency, "leasehold_command_latency_seconds", latency, nlat,
                 "Time from receiving a command to its durable outcome.");
    LH_HISTOGRAM(batch_size, "leasehold_batch_size", batch, sizeof(batch) / sizeof(batch[0]),
                 "Commands applied in one fenced state write.");
    LH_GAUGE(leases_held, "leasehold_leases_held", "Leases currently held by this process.");
    LH_HISTOGRAM(acquire_latency, "leasehold_lease_acquire_latency_seconds", latency, nlat,
                 "Round trip of successful lease acquire requests.");
    LH_HISTOGRAM(renew_latency, "leasehold_lease_renew_latency_seconds", latency, nlat,
                 "Round trip of successful lease renew requests.");
    LH_HISTOGRAM(time_to_expiry, "leasehold_lease_time_to_expiry_at_renewal_seconds", expiry,
                 sizeof(expiry) / sizeof(expiry[0]),
                 "Time left before the previous expiry when a renewal succeeded.");
    LH_COUNTER(renewals, "leasehold_lease_renewals_total", NULL, "Successful lease renewals.");
    LH_COUNTER(renewal_failures, "leasehold_lease_renewal_failures_total", NULL,
               "Failed lease renewal attempts (retried or not).");
    LH_COUNTER(acquire_contended, "leasehold_lease_acquire_contended_total", NULL,
               "Acquire attempts refused because another holder had the lease.");
    LH_COUNTER(leases_lost, "leasehold_leases_lost_total", cause, "Leases lost, by cause.");
    LH_HISTOGRAM(handoff, "leasehold_lease_handoff_seconds", handoff,
                 sizeof(handoff) / sizeof(handoff[0]),
                 "Time from the first refused acquire of a lease to acquiring it.");
    LH_GAUGE(leader, "leasehold_leader", "1 while this process leads the reconciler, else 0.");
    LH_GAUGE(products_blocked, "leasehold_products_blocked",
             "Products whose state cannot be read or decoded; their commands wait (/api/blocked).");
    LH_GAUGE(consumer_lag, "leasehold_consumer_lag_messages",
             "Messages behind the log end, summed over assigned partitions.");
    LH_COUNTER(dead_letters, "leasehold_dead_letters_total", reason_kind,
               "Input messages sent to the dead-letter topic, by kind of reason.");
    LH_COUNTER(sweeps, "leasehold_reconciler_sweeps_total", outcome,
               "Reconciler expiry sweeps, by outcome (ok, aborted, error).");
    LH_COUNTER(expired, "leasehold_reservations_expired_total", NULL,
               "Expire commands published for reservations past their expiry.");
    LH_COUNTER(state_bytes, "leasehold_state_bytes_written_total", NULL,
               "Body bytes of product state write requests sent to storage.");
    LH_COUNTER(state_requests, "leasehold_state_write_requests_total", NULL,
               "Product state write requests (Put Blob, Put Block, Put Block List).");
    LH_HISTOGRAM(state_write_bytes, "leasehold_state_write_bytes", write_bytes,
                 sizeof(write_bytes) / sizeof(write_bytes[0]),
                 "Body bytes of one product state write request.");
    metrics_lh.stages = metrics_must(
        metrics_histogram_new(r, "leasehold_stage_seconds",
                              "Time spent per pipeline stage of a command (see docs/metrics.md).",
                              stage_label, stage, sizeof(stage) / sizeof(stage[0]), err,
                              sizeof(err)),
        err);
    LH_COUNTER(sweep_lists, "leasehold_reconciler_list_requests_total", NULL,
               "List Blobs pages requested by reconciler sweeps.");
    LH_COUNTER(sweep_reads, "leasehold_reconciler_state_reads_total", NULL,
               "Product state blobs read by reconciler sweeps (expiry due or unknown).");
    LH_HISTOGRAM(sweep_duration, "leasehold_reconciler_sweep_duration_seconds", sweep,
                 sizeof(sweep) / sizeof(sweep[0]),
                 "Wall time of one reconciler sweep, final delivery wait included.");
#undef LH_COUNTER
#undef LH_GAUGE
#undef LH_HISTOGRAM

    /* Expose every loss cause from the start so rate() works before the
     * first loss. */
    for (int reason = LEASE_LOST_TAKEN; reason <= LEASE_LOST_GONE; reason++) {
        const char *v[] = {lease_loss_reason_name((lease_loss_reason)reason)};
        metrics_counter_add(metrics_lh.leases_lost, v, 0);
    }
    /* Every stage from the start too, in pipeline order, so a scrape
     * before the first command already shows all seven series. */
    for (int st = 0; st < METRICS_STAGE_COUNT; st++) {
        const char *v[] = {metrics_stage_name((metrics_stage)st)};
        metrics_histogram_touch(metrics_lh.stages, v);
    }
}

metrics_registry *metrics_default(void) {
    pthread_once(&metrics_lh_once, metrics_lh_init);
    return metrics_lh.reg;
}

void metrics_record_command(const char *type, const char *outcome, double latency_s) {
    const char *v[] = {type, outcome};
    metrics_default();
    metrics_counter_add(metrics_lh.commands, v, 1);
    metrics_histogram_observe(metrics_lh.command_latency, NULL, latency_s);
}

void metrics_record_state_write(size_t bytes) {
    metrics_default();
    metrics_counter_add(metrics_lh.state_bytes, NULL, (double)bytes);
    metrics_counter_add(metrics_lh.state_requests, NULL, 1);
    metrics_histogram_observe(metrics_lh.state_write_bytes, NULL, (double)bytes);
}

void metrics_record_batch(size_t commands) {
    metrics_default();
    metrics_histogram_observe(metrics_lh.batch_size, NULL, (double)commands);
}

void metrics_record_leader(int is_leader) {
    metrics_default();
    metrics_gauge_set(metrics_lh.leader, NULL, is_leader ? 1 : 0);
}

void metrics_record_consumer_lag(int64_t messages) {
    metrics_default();
    metrics_gauge_set(metrics_lh.consumer_lag, NULL, (double)messages);
}

void metrics_record_products_blocked(size_t n) {
    metrics_default();
    metrics_gauge_set(metrics_lh.products_blocked, NULL, (double)n);
}

void metrics_record_dead_letter(const char *reason_kind) {
    const char *v[] = {reason_kind};
    metrics_default();
    metrics_counter_add(metrics_lh.dead_letters, v, 1);
}

void metrics_record_sweep(const char *outcome) {
    const char *v[] = {outcome};
    metrics_default();
    metrics_counter_add(metrics_lh.sweeps, v, 1);
}

void metrics_record_expired(uint64_t n) {
    metrics_default();
    metrics_counter_add(metrics_lh.expired, NULL, (double)n);
}

void metrics_record_sweep_cost(size_t list_requests, size_t state_reads, double seconds) {
    metrics_default();
    metrics_counter_add(metrics_lh.sweep_lists, NULL, (double)list_requests);
    metrics_counter_add(metrics_lh.sweep_reads, NULL, (double)state_reads);
    metrics_histogram_observe(metrics_lh.sweep_duration, NULL, seconds);
}

void metrics_record_leases_held(size_t n) {
    metrics_default();
    metrics_gauge_set(metrics_lh.leases_held, NULL, (double)n);
}

const char *metrics_stage_name(metrics_stage stage) {
    static const char *const names[METRICS_STAGE_COUNT] = {
        "consume_delay", "queue_wait",   "lease_acquire", "state_read",
        "apply",         "fenced_write", "publish_ack"};
    /* Through unsigned: the enum's type is the compiler's choice. */
    return (unsigned)stage < METRICS_STAGE_COUNT ? names[(unsigned)stage] : NULL;
}

void metrics_record_stage(metrics_stage stage, double seconds) {
    const char *v[] = {metrics_stage_name(stage)};
    if (!v[0])
        return;
    metrics_default();
    metrics_histogram_observe(metrics_lh.stages, v, seconds > 0 ? seconds : 0);
}

static int64_t metrics_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Handoff bookkeeping. `refused`: remember the first refusal of `name`
 * (evicting the oldest entry when the table is full). Otherwise forget
 * `name` and return how long ago it was first refused, or -1 if it was not. */
static int64_t metrics_handoff_track(const char *name, int refused) {
    int64_t now = metrics_monotonic_ms(), waited = -1;
    metrics_handoff_slot *slots = metrics_lh.handoff_slots, *free_slot = NULL, *oldest = NULL;
    pthread_mutex_lock(&metrics_lh.handoff_mu);
    for (size_t i = 0; i < METRICS_HANDOFF_SLOTS; i++) {
        metrics_handoff_slot *s = &slots[i];
        if (!s->name) {
            if (!free_slot)
                free_slot = s;
            continue;
        }
        if (strcmp(s->name, name) == 0) {
            if (!refused) {
                waited = now - s->since_ms;
                free(s->name);
                s->name = NULL;
            }
            pthread_mutex_unlock(&metrics_lh.handoff_mu);
            return waited;
        }
        if (!oldest || s->since_ms < oldest->since_ms)
            oldest = s;
    }
    if (refused) {
        metrics_handoff_slot *s = free_slot ? free_slot : oldest;
        char *copy = strdup(name);
        if (copy) {
            free(s->name);
            s->name = copy;
            s->since_ms = now;
        }
    }
    pthread_mutex_unlock(&metrics_lh.handoff_mu);
    return waited;
}

void metrics_lease_event(const struct lease_event *ev, void *opaque) {
    (void)opaque;
    metrics_default();
    switch (ev->kind) {
    case LEASE_EV_ACQUIRED: {
        metrics_histogram_observe(metrics_lh.acquire_latency, NULL, ev->latency_ms / 1000.0);
        metrics_gauge_add(metrics_lh.leases_held, NULL, 1);
        int64_t waited = ev->name ? metrics_handoff_track(ev->name, 0) : -1;
        if (waited >= 0)
            metrics_histogram_observe(metrics_lh.handoff, NULL, (double)waited / 1000.0);
        break;
    }
    case LEASE_EV_ACQUIRE_CONTENDED:
        metrics_counter_add(metrics_lh.acquire_contended, NULL, 1);
        if (ev->name)
            metrics_handoff_track(ev->name, 1);
        break;
    case LEASE_EV_RENEWED:
        metrics_histogram_observe(metrics_lh.renew_latency, NULL, ev->latency_ms / 1000.0);
        metrics_histogram_observe(metrics_lh.time_to_expiry, NULL, (double)ev->remaining_ms / 1000.0);
        metrics_counter_add(metrics_lh.renewals, NULL, 1);
        break;
    case LEASE_EV_RENEW_FAILED:
        metrics_counter_add(metrics_lh.renewal_failures, NULL, 1);
        break;
    case LEASE_EV_RELEASED:
        metrics_gauge_add(metrics_lh.leases_held, NULL, -1);
        break;
    case LEASE_EV_LOST: {
        const char *v[] = {lease_loss_reason_name(ev->reason)};
        metrics_counter_add(metrics_lh.leases_lost, v, 1);
        metrics_gauge_add(metrics_lh.leases_held, NULL, -1);
        break;
    }
    }
}
