/* serve: wires the service together and runs it.
 *
 * Start-up: options, data directory, metrics registry with its collectors
 * (process, host, GPU, build info), health components, routes, HTTP server,
 * health thread. Shutdown on SIGTERM/SIGINT: stop accepting, wait for
 * in-flight requests up to --shutdown-timeout, stop, exit 0. Signals are
 * blocked in every thread and taken by sigwait() in the main thread, so no
 * handler runs in the middle of anything. */
#include "server/serve.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "collectors/gpu.h"
#include "collectors/system.h"
#include "core/health.h"
#include "core/log.h"
#include "http/server.h"
#include "metrics/process.h"
#include "rag/rag.h"
#include "server/config.h"
#include "server/routes_rag.h"

#ifndef RAGD_VERSION
#define RAGD_VERSION "0.0.0"
#endif

/* Bodies under this are sent as they are: gzip costs more than it saves. */
#define METRICS_GZIP_MIN 1024
/* Disk use at which the data directory is reported degraded. */
#define DATA_DIR_DEGRADED_PCT 95.0
/* In-flight requests per worker thread above which http is degraded. */
#define HTTP_BUSY_PER_THREAD 64

typedef struct app {
    config_t cfg;
    metrics_registry_t *reg;
    metrics_process_t *proc;
    collector_system_t *sys;
    collector_gpu_t *gpu;
    health_t *health;
    http_router_t router;
    http_server_t *http;
    unsigned threads;
    rag_t *rag;
    routes_rag_opts_t rag_routes;
} app_t;

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

static health_state_t check_data_dir(void *ctx, char *detail, size_t n)
{
    app_t *a = ctx;
    const char *dir = a->cfg.data_dir;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(detail, n, "%s is missing or not a directory", dir);
        return HEALTH_UNHEALTHY;
    }
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/.ragd-health-probe", dir);
    FILE *f = fopen(probe, "w");
    if (!f || fputc('x', f) == EOF || fclose(f) != 0) {
        int e = errno;
        snprintf(detail, n, "%s is not writable: %s", dir, strerror(e));
        return HEALTH_UNHEALTHY;
    }
    unlink(probe);
    double pct;
    if (collector_disk_usage_percent(dir, &pct) == 0 && pct >= DATA_DIR_DEGRADED_PCT) {
        snprintf(detail, n, "filesystem %.1f%% full", pct);
        return HEALTH_DEGRADED;
    }
    return HEALTH_HEALTHY;
}

/* ---- start-up ---------------------------------------------------------------- */

static int add_build_info(metrics_registry_t *reg)
{
    static const char *const labels[] = {"version", "compiler", "libmicrohttpd", "jansson", "zlib"};
    metrics_family_t *f;
    int rc = metrics_family_register(
        reg,
        &(metrics_family_opts_t){
            .type = METRICS_INFO,
            .name = "ragd_build_info",
            .help = "ragd's version and the libraries it runs with; the value is always 1.",
            .labels = labels,
            .nlabels = 5},
        &f);
    if (rc) return rc;
    const char *v[] = {RAGD_VERSION, "gcc " __VERSION__, MHD_get_version(), JANSSON_VERSION,
                       zlibVersion()};
    metrics_child_t *c;
    return metrics_family_get(f, v, &c);
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0750) != 0 && errno != EEXIST) return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0750) != 0 && errno != EEXIST) return -errno;
    return 0;
}

