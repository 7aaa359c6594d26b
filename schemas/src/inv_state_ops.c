/* inv_state_ops.c -- bookkeeping helpers on a decoded product state:
 * reservations, the duplicate-detection ledger, applied offsets and the
 * outbox.
 *
 * Lookups are linear scans: a product holds at most INV_LEDGER_MAX ledger
 * entries, a handful of offsets and of pending events, and its active
 * reservations. Only the reserve path, which must prove a new id absent,
 * is helped by a set of id hashes (a hot product adds thousands of
 * reservations per second to tens of thousands). Adds, removals and
 * in-place changes also tell the page maps of the paged layout which page
 * changed (inv_state_paged.c). Removal keeps order (memmove) because order carries meaning:
 * releases by customer take the oldest reservation first and the ledger
 * evicts its oldest entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv_json_internal.h"

/* Removes element i of an array of n elements of `elem` bytes. */
static void inv_state_erase(void *arr, size_t *n, size_t i, size_t elem)
{
    char *base = arr;
    memmove(base + i * elem, base + (i + 1) * elem, (*n - i - 1) * elem);
    (*n)--;
}

inv_reservation *inv_state_find_reservation(inv_state *st, const char *reservation_id)
{
    for (size_t i = 0; i < st->n_reservations; i++)
        if (strcmp(st->reservations[i].reservation_id, reservation_id) == 0)
            return &st->reservations[i];
    return NULL;
}

/* ---- id set: a negative filter for the duplicate check of an add ----------
 * Open addressing over 64-bit FNV-1a hashes (0 = empty). Removals leave
 * their hash behind (the set is a superset of the live ids), so "absent"
 * is always right and "present" falls back to the scan; the set is rebuilt
 * from the array when stale entries outnumber the live ones. */

static uint64_t inv_state_id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ? h : 1;
}

/* 1 when found or inserted (`insert`), 0 when absent. */
static int inv_state_id_set_probe(uint64_t *set, size_t cap, uint64_t h, int insert)
{
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (set[i] == h)
            return 1;
        if (set[i] == 0) {
            if (insert)
                set[i] = h;
            return insert;
        }
    }
}

/* (Re)builds the set for the current reservations with room to grow;
 * -1 on OOM (the caller then scans). */
static int inv_state_id_set_build(inv_state *st)
{
    size_t cap = 64;
    while (cap < 4 * (st->n_reservations + 16))
        cap *= 2;
    uint64_t *set = calloc(cap, sizeof(*set));
    if (!set)
        return -1;
    free(st->id_set);
    st->id_set = set;
    st->id_set_cap = cap;
    st->id_set_used = 0;
    for (size_t i = 0; i < st->n_reservations; i++)
        inv_state_id_set_probe(set, cap, inv_state_id_hash(st->reservations[i].reservation_id), 1);
    st->id_set_used = st->n_reservations;
    return 0;
}

/* 0 when `id` is surely not a current reservation, 1 when it may be. */
static int inv_state_id_maybe(inv_state *st, const char *id)
{
    if ((!st->id_set || 2 * (st->id_set_used + 1) > st->id_set_cap) &&
        inv_state_id_set_build(st) < 0)
        return 1;
    return inv_state_id_set_probe(st->id_set, st->id_set_cap, inv_state_id_hash(id), 0);
}

int inv_state_add_reservation(inv_state *st, const inv_reservation *r)
{
    if (inv_state_id_maybe(st, r->reservation_id) &&
        inv_state_find_reservation(st, r->reservation_id))
        return 1;
    if (invj_grow((void **)&st->reservations, &st->cap_reservations, st->n_reservations + 1,
                  sizeof *st->reservations) < 0)
        return -1;
    st->reservations[st->n_reservations++] = *r;
    if (st->id_set) {
        st->id_set_used++;
        inv_state_id_set_probe(st->id_set, st->id_set_cap, inv_state_id_hash(r->reservation_id), 1);
    }
    invp_note_append(&st->reservation_pages, INV_RESERVATION_PAGE);
    return 0;
}

int inv_state_remove_reservation(inv_state *st, const char *reservation_id)
{
    inv_reservation *r = inv_state_find_reservation(st, reservation_id);
    if (!r)
        return -1;
    size_t i = (size_t)(r - st->reservations);
    inv_state_erase(st->reservations, &st->n_reservations, i, sizeof *r);
    invp_note_remove(&st->reservation_pages, i);
    return 0;
}

void inv_state_touch_reservation(inv_state *st, const inv_reservation *r)
{
    if (r >= st->reservations && r < st->reservations + st->n_reservations)
        invp_note_touch(&st->reservation_pages, (size_t)(r - st->reservations));
}

