/* expose: Prometheus text 0.0.4 and OpenMetrics 1.0 exposition.
 *
 * Text 0.0.4: "# HELP name text" (backslash and newline escaped), "# TYPE",
 * then samples; label values escape backslash, double quote and newline;
 * histograms write _bucket lines in increasing le ending in +Inf, then _sum
 * and _count; info families are written as gauges.
 * OpenMetrics: family names drop _total (counters) and _info (info), HELP
 * also escapes double quotes, integral floats get ".0", and the body ends
 * with "# EOF".
 * Families come sorted by name and children by label values (kept sorted at
 * insertion), so a scrape is a copy of pre-rendered label strings and a
 * number per line: no sorting, no allocation per series. */
#include "metrics/metrics_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- numbers ------------------------------------------------------------- */

static size_t format_u64(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

size_t metrics_format_double(char *buf, double v, bool om)
{
    if (isnan(v)) return (size_t)sprintf(buf, "NaN");
    if (isinf(v)) return (size_t)sprintf(buf, v > 0 ? "+Inf" : "-Inf");
    if (v == 0) v = 0; /* -0 prints as 0 */
    if (fabs(v) < 1e15 && v == trunc(v)) {
        size_t n = 0;
        if (v < 0) buf[n++] = '-';
        n += format_u64(buf + n, (uint64_t)fabs(v));
        if (om) {
            memcpy(buf + n, ".0", 3);
            n += 2;
        }
        return n;
    }
    /* Shortest of %.15g..%.17g that reads back exactly (17 always does). */
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v) break;
    }
    return (size_t)n;
}

static inline void put_u64(buf_t *b, uint64_t v)
{
    char tmp[24];
    buf_append(b, tmp, format_u64(tmp, v));
}

static inline void put_double(buf_t *b, double v, bool om)
{
    char tmp[32];
    buf_append(b, tmp, metrics_format_double(tmp, v, om));
}

/* ---- families ------------------------------------------------------------ */

/* name{labels[,extra]} — labels already escaped; extra like `le="0.5"`. */
static void put_series(buf_t *b, const char *name, const char *suffix, const metrics_child_t *c,
                       const char *le)
{
    buf_puts(b, name);
    if (suffix) buf_puts(b, suffix);
    if (c->rendered_len == 0 && !le) {
        buf_putc(b, ' ');
        return;
    }
    buf_putc(b, '{');
    buf_append(b, c->rendered, c->rendered_len);
    if (le) {
        if (c->rendered_len) buf_putc(b, ',');
        buf_append(b, "le=\"", 4);
        buf_puts(b, le);
        buf_putc(b, '"');
    }
    buf_append(b, "} ", 2);
}

/* Writes one child's samples; returns false if it has none (absent gauge). */
static bool put_child(buf_t *b, const metrics_family_t *f, metrics_child_t *c, bool om)
{
    switch (f->type) {
    case METRICS_COUNTER:
        if ((f->flags & METRICS_F_MIRROR) &&
            atomic_load_explicit(&c->gauge, memory_order_relaxed) == METRICS_ABSENT_BITS)
            return false;
        put_series(b, f->name, NULL, c, NULL);
        put_double(b, metrics__counter_read(c), om);
        buf_putc(b, '\n');
        return true;
    case METRICS_GAUGE:
    case METRICS_INFO: {
        uint64_t bits = atomic_load_explicit(&c->gauge, memory_order_relaxed);
        if (bits == METRICS_ABSENT_BITS) return false;
        double v;
        memcpy(&v, &bits, sizeof v);
        put_series(b, f->name, NULL, c, NULL);
        put_double(b, v, om);
        buf_putc(b, '\n');
        return true;
    }
    case METRICS_HISTOGRAM: {
        uint64_t cum[METRICS_MAX_BUCKETS + 1];
        double sum;
        uint64_t count = metrics_histogram_snapshot(c, cum, &sum);
        char *const *le = om ? f->le_om : f->le_text;
        for (size_t i = 0; i <= f->nbounds; i++) {
            put_series(b, f->name, "_bucket", c, i < f->nbounds ? le[i] : "+Inf");
            put_u64(b, cum[i]);
            buf_putc(b, '\n');
        }
        put_series(b, f->name, "_sum", c, NULL);
        put_double(b, sum, om);
        buf_putc(b, '\n');
        put_series(b, f->name, "_count", c, NULL);
        put_u64(b, count);
        buf_putc(b, '\n');
        return true;
    }
    }
    return false;
}

static const char *type_name(metrics_type_t t, bool om)
{
    switch (t) {
    case METRICS_COUNTER:
        return "counter";
    case METRICS_GAUGE:
        return "gauge";
    case METRICS_HISTOGRAM:
        return "histogram";
    case METRICS_INFO:
        return om ? "info" : "gauge";
    }
    return "unknown";
}

/* Under f->mu. A family with no sample is left out entirely. */
static void put_family(buf_t *b, metrics_family_t *f, bool om)
{
    size_t start = b->len;
    const char *fname = om ? f->om_name : f->name;
    buf_append(b, "# HELP ", 7);
    buf_puts(b, fname);
    buf_putc(b, ' ');
    buf_puts(b, om ? f->help_om : f->help_text);
    buf_append(b, "\n# TYPE ", 8);
    buf_puts(b, fname);
    buf_putc(b, ' ');
    buf_puts(b, type_name(f->type, om));
    buf_putc(b, '\n');
    bool any = false;
    if (f->nlabels == 0) {
        any = put_child(b, f, f->child0, om);
    } else {
        for (size_t i = 0; i < f->nchildren; i++) any |= put_child(b, f, f->sorted[i], om);
    }
    if (!any && !buf_error(b)) b->len = start, b->data[start] = '\0';
}

int metrics_expose(metrics_registry_t *reg, metrics_format_t fmt, buf_t *out)
{
    bool om = fmt == METRICS_FMT_OPENMETRICS;
    pthread_mutex_lock(&reg->scrape_mu);
    for (size_t i = 0; i < reg->ncollectors; i++) reg->collectors[i].fn(reg->collectors[i].ctx);
    pthread_mutex_lock(&reg->mu);
    for (size_t i = 0; i < reg->nfams; i++) {
        metrics_family_t *f = reg->fams[i];
        pthread_mutex_lock(&f->mu);
        put_family(out, f, om);
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_unlock(&reg->mu);
    pthread_mutex_unlock(&reg->scrape_mu);
    if (om) buf_append(out, "# EOF\n", 6);
    return buf_error(out);
}
