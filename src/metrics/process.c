#include "metrics/process.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"
#include "util/num.h"
#include "util/text_scan.h"

/* /proc/<pid>/stat is one line. */
#define STAT_MAX 4096

struct metrics_process {
    char root[256];
    char pid[32];
    long clk_tck, page_size;
    metrics_child_t *cpu, *rss, *vsize, *start, *open_fds, *max_fds, *threads;
    double btime; /* boot time from /proc/stat: read once, it does not change; 0 until read */
};

/* strtoull over (p, end) for one space-separated field; advances *pp. */
static bool next_field(const char **pp, const char *end, const char **tok, size_t *len)
{
    const char *p = *pp;
    while (p < end && (*p == ' ' || *p == '\n')) p++;
    if (p >= end) return false;
    *tok = p;
    while (p < end && *p != ' ' && *p != '\n') p++;
    *len = (size_t)(p - *tok);
    *pp = p;
    return true;
}

/* A whole token as a decimal number; a leading '-' (tpgid is -1) gives the
 * two's complement, as the kernel's signed fields would. */
static bool field_ull(const char *tok, size_t len, unsigned long long *out)
{
    bool neg = len && tok[0] == '-';
    uint64_t v;
    size_t used;
    if (num_parse_u64(tok + neg, len - neg, &v, &used) || used != len - neg) return false;
    *out = neg ? (unsigned long long)-v : v;
    return true;
}

int metrics_proc_parse_stat(const char *p, size_t n, metrics_proc_stat_t *out)
{
    const char *end = p + n, *rparen = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == ')') rparen = q;
    if (!rparen) return -EINVAL;
    /* Field 3 (state) follows the last ')'. We need 14, 15, 20, 22, 23, 24. */
    unsigned long long f[25] = {0};
    const char *cur = rparen + 1, *tok;
    size_t len;
    for (int k = 3; k <= 24; k++) {
        if (!next_field(&cur, end, &tok, &len)) return -EINVAL;
        if (k == 3) continue; /* state is a letter */
        if (!field_ull(tok, len, &f[k])) return -EINVAL;
    }
    out->utime = f[14];
    out->stime = f[15];
    out->num_threads = (long long)f[20];
    out->starttime = f[22];
    out->vsize = f[23];
    out->rss = (long long)f[24];
    return 0;
}

int metrics_proc_parse_btime(const char *p, size_t n, unsigned long long *out)
{
    const char *le, *v = scan_line(p, n, "btime ", &le);
    const char *tok;
    size_t len;
    if (!v || !next_field(&v, le, &tok, &len) || !field_ull(tok, len, out)) return -EINVAL;
    return 0;
}

int metrics_proc_parse_max_fds(const char *p, size_t n, double *out)
{
    const char *le, *v = scan_line(p, n, "Max open files", &le);
    const char *tok;
    size_t len;
    unsigned long long lim;
    if (!v || !next_field(&v, le, &tok, &len)) return -EINVAL;
    if (len == 9 && memcmp(tok, "unlimited", 9) == 0) {
        *out = INFINITY;
        return 0;
    }
    if (!field_ull(tok, len, &lim)) return -EINVAL;
    *out = (double)lim;
    return 0;
}

