/* test_reconciler_support.h -- helpers shared by the reconciler tests (unit,
 * against librdkafka's mock cluster, and integration, against Kafka): read
 * the admin topic back and check the expire commands on it. Failures are
 * cmocka assertions, so call these from a test's own thread. */
#ifndef LEASEHOLD_TEST_RECONCILER_SUPPORT_H
#define LEASEHOLD_TEST_RECONCILER_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "leasehold/inventory_schema.h"

#define REC_MAX_CONSUMED 8

typedef struct rec_consumed {
    size_t n;
    char key[REC_MAX_CONSUMED][INV_PRODUCT_MAX + 1];
    inv_command cmd[REC_MAX_CONSUMED];
} rec_consumed;

/* Reads partition 0 of `topic` from the beginning until its end has been
 * reached with at least `expect` messages decoded, or `timeout_ms` passed.
 * Every message must decode as a command. */
rec_consumed rec_consume(const char *brokers, const char *topic, const char *group,
                         size_t expect, int timeout_ms);

/* Message `i` is the expire command of `reservation_id` keyed by `product`;
 * `issued_at_ms` is checked unless 0. */
void rec_assert_expire(const rec_consumed *c, size_t i, const char *product,
                       const char *reservation_id, int64_t issued_at_ms);

#endif
