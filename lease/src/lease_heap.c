/* lease_heap.c -- binary min-heap of renewal due times.
 *
 * The scheduler keeps every held lease in one heap keyed by its next renewal
 * time, so finding the next lease to renew is O(1) and (re)scheduling one is
 * O(log n) even with thousands of leases. Nodes are embedded in the handles
 * and remember their position, which makes removing an arbitrary handle
 * (released or freed) O(log n) too. Not thread-safe: the caller locks.
 */
#include "lease_internal.h"

#include <stdlib.h>

void lease_heap_init(lease_heap *h)
{
    h->nodes = NULL;
    h->count = h->cap = 0;
}

void lease_heap_free(lease_heap *h)
{
    free(h->nodes);
    lease_heap_init(h);
}

static void heap_set(lease_heap *h, size_t i, lease_heap_node *n)
{
    h->nodes[i] = n;
    n->index = i;
}

static void heap_up(lease_heap *h, size_t i)
{
    lease_heap_node *n = h->nodes[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->nodes[parent]->due_ms <= n->due_ms)
            break;
        heap_set(h, i, h->nodes[parent]);
        i = parent;
    }
    heap_set(h, i, n);
}

static void heap_down(lease_heap *h, size_t i)
{
    lease_heap_node *n = h->nodes[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->nodes[child + 1]->due_ms < h->nodes[child]->due_ms)
            child++;
        if (n->due_ms <= h->nodes[child]->due_ms)
            break;
        heap_set(h, i, h->nodes[child]);
        i = child;
    }
    heap_set(h, i, n);
}

int lease_heap_push(lease_heap *h, lease_heap_node *n)
{
    if (h->count == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        lease_heap_node **nodes = realloc(h->nodes, cap * sizeof(*nodes));
        if (!nodes)
            return -1;
        h->nodes = nodes;
        h->cap = cap;
    }
    heap_set(h, h->count++, n);
    heap_up(h, n->index);
    return 0;
}

lease_heap_node *lease_heap_peek(const lease_heap *h)
{
    return h->count ? h->nodes[0] : NULL;
}

void lease_heap_remove(lease_heap *h, lease_heap_node *n)
{
    size_t i = n->index;
    if (i == LEASE_HEAP_NONE || i >= h->count || h->nodes[i] != n)
        return;
    n->index = LEASE_HEAP_NONE;
    h->count--;
    if (i == h->count)
        return;
    lease_heap_node *moved = h->nodes[h->count];
    heap_set(h, i, moved);
    /* The moved node may belong above or below its new place. */
    heap_up(h, i);
    heap_down(h, moved->index);
}

lease_heap_node *lease_heap_pop(lease_heap *h)
{
    lease_heap_node *n = lease_heap_peek(h);
    if (n)
        lease_heap_remove(h, n);
    return n;
}
