/* test_metrics.c -- unit tests for the metrics registry (common/metrics.c):
 * exact Prometheus text, label handling and escaping, histogram buckets,
 * the series bound, thread safety and the lease event adapter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leasehold/lease.h"
#include "metrics.h"

static int setup_registry(void **state) {
    *state = metrics_registry_new();
    return *state ? 0 : -1;
}

static int teardown_registry(void **state) {
    metrics_registry_free(*state);
    return 0;
}

static void assert_render(metrics_registry *reg, const char *expected) {
    char *text = metrics_render(reg);
    assert_non_null(text);
    assert_string_equal(text, expected);
    free(text);
}

static void test_metrics_render_counter_with_labels(void **state) {
    metrics_registry *reg = *state;
    char err[256];
    const char *labels[] = {"type", "outcome", NULL};
    metrics_family *f =
        metrics_counter_new(reg, "lh_commands_total", "Commands.", labels, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(metrics_counter_add(f, (const char *[]){"reserve", "created"}, 1), 0);
    assert_int_equal(metrics_counter_add(f, (const char *[]){"release", "rejected"}, 2), 0);
    assert_int_equal(metrics_counter_add(f, (const char *[]){"reserve", "created"}, 3), 0);
    assert_render(reg, "# HELP lh_commands_total Commands.\n"
                       "# TYPE lh_commands_total counter\n"
                       "lh_commands_total{type=\"reserve\",outcome=\"created\"} 4\n"
                       "lh_commands_total{type=\"release\",outcome=\"rejected\"} 2\n");
    assert_true(metrics_value(f, (const char *[]){"reserve", "created"}) == 4);
    assert_true(metrics_value(f, (const char *[]){"reserve", "rejected"}) == 0);
}

static void test_metrics_render_unlabelled_exposed_before_update(void **state) {
    metrics_registry *reg = *state;
    char err[256];
    assert_non_null(metrics_gauge_new(reg, "lh_leader", "Leader.", NULL, err, sizeof(err)));
    assert_non_null(metrics_counter_new(reg, "lh_sweeps_total", "Sweeps.", NULL, err, sizeof(err)));
    const char *labels[] = {"cause", NULL};
    assert_non_null(metrics_counter_new(reg, "lh_lost_total", "Lost.", labels, err, sizeof(err)));
    assert_render(reg, "# HELP lh_leader Leader.\n"
                       "# TYPE lh_leader gauge\n"
                       "lh_leader 0\n"
                       "# HELP lh_sweeps_total Sweeps.\n"
                       "# TYPE lh_sweeps_total counter\n"
                       "lh_sweeps_total 0\n"
                       "# HELP lh_lost_total Lost.\n"
                       "# TYPE lh_lost_total counter\n");
}

static void test_metrics_render_histogram_exact(void **state) {
    metrics_registry *reg = *state;
    char err[256];
    const double bounds[] = {0.005, 0.1, 1, 2.5};
    metrics_family *h =
        metrics_histogram_new(reg, "lh_latency_seconds", "Latency.", NULL, bounds, 4, err,
                              sizeof(err));
    assert_non_null(h);
    /* A value equal to a bound belongs to that bucket (le = less or equal). */
    const double values[] = {0.005, 0.05, 0.1, 0.75, 3, 100};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        assert_int_equal(metrics_histogram_observe(h, NULL, values[i]), 0);
    assert_render(reg, "# HELP lh_latency_seconds Latency.\n"
                       "# TYPE lh_latency_seconds histogram\n"
                       "lh_latency_seconds_bucket{le=\"0.005\"} 1\n"
                       "lh_latency_seconds_bucket{le=\"0.1\"} 3\n"
                       "lh_latency_seconds_bucket{le=\"1\"} 4\n"
                       "lh_latency_seconds_bucket{le=\"2.5\"} 4\n"
                       "lh_latency_seconds_bucket{le=\"+Inf\"} 6\n"
                       "lh_latency_seconds_sum 103.905\n"
                       "lh_latency_seconds_count 6\n");
    assert_true(metrics_value(h, NULL) == 6);
}

