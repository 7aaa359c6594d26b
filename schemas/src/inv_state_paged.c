/* inv_state_paged.c -- the paged state layout (schema v2, docs/state-layout.md).
 *
 * A v2 blob is a head document followed by pages, each page one block:
 *
 *   {"schemaVersion":2, quantities, appliedOffsets, outbox, updatedAtMs,
 *    "nextBlock":N, "blocks":true,
 *    "ledgerPages":[{"block":b,"count":c,"bytes":n},...],
 *    "reservationPages":[...]}[ledger page][ledger page]...[reservation page]...
 *
 * A page is a JSON array of ledger entries or reservations. The head is
 * parsed with JSON_DISABLE_EOF_CHECK, which also reports where it ended; the
 * pages follow at the byte lengths the head lists. One GET reads it all.
 *
 * In memory the reservations and ledger stay the flat arrays of inv_state;
 * a page map per array says how many consecutive entries each page holds.
 * The state helpers report appends (to the tail page), removals and in-place
 * changes (to the page holding that index), which mark the page dirty. At
 * encode time underfull pages are merged into a neighbour, overfull ones are
 * split, and every dirty page gets a new block number, so the writer sends
 * exactly the dirty pages and the head and keeps the others by id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv_json_internal.h"

/* A page under a quarter full is merged into a neighbour when both fit in
 * one page, so storage stays proportional to the live entries. */
#define INVP_MERGE_BELOW(cap) ((cap) / 4)

/* ---- page map upkeep ------------------------------------------------------- */

/* Index of the page holding entry `index`; n_pages when past the end. */
static size_t invp_page_of(const inv_pagemap *pm, size_t index)
{
    size_t start = 0;
    for (size_t i = 0; i < pm->n_pages; i++) {
        if (index < start + pm->pages[i].count)
            return i;
        start += pm->pages[i].count;
    }
    return pm->n_pages;
}

static inv_page *invp_insert(inv_pagemap *pm, size_t at)
{
    if (invj_grow((void **)&pm->pages, &pm->cap_pages, pm->n_pages + 1, sizeof *pm->pages) < 0)
        return NULL;
    memmove(&pm->pages[at + 1], &pm->pages[at], (pm->n_pages - at) * sizeof *pm->pages);
    pm->n_pages++;
    memset(&pm->pages[at], 0, sizeof *pm->pages);
    pm->pages[at].dirty = 1;
    return &pm->pages[at];
}

static void invp_erase(inv_pagemap *pm, size_t at)
{
    memmove(&pm->pages[at], &pm->pages[at + 1], (pm->n_pages - at - 1) * sizeof *pm->pages);
    pm->n_pages--;
}

/* The map stops tracking (and is cut afresh at the next encode) when it
 * cannot grow: correct, only more bytes written once. */
static void invp_untrack(inv_pagemap *pm)
{
    pm->n_pages = 0;
    pm->tracked = 0;
}

void invp_note_append(inv_pagemap *pm, size_t cap)
{
    if (!pm->tracked)
        return;
    /* A full tail stays as committed: the entry opens a new page. */
    if ((pm->n_pages == 0 || pm->pages[pm->n_pages - 1].count >= cap) &&
        !invp_insert(pm, pm->n_pages)) {
        invp_untrack(pm);
        return;
    }
    inv_page *tail = &pm->pages[pm->n_pages - 1];
    tail->count++;
    tail->dirty = 1;
}

void invp_note_remove(inv_pagemap *pm, size_t index)
{
    if (!pm->tracked)
        return;
    size_t p = invp_page_of(pm, index);
    if (p == pm->n_pages) {
        invp_untrack(pm);
        return;
    }
    pm->pages[p].count--;
    pm->pages[p].dirty = 1;
}

void invp_note_touch(inv_pagemap *pm, size_t index)
{
    if (!pm->tracked)
        return;
    size_t p = invp_page_of(pm, index);
    if (p < pm->n_pages)
        pm->pages[p].dirty = 1;
}

