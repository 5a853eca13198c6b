/* process: the standard process_* metrics of the calling process, read from
 * Linux /proc at scrape time.
 *
 * process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds (since the epoch:
 * boot time from <root>/stat plus the start tick), process_open_fds,
 * process_max_fds (soft limit; +Inf when unlimited), process_threads.
 * A value that cannot be read is left out of that scrape, never faked. */
#ifndef RAGD_METRICS_PROCESS_H
#define RAGD_METRICS_PROCESS_H

#include "metrics/metrics.h"

typedef struct metrics_process_opts {
    const char *proc_root; /* NULL: "/proc" (tests point it at fixtures) */
    const char *pid;       /* NULL: "self" */
    long clk_tck;          /* 0: sysconf(_SC_CLK_TCK) */
    long page_size;        /* 0: sysconf(_SC_PAGESIZE) */
} metrics_process_opts_t;

/* Registers the families and a collector on reg; opts may be NULL. The
 * collector's state is owned by the registry's lifetime: call
 * metrics_process_free() after metrics_registry_free(). 0 or -errno. */
typedef struct metrics_process metrics_process_t;
int metrics_process_register(metrics_registry_t *reg, const metrics_process_opts_t *opts,
                             metrics_process_t **out);
void metrics_process_free(metrics_process_t **p);

/* Parsed /proc/<pid>/stat fields we use. */
typedef struct metrics_proc_stat {
    unsigned long long utime, stime; /* clock ticks */
    long long num_threads;
    unsigned long long starttime; /* ticks after boot */
    unsigned long long vsize;     /* bytes */
    long long rss;                /* pages */
} metrics_proc_stat_t;

/* Parses the text of /proc/<pid>/stat from (p, n). The command name may hold
 * spaces and parentheses: fields are counted from the last ')'. 0 or -EINVAL. */
int metrics_proc_parse_stat(const char *p, size_t n, metrics_proc_stat_t *out);
/* Finds "btime N" in the text of /proc/stat. 0 or -EINVAL. */
int metrics_proc_parse_btime(const char *p, size_t n, unsigned long long *out);
/* Finds the soft "Max open files" limit in /proc/<pid>/limits; +Inf when
 * unlimited. 0 or -EINVAL. */
int metrics_proc_parse_max_fds(const char *p, size_t n, double *out);

#endif
