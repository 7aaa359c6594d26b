/* inventory_schema.h -- the wire contract of Leasehold, in C.
 *
 * Decoders and encoders (jansson) for the documents described by the JSON
 * Schemas in schemas/v1/: commands, outcome events, dead-letter records and
 * the product state blob. Worker and producer share this codec so both
 * sides agree on names, limits and messages.
 *
 * Decoding validates everything the schema says and reports the first
 * problem as "field: reason", e.g. "quantity: must be an integer from 1 to
 * 1000000". Field names are accepted in camelCase and PascalCase
 * ("productId" or "ProductId"). Encoders always write camelCase.
 *
 * Limits: a message is at most INV_MAX_MESSAGE bytes; commandId at most 128
 * characters; productId matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.
 */
#ifndef LEASEHOLD_INVENTORY_SCHEMA_H
#define LEASEHOLD_INVENTORY_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#define INV_SCHEMA_VERSION 1 /* commands, events, dead letters, state v1 */
#define INV_STATE_SCHEMA_PAGED 2 /* the paged state layout */
#define INV_MAX_MESSAGE (64 * 1024)
#define INV_MAX_QUANTITY 1000000LL
#define INV_DEFAULT_TTL_S 1800
#define INV_ID_MAX 128      /* commandId, customerId, reservationId, eventId */
#define INV_PRODUCT_MAX 64

typedef enum inv_command_type {
    INV_CMD_RESERVE = 0,
    INV_CMD_RELEASE,
    INV_CMD_RESTOCK,
    INV_CMD_EXPIRE /* published by the reconciler sweep */
} inv_command_type;

/* "reserve" | "release" | "restock" | "expire" */
const char *inv_command_type_name(inv_command_type t);
/* Inverse of inv_command_type_name: 0, or -1 for an unknown name. */
int inv_command_type_parse(const char *name, inv_command_type *out);

typedef struct inv_command {
    inv_command_type type;
    char command_id[INV_ID_MAX + 1];
    char product_id[INV_PRODUCT_MAX + 1];
    long long quantity;                      /* reserve, restock, release-by-customer; else 0 */
    char customer_id[INV_ID_MAX + 1];        /* reserve (required), release-by-customer */
    char reservation_id[INV_ID_MAX + 1];     /* release-by-id, expire */
    long long ttl_seconds;                   /* reserve; default INV_DEFAULT_TTL_S */
    int64_t issued_at_ms;                    /* unix ms, 0 if absent */
} inv_command;

/* Validates `len` bytes (need not be NUL-terminated). Returns 0, or -1 with
 * `err` = "field: reason" (or "message: ..." for size/JSON errors). */
int inv_command_decode(const char *buf, size_t len, inv_command *out, char *err, size_t errlen);
/* Compact JSON, malloc'd; NULL on OOM. Encoders write what they are
 * given without validating it: to check a command built from user input,
 * encode it and decode the result. Only the fields of cmd->type are
 * written (release: reservationId if set, else customerId + quantity). */
char *inv_command_encode(const inv_command *cmd);

typedef enum inv_event_type {
    INV_EV_RESERVATION_CREATED = 0,
    INV_EV_RESERVATION_REJECTED,
    INV_EV_RESERVATION_RELEASED,
    INV_EV_RELEASE_REJECTED,
    INV_EV_RESERVATION_EXPIRED,
    INV_EV_STOCK_RESTOCKED,
    INV_EV_RESTOCK_REJECTED
} inv_event_type;

/* "reservation.created", ... */
const char *inv_event_type_name(inv_event_type t);
/* Inverse of inv_event_type_name: 0, or -1 for an unknown name. */
int inv_event_type_parse(const char *name, inv_event_type *out);
/* 1 for reservation.rejected, release.rejected, restock.rejected; else 0. */
int inv_event_type_is_rejection(inv_event_type t);

typedef struct inv_event {
    inv_event_type type;
    char event_id[INV_ID_MAX + 1];       /* inv_event_id(command_id, type) */
    char command_id[INV_ID_MAX + 1];
    char product_id[INV_PRODUCT_MAX + 1];
    char reservation_id[INV_ID_MAX + 1]; /* "" if none */
    char customer_id[INV_ID_MAX + 1];    /* "" if none */
    long long quantity;                  /* requested / released / restocked */
    long long total, available, reserved; /* product quantities after the change */
    char reason[64];                     /* rejections: "insufficient_stock", "unknown_product", ... */
    char message[256];                   /* human text, e.g. "Successfully reserved 10 units" */
    uint64_t epoch;                      /* lease epoch under which it was written */
    int64_t timestamp_ms;                /* unix ms */
    int64_t expires_at_ms;               /* reservation.created: when it expires; else 0 */
} inv_event;

