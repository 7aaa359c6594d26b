/* storage_connstr.c -- Azure Storage connection strings.
 *
 * A connection string is "Key=Value" parts separated by ';' (empty parts, such
 * as a trailing ';', are ignored). Keys are case-insensitive:
 *   UseDevelopmentStorage=true  -> Azurite: devstoreaccount1, its public key,
 *                                  http://127.0.0.1:10000/devstoreaccount1 (alone only)
 *   DefaultEndpointsProtocol    http | https (default https)
 *   AccountName, AccountKey     key is base64 and needs AccountName
 *   BlobEndpoint                full URL; wins over protocol/suffix
 *   EndpointSuffix              default core.windows.net
 *   SharedAccessSignature       exclusive with AccountKey
 *   QueueEndpoint, TableEndpoint, FileEndpoint  accepted and ignored
 * Every error names the offending part; key and SAS values are never echoed.
 */
#include "blob_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

enum connstr_key {
    KEY_DEV,
    KEY_PROTOCOL,
    KEY_NAME,
    KEY_KEY,
    KEY_BLOB_ENDPOINT,
    KEY_SUFFIX,
    KEY_SAS,
    KEY_QUEUE_ENDPOINT,
    KEY_TABLE_ENDPOINT,
    KEY_FILE_ENDPOINT,
    KEY_COUNT
};

static const char *const connstr_key_names[KEY_COUNT] = {
    "UseDevelopmentStorage", "DefaultEndpointsProtocol",
    "AccountName",           "AccountKey",
    "BlobEndpoint",          "EndpointSuffix",
    "SharedAccessSignature", "QueueEndpoint",
    "TableEndpoint",         "FileEndpoint",
};

/* A part text is echoed in messages only when it cannot be a secret. */
static int connstr_part_is_echoable(const char *part, size_t len) {
    return len <= 32 && strncasecmp(part, "AccountKey", 10) != 0 &&
           strncasecmp(part, "SharedAccessSignature", 21) != 0 && strncasecmp(part, "sig", 3) != 0;
}

static blob_code connstr_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static blob_code connstr_fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        int n = snprintf(err, errlen, "connection string: ");
        va_list ap;
        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < errlen)
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return BLOB_ERR_INVALID;
}

long storage_base64_decode(const char *in, size_t len, unsigned char *out) {
    if (len == 0 || len % 4 != 0)
        return -1;
    size_t pad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch == '=') {
            /* padding only in the last two positions, and only at the end */
            if (i < len - 2)
                return -1;
            pad++;
        } else if (pad || !(isalnum(ch) || ch == '+' || ch == '/')) {
            return -1;
        }
    }
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -1;
    return (long)n - (long)pad;
}

static char *connstr_strndup(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void storage_account_clear(storage_account *a) {
    if (!a)
        return;
    free(a->account);
    free(a->endpoint);
    if (a->key) {
        OPENSSL_cleanse(a->key, a->key_len);
        free(a->key);
    }
    if (a->sas) {
        OPENSSL_cleanse(a->sas, strlen(a->sas));
        free(a->sas);
    }
    memset(a, 0, sizeof *a);
}

/* Account names are 3-24 lower-case letters and digits (service rule). */
static int connstr_valid_account(const char *s) {
    size_t n = strlen(s);
    if (n < 3 || n > 24)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i])))
            return 0;
    return 1;
}

/* Sets a->https and a->path from a->endpoint; 0 when it is not http(s)://host... */
static int connstr_split_endpoint(storage_account *a) {
    const char *rest;
    if (strncasecmp(a->endpoint, "https://", 8) == 0) {
        a->https = 1;
        rest = a->endpoint + 8;
    } else if (strncasecmp(a->endpoint, "http://", 7) == 0) {
        a->https = 0;
        rest = a->endpoint + 7;
    } else {
        return 0;
    }
    if (*rest == '\0' || *rest == '/' || strpbrk(a->endpoint, "?# ") != NULL)
        return 0;
    const char *slash = strchr(rest, '/');
    a->path = slash ? slash : rest + strlen(rest);
    return 1;
}

