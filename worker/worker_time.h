/* worker_time.h -- the two clocks the worker reads.
 *
 * Monotonic milliseconds for every duration and deadline (backoff, drain,
 * idle release, latency); wall-clock unix milliseconds only for what is
 * stored or shown (reservation expiry, event timestamps).
 */
#ifndef LEASEHOLD_WORKER_TIME_H
#define LEASEHOLD_WORKER_TIME_H

#include <stdint.h>

int64_t worker_time_mono_ms(void);
int64_t worker_time_wall_ms(void);

#endif
