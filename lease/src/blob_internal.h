/* blob_internal.h -- what the blob client's source files share inside leasehold_lease.
 *
 * The public contract is leasehold/blob.h. This header splits the client into
 * one concept per file:
 *   storage_connstr.c   connection string -> storage_account (endpoint, key, SAS)
 *   storage_sharedkey.c SharedKey string-to-sign and HMAC-SHA256 signature
 *   storage_token.c     bearer tokens: static, token file, managed identity
 *   storage_error.c     codes, messages, tiny XML reader (error body, listing)
 *   storage_url.c       percent-encoding of blob names and query values
 *   blob_http.c         curl handle pool, one request with retries, fault hook
 *   blob_client.c       the operations of blob.h on top of blob_http.c
 *   blob_meta.c         blob_meta helpers and GUIDs
 * Nothing here is stable API; tests include it to reach the pure functions.
 */
#ifndef LEASEHOLD_BLOB_INTERNAL_H
#define LEASEHOLD_BLOB_INTERNAL_H

#include "leasehold/blob.h"

#include <stddef.h>
#include <stdint.h>

/* Service version sent as x-ms-version. Azurite 3.35 accepts it without
 * --skipApiVersionCheck, and it is new enough for bearer tokens (>= 2017-11-09). */
#define STORAGE_API_VERSION "2021-12-02"

/* ---- storage_connstr.c ------------------------------------------------- */

/* The Azurite account; its key is public (documented by Microsoft). */
#define STORAGE_DEV_ACCOUNT "devstoreaccount1"
#define STORAGE_DEV_KEY                                                                            \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define STORAGE_DEV_ENDPOINT "http://127.0.0.1:10000/" STORAGE_DEV_ACCOUNT

typedef struct storage_account {
    char *account;      /* account name (from AccountName or derived from the endpoint) */
    char *endpoint;     /* base URL without trailing '/', e.g. http://127.0.0.1:10000/acct */
    const char *path;   /* points into endpoint: its path part ("" or "/acct") */
    int https;          /* endpoint scheme is https */
    unsigned char *key; /* decoded AccountKey, NULL when none */
    size_t key_len;
    char *sas; /* SharedAccessSignature without leading '?', NULL when none */
} storage_account;

/* Parses a connection string. Returns BLOB_OK, or BLOB_ERR_INVALID with a
 * message "connection string: ..." naming the offending part (never a key or
 * SAS value), or BLOB_ERR_NOMEM. On error `out` is left empty. */
blob_code storage_connstr_parse(const char *text, storage_account *out, char *err, size_t errlen);
/* Frees the strings (wiping the key) and zeroes `a`; safe on an empty one. */
void storage_account_clear(storage_account *a);
/* Strict base64 decode (padding required, no whitespace). Returns the
 * decoded length or -1 when invalid; `out` needs room for len/4*3 bytes. */
long storage_base64_decode(const char *in, size_t len, unsigned char *out);

/* ---- storage_url.c ----------------------------------------------------- */

/* Percent-encodes `in` (RFC 3986 unreserved kept; '/' kept when keep_slash)
 * into a malloc'd string, NULL on OOM. */
char *storage_url_encode(const char *in, int keep_slash);

/* ---- storage_sharedkey.c ---------------------------------------------- */

typedef struct storage_kv {
    const char *name;
    const char *value;
} storage_kv;

/* One request as signed: method, URL path (already percent-encoded, starting
 * with '/', including the endpoint's path), query parameters with decoded
 * values, all request headers (standard ones such as Content-Type / If-Match
 * by their usual names, x-ms-* lower-case) and the body length. */
typedef struct storage_sign_input {
    const char *method;
    const char *path;
    const storage_kv *params;
    int nparams;
    const storage_kv *headers;
    int nheaders;
    size_t content_length;
} storage_sign_input;

/* Builds the SharedKey string-to-sign (Azure Storage REST "Authorize with
 * Shared Key", version 2015-02-21 and later) into a malloc'd string. */
char *storage_sharedkey_string_to_sign(const char *account, const storage_sign_input *in);
/* Base64(HMAC-SHA256(key, sts)) into out (>= 45 bytes). 0 or -1. */
int storage_sharedkey_sign(const unsigned char *key, size_t key_len, const char *sts, char *out,
                           size_t outlen);
