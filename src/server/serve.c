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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors/gpu.h"
#include "collectors/system.h"
#include "core/health.h"
#include "core/log.h"
#include "http/server.h"
#include "answer/answer.h"
#include "gen/gen.h"
#include "metrics/process.h"
#include "rag/rag.h"
#include "server/app.h"
#include "server/config.h"
#include "server/dashboard.h"
#include "server/ops.h"
#include "server/routes_rag.h"
#include "util/clock.h"
#include "util/file.h"

/* The embedder the options name, then the pipeline over the data
 * directory (rag owns the embedder from then on). */
static int open_rag(app_t *a, char *err, size_t errlen)
{
    int rc;
    embedder_t *emb;
    const config_t *c = &a->cfg;
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
    reranker_t *rr = NULL;
    if (c->reranker_url[0] &&
        (rc = rerank_new(&rr, &(rerank_opts_t){.url = c->reranker_url,
                                               .model = c->reranker_model,
                                               .api_key = getenv("RAGD_RERANKER_API_KEY"),
                                               .timeout_s = c->reranker_timeout_s})) != 0) {
        embed_free(&emb);
        snprintf(err, errlen, "--reranker-url %s: %s", c->reranker_url, strerror(-rc));
        return rc;
    }
    rag_opts_t ro = {
        .data_dir = c->data_dir,
        .vindex = {.kind = (vindex_kind_t)c->vector_index,
                   .m = c->hnsw_m,
                   .ef_construction = c->hnsw_ef_construction,
                   .ef_search = c->hnsw_ef_search,
                   .build_threads = c->hnsw_build_threads,
                   .ann_min_rows = c->ann_min_chunks},
        .embedder = emb,
        .reranker = rr,
        .rerank_depth = c->rerank_depth,
        .vector_weight = c->vector_weight,
        .chunk = {c->chunk_tokens, c->chunk_overlap, c->max_chunks},
        .ingest_workers = c->ingest_workers,
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
    return rag_open(&a->rag, &ro, err, errlen);
}

#define PROMPT_FILE_MAX (64 * 1024)

/* The generator the options name, and the answerer over the pipeline. */
static int open_answerer(app_t *a, char *err, size_t errlen)
{
    const config_t *c = &a->cfg;
    generator_t *gen;
    int rc;
    if (c->generator == CONFIG_GENERATOR_OPENAI)
        rc = gen_openai_new(&gen, &(gen_openai_opts_t){
                                      .url = c->generator_url,
                                      .model = c->generator_model,
                                      .api_key = getenv("RAGD_GENERATOR_API_KEY"),
                                      .connect_timeout_s = c->generator_connect_timeout_s,
                                      .first_token_timeout_s = c->generator_first_token_timeout_s,
                                      .timeout_s = c->generator_timeout_s,
                                      .retries = c->generator_retries,
                                  });
    else
        rc = gen_extractive_new(&gen);
    if (rc) {
        snprintf(err, errlen, "generator: %s", strerror(-rc));
        return rc;
    }
    char *template = NULL;
    if (c->prompt_template[0]) {
        long n = (template = malloc(PROMPT_FILE_MAX))
                     ? file_read_all(c->prompt_template, template, PROMPT_FILE_MAX)
                     : -ENOMEM;
        if (n < 0) {
            snprintf(err, errlen, "--prompt-template %s: %s", c->prompt_template,
                     strerror((int)-n));
            free(template);
            gen_free(&gen);
            return (int)n;
        }
    }
    rc = answer_new(&a->answerer,
                    &(answer_opts_t){.rag = a->rag,
                                     .gen = gen,
                                     .template = template,
                                     .context_tokens = c->context_tokens,
                                     .max_tokens = c->generator_max_tokens,
                                     .reg = a->reg},
                    err, errlen);
    free(template);
    a->answer_routes = (routes_answer_opts_t){
        .answerer = a->answerer,
        .lim = {c->max_query, c->max_top_k, c->max_per_document},
        .max_concurrent = c->max_answers,
        .started = clock_epoch(),
    };
    return rc;
}

static int start(app_t *a, char *err, size_t errlen)
{
    int rc;
    if ((rc = file_mkdir_p(a->cfg.data_dir, 0750)) != 0) {
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
        (rc = ops_build_info_register(a->reg)) != 0) {
        /* fixed names: only memory can fail here (a clash is a bug the tests catch) */
        snprintf(err, errlen, "metrics: %s", strerror(-rc));
        return rc;
    }
    if ((rc = open_rag(a, err, errlen)) != 0 || (rc = open_answerer(a, err, errlen)) != 0)
        return rc;
    const config_t *c = &a->cfg;
    a->rag_routes = (routes_rag_opts_t){a->rag,
                                        {c->max_query, c->max_top_k, c->max_per_document},
                                        c->max_batch,
                                        rag_ingest_workers(a->rag)};
    if ((rc = health_new(&a->health, a->reg, a->cfg.health_interval_s)) != 0 ||
        (rc = ops_health_add(a)) != 0 || (rc = rag_add_health(a->rag, a->health)) != 0 ||
        (rc = answer_add_health(a->answerer, a->health)) != 0) {
        snprintf(err, errlen, "health: %s", strerror(-rc));
        return rc;
    }
    if ((rc = prom_proxy_init(&a->prom, c->prometheus_url, c->prometheus_timeout_s)) != 0) {
        snprintf(err, errlen, "--prometheus-url %s: %s", c->prometheus_url, strerror(-rc));
        return rc;
    }
    http_router_init(&a->router);
    if ((rc = ops_routes_add(a)) != 0 || (rc = routes_rag_add(&a->router, &a->rag_routes)) != 0 ||
        (rc = routes_answer_add(&a->router, &a->answer_routes)) != 0 ||
        (rc = dashboard_routes_add(&a->router, &a->prom)) != 0) {
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
    prom_proxy_free(&a->prom);
    if (routes_answer_wait(&a->answer_routes, 5) > 0) /* they have answered; let them end */
        log_warn("shutdown: answer threads still running");
    else
        answer_free(&a->answerer);
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
