/* Registry, families, children and values. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "helpers.h"
#include "metrics/metrics.h"
#include "test.h"

static const char *const L1[] = {"method"};
static const char *const L2[] = {"method", "endpoint"};

TEST(registry_rejects_bad_families)
{
    static const double good_b[] = {0.1, 1};
    static const double dec_b[] = {1, 0.5};
    static const double eq_b[] = {1, 1};
    static const double nan_b[] = {NAN};
    static const char *const bad_label[] = {"1x"};
    static const char *const reserved[] = {"__name"};
    static const char *const le[] = {"le"};
    static const char *const dup[] = {"a", "a"};
    static const struct {
        metrics_family_opts_t o;
        int rc;
    } rows[] = {
        {{METRICS_GAUGE, "ok_gauge", "h", NULL, 0, NULL, 0, 0, 0}, 0},
        {{METRICS_GAUGE, "ok_gauge", "h", NULL, 0, NULL, 0, 0, 0}, -EEXIST},
        {{METRICS_GAUGE, "1bad", "h", NULL, 0, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_GAUGE, "bad-name", "h", NULL, 0, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_GAUGE, "", "h", NULL, 0, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_GAUGE, NULL, "h", NULL, 0, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_GAUGE, "ns:with_colon", "h", NULL, 0, NULL, 0, 0, 0}, 0},
        {{METRICS_GAUGE, "g_label", "h", bad_label, 1, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_GAUGE, "g_res", "h", reserved, 1, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_GAUGE, "g_le", "h", le, 1, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_HISTOGRAM, "h_le", "h", le, 1, good_b, 2, 0, 0}, -EINVAL},
        {{METRICS_GAUGE, "g_dup", "h", dup, 2, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_GAUGE, "g_help", "bad \xff utf8", NULL, 0, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_GAUGE, "g_nohelp", NULL, NULL, 0, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_COUNTER, "c_no_suffix", "h", NULL, 0, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_INFO, "i_no_suffix", "h", NULL, 0, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_GAUGE, "g_mirror", "h", NULL, 0, NULL, 0, 0, METRICS_F_MIRROR}, -EINVAL},
        {{METRICS_GAUGE, "g_buckets", "h", NULL, 0, good_b, 2, 0, 0}, -EINVAL},
        {{METRICS_HISTOGRAM, "h_empty", "h", NULL, 0, NULL, 0, 0, 0}, -EINVAL},
        {{METRICS_HISTOGRAM, "h_dec", "h", NULL, 0, dec_b, 2, 0, 0}, -EINVAL},
        {{METRICS_HISTOGRAM, "h_eq", "h", NULL, 0, eq_b, 2, 0, 0}, -EINVAL},
        {{METRICS_HISTOGRAM, "h_nan", "h", NULL, 0, nan_b, 1, 0, 0}, -EINVAL},
        {{METRICS_HISTOGRAM, "lat_seconds", "h", NULL, 0, good_b, 2, 0, 0}, 0},
        /* sample-name clashes with the histogram above */
        {{METRICS_GAUGE, "lat_seconds_count", "h", NULL, 0, NULL, 0, 0, 0}, -EEXIST},
        /* its OpenMetrics family would be the histogram's _bucket samples */
        {{METRICS_COUNTER, "lat_seconds_bucket_total", "h", NULL, 0, NULL, 0, 0, 0}, -EEXIST},
        {{METRICS_COUNTER, "lat_requests_total", "h", NULL, 0, NULL, 0, 0, 0}, 0},
        {{METRICS_COUNTER, "jobs_total", "h", NULL, 0, NULL, 0, 0, 0}, 0},
        /* OpenMetrics family "jobs" is taken by jobs_total */
        {{METRICS_GAUGE, "jobs", "h", NULL, 0, NULL, 0, 0, 0}, -EEXIST},
        {{METRICS_INFO, "build_info", "h", L1, 1, NULL, 0, 0, 0}, 0},
        {{METRICS_GAUGE, "build", "h", NULL, 0, NULL, 0, 0, 0}, -EEXIST},
    };
    metrics_registry_t *reg;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    char why[256] = "";
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        metrics_family_t *f = (metrics_family_t *)1;
        why[0] = '\0';
        int rc = metrics_family_register(reg, &rows[i].o, &f, why, sizeof why);
        if (rc != rows[i].rc) fprintf(stderr, "    row %zu (%s)\n", i, rows[i].o.name);
        ASSERT_EQ(rc, rows[i].rc);
        if (rc) {
            ASSERT(f == NULL);
            ASSERT(why[0] != '\0'); /* every refusal says why */
        } else {
            ASSERT(f != NULL);
        }
    }
    ASSERT_CONTAINS(why, "build");
    size_t last = sizeof rows / sizeof rows[0] - 1; /* a refused row, without a buffer */
    ASSERT_EQ(metrics_family_register(reg, &rows[last].o, &(metrics_family_t *){0}, NULL, 0),
              rows[last].rc);
    metrics_registry_free(&reg);
    ASSERT(reg == NULL);
    metrics_registry_free(&reg); /* NULL is a no-op */
}

