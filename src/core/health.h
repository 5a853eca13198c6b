/* health: component states, checked by a background thread.
 *
 * Each component has a check function returning healthy, degraded or
 * unhealthy (with a short detail). A thread runs every check every interval
 * and publishes component_health_status{component} (1, 0.5, 0): a scrape
 * only reads the gauges, it never runs a check. Readiness fails when a
 * component marked `required` (one that queries need) is unhealthy. */
#ifndef RAGD_HEALTH_H
#define RAGD_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "metrics/metrics.h"

#define HEALTH_MAX_COMPONENTS 16

typedef enum health_state { HEALTH_UNHEALTHY, HEALTH_DEGRADED, HEALTH_HEALTHY } health_state_t;

/* Writes up to n bytes of detail (may be left empty) and returns the state. */
typedef health_state_t (*health_check_fn)(void *ctx, char *detail, size_t n);

typedef struct health health_t;

/* interval_s: seconds between rounds of checks. */
int health_new(health_t **out, metrics_registry_t *reg, double interval_s);
/* Adds a component before health_start(). 0, -EINVAL or -ENOSPC. */
int health_add(health_t *h, const char *component, health_check_fn fn, void *ctx, bool required);
/* Runs every check once, synchronously, then starts the thread. */
int health_start(health_t *h);
/* Records a state seen outside the checks (a failed call), at once; the
 * next check may change it again. -ENOENT for an unknown component. */
int health_set(health_t *h, const char *component, health_state_t s, const char *detail);
/* Runs every check now (tests, and right after a state change). */
void health_check_now(health_t *h);
/* {"status":"ready"|"not_ready","components":{name:{"status":...,"detail":...}}};
 * *ready says whether every required component is usable. */
json_t *health_report(health_t *h, bool *ready);
const char *health_state_name(health_state_t s);
/* Stops the thread and frees; clears *h. */
void health_free(health_t **h);

#endif
