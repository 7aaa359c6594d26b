/* blob_client.c -- the operations of leasehold/blob.h.
 *
 * Each operation validates its arguments, describes one REST call as a
 * storage_request (method, query, headers, body) and hands it to
 * blob_http_execute(), which signs, sends and retries it. Answers are read
 * from response headers (ETag, x-ms-lease-*, x-ms-meta-*) or, for listings,
 * from the XML body. Data operations are retried; lease operations are sent
 * once because the lease engine owns their timing.
 *
 * Auth precedence: a bearer source (bearer_token, bearer_token_file,
 * use_managed_identity; exactly one, HTTPS only) > the sas_token option >
 * the connection string's SharedAccessSignature > its AccountKey.
 */
#include "blob_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void blob_client_options_init(blob_client_options *opts) {
    memset(opts, 0, sizeof *opts);
    opts->connect_timeout_ms = 5000;
    opts->request_timeout_ms = 10000;
    opts->max_retries = 3;
    opts->retry_base_ms = 100;
    opts->retry_max_ms = 2000;
}

static blob_client *blob_client_fail(blob_client *c, blob_error *err, blob_code code,
                                     const char *msg) {
    storage_error_set(err, code, "blob client", NULL, "%s", msg);
    blob_client_free(c);
    return NULL;
}

/* Checks numeric options; NULL when fine, else a message naming the option. */
static const char *blob_client_check_numbers(const blob_client_options *o) {
    if (o->connect_timeout_ms <= 0)
        return "connect_timeout_ms must be positive";
    if (o->request_timeout_ms <= 0)
        return "request_timeout_ms must be positive";
    if (o->max_retries < 0 || o->max_retries > 20)
        return "max_retries must be 0..20";
    if (o->retry_base_ms <= 0)
        return "retry_base_ms must be positive";
    if (o->retry_max_ms < o->retry_base_ms)
        return "retry_max_ms must be at least retry_base_ms";
    return NULL;
}

blob_client *blob_client_new(const blob_client_options *opts, blob_error *err) {
    if (!opts || !opts->connection_string)
        return blob_client_fail(NULL, err, BLOB_ERR_INVALID, "connection_string is required");
    const char *bad = blob_client_check_numbers(opts);
    if (bad)
        return blob_client_fail(NULL, err, BLOB_ERR_INVALID, bad);
    blob_client *c = calloc(1, sizeof *c);
    if (!c)
        return blob_client_fail(NULL, err, BLOB_ERR_NOMEM, "out of memory");
    char msg[256];
    blob_code rc = storage_connstr_parse(opts->connection_string, &c->acct, msg, sizeof msg);
    if (rc != BLOB_OK)
        return blob_client_fail(c, err, rc, msg);

    const char *bearer_opt = opts->bearer_token           ? "bearer_token"
                             : opts->bearer_token_file    ? "bearer_token_file"
                             : opts->use_managed_identity ? "use_managed_identity"
                                                          : NULL;
    if (bearer_opt) {
        if (!c->acct.https) {
            snprintf(msg, sizeof msg, "%s requires an https:// blob endpoint (got %s)", bearer_opt,
                     c->acct.endpoint);
            return blob_client_fail(c, err, BLOB_ERR_INVALID, msg);
        }
        storage_token_options to = {opts->bearer_token,
                                    opts->bearer_token_file,
                                    opts->use_managed_identity,
                                    opts->managed_identity_endpoint,
                                    opts->managed_identity_client_id,
                                    NULL,
                                    opts->request_timeout_ms};
        c->token = storage_token_new(&to, msg, sizeof msg);
        if (!c->token)
            return blob_client_fail(c, err, BLOB_ERR_INVALID, msg);
    } else if (opts->sas_token) {
        const char *s = opts->sas_token[0] == '?' ? opts->sas_token + 1 : opts->sas_token;
        if (strncmp(s, "sig=", 4) != 0 && !strstr(s, "&sig="))
            return blob_client_fail(c, err, BLOB_ERR_INVALID, "sas_token has no 'sig' parameter");
        if (!(c->sas = strdup(s)))
            return blob_client_fail(c, err, BLOB_ERR_NOMEM, "out of memory");
    } else if (c->acct.sas && !(c->sas = strdup(c->acct.sas))) {
        return blob_client_fail(c, err, BLOB_ERR_NOMEM, "out of memory");
    }

    blob_http_options ho = {opts->ca_file,     opts->connect_timeout_ms, opts->request_timeout_ms,
                            opts->max_retries, opts->retry_base_ms,      opts->retry_max_ms};
    if (!(c->http = blob_http_new(&ho)))
        return blob_client_fail(c, err, BLOB_ERR_NOMEM, "out of memory");
    if (err)
        memset(err, 0, sizeof *err);
    return c;
}

