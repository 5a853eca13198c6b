#include "http/router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[HTTP_METHOD_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER",
};

http_method_t http_method_parse(const char *name)
{
    for (int i = 0; i < HTTP_OTHER; i++)
        if (strcmp(name, method_names[i]) == 0) return (http_method_t)i;
    return HTTP_OTHER;
}

const char *http_method_name(http_method_t m)
{
    return m < HTTP_METHOD_COUNT ? method_names[m] : "OTHER";
}

void http_router_init(http_router_t *r)
{
    memset(r, 0, sizeof *r);
}

void http_router_free(http_router_t *r)
{
    for (size_t i = 0; i < r->nroutes; i++) {
        free(r->routes[i].tmpl);
        for (size_t k = 0; k < r->routes[i].nsegs; k++) free(r->routes[i].segs[k]);
    }
    r->nroutes = 0;
}

/* Splits a template into segments; -EINVAL when malformed. */
static int parse_template(http_route_t *rt, const char *tmpl)
{
    if (tmpl[0] != '/') return -EINVAL;
    const char *p = tmpl + 1;
    if (*p == '\0') return 0; /* "/" */
    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0 || rt->nsegs == HTTP_ROUTE_SEGMENTS_MAX) return -EINVAL;
        if (p[0] == '{' && (n < 3 || p[n - 1] != '}')) return -EINVAL;
        if (!(rt->segs[rt->nsegs++] = strndup(p, n))) return -ENOMEM;
        if (!end) break;
        p = end + 1;
        if (*p == '\0') return -EINVAL; /* trailing slash */
    }
    return 0;
}

int http_router_add(http_router_t *r, http_method_t m, const char *tmpl, http_handler_fn fn,
                    void *ctx, unsigned flags, int ok_status)
{
    if (m == HTTP_HEAD || m >= HTTP_OTHER || !fn || !tmpl) return -EINVAL;
    http_route_t *rt = NULL;
    for (size_t i = 0; i < r->nroutes; i++)
        if (strcmp(r->routes[i].tmpl, tmpl) == 0) rt = &r->routes[i];
    if (!rt) {
        if (r->nroutes == HTTP_ROUTES_MAX) return -ENOSPC;
        rt = &r->routes[r->nroutes];
        memset(rt, 0, sizeof *rt);
        int rc = parse_template(rt, tmpl);
        if (rc == 0 && !(rt->tmpl = strdup(tmpl))) rc = -ENOMEM;
        if (rc) {
            for (size_t k = 0; k < rt->nsegs; k++) free(rt->segs[k]);
            memset(rt, 0, sizeof *rt);
            return rc;
        }
        r->nroutes++;
    }
    if (rt->handlers[m]) return -EINVAL;
    rt->handlers[m] = fn;
    rt->ctx[m] = ctx;
    rt->flags[m] = flags;
    rt->ok_status[m] = ok_status ? ok_status : 200;
    return 0;
}

/* Matches path against rt; fills params. */
static bool match_route(const http_route_t *rt, const char *path, http_match_t *out)
{
    if (path[0] != '/') return false;
    const char *p = path + 1;
    size_t np = 0;
    if (rt->nsegs == 0) return *p == '\0';
    for (size_t i = 0; i < rt->nsegs; i++) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 0) return false;
        const char *seg = rt->segs[i];
        if (seg[0] == '{') {
            if (np < HTTP_PARAMS_MAX) out->params[np++] = (http_param_t){seg, p, n};
        } else if (strlen(seg) != n || memcmp(seg, p, n) != 0) {
            return false;
        }
        if (i + 1 < rt->nsegs) {
            if (!end) return false;
            p = end + 1;
        } else if (end) {
            return false; /* path has more segments (or a trailing slash) */
        }
    }
    out->nparams = np;
    return true;
}

http_match_result_t http_router_match(const http_router_t *r, http_method_t m, const char *path,
                                      http_match_t *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->nroutes; i++) {
        const http_route_t *rt = &r->routes[i];
        if (!match_route(rt, path, out)) continue;
        out->route = rt;
        http_method_t run = m == HTTP_HEAD && !rt->handlers[HTTP_HEAD] ? HTTP_GET : m;
        out->method = run;
        if (run < HTTP_OTHER && rt->handlers[run]) return HTTP_MATCH_OK;
        return HTTP_MATCH_BAD_METHOD;
    }
    return HTTP_MATCH_NOT_FOUND;
}

void http_route_allow(const http_route_t *rt, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int m = 0; m < HTTP_OTHER; m++) {
        bool on = rt->handlers[m] || (m == HTTP_HEAD && rt->handlers[HTTP_GET]);
        if (!on) continue;
        int k = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", method_names[m]);
        if (k < 0 || (size_t)k >= size - n) break;
        n += (size_t)k;
    }
}
