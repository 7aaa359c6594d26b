/* state_blob.c -- see state_blob.h: blob_get, the empty-blob rule, then
 * inv_state_decode; and the "nextexpiry" metadata hint, written from the
 * state and read back from a listing. */
#include "state_blob.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int state_blob_meta_set_next_expiry(blob_meta *meta, const inv_state *st) {
    char value[32] = STATE_BLOB_NO_EXPIRY;
    if (st->n_reservations > 0) {
        int64_t next = st->reservations[0].expires_at_ms;
        for (size_t i = 1; i < st->n_reservations; i++)
            if (st->reservations[i].expires_at_ms < next)
                next = st->reservations[i].expires_at_ms;
        snprintf(value, sizeof(value), "%" PRId64, next);
    }
    return blob_meta_set(meta, STATE_BLOB_META_NEXT_EXPIRY, value) == BLOB_OK ? 0 : -1;
}

state_blob_due state_blob_meta_due(const blob_meta *meta, int64_t now_ms) {
    const char *v = blob_meta_get(meta, STATE_BLOB_META_NEXT_EXPIRY);
    if (!v)
        return STATE_BLOB_DUE_UNKNOWN;
    if (strcmp(v, STATE_BLOB_NO_EXPIRY) == 0)
        return STATE_BLOB_DUE_LATER;
    if (*v < '0' || *v > '9') /* strtoll would accept blanks and signs */
        return STATE_BLOB_DUE_UNKNOWN;
    char *end;
    errno = 0;
    long long at = strtoll(v, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return STATE_BLOB_DUE_UNKNOWN;
    return at <= now_ms ? STATE_BLOB_DUE_NOW : STATE_BLOB_DUE_LATER;
}
