/* blob_http.c -- one Blob service request over libcurl, with retries.
 *
 * Connections: a mutex-protected stack of curl easy handles. A request borrows
 * one (or makes one when the stack is empty) and gives it back after
 * curl_easy_reset, which keeps the handle's live connections and DNS cache, so
 * consecutive requests reuse a keep-alive connection. Any number of threads
 * can send at once; each holds its own handle meanwhile. curl_global_init()
 * must have been called by the program (main, or the test) before any client
 * exists, as libcurl requires.
 *
 * Each attempt builds the URL (endpoint + container + percent-encoded blob +
 * query + SAS), stamps x-ms-date / x-ms-version and authorizes with a bearer
 * token, SharedKey, or nothing (SAS already in the URL).
 *
 * Retries (data operations only, req->retry): 5xx, 408, timeouts and
 * connection errors are retried up to max_retries times with full-jitter
 * exponential backoff; definitive 4xx are returned at once. A retried
 * create-only put (If-None-Match: *) whose first attempt did land answers 409;
 * callers treat that like any conflict.
 *
 * Fault injection (tests): blob_client_inject_fault() makes the next N
 * attempts fail before anything is sent.
 */
#include "blob_internal.h"

#include <curl/curl.h>
#include <openssl/rand.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Idle handles kept (as many as the renewal pool may use at once: 64);
 * more may exist while borrowed and are freed on return, which costs a new
 * connection next time. */
#define BLOB_HTTP_POOL_MAX 64

#define BLOB_HTTP_ABORTED "aborted: the client is shutting down"

struct blob_http {
    blob_http_options opts;
    char *ca_file;
    pthread_mutex_t lock; /* guards idle, nidle, fault_*, attempts, connects */
    CURL *idle[BLOB_HTTP_POOL_MAX];
    int nidle;
    blob_fault fault_kind;
    int fault_count;
    long attempts;
    long connects; /* new TCP connections opened: shows keep-alive reuse */
    atomic_int aborted; /* blob_client_abort */
};