/* Deterministic id: hex SHA-256 of "commandId|type", first 32 chars. */
void inv_event_id(const char *command_id, inv_event_type type, char out[INV_ID_MAX + 1]);

char *inv_event_encode(const inv_event *ev);
int inv_event_decode(const char *buf, size_t len, inv_event *out, char *err, size_t errlen);

/* Dead-letter record: the original bytes (as a JSON string when valid UTF-8,
 * else base64 with "payloadEncoding":"base64") plus where they came from. */
typedef struct inv_dead_letter {
    const char *reason; /* "quantity: must be an integer from 1 to 1000000" */
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key;     /* may be NULL */
    size_t key_len;
    const char *payload; /* original bytes, may be NULL */
    size_t payload_len;
    int64_t received_at_ms;
} inv_dead_letter;

char *inv_dead_letter_encode(const inv_dead_letter *dl);

/* ---- Product state blob --------------------------------------------------
 * One JSON document per product, in container "inventory", blob
 * "{productId}.json", leased by its writer. It carries the quantities, active
 * reservations, the highest applied offset per source topic-partition (cheap
 * replay detection), a bounded ledger of recent command ids with their
 * outcome (client-retry detection) and the outbox of events not yet
 * acknowledged by Kafka. */
typedef struct inv_reservation {
    char reservation_id[INV_ID_MAX + 1];
    char customer_id[INV_ID_MAX + 1];
    long long quantity;
    int64_t created_at_ms;
    int64_t expires_at_ms;
} inv_reservation;

typedef struct inv_applied_offset {
    char topic_partition[160]; /* "inventory.reservations/3" */
    int64_t offset;
} inv_applied_offset;

typedef struct inv_ledger_entry {
    char command_id[INV_ID_MAX + 1];
    inv_event_type outcome;            /* type of the event it produced */
    char event_id[INV_ID_MAX + 1];
    int64_t applied_at_ms;
    /* The outcome's own fields, so a client retry re-emits the same event
     * after the original left the outbox. Blobs written before these were
     * kept decode them as "" / 0. */
    char reason[64];
    char reservation_id[INV_ID_MAX + 1];
    char customer_id[INV_ID_MAX + 1];
    long long quantity;
    int64_t expires_at_ms;
    char message[256];
} inv_ledger_entry;

#define INV_LEDGER_MAX 256 /* documented duplicate window: last 256 commands per product */

/* Paged layout (schema v2, docs/state-layout.md). The reservations and the
 * ledger stay flat arrays in memory; a page map cuts each array into
 * consecutive pages of bounded size, each stored as one block of the blob.
 * The state helpers below keep the map in step (which page an add, removal
 * or change touched), so a write sends only the pages marked dirty. */
typedef struct inv_page {
    unsigned long long block; /* block number: the blob's block id is made from it */
    size_t count;             /* entries in this page */
    size_t bytes;             /* length of its committed block */
    int dirty;                /* changed since the last write */
} inv_page;

typedef struct inv_pagemap {
    inv_page *pages; size_t n_pages, cap_pages;
    int tracked; /* 0: no map yet (v1 blob, or a state built by hand): cut afresh at encode */
} inv_pagemap;

#define INV_RESERVATION_PAGE 256 /* reservations per page (about 40-50 KB of JSON) */
#define INV_LEDGER_PAGE 32       /* ledger entries per page */
#define INV_MAX_BLOCKS 50000     /* committed blocks per blob (Azure limit) */

typedef struct inv_state {
    char product_id[INV_PRODUCT_MAX + 1];
    long long total, available, reserved; /* total == available + reserved */
    inv_reservation *reservations; size_t n_reservations, cap_reservations;
    inv_applied_offset *offsets;   size_t n_offsets, cap_offsets;
    inv_ledger_entry *ledger;      size_t n_ledger, cap_ledger;   /* oldest first */
    inv_event *outbox;             size_t n_outbox, cap_outbox;   /* pending publication */
    int64_t updated_at_ms;
    /* Paged layout bookkeeping; all zero for a v1 blob or a new state. */
    inv_pagemap reservation_pages, ledger_pages;
    unsigned long long next_block; /* next unused block number */
    int blocks_committed;          /* the blob's block list matches the page map */
    /* Hashes of reservation ids added since it was built (a superset of the
     * current ones): a reserve whose id is absent skips the duplicate scan.
     * Built on the first add; NULL until then. Internal to the helpers. */
    uint64_t *id_set; size_t id_set_cap, id_set_used;
} inv_state;

