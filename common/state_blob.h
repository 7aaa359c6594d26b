/* state_blob.h -- reading a product's state blob without holding its lease,
 * writing it under the lease in either layout, and the expiry hint kept in
 * its metadata.
 *
 * Readers (the worker's admin API and reconciler, the producer's `get` and
 * the gateway's GET) need no lease: a blob read returns the last committed
 * write, and every write is fenced by its writer's lease. All of them read
 * the same way here, so they agree on what "no such product" means: no
 * blob, or an empty one (a restock creates the blob before its first state
 * write and may be abandoned in between).
 *
 * Expiry hint. Every fenced state write also sets the blob's metadata
 * "nextexpiry" to the earliest expiresAt of the product's reservations
 * (unix ms, decimal), or "none" when it has none, in the same Put Blob. A
 * listing with include=metadata then tells the reconciler which products
 * have something due without reading them. A blob without the key (written
 * by an older version, or created empty by a restock) is "unknown": read
 * it. The key is only a hint for finding work; the blob's content stays the
 * truth, and every expiry still goes through the product's lease.
 */
#ifndef LEASEHOLD_STATE_BLOB_H
#define LEASEHOLD_STATE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "leasehold/blob.h"
#include "leasehold/inventory_schema.h"
#include "leasehold/lease.h"

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

/* The fenced write of `st` to the blob `l` leases, the only way state is
 * written. Layout v1 (`v1` set): one Put Blob of the whole document. Paged
 * (schema v2, docs/state-layout.md): Put Block of the head and of every
 * page that changed, then Put Block List of all of them (lease_write_blocks);
 * or one Put Blob while the whole blob is at most `single_max` bytes. `meta`
 * travels with the commit (Put Blob or Put Block List). On LEASE_OK the page
 * maps are marked written; on failure the caller drops `st` and reads the
 * blob again (its page maps may have moved on). Every request is counted in
 * the state write metrics. LEASE_ERR_NOMEM (or a state too large for the
 * blob's 50,000 blocks) is returned without a request, message in err. */
lease_code state_blob_write(lease *l, inv_state *st, int v1, size_t single_max,
                            const blob_meta *meta, lease_error *err);

/* Metadata key and the value for "no reservation". */
#define STATE_BLOB_META_NEXT_EXPIRY "nextexpiry"
#define STATE_BLOB_NO_EXPIRY "none"

/* Sets STATE_BLOB_META_NEXT_EXPIRY in `meta` (other entries are kept) from
 * `st`'s reservations. 0, or -1 when `meta` is full. */
int state_blob_meta_set_next_expiry(blob_meta *meta, const inv_state *st);

typedef enum state_blob_due {
    STATE_BLOB_DUE_UNKNOWN = 0, /* no usable hint: read the blob */
    STATE_BLOB_DUE_NOW,         /* a reservation expires at or before now */
    STATE_BLOB_DUE_LATER        /* nothing expires by now (or no reservation at all) */
} state_blob_due;

/* What a blob's metadata says about expiry at `now_ms` (unix ms). A value
 * that is not "none" or a plain non-negative decimal is UNKNOWN. */
state_blob_due state_blob_meta_due(const blob_meta *meta, int64_t now_ms);

#endif
