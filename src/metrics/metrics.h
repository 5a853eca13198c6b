/* metrics: ragd's Prometheus client library.
 *
 * Design, in short:
 * - A registry owns families; a family (fixed name, type and label names)
 *   owns children, one per label set. Keep a child's handle and reuse it. A
 *   handle stays safe to use until the registry is freed: once its child is
 *   removed, writes through it are lost (or counted in a later child of the
 *   same family that recycles its memory), never a fault.
 * - Hot path (counter inc/add, histogram observe) takes no lock and does no
 *   atomic read-modify-write: each thread owns a shard of every counter and
 *   histogram (a row of a per-registry region), adds with a plain relaxed
 *   load and store, and a scrape sums the shards. Threads beyond
 *   METRICS_MAX_SHARDS share one shard with atomic adds. Gauges are a single
 *   atomic double (set must be last-writer-wins, so they cannot shard).
 * - A histogram's count is the sum of its buckets, so every scrape sees
 *   +Inf == _count and cumulative, non-decreasing buckets. _sum is read after
 *   the buckets and may hold observations the buckets do not yet (or miss
 *   one in flight): it is never torn, only a few nanoseconds apart.
 * - Lookups by label values are lock-free (an open-addressing table read
 *   under a per-thread read section); creation, removal and scrapes lock the
 *   family. Removal waits for a grace period before memory is reused.
 * - Every family has a cap on children; a new label set past it gets a
 *   detached "sink" child (writes go nowhere visible) and is counted in
 *   ragd_metrics_dropped_series_total{family}. Callers never get NULL.
 * - Nothing here aborts: errors are negative errno codes; registration
 *   also writes the reason to the caller's err buffer when one is given
 *   (the convention of all of ragd: -errno plus an optional message).
 *
 * Thread safety: everything may be called from any thread, except
 * metrics_registry_free(), which must be the last call on the registry. */
#ifndef RAGD_METRICS_H
#define RAGD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Exclusive shards: threads that get one write without atomic RMW. More
 * threads than this still work (shared shard 0, atomic adds). */
#define METRICS_MAX_SHARDS 64
/* Default cap on children per family. */
#define METRICS_DEFAULT_MAX_CHILDREN 1000
/* Cap on histogram buckets (bounds, +Inf excluded). */
#define METRICS_MAX_BUCKETS 128
/* Cap on label names per family. */
#define METRICS_MAX_LABELS 16
/* Default number of 8-byte value slots per shard and registry; a counter
 * uses 2, a histogram nbuckets + 2. The region is reserved virtually and
 * only touched pages cost memory. */
#define METRICS_DEFAULT_MAX_SLOTS ((size_t)1 << 20)

typedef struct metrics_registry metrics_registry_t;
typedef struct metrics_family metrics_family_t;
typedef struct metrics_child metrics_child_t;

typedef enum metrics_type {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM,
    METRICS_INFO, /* gauge of value 1; name must end in _info */
} metrics_type_t;

typedef enum metrics_format {
    METRICS_FMT_TEXT,        /* Prometheus text 0.0.4 */
    METRICS_FMT_OPENMETRICS, /* OpenMetrics 1.0 text */
} metrics_format_t;

/* Family flag: the counter mirrors a total kept elsewhere (CPU seconds read
 * from /proc) and is set with metrics_counter_set(); it is not sharded. */
#define METRICS_F_MIRROR 1u
/* Family flag: a series starts absent from the exposition and appears on
 * its first set (values a collector reads from outside: nothing is shown
 * before the first reading). Gauges and mirror counters only. */
#define METRICS_F_ABSENT 2u

typedef struct metrics_registry_opts {
    size_t max_slots;    /* 0: METRICS_DEFAULT_MAX_SLOTS */
    size_t max_children; /* default cap per family; 0: METRICS_DEFAULT_MAX_CHILDREN */
} metrics_registry_opts_t;

typedef struct metrics_family_opts {
    metrics_type_t type;
    const char *name;          /* counters must end in _total, info in _info */
    const char *help;          /* UTF-8; escaped on output */
    const char *const *labels; /* label names, nlabels of them */
    size_t nlabels;
    const double *buckets; /* histograms: increasing finite bounds; a
                              trailing +Inf is accepted and dropped */
    size_t nbuckets;
    size_t max_children; /* 0: the registry's default */
    unsigned flags;      /* METRICS_F_* */
} metrics_family_opts_t;

/* Collector: called at the start of every scrape, serialised with other
 * scrapes, to refresh values read from outside (gauges from /proc...). */
typedef void (*metrics_collect_fn)(void *ctx);

/* ---- registry ---------------------------------------------------------- */

/* Creates a registry; opts may be NULL. 0 or -ENOMEM. */
int metrics_registry_new(metrics_registry_t **out, const metrics_registry_opts_t *opts);
/* Frees the registry, its families and children; clears *reg. NULL is a no-op.
 * No other thread may use the registry or its handles any more. */
void metrics_registry_free(metrics_registry_t **reg);
/* Adds a collector, run in the order added. 0, -ENOMEM or -ENOSPC. */
int metrics_registry_add_collector(metrics_registry_t *reg, metrics_collect_fn fn, void *ctx);

/* Registers a family. Errors: -EINVAL (invalid name, label name, reserved
 * label, bad buckets, wrong suffix, invalid UTF-8), -EEXIST (a name, or one of
 * the sample names it produces, is taken), -ENOSPC (value region full),
 * -ENOMEM. On error *out is NULL and err (when not NULL) says why. */
