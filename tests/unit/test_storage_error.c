/* test_storage_error.c -- status classification, error XML, messages and List Blobs XML. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lease/src/blob_internal.h"

static void test_status_code_classification(void **state) {
    (void)state;
    assert_int_equal(storage_status_code(200), BLOB_OK);
    assert_int_equal(storage_status_code(201), BLOB_OK);
    assert_int_equal(storage_status_code(202), BLOB_OK);
    assert_int_equal(storage_status_code(304), BLOB_ERR_PRECONDITION);
    assert_int_equal(storage_status_code(400), BLOB_ERR_HTTP);
    assert_int_equal(storage_status_code(401), BLOB_ERR_AUTH);
    assert_int_equal(storage_status_code(403), BLOB_ERR_AUTH);
    assert_int_equal(storage_status_code(404), BLOB_ERR_NOT_FOUND);
    assert_int_equal(storage_status_code(408), BLOB_ERR_TRANSIENT);
    assert_int_equal(storage_status_code(409), BLOB_ERR_CONFLICT);
    assert_int_equal(storage_status_code(412), BLOB_ERR_PRECONDITION);
    assert_int_equal(storage_status_code(416), BLOB_ERR_HTTP);
    assert_int_equal(storage_status_code(500), BLOB_ERR_TRANSIENT);
    assert_int_equal(storage_status_code(503), BLOB_ERR_TRANSIENT);
    assert_int_equal(blob_code_is_transient(BLOB_ERR_TRANSIENT), 1);
    assert_int_equal(blob_code_is_transient(BLOB_ERR_CONFLICT), 0);
    assert_int_equal(blob_code_is_transient(BLOB_OK), 0);
}

static void test_strerror_every_code(void **state) {
    (void)state;
    assert_string_equal(blob_strerror(BLOB_OK), "success");
    assert_string_equal(blob_strerror(BLOB_ERR_INVALID), "invalid argument");
    assert_string_equal(blob_strerror(BLOB_ERR_NOMEM), "out of memory");
    assert_string_equal(blob_strerror(BLOB_ERR_NOT_FOUND), "not found");
    assert_string_equal(blob_strerror(BLOB_ERR_CONFLICT), "conflict");
    assert_string_equal(blob_strerror(BLOB_ERR_PRECONDITION), "precondition failed");
    assert_string_equal(blob_strerror(BLOB_ERR_AUTH), "not authorized");
    assert_string_equal(blob_strerror(BLOB_ERR_HTTP), "request rejected");
    assert_string_equal(blob_strerror(BLOB_ERR_TRANSIENT), "transient failure");
    assert_string_equal(blob_strerror((blob_code)99), "unknown error");
}

static void test_error_from_response_body_code(void **state) {
    (void)state;
    static const char body[] =
        "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>"
        "LeaseIdMismatchWithBlobOperation</Code><Message>The lease ID specified did not match "
        "the lease ID for the blob.\nRequestId:1</Message></Error>";
    blob_error e;
    storage_error_from_response(&e, "put", "inventory/PROD-1.json", 412, NULL, body,
                                sizeof body - 1);
    assert_int_equal(e.code, BLOB_ERR_PRECONDITION);
    assert_int_equal(e.http_status, 412);
    assert_string_equal(e.storage_code, "LeaseIdMismatchWithBlobOperation");
    assert_string_equal(e.message, "put inventory/PROD-1.json: precondition failed "
                                   "(HTTP 412 LeaseIdMismatchWithBlobOperation)");
}

static void test_error_from_response_header_wins(void **state) {
    (void)state;
    static const char body[] = "<Error><Code>Other</Code></Error>";
    blob_error e;
    storage_error_from_response(&e, "acquire lease on", "leases/lease-x", 409,
                                "LeaseAlreadyPresent", body, sizeof body - 1);
    assert_int_equal(e.code, BLOB_ERR_CONFLICT);
    assert_string_equal(e.storage_code, "LeaseAlreadyPresent");
    assert_string_equal(e.message,
                        "acquire lease on leases/lease-x: conflict (HTTP 409 LeaseAlreadyPresent)");
}

static void test_error_from_response_without_code(void **state) {
    (void)state;
    blob_error e;
    storage_error_from_response(&e, "get properties of", "c/b", 404, NULL, NULL, 0);
    assert_int_equal(e.code, BLOB_ERR_NOT_FOUND);
    assert_string_equal(e.storage_code, "");
    assert_string_equal(e.message, "get properties of c/b: not found (HTTP 404)");
    storage_error_from_response(&e, "get", "c/b", 500, NULL, "<html>oops</html>", 17);
    assert_int_equal(e.code, BLOB_ERR_TRANSIENT);
    assert_string_equal(e.message, "get c/b: transient failure (HTTP 500)");
    storage_error_from_response(NULL, "get", "c/b", 500, NULL, NULL, 0); /* no crash */
}