static int start(app_t *a, char *err, size_t errlen)
{
    int rc;
    if ((rc = mkdir_p(a->cfg.data_dir)) != 0) {
        snprintf(err, errlen, "cannot create data directory %s: %s", a->cfg.data_dir,
                 strerror(-rc));
        return rc;
    }
    if ((rc = metrics_registry_new(&a->reg, NULL)) != 0 ||
        (rc = metrics_process_register(a->reg, NULL, &a->proc)) != 0 ||
        (rc = collector_system_register(
             a->reg,
             &(collector_system_opts_t){.data_dir = a->cfg.data_dir, .version = RAGD_VERSION},
             &a->sys)) != 0 ||
        (rc = collector_gpu_register(a->reg, a->cfg.nvml_library[0] ? a->cfg.nvml_library : NULL,
                                     &a->gpu)) != 0 ||
        (rc = add_build_info(a->reg)) != 0) {
        snprintf(err, errlen, "metrics: %s",
                 a->reg ? metrics_registry_error(a->reg) : strerror(-rc));
        return rc;
    }
    embedder_t *emb;
    config_t *c = &a->cfg;
    if (c->embedder == CONFIG_EMBEDDER_OPENAI)
        rc = embed_openai_new(&emb,
                              &(embed_openai_opts_t){.url = c->embedder_url,
                                                     .model = c->embedder_model,
                                                     .api_key = getenv("RAGD_EMBEDDER_API_KEY"),
                                                     .dim = c->embedding_dim,
                                                     .timeout_s = c->embedder_timeout_s,
                                                     .retries = c->embedder_retries});
    else
        rc = embed_hash_new(&emb, c->embedding_dim);
    if (rc) {
        snprintf(err, errlen, "embedder: %s", strerror(-rc));
        return rc;
    }
    rag_opts_t ro = {
        .data_dir = c->data_dir,
        .embedder = emb,
        .chunk = {c->chunk_tokens, c->chunk_overlap, c->max_chunks},
        .parse = {.timeout_s = c->pdf_timeout_s, .max_memory = (size_t)2 << 30, .max_pages = 5000},
        .cache_entries = c->cache_entries,
        .cache_ttl_s = c->cache_ttl_s,
        .reg = a->reg,
        .buckets_document = c->buckets_document.v,
        .nbuckets_document = c->buckets_document.n,
        .buckets_embedding = c->buckets_embedding.v,
        .nbuckets_embedding = c->buckets_embedding.n,
        .buckets_search = c->buckets_search.v,
        .nbuckets_search = c->buckets_search.n,
    };
    if ((rc = rag_open(&a->rag, &ro, err, errlen)) != 0) return rc;
    a->rag_routes = (routes_rag_opts_t){a->rag, c->max_query, c->max_top_k};
    if ((rc = health_new(&a->health, a->reg, a->cfg.health_interval_s)) != 0 ||
        (rc = health_add(a->health, "http", check_http, a, true)) != 0 ||
        (rc = health_add(a->health, "data_dir", check_data_dir, a, true)) != 0 ||
        (rc = rag_add_health(a->rag, a->health)) != 0) {
        snprintf(err, errlen, "health: %s", strerror(-rc));
        return rc;
    }
    http_router_init(&a->router);
    if ((rc = http_router_add(&a->router, HTTP_GET, "/health", h_health, a, 0, 200)) != 0 ||
        (rc = http_router_add(&a->router, HTTP_GET, "/ready", h_ready, a, 0, 200)) != 0 ||
        (rc = http_router_add(&a->router, HTTP_GET, "/metrics", h_metrics, a, 0, 200)) != 0 ||
        (rc = routes_rag_add(&a->router, &a->rag_routes)) != 0) {
        snprintf(err, errlen, "routes: %s", strerror(-rc));
        return rc;
    }
    a->threads = a->cfg.threads ? a->cfg.threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    http_server_opts_t ho = {
        .listen = a->cfg.listen,
        .threads = a->threads,
        .max_body = a->cfg.max_body,
        .timeout_s = (unsigned)a->cfg.timeout_s,
        .api_key = a->cfg.api_key,
        .access_log = a->cfg.access_log,
        .metrics = a->cfg.request_metrics ? a->reg : NULL,
        .buckets = a->cfg.buckets_http.v,
        .nbuckets = a->cfg.buckets_http.n,
    };
    if ((rc = http_server_start(&a->http, &a->router, &ho, err, errlen)) != 0) return rc;
    if ((rc = health_start(a->health)) != 0) {
        snprintf(err, errlen, "health thread: %s", strerror(-rc));
        return rc;
    }
    return 0;
}

static void stop(app_t *a)
{
    if (a->http) {
        http_server_quiesce(a->http);
        long left = http_server_drain(a->http, a->cfg.shutdown_timeout_s);
        if (left > 0)
            log_warn("shutdown: %ld request(s) still in flight after %.1fs, closing", left,
                     a->cfg.shutdown_timeout_s);
    }
    health_free(&a->health); /* its checks read the server */
    http_server_stop(&a->http);
    http_router_free(&a->router);
    rag_close(&a->rag);
    collector_gpu_free(&a->gpu);
    metrics_registry_free(&a->reg);
    metrics_process_free(&a->proc);
    collector_system_free(&a->sys);
}

int serve_main(int argc, char **argv, char **envp)
{
    static app_t app; /* large; one per process */
    app_t *a = &app;
    char err[2048] = "";
    config_defaults(&a->cfg);
    int rc = config_parse(&a->cfg, argc, argv, envp, stdout, err, sizeof err);
    if (rc == 1) return 0;
    if (rc) {
        fprintf(stderr, "ragd serve: %s\n", err);
        return 2;
    }
    log_init(a->cfg.log_format, 2);

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by every thread */
    signal(SIGPIPE, SIG_IGN);

    if (start(a, err, sizeof err) != 0) {
        log_error("cannot start: %s", err);
        stop(a);
        return 1;
    }
    log_info("ragd %s listening on http://%s (data %s, %u threads, api key %s)", RAGD_VERSION,
             http_server_address(a->http), a->cfg.data_dir, a->threads,
             a->cfg.api_key[0] ? "required on write routes" : "not set");
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("received %s: stopping (waiting up to %.1fs for in-flight requests)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT", a->cfg.shutdown_timeout_s);
    stop(a);
    log_info("stopped");
    return 0;
}