void inv_state_init(inv_state *st, const char *product_id);
void inv_state_clear(inv_state *st); /* frees arrays; st reusable after init */
/* Overwrites *out without freeing it (inv_state_clear it first if it held
 * a state). Beyond the schema it checks total == available + reserved and
 * reserved == sum of reservation quantities. On error *out holds nothing
 * to free; on success the caller owns it (inv_state_clear). */
/* Reads schema v1 (one document) and v2 (head followed by pages). */
int inv_state_decode(const char *buf, size_t len, inv_state *out, char *err, size_t errlen);
/* Schema v1: the whole state as one document. */
char *inv_state_encode(const inv_state *st);

/* Schema v2 for a block write. parts[0] is the head, then the ledger pages,
 * then the reservation pages: the blob's bytes are the parts in this order.
 * A part whose `data` is NULL is unchanged and committed already; the
 * writer keeps it by id. When the whole blob would be at most `single_max`
 * bytes (or the blob has no block list yet and is that small), every part
 * is encoded and `single` is set: write them as one Put Blob instead. */
typedef struct inv_state_part {
    unsigned long long block; /* block number */
    char *data;               /* malloc'd when to be sent; NULL when unchanged */
    size_t len;               /* bytes of the block */
} inv_state_part;

typedef struct inv_state_paged {
    inv_state_part *parts; size_t n_parts;
    size_t total_bytes; /* the whole blob */
    size_t send_bytes;  /* bytes of the parts with data */
    size_t n_send;      /* parts with data */
    int single;
} inv_state_paged;

/* Updates the page maps (merges underfull pages, splits full ones, gives
 * changed pages new block numbers) and encodes. 0, or -1 on OOM or when
 * the blob would exceed INV_MAX_BLOCKS blocks (message in err). */
int inv_state_encode_paged(inv_state *st, size_t single_max, inv_state_paged *out, char *err,
                           size_t errlen);
/* After `p` was written: pages are clean; the block list matches them
 * unless it went as a single Put Blob. */
void inv_state_paged_committed(inv_state *st, const inv_state_paged *p);
/* Frees the parts; NULL-safe, `p` reusable. */
void inv_state_paged_free(inv_state_paged *p);
/* The parts concatenated (a single Put Blob's body), malloc'd; NULL on OOM
 * or when a part has no data. */
char *inv_state_paged_join(const inv_state_paged *p);
/* The public view of a product, as GET /api/inventory/{productId} answers it
 * (gateway and worker admin alike): productId, total, available, reserved and
 * activeReservations [{reservationId, customerId, quantity, createdAt,
 * expiresAt}], leaving out the ledger, offsets and outbox. NULL on OOM. */
char *inv_state_view_encode(const inv_state *st);

/* ---- State helpers for the worker ----------------------------------------
 * Bookkeeping on the arrays only: none of them changes total, available or
 * reserved; the caller applies the arithmetic. Returned pointers point into
 * the state and are valid until the next add/remove on the same array.
 * Adds copy their input; they return 0 when added, 1 when an entry with the
 * same id was already there (state unchanged), -1 on OOM. */
inv_reservation *inv_state_find_reservation(inv_state *st, const char *reservation_id);
/* Appends (reservations stay in creation order: oldest first). */
int inv_state_add_reservation(inv_state *st, const inv_reservation *r);
/* 0 removed (order of the rest kept), -1 not found. */
int inv_state_remove_reservation(inv_state *st, const char *reservation_id);
/* Tells the page map that reservation *r (a pointer into the state) was
 * changed in place (a partial release): its page is written next time. */
void inv_state_touch_reservation(inv_state *st, const inv_reservation *r);

const inv_ledger_entry *inv_state_ledger_find(const inv_state *st, const char *command_id);
/* Appends the outcome event's command id, type, id and own fields (not the
 * product quantities, epoch or timestamp); beyond INV_LEDGER_MAX entries
 * the oldest is evicted. */
int inv_state_ledger_add(inv_state *st, const inv_event *outcome, int64_t applied_at_ms);

/* Highest applied offset of topic/partition, -1 if none recorded. */
int64_t inv_state_offset_get(const inv_state *st, const char *topic, int32_t partition);
/* Records `offset` (overwrites); -1 on OOM or a topic too long for the key. */
int inv_state_offset_set(inv_state *st, const char *topic, int32_t partition, int64_t offset);

/* Appends a pending event (dedupe by event_id). */
int inv_state_outbox_add(inv_state *st, const inv_event *ev);
/* 0 removed (order of the rest kept), -1 not found. */
int inv_state_outbox_remove(inv_state *st, const char *event_id);

#endif
