/* rag_health: the pipeline's components in /ready and
 * component_health_status: store, embedder and index (needed for queries)
 * and cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "rag/rag_int.h"

static health_state_t check_store(void *ctx, char *detail, size_t n)
{
    rag_t *r = ctx;
    return store_check(r->store, detail, n) == 0 ? HEALTH_HEALTHY : HEALTH_UNHEALTHY;
}

/* Healthy until a call fails; then each check probes the backend with a
 * one-word input, so the state recovers without waiting for traffic. */
static health_state_t check_embedder(void *ctx, char *detail, size_t n)
{
    rag_t *r = ctx;
    if (!atomic_load(&r->embedder_failed)) return HEALTH_HEALTHY;
    static const char *const probe[] = {"health"};
    static const size_t plen[] = {6};
    float *v = malloc(r->emb->dim * sizeof(float));
    char err[256];
    int rc = v ? rag_embed(r, probe, plen, 1, v, err, sizeof err) : -ENOMEM;
    free(v);
    if (rc == 0) return HEALTH_HEALTHY;
    snprintf(detail, n, "%s", err); /* the probe's own failure: no state shared with ingests */
    return HEALTH_UNHEALTHY;
}

static health_state_t check_index(void *ctx, char *detail, size_t n)
{
    rag_t *r = ctx;
    int64_t docs, chunks;
    pthread_mutex_lock(&r->cmu); /* store and index agree between writes: */
    pthread_mutex_lock(&r->amu); /* none committing, none being applied */
    size_t rows = vindex_size(r->index);
    int rc = store_counts(r->store, &docs, &chunks);
    pthread_mutex_unlock(&r->amu);
    pthread_mutex_unlock(&r->cmu);
    if (rc) {
        snprintf(detail, n, "cannot count the store's chunks");
        return HEALTH_DEGRADED;
    }
    if ((int64_t)rows != chunks) {
        snprintf(detail, n, "index holds %zu vectors, the store %lld", rows, (long long)chunks);
        return HEALTH_DEGRADED;
    }
    return HEALTH_HEALTHY;
}

/* Healthy until a call fails; then each check probes with one short text. */
static health_state_t check_reranker(void *ctx, char *detail, size_t n)
{
    rag_t *r = ctx;
    if (!atomic_load(&r->reranker_failed)) return HEALTH_HEALTHY;
    static const char *const probe[] = {"health"};
    static const size_t plen[] = {6};
    double score;
    if (rerank_score(r->reranker, "health", probe, plen, 1, &score, detail, n) == 0) {
        atomic_store(&r->reranker_failed, false);
        return HEALTH_HEALTHY;
    }
    return HEALTH_UNHEALTHY;
}

static health_state_t check_cache(void *ctx, char *detail, size_t n)
{
    return HEALTH_HEALTHY; /* in memory, it cannot fail; listed so /ready shows it */
}

int rag_add_health(rag_t *r, health_t *h)
{
    r->health = h;
    int rc = health_add(h, "store", check_store, r, true);
    if (!rc) rc = health_add(h, "embedder", check_embedder, r, true);
    if (!rc) rc = health_add(h, "index", check_index, r, true);
    if (!rc) rc = health_add(h, "cache", check_cache, r, false);
    if (!rc && r->reranker) rc = health_add(h, "reranker", check_reranker, r, false);
    return rc;
}