/* Cuts `n` entries into full pages of `cap`, all dirty. */
static int invp_cut(inv_pagemap *pm, size_t n, size_t cap)
{
    pm->n_pages = 0;
    for (size_t done = 0; done < n;) {
        inv_page *pg = invp_insert(pm, pm->n_pages);
        if (!pg)
            return -1;
        pg->count = n - done < cap ? n - done : cap;
        done += pg->count;
    }
    pm->tracked = 1;
    return 0;
}

/* Drops empty pages, merges underfull ones into a neighbour that has room
 * and splits pages over `cap` (only the tail grows by appends). */
static int invp_normalise(inv_pagemap *pm, size_t n, size_t cap)
{
    if (!pm->tracked)
        return invp_cut(pm, n, cap);
    for (size_t i = 0; i < pm->n_pages;) {
        inv_page *pg = &pm->pages[i];
        if (pg->count == 0) {
            invp_erase(pm, i);
            continue;
        }
        if (pg->count > cap) {
            inv_page *rest = invp_insert(pm, i + 1);
            if (!rest)
                return -1;
            pg = &pm->pages[i];
            rest->count = pg->count - cap;
            pg->count = cap;
            pg->dirty = 1;
            i++;
            continue;
        }
        if (pg->count < INVP_MERGE_BELOW(cap)) {
            size_t j = i + 1 < pm->n_pages && pm->pages[i + 1].count + pg->count <= cap ? i + 1
                       : i > 0 && pm->pages[i - 1].count + pg->count <= cap          ? i - 1
                                                                                      : i;
            if (j != i) {
                size_t keep = j < i ? j : i;
                pm->pages[keep].count = pm->pages[i].count + pm->pages[j].count;
                pm->pages[keep].dirty = 1;
                invp_erase(pm, keep + 1);
                i = keep;
                continue;
            }
        }
        i++;
    }
    return 0;
}

/* ---- encode ---------------------------------------------------------------- */

typedef json_t *(*invp_item_json_fn)(const void *item);

static json_t *invp_reservation_json(const void *item)
{
    return invj_reservation_to_json(item);
}

static json_t *invp_ledger_json(const void *item)
{
    return invj_ledger_to_json(item);
}

/* A page's bytes: a compact JSON array of items[0..n). */
static char *invp_page_encode(const char *items, size_t n, size_t elem, invp_item_json_fn fn,
                              size_t *len)
{
    json_t *arr = json_array();
    int bad = !arr;
    for (size_t i = 0; !bad && i < n; i++)
        bad |= json_array_append_new(arr, fn(items + i * elem));
    char *text = invj_dump(arr, bad);
    if (text)
        *len = strlen(text);
    return text;
}

/* Encodes the pages of one array into out->parts (appended in order) and
 * lists them in `list` for the head. Pages that are dirty, or all pages
 * when `all`, get data; dirty pages get a new block number first. */
static int invp_encode_pages(inv_state *st, inv_pagemap *pm, const void *items, size_t elem,
                             invp_item_json_fn fn, int all, json_t *list, inv_state_paged *out)
{
    size_t start = 0;
    for (size_t i = 0; i < pm->n_pages; i++) {
        inv_page *pg = &pm->pages[i];
        inv_state_part *part = &out->parts[out->n_parts];
        memset(part, 0, sizeof *part);
        if (pg->dirty)
            pg->block = st->next_block++;
        part->block = pg->block;
        if (pg->dirty || all) {
            part->data = invp_page_encode((const char *)items + start * elem, pg->count, elem, fn,
                                          &part->len);
            if (!part->data)
                return -1;
            pg->bytes = part->len;
            out->send_bytes += part->len;
            out->n_send++;
        } else {
            part->len = pg->bytes;
        }
        out->total_bytes += part->len;
        out->n_parts++;
        start += pg->count;
        json_t *o = json_pack("{s:I,s:I,s:I}", "block", (json_int_t)pg->block, "count",
                              (json_int_t)pg->count, "bytes", (json_int_t)pg->bytes);
        if (!o || json_array_append_new(list, o) != 0)
            return -1;
    }
    return 0;
}

