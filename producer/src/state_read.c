/* state_read.c -- blob_get + inv_state_decode of one product state. */
#include "state_read.h"

#include <stdio.h>
#include <stdlib.h>

int state_read(blob_client *c, const char *container, const char *product_id, inv_state *out,
               char *err, size_t errlen) {
    char name[INV_PRODUCT_MAX + 8];
    char *data = NULL;
    size_t len = 0;
    blob_error berr;
    snprintf(name, sizeof(name), "%s.json", product_id);
    blob_code code = blob_get(c, container, name, NULL, &data, &len, NULL, &berr);
    if (code == BLOB_ERR_NOT_FOUND)
        return 1;
    if (code != BLOB_OK) {
        snprintf(err, errlen, "read state of %s: %s", product_id, berr.message);
        return -1;
    }
    char derr[200];
    int rc = inv_state_decode(data, len, out, derr, sizeof(derr));
    free(data);
    if (rc != 0) {
        snprintf(err, errlen, "decode state of %s: %s", product_id, derr);
        return -1;
    }
    return 0;
}
