#include "server/prom_proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "util/buf.h"

#define QUERY_MAX  (16 * 1024)        /* bytes of one parameter */
#define ANSWER_MAX ((size_t)64 << 20) /* 1,000 series of a day at 1-minute steps fit */
#define NPARAMS    4

typedef struct api {
    const char *path;            /* Prometheus's, after the base URL */
    const char *params[NPARAMS]; /* the ones forwarded, in order */
    unsigned required;           /* bit i: params[i] must be given */
} api_t;

static const api_t QUERY = {"/api/v1/query", {"query", "time"}, 1u};
static const api_t QUERY_RANGE = {"/api/v1/query_range", {"query", "start", "end", "step"}, 0xfu};
static const api_t ALERTS = {"/api/v1/alerts", {NULL}, 0};

typedef struct call {
    prom_proxy_t *p;
    http_request_t *req;
    char *url;
} call_t;

int prom_proxy_init(prom_proxy_t *p, const char *url, double timeout_s)
{
    memset(p, 0, sizeof *p);
    p->timeout_s = timeout_s > 0 ? timeout_s : 10;
    if (!url || !*url) return 0;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) return -EINVAL;
    int rc = upstream_init(&p->up, url, "", NULL, NULL); /* the base: the paths are ours */
    if (!rc) p->configured = true;
    return rc;
}

void prom_proxy_free(prom_proxy_t *p)
{
    if (p->configured) upstream_free(&p->up);
    p->configured = false;
}

static void *call_main(void *arg)
{
    call_t *c = arg;
    prom_proxy_t *p = c->p;
    CURL *h = upstream_take(&p->up);
    buf_t body;
    buf_init(&body, ANSWER_MAX);
    char cerr[CURL_ERROR_SIZE] = "";
    CURLcode cc = CURLE_OUT_OF_MEMORY;
    long status = 0;
    if (h) {
        curl_easy_setopt(h, CURLOPT_URL, c->url);
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, buf_write_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(p->timeout_s * 1000));
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* gzip from Prometheus when it can */
        cc = curl_easy_perform(h);
        if (cc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        upstream_give(&p->up, h);
    }
    if (cc != CURLE_OK) {
        http_respond_error(c->req, 502, "prometheus_unavailable", "Prometheus at %s: %s",
                           p->up.base,
                           buf_error(&body) ? "its answer is too large"
                           : cerr[0]        ? cerr
                                            : curl_easy_strerror(cc));
    } else if (status == 200 || status == 400 || status == 422 || status == 503) {
        http_respond(c->req, (int)status, "application/json", body.data ? body.data : "", body.len);
    } else {
        http_respond_error(c->req, 502, "prometheus_unavailable",
                           "Prometheus at %s answered HTTP %ld", p->up.base, status);
    }
    buf_free(&body);
    free(c->url);
    free(c);
    return NULL;
}

static void forward(http_request_t *req, prom_proxy_t *p, const api_t *api)
{
    if (!p->configured) {
        http_respond_error(req, 503, "prometheus_not_configured",
                           "ragd was started without --prometheus-url (RAGD_PROMETHEUS_URL)");
        return;
    }
    buf_t url = BUF_INIT;
    buf_printf(&url, "%s%s", p->up.base, api->path);
    char sep = '?';
    for (int i = 0; i < NPARAMS && api->params[i]; i++) {
        const char *v = http_request_query(req, api->params[i]);
        if (!v || !*v) {
            if (api->required & (1u << i)) {
                http_respond_error(req, 400, "invalid_field", "'%s' is required", api->params[i]);
                buf_free(&url);
                return;
            }
            continue;
        }
        if (strlen(v) > QUERY_MAX) {
            http_respond_error(req, 400, "invalid_field", "'%s' is longer than %d bytes",
                               api->params[i], QUERY_MAX);
            buf_free(&url);
            return;
        }
        char *e = curl_easy_escape(NULL, v, 0);
        buf_printf(&url, "%c%s=%s", sep, api->params[i], e ? e : "");
        curl_free(e);
        sep = '&';
    }
    buf_putc(&url, '\0');
    call_t *c = buf_error(&url) ? NULL : calloc(1, sizeof *c);
    if (!c) {
        buf_free(&url);
        http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    *c = (call_t){p, req, buf_steal(&url, NULL)};
    int rc = http_request_spawn(req, call_main, c);
    if (rc) {
        free(c->url);
        free(c);
        http_respond_error(req, 503, "busy", "cannot start a Prometheus call: %s", strerror(-rc));
    }
}

static void h_query(http_request_t *req, void *ctx)
{
    forward(req, ctx, &QUERY);
}

static void h_query_range(http_request_t *req, void *ctx)
{
    forward(req, ctx, &QUERY_RANGE);
}

static void h_alerts(http_request_t *req, void *ctx)
{
    forward(req, ctx, &ALERTS);
}

int prom_proxy_routes_add(http_router_t *r, prom_proxy_t *p)
{
    int rc = http_router_add(r, HTTP_GET, "/dashboard/api/query", h_query, p, 0, 200);
    if (!rc)
        rc = http_router_add(r, HTTP_GET, "/dashboard/api/query_range", h_query_range, p, 0, 200);
    if (!rc) rc = http_router_add(r, HTTP_GET, "/dashboard/api/alerts", h_alerts, p, 0, 200);
    return rc;
}
