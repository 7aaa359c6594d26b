/* admin_client.h -- the operator's repair of blocked products, through a
 * worker's admin API (docs/admin-api.md):
 *   inventory-producer blocked --worker ADDR:PORT              GET /api/blocked
 *   inventory-producer retry-blocked PRODUCT --worker A:P      POST .../retry
 *   inventory-producer dead-letter-blocked PRODUCT --worker A:P POST .../dead-letter
 */
#ifndef PRODUCER_ADMIN_CLIENT_H
#define PRODUCER_ADMIN_CLIENT_H

#include "args.h"

/* The request for `command` (ARGS_BLOCKED, ARGS_BLOCKED_RETRY or
 * ARGS_BLOCKED_DEAD_LETTER) to the worker at `worker` ("ADDR:PORT"),
 * "http://ADDR:PORT/api/blocked[/PRODUCT/ACTION]" into `url`. 0, or -1 when
 * it does not fit. */
int admin_client_url(args_command command, const char *worker, const char *product, char *url,
                     size_t cap);

/* Sends the request and prints the worker's JSON answer on stdout. Exit
 * code: 0 (listed or scheduled), 3 (the product is not blocked on that
 * worker), 1 (any other error, printed on stderr). libcurl must be
 * initialised. */
int admin_client_run(args_command command, const char *worker, const char *product);

#endif
