/* config.c -- typed configuration from a key table (see config.h).
 *
 * Each key of the borrowed table has one slot holding its text value, the
 * parsed number (INT: the value, DURATION: milliseconds, BOOL: 0/1) and the
 * rank of the source that set it (default < file < environment < set).
 * A value from a lower-ranked source never replaces one from a higher-ranked
 * source, so callers may load sources in any order and precedence still
 * holds. Values are validated on arrival; the error names the key by both its
 * dotted and its environment spelling and, unless the key is secret, quotes
 * the rejected value.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum config_rank {
    CONFIG_RANK_NONE = 0,
    CONFIG_RANK_DEFAULT,
    CONFIG_RANK_FILE,
    CONFIG_RANK_ENV,
    CONFIG_RANK_SET
};

typedef struct config_slot {
    char *text;       /* NULL when unset */
    long long number; /* parsed INT / DURATION (ms) / BOOL */
    int rank;
} config_slot;

struct config {
    const config_key *keys;
    size_t nkeys;
    config_slot *slots;
};

#define CONFIG_ENV_PREFIX "LEASEHOLD_"

void config_env_name(const char *name, char *out, size_t cap) {
    if (cap == 0)
        return;
    size_t n = (size_t)snprintf(out, cap, "%s", CONFIG_ENV_PREFIX);
    for (const char *p = name; *p && n + 1 < cap; p++)
        out[n++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
    out[n < cap ? n : cap - 1] = '\0';
}

static const config_key *config_find(const config *cfg, const char *name, size_t *index) {
    for (size_t i = 0; i < cfg->nkeys; i++) {
        if (strcmp(cfg->keys[i].name, name) == 0) {
            *index = i;
            return &cfg->keys[i];
        }
    }
    return NULL;
}

/* Finds a key by its environment-style spelling (LEASEHOLD_KAFKA_BROKERS). */
static const config_key *config_find_env(const config *cfg, const char *env, size_t *index) {
    char buf[256];
    for (size_t i = 0; i < cfg->nkeys; i++) {
        config_env_name(cfg->keys[i].name, buf, sizeof(buf));
        if (strcmp(buf, env) == 0) {
            *index = i;
            return &cfg->keys[i];
        }
    }
    return NULL;
}

static void config_error(const config_key *k, const char *value, char *err, size_t errlen,
                         const char *what) {
    if (err == NULL || errlen == 0)
        return;
    char env[256];
    config_env_name(k->name, env, sizeof(env));
    if (k->secret)
        snprintf(err, errlen, "%s (%s): %s", env, k->name, what);
    else
        snprintf(err, errlen, "%s (%s): %s, got '%s'", env, k->name, what, value);
}

static int config_parse_int(const char *s, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || isspace((unsigned char)*s))
        return -1;
    *out = v;
    return 0;
}

static int config_parse_bool(const char *s, long long *out) {
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* "250ms", "5s", "2m", "1h" or a bare number of milliseconds. */
static int config_parse_duration(const char *s, long long *out) {
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s) && *s != '-')
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return -1;
    long long mult;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60LL * 1000;
    else if (strcmp(end, "h") == 0)
        mult = 3600LL * 1000;
    else
        return -1;
    if (v > LLONG_MAX / mult || v < LLONG_MIN / mult)
        return -1;
    *out = v * mult;
    return 0;
}

/* Validates `value` for key k; fills *number. */
static int config_validate(const config_key *k, const char *value, long long *number, char *err,
                           size_t errlen) {
    char what[160];
    switch (k->type) {
    case CONFIG_STRING:
        *number = 0;
        return 0;
    case CONFIG_BOOL:
        if (config_parse_bool(value, number) == 0)
            return 0;
        config_error(k, value, err, errlen, "must be true/false/yes/no/on/off/1/0");
        return -1;
    case CONFIG_INT:
        if (config_parse_int(value, number) == 0 && *number >= k->min && *number <= k->max)
            return 0;
        snprintf(what, sizeof(what), "must be an integer from %lld to %lld", k->min, k->max);
        config_error(k, value, err, errlen, what);
        return -1;
    case CONFIG_DURATION:
        if (config_parse_duration(value, number) == 0 && *number >= k->min && *number <= k->max)
            return 0;
        snprintf(what, sizeof(what),
                 "must be a duration from %lldms to %lldms (e.g. 250ms, 5s, 2m, 1h)", k->min,
                 k->max);
        config_error(k, value, err, errlen, what);
        return -1;
    }
    return -1;
}

static int config_assign(config *cfg, size_t i, const char *value, int rank, char *err,
                         size_t errlen) {
    config_slot *slot = &cfg->slots[i];
    long long number;
    if (config_validate(&cfg->keys[i], value, &number, err, errlen) != 0)
        return -1;
    if (rank < slot->rank) /* valid, but a stronger source already decided */
        return 0;
    char *copy = strdup(value);
    if (copy == NULL) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", cfg->keys[i].name);
        return -1;
    }
    free(slot->text);
    slot->text = copy;
    slot->number = number;
    slot->rank = rank;
    return 0;
}

