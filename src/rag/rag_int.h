/* rag_int: what the files of the pipeline share (rag.c, rag_query.c,
 * rag_metrics.c, rag_health.c); not for use outside them. */
#ifndef RAGD_RAG_INT_H
#define RAGD_RAG_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "rag/cache.h"
#include "rag/kwindex.h"
#include "rag/rag.h"
#include "rag/store.h"
#include "rag/vindex.h"
#include "util/buf.h"

/* The pipeline's metric handles (rag_metrics.c registers them). */
struct rag_metrics {
    metrics_child_t *doc_dur[DOC_TYPE_COUNT];
    metrics_child_t *embed_dur, *search_dur, *hits, *misses;
    metrics_child_t *cache_entries, *docs, *embeddings; /* set at scrape time */
    /* quality, per mode (rag_mode_t) */
    metrics_child_t *top_score[3], *results[3], *no_results[3], *distinct_docs[3];
    metrics_child_t *rerank_dur, *rerank_errors, *batch_docs;
    metrics_child_t *keyword_dur;
    /* the vector index, set at scrape time */
    metrics_child_t *vi_graph, *vi_flat, *vi_deleted, *vi_memory, *vi_recall, *vi_checks;
    metrics_child_t *kw_segments, *kw_bytes, *kw_deleted, *kw_flushes, *kw_merges;
    metrics_child_t *vi_saves_ok, *vi_saves_err;
    /* the store's WAL, set at scrape time */
    metrics_child_t *ckpt_thread, *ckpt_writer, *ckpt_errors, *wal_bytes;
};

/* Observes a query's result list in the quality families. */
void rag_metrics_quality(rag_t *r, rag_mode_t mode, const result_t *res);

struct rag {
    store_t *store;
    vindex_t *index;
    kwindex_t *kw;
    embedder_t *emb;
    cache_t *cache;
    chunk_opts_t chunk;
    parse_opts_t parse;
    /* Writes: the store's commit under cmu, then the indexes' update under
     * amu, taken before cmu is let go (handover in rag.c; see rag.h) */
    pthread_mutex_t cmu, amu;
    /* What the store holds now: changed under amu, read anywhere. */
    atomic_int_least64_t ndocs, nchunks;
    atomic_bool embedder_failed; /* the last call failed; the health check probes */
    reranker_t *reranker;        /* NULL: none */
    size_t rerank_depth;
    double vector_weight;  /* hybrid: the vector side's weight */
    size_t ingest_workers; /* threads that prepare a batch, the caller's included */
    atomic_bool reranker_failed;
    health_t *health; /* set by rag_add_health; failures are reported at once */
    char *flat_path;  /* where rag_close saves the flat rows; NULL until opened whole */
    struct rag_metrics m;
};

/* Registers the families of rag.h and a collector that publishes the
 * counts at scrape time. 0, or a negative code with a message in err. The
 * registry must not be exposed after rag_close. */
int rag_metrics_register(rag_t *r, metrics_registry_t *reg, const rag_opts_t *o, char *err,
                         size_t errlen);

/* What a chunk's vector and keyword terms are made from: its section (the
 * context) and a newline, then its text. Ingestion, the keyword replay and
 * the hybrid query's look at the keyword side's best chunk all build it
 * here, so all see the terms ingestion indexed. */
void rag_chunk_input(buf_t *b, const char *section, const char *text, size_t len);

/* Embeds texts in batches of RAG_EMBED_BATCH, timing each call; marks the
 * embedder failed (health at once) or recovered. 0 or -ENETDOWN (err says
 * why). */
int rag_embed(rag_t *r, const char *const *texts, const size_t *lens, size_t n, float *out,
              char *err, size_t errlen);

#endif
