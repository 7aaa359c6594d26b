/* publisher.c -- idempotent Kafka producer for events and dead letters
 * (see publisher.h).
 *
 * Every message carries a small heap "ticket" as its opaque: for events it
 * points at the sender's batch (a counter under the publisher's mutex; a
 * sender abandoned at shutdown leaves the batch to its last report), for
 * dead letters it holds a copy of the record so a failed delivery can be
 * produced again from the delivery-report callback. The polling thread calls
 * rd_kafka_poll() in a loop, which is where delivery reports run.
 */
#include "publisher.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define PUB_PURGE_REPORTS_MS 1000 /* serving the purge's reports at close is local work */

/* One publisher_send_events call. Heap-allocated and guarded by the
 * publisher's `mu`: a waiter that gives up (publisher_abandon) leaves it to
 * the last delivery report to free. */
typedef struct pub_batch {
    size_t remaining; /* delivery reports still due */
    int waiting;      /* the sender still waits for them */
    int failed;
    char error[256];
} pub_batch;

typedef struct pub_ticket {
    pub_batch *batch;   /* events */
    char *key, *record; /* dead letters: kept to re-send */
    size_t key_len;
    void (*done)(void *opaque);
    void *opaque;
} pub_ticket;

struct publisher {
    rd_kafka_t *rk;
    char *events_topic, *dlq_topic;
    pthread_t poller;
    atomic_int stop;
    atomic_int healthy;
    pthread_mutex_t mu; /* every pub_batch */
    pthread_cond_t cv;  /* a batch's last report arrived, or abandoned */
    int abandoned;
};

/* Frees `b` once nobody needs it any more; called with p->mu held. */
static void pub_batch_release(pub_batch *b) {
    if (b->remaining == 0 && !b->waiting)
        free(b);
}

static int pub_produce_dead_letter(publisher *p, pub_ticket *t) {
    rd_kafka_resp_err_t rc = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(p->dlq_topic), RD_KAFKA_V_KEY(t->key, t->key_len),
        RD_KAFKA_V_VALUE(t->record, strlen(t->record)), RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
    return rc == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

static void pub_ticket_free(pub_ticket *t) {
    free(t->key);
    free(t->record);
    free(t);
}

/* Runs on the polling thread. */
static void pub_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    publisher *p = opaque;
    pub_ticket *t = m->_private;
    (void)rk;
    atomic_store(&p->healthy, m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
    if (t->batch) {
        pub_batch *b = t->batch;
        pthread_mutex_lock(&p->mu);
        if (m->err && !b->failed) {
            b->failed = 1;
            snprintf(b->error, sizeof(b->error), "deliver event to %s: %s",
                     rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        }
        if (--b->remaining == 0)
            pthread_cond_broadcast(&p->cv);
        pub_batch_release(b);
        pthread_mutex_unlock(&p->mu);
        free(t);
        return;
    }
    if (m->err) {
        /* A dead letter must not be lost: its offset is finished only once
         * it is delivered, so keep trying until the publisher closes (its
         * offset then stays unstored and the bad command is read again). */
        int again = !atomic_load(&p->stop);
        log_warn("dead letter delivery failed (%s)%s", rd_kafka_err2str(m->err),
                 again ? "; sending again" : "; closing, its command will be read again");
        if (again && pub_produce_dead_letter(p, t) == 0)
            return;
        pub_ticket_free(t);
        return;
    }
    t->done(t->opaque);
    pub_ticket_free(t);
}

static void *pub_poll_thread(void *arg) {
    publisher *p = arg;
    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->rk, 100);
    return NULL;
}

static int pub_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
                        size_t errlen) {
    char detail[256];
    if (rd_kafka_conf_set(conf, name, value, detail, sizeof(detail)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "producer config %s: %s", name, detail);
        return -1;
    }
    return 0;
}

publisher *publisher_new(const publisher_options *opts, char *err, size_t errlen) {
    publisher *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "publisher: out of memory");
        return NULL;
    }
    atomic_init(&p->healthy, 1);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->events_topic = strdup(opts->events_topic);
    p->dlq_topic = strdup(opts->dlq_topic);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%d", opts->delivery_timeout_ms);
    if (pub_conf_set(conf, "bootstrap.servers", opts->brokers, err, errlen) != 0 ||
        pub_conf_set(conf, "client.id", opts->client_id, err, errlen) != 0 ||
        pub_conf_set(conf, "enable.idempotence", "true", err, errlen) != 0 ||
        pub_conf_set(conf, "acks", "all", err, errlen) != 0 ||
        pub_conf_set(conf, "linger.ms", "2", err, errlen) != 0 ||
        pub_conf_set(conf, "message.timeout.ms", timeout, err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        goto err;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, pub_delivery_report);
    rd_kafka_conf_set_opaque(conf, p);
    char detail[256];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, detail, sizeof(detail));
    if (p->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "create producer: %s", detail);
        goto err;
    }
    if (pthread_create(&p->poller, NULL, pub_poll_thread, p) != 0) {
        snprintf(err, errlen, "create producer: cannot start polling thread");
        rd_kafka_destroy(p->rk);
        p->rk = NULL;
        goto err;
    }
    return p;
