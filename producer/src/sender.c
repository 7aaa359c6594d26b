/* sender.c -- idempotent Kafka producer with a delivery-report thread.
 *
 * Delivery reports are only delivered from rd_kafka_poll, so a small thread
 * polls continuously; that lets the gateway learn about a failed publish
 * while its request thread waits for the outcome. Each message carries its
 * command id (strdup'd) as the message opaque, freed in the report.
 */
#include "sender.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sender {
    rd_kafka_t *rk;
    pthread_t poller;
    atomic_int stop;
    atomic_uint_fast64_t delivered, failures;
    sender_failed_fn failed;
    void *opaque;
    pthread_mutex_t mu; /* guards last_error */
    char last_error[256];
};

static void sender_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    sender *s = opaque;
    char *command_id = m->_private;
    if (m->err) {
        atomic_fetch_add(&s->failures, 1);
        pthread_mutex_lock(&s->mu);
        snprintf(s->last_error, sizeof(s->last_error), "publish to %s: %s",
                 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        pthread_mutex_unlock(&s->mu);
        if (s->failed && command_id)
            s->failed(command_id, rd_kafka_err2str(m->err), s->opaque);
    } else {
        atomic_fetch_add(&s->delivered, 1);
    }
    free(command_id);
}

static void *sender_poll_main(void *arg) {
    sender *s = arg;
    while (!atomic_load(&s->stop))
        rd_kafka_poll(s->rk, 100);
    return NULL;
}

sender *sender_new(const char *brokers, sender_failed_fn failed, void *opaque, char *err,
                   size_t errlen) {
    sender *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "sender: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->failed = failed;
    s->opaque = opaque;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char delivery_timeout[32];
    snprintf(delivery_timeout, sizeof(delivery_timeout), "%d", SENDER_DELIVERY_TIMEOUT_MS);
    const char *settings[][2] = {{"bootstrap.servers", brokers},
                                 {"client.id", "inventory-producer"},
                                 {"enable.idempotence", "true"},
                                 {"linger.ms", "5"},
                                 {"message.timeout.ms", delivery_timeout}};
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, errlen) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            goto err;
        }
    }
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_dr_msg_cb(conf, sender_dr);
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        goto err;
    }
    if (pthread_create(&s->poller, NULL, sender_poll_main, s) != 0) {
        snprintf(err, errlen, "sender: cannot start poll thread");
        rd_kafka_destroy(s->rk);
        goto err;
    }
    return s;
err:
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
}

void sender_free(sender *s) {
    if (!s)
        return;
    rd_kafka_flush(s->rk, 5000);
    atomic_store(&s->stop, 1);
    pthread_join(s->poller, NULL);
    rd_kafka_destroy(s->rk);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int sender_send(sender *s, const char *topic, const char *key, const void *payload, size_t len,
                const char *command_id, char *err, size_t errlen) {
    for (;;) {
        char *id = command_id ? strdup(command_id) : NULL;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
            RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE(id), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        free(id);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            snprintf(err, errlen, "publish to %s: %s", topic, rd_kafka_err2str(e));
            return -1;
        }
        /* The poll thread drains delivery reports; give it room. */
        rd_kafka_poll(s->rk, 10);
    }
}

int sender_prepare(sender *s, const char *topic, int timeout_ms, char *err, size_t errlen) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, topic, NULL);
    if (!rkt) {
        snprintf(err, errlen, "metadata of %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(s->rk, 0, rkt, &md, timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && (md->topic_cnt != 1 || md->topics[0].err))
        e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(err, errlen, "metadata of %s: %s", topic, rd_kafka_err2str(e));
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int sender_flush(sender *s, int timeout_ms) {
    return rd_kafka_flush(s->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

uint64_t sender_delivered(sender *s) {
    return atomic_load(&s->delivered);
}

uint64_t sender_failures(sender *s) {
    return atomic_load(&s->failures);
}

void sender_last_error(sender *s, char *out, size_t cap) {
    pthread_mutex_lock(&s->mu);
    snprintf(out, cap, "%s", s->last_error);
    pthread_mutex_unlock(&s->mu);
}
