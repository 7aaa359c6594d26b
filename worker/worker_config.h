/* worker_config.h -- the inventory-worker's configuration keys and flags.
 *
 * The key table is the single source for validation, environment names
 * (LEASEHOLD_*), the --config file and docs/configuration.md. Flags map onto
 * the same keys: --admin ADDR:PORT (admin.listen), --id ID (worker.id),
 * --threads N (worker.threads), --config FILE.
 */
#ifndef LEASEHOLD_WORKER_CONFIG_H
#define LEASEHOLD_WORKER_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

extern const config_key worker_config_keys[];
extern const size_t worker_config_nkeys;

typedef enum worker_config_action {
    WORKER_CONFIG_RUN = 0,
    WORKER_CONFIG_HELP,    /* --help: usage printed */
    WORKER_CONFIG_MARKDOWN /* --config-markdown: docs table printed */
} worker_config_action;

/* Builds the configuration from defaults, --config FILE, environment and
 * flags (in rising precedence). Returns the config (caller frees) with
 * *action set, or NULL with `err` naming the bad key, value or flag. Usage
 * and the markdown table go to `out`. */
config *worker_config_load(int argc, char **argv, FILE *out, worker_config_action *action,
                           char *err, size_t errlen);

/* The whole docs/configuration.md text. */
void worker_config_write_doc(FILE *out);

#endif
