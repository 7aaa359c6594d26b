/* inv_json.c -- strict field readers and small encoder helpers on jansson.
 *
 * Every decoder in the codec goes through these readers so that all
 * documents share one vocabulary of messages ("quantity: must be an
 * integer", "productId: must match ..."). Field names are looked up in
 * camelCase first, then PascalCase; a document carrying both spellings of
 * one field is ambiguous and rejected. Unknown fields are never looked at,
 * which is what makes the codec lenient on them. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv_json_internal.h"

/* ASCII classes spelled out: <ctype.h> answers by locale. */
static int invj_is_lower(unsigned char ch)
{
    return ch >= 'a' && ch <= 'z';
}

static int invj_is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

static int invj_is_alnum(unsigned char ch)
{
    return invj_is_lower(ch) || (ch >= 'A' && ch <= 'Z') || invj_is_digit(ch);
}

int invj_fail(const invj_ctx *c, const char *field, const char *fmt, ...)
{
    if (!c->err || c->errlen == 0)
        return -1;
    int n = snprintf(c->err, c->errlen, "%s%s: ", c->prefix, field);
    if (n >= 0 && (size_t)n < c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int invj_field(const invj_ctx *c, json_t *obj, const char *name, int required, json_t **out)
{
    char pascal[64];
    snprintf(pascal, sizeof pascal, "%s", name);
    if (invj_is_lower((unsigned char)pascal[0]))
        pascal[0] = (char)(pascal[0] - 'a' + 'A');
    json_t *camel_v = json_object_get(obj, name);
    json_t *pascal_v = json_object_get(obj, pascal);
    if (camel_v && pascal_v)
        return invj_fail(c, name, "given twice (%s and %s)", name, pascal);
    *out = camel_v ? camel_v : pascal_v;
    if (!*out)
        return required ? invj_fail(c, name, "required") : 0;
    return 1;
}

int invj_is_topic_char(unsigned char ch)
{
    return invj_is_alnum(ch) || ch == '.' || ch == '_' || ch == '-';
}

/* Hand-written rather than regcomp(): the patterns are fixed character
 * classes, and a loop states them exactly without a compile step that
 * could fail at runtime. */
static int invj_check_str(const invj_ctx *c, const char *name, invj_str_kind kind,
                          const char *s, size_t len, size_t dstsz)
{
    switch (kind) {
    case INVJ_ID:
        if (len == 0)
            return invj_fail(c, name, "must not be empty");
        if (len > INV_ID_MAX)
            return invj_fail(c, name, "must be at most %d characters", INV_ID_MAX);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
                return invj_fail(c, name, "must be printable ASCII without spaces");
        return 0;
    case INVJ_PRODUCT:
        if (len == 0 || len > INV_PRODUCT_MAX)
            return invj_fail(c, name, "must match %s", INVJ_PRODUCT_PATTERN);
        for (size_t i = 0; i < len; i++)
            if (i == 0 ? !invj_is_alnum((unsigned char)s[i]) : !invj_is_topic_char((unsigned char)s[i]))
                return invj_fail(c, name, "must match %s", INVJ_PRODUCT_PATTERN);
        return 0;
    case INVJ_REASON:
        if (len == 0 || len > 63 || !invj_is_lower((unsigned char)s[0]))
            return invj_fail(c, name, "must match %s", INVJ_REASON_PATTERN);
        for (size_t i = 1; i < len; i++)
            if (!invj_is_lower((unsigned char)s[i]) && !invj_is_digit((unsigned char)s[i]) && s[i] != '_')
                return invj_fail(c, name, "must match %s", INVJ_REASON_PATTERN);
        return 0;
    case INVJ_TEXT:
        if (len >= dstsz)
            return invj_fail(c, name, "must be at most %zu bytes", dstsz - 1);
        if (memchr(s, '\0', len))
            return invj_fail(c, name, "must not contain NUL");
        return 0;
    }
    return invj_fail(c, name, "unsupported string kind");
}

int invj_get_str(const invj_ctx *c, json_t *obj, const char *name, int required,
                 invj_str_kind kind, char *dst, size_t dstsz)
{
    json_t *v;
    dst[0] = '\0';
    int rc = invj_field(c, obj, name, required, &v);
    if (rc <= 0)
        return rc;
    if (!json_is_string(v))
        return invj_fail(c, name, "must be a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (invj_check_str(c, name, kind, s, len, dstsz) < 0)
        return -1;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 1;
}

int invj_get_int(const invj_ctx *c, json_t *obj, const char *name, int required,
                 long long min, long long max, long long *dst)
{
    json_t *v;
    int rc = invj_field(c, obj, name, required, &v);
    if (rc <= 0)
        return rc;
    /* json_is_integer is false for 5.0, "5" and true alike: all rejected. */
    if (!json_is_integer(v))
        return invj_fail(c, name, "must be an integer");
    long long x = json_integer_value(v);
    if (x < min || x > max) {
        if (max == LLONG_MAX)
            return invj_fail(c, name, "must be an integer of at least %lld", min);
        return invj_fail(c, name, "must be an integer from %lld to %lld", min, max);
    }
    *dst = x;
    return 1;
}

int invj_get_i64(const invj_ctx *c, json_t *obj, const char *name, int required, int64_t *dst)
{
    long long x = 0;
    int rc = invj_get_int(c, obj, name, required, 0, LLONG_MAX, &x);
    if (rc == 1)
        *dst = (int64_t)x;
    return rc;
}

int invj_utf8_prefix(const char *s, int max)
{
    int n = (int)strnlen(s, (size_t)max + 1);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

int invj_get_type(const invj_ctx *c, json_t *obj, const char **out)
{
    json_t *v;
    if (invj_field(c, obj, "type", 1, &v) < 0)
        return -1;
    if (!json_is_string(v))
        return invj_fail(c, "type", "must be a string");
    *out = json_string_value(v);
    return 1;
}

json_t *invj_parse(const invj_ctx *c, const char *buf, size_t len, size_t max)
{
    if (len > max) {
        invj_fail(c, "message", "larger than %zu bytes", max);
        return NULL;
    }
    return invj_parse_first(c, buf, len, 0, NULL);
}

json_t *invj_parse_first(const invj_ctx *c, const char *buf, size_t len, int first_only,
                         size_t *used)
{
    json_error_t je;
    /* Duplicate keys are rejected: which of two "quantity" values counts
     * would otherwise depend on the parser. */
    json_t *root = json_loadb(buf ? buf : "", buf ? len : 0,
                              JSON_REJECT_DUPLICATES | (first_only ? JSON_DISABLE_EOF_CHECK : 0),
                              &je);
    if (!root) {
        invj_fail(c, "message", "not valid JSON (line %d col %d: %s)", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        invj_fail(c, "message", "must be a JSON object");
        json_decref(root);
        return NULL;
    }
    if (used)
        *used = (size_t)je.position; /* jansson reports it on success too */
    return root;
}

int invj_check_version(const invj_ctx *c, json_t *obj)
{
    json_t *v;
    if (invj_field(c, obj, "schemaVersion", 1, &v) < 0)
        return -1;
    if (!json_is_integer(v))
        return invj_fail(c, "schemaVersion", "must be an integer");
    if (json_integer_value(v) != INV_SCHEMA_VERSION)
        return invj_fail(c, "schemaVersion", "unsupported version %lld (this build reads %d)",
                         (long long)json_integer_value(v), INV_SCHEMA_VERSION);
    return 1;
}

const char *invj_name_of(const char *const *names, size_t n, unsigned i)
{
    return i < n ? names[i] : "unknown";
}

int invj_index_of(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

int invj_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

int invj_put_str(json_t *obj, const char *key, const char *val)
{
    return json_object_set_new(obj, key, json_string(val));
}

int invj_put_opt_str(json_t *obj, const char *key, const char *val)
{
    return val[0] ? invj_put_str(obj, key, val) : 0;
}

int invj_put_int(json_t *obj, const char *key, long long val)
{
    return json_object_set_new(obj, key, json_integer(val));
}

int invj_put_opt_int(json_t *obj, const char *key, long long val)
{
    return val ? invj_put_int(obj, key, val) : 0;
}

json_t *invj_built(json_t *obj, int failed)
{
    if (failed) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

char *invj_dump(json_t *obj, int failed)
{
    char *out = (obj && !failed) ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    return out;
}