TEST(counter_values)
{
    metrics_registry_t *reg;
    metrics_family_t *f;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_family_register(
        reg, &(metrics_family_opts_t){.type = METRICS_COUNTER, .name = "c_total", .help = "h"}, &f,
        NULL, 0));
    metrics_child_t *c = metrics_family_child(f, NULL);
    ASSERT_DBL_EQ(metrics_counter_value(c), 0);
    metrics_counter_inc(c);
    ASSERT_OK(metrics_counter_add(c, 2));
    ASSERT_OK(metrics_counter_add(c, 0.25));
    ASSERT_EQ(metrics_counter_add(c, -1), -EINVAL);
    ASSERT_EQ(metrics_counter_add(c, NAN), -EINVAL);
    ASSERT_EQ(metrics_counter_add(c, INFINITY), -EINVAL);
    ASSERT_DBL_EQ(metrics_counter_value(c), 3.25);
    metrics_counter_set(c, 100); /* not a mirror: ignored */
    ASSERT_DBL_EQ(metrics_counter_value(c), 3.25);
    char *s = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(s, "c_total"), 3.25);
    free(s);
    metrics_registry_free(&reg);
}

TEST(gauge_values)
{
    metrics_registry_t *reg;
    metrics_family_t *f;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_family_register(
        reg, &(metrics_family_opts_t){.type = METRICS_GAUGE, .name = "g", .help = "h"}, &f, NULL,
        0));
    metrics_child_t *g = metrics_family_child(f, NULL);
    metrics_gauge_set(g, 10);
    metrics_gauge_inc(g);
    metrics_gauge_dec(g);
    metrics_gauge_dec(g);
    metrics_gauge_add(g, 5.5);
    metrics_gauge_sub(g, 0.5);
    ASSERT_DBL_EQ(metrics_gauge_value(g), 14);
    metrics_gauge_set(g, -3);
    ASSERT_DBL_EQ(metrics_gauge_value(g), -3);

    double before = (double)time(NULL);
    metrics_gauge_set_to_current_time(g);
    double after = (double)time(NULL) + 1;
    ASSERT(metrics_gauge_value(g) >= before && metrics_gauge_value(g) <= after);

    metrics_gauge_unset(g);
    ASSERT(isnan(metrics_gauge_value(g)));
    char *s = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_NOT_CONTAINS(s, "# TYPE g gauge"); /* absent: the family is left out */
    free(s);
    metrics_gauge_add(g, 2); /* add to "no value" starts from 0 */
    ASSERT_DBL_EQ(metrics_gauge_value(g), 2);
    metrics_gauge_set(g, NAN); /* a real NaN is a value, shown as NaN */
    s = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_CONTAINS(s, "\ng NaN\n");
    free(s);
    metrics_registry_free(&reg);
}

