/* test_blob_azurite.c -- the blob client against a real Azurite (127.0.0.1:10000).
 *
 * Each test works in its own container "blobit-<random>" created by the
 * fixture and deleted afterwards, so runs can overlap. The lease cases
 * assert the measured Azurite facts of design.md section 5.
 * Connection: LEASEHOLD_STORAGE_CONNECTION_STRING or UseDevelopmentStorage=true.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease/src/blob_internal.h"

#define GUID_A "11111111-1111-4111-8111-111111111111"
#define GUID_B "22222222-2222-4222-8222-222222222222"

typedef struct fixture {
    blob_client *c;
    char container[64];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *cs = getenv("LEASEHOLD_STORAGE_CONNECTION_STRING");
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = cs && *cs ? cs : "UseDevelopmentStorage=true";
    blob_error e;
    f->c = blob_client_new(&o, &e);
    assert_non_null(f->c);
    char guid[37];
    blob_new_guid(guid);
    snprintf(f->container, sizeof f->container, "blobit-%.8s", guid);
    assert_int_equal(blob_container_create(f->c, f->container, &e), BLOB_OK);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    blob_error e;
    assert_int_equal(blob_container_delete(f->c, f->container, &e), BLOB_OK);
    blob_client_free(f->c);
    free(f);
    return 0;
}

static void put_text(fixture *f, const char *name, const char *text, const blob_conditions *cond,
                     blob_code want, const char *want_code) {
    blob_error e;
    blob_code rc =
        blob_put(f->c, f->container, name, text, strlen(text), "text/plain", NULL, cond, NULL, &e);
    if (rc != want)
        fail_msg("put %s: got %d (%s), want %d", name, rc, e.message, want);
    if (want_code)
        assert_string_equal(e.storage_code, want_code);
}

static void test_container_create_and_delete_idempotent(void **state) {
    fixture *f = *state;
    blob_error e;
    assert_int_equal(blob_container_create(f->c, f->container, &e), BLOB_OK);
    assert_int_equal(e.code, BLOB_OK);
    char other[80];
    snprintf(other, sizeof other, "%s-x", f->container);
    assert_int_equal(blob_container_delete(f->c, other, &e), BLOB_OK); /* absent */
    assert_int_equal(blob_container_create(f->c, other, &e), BLOB_OK);
    assert_int_equal(blob_container_delete(f->c, other, &e), BLOB_OK);
    assert_int_equal(blob_container_delete(f->c, other, &e), BLOB_OK);
}

static void test_put_get_round_trip_with_metadata(void **state) {
    fixture *f = *state;
    blob_error e;
    blob_meta m = {0};
    assert_int_equal(blob_meta_set(&m, "owner", "worker-1"), BLOB_OK);
    assert_int_equal(blob_meta_set(&m, "epoch", "42"), BLOB_OK);
    char etag[128];
    static const char body[] = "{\"productId\":\"PROD-1\",\"available\":10}";
    assert_int_equal(blob_put(f->c, f->container, "PROD-1.json", body, sizeof body - 1,
                              "application/json", &m, NULL, etag, &e),
                     BLOB_OK);
    assert_true(strlen(etag) > 2);
    char *data;
    size_t len;
    blob_props p;
    assert_int_equal(blob_get(f->c, f->container, "PROD-1.json", NULL, &data, &len, &p, &e),
                     BLOB_OK);
    assert_int_equal(len, sizeof body - 1);
    assert_string_equal(data, body);
    free(data);
    assert_string_equal(p.etag, etag);
    assert_int_equal(p.content_length, sizeof body - 1);
    assert_string_equal(p.lease_state, "available");
    assert_string_equal(p.lease_status, "unlocked");
    assert_int_equal(p.meta.count, 2);
    assert_string_equal(blob_meta_get(&p.meta, "owner"), "worker-1");
    assert_string_equal(blob_meta_get(&p.meta, "epoch"), "42");

    /* Set Blob Metadata replaces all; HEAD reads it back */
    blob_meta m2 = {0};
    assert_int_equal(blob_meta_set(&m2, "leader", "w-7"), BLOB_OK);
    assert_int_equal(blob_meta_set(&m2, "empty", ""), BLOB_OK);
    assert_int_equal(blob_set_metadata(f->c, f->container, "PROD-1.json", &m2, NULL, &e), BLOB_OK);
    assert_int_equal(blob_get_properties(f->c, f->container, "PROD-1.json", NULL, &p, &e), BLOB_OK);
    assert_int_equal(p.meta.count, 2);
    assert_string_equal(blob_meta_get(&p.meta, "leader"), "w-7");
    assert_string_equal(blob_meta_get(&p.meta, "empty"), "");
    assert_null(blob_meta_get(&p.meta, "owner"));

    /* an empty blob */
    assert_int_equal(blob_put(f->c, f->container, "empty", NULL, 0, NULL, NULL, NULL, NULL, &e),
                     BLOB_OK);
    assert_int_equal(blob_get(f->c, f->container, "empty", NULL, &data, &len, NULL, &e), BLOB_OK);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);
}