static json_t *invp_offsets_json(const inv_state *st)
{
    json_t *offs = json_object();
    for (size_t i = 0; offs && i < st->n_offsets; i++)
        if (invj_put_int(offs, st->offsets[i].topic_partition, st->offsets[i].offset) != 0) {
            json_decref(offs);
            return NULL;
        }
    return offs;
}

static json_t *invp_outbox_json(const inv_state *st)
{
    json_t *outbox = json_array();
    for (size_t i = 0; outbox && i < st->n_outbox; i++)
        if (json_array_append_new(outbox, invj_event_to_json(&st->outbox[i])) != 0) {
            json_decref(outbox);
            return NULL;
        }
    return outbox;
}

/* The head part (parts[0]) once the pages are listed. */
static int invp_encode_head(const inv_state *st, json_t *ledger_pages, json_t *res_pages,
                            int blocks, inv_state_paged *out)
{
    json_t *head = json_pack(
        "{s:i,s:s,s:I,s:I,s:I,s:o*,s:o*,s:I,s:I,s:b,s:O,s:O}", "schemaVersion",
        INV_STATE_SCHEMA_PAGED, "productId", st->product_id, "total", (json_int_t)st->total,
        "available", (json_int_t)st->available, "reserved", (json_int_t)st->reserved,
        "appliedOffsets", invp_offsets_json(st), "outbox", invp_outbox_json(st), "updatedAtMs",
        (json_int_t)st->updated_at_ms, "nextBlock", (json_int_t)st->next_block, "blocks", blocks,
        "ledgerPages", ledger_pages, "reservationPages", res_pages);
    if (!head || !json_object_get(head, "appliedOffsets") || !json_object_get(head, "outbox")) {
        json_decref(head);
        return -1;
    }
    inv_state_part *part = &out->parts[0];
    part->data = json_dumps(head, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(head);
    if (!part->data)
        return -1;
    part->len = strlen(part->data);
    out->total_bytes += part->len;
    out->send_bytes += part->len;
    out->n_send++;
    return 0;
}

/* One pass: pages (dirty ones, or all), then the head. */
static int invp_encode_all(inv_state *st, int all, int blocks, inv_state_paged *out)
{
    json_t *lp = json_array(), *rp = json_array();
    out->n_parts = 1; /* parts[0]: the head, filled last */
    memset(&out->parts[0], 0, sizeof out->parts[0]);
    out->parts[0].block = st->next_block++;
    int rc = !lp || !rp ||
                     invp_encode_pages(st, &st->ledger_pages, st->ledger, sizeof *st->ledger,
                                       invp_ledger_json, all, lp, out) < 0 ||
                     invp_encode_pages(st, &st->reservation_pages, st->reservations,
                                       sizeof *st->reservations, invp_reservation_json, all, rp,
                                       out) < 0 ||
                     invp_encode_head(st, lp, rp, blocks, out) < 0
                 ? -1
                 : 0;
    json_decref(lp);
    json_decref(rp);
    return rc;
}

int inv_state_encode_paged(inv_state *st, size_t single_max, inv_state_paged *out, char *err,
                           size_t errlen)
{
    invj_ctx c = {"", err, errlen};
    memset(out, 0, sizeof *out);
    if (invp_normalise(&st->ledger_pages, st->n_ledger, INV_LEDGER_PAGE) < 0 ||
        invp_normalise(&st->reservation_pages, st->n_reservations, INV_RESERVATION_PAGE) < 0)
        return invj_fail(&c, "state", "out of memory");
    size_t n = 1 + st->ledger_pages.n_pages + st->reservation_pages.n_pages;
    if (n > INV_MAX_BLOCKS)
        return invj_fail(&c, "reservations", "%zu pages exceed the blob's %d blocks", n - 1,
                         INV_MAX_BLOCKS);
    /* Without a committed block list nothing can be kept by id. */
    if (!st->blocks_committed) {
        for (size_t i = 0; i < st->ledger_pages.n_pages; i++)
            st->ledger_pages.pages[i].dirty = 1;
        for (size_t i = 0; i < st->reservation_pages.n_pages; i++)
            st->reservation_pages.pages[i].dirty = 1;
    }
    out->parts = calloc(n, sizeof *out->parts);
    if (!out->parts)
        return invj_fail(&c, "state", "out of memory");
    unsigned long long first = st->next_block;
    int rc = invp_encode_all(st, 0, 1, out);
    if (rc == 0 && out->total_bytes <= single_max) {
        /* Small enough for one Put Blob: encode every part, and say in the
         * head that no block list backs the pages. */
        st->next_block = first;
        for (size_t i = 0; i < out->n_parts; i++)
            free(out->parts[i].data);
        memset(out->parts, 0, n * sizeof *out->parts);
        out->total_bytes = out->send_bytes = out->n_send = 0;
        rc = invp_encode_all(st, 1, 0, out);
        out->single = 1;
    }
    if (rc < 0) {
        inv_state_paged_free(out);
        return invj_fail(&c, "state", "out of memory");
    }
    return 0;
}

void inv_state_paged_committed(inv_state *st, const inv_state_paged *p)
{
    for (size_t i = 0; i < st->ledger_pages.n_pages; i++)
        st->ledger_pages.pages[i].dirty = 0;
    for (size_t i = 0; i < st->reservation_pages.n_pages; i++)
        st->reservation_pages.pages[i].dirty = 0;
    st->blocks_committed = !p->single;
}

void inv_state_paged_free(inv_state_paged *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->parts && i < p->n_parts; i++)
        free(p->parts[i].data);
    free(p->parts);
    memset(p, 0, sizeof *p);
}

