/* test_inventory_schema_examples.c -- the C decoders against the JSON
 * Schema examples in schemas/v1/examples (found through the environment
 * variable LEASEHOLD_SOURCE_DIR, set by ctest).
 *
 * Every valid example must decode, and re-encoding it must decode to the
 * same struct; every invalid example must be refused with exactly the
 * message listed for it in examples/invalid/expected-errors.tsv. Files are
 * matched to a decoder by the schema name before their first '.';
 * dead-letter examples have no C decoder (the codec only writes them) and
 * are checked by tests/schemas/check_schemas.py alone. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leasehold/inventory_schema.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void examples_dir(const char *kind, char *out, size_t outlen)
{
    const char *src = getenv("LEASEHOLD_SOURCE_DIR");
    assert_non_null(src);
    snprintf(out, outlen, "%s/schemas/v1/examples/%s", src, kind);
}

/* Decodes with the decoder for the file's schema; re-encodes and decodes
 * again when the first decode succeeded, asserting the same result.
 * Returns the first decode's rc, or 1 when no C decoder exists. */
static int decode_example(const char *name, const char *buf, size_t len, char *err, size_t errlen)
{
    if (strncmp(name, "command-", 8) == 0) {
        inv_command a, b;
        int rc = inv_command_decode(buf, len, &a, err, errlen);
        if (rc == 0) {
            /* "command-reserve.basic.json" must decode to a reserve. */
            size_t tlen = strlen(inv_command_type_name(a.type));
            assert_memory_equal(name + 8, inv_command_type_name(a.type), tlen);
            assert_int_equal(name[8 + tlen], '.');
            char *s = inv_command_encode(&a);
            assert_int_equal(inv_command_decode(s, strlen(s), &b, err, errlen), 0);
            assert_memory_equal(&a, &b, sizeof a);
            free(s);
        }
        return rc;
    }
    if (strncmp(name, "event.", 6) == 0) {
        inv_event a, b;
        int rc = inv_event_decode(buf, len, &a, err, errlen);
        if (rc == 0) {
            char *s = inv_event_encode(&a);
            assert_int_equal(inv_event_decode(s, strlen(s), &b, err, errlen), 0);
            assert_memory_equal(&a, &b, sizeof a);
            free(s);
        }
        return rc;
    }
    if (strncmp(name, "product-state.", 14) == 0) {
        inv_state a, b;
        int rc = inv_state_decode(buf, len, &a, err, errlen);
        if (rc == 0) {
            char *s = inv_state_encode(&a);
            assert_int_equal(inv_state_decode(s, strlen(s), &b, err, errlen), 0);
            char *again = inv_state_encode(&b);
            assert_string_equal(s, again);
            free(again);
            free(s);
            inv_state_clear(&a);
            inv_state_clear(&b);
        }
        return rc;
    }
    assert_int_equal(strncmp(name, "dead-letter.", 12), 0);
    return 1;
}

static void test_inv_decode_valid_examples(void **state)
{
    char dir[4096];
    examples_dir("valid", dir, sizeof dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".json"))
            continue;
        char path[8192], err[512] = "";
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        char *buf = read_file(path, &len);
        int rc = decode_example(e->d_name, buf, len, err, sizeof err);
        if (rc < 0)
            fail_msg("%s: %s", e->d_name, err);
        n += rc == 0;
        free(buf);
    }
    closedir(d);
    assert_int_equal(n, 15); /* 18 valid examples, 3 of them dead letters */
}

static void test_inv_decode_invalid_examples(void **state)
{
    char dir[4096], path[8192], line[1024];
    examples_dir("invalid", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/expected-errors.tsv", dir);
    FILE *tsv = fopen(path, "r");
    assert_non_null(tsv);
    int n = 0;
    while (fgets(line, sizeof line, tsv)) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        const char *expected = tab + 1;
        snprintf(path, sizeof path, "%s/%s", dir, line);
        size_t len;
        char *buf = read_file(path, &len);
        char err[512] = "";
        int rc = decode_example(line, buf, len, err, sizeof err);
        free(buf);
        if (strcmp(expected, "-") == 0) {
            assert_int_equal(rc, 1);
            continue;
        }
        if (rc != -1)
            fail_msg("%s: accepted", line);
        if (strcmp(err, expected) != 0)
            fail_msg("%s: got \"%s\", expected \"%s\"", line, err, expected);
        n++;
    }
    fclose(tsv);
    assert_int_equal(n, 33); /* 36 invalid examples, 3 of them dead letters */
}

static void test_inv_decode_invalid_examples_all_listed(void **state)
{
    char dir[4096], path[8192];
    examples_dir("invalid", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/expected-errors.tsv", dir);
    size_t len;
    char *tsv = read_file(path, &len);
    tsv[len] = '\0';
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".json"))
            continue;
        char needle[512];
        snprintf(needle, sizeof needle, "\n%s\t", e->d_name);
        if (!strstr(tsv, needle))
            fail_msg("%s: not listed in expected-errors.tsv", e->d_name);
    }
    closedir(d);
    free(tsv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inv_decode_valid_examples),
        cmocka_unit_test(test_inv_decode_invalid_examples),
        cmocka_unit_test(test_inv_decode_invalid_examples_all_listed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