static void test_metrics_render_histogram_with_labels(void **state) {
    metrics_registry *reg = *state;
    char err[256];
    const double bounds[] = {1, 2};
    const char *labels[] = {"op", NULL};
    metrics_family *h =
        metrics_histogram_new(reg, "lh_h", "H.", labels, bounds, 2, err, sizeof(err));
    assert_non_null(h);
    assert_int_equal(metrics_histogram_observe(h, (const char *[]){"get"}, 1.5), 0);
    assert_render(reg, "# HELP lh_h H.\n"
                       "# TYPE lh_h histogram\n"
                       "lh_h_bucket{op=\"get\",le=\"1\"} 0\n"
                       "lh_h_bucket{op=\"get\",le=\"2\"} 1\n"
                       "lh_h_bucket{op=\"get\",le=\"+Inf\"} 1\n"
                       "lh_h_sum{op=\"get\"} 1.5\n"
                       "lh_h_count{op=\"get\"} 1\n");
}

static void test_metrics_render_escapes_help_and_label_values(void **state) {
    metrics_registry *reg = *state;
    char err[256];
    const char *labels[] = {"reason_kind", NULL};
    metrics_family *f = metrics_counter_new(reg, "lh_dl_total", "Back\\slash and\nnewline \"q\".",
                                            labels, err, sizeof(err));
    assert_non_null(f);
    assert_int_equal(metrics_counter_add(f, (const char *[]){"a\"b\\c\nd"}, 1), 0);
    assert_render(reg, "# HELP lh_dl_total Back\\\\slash and\\nnewline \"q\".\n"
                       "# TYPE lh_dl_total counter\n"
                       "lh_dl_total{reason_kind=\"a\\\"b\\\\c\\nd\"} 1\n");
}

static void test_metrics_render_gauge_float_values(void **state) {
    metrics_registry *reg = *state;
    char err[256];
    const char *labels[] = {"k", NULL};
    metrics_family *g = metrics_gauge_new(reg, "lh_g", "G.", labels, err, sizeof(err));
    assert_non_null(g);
    metrics_gauge_set(g, (const char *[]){"tenth"}, 0.1);
    metrics_gauge_set(g, (const char *[]){"big"}, 123456789012.0);
    metrics_gauge_set(g, (const char *[]){"neg"}, -2.5);
    metrics_gauge_set(g, (const char *[]){"inf"}, INFINITY);
    metrics_gauge_set(g, (const char *[]){"ninf"}, -INFINITY);
    metrics_gauge_set(g, (const char *[]){"nan"}, NAN);
    metrics_gauge_set(g, (const char *[]){"tiny"}, 1e-7);
    metrics_gauge_set(g, (const char *[]){"ten"}, 10);
    metrics_gauge_set(g, (const char *[]){"small"}, 0.0001);
    metrics_gauge_set(g, (const char *[]){"huge"}, 1e21);
    assert_int_equal(metrics_gauge_add(g, (const char *[]){"neg"}, 1), 0);
    assert_render(reg, "# HELP lh_g G.\n"
                       "# TYPE lh_g gauge\n"
                       "lh_g{k=\"tenth\"} 0.1\n"
                       "lh_g{k=\"big\"} 123456789012\n"
                       "lh_g{k=\"neg\"} -1.5\n"
                       "lh_g{k=\"inf\"} +Inf\n"
                       "lh_g{k=\"ninf\"} -Inf\n"
                       "lh_g{k=\"nan\"} NaN\n"
                       "lh_g{k=\"tiny\"} 1e-07\n"
                       "lh_g{k=\"ten\"} 10\n"
                       "lh_g{k=\"small\"} 0.0001\n"
                       "lh_g{k=\"huge\"} 1e+21\n");
}

