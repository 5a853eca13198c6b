#include "collectors/system.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "util/file.h"
#include "util/num.h"
#include "util/text_scan.h"

struct collector_system {
    char proc_root[256];
    char data_dir[1024];
    unsigned long long prev_total, prev_idle;
    bool have_prev;
    double last_cpu; /* reported again when no tick passed between scrapes */
    metrics_child_t *cpu, *mem_bytes, *mem_pct, *disk_pct;
    char *scratch;
};

int collector_parse_cpu(const char *p, size_t n, unsigned long long *total,
                        unsigned long long *idle)
{
    if (n < 4 || strncmp(p, "cpu ", 4) != 0) return -EINVAL;
    /* user nice system idle iowait irq softirq steal (guest is inside user) */
    unsigned long long v[8] = {0};
    const char *q = p + 4, *end = p + n;
    int k = 0;
    while (k < 8 && q < end && *q != '\n') {
        while (q < end && *q == ' ') q++;
        if (q >= end || *q == '\n') break;
        size_t used;
        uint64_t x;
        if (num_parse_u64(q, (size_t)(end - q), &x, &used)) return -EINVAL;
        v[k++] = x;
        q += used;
    }
    if (k < 4) return -EINVAL;
    *total = 0;
    for (int i = 0; i < 8; i++) *total += v[i];
    *idle = v[3] + v[4];
    return 0;
}

/* key (with its ':') of /proc/meminfo, in bytes ("kB" values scaled). */
static int meminfo_field(const char *p, size_t n, const char *key, unsigned long long *out)
{
    const char *le, *v = scan_line(p, n, key, &le);
    if (!v) return -EINVAL;
    while (v < le && *v == ' ') v++;
    uint64_t x;
    size_t used;
    if (num_parse_u64(v, (size_t)(le - v), &x, &used)) return -EINVAL;
    v += used;
    while (v < le && *v == ' ') v++;
    bool kb = le - v >= 2 && v[0] == 'k' && v[1] == 'B';
    if (kb && x > UINT64_MAX / 1024) return -EINVAL;
    *out = kb ? x * 1024 : x;
    return 0;
}

int collector_parse_meminfo(const char *p, size_t n, unsigned long long *total,
                            unsigned long long *available)
{
    if (meminfo_field(p, n, "MemTotal:", total) || meminfo_field(p, n, "MemAvailable:", available))
        return -EINVAL;
    return *total > 0 && *available <= *total ? 0 : -EINVAL;
}

int collector_parse_os_release(const char *p, size_t n, char *out, size_t outlen)
{
    const char *ve, *v = scan_line(p, n, "PRETTY_NAME=", &ve);
    if (!v || v == ve) return -EINVAL;
    if (ve - v >= 2 && (*v == '"' || *v == '\'') && ve[-1] == *v) v++, ve--;
    size_t k = (size_t)(ve - v) < outlen - 1 ? (size_t)(ve - v) : outlen - 1;
    memcpy(out, v, k);
    out[k] = '\0';
    return 0;
}

int collector_disk_usage_percent(const char *path, double *pct)
{
    struct statvfs vfs;
    if (statvfs(path, &vfs) != 0) return -errno;
    if (vfs.f_blocks == 0) return -ENODATA;
    double used = (double)(vfs.f_blocks - vfs.f_bfree), avail = (double)vfs.f_bavail;
    *pct = used + avail > 0 ? 100.0 * used / (used + avail) : 0;
    return 0;
}

static void collect(void *ctx)
{
    collector_system_t *c = ctx;
    char path[512];
    unsigned long long total, idle, mt, ma;

    snprintf(path, sizeof path, "%s/stat", c->proc_root);
    long n = file_read_all(path, c->scratch, FILE_PROC_MAX);
    if (n > 0 && collector_parse_cpu(c->scratch, (size_t)n, &total, &idle) == 0) {
        if (c->have_prev && total > c->prev_total) {
            unsigned long long dt = total - c->prev_total;
            unsigned long long di = idle >= c->prev_idle ? idle - c->prev_idle : 0;
            c->last_cpu = di >= dt ? 0.0 : 100.0 * (double)(dt - di) / (double)dt;
        }
        if (c->have_prev) metrics_gauge_set(c->cpu, c->last_cpu);
        c->prev_total = total;
        c->prev_idle = idle;
        c->have_prev = true;
    } else {
        metrics_gauge_unset(c->cpu);
    }

    snprintf(path, sizeof path, "%s/meminfo", c->proc_root);
    n = file_read_all(path, c->scratch, FILE_PROC_MAX);
    if (n > 0 && collector_parse_meminfo(c->scratch, (size_t)n, &mt, &ma) == 0) {
        metrics_gauge_set(c->mem_bytes, (double)(mt - ma));
        metrics_gauge_set(c->mem_pct, 100.0 * (double)(mt - ma) / (double)mt);
    } else {
        metrics_gauge_unset(c->mem_bytes);
        metrics_gauge_unset(c->mem_pct);
    }

    double pct;
    if (collector_disk_usage_percent(c->data_dir, &pct) == 0)
        metrics_gauge_set(c->disk_pct, pct);
    else
        metrics_gauge_unset(c->disk_pct);
}

