#include "server/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#ifndef RAGD_VERSION
#define RAGD_VERSION "0.0.0"
#endif

/* Bodies under this are sent as they are: gzip costs more than it saves. */
#define METRICS_GZIP_MIN 1024
/* Disk use at which the data directory is reported degraded. */
#define DATA_DIR_DEGRADED_PCT 95.0
/* In-flight requests per worker thread above which http is degraded. */
#define HTTP_BUSY_PER_THREAD 64

/* ---- ops routes ------------------------------------------------------------ */

static void h_health(http_request_t *req, void *ctx)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    http_respond(req, 200, "application/json", ok, sizeof ok - 1);
}

static void h_ready(http_request_t *req, void *ctx)
{
    app_t *a = ctx;
    bool ready;
    health_status_t st[HEALTH_MAX_COMPONENTS];
    size_t n = health_snapshot(a->health, st, HEALTH_MAX_COMPONENTS, &ready);
    json_t *comps = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s,s:b}", "status", health_state_name(st[i].state), "required",
                              st[i].required);
        if (st[i].detail[0]) json_object_set_new(o, "detail", json_string(st[i].detail));
        json_object_set_new(comps, st[i].name, o);
    }
    http_respond_json(
        req, ready ? 200 : 503,
        json_pack("{s:s,s:o}", "status", ready ? "ready" : "not_ready", "components", comps));
}

static void h_metrics(http_request_t *req, void *ctx)
{
    app_t *a = ctx;
    metrics_format_t fmt = metrics_negotiate(http_request_header(req, "Accept"));
    buf_t body = BUF_INIT, z = BUF_INIT;
    if (metrics_expose(a->reg, fmt, &body) != 0) {
        buf_free(&body);
        http_respond_error(req, 500, "internal", "cannot build the exposition: out of memory");
        return;
    }
    http_response_header(req, "Vary", "Accept-Encoding");
    const buf_t *send = &body;
    if (body.len >= METRICS_GZIP_MIN &&
        metrics_accepts_gzip(http_request_header(req, "Accept-Encoding")) &&
        metrics_gzip(body.data, body.len, &z) == 0) {
        http_response_header(req, "Content-Encoding", "gzip");
        send = &z;
    }
    http_respond(req, 200, metrics_content_type(fmt), send->data, send->len);
    buf_free(&body);
    buf_free(&z);
}

/* ---- health checks --------------------------------------------------------- */

static health_state_t check_http(void *ctx, char *detail, size_t n)
{
    app_t *a = ctx;
    if (!a->http || !http_server_accepting(a->http)) {
        snprintf(detail, n, "not accepting connections");
        return HEALTH_UNHEALTHY;
    }
    long inflight = http_server_inflight(a->http);
    if (inflight > (long)a->threads * HTTP_BUSY_PER_THREAD) {
        snprintf(detail, n, "%ld requests in flight", inflight);
        return HEALTH_DEGRADED;
    }
    return HEALTH_HEALTHY;
}

/* probe_write: 0 when one byte can be written to a new file in dir, else
 * errno. The file is unnamed (O_TMPFILE) where the filesystem allows, so
 * the probe never shows in the directory: an operator's `rm -r` of it, or
 * a backup's listing, cannot meet a file that appears and vanishes. */
static int probe_write(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    char probe[1100] = "";
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        snprintf(probe, sizeof probe, "%s/.ragd-health-probe", dir);
        fd = open(probe, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    }
    if (fd < 0) return errno;
    int e = write(fd, "x", 1) == 1 ? 0 : errno ? errno : EIO;
    if (close(fd) != 0 && !e) e = errno;
    if (probe[0]) unlink(probe);
    return e;
}

static health_state_t check_data_dir(void *ctx, char *detail, size_t n)
{
    app_t *a = ctx;
    const char *dir = a->cfg.data_dir;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(detail, n, "%s is missing or not a directory", dir);
        return HEALTH_UNHEALTHY;
    }
    int e = probe_write(dir);
    if (e) {
        snprintf(detail, n, "%s is not writable: %s", dir, strerror(e));
        return HEALTH_UNHEALTHY;
    }
    double pct;
    if (collector_disk_usage_percent(dir, &pct) == 0 && pct >= DATA_DIR_DEGRADED_PCT) {
        snprintf(detail, n, "filesystem %.1f%% full", pct);
        return HEALTH_DEGRADED;
    }
    return HEALTH_HEALTHY;
}

int ops_build_info_register(metrics_registry_t *reg)
{
    static const char *const labels[] = {"version", "compiler", "libmicrohttpd", "jansson", "zlib"};
    const char *v[] = {RAGD_VERSION, "gcc " __VERSION__, MHD_get_version(), JANSSON_VERSION,
                       zlibVersion()};
    return metrics_info_register(
        reg, "ragd_build_info",
        "ragd's version and the libraries it runs with; the value is always 1.", labels, v, 5, NULL,
        0);
}

int ops_routes_add(app_t *a)
{
    int rc = http_router_add(&a->router, HTTP_GET, "/health", h_health, a, 0, 200);
    if (!rc) rc = http_router_add(&a->router, HTTP_GET, "/ready", h_ready, a, 0, 200);
    if (!rc) rc = http_router_add(&a->router, HTTP_GET, "/metrics", h_metrics, a, 0, 200);
    return rc;
}

int ops_health_add(app_t *a)
{
    int rc = health_add(a->health, "http", check_http, a, true);
    if (!rc) rc = health_add(a->health, "data_dir", check_data_dir, a, true);
    return rc;
}
