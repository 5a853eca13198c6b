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
    vindex_stats_t st;
    vindex_stats(r->index, &st);
    metrics_gauge_set(r->m.vi_graph, (double)st.graph_rows);
    metrics_gauge_set(r->m.vi_flat, (double)st.flat_rows);
    metrics_gauge_set(r->m.vi_deleted, (double)(st.graph_deleted + st.pending_deletes));
    metrics_gauge_set(r->m.vi_memory, (double)st.memory_bytes);
    if (st.recall >= 0) metrics_gauge_set(r->m.vi_recall, st.recall);
    metrics_counter_set(r->m.vi_checks, (double)st.recall_checks);
    metrics_counter_set(r->m.vi_saves_ok, (double)st.saves);
    metrics_counter_set(r->m.vi_saves_err, (double)st.save_errors);
    kwindex_stats_t ks;
    kwindex_stats(r->kw, &ks);
    metrics_gauge_set(r->m.kw_segments, (double)ks.segments);
    metrics_gauge_set(r->m.kw_bytes, (double)ks.bytes);
    metrics_gauge_set(r->m.kw_deleted, (double)ks.deleted);
    metrics_counter_set(r->m.kw_flushes, (double)ks.flushes);
    metrics_counter_set(r->m.kw_merges, (double)ks.merges);
    store_stats_t ss;
    store_stats(r->store, &ss);
    metrics_counter_set(r->m.ckpt_thread, (double)ss.checkpoints_background);
    metrics_counter_set(r->m.ckpt_writer, (double)ss.checkpoints_inline);
    metrics_counter_set(r->m.ckpt_errors, (double)ss.checkpoint_failures);
    metrics_gauge_set(r->m.wal_bytes, (double)ss.wal_bytes);
}

/* The index's settings as an info metric (after rag_open built it). */
static int register_index_info(rag_t *r, metrics_registry_t *reg, char *why, size_t n)
{
    static const char *const labels[] = {
        "kind", "m", "ef_construction", "ef_search", "ann_min_chunks", "build_threads"};
    vindex_stats_t st;
    vindex_stats(r->index, &st);
    char m[16], efc[16], efs[16], amin[24], bt[16];
    snprintf(m, sizeof m, "%u", st.m);
    snprintf(efc, sizeof efc, "%u", st.ef_construction);
    snprintf(efs, sizeof efs, "%u", st.ef_search);
    snprintf(amin, sizeof amin, "%zu", st.ann_min_rows);
    snprintf(bt, sizeof bt, "%u", st.build_threads);
    const char *values[] = {vindex_kind_name(st.kind), m, efc, efs, amin, bt};
    return metrics_info_register(reg, "ragd_vector_index_info",
                                 "The vector index's kind (auto, exact, hnsw) and graph settings.",
                                 labels, values, 6, why, n);
}

/* Scores differ in scale by mode (cosine up to 1, hybrid's fused 0 to 1,
 * bm25 beyond 1): one set of bounds covers the three. */
static const double SCORE_BUCKETS[] = {0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3,
                                       0.5,   0.7,  1,    2,    5,    10,  20};
