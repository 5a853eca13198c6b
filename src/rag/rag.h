/* rag: the pipeline. Ingest (parse -> chunk -> embed -> store -> index),
 * delete, and query (vector, keyword, hybrid), with the query cache and the
 * RAG metrics of the contract:
 *   document_processing_duration_seconds{document_type}  parse to commit
 *   embedding_generation_duration_seconds                 one embedder call
 *   vector_search_duration_seconds                        one index search
 *   query_cache_hits_total, query_cache_misses_total, ragd_query_cache_entries
 *   active_documents_count, total_embeddings_count        exact, always
 *
 * Writes: the slow part (parsing, embedding) runs unlocked; the store commit
 * and the index update run under one mutex, so the index always follows the
 * store's order of commits. Errors are negative codes the HTTP layer maps:
 *   -EILSEQ (400, not UTF-8), -EINVAL / -E2BIG / -ETIMEDOUT (422, cannot
 *   use the document), -ENETDOWN (503, embedder down), -ENOENT (404),
 *   -ENOSPC (507, disk full), others (500). */
#ifndef RAGD_RAG_H
#define RAGD_RAG_H

#include <jansson.h>
#include <stddef.h>

#include "core/health.h"
#include "metrics/metrics.h"
#include "rag/chunk.h"
#include "rag/embed.h"
#include "rag/parse.h"

#define RAG_RRF_K 60 /* reciprocal rank fusion constant (Cormack et al.) */

typedef struct rag rag_t;

typedef struct rag_opts {
    const char *data_dir;
    embedder_t *embedder; /* owned by rag from rag_open on, even on failure */
    chunk_opts_t chunk;
    parse_opts_t parse;
    size_t cache_entries;
    double cache_ttl_s;
    metrics_registry_t *reg;
    const double *buckets_document, *buckets_embedding, *buckets_search;
    size_t nbuckets_document, nbuckets_embedding, nbuckets_search;
} rag_opts_t;

typedef struct rag_doc_in {
    const char *id;    /* NULL: a random id is made */
    const char *title; /* NULL: "" */
    doc_type_t type;
    json_t *metadata; /* an object of strings, or NULL */
    const char *data;
    size_t len;
} rag_doc_in_t;

typedef enum rag_mode { RAG_HYBRID, RAG_VECTOR, RAG_KEYWORD } rag_mode_t;

typedef struct rag_query {
    const char *text;
    size_t top_k;
    rag_mode_t mode;
    json_t *filter; /* an object of strings, or NULL */
} rag_query_t;

/* Opens the store in data_dir, loads its vectors into the index and sets the
 * gauges. On error, err says why. */
int rag_open(rag_t **out, const rag_opts_t *o, char *err, size_t errlen);
void rag_close(rag_t **r);

/* Ingests a document; *out = {"id", "chunks", "replaced"}. */
int rag_ingest(rag_t *r, const rag_doc_in_t *in, json_t **out, char *err, size_t errlen);
/* Deletes a document; *chunks = how many chunks went. */
int rag_delete(rag_t *r, const char *id, size_t *chunks);
int rag_get(rag_t *r, const char *id, json_t **out);
int rag_list(rag_t *r, size_t limit, const char *after, json_t **out);
/* *out = {"results": [...], "cached": bool, "timings_ms": {...}}. */
int rag_query(rag_t *r, const rag_query_t *q, json_t **out, char *err, size_t errlen);

/* Registers the components store, embedder, index (required) and cache. */
int rag_add_health(rag_t *r, health_t *h);

/* "hybrid" (or NULL), "vector", "keyword" -> mode; -EINVAL if unknown. */
int rag_mode_parse(const char *s);

#endif
