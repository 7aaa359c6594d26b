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

#define INV_SCHEMA_VERSION 1
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

typedef struct inv_state {
    char product_id[INV_PRODUCT_MAX + 1];
    long long total, available, reserved; /* total == available + reserved */
    inv_reservation *reservations; size_t n_reservations, cap_reservations;
    inv_applied_offset *offsets;   size_t n_offsets, cap_offsets;
    inv_ledger_entry *ledger;      size_t n_ledger, cap_ledger;   /* oldest first */
    inv_event *outbox;             size_t n_outbox, cap_outbox;   /* pending publication */
    int64_t updated_at_ms;
} inv_state;

void inv_state_init(inv_state *st, const char *product_id);
void inv_state_clear(inv_state *st); /* frees arrays; st reusable after init */
/* Overwrites *out without freeing it (inv_state_clear it first if it held
 * a state). Beyond the schema it checks total == available + reserved and
 * reserved == sum of reservation quantities. On error *out holds nothing
 * to free; on success the caller owns it (inv_state_clear). */
int inv_state_decode(const char *buf, size_t len, inv_state *out, char *err, size_t errlen);
char *inv_state_encode(const inv_state *st);
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
