/* blob.h -- a small Azure Blob Storage REST client.
 *
 * Just the operations Leasehold needs: containers, block blobs with their
 * metadata, blob leases and listing. Requests go over libcurl with keep-alive
 * connections that are reused across calls; a blob_client may be shared by
 * any number of threads (each call borrows a connection from a small pool).
 *
 * Authentication comes from the connection string (SharedKey signing with
 * the account key, or a SAS token) or from a bearer token (static, a token
 * file re-read when it changes, or the managed-identity endpoint). Keys,
 * signatures and tokens never appear in an error message or a log line.
 *
 * Data operations (put, get, metadata, list, container) are retried with
 * exponential backoff and jitter on 5xx, 408, timeouts and connection errors,
 * never on a definitive 4xx. Lease operations are sent exactly once: the
 * lease engine retries them itself against its own safe deadline.
 *
 * libcurl must be initialised by the program: call curl_global_init() once
 * from main (before any thread starts and before the first blob_client_new)
 * and curl_global_cleanup() after the last blob_client_free().
 *
 * Every call returns a blob_code (BLOB_OK = 0) and, when `err` is not NULL,
 * fills it with the HTTP status, the storage error code parsed from the
 * x-ms-error-code header or the XML body, and a readable message of the form
 * "operation container/blob: cause (HTTP 409 LeaseAlreadyPresent)".
 */
#ifndef LEASEHOLD_BLOB_H
#define LEASEHOLD_BLOB_H

#include <stddef.h>

typedef enum blob_code {
    BLOB_OK = 0,
    BLOB_ERR_INVALID,      /* bad argument or configuration (message names it) */
    BLOB_ERR_NOMEM,
    BLOB_ERR_NOT_FOUND,    /* HTTP 404: container or blob does not exist */
    BLOB_ERR_CONFLICT,     /* HTTP 409: e.g. LeaseAlreadyPresent, LeaseIdMismatchWithLeaseOperation */
    BLOB_ERR_PRECONDITION, /* HTTP 412: lease id missing/mismatch, If-Match failed */
    BLOB_ERR_AUTH,         /* HTTP 401/403 */
    BLOB_ERR_HTTP,         /* any other definitive HTTP 4xx */
    BLOB_ERR_TRANSIENT     /* 5xx, 408, timeout or connection error (after retries, if any) */
} blob_code;

/* Static text for a code, e.g. "precondition failed". Never NULL. */
const char *blob_strerror(blob_code code);

/* True for codes worth retrying later (BLOB_ERR_TRANSIENT only). */
int blob_code_is_transient(blob_code code);

typedef struct blob_error {
    blob_code code;
    long http_status;       /* 0 when no response was received */
    char storage_code[64];  /* e.g. "LeaseAlreadyPresent"; "" when none */
    char message[320];      /* readable, never contains a secret */
} blob_error;

/* Metadata: small fixed-size name/value list, no allocation. Names are
 * C identifiers (the service lower-cases them); values are ASCII. */
#define BLOB_META_MAX 16
typedef struct blob_meta {
    int count;
    struct {
        char name[64];
        char value[256];
    } item[BLOB_META_MAX];
} blob_meta;

/* Value of `name` (case-insensitive) or NULL. */
const char *blob_meta_get(const blob_meta *meta, const char *name);
/* Adds or replaces; returns BLOB_ERR_INVALID when full or too long. */
blob_code blob_meta_set(blob_meta *meta, const char *name, const char *value);

/* Preconditions for one request; any field may be NULL. */
typedef struct blob_conditions {
    const char *lease_id;      /* x-ms-lease-id */
    const char *if_match;      /* ETag, or "*" */
    const char *if_none_match; /* ETag, or "*" for create-only */
} blob_conditions;

typedef struct blob_props {
    char etag[128];
    long long content_length;
    char lease_status[16];   /* "locked" | "unlocked" */
    char lease_state[16];    /* "available" | "leased" | "expired" | "breaking" | "broken" */
    char lease_duration[16]; /* "infinite" | "fixed" | "" */
    blob_meta meta;
} blob_props;

