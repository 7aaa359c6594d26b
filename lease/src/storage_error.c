/* storage_error.c -- blob_code texts, HTTP classification and the tiny XML reader.
 *
 * The Blob service answers errors as
 *   <?xml ...?><Error><Code>LeaseAlreadyPresent</Code><Message>...</Message></Error>
 * and listings as flat <EnumerationResults> with <Blob><Name>..</Name>..</Blob>
 * (plus <Metadata><key>value</key>..</Metadata> when asked for) and
 * <NextMarker>. Those few flat tags are all we read, so a small
 * hand-written scanner does it: no XML library is in the stack, and pulling
 * one in for a handful of tags would cost more than this file. It does not
 * validate: it finds "<Tag>" or "<Tag attr..>" (or "<Tag/>"), returns the text
 * up to "</Tag>", and decodes the five named entities and numeric references.
 * CDATA is not handled (the service does not send it).
 */
#include "blob_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *blob_strerror(blob_code code) {
    switch (code) {
    case BLOB_OK:
        return "success";
    case BLOB_ERR_INVALID:
        return "invalid argument";
    case BLOB_ERR_NOMEM:
        return "out of memory";
    case BLOB_ERR_NOT_FOUND:
        return "not found";
    case BLOB_ERR_CONFLICT:
        return "conflict";
    case BLOB_ERR_PRECONDITION:
        return "precondition failed";
    case BLOB_ERR_AUTH:
        return "not authorized";
    case BLOB_ERR_HTTP:
        return "request rejected";
    case BLOB_ERR_TRANSIENT:
        return "transient failure";
    }
    return "unknown error";
}

int blob_code_is_transient(blob_code code) {
    return code == BLOB_ERR_TRANSIENT;
}

blob_code storage_status_code(long status) {
    if (status >= 200 && status < 300)
        return BLOB_OK;
    switch (status) {
    case 304: /* If-None-Match on a read matched: the condition failed */
    case 412:
        return BLOB_ERR_PRECONDITION;
    case 401:
    case 403:
        return BLOB_ERR_AUTH;
    case 404:
        return BLOB_ERR_NOT_FOUND;
    case 408:
        return BLOB_ERR_TRANSIENT;
    case 409:
        return BLOB_ERR_CONFLICT;
    default:
        return status >= 500 ? BLOB_ERR_TRANSIENT : BLOB_ERR_HTTP;
    }
}

