/* admin_client.c -- one HTTP request to a worker's admin API with libcurl
 * (see admin_client.h). The body is collected in memory (the answers are
 * small) and printed as it came, so scripts can parse the worker's JSON. */
#include "admin_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rest.h"

#define ADMIN_CLIENT_TIMEOUT_S 30
#define ADMIN_CLIENT_MAX_BODY (1 << 20)

typedef struct admin_client_body {
    char *data;
    size_t len;
} admin_client_body;

static size_t admin_client_collect(char *ptr, size_t size, size_t n, void *opaque) {
    admin_client_body *b = opaque;
    size_t add = size * n;
    if (b->len + add > ADMIN_CLIENT_MAX_BODY)
        return 0; /* aborts the transfer */
    char *grown = realloc(b->data, b->len + add + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + b->len, ptr, add);
    b->len += add;
    grown[b->len] = '\0';
    b->data = grown;
    return add;
}

int admin_client_url(args_command command, const char *worker, const char *product, char *url,
                     size_t cap) {
    int n;
    if (command == ARGS_BLOCKED)
        n = snprintf(url, cap, "http://%s/api/blocked", worker);
    else
        n = snprintf(url, cap, "http://%s/api/blocked/%s/%s", worker, product,
                     command == ARGS_BLOCKED_RETRY ? "retry" : "dead-letter");
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int admin_client_run(args_command command, const char *worker, const char *product) {
    char url[512];
    if (admin_client_url(command, worker, product, url, sizeof(url)) != 0) {
        fprintf(stderr, "inventory-producer: --worker or PRODUCT too long\n");
        return REST_EXIT_ERROR;
    }
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        fprintf(stderr, "inventory-producer: out of memory\n");
        return REST_EXIT_ERROR;
    }
    admin_client_body body = {NULL, 0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)ADMIN_CLIENT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, admin_client_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    if (command != ARGS_BLOCKED) { /* a POST without a body */
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    }
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    int exit_code = REST_EXIT_ERROR;
    if (rc != CURLE_OK)
        fprintf(stderr, "inventory-producer: %s: %s\n", url, curl_easy_strerror(rc));
    else if (status == 200 || status == 202)
        exit_code = REST_EXIT_OK;
    else if (status == 404 && command != ARGS_BLOCKED)
        exit_code = REST_EXIT_REJECTED;
    if (rc == CURLE_OK && exit_code == REST_EXIT_OK)
        printf("%s\n", body.data ? body.data : "");
    else if (rc == CURLE_OK)
        fprintf(stderr, "inventory-producer: %s answered %ld: %s\n", url, status,
                body.data ? body.data : "");
    free(body.data);
    return exit_code;
}
