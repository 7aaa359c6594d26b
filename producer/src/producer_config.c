/* producer_config.c -- key table and loading order for inventory-producer. */
#include "producer_config.h"

#include <stdio.h>

#include "pipeline_config.h"

static const config_key producer_keys[] = {
    KAFKA_CONFIG_KEYS,
    /* Shared with the worker: connection string, SAS, bearer token, token
     * file, managed identity, CA file, timeout, container (for get and
     * GET /api/inventory). */
    STORAGE_CONFIG_KEYS,
    {"producer.outcome_timeout", CONFIG_DURATION, "10s", 100, 600000, 0,
     "How long --wait, load and the gateway wait for an outcome event (gateway: then 504)"},
    LOG_CONFIG_KEYS,
};

const config_key *producer_config_keys(size_t *n) {
    *n = sizeof(producer_keys) / sizeof(producer_keys[0]);
    return producer_keys;
}

config *producer_config_load(const char *file, char *err, size_t errlen) {
    size_t n;
    const config_key *keys = producer_config_keys(&n);
    config *cfg = config_new(keys, n);
    if (!cfg) {
        snprintf(err, errlen, "config: out of memory");
        return NULL;
    }
    if ((file && config_load_file(cfg, file, err, errlen) != 0) ||
        config_load_env(cfg, err, errlen) != 0) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}