char *inv_state_paged_join(const inv_state_paged *p)
{
    char *text = malloc(p->total_bytes + 1), *at = text;
    if (!text)
        return NULL;
    for (size_t i = 0; i < p->n_parts; i++) {
        if (!p->parts[i].data) {
            free(text);
            return NULL;
        }
        memcpy(at, p->parts[i].data, p->parts[i].len);
        at += p->parts[i].len;
    }
    *at = '\0';
    return text;
}

/* ---- decode ---------------------------------------------------------------- */

json_t *invj_state_parse_head(const invj_ctx *c, const char *buf, size_t len, size_t *head_len)
{
    return invj_parse_first(c, buf, len, 1, head_len);
}

/* A page list entry: block, count (1..cap) and bytes (at least 2, "[]"). */
static int invp_page_entry(const invj_ctx *c, json_t *e, size_t cap, unsigned long long next,
                           inv_page *pg)
{
    long long block, count, bytes;
    if (invj_get_int(c, e, "block", 1, 0, LLONG_MAX, &block) < 0 ||
        invj_get_int(c, e, "count", 1, 1, (long long)cap, &count) < 0 ||
        invj_get_int(c, e, "bytes", 1, 2, LLONG_MAX, &bytes) < 0)
        return -1;
    if ((unsigned long long)block >= next)
        return invj_fail(c, "block", "must be below nextBlock (%llu)", next);
    memset(pg, 0, sizeof *pg);
    pg->block = (unsigned long long)block;
    pg->count = (size_t)count;
    pg->bytes = (size_t)bytes;
    return 0;
}

typedef struct invp_array_spec {
    const char *list;  /* "ledgerPages" */
    const char *items; /* "ledger": element messages */
    size_t cap;        /* entries per page */
    size_t elem;
    invj_item_fn fn;
} invp_array_spec;