int storage_xml_find(const char *xml, size_t len, const char *tag, const char **value, size_t *vlen,
                     const char **after) {
    size_t tlen = strlen(tag);
    const char *end = xml + len;
    for (const char *p = xml; p + tlen + 2 <= end; p++) {
        if (p[0] != '<' || memcmp(p + 1, tag, tlen) != 0)
            continue;
        const char *q = p + 1 + tlen;
        if (*q != '>' && *q != '/' && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n')
            continue; /* a longer tag name with the same prefix */
        const char *gt = memchr(q, '>', (size_t)(end - q));
        if (!gt)
            return 0;
        if (gt[-1] == '/') { /* <Tag/> or <Tag attr="x"/> */
            *value = gt + 1;
            *vlen = 0;
            if (after)
                *after = gt + 1;
            return 1;
        }
        const char *s = gt + 1;
        for (const char *c = s; c + tlen + 3 <= end; c++) {
            if (c[0] == '<' && c[1] == '/' && memcmp(c + 2, tag, tlen) == 0 && c[2 + tlen] == '>') {
                *value = s;
                *vlen = (size_t)(c - s);
                if (after)
                    *after = c + tlen + 3;
                return 1;
            }
        }
        return 0;
    }
    return 0;
}

/* Appends code point cp as UTF-8 if it fits; returns bytes written. */
static size_t storage_xml_utf8(unsigned long cp, char *o, size_t room) {
    char tmp[4];
    size_t n;
    if (cp < 0x80) {
        tmp[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (char)(0xC0 | (cp >> 6));
        tmp[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (char)(0xE0 | (cp >> 12));
        tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        tmp[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        tmp[0] = (char)(0xF0 | (cp >> 18));
        tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        tmp[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (n > room)
        return 0;
    memcpy(o, tmp, n);
    return n;
}

size_t storage_xml_decode(const char *raw, size_t rawlen, char *out, size_t outlen) {
    static const struct {
        const char *name;
        char ch;
    } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    if (outlen == 0)
        return 0;
    size_t o = 0;
    const char *end = raw + rawlen;
    for (const char *p = raw; p < end && o + 1 < outlen;) {
        if (*p != '&') {
            out[o++] = *p++;
            continue;
        }
        const char *semi = memchr(p, ';', (size_t)(end - p));
        size_t i;
        for (i = 0; i < sizeof named / sizeof *named; i++) {
            size_t nl = strlen(named[i].name);
            if ((size_t)(end - p - 1) >= nl && memcmp(p + 1, named[i].name, nl) == 0)
                break;
        }
        if (i < sizeof named / sizeof *named) {
            out[o++] = named[i].ch;
            p += 1 + strlen(named[i].name);
        } else if (semi && p[1] == '#' && semi - p > 2) {
            int hex = p[2] == 'x' || p[2] == 'X';
            char num[16];
            size_t nl = (size_t)(semi - p - 2 - hex);
            unsigned long cp = 0;
            if (nl > 0 && nl < sizeof num) {
                memcpy(num, p + 2 + hex, nl);
                num[nl] = '\0';
                char *e;
                cp = strtoul(num, &e, hex ? 16 : 10);
                if (*e != '\0' || cp > 0x10FFFF)
                    cp = 0;
            }
            if (cp == 0) { /* not a reference we understand: keep it verbatim */
                out[o++] = *p++;
                continue;
            }
            size_t w = storage_xml_utf8(cp, out + o, outlen - 1 - o);
            if (w == 0)
                break;
            o += w;
            p = semi + 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return o;
}

/* "op container/blob: " prefix; target may be NULL. */
static int storage_error_prefix(char *out, size_t cap, const char *op, const char *target) {
    int n = target ? snprintf(out, cap, "%s %s: ", op, target) : snprintf(out, cap, "%s: ", op);
    return n < 0 ? 0 : ((size_t)n >= cap ? (int)cap - 1 : n);
}

void storage_error_set(blob_error *err, blob_code code, const char *op, const char *target,
                       const char *fmt, ...) {
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->code = code;
    int n = storage_error_prefix(err->message, sizeof err->message, op, target);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message + n, sizeof err->message - (size_t)n, fmt, ap);
    va_end(ap);
}

void storage_error_from_response(blob_error *err, const char *op, const char *target, long status,
                                 const char *header_code, const char *body, size_t body_len) {
    if (!err)
        return;
    blob_code code = storage_status_code(status);
    storage_error_set(err, code, op, target, "%s", blob_strerror(code));
    err->http_status = status;
    const char *v;
    size_t vl;
    if (header_code && *header_code) {
        snprintf(err->storage_code, sizeof err->storage_code, "%s", header_code);
    } else if (body && storage_xml_find(body, body_len, "Error", &v, &vl, NULL)) {
        const char *cv;
        size_t cl;
        if (storage_xml_find(v, vl, "Code", &cv, &cl, NULL))
            storage_xml_decode(cv, cl, err->storage_code, sizeof err->storage_code);
    }
    size_t n = strlen(err->message);
    if (err->storage_code[0])
        snprintf(err->message + n, sizeof err->message - n, " (HTTP %ld %s)", status,
                 err->storage_code);
    else
        snprintf(err->message + n, sizeof err->message - n, " (HTTP %ld)", status);
}

void storage_list_parse_meta(const char *xml, size_t len, blob_meta *meta) {
    memset(meta, 0, sizeof *meta);
    const char *p = xml, *end = xml + len;
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt)
            return;
        const char *q = lt + 1, *ne = q;
        while (ne < end && *ne != '>' && *ne != '/' && *ne != ' ' && *ne != '\t' &&
               *ne != '\r' && *ne != '\n')
            ne++;
        char name[256]; /* service names are at most 256 characters; longer ones are not ours */
        size_t nl = (size_t)(ne - q);
        const char *v, *after;
        size_t vl;
        if (nl == 0 || *q == '?' || *q == '!') { /* stray '<' or markup: step over it */
            p = lt + 1;
            continue;
        }
        if (nl >= sizeof name)
            return;
        memcpy(name, q, nl);
        name[nl] = '\0';
        if (!storage_xml_find(lt, (size_t)(end - lt), name, &v, &vl, &after))
            return; /* unterminated: nothing after it can be trusted */
        p = after;
        char value[sizeof meta->item[0].value + 1];
        size_t n = storage_xml_decode(v, vl, value, sizeof value);
        if (nl >= sizeof meta->item[0].name || n >= sizeof meta->item[0].value)
            continue; /* would not fit: leave it out rather than truncate */
        if (meta->count >= BLOB_META_MAX)
            return;
        int i = meta->count++;
        memcpy(meta->item[i].name, name, nl + 1);
        memcpy(meta->item[i].value, value, n + 1);
    }
}

int storage_list_parse(const char *xml, size_t len, blob_list_item_cb cb, void *opaque,
                       char *marker, size_t marker_len) {
    const char *v, *after;
    size_t vl;
    marker[0] = '\0';
    if (storage_xml_find(xml, len, "NextMarker", &v, &vl, NULL))
        storage_xml_decode(v, vl, marker, marker_len);
    const char *p = xml, *end = xml + len;
    char name[4097]; /* names are at most 1024 characters; entities can make the raw text longer */
    blob_meta meta;
    blob_list_item item = {name, &meta};
    while (storage_xml_find(p, (size_t)(end - p), "Blob", &v, &vl, &after)) {
        const char *nv, *mv;
        size_t nl, ml;
        p = after;
        if (!storage_xml_find(v, vl, "Name", &nv, &nl, NULL))
            continue;
        if (nl >= sizeof name)
            return -1;
        storage_xml_decode(nv, nl, name, sizeof name);
        if (storage_xml_find(v, vl, "Metadata", &mv, &ml, NULL))
            storage_list_parse_meta(mv, ml, &meta);
        else
            memset(&meta, 0, sizeof meta);
        if (cb(&item, opaque) != 0)
            return 1;
    }
    return 0;
}
