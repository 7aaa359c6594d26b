/* test_inventory_schema_paged.c -- unit tests of the paged state layout
 * (schema v2): exact round trips v1 -> v2 and v2 -> v2, which pages a
 * change sends (reserve into the tail page, release by id, partial
 * release, ledger eviction), merging of underfull pages, the single Put
 * Blob threshold and decode errors.
 *
 * A tiny block store stands in for the blob: a write stores the parts that
 * carry data under their block numbers, and the blob's bytes are the
 * committed list's blocks in order, exactly as Put Block List assembles
 * them. Every check decodes that assembled blob and compares it with the
 * in-memory state through the v1 encoding (every field, in order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leasehold/inventory_schema.h"

#define STORE_MAX 4096

typedef struct store {
    char *block[STORE_MAX];
    size_t len[STORE_MAX];
    char *blob;
    size_t blob_len;
} store;

static void store_free(store *s)
{
    for (size_t i = 0; i < STORE_MAX; i++)
        free(s->block[i]);
    free(s->blob);
    memset(s, 0, sizeof *s);
}

/* Puts the parts with data, then commits the list: the blob's new bytes. */
static void store_write(store *s, const inv_state_paged *p)
{
    for (size_t i = 0; i < p->n_parts; i++) {
        const inv_state_part *part = &p->parts[i];
        assert_true(part->block < STORE_MAX);
        if (!part->data)
            continue;
        free(s->block[part->block]);
        s->block[part->block] = malloc(part->len);
        memcpy(s->block[part->block], part->data, part->len);
        s->len[part->block] = part->len;
    }
    free(s->blob);
    s->blob = malloc(p->total_bytes + 1);
    s->blob_len = 0;
    for (size_t i = 0; i < p->n_parts; i++) {
        const inv_state_part *part = &p->parts[i];
        assert_non_null(s->block[part->block]);
        assert_int_equal(s->len[part->block], part->len);
        memcpy(s->blob + s->blob_len, s->block[part->block], part->len);
        s->blob_len += part->len;
    }
    assert_int_equal(s->blob_len, p->total_bytes);
}

static inv_reservation make_reservation(size_t i)
{
    inv_reservation r = {.quantity = (long long)(i % 7) + 1,
                         .created_at_ms = 1700000000000LL + (int64_t)i,
                         .expires_at_ms = 1700001800000LL + (int64_t)i};
    snprintf(r.reservation_id, sizeof r.reservation_id, "res-%zu", i);
    snprintf(r.customer_id, sizeof r.customer_id, "cust-%zu", i % 13);
    return r;
}

static void add_reservation(inv_state *st, size_t i)
{
    inv_reservation r = make_reservation(i);
    assert_int_equal(inv_state_add_reservation(st, &r), 0);
    st->reserved += r.quantity;
    st->available -= r.quantity;
}

static void remove_reservation(inv_state *st, size_t i)
{
    char id[32];
    snprintf(id, sizeof id, "res-%zu", i);
    inv_reservation *r = inv_state_find_reservation(st, id);
    assert_non_null(r);
    st->reserved -= r->quantity;
    st->available += r->quantity;
    assert_int_equal(inv_state_remove_reservation(st, id), 0);
}

static void add_ledger(inv_state *st, size_t i)
{
    inv_event ev = {.type = INV_EV_RESERVATION_CREATED, .quantity = 2};
    snprintf(ev.command_id, sizeof ev.command_id, "cmd-%zu", i);
    inv_event_id(ev.command_id, ev.type, ev.event_id);
    snprintf(ev.reservation_id, sizeof ev.reservation_id, "res-%zu", i);
    strcpy(ev.customer_id, "cust-1");
    strcpy(ev.message, "Successfully reserved 2 units");
    assert_true(inv_state_ledger_add(st, &ev, 1700000000000LL + (int64_t)i) >= 0);
}

