/* state_read.h -- reading a product's state blob without a lease.
 *
 * GET needs no lease: a blob read returns the last committed write, which
 * is all a reader can ask for (writes are fenced by the writer's lease).
 */
#ifndef PRODUCER_STATE_READ_H
#define PRODUCER_STATE_READ_H

#include <stddef.h>

#include "leasehold/blob.h"
#include "leasehold/inventory_schema.h"

/* Reads "{productId}.json" from `container` and decodes it into `out`
 * (initialised here; the caller clears it after a 0 return). Returns 0, 1
 * when the product does not exist, -1 with `err` on any other failure. */
int state_read(blob_client *c, const char *container, const char *product_id, inv_state *out,
               char *err, size_t errlen);

#endif
