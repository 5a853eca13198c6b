/* ops: what operators and Prometheus ask of ragd itself, beside the RAG
 * API: the routes /health (liveness), /ready (each component's state) and
 * /metrics (negotiated format, gzip); the health checks of the HTTP server
 * and the data directory; and ragd_build_info. Never behind the API key. */
#ifndef RAGD_OPS_H
#define RAGD_OPS_H

#include "server/app.h"

/* Adds GET /health, /ready and /metrics to a->router. 0 or a negative code. */
int ops_routes_add(app_t *a);
/* Adds the components http and data_dir (both required) to a->health. */
int ops_health_add(app_t *a);
/* Registers ragd_build_info{version,compiler,libmicrohttpd,jansson,zlib}. */
int ops_build_info_register(metrics_registry_t *reg);

#endif