static void test_metrics_register_rejects_bad_definitions(void **state) {
    metrics_registry *reg = *state;
    char err[256];
    const double bounds[] = {1, 1};
    const char *bad_label[] = {"9x", NULL};
    const char *reserved[] = {"__x", NULL};
    const char *le[] = {"le", NULL};
    const char *five[] = {"a", "b", "c", "d", "e", NULL};

    assert_null(metrics_counter_new(reg, "1abc", "x", NULL, err, sizeof(err)));
    assert_string_equal(err, "register 1abc: invalid metric name");
    assert_null(metrics_counter_new(reg, "ok_total", "x", bad_label, err, sizeof(err)));
    assert_string_equal(err, "register ok_total: invalid label name '9x'");
    assert_null(metrics_counter_new(reg, "ok_total", "x", reserved, err, sizeof(err)));
    assert_string_equal(err, "register ok_total: invalid label name '__x'");
    assert_null(metrics_counter_new(reg, "ok_total", "x", five, err, sizeof(err)));
    assert_string_equal(err, "register ok_total: more than 4 labels");
    assert_null(metrics_histogram_new(reg, "h", "x", le, (const double[]){1}, 1, err, sizeof(err)));
    assert_string_equal(err, "register h: invalid label name 'le'");
    assert_null(metrics_histogram_new(reg, "h", "x", NULL, bounds, 2, err, sizeof(err)));
    assert_string_equal(err, "register h: bucket bounds must be finite and strictly increasing");
    assert_null(metrics_histogram_new(reg, "h", "x", NULL, bounds, 0, err, sizeof(err)));
    assert_string_equal(err, "register h: histograms need 1 to 32 bucket bounds");

    assert_non_null(metrics_counter_new(reg, "ok_total", "x", NULL, err, sizeof(err)));
    assert_null(metrics_gauge_new(reg, "ok_total", "x", NULL, err, sizeof(err)));
    assert_string_equal(err, "register ok_total: already registered");
    assert_non_null(metrics_find(reg, "ok_total"));
    assert_null(metrics_find(reg, "missing"));
}

static void test_metrics_update_rejects_misuse(void **state) {
    metrics_registry *reg = *state;
    char err[256];
    const char *labels[] = {"a", "b", NULL};
    metrics_family *c = metrics_counter_new(reg, "c_total", "C.", labels, err, sizeof(err));
    metrics_family *g = metrics_gauge_new(reg, "g", "G.", NULL, err, sizeof(err));
    metrics_family *h =
        metrics_histogram_new(reg, "h", "H.", NULL, (const double[]){1}, 1, err, sizeof(err));
    assert_non_null(c);
    assert_non_null(g);
    assert_non_null(h);

    assert_int_equal(metrics_counter_add(c, (const char *[]){"x", "y"}, -1), -1);
    assert_int_equal(metrics_counter_add(c, (const char *[]){"x", "y"}, NAN), -1);
    assert_int_equal(metrics_counter_add(c, (const char *[]){"x", NULL}, 1), -1);
    assert_int_equal(metrics_counter_add(c, NULL, 1), -1);
    assert_int_equal(metrics_gauge_set(c, (const char *[]){"x", "y"}, 1), -1);
    assert_int_equal(metrics_histogram_observe(g, NULL, 1), -1);
    assert_int_equal(metrics_counter_add(g, NULL, 1), -1);
    assert_int_equal(metrics_gauge_add(h, NULL, 1), -1);
    assert_int_equal(metrics_counter_add(NULL, NULL, 1), -1);
    /* Nothing above created a series. */
    assert_render(reg, "# HELP c_total C.\n# TYPE c_total counter\n"
                       "# HELP g G.\n# TYPE g gauge\ng 0\n"
                       "# HELP h H.\n# TYPE h histogram\n"
                       "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

static void test_metrics_series_bounded(void **state) {
    metrics_registry *reg = *state;
    char err[256];
    const char *labels[] = {"product", NULL};
    metrics_family *c = metrics_counter_new(reg, "per_product_total", "P.", labels, err, sizeof(err));
    assert_non_null(c);
    char value[32];
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(value, sizeof(value), "P-%d", i);
        assert_int_equal(metrics_counter_add(c, (const char *[]){value}, 1), 0);
    }
    assert_int_equal(metrics_counter_add(c, (const char *[]){"one-too-many"}, 1), -1);
    /* Existing series still update. */
    assert_int_equal(metrics_counter_add(c, (const char *[]){"P-0"}, 1), 0);
    assert_true(metrics_value(c, (const char *[]){"P-0"}) == 2);
    assert_true(metrics_value(c, (const char *[]){"one-too-many"}) == 0);
}

typedef struct thread_arg {
    metrics_family *counter, *histogram;
    const char *label;
} thread_arg;

static void *hammer(void *p) {
    thread_arg *a = p;
    for (int i = 0; i < 20000; i++) {
        metrics_counter_add(a->counter, (const char *[]){a->label}, 1);
        metrics_histogram_observe(a->histogram, NULL, 0.5);
    }
    return NULL;
}

static void test_metrics_counter_add_thread_safe(void **state) {
    metrics_registry *reg = *state;
    char err[256];
    const char *labels[] = {"t", NULL};
    metrics_family *c = metrics_counter_new(reg, "n_total", "N.", labels, err, sizeof(err));
    metrics_family *h =
        metrics_histogram_new(reg, "n_h", "H.", NULL, (const double[]){1}, 1, err, sizeof(err));
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){c, h, i % 2 ? "odd" : "even"};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(metrics_value(c, (const char *[]){"odd"}) == 40000);
    assert_true(metrics_value(c, (const char *[]){"even"}) == 40000);
    assert_true(metrics_value(h, NULL) == 80000);
}

