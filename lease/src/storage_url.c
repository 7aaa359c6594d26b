/* storage_url.c -- percent-encoding for blob names and query values.
 *
 * RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) pass through, every
 * other byte becomes %XX (upper-case hex). Blob names keep '/' so that
 * "dir/file" stays a path, as the Azure SDKs send it; query values encode it.
 * The encoded path is also what SharedKey signs, so encoding and signing
 * agree by construction.
 */
#include "blob_internal.h"

#include <stdlib.h>
#include <string.h>

static int storage_url_unreserved(unsigned char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

char *storage_url_encode(const char *in, int keep_slash) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(in);
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (storage_url_unreserved(*p) || (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}
