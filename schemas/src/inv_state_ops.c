/* inv_state_ops.c -- bookkeeping helpers on a decoded product state:
 * reservations, the duplicate-detection ledger, applied offsets and the
 * outbox.
 *
 * All are linear scans over small arrays: a product holds at most
 * INV_LEDGER_MAX ledger entries, a handful of offsets and of pending
 * events, and its active reservations; a scan is cheaper than keeping an
 * index in sync with a blob that is decoded afresh after every lease
 * change. Removal keeps order (memmove) because order carries meaning:
 * releases by customer take the oldest reservation first and the ledger
 * evicts its oldest entry. */
#include <stdio.h>
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

int inv_state_add_reservation(inv_state *st, const inv_reservation *r)
{
    if (inv_state_find_reservation(st, r->reservation_id))
        return 1;
    if (invj_grow((void **)&st->reservations, &st->cap_reservations, st->n_reservations + 1,
                  sizeof *st->reservations) < 0)
        return -1;
    st->reservations[st->n_reservations++] = *r;
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
