/* rag_metrics: the pipeline's families of the contract (see rag.h), and a
 * collector that publishes rag's own counts when /metrics is scraped: the
 * gauges report the state, they do not hold it. */
#include <stdio.h>
#include <string.h>

#include "rag/rag_int.h"

static void collect(void *ctx)
{
    rag_t *r = ctx;
    metrics_gauge_set(r->m.docs, (double)atomic_load(&r->ndocs));
    metrics_gauge_set(r->m.embeddings, (double)atomic_load(&r->nchunks));
    metrics_gauge_set(r->m.cache_entries, (double)cache_size(r->cache));
}

int rag_metrics_register(rag_t *r, metrics_registry_t *reg, const rag_opts_t *o, char *err,
                         size_t errlen)
{
    static const char *const type_label[] = {"document_type"};
    struct rag_metrics *m = &r->m;
    metrics_family_t *doc_duration;
    const metrics_def_t defs[] = {
        {{.type = METRICS_HISTOGRAM,
          .name = "document_processing_duration_seconds",
          .help = "Time to ingest one document, parse to commit, in seconds.",
          .labels = type_label,
          .nlabels = 1,
          .buckets = o->buckets_document,
          .nbuckets = o->nbuckets_document},
         &doc_duration,
         NULL},
        {{.type = METRICS_HISTOGRAM,
          .name = "embedding_generation_duration_seconds",
          .help = "Time of one embedder call, in seconds.",
          .buckets = o->buckets_embedding,
          .nbuckets = o->nbuckets_embedding},
         NULL,
         &m->embed_dur},
        {{.type = METRICS_HISTOGRAM,
          .name = "vector_search_duration_seconds",
          .help = "Time of one vector index search, in seconds.",
          .buckets = o->buckets_search,
          .nbuckets = o->nbuckets_search},
         NULL,
         &m->search_dur},
        {{.type = METRICS_COUNTER,
          .name = "query_cache_hits_total",
          .help = "Queries answered from the query cache."},
         NULL,
         &m->hits},
        {{.type = METRICS_COUNTER,
          .name = "query_cache_misses_total",
          .help = "Queries the query cache could not answer."},
         NULL,
         &m->misses},
        {{.type = METRICS_GAUGE,
          .name = "ragd_query_cache_entries",
          .help = "Entries in the query cache."},
         NULL,
         &m->cache_entries},
        {{.type = METRICS_GAUGE, .name = "active_documents_count", .help = "Documents stored now."},
         NULL,
         &m->docs},
        {{.type = METRICS_GAUGE,
          .name = "total_embeddings_count",
          .help = "Embedding vectors stored now."},
         NULL,
         &m->embeddings},
    };
    char why[256] = "";
    int rc = metrics_register_all(reg, defs, sizeof defs / sizeof defs[0], why, sizeof why);
    for (int t = 0; !rc && t < DOC_TYPE_COUNT; t++) /* every type present from the start */
        rc = metrics_family_get(doc_duration, (const char *[]){doc_type_name((doc_type_t)t)},
                                &m->doc_dur[t]);
    if (!rc) rc = metrics_registry_add_collector(reg, collect, r);
    if (rc) snprintf(err, errlen, "metrics: %s", why[0] ? why : strerror(-rc));
    return rc;
}
