/* cli.h -- the one-shot subcommands: restock, reserve, release, get. */
#ifndef PRODUCER_CLI_H
#define PRODUCER_CLI_H

#include "args.h"
#include "config.h"

/* Builds, validates and publishes one command; with --wait prints its
 * outcome event. Returns the process exit code (0, 3 rejected, 1 error). */
int cli_send(config *cfg, const producer_args *a);

/* Prints the product state as JSON. Exit code 0, 3 unknown product, 1 error. */
int cli_get(config *cfg, const char *product_id);

#endif
