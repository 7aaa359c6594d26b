/* main.c -- inventory-producer: CLI, load generator and REST gateway.
 *
 * Parses the subcommand, loads configuration (defaults < --config file <
 * LEASEHOLD_* environment < flags), initialises logging and libcurl once,
 * then hands over to cli_*, load_run or the gateway. `serve` blocks SIGINT
 * and SIGTERM in every thread and waits for them with sigwait, so shutdown
 * runs on the main thread, never inside a signal handler.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>

#include "admin_client.h"
#include "args.h"
#include "cli.h"
#include "gateway.h"
#include "load.h"
#include "log.h"
#include "producer_config.h"
#include "rest.h"

static int producer_serve(config *cfg, const char *listen) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    char err[512];
    gateway *g = gateway_start(cfg, listen, err, sizeof(err));
    if (!g) {
        log_error("%s", err);
        return REST_EXIT_ERROR;
    }
    int sig = 0;
    sigwait(&set, &sig);
    log_info("signal %d: stopping the gateway", sig);
    gateway_stop(g);
    log_info("gateway stopped");
    return REST_EXIT_OK;
}

static int producer_apply_flags(config *cfg, const producer_args *a, char *err, size_t errlen) {
    if (a->brokers && config_set(cfg, "kafka.brokers", a->brokers, err, errlen) != 0)
        return -1;
    if (a->timeout && config_set(cfg, "producer.outcome_timeout", a->timeout, err, errlen) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv) {
    producer_args a;
    char err[512];
    if (args_parse(argc, argv, &a, err, sizeof(err)) != 0) {
        fprintf(stderr, "inventory-producer: %s\n%s", err, args_usage());
        return REST_EXIT_ERROR;
    }
    if (a.command == ARGS_HELP) {
        fputs(args_usage(), stdout);
        return REST_EXIT_OK;
    }
    if (a.command == ARGS_CONFIG_MARKDOWN) {
        size_t n;
        const config_key *keys = producer_config_keys(&n);
        config_write_markdown(keys, n, stdout);
        return REST_EXIT_OK;
    }
    if (a.command == ARGS_BLOCKED || a.command == ARGS_BLOCKED_RETRY ||
        a.command == ARGS_BLOCKED_DEAD_LETTER) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = admin_client_run(a.command, a.worker, a.product);
        curl_global_cleanup();
        return rc;
    }
    config *cfg = producer_config_load(a.config_file, err, sizeof(err));
    if (!cfg || producer_apply_flags(cfg, &a, err, sizeof(err)) != 0) {
        fprintf(stderr, "inventory-producer: %s\n", err);
        config_free(cfg);
        return REST_EXIT_ERROR;
    }
    int level = log_level_parse(config_string(cfg, "log.level"));
    log_init("inventory-producer", level < 0 ? LOG_LVL_INFO : (log_level)level,
             config_bool(cfg, "log.json"));
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    int rc;
    switch (a.command) {
    case ARGS_GET:
        rc = cli_get(cfg, a.product);
        break;
    case ARGS_LOAD:
        rc = load_run(cfg, &a.load);
        break;
    case ARGS_SERVE:
        rc = producer_serve(cfg, a.listen);
        break;
    default:
        rc = cli_send(cfg, &a);
        break;
    }
    curl_global_cleanup();
    config_free(cfg);
    return rc;
}