/* n reservations, a full ledger, one offset, one pending event. */
static void build_state(inv_state *st, size_t n)
{
    inv_state_init(st, "PROD-001");
    st->available = 1000000000;
    st->total = st->available;
    for (size_t i = 0; i < n; i++)
        add_reservation(st, i);
    for (size_t i = 0; i < INV_LEDGER_MAX; i++)
        add_ledger(st, i);
    assert_int_equal(inv_state_offset_set(st, "inventory.reservations", 3, 1041), 0);
    inv_event ev = {.type = INV_EV_STOCK_RESTOCKED, .quantity = 5, .total = 5, .available = 5};
    strcpy(ev.command_id, "restock-1");
    strcpy(ev.product_id, "PROD-001");
    strcpy(ev.message, "Restocked 5 units");
    inv_event_id(ev.command_id, ev.type, ev.event_id);
    assert_int_equal(inv_state_outbox_add(st, &ev), 0);
    st->updated_at_ms = 1700000009999LL;
}

/* The blob in the store decodes to exactly `st`. */
static void assert_blob_is(const store *s, const inv_state *st)
{
    inv_state back;
    char err[256] = "";
    if (inv_state_decode(s->blob, s->blob_len, &back, err, sizeof err) != 0)
        fail_msg("decode: %s", err);
    char *want = inv_state_encode(st), *got = inv_state_encode(&back);
    assert_string_equal(got, want);
    free(want);
    free(got);
    inv_state_clear(&back);
}

/* Encodes (blocks only), writes into the store, commits; returns how many
 * parts carried data. */
static size_t write_paged(inv_state *st, store *s, inv_state_paged *p)
{
    char err[128];
    assert_int_equal(inv_state_encode_paged(st, 0, p, err, sizeof err), 0);
    assert_false(p->single);
    store_write(s, p);
    inv_state_paged_committed(st, p);
    return p->n_send;
}

/* Replaces *st by the decoding of the store's blob (a new lease holder). */
static void reload(inv_state *st, const store *s)
{
    inv_state_clear(st);
    char err[256] = "";
    if (inv_state_decode(s->blob, s->blob_len, st, err, sizeof err) != 0)
        fail_msg("decode: %s", err);
}

/* A state of n reservations, written as blocks and read back as a new
 * lease holder would. */
static void start_written(inv_state *st, store *s, size_t n)
{
    inv_state_paged p;
    build_state(st, n);
    write_paged(st, s, &p);
    inv_state_paged_free(&p);
    reload(st, s);
}

static void test_round_trip_v1_to_v2_exact(void **state)
{
    (void)state;
    inv_state st, v1;
    build_state(&st, 600);
    char *doc = inv_state_encode(&st);
    char err[256];
    assert_int_equal(inv_state_decode(doc, strlen(doc), &v1, err, sizeof err), 0);
    free(doc);
    assert_int_equal(v1.reservation_pages.tracked, 0);
    assert_int_equal(v1.blocks_committed, 0);
    store s = {0};
    inv_state_paged p;
    /* First write after a v1 read: every part, as blocks. */
    assert_int_equal(write_paged(&v1, &s, &p), 1 + 8 + 3);
    assert_int_equal(p.n_parts, 1 + 8 + 3);
    assert_int_equal(v1.ledger_pages.n_pages, 8);
    assert_int_equal(v1.reservation_pages.n_pages, 3);
    assert_int_equal(v1.reservation_pages.pages[0].count, 256);
    assert_int_equal(v1.reservation_pages.pages[1].count, 256);
    assert_int_equal(v1.reservation_pages.pages[2].count, 88);
    assert_int_equal(p.parts[0].block, 0);
    assert_int_equal(p.parts[11].block, 11);
    assert_int_equal(v1.next_block, 12);
    assert_memory_equal(s.blob, "{\"schemaVersion\":2,\"productId\":\"PROD-001\",", 42);
    assert_blob_is(&s, &st);
    inv_state_paged_free(&p);

    /* v2 -> v2: the decoded state knows its pages and writes only the head. */
    inv_state again;
    assert_int_equal(inv_state_decode(s.blob, s.blob_len, &again, err, sizeof err), 0);
    assert_int_equal(again.blocks_committed, 1);
    assert_int_equal(again.next_block, 12);
    assert_int_equal(again.reservation_pages.n_pages, 3);
    assert_int_equal(again.reservation_pages.pages[2].block, 11);
    assert_int_equal(write_paged(&again, &s, &p), 1);
    assert_int_equal(p.parts[0].block, 12);
    for (size_t i = 1; i < p.n_parts; i++)
        assert_null(p.parts[i].data);
    assert_blob_is(&s, &st);
    inv_state_paged_free(&p);
    inv_state_clear(&again);
    inv_state_clear(&v1);
    inv_state_clear(&st);
    store_free(&s);
}

