/* args.h -- command-line parsing for inventory-producer.
 *
 *   inventory-producer [global options] SUBCOMMAND ...
 *     restock PRODUCT QUANTITY
 *     reserve PRODUCT QUANTITY --customer ID [--ttl S]
 *     release PRODUCT (--reservation ID | --customer ID --quantity N)
 *     get PRODUCT
 *     load [--products N --count N --rate R --mix R:L:S --hot F --duplicates F
 *           --invalid F --seed S --prefix P --run-id ID --initial-stock N --max-quantity N
 *           --latency-log FILE]
 *     serve --listen ADDR:PORT
 *     blocked --worker ADDR:PORT
 *     retry-blocked PRODUCT --worker ADDR:PORT
 *     dead-letter-blocked PRODUCT --worker ADDR:PORT
 *     config-markdown
 *   options: --config FILE --brokers LIST --wait --timeout DURATION --command-id ID
 *
 * Parsing is syntactic only: quantities and ids stay text here and are
 * validated by the codec when the command is built (so the messages are the
 * codec's). All strings point into argv.
 */
#ifndef PRODUCER_ARGS_H
#define PRODUCER_ARGS_H

#include <stddef.h>

#include "load_plan.h"

typedef enum args_command {
    ARGS_HELP = 0,
    ARGS_RESTOCK,
    ARGS_RESERVE,
    ARGS_RELEASE,
    ARGS_GET,
    ARGS_LOAD,
    ARGS_SERVE,
    ARGS_CONFIG_MARKDOWN, /* the configuration table for docs/producer.md */
    ARGS_BLOCKED,         /* a worker's blocked products (its admin API) */
    ARGS_BLOCKED_RETRY,
    ARGS_BLOCKED_DEAD_LETTER
} args_command;

typedef struct producer_args {
    args_command command;
    const char *config_file;
    const char *brokers;
    const char *product;
    const char *quantity; /* restock/reserve positional, release --quantity */
    const char *customer;
    const char *reservation;
    const char *ttl;
    const char *command_id;
    const char *timeout; /* duration text ("10s", "500ms"), NULL = configured default */
    const char *listen;  /* serve */
    const char *worker;  /* blocked*: the worker's admin address ADDR:PORT */
    int wait;
    load_options load;
} producer_args;

/* Parses argv (argv[0] is the program). Returns 0, or -1 with `err` saying
 * what is wrong ("reserve: --customer is required"). Reorders argv (GNU
 * getopt permutation) so options may follow positional arguments. */
int args_parse(int argc, char **argv, producer_args *out, char *err, size_t errlen);

/* Usage text for --help and errors. */
const char *args_usage(void);

#endif