/* The default registry: the Leasehold families and the lease adapter. */
static double lh_value(const char *name, const char *const *labels) {
    metrics_family *f = metrics_find(metrics_default(), name);
    assert_non_null(f);
    return metrics_value(f, labels);
}

static void test_metrics_lease_event_records_lease_metrics(void **state) {
    (void)state;
    lease_event ev = {.kind = LEASE_EV_ACQUIRE_CONTENDED, .name = "lease-p1", .latency_ms = 3};
    metrics_lease_event(&ev, NULL);
    ev = (lease_event){.kind = LEASE_EV_ACQUIRED, .name = "lease-p1", .latency_ms = 4};
    metrics_lease_event(&ev, NULL);
    ev = (lease_event){.kind = LEASE_EV_ACQUIRED, .name = "lease-p2", .latency_ms = 2};
    metrics_lease_event(&ev, NULL);
    ev = (lease_event){.kind = LEASE_EV_RENEWED, .name = "lease-p1", .latency_ms = 5,
                       .remaining_ms = 10000};
    metrics_lease_event(&ev, NULL);
    ev = (lease_event){.kind = LEASE_EV_RENEW_FAILED, .name = "lease-p2", .latency_ms = 1};
    metrics_lease_event(&ev, NULL);
    ev = (lease_event){.kind = LEASE_EV_LOST, .name = "lease-p2", .reason = LEASE_LOST_BROKEN};
    metrics_lease_event(&ev, NULL);
    ev = (lease_event){.kind = LEASE_EV_RELEASED, .name = "lease-p1"};
    metrics_lease_event(&ev, NULL);

    assert_true(lh_value("leasehold_lease_acquire_latency_seconds", NULL) == 2);
    assert_true(lh_value("leasehold_lease_acquire_contended_total", NULL) == 1);
    assert_true(lh_value("leasehold_lease_handoff_seconds", NULL) == 1);
    assert_true(lh_value("leasehold_lease_renew_latency_seconds", NULL) == 1);
    assert_true(lh_value("leasehold_lease_time_to_expiry_at_renewal_seconds", NULL) == 1);
    assert_true(lh_value("leasehold_lease_renewals_total", NULL) == 1);
    assert_true(lh_value("leasehold_lease_renewal_failures_total", NULL) == 1);
    assert_true(lh_value("leasehold_leases_lost_total", (const char *[]){"broken"}) == 1);
    assert_true(lh_value("leasehold_leases_lost_total", (const char *[]){"taken"}) == 0);
    assert_true(lh_value("leasehold_leases_held", NULL) == 0);

    /* Every loss cause is exposed from the start, and the 10 s left at renewal
     * landed in the le="10" bucket. */
    char *text = metrics_render(metrics_default());
    assert_non_null(text);
    assert_non_null(strstr(text, "leasehold_leases_lost_total{cause=\"taken\"} 0\n"
                                 "leasehold_leases_lost_total{cause=\"broken\"} 1\n"
                                 "leasehold_leases_lost_total{cause=\"deadline\"} 0\n"
                                 "leasehold_leases_lost_total{cause=\"gone\"} 0\n"));
    assert_non_null(
        strstr(text, "leasehold_lease_time_to_expiry_at_renewal_seconds_bucket{le=\"5\"} 0\n"
                     "leasehold_lease_time_to_expiry_at_renewal_seconds_bucket{le=\"10\"} 1\n"));
    free(text);
}

