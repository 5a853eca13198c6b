/* app: the running service's parts, as serve.c wires them; ops.c reads
 * them to answer the ops routes and run its checks. */
#ifndef RAGD_APP_H
#define RAGD_APP_H

#include "collectors/gpu.h"
#include "collectors/system.h"
#include "core/health.h"
#include "http/router.h"
#include "http/server.h"
#include "metrics/process.h"
#include "rag/rag.h"
#include "server/config.h"
#include "server/prom_proxy.h"
#include "server/routes_answer.h"
#include "server/routes_rag.h"

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
    answerer_t *answerer;
    routes_answer_opts_t answer_routes;
    prom_proxy_t prom;
} app_t;

#endif
