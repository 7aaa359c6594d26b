/* load_plan.c -- deterministic operation stream for the load generator.
 *
 * Each call draws, in a fixed order, from one splitmix64 stream: invalid?
 * duplicate? command type, product, quantity, customer. Fixing the order is
 * what makes `--seed` reproducible. Duplicates pick from a ring of the last
 * LOAD_PLAN_RING fresh commands so a resend lands close to its original (the
 * worker's duplicate ledger is bounded per product).
 */
#include "load_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_PLAN_RING 64

struct load_plan {
    load_options o;
    char run_id[64];
    char prefix[LOAD_MAX_PREFIX + 1];
    uint64_t state;
    long long seq;
    inv_command ring[LOAD_PLAN_RING];
    size_t ring_n, ring_next;
};

void load_options_init(load_options *o) {
    memset(o, 0, sizeof(*o));
    o->products = 10;
    o->count = 1000;
    o->weight_reserve = 70;
    o->weight_release = 20;
    o->weight_restock = 10;
    o->seed = 1;
    o->product_prefix = "LOAD-";
    o->initial_stock = 1000;
    o->max_quantity = 5;
    o->customers = 20;
}

/* splitmix64 (Vigna): tiny, seedable, identical on every libc; rand(3) and
 * random(3) sequences differ between C libraries. */
static uint64_t load_plan_rand(load_plan *p) {
    uint64_t z = (p->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double load_plan_unit(load_plan *p) {
    return (double)(load_plan_rand(p) >> 11) * 0x1.0p-53;
}

static uint64_t load_plan_below(load_plan *p, uint64_t n) {
    return n ? load_plan_rand(p) % n : 0;
}

void load_plan_product(const load_options *o, int index, char out[INV_PRODUCT_MAX + 1]) {
    snprintf(out, INV_PRODUCT_MAX + 1, "%s%03d", o->product_prefix ? o->product_prefix : "LOAD-",
             index + 1);
}

load_plan *load_plan_new(const load_options *o, const char *run_id) {
    const char *prefix = o->product_prefix ? o->product_prefix : "LOAD-";
    if (o->weight_reserve + o->weight_release + o->weight_restock == 0 || !run_id || !*run_id ||
        o->products < 1 || o->products > LOAD_MAX_PRODUCTS || strlen(prefix) > LOAD_MAX_PREFIX)
        return NULL;
    load_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->o = *o;
    snprintf(p->run_id, sizeof(p->run_id), "%s", run_id);
    /* Never truncated (checked above): the initial restock names products
     * from the caller's options, the plan from this copy. */
    snprintf(p->prefix, sizeof(p->prefix), "%s", prefix);
    p->o.product_prefix = p->prefix;
    p->o.run_id = p->run_id;
    p->state = o->seed;
    return p;
}

void load_plan_free(load_plan *p) {
    free(p);
}

static void load_plan_fresh(load_plan *p, inv_command *c) {
    const load_options *o = &p->o;
    memset(c, 0, sizeof(*c));
    uint64_t total = (uint64_t)o->weight_reserve + o->weight_release + o->weight_restock;
    uint64_t w = load_plan_below(p, total);
    if (w < o->weight_reserve)
        c->type = INV_CMD_RESERVE;
    else if (w < (uint64_t)o->weight_reserve + o->weight_release)
        c->type = INV_CMD_RELEASE;
    else
        c->type = INV_CMD_RESTOCK;

    int product = 0;
    double hot = load_plan_unit(p);
    if (!(hot < o->hot_fraction))
        product = (int)load_plan_below(p, (uint64_t)o->products);
    load_plan_product(o, product, c->product_id);

    c->quantity =
        1 + (long long)load_plan_below(p, (uint64_t)(o->max_quantity > 0 ? o->max_quantity : 1));
    unsigned customer =
        1 + (unsigned)load_plan_below(p, (uint64_t)(o->customers > 0 ? o->customers : 1));
    if (c->type != INV_CMD_RESTOCK)
        snprintf(c->customer_id, sizeof(c->customer_id), "CUST-%03u", customer);
    if (c->type == INV_CMD_RESERVE)
        c->ttl_seconds = INV_DEFAULT_TTL_S;
    snprintf(c->command_id, sizeof(c->command_id), "%s-%lld", p->run_id, p->seq);
}

void load_plan_next(load_plan *p, load_op *op) {
    memset(op, 0, sizeof(*op));
    double invalid = load_plan_unit(p);
    double duplicate = load_plan_unit(p);
    if (invalid < p->o.invalid_fraction) {
        op->kind = LOAD_OP_INVALID;
        op->invalid_kind = (load_invalid_kind)load_plan_below(p, LOAD_INVALID_KINDS);
        load_plan_fresh(p, &op->cmd);
        p->seq++;
        return;
    }
    if (duplicate < p->o.duplicate_fraction && p->ring_n > 0) {
        op->kind = LOAD_OP_DUPLICATE;
        op->cmd = p->ring[load_plan_below(p, p->ring_n)];
        return;
    }
    op->kind = LOAD_OP_COMMAND;
    load_plan_fresh(p, &op->cmd);
    p->seq++;
    p->ring[p->ring_next] = op->cmd;
    p->ring_next = (p->ring_next + 1) % LOAD_PLAN_RING;
    if (p->ring_n < LOAD_PLAN_RING)
        p->ring_n++;
}
