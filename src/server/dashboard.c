#include "server/dashboard.h"

#include <string.h>

#include "http/server.h"
#include "server/dash_assets.h"

#ifndef RAGD_VERSION
#define RAGD_VERSION "0.0.0"
#endif

/* The page may load only its own files and talk only to ragd. */
#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' "                     \
    "data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const dash_asset_t *asset(const char *name)
{
    for (const dash_asset_t *a = dash_assets; name && a->name; a++)
        if (!strcmp(a->name, name)) return a;
    return NULL;
}

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return "application/octet-stream";
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (!strcmp(dot, ".json")) return "application/json";
    return "application/octet-stream";
}

static void serve(http_request_t *req, const dash_asset_t *a)
{
    http_response_header(req, "Cache-Control", "no-cache");
    http_response_header(req, "X-Content-Type-Options", "nosniff");
    if (!strcmp(a->name, "dashboard.html")) {
        http_response_header(req, "Content-Security-Policy", CSP);
        http_response_header(req, "Referrer-Policy", "no-referrer");
    }
    http_respond(req, 200, type_of(a->name), a->data, a->len);
}

static void h_page(http_request_t *req, void *ctx)
{
    const dash_asset_t *a = asset("dashboard.html");
    if (!a) {
        http_respond_error(req, 500, "internal", "this build has no dashboard page");
        return;
    }
    serve(req, a);
}

static void h_asset(http_request_t *req, void *ctx)
{
    const char *name = http_request_param(req, "name");
    const dash_asset_t *a = asset(name);
    if (!a || !strcmp(name, "dashboard.html")) {
        http_respond_error(req, 404, "not_found", "no dashboard file '%s'", name ? name : "");
        return;
    }
    serve(req, a);
}

static void h_config(http_request_t *req, void *ctx)
{
    const prom_proxy_t *p = ctx;
    http_respond_json(req, 200,
                      json_pack("{s:s,s:o,s:s}", "version", RAGD_VERSION, "prometheus",
                                p->configured ? json_string(p->up.base) : json_null(), "dashboard",
                                "rag-system-monitoring.json"));
}

int dashboard_routes_add(http_router_t *r, prom_proxy_t *p)
{
    int rc = http_router_add(r, HTTP_GET, "/dashboard", h_page, NULL, 0, 200);
    if (!rc) rc = http_router_add(r, HTTP_GET, "/dashboard/assets/{name}", h_asset, NULL, 0, 200);
    if (!rc) rc = http_router_add(r, HTTP_GET, "/dashboard/api/config", h_config, p, 0, 200);
    if (!rc) rc = prom_proxy_routes_add(r, p);
    return rc;
}
