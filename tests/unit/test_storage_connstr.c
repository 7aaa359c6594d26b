/* test_storage_connstr.c -- connection string parsing, good and malformed.
 *
 * Every malformed form must give BLOB_ERR_INVALID with the exact message
 * naming the offending part, and no message may contain a key or SAS value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "lease/src/blob_internal.h"

/* Secrets used in inputs: never allowed in any message. */
#define KEY "c2VjcmV0LWtleS1ieXRlcy0xMjM0NTY3ODkwYWJjZGVm"
#define SIG "SECRETSIGVALUE"

static void test_connstr_parse_development_storage(void **state) {
    (void)state;
    storage_account a;
    char err[256];
    assert_int_equal(storage_connstr_parse("UseDevelopmentStorage=true", &a, err, sizeof err),
                     BLOB_OK);
    assert_string_equal(a.account, "devstoreaccount1");
    assert_string_equal(a.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
    assert_string_equal(a.path, "/devstoreaccount1");
    assert_int_equal(a.https, 0);
    assert_int_equal(a.key_len, 64);
    assert_null(a.sas);
    storage_account_clear(&a);
    /* case-insensitive keys and value, spaces and a trailing ';' */
    assert_int_equal(storage_connstr_parse(" usedevelopmentstorage = TRUE ;", &a, err, sizeof err),
                     BLOB_OK);
    assert_string_equal(a.account, "devstoreaccount1");
    storage_account_clear(&a);
}

static void test_connstr_parse_account_key_default_endpoint(void **state) {
    (void)state;
    storage_account a;
    char err[256];
    assert_int_equal(storage_connstr_parse("DefaultEndpointsProtocol=https;AccountName=myacct;"
                                           "AccountKey=" KEY ";EndpointSuffix=core.windows.net",
                                           &a, err, sizeof err),
                     BLOB_OK);
    assert_string_equal(a.account, "myacct");
    assert_string_equal(a.endpoint, "https://myacct.blob.core.windows.net");
    assert_string_equal(a.path, "");
    assert_int_equal(a.https, 1);
    assert_int_equal(a.key_len, 33);
    assert_memory_equal(a.key, "secret-key-bytes-1234567890abcdef", 33);
    storage_account_clear(&a);

    assert_int_equal(storage_connstr_parse("accountname=acct2;DEFAULTENDPOINTSPROTOCOL=http;"
                                           "endpointsuffix=core.chinacloudapi.cn",
                                           &a, err, sizeof err),
                     BLOB_OK);
    assert_string_equal(a.endpoint, "http://acct2.blob.core.chinacloudapi.cn");
    assert_null(a.key);
    storage_account_clear(&a);
}

static void test_connstr_parse_blob_endpoint_and_sas(void **state) {
    (void)state;
    storage_account a;
    char err[256];
    assert_int_equal(storage_connstr_parse("BlobEndpoint=https://127.0.0.1:10001/devstoreaccount1/;"
                                           "SharedAccessSignature=?sv=2021-12-02&sig=" SIG,
                                           &a, err, sizeof err),
                     BLOB_OK);
    assert_string_equal(a.endpoint, "https://127.0.0.1:10001/devstoreaccount1");
    assert_string_equal(a.account, "devstoreaccount1"); /* path-style: first segment */
    assert_string_equal(a.path, "/devstoreaccount1");
    assert_string_equal(a.sas, "sv=2021-12-02&sig=" SIG);
    storage_account_clear(&a);

    assert_int_equal(storage_connstr_parse("BlobEndpoint=https://other.blob.example.net;"
                                           "QueueEndpoint=https://other.queue.example.net",
                                           &a, err, sizeof err),
                     BLOB_OK);
    assert_string_equal(a.account, "other"); /* host-style: first label */
    storage_account_clear(&a);
}

static void test_connstr_parse_malformed(void **state) {
    (void)state;
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"", "connection string: empty"},
        {" ; ;", "connection string: empty"},
        {"AccountName=a1b;abc", "connection string: part 2 'abc' has no '='"},
        {"AccountName=acct;AccountKey" KEY, "connection string: part 2 (54 characters) has no '='"},
        {"=x", "connection string: part 1 has an empty key"},
        {"AccountName=acct;Foo=bar", "connection string: unknown key 'Foo'"},
        {"AccountName=acct;accountname=acct", "connection string: duplicate key 'AccountName'"},
        {"AccountName=", "connection string: AccountName has an empty value"},
        {"AccountName=acct;AccountKey=", "connection string: AccountKey has an empty value"},
        {"UseDevelopmentStorage=false", "connection string: UseDevelopmentStorage must be 'true'"},
        {"UseDevelopmentStorage=true;AccountName=acct",
         "connection string: UseDevelopmentStorage cannot be combined with AccountName"},
        {"DefaultEndpointsProtocol=ftp;AccountName=acct",
         "connection string: DefaultEndpointsProtocol must be 'http' or 'https', got 'ftp'"},
        {"AccountKey=" KEY, "connection string: AccountKey needs AccountName"},
        {"DefaultEndpointsProtocol=https",
         "connection string: missing AccountName (or BlobEndpoint)"},
        {"AccountName=acct;AccountKey=" KEY ";SharedAccessSignature=sig=" SIG,
         "connection string: AccountKey and SharedAccessSignature cannot both be given"},
        {"AccountName=acct;AccountKey=not*base64" SIG,
         "connection string: AccountKey is not valid base64"},
        {"AccountName=acct;AccountKey=QUJD" SIG "=",
         "connection string: AccountKey is not valid base64"},
        {"AccountName=My_Account",
         "connection string: AccountName must be 3-24 lower-case letters or digits, got "
         "'My_Account'"},
        {"AccountName=ab", "connection string: AccountName must be 3-24 lower-case letters or "
                           "digits, got 'ab'"},
        {"BlobEndpoint=ftp://host/x",
         "connection string: BlobEndpoint must be an http:// or https:// URL with a host and no "
         "query"},
        {"BlobEndpoint=https://",
         "connection string: BlobEndpoint must be an http:// or https:// URL with a host and no "
         "query"},
        {"BlobEndpoint=https://host.example/acct?sig=" SIG,
         "connection string: BlobEndpoint must be an http:// or https:// URL with a host and no "
         "query"},
        {"BlobEndpoint=http://127.0.0.1:10000",
         "connection string: missing AccountName (cannot derive it from BlobEndpoint)"},
        {"AccountName=acct;SharedAccessSignature=sv=2021&se=" SIG,
         "connection string: SharedAccessSignature has no 'sig' parameter"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        storage_account a;
        char err[256];
        assert_int_equal(storage_connstr_parse(cases[i].text, &a, err, sizeof err),
                         BLOB_ERR_INVALID);
        assert_string_equal(err, cases[i].message);
        assert_null(strstr(err, KEY));
        assert_null(strstr(err, SIG));
        assert_null(a.account);
        assert_null(a.key);
    }
}

