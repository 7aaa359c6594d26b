/* lease_test_util.h -- shared set-up for the lease integration tests:
 * a blob client from LEASEHOLD_STORAGE_CONNECTION_STRING (default Azurite),
 * a unique container name per test, managers with chosen timings, and a
 * small callback recorder that tests await with a deadline.
 */
#ifndef LEASE_TEST_UTIL_H
#define LEASE_TEST_UTIL_H

#include <pthread.h>
#include <stdint.h>

#include "leasehold/blob.h"
#include "leasehold/lease.h"

typedef struct lt_env {
    blob_client *client;
    char container[64];
} lt_env;

/* Creates the client and picks a fresh container name ("lt-<tag>-<rand>"). */
void lt_env_init(lt_env *env, const char *tag);
/* Deletes the container and frees the client. */
void lt_env_cleanup(lt_env *env);

/* A manager on env's container with the given lease duration and owner. */
lease_manager *lt_manager(lt_env *env, int duration_s, const char *owner);

/* Counts callbacks; thread-safe; lt_await* wait on a condition variable. */
#define LT_MAX_FAILS 64

typedef struct lt_recorder {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int renewed, failed, lost;
    lease_loss_reason reason;
    int64_t last_expiry;
    int attempt[LT_MAX_FAILS];    /* of each renew_failed call, in order */
    int will_retry[LT_MAX_FAILS];
} lt_recorder;

void lt_recorder_init(lt_recorder *r);
void lt_recorder_destroy(lt_recorder *r);
/* Callbacks that feed the recorder (opaque = the recorder). */
lease_callbacks lt_recorder_callbacks(lt_recorder *r);
/* Initialises `r` and takes `name` with its callbacks; fails the test
 * unless the acquire succeeds. */
lease *lt_acquire_recorded(lease_manager *m, const char *name, lt_recorder *r);
/* Waits until r->lost > 0 or `ms` pass; returns r->lost. */
int lt_await_lost(lt_recorder *r, int64_t ms);
/* Waits until the lease was renewed or lost, at most `ms`. */
void lt_await_renewed_or_lost(lt_recorder *r, int64_t ms);

int64_t lt_now_ms(void);
void lt_sleep_ms(int64_t ms);

#endif
