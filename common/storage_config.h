/* storage_config.h -- the storage keys every Leasehold program shares.
 *
 * Worker and producer talk to the same storage account, so they accept the
 * same keys: a connection string (Azurite's UseDevelopmentStorage=true, an
 * account key or a SAS), or a bearer token (static, a token file re-read when
 * it changes, or managed identity) for real Azure over HTTPS. A program puts
 * STORAGE_CONFIG_KEYS into its key table and asks storage_config_blob_client
 * for a client; the keys marked secret are never echoed in errors or logs.
 */
#ifndef LEASEHOLD_STORAGE_CONFIG_H
#define LEASEHOLD_STORAGE_CONFIG_H

#include <stddef.h>

#include "config.h"
#include "leasehold/blob.h"

#define STORAGE_CONFIG_KEYS                                                                    \
    {"storage.connection_string", CONFIG_STRING, "UseDevelopmentStorage=true", 0, 0, 1,         \
     "Azure Storage connection string (Azurite: UseDevelopmentStorage=true)"},                  \
        {"storage.sas_token", CONFIG_STRING, NULL, 0, 0, 1,                                     \
         "SAS token; overrides the connection string's SharedAccessSignature"},                 \
        {"storage.bearer_token", CONFIG_STRING, NULL, 0, 0, 1,                                  \
         "Static OAuth bearer token for storage (HTTPS endpoints only)"},                       \
        {"storage.bearer_token_file", CONFIG_STRING, NULL, 0, 0, 0,                             \
         "File holding a bearer token, re-read when it changes (HTTPS only)"},                  \
        {"storage.managed_identity", CONFIG_BOOL, "false", 0, 0, 0,                             \
         "Get bearer tokens from the managed-identity endpoint (HTTPS only)"},                  \
        {"storage.managed_identity_client_id", CONFIG_STRING, NULL, 0, 0, 0,                    \
         "Client id of a user-assigned managed identity"},                                      \
        {"storage.ca_file", CONFIG_STRING, NULL, 0, 0, 0,                                       \
         "CA bundle (PEM) to trust for an HTTPS storage endpoint"},                             \
        {"storage.request_timeout", CONFIG_DURATION, "10s", 100, 600000, 0,                     \
         "Timeout of one storage request"},                                                     \
        {"storage.container", CONFIG_STRING, "inventory", 0, 0, 0,                              \
         "Container of product state blobs ({productId}.json, each leased by its writer)"}

/* A blob client for the storage.* keys of `cfg`. NULL with `err` set
 * ("storage: connection string: ...") on failure; never echoes a secret. */
blob_client *storage_config_blob_client(const config *cfg, char *err, size_t errlen);

#endif
