/* health: component states, checked by a background thread.
 *
 * Each component has a check function returning healthy, degraded or
 * unhealthy (with a short detail). A thread runs every check every interval
 * and publishes component_health_status{component} (1, 0.5, 0): a scrape
 * only reads the gauges, it never runs a check. Readiness fails when a
 * component marked `required` (one that queries need) is unhealthy. */
#ifndef RAGD_HEALTH_H
#define RAGD_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "metrics/metrics.h"

#define HEALTH_MAX_COMPONENTS 16
#define HEALTH_NAME_MAX       32  /* bytes of a component name, with its NUL */
#define HEALTH_DETAIL_MAX     160 /* bytes of a detail, with its NUL */

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
/* One component's state, as of the last check or health_set. */
typedef struct health_status {
    char name[HEALTH_NAME_MAX];
    health_state_t state;
    bool required;
    char detail[HEALTH_DETAIL_MAX]; /* "" when there is nothing to say */
} health_status_t;

/* Copies every component's state into out[0..max) in the order added and
 * returns how many; *ready says whether every required one is usable (not
 * unhealthy). */
size_t health_snapshot(health_t *h, health_status_t *out, size_t max, bool *ready);
const char *health_state_name(health_state_t s);
/* Stops the thread and frees; clears *h. */
void health_free(health_t **h);

#endif
