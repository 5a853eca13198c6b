/* dashboard: the monitoring dashboard a person opens in a browser, served
 * by ragd itself (no Grafana, no Docker): GET /dashboard is the page,
 * GET /dashboard/assets/{name} its files (embedded at build time), and
 * GET /dashboard/api/config what the page needs to know of this server.
 * The page renders the committed Grafana dashboard's panels itself, from
 * the same JSON (one source for panels), with data from Prometheus through
 * prom_proxy. An ops route like /metrics: read-only, never behind the API
 * key. */
#ifndef RAGD_DASHBOARD_H
#define RAGD_DASHBOARD_H

#include "http/router.h"
#include "server/prom_proxy.h"

/* Adds the page, asset and config routes, and the proxy's. */
int dashboard_routes_add(http_router_t *r, prom_proxy_t *p);

#endif
