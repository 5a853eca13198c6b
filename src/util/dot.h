/* dot: the dot product of float vectors, the inner loop of vector search
 * (hnswlib's distance, the exact scan's rescoring, filtered scoring).
 *
 * Every CPU gets the same sums in the same order, so a score never depends
 * on the machine: 32 floats a step into four 8-lane accumulators, combined
 * as a fixed tree, then the tail one float at a time (no fused
 * multiply-add: ISO C leaves contraction off). With AVX2 an accumulator is
 * one register; without it, two of 4 lanes (SSE2, or any CPU's 128-bit
 * vectors).
 *
 * Why not one generic 16-lane type with target clones, as before: without
 * AVX-512, GCC 12 keeps a 64-byte vector on the stack and moves it through
 * general registers on every step; on an AVX2 CPU that made the distance
 * 85 % of a graph build and hnswlib's own Python build (SSE) faster. */
#ifndef RAGD_DOT_H
#define RAGD_DOT_H

/* a.b over n floats; a and b need no alignment. */
float dot_f32(const float *a, const float *b, unsigned n);
/* The same sums without AVX2, bit for bit (what a CPU without it runs;
 * tests compare the two). */
float dot_f32_plain(const float *a, const float *b, unsigned n);

#endif