static void test_reserve_into_three_pages_sends_tail_and_head(void **state)
{
    (void)state;
    inv_state st;
    store s = {0};
    inv_state_paged p;
    start_written(&st, &s, 600);
    for (size_t i = 600; i < 610; i++)
        add_reservation(&st, i);
    /* Ten reserves: the tail reservation page and the head; the ledger is
     * untouched here (the test adds reservations only). */
    assert_int_equal(write_paged(&st, &s, &p), 2);
    assert_non_null(p.parts[0].data);
    assert_non_null(p.parts[p.n_parts - 1].data);
    assert_int_equal(st.reservation_pages.pages[2].count, 98);
    assert_int_equal(p.send_bytes, p.parts[0].len + p.parts[p.n_parts - 1].len);
    assert_blob_is(&s, &st);
    inv_state_paged_free(&p);

    /* Filling the tail past a page opens a new page: 158 more -> 256 + 0,
     * one more -> a fourth page; both new blocks go out with the head. */
    for (size_t i = 610; i < 769; i++)
        add_reservation(&st, i);
    assert_int_equal(write_paged(&st, &s, &p), 3);
    assert_int_equal(st.reservation_pages.n_pages, 4);
    assert_int_equal(st.reservation_pages.pages[2].count, 256);
    assert_int_equal(st.reservation_pages.pages[3].count, 1);
    assert_blob_is(&s, &st);
    inv_state_paged_free(&p);
    inv_state_clear(&st);
    store_free(&s);
}

static void test_release_by_id_touches_one_page(void **state)
{
    (void)state;
    inv_state st;
    store s = {0};
    inv_state_paged p;
    start_written(&st, &s, 600);
    unsigned long long before[3];
    for (int i = 0; i < 3; i++)
        before[i] = st.reservation_pages.pages[i].block;
    remove_reservation(&st, 300); /* page 1 */
    assert_int_equal(write_paged(&st, &s, &p), 2);
    assert_int_equal(st.reservation_pages.pages[0].block, before[0]);
    assert_true(st.reservation_pages.pages[1].block != before[1]);
    assert_int_equal(st.reservation_pages.pages[2].block, before[2]);
    assert_int_equal(st.reservation_pages.pages[1].count, 255);
    assert_blob_is(&s, &st);
    inv_state_paged_free(&p);

    /* A partial release changes a reservation in place: its page only. */
    inv_reservation *r = inv_state_find_reservation(&st, "res-13"); /* page 0, quantity 7 */
    assert_non_null(r);
    r->quantity -= 3;
    st.reserved -= 3;
    st.available += 3;
    inv_state_touch_reservation(&st, r);
    before[1] = st.reservation_pages.pages[1].block;
    assert_int_equal(write_paged(&st, &s, &p), 2);
    assert_true(st.reservation_pages.pages[0].block != before[0]);
    assert_int_equal(st.reservation_pages.pages[1].block, before[1]);
    assert_blob_is(&s, &st);
    inv_state_paged_free(&p);
    inv_state_clear(&st);
    store_free(&s);
}

static void test_underfull_pages_merge(void **state)
{
    (void)state;
    inv_state st;
    store s = {0};
    inv_state_paged p;
    start_written(&st, &s, 600);
    /* Page 1 (res-256..511) down to 56 (< 64, a quarter): merged into the
     * tail page of 88 -> one page of 144; storage follows live state. */
    for (size_t i = 256; i < 456; i++)
        remove_reservation(&st, i);
    assert_int_equal(write_paged(&st, &s, &p), 2);
    assert_int_equal(st.reservation_pages.n_pages, 2);
    assert_int_equal(st.reservation_pages.pages[0].count, 256);
    assert_int_equal(st.reservation_pages.pages[1].count, 144);
    assert_int_equal(p.n_parts, 1 + 8 + 2);
    assert_blob_is(&s, &st);
    inv_state_paged_free(&p);

    /* All of a page gone: it leaves the block list, nothing else is sent. */
    for (size_t i = 0; i < 256; i++)
        remove_reservation(&st, i);
    assert_int_equal(write_paged(&st, &s, &p), 1);
    assert_int_equal(st.reservation_pages.n_pages, 1);
    assert_int_equal(p.n_parts, 1 + 8 + 1);
    assert_blob_is(&s, &st);
    inv_state_paged_free(&p);
    inv_state_clear(&st);
    store_free(&s);
}

