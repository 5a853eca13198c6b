/* bench_util: what the C benchmarks share: percentiles of timings, the
 * process's resident memory. */
#ifndef RAGD_BENCH_UTIL_H
#define RAGD_BENCH_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static inline int bench_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-th quantile (0 < p <= 1) of v[0..n), nearest rank; sorts v. */
static inline double bench_pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, bench_cmp_d);
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i < n ? i : n - 1];
}

/* The process's resident set in KiB (VmRSS), or -1. */
static inline long bench_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

#endif