/* "SharedKey account:signature" into out; 0 or -1 on OOM/size. */
int storage_sharedkey_authorization(const char *account, const unsigned char *key, size_t key_len,
                                    const storage_sign_input *in, char *out, size_t outlen);

/* ---- storage_token.c --------------------------------------------------- */

/* Exactly one source is set. */
typedef struct storage_token_options {
    const char *static_token;
    const char *file; /* re-read when its mtime, size or inode changes */
    int managed_identity;
    const char *mi_endpoint; /* NULL: IDENTITY_ENDPOINT (App Service) or IMDS */
    const char *mi_client_id;
    const char *ca_file;
    long timeout_ms;
} storage_token_options;

#define STORAGE_IMDS_ENDPOINT "http://169.254.169.254/metadata/identity/oauth2/token"
#define STORAGE_TOKEN_RESOURCE "https://storage.azure.com/"
/* A cached managed-identity token is refreshed this long before expires_on. */
#define STORAGE_TOKEN_REFRESH_S 300

typedef struct storage_token storage_token;

/* Copies the options. The managed-identity flavour is fixed here: an explicit
 * mi_endpoint is IMDS style (header Metadata: true); otherwise, when both
 * IDENTITY_ENDPOINT and IDENTITY_HEADER are set, App Service style
 * (X-IDENTITY-HEADER, api-version 2019-08-01); otherwise IMDS. */
storage_token *storage_token_new(const storage_token_options *opts, char *err, size_t errlen);
void storage_token_free(storage_token *t);
/* A current token, malloc'd into *out. Thread-safe. Errors: BLOB_ERR_AUTH
 * (endpoint refused, empty/unreadable file, bad response), BLOB_ERR_TRANSIENT
 * (endpoint unreachable or 5xx), BLOB_ERR_NOMEM. The message never holds the token. */
blob_code storage_token_get(storage_token *t, char **out, char *err, size_t errlen);
/* The service refused `used` (401, or 403 AuthenticationFailed): a managed-identity token can be revoked
 * or cut short before its expires_on, so the cached copy is dropped (unless
 * another thread already replaced it) and 1 is returned: one more attempt
 * will fetch a fresh token. 0 for static and file tokens, which a retry
 * would only send again (a rotated file is picked up by its mtime anyway). */
int storage_token_reject(storage_token *t, const char *used);
/* How many times the token was (re)loaded from file or endpoint; for tests. */
int storage_token_fetch_count(storage_token *t);

/* ---- storage_error.c --------------------------------------------------- */

/* Code for an HTTP status (2xx -> BLOB_OK; 304 -> BLOB_ERR_PRECONDITION). */
blob_code storage_status_code(long status);

/* Finds the first element <tag>...</tag> (also <tag attr="..">, <tag/>) at or
 * after xml. Sets *value and *vlen to the raw content and *after past the
 * element. Returns 1 when found. A hand-written reader because the service's
 * replies need only a few flat tags and no XML library is in the stack. */
int storage_xml_find(const char *xml, size_t len, const char *tag, const char **value, size_t *vlen,
                     const char **after);
/* Copies raw XML text into out decoding &amp; &lt; &gt; &quot; &apos; and
 * numeric references; truncates to outlen-1. Returns the decoded length. */
size_t storage_xml_decode(const char *raw, size_t rawlen, char *out, size_t outlen);

/* Fills err from a response: code, status, storage code (header first, then
 * the XML body's <Code>), message "op target: cause (HTTP 412 Code)". */
void storage_error_from_response(blob_error *err, const char *op, const char *target, long status,
                                 const char *header_code, const char *body, size_t body_len);