static void test_metrics_record_helpers_update_default_registry(void **state) {
    (void)state;
    metrics_record_command("reserve", "created", 0.02);
    metrics_record_command("reserve", "created", 0.03);
    metrics_record_command("release", "rejected", 0.01);
    metrics_record_batch(3);
    metrics_record_leader(1);
    metrics_record_consumer_lag(42);
    metrics_record_dead_letter("invalid_json");
    metrics_record_sweep("ok");
    metrics_record_expired(5);
    metrics_record_sweep_cost(2, 100, 1.5);
    metrics_record_sweep_cost(1, 3, 0.2);
    metrics_record_leases_held(7);
    metrics_record_products_blocked(2);
    metrics_record_state_write(1000);
    metrics_record_state_write(70000);

    assert_true(lh_value("leasehold_commands_total", (const char *[]){"reserve", "created"}) == 2);
    assert_true(lh_value("leasehold_commands_total", (const char *[]){"release", "rejected"}) == 1);
    assert_true(lh_value("leasehold_command_latency_seconds", NULL) == 3);
    assert_true(lh_value("leasehold_batch_size", NULL) == 1);
    assert_true(lh_value("leasehold_leader", NULL) == 1);
    assert_true(lh_value("leasehold_consumer_lag_messages", NULL) == 42);
    assert_true(lh_value("leasehold_dead_letters_total", (const char *[]){"invalid_json"}) == 1);
    assert_true(lh_value("leasehold_reconciler_sweeps_total", (const char *[]){"ok"}) == 1);
    assert_true(lh_value("leasehold_reservations_expired_total", NULL) == 5);
    assert_true(lh_value("leasehold_leases_held", NULL) == 7);
    assert_true(lh_value("leasehold_products_blocked", NULL) == 2);
    assert_true(lh_value("leasehold_reconciler_list_requests_total", NULL) == 3);
    assert_true(lh_value("leasehold_reconciler_state_reads_total", NULL) == 103);
    assert_true(lh_value("leasehold_reconciler_sweep_duration_seconds", NULL) == 2);
    assert_true(lh_value("leasehold_state_bytes_written_total", NULL) == 71000);
    assert_true(lh_value("leasehold_state_write_requests_total", NULL) == 2);
    assert_true(lh_value("leasehold_state_write_bytes", NULL) == 2);

    char *text = metrics_render(metrics_default());
    assert_non_null(text);
    assert_non_null(strstr(text, "leasehold_reconciler_sweep_duration_seconds_bucket{le=\"0.1\"} 0\n"
                                 "leasehold_reconciler_sweep_duration_seconds_bucket{le=\"0.25\"} 1\n"
                                 "leasehold_reconciler_sweep_duration_seconds_bucket{le=\"0.5\"} 1\n"
                                 "leasehold_reconciler_sweep_duration_seconds_bucket{le=\"1\"} 1\n"
                                 "leasehold_reconciler_sweep_duration_seconds_bucket{le=\"2.5\"} 2\n"));
    assert_non_null(strstr(text, "leasehold_reconciler_sweep_duration_seconds_sum 1.7\n"));
    assert_non_null(strstr(text, "leasehold_state_write_bytes_bucket{le=\"1024\"} 1\n"
                                 "leasehold_state_write_bytes_bucket{le=\"4096\"} 1\n"
                                 "leasehold_state_write_bytes_bucket{le=\"16384\"} 1\n"
                                 "leasehold_state_write_bytes_bucket{le=\"65536\"} 1\n"
                                 "leasehold_state_write_bytes_bucket{le=\"131072\"} 2\n"));
    assert_non_null(strstr(text, "leasehold_state_write_bytes_bucket{le=\"4194304\"} 2\n"
                                 "leasehold_state_write_bytes_bucket{le=\"+Inf\"} 2\n"
                                 "leasehold_state_write_bytes_sum 71000\n"));
    assert_non_null(strstr(text, "# HELP leasehold_batch_size Commands applied in one fenced "
                                 "state write.\n# TYPE leasehold_batch_size histogram\n"
                                 "leasehold_batch_size_bucket{le=\"1\"} 0\n"
                                 "leasehold_batch_size_bucket{le=\"2\"} 0\n"
                                 "leasehold_batch_size_bucket{le=\"4\"} 1\n"));
    free(text);
}

/* The stage family, exactly: HELP/TYPE, all seven series in pipeline order
 * from the start (zeros), and the observed values of one stage in their
 * buckets. A value on a bound belongs to it; a negative one (clock skew in
 * consume_delay) counts as 0; 31 s lands in +Inf only. */
