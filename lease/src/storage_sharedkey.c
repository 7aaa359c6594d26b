/* storage_sharedkey.c -- SharedKey authorization for the Blob service.
 *
 * Implements "Authorize with Shared Key" of the Azure Storage REST reference
 * (version 2015-02-21 and later): the string-to-sign is
 *   VERB \n Content-Encoding \n Content-Language \n Content-Length \n
 *   Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n If-Match \n
 *   If-None-Match \n If-Unmodified-Since \n Range \n
 *   CanonicalizedHeaders CanonicalizedResource
 * where Content-Length is empty when 0, CanonicalizedHeaders is every x-ms-*
 * header as "name:value\n" (lower-case names, sorted, values trimmed) and
 * CanonicalizedResource is "/account" + URL path followed by "\nname:value"
 * for each query parameter (lower-case names, sorted, decoded values). The
 * signature is Base64(HMAC-SHA256(decoded account key, string-to-sign)).
 * Date is left empty: requests carry x-ms-date instead.
 */
#include "blob_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char *sharedkey_header(const storage_sign_input *in, const char *name) {
    for (int i = 0; i < in->nheaders; i++)
        if (strcasecmp(in->headers[i].name, name) == 0)
            return in->headers[i].value;
    return "";
}

static void sharedkey_put_lower(FILE *f, const char *s) {
    for (; *s; s++)
        fputc(tolower((unsigned char)*s), f);
}

static int sharedkey_cmp_name(const void *a, const void *b) {
    return strcasecmp((*(const storage_kv *const *)a)->name, (*(const storage_kv *const *)b)->name);
}

/* Sorted pointers into kv (only x-ms-* names when x_ms_only); returns the count. */
static int sharedkey_sorted(const storage_kv *kv, int n, int x_ms_only, const storage_kv **out) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!x_ms_only || strncasecmp(kv[i].name, "x-ms-", 5) == 0)
            out[m++] = &kv[i];
    qsort(out, (size_t)m, sizeof *out, sharedkey_cmp_name);
    return m;
}

char *storage_sharedkey_string_to_sign(const char *account, const storage_sign_input *in) {
    static const char *const standard[] = {"Content-Encoding", "Content-Language"};
    static const char *const standard2[] = {"Content-MD5",         "Content-Type", "Date",
                                            "If-Modified-Since",   "If-Match",     "If-None-Match",
                                            "If-Unmodified-Since", "Range"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "%s\n", in->method);
    for (size_t i = 0; i < sizeof standard / sizeof *standard; i++)
        fprintf(f, "%s\n", sharedkey_header(in, standard[i]));
    if (in->content_length > 0)
        fprintf(f, "%zu", in->content_length);
    fputc('\n', f);
    for (size_t i = 0; i < sizeof standard2 / sizeof *standard2; i++)
        fprintf(f, "%s\n", sharedkey_header(in, standard2[i]));

    const storage_kv *sorted[STORAGE_MAX_HEADERS + STORAGE_MAX_PARAMS];
    int n = sharedkey_sorted(in->headers, in->nheaders, 1, sorted);
    for (int i = 0; i < n; i++) {
        const char *v = sorted[i]->value;
        while (isspace((unsigned char)*v))
            v++;
        size_t vl = strlen(v);
        while (vl > 0 && isspace((unsigned char)v[vl - 1]))
            vl--;
        sharedkey_put_lower(f, sorted[i]->name);
        fprintf(f, ":%.*s\n", (int)vl, v);
    }

    fprintf(f, "/%s%s", account, in->path);
    n = sharedkey_sorted(in->params, in->nparams, 0, sorted);
    for (int i = 0; i < n; i++) {
        fputc('\n', f);
        sharedkey_put_lower(f, sorted[i]->name);
        fprintf(f, ":%s", sorted[i]->value);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int storage_sharedkey_sign(const unsigned char *key, size_t key_len, const char *sts, char *out,
                           size_t outlen) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)sts, strlen(sts), mac,
              &maclen))
        return -1;
    if (outlen < (size_t)(4 * ((maclen + 2) / 3) + 1))
        return -1;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
    return 0;
}

int storage_sharedkey_authorization(const char *account, const unsigned char *key, size_t key_len,
                                    const storage_sign_input *in, char *out, size_t outlen) {
    char *sts = storage_sharedkey_string_to_sign(account, in);
    if (!sts)
        return -1;
    char sig[64];
    int rc = storage_sharedkey_sign(key, key_len, sts, sig, sizeof sig);
    free(sts);
    if (rc != 0)
        return -1;
    int n = snprintf(out, outlen, "SharedKey %s:%s", account, sig);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}
