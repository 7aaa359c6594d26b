/* storage_token.c -- OAuth bearer tokens for the Blob service.
 *
 * Three sources, one per client:
 *   static   the token given in the options, used as is;
 *   file     a file holding the token (as AKS workload identity or a sidecar
 *            mounts it), re-read whenever its mtime, size or inode changes,
 *            so a rotated token is picked up on the next request;
 *   managed identity
 *            GET <endpoint>?api-version=..&resource=https://storage.azure.com/
 *            IMDS style (header "Metadata: true", api-version 2018-02-01) or
 *            App Service style (IDENTITY_ENDPOINT + X-IDENTITY-HEADER from
 *            IDENTITY_HEADER, api-version 2019-08-01). The JSON answer's
 *            access_token is cached until STORAGE_TOKEN_REFRESH_S before its
 *            expires_on (epoch seconds, string or number; expires_in as
 *            fallback). A refused token (401, or 403 AuthenticationFailed
 *            as Azure answers an expired one) drops the cached token
 *            (storage_token_reject) so the request is tried once more
 *            with a fresh one: tokens can be revoked before they expire.
 * A mutex serialises refreshes; requests share the cached token. Tokens are
 * never put into messages.
 */
#include "blob_internal.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Token files and endpoint answers larger than this are refused. */
#define STORAGE_TOKEN_MAX 65536

enum storage_token_kind { TOKEN_STATIC, TOKEN_FILE, TOKEN_IMDS, TOKEN_APP_SERVICE };

struct storage_token {
    enum storage_token_kind kind;
    char *source;    /* file path or endpoint URL */
    char *client_id; /* user-assigned identity, or NULL */
    char *identity_header;
    char *ca_file;
    long timeout_ms;
    pthread_mutex_t lock; /* guards everything below */
    char *token;
    time_t expires_on; /* managed identity */
    struct stat st;    /* file: identity of the version cached */
    int fetches;
};

