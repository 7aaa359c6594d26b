/* worker_config.c -- key table and command line of inventory-worker.
 *
 * Flags are parsed with getopt_long; each flag is only a shorthand for
 * config_set() on its key, so flags are validated exactly like environment
 * variables and file lines. Durations accept 250ms/5s/2m/1h.
 */
#include "worker_config.h"

#include "log.h"
#include "pipeline_config.h"
#include "storage_config.h"

#include <getopt.h>
#include <string.h>

#define MS_DAY (24LL * 3600 * 1000)

const config_key worker_config_keys[] = {
    KAFKA_CONFIG_KEYS,
    {"kafka.group_id", CONFIG_STRING, "inventory-workers", 0, 0, 0,
     "Consumer group of the worker pool"},
    {"kafka.session_timeout", CONFIG_DURATION, "10s", 6000, 300000, 0,
     "Consumer group session timeout: how soon a dead worker's partitions move"},
    {"kafka.assignment_strategy", CONFIG_STRING, "range", 0, 0, 0,
     "Consumer partition.assignment.strategy. range (default) gives partition i of every command "
     "topic to one member, so one worker owns all of a product's commands (docs/ownership.md); "
     "cooperative-sticky or roundrobin split a product's commands between workers"},
    {"kafka.delivery_timeout", CONFIG_DURATION, "30s", 1000, 900000, 0,
     "How long the producer tries to deliver one event before the batch is retried"},
    STORAGE_CONFIG_KEYS,
    {"storage.lease_container", CONFIG_STRING, "leases", 0, 0, 0,
     "Container of lock blobs (reconciler leader lease)"},
    {"storage.state_layout", CONFIG_STRING, "paged", 0, 0, 0,
     "How product state is written: paged (schema v2: a head block and pages of reservations "
     "and ledger entries; a write sends only the blocks it changed, docs/state-layout.md) or v1 "
     "(one JSON document rewritten whole by every write). Both layouts are read either way"},
    {"storage.state_single_max", CONFIG_INT, "131072", 0, 67108864, 0,
     "Paged layout: a state of at most this many bytes is written as one Put Blob (1 request) "
     "instead of Put Block + Put Block List (at least 2)"},
    {"lease.duration", CONFIG_INT, "30", 15, 60, 0, "Lease duration in seconds (15..60)"},
    {"lease.renew_interval", CONFIG_DURATION, "0", 0, 60000, 0,
     "Lease renewal interval; 0 = 2/3 of the duration"},
    {"lease.safety_margin", CONFIG_DURATION, "2s", 0, 30000, 0,
     "Margin before the local lease expiry estimate after which no write is attempted"},
    {"worker.id", CONFIG_STRING, NULL, 0, 0, 0,
     "Worker identity in logs and lease metadata; default hostname-pid"},
    {"worker.threads", CONFIG_INT, "0", 0, 256, 0,
     "Pool threads applying commands (they mostly wait on storage and Kafka); 0 = 8 per core"},
    {"worker.idle_release", CONFIG_DURATION, "30s", 0, MS_DAY, 0,
     "A product's lease (and cached state) is kept this long without commands, then released; "
     "it is also released when its partition is revoked"},
    {"worker.max_products", CONFIG_INT, "10000", 1, 10000000, 0,
     "Products whose lease and state a worker keeps; above it the longest-idle products are "
     "released before worker.idle_release (bounds memory and renewals)"},
    {"worker.drain_timeout", CONFIG_DURATION, "30s", 0, 600000, 0,
     "Bound on draining in-flight work at revocation and at SIGTERM"},
    {"worker.max_batch", CONFIG_INT, "500", 1, 100000, 0,
     "Most commands of one product applied in one write"},
    {"worker.max_queued", CONFIG_INT, "10000", 10, 10000000, 0,
     "Queued commands above which fetching pauses (back-pressure)"},
    {"worker.retry_base", CONFIG_DURATION, "100ms", 1, 60000, 0,
     "First backoff after a failure or a contended lease"},
    {"worker.retry_max", CONFIG_DURATION, "5s", 1, 600000, 0, "Backoff cap"},
    {"worker.blocked_retry", CONFIG_DURATION, "30s", 1000, 3600000, 0,
     "A product whose state cannot be read (blocked, /api/blocked) is read again this often"},
    {"admin.listen", CONFIG_STRING, NULL, 0, 0, 0,
     "Admin HTTP address ADDR:PORT (/healthz, /readyz, /metrics, ...); unset = off"},
    {"reconciler.enabled", CONFIG_BOOL, "true", 0, 0, 0,
     "Take part in the reconciler leader election"},
    {"reconciler.interval", CONFIG_DURATION, "30s", 1000, MS_DAY, 0,
     "Expiry sweep interval of the leader"},
    {"reconciler.page_size", CONFIG_INT, "5000", 1, 5000, 0,
     "Blobs per List Blobs request of a sweep (a sweep lists every product)"},
    {"reconciler.lease_name", CONFIG_STRING, "inventory-reconciliation", 0, 0, 0,
     "Leader lock name (blob lease-{name} in storage.lease_container)"},
    LOG_CONFIG_KEYS,
};
const size_t worker_config_nkeys = sizeof(worker_config_keys) / sizeof(worker_config_keys[0]);