static void test_ledger_eviction_sends_first_and_last_ledger_page(void **state)
{
    (void)state;
    inv_state st;
    store s = {0};
    inv_state_paged p;
    start_written(&st, &s, 10);
    add_ledger(&st, 1000); /* evicts cmd-0 from page 0; page 7 is full: a new page */
    assert_int_equal(write_paged(&st, &s, &p), 3);
    assert_non_null(p.parts[1].data);
    assert_null(p.parts[8].data);
    assert_non_null(p.parts[9].data);
    assert_int_equal(st.ledger_pages.n_pages, 9);
    assert_int_equal(st.ledger_pages.pages[0].count, 31);
    assert_int_equal(st.ledger_pages.pages[8].count, 1);
    assert_int_equal(st.n_ledger, INV_LEDGER_MAX);
    assert_blob_is(&s, &st);
    inv_state_paged_free(&p);
    /* 31 more: page 0 empties and leaves the list; the tail fills up. */
    for (size_t i = 1001; i < 1032; i++)
        add_ledger(&st, i);
    assert_int_equal(write_paged(&st, &s, &p), 2);
    assert_int_equal(st.ledger_pages.n_pages, 8);
    assert_int_equal(st.ledger_pages.pages[7].count, 32);
    assert_blob_is(&s, &st);
    inv_state_paged_free(&p);
    inv_state_clear(&st);
    store_free(&s);
}

static void test_small_state_goes_as_single_put(void **state)
{
    (void)state;
    inv_state st;
    build_state(&st, 3);
    inv_state_paged p;
    char err[128];
    assert_int_equal(inv_state_encode_paged(&st, 1 << 20, &p, err, sizeof err), 0);
    assert_true(p.single);
    assert_int_equal(p.n_send, p.n_parts);
    char *blob = inv_state_paged_join(&p);
    assert_non_null(blob);
    assert_int_equal(strlen(blob), p.total_bytes);
    inv_state_paged_committed(&st, &p);
    assert_int_equal(st.blocks_committed, 0);
    inv_state back;
    assert_int_equal(inv_state_decode(blob, p.total_bytes, &back, err, sizeof err), 0);
    assert_int_equal(back.blocks_committed, 0);
    assert_true(strstr(blob, "\"blocks\":false") != NULL);
    inv_state_paged_free(&p);
    /* Grown past the threshold: the first block write sends every part,
     * since no committed block backs the pages yet. */
    assert_int_equal(inv_state_encode_paged(&back, 0, &p, err, sizeof err), 0);
    assert_false(p.single);
    assert_int_equal(p.n_send, p.n_parts);
    inv_state_paged_free(&p);
    inv_state_clear(&back);
    free(blob);
    inv_state_clear(&st);
}

static void test_decode_errors(void **state)
{
    (void)state;
    inv_state st, out;
    build_state(&st, 300);
    store s = {0};
    inv_state_paged p;
    write_paged(&st, &s, &p);
    char err[256];
    /* truncated: the last page ends past the blob */
    assert_int_equal(inv_state_decode(s.blob, s.blob_len - 1, &out, err, sizeof err), -1);
    char want[128];
    snprintf(want, sizeof want, "reservationPages[1].bytes: page 1 ends past the blob (%zu bytes)",
             s.blob_len - 1);
    assert_string_equal(err, want);
    /* trailing bytes after the last page */
    char *longer = malloc(s.blob_len + 2);
    memcpy(longer, s.blob, s.blob_len);
    memcpy(longer + s.blob_len, "[]", 2);
    assert_int_equal(inv_state_decode(longer, s.blob_len + 2, &out, err, sizeof err), -1);
    assert_string_equal(err, "message: 2 bytes after the last page");
    /* a page whose count disagrees with the head */
    char *c = strstr(s.blob, "\"count\":256");
    assert_non_null(c);
    memcpy(c, "\"count\":255", 11);
    assert_int_equal(inv_state_decode(s.blob, s.blob_len, &out, err, sizeof err), -1);
    assert_string_equal(err, "reservationPages[0].count: page is not a JSON array of 255 entries");
    free(longer);
    inv_state_paged_free(&p);
    inv_state_clear(&st);
    store_free(&s);
}

