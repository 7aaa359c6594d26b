/* state_blob.h -- reading a product's state blob without holding its lease.
 *
 * Readers (the worker's admin API and reconciler, the producer's `get` and
 * the gateway's GET) need no lease: a blob read returns the last committed
 * write, and every write is fenced by its writer's lease. All of them read
 * the same way here, so they agree on what "no such product" means: no
 * blob, or an empty one (a restock creates the blob before its first state
 * write and may be abandoned in between).
 */
#ifndef LEASEHOLD_STATE_BLOB_H
#define LEASEHOLD_STATE_BLOB_H

#include <stddef.h>

#include "leasehold/blob.h"
#include "leasehold/inventory_schema.h"

typedef enum state_blob_result {
    STATE_BLOB_OK = 0,
    STATE_BLOB_ABSENT,      /* no such product */
    STATE_BLOB_UNREACHABLE, /* storage failed; err holds the blob client's message */
    STATE_BLOB_INVALID      /* the content does not decode; err holds why */
} state_blob_result;

/* Reads and decodes the blob `name` of `container` into `out`, which the
 * caller clears (inv_state_clear) after STATE_BLOB_OK only. For a listing,
 * whose names are the blobs' own. */
state_blob_result state_blob_read(blob_client *c, const char *container, const char *name,
                                  inv_state *out, char *err, size_t errlen);

/* The same for a product id: its blob is "{productId}.json". */
state_blob_result state_blob_read_product(blob_client *c, const char *container,
                                          const char *product_id, inv_state *out, char *err,
                                          size_t errlen);

#endif