typedef struct blob_client_options {
    const char *connection_string; /* required; "UseDevelopmentStorage=true" for Azurite */
    const char *sas_token;         /* overrides SharedAccessSignature from the string */
    const char *bearer_token;      /* static OAuth token (HTTPS only) */
    const char *bearer_token_file; /* e.g. AZURE_FEDERATED_TOKEN_FILE style; re-read on change */
    int use_managed_identity;      /* fetch tokens from the IMDS/identity endpoint */
    const char *managed_identity_endpoint;  /* default IMDS address */
    const char *managed_identity_client_id; /* user-assigned identity, optional */
    const char *ca_file;           /* extra CA bundle for HTTPS, optional */
    long connect_timeout_ms;       /* default 5000 */
    long request_timeout_ms;       /* default 10000 */
    int max_retries;               /* data operations; default 3 */
    int retry_base_ms;             /* first backoff, default 100 */
    int retry_max_ms;              /* backoff cap, default 2000 */
} blob_client_options;

/* Fills defaults (all strings NULL). */
void blob_client_options_init(blob_client_options *opts);

typedef struct blob_client blob_client;

/* Parses the options and prepares the connection pool. Strings are copied.
 * Auth precedence: a bearer source (exactly one of bearer_token,
 * bearer_token_file, use_managed_identity; needs an https endpoint) >
 * sas_token > the string's SharedAccessSignature > its AccountKey.
 * Returns NULL and fills `err` (naming the bad connection-string part or
 * option) on failure. */
blob_client *blob_client_new(const blob_client_options *opts, blob_error *err);
/* NULL is a no-op. */
void blob_client_free(blob_client *client);
/* For a shutdown deadline: every request of this client, the ones in
 * flight (within about a second: libcurl's progress interval) and every
 * later one, fails at once with BLOB_ERR_TRANSIENT "aborted: the client is
 * shutting down", without retries. Irrevocable; thread-safe. */
void blob_client_abort(blob_client *client);
/* Account name and base endpoint, e.g. "devstoreaccount1",
 * "http://127.0.0.1:10000/devstoreaccount1". Borrowed. */
const char *blob_client_account(const blob_client *client);
const char *blob_client_endpoint(const blob_client *client);

/* Creates the container; BLOB_OK when it already exists. */
blob_code blob_container_create(blob_client *c, const char *container, blob_error *err);
/* Deletes the container (tests and tools); BLOB_OK when absent. */
blob_code blob_container_delete(blob_client *c, const char *container, blob_error *err);

/* Put Block Blob. `meta` replaces all metadata (NULL = none). `etag_out`
 * (128 bytes, may be NULL) receives the new ETag. */
blob_code blob_put(blob_client *c, const char *container, const char *name, const void *data,
                   size_t len, const char *content_type, const blob_meta *meta,
                   const blob_conditions *cond, char *etag_out, blob_error *err);

/* ---- Block operations ------------------------------------------------
 * A block blob is a committed list of blocks; Put Block stages one block
 * and Put Block List commits a list of ids as the blob's new content, in
 * order. A listed id names the block staged most recently under it, or
 * else the committed one (the "Latest" rule), so a commit can keep
 * unchanged blocks without sending them again. The service allows 50,000
 * committed blocks per blob and requires all ids of one blob to have the
 * same length. Both requests honour x-ms-lease-id like Put Blob. */
#define BLOB_BLOCK_ID_MAX 64 /* base64 text incl. NUL; ids here are 32 characters */
#define BLOB_BLOCKS_MAX 50000

/* The id of block number `n` of a blob: base64 of "lhblk-" and 18 decimal
 * digits, so every id has 32 characters. */
void blob_block_id(unsigned long long n, char out[BLOB_BLOCK_ID_MAX]);

/* Put Block: stages `len` bytes as `block_id` (base64, at most 64 bytes
 * decoded). Only cond->lease_id applies. Retried like blob_put. */
blob_code blob_put_block(blob_client *c, const char *container, const char *name,
                         const char *block_id, const void *data, size_t len,
                         const blob_conditions *cond, blob_error *err);

/* Put Block List: commits ids[0..n) (1..BLOB_BLOCKS_MAX) as the content.
 * Like blob_put it replaces the content type and all metadata (`meta`
 * NULL = none); `etag_out` (128 bytes, may be NULL) gets the new ETag. */
