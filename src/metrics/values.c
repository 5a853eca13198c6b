/* values: the hot path (inc, add, observe, set) and value reads.
 *
 * Counters and histograms write to the calling thread's shard. On an
 * exclusive shard the thread is the only writer, so a relaxed load and a
 * relaxed store replace the atomic RMW (no lock prefix, no cache-line
 * ping-pong); readers load the same words relaxed and sum the shards.
 * Shard 0 is shared by threads past METRICS_MAX_SHARDS and uses atomic adds.
 *
 * Layout of a child's slots in one shard:
 *   counter:   [0] integer part (u64)  [1] fractional part (double bits)
 *   histogram: [0..n] bucket counts (u64, not cumulative)  [n+1] sum (double bits)
 * Integral counter increments stay exact up to 2^64 in the integer part. */
#include "metrics/metrics_int.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"

#define RELAXED memory_order_relaxed

static inline double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static inline uint64_t double_to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static inline _Atomic uint64_t *slot(const metrics_child_t *c, int shard, size_t i)
{
    return (_Atomic uint64_t *)(c->cell + (size_t)shard * c->stride) + i;
}

/* The shard for this write: the thread's own, acquired on first use. */
static inline int my_shard(void)
{
    int s = metrics__tls_shard;
    if (__builtin_expect(s < 0, 0)) s = metrics__shard_acquire();
    return s;
}

static inline void add_u64(const metrics_child_t *c, size_t i, uint64_t n)
{
    int s = my_shard();
    _Atomic uint64_t *p = slot(c, s, i);
    if (__builtin_expect(s > 0, 1))
        atomic_store_explicit(p, atomic_load_explicit(p, RELAXED) + n, RELAXED);
    else
        atomic_fetch_add_explicit(p, n, RELAXED);
}

static inline void add_double(const metrics_child_t *c, size_t i, double v)
{
    int s = my_shard();
    _Atomic uint64_t *p = slot(c, s, i);
    uint64_t old = atomic_load_explicit(p, RELAXED);
    if (__builtin_expect(s > 0, 1)) {
        atomic_store_explicit(p, double_to_bits(bits_to_double(old) + v), RELAXED);
        return;
    }
    while (!atomic_compare_exchange_weak_explicit(p, &old, double_to_bits(bits_to_double(old) + v),
                                                  RELAXED, RELAXED)) {
    }
}

/* Sum of slot i over the shards in use. */
static uint64_t sum_u64(const metrics_child_t *c, size_t i, int high)
{
    uint64_t n = 0;
    for (int s = 0; s <= high; s++) n += atomic_load_explicit(slot(c, s, i), RELAXED);
    return n;
}

static double sum_double(const metrics_child_t *c, size_t i, int high)
{
    double v = 0;
    for (int s = 0; s <= high; s++)
        v += bits_to_double(atomic_load_explicit(slot(c, s, i), RELAXED));
    return v;
}

/* ---- gauges (one atomic double) ------------------------------------------ */

static void gauge_add(metrics_child_t *c, double v)
{
    uint64_t old = atomic_load_explicit(&c->gauge, RELAXED), nv;
    do {
        double cur = old == METRICS_ABSENT_BITS ? 0.0 : bits_to_double(old);
        double sum = cur + v;
        nv = isnan(sum) ? double_to_bits(NAN) : double_to_bits(sum);
    } while (!atomic_compare_exchange_weak_explicit(&c->gauge, &old, nv, RELAXED, RELAXED));
}

void metrics_gauge_set(metrics_child_t *c, double v)
{
    if (c->fam->type == METRICS_INFO) return; /* always 1 */
    if (isnan(v)) v = NAN;                    /* canonical NaN: never the absent mark */
    atomic_store_explicit(&c->gauge, double_to_bits(v), RELAXED);
}

void metrics_gauge_add(metrics_child_t *c, double v)
{
    if (c->fam->type == METRICS_INFO) return;
    gauge_add(c, v);
}

void metrics_gauge_set_to_current_time(metrics_child_t *c)
{
    metrics_gauge_set(c, clock_epoch());
}

void metrics_gauge_unset(metrics_child_t *c)
{
    atomic_store_explicit(&c->gauge, METRICS_ABSENT_BITS, RELAXED);
}

double metrics_gauge_value(metrics_child_t *c)
{
    uint64_t b = atomic_load_explicit(&c->gauge, RELAXED);
    return b == METRICS_ABSENT_BITS ? NAN : bits_to_double(b);
}

/* ---- counters ------------------------------------------------------------ */

void metrics_counter_inc(metrics_child_t *c)
{
    if (__builtin_expect(c->flags & METRICS_F_MIRROR, 0)) {
        gauge_add(c, 1.0);
        return;
    }
    add_u64(c, 0, 1);
}

int metrics_counter_add(metrics_child_t *c, double v)
{
    if (!(v >= 0) || isinf(v)) return -EINVAL; /* negative, NaN or infinite */
    if (c->flags & METRICS_F_MIRROR)
        gauge_add(c, v);
    else if (v < 9007199254740992.0 /* 2^53 */ && v == (double)(uint64_t)v)
        add_u64(c, 0, (uint64_t)v);
    else
        add_double(c, 1, v);
    return 0;
}

void metrics_counter_set(metrics_child_t *c, double v)
{
    if (!(c->flags & METRICS_F_MIRROR)) return;
    atomic_store_explicit(&c->gauge, double_to_bits(isnan(v) ? NAN : v), RELAXED);
}

double metrics__counter_read(const metrics_child_t *c)
{
    if (c->flags & METRICS_F_MIRROR)
        return bits_to_double(atomic_load_explicit(&c->gauge, RELAXED));
    int high = metrics__shard_high();
    return (double)sum_u64(c, 0, high) + sum_double(c, 1, high);
}

double metrics_counter_value(metrics_child_t *c)
{
    return metrics__counter_read(c);
}

/* ---- histograms ---------------------------------------------------------- */

void metrics_histogram_observe(metrics_child_t *c, double v)
{
    uint32_t i = 0, n = c->nbounds;
    const double *b = c->bounds;
    while (i < n && !(v <= b[i])) i++; /* NaN lands in +Inf */
    int s = my_shard();
    _Atomic uint64_t *p = slot(c, s, 0);
    if (__builtin_expect(s > 0, 1)) {
        atomic_store_explicit(&p[i], atomic_load_explicit(&p[i], RELAXED) + 1, RELAXED);
        uint64_t old = atomic_load_explicit(&p[n + 1], RELAXED);
        atomic_store_explicit(&p[n + 1], double_to_bits(bits_to_double(old) + v), RELAXED);
        return;
    }
    atomic_fetch_add_explicit(&p[i], 1, RELAXED);
    add_double(c, n + 1, v);
}

uint64_t metrics_histogram_snapshot(metrics_child_t *c, uint64_t *cum, double *sum)
{
    int high = metrics__shard_high();
    uint64_t total = 0;
    for (uint32_t i = 0; i <= c->nbounds; i++) {
        total += sum_u64(c, i, high);
        cum[i] = total;
    }
    *sum = sum_double(c, c->nbounds + 1, high);
    return total;
}
