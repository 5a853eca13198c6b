/* Exposition: golden outputs in both formats, escaping, special values,
 * number formatting, content negotiation, gzip. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <zlib.h>

#include "helpers.h"
#include "metrics/metrics.h"
#include "test.h"

/* A registry that uses every feature: each type, labels, escaping in label
 * values and HELP, special values, an empty labelled family, an absent gauge. */
static metrics_registry_t *feature_registry(void)
{
    static const char *const req_l[] = {"method", "endpoint", "status"};
    static const char *const lat_l[] = {"endpoint"};
    static const char *const path_l[] = {"path"};
    static const char *const info_l[] = {"version", "os"};
    static const double lat_b[] = {0.005, 0.01, 0.5, 1, 2.5, 10};
    metrics_registry_t *reg;
    metrics_family_t *f;
    if (metrics_registry_new(&reg, NULL)) return NULL;

    metrics_family_register(reg,
                            &(metrics_family_opts_t){.type = METRICS_COUNTER,
                                                     .name = "http_requests_total",
                                                     .help = "Total HTTP requests.",
                                                     .labels = req_l,
                                                     .nlabels = 3},
                            &f, NULL, 0);
    metrics_counter_add(metrics_family_child(f, (const char *[]){"POST", "/v1/query", "200"}), 3);
    metrics_counter_inc(metrics_family_child(f, (const char *[]){"GET", "/health", "200"}));
    metrics_counter_inc(metrics_family_child(f, (const char *[]){"GET", "unmatched", "404"}));

    metrics_family_register(reg,
                            &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,
                                                     .name = "http_request_duration_seconds",
                                                     .help = "HTTP request latency.",
                                                     .labels = lat_l,
                                                     .nlabels = 1,
                                                     .buckets = lat_b,
                                                     .nbuckets = 6},
                            &f, NULL, 0);
    metrics_child_t *h = metrics_family_child(f, (const char *[]){"/v1/query"});
    metrics_histogram_observe(h, 0.003);
    metrics_histogram_observe(h, 0.25);
    metrics_histogram_observe(h, 0.75);
    metrics_histogram_observe(h, 20);

    metrics_family_register(reg,
                            &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,
                                                     .name = "empty_seconds",
                                                     .help = "A histogram never observed.",
                                                     .buckets = lat_b,
                                                     .nbuckets = 2},
                            &f, NULL, 0);

    metrics_family_register(
        reg,
        &(metrics_family_opts_t){.type = METRICS_GAUGE,
                                 .name = "escape_test",
                                 .help = "Help with a backslash \\ a \"quote\"\nand a newline.",
                                 .labels = path_l,
                                 .nlabels = 1},
        &f, NULL, 0);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"C:\\dir\\\"file\"\nline2"}), 1.5);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"nan"}), NAN);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"pinf"}), INFINITY);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"ninf"}), -INFINITY);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"small"}), 1e-7);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"big"}), 1.5e300);
    metrics_gauge_set(metrics_family_child(f, (const char *[]){"日本語"}), -42);
    metrics_gauge_unset(metrics_family_child(f, (const char *[]){"absent"}));

    metrics_family_register(reg,
                            &(metrics_family_opts_t){.type = METRICS_INFO,
                                                     .name = "system_info",
                                                     .help = "Host facts.",
                                                     .labels = info_l,
                                                     .nlabels = 2},
                            &f, NULL, 0);
    metrics_family_child(f, (const char *[]){"0.1.0", "Debian GNU/Linux 12"});

    metrics_family_register(reg,
                            &(metrics_family_opts_t){.type = METRICS_GAUGE,
                                                     .name = "active_documents_count",
                                                     .help = "Documents stored now."},
                            &f, NULL, 0);
    metrics_gauge_set(metrics_family_child(f, NULL), 12);

    metrics_family_register(reg,
                            &(metrics_family_opts_t){.type = METRICS_COUNTER,
                                                     .name = "query_cache_hits_total",
                                                     .help = "Query cache hits."},
                            &f, NULL, 0);
    metrics_counter_add(metrics_family_child(f, NULL), 0.5);

    metrics_family_register(reg,
                            &(metrics_family_opts_t){.type = METRICS_GAUGE,
                                                     .name = "labelled_but_empty",
                                                     .help = "No children.",
                                                     .labels = path_l,
                                                     .nlabels = 1},
                            &f, NULL, 0);
    return reg;
}

TEST(golden_text_004)
{
    metrics_registry_t *reg = feature_registry();
    ASSERT(reg);
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_OK(test_golden("features.prom", e));
    free(e);
    metrics_registry_free(&reg);
}

