/* test_lease_faults.c -- renewal under injected transient failures, against
 * a real Azurite: the blob client's fault hook makes the next N requests
 * fail as connection errors before anything is sent.
 *   - two failures, then success: renew_failed fires for attempts 1 and 2
 *     with will_retry set, the lease is renewed and stays held;
 *   - an outage that outlasts the lease: retries continue with backoff
 *     until the safe deadline, the last failure says will_retry = 0, the
 *     lease is lost with reason "deadline" and writes are refused locally.
 * Both leases run at the same time, each on its own client.
 *   - a service that hangs (a private Azurite, SIGSTOPped after the acquire)
 *     although the client would wait 2 minutes for an answer: the renewal
 *     request is cut off at the safe deadline and `lost` (deadline) fires
 *     before the lease could expire on the server.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "lease/src/blob_internal.h"
#include "lease_test_util.h"

static void test_lease_renew_retries_transient_failures(void **state)
{
    (void)state;
    lt_env ok_env, down_env;
    lt_env_init(&ok_env, "flaky");
    lt_env_init(&down_env, "down");
    lease_manager *ok_mgr = lt_manager(&ok_env, 15, "flaky-owner");
    lease_manager *down_mgr = lt_manager(&down_env, 15, "down-owner");
    lt_recorder ok_t, down_t;
    lt_recorder_init(&ok_t);
    lt_recorder_init(&down_t);
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.callbacks = lt_recorder_callbacks(&ok_t);
    lease *ok = NULL, *down = NULL;
    lease_error err;
    assert_int_equal(lease_try_acquire(ok_mgr, "flaky", &ao, &ok, &err), LEASE_OK);
    ao.callbacks = lt_recorder_callbacks(&down_t);
    assert_int_equal(lease_try_acquire(down_mgr, "down", &ao, &down, &err), LEASE_OK);

    /* Nothing else uses these clients now: the faults hit the renewals. */
    blob_client_inject_fault(ok_env.client, BLOB_FAULT_CONNECT, 2);
    blob_client_inject_fault(down_env.client, BLOB_FAULT_CONNECT, 1000000);

    /* Deadlines: one lease duration plus request slack. */
    lt_await_renewed_or_lost(&ok_t, 25000);
    lt_await_renewed_or_lost(&down_t, 25000);

    assert_int_equal(ok_t.lost, 0);
    assert_int_equal(ok_t.renewed >= 1, 1);
    assert_int_equal(ok_t.failed, 2);
    assert_int_equal(ok_t.attempt[0], 1);
    assert_int_equal(ok_t.attempt[1], 2);
    assert_int_equal(ok_t.will_retry[0], 1);
    assert_int_equal(ok_t.will_retry[1], 1);
    assert_true(lease_is_held(ok));
    assert_int_equal(lease_renewal_count(ok), (uint64_t)ok_t.renewed);

    assert_int_equal(down_t.lost, 1);
    assert_int_equal(down_t.reason, LEASE_LOST_DEADLINE);
    assert_int_equal(down_t.renewed, 0);
    assert_true(down_t.failed >= 2 && down_t.failed <= LT_MAX_FAILS);
    for (int i = 0; i < down_t.failed; i++) {
        assert_int_equal(down_t.attempt[i], i + 1);
        assert_int_equal(down_t.will_retry[i], i < down_t.failed - 1);
    }
    printf("# outage: %d attempts before the deadline\n", down_t.failed);
    assert_false(lease_is_held(down));
    assert_int_equal(lease_write(down, "x", 1, NULL, NULL, &err), LEASE_ERR_LOST);
    assert_int_equal(err.storage.code, BLOB_OK);

    blob_client_inject_fault(down_env.client, BLOB_FAULT_NONE, 0);
    lease_free(ok);
    lease_free(down);
    lease_manager_free(ok_mgr);
    lease_manager_free(down_mgr);
    lt_recorder_destroy(&ok_t);
    lt_recorder_destroy(&down_t);
    lt_env_cleanup(&ok_env);
    lt_env_cleanup(&down_env);
}

