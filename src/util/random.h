/* random: unpredictable bytes from the kernel, for ids and retry jitter.
 * Never rand(): unseeded, it gives every instance the same sequence, so
 * replicas retrying an overloaded server would do it in step. */
#ifndef RAGD_RANDOM_H
#define RAGD_RANDOM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Fills p with n bytes of getrandom(2); should that fail (a kernel without
 * it), with the clock, which still differs between instances. */
static inline void random_bytes(void *p, size_t n)
{
    if (getrandom(p, n, 0) == (ssize_t)n) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned char *b = p;
    uint64_t x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        b[i] = (unsigned char)x;
    }
}

/* A double in [0, 1). */
static inline double random_unit(void)
{
    uint32_t x;
    random_bytes(&x, sizeof x);
    return (double)x / 4294967296.0;
}

#endif