/* Account name implied by an endpoint: the first path segment for IP/localhost
 * (path-style, as Azurite) or the first host label otherwise. */
static char *connstr_account_from_endpoint(const storage_account *a) {
    const char *host = strstr(a->endpoint, "://") + 3;
    size_t hostlen = (size_t)(a->path - host);
    int path_style =
        isdigit((unsigned char)host[0]) || host[0] == '[' || strncasecmp(host, "localhost", 9) == 0;
    if (path_style) {
        const char *seg = a->path[0] == '/' ? a->path + 1 : a->path;
        size_t n = strcspn(seg, "/");
        return n ? connstr_strndup(seg, n) : NULL;
    }
    return connstr_strndup(host, strcspn(host, ".:/") < hostlen ? strcspn(host, ".:/") : hostlen);
}

blob_code storage_connstr_parse(const char *text, storage_account *out, char *err, size_t errlen) {
    const char *val[KEY_COUNT] = {0};
    size_t vlen[KEY_COUNT] = {0};
    memset(out, 0, sizeof *out);
    if (!text)
        return connstr_fail(err, errlen, "missing (NULL)");

    int part_no = 0, nonempty = 0;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        part_no++;
        const char *s = p, *e = end;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        p = *end ? end + 1 : end;
        if (s == e)
            continue;
        nonempty++;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq) {
            if (connstr_part_is_echoable(s, (size_t)(e - s)))
                return connstr_fail(err, errlen, "part %d '%.*s' has no '='", part_no, (int)(e - s),
                                    s);
            return connstr_fail(err, errlen, "part %d (%d characters) has no '='", part_no,
                                (int)(e - s));
        }
        const char *ke = eq;
        while (ke > s && isspace((unsigned char)ke[-1]))
            ke--;
        if (ke == s)
            return connstr_fail(err, errlen, "part %d has an empty key", part_no);
        int k;
        for (k = 0; k < KEY_COUNT; k++)
            if (strlen(connstr_key_names[k]) == (size_t)(ke - s) &&
                strncasecmp(connstr_key_names[k], s, (size_t)(ke - s)) == 0)
                break;
        if (k == KEY_COUNT)
            return connstr_fail(err, errlen, "unknown key '%.*s'",
                                (int)(ke - s) > 40 ? 40 : (int)(ke - s), s);
        if (val[k])
            return connstr_fail(err, errlen, "duplicate key '%s'", connstr_key_names[k]);
        const char *vs = eq + 1;
        while (vs < e && isspace((unsigned char)*vs))
            vs++;
        if (vs == e)
            return connstr_fail(err, errlen, "%s has an empty value", connstr_key_names[k]);
        val[k] = vs;
        vlen[k] = (size_t)(e - vs);
    }
    if (nonempty == 0)
        return connstr_fail(err, errlen, "empty");

    if (val[KEY_DEV]) {
        if (vlen[KEY_DEV] != 4 || strncasecmp(val[KEY_DEV], "true", 4) != 0)
            return connstr_fail(err, errlen, "UseDevelopmentStorage must be 'true'");
        for (int k = 0; k < KEY_COUNT; k++)
            if (k != KEY_DEV && val[k])
                return connstr_fail(err, errlen, "UseDevelopmentStorage cannot be combined with %s",
                                    connstr_key_names[k]);
        val[KEY_NAME] = STORAGE_DEV_ACCOUNT;
        vlen[KEY_NAME] = strlen(STORAGE_DEV_ACCOUNT);
        val[KEY_KEY] = STORAGE_DEV_KEY;
        vlen[KEY_KEY] = strlen(STORAGE_DEV_KEY);
        val[KEY_BLOB_ENDPOINT] = STORAGE_DEV_ENDPOINT;
        vlen[KEY_BLOB_ENDPOINT] = strlen(STORAGE_DEV_ENDPOINT);
    }

    int https = 1;
    if (val[KEY_PROTOCOL]) {
        if (vlen[KEY_PROTOCOL] == 5 && strncasecmp(val[KEY_PROTOCOL], "https", 5) == 0)
            https = 1;
        else if (vlen[KEY_PROTOCOL] == 4 && strncasecmp(val[KEY_PROTOCOL], "http", 4) == 0)
            https = 0;
        else
            return connstr_fail(
                err, errlen, "DefaultEndpointsProtocol must be 'http' or 'https', got '%.*s'",
                vlen[KEY_PROTOCOL] > 16 ? 16 : (int)vlen[KEY_PROTOCOL], val[KEY_PROTOCOL]);
    }
    if (val[KEY_KEY] && val[KEY_SAS])
        return connstr_fail(err, errlen,
                            "AccountKey and SharedAccessSignature cannot both be given");
    if (val[KEY_KEY] && !val[KEY_NAME])
        return connstr_fail(err, errlen, "AccountKey needs AccountName");
    if (!val[KEY_BLOB_ENDPOINT] && !val[KEY_NAME])
        return connstr_fail(err, errlen, "missing AccountName (or BlobEndpoint)");

    blob_code rc = BLOB_ERR_NOMEM;
    if (val[KEY_NAME]) {
        out->account = connstr_strndup(val[KEY_NAME], vlen[KEY_NAME]);
        if (!out->account)
            goto err;
        if (!connstr_valid_account(out->account)) {
            rc = connstr_fail(err, errlen,
                              "AccountName must be 3-24 lower-case letters or digits, got '%.24s'",
                              out->account);
            goto err;
        }
    }
    if (val[KEY_BLOB_ENDPOINT]) {
        size_t n = vlen[KEY_BLOB_ENDPOINT];
        while (n > 0 && val[KEY_BLOB_ENDPOINT][n - 1] == '/')
            n--;
        out->endpoint = connstr_strndup(val[KEY_BLOB_ENDPOINT], n);
    } else {
        const char *suffix = val[KEY_SUFFIX] ? val[KEY_SUFFIX] : "core.windows.net";
        int slen = val[KEY_SUFFIX] ? (int)vlen[KEY_SUFFIX] : (int)strlen(suffix);
        size_t cap = strlen(out->account) + (size_t)slen + 32;
        out->endpoint = malloc(cap);
        if (out->endpoint)
            snprintf(out->endpoint, cap, "%s://%s.blob.%.*s", https ? "https" : "http",
                     out->account, slen, suffix);
    }
    if (!out->endpoint)
        goto err;
    if (!connstr_split_endpoint(out)) {
        rc = connstr_fail(err, errlen,
                          "BlobEndpoint must be an http:// or https:// URL with a host and "
                          "no query");
        goto err;
    }
    if (!out->account) {
        out->account = connstr_account_from_endpoint(out);
        if (!out->account) {
            rc = connstr_fail(err, errlen,
                              "missing AccountName (cannot derive it from "
                              "BlobEndpoint)");
            goto err;
        }
    }
    if (val[KEY_KEY]) {
        out->key = malloc(vlen[KEY_KEY] / 4 * 3 + 3);
        if (!out->key)
            goto err;
        long n = storage_base64_decode(val[KEY_KEY], vlen[KEY_KEY], out->key);
        if (n <= 0) {
            rc = connstr_fail(err, errlen, "AccountKey is not valid base64");
            goto err;
        }
        out->key_len = (size_t)n;
    }
    if (val[KEY_SAS]) {
        const char *s = val[KEY_SAS];
        size_t n = vlen[KEY_SAS];
        if (*s == '?') {
            s++;
            n--;
        }
        out->sas = connstr_strndup(s, n);
        if (!out->sas)
            goto err;
        if (n == 0 || (strncmp(out->sas, "sig=", 4) != 0 && !strstr(out->sas, "&sig="))) {
            rc = connstr_fail(err, errlen, "SharedAccessSignature has no 'sig' parameter");
            goto err;
        }
    }
    return BLOB_OK;
err:
    if (rc == BLOB_ERR_NOMEM)
        connstr_fail(err, errlen, "out of memory");
    storage_account_clear(out);
    return rc;
}