static void test_connstr_parse_null(void **state) {
    (void)state;
    storage_account a;
    char err[64];
    assert_int_equal(storage_connstr_parse(NULL, &a, err, sizeof err), BLOB_ERR_INVALID);
    assert_string_equal(err, "connection string: missing (NULL)");
}

static void test_client_new_error_names_option_without_secret(void **state) {
    (void)state;
    blob_client_options o;
    blob_client_options_init(&o);
    blob_error e;
    o.connection_string = "AccountName=acct;AccountKey=" KEY ";Bogus=1";
    assert_null(blob_client_new(&o, &e));
    assert_int_equal(e.code, BLOB_ERR_INVALID);
    assert_string_equal(e.message, "blob client: connection string: unknown key 'Bogus'");
    assert_null(strstr(e.message, KEY));

    o.connection_string = "UseDevelopmentStorage=true";
    o.bearer_token = SIG;
    assert_null(blob_client_new(&o, &e));
    assert_string_equal(e.message, "blob client: bearer_token requires an https:// blob endpoint "
                                   "(got http://127.0.0.1:10000/devstoreaccount1)");
    o.bearer_token = NULL;
    o.use_managed_identity = 1;
    assert_null(blob_client_new(&o, &e));
    assert_string_equal(e.message, "blob client: use_managed_identity requires an https:// blob "
                                   "endpoint (got http://127.0.0.1:10000/devstoreaccount1)");

    o.use_managed_identity = 0;
    o.sas_token = "sv=1&se=" SIG;
    assert_null(blob_client_new(&o, &e));
    assert_string_equal(e.message, "blob client: sas_token has no 'sig' parameter");
    assert_null(strstr(e.message, SIG));

    o.sas_token = NULL;
    o.connection_string = NULL;
    assert_null(blob_client_new(&o, &e));
    assert_string_equal(e.message, "blob client: connection_string is required");
}

static void test_client_new_rejects_bad_numbers(void **state) {
    (void)state;
    static const char *const msgs[] = {
        "blob client: connect_timeout_ms must be positive",
        "blob client: request_timeout_ms must be positive",
        "blob client: max_retries must be 0..20",
        "blob client: retry_base_ms must be positive",
        "blob client: retry_max_ms must be at least retry_base_ms",
    };
    for (int i = 0; i < 5; i++) {
        blob_client_options o;
        blob_client_options_init(&o);
        o.connection_string = "UseDevelopmentStorage=true";
        switch (i) {
        case 0:
            o.connect_timeout_ms = 0;
            break;
        case 1:
            o.request_timeout_ms = -1;
            break;
        case 2:
            o.max_retries = 21;
            break;
        case 3:
            o.retry_base_ms = 0;
            break;
        default:
            o.retry_max_ms = 50;
            break;
        }
        blob_error e;
        assert_null(blob_client_new(&o, &e));
        assert_int_equal(e.code, BLOB_ERR_INVALID);
        assert_string_equal(e.message, msgs[i]);
    }
}

static void test_client_new_accessors(void **state) {
    (void)state;
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = "UseDevelopmentStorage=true";
    blob_error e;
    blob_client *c = blob_client_new(&o, &e);
    assert_non_null(c);
    assert_int_equal(e.code, BLOB_OK);
    assert_string_equal(blob_client_account(c), "devstoreaccount1");
    assert_string_equal(blob_client_endpoint(c), "http://127.0.0.1:10000/devstoreaccount1");
    blob_client_free(c);
    blob_client_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connstr_parse_development_storage),
        cmocka_unit_test(test_connstr_parse_account_key_default_endpoint),
        cmocka_unit_test(test_connstr_parse_blob_endpoint_and_sas),
        cmocka_unit_test(test_connstr_parse_malformed),
        cmocka_unit_test(test_connstr_parse_null),
        cmocka_unit_test(test_client_new_error_names_option_without_secret),
        cmocka_unit_test(test_client_new_rejects_bad_numbers),
        cmocka_unit_test(test_client_new_accessors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
