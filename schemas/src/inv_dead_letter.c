/* inv_dead_letter.c -- encode the dead-letter record
 * (schemas/v1/dead-letter.schema.json) written to inventory.dlq.
 *
 * The original key and payload are kept byte for byte: as a JSON string
 * when they are valid UTF-8 (jansson refuses anything else), otherwise as
 * base64 (OpenSSL's EVP_EncodeBlock), with "keyEncoding"/"payloadEncoding"
 * saying which. A NULL key or payload (Kafka null) is left out. */
#include <openssl/evp.h>
#include <stdlib.h>

#include "inv_json_internal.h"

/* Sets `field` and `field`Encoding; -1 on OOM. */
static int inv_dead_letter_put_bytes(json_t *o, const char *field, const char *enc_field,
                                     const char *bytes, size_t len)
{
    if (!bytes)
        return 0;
    json_t *s = json_stringn(bytes, len);
    if (s) {
        int bad = json_object_set_new(o, field, s);
        return bad | invj_put_str(o, enc_field, "utf8");
    }
    if (len > (size_t)INT32_MAX / 2)
        return -1;
    unsigned char *b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (!b64)
        return -1;
    EVP_EncodeBlock(b64, (const unsigned char *)bytes, (int)len);
    int bad = invj_put_str(o, field, (const char *)b64);
    free(b64);
    return bad | invj_put_str(o, enc_field, "base64");
}

char *inv_dead_letter_encode(const inv_dead_letter *dl)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = invj_put_int(o, "schemaVersion", INV_SCHEMA_VERSION);
    bad |= invj_put_str(o, "reason", dl->reason ? dl->reason : "");
    bad |= invj_put_str(o, "topic", dl->topic ? dl->topic : "");
    bad |= invj_put_int(o, "partition", dl->partition);
    bad |= invj_put_int(o, "offset", dl->offset);
    bad |= inv_dead_letter_put_bytes(o, "key", "keyEncoding", dl->key, dl->key_len);
    bad |= inv_dead_letter_put_bytes(o, "payload", "payloadEncoding", dl->payload, dl->payload_len);
    bad |= invj_put_int(o, "receivedAtMs", dl->received_at_ms);
    return invj_dump(o, bad);
}
