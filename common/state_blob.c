/* state_blob.c -- see state_blob.h: blob_get, the empty-blob rule, then
 * inv_state_decode (either schema); the fenced write in either layout, on
 * top of lease_write / lease_write_blocks; and the "nextexpiry" metadata
 * hint, written from the state and read back from a listing. */
#include "state_blob.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

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

#define STATE_BLOB_CONTENT_TYPE "application/json"

/* One Put Blob of `len` bytes. */
static lease_code state_blob_put(lease *l, const char *data, size_t len, const blob_meta *meta,
                                 lease_error *err) {
    lease_code rc = lease_write(l, data, len, STATE_BLOB_CONTENT_TYPE, meta, err);
    metrics_record_state_write(len);
    return rc;
}

static lease_code state_blob_nomem(lease_error *err, const char *what) {
    memset(err, 0, sizeof(*err));
    err->code = LEASE_ERR_NOMEM;
    snprintf(err->message, sizeof(err->message), "encode state: %s", what);
    return LEASE_ERR_NOMEM;
}

/* The parts with data as Put Block, then the list of all parts. */
static lease_code state_blob_put_blocks(lease *l, const inv_state_paged *pg,
                                        const blob_meta *meta, lease_error *err) {
    lease_block *blocks = calloc(pg->n_send, sizeof(*blocks));
    const char **ids = calloc(pg->n_parts, sizeof(*ids));
    char(*id_text)[BLOB_BLOCK_ID_MAX] = calloc(pg->n_parts, sizeof(*id_text));
    lease_code rc = state_blob_nomem(err, "out of memory");
    size_t n_blocks = 0, requests = 0;
    if (blocks && ids && id_text) {
        for (size_t i = 0; i < pg->n_parts; i++) {
            blob_block_id(pg->parts[i].block, id_text[i]);
            ids[i] = id_text[i];
            if (pg->parts[i].data)
                blocks[n_blocks++] = (lease_block){id_text[i], pg->parts[i].data, pg->parts[i].len};
        }
        rc = lease_write_blocks(l, blocks, n_blocks, ids, pg->n_parts, STATE_BLOB_CONTENT_TYPE,
                                meta, &requests, NULL, err);
        /* Requests go out in order: the blocks, then the list. */
        for (size_t i = 0; i < requests; i++)
            metrics_record_state_write(i < n_blocks ? blocks[i].len
                                                    : blob_block_list_body_len(
                                                          pg->n_parts, strlen(id_text[0])));
    }
    free(blocks);
    free(ids);
    free(id_text);
    return rc;
}

lease_code state_blob_write(lease *l, inv_state *st, int v1, size_t single_max,
                            const blob_meta *meta, lease_error *err) {
    if (v1) {
        char *json = inv_state_encode(st);
        if (!json)
            return state_blob_nomem(err, "out of memory");
        lease_code rc = state_blob_put(l, json, strlen(json), meta, err);
        free(json);
        return rc;
    }
    inv_state_paged pg;
    char msg[256];
    if (inv_state_encode_paged(st, single_max, &pg, msg, sizeof(msg)) != 0)
        return state_blob_nomem(err, msg);
    lease_code rc;
    if (pg.single) {
        char *blob = inv_state_paged_join(&pg);
        rc = blob ? state_blob_put(l, blob, pg.total_bytes, meta, err)
                  : state_blob_nomem(err, "out of memory");
        free(blob);
    } else {
        rc = state_blob_put_blocks(l, &pg, meta, err);
    }
    if (rc == LEASE_OK)
        inv_state_paged_committed(st, &pg);
    inv_state_paged_free(&pg);
    return rc;
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