/* Entries of <root>/<pid>/fd, or -1. */
static long count_fds(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* Reads the boot time from ROOT/stat into p->btime; leaves it 0 when it
 * cannot (the next scrape tries again). */
static void read_btime(metrics_process_t *p)
{
    char path[512];
    unsigned long long btime;
    char *buf = malloc(FILE_PROC_MAX);
    snprintf(path, sizeof path, "%s/stat", p->root);
    long n = buf ? file_read_all(path, buf, FILE_PROC_MAX) : -ENOMEM;
    if (n > 0 && metrics_proc_parse_btime(buf, (size_t)n, &btime) == 0 && btime > 0)
        p->btime = (double)btime;
    free(buf);
}

static void collect(void *ctx)
{
    metrics_process_t *p = ctx;
    char path[512], buf[STAT_MAX];
    metrics_proc_stat_t st;

    snprintf(path, sizeof path, "%s/%s/stat", p->root, p->pid);
    long n = file_read_all(path, buf, sizeof buf);
    bool ok = n > 0 && metrics_proc_parse_stat(buf, (size_t)n, &st) == 0;
    if (ok) {
        metrics_counter_set(p->cpu, (double)(st.utime + st.stime) / (double)p->clk_tck);
        metrics_gauge_set(p->rss, (double)st.rss * (double)p->page_size);
        metrics_gauge_set(p->vsize, (double)st.vsize);
        metrics_gauge_set(p->threads, (double)st.num_threads);
    } else {
        metrics_gauge_unset(p->cpu);
        metrics_gauge_unset(p->rss);
        metrics_gauge_unset(p->vsize);
        metrics_gauge_unset(p->threads);
    }

    if (p->btime == 0) read_btime(p); /* until it succeeds once */
    if (ok && p->btime > 0)
        metrics_gauge_set(p->start, p->btime + (double)st.starttime / (double)p->clk_tck);
    else
        metrics_gauge_unset(p->start);

    snprintf(path, sizeof path, "%s/%s/fd", p->root, p->pid);
    long fds = count_fds(path);
    if (fds >= 0)
        metrics_gauge_set(p->open_fds, (double)fds);
    else
        metrics_gauge_unset(p->open_fds);

    double maxfds;
    snprintf(path, sizeof path, "%s/%s/limits", p->root, p->pid);
    n = file_read_all(path, buf, sizeof buf);
    if (n > 0 && metrics_proc_parse_max_fds(buf, (size_t)n, &maxfds) == 0)
        metrics_gauge_set(p->max_fds, maxfds);
    else
        metrics_gauge_unset(p->max_fds);
}

int metrics_process_register(metrics_registry_t *reg, const metrics_process_opts_t *opts,
                             metrics_process_t **out)
{
    *out = NULL;
    metrics_process_t *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    snprintf(p->root, sizeof p->root, "%s", opts && opts->proc_root ? opts->proc_root : "/proc");
    snprintf(p->pid, sizeof p->pid, "%s", opts && opts->pid ? opts->pid : "self");
    p->clk_tck = opts && opts->clk_tck ? opts->clk_tck : sysconf(_SC_CLK_TCK);
    p->page_size = opts && opts->page_size ? opts->page_size : sysconf(_SC_PAGESIZE);
    if (p->clk_tck <= 0) p->clk_tck = 100;
    if (p->page_size <= 0) p->page_size = 4096;
    /* every series absent until the first scrape reads it */
    const metrics_def_t defs[] = {
        {{.type = METRICS_COUNTER,
          .name = "process_cpu_seconds_total",
          .help = "Total user and system CPU time spent in seconds.",
          .flags = METRICS_F_MIRROR | METRICS_F_ABSENT},
         NULL,
         &p->cpu},
        {{.type = METRICS_GAUGE,
          .flags = METRICS_F_ABSENT,
          .name = "process_resident_memory_bytes",
          .help = "Resident memory size in bytes."},
         NULL,
         &p->rss},
        {{.type = METRICS_GAUGE,
          .flags = METRICS_F_ABSENT,
          .name = "process_virtual_memory_bytes",
          .help = "Virtual memory size in bytes."},
         NULL,
         &p->vsize},
        {{.type = METRICS_GAUGE,
          .flags = METRICS_F_ABSENT,
          .name = "process_start_time_seconds",
          .help = "Start time of the process since unix epoch in seconds."},
         NULL,
         &p->start},
        {{.type = METRICS_GAUGE,
          .flags = METRICS_F_ABSENT,
          .name = "process_open_fds",
          .help = "Number of open file descriptors."},
         NULL,
         &p->open_fds},
        {{.type = METRICS_GAUGE,
          .flags = METRICS_F_ABSENT,
          .name = "process_max_fds",
          .help = "Maximum number of open file descriptors."},
         NULL,
         &p->max_fds},
        {{.type = METRICS_GAUGE,
          .flags = METRICS_F_ABSENT,
          .name = "process_threads",
          .help = "Number of OS threads in the process."},
         NULL,
         &p->threads},
    };
    int rc = metrics_register_all(reg, defs, sizeof defs / sizeof defs[0], NULL, 0);
    if (rc) {
        metrics_process_free(&p);
        return rc;
    }
    rc = metrics_registry_add_collector(reg, collect, p);
    if (rc) {
        metrics_process_free(&p);
        return rc;
    }
    *out = p;
    return 0;
}

void metrics_process_free(metrics_process_t **pp)
{
    if (!pp || !*pp) return;
    free(*pp);
    *pp = NULL;
}