static const double COUNT_BUCKETS[] = {0, 1, 2, 3, 5, 10, 20, 50, 100};
static const double BATCH_BUCKETS[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
static const double RERANK_BUCKETS[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5,   5};

void rag_metrics_quality(rag_t *r, rag_mode_t mode, const result_t *res)
{
    size_t n = res ? res->n : 0, distinct = 0;
    metrics_histogram_observe(r->m.results[mode], (double)n);
    if (n == 0) {
        metrics_counter_inc(r->m.no_results[mode]);
        return;
    }
    metrics_histogram_observe(r->m.top_score[mode], res->hits[0].score);
    for (size_t i = 0; i < n; i++) { /* lists are short (top_k): quadratic is fine */
        size_t k = 0;
        while (k < i && strcmp(res->hits[k].document_id, res->hits[i].document_id) != 0) k++;
        distinct += k == i;
    }
    metrics_histogram_observe(r->m.distinct_docs[mode], (double)distinct);
}

int rag_metrics_register(rag_t *r, metrics_registry_t *reg, const rag_opts_t *o, char *err,
                         size_t errlen)
{
    static const char *const type_label[] = {"document_type"}, *const mode_label[] = {"mode"},
                             *const segment_label[] = {"segment"},
                             *const result_label[] = {"result"}, *const by_label[] = {"by"};
    struct rag_metrics *m = &r->m;
    metrics_family_t *doc_duration, *top, *results, *none, *distinct, *segments, *saves, *ckpts;
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
        {{.type = METRICS_HISTOGRAM,
          .name = "ragd_query_top_score",
          .help = "Score of a query's first result, by mode (scales differ by mode).",
          .labels = mode_label,
          .nlabels = 1,
          .buckets = SCORE_BUCKETS,
          .nbuckets = sizeof SCORE_BUCKETS / sizeof SCORE_BUCKETS[0]},
         &top,
         NULL},
        {{.type = METRICS_HISTOGRAM,
          .name = "ragd_query_results",
          .help = "Results a query returned, by mode.",
          .labels = mode_label,
          .nlabels = 1,
          .buckets = COUNT_BUCKETS,
          .nbuckets = sizeof COUNT_BUCKETS / sizeof COUNT_BUCKETS[0]},
         &results,
         NULL},
        {{.type = METRICS_COUNTER,
          .name = "ragd_queries_without_results_total",
          .help = "Queries that returned no result, by mode.",
          .labels = mode_label,
          .nlabels = 1},
         &none,
         NULL},
        {{.type = METRICS_HISTOGRAM,
          .name = "ragd_rerank_duration_seconds",
          .help = "Time of one reranker call, in seconds.",
          .buckets = RERANK_BUCKETS,
          .nbuckets = sizeof RERANK_BUCKETS / sizeof RERANK_BUCKETS[0]},
         NULL,
         &m->rerank_dur},
        {{.type = METRICS_HISTOGRAM,
          .name = "ragd_ingest_batch_documents",
          .help = "Documents committed together in one transaction (1 for a single ingest).",
          .buckets = BATCH_BUCKETS,
          .nbuckets = sizeof BATCH_BUCKETS / sizeof BATCH_BUCKETS[0]},
         NULL,
         &m->batch_docs},
        {{.type = METRICS_COUNTER,
          .name = "ragd_reranker_errors_total",
          .help = "Reranker calls that failed (the first ranking was kept)."},
         NULL,
         &m->rerank_errors},
        {{.type = METRICS_HISTOGRAM,
          .name = "ragd_query_distinct_documents",
          .help = "Distinct documents in a query's result list, by mode.",
          .labels = mode_label,
          .nlabels = 1,
          .buckets = COUNT_BUCKETS,
          .nbuckets = sizeof COUNT_BUCKETS / sizeof COUNT_BUCKETS[0]},
         &distinct,
         NULL},
        {{.type = METRICS_HISTOGRAM,
          .name = "ragd_keyword_search_duration_seconds",
          .help = "Time of one keyword (bm25) search, in seconds.",
          .buckets = o->buckets_search,
          .nbuckets = o->nbuckets_search},
         NULL,
         &m->keyword_dur},
        {{.type = METRICS_GAUGE,
          .name = "ragd_keyword_index_segments",
          .help = "Segment files of the keyword index (merged in the background: a count that "
                  "keeps growing means merges fall behind)."},
         NULL,
         &m->kw_segments},
        {{.type = METRICS_GAUGE,
          .name = "ragd_keyword_index_bytes",
          .help = "Size of the keyword index's segment files, in bytes."},
         NULL,
         &m->kw_bytes},
        {{.type = METRICS_GAUGE,
          .name = "ragd_keyword_index_deleted_chunks",
          .help = "Deleted chunks the keyword index's segments still hold (until a merge drops "
                  "them)."},
         NULL,
         &m->kw_deleted},
        {{.type = METRICS_COUNTER,
          .name = "ragd_keyword_index_flushes_total",
          .help = "Writes of pending keyword index changes as a new segment.",
          .flags = METRICS_F_MIRROR},
         NULL,
         &m->kw_flushes},
        {{.type = METRICS_COUNTER,
          .name = "ragd_store_checkpoints_total",
          .help = "Copies of the store's write-ahead log into its database file, by who ran them "
                  "(thread: the checkpoint thread; writer: a commit, the log past 64 MiB).",
          .labels = by_label,
          .nlabels = 1,
          .flags = METRICS_F_MIRROR},
         &ckpts,
         NULL},
        {{.type = METRICS_COUNTER,
          .name = "ragd_store_checkpoint_errors_total",
          .help = "Checkpoints of the store's write-ahead log that failed.",
          .flags = METRICS_F_MIRROR},
         NULL,
         &m->ckpt_errors},
        {{.type = METRICS_GAUGE,
          .name = "ragd_store_wal_bytes",
          .help = "Committed pages in the store's write-ahead log, in bytes (growing without "
                  "end: checkpoints cannot keep up)."},
         NULL,
         &m->wal_bytes},
        {{.type = METRICS_COUNTER,
          .name = "ragd_keyword_index_merges_total",
          .help = "Merges of keyword index segments.",
          .flags = METRICS_F_MIRROR},
         NULL,
         &m->kw_merges},
        {{.type = METRICS_GAUGE,
          .name = "ragd_vector_index_vectors",
          .help = "Vectors in the index by segment: graph (approximate search) or flat (scanned "
                  "exactly: new rows and small indexes).",
          .labels = segment_label,
          .nlabels = 1},
         &segments,
         NULL},
        {{.type = METRICS_GAUGE,
          .name = "ragd_vector_index_deleted_vectors",
          .help = "Deleted vectors the graph still holds as ways through it."},
         NULL,
         &m->vi_deleted},
        {{.type = METRICS_GAUGE,
          .name = "ragd_vector_index_memory_bytes",
          .help = "Memory of the vector index: vectors, graph links and maps, in bytes."},
         NULL,
         &m->vi_memory},
        {{.type = METRICS_GAUGE,
          .name = "ragd_vector_index_recall_estimate",
          .help = "Share of the exact top 10 that the graph finds, mean of the last sampled "
                  "checks (absent before the first).",
          .flags = METRICS_F_ABSENT},
         NULL,
         &m->vi_recall},
        {{.type = METRICS_COUNTER,
          .name = "ragd_vector_index_recall_checks_total",
          .help = "Sampled queries checked against the exact answer.",
          .flags = METRICS_F_MIRROR},
         NULL,
         &m->vi_checks},
        {{.type = METRICS_COUNTER,
          .name = "ragd_vector_index_saves_total",
          .help = "Writes of the graph to the data directory, by result (ok, error).",
          .labels = result_label,
          .nlabels = 1,
          .flags = METRICS_F_MIRROR},
         &saves,
         NULL},
    };
    char why[256] = "";
    int rc = metrics_register_all(reg, defs, sizeof defs / sizeof defs[0], why, sizeof why);
    for (int t = 0; !rc && t < DOC_TYPE_COUNT; t++) /* every type present from the start */
        rc = metrics_family_get(doc_duration, (const char *[]){doc_type_name((doc_type_t)t)},
                                &m->doc_dur[t]);
    static const char *const modes[3] = {
        [RAG_HYBRID] = "hybrid", [RAG_VECTOR] = "vector", [RAG_KEYWORD] = "keyword"};
    for (int i = 0; !rc && i < 3; i++) {
        const char *v[] = {modes[i]};
        if ((rc = metrics_family_get(top, v, &m->top_score[i])) == 0 &&
            (rc = metrics_family_get(results, v, &m->results[i])) == 0 &&
            (rc = metrics_family_get(none, v, &m->no_results[i])) == 0)
            rc = metrics_family_get(distinct, v, &m->distinct_docs[i]);
    }
    if (!rc && (rc = metrics_family_get(segments, (const char *[]){"graph"}, &m->vi_graph)) == 0)
        rc = metrics_family_get(segments, (const char *[]){"flat"}, &m->vi_flat);
    if (!rc && (rc = metrics_family_get(saves, (const char *[]){"ok"}, &m->vi_saves_ok)) == 0)
        rc = metrics_family_get(saves, (const char *[]){"error"}, &m->vi_saves_err);
    if (!rc && (rc = metrics_family_get(ckpts, (const char *[]){"thread"}, &m->ckpt_thread)) == 0)
        rc = metrics_family_get(ckpts, (const char *[]){"writer"}, &m->ckpt_writer);
    if (!rc) rc = register_index_info(r, reg, why, sizeof why);
    if (!rc) rc = metrics_registry_add_collector(reg, collect, r);
    if (rc) snprintf(err, errlen, "metrics: %s", why[0] ? why : strerror(-rc));
    return rc;
}
