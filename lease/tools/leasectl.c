/* leasectl.c -- operator tool for Leasehold leases and leader election.
 *
 *   leasectl [--container C] acquire NAME [--duration S] [--hold]
 *   leasectl renew NAME --lease-id ID | release NAME --lease-id ID
 *   leasectl break NAME | status NAME | leader NAME
 *   leasectl campaign NAME --id ID [--duration S] [--record FILE] [--write-on-elect]
 *
 * Exit codes: 0 success, 2 held by another (or the id does not hold it),
 * 3 nobody leads (leader), 1 error. The storage connection comes from
 * LEASEHOLD_STORAGE_CONNECTION_STRING (default UseDevelopmentStorage=true);
 * nothing secret is ever printed.
 *
 * acquire --hold and campaign keep running, renewing through the lease
 * manager's scheduler, until SIGINT or SIGTERM; then they release. The main
 * thread blocks those signals and waits for them with sigtimedwait, waking
 * every 100 ms to act on what the callbacks flagged (fenced writes are done
 * here, not in the callbacks, which must stay short).
 *
 * campaign --record FILE appends "<CLOCK_MONOTONIC ms> <id> elected|demoted"
 * lines; the demoted time is when the term really ended (at the latest the
 * safe deadline, even if the process was paused past it), so tests can check
 * that no two terms overlap. --write-on-elect makes a fenced write as leader,
 * and after a demotion tries the write again (refused locally) and then
 * sends the stale lease id straight to the service to show it answers 412.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "leasehold/blob.h"
#include "leasehold/lease.h"

enum { EXIT_HELD = 2, EXIT_NO_LEADER = 3 };

typedef struct ctl {
    const char *command;
    const char *name;
    const char *container;
    const char *lease_id;
    const char *id;
    const char *record;
    int duration_s;
    int hold;
    int write_on_elect;
    int verbose;
    blob_client *client;
    lease_manager *mgr;
    /* Set by callbacks, acted on by the main loop. */
    atomic_int lost;
    atomic_int elected;
    atomic_int demoted;
    lease_election *election;
} ctl;

static int64_t ctl_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ctl_log(int level, const char *line, void *opaque)
{
    const ctl *c = opaque;
    if (level <= LOG_WARNING || c->verbose)
        fprintf(stderr, "%s\n", line);
}

static void ctl_on_event(const lease_event *ev, void *opaque)
{
    const ctl *c = opaque;
    if (ev->kind == LEASE_EV_RENEWED) {
        int d = c->duration_s ? c->duration_s : 30;
        printf("renewed lease on %s, new expiry in %.1fs\n", ev->name,
               d - ev->latency_ms / 1000.0);
    }
}

/* One line per event, appended with a single write so processes sharing
 * the file never interleave. */
static void ctl_record(const ctl *c, int64_t ms, const char *what)
{
    if (!c->record)
        return;
    char line[300];
    int n = snprintf(line, sizeof(line), "%" PRId64 " %s %s\n", ms, c->id, what);
    int fd = open(c->record, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) {
        fprintf(stderr, "record %s: %s\n", c->record, strerror(errno));
        return;
    }
    if (write(fd, line, (size_t)n) != n)
        fprintf(stderr, "record %s: short write\n", c->record);
    close(fd);
}

static void ctl_usage(FILE *out)
{
    fputs("usage: leasectl [--container C] COMMAND NAME [options]\n"
          "  acquire NAME [--duration S] [--hold]   take the lease (hold: renew until SIGINT)\n"
          "  renew NAME --lease-id ID               renew a lease by id\n"
          "  release NAME --lease-id ID             release a lease by id\n"
          "  break NAME                             break whatever lease is on NAME\n"
          "  status NAME                            held?, by whom, epoch, duration, expiry\n"
          "  leader NAME                            identity of the current leader\n"
          "  campaign NAME --id ID [--duration S] [--record FILE] [--write-on-elect]\n"
          "exit: 0 ok, 2 held by another, 3 nobody leads, 1 error\n"
          "env: LEASEHOLD_STORAGE_CONNECTION_STRING (default UseDevelopmentStorage=true)\n",
          out);
}

