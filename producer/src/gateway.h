/* gateway.h -- the REST gateway of `inventory-producer serve`.
 *
 * Serves the original sample's API (design.md section 3) over
 * libmicrohttpd, one thread per connection because a request blocks until
 * its outcome event arrives:
 *   POST /api/inventory/{productId}/reserve  {"quantity":5,"customerId":"CUST-123"}
 *   POST /api/inventory/{productId}/release  {"quantity":5,"customerId":"..."} |
 * {"reservationId":"..."} GET  /api/inventory/{productId}          state read from the blob, no
 * lease GET  /healthz POSTs publish a command and wait (producer.outcome_timeout) for its outcome
 * through one shared tracker: 200 / 404 / 409 from the outcome, 400 for invalid input, 503 when
 * publishing failed, 504 when no outcome came in time.
 */
#ifndef PRODUCER_GATEWAY_H
#define PRODUCER_GATEWAY_H

#include <stddef.h>

#include "config.h"

typedef struct gateway gateway;

/* Connects to Kafka and storage and starts listening on `listen`
 * ("ADDR:PORT", IPv4). `cfg` is borrowed until gateway_stop. NULL with err. */
gateway *gateway_start(config *cfg, const char *listen, char *err, size_t errlen);
/* Stops accepting, finishes running requests, frees. NULL is a no-op. */
void gateway_stop(gateway *g);

/* Parses "ADDR:PORT" (IPv4 dotted quad, port 1..65535). 0, or -1 with err. */
int gateway_parse_listen(const char *listen, char addr[64], unsigned short *port, char *err,
                         size_t errlen);

#endif
