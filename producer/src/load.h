/* load.h -- `inventory-producer load`: the load generator.
 *
 * Publishes the operations of a load_plan (optionally rate-limited), first
 * restocking every product so reservations have stock, tracks each
 * command's outcome event and prints a summary: operations sent by kind,
 * outcomes by type, outcomes still missing, re-emitted duplicates, dead
 * letters seen and latency percentiles from publish to outcome. A progress
 * bar is drawn on stderr when it is a terminal.
 */
#ifndef PRODUCER_LOAD_H
#define PRODUCER_LOAD_H

#include "config.h"
#include "load_plan.h"

/* Returns the exit code: 0 when every command got its outcome, 1 otherwise. */
int load_run(config *cfg, const load_options *o);

/* Malformed payload of `kind` derived from a valid command (malloc'd, NULL
 * on OOM). Used for the dead-letter share of the load. */
char *load_invalid_payload(load_invalid_kind kind, const inv_command *cmd);

#endif
