/* args.c -- getopt_long based parsing of the producer's subcommands.
 *
 * The subcommand is argv[1]; getopt_long then runs over argv[1..] (so the
 * subcommand plays the program name) with permutation, collecting every
 * option into one struct. Each subcommand declares which options it accepts
 * as a bit mask, so a stray `--ttl` on `get` is an error rather than ignored.
 */
#include "args.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_CONFIG = 1,
    OPT_BROKERS,
    OPT_WAIT,
    OPT_TIMEOUT,
    OPT_COMMAND_ID,
    OPT_CUSTOMER,
    OPT_TTL,
    OPT_RESERVATION,
    OPT_QUANTITY,
    OPT_LISTEN,
    OPT_PRODUCTS,
    OPT_COUNT,
    OPT_RATE,
    OPT_MIX,
    OPT_HOT,
    OPT_DUPLICATES,
    OPT_INVALID,
    OPT_SEED,
    OPT_PREFIX,
    OPT_RUN_ID,
    OPT_INITIAL_STOCK,
    OPT_MAX_QUANTITY,
    OPT_CUSTOMERS,
    OPT_LATENCY_LOG,
    OPT_WORKER,
    OPT_HELP
};

#define BIT(o) (1ULL << (o))
#define GLOBAL_OPTS (BIT(OPT_CONFIG) | BIT(OPT_BROKERS) | BIT(OPT_HELP))
#define SEND_OPTS (GLOBAL_OPTS | BIT(OPT_WAIT) | BIT(OPT_TIMEOUT) | BIT(OPT_COMMAND_ID))
#define LOAD_OPTS                                                                                  \
    (GLOBAL_OPTS | BIT(OPT_TIMEOUT) | BIT(OPT_PRODUCTS) | BIT(OPT_COUNT) | BIT(OPT_RATE) |         \
     BIT(OPT_MIX) | BIT(OPT_HOT) | BIT(OPT_DUPLICATES) | BIT(OPT_INVALID) | BIT(OPT_SEED) |        \
     BIT(OPT_PREFIX) | BIT(OPT_RUN_ID) | BIT(OPT_INITIAL_STOCK) | BIT(OPT_MAX_QUANTITY) |          \
     BIT(OPT_CUSTOMERS) | BIT(OPT_LATENCY_LOG))

static const struct option args_options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"brokers", required_argument, NULL, OPT_BROKERS},
    {"wait", no_argument, NULL, OPT_WAIT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"command-id", required_argument, NULL, OPT_COMMAND_ID},
    {"customer", required_argument, NULL, OPT_CUSTOMER},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"reservation", required_argument, NULL, OPT_RESERVATION},
    {"quantity", required_argument, NULL, OPT_QUANTITY},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"products", required_argument, NULL, OPT_PRODUCTS},
    {"count", required_argument, NULL, OPT_COUNT},
    {"rate", required_argument, NULL, OPT_RATE},
    {"mix", required_argument, NULL, OPT_MIX},
    {"hot", required_argument, NULL, OPT_HOT},
    {"duplicates", required_argument, NULL, OPT_DUPLICATES},
    {"invalid", required_argument, NULL, OPT_INVALID},
    {"seed", required_argument, NULL, OPT_SEED},
    {"prefix", required_argument, NULL, OPT_PREFIX},
    {"run-id", required_argument, NULL, OPT_RUN_ID},
    {"initial-stock", required_argument, NULL, OPT_INITIAL_STOCK},
    {"max-quantity", required_argument, NULL, OPT_MAX_QUANTITY},
    {"customers", required_argument, NULL, OPT_CUSTOMERS},
    {"latency-log", required_argument, NULL, OPT_LATENCY_LOG},
    {"worker", required_argument, NULL, OPT_WORKER},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0}};

static const struct {
    const char *name;
    args_command command;
    int positionals; /* PRODUCT [QUANTITY] */
    unsigned long long allowed;
} args_commands[] = {
    {"restock", ARGS_RESTOCK, 2, SEND_OPTS},
    {"reserve", ARGS_RESERVE, 2, SEND_OPTS | BIT(OPT_CUSTOMER) | BIT(OPT_TTL)},
    {"release", ARGS_RELEASE, 1,
     SEND_OPTS | BIT(OPT_CUSTOMER) | BIT(OPT_QUANTITY) | BIT(OPT_RESERVATION)},
    {"get", ARGS_GET, 1, GLOBAL_OPTS},
    {"load", ARGS_LOAD, 0, LOAD_OPTS},
    {"serve", ARGS_SERVE, 0, GLOBAL_OPTS | BIT(OPT_LISTEN) | BIT(OPT_TIMEOUT)},
    {"config-markdown", ARGS_CONFIG_MARKDOWN, 0, BIT(OPT_HELP)},
    {"blocked", ARGS_BLOCKED, 0, BIT(OPT_WORKER) | BIT(OPT_HELP)},
    {"retry-blocked", ARGS_BLOCKED_RETRY, 1, BIT(OPT_WORKER) | BIT(OPT_HELP)},
    {"dead-letter-blocked", ARGS_BLOCKED_DEAD_LETTER, 1, BIT(OPT_WORKER) | BIT(OPT_HELP)},
};