TEST(histogram_values)
{
    static const double b[] = {0.1, 0.5, 1, INFINITY};
    metrics_registry_t *reg;
    metrics_family_t *f;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_family_register(reg,
                                      &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,
                                                               .name = "h_seconds",
                                                               .help = "h",
                                                               .buckets = b,
                                                               .nbuckets = 4},
                                      &f, NULL, 0));
    metrics_child_t *h = metrics_family_child(f, NULL);
    const double obs[] = {0.05, 0.1 /* inclusive bound */, 0.3, 0.7, 1, 5, NAN};
    for (size_t i = 0; i < 6; i++) metrics_histogram_observe(h, obs[i]);
    uint64_t cum[4];
    double sum;
    ASSERT_EQ(metrics_histogram_snapshot(h, cum, &sum), 6);
    ASSERT_EQ(cum[0], 2);
    ASSERT_EQ(cum[1], 3);
    ASSERT_EQ(cum[2], 5);
    ASSERT_EQ(cum[3], 6);
    ASSERT(fabs(sum - 7.15) < 1e-12);
    metrics_histogram_observe(h, obs[6]); /* NaN: +Inf bucket, sum NaN */
    ASSERT_EQ(metrics_histogram_snapshot(h, cum, &sum), 7);
    ASSERT_EQ(cum[2], 5);
    ASSERT(isnan(sum));
    metrics_registry_free(&reg);
}

TEST(bucket_helpers)
{
    double out[5];
    ASSERT_OK(metrics_buckets_linear(1, 0.5, 4, out));
    ASSERT_DBL_EQ(out[0], 1);
    ASSERT_DBL_EQ(out[3], 2.5);
    ASSERT_OK(metrics_buckets_exponential(0.001, 2, 5, out));
    ASSERT_DBL_EQ(out[4], 0.016);
    ASSERT_EQ(metrics_buckets_linear(0, 0, 3, out), -EINVAL);
    ASSERT_EQ(metrics_buckets_linear(0, 1, 0, out), -EINVAL);
    ASSERT_EQ(metrics_buckets_exponential(0, 2, 3, out), -EINVAL);
    ASSERT_EQ(metrics_buckets_exponential(1, 1, 3, out), -EINVAL);
    ASSERT_EQ(metrics_buckets_exponential(1, 2, METRICS_MAX_BUCKETS + 1, out), -EINVAL);
}

TEST(labels_lookup)
{
    metrics_registry_t *reg;
    metrics_family_t *f;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_family_register(
        reg,
        &(metrics_family_opts_t){
            .type = METRICS_COUNTER, .name = "req_total", .help = "h", .labels = L2, .nlabels = 2},
        &f, NULL, 0));
    metrics_child_t *a, *b, *a2, *s;
    ASSERT_OK(metrics_family_get(f, (const char *[]){"GET", "/a"}, &a));
    ASSERT_OK(metrics_family_get(f, (const char *[]){"GET", "/b"}, &b));
    ASSERT_OK(metrics_family_get(f, (const char *[]){"GET", "/a"}, &a2));
    ASSERT(a == a2);
    ASSERT(a != b);
    /* ("ab","") and ("a","b") are different label sets */
    metrics_child_t *x, *y;
    ASSERT_OK(metrics_family_get(f, (const char *[]){"ab", ""}, &x));
    ASSERT_OK(metrics_family_get(f, (const char *[]){"a", "b"}, &y));
    ASSERT(x != y);
    ASSERT_EQ(metrics_family_size(f), 4);
    /* bad values get the sink, which is never exposed */
    ASSERT_EQ(metrics_family_get(f, (const char *[]){"GET", NULL}, &s), -EINVAL);
    ASSERT(s != NULL);
    metrics_counter_inc(s);
    ASSERT_EQ(metrics_family_get(f, (const char *[]){"GET", "\xc3("}, &s), -EINVAL);
    ASSERT_EQ(metrics_family_get(f, NULL, &s), -EINVAL);
    ASSERT_EQ(metrics_family_size(f), 4);
    metrics_counter_inc(a);
    metrics_counter_add(b, 2);
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "req_total{method=\"GET\",endpoint=\"/a\"}"), 1);
    ASSERT_DBL_EQ(test_sample(e, "req_total{method=\"GET\",endpoint=\"/b\"}"), 2);
    ASSERT_NOT_CONTAINS(e, "\\xc3");
    free(e);
    metrics_registry_free(&reg);
}

