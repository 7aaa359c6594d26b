/* worker_time.c -- monotonic and wall-clock time (see worker_time.h). */
#include "worker_time.h"

#include <time.h>

static int64_t worker_time_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t worker_time_mono_ms(void) {
    return worker_time_ms(CLOCK_MONOTONIC);
}

int64_t worker_time_wall_ms(void) {
    return worker_time_ms(CLOCK_REALTIME);
}

int64_t worker_time_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double worker_time_since_s(int64_t start_us) {
    return (double)(worker_time_mono_us() - start_us) / 1e6;
}
