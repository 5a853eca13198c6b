/* Internal structures of the metrics library, shared by its .c files only. */
#ifndef RAGD_METRICS_INT_H
#define RAGD_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "metrics/metrics.h"

/* ---- shards (shard.c) ---------------------------------------------------
 * A thread's shard index: -1 until its first write, then 1..MAX_SHARDS
 * (exclusive to it until it exits) or 0 (shared, atomic adds). */
extern _Thread_local int metrics__tls_shard;
/* Assigns the calling thread a shard (slow path of the first write). */
int metrics__shard_acquire(void);
/* Highest shard index ever handed out: scrapes sum shards 0..high. */
int metrics__shard_high(void);

/* Read sections for lock-free lookups. enter() returns the shard to pass to
 * exit(), or 0 when the thread has no exclusive shard: then the caller must
 * hold the family mutex instead. synchronize() returns once every read
 * section that began before it has ended. */
int metrics__read_enter(void);
void metrics__read_exit(int shard);
void metrics__synchronize(void);

/* ---- children ------------------------------------------------------------ */

/* A gauge holding this bit pattern has no value (metrics_gauge_unset). NaNs
 * set by users are canonicalised, so they never collide with it. */
#define METRICS_ABSENT_BITS 0x7ff4000000000badULL

struct metrics_child {
    /* Hot: read by inc/add/observe. */
    char *cell;           /* slots of shard 0; shard s is at cell + s * stride */
    size_t stride;        /* bytes between shards */
    const double *bounds; /* histograms: the family's bounds */
    uint32_t nbounds;
    uint32_t flags;         /* METRICS_F_* of the family */
    _Atomic uint64_t gauge; /* gauge, info and mirror counters: double bits */
    /* Cold. */
    metrics_family_t *fam;
    uint64_t hash;
    size_t slot_off; /* first slot index in the registry's region; SIZE_MAX: none */
    char **values;   /* nlabels label values, in one block with the strings */
    char *rendered;  /* `a="x",b="y"` escaped for output; "" without labels */
    size_t rendered_len;
    metrics_child_t *next_free; /* on the family's free list once removed */
};

/* Lock-free hash table of children: open addressing, linear probing. A
 * removed entry becomes a tombstone; growth builds a new table and retires
 * the old one (freed with the family: total waste is under 2x). */
#define METRICS_TOMBSTONE ((metrics_child_t *)(uintptr_t)1)
struct metrics_table {
    size_t mask;                   /* capacity - 1; capacity a power of 2 */
    size_t used;                   /* live + tombstones, under the family mutex */
    struct metrics_table *retired; /* older tables, freed with the family */
    _Atomic(metrics_child_t *) e[];
};

struct metrics_family {
    metrics_registry_t *reg;
    metrics_type_t type;
    unsigned flags;
    char *name;      /* as registered */
    char *om_name;   /* OpenMetrics family name (no _total / _info) */
    char *help_text; /* HELP escaped for text 0.0.4 */
    char *help_om;   /* HELP escaped for OpenMetrics */
    size_t nlabels;
    char **label_names;
    double *bounds; /* histograms */
    size_t nbounds;
    char **le_text; /* bound rendered for text 0.0.4 ("0.5", "1") */
    char **le_om;   /* bound rendered for OpenMetrics ("0.5", "1.0") */
    size_t nslots;  /* value slots per child and shard */
    size_t max_children;

    pthread_mutex_t mu; /* creation, removal, scrape of this family */
    _Atomic(struct metrics_table *) table;
    metrics_child_t **sorted; /* children sorted by label values, under mu */
    size_t nchildren, cap;
    metrics_child_t *child0;        /* the child of a family without labels */
    metrics_child_t *sink;          /* handed out for refused label sets */
    metrics_child_t *dropped;       /* its child of ragd_metrics_dropped_series_total */
    metrics_child_t *free_children; /* removed children, recycled by the next creations */
};

struct metrics_collector {
    metrics_collect_fn fn;
    void *ctx;
};

#define METRICS_MAX_COLLECTORS 32

struct metrics_registry {
    pthread_mutex_t mu;      /* families list and error message */
    metrics_family_t **fams; /* sorted by name */
    size_t nfams, fcap;
    size_t max_children;
    metrics_family_t *dropped; /* ragd_metrics_dropped_series_total */

    pthread_mutex_t slots_mu;    /* leaf lock: the value region allocator */
    char *slots;                 /* (MAX_SHARDS + 1) * stride bytes, reserved */
    size_t stride;               /* max_slots * 8 */
    size_t max_slots, slot_next; /* bump allocation; slots are never returned */

    pthread_mutex_t scrape_mu; /* one scrape at a time (collectors keep deltas) */
    struct metrics_collector collectors[METRICS_MAX_COLLECTORS];
    size_t ncollectors;
};

/* values.c: reads a child's value across shards. */
double metrics__counter_read(const metrics_child_t *c);

#endif
