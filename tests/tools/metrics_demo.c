/* Prints an exposition that uses every feature of the metrics library, for
 * `promtool check metrics` (tests/scripts/promtool_metrics.sh).
 * usage: metrics_demo [text|openmetrics] */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metrics/metrics.h"
#include "metrics/process.h"

int main(int argc, char **argv)
{
    static const char *const req_l[] = {"method", "endpoint", "status"};
    static const char *const ep_l[] = {"endpoint"};
    static const char *const dev_l[] = {"device"};
    static const char *const info_l[] = {"version", "kernel"};
    static const double lat_b[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    metrics_format_t fmt =
        argc > 1 && !strcmp(argv[1], "openmetrics") ? METRICS_FMT_OPENMETRICS : METRICS_FMT_TEXT;
    metrics_registry_t *reg;
    metrics_process_t *proc;
    metrics_family_t *f;
    char why[256];
    if (metrics_registry_new(&reg, NULL) || metrics_process_register(reg, NULL, &proc)) return 1;

#define REG(...)                                                                                   \
    if (metrics_family_register(reg, &(metrics_family_opts_t){__VA_ARGS__}, &f, why,               \
                                sizeof why)) {                                                     \
        fprintf(stderr, "metrics_demo: %s\n", why);                                                \
        return 1;                                                                                  \
    }
    REG(.type = METRICS_COUNTER, .name = "demo_http_requests_total",
        .help = "HTTP requests by method, route template and status.", .labels = req_l,
        .nlabels = 3);
    metrics_counter_add(metrics_family_child(f, (const char *[]){"GET", "/health", "200"}), 41);
    metrics_counter_inc(
        metrics_family_child(f, (const char *[]){"POST", "/v1/documents/{id}", "503"}));
    REG(.type = METRICS_HISTOGRAM, .name = "demo_http_request_duration_seconds",
        .help = "HTTP request latency in seconds.", .labels = ep_l, .nlabels = 1, .buckets = lat_b,
        .nbuckets = sizeof lat_b / sizeof lat_b[0]);
    metrics_child_t *h = metrics_family_child(f, (const char *[]){"/health"});
    for (int i = 0; i < 100; i++) metrics_histogram_observe(h, i * 0.0003);
    REG(.type = METRICS_GAUGE, .name = "demo_gpu_memory_used_bytes", .help = "GPU memory in use.",
        .labels = dev_l, .nlabels = 1);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"cuda:0"}), 1.5e9);
    REG(.type = METRICS_GAUGE, .name = "demo_special_values_ratio",
        .help = "Escaping: backslash \\ and newline\nin help; NaN and infinities.", .labels = ep_l,
        .nlabels = 1);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"quote\"back\\slash\nnl"}), NAN);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"pinf"}), INFINITY);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"ninf"}), -INFINITY);
    REG(.type = METRICS_INFO, .name = "demo_build_info", .help = "Build facts.", .labels = info_l,
        .nlabels = 2);
    metrics_family_child(f, (const char *[]){"0.1.0", "6.1.0-amd64 #1 SMP"});
    REG(.type = METRICS_GAUGE, .name = "demo_last_scrape_timestamp_seconds",
        .help = "When this exposition was made.");
    metrics_gauge_set_to_current_time(metrics_family_child(f, NULL));
    REG(.type = METRICS_COUNTER, .name = "demo_limited_total",
        .help = "A family at its child limit.", .labels = ep_l, .nlabels = 1, .max_children = 1);
    metrics_counter_inc(metrics_family_child(f, (const char *[]){"a"}));
    metrics_counter_inc(metrics_family_child(f, (const char *[]){"b"})); /* dropped */

    buf_t out = BUF_INIT;
    int rc = metrics_expose(reg, fmt, &out);
    if (rc == 0) fwrite(out.data, 1, out.len, stdout);
    buf_free(&out);
    metrics_registry_free(&reg);
    metrics_process_free(&proc);
    return rc ? 1 : 0;
}
