/* config.h -- typed configuration from environment, file and flags.
 *
 * A program declares its keys once in a table (name, type, default, range,
 * help). Key "kafka.brokers" is read from the environment variable
 * LEASEHOLD_KAFKA_BROKERS, from a file line "kafka.brokers = ..." (or the
 * env-style name), or set directly (command-line flags). Precedence: set >
 * environment > file > default. Every value is validated when it arrives;
 * errors name the key and the bad value ("LEASEHOLD_WORKER_THREADS: must be
 * an integer from 1 to 256, got 'abc'"), except for keys marked secret, whose
 * value is never echoed. The same table renders the documentation table.
 */
#ifndef LEASEHOLD_CONFIG_H
#define LEASEHOLD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef enum config_type {
    CONFIG_STRING,
    CONFIG_INT,     /* long long within [min, max] */
    CONFIG_BOOL,    /* true/false/1/0/yes/no/on/off */
    CONFIG_DURATION /* milliseconds; accepts "250ms", "5s", "2m", "1h" or a bare number of ms */
} config_type;

typedef struct config_key {
    const char *name; /* dotted, e.g. "kafka.brokers" */
    config_type type;
    const char *default_value; /* text form, NULL = unset */
    long long min, max;        /* for INT and DURATION (ms) */
    int secret;                /* never echo the value */
    const char *help;
} config_key;

typedef struct config config;

/* The table is borrowed and must outlive the config. NULL on OOM. */
config *config_new(const config_key *keys, size_t nkeys);
void config_free(config *cfg);

/* Each returns 0, or -1 with `err` holding a message naming the key. */
int config_set(config *cfg, const char *name, const char *value, char *err, size_t errlen);
int config_load_env(config *cfg, char *err, size_t errlen);
int config_load_file(config *cfg, const char *path, char *err, size_t errlen);

/* Typed getters; the key must exist in the table (programming error otherwise). */
const char *config_string(const config *cfg, const char *name); /* NULL if unset */
long long config_int(const config *cfg, const char *name);
int config_bool(const config *cfg, const char *name);
long long config_duration_ms(const config *cfg, const char *name);

/* "kafka.brokers" -> "LEASEHOLD_KAFKA_BROKERS" into out. */
void config_env_name(const char *name, char *out, size_t cap);

/* Markdown table (env name, default, meaning) for docs/configuration.md. */
void config_write_markdown(const config_key *keys, size_t nkeys, FILE *out);

#endif