static void stage_zero_series(char *out, size_t len, const char *stage) {
    static const char *const les[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                      "0.05",   "0.1",   "0.25",   "0.5",   "1",    "2.5",
                                      "5",      "10",    "30",     "+Inf"};
    size_t used = strlen(out);
    for (size_t i = 0; i < sizeof(les) / sizeof(les[0]); i++)
        used += (size_t)snprintf(out + used, len - used,
                                 "leasehold_stage_seconds_bucket{stage=\"%s\",le=\"%s\"} 0\n",
                                 stage, les[i]);
    snprintf(out + used, len - used,
             "leasehold_stage_seconds_sum{stage=\"%s\"} 0\n"
             "leasehold_stage_seconds_count{stage=\"%s\"} 0\n",
             stage, stage);
}

static void test_metrics_record_stage_exposition_exact(void **state) {
    (void)state;
    metrics_record_stage(METRICS_STAGE_FENCED_WRITE, 0.0005);
    metrics_record_stage(METRICS_STAGE_FENCED_WRITE, 0.004);
    metrics_record_stage(METRICS_STAGE_FENCED_WRITE, 31);
    metrics_record_stage(METRICS_STAGE_FENCED_WRITE, -0.002);
    metrics_record_stage(METRICS_STAGE_COUNT, 1);      /* ignored */
    metrics_record_stage((metrics_stage)-1, 1);        /* ignored */
    assert_null(metrics_stage_name(METRICS_STAGE_COUNT));
    assert_string_equal(metrics_stage_name(METRICS_STAGE_PUBLISH_ACK), "publish_ack");

    static char expected[16384];
    snprintf(expected, sizeof(expected),
             "# HELP leasehold_stage_seconds Time spent per pipeline stage of a command (see "
             "docs/metrics.md).\n"
             "# TYPE leasehold_stage_seconds histogram\n");
    const char *const order[] = {"consume_delay", "queue_wait", "lease_acquire", "state_read",
                                 "apply"};
    for (size_t i = 0; i < 5; i++)
        stage_zero_series(expected, sizeof(expected), order[i]);
    strcat(expected, "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"0.0005\"} 2\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"0.001\"} 2\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"0.0025\"} 2\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"0.005\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"0.01\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"0.025\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"0.05\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"0.1\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"0.25\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"0.5\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"1\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"2.5\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"5\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"10\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"30\"} 3\n"
                     "leasehold_stage_seconds_bucket{stage=\"fenced_write\",le=\"+Inf\"} 4\n"
                     "leasehold_stage_seconds_sum{stage=\"fenced_write\"} 31.0045\n"
                     "leasehold_stage_seconds_count{stage=\"fenced_write\"} 4\n");
    stage_zero_series(expected, sizeof(expected), "publish_ack");

    /* The family's text runs to the next family's HELP line (or the end). */
    char *text = metrics_render(metrics_default());
    assert_non_null(text);
    char *family = strstr(text, "# HELP leasehold_stage_seconds ");
    assert_non_null(family);
    char *next = strstr(family + 1, "\n# HELP ");
    if (next)
        next[1] = '\0';
    assert_string_equal(family, expected);
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_render_counter_with_labels, setup_registry,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(test_metrics_render_unlabelled_exposed_before_update,
                                        setup_registry, teardown_registry),
        cmocka_unit_test_setup_teardown(test_metrics_render_histogram_exact, setup_registry,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(test_metrics_render_histogram_with_labels, setup_registry,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(test_metrics_render_escapes_help_and_label_values,
                                        setup_registry, teardown_registry),
        cmocka_unit_test_setup_teardown(test_metrics_render_gauge_float_values, setup_registry,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(test_metrics_register_rejects_bad_definitions,
                                        setup_registry, teardown_registry),
        cmocka_unit_test_setup_teardown(test_metrics_update_rejects_misuse, setup_registry,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(test_metrics_series_bounded, setup_registry,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(test_metrics_counter_add_thread_safe, setup_registry,
                                        teardown_registry),
        cmocka_unit_test(test_metrics_lease_event_records_lease_metrics),
        cmocka_unit_test(test_metrics_record_helpers_update_default_registry),
        cmocka_unit_test(test_metrics_record_stage_exposition_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
