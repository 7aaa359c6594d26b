/* blob_meta.c -- blob metadata lists, GUIDs and block ids.
 *
 * blob_meta is a fixed array (no allocation). Names must be C identifiers,
 * as the service requires for x-ms-meta-* headers, and are compared without
 * case because the service lower-cases them. Values must be printable ASCII:
 * they travel as HTTP header values, so CR/LF would split the request.
 * GUIDs come from OpenSSL's CSPRNG, so lease ids cannot be predicted.
 * Block ids are numbered and fixed-length, as Put Block List requires.
 */
#include "blob_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

const char *blob_meta_get(const blob_meta *meta, const char *name) {
    for (int i = 0; meta && i < meta->count; i++)
        if (strcasecmp(meta->item[i].name, name) == 0)
            return meta->item[i].value;
    return NULL;
}

static int blob_meta_valid_name(const char *name) {
    if (!name || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return 0;
    for (const char *p = name; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return 0;
    return 1;
}

static int blob_meta_valid_value(const char *value) {
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            return 0;
    return 1;
}

blob_code blob_meta_set(blob_meta *meta, const char *name, const char *value) {
    if (!meta || !value || !blob_meta_valid_name(name) || !blob_meta_valid_value(value) ||
        strlen(name) >= sizeof meta->item[0].name || strlen(value) >= sizeof meta->item[0].value)
        return BLOB_ERR_INVALID;
    int i;
    for (i = 0; i < meta->count; i++)
        if (strcasecmp(meta->item[i].name, name) == 0)
            break;
    if (i == meta->count) {
        if (meta->count >= BLOB_META_MAX)
            return BLOB_ERR_INVALID;
        meta->count++;
    }
    snprintf(meta->item[i].name, sizeof meta->item[i].name, "%s", name);
    snprintf(meta->item[i].value, sizeof meta->item[i].value, "%s", value);
    return BLOB_OK;
}

void blob_meta_from_response(const storage_response *resp, blob_meta *meta) {
    memset(meta, 0, sizeof *meta);
    size_t pos = 0;
    const char *name, *value;
    while (storage_response_next(resp, &pos, &name, &value)) {
        if (strncasecmp(name, "x-ms-meta-", 10) != 0 || meta->count >= BLOB_META_MAX)
            continue;
        int i = meta->count++;
        snprintf(meta->item[i].name, sizeof meta->item[i].name, "%s", name + 10);
        snprintf(meta->item[i].value, sizeof meta->item[i].value, "%s", value);
    }
}

void blob_new_guid(char out[37]) {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        /* The CSPRNG cannot fail once seeded; a zero GUID would collide, so
         * fall back to the OS source instead of returning garbage. */
        FILE *f = fopen("/dev/urandom", "rb");
        if (!f || fread(b, 1, sizeof b, f) != sizeof b)
            memset(b, 0, sizeof b);
        if (f)
            fclose(f);
    }
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void blob_block_id(unsigned long long n, char out[BLOB_BLOCK_ID_MAX]) {
    /* 24 bytes encode to 32 base64 characters without padding. */
    char raw[25];
    snprintf(raw, sizeof raw, "lhblk-%018llu", n % 1000000000000000000ULL);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)raw, 24);
}