static void storage_token_wipe(char *s) {
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void storage_token_free(storage_token *t) {
    if (!t)
        return;
    storage_token_wipe(t->token);
    storage_token_wipe(t->identity_header);
    free(t->source);
    free(t->client_id);
    free(t->ca_file);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static int storage_token_dup(char **dst, const char *src) {
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

storage_token *storage_token_new(const storage_token_options *opts, char *err, size_t errlen) {
    int sources =
        (opts->static_token != NULL) + (opts->file != NULL) + (opts->managed_identity != 0);
    if (sources != 1) {
        snprintf(err, errlen,
                 "bearer_token, bearer_token_file and use_managed_identity are "
                 "mutually exclusive");
        return NULL;
    }
    if (opts->static_token && !*opts->static_token) {
        snprintf(err, errlen, "bearer_token is empty");
        return NULL;
    }
    storage_token *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
    int rc = storage_token_dup(&t->ca_file, opts->ca_file);
    if (opts->static_token) {
        t->kind = TOKEN_STATIC;
        rc |= storage_token_dup(&t->token, opts->static_token);
    } else if (opts->file) {
        t->kind = TOKEN_FILE;
        rc |= storage_token_dup(&t->source, opts->file);
    } else {
        const char *app_endpoint = getenv("IDENTITY_ENDPOINT");
        const char *app_header = getenv("IDENTITY_HEADER");
        rc |= storage_token_dup(&t->client_id, opts->mi_client_id);
        if (!opts->mi_endpoint && app_endpoint && app_header) {
            t->kind = TOKEN_APP_SERVICE;
            rc |= storage_token_dup(&t->source, app_endpoint);
            rc |= storage_token_dup(&t->identity_header, app_header);
        } else {
            t->kind = TOKEN_IMDS;
            rc |= storage_token_dup(&t->source,
                                    opts->mi_endpoint ? opts->mi_endpoint : STORAGE_IMDS_ENDPOINT);
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "out of memory");
        storage_token_free(t);
        return NULL;
    }
    return t;
}

int storage_token_fetch_count(storage_token *t) {
    pthread_mutex_lock(&t->lock);
    int n = t->fetches;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* Re-reads the token file when it changed since the cached copy. */
static blob_code storage_token_load_file(storage_token *t, char *err, size_t errlen) {
    struct stat st;
    if (stat(t->source, &st) != 0) {
        snprintf(err, errlen, "bearer_token_file %s: %s", t->source, strerror(errno));
        return BLOB_ERR_AUTH;
    }
    if (t->token && st.st_mtim.tv_sec == t->st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == t->st.st_mtim.tv_nsec && st.st_size == t->st.st_size &&
        st.st_ino == t->st.st_ino)
        return BLOB_OK;
    if (st.st_size <= 0 || st.st_size > STORAGE_TOKEN_MAX) {
        snprintf(err, errlen, "bearer_token_file %s: empty or larger than %d bytes", t->source,
                 STORAGE_TOKEN_MAX);
        return BLOB_ERR_AUTH;
    }
    FILE *f = fopen(t->source, "r");
    if (!f) {
        snprintf(err, errlen, "bearer_token_file %s: %s", t->source, strerror(errno));
        return BLOB_ERR_AUTH;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return BLOB_ERR_NOMEM;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    if (n == 0) {
        free(buf);
        snprintf(err, errlen, "bearer_token_file %s: no token in the file", t->source);
        return BLOB_ERR_AUTH;
    }
    storage_token_wipe(t->token);
    t->token = buf;
    t->st = st;
    t->fetches++;
    return BLOB_OK;
}

struct storage_token_buf {
    char *data;
    size_t len;
};

static size_t storage_token_on_body(char *data, size_t size, size_t nmemb, void *opaque) {
    struct storage_token_buf *b = opaque;
    size_t n = size * nmemb;
    if (b->len + n > STORAGE_TOKEN_MAX)
        return 0;
    char *nd = realloc(b->data, b->len + n + 1);
    if (!nd)
        return 0;
    memcpy(nd + b->len, data, n);
    b->data = nd;
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* expires_on as epoch seconds from a JSON string or integer; 0 when absent. */
static time_t storage_token_json_time(json_t *v) {
    if (json_is_integer(v))
        return (time_t)json_integer_value(v);
    if (json_is_string(v)) {
        char *end;
        long long x = strtoll(json_string_value(v), &end, 10);
        if (*end == '\0' && end != json_string_value(v))
            return (time_t)x;
    }
    return 0;
}

/* Parses the endpoint's JSON answer into t->token / t->expires_on. */
static blob_code storage_token_parse(storage_token *t, const char *body, char *err, size_t errlen) {
    json_error_t jerr;
    json_t *root = json_loads(body, 0, &jerr);
    json_t *tok = root ? json_object_get(root, "access_token") : NULL;
    if (!json_is_string(tok) || json_string_length(tok) == 0) {
        json_decref(root);
        snprintf(err, errlen, "managed identity: the answer has no access_token");
        return BLOB_ERR_AUTH;
    }
    time_t exp = storage_token_json_time(json_object_get(root, "expires_on"));
    if (exp == 0) {
        time_t in = storage_token_json_time(json_object_get(root, "expires_in"));
        exp = in > 0 ? time(NULL) + in : 0;
    }
    if (exp == 0) {
        json_decref(root);
        snprintf(err, errlen, "managed identity: the answer has no expires_on");
        return BLOB_ERR_AUTH;
    }
    char *copy = strdup(json_string_value(tok));
    json_decref(root);
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return BLOB_ERR_NOMEM;
    }
    storage_token_wipe(t->token);
    t->token = copy;
    t->expires_on = exp;
    t->fetches++;
    return BLOB_OK;
}

static blob_code storage_token_fetch(storage_token *t, char *err, size_t errlen) {
    if (t->token && time(NULL) < t->expires_on - STORAGE_TOKEN_REFRESH_S)
        return BLOB_OK;
    int app = t->kind == TOKEN_APP_SERVICE;
    CURL *curl = curl_easy_init();
    char *id = curl && t->client_id ? curl_easy_escape(curl, t->client_id, 0) : NULL;
    size_t cap = strlen(t->source) + (id ? strlen(id) : 0) + 128;
    char *url = malloc(cap);
    char *hdr = malloc(app ? strlen(t->identity_header) + 32 : 32);
    struct curl_slist *list = NULL;
    struct storage_token_buf body = {NULL, 0};
    blob_code code = BLOB_ERR_NOMEM;
    snprintf(err, errlen, "out of memory");
    if (!curl || !url || !hdr || (t->client_id && !id))
        goto done;
    snprintf(url, cap, "%s%capi-version=%s&resource=https%%3A%%2F%%2Fstorage.azure.com%%2F%s%s",
             t->source, strchr(t->source, '?') ? '&' : '?', app ? "2019-08-01" : "2018-02-01",
             id ? "&client_id=" : "", id ? id : "");
    if (app)
        sprintf(hdr, "X-IDENTITY-HEADER: %s", t->identity_header);
    else
        strcpy(hdr, "Metadata: true");
    list = curl_slist_append(NULL, hdr);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* IMDS must never go through a proxy */
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, storage_token_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    if (t->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, t->ca_file);
    CURLcode crc = curl_easy_perform(curl);
    long status = 0;
    if (crc != CURLE_OK) {
        code = BLOB_ERR_TRANSIENT;
        snprintf(err, errlen, "managed identity endpoint: %s",
                 errbuf[0] ? errbuf : curl_easy_strerror(crc));
        goto done;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        code = status >= 500 || status == 429 || status == 408 ? BLOB_ERR_TRANSIENT : BLOB_ERR_AUTH;
        snprintf(err, errlen, "managed identity endpoint: HTTP %ld", status);
        goto done;
    }
    code = storage_token_parse(t, body.data ? body.data : "", err, errlen);
done:
    if (body.data) {
        OPENSSL_cleanse(body.data, body.len);
        free(body.data);
    }
    curl_slist_free_all(list);
    if (hdr) {
        OPENSSL_cleanse(hdr, strlen(hdr));
        free(hdr);
    }
    free(url);
    curl_free(id);
    if (curl)
        curl_easy_cleanup(curl);
    return code;
}

int storage_token_reject(storage_token *t, const char *used) {
    if (t->kind == TOKEN_STATIC || t->kind == TOKEN_FILE)
        return 0;
    pthread_mutex_lock(&t->lock);
    if (t->token && strcmp(t->token, used) == 0) {
        storage_token_wipe(t->token);
        t->token = NULL;
        t->expires_on = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return 1;
}

blob_code storage_token_get(storage_token *t, char **out, char *err, size_t errlen) {
    *out = NULL;
    pthread_mutex_lock(&t->lock);
    blob_code code = BLOB_OK;
    if (t->kind == TOKEN_FILE)
        code = storage_token_load_file(t, err, errlen);
    else if (t->kind != TOKEN_STATIC)
        code = storage_token_fetch(t, err, errlen);
    if (code == BLOB_OK && !(*out = strdup(t->token))) {
        snprintf(err, errlen, "out of memory");
        code = BLOB_ERR_NOMEM;
    }
    pthread_mutex_unlock(&t->lock);
    return code;
}