static void test_xml_find_forms(void **state) {
    (void)state;
    const char *v, *after;
    size_t vl;
    static const char x[] = "<A><Blobs><Blob><Name>n1</Name></Blob></Blobs>"
                            "<NextMarker /><Marker attr=\"1\">m</Marker><Code>c</Code></A>";
    assert_int_equal(storage_xml_find(x, sizeof x - 1, "Blob", &v, &vl, &after), 1);
    assert_int_equal(vl, strlen("<Name>n1</Name>"));
    assert_memory_equal(v, "<Name>n1</Name>", vl);
    assert_int_equal(storage_xml_find(x, sizeof x - 1, "NextMarker", &v, &vl, NULL), 1);
    assert_int_equal(vl, 0);
    assert_int_equal(storage_xml_find(x, sizeof x - 1, "Marker", &v, &vl, NULL), 1);
    assert_memory_equal(v, "m", vl);
    assert_int_equal(storage_xml_find(x, sizeof x - 1, "Missing", &v, &vl, NULL), 0);
    static const char open[] = "<Code>never closed";
    assert_int_equal(storage_xml_find(open, sizeof open - 1, "Code", &v, &vl, NULL), 0);
}

static void test_xml_decode_entities(void **state) {
    (void)state;
    char out[64];
    static const char raw[] = "a&amp;b&lt;c&gt;d&quot;e&apos;f&#65;&#x42;&#xe9;&bogus;&";
    size_t n = storage_xml_decode(raw, sizeof raw - 1, out, sizeof out);
    assert_string_equal(out, "a&b<c>d\"e'fAB\xc3\xa9&bogus;&");
    assert_int_equal(n, strlen(out));
    char small[4];
    assert_int_equal(storage_xml_decode("abcdef", 6, small, sizeof small), 3);
    assert_string_equal(small, "abc");
}

struct names {
    int count;
    int stop_after;
    char seen[8][64];
};

static int collect(const blob_list_item *item, void *opaque) {
    struct names *n = opaque;
    assert_non_null(item->meta);
    assert_int_equal(item->meta->count, 0); /* these pages carry no metadata */
    snprintf(n->seen[n->count], sizeof n->seen[0], "%s", item->name);
    n->count++;
    return n->stop_after && n->count >= n->stop_after;
}