config *config_new(const config_key *keys, size_t nkeys) {
    config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return NULL;
    cfg->keys = keys;
    cfg->nkeys = nkeys;
    cfg->slots = calloc(nkeys ? nkeys : 1, sizeof(*cfg->slots));
    if (cfg->slots == NULL)
        goto err;
    for (size_t i = 0; i < nkeys; i++) {
        if (keys[i].default_value == NULL)
            continue;
        char msg[256];
        /* An invalid default is a bug in the table; treat it like OOM rather
         * than start with a value nobody validated. */
        if (config_assign(cfg, i, keys[i].default_value, CONFIG_RANK_DEFAULT, msg, sizeof(msg)) !=
            0)
            goto err;
    }
    return cfg;
err:
    config_free(cfg);
    return NULL;
}

void config_free(config *cfg) {
    if (cfg == NULL)
        return;
    if (cfg->slots)
        for (size_t i = 0; i < cfg->nkeys; i++)
            free(cfg->slots[i].text);
    free(cfg->slots);
    free(cfg);
}

int config_set(config *cfg, const char *name, const char *value, char *err, size_t errlen) {
    size_t i;
    if (config_find(cfg, name, &i) == NULL) {
        if (err && errlen)
            snprintf(err, errlen, "unknown configuration key '%s'", name);
        return -1;
    }
    return config_assign(cfg, i, value, CONFIG_RANK_SET, err, errlen);
}

int config_load_env(config *cfg, char *err, size_t errlen) {
    char env[256];
    for (size_t i = 0; i < cfg->nkeys; i++) {
        config_env_name(cfg->keys[i].name, env, sizeof(env));
        const char *value = getenv(env);
        if (value == NULL)
            continue;
        if (config_assign(cfg, i, value, CONFIG_RANK_ENV, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static char *config_trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Lines "key = value" or "LEASEHOLD_KEY=value"; '#' starts a comment line;
 * a value may be wrapped in double quotes. */
int config_load_file(config *cfg, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (err && errlen)
            snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char *s = config_trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            if (err && errlen)
                snprintf(err, errlen, "config file %s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *name = config_trim(s);
        char *value = config_trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        size_t i;
        if (config_find(cfg, name, &i) == NULL && config_find_env(cfg, name, &i) == NULL) {
            if (err && errlen)
                snprintf(err, errlen, "config file %s:%d: unknown configuration key '%s'", path,
                         lineno, name);
            rc = -1;
            break;
        }
        char msg[512];
        if (config_assign(cfg, i, value, CONFIG_RANK_FILE, msg, sizeof(msg)) != 0) {
            if (err && errlen)
                snprintf(err, errlen, "config file %s:%d: %s", path, lineno, msg);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

static const config_slot *config_slot_of(const config *cfg, const char *name, config_type type) {
    size_t i;
    const config_key *k = config_find(cfg, name, &i);
    if (k == NULL || k->type != type)
        abort(); /* programming error: asking for a key the table does not declare */
    return &cfg->slots[i];
}

const char *config_string(const config *cfg, const char *name) {
    return config_slot_of(cfg, name, CONFIG_STRING)->text;
}

long long config_int(const config *cfg, const char *name) {
    return config_slot_of(cfg, name, CONFIG_INT)->number;
}

int config_bool(const config *cfg, const char *name) {
    return (int)config_slot_of(cfg, name, CONFIG_BOOL)->number;
}

long long config_duration_ms(const config *cfg, const char *name) {
    return config_slot_of(cfg, name, CONFIG_DURATION)->number;
}

static void config_markdown_escape(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s, out);
    }
}

void config_write_markdown(const config_key *keys, size_t nkeys, FILE *out) {
    static const char *const type_names[] = {"string", "integer", "boolean", "duration"};
    fputs("| Environment variable | Key | Type | Default | Meaning |\n", out);
    fputs("|---|---|---|---|---|\n", out);
    for (size_t i = 0; i < nkeys; i++) {
        const config_key *k = &keys[i];
        char env[256];
        config_env_name(k->name, env, sizeof(env));
        fprintf(out, "| `%s` | `%s` | %s", env, k->name, type_names[k->type]);
        if (k->type == CONFIG_INT)
            fprintf(out, " (%lld..%lld)", k->min, k->max);
        else if (k->type == CONFIG_DURATION)
            fprintf(out, " (%lldms..%lldms)", k->min, k->max);
        fputs(" | ", out);
        if (k->default_value == NULL || k->default_value[0] == '\0') {
            fputs("(unset)", out);
        } else {
            fputc('`', out);
            config_markdown_escape(out, k->default_value);
            fputc('`', out);
        }
        fputs(" | ", out);
        config_markdown_escape(out, k->help ? k->help : "");
        if (k->secret)
            fputs(" (secret: never logged)", out);
        fputs(" |\n", out);
    }
}