/* The id set behind inv_state_add_reservation's duplicate check: an id
 * already present is refused across set rebuilds and removals, a removed id
 * may be added again, and a state decoded from a blob (no set yet) still
 * refuses its own ids. */
static void test_add_reservation_duplicates_with_id_set(void **state)
{
    (void)state;
    inv_state st;
    inv_state_init(&st, "PROD-001");
    for (size_t i = 0; i < 3000; i++) {
        inv_reservation r = make_reservation(i);
        assert_int_equal(inv_state_add_reservation(&st, &r), 0);
        if (i % 7 == 0) { /* an old one again: refused */
            inv_reservation again = make_reservation(i / 2);
            assert_int_equal(inv_state_add_reservation(&st, &again), 1);
        }
    }
    assert_int_equal(st.n_reservations, 3000);
    for (size_t i = 0; i < 3000; i += 2)
        assert_int_equal(inv_state_remove_reservation(&st, make_reservation(i).reservation_id), 0);
    inv_reservation gone = make_reservation(10), kept = make_reservation(11);
    assert_int_equal(inv_state_add_reservation(&st, &gone), 0);
    assert_int_equal(inv_state_add_reservation(&st, &kept), 1);
    assert_int_equal(st.n_reservations, 1501);
    assert_string_equal(st.reservations[1500].reservation_id, "res-10");

    st.reserved = 0;
    for (size_t i = 0; i < st.n_reservations; i++)
        st.reserved += st.reservations[i].quantity;
    st.total = st.reserved;
    char *doc = inv_state_encode(&st), err[128];
    inv_state back;
    assert_int_equal(inv_state_decode(doc, strlen(doc), &back, err, sizeof err), 0);
    assert_null(back.id_set);
    assert_int_equal(inv_state_add_reservation(&back, &kept), 1);
    assert_int_equal(inv_state_add_reservation(&back, &gone), 1);
    assert_non_null(back.id_set);
    free(doc);
    inv_state_clear(&back);
    inv_state_clear(&st);
}

/* ---- schemas/v2/examples ------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* Each valid example decodes and re-encodes (v1) to the same state as its
 * paged encoding; each invalid one fails with the message listed for it. */
static void test_v2_examples(void **state)
{
    (void)state;
    const char *src = getenv("LEASEHOLD_SOURCE_DIR");
    assert_non_null(src);
    char path[1024], err[256];
    size_t len;
    const char *valid[] = {"product-state.paged.blob", "product-state.single.blob"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/schemas/v2/examples/valid/%s", src, valid[i]);
        char *buf = read_file(path, &len);
        inv_state st;
        if (inv_state_decode(buf, len, &st, err, sizeof err) != 0)
            fail_msg("%s: %s", valid[i], err);
        assert_int_equal(st.n_reservations, 2);
        assert_int_equal(st.reserved, 14);
        assert_int_equal(st.n_ledger, 1);
        assert_int_equal(st.blocks_committed, i == 0);
        assert_int_equal(st.next_block, 3);
        inv_state_clear(&st);
        free(buf);
    }
    snprintf(path, sizeof path, "%s/schemas/v2/examples/invalid/expected-errors.tsv", src);
    char *tsv = read_file(path, &len);
    tsv[len] = '\0';
    int n = 0;
    for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        snprintf(path, sizeof path, "%s/schemas/v2/examples/invalid/%s", src, line);
        size_t blen;
        char *buf = read_file(path, &blen);
        inv_state st;
        assert_int_equal(inv_state_decode(buf, blen, &st, err, sizeof err), -1);
        assert_string_equal(err, tab + 1);
        free(buf);
        n++;
    }
    assert_int_equal(n, 5);
    free(tsv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_v1_to_v2_exact),
        cmocka_unit_test(test_reserve_into_three_pages_sends_tail_and_head),
        cmocka_unit_test(test_release_by_id_touches_one_page),
        cmocka_unit_test(test_underfull_pages_merge),
        cmocka_unit_test(test_ledger_eviction_sends_first_and_last_ledger_page),
        cmocka_unit_test(test_small_state_goes_as_single_put),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_v2_examples),
        cmocka_unit_test(test_add_reservation_duplicates_with_id_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