blob_http *blob_http_new(const blob_http_options *opts) {
    blob_http *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->opts = *opts;
    if (opts->ca_file && !(h->ca_file = strdup(opts->ca_file))) {
        free(h);
        return NULL;
    }
    h->opts.ca_file = h->ca_file;
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

void blob_http_free(blob_http *h) {
    if (!h)
        return;
    for (int i = 0; i < h->nidle; i++)
        curl_easy_cleanup(h->idle[i]);
    pthread_mutex_destroy(&h->lock);
    free(h->ca_file);
    free(h);
}

static CURL *blob_http_borrow(blob_http *h) {
    CURL *curl = NULL;
    pthread_mutex_lock(&h->lock);
    if (h->nidle > 0)
        curl = h->idle[--h->nidle];
    pthread_mutex_unlock(&h->lock);
    return curl ? curl : curl_easy_init();
}

static void blob_http_return(blob_http *h, CURL *curl) {
    long connects = 0;
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_reset(curl);
    pthread_mutex_lock(&h->lock);
    h->connects += connects;
    if (h->nidle < BLOB_HTTP_POOL_MAX) {
        h->idle[h->nidle++] = curl;
        curl = NULL;
    }
    pthread_mutex_unlock(&h->lock);
    if (curl)
        curl_easy_cleanup(curl);
}

void blob_client_abort(blob_client *c) {
    atomic_store(&c->http->aborted, 1);
}

/* libcurl calls this about once a second, and more often while data
 * flows: returning non-zero ends the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int blob_http_on_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                 curl_off_t ulnow) {
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load(&((blob_http *)p)->aborted);
}

void blob_client_inject_fault(blob_client *c, blob_fault kind, int count) {
    pthread_mutex_lock(&c->http->lock);
    c->http->fault_kind = count > 0 ? kind : BLOB_FAULT_NONE;
    c->http->fault_count = count > 0 ? count : 0;
    pthread_mutex_unlock(&c->http->lock);
}

long blob_client_attempts(blob_client *c) {
    pthread_mutex_lock(&c->http->lock);
    long n = c->http->attempts;
    pthread_mutex_unlock(&c->http->lock);
    return n;
}

long blob_client_connections(blob_client *c) {
    pthread_mutex_lock(&c->http->lock);
    long n = c->http->connects;
    pthread_mutex_unlock(&c->http->lock);
    return n;
}

/* Counts the attempt and returns the fault to simulate for it, if any. */
static blob_fault blob_http_take_fault(blob_http *h) {
    blob_fault f = BLOB_FAULT_NONE;
    pthread_mutex_lock(&h->lock);
    h->attempts++;
    if (h->fault_count > 0) {
        f = h->fault_kind;
        if (--h->fault_count == 0)
            h->fault_kind = BLOB_FAULT_NONE;
    }
    pthread_mutex_unlock(&h->lock);
    return f;
}

void storage_request_header(storage_request *req, const char *name, const char *value) {
    if (req->nheaders < STORAGE_MAX_HEADERS) {
        req->headers[req->nheaders].name = name;
        req->headers[req->nheaders].value = value;
        req->nheaders++;
    }
}

void storage_request_param(storage_request *req, const char *name, const char *value) {
    if (req->nparams < STORAGE_MAX_PARAMS) {
        req->params[req->nparams].name = name;
        req->params[req->nparams].value = value;
        req->nparams++;
    }
}

void storage_response_free(storage_response *resp) {
    free(resp->body);
    free(resp->headers);
    memset(resp, 0, sizeof *resp);
}

const char *storage_response_header(const storage_response *resp, const char *name) {
    size_t pos = 0;
    const char *n, *v;
    while (storage_response_next(resp, &pos, &n, &v))
        if (strcasecmp(n, name) == 0)
            return v;
    return NULL;
}

int storage_response_next(const storage_response *resp, size_t *pos, const char **name,
                          const char **value) {
    if (!resp->headers || *pos >= resp->headers_len)
        return 0;
    *name = resp->headers + *pos;
    *value = *name + strlen(*name) + 1;
    *pos = (size_t)(*value - resp->headers) + strlen(*value) + 1;
    return 1;
}

static int blob_http_grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 1024;
    while (ncap < need)
        ncap *= 2;
    char *nb = realloc(*buf, ncap);
    if (!nb)
        return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

static size_t blob_http_on_body(char *data, size_t size, size_t nmemb, void *opaque) {
    storage_response *resp = opaque;
    size_t n = size * nmemb;
    if (blob_http_grow(&resp->body, &resp->body_cap, resp->body_len + n + 1) != 0)
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    memcpy(resp->body + resp->body_len, data, n);
    resp->body_len += n;
    resp->body[resp->body_len] = '\0';
    return n;
}

static size_t blob_http_on_header(char *data, size_t size, size_t nmemb, void *opaque) {
    storage_response *resp = opaque;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        resp->headers_len = 0; /* a new response (after 100 Continue or a redirect) */
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    const char *v = colon + 1, *e = data + n;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t nl = (size_t)(colon - data), vl = (size_t)(e - v);
    if (blob_http_grow(&resp->headers, &resp->headers_cap, resp->headers_len + nl + vl + 2) != 0)
        return 0;
    memcpy(resp->headers + resp->headers_len, data, nl);
    resp->headers[resp->headers_len + nl] = '\0';
    memcpy(resp->headers + resp->headers_len + nl + 1, v, vl);
    resp->headers[resp->headers_len + nl + 1 + vl] = '\0';
    resp->headers_len += nl + vl + 2;
    return n;
}

long storage_backoff_ms(int attempt, int base_ms, int cap_ms, uint32_t rnd) {
    long ceiling = base_ms;
    for (int i = 0; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    if (ceiling <= 0)
        return 0;
    return (long)(rnd % (uint32_t)(ceiling + 1));
}

/* RFC 1123 date for x-ms-date, independent of the C locale. */
static void blob_http_date(char out[64]) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(out, 64, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* URL path (encoded) of the request's resource: endpoint path + /container[/blob]. */
static char *blob_http_path(const blob_client *c, const storage_request *req) {
    char *blob = req->blob ? storage_url_encode(req->blob, 1) : NULL;
    char *cont = storage_url_encode(req->container, 0);
    char *path = NULL;
    if (cont && (blob || !req->blob)) {
        size_t cap = strlen(c->acct.path) + strlen(cont) + (blob ? strlen(blob) : 0) + 3;
        path = malloc(cap);
        if (path)
            snprintf(path, cap, "%s/%s%s%s", c->acct.path, cont, blob ? "/" : "", blob ? blob : "");
    }
    free(blob);
    free(cont);
    return path;
}

/* Full URL: scheme://host + path + ?params [&sas]. */
static char *blob_http_url(const blob_client *c, const storage_request *req, const char *path) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "%.*s%s", (int)(c->acct.path - c->acct.endpoint), c->acct.endpoint, path);
    char sep = '?';
    for (int i = 0; i < req->nparams; i++) {
        char *v = storage_url_encode(req->params[i].value, 0);
        if (!v) {
            fclose(f);
            free(buf);
            return NULL;
        }
        fprintf(f, "%c%s=%s", sep, req->params[i].name, v);
        free(v);
        sep = '&';
    }
    if (c->sas && !c->token)
        fprintf(f, "%c%s", sep, c->sas);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Configuration problems that no retry can fix. */
static blob_code blob_http_curl_code(CURLcode rc) {
    switch (rc) {
    case CURLE_OUT_OF_MEMORY:
        return BLOB_ERR_NOMEM;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return BLOB_ERR_INVALID;
    default:
        return BLOB_ERR_TRANSIENT;
    }
}

/* The service did not accept the bearer token itself: 401, or 403
 * AuthenticationFailed, which is what Azure Storage (and Azurite) answer to
 * an expired or revoked token. Other 403s (AuthorizationPermissionMismatch:
 * the identity lacks a role) would fail again with any token. */
static int blob_http_token_refused(const storage_response *resp) {
    const char *code = storage_response_header(resp, "x-ms-error-code");
    return resp->status == 401 ||
           (resp->status == 403 && code && strcmp(code, "AuthenticationFailed") == 0);
}

/* One attempt. Fills resp; returns BLOB_OK on 2xx, else the code with err set.
 * *token_refused: the service refused a bearer token that a fresh fetch may
 * replace (see storage_token_reject). */
static blob_code blob_http_attempt(blob_client *c, const storage_request *req, const char *path,
                                   const char *target, storage_response *resp, blob_error *err,
                                   int *token_refused) {
    *token_refused = 0;
    blob_http *h = c->http;
    if (atomic_load(&h->aborted)) {
        storage_error_set(err, BLOB_ERR_TRANSIENT, req->op, target, BLOB_HTTP_ABORTED);
        return BLOB_ERR_TRANSIENT;
    }
    blob_fault fault = blob_http_take_fault(h);
    if (fault == BLOB_FAULT_CONNECT) {
        storage_error_set(err, BLOB_ERR_TRANSIENT, req->op, target,
                          "transient failure (injected connection error)");
        return BLOB_ERR_TRANSIENT;
    }
    if (fault == BLOB_FAULT_500) {
        storage_error_from_response(err, req->op, target, 500, "InternalError", NULL, 0);
        resp->status = 500;
        return BLOB_ERR_TRANSIENT;
    }

    storage_kv headers[STORAGE_MAX_HEADERS + 3];
    int nh = 0;
    for (int i = 0; i < req->nheaders; i++)
        headers[nh++] = req->headers[i];
    char date[64];
    blob_http_date(date);
    headers[nh++] = (storage_kv){"x-ms-date", date};
    headers[nh++] = (storage_kv){"x-ms-version", STORAGE_API_VERSION};

    char *token = NULL;
    char auth[256];
    auth[0] = '\0';
    if (c->token) {
        char msg[200];
        blob_code rc = storage_token_get(c->token, &token, msg, sizeof msg);
        if (rc != BLOB_OK) {
            storage_error_set(err, rc, req->op, target, "%s", msg);
            return rc;
        }
    } else if (c->acct.key && !c->sas) {
        storage_sign_input in = {req->method, path, req->params,  req->nparams,
                                 headers,     nh,   req->body_len};
        if (storage_sharedkey_authorization(c->acct.account, c->acct.key, c->acct.key_len, &in,
                                            auth, sizeof auth) != 0) {
            storage_error_set(err, BLOB_ERR_NOMEM, req->op, target, "signing failed");
            return BLOB_ERR_NOMEM;
        }
    }

    blob_code code = BLOB_ERR_NOMEM;
    char *url = blob_http_url(c, req, path);
    struct curl_slist *list = NULL;
    CURL *curl = url ? blob_http_borrow(h) : NULL;
    if (!curl) {
        storage_error_set(err, BLOB_ERR_NOMEM, req->op, target, "out of memory");
        goto done;
    }
    int has_type = 0;
    for (int i = 0; i < nh; i++) {
        char line[512];
        if (headers[i].value[0]) /* "name;" is curl's way to send an empty value */
            snprintf(line, sizeof line, "%s: %s", headers[i].name, headers[i].value);
        else
            snprintf(line, sizeof line, "%s;", headers[i].name);
        has_type |= strcasecmp(headers[i].name, "Content-Type") == 0;
        list = curl_slist_append(list, line);
    }
    if (token) {
        size_t cap = strlen(token) + 32;
        char *line = malloc(cap);
        if (line) {
            snprintf(line, cap, "Authorization: Bearer %s", token);
            list = curl_slist_append(list, line);
            free(line);
        }
    } else if (auth[0]) {
        char line[300];
        snprintf(line, sizeof line, "Authorization: %s", auth);
        list = curl_slist_append(list, line);
    }
    if (!has_type)
        list = curl_slist_append(list, "Content-Type:"); /* no curl default: it is signed */
    list = curl_slist_append(list, "Expect:");           /* no 100-continue round trip */

    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, blob_http_on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, h);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    long connect_ms = h->opts.connect_timeout_ms, total_ms = h->opts.request_timeout_ms;
    if (req->timeout_ms > 0) {
        connect_ms = req->timeout_ms < connect_ms ? req->timeout_ms : connect_ms;
        total_ms = req->timeout_ms < total_ms ? req->timeout_ms : total_ms;
    }
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, blob_http_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, blob_http_on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp);
    if (h->opts.ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, h->opts.ca_file);
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "PUT") == 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
    }

    CURLcode crc = curl_easy_perform(curl);
    if (crc == CURLE_ABORTED_BY_CALLBACK) {
        code = BLOB_ERR_TRANSIENT;
        storage_error_set(err, code, req->op, target, BLOB_HTTP_ABORTED);
    } else if (crc != CURLE_OK) {
        code = blob_http_curl_code(crc);
        storage_error_set(err, code, req->op, target, "%s (%s)", blob_strerror(code),
                          errbuf[0] ? errbuf : curl_easy_strerror(crc));
    } else {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
        code = storage_status_code(resp->status);
        if (token && blob_http_token_refused(resp))
            *token_refused = storage_token_reject(c->token, token);
        if (code != BLOB_OK)
            storage_error_from_response(err, req->op, target, resp->status,
                                        storage_response_header(resp, "x-ms-error-code"),
                                        resp->body, resp->body_len);
    }
    blob_http_return(h, curl);
