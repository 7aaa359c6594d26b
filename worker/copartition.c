/* copartition.c -- the co-partitioning checks (see copartition.h).
 *
 * copartition_aligned collects, per topic, the sorted partition numbers a
 * member owns and compares every topic's list with the first one's; the
 * first difference found names a partition and the topic it lacks a partner
 * in. Assignments hold at most a few thousand partitions, so sorting copies
 * is cheap and keeps the function free of librdkafka types (unit-testable).
 */
#include "copartition.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int copartition_check(const copartition_topic *topics, size_t n, char *err, size_t errlen) {
    int first = -1, equal = 1;
    for (size_t i = 0; i < n; i++) {
        if (topics[i].partitions < 0)
            continue;
        if (first < 0)
            first = topics[i].partitions;
        else if (topics[i].partitions != first)
            equal = 0;
    }
    if (equal)
        return 0;
    size_t used = (size_t)snprintf(err, errlen, "command topics are not co-partitioned:");
    for (size_t i = 0; i < n && used < errlen; i++) {
        if (topics[i].partitions < 0)
            used += (size_t)snprintf(err + used, errlen - used, "%s %s (not created yet)",
                                     i ? "," : "", topics[i].name);
        else
            used += (size_t)snprintf(err + used, errlen - used, "%s %s has %d partitions",
                                     i ? "," : "", topics[i].name, topics[i].partitions);
    }
    if (used < errlen)
        snprintf(err + used, errlen - used,
                 "; give them equal partition counts so one worker owns all of a product's "
                 "commands");
    return -1;
}

static int copart_cmp(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The sorted partition numbers of `topic` among parts; *count set. NULL
 * with *count 0 when there are none, or on OOM (*oom set). */
static int32_t *copart_numbers(const char *topic, const copartition_part *parts, size_t n,
                               size_t *count, int *oom) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += strcmp(parts[i].topic, topic) == 0;
    *count = k;
    if (k == 0)
        return NULL;
    int32_t *nums = malloc(k * sizeof(*nums));
    if (nums == NULL) {
        *oom = 1;
        return NULL;
    }
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(parts[i].topic, topic) == 0)
            nums[k++] = parts[i].partition;
    qsort(nums, k, sizeof(*nums), copart_cmp);
    return nums;
}

/* The first partition number in exactly one of the two sorted lists; *in_a
 * says which. -1 when the lists are equal. */
static int32_t copart_first_difference(const int32_t *a, size_t na, const int32_t *b, size_t nb,
                                       int *in_a) {
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        if (j == nb || (i < na && a[i] < b[j])) {
            *in_a = 1;
            return a[i];
        }
        if (i == na || b[j] < a[i]) {
            *in_a = 0;
            return b[j];
        }
        i++;
        j++;
    }
    return -1;
}

int copartition_aligned(const char *const *topics, size_t ntopics, const copartition_part *parts,
                        size_t n, char *detail, size_t cap) {
    if (ntopics < 2)
        return 1;
    int oom = 0, aligned = 1;
    size_t n0 = 0;
    int32_t *first = copart_numbers(topics[0], parts, n, &n0, &oom);
    for (size_t t = 1; t < ntopics && aligned && !oom; t++) {
        size_t nt = 0;
        int32_t *nums = copart_numbers(topics[t], parts, n, &nt, &oom);
        int in_first = 0;
        int32_t p = oom ? -1 : copart_first_difference(first, n0, nums, nt, &in_first);
        if (p >= 0) {
            aligned = 0;
            snprintf(detail, cap, "%s/%d is assigned here but %s/%d is not",
                     in_first ? topics[0] : topics[t], (int)p, in_first ? topics[t] : topics[0],
                     (int)p);
        }
        free(nums);
    }
    free(first);
    return oom ? -1 : aligned;
}
