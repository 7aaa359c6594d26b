/* test_storage_sharedkey.c -- SharedKey string-to-sign and signatures.
 *
 * The expected strings and signatures were derived independently with
 * python3 (hmac, hashlib, base64) from the Azure Storage REST rules, for
 * the fixed inputs below, and hard-coded here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lease/src/blob_internal.h"

#define DATE "Sat, 28 Nov 2026 04:47:26 GMT"

static unsigned char dev_key[64];
static size_t dev_key_len;

static int setup_keys(void **state) {
    (void)state;
    long n = storage_base64_decode(STORAGE_DEV_KEY, strlen(STORAGE_DEV_KEY), dev_key);
    assert_int_equal(n, 64);
    dev_key_len = (size_t)n;
    return 0;
}

static void test_string_to_sign_put_blob(void **state) {
    (void)state;
    storage_kv headers[] = {{"x-ms-blob-type", "BlockBlob"}, {"Content-Type", "application/json"},
                            {"x-ms-meta-owner", "worker-1"}, {"x-ms-date", DATE},
                            {"x-ms-version", "2021-12-02"},  {"x-ms-lease-id", "  abc  "}};
    storage_sign_input in = {
        "PUT", "/devstoreaccount1/inventory/dir/a%20b.json", NULL, 0, headers, 6, 13};
    char *sts = storage_sharedkey_string_to_sign("devstoreaccount1", &in);
    assert_string_equal(sts, "PUT\n\n\n13\n\napplication/json\n\n\n\n\n\n\n"
                             "x-ms-blob-type:BlockBlob\nx-ms-date:" DATE "\nx-ms-lease-id:abc\n"
                             "x-ms-meta-owner:worker-1\nx-ms-version:2021-12-02\n"
                             "/devstoreaccount1/devstoreaccount1/inventory/dir/a%20b.json");
    char sig[64];
    assert_int_equal(storage_sharedkey_sign(dev_key, dev_key_len, sts, sig, sizeof sig), 0);
    assert_string_equal(sig, "gSCne+S6gm8ZCk0ekm40Co09qTglS2E3uGUhOvorJ4I=");
    free(sts);
}

static void test_string_to_sign_sorted_query_and_if_match(void **state) {
    (void)state;
    unsigned char key[32];
    assert_int_equal(storage_base64_decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 44, key),
                     32);
    storage_kv params[] = {
        {"restype", "container"}, {"comp", "list"}, {"prefix", "p/x y"}, {"maxresults", "2"}};
    storage_kv headers[] = {
        {"If-Match", "\"0x8D\""}, {"x-ms-version", "2021-12-02"}, {"x-ms-date", DATE}};
    storage_sign_input in = {"GET", "/mycontainer", params, 4, headers, 3, 0};
    char *sts = storage_sharedkey_string_to_sign("myaccount", &in);
    assert_string_equal(sts, "GET\n\n\n\n\n\n\n\n\"0x8D\"\n\n\n\nx-ms-date:" DATE
                             "\nx-ms-version:2021-12-02\n/myaccount/mycontainer\ncomp:list\n"
                             "maxresults:2\nprefix:p/x y\nrestype:container");
    char sig[64];
    assert_int_equal(storage_sharedkey_sign(key, 32, sts, sig, sizeof sig), 0);
    assert_string_equal(sig, "mQBQJJcIJgVQWvl81acg5A4KwNuZf1BorWF2OZjy4tM=");
    free(sts);
}

static void test_authorization_lease_acquire_empty_length(void **state) {
    (void)state;
    storage_kv params[] = {{"comp", "lease"}};
    storage_kv headers[] = {{"x-ms-lease-action", "acquire"},
                            {"x-ms-lease-duration", "15"},
                            {"x-ms-proposed-lease-id", "3f2a0c1e-0000-4000-8000-000000000001"},
                            {"x-ms-date", DATE},
                            {"x-ms-version", "2021-12-02"}};
    storage_sign_input in = {"PUT", "/devstoreaccount1/leases/lease-x", params, 1, headers, 5, 0};
    char auth[128];
    assert_int_equal(storage_sharedkey_authorization("devstoreaccount1", dev_key, dev_key_len, &in,
                                                     auth, sizeof auth),
                     0);
    assert_string_equal(auth,
                        "SharedKey devstoreaccount1:zpmOuHI3quKVY3ZBEXsUQUl+eJLtYqus5FPhU7mMdRo=");
}

static void test_authorization_too_small_buffer(void **state) {
    (void)state;
    storage_sign_input in = {"GET", "/c", NULL, 0, NULL, 0, 0};
    char auth[20];
    assert_int_equal(storage_sharedkey_authorization("devstoreaccount1", dev_key, dev_key_len, &in,
                                                     auth, sizeof auth),
                     -1);
}

static void test_base64_decode_rejects_malformed(void **state) {
    (void)state;
    unsigned char out[16];
    assert_int_equal(storage_base64_decode("QUJD", 4, out), 3);
    assert_memory_equal(out, "ABC", 3);
    assert_int_equal(storage_base64_decode("QUI=", 4, out), 2);
    assert_int_equal(storage_base64_decode("QQ==", 4, out), 1);
    assert_int_equal(storage_base64_decode("QUJ", 3, out), -1);  /* length */
    assert_int_equal(storage_base64_decode("QU=D", 4, out), -1); /* padding inside */
    assert_int_equal(storage_base64_decode("Q===", 4, out), -1); /* too much padding */
    assert_int_equal(storage_base64_decode("QU J", 4, out), -1); /* space */
    assert_int_equal(storage_base64_decode("QU-_", 4, out), -1); /* url-safe alphabet */
    assert_int_equal(storage_base64_decode("", 0, out), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_to_sign_put_blob),
        cmocka_unit_test(test_string_to_sign_sorted_query_and_if_match),
        cmocka_unit_test(test_authorization_lease_acquire_empty_length),
        cmocka_unit_test(test_authorization_too_small_buffer),
        cmocka_unit_test(test_base64_decode_rejects_malformed),
    };
    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
