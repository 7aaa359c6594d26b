/* pipeline_config.h -- configuration keys every Leasehold program shares.
 *
 * Worker and producer must agree on where commands and events flow and how
 * they log, so both key tables take these entries from one place (storage
 * keys live in storage_config.h, beside the function that uses them).
 */
#ifndef LEASEHOLD_PIPELINE_CONFIG_H
#define LEASEHOLD_PIPELINE_CONFIG_H

#include "config.h"

#define KAFKA_CONFIG_KEYS                                                                      \
    {"kafka.brokers", CONFIG_STRING, "127.0.0.1:9092", 0, 0, 0,                                 \
     "Kafka bootstrap servers (host:port,...)"},                                                \
        {"topic.reservations", CONFIG_STRING, "inventory.reservations", 0, 0, 0,                \
         "Topic of reserve commands"},                                                          \
        {"topic.releases", CONFIG_STRING, "inventory.releases", 0, 0, 0,                        \
         "Topic of release commands"},                                                          \
        {"topic.admin", CONFIG_STRING, "inventory.admin", 0, 0, 0,                              \
         "Topic of restock and expire commands"},                                               \
        {"topic.events", CONFIG_STRING, "inventory.events", 0, 0, 0,                            \
         "Topic of outcome events (key = productId)"},                                          \
        {"topic.dlq", CONFIG_STRING, "inventory.dlq", 0, 0, 0,                                  \
         "Topic of dead letters (rejected input with reason)"}

#define LOG_CONFIG_KEYS                                                                        \
    {"log.level", CONFIG_STRING, "info", 0, 0, 0, "debug, info, warn or error"},                \
        {"log.json", CONFIG_BOOL, "false", 0, 0, 0, "One JSON object per log line"}

#endif
