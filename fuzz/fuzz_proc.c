/* The /proc and host-file parsers of the collectors. */
#include "collectors/system.h"
#include "fuzz.h"
#include "metrics/process.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    metrics_proc_stat_t st;
    unsigned long long a, b;
    double d;
    char os[64];
    (void)metrics_proc_parse_stat(p, size, &st);
    (void)metrics_proc_parse_btime(p, size, &a);
    (void)metrics_proc_parse_max_fds(p, size, &d);
    (void)collector_parse_cpu(p, size, &a, &b);
    (void)collector_parse_meminfo(p, size, &a, &b);
    (void)collector_parse_os_release(p, size, os, sizeof os);
    return 0;
}
