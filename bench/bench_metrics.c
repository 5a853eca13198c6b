/* Benchmarks of the metrics library: nanoseconds per operation, medians of
 * REPEATS runs. Prints a table for people and "RESULT key value" lines that
 * bench/run pairs with the Python client's figures.
 *
 * Multi-threaded figures are per thread: wall time divided by the operations
 * each thread did (what one request pays). Perfect scaling keeps them equal
 * to the single-threaded figure. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/metrics.h"

#define REPEATS 7

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* The guide's HTTP buckets plus finer ones: 14 bounds. */
static const double bounds14[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10};
/* Observations spread over the buckets, like request latencies. */
static const double obs[16] = {0.0003, 0.0008, 0.0012, 0.002, 0.003, 0.004, 0.006, 0.008,
                               0.012,  0.02,   0.03,   0.07,  0.2,   0.4,   1.5,   7};

enum op { OP_INC, OP_OBSERVE, OP_LOOKUP_OBSERVE, OP_MIDDLEWARE };

struct job {
    enum op op;
    long iters;
    metrics_child_t *child;
    metrics_family_t *fam, *fam2; /* OP_MIDDLEWARE: requests counter, durations */
    pthread_barrier_t *barrier;
};

static void run_ops(const struct job *j)
{
    static const char *const methods[2] = {"GET", "POST"};
    static const char *const eps[4] = {"/health", "/v1/query", "/v1/documents", "/metrics"};
    switch (j->op) {
    case OP_INC:
        for (long i = 0; i < j->iters; i++) metrics_counter_inc(j->child);
        break;
    case OP_OBSERVE:
        for (long i = 0; i < j->iters; i++) metrics_histogram_observe(j->child, obs[i & 15]);
        break;
    case OP_LOOKUP_OBSERVE:
        for (long i = 0; i < j->iters; i++) {
            const char *v[2] = {methods[i & 1], eps[(i >> 1) & 3]};
            metrics_histogram_observe(metrics_family_child(j->fam, v), obs[i & 15]);
        }
        break;
    case OP_MIDDLEWARE: /* what ragd's HTTP middleware does per request */
        for (long i = 0; i < j->iters; i++) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts); /* the end time; the start is taken anyway */
            char status[8];
            snprintf(status, sizeof status, "%d", 200 + (int)(i & 1) * 204);
            const char *v[3] = {methods[i & 1], eps[(i >> 1) & 3], status};
            metrics_counter_inc(metrics_family_child(j->fam, v));
            metrics_histogram_observe(metrics_family_child(j->fam2, v),
                                      obs[i & 15] + (double)ts.tv_nsec * 1e-18);
        }
        break;
    }
}

static void *thread_main(void *arg)
{
    struct job *j = arg;
    pthread_barrier_wait(j->barrier);
    run_ops(j);
    return NULL;
}

/* ns per operation per thread, median of REPEATS. */
static double bench2(enum op op, int threads, long iters, metrics_child_t *c, metrics_family_t *f,
                     metrics_family_t *f2);
static double bench(enum op op, int threads, long iters, metrics_child_t *c, metrics_family_t *f)
{
    return bench2(op, threads, iters, c, f, NULL);
}

static double bench2(enum op op, int threads, long iters, metrics_child_t *c, metrics_family_t *f,
                     metrics_family_t *f2)
{
    double r[REPEATS];
    for (int k = 0; k < REPEATS; k++) {
        pthread_barrier_t b;
        pthread_barrier_init(&b, NULL, (unsigned)threads + 1);
        pthread_t t[8];
        struct job j = {op, iters, c, f, f2, &b};
        for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, thread_main, &j);
        pthread_barrier_wait(&b);
        double t0 = now_ns();
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        r[k] = (now_ns() - t0) / (double)iters;
        pthread_barrier_destroy(&b);
    }
    return median(r, REPEATS);
}

static void row(const char *key, const char *what, double v, const char *unit)
{
    printf("  %-48s %10.2f %s\n", what, v, unit);
    printf("RESULT %s %.4f\n", key, v);
}