/* Fills err with a code and a formatted message "op target: detail". */
void storage_error_set(blob_error *err, blob_code code, const char *op, const char *target,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Calls cb for each <Blob> of a List Blobs page: its <Name> and the
 * children of its <Metadata> (entity-decoded; empty when the page has none),
 * and copies <NextMarker> into marker ("" when last page). Returns 1 when cb
 * asked to stop, 0 otherwise, -1 when a raw name exceeds 4096 bytes. */
int storage_list_parse(const char *xml, size_t len, blob_list_item_cb cb, void *opaque,
                       char *marker, size_t marker_len);
/* Fills meta from the content of a <Metadata> element: one entry per child
 * element <name>value</name> or <name/>. Entries that do not fit blob_meta
 * are left out rather than truncated. */
void storage_list_parse_meta(const char *xml, size_t len, blob_meta *meta);

/* ---- blob_http.c ------------------------------------------------------- */

#define STORAGE_MAX_PARAMS 8
#define STORAGE_MAX_HEADERS (BLOB_META_MAX + 16)

typedef struct storage_request {
    const char *method; /* "GET", "PUT", "HEAD", "DELETE" */
    const char *op;     /* for messages: "put", "acquire lease on", ... */
    const char *container;
    const char *blob;                      /* NULL for container operations */
    storage_kv params[STORAGE_MAX_PARAMS]; /* decoded values, lower-case names */
    int nparams;
    storage_kv headers[STORAGE_MAX_HEADERS];
    int nheaders;
    const void *body;
    size_t body_len;
    int retry; /* data operation: retry transient failures */
    /* Shorter bound for this request than the client's connect and request
     * timeouts, in ms; 0 for the client's. A renewal must not outlive the
     * lease's safe deadline. */
    long timeout_ms;
} storage_request;

typedef struct storage_response {
    long status;
    char *body; /* NUL-terminated, malloc'd */
    size_t body_len;
    char *headers; /* "name\0value\0" pairs, malloc'd */
    size_t headers_len;
    size_t headers_cap;
    size_t body_cap;
} storage_response;

/* Appends a header / parameter (pointers borrowed until the request is sent). */
void storage_request_header(storage_request *req, const char *name, const char *value);
void storage_request_param(storage_request *req, const char *name, const char *value);

/* Sends `req`, retrying when req->retry, and fills `resp` with the last
 * answer (2xx or not). Returns BLOB_OK when a 2xx arrived; otherwise the
 * code, with err filled (op/target from the request). Free resp after. */
blob_code blob_http_execute(blob_client *c, const storage_request *req, storage_response *resp,
                            blob_error *err);
void storage_response_free(storage_response *resp);
/* Value of a response header (case-insensitive) or NULL. */
const char *storage_response_header(const storage_response *resp, const char *name);
/* Iterates headers: pass *pos = 0 first; returns 0 at the end. */
int storage_response_next(const storage_response *resp, size_t *pos, const char **name,
                          const char **value);

/* Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^attempt)]
 * drawn from `rnd`. attempt counts from 0. */
long storage_backoff_ms(int attempt, int base_ms, int cap_ms, uint32_t rnd);

/* blob_lease_renew bounded by timeout_ms (connect and whole request; 0:
 * the client's timeouts). The lease engine passes the time left to the
 * lease's safe deadline, so a hanging request ends, and the loss is
 * reported, by that deadline rather than after the client's timeout. */
blob_code blob_lease_renew_within(blob_client *c, const char *container, const char *name,
                                  const char *lease_id, long timeout_ms, blob_error *err);

/* Fault injection for tests: the next `count` requests of this client fail
 * without being sent, as a connection error (BLOB_FAULT_CONNECT) or as an
 * HTTP 500 InternalError (BLOB_FAULT_500). Each retry attempt consumes one.
 * count 0 clears. Thread-safe. */
typedef enum blob_fault { BLOB_FAULT_NONE = 0, BLOB_FAULT_CONNECT, BLOB_FAULT_500 } blob_fault;
void blob_client_inject_fault(blob_client *c, blob_fault kind, int count);
/* Requests attempted (sent or failed by injection) since creation; for tests. */
long blob_client_attempts(blob_client *c);
/* TCP connections opened since creation (keep-alive keeps this low). */
long blob_client_connections(blob_client *c);

/* The pool and settings blob_http.c needs; owned by blob_client. */
typedef struct blob_http blob_http;
typedef struct blob_http_options {
    const char *ca_file;
    long connect_timeout_ms;
    long request_timeout_ms;
    int max_retries;
    int retry_base_ms;
    int retry_max_ms;
} blob_http_options;
blob_http *blob_http_new(const blob_http_options *opts);
void blob_http_free(blob_http *h);

/* Internal view of a client, shared by blob_client.c and blob_http.c. */
struct blob_client {
    storage_account acct;
    storage_token *token; /* bearer source, or NULL */
    char *sas;            /* effective SAS (option or connection string), or NULL */
    blob_http *http;
};

/* Parses the metadata headers (x-ms-meta-*) of a response into meta;
 * extra entries beyond BLOB_META_MAX are dropped. */
void blob_meta_from_response(const storage_response *resp, blob_meta *meta);

#endif
