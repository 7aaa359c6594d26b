/* tsan_thrd_create.c -- makes librdkafka's C11 threads visible to
 * ThreadSanitizer; preloaded by `deploy/local/test --sanitize thread`.
 *
 * librdkafka (Debian's build) uses C11 <threads.h>: thrd_create, mtx_*,
 * cnd_*, call_once. glibc implements these with its internal pthread
 * functions, bypassing TSan's interceptors, and clang 14's TSan intercepts
 * none of the C11 names. Left alone, a thread from thrd_create has no TSan
 * state and crashes on its first malloc, a thrd_join is never seen (the
 * registry then trips over a reused thread id), and librdkafka's locks and
 * condition variables are invisible, so memory handed between threads
 * through librdkafka's queues would be reported as racy.
 *
 * This library, preloaded ahead of libc, defines exactly the C11 functions
 * librdkafka imports and maps each onto its pthread counterpart, as glibc
 * itself does; the pthread calls resolve to the interceptors in the
 * instrumented executable. mtx_t, cnd_t and once_flag have the size and
 * layout of their pthread types in glibc, which is what makes the casts
 * valid. Not instrumented itself, and only for TSan runs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread mutex in glibc");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread condition in glibc");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread once in glibc");

/* pthread error number -> C11 thrd_* result, as glibc maps them. */
static int tsan_thrd_result(int err)
{
    switch (err) {
    case 0:
        return thrd_success;
    case ENOMEM:
    case EAGAIN:
        return thrd_nomem;
    case ETIMEDOUT:
        return thrd_timedout;
    case EBUSY:
        return thrd_busy;
    default:
        return thrd_error;
    }
}

typedef struct tsan_thrd_start {
    thrd_start_t func;
    void *arg;
} tsan_thrd_start;

/* The thread's int result travels as the pthread result, which is how
 * glibc's thrd_join and thrd_exit already treat it. */
static void *tsan_thrd_trampoline(void *p)
{
    tsan_thrd_start start = *(tsan_thrd_start *)p;
    free(p);
    return (void *)(intptr_t)start.func(start.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg)
{
    tsan_thrd_start *start = malloc(sizeof(*start));
    if (start == NULL)
        return thrd_nomem;
    start->func = func;
    start->arg = arg;
    pthread_t t;
    int err = pthread_create(&t, NULL, tsan_thrd_trampoline, start);
    if (err != 0) {
        free(start);
        return tsan_thrd_result(err);
    }
    *thr = (thrd_t)t;
    return thrd_success;
}

int thrd_join(thrd_t thr, int *res)
{
    void *value;
    int err = pthread_join((pthread_t)thr, &value);
    if (err == 0 && res != NULL)
        *res = (int)(intptr_t)value;
    return tsan_thrd_result(err);
}

int mtx_init(mtx_t *mtx, int type)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    if (type & mtx_recursive)
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    int err = pthread_mutex_init((pthread_mutex_t *)mtx, &attr);
    pthread_mutexattr_destroy(&attr);
    return tsan_thrd_result(err);
}

int mtx_lock(mtx_t *mtx)
{
    return tsan_thrd_result(pthread_mutex_lock((pthread_mutex_t *)mtx));
}

int mtx_unlock(mtx_t *mtx)
{
    return tsan_thrd_result(pthread_mutex_unlock((pthread_mutex_t *)mtx));
}

void mtx_destroy(mtx_t *mtx)
{
    pthread_mutex_destroy((pthread_mutex_t *)mtx);
}

int cnd_init(cnd_t *cnd)
{
    return tsan_thrd_result(pthread_cond_init((pthread_cond_t *)cnd, NULL));
}

int cnd_signal(cnd_t *cnd)
{
    return tsan_thrd_result(pthread_cond_signal((pthread_cond_t *)cnd));
}

int cnd_broadcast(cnd_t *cnd)
{
    return tsan_thrd_result(pthread_cond_broadcast((pthread_cond_t *)cnd));
}

int cnd_wait(cnd_t *cnd, mtx_t *mtx)
{
    return tsan_thrd_result(pthread_cond_wait((pthread_cond_t *)cnd, (pthread_mutex_t *)mtx));
}

int cnd_timedwait(cnd_t *restrict cnd, mtx_t *restrict mtx, const struct timespec *restrict abs)
{
    return tsan_thrd_result(pthread_cond_timedwait((pthread_cond_t *)cnd, (pthread_mutex_t *)mtx, abs));
}

void cnd_destroy(cnd_t *cnd)
{
    pthread_cond_destroy((pthread_cond_t *)cnd);
}

void call_once(once_flag *flag, void (*func)(void))
{
    pthread_once((pthread_once_t *)flag, func);
}
