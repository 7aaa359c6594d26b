/* inv_json_internal.h -- what the codec's .c files share inside
 * leasehold_schemas: strict field readers over jansson objects, the
 * top-level message gate (size, JSON syntax, object, schemaVersion) and the
 * object-level event codec that the state blob reuses for its outbox.
 *
 * Readers report the first problem as "<prefix><field>: <reason>" into the
 * caller's buffer. The prefix names where a nested object sits
 * ("outbox[2]."), so messages point at the exact field of a large blob.
 * Every reader returns 1 when the field was present and valid, 0 when it
 * was absent and optional, -1 on error (message written). */
#ifndef LEASEHOLD_INV_JSON_INTERNAL_H
#define LEASEHOLD_INV_JSON_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>

#include "leasehold/inventory_schema.h"

typedef struct invj_ctx {
    const char *prefix; /* "" at top level */
    char *err;
    size_t errlen;
} invj_ctx;

/* What a string field must look like. */
typedef enum invj_str_kind {
    INVJ_ID,      /* 1..INV_ID_MAX printable ASCII characters, no spaces */
    INVJ_PRODUCT, /* ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ */
    INVJ_REASON,  /* ^[a-z][a-z0-9_]{0,62}$ */
    INVJ_TEXT     /* any UTF-8, at most dstsz - 1 bytes */
} invj_str_kind;

#define INVJ_PRODUCT_PATTERN "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#define INVJ_REASON_PATTERN "^[a-z][a-z0-9_]{0,62}$"
#define INVJ_OFFSET_KEY_PATTERN "^[A-Za-z0-9._-]+/(0|[1-9][0-9]{0,9})$"
#define INVJ_TTL_MAX 604800LL /* 7 days */

/* [A-Za-z0-9._-]: Kafka topic characters, also productId's after the first. */
int invj_is_topic_char(unsigned char ch);

/* Writes "<prefix><field>: <fmt...>" and returns -1. */
int invj_fail(const invj_ctx *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Looks `name` (camelCase) up, then its PascalCase spelling; a missing
 * field is an error ("name: required") when `required`. */
int invj_field(const invj_ctx *c, json_t *obj, const char *name, int required, json_t **out);
int invj_get_str(const invj_ctx *c, json_t *obj, const char *name, int required,
                 invj_str_kind kind, char *dst, size_t dstsz);
int invj_get_int(const invj_ctx *c, json_t *obj, const char *name, int required,
                 long long min, long long max, long long *dst);
int invj_get_i64(const invj_ctx *c, json_t *obj, const char *name, int required, int64_t *dst);

/* Length of the longest prefix of UTF-8 `s` of at most `max` bytes that
 * does not split a character, so quoted input stays valid UTF-8. */
int invj_utf8_prefix(const char *s, int max);

/* "type": a required string, borrowed from obj (NUL-free). */
int invj_get_type(const invj_ctx *c, json_t *obj, const char **out);

/* Size limit (`max` bytes: INV_MAX_MESSAGE for Kafka messages, SIZE_MAX
 * for the state blob), JSON syntax and "must be a JSON object"; NULL on
 * error. */
json_t *invj_parse(const invj_ctx *c, const char *buf, size_t len, size_t max);
/* invj_parse without the size limit; with `first_only` the first JSON value
 * only (what follows is left alone), its length in bytes in *used (may be
 * NULL). */
json_t *invj_parse_first(const invj_ctx *c, const char *buf, size_t len, int first_only,
                         size_t *used);
/* "schemaVersion" must be present and equal INV_SCHEMA_VERSION. */
int invj_check_version(const invj_ctx *c, json_t *obj);

/* Name tables indexed by enum value: the name of i ("unknown" if out of
 * range) and the index of name (-1 if absent). */
const char *invj_name_of(const char *const *names, size_t n, unsigned i);
int invj_index_of(const char *const *names, size_t n, const char *name);

/* Grows *arr (elements of `elem` bytes) so it holds at least `need`. */
int invj_grow(void **arr, size_t *cap, size_t need, size_t elem);

/* Setters for encoders; -1 when jansson could not allocate. The _opt
 * variants skip empty strings and zero values (absent optional fields). */
int invj_put_str(json_t *obj, const char *key, const char *val);
int invj_put_opt_str(json_t *obj, const char *key, const char *val);
int invj_put_int(json_t *obj, const char *key, long long val);
int invj_put_opt_int(json_t *obj, const char *key, long long val);
/* Returns obj, or NULL (dropping obj) if `failed`: the end of every
 * object builder. */
json_t *invj_built(json_t *obj, int failed);
/* Compact serialisation; takes the reference to obj. NULL if obj is NULL,
 * `failed` is set, or on OOM. */
char *invj_dump(json_t *obj, int failed);

/* Event object <-> struct, used by inv_event.c and the state outbox. */
int invj_event_from_json(const invj_ctx *c, json_t *obj, inv_event *out);
json_t *invj_event_to_json(const inv_event *ev);

/* ---- state blob, shared by inv_state.c (v1) and inv_state_paged.c (v2) ---- */

/* Decodes one array element (an object) into *item, which is zeroed. */
typedef int (*invj_item_fn)(const invj_ctx *c, json_t *obj, void *item);
/* Appends the objects of `arr` to *items (grown to fit; *n counts them),
 * messages prefixed "name[i]." with i counted from the old *n. */
int invj_state_items(const invj_ctx *c, const char *name, json_t *arr, void **items, size_t *n,
                     size_t *cap, size_t elem, invj_item_fn fn);
int invj_reservation_from_json(const invj_ctx *c, json_t *e, void *item);
int invj_ledger_from_json(const invj_ctx *c, json_t *e, void *item);
json_t *invj_reservation_to_json(const inv_reservation *r);
json_t *invj_ledger_to_json(const inv_ledger_entry *l);
/* productId, total, available, reserved, updatedAtMs and their sum rule. */
int invj_state_common(const invj_ctx *c, json_t *root, inv_state *out);
/* appliedOffsets and outbox. */
int invj_state_tail(const invj_ctx *c, json_t *root, inv_state *out);
int invj_state_check_reserved(const invj_ctx *c, const inv_state *st);
/* The first JSON object of buf (a v1 document, or a v2 head) and its length
 * in bytes; NULL with a message when there is none. */
json_t *invj_state_parse_head(const invj_ctx *c, const char *buf, size_t len, size_t *head_len);
/* v2: `head` was parsed from buf[0..head_len); the pages follow. */
int invj_state_decode_paged(const invj_ctx *c, json_t *head, const char *buf, size_t len,
                            size_t head_len, inv_state *out);

/* Page map upkeep, called by the state helpers (no-ops while untracked). */
void invp_note_append(inv_pagemap *pm, size_t cap);
void invp_note_remove(inv_pagemap *pm, size_t index);
void invp_note_touch(inv_pagemap *pm, size_t index);

#endif
