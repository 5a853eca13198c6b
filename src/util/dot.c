/* dot: see dot.h. */
#include "util/dot.h"

#include <string.h>

typedef float v4 __attribute__((vector_size(16)));

/* acc += a[at..] * b[at..], one vector of x's and y's type (either width) */
#define STEP(acc, at)                                                                              \
    do {                                                                                           \
        memcpy(&x, a + (at), sizeof x);                                                            \
        memcpy(&y, b + (at), sizeof y);                                                            \
        acc += x * y;                                                                              \
    } while (0)

/* lanes 0-3 and 4-7 of the four accumulators, then the tree: the order
 * dot_avx2 sums in, lane for lane */
float dot_f32_plain(const float *a, const float *b, unsigned n)
{
    v4 l0 = {0}, h0 = {0}, l1 = {0}, h1 = {0}, l2 = {0}, h2 = {0}, l3 = {0}, h3 = {0}, x, y;
    unsigned i = 0;
    for (; i + 32 <= n; i += 32) {
        STEP(l0, i);
        STEP(h0, i + 4);
        STEP(l1, i + 8);
        STEP(h1, i + 12);
        STEP(l2, i + 16);
        STEP(h2, i + 20);
        STEP(l3, i + 24);
        STEP(h3, i + 28);
    }
    for (; i + 8 <= n; i += 8) {
        STEP(l0, i);
        STEP(h0, i + 4);
    }
    v4 u = ((l0 + l1) + (l2 + l3)) + ((h0 + h1) + (h2 + h3));
    float s = (u[0] + u[2]) + (u[1] + u[3]);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

#if defined(__x86_64__)
typedef float v8 __attribute__((vector_size(32)));

__attribute__((target("avx2"))) static float dot_avx2(const float *a, const float *b, unsigned n)
{
    v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, x, y;
    unsigned i = 0;
    for (; i + 32 <= n; i += 32) {
        STEP(s0, i);
        STEP(s1, i + 8);
        STEP(s2, i + 16);
        STEP(s3, i + 24);
    }
    for (; i + 8 <= n; i += 8) STEP(s0, i);
    v8 t = (s0 + s1) + (s2 + s3);
    float u0 = t[0] + t[4], u1 = t[1] + t[5], u2 = t[2] + t[6], u3 = t[3] + t[7];
    float s = (u0 + u2) + (u1 + u3);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}
#endif

float dot_f32(const float *a, const float *b, unsigned n)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) return dot_avx2(a, b, n);
#endif
    return dot_f32_plain(a, b, n);
}

#undef STEP