TEST(child_limit_counts_drops)
{
    metrics_registry_t *reg;
    metrics_family_t *f;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_family_register(reg,
                                      &(metrics_family_opts_t){.type = METRICS_COUNTER,
                                                               .name = "lim_total",
                                                               .help = "h",
                                                               .labels = L1,
                                                               .nlabels = 1,
                                                               .max_children = 3},
                                      &f, NULL, 0));
    char v[16];
    metrics_child_t *c;
    for (int i = 0; i < 10; i++) {
        snprintf(v, sizeof v, "m%d", i);
        int rc = metrics_family_get(f, (const char *[]){v}, &c);
        ASSERT_EQ(rc, i < 3 ? 0 : -ENOSPC);
        metrics_counter_inc(c); /* the sink takes it harmlessly */
    }
    /* existing children are still found at the limit */
    ASSERT_OK(metrics_family_get(f, (const char *[]){"m1"}, &c));
    ASSERT_EQ(metrics_family_size(f), 3);
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "ragd_metrics_dropped_series_total{family=\"lim_total\"}"), 7);
    ASSERT_NOT_CONTAINS(e, "m3");
    ASSERT_DBL_EQ(test_sample(e, "lim_total{method=\"m2\"}"), 1);
    free(e);
    metrics_registry_free(&reg);
}

TEST(registry_default_child_limit)
{
    metrics_registry_t *reg;
    metrics_family_t *f;
    ASSERT_OK(metrics_registry_new(&reg, &(metrics_registry_opts_t){.max_children = 2}));
    ASSERT_OK(metrics_family_register(
        reg,
        &(metrics_family_opts_t){
            .type = METRICS_GAUGE, .name = "g", .help = "h", .labels = L1, .nlabels = 1},
        &f, NULL, 0));
    metrics_child_t *c;
    ASSERT_OK(metrics_family_get(f, (const char *[]){"a"}, &c));
    ASSERT_OK(metrics_family_get(f, (const char *[]){"b"}, &c));
    ASSERT_EQ(metrics_family_get(f, (const char *[]){"c"}, &c), -ENOSPC);
    metrics_registry_free(&reg);
}

TEST(remove_and_clear)
{
    static const double b[] = {1, 2};
    metrics_registry_t *reg;
    metrics_family_t *f, *h;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_family_register(
        reg,
        &(metrics_family_opts_t){
            .type = METRICS_COUNTER, .name = "r_total", .help = "h", .labels = L1, .nlabels = 1},
        &f, NULL, 0));
    ASSERT_OK(metrics_family_register(reg,
                                      &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,
                                                               .name = "rh",
                                                               .help = "h",
                                                               .labels = L1,
                                                               .nlabels = 1,
                                                               .buckets = b,
                                                               .nbuckets = 2},
                                      &h, NULL, 0));
    metrics_child_t *c = metrics_family_child(f, (const char *[]){"a"});
    metrics_counter_add(c, 5);
    metrics_counter_inc(metrics_family_child(f, (const char *[]){"b"}));
    metrics_histogram_observe(metrics_family_child(h, (const char *[]){"x"}), 1.5);
    ASSERT_OK(metrics_family_remove(f, (const char *[]){"a"}));
    ASSERT_EQ(metrics_family_remove(f, (const char *[]){"a"}), -ENOENT);
    ASSERT_EQ(metrics_family_remove(f, (const char *[]){"zz"}), -ENOENT);
    ASSERT_EQ(metrics_family_size(f), 1);
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_NOT_CONTAINS(e, "r_total{method=\"a\"}");
    ASSERT_DBL_EQ(test_sample(e, "r_total{method=\"b\"}"), 1);
    free(e);
    /* re-created after removal: starts from zero, even on reused slots */
    c = metrics_family_child(f, (const char *[]){"a"});
    ASSERT_DBL_EQ(metrics_counter_value(c), 0);

    metrics_family_clear(h);
    ASSERT_EQ(metrics_family_size(h), 0);
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_NOT_CONTAINS(e, "rh_bucket");
    ASSERT_NOT_CONTAINS(e, "# TYPE rh histogram"); /* no children: family left out */
    free(e);
    metrics_child_t *x = metrics_family_child(h, (const char *[]){"x"});
    uint64_t cum[3];
    double sum;
    ASSERT_EQ(metrics_histogram_snapshot(x, cum, &sum), 0);
    ASSERT_DBL_EQ(sum, 0);
    metrics_family_clear(f);
    ASSERT_EQ(metrics_family_size(f), 0);
    metrics_registry_free(&reg);
}