TEST(golden_openmetrics)
{
    metrics_registry_t *reg = feature_registry();
    ASSERT(reg);
    char *e = test_expose(reg, METRICS_FMT_OPENMETRICS);
    ASSERT_OK(test_golden("features.om", e));
    free(e);
    metrics_registry_free(&reg);
}

/* Rules of the formats checked directly, so the goldens cannot drift into
 * something wrong unnoticed. */
TEST(format_rules)
{
    metrics_registry_t *reg = feature_registry();
    ASSERT(reg);
    char *t = test_expose(reg, METRICS_FMT_TEXT);
    char *o = test_expose(reg, METRICS_FMT_OPENMETRICS);
    /* label value escaping: backslash, quote, newline */
    ASSERT_CONTAINS(t, "escape_test{path=\"C:\\\\dir\\\\\\\"file\\\"\\nline2\"} 1.5\n");
    /* HELP: text escapes backslash and newline only; OpenMetrics also quotes */
    ASSERT_CONTAINS(t,
                    "# HELP escape_test Help with a backslash \\\\ a \"quote\"\\nand a newline.\n");
    ASSERT_CONTAINS(
        o, "# HELP escape_test Help with a backslash \\\\ a \\\"quote\\\"\\nand a newline.\n");
    ASSERT_CONTAINS(t, "escape_test{path=\"nan\"} NaN\n");
    ASSERT_CONTAINS(t, "escape_test{path=\"pinf\"} +Inf\n");
    ASSERT_CONTAINS(t, "escape_test{path=\"ninf\"} -Inf\n");
    ASSERT_NOT_CONTAINS(t, "absent");
    /* histogram: buckets in order ending in +Inf, then _sum and _count */
    ASSERT_CONTAINS(t,
                    "http_request_duration_seconds_bucket{endpoint=\"/v1/query\",le=\"10\"} 3\n"
                    "http_request_duration_seconds_bucket{endpoint=\"/v1/query\",le=\"+Inf\"} 4\n"
                    "http_request_duration_seconds_sum{endpoint=\"/v1/query\"} 21.003\n"
                    "http_request_duration_seconds_count{endpoint=\"/v1/query\"} 4\n");
    ASSERT_CONTAINS(o,
                    "http_request_duration_seconds_bucket{endpoint=\"/v1/query\",le=\"1.0\"} 3\n");
    /* one HELP and TYPE per family */
    const char *first = strstr(t, "# TYPE http_requests_total");
    ASSERT(first && !strstr(first + 1, "# TYPE http_requests_total"));
    /* families sorted by name */
    ASSERT(strstr(t, "# TYPE active_documents_count") < strstr(t, "# TYPE empty_seconds"));
    ASSERT(strstr(t, "# TYPE http_requests_total") < strstr(t, "# TYPE system_info"));
    /* children sorted by label values */
    ASSERT(strstr(t, "method=\"GET\",endpoint=\"/health\"") <
           strstr(t, "method=\"GET\",endpoint=\"unmatched\""));
    ASSERT(strstr(t, "method=\"GET\",endpoint=\"unmatched\"") < strstr(t, "method=\"POST\""));
    /* OpenMetrics: family names, types, EOF */
    ASSERT_CONTAINS(o, "# TYPE http_requests counter\nhttp_requests_total{");
    ASSERT_CONTAINS(o, "# TYPE system info\nsystem_info{");
    ASSERT_CONTAINS(o, "active_documents_count 12.0\n");
    ASSERT(strlen(o) > 6 && strcmp(o + strlen(o) - 6, "# EOF\n") == 0);
    ASSERT_NOT_CONTAINS(t, "# EOF");
    /* empty labelled family left out */
    ASSERT_NOT_CONTAINS(t, "# TYPE labelled_but_empty");
    /* an unobserved histogram still shows zeroes */
    ASSERT_CONTAINS(
        t, "empty_seconds_bucket{le=\"+Inf\"} 0\nempty_seconds_sum 0\nempty_seconds_count 0\n");
    free(t);
    free(o);
    metrics_registry_free(&reg);
}