static int add_system_info(metrics_registry_t *reg, const collector_system_opts_t *o)
{
    static const char *const labels[] = {"hostname",     "os",        "kernel",
                                         "architecture", "cpu_count", "version"};
    char host[256] = "unknown", os[256] = "unknown", cpus[16], buf[4096];
    struct utsname u;
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    long n = file_read_all(o->os_release ? o->os_release : "/etc/os-release", buf, sizeof buf);
    if (n > 0) collector_parse_os_release(buf, (size_t)n, os, sizeof os);
    if (uname(&u) != 0) {
        strcpy(u.release, "unknown");
        strcpy(u.machine, "unknown");
    }
    snprintf(cpus, sizeof cpus, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    const char *v[] = {host, os, u.release, u.machine, cpus, o->version ? o->version : "unknown"};
    return metrics_info_register(reg, "system_info", "Host and build facts; the value is always 1.",
                                 labels, v, 6, NULL, 0);
}

int collector_system_register(metrics_registry_t *reg, const collector_system_opts_t *o,
                              collector_system_t **out)
{
    *out = NULL;
    collector_system_t *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->scratch = malloc(FILE_PROC_MAX);
    if (!c->scratch) {
        collector_system_free(&c);
        return -ENOMEM;
    }
    snprintf(c->proc_root, sizeof c->proc_root, "%s", o->proc_root ? o->proc_root : "/proc");
    snprintf(c->data_dir, sizeof c->data_dir, "%s", o->data_dir ? o->data_dir : ".");
    /* every series absent until the first scrape reads it */
    const metrics_def_t defs[] = {
        {{.type = METRICS_GAUGE,
          .flags = METRICS_F_ABSENT,
          .name = "cpu_usage_percent",
          .help = "Host CPU busy share since the previous scrape, 0-100."},
         NULL,
         &c->cpu},
        {{.type = METRICS_GAUGE,
          .flags = METRICS_F_ABSENT,
          .name = "memory_usage_bytes",
          .help = "Host memory in use (MemTotal - MemAvailable) in bytes."},
         NULL,
         &c->mem_bytes},
        {{.type = METRICS_GAUGE,
          .flags = METRICS_F_ABSENT,
          .name = "memory_usage_percent",
          .help = "Host memory in use as a percentage of MemTotal."},
         NULL,
         &c->mem_pct},
        {{.type = METRICS_GAUGE,
          .flags = METRICS_F_ABSENT,
          .name = "disk_usage_percent",
          .help = "Use of the filesystem holding the data directory, 0-100."},
         NULL,
         &c->disk_pct},
    };
    int rc = metrics_register_all(reg, defs, sizeof defs / sizeof defs[0], NULL, 0);
    if (!rc) rc = add_system_info(reg, o);
    if (!rc) rc = metrics_registry_add_collector(reg, collect, c);
    if (rc) {
        collector_system_free(&c);
        return rc;
    }
    /* The first reading: the first scrape's CPU share covers start-up to it. */
    char path[512];
    unsigned long long total, idle;
    snprintf(path, sizeof path, "%s/stat", c->proc_root);
    long n = file_read_all(path, c->scratch, FILE_PROC_MAX);
    if (n > 0 && collector_parse_cpu(c->scratch, (size_t)n, &total, &idle) == 0) {
        c->prev_total = total;
        c->prev_idle = idle;
        c->have_prev = true;
    }
    *out = c;
    return 0;
}

void collector_system_free(collector_system_t **cp)
{
    if (!cp || !*cp) return;
    free((*cp)->scratch);
    free(*cp);
    *cp = NULL;
}