static void test_put_conditions_if_match_and_if_none_match(void **state) {
    fixture *f = *state;
    blob_error e;
    char etag1[128], etag2[128];
    blob_conditions create_only = {.if_none_match = "*"};
    assert_int_equal(
        blob_put(f->c, f->container, "c.txt", "v1", 2, NULL, NULL, &create_only, etag1, &e),
        BLOB_OK);
    assert_int_equal(
        blob_put(f->c, f->container, "c.txt", "v2", 2, NULL, NULL, &create_only, NULL, &e),
        BLOB_ERR_CONFLICT);
    assert_string_equal(e.storage_code, "BlobAlreadyExists");
    blob_conditions match1 = {.if_match = etag1};
    assert_int_equal(blob_put(f->c, f->container, "c.txt", "v2", 2, NULL, NULL, &match1, etag2, &e),
                     BLOB_OK);
    assert_string_not_equal(etag1, etag2);
    assert_int_equal(blob_put(f->c, f->container, "c.txt", "v3", 2, NULL, NULL, &match1, NULL, &e),
                     BLOB_ERR_PRECONDITION); /* stale ETag */
    assert_int_equal(e.http_status, 412);
    assert_string_equal(e.storage_code, "ConditionNotMet");
    char want[200];
    snprintf(want, sizeof want, "put %s/c.txt: precondition failed (HTTP 412 ConditionNotMet)",
             f->container);
    assert_string_equal(e.message, want);

    /* a read with If-None-Match of the current ETag: 304, reported as a failed precondition */
    blob_conditions unchanged = {.if_none_match = etag2};
    char *data = NULL;
    size_t len;
    assert_int_equal(blob_get(f->c, f->container, "c.txt", &unchanged, &data, &len, NULL, &e),
                     BLOB_ERR_PRECONDITION);
    assert_int_equal(e.http_status, 304);
    assert_null(data);
}

static void test_missing_blob_is_not_found(void **state) {
    fixture *f = *state;
    blob_error e;
    blob_props p;
    assert_int_equal(blob_get_properties(f->c, f->container, "nope", NULL, &p, &e),
                     BLOB_ERR_NOT_FOUND);
    assert_string_equal(e.storage_code, "BlobNotFound"); /* HEAD: from x-ms-error-code */
    char *data;
    size_t len;
    assert_int_equal(blob_get(f->c, f->container, "nope", NULL, &data, &len, NULL, &e),
                     BLOB_ERR_NOT_FOUND);
    assert_int_equal(blob_delete(f->c, "blobit-no-such-container", "x", NULL, &e),
                     BLOB_ERR_NOT_FOUND);
    assert_string_equal(e.storage_code, "ContainerNotFound");
}

