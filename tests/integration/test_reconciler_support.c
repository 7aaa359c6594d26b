/* test_reconciler_support.c -- see test_reconciler_support.h. A plain
 * assign()ed consumer with enable.partition.eof tells when the end of the
 * partition has been reached, so "exactly N messages" is checked without
 * sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_reconciler_support.h"

#include <stdio.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static int64_t rec_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

rec_consumed rec_consume(const char *brokers, const char *topic, const char *group,
                         size_t expect, int timeout_ms) {
    rec_consumed out = {0};
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[] = {"bootstrap.servers", brokers, "group.id", group,
                        "enable.partition.eof", "true", "enable.auto.commit", "false",
                        "log_level", "0", NULL};
    for (size_t i = 0; kv[i]; i += 2)
        assert_int_equal(rd_kafka_conf_set(conf, kv[i], kv[i + 1], errstr, sizeof(errstr)),
                         RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    int at_end = 0;
    int64_t deadline = rec_monotonic_ms() + timeout_ms;
    while (!(at_end && out.n >= expect) && rec_monotonic_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end = 1;
        } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            char err[256];
            assert_true(out.n < REC_MAX_CONSUMED);
            snprintf(out.key[out.n], sizeof(out.key[0]), "%.*s", (int)m->key_len,
                     (const char *)m->key);
            assert_int_equal(
                inv_command_decode(m->payload, m->len, &out.cmd[out.n], err, sizeof(err)), 0);
            out.n++;
            at_end = 0;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

void rec_assert_expire(const rec_consumed *c, size_t i, const char *product,
                       const char *reservation_id, int64_t issued_at_ms) {
    char command_id[INV_ID_MAX + 8];
    snprintf(command_id, sizeof(command_id), "expire-%s", reservation_id);
    assert_true(i < c->n);
    assert_string_equal(c->key[i], product);
    assert_int_equal(c->cmd[i].type, INV_CMD_EXPIRE);
    assert_string_equal(c->cmd[i].command_id, command_id);
    assert_string_equal(c->cmd[i].product_id, product);
    assert_string_equal(c->cmd[i].reservation_id, reservation_id);
    if (issued_at_ms)
        assert_true(c->cmd[i].issued_at_ms == issued_at_ms);
}
