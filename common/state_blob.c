/* state_blob.c -- see state_blob.h: blob_get, the empty-blob rule, then
 * inv_state_decode. */
#include "state_blob.h"

#include <stdio.h>
#include <stdlib.h>

void state_blob_name(const char *product_id, char *out, size_t cap) {
    snprintf(out, cap, "%s.json", product_id);
}

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