done:
    curl_slist_free_all(list);
    free(url);
    free(token);
    return code;
}

blob_code blob_http_execute(blob_client *c, const storage_request *req, storage_response *resp,
                            blob_error *err) {
    memset(resp, 0, sizeof *resp);
    char target[300];
    snprintf(target, sizeof target, "%s%s%s", req->container, req->blob ? "/" : "",
             req->blob ? req->blob : "");
    char *path = blob_http_path(c, req);
    if (!path) {
        storage_error_set(err, BLOB_ERR_NOMEM, req->op, target, "out of memory");
        return BLOB_ERR_NOMEM;
    }
    const blob_http_options *o = &c->http->opts;
    int attempts = req->retry ? o->max_retries + 1 : 1;
    blob_code code = BLOB_OK;
    int token_renewed = 0, attempt = 0;
    for (; attempt < attempts; attempt++) {
        if (attempt > 0) {
            uint32_t rnd = 0;
            RAND_bytes((unsigned char *)&rnd, sizeof rnd);
            long ms = storage_backoff_ms(attempt - 1, o->retry_base_ms, o->retry_max_ms, rnd);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL); /* backoff, not synchronisation */
            storage_response_free(resp);
        }
        int token_refused;
        code = blob_http_attempt(c, req, path, target, resp, err, &token_refused);
        if (token_refused && !token_renewed) {
            /* Once, at once: a fresh token is the remedy, not a backoff. */
            token_renewed = 1;
            storage_response_free(resp);
            code = blob_http_attempt(c, req, path, target, resp, err, &token_refused);
        }
        if (code != BLOB_ERR_TRANSIENT || atomic_load(&c->http->aborted))
            break;
    }
    /* Counted as made: an abort ends the loop early. */
    int made = attempt < attempts ? attempt + 1 : attempts;
    if (code == BLOB_ERR_TRANSIENT && made > 1 && err) {
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, ", after %d attempts", made);
    }
    free(path);
    return code;
}
