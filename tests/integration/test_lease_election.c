/* test_lease_election.c -- leader election across three real processes.
 *
 * Spawns three `leasectl campaign` processes (path from LEASEHOLD_BIN) on
 * one lock in a fresh container, all appending "<monotonic ms> <id>
 * elected|demoted" lines to one record file. Then:
 *   1. exactly one becomes leader;
 *   2. SIGKILL the leader -> another is elected within one lease duration
 *      plus one renew interval (awaited with that deadline plus slack for the
 *      requests themselves);
 *   3. SIGSTOP the new leader until a third process is elected, SIGCONT ->
 *      it reports its demotion, its fenced write is refused locally and its
 *      stale lease id is rejected by the service (HTTP 412);
 *   4. SIGTERM everyone; from the record, no two terms overlap.
 * The killed leader cannot write its own "demoted" line, so the test writes
 * it with the time of the kill (it cannot act after dying).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "lease_test_util.h"

extern char **environ;

#define CANDIDATES 3
#define DURATION_S 15
/* Renew interval for a 15 s lease with default options (see lease_timing). */
#define INTERVAL_MS 7000
/* Room for the requests themselves and process start-up. */
#define SLACK_MS 8000

typedef struct cand {
    char id[16];
    char log[512];
    pid_t pid;
    int alive;
} cand;

typedef struct term_event {
    int64_t ms;
    char id[16];
    int elected; /* 1 elected, 0 demoted */
} term_event;

static char dir[256];
static char record[512];

static void spawn(cand *c, const char *container)
{
    const char *bin_dir = getenv("LEASEHOLD_BIN");
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/leasectl", bin_dir ? bin_dir : "build/bin");
    char duration[8];
    snprintf(duration, sizeof(duration), "%d", DURATION_S);
    char *argv[] = {bin,      "--container", (char *)container, "campaign", "boss",
                    "--id",   c->id,         "--duration",      duration,   "--record",
                    record,   "--write-on-elect", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, c->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&c->pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("spawn %s: %s", bin, strerror(rc));
    c->alive = 1;
}

/* Reads the record file; returns the number of events (at most cap). */
static int read_record(term_event *ev, int cap)
{
    FILE *f = fopen(record, "r");
    if (!f)
        return 0;
    int n = 0;
    char what[16];
    long long ms;
    char id[16];
    while (n < cap && fscanf(f, "%lld %15s %15s", &ms, id, what) == 3) {
        ev[n].ms = ms;
        snprintf(ev[n].id, sizeof(ev[n].id), "%s", id);
        ev[n].elected = !strcmp(what, "elected");
        n++;
    }
    fclose(f);
    return n;
}

static int count_elected(const term_event *ev, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += ev[i].elected;
    return k;
}

/* Polls the record until it holds `want` elected lines or `ms` pass;
 * returns the id of the last one elected, "" on timeout. */
static const char *await_elected(int want, int64_t ms)
{
    static term_event ev[256];
    int64_t until = lt_now_ms() + ms;
    for (;;) {
        int n = read_record(ev, 256);
        if (count_elected(ev, n) >= want) {
            for (int i = n - 1; i >= 0; i--)
                if (ev[i].elected)
                    return ev[i].id;
        }
        if (lt_now_ms() >= until)
            return "";
        lt_sleep_ms(100);
    }
}

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static int await_file_has(const char *path, const char *needle, int64_t ms)
{
    int64_t until = lt_now_ms() + ms;
    while (!file_has(path, needle)) {
        if (lt_now_ms() >= until)
            return 0;
        lt_sleep_ms(100);
    }
    return 1;
}

static cand *by_id(cand *c, const char *id)
{
    for (int i = 0; i < CANDIDATES; i++)
        if (!strcmp(c[i].id, id))
            return &c[i];
    fail_msg("unknown candidate '%s'", id);
    return NULL;
}

static void dump_logs(const cand *c)
{
    for (int i = 0; i < CANDIDATES; i++) {
        fprintf(stderr, "---- %s (%s)\n", c[i].id, c[i].log);
        FILE *f = fopen(c[i].log, "r");
        char line[1024];
        while (f && fgets(line, sizeof(line), f))
            fputs(line, stderr);
        if (f)
            fclose(f);
    }
}

/* Terms from the record: every elected line must come after the previous
 * term's demoted line, and each term must be closed by its own holder. */
static void assert_no_overlap(void)
{
    static term_event ev[256];
    int n = read_record(ev, 256);
    /* Sort by time (insertion sort: a handful of lines). */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && ev[j].ms < ev[j - 1].ms; j--) {
            term_event t = ev[j];
            ev[j] = ev[j - 1];
            ev[j - 1] = t;
        }
    const char *leader = NULL;
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "# record: %" PRId64 " %s %s\n", ev[i].ms, ev[i].id,
                ev[i].elected ? "elected" : "demoted");
        if (ev[i].elected) {
            if (leader)
                fail_msg("%s elected at %" PRId64 " while %s still led", ev[i].id, ev[i].ms,
                         leader);
            leader = ev[i].id;
        } else {
            if (!leader || strcmp(leader, ev[i].id))
                fail_msg("%s demoted at %" PRId64 " without leading", ev[i].id, ev[i].ms);
            leader = NULL;
        }
    }
}