TEST(format_double_table)
{
    static const struct {
        double v;
        const char *text, *om;
    } rows[] = {
        {0, "0", "0.0"},
        {-0.0, "0", "0.0"},
        {1, "1", "1.0"},
        {-7, "-7", "-7.0"},
        {0.5, "0.5", "0.5"},
        {0.1, "0.1", "0.1"},
        {2.5, "2.5", "2.5"},
        {1e-05, "1e-05", "1e-05"},
        {123456.789, "123456.789", "123456.789"},
        {1e15, "1e+15", "1e+15"},
        {999999999999999, "999999999999999", "999999999999999.0"},
        {1.0 / 3, "0.3333333333333333", "0.3333333333333333"},
        {0.1 + 0.2, "0.30000000000000004", "0.30000000000000004"},
        {NAN, "NaN", "NaN"},
        {INFINITY, "+Inf", "+Inf"},
        {-INFINITY, "-Inf", "-Inf"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char buf[32];
        size_t n = metrics_format_double(buf, rows[i].v, false);
        ASSERT_EQ(n, strlen(buf));
        ASSERT_STR_EQ(buf, rows[i].text);
        metrics_format_double(buf, rows[i].v, true);
        ASSERT_STR_EQ(buf, rows[i].om);
        if (isfinite(rows[i].v)) ASSERT_DBL_EQ(strtod(buf, NULL), rows[i].v); /* round trip */
    }
}

TEST(negotiate_table)
{
    static const struct {
        const char *accept;
        metrics_format_t fmt;
    } rows[] = {
        {NULL, METRICS_FMT_TEXT},
        {"", METRICS_FMT_TEXT},
        {"*/*", METRICS_FMT_TEXT},
        {"text/plain", METRICS_FMT_TEXT},
        {"text/plain;version=0.0.4;q=1,*/*;q=0.1", METRICS_FMT_TEXT},
        /* Prometheus 2.x */
        {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
         METRICS_FMT_OPENMETRICS},
        /* Prometheus 3.x */
        {"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
         "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;"
         "escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
         METRICS_FMT_OPENMETRICS},
        {"application/openmetrics-text", METRICS_FMT_OPENMETRICS},
        {"Application/OpenMetrics-Text; version=\"1.0.0\"", METRICS_FMT_OPENMETRICS},
        {"application/openmetrics-text;q=0", METRICS_FMT_TEXT},
        {"application/openmetrics-text;version=2.0.0", METRICS_FMT_TEXT},
        {"text/plain;q=0.9, application/openmetrics-text;q=0.5", METRICS_FMT_TEXT},
        {"application/openmetrics-text;q=0.9, text/plain;q=0.9", METRICS_FMT_TEXT},
        {"application/json", METRICS_FMT_TEXT},
        {",,;;,garbage;q=abc", METRICS_FMT_TEXT},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (metrics_negotiate(rows[i].accept) != rows[i].fmt)
            fprintf(stderr, "    row %zu: %s\n", i, rows[i].accept ? rows[i].accept : "(null)");
        ASSERT_EQ(metrics_negotiate(rows[i].accept), rows[i].fmt);
    }
    ASSERT_STR_EQ(metrics_content_type(METRICS_FMT_TEXT),
                  "text/plain; version=0.0.4; charset=utf-8");
    ASSERT_STR_EQ(metrics_content_type(METRICS_FMT_OPENMETRICS),
                  "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

TEST(accepts_gzip_table)
{
    static const struct {
        const char *h;
        bool yes;
    } rows[] = {
        {NULL, false},           {"", false},
        {"gzip", true},          {"GZIP", true},
        {"gzip;q=0", false},     {"gzip; q=0.0", false},
        {"deflate, gzip", true}, {"br, gzip;q=0.5", true},
        {"identity", false},     {"*", true},
        {"*;q=0, gzip", true},   {"gzip;q=0, *", false},
        {"x-gzip", true},        {"gzipped", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (metrics_accepts_gzip(rows[i].h) != rows[i].yes)
            fprintf(stderr, "    row %zu: %s\n", i, rows[i].h ? rows[i].h : "(null)");
        ASSERT_EQ(metrics_accepts_gzip(rows[i].h), rows[i].yes);
    }
}

TEST(gzip_round_trip)
{
    metrics_registry_t *reg = feature_registry();
    ASSERT(reg);
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    buf_t z = BUF_INIT;
    ASSERT_OK(metrics_gzip(e, strlen(e), &z));
    ASSERT(z.len > 18 && (unsigned char)z.data[0] == 0x1f && (unsigned char)z.data[1] == 0x8b);
    ASSERT(z.len < strlen(e));

    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
    size_t cap = strlen(e) + 64;
    char *out = malloc(cap);
    zs.next_in = (Bytef *)z.data;
    zs.avail_in = (uInt)z.len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    ASSERT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
    ASSERT_EQ(zs.total_out, strlen(e));
    ASSERT(memcmp(out, e, strlen(e)) == 0);
    inflateEnd(&zs);
    free(out);
    buf_free(&z);
    free(e);
    metrics_registry_free(&reg);
}