static void test_lease_facts(void **state) {
    fixture *f = *state;
    blob_error e;
    char id[64], want[200];
    put_text(f, "leased", "state-0", NULL, BLOB_OK, NULL);
    assert_int_equal(blob_lease_acquire(f->c, f->container, "leased", 15, GUID_A, id, &e), BLOB_OK);
    assert_string_equal(id, GUID_A);
    /* another id: 409 LeaseAlreadyPresent; the same id again: 201, idempotent */
    assert_int_equal(blob_lease_acquire(f->c, f->container, "leased", 15, GUID_B, id, &e),
                     BLOB_ERR_CONFLICT);
    assert_int_equal(e.http_status, 409);
    assert_string_equal(e.storage_code, "LeaseAlreadyPresent");
    snprintf(want, sizeof want,
             "acquire lease on %s/leased: conflict (HTTP 409 LeaseAlreadyPresent)", f->container);
    assert_string_equal(e.message, want);
    assert_int_equal(blob_lease_acquire(f->c, f->container, "leased", 15, GUID_A, id, &e), BLOB_OK);

    /* writes: no id -> 412 LeaseIdMissing; wrong id -> 412 LeaseIdMismatchWithBlobOperation */
    put_text(f, "leased", "x", NULL, BLOB_ERR_PRECONDITION, "LeaseIdMissing");
    blob_conditions wrong = {.lease_id = GUID_B}, right = {.lease_id = GUID_A};
    put_text(f, "leased", "x", &wrong, BLOB_ERR_PRECONDITION, "LeaseIdMismatchWithBlobOperation");
    put_text(f, "leased", "state-1", &right, BLOB_OK, NULL);
    blob_props p;
    assert_int_equal(blob_get_properties(f->c, f->container, "leased", NULL, &p, &e), BLOB_OK);
    assert_string_equal(p.lease_state, "leased");
    assert_string_equal(p.lease_status, "locked");
    assert_string_equal(p.lease_duration, "fixed");
    blob_meta m = {0};
    assert_int_equal(blob_meta_set(&m, "epoch", "1"), BLOB_OK);
    assert_int_equal(blob_set_metadata(f->c, f->container, "leased", &m, &wrong, &e),
                     BLOB_ERR_PRECONDITION);
    assert_int_equal(blob_set_metadata(f->c, f->container, "leased", &m, &right, &e), BLOB_OK);

    /* renew/change with a wrong id: 409 LeaseIdMismatchWithLeaseOperation */
    assert_int_equal(blob_lease_renew(f->c, f->container, "leased", GUID_A, &e), BLOB_OK);
    assert_int_equal(blob_lease_renew(f->c, f->container, "leased", GUID_B, &e), BLOB_ERR_CONFLICT);
    assert_string_equal(e.storage_code, "LeaseIdMismatchWithLeaseOperation");
    assert_int_equal(blob_lease_change(f->c, f->container, "leased", GUID_A, GUID_B, &e), BLOB_OK);
    assert_int_equal(blob_lease_renew(f->c, f->container, "leased", GUID_A, &e), BLOB_ERR_CONFLICT);
    assert_string_equal(e.storage_code, "LeaseIdMismatchWithLeaseOperation");
    assert_int_equal(blob_lease_renew(f->c, f->container, "leased", GUID_B, &e), BLOB_OK);

    /* break with a period: still breaking, holder's writes succeed, renew -> 409 */
    int remaining = -1;
    assert_int_equal(blob_lease_break(f->c, f->container, "leased", 30, &remaining, &e), BLOB_OK);
    assert_true(remaining > 0 && remaining <= 30);
    assert_int_equal(blob_get_properties(f->c, f->container, "leased", NULL, &p, &e), BLOB_OK);
    assert_string_equal(p.lease_state, "breaking");
    blob_conditions holder = {.lease_id = GUID_B};
    put_text(f, "leased", "during-break", &holder, BLOB_OK, NULL);
    assert_int_equal(blob_lease_renew(f->c, f->container, "leased", GUID_B, &e), BLOB_ERR_CONFLICT);
    assert_string_equal(e.storage_code, "LeaseIsBrokenAndCannotBeRenewed");

    /* break now: broken; a new holder can acquire; release frees it */
    assert_int_equal(blob_lease_break(f->c, f->container, "leased", 0, &remaining, &e), BLOB_OK);
    assert_int_equal(remaining, 0);
    assert_int_equal(blob_get_properties(f->c, f->container, "leased", NULL, &p, &e), BLOB_OK);
    assert_string_equal(p.lease_state, "broken");
    assert_int_equal(blob_lease_acquire(f->c, f->container, "leased", -1, GUID_A, id, &e), BLOB_OK);
    assert_int_equal(blob_get_properties(f->c, f->container, "leased", NULL, &p, &e), BLOB_OK);
    assert_string_equal(p.lease_duration, "infinite");
    assert_int_equal(blob_lease_release(f->c, f->container, "leased", GUID_B, &e),
                     BLOB_ERR_CONFLICT);
    assert_int_equal(blob_lease_release(f->c, f->container, "leased", GUID_A, &e), BLOB_OK);

    /* a lease id on an unleased blob: 412 LeaseNotPresentWithBlobOperation */
    put_text(f, "leased", "x", &right, BLOB_ERR_PRECONDITION, "LeaseNotPresentWithBlobOperation");
    /* lease operations on a missing blob */
    assert_int_equal(blob_lease_acquire(f->c, f->container, "missing", 15, NULL, id, &e),
                     BLOB_ERR_NOT_FOUND);
    assert_string_equal(e.storage_code, "BlobNotFound");
}

