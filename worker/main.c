/* main.c -- inventory-worker: configuration, clients, signals, and the
 * wiring of the worker with ops' admin HTTP endpoint and reconciler.
 *
 * Exit codes: 0 after a clean shutdown, 1 on a configuration or start-up
 * error (the message names the key or the failing service), 2 when the
 * shutdown drain timed out (nothing is lost: unfinished commands are
 * consumed again by the next owner).
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "admin_http.h"
#include "config.h"
#include "leasehold/blob.h"
#include "leasehold/lease.h"
#include "log.h"
#include "metrics.h"
#include "reconciler.h"
#include "storage_config.h"
#include "worker.h"
#include "worker_config.h"

/* The kernel delivers SIGTERM to any thread that does not block it (often
 * a librdkafka or renewal thread), so the flag the main loop reads is a
 * lock-free atomic: C11 allows those in signal handlers, and unlike a
 * volatile sig_atomic_t they are well-defined across threads. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the stop flag must be lock-free for the signal handler");
static atomic_int main_stop;

static void main_on_signal(int sig) {
    (void)sig;
    atomic_store(&main_stop, 1);
}

static void main_lease_log(int level, const char *line, void *opaque) {
    (void)opaque;
    log_level lv = level <= LOG_ERR       ? LOG_LVL_ERROR
                   : level == LOG_WARNING ? LOG_LVL_WARN
                   : level == LOG_DEBUG   ? LOG_LVL_DEBUG
                                          : LOG_LVL_INFO;
    log_write(lv, "%s", line);
}

/* ---- admin HTTP callbacks ---------------------------------------------- */

static int main_alive(void *opaque) {
    return worker_alive(opaque);
}

static int main_ready(char *reason, size_t cap, void *opaque) {
    return worker_ready(opaque, reason, cap);
}

static char *main_leases_json(void *opaque) {
    return worker_leases_json(opaque);
}

static char *main_assignment_json(void *opaque) {
    return worker_assignment_json(opaque);
}

static char *main_blocked_json(void *opaque) {
    return worker_blocked_json(opaque);
}

static int main_blocked_action(const char *product_id, admin_http_blocked_action action,
                               void *opaque) {
    return worker_blocked_action(opaque, product_id, action == ADMIN_HTTP_BLOCKED_DEAD_LETTER);
}

static void main_collect(void *opaque) {
    worker_collect_metrics(opaque);
}

typedef struct main_services {
    blob_client *blob;
    lease_manager *leases;
    worker *worker;
    admin_http *admin;
    reconciler *reconciler;
} main_services;

static int main_start_admin(main_services *s, const config *cfg, char *err, size_t errlen) {
    const char *listen = config_string(cfg, "admin.listen");
    if (listen == NULL)
        return 0;
    admin_http_options opts;
    admin_http_options_init(&opts);
    opts.listen = listen;
    opts.blob = s->blob;
    opts.inventory_container = config_string(cfg, "storage.container");
    opts.callbacks.alive = main_alive;
    opts.callbacks.ready = main_ready;
    opts.callbacks.leases_json = main_leases_json;
    opts.callbacks.assignment_json = main_assignment_json;
    opts.callbacks.blocked_json = main_blocked_json;
    opts.callbacks.blocked_action = main_blocked_action;
    opts.callbacks.collect = main_collect;
    opts.callbacks.opaque = s->worker;
    if (admin_http_start(&opts, &s->admin, err, errlen) != ADMIN_HTTP_OK)
        return -1;
    log_info("Admin HTTP on %s (port %d)", listen, admin_http_port(s->admin));
    return 0;
}

static int main_start_reconciler(main_services *s, const config *cfg, const char *id, char *err,
                                 size_t errlen) {
    if (!config_bool(cfg, "reconciler.enabled"))
        return 0;
    reconciler_config rc;
    memset(&rc, 0, sizeof(rc));
    rc.blob = s->blob;
    rc.leases = s->leases;
    rc.brokers = config_string(cfg, "kafka.brokers");
    rc.topic = config_string(cfg, "topic.admin");
    rc.container = config_string(cfg, "storage.container");
    rc.lock_name = config_string(cfg, "reconciler.lease_name");
    rc.identity = id;
    rc.interval_ms = config_duration_ms(cfg, "reconciler.interval");
    rc.page_size = (int)config_int(cfg, "reconciler.page_size");
    s->reconciler = reconciler_new(&rc, err, errlen);
    if (s->reconciler == NULL || reconciler_start(s->reconciler, err, errlen) != 0)
        return -1;
    return 0;
}

static int main_start(main_services *s, const config *cfg, const char *id, char *err,
                      size_t errlen) {
    s->blob = storage_config_blob_client(cfg, err, errlen);
    if (s->blob == NULL)
        return -1;
    lease_manager_options lo;
    lease_manager_options_init(&lo);
    lo.container = config_string(cfg, "storage.lease_container");
    lo.owner_id = id;
    lo.duration_s = (int)config_int(cfg, "lease.duration");
    lo.renew_interval_ms = (int)config_duration_ms(cfg, "lease.renew_interval");
    lo.safety_margin_ms = (int)config_duration_ms(cfg, "lease.safety_margin");
    lo.on_event = metrics_lease_event;
    lo.log = main_lease_log;
    lease_error le;
    s->leases = lease_manager_new(s->blob, &lo, &le);
    if (s->leases == NULL) {
        snprintf(err, errlen, "lease manager: %s", le.message);
        return -1;
    }
    s->worker = worker_new(cfg, id, s->leases, err, errlen);
    if (s->worker == NULL)
        return -1;
    if (main_start_admin(s, cfg, err, errlen) != 0)
        return -1;
    return main_start_reconciler(s, cfg, id, err, errlen);
}

static void main_stop_all(main_services *s) {
    /* The admin server first: its threads call into the worker (/readyz
     * probes the worker's consumer, /metrics reads its assignment). */
    admin_http_stop(s->admin);
    reconciler_free(s->reconciler);
    worker_free(s->worker);
    lease_manager_free(s->leases);
    blob_client_free(s->blob);
}

int main(int argc, char **argv) {
    char err[512];
    worker_config_action action;
    config *cfg = worker_config_load(argc, argv, stdout, &action, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "inventory-worker: %s\n", err);
        return 1;
    }
    if (action != WORKER_CONFIG_RUN) {
        config_free(cfg);
        return 0;
    }
    char id[128];
    if (config_string(cfg, "worker.id")) {
        snprintf(id, sizeof(id), "%s", config_string(cfg, "worker.id"));
    } else {
        char host[64] = "worker";
        gethostname(host, sizeof(host) - 1);
        snprintf(id, sizeof(id), "%s-%ld", host, (long)getpid());
    }
    log_init(id, (log_level)log_level_parse(config_string(cfg, "log.level")),
             config_bool(cfg, "log.json"));

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = main_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    main_services s;
    memset(&s, 0, sizeof(s));
    int rc = 0;
    if (main_start(&s, cfg, id, err, sizeof(err)) != 0) {
        log_error("Start-up failed: %s", err);
        rc = 1;
    } else {
        int run = worker_run(s.worker, &main_stop, err, sizeof(err));
        if (run == WORKER_RUN_NOT_STARTED) {
            log_error("Start-up failed: %s", err);
            rc = 1;
        } else if (run != 0) {
            rc = 2;
        }
    }
    if (s.reconciler)
        reconciler_stop(s.reconciler);
    main_stop_all(&s);
    log_info("Stopped");
    curl_global_cleanup();
    config_free(cfg);
    return rc;
}
