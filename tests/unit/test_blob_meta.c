/* test_blob_meta.c -- metadata lists, metadata from response headers, GUIDs, URL encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease/src/blob_internal.h"

static void test_meta_set_get_replace(void **state) {
    (void)state;
    blob_meta m = {0};
    assert_int_equal(blob_meta_set(&m, "owner", "w1"), BLOB_OK);
    assert_int_equal(blob_meta_set(&m, "epoch", "7"), BLOB_OK);
    assert_int_equal(blob_meta_set(&m, "OWNER", "w2"), BLOB_OK); /* replaces, any case */
    assert_int_equal(m.count, 2);
    assert_string_equal(blob_meta_get(&m, "Owner"), "w2");
    assert_string_equal(blob_meta_get(&m, "epoch"), "7");
    assert_null(blob_meta_get(&m, "missing"));
    assert_null(blob_meta_get(NULL, "owner"));
}

static void test_meta_set_rejects_invalid(void **state) {
    (void)state;
    blob_meta m = {0};
    char longv[300];
    memset(longv, 'v', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    assert_int_equal(blob_meta_set(&m, "1abc", "x"), BLOB_ERR_INVALID);
    assert_int_equal(blob_meta_set(&m, "a-b", "x"), BLOB_ERR_INVALID);
    assert_int_equal(blob_meta_set(&m, "", "x"), BLOB_ERR_INVALID);
    assert_int_equal(blob_meta_set(&m, "ok", "line\r\nx-ms-evil: 1"), BLOB_ERR_INVALID);
    assert_int_equal(blob_meta_set(&m, "ok", longv), BLOB_ERR_INVALID);
    assert_int_equal(blob_meta_set(&m, "ok", NULL), BLOB_ERR_INVALID);
    assert_int_equal(m.count, 0);
    for (int i = 0; i < BLOB_META_MAX; i++) {
        char name[16];
        snprintf(name, sizeof name, "k%d", i);
        assert_int_equal(blob_meta_set(&m, name, "v"), BLOB_OK);
    }
    assert_int_equal(blob_meta_set(&m, "one_more", "v"), BLOB_ERR_INVALID);
    assert_int_equal(blob_meta_set(&m, "k3", "replaced"), BLOB_OK); /* replace still works */
    assert_string_equal(blob_meta_get(&m, "k3"), "replaced");
}

static void test_meta_from_response_headers(void **state) {
    (void)state;
    /* "name\0value\0" pairs, as blob_http.c stores response headers */
    static const char raw[] = "ETag\0\"0x1\"\0x-ms-meta-owner\0worker-1\0"
                              "Content-Length\0003\0X-MS-META-Epoch\0009\0";
    storage_response resp = {0};
    resp.headers = (char *)raw;
    resp.headers_len = sizeof raw - 1;
    blob_meta m;
    blob_meta_from_response(&resp, &m);
    assert_int_equal(m.count, 2);
    assert_string_equal(blob_meta_get(&m, "owner"), "worker-1");
    assert_string_equal(blob_meta_get(&m, "epoch"), "9");
    assert_string_equal(storage_response_header(&resp, "etag"), "\"0x1\"");
    assert_string_equal(storage_response_header(&resp, "content-length"), "3");
    assert_null(storage_response_header(&resp, "x-ms-lease-id"));
}

static void test_new_guid_format_and_uniqueness(void **state) {
    (void)state;
    char a[37], b[37];
    blob_new_guid(a);
    blob_new_guid(b);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(a[i], '-');
        else
            assert_true(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
    }
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
}

static void test_url_encode_names_and_values(void **state) {
    (void)state;
    char *s = storage_url_encode("dir/a b+c&d%e?#\xc3\xa9~._-Z9", 1);
    assert_string_equal(s, "dir/a%20b%2Bc%26d%25e%3F%23%C3%A9~._-Z9");
    free(s);
    s = storage_url_encode("p/x y=", 0);
    assert_string_equal(s, "p%2Fx%20y%3D");
    free(s);
    s = storage_url_encode("", 0);
    assert_string_equal(s, "");
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_set_get_replace),
        cmocka_unit_test(test_meta_set_rejects_invalid),
        cmocka_unit_test(test_meta_from_response_headers),
        cmocka_unit_test(test_new_guid_format_and_uniqueness),
        cmocka_unit_test(test_url_encode_names_and_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