TEST(many_children_sorted)
{
    metrics_registry_t *reg;
    metrics_family_t *f;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_family_register(reg,
                                      &(metrics_family_opts_t){.type = METRICS_GAUGE,
                                                               .name = "many",
                                                               .help = "h",
                                                               .labels = L1,
                                                               .nlabels = 1,
                                                               .max_children = 5000},
                                      &f, NULL, 0));
    char v[16];
    /* inserted in a scrambled order, through several table growths */
    for (int i = 0; i < 2000; i++) {
        int k = (i * 7919) % 2000;
        snprintf(v, sizeof v, "k%04d", k);
        metrics_gauge_set(metrics_family_child(f, (const char *[]){v}), k);
    }
    ASSERT_EQ(metrics_family_size(f), 2000);
    for (int k = 0; k < 2000; k += 97) {
        snprintf(v, sizeof v, "k%04d", k);
        ASSERT_DBL_EQ(metrics_gauge_value(metrics_family_child(f, (const char *[]){v})), k);
    }
    ASSERT_EQ(metrics_family_size(f), 2000);
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    const char *p = strstr(e, "many{");
    for (int k = 0; k < 2000; k++) {
        char line[64];
        snprintf(line, sizeof line, "many{method=\"k%04d\"} %d\n", k, k);
        ASSERT(p && strncmp(p, line, strlen(line)) == 0);
        p += strlen(line);
    }
    free(e);
    metrics_registry_free(&reg);
}

TEST(info_and_mirror)
{
    static const char *const il[] = {"version", "os"};
    metrics_registry_t *reg;
    metrics_family_t *i, *m;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_family_register(
        reg,
        &(metrics_family_opts_t){
            .type = METRICS_INFO, .name = "app_info", .help = "h", .labels = il, .nlabels = 2},
        &i, NULL, 0));
    metrics_child_t *c = metrics_family_child(i, (const char *[]){"1.0", "linux"});
    metrics_gauge_set(c, 5); /* info stays 1 */
    ASSERT_OK(metrics_family_register(reg,
                                      &(metrics_family_opts_t){.type = METRICS_COUNTER,
                                                               .name = "cpu_seconds_total",
                                                               .help = "h",
                                                               .flags = METRICS_F_MIRROR},
                                      &m, NULL, 0));
    metrics_child_t *mc = metrics_family_child(m, NULL);
    metrics_counter_set(mc, 12.5);
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_CONTAINS(e, "# TYPE app_info gauge\napp_info{version=\"1.0\",os=\"linux\"} 1\n");
    ASSERT_DBL_EQ(test_sample(e, "cpu_seconds_total"), 12.5);
    free(e);
    e = test_expose(reg, METRICS_FMT_OPENMETRICS);
    ASSERT_CONTAINS(e, "# TYPE app info\napp_info{version=\"1.0\",os=\"linux\"} 1.0\n");
    ASSERT_CONTAINS(e, "# TYPE cpu_seconds counter\ncpu_seconds_total 12.5\n");
    free(e);
    metrics_gauge_unset(mc); /* a collector that could not read it */
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_NOT_CONTAINS(e, "cpu_seconds_total");
    free(e);
    metrics_registry_free(&reg);
}

TEST(value_region_full)
{
    metrics_registry_t *reg;
    metrics_family_t *f;
    /* 9 slots of 8 bytes: the dropped-series family's sink takes 2; this
     * family's sink 2 and its dropped-series child 2; one child of 2 fits
     * (8 used) and a second does not. */
    ASSERT_OK(metrics_registry_new(&reg, &(metrics_registry_opts_t){.max_slots = 9}));
    ASSERT_OK(metrics_family_register(
        reg,
        &(metrics_family_opts_t){
            .type = METRICS_COUNTER, .name = "f_total", .help = "h", .labels = L1, .nlabels = 1},
        &f, NULL, 0));
    metrics_child_t *c;
    ASSERT_OK(metrics_family_get(f, (const char *[]){"a"}, &c));
    ASSERT_EQ(metrics_family_get(f, (const char *[]){"b"}, &c), -ENOSPC);
    metrics_counter_inc(c);
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "ragd_metrics_dropped_series_total{family=\"f_total\"}"), 1);
    free(e);
    metrics_registry_free(&reg);
}

