/* storage_config.c -- blob client from the shared storage.* keys. */
#include "storage_config.h"

#include <stdio.h>

blob_client *storage_config_blob_client(const config *cfg, char *err, size_t errlen) {
    blob_client_options opts;
    blob_client_options_init(&opts);
    opts.connection_string = config_string(cfg, "storage.connection_string");
    opts.sas_token = config_string(cfg, "storage.sas_token");
    opts.bearer_token = config_string(cfg, "storage.bearer_token");
    opts.bearer_token_file = config_string(cfg, "storage.bearer_token_file");
    opts.use_managed_identity = config_bool(cfg, "storage.managed_identity");
    opts.managed_identity_client_id = config_string(cfg, "storage.managed_identity_client_id");
    opts.ca_file = config_string(cfg, "storage.ca_file");
    opts.request_timeout_ms = (long)config_duration_ms(cfg, "storage.request_timeout");
    blob_error berr;
    blob_client *client = blob_client_new(&opts, &berr);
    if (client == NULL)
        snprintf(err, errlen, "storage: %s", berr.message);
    return client;
}
