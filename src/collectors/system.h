/* system: host metrics of the contract, read at scrape time.
 *
 * cpu_usage_percent     busy share of all CPUs since the previous scrape, from
 *                       the first line of <proc>/stat (the first scrape covers
 *                       the time since start-up); no sleeping in a scrape
 * memory_usage_bytes    MemTotal - MemAvailable, from <proc>/meminfo
 * memory_usage_percent  the same over MemTotal
 * disk_usage_percent    used / (used + available to users) of the filesystem
 *                       holding the data directory, as df computes it
 * system_info           hostname, os, kernel, architecture, cpu_count, version
 * A value that cannot be read is left out of that scrape. */
#ifndef RAGD_COLLECTORS_SYSTEM_H
#define RAGD_COLLECTORS_SYSTEM_H

#include "metrics/metrics.h"

typedef struct collector_system collector_system_t;

typedef struct collector_system_opts {
    const char *proc_root;  /* NULL: "/proc" */
    const char *os_release; /* NULL: "/etc/os-release" */
    const char *data_dir;   /* the filesystem for disk_usage_percent */
    const char *version;    /* ragd's version, for system_info */
} collector_system_opts_t;

int collector_system_register(metrics_registry_t *reg, const collector_system_opts_t *opts,
                              collector_system_t **out);
void collector_system_free(collector_system_t **c);

/* Use of the filesystem holding path, in percent, as df computes it:
 * used / (used + available to unprivileged users). 0, or -errno. */
int collector_disk_usage_percent(const char *path, double *pct);

/* Parsers, exposed for tests. Each returns 0 or -EINVAL. */
/* First "cpu " line of /proc/stat: total and idle (idle + iowait) ticks. */
int collector_parse_cpu(const char *p, size_t n, unsigned long long *total,
                        unsigned long long *idle);
/* MemTotal and MemAvailable of /proc/meminfo, in bytes. */
int collector_parse_meminfo(const char *p, size_t n, unsigned long long *total,
                            unsigned long long *available);
/* PRETTY_NAME of an os-release file (quotes removed) into out. */
int collector_parse_os_release(const char *p, size_t n, char *out, size_t outlen);

#endif