/* Reads the pages `spec` lists from buf at *pos into the array and map. */
static int invp_decode_pages(const invj_ctx *c, json_t *head, const invp_array_spec *spec,
                             const char *buf, size_t len, size_t *pos, unsigned long long next,
                             void **items, size_t *n, size_t *cap, inv_pagemap *pm)
{
    json_t *list;
    if (invj_field(c, head, spec->list, 1, &list) < 0)
        return -1;
    if (!json_is_array(list))
        return invj_fail(c, spec->list, "must be an array");
    if (json_array_size(list) > INV_MAX_BLOCKS ||
        invj_grow((void **)&pm->pages, &pm->cap_pages, json_array_size(list), sizeof *pm->pages) < 0)
        return invj_fail(c, spec->list, "too many pages");
    pm->tracked = 1;
    for (size_t i = 0; i < json_array_size(list); i++) {
        char pfx[64];
        snprintf(pfx, sizeof pfx, "%s%s[%zu].", c->prefix, spec->list, i);
        invj_ctx sub = {pfx, c->err, c->errlen};
        json_t *e = json_array_get(list, i);
        inv_page *pg = &pm->pages[i];
        if (!json_is_object(e))
            return invj_fail(c, spec->list, "element %zu must be an object", i);
        if (invp_page_entry(&sub, e, spec->cap, next, pg) < 0)
            return -1;
        if (pg->bytes > len - *pos)
            return invj_fail(&sub, "bytes", "page %zu ends past the blob (%zu bytes)", i, len);
        json_error_t je;
        json_t *arr = json_loadb(buf + *pos, pg->bytes, JSON_REJECT_DUPLICATES, &je);
        if (!arr || !json_is_array(arr) || json_array_size(arr) != pg->count) {
            json_decref(arr);
            return invj_fail(&sub, "count", "page is not a JSON array of %zu entries", pg->count);
        }
        int rc = invj_state_items(c, spec->items, arr, items, n, cap, spec->elem, spec->fn);
        json_decref(arr);
        if (rc < 0)
            return -1;
        *pos += pg->bytes;
        pm->n_pages = i + 1;
    }
    return 0;
}

int invj_state_decode_paged(const invj_ctx *c, json_t *head, const char *buf, size_t len,
                            size_t head_len, inv_state *out)
{
    static const invp_array_spec ledger = {"ledgerPages", "ledger", INV_LEDGER_PAGE,
                                           sizeof(inv_ledger_entry), invj_ledger_from_json};
    static const invp_array_spec res = {"reservationPages", "reservations", INV_RESERVATION_PAGE,
                                        sizeof(inv_reservation), invj_reservation_from_json};
    long long next;
    json_t *blocks;
    if (invj_state_common(c, head, out) < 0 || invj_state_tail(c, head, out) < 0 ||
        invj_get_int(c, head, "nextBlock", 1, 0, LLONG_MAX, &next) < 0 ||
        invj_field(c, head, "blocks", 1, &blocks) < 0)
        return -1;
    if (!json_is_boolean(blocks))
        return invj_fail(c, "blocks", "must be a boolean");
    out->next_block = (unsigned long long)next;
    out->blocks_committed = json_is_true(blocks);
    size_t pos = head_len;
    if (invp_decode_pages(c, head, &ledger, buf, len, &pos, out->next_block,
                          (void **)&out->ledger, &out->n_ledger, &out->cap_ledger,
                          &out->ledger_pages) < 0 ||
        invp_decode_pages(c, head, &res, buf, len, &pos, out->next_block,
                          (void **)&out->reservations, &out->n_reservations,
                          &out->cap_reservations, &out->reservation_pages) < 0)
        return -1;
    if (out->n_ledger > INV_LEDGER_MAX)
        return invj_fail(c, "ledger", "must have at most %d entries", INV_LEDGER_MAX);
    if (pos != len)
        return invj_fail(c, "message", "%zu bytes after the last page", len - pos);
    return invj_state_check_reserved(c, out);
}
