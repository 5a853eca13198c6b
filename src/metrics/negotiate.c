/* negotiate: what a scraper asks for in its headers. Accept chooses the
 * exposition format (OpenMetrics when it is preferred, by q, over text), and
 * Accept-Encoding whether gzip is allowed. Parsed from the raw header
 * values, with q-values, parameters and quoted strings, never trusting
 * that a header is well formed (fuzzed: fuzz/fuzz_headers.c). */
#include "metrics/metrics_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