void blob_client_free(blob_client *c) {
    if (!c)
        return;
    blob_http_free(c->http);
    storage_token_free(c->token);
    if (c->sas) {
        memset(c->sas, 0, strlen(c->sas));
        free(c->sas);
    }
    storage_account_clear(&c->acct);
    free(c);
}

const char *blob_client_account(const blob_client *c) {
    return c->acct.account;
}

const char *blob_client_endpoint(const blob_client *c) {
    return c->acct.endpoint;
}

/* Fails a call on container/name without a request: fills err, returns code. */
static blob_code blob_fail(blob_error *err, blob_code code, const char *op, const char *container,
                           const char *name, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static blob_code blob_fail(blob_error *err, blob_code code, const char *op, const char *container,
                           const char *name, const char *fmt, ...) {
    char target[300], detail[200];
    snprintf(target, sizeof target, "%s%s%s", container, name ? "/" : "", name ? name : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    storage_error_set(err, code, op, target, "%s", detail);
    return code;
}

/* Validates container (and blob when needed); fills err naming the op. */
static int blob_check_target(const char *op, const char *container, const char *name, int need_name,
                             blob_error *err) {
    if (!container || !*container || (need_name && (!name || !*name))) {
        storage_error_set(
            err, BLOB_ERR_INVALID, op, container && *container ? container : NULL, "%s",
            need_name ? "container and blob name are required" : "container name is required");
        return 0;
    }
    return 1;
}

static void blob_add_conditions(storage_request *req, const blob_conditions *cond) {
    if (!cond)
        return;
    if (cond->lease_id)
        storage_request_header(req, "x-ms-lease-id", cond->lease_id);
    if (cond->if_match)
        storage_request_header(req, "If-Match", cond->if_match);
    if (cond->if_none_match)
        storage_request_header(req, "If-None-Match", cond->if_none_match);
}

/* Header names "x-ms-meta-<name>" live here while the request is built. */
typedef struct blob_meta_names {
    char name[BLOB_META_MAX][80];
} blob_meta_names;

static void blob_add_meta(storage_request *req, const blob_meta *meta, blob_meta_names *names) {
    for (int i = 0; meta && i < meta->count && i < BLOB_META_MAX; i++) {
        snprintf(names->name[i], sizeof names->name[i], "x-ms-meta-%s", meta->item[i].name);
        storage_request_header(req, names->name[i], meta->item[i].value);
    }
}

static void blob_props_from_response(const storage_response *resp, blob_props *props) {
    memset(props, 0, sizeof *props);
    const char *v;
    if ((v = storage_response_header(resp, "ETag")))
        snprintf(props->etag, sizeof props->etag, "%s", v);
    if ((v = storage_response_header(resp, "Content-Length")))
        props->content_length = strtoll(v, NULL, 10);
    if ((v = storage_response_header(resp, "x-ms-lease-status")))
        snprintf(props->lease_status, sizeof props->lease_status, "%s", v);
    if ((v = storage_response_header(resp, "x-ms-lease-state")))
        snprintf(props->lease_state, sizeof props->lease_state, "%s", v);
    if ((v = storage_response_header(resp, "x-ms-lease-duration")))
        snprintf(props->lease_duration, sizeof props->lease_duration, "%s", v);
    blob_meta_from_response(resp, &props->meta);
}

/* Sends a request that needs nothing from the answer. */
static blob_code blob_send(blob_client *c, const storage_request *req, blob_error *err) {
    storage_response resp;
    blob_code rc = blob_http_execute(c, req, &resp, err);
    storage_response_free(&resp);
    return rc;
}

/* Sends a write and copies the new ETag into etag_out (128 bytes, may be NULL). */
static blob_code blob_send_etag(blob_client *c, const storage_request *req, char *etag_out,
                                blob_error *err) {
    storage_response resp;
    blob_code rc = blob_http_execute(c, req, &resp, err);
    const char *etag = storage_response_header(&resp, "ETag");
    if (rc == BLOB_OK && etag_out)
        snprintf(etag_out, 128, "%s", etag ? etag : "");
    storage_response_free(&resp);
    return rc;
}

blob_code blob_container_create(blob_client *c, const char *container, blob_error *err) {
    if (!blob_check_target("create container", container, NULL, 0, err))
        return BLOB_ERR_INVALID;
    storage_request req = {
        .method = "PUT", .op = "create container", .container = container, .retry = 1};
    storage_request_param(&req, "restype", "container");
    blob_error local;
    blob_code rc = blob_send(c, &req, err ? err : &local);
    if (rc == BLOB_ERR_CONFLICT &&
        strcmp((err ? err : &local)->storage_code, "ContainerAlreadyExists") == 0)
        rc = BLOB_OK;
    if (rc == BLOB_OK && err)
        memset(err, 0, sizeof *err);
    return rc;
}

blob_code blob_container_delete(blob_client *c, const char *container, blob_error *err) {
    if (!blob_check_target("delete container", container, NULL, 0, err))
        return BLOB_ERR_INVALID;
    storage_request req = {
        .method = "DELETE", .op = "delete container", .container = container, .retry = 1};
    storage_request_param(&req, "restype", "container");
    blob_code rc = blob_send(c, &req, err);
    if (rc == BLOB_ERR_NOT_FOUND) {
        rc = BLOB_OK;
        if (err)
            memset(err, 0, sizeof *err);
    }
    return rc;
}

blob_code blob_put(blob_client *c, const char *container, const char *name, const void *data,
                   size_t len, const char *content_type, const blob_meta *meta,
                   const blob_conditions *cond, char *etag_out, blob_error *err) {
    if (!blob_check_target("put", container, name, 1, err))
        return BLOB_ERR_INVALID;
    if (!data && len > 0) {
        return blob_fail(err, BLOB_ERR_INVALID, "put", container, name, "data is NULL");
    }
    storage_request req = {.method = "PUT",
                           .op = "put",
                           .container = container,
                           .blob = name,
                           .body = data,
                           .body_len = len,
                           .retry = 1};
    blob_meta_names names;
    storage_request_header(&req, "x-ms-blob-type", "BlockBlob");
    storage_request_header(&req, "Content-Type",
                           content_type ? content_type : "application/octet-stream");
    blob_add_meta(&req, meta, &names);
    blob_add_conditions(&req, cond);
    return blob_send_etag(c, &req, etag_out, err);
}

blob_code blob_put_block(blob_client *c, const char *container, const char *name,
                         const char *block_id, const void *data, size_t len,
                         const blob_conditions *cond, blob_error *err) {
    if (!blob_check_target("put block of", container, name, 1, err))
        return BLOB_ERR_INVALID;
    if (!block_id || !*block_id || strlen(block_id) >= BLOB_BLOCK_ID_MAX || (!data && len > 0))
        return blob_fail(err, BLOB_ERR_INVALID, "put block of", container, name,
                         "block id (1..%d characters) and data are required",
                         BLOB_BLOCK_ID_MAX - 1);
    storage_request req = {.method = "PUT",
                           .op = "put block of",
                           .container = container,
                           .blob = name,
                           .body = data,
                           .body_len = len,
                           .retry = 1};
    storage_request_param(&req, "comp", "block");
    storage_request_param(&req, "blockid", block_id);
    /* Only the lease applies to a staged block: it is not content yet. */
    if (cond && cond->lease_id)
        storage_request_header(&req, "x-ms-lease-id", cond->lease_id);
    return blob_send(c, &req, err);
}

#define BLOB_BLOCK_LIST_OPEN "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>"
#define BLOB_BLOCK_LIST_CLOSE "</BlockList>"
#define BLOB_BLOCK_LATEST_OPEN "<Latest>"
#define BLOB_BLOCK_LATEST_CLOSE "</Latest>"

size_t blob_block_list_body_len(size_t n, size_t id_len) {
    return strlen(BLOB_BLOCK_LIST_OPEN) + strlen(BLOB_BLOCK_LIST_CLOSE) +
           n * (strlen(BLOB_BLOCK_LATEST_OPEN) + id_len + strlen(BLOB_BLOCK_LATEST_CLOSE));
}

/* The XML body of a Put Block List, malloc'd; NULL on OOM. Base64 ids need
 * no escaping. */
static char *blob_block_list_xml(const char *const *ids, size_t n, size_t *len) {
    size_t cap = strlen(BLOB_BLOCK_LIST_OPEN) + strlen(BLOB_BLOCK_LIST_CLOSE) + 1;
    for (size_t i = 0; i < n; i++)
        cap += strlen(BLOB_BLOCK_LATEST_OPEN) + strlen(ids[i]) + strlen(BLOB_BLOCK_LATEST_CLOSE);
    char *xml = malloc(cap), *p = xml;
    if (!xml)
        return NULL;
    p += sprintf(p, "%s", BLOB_BLOCK_LIST_OPEN);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s%s", BLOB_BLOCK_LATEST_OPEN, ids[i], BLOB_BLOCK_LATEST_CLOSE);
    p += sprintf(p, "%s", BLOB_BLOCK_LIST_CLOSE);
    *len = (size_t)(p - xml);
    return xml;
}

blob_code blob_put_block_list(blob_client *c, const char *container, const char *name,
                              const char *const *ids, size_t n, const char *content_type,
                              const blob_meta *meta, const blob_conditions *cond, char *etag_out,
                              blob_error *err) {
    if (!blob_check_target("put block list of", container, name, 1, err))
        return BLOB_ERR_INVALID;
    if (!ids || n == 0 || n > BLOB_BLOCKS_MAX)
        return blob_fail(err, BLOB_ERR_INVALID, "put block list of", container, name,
                         "1..%d block ids are required", BLOB_BLOCKS_MAX);
    for (size_t i = 0; i < n; i++)
        if (!ids[i] || !*ids[i] || strlen(ids[i]) >= BLOB_BLOCK_ID_MAX ||
            strlen(ids[i]) != strlen(ids[0]))
            return blob_fail(err, BLOB_ERR_INVALID, "put block list of", container, name,
                             "block id %zu: ids must be 1..%d characters, all of one length", i,
                             BLOB_BLOCK_ID_MAX - 1);
    size_t len = 0;
    char *xml = blob_block_list_xml(ids, n, &len);
    if (!xml)
        return blob_fail(err, BLOB_ERR_NOMEM, "put block list of", container, name,
                         "out of memory");
    storage_request req = {.method = "PUT",
                           .op = "put block list of",
                           .container = container,
                           .blob = name,
                           .body = xml,
                           .body_len = len,
                           .retry = 1};
    blob_meta_names names;
    storage_request_param(&req, "comp", "blocklist");
    storage_request_header(&req, "Content-Type", "application/xml");
    storage_request_header(&req, "x-ms-blob-content-type",
                           content_type ? content_type : "application/octet-stream");
    blob_add_meta(&req, meta, &names);
    blob_add_conditions(&req, cond);
    blob_code rc = blob_send_etag(c, &req, etag_out, err);
    free(xml);
    return rc;
}

/* GET or HEAD of a blob, leaving the response to the caller. */
static blob_code blob_read(blob_client *c, const char *method, const char *op,
                           const char *container, const char *name, const blob_conditions *cond,
                           storage_response *resp, blob_props *props, blob_error *err) {
    memset(resp, 0, sizeof *resp);
    if (!blob_check_target(op, container, name, 1, err))
        return BLOB_ERR_INVALID;
    storage_request req = {
        .method = method, .op = op, .container = container, .blob = name, .retry = 1};
    blob_add_conditions(&req, cond);
    blob_code rc = blob_http_execute(c, &req, resp, err);
    if (rc == BLOB_OK && props)
        blob_props_from_response(resp, props);
    return rc;
}

blob_code blob_get(blob_client *c, const char *container, const char *name,
                   const blob_conditions *cond, char **data, size_t *len, blob_props *props,
                   blob_error *err) {
    storage_response resp;
    *data = NULL;
    *len = 0;
    blob_code rc = blob_read(c, "GET", "get", container, name, cond, &resp, props, err);
    if (rc == BLOB_OK) {
        if (!resp.body && !(resp.body = calloc(1, 1))) {
            rc = blob_fail(err, BLOB_ERR_NOMEM, "get", container, name, "out of memory");
        } else {
            *data = resp.body;
            *len = resp.body_len;
            resp.body = NULL;
        }
    }
    storage_response_free(&resp);
    return rc;
}

blob_code blob_get_properties(blob_client *c, const char *container, const char *name,
                              const blob_conditions *cond, blob_props *props, blob_error *err) {
    storage_response resp;
    blob_code rc =
        blob_read(c, "HEAD", "get properties of", container, name, cond, &resp, props, err);
    storage_response_free(&resp);
    return rc;
}

blob_code blob_set_metadata(blob_client *c, const char *container, const char *name,
                            const blob_meta *meta, const blob_conditions *cond, blob_error *err) {
    if (!blob_check_target("set metadata of", container, name, 1, err))
        return BLOB_ERR_INVALID;
    storage_request req = {
        .method = "PUT", .op = "set metadata of", .container = container, .blob = name, .retry = 1};
    blob_meta_names names;
    storage_request_param(&req, "comp", "metadata");
    blob_add_meta(&req, meta, &names);
    blob_add_conditions(&req, cond);
    return blob_send(c, &req, err);
}

blob_code blob_delete(blob_client *c, const char *container, const char *name,
                      const blob_conditions *cond, blob_error *err) {
    if (!blob_check_target("delete", container, name, 1, err))
        return BLOB_ERR_INVALID;
    storage_request req = {
        .method = "DELETE", .op = "delete", .container = container, .blob = name, .retry = 1};
    blob_add_conditions(&req, cond);
    return blob_send(c, &req, err);
}

/* A lease request: PUT ?comp=lease with x-ms-lease-action, sent once. */
static void blob_lease_request(storage_request *req, const char *op, const char *action,
                               const char *container, const char *name) {
    memset(req, 0, sizeof *req);
    req->method = "PUT";
    req->op = op;
    req->container = container;
    req->blob = name;
    storage_request_param(req, "comp", "lease");
    storage_request_header(req, "x-ms-lease-action", action);
}

static int blob_lease_check_id(const char *op, const char *container, const char *name,
                               const char *id, const char *what, blob_error *err) {
    if (!blob_check_target(op, container, name, 1, err))
        return 0;
    if (!id || !*id || strlen(id) >= 64) {
        blob_fail(err, BLOB_ERR_INVALID, op, container, name, "%s is missing or too long", what);
        return 0;
    }
    return 1;
}

blob_code blob_lease_acquire(blob_client *c, const char *container, const char *name,
                             int duration_s, const char *proposed_id, char *lease_id_out,
                             blob_error *err) {
    static const char op[] = "acquire lease on";
    char guid[37];
    if (!proposed_id) {
        blob_new_guid(guid);
        proposed_id = guid;
    }
    if (!blob_lease_check_id(op, container, name, proposed_id, "proposed lease id", err))
        return BLOB_ERR_INVALID;
    if (duration_s != -1 && (duration_s < 15 || duration_s > 60)) {
        return blob_fail(err, BLOB_ERR_INVALID, op, container, name,
                         "duration %d s is outside 15..60 (or -1 for infinite)", duration_s);
    }
    char duration[16];
    snprintf(duration, sizeof duration, "%d", duration_s);
    storage_request req;
    blob_lease_request(&req, op, "acquire", container, name);
    storage_request_header(&req, "x-ms-lease-duration", duration); /* always: see design.md */
    storage_request_header(&req, "x-ms-proposed-lease-id", proposed_id);
    storage_response resp;
    blob_code rc = blob_http_execute(c, &req, &resp, err);
    if (rc == BLOB_OK && lease_id_out) {
        const char *id = storage_response_header(&resp, "x-ms-lease-id");
        snprintf(lease_id_out, 64, "%s", id ? id : proposed_id);
    }
    storage_response_free(&resp);
    return rc;
}

/* Renew, release and change: the current lease id, and a new one for change. */
static blob_code blob_lease_with_id(blob_client *c, const char *op, const char *action,
                                    const char *container, const char *name, const char *lease_id,
                                    const char *proposed_id, long timeout_ms, blob_error *err) {
    if (!blob_lease_check_id(op, container, name, lease_id, "lease id", err) ||
        (proposed_id != NULL &&
         !blob_lease_check_id(op, container, name, proposed_id, "proposed lease id", err)))
        return BLOB_ERR_INVALID;
    storage_request req;
    blob_lease_request(&req, op, action, container, name);
    storage_request_header(&req, "x-ms-lease-id", lease_id);
    if (proposed_id)
        storage_request_header(&req, "x-ms-proposed-lease-id", proposed_id);
    req.timeout_ms = timeout_ms;
    return blob_send(c, &req, err);
}

blob_code blob_lease_renew(blob_client *c, const char *container, const char *name,
                           const char *lease_id, blob_error *err) {
    return blob_lease_renew_within(c, container, name, lease_id, 0, err);
}

blob_code blob_lease_renew_within(blob_client *c, const char *container, const char *name,
                                  const char *lease_id, long timeout_ms, blob_error *err) {
    return blob_lease_with_id(c, "renew lease on", "renew", container, name, lease_id, NULL,
                              timeout_ms, err);
}

blob_code blob_lease_release(blob_client *c, const char *container, const char *name,
                             const char *lease_id, blob_error *err) {
    return blob_lease_with_id(c, "release lease on", "release", container, name, lease_id, NULL,
                              0, err);
}

blob_code blob_lease_change(blob_client *c, const char *container, const char *name,
                            const char *lease_id, const char *proposed_id, blob_error *err) {
    if (!proposed_id) { /* NULL would mean renew/release to the helper */
        return blob_fail(err, BLOB_ERR_INVALID, "change lease on", container, name,
                         "proposed lease id is missing");
    }
    return blob_lease_with_id(c, "change lease on", "change", container, name, lease_id,
                              proposed_id, 0, err);
}

blob_code blob_lease_break(blob_client *c, const char *container, const char *name,
                           int break_period_s, int *remaining_s, blob_error *err) {
    static const char op[] = "break lease on";
    if (!blob_check_target(op, container, name, 1, err))
        return BLOB_ERR_INVALID;
    if (break_period_s < -1 || break_period_s > 60) {
        return blob_fail(err, BLOB_ERR_INVALID, op, container, name,
                         "break period %d s is outside 0..60 (or -1)", break_period_s);
    }
    char period[16];
    storage_request req;
    blob_lease_request(&req, op, "break", container, name);
    if (break_period_s >= 0) {
        snprintf(period, sizeof period, "%d", break_period_s);
        storage_request_header(&req, "x-ms-lease-break-period", period);
    }
    storage_response resp;
    blob_code rc = blob_http_execute(c, &req, &resp, err);
    if (rc == BLOB_OK && remaining_s) {
        const char *t = storage_response_header(&resp, "x-ms-lease-time");
        *remaining_s = t ? atoi(t) : 0;
    }
    storage_response_free(&resp);
    return rc;
}

blob_code blob_list_items(blob_client *c, const char *container, const blob_list_options *opts,
                          blob_list_item_cb cb, void *opaque, size_t *pages, blob_error *err) {
    static const char op[] = "list";
    static const blob_list_options defaults = {NULL, 0, 0};
    const blob_list_options *o = opts ? opts : &defaults;
    if (pages)
        *pages = 0;
    if (!blob_check_target(op, container, NULL, 0, err))
        return BLOB_ERR_INVALID;
    if (o->page_size < 0 || o->page_size > 5000 || !cb) {
        storage_error_set(err, BLOB_ERR_INVALID, op, container, "%s",
                          cb ? "page_size must be 0..5000" : "callback is required");
        return BLOB_ERR_INVALID;
    }
    char marker[1024] = "", size[16];
    snprintf(size, sizeof size, "%d", o->page_size);
    for (;;) {
        storage_request req = {.method = "GET", .op = op, .container = container, .retry = 1};
        storage_request_param(&req, "restype", "container");
        storage_request_param(&req, "comp", "list");
        if (o->prefix && *o->prefix)
            storage_request_param(&req, "prefix", o->prefix);
        if (o->page_size > 0)
            storage_request_param(&req, "maxresults", size);
        if (o->include_metadata)
            storage_request_param(&req, "include", "metadata");
        char current[1024];
        if (marker[0]) {
            snprintf(current, sizeof current, "%s", marker);
            storage_request_param(&req, "marker", current);
        }
        storage_response resp;
        blob_code rc = blob_http_execute(c, &req, &resp, err);
        int stop = 0;
        if (rc == BLOB_OK) {
            if (pages)
                (*pages)++;
            stop = storage_list_parse(resp.body ? resp.body : "", resp.body_len, cb, opaque, marker,
                                      sizeof marker);
            if (stop < 0) {
                storage_error_set(err, BLOB_ERR_HTTP, op, container,
                                  "listing has an oversized name");
                rc = BLOB_ERR_HTTP;
            }
        }
        storage_response_free(&resp);
        if (rc != BLOB_OK)
            return rc;
        if (stop || !marker[0])
            break;
    }
    if (err)
        memset(err, 0, sizeof *err);
    return BLOB_OK;
}

/* blob_list's callback on top of blob_list_items'. */
typedef struct blob_list_names {
    blob_list_cb cb;
    void *opaque;
} blob_list_names;

static int blob_list_name_only(const blob_list_item *item, void *opaque) {
    blob_list_names *n = opaque;
    return n->cb(item->name, n->opaque);
}

blob_code blob_list(blob_client *c, const char *container, const char *prefix, int page_size,
                    blob_list_cb cb, void *opaque, blob_error *err) {
    blob_list_options o = {prefix, page_size, 0};
    blob_list_names n = {cb, opaque};
    /* A NULL callback must still be refused by name. */
    return blob_list_items(c, container, &o, cb ? blob_list_name_only : NULL, &n, NULL, err);
}
