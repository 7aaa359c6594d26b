/* state_blob.c -- see state_blob.h: blob_get, the empty-blob rule, then
 * inv_state_decode. */
#include "state_blob.h"

#include <stdio.h>
#include <stdlib.h>

state_blob_result state_blob_read(blob_client *c, const char *container, const char *name,
                                  inv_state *out, char *err, size_t errlen) {
    char *data = NULL;
    size_t len = 0;
    blob_error be;
    blob_code rc = blob_get(c, container, name, NULL, &data, &len, NULL, &be);
    if (rc == BLOB_ERR_NOT_FOUND || (rc == BLOB_OK && len == 0)) {
        free(data);
        return STATE_BLOB_ABSENT;
    }
    if (rc != BLOB_OK) {
        snprintf(err, errlen, "%s", be.message);
        return STATE_BLOB_UNREACHABLE;
    }
    int decoded = inv_state_decode(data, len, out, err, errlen);
    free(data);
    return decoded == 0 ? STATE_BLOB_OK : STATE_BLOB_INVALID;
}

state_blob_result state_blob_read_product(blob_client *c, const char *container,
                                          const char *product_id, inv_state *out, char *err,
                                          size_t errlen) {
    char name[INV_PRODUCT_MAX + 8];
    snprintf(name, sizeof(name), "%s.json", product_id);
    return state_blob_read(c, container, name, out, err, errlen);
}