/* Block writes on a leased blob: both requests are fenced (design 7), an
 * id kept from the committed list is reused without being sent again, and
 * a replaced block falls out of the committed content. */
static void test_blocks_fenced_and_partial_commit(void **state) {
    fixture *f = *state;
    blob_error e;
    char id[64], b0[BLOB_BLOCK_ID_MAX], b1[BLOB_BLOCK_ID_MAX], b2[BLOB_BLOCK_ID_MAX];
    blob_block_id(0, b0);
    blob_block_id(1, b1);
    blob_block_id(2, b2);
    assert_int_equal(strlen(b0), 32);
    put_text(f, "paged", "", NULL, BLOB_OK, NULL);
    assert_int_equal(blob_lease_acquire(f->c, f->container, "paged", 15, GUID_A, id, &e), BLOB_OK);
    blob_conditions wrong = {.lease_id = GUID_B}, right = {.lease_id = GUID_A};

    /* Put Block: without the lease id 412 LeaseIdMissing, wrong id 412 */
    assert_int_equal(blob_put_block(f->c, f->container, "paged", b0, "head|", 5, NULL, &e),
                     BLOB_ERR_PRECONDITION);
    assert_string_equal(e.storage_code, "LeaseIdMissing");
    assert_int_equal(blob_put_block(f->c, f->container, "paged", b0, "head|", 5, &wrong, &e),
                     BLOB_ERR_PRECONDITION);
    assert_string_equal(e.storage_code, "LeaseIdMismatchWithBlobOperation");
    assert_int_equal(blob_put_block(f->c, f->container, "paged", b0, "head|", 5, &right, &e),
                     BLOB_OK);
    assert_int_equal(blob_put_block(f->c, f->container, "paged", b1, "page-1", 6, &right, &e),
                     BLOB_OK);

    /* Put Block List: the same fence */
    const char *ids[] = {b0, b1};
    blob_meta m = {0};
    assert_int_equal(blob_meta_set(&m, "nextexpiry", "none"), BLOB_OK);
    assert_int_equal(blob_put_block_list(f->c, f->container, "paged", ids, 2, "application/json",
                                         &m, NULL, NULL, &e),
                     BLOB_ERR_PRECONDITION);
    assert_string_equal(e.storage_code, "LeaseIdMissing");
    assert_int_equal(blob_put_block_list(f->c, f->container, "paged", ids, 2, "application/json",
                                         &m, &wrong, NULL, &e),
                     BLOB_ERR_PRECONDITION);
    assert_string_equal(e.storage_code, "LeaseIdMismatchWithBlobOperation");
    char etag[128];
    assert_int_equal(blob_put_block_list(f->c, f->container, "paged", ids, 2, "application/json",
                                         &m, &right, etag, &e),
                     BLOB_OK);
    assert_true(etag[0] != '\0');
    char *data;
    size_t len;
    blob_props p;
    assert_int_equal(blob_get(f->c, f->container, "paged", NULL, &data, &len, &p, &e), BLOB_OK);
    assert_string_equal(data, "head|page-1");
    assert_string_equal(blob_meta_get(&p.meta, "nextexpiry"), "none");
    free(data);

    /* Replace the head only, keep page-1 as committed, add page 2 */
    assert_int_equal(blob_put_block(f->c, f->container, "paged", b2, "HEAD2|", 6, &right, &e),
                     BLOB_OK);
    const char *ids2[] = {b2, b1};
    assert_int_equal(blob_put_block_list(f->c, f->container, "paged", ids2, 2, "application/json",
                                         &m, &right, NULL, &e),
                     BLOB_OK);
    assert_int_equal(blob_get(f->c, f->container, "paged", NULL, &data, &len, NULL, &e), BLOB_OK);
    assert_string_equal(data, "HEAD2|page-1");
    free(data);
    assert_int_equal(blob_lease_release(f->c, f->container, "paged", GUID_A, &e), BLOB_OK);
}