int metrics_family_register(metrics_registry_t *reg, const metrics_family_opts_t *opts,
                            metrics_family_t **out, char *err, size_t errlen);

/* Registers a family without labels and gives its only child: the usual
 * case of a single series. Same errors as metrics_family_register(). */
int metrics_register_one(metrics_registry_t *reg, const metrics_family_opts_t *opts,
                         metrics_child_t **out, char *err, size_t errlen);

/* One row of a module's table of families: what to register, and where to
 * keep the family (labelled ones) and/or its child (the only child of a
 * family without labels; the sink of a labelled one). */
typedef struct metrics_def {
    metrics_family_opts_t opts;
    metrics_family_t **family; /* may be NULL */
    metrics_child_t **child;   /* may be NULL */
} metrics_def_t;

/* Registers defs[0..n) in order: the one way a module registers its
 * families. Stops at the first error (err says which family and why). */
int metrics_register_all(metrics_registry_t *reg, const metrics_def_t *defs, size_t n, char *err,
                         size_t errlen);

/* An info metric (a gauge of 1 whose labels carry facts: name ends in
 * _info): registers the family and sets its one child, values[i] for
 * labels[i]. Same errors as metrics_family_register(). */
int metrics_info_register(metrics_registry_t *reg, const char *name, const char *help,
                          const char *const *labels, const char *const *values, size_t n, char *err,
                          size_t errlen);

/* Fills out[0..count) with start, start+width, ... 0 or -EINVAL. */
int metrics_buckets_linear(double start, double width, size_t count, double *out);
/* Fills out[0..count) with start, start*factor, ... (start > 0, factor > 1). */
int metrics_buckets_exponential(double start, double factor, size_t count, double *out);

/* ---- children ---------------------------------------------------------- */

/* Finds or creates the child for values[0..nlabels). Always sets *out to a
 * usable handle: the family's sink when the result is an error.
 * Returns 0, -ENOSPC (child cap reached: counted as dropped), -EINVAL (a value
 * is NULL or not UTF-8) or -ENOMEM. For a family without labels, values is
 * ignored and the single child is returned. */
int metrics_family_get(metrics_family_t *fam, const char *const *values, metrics_child_t **out);
/* The same, for callers that accept the sink on error. */
metrics_child_t *metrics_family_child(metrics_family_t *fam, const char *const *values);
/* Removes one child: 0, or -ENOENT. Its memory is recycled for the family's
 * next child after a grace period; see the note on handles above. */
int metrics_family_remove(metrics_family_t *fam, const char *const *values);
/* Removes every child of a labelled family. */
void metrics_family_clear(metrics_family_t *fam);
/* Number of children (sink excluded). */
size_t metrics_family_size(metrics_family_t *fam);

/* ---- values (hot path) ------------------------------------------------- */

void metrics_counter_inc(metrics_child_t *c);
/* v must be >= 0 (and not NaN): else -EINVAL and nothing changes. */
int metrics_counter_add(metrics_child_t *c, double v);
/* Mirror counters only (METRICS_F_MIRROR): sets the total. */
void metrics_counter_set(metrics_child_t *c, double v);
double metrics_counter_value(metrics_child_t *c);

void metrics_gauge_set(metrics_child_t *c, double v);
void metrics_gauge_add(metrics_child_t *c, double v);
static inline void metrics_gauge_inc(metrics_child_t *c)
{
    metrics_gauge_add(c, 1.0);
}
static inline void metrics_gauge_dec(metrics_child_t *c)
{
    metrics_gauge_add(c, -1.0);
}
static inline void metrics_gauge_sub(metrics_child_t *c, double v)
{
    metrics_gauge_add(c, -v);
}
/* Sets the gauge to the current time, seconds since the epoch. */
void metrics_gauge_set_to_current_time(metrics_child_t *c);
/* Marks the gauge (or mirror counter) as having no value: it is left out of
 * the exposition until set again (a collector that could not read a value
 * never fakes one). */
void metrics_gauge_unset(metrics_child_t *c);
double metrics_gauge_value(metrics_child_t *c);

void metrics_histogram_observe(metrics_child_t *c, double v);
/* Reads a consistent snapshot: cumulative counts for each bound and +Inf
 * (cum must hold nbuckets + 1), and the sum. Returns the count. */
uint64_t metrics_histogram_snapshot(metrics_child_t *c, uint64_t *cum, double *sum);

/* ---- exposition -------------------------------------------------------- */

/* Runs the collectors and appends the whole exposition to out in the given
 * format. Families and children come sorted, so output is deterministic.
 * 0, or the buffer's error. */
int metrics_expose(metrics_registry_t *reg, metrics_format_t fmt, buf_t *out);

/* Picks the format from an Accept header (NULL: text 0.0.4), honouring
 * q-values; OpenMetrics when it is the most preferred type we serve. */
metrics_format_t metrics_negotiate(const char *accept);
/* The Content-Type of a format. */
const char *metrics_content_type(metrics_format_t fmt);
/* True when an Accept-Encoding header accepts gzip (q > 0). */
bool metrics_accepts_gzip(const char *accept_encoding);
/* Appends the gzip (RFC 1952) compression of in[0..n) to out. 0 or -errno. */
int metrics_gzip(const void *in, size_t n, buf_t *out);

/* Writes the shortest text that parses back to v exactly ("NaN", "+Inf",
 * "-Inf", "3", "0.25", "1e-05"); with om, integral values get ".0" as
 * OpenMetrics' canonical form wants. buf must hold 32 bytes; returns length. */
size_t metrics_format_double(char *buf, double v, bool om);

#endif