static void test_lease_election_kill_and_pause_leaders(void **state)
{
    (void)state;
    lt_env env;
    lt_env_init(&env, "elect");
    snprintf(dir, sizeof(dir), "/tmp/lease-election-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(record, sizeof(record), "%s/record", dir);
    cand c[CANDIDATES];
    for (int i = 0; i < CANDIDATES; i++) {
        snprintf(c[i].id, sizeof(c[i].id), "cand-%d", i + 1);
        snprintf(c[i].log, sizeof(c[i].log), "%.300s/cand-%d.log", dir, i + 1);
        spawn(&c[i], env.container);
    }

    /* 1. Exactly one leader, and the lock's metadata names it. */
    const char *first = await_elected(1, 15000);
    if (!*first)
        dump_logs(c);
    assert_string_not_equal(first, "");
    lease_manager *probe = lt_manager(&env, DURATION_S, "probe");
    char who[64];
    assert_int_equal(lease_leader(probe, "boss", who, sizeof(who), NULL), LEASE_OK);
    assert_string_equal(who, first);
    cand *l1 = by_id(c, first);
    assert_true(await_file_has(l1->log, "fenced write as leader: ok", 10000));

    /* 2. SIGKILL the leader: another takes over within duration + interval. */
    kill(l1->pid, SIGKILL);
    int64_t killed = lt_now_ms();
    waitpid(l1->pid, NULL, 0);
    l1->alive = 0;
    FILE *f = fopen(record, "a");
    assert_non_null(f);
    fprintf(f, "%" PRId64 " %s demoted\n", killed, l1->id);
    fclose(f);
    const char *second = await_elected(2, DURATION_S * 1000 + INTERVAL_MS + SLACK_MS);
    if (!*second)
        dump_logs(c);
    assert_string_not_equal(second, "");
    assert_string_not_equal(second, first);
    fprintf(stderr, "# new leader %s %" PRId64 " ms after the kill\n", second,
            lt_now_ms() - killed);
    cand *l2 = by_id(c, second);

    /* 3. SIGSTOP the leader past its expiry: the third takes over. */
    assert_true(await_file_has(l2->log, "fenced write as leader: ok", 10000));
    kill(l2->pid, SIGSTOP);
    const char *third = await_elected(3, DURATION_S * 1000 + INTERVAL_MS + SLACK_MS);
    if (!*third)
        dump_logs(c);
    assert_string_not_equal(third, "");
    assert_string_not_equal(third, second);
    assert_string_not_equal(third, first);
    kill(l2->pid, SIGCONT);
    int demoted = await_file_has(l2->log, "demoted:", 15000) &&
                  await_file_has(l2->log, "stale write with lease", 15000);
    if (!demoted)
        dump_logs(c);
    assert_true(demoted);
    assert_true(file_has(l2->log, "fenced write after demotion: refused locally"));
    assert_true(file_has(l2->log, "rejected by the service (HTTP 412"));
    assert_false(file_has(l2->log, "ACCEPTED"));
    assert_int_equal(lease_leader(probe, "boss", who, sizeof(who), NULL), LEASE_OK);
    assert_string_equal(who, third);

    /* 4. Stop everyone cleanly; terms never overlapped. */
    for (int i = 0; i < CANDIDATES; i++) {
        if (!c[i].alive)
            continue;
        kill(c[i].pid, SIGTERM);
        int status = 0;
        waitpid(c[i].pid, &status, 0);
        c[i].alive = 0;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_no_overlap();
    assert_int_equal(lease_leader(probe, "boss", who, sizeof(who), NULL), LEASE_ERR_NOT_FOUND);
    lease_manager_free(probe);
    for (int i = 0; i < CANDIDATES; i++)
        unlink(c[i].log);
    unlink(record);
    rmdir(dir);
    lt_env_cleanup(&env);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lease_election_kill_and_pause_leaders),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