static void test_delete_respects_lease(void **state) {
    fixture *f = *state;
    blob_error e;
    char id[64];
    put_text(f, "del", "x", NULL, BLOB_OK, NULL);
    assert_int_equal(blob_lease_acquire(f->c, f->container, "del", 15, NULL, id, &e), BLOB_OK);
    assert_int_equal(strlen(id), 36);
    assert_int_equal(blob_delete(f->c, f->container, "del", NULL, &e), BLOB_ERR_PRECONDITION);
    assert_string_equal(e.storage_code, "LeaseIdMissing");
    blob_conditions held = {.lease_id = id};
    assert_int_equal(blob_delete(f->c, f->container, "del", &held, &e), BLOB_OK);
    assert_int_equal(blob_delete(f->c, f->container, "del", NULL, &e), BLOB_ERR_NOT_FOUND);
}

struct collected {
    int count;
    int stop_after;
    char names[16][128];
};

static int collect(const char *name, void *opaque) {
    struct collected *c = opaque;
    if (c->count < 16)
        snprintf(c->names[c->count], sizeof c->names[0], "%s", name);
    c->count++;
    return c->stop_after && c->count >= c->stop_after;
}

static void test_list_prefix_and_paging(void **state) {
    fixture *f = *state;
    blob_error e;
    static const char *const names[] = {"p/1", "p/2", "p/3 & <4>", "p/4", "p/\xc3\xa9t\xc3\xa9",
                                        "q/1", "pz"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        put_text(f, names[i], names[i], NULL, BLOB_OK, NULL);
    struct collected c = {0};
    assert_int_equal(blob_list(f->c, f->container, "p/", 2, collect, &c, &e), BLOB_OK);
    assert_int_equal(c.count, 5);
    assert_string_equal(c.names[0], "p/1");
    assert_string_equal(c.names[1], "p/2");
    assert_string_equal(c.names[2], "p/3 & <4>");
    assert_string_equal(c.names[3], "p/4");
    assert_string_equal(c.names[4], "p/\xc3\xa9t\xc3\xa9");

    struct collected early = {.stop_after = 3};
    assert_int_equal(blob_list(f->c, f->container, "p/", 2, collect, &early, &e), BLOB_OK);
    assert_int_equal(early.count, 3);

    struct collected all = {0};
    assert_int_equal(blob_list(f->c, f->container, NULL, 0, collect, &all, &e), BLOB_OK);
    assert_int_equal(all.count, 7);

    /* a name with reserved characters reads back by the same name */
    char *data;
    size_t len;
    assert_int_equal(blob_get(f->c, f->container, "p/3 & <4>", NULL, &data, &len, NULL, &e),
                     BLOB_OK);
    assert_string_equal(data, "p/3 & <4>");
    free(data);
}

static void test_retries_against_closed_port_end_transient(void **state) {
    (void)state;
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string =
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
        "K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1";
    o.retry_base_ms = 5;
    o.retry_max_ms = 20;
    blob_error e;
    blob_client *c = blob_client_new(&o, &e);
    assert_non_null(c);
    assert_int_equal(blob_put(c, "x", "y", "z", 1, NULL, NULL, NULL, NULL, &e), BLOB_ERR_TRANSIENT);
    assert_int_equal(e.code, BLOB_ERR_TRANSIENT);
    assert_int_equal(e.http_status, 0);
    assert_non_null(strstr(e.message, "put x/y: transient failure ("));
    assert_non_null(strstr(e.message, ", after 4 attempts"));
    assert_null(strstr(e.message, "Eby8vdM02"));
    blob_client_free(c);
}

static void test_large_blob_and_keep_alive(void **state) {
    fixture *f = *state;
    blob_error e;
    size_t big = 3u << 20; /* 3 MiB: no Expect: 100-continue round trip, one body */
    char *payload = malloc(big);
    assert_non_null(payload);
    for (size_t i = 0; i < big; i++)
        payload[i] = (char)('a' + i % 26);
    long before = blob_client_connections(f->c);
    assert_int_equal(
        blob_put(f->c, f->container, "big.bin", payload, big, NULL, NULL, NULL, NULL, &e), BLOB_OK);
    for (int i = 0; i < 20; i++) {
        char *data;
        size_t len;
        assert_int_equal(blob_get(f->c, f->container, "big.bin", NULL, &data, &len, NULL, &e),
                         BLOB_OK);
        assert_int_equal(len, big);
        assert_memory_equal(data, payload, big);
        free(data);
    }
    /* 21 sequential requests on an open keep-alive connection: none new */
    assert_int_equal(blob_client_connections(f->c), before);
    free(payload);
}

/* An account SAS (blob service, all resource types) signed here with
 * OpenSSL, independently of the client's SharedKey code. */
static void make_account_sas(const char *perms, const char *key_b64, char *out, size_t cap) {
    char sts[256];
    snprintf(sts, sizeof sts,
             "devstoreaccount1\n%s\nb\nsco\n\n2099-01-01T00:00:00Z\n\n\n"
             "2021-12-02\n\n",
             perms);
    /* EVP_DecodeBlock writes 3 bytes per 4 characters, padding included:
     * 66 for the 88-character development key (64 of them the key). */
    unsigned char key[96], mac[32];
    size_t b64len = strlen(key_b64);
    int klen = EVP_DecodeBlock(key, (const unsigned char *)key_b64, (int)b64len);
    klen -= (key_b64[b64len - 1] == '=') + (key_b64[b64len - 2] == '='); /* padding */
    unsigned int mlen = 0;
    HMAC(EVP_sha256(), key, klen, (const unsigned char *)sts, strlen(sts), mac, &mlen);
    char sig[64];
    EVP_EncodeBlock((unsigned char *)sig, mac, (int)mlen);
    char *esc = curl_easy_escape(NULL, sig, 0);
    snprintf(out, cap, "sv=2021-12-02&ss=b&srt=sco&sp=%s&se=2099-01-01T00:00:00Z&sig=%s", perms,
             esc);
    curl_free(esc);
}

static void test_sas_token_auth(void **state) {
    fixture *f = *state;
    char sas[256], cs[512];
    make_account_sas("rwdlac", STORAGE_DEV_KEY, sas, sizeof sas);
    snprintf(cs, sizeof cs, "BlobEndpoint=%s;SharedAccessSignature=%s", STORAGE_DEV_ENDPOINT, sas);
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = cs;
    blob_error e;
    blob_client *c = blob_client_new(&o, &e);
    assert_non_null(c);
    assert_int_equal(blob_put(c, f->container, "sas/one", "1", 1, NULL, NULL, NULL, NULL, &e),
                     BLOB_OK);
    char *data;
    size_t len;
    assert_int_equal(blob_get(c, f->container, "sas/one", NULL, &data, &len, NULL, &e), BLOB_OK);
    assert_string_equal(data, "1");
    free(data);
    char id[64];
    assert_int_equal(blob_lease_acquire(c, f->container, "sas/one", 15, NULL, id, &e), BLOB_OK);
    assert_int_equal(blob_lease_release(c, f->container, "sas/one", id, &e), BLOB_OK);
    blob_client_free(c);

    /* the same SAS signed with another key: 403, and the signature is not echoed */
    make_account_sas("rwdlac", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", sas, sizeof sas);
    o.connection_string = "BlobEndpoint=" STORAGE_DEV_ENDPOINT;
    o.sas_token = sas;
    c = blob_client_new(&o, &e);
    assert_non_null(c);
    assert_int_equal(blob_put(c, f->container, "sas/two", "2", 1, NULL, NULL, NULL, NULL, &e),
                     BLOB_ERR_AUTH);
    assert_int_equal(e.http_status, 403);
    assert_null(strstr(e.message, strstr(sas, "sig=") + 4));
    blob_client_free(c);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_container_create_and_delete_idempotent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_put_get_round_trip_with_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_conditions_if_match_and_if_none_match, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_blob_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_facts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_respects_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocks_fenced_and_partial_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_prefix_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_blob_and_keep_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sas_token_auth, setup, teardown),
        cmocka_unit_test(test_retries_against_closed_port_end_transient),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