const char *args_usage(void) {
    return "usage: inventory-producer SUBCOMMAND [options]\n"
           "  restock PRODUCT QUANTITY\n"
           "  reserve PRODUCT QUANTITY --customer ID [--ttl SECONDS]\n"
           "  release PRODUCT (--reservation ID | --customer ID --quantity N)\n"
           "      restock/reserve/release also take: --wait (print the outcome event),\n"
           "      --timeout DURATION (default producer.outcome_timeout), --command-id ID\n"
           "  get PRODUCT                      read the product state (no lease)\n"
           "  load [--products N] [--count N] [--rate PER_S] [--mix RESERVE:RELEASE:RESTOCK]\n"
           "       [--hot FRACTION] [--duplicates FRACTION] [--invalid FRACTION] [--seed N]\n"
           "       [--prefix P] [--run-id ID] [--initial-stock N] [--max-quantity N]\n"
           "       [--customers N] [--timeout DURATION] [--latency-log FILE]\n"
           "  serve --listen ADDR:PORT         REST gateway (POST .../reserve, .../release, GET)\n"
           "  blocked --worker ADDR:PORT       list a worker's blocked products (state unreadable)\n"
           "  retry-blocked PRODUCT --worker ADDR:PORT        re-read its state, apply its queue\n"
           "  dead-letter-blocked PRODUCT --worker ADDR:PORT  dead-letter its queued commands\n"
           "  config-markdown                  print the configuration keys as a Markdown table\n"
           "global options: --config FILE, --brokers HOST:PORT[,...], --help\n"
           "exit codes: 0 success, 3 rejected by the domain, 1 error\n";
}

static int args_long(const char *opt, const char *text, long long min, long long max,
                     long long *out, char *err, size_t errlen) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        snprintf(err, errlen, "--%s: must be an integer from %lld to %lld, got '%s'", opt, min, max,
                 text);
        return -1;
    }
    *out = v;
    return 0;
}

static int args_double(const char *opt, const char *text, double min, double max, double *out,
                       char *err, size_t errlen) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= min && v <= max)) {
        snprintf(err, errlen, "--%s: must be a number from %g to %g, got '%s'", opt, min, max,
                 text);
        return -1;
    }
    *out = v;
    return 0;
}

/* The start of a productId (schemas/v1/common.schema.json:
 * ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$), short enough for 7 more digits. */
