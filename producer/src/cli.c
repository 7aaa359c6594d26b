/* cli.c -- restock / reserve / release / get from the command line.
 *
 * Order matters for --wait: the tracker assigns the events topic at its
 * high watermark and the command is registered before it is published, so
 * its outcome cannot slip past unseen however fast the worker is.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "producer_config.h"
#include "rest.h"
#include "sender.h"
#include "state_blob.h"
#include "tracker.h"

/* The command-line fields as a JSON object for command_build. */
static json_t *cli_fields(const producer_args *a) {
    json_t *f = json_object();
    if (!f)
        return NULL;
    if (a->quantity)
        json_object_set_new(f, "quantity", command_number_text(a->quantity));
    if (a->customer)
        json_object_set_new(f, "customerId", json_string(a->customer));
    if (a->reservation)
        json_object_set_new(f, "reservationId", json_string(a->reservation));
    if (a->ttl)
        json_object_set_new(f, "ttlSeconds", command_number_text(a->ttl));
    return f;
}

static inv_command_type cli_type(args_command c) {
    switch (c) {
    case ARGS_RESERVE:
        return INV_CMD_RESERVE;
    case ARGS_RELEASE:
        return INV_CMD_RELEASE;
    default:
        return INV_CMD_RESTOCK;
    }
}

int cli_send(config *cfg, const producer_args *a) {
    char err[512];
    inv_command cmd;
    json_t *fields = cli_fields(a);
    int rc = command_build(cli_type(a->command), a->command_id, a->product, fields, &cmd, err,
                           sizeof(err));
    json_decref(fields);
    if (rc != 0) {
        fprintf(stderr, "inventory-producer: invalid command: %s\n", err);
        return REST_EXIT_ERROR;
    }
    char *payload = inv_command_encode(&cmd);
    if (!payload) {
        fprintf(stderr, "inventory-producer: out of memory\n");
        return REST_EXIT_ERROR;
    }
    const char *brokers = config_string(cfg, "kafka.brokers");
    const char *topic = config_string(cfg, command_topic_key(cmd.type));
    long long timeout_ms = config_duration_ms(cfg, "producer.outcome_timeout");
    int exit_code = REST_EXIT_ERROR;
    tracker *t = NULL;
    sender *s = NULL;

    if (a->wait) {
        tracker_options to = {.brokers = brokers,
                              .events_topic = config_string(cfg, "topic.events")};
        t = tracker_new(&to, err, sizeof(err));
        if (!t || tracker_expect(t, cmd.command_id, 1) != 0) {
            fprintf(stderr, "inventory-producer: %s\n", t ? "out of memory" : err);
            goto out;
        }
    }
    s = sender_new(brokers, NULL, NULL, err, sizeof(err));
    if (!s || sender_send(s, topic, cmd.product_id, payload, strlen(payload), cmd.command_id, err,
                          sizeof(err)) != 0) {
        fprintf(stderr, "inventory-producer: %s\n", err);
        goto out;
    }
    /* Delivery has its own bound (message.timeout.ms); the outcome timeout
     * starts once the command is in Kafka. */
    if (sender_flush(s, SENDER_DELIVERY_TIMEOUT_MS + 5000) != 0 || sender_failures(s) > 0) {
        sender_last_error(s, err, sizeof(err));
        fprintf(stderr, "inventory-producer: %s\n", err[0] ? err : "publish: not delivered");
        goto out;
    }
    if (!t) {
        printf("sent %s %s for %s to %s\n", inv_command_type_name(cmd.type), cmd.command_id,
               cmd.product_id, topic);
        exit_code = REST_EXIT_OK;
        goto out;
    }
    inv_event ev;
    if (tracker_wait(t, cmd.command_id, timeout_ms, &ev, err, sizeof(err)) != 0) {
        fprintf(stderr, "inventory-producer: %s\n", err);
        goto out;
    }
    char *text = inv_event_encode(&ev);
    printf("%s\n", text ? text : "");
    free(text);
    exit_code = rest_exit_code_for_event(&ev);
out:
    sender_free(s);
    tracker_free(t);
    free(payload);
    return exit_code;
}

int cli_get(config *cfg, const char *product_id) {
    char err[512];
    if (command_check_product(product_id, err, sizeof(err)) != 0) {
        fprintf(stderr, "inventory-producer: %s\n", err);
        return REST_EXIT_ERROR;
    }
    blob_client *c = storage_config_blob_client(cfg, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "inventory-producer: %s\n", err);
        return REST_EXIT_ERROR;
    }
    inv_state st;
    state_blob_result rc = state_blob_read_product(c, config_string(cfg, "storage.container"),
                                                   product_id, &st, err, sizeof(err));
    int exit_code = REST_EXIT_ERROR;
    if (rc == STATE_BLOB_ABSENT) {
        fprintf(stderr, "inventory-producer: product %s not found\n", product_id);
        exit_code = REST_EXIT_REJECTED;
    } else if (rc != STATE_BLOB_OK) {
        fprintf(stderr, "inventory-producer: state of %s: %s\n", product_id, err);
    } else {
        char *text = inv_state_view_encode(&st);
        inv_state_clear(&st);
        if (text) {
            printf("%s\n", text);
            exit_code = REST_EXIT_OK;
        }
        free(text);
    }
    blob_client_free(c);
    return exit_code;
}
