/* prom_proxy: the dashboard's read-only window on Prometheus.
 *
 * GET /dashboard/api/query?query=&time=,
 * GET /dashboard/api/query_range?query=&start=&end=&step= and
 * GET /dashboard/api/alerts are forwarded to the same API paths of the one
 * Prometheus that --prometheus-url names, and nothing else: no other path,
 * method, host or parameter (the parameters are copied by name, escaped,
 * and the URL is ragd's own). A call runs on a thread of its own (a slow
 * Prometheus holds no pool thread) with a timeout; Prometheus's status and
 * JSON come back as they are. Errors: 503 prometheus_not_configured,
 * 502 prometheus_unavailable (cannot connect, timeout, an answer too
 * large), 400 invalid_field (a missing or oversized parameter). */
#ifndef RAGD_PROM_PROXY_H
#define RAGD_PROM_PROXY_H

#include <stdbool.h>

#include "http/router.h"
#include "util/upstream.h"

typedef struct prom_proxy {
    upstream_t up; /* up.base: the Prometheus URL */
    bool configured;
    double timeout_s;
} prom_proxy_t;

/* url NULL or "": not configured (the routes answer 503). 0 or -EINVAL. */
int prom_proxy_init(prom_proxy_t *p, const char *url, double timeout_s);
void prom_proxy_free(prom_proxy_t *p);
/* Adds the three GET routes. */
int prom_proxy_routes_add(http_router_t *r, prom_proxy_t *p);

#endif
