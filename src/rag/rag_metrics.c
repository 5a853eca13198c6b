/* rag_metrics: the pipeline's families of the contract (see rag.h), and a
 * collector that publishes rag's own counts when /metrics is scraped: the
 * gauges report the state, they do not hold it. */
#include <stdio.h>

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
    const struct {
        metrics_family_opts_t opts;
        metrics_child_t **out;
    } one[] = {
        {{.type = METRICS_HISTOGRAM,
          .name = "embedding_generation_duration_seconds",
          .help = "Time of one embedder call, in seconds.",
          .buckets = o->buckets_embedding,
          .nbuckets = o->nbuckets_embedding},
         &m->embed_dur},
        {{.type = METRICS_HISTOGRAM,
          .name = "vector_search_duration_seconds",
          .help = "Time of one vector index search, in seconds.",
          .buckets = o->buckets_search,
          .nbuckets = o->nbuckets_search},
         &m->search_dur},
        {{.type = METRICS_COUNTER,
          .name = "query_cache_hits_total",
          .help = "Queries answered from the query cache."},
         &m->hits},
        {{.type = METRICS_COUNTER,
          .name = "query_cache_misses_total",
          .help = "Queries the query cache could not answer."},
         &m->misses},
        {{.type = METRICS_GAUGE,
          .name = "ragd_query_cache_entries",
          .help = "Entries in the query cache."},
         &m->cache_entries},
        {{.type = METRICS_GAUGE, .name = "active_documents_count", .help = "Documents stored now."},
         &m->docs},
        {{.type = METRICS_GAUGE,
          .name = "total_embeddings_count",
          .help = "Embedding vectors stored now."},
         &m->embeddings},
    };
    int rc = metrics_family_register(
        reg,
        &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,
                                 .name = "document_processing_duration_seconds",
                                 .help =
                                     "Time to ingest one document, parse to commit, in seconds.",
                                 .labels = type_label,
                                 .nlabels = 1,
                                 .buckets = o->buckets_document,
                                 .nbuckets = o->nbuckets_document},
        &doc_duration);
    for (int t = 0; !rc && t < DOC_TYPE_COUNT; t++) /* every type present from the start */
        rc = metrics_family_get(doc_duration, (const char *[]){doc_type_name((doc_type_t)t)},
                                &m->doc_dur[t]);
    for (size_t i = 0; !rc && i < sizeof one / sizeof one[0]; i++)
        rc = metrics_register_one(reg, &one[i].opts, one[i].out);
    if (!rc) rc = metrics_registry_add_collector(reg, collect, r);
    if (rc) snprintf(err, errlen, "metrics: %s", metrics_registry_error(reg));
    return rc;
}