err:
    free(p->events_topic);
    free(p->dlq_topic);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
}

void publisher_free(publisher *p, int timeout_ms) {
    if (p == NULL)
        return;
    rd_kafka_flush(p->rk, timeout_ms); /* serves delivery reports itself */
    atomic_store(&p->stop, 1);
    pthread_join(p->poller, NULL);
    if (rd_kafka_outq_len(p->rk) > 0) {
        log_warn("producer closing with %d undelivered messages", rd_kafka_outq_len(p->rk));
        /* Their owners replay them (offsets not stored). Purged messages get
         * a failed report, which frees their tickets (and an abandoned
         * batch); a dead letter is not sent again once `stop` is set. */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(p->rk, PUB_PURGE_REPORTS_MS);
    }
    rd_kafka_destroy(p->rk);
    free(p->events_topic);
    free(p->dlq_topic);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void publisher_abandon(publisher *p) {
    pthread_mutex_lock(&p->mu);
    p->abandoned = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int publisher_send_events(publisher *p, const inv_event *events, size_t n, char *err,
                          size_t errlen) {
    if (n == 0)
        return 0;
    pthread_mutex_lock(&p->mu);
    int abandoned = p->abandoned;
    pthread_mutex_unlock(&p->mu);
    pub_batch *b = abandoned ? NULL : calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(err, errlen, "publish %zu events: %s", n,
                 abandoned ? "abandoned at shutdown" : "out of memory");
        return -1;
    }
    b->waiting = 1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char *json = inv_event_encode(&events[i]);
        pub_ticket *t = calloc(1, sizeof(*t));
        if (json == NULL || t == NULL) {
            free(json);
            free(t);
            snprintf(err, errlen, "encode event %s: out of memory", events[i].event_id);
            rc = -1;
            break;
        }
        t->batch = b;
        pthread_mutex_lock(&p->mu);
        b->remaining++;
        pthread_mutex_unlock(&p->mu);
        rd_kafka_resp_err_t perr = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(p->events_topic),
            RD_KAFKA_V_KEY(events[i].product_id, strlen(events[i].product_id)),
            RD_KAFKA_V_VALUE(json, strlen(json)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
            RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
        if (perr != RD_KAFKA_RESP_ERR_NO_ERROR) {
            free(json);
            free(t);
            pthread_mutex_lock(&p->mu);
            b->remaining--;
            pthread_mutex_unlock(&p->mu);
            atomic_store(&p->healthy, 0);
            snprintf(err, errlen, "produce event to %s: %s", p->events_topic,
                     rd_kafka_err2str(perr));
            rc = -1;
            break;
        }
    }
    /* Wait for every report we queued, even after an error, unless the
     * publisher is abandoned: the batch is then left to its last report. */
    pthread_mutex_lock(&p->mu);
    while (b->remaining > 0 && !p->abandoned)
        pthread_cond_wait(&p->cv, &p->mu);
    if (rc == 0 && b->remaining > 0) {
        snprintf(err, errlen, "deliver %zu events to %s: abandoned at shutdown", b->remaining,
                 p->events_topic);
        rc = -1;
    } else if (rc == 0 && b->failed) {
        snprintf(err, errlen, "%s", b->error);
        rc = -1;
    }
    b->waiting = 0;
    pub_batch_release(b);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int publisher_send_dead_letter(publisher *p, const char *key, size_t key_len, const char *record,
                               void (*done)(void *opaque), void *opaque) {
    pub_ticket *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    t->record = strdup(record);
    t->key = key_len ? malloc(key_len) : NULL;
    if (t->record == NULL || (key_len && t->key == NULL)) {
        pub_ticket_free(t);
        return -1;
    }
    if (key_len)
        memcpy(t->key, key, key_len);
    t->key_len = key_len;
    t->done = done;
    t->opaque = opaque;
    if (pub_produce_dead_letter(p, t) != 0) {
        pub_ticket_free(t);
        atomic_store(&p->healthy, 0);
        return -1;
    }
    return 0;
}

int publisher_healthy(publisher *p) {
    return atomic_load(&p->healthy);
}