/* Waits for SIGINT/SIGTERM for up to 100 ms: 1 when one arrived. */
static int ctl_signalled(const sigset_t *set)
{
    struct timespec ts = {0, 100 * 1000000L};
    return sigtimedwait(set, NULL, &ts) > 0;
}

/* ---- acquire -------------------------------------------------------------- */

/* The library logs the loss ("lost lease ID on NAME: reason"); the main
 * loop only needs to know. */
static void ctl_on_lost(lease *l, lease_loss_reason reason, int64_t last_renewal_ms, void *opaque)
{
    ctl *c = opaque;
    (void)l;
    (void)reason;
    (void)last_renewal_ms;
    atomic_store(&c->lost, 1);
}

static int ctl_acquire(ctl *c, const sigset_t *set)
{
    lease_acquire_options ao;
    memset(&ao, 0, sizeof(ao));
    ao.duration_s = c->duration_s;
    if (c->hold) {
        ao.callbacks.lost = ctl_on_lost;
        ao.callbacks.opaque = c;
    }
    lease *l = NULL;
    lease_error err;
    lease_code rc = lease_try_acquire(c->mgr, c->name, &ao, &l, &err);
    if (rc == LEASE_HELD_ELSEWHERE) {
        lease_status st;
        if (lease_get_status(c->mgr, c->name, NULL, &st, NULL) == LEASE_OK && st.owner[0])
            printf("lease on %s is held by another (owner %s)\n", c->name, st.owner);
        else
            printf("lease on %s is held by another\n", c->name);
        return EXIT_HELD;
    }
    if (rc != LEASE_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("acquired lease %s on %s (epoch %" PRIu64 ")\n", lease_id(l), c->name, lease_epoch(l));
    if (!c->hold) {
        lease_abandon(l); /* stays on the server for renew/release by id */
        return 0;
    }
    while (!atomic_load(&c->lost) && !ctl_signalled(set))
        ;
    if (atomic_load(&c->lost)) {
        lease_free(l);
        return 1;
    }
    rc = lease_release(l, &err);
    if (rc != LEASE_OK)
        fprintf(stderr, "%s\n", err.message);
    else
        printf("released lease %s on %s\n", lease_id(l), c->name);
    lease_free(l);
    return rc == LEASE_OK ? 0 : 1;
}

/* ---- renew / release / break / status / leader ----------------------------- */

static int ctl_by_id(ctl *c)
{
    if (!c->lease_id) {
        fprintf(stderr, "%s %s: --lease-id is required\n", c->command, c->name);
        return 1;
    }
    char blob[1100];
    snprintf(blob, sizeof(blob), "lease-%s", c->name);
    blob_error be;
    int renew = !strcmp(c->command, "renew");
    blob_code rc = renew ? blob_lease_renew(c->client, c->container, blob, c->lease_id, &be)
                         : blob_lease_release(c->client, c->container, blob, c->lease_id, &be);
    if (rc == BLOB_OK) {
        printf("%s lease %s on %s\n", renew ? "renewed" : "released", c->lease_id, c->name);
        return 0;
    }
    fprintf(stderr, "%s\n", be.message);
    return rc == BLOB_ERR_CONFLICT || rc == BLOB_ERR_PRECONDITION ? EXIT_HELD : 1;
}

static int ctl_break(ctl *c)
{
    lease_error err;
    if (lease_break(c->mgr, c->name, NULL, -1, &err) != LEASE_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("broke lease on %s\n", c->name);
    return 0;
}

/* Azure publishes no expiry time, only the state: a live holder renews
 * before the duration passes, so the one firm statement is when the lease
 * frees up at the latest if its holder stops renewing now. */
static void ctl_print_expiry(const lease_status *st)
{
    if (strcmp(st->state, "leased") != 0) {
        printf("expiry: %s\n", !strcmp(st->state, "breaking")
                                   ? "breaking, free when its break period ends"
                                   : "- (not leased)");
        return;
    }
    if (st->duration_s == -1) {
        printf("expiry: never (infinite lease: free only by release or break)\n");
        return;
    }
    if (st->duration_s == 0) {
        printf("expiry: unknown (not acquired through Leasehold; at most 60s after its last "
               "renewal)\n");
        return;
    }
    time_t latest = time(NULL) + st->duration_s;
    struct tm tm;
    char when[32];
    gmtime_r(&latest, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("expiry: free by %s at the latest if its holder stops renewing now "
           "(a live holder renews it within every %ds)\n",
           when, st->duration_s);
}

static int ctl_status(ctl *c)
{
    lease_status st;
    lease_error err;
    if (lease_get_status(c->mgr, c->name, NULL, &st, &err) != LEASE_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("name: %s\nheld: %s\nstate: %s\nowner: %s\nepoch: %" PRIu64 "\n", c->name,
           st.leased ? "yes" : "no", st.state, st.owner[0] ? st.owner : "-", st.epoch);
    if (st.duration_s > 0)
        printf("duration: %ds\n", st.duration_s);
    else
        printf("duration: %s\n", st.duration_s == -1 ? "infinite" : "unknown");
    ctl_print_expiry(&st);
    return 0;
}

static int ctl_leader(ctl *c)
{
    char who[256];
    lease_error err;
    lease_code rc = lease_leader(c->mgr, c->name, who, sizeof(who), &err);
    if (rc == LEASE_ERR_NOT_FOUND) {
        printf("nobody leads %s\n", c->name);
        return EXIT_NO_LEADER;
    }
    if (rc != LEASE_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("%s\n", who);
    return 0;
}

/* ---- campaign -------------------------------------------------------------- */

static void ctl_on_elected(lease_election *e, uint64_t epoch, void *opaque)
{
    ctl *c = opaque;
    ctl_record(c, ctl_monotonic_ms(), "elected");
    char id[64];
    lease_election_lease_id(e, id, sizeof(id));
    printf("elected leader of %s as %s (epoch %" PRIu64 ", lease %s)\n", c->name, c->id, epoch, id);
    atomic_store(&c->elected, 1);
}

static void ctl_on_demoted(lease_election *e, const char *reason, void *opaque)
{
    ctl *c = opaque;
    ctl_record(c, lease_election_led_until_ms(e), "demoted");
    printf("demoted: %s\n", reason);
    atomic_store(&c->demoted, 1);
}

/* A fenced write as leader, through the library (refused locally when the
 * term is over). */
static void ctl_leader_write(ctl *c, const char *when)
{
    char body[300];
    int n = snprintf(body, sizeof(body), "leader %s epoch %" PRIu64 "\n", c->id,
                     lease_election_epoch(c->election));
    lease_error err;
    lease_code rc = lease_election_write(c->election, body, (size_t)n, "text/plain", NULL, &err);
    if (rc == LEASE_OK)
        printf("fenced write %s: ok\n", when);
    else
        printf("fenced write %s: refused%s: %s\n", when, rc == LEASE_ERR_LOST ? " locally" : "",
               err.message);
}

/* Fault demonstration: bypass the library's local check and send the last
 * term's lease id straight to the service, which must refuse it (412). This
 * is the only write in the code base that does not go through a lease
 * handle, on purpose. */
static void ctl_stale_write(ctl *c)
{
    char id[64], blob[1100];
    lease_election_lease_id(c->election, id, sizeof(id));
    snprintf(blob, sizeof(blob), "lease-%s", c->name);
    blob_conditions cond = {id, NULL, NULL};
    blob_error be;
    blob_code rc = blob_put(c->client, c->container, blob, "stale\n", 6, "text/plain", NULL, &cond,
                            NULL, &be);
    if (rc == BLOB_OK)
        printf("stale write with lease %s: ACCEPTED by the service\n", id);
    else
        printf("stale write with lease %s: rejected by the service (HTTP %ld %s)\n", id,
               be.http_status, be.storage_code);
}

static int ctl_campaign(ctl *c, const sigset_t *set)
{
    if (!c->id) {
        fprintf(stderr, "campaign %s: --id is required\n", c->name);
        return 1;
    }
    lease_election_callbacks cb = {ctl_on_elected, ctl_on_demoted, c};
    lease_error err;
    c->election = lease_election_start(c->mgr, c->name, c->id, &cb, &err);
    if (!c->election) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("campaigning for %s as %s\n", c->name, c->id);
    while (!ctl_signalled(set)) {
        if (atomic_exchange(&c->elected, 0) && c->write_on_elect)
            ctl_leader_write(c, "as leader");
        if (atomic_exchange(&c->demoted, 0) && c->write_on_elect) {
            ctl_leader_write(c, "after demotion");
            ctl_stale_write(c);
        }
    }
    lease_code rc = lease_election_resign(c->election, &err);
    if (rc != LEASE_OK)
        fprintf(stderr, "%s\n", err.message);
    lease_election_free(c->election);
    printf("stopped campaigning for %s\n", c->name);
    return rc == LEASE_OK ? 0 : 1;
}

/* ---- main ------------------------------------------------------------------ */

static int ctl_parse(ctl *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"container", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"hold", no_argument, NULL, 'H'},
        {"lease-id", required_argument, NULL, 'l'},
        {"id", required_argument, NULL, 'i'},
        {"record", required_argument, NULL, 'r'},
        {"write-on-elect", no_argument, NULL, 'w'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "c:d:Hl:i:r:wvh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            c->container = optarg;
            break;
        case 'd':
            c->duration_s = (int)strtol(optarg, &end, 10);
            if (*end || !*optarg) {
                fprintf(stderr, "--duration: must be a number of seconds, got '%s'\n", optarg);
                return -1;
            }
            break;
        case 'H':
            c->hold = 1;
            break;
        case 'l':
            c->lease_id = optarg;
            break;
        case 'i':
            c->id = optarg;
            break;
        case 'r':
            c->record = optarg;
            break;
        case 'w':
            c->write_on_elect = 1;
            break;
        case 'v':
            c->verbose = 1;
            break;
        case 'h':
            ctl_usage(stdout);
            exit(0); /* main-only helper */
        default:
            return -1;
        }
    }
    if (argc - optind != 2) {
        ctl_usage(stderr);
        return -1;
    }
    c->command = argv[optind];
    c->name = argv[optind + 1];
    return 0;
}

int main(int argc, char **argv)
{
    static ctl c;
    c.container = "leases";
    if (ctl_parse(&c, argc, argv))
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Signals are taken synchronously by the main thread only. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "leasectl: curl_global_init failed\n");
        return 1;
    }
    int rc = 1;
    const char *conn = getenv("LEASEHOLD_STORAGE_CONNECTION_STRING");
    blob_client_options bo;
    blob_client_options_init(&bo);
    bo.connection_string = conn && *conn ? conn : "UseDevelopmentStorage=true";
    blob_error be;
    c.client = blob_client_new(&bo, &be);
    if (!c.client) {
        fprintf(stderr, "leasectl: %s\n", be.message);
        goto out;
    }
    lease_manager_options mo;
    lease_manager_options_init(&mo);
    mo.container = c.container;
    if (c.duration_s)
        mo.duration_s = c.duration_s;
    if (c.id)
        mo.owner_id = c.id;
    mo.log = ctl_log;
    mo.on_event = ctl_on_event;
    mo.opaque = &c;
    lease_error err;
    c.mgr = lease_manager_new(c.client, &mo, &err);
    if (!c.mgr) {
        fprintf(stderr, "leasectl: %s\n", err.message);
        goto out;
    }
    if (!strcmp(c.command, "acquire"))
        rc = ctl_acquire(&c, &set);
    else if (!strcmp(c.command, "renew") || !strcmp(c.command, "release"))
        rc = ctl_by_id(&c);
    else if (!strcmp(c.command, "break"))
        rc = ctl_break(&c);
    else if (!strcmp(c.command, "status"))
        rc = ctl_status(&c);
    else if (!strcmp(c.command, "leader"))
        rc = ctl_leader(&c);
    else if (!strcmp(c.command, "campaign"))
        rc = ctl_campaign(&c, &set);
    else {
        fprintf(stderr, "leasectl: unknown command '%s'\n", c.command);
        ctl_usage(stderr);
    }
out:
    lease_manager_free(c.mgr);
    blob_client_free(c.client);
    curl_global_cleanup();
    return rc;
}