static int args_prefix_valid(const char *v) {
    size_t n = strlen(v);
    if (n == 0 || n > LOAD_MAX_PREFIX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

static int args_mix(const char *text, load_options *lo, char *err, size_t errlen) {
    unsigned r, l, s;
    char tail;
    if (sscanf(text, "%u:%u:%u%c", &r, &l, &s, &tail) != 3 || r + l + s == 0 || r > 1000000 ||
        l > 1000000 || s > 1000000) {
        snprintf(
            err, errlen,
            "--mix: must be RESERVE:RELEASE:RESTOCK weights (non-negative, not all 0), got '%s'",
            text);
        return -1;
    }
    lo->weight_reserve = r;
    lo->weight_release = l;
    lo->weight_restock = s;
    return 0;
}

/* Applies one load option; the numeric ranges are the documented ones. */
static int args_load_option(int opt, const char *name, const char *v, load_options *lo, char *err,
                            size_t errlen) {
    long long n = 0;
    switch (opt) {
    case OPT_PRODUCTS:
        if (args_long(name, v, 1, LOAD_MAX_PRODUCTS, &n, err, errlen))
            return -1;
        lo->products = (int)n;
        return 0;
    case OPT_COUNT:
        return args_long(name, v, 1, 100000000, &lo->count, err, errlen);
    case OPT_RATE:
        return args_double(name, v, 0, 1e6, &lo->rate, err, errlen);
    case OPT_MIX:
        return args_mix(v, lo, err, errlen);
    case OPT_HOT:
        return args_double(name, v, 0, 1, &lo->hot_fraction, err, errlen);
    case OPT_DUPLICATES:
        return args_double(name, v, 0, 1, &lo->duplicate_fraction, err, errlen);
    case OPT_INVALID:
        return args_double(name, v, 0, 1, &lo->invalid_fraction, err, errlen);
    case OPT_SEED:
        if (args_long(name, v, 0, 0x7fffffffffffffffLL, &n, err, errlen))
            return -1;
        lo->seed = (uint64_t)n;
        return 0;
    case OPT_PREFIX:
        if (!args_prefix_valid(v)) {
            snprintf(err, errlen,
                     "--prefix: must be 1 to %d characters of A-Z a-z 0-9 . _ -, starting "
                     "with a letter or digit (productId's pattern), got '%s'",
                     LOAD_MAX_PREFIX, v);
            return -1;
        }
        lo->product_prefix = v;
        return 0;
    case OPT_RUN_ID:
        if (strlen(v) == 0 || strlen(v) > 60) {
            snprintf(err, errlen, "--run-id: must be 1 to 60 characters, got '%s'", v);
            return -1;
        }
        lo->run_id = v;
        return 0;
    case OPT_INITIAL_STOCK:
        return args_long(name, v, 0, INV_MAX_QUANTITY, &lo->initial_stock, err, errlen);
    case OPT_MAX_QUANTITY:
        if (args_long(name, v, 1, INV_MAX_QUANTITY, &n, err, errlen))
            return -1;
        lo->max_quantity = (int)n;
        return 0;
    case OPT_CUSTOMERS:
        if (args_long(name, v, 1, 100000, &n, err, errlen))
            return -1;
        lo->customers = (int)n;
        return 0;
    case OPT_LATENCY_LOG:
        if (strlen(v) == 0) {
            snprintf(err, errlen, "--latency-log: must name a file");
            return -1;
        }
        lo->latency_log = v;
        return 0;
    default:
        return 0;
    }
}

static int args_store(int opt, const char *name, const char *v, producer_args *a, char *err,
                      size_t errlen) {
    switch (opt) {
    case OPT_CONFIG:
        a->config_file = v;
        return 0;
    case OPT_BROKERS:
        a->brokers = v;
        return 0;
    case OPT_WAIT:
        a->wait = 1;
        return 0;
    case OPT_TIMEOUT:
        a->timeout = v;
        return 0;
    case OPT_COMMAND_ID:
        a->command_id = v;
        return 0;
    case OPT_CUSTOMER:
        a->customer = v;
        return 0;
    case OPT_TTL:
        a->ttl = v;
        return 0;
    case OPT_RESERVATION:
        a->reservation = v;
        return 0;
    case OPT_QUANTITY:
        a->quantity = v;
        return 0;
    case OPT_LISTEN:
        a->listen = v;
        return 0;
    case OPT_WORKER:
        a->worker = v;
        return 0;
    default:
        return args_load_option(opt, name, v, &a->load, err, errlen);
    }
}

static const char *args_option_name(int opt) {
    for (const struct option *o = args_options; o->name; o++)
        if (o->val == opt)
            return o->name;
    return "?";
}

/* Cross-option rules that getopt cannot express. */
static int args_check(const producer_args *a, const char *cmd, char *err, size_t errlen) {
    switch (a->command) {
    case ARGS_RESERVE:
        if (!a->customer) {
            snprintf(err, errlen, "%s: --customer is required", cmd);
            return -1;
        }
        return 0;
    case ARGS_RELEASE:
        if (a->reservation && (a->customer || a->quantity)) {
            snprintf(err, errlen, "%s: use either --reservation or --customer with --quantity",
                     cmd);
            return -1;
        }
        if (!a->reservation && !(a->customer && a->quantity)) {
            snprintf(err, errlen, "%s: needs --reservation ID or --customer ID --quantity N", cmd);
            return -1;
        }
        return 0;
    case ARGS_BLOCKED:
    case ARGS_BLOCKED_RETRY:
    case ARGS_BLOCKED_DEAD_LETTER:
        if (!a->worker) {
            snprintf(err, errlen, "%s: --worker ADDR:PORT is required (the worker's admin address)",
                     cmd);
            return -1;
        }
        return 0;
    case ARGS_SERVE:
        if (!a->listen) {
            snprintf(err, errlen, "%s: --listen ADDR:PORT is required", cmd);
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

int args_parse(int argc, char **argv, producer_args *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    load_options_init(&out->load);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        out->command = ARGS_HELP;
        return 0;
    }
    size_t ci = 0, nc = sizeof(args_commands) / sizeof(args_commands[0]);
    while (ci < nc && strcmp(args_commands[ci].name, argv[1]) != 0)
        ci++;
    if (ci == nc) {
        snprintf(err, errlen, "unknown subcommand '%s'", argv[1]);
        return -1;
    }
    const char *cmd = args_commands[ci].name;
    out->command = args_commands[ci].command;

    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    optind = 0; /* GNU: full re-initialisation, so parsing can run more than once */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(sub_argc, sub_argv, "", args_options, NULL)) != -1) {
        if (opt == '?' || opt == ':') {
            snprintf(err, errlen, "%s: unknown option or missing value near '%s'", cmd,
                     optind > 0 && optind <= sub_argc ? sub_argv[optind - 1] : "?");
            return -1;
        }
        if (!(args_commands[ci].allowed & BIT(opt))) {
            snprintf(err, errlen, "%s: option --%s does not apply", cmd, args_option_name(opt));
            return -1;
        }
        if (opt == OPT_HELP) {
            out->command = ARGS_HELP;
            return 0;
        }
        if (args_store(opt, args_option_name(opt), optarg, out, err, errlen))
            return -1;
    }
    int npos = sub_argc - optind;
    if (npos != args_commands[ci].positionals) {
        snprintf(err, errlen, "%s: expected %d argument%s, got %d", cmd,
                 args_commands[ci].positionals, args_commands[ci].positionals == 1 ? "" : "s",
                 npos);
        return -1;
    }
    if (npos >= 1)
        out->product = sub_argv[optind];
    if (npos >= 2)
        out->quantity = sub_argv[optind + 1];
    return args_check(out, cmd, err, errlen);
}