static const char list_page[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"x\" "
    "ContainerName=\"c\"><Prefix>p</Prefix><MaxResults>2</MaxResults><Blobs>"
    "<Blob><Name>p/a&amp;b</Name><Properties><Content-Length>3</Content-Length></Properties>"
    "</Blob><Blob><Name>p/&lt;c&gt;</Name><Properties /></Blob></Blobs>"
    "<NextMarker>2!8!cC9jMg--</NextMarker></EnumerationResults>";

static void test_list_parse_names_and_marker(void **state) {
    (void)state;
    struct names n = {0};
    char marker[64];
    assert_int_equal(
        storage_list_parse(list_page, sizeof list_page - 1, collect, &n, marker, sizeof marker), 0);
    assert_int_equal(n.count, 2);
    assert_string_equal(n.seen[0], "p/a&b");
    assert_string_equal(n.seen[1], "p/<c>");
    assert_string_equal(marker, "2!8!cC9jMg--");
}

static void test_list_parse_last_page_and_stop(void **state) {
    (void)state;
    static const char last[] = "<EnumerationResults><Blobs><Blob><Name>x</Name></Blob></Blobs>"
                               "<NextMarker/></EnumerationResults>";
    struct names n = {0};
    char marker[64] = "old";
    assert_int_equal(storage_list_parse(last, sizeof last - 1, collect, &n, marker, sizeof marker),
                     0);
    assert_string_equal(marker, "");
    assert_int_equal(n.count, 1);

    struct names s = {.stop_after = 1};
    assert_int_equal(
        storage_list_parse(list_page, sizeof list_page - 1, collect, &s, marker, sizeof marker), 1);
    assert_int_equal(s.count, 1);

    static const char empty[] = "<EnumerationResults><Blobs /><NextMarker /></EnumerationResults>";
    struct names e = {0};
    assert_int_equal(
        storage_list_parse(empty, sizeof empty - 1, collect, &e, marker, sizeof marker), 0);
    assert_int_equal(e.count, 0);
}

/* A page as Azurite answers include=metadata: names capitalised, one blob
 * with metadata, one with an empty <Metadata/>, one without the element. */
static const char meta_page[] =
    "<EnumerationResults><Blobs>"
    "<Blob><Name>P1.json</Name><Properties><Etag>0x1</Etag></Properties>"
    "<Metadata><Nextexpiry>1800000000000</Nextexpiry><Leaseholdepoch>7</Leaseholdepoch>"
    "<note>a&amp;b</note><empty/><blank></blank></Metadata></Blob>"
    "<Blob><Name>P2.json</Name><Properties /><Metadata /></Blob>"
    "<Blob><Name>P3.json</Name><Properties /></Blob>"
    "</Blobs><NextMarker>P3.json</NextMarker></EnumerationResults>";

struct metas {
    int count;
    char name[4][16];
    blob_meta meta[4];
};

static int collect_meta(const blob_list_item *item, void *opaque) {
    struct metas *m = opaque;
    snprintf(m->name[m->count], sizeof m->name[0], "%s", item->name);
    m->meta[m->count++] = *item->meta;
    return 0;
}

static void test_list_parse_metadata(void **state) {
    (void)state;
    struct metas m = {0};
    char marker[64];
    assert_int_equal(
        storage_list_parse(meta_page, sizeof meta_page - 1, collect_meta, &m, marker, sizeof marker),
        0);
    assert_string_equal(marker, "P3.json");
    assert_int_equal(m.count, 3);
    assert_string_equal(m.name[0], "P1.json");
    assert_int_equal(m.meta[0].count, 5);
    assert_string_equal(m.meta[0].item[0].name, "Nextexpiry"); /* as sent */
    assert_string_equal(blob_meta_get(&m.meta[0], "nextexpiry"), "1800000000000");
    assert_string_equal(blob_meta_get(&m.meta[0], "leaseholdepoch"), "7");
    assert_string_equal(blob_meta_get(&m.meta[0], "note"), "a&b");
    assert_string_equal(blob_meta_get(&m.meta[0], "empty"), "");
    assert_string_equal(blob_meta_get(&m.meta[0], "blank"), "");
    /* Metadata does not leak from one blob to the next. */
    assert_string_equal(m.name[1], "P2.json");
    assert_int_equal(m.meta[1].count, 0);
    assert_string_equal(m.name[2], "P3.json");
    assert_int_equal(m.meta[2].count, 0);
}

static void test_list_parse_meta_leaves_out_what_does_not_fit(void **state) {
    (void)state;
    char xml[8192];
    size_t n = 0;
    /* A value of 255 characters fits, one of 256 does not; a 64-character
     * name does not fit either. Then more entries than BLOB_META_MAX. */
    n += (size_t)snprintf(xml + n, sizeof xml - n, "<fits>%0255d</fits><long>%0256d</long>", 0, 0);
    n += (size_t)snprintf(xml + n, sizeof xml - n, "<%064d>x</%064d>", 0, 0);
    for (int i = 0; i < BLOB_META_MAX + 3; i++)
        n += (size_t)snprintf(xml + n, sizeof xml - n, "<k%d>%d</k%d>", i, i, i);
    blob_meta meta;
    storage_list_parse_meta(xml, n, &meta);
    assert_int_equal(meta.count, BLOB_META_MAX);
    assert_int_equal(strlen(blob_meta_get(&meta, "fits")), 255);
    assert_null(blob_meta_get(&meta, "long"));
    assert_string_equal(meta.item[1].name, "k0");
    assert_string_equal(blob_meta_get(&meta, "k14"), "14");
    assert_null(blob_meta_get(&meta, "k15"));

    /* Unterminated: what came before stays, the rest is not trusted. */
    static const char cut[] = "<a>1</a><b>2";
    storage_list_parse_meta(cut, sizeof cut - 1, &meta);
    assert_int_equal(meta.count, 1);
    assert_string_equal(blob_meta_get(&meta, "a"), "1");
    storage_list_parse_meta("", 0, &meta);
    assert_int_equal(meta.count, 0);
}

static void test_error_set_formats(void **state) {
    (void)state;
    blob_error e;
    storage_error_set(&e, BLOB_ERR_INVALID, "list", NULL, "page_size must be %s", "0..5000");
    assert_int_equal(e.code, BLOB_ERR_INVALID);
    assert_int_equal(e.http_status, 0);
    assert_string_equal(e.message, "list: page_size must be 0..5000");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_code_classification),
        cmocka_unit_test(test_strerror_every_code),
        cmocka_unit_test(test_error_from_response_body_code),
        cmocka_unit_test(test_error_from_response_header_wins),
        cmocka_unit_test(test_error_from_response_without_code),
        cmocka_unit_test(test_xml_find_forms),
        cmocka_unit_test(test_xml_decode_entities),
        cmocka_unit_test(test_list_parse_names_and_marker),
        cmocka_unit_test(test_list_parse_last_page_and_stop),
        cmocka_unit_test(test_list_parse_metadata),
        cmocka_unit_test(test_list_parse_meta_leaves_out_what_does_not_fit),
        cmocka_unit_test(test_error_set_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
