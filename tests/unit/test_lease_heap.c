/* test_lease_heap.c -- unit tests of the renewal scheduler's min-heap:
 * ordering, removal of arbitrary nodes and index bookkeeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lease_internal.h"

#define N 500

/* Every node's recorded index matches its slot and no child is earlier
 * than its parent. */
static void assert_heap_valid(const lease_heap *h)
{
    for (size_t i = 0; i < h->count; i++) {
        assert_int_equal(h->nodes[i]->index, i);
        if (i)
            assert_true(h->nodes[(i - 1) / 2]->due_ms <= h->nodes[i]->due_ms);
    }
}

static void test_lease_heap_pop_in_due_order(void **state)
{
    (void)state;
    static lease_heap_node nodes[N];
    lease_heap h;
    lease_heap_init(&h);
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u; /* deterministic shuffle */
        nodes[i].due_ms = (int64_t)(x % 100000);
        nodes[i].index = LEASE_HEAP_NONE;
        assert_int_equal(lease_heap_push(&h, &nodes[i]), 0);
    }
    assert_int_equal(h.count, N);
    assert_heap_valid(&h);
    int64_t last = -1;
    for (int i = 0; i < N; i++) {
        lease_heap_node *n = lease_heap_pop(&h);
        assert_non_null(n);
        assert_true(n->due_ms >= last);
        assert_int_equal(n->index, LEASE_HEAP_NONE);
        last = n->due_ms;
    }
    assert_null(lease_heap_pop(&h));
    assert_null(lease_heap_peek(&h));
    lease_heap_free(&h);
}

static void test_lease_heap_remove_arbitrary(void **state)
{
    (void)state;
    static lease_heap_node nodes[N];
    lease_heap h;
    lease_heap_init(&h);
    for (int i = 0; i < N; i++) {
        nodes[i].due_ms = (int64_t)((i * 7919) % N);
        nodes[i].index = LEASE_HEAP_NONE;
        assert_int_equal(lease_heap_push(&h, &nodes[i]), 0);
    }
    /* Remove every third node, some twice (the second time is a no-op). */
    for (int i = 0; i < N; i += 3) {
        lease_heap_remove(&h, &nodes[i]);
        assert_int_equal(nodes[i].index, LEASE_HEAP_NONE);
        lease_heap_remove(&h, &nodes[i]);
        assert_heap_valid(&h);
    }
    assert_int_equal(h.count, N - (N + 2) / 3);
    /* A removed node can be queued again with a new due time. */
    nodes[0].due_ms = -5;
    assert_int_equal(lease_heap_push(&h, &nodes[0]), 0);
    assert_ptr_equal(lease_heap_peek(&h), &nodes[0]);
    size_t popped = 0;
    int64_t last = -10;
    lease_heap_node *n;
    while ((n = lease_heap_pop(&h)) != NULL) {
        assert_true(n->due_ms >= last);
        last = n->due_ms;
        popped++;
    }
    assert_int_equal(popped, N - (N + 2) / 3 + 1);
    lease_heap_free(&h);
}

static void test_lease_heap_equal_due_times(void **state)
{
    (void)state;
    lease_heap_node a = {100, LEASE_HEAP_NONE}, b = {100, LEASE_HEAP_NONE},
                    c = {50, LEASE_HEAP_NONE};
    lease_heap h;
    lease_heap_init(&h);
    assert_int_equal(lease_heap_push(&h, &a), 0);
    assert_int_equal(lease_heap_push(&h, &b), 0);
    assert_int_equal(lease_heap_push(&h, &c), 0);
    assert_ptr_equal(lease_heap_pop(&h), &c);
    lease_heap_node *first = lease_heap_pop(&h);
    lease_heap_node *second = lease_heap_pop(&h);
    assert_true((first == &a && second == &b) || (first == &b && second == &a));
    lease_heap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_heap_pop_in_due_order),
        cmocka_unit_test(test_lease_heap_remove_arbitrary),
        cmocka_unit_test(test_lease_heap_equal_due_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