TEST(register_one)
{
    metrics_registry_t *reg;
    metrics_child_t *c = (metrics_child_t *)1;
    char why[256] = "";
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_register_one(
        reg, &(metrics_family_opts_t){.type = METRICS_GAUGE, .name = "one", .help = "h"}, &c, NULL,
        0));
    metrics_gauge_set(c, 7);
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "one"), 7);
    free(e);
    ASSERT_EQ(metrics_register_one(
                  reg, &(metrics_family_opts_t){.type = METRICS_GAUGE, .name = "one", .help = "h"},
                  &c, NULL, 0),
              -EEXIST);
    ASSERT(c == NULL);
    ASSERT_EQ(
        metrics_register_one(
            reg,
            &(metrics_family_opts_t){
                .type = METRICS_GAUGE, .name = "two", .help = "h", .labels = L1, .nlabels = 1},
            &c, why, sizeof why),
        -EINVAL);
    ASSERT_CONTAINS(why, "without labels");
    /* the table form: families and children where the rows say */
    metrics_family_t *lab;
    metrics_child_t *one_c, *sink;
    const metrics_def_t defs[] = {
        {{.type = METRICS_COUNTER, .name = "t_one_total", .help = "h"}, NULL, &one_c},
        {{.type = METRICS_GAUGE, .name = "t_lab", .help = "h", .labels = L1, .nlabels = 1},
         &lab,
         &sink},
        {{.type = METRICS_GAUGE, .name = "t_one_total", .help = "h"}, NULL, NULL},
    };
    ASSERT_EQ(metrics_register_all(reg, defs, 3, why, sizeof why), -EEXIST);
    ASSERT_CONTAINS(why, "t_one_total");
    metrics_counter_inc(one_c);
    metrics_gauge_set(sink, 5); /* the sink: goes nowhere */
    metrics_gauge_set(metrics_family_child(lab, (const char *[]){"x"}), 2);
    static const char *const facts[] = {"a", "b"};
    ASSERT_OK(metrics_info_register(reg, "t_facts_info", "h", facts, (const char *[]){"1", "2"}, 2,
                                    why, sizeof why));
    ASSERT_EQ(metrics_info_register(reg, "t_bad", "h", facts, (const char *[]){"1", "2"}, 2, why,
                                    sizeof why),
              -EINVAL); /* an info name ends in _info */
    /* METRICS_F_ABSENT: out of the exposition until the first set */
    metrics_child_t *later, *mirror;
    const metrics_def_t absent[] = {
        {{.type = METRICS_GAUGE, .name = "t_later", .help = "h", .flags = METRICS_F_ABSENT},
         NULL,
         &later},
        {{.type = METRICS_COUNTER,
          .name = "t_mirror_total",
          .help = "h",
          .flags = METRICS_F_MIRROR | METRICS_F_ABSENT},
         NULL,
         &mirror},
    };
    ASSERT_OK(metrics_register_all(reg, absent, 2, why, sizeof why));
    ASSERT_EQ(metrics_register_one(reg,
                                   &(metrics_family_opts_t){.type = METRICS_COUNTER,
                                                            .name = "t_plain_total",
                                                            .help = "h",
                                                            .flags = METRICS_F_ABSENT},
                                   &c, why, sizeof why),
              -EINVAL); /* a sharded counter has no absent state */
    ASSERT_CONTAINS(why, "start absent");
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT(strstr(e, "\nt_later ") == NULL && strstr(e, "\nt_mirror_total ") == NULL);
    free(e);
    metrics_gauge_set(later, 3);
    metrics_counter_set(mirror, 4);
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "t_later"), 3);
    ASSERT_DBL_EQ(test_sample(e, "t_mirror_total"), 4);
    free(e);
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "t_one_total"), 1);
    ASSERT_DBL_EQ(test_sample(e, "t_lab{method=\"x\"}"), 2);
    ASSERT_DBL_EQ(test_sample(e, "t_facts_info{a=\"1\",b=\"2\"}"), 1);
    ASSERT(strstr(e, "t_lab 5") == NULL && strstr(e, "t_lab{method=\"\"}") == NULL);
    free(e);
    metrics_registry_free(&reg);
}
