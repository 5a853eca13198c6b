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
#include <strings.h>
#include <zlib.h>

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

/* ---- negotiation ------------------------------------------------------- */

const char *metrics_content_type(metrics_format_t fmt)
{
    return fmt == METRICS_FMT_OPENMETRICS
               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
               : "text/plain; version=0.0.4; charset=utf-8";
}

/* Iterates over the comma-separated elements of a header. For each, gives
 * the token (trimmed, up to ';'), its q (1 if absent) and the raw params. */
struct element {
    const char *tok;
    size_t toklen;
    const char *params; /* after the first ';', up to the ',' */
    size_t paramlen;
    double q;
};

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    return p;
}

/* Finds parameter `name` in params; copies its value (unquoted) to val. */
static bool param(const struct element *e, const char *name, char *val, size_t vsize)
{
    const char *p = e->params, *end = e->params + e->paramlen;
    size_t nlen = strlen(name);
    while (p && p < end) {
        p = skip_ws(p, end);
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq && (size_t)(eq - p) == nlen && strncasecmp(p, name, nlen) == 0) {
            const char *v = skip_ws(eq + 1, stop), *ve = stop;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            if (ve - v >= 2 && *v == '"' && ve[-1] == '"') v++, ve--;
            size_t n = (size_t)(ve - v) < vsize - 1 ? (size_t)(ve - v) : vsize - 1;
            memcpy(val, v, n);
            val[n] = '\0';
            return true;
        }
        p = semi ? semi + 1 : NULL;
    }
    return false;
}

static const char *next_element(const char *p, struct element *e)
{
    while (*p == ',' || *p == ' ' || *p == '\t') p++;
    if (!*p) return NULL;
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *tend = semi ? semi : end;
    while (tend > p && (tend[-1] == ' ' || tend[-1] == '\t')) tend--;
    e->tok = p;
    e->toklen = (size_t)(tend - p);
    e->params = semi ? semi + 1 : end;
    e->paramlen = semi ? (size_t)(end - semi - 1) : 0;
    e->q = 1.0;
    char qv[16];
    if (param(e, "q", qv, sizeof qv)) {
        char *ep;
        double q = strtod(qv, &ep);
        e->q = (ep != qv && q >= 0 && q <= 1) ? q : 0;
    }
    return end;
}

static bool tok_is(const struct element *e, const char *s)
{
    return e->toklen == strlen(s) && strncasecmp(e->tok, s, e->toklen) == 0;
}

metrics_format_t metrics_negotiate(const char *accept)
{
    double best_om = -1, best_text = -1;
    struct element e;
    for (const char *p = accept; p && (p = next_element(p, &e));) {
        char ver[32];
        bool has_ver = param(&e, "version", ver, sizeof ver);
        if (tok_is(&e, "application/openmetrics-text")) {
            /* We write 1.0.0, which 0.0.1 readers also parse. */
            if (!has_ver || !strcmp(ver, "1.0.0") || !strcmp(ver, "0.0.1"))
                if (e.q > best_om) best_om = e.q;
        } else if (tok_is(&e, "text/plain") || tok_is(&e, "text/*") || tok_is(&e, "*/*")) {
            if (e.q > best_text) best_text = e.q;
        }
    }
    /* OpenMetrics only when strictly preferred; text is the safe default. */
    return best_om > 0 && best_om > best_text ? METRICS_FMT_OPENMETRICS : METRICS_FMT_TEXT;
}

bool metrics_accepts_gzip(const char *accept_encoding)
{
    double gzip = -1, star = -1;
    struct element e;
    for (const char *p = accept_encoding; p && (p = next_element(p, &e));) {
        if (tok_is(&e, "gzip") || tok_is(&e, "x-gzip"))
            gzip = e.q;
        else if (tok_is(&e, "*"))
            star = e.q;
    }
    return gzip >= 0 ? gzip > 0 : star > 0;
}

int metrics_gzip(const void *in, size_t n, buf_t *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* Level 1: expositions are repetitive text, and a scrape is latency. */
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    size_t bound = deflateBound(&zs, (uLong)n);
    int rc = buf_reserve(out, bound);
    if (rc == 0) {
        zs.next_in = (Bytef *)(uintptr_t)in;
        zs.avail_in = (uInt)n;
        zs.next_out = (Bytef *)out->data + out->len;
        zs.avail_out = (uInt)bound;
        if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
            rc = -EIO;
        else
            out->len += bound - zs.avail_out;
    }
    deflateEnd(&zs);
    return rc;
}
