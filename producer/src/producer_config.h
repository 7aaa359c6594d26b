/* producer_config.h -- the producer's configuration keys.
 *
 * Same key names as the worker where they mean the same thing (kafka.brokers,
 * topic.*, and the shared storage.* keys of storage_config.h, whose
 * storage_config_blob_client builds the client for `get` and GET), read from
 * LEASEHOLD_* environment variables and an optional --config file; flags map
 * onto the same keys.
 */
#ifndef PRODUCER_CONFIG_H
#define PRODUCER_CONFIG_H

#include <stddef.h>

#include "config.h"
#include "storage_config.h"

/* The key table (for docs: config_write_markdown). */
const config_key *producer_config_keys(size_t *n);

/* Defaults < file < environment. NULL with `err` naming the key. */
config *producer_config_load(const char *file, char *err, size_t errlen);

#endif