static void test_lease_acquire_retries_transient_failures(void **state)
{
    (void)state;
    lt_env env;
    lt_env_init(&env, "acq");
    lease_manager *m = lt_manager(&env, 15, "acq-owner");
    lease *l = NULL;
    lease_error err;
    /* Create the lock blob first so the faults hit the lease requests. */
    assert_int_equal(lease_try_acquire(m, "retry", NULL, &l, &err), LEASE_OK);
    lease_free(l);
    blob_client_inject_fault(env.client, BLOB_FAULT_CONNECT, 2);
    assert_int_equal(lease_try_acquire(m, "retry", NULL, &l, &err), LEASE_ERR_STORAGE);
    assert_int_equal(err.storage.code, BLOB_ERR_TRANSIENT);
    assert_null(l);
    /* One fault left: lease_acquire backs off and tries again. */
    assert_int_equal(lease_acquire(m, "retry", NULL, 10000, &l, &err), LEASE_OK);
    assert_int_equal(lease_epoch(l), 2);
    lease_free(l);
    lease_manager_free(m);
    lt_env_cleanup(&env);
}

/* ---- a hanging service --------------------------------------------------- */

typedef struct stall_env {
    char root[400];     /* the source tree */
    char services[512]; /* deploy/local/services */
    char session[64];
    int port;
    pid_t azurite;
} stall_env;

static int stall_services(stall_env *e, const char *action)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "LEASEHOLD_AZURITE_PORT=%d %s %s --session %s >/dev/null", e->port,
             e->services, action, e->session);
    return system(cmd);
}

/* A private Azurite on a free port (deploy/local/services, own session). */
static int stall_setup(void **state)
{
    static stall_env e;
    const char *src = getenv("LEASEHOLD_SOURCE_DIR");
    snprintf(e.root, sizeof(e.root), "%s", src ? src : ".");
    snprintf(e.services, sizeof(e.services), "%s/deploy/local/services", e.root);
    snprintf(e.session, sizeof(e.session), "lease-stall-%ld", (long)getpid());
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    e.port = ntohs(a.sin_port);
    close(fd);
    if (stall_services(&e, "up") != 0)
        return -1;
    char path[700];
    snprintf(path, sizeof(path), "%s/.services/sessions/%s/azurite-%d.pid", e.root, e.session,
             e.port);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (!f || fscanf(f, "%ld", &pid) != 1 || pid <= 0) {
        if (f)
            fclose(f);
        stall_services(&e, "down");
        return -1;
    }
    fclose(f);
    e.azurite = (pid_t)pid;
    *state = &e;
    return 0;
}

/* Runs even when an assertion failed: the emulator must not stay stopped. */
static int stall_teardown(void **state)
{
    stall_env *e = *state;
    kill(e->azurite, SIGCONT);
    return stall_services(e, "down") == 0 ? 0 : -1;
}

static void test_lease_lost_by_the_deadline_when_the_service_hangs(void **state)
{
    stall_env *e = *state;
    char conn[512];
    snprintf(conn, sizeof(conn),
             "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
             "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
             "K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:%d/devstoreaccount1;",
             e->port);
    blob_client_options o;
    blob_client_options_init(&o);
    o.connection_string = conn;
    o.request_timeout_ms = 120000; /* far beyond the lease: only the deadline can end it */
    blob_error be;
    lt_env env = {blob_client_new(&o, &be), "lt-stall"};
    assert_non_null(env.client);
    lease_manager *m = lt_manager(&env, 15, "stall-owner");
    lt_recorder rec;
    int64_t before_acquire = lt_now_ms();
    lease *l = lt_acquire_recorded(m, "stall", &rec);
    assert_int_equal(kill(e->azurite, SIGSTOP), 0);

    assert_int_equal(lt_await_lost(&rec, 30000), 1);
    int64_t lost_at = lt_now_ms();
    assert_int_equal(kill(e->azurite, SIGCONT), 0);
    assert_int_equal(rec.reason, LEASE_LOST_DEADLINE);
    assert_int_equal(rec.renewed, 0);
    /* The guarantee itself: the holder knows before the server lets go. */
    assert_true(lost_at - before_acquire < 15000);
    assert_false(lease_is_held(l));
    lease_free(l);
    lease_manager_free(m);
    lt_recorder_destroy(&rec);
    lt_env_cleanup(&env);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_renew_retries_transient_failures),
        cmocka_unit_test(test_lease_acquire_retries_transient_failures),
        cmocka_unit_test_setup_teardown(test_lease_lost_by_the_deadline_when_the_service_hangs,
                                        stall_setup, stall_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
