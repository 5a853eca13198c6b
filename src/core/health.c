#include "core/health.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include "core/log.h"

struct component {
    char name[HEALTH_NAME_MAX];
    health_check_fn fn;
    void *ctx;
    bool required;
    health_state_t state;
    char detail[HEALTH_DETAIL_MAX];
    metrics_child_t *gauge;
};

struct health {
    pthread_mutex_t mu;     /* states and details */
    pthread_mutex_t run_mu; /* one round of checks at a time */
    pthread_cond_t cond;
    pthread_t thread;
    bool running, stop;
    double interval_s;
    metrics_family_t *fam;
    struct component c[HEALTH_MAX_COMPONENTS];
    size_t n;
};

const char *health_state_name(health_state_t s)
{
    return s == HEALTH_HEALTHY ? "healthy" : s == HEALTH_DEGRADED ? "degraded" : "unhealthy";
}

static double state_value(health_state_t s)
{
    return s == HEALTH_HEALTHY ? 1.0 : s == HEALTH_DEGRADED ? 0.5 : 0.0;
}

int health_new(health_t **out, metrics_registry_t *reg, double interval_s)
{
    static const char *const labels[] = {"component"};
    *out = NULL;
    health_t *h = calloc(1, sizeof *h);
    if (!h) return -ENOMEM;
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->run_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);
    pthread_condattr_destroy(&ca);
    h->interval_s = interval_s > 0 ? interval_s : 5;
    const metrics_def_t def = {{.type = METRICS_GAUGE,
                                .name = "component_health_status",
                                .help = "Component health: 1 healthy, 0.5 degraded, 0 unhealthy.",
                                .labels = labels,
                                .nlabels = 1,
                                .max_children = HEALTH_MAX_COMPONENTS},
                               &h->fam,
                               NULL};
    int rc = metrics_register_all(reg, &def, 1, NULL, 0);
    if (rc) {
        health_free(&h);
        return rc;
    }
    *out = h;
    return 0;
}

int health_add(health_t *h, const char *component, health_check_fn fn, void *ctx, bool required)
{
    if (!fn || !component || strlen(component) >= sizeof h->c[0].name) return -EINVAL;
    if (h->n == HEALTH_MAX_COMPONENTS || h->running) return -ENOSPC;
    struct component *c = &h->c[h->n];
    memset(c, 0, sizeof *c);
    strcpy(c->name, component);
    c->fn = fn;
    c->ctx = ctx;
    c->required = required;
    c->state = HEALTH_UNHEALTHY; /* until first checked */
    c->gauge = metrics_family_child(h->fam, (const char *[]){component});
    metrics_gauge_set(c->gauge, 0);
    h->n++;
    return 0;
}

void health_check_now(health_t *h)
{
    pthread_mutex_lock(&h->run_mu);
    for (size_t i = 0; i < h->n; i++) {
        struct component *c = &h->c[i];
        char detail[sizeof c->detail] = "";
        health_state_t s = c->fn(c->ctx, detail, sizeof detail);
        pthread_mutex_lock(&h->mu);
        health_state_t old = c->state;
        c->state = s;
        memcpy(c->detail, detail, sizeof detail);
        pthread_mutex_unlock(&h->mu);
        metrics_gauge_set(c->gauge, state_value(s));
        if (s != old && h->running)
            log_warn("health: %s is %s%s%s", c->name, health_state_name(s), detail[0] ? ": " : "",
                     detail);
    }
    pthread_mutex_unlock(&h->run_mu);
}

int health_set(health_t *h, const char *component, health_state_t s, const char *detail)
{
    for (size_t i = 0; i < h->n; i++) {
        struct component *c = &h->c[i];
        if (strcmp(c->name, component) != 0) continue;
        pthread_mutex_lock(&h->mu);
        c->state = s;
        snprintf(c->detail, sizeof c->detail, "%s", detail ? detail : "");
        pthread_mutex_unlock(&h->mu);
        metrics_gauge_set(c->gauge, state_value(s));
        return 0;
    }
    return -ENOENT;
}

static void *health_thread(void *arg)
{
    health_t *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + h->interval_s;
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&h->cond, &h->mu, &ts);
        if (h->stop) break;
        pthread_mutex_unlock(&h->mu);
        health_check_now(h);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int health_start(health_t *h)
{
    health_check_now(h);
    for (size_t i = 0; i < h->n; i++)
        if (h->c[i].state != HEALTH_HEALTHY)
            log_warn("health: %s is %s%s%s", h->c[i].name, health_state_name(h->c[i].state),
                     h->c[i].detail[0] ? ": " : "", h->c[i].detail);
    /* Before the thread exists: pthread_create orders this write before
     * anything the thread reads (set after, it raced with the first check). */
    h->running = true;
    int rc = pthread_create(&h->thread, NULL, health_thread, h);
    if (rc) {
        h->running = false;
        return -rc;
    }
    return 0;
}

size_t health_snapshot(health_t *h, health_status_t *out, size_t max, bool *ready)
{
    bool ok = true;
    size_t n = 0;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < h->n; i++) {
        const struct component *c = &h->c[i];
        if (c->required && c->state == HEALTH_UNHEALTHY) ok = false;
        if (n == max) continue;
        out[n] = (health_status_t){.state = c->state, .required = c->required};
        snprintf(out[n].name, sizeof out[n].name, "%s", c->name);
        snprintf(out[n].detail, sizeof out[n].detail, "%s", c->detail);
        n++;
    }
    pthread_mutex_unlock(&h->mu);
    *ready = ok;
    return n;
}

void health_free(health_t **hp)
{
    health_t *h = hp ? *hp : NULL;
    if (!h) return;
    if (h->running) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_cond_signal(&h->cond);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
    pthread_mutex_destroy(&h->run_mu);
    free(h);
    *hp = NULL;
}
