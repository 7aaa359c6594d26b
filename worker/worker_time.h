/* worker_time.h -- the two clocks the worker reads.
 *
 * Monotonic milliseconds for every duration and deadline (backoff, drain,
 * idle release, latency); monotonic microseconds where milliseconds are
 * too coarse (the per-stage latency histograms start at 0.5 ms); wall-clock
 * unix milliseconds only for what is stored or shown (reservation expiry,
 * event timestamps) and to compare with Kafka's message timestamps.
 */
#ifndef LEASEHOLD_WORKER_TIME_H
#define LEASEHOLD_WORKER_TIME_H

#include <stdint.h>

int64_t worker_time_mono_ms(void);
int64_t worker_time_mono_us(void);
/* Seconds from `start_us` (worker_time_mono_us) until now. */
double worker_time_since_s(int64_t start_us);
int64_t worker_time_wall_ms(void);

#endif