static void worker_config_usage(FILE *out) {
    fputs("usage: inventory-worker [--config FILE] [--admin ADDR:PORT] [--id WORKER_ID] [--threads "
          "N]\n"
          "                        [--config-markdown] [--help]\n"
          "Every setting is also an environment variable LEASEHOLD_<KEY> or a line 'key = value'\n"
          "in the config file; see docs/configuration.md or --config-markdown.\n",
          out);
}

void worker_config_write_doc(FILE *out) {
    fputs(
        "# inventory-worker configuration\n\n"
        "Generated from the key table in `worker/worker_config.c` (`inventory-worker "
        "--config-markdown`);\n"
        "a unit test checks that this file matches the table.\n\n"
        "Each key is read from the environment variable shown, from a `--config FILE` line\n"
        "`key = value` (or `LEASEHOLD_KEY=value`), or from a flag (`--admin` = `admin.listen`,\n"
        "`--id` = `worker.id`, `--threads` = `worker.threads`). Precedence: flag > environment >\n"
        "file > default. An invalid value stops the worker with exit code 1 and a message naming\n"
        "the key. Durations accept `250ms`, `5s`, `2m`, `1h` or a number of milliseconds.\n\n",
        out);
    config_write_markdown(worker_config_keys, worker_config_nkeys, out);
}

config *worker_config_load(int argc, char **argv, FILE *out, worker_config_action *action,
                           char *err, size_t errlen) {
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"admin", required_argument, NULL, 'a'},
        {"id", required_argument, NULL, 'i'},
        {"threads", required_argument, NULL, 't'},
        {"config-markdown", no_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *action = WORKER_CONFIG_RUN;
    config *cfg = config_new(worker_config_keys, worker_config_nkeys);
    if (cfg == NULL) {
        snprintf(err, errlen, "configuration: out of memory");
        return NULL;
    }
    const char *file = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 'a':
            rc = config_set(cfg, "admin.listen", optarg, err, errlen);
            break;
        case 'i':
            rc = config_set(cfg, "worker.id", optarg, err, errlen);
            break;
        case 't':
            rc = config_set(cfg, "worker.threads", optarg, err, errlen);
            break;
        case 'm':
            worker_config_write_doc(out);
            *action = WORKER_CONFIG_MARKDOWN;
            return cfg;
        case 'h':
            worker_config_usage(out);
            *action = WORKER_CONFIG_HELP;
            return cfg;
        default:
            snprintf(err, errlen, "unknown or incomplete option '%s' (try --help)",
                     argv[optind - 1]);
            rc = -1;
        }
        if (rc != 0)
            goto err;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s' (try --help)", argv[optind]);
        goto err;
    }
    if (file && config_load_file(cfg, file, err, errlen) != 0)
        goto err;
    if (config_load_env(cfg, err, errlen) != 0)
        goto err;
    if (log_level_parse(config_string(cfg, "log.level")) < 0) {
        snprintf(err, errlen,
                 "LEASEHOLD_LOG_LEVEL (log.level): must be debug, info, warn or error, got '%s'",
                 config_string(cfg, "log.level"));
        goto err;
    }
    const char *layout = config_string(cfg, "storage.state_layout");
    if (strcmp(layout, "paged") != 0 && strcmp(layout, "v1") != 0) {
        snprintf(err, errlen,
                 "LEASEHOLD_STORAGE_STATE_LAYOUT (storage.state_layout): must be paged or v1, "
                 "got '%s'",
                 layout);
        goto err;
    }
    if (config_duration_ms(cfg, "worker.retry_base") >
        config_duration_ms(cfg, "worker.retry_max")) {
        snprintf(
            err, errlen,
            "LEASEHOLD_WORKER_RETRY_BASE (worker.retry_base): must not exceed worker.retry_max");
        goto err;
    }
    return cfg;
err:
    config_free(cfg);
    return NULL;
}
