/* load_plan.h -- the deterministic command sequence of `inventory-producer load`.
 *
 * A plan turns load options and a seed into a stream of operations: normal
 * commands (reserve / release-by-customer / restock drawn by weight, product
 * drawn uniformly or from the hot product with the configured skew),
 * duplicate deliveries (an earlier command resent with the same commandId)
 * and invalid payloads (for the dead-letter path). The same options and seed
 * always give the same sequence, on every platform: the generator is
 * splitmix64, not rand(3).
 */
#ifndef PRODUCER_LOAD_PLAN_H
#define PRODUCER_LOAD_PLAN_H

#include <stdint.h>

#include "leasehold/inventory_schema.h"

/* --products ranges over 1..LOAD_MAX_PRODUCTS: ids up to 7 digits, so
 * even a 32-character prefix stays within productId's 64 characters. */
#define LOAD_MAX_PRODUCTS 1000000
#define LOAD_MAX_PREFIX 32

typedef struct load_options {
    int products;            /* distinct products 1..LOAD_MAX_PRODUCTS, default 10 */
    long long count;         /* operations to send, default 1000 */
    double rate;             /* operations per second, 0 = as fast as possible */
    unsigned weight_reserve; /* mix weights, default 70:20:10 */
    unsigned weight_release;
    unsigned weight_restock;
    double hot_fraction;        /* share of commands aimed at product 1, 0..1, default 0 */
    double duplicate_fraction;  /* share of operations that resend an earlier commandId */
    double invalid_fraction;    /* share of operations that are malformed payloads */
    uint64_t seed;              /* default 1 */
    const char *product_prefix; /* 1..LOAD_MAX_PREFIX characters, default "LOAD-" (borrowed) */
    const char *run_id;         /* commandId prefix; NULL = a fresh GUID (borrowed) */
    long long initial_stock;    /* restocked per product before the run, 0 = skip; default 1000 */
    int max_quantity;           /* per-command quantity drawn from 1..max, default 5 */
    int customers;              /* customer pool size, default 20 */
    const char *latency_log;    /* load: file of per-outcome timings, NULL = none (borrowed) */
} load_options;

/* Fills the defaults above. */
void load_options_init(load_options *o);

typedef enum load_op_kind {
    LOAD_OP_COMMAND = 0, /* a fresh command */
    LOAD_OP_DUPLICATE,   /* `cmd` is an exact copy of an earlier command */
    LOAD_OP_INVALID      /* a malformed payload of kind `invalid_kind`, keyed by cmd.product_id */
} load_op_kind;

typedef enum load_invalid_kind {
    LOAD_INVALID_NOT_JSON = 0,
    LOAD_INVALID_BAD_QUANTITY,
    LOAD_INVALID_UNKNOWN_TYPE,
    LOAD_INVALID_MISSING_PRODUCT,
    LOAD_INVALID_KINDS
} load_invalid_kind;

typedef struct load_op {
    load_op_kind kind;
    load_invalid_kind invalid_kind;
    inv_command cmd;
} load_op;

typedef struct load_plan load_plan;

/* `o` is copied; `run_id` (commandId prefix, copied) must be non-empty.
 * NULL on OOM, when no mix weight is positive, or when products or the
 * prefix length are out of range. */
load_plan *load_plan_new(const load_options *o, const char *run_id);
/* NULL is a no-op. */
void load_plan_free(load_plan *p);
/* The next operation (the plan is endless; the caller counts). */
void load_plan_next(load_plan *p, load_op *op);
/* Product id of product `index` (0-based): prefix + its number from 1,
 * zero-padded to at least 3 digits: LOAD-001 .. LOAD-999, LOAD-1000 ..
 * LOAD-1000000. Distinct numbers give distinct ids (no padding beyond 3
 * digits, so no two spellings of one number). */
void load_plan_product(const load_options *o, int index, char out[INV_PRODUCT_MAX + 1]);

#endif