int main(void)
{
    metrics_registry_t *reg;
    metrics_family_t *cf, *hf, *lf, *big;
    static const char *const l2[] = {"method", "endpoint"};
    if (metrics_registry_new(&reg, &(metrics_registry_opts_t){.max_children = 20000})) return 1;
    metrics_family_register(
        reg, &(metrics_family_opts_t){.type = METRICS_COUNTER, .name = "b_total", .help = "h"}, &cf,
        NULL, 0);
    metrics_family_register(reg,
                            &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,
                                                     .name = "b_seconds",
                                                     .help = "h",
                                                     .buckets = bounds14,
                                                     .nbuckets = 14},
                            &hf, NULL, 0);
    metrics_family_register(reg,
                            &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,
                                                     .name = "b_labelled_seconds",
                                                     .help = "h",
                                                     .labels = l2,
                                                     .nlabels = 2,
                                                     .buckets = bounds14,
                                                     .nbuckets = 14},
                            &lf, NULL, 0);
    metrics_child_t *c = metrics_family_child(cf, NULL), *h = metrics_family_child(hf, NULL);

    printf("metrics library (ns per operation per thread, median of %d runs)\n", REPEATS);
    row("counter_inc_1t", "counter inc, 1 thread", bench(OP_INC, 1, 50000000, c, NULL), "ns");
    row("counter_inc_2t", "counter inc, 2 threads, same counter",
        bench(OP_INC, 2, 50000000, c, NULL), "ns");
    row("observe_1t", "histogram observe (14 buckets), 1 thread",
        bench(OP_OBSERVE, 1, 20000000, h, NULL), "ns");
    row("observe_2t", "histogram observe (14 buckets), 2 threads, same",
        bench(OP_OBSERVE, 2, 20000000, h, NULL), "ns");
    row("lookup_observe_1t", "label lookup (2 labels) + observe, 1 thread",
        bench(OP_LOOKUP_OBSERVE, 1, 5000000, NULL, lf), "ns");
    row("lookup_observe_2t", "label lookup (2 labels) + observe, 2 threads",
        bench(OP_LOOKUP_OBSERVE, 2, 5000000, NULL, lf), "ns");
    {
        static const char *const l3[] = {"method", "endpoint", "status"};
        metrics_family_t *rq, *du;
        metrics_family_register(reg,
                                &(metrics_family_opts_t){.type = METRICS_COUNTER,
                                                         .name = "b_requests_total",
                                                         .help = "h",
                                                         .labels = l3,
                                                         .nlabels = 3},
                                &rq, NULL, 0);
        metrics_family_register(reg,
                                &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,
                                                         .name = "b_request_seconds",
                                                         .help = "h",
                                                         .labels = l2,
                                                         .nlabels = 2,
                                                         .buckets = bounds14,
                                                         .nbuckets = 14},
                                &du, NULL, 0);
        row("middleware_1t", "HTTP request metrics per request (ragd's middleware)",
            bench2(OP_MIDDLEWARE, 1, 5000000, NULL, rq, du), "ns");
    }

    /* 10,000 series: a counter with two labels, 100 x 100. */
    metrics_family_register(reg,
                            &(metrics_family_opts_t){.type = METRICS_COUNTER,
                                                     .name = "b_series_total",
                                                     .help = "Ten thousand series.",
                                                     .labels = l2,
                                                     .nlabels = 2,
                                                     .max_children = 10000},
                            &big, NULL, 0);
    for (int i = 0; i < 100; i++) {
        for (int k = 0; k < 100; k++) {
            char a[16], b[32];
            snprintf(a, sizeof a, "m%02d", i);
            snprintf(b, sizeof b, "/api/route/%02d", k);
            metrics_counter_add(metrics_family_child(big, (const char *[]){a, b}), i * 100 + k);
        }
    }
    /* Measure that family alone: a registry with only it would be the same
     * cost; the few other families add a handful of lines. */
    double e[21], eo[21], ez[21];
    buf_t out = BUF_INIT, z = BUF_INIT;
    size_t bytes = 0, zbytes = 0;
    for (int k = 0; k < 21; k++) {
        buf_reset(&out);
        double t0 = now_ns();
        metrics_expose(reg, METRICS_FMT_TEXT, &out);
        e[k] = (now_ns() - t0) / 1e6;
        bytes = out.len;
        buf_reset(&z);
        t0 = now_ns();
        metrics_gzip(out.data, out.len, &z);
        ez[k] = (now_ns() - t0) / 1e6;
        zbytes = z.len;
        buf_reset(&out);
        t0 = now_ns();
        metrics_expose(reg, METRICS_FMT_OPENMETRICS, &out);
        eo[k] = (now_ns() - t0) / 1e6;
    }
    row("expose_10k_ms", "expose 10,000 series, text 0.0.4", median(e, 21), "ms");
    row("expose_10k_om_ms", "expose 10,000 series, OpenMetrics", median(eo, 21), "ms");
    row("gzip_10k_ms", "gzip of that exposition (level 1)", median(ez, 21), "ms");
    printf("  (exposition %zu bytes, gzipped %zu bytes)\n", bytes, zbytes);
    buf_free(&out);
    buf_free(&z);
    metrics_registry_free(&reg);
    return 0;
}