blob_code blob_put_block_list(blob_client *c, const char *container, const char *name,
                              const char *const *ids, size_t n, const char *content_type,
                              const blob_meta *meta, const blob_conditions *cond, char *etag_out,
                              blob_error *err);

/* Bytes of the XML body blob_put_block_list sends for `n` ids of `id_len`
 * characters (for byte accounting). */
size_t blob_block_list_body_len(size_t n, size_t id_len);

/* Get Blob. On success *data is malloc'd (NUL-terminated for convenience,
 * *len excludes the NUL) and owned by the caller; `props` may be NULL.
 * An If-None-Match that matches (HTTP 304) gives BLOB_ERR_PRECONDITION. */
blob_code blob_get(blob_client *c, const char *container, const char *name,
                   const blob_conditions *cond, char **data, size_t *len, blob_props *props,
                   blob_error *err);

/* Get Blob Properties (HEAD). */
blob_code blob_get_properties(blob_client *c, const char *container, const char *name,
                              const blob_conditions *cond, blob_props *props, blob_error *err);

/* Set Blob Metadata: replaces all metadata. */
blob_code blob_set_metadata(blob_client *c, const char *container, const char *name,
                            const blob_meta *meta, const blob_conditions *cond, blob_error *err);

blob_code blob_delete(blob_client *c, const char *container, const char *name,
                      const blob_conditions *cond, blob_error *err);

/* Lease operations (sent once, never retried here). `duration_s` is 15..60
 * or -1 (infinite) and is always sent. `proposed_id` must be a GUID (NULL:
 * a random one is made). `lease_id_out` has room for 64 bytes. */
blob_code blob_lease_acquire(blob_client *c, const char *container, const char *name,
                             int duration_s, const char *proposed_id, char *lease_id_out,
                             blob_error *err);
blob_code blob_lease_renew(blob_client *c, const char *container, const char *name,
                           const char *lease_id, blob_error *err);
blob_code blob_lease_release(blob_client *c, const char *container, const char *name,
                             const char *lease_id, blob_error *err);
blob_code blob_lease_change(blob_client *c, const char *container, const char *name,
                            const char *lease_id, const char *proposed_id, blob_error *err);
/* `break_period_s` 0..60, or -1 for the service default (break at the end of
 * the current period). `remaining_s` (may be NULL) gets x-ms-lease-time. */
blob_code blob_lease_break(blob_client *c, const char *container, const char *name,
                           int break_period_s, int *remaining_s, blob_error *err);

/* Lists blob names starting with `prefix` (NULL = all), following
 * continuation markers; `page_size` 1..5000 (0 = service default). The
 * callback returns 0 to continue, non-zero to stop early (BLOB_OK). */
typedef int (*blob_list_cb)(const char *name, void *opaque);
blob_code blob_list(blob_client *c, const char *container, const char *prefix, int page_size,
                    blob_list_cb cb, void *opaque, blob_error *err);

/* One blob of a listing, borrowed for the duration of the callback. `meta`
 * is never NULL; it is empty unless the listing asked for metadata. Names
 * come as the service spells them (Azurite capitalises the first letter in
 * listings), so look values up with blob_meta_get, which ignores case. */
typedef struct blob_list_item {
    const char *name;
    const blob_meta *meta;
} blob_list_item;
typedef int (*blob_list_item_cb)(const blob_list_item *item, void *opaque);

typedef struct blob_list_options {
    const char *prefix;   /* NULL = all */
    int page_size;        /* maxresults 1..5000; 0 = the service default (5000) */
    int include_metadata; /* include=metadata: every item's metadata, same request */
} blob_list_options;

/* blob_list with metadata: one List Blobs request per page (retries of a
 * page aside), following NextMarker. `opts` NULL = all defaults. `pages`
 * (may be NULL) receives the number of pages answered, also on failure, so
 * callers can count their list requests. The callback returns non-zero to
 * stop early (BLOB_OK). Metadata entries that do not fit blob_meta (past
 * BLOB_META_MAX, or a longer name or value) are left out, never truncated. */
blob_code blob_list_items(blob_client *c, const char *container, const blob_list_options *opts,
                          blob_list_item_cb cb, void *opaque, size_t *pages, blob_error *err);

/* Writes a random (version 4) GUID, 37 bytes with the NUL. */
void blob_new_guid(char out[37]);

#endif