const inv_ledger_entry *inv_state_ledger_find(const inv_state *st, const char *command_id)
{
    /* Newest first: a client retry usually follows its original closely. */
    for (size_t i = st->n_ledger; i-- > 0;)
        if (strcmp(st->ledger[i].command_id, command_id) == 0)
            return &st->ledger[i];
    return NULL;
}

int inv_state_ledger_add(inv_state *st, const inv_event *outcome, int64_t applied_at_ms)
{
    if (inv_state_ledger_find(st, outcome->command_id))
        return 1;
    if (st->n_ledger >= INV_LEDGER_MAX) {
        inv_state_erase(st->ledger, &st->n_ledger, 0, sizeof *st->ledger);
        invp_note_remove(&st->ledger_pages, 0);
    }
    if (invj_grow((void **)&st->ledger, &st->cap_ledger, st->n_ledger + 1, sizeof *st->ledger) < 0)
        return -1;
    invp_note_append(&st->ledger_pages, INV_LEDGER_PAGE);
    inv_ledger_entry *l = &st->ledger[st->n_ledger++];
    memset(l, 0, sizeof *l);
    snprintf(l->command_id, sizeof l->command_id, "%s", outcome->command_id);
    l->outcome = outcome->type;
    snprintf(l->event_id, sizeof l->event_id, "%s", outcome->event_id);
    l->applied_at_ms = applied_at_ms;
    snprintf(l->reason, sizeof l->reason, "%s", outcome->reason);
    snprintf(l->reservation_id, sizeof l->reservation_id, "%s", outcome->reservation_id);
    snprintf(l->customer_id, sizeof l->customer_id, "%s", outcome->customer_id);
    l->quantity = outcome->quantity;
    l->expires_at_ms = outcome->expires_at_ms;
    snprintf(l->message, sizeof l->message, "%s", outcome->message);
    return 0;
}

/* "topic/partition" into key, zero-padded so whole structs compare equal;
 * -1 if it does not fit. */
static int inv_state_offset_key(char key[sizeof ((inv_applied_offset *)0)->topic_partition],
                                const char *topic, int32_t partition)
{
    memset(key, 0, sizeof ((inv_applied_offset *)0)->topic_partition);
    int n = snprintf(key, sizeof ((inv_applied_offset *)0)->topic_partition, "%s/%d", topic,
                     (int)partition);
    return (n < 0 || (size_t)n >= sizeof ((inv_applied_offset *)0)->topic_partition) ? -1 : 0;
}

static inv_applied_offset *inv_state_offset_find(const inv_state *st, const char *key)
{
    for (size_t i = 0; i < st->n_offsets; i++)
        if (strcmp(st->offsets[i].topic_partition, key) == 0)
            return &st->offsets[i];
    return NULL;
}

int64_t inv_state_offset_get(const inv_state *st, const char *topic, int32_t partition)
{
    char key[sizeof st->offsets->topic_partition];
    if (inv_state_offset_key(key, topic, partition) < 0)
        return -1;
    const inv_applied_offset *ao = inv_state_offset_find(st, key);
    return ao ? ao->offset : -1;
}

int inv_state_offset_set(inv_state *st, const char *topic, int32_t partition, int64_t offset)
{
    char key[sizeof st->offsets->topic_partition];
    if (inv_state_offset_key(key, topic, partition) < 0)
        return -1;
    inv_applied_offset *ao = inv_state_offset_find(st, key);
    if (!ao) {
        if (invj_grow((void **)&st->offsets, &st->cap_offsets, st->n_offsets + 1,
                      sizeof *st->offsets) < 0)
            return -1;
        ao = &st->offsets[st->n_offsets++];
        memcpy(ao->topic_partition, key, sizeof key);
    }
    ao->offset = offset;
    return 0;
}

static size_t inv_state_outbox_index(const inv_state *st, const char *event_id)
{
    size_t i = 0;
    while (i < st->n_outbox && strcmp(st->outbox[i].event_id, event_id) != 0)
        i++;
    return i;
}

int inv_state_outbox_add(inv_state *st, const inv_event *ev)
{
    if (inv_state_outbox_index(st, ev->event_id) < st->n_outbox)
        return 1;
    if (invj_grow((void **)&st->outbox, &st->cap_outbox, st->n_outbox + 1, sizeof *st->outbox) < 0)
        return -1;
    st->outbox[st->n_outbox++] = *ev;
    return 0;
}

int inv_state_outbox_remove(inv_state *st, const char *event_id)
{
    size_t i = inv_state_outbox_index(st, event_id);
    if (i == st->n_outbox)
        return -1;
    inv_state_erase(st->outbox, &st->n_outbox, i, sizeof *st->outbox);
    return 0;
}
