/* rag: the pipeline. Ingest (parse -> chunk -> embed -> store -> index),
 * delete, and query (vector, keyword, hybrid), with the query cache and the
 * RAG metrics of the contract:
 *   document_processing_duration_seconds{document_type}  parse to commit
 *   embedding_generation_duration_seconds                 one embedder call
 *   vector_search_duration_seconds                        one index search
 *   query_cache_hits_total, query_cache_misses_total, ragd_query_cache_entries
 *   active_documents_count, total_embeddings_count        exact, always
 *   ragd_ingest_batch_documents                           documents per commit
 * and the quality of what queries return, by mode (answers from the cache
 * included: that is what users got):
 *   ragd_query_top_score, ragd_query_results, ragd_query_distinct_documents
 *   ragd_queries_without_results_total
 * With a reranker, the first candidates (rerank_depth, at least top_k) are
 * ordered again by it: ragd_rerank_duration_seconds; a failing reranker
 * leaves the first ranking in place (ragd_reranker_errors_total, component
 * reranker unhealthy), so queries keep being answered.
 *
 * Writes: the slow part (parsing, embedding) runs unlocked, a batch's
 * documents on several threads; the store commit runs under rag's commit
 * mutex, and the index update under its apply mutex, which a write takes
 * before it lets the commit mutex go: the indexes follow the store's order
 * of commits, and one write's index update runs beside the next one's
 * commit. Lock order: commit, apply, then the store's and the indexes' own;
 * never the other way. Document and chunk counts are rag's own, changed
 * under the apply mutex and published to the gauges when /metrics is
 * scraped.
 *
 * Plain C types in and out: what a request carries is borrowed for the
 * call, what comes back is the caller's to release. Errors are negative
 * codes the HTTP layer maps:
 *   -EILSEQ (400, not UTF-8), -EINVAL / -E2BIG / -ETIMEDOUT (422, cannot
 *   use the document), -ENETDOWN (503, embedder down), -ENOENT (404),
 *   -ENOSPC (507, disk full), others (500: -ENOMEM, -EIO).
 *
 * Files: rag.c (open, ingest, delete, reads), rag_query.c (queries),
 * rag_metrics.c (the families and their scrape-time values), rag_health.c
 * (component checks); fuse.c and match.c are the query's pure parts. */
#ifndef RAGD_RAG_H
#define RAGD_RAG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/health.h"
#include "metrics/metrics.h"
#include "rag/chunk.h"
#include "rag/embed.h"
#include "rag/doc.h"
#include "rag/parse.h"
#include "rag/rerank.h"
#include "rag/result.h"
#include "rag/vindex.h"
#include "util/par.h"

typedef struct rag rag_t;

/* The vector side's weight in hybrid search by default (--vector-weight),
 * measured with ragd eval on three sets (README, "Retrieval quality"). */
#define RAG_VECTOR_WEIGHT 0.3

/* The most threads that prepare one batch's documents (--ingest-workers),
 * and the most that 0 ("one per CPU") gives. */
#define RAG_MAX_INGEST_WORKERS  PAR_MAX_THREADS
#define RAG_AUTO_INGEST_WORKERS 16

typedef struct rag_opts {
    const char *data_dir;
    embedder_t *embedder; /* owned by rag from rag_open on, even on failure */
    reranker_t *reranker; /* NULL: none; owned like the embedder */
    size_t rerank_depth;  /* candidates the reranker orders (at least top_k) */
    double vector_weight; /* hybrid: the vector side's weight, 0-1 (RAG_VECTOR_WEIGHT) */
    chunk_opts_t chunk;
    parse_opts_t parse;
    unsigned ingest_workers; /* threads preparing a batch; 0: one per CPU (at most 16) */
    vindex_opts_t vindex;    /* its path is set by rag_open (the data directory) */
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
    const doc_kv_t *meta; /* at most DOC_META_MAX pairs, distinct keys */
    size_t nmeta;
    const char *data;
    size_t len;
} rag_doc_in_t;

typedef struct rag_ingested {
    char id[DOC_ID_MAX + 1]; /* the given id, or the one made */
    size_t chunks;
    bool replaced; /* a document with this id existed and was replaced */
} rag_ingested_t;

typedef enum rag_mode { RAG_HYBRID, RAG_VECTOR, RAG_KEYWORD } rag_mode_t;

typedef struct rag_query {
    const char *text;
    size_t top_k;
    rag_mode_t mode;
    const doc_kv_t *filter; /* every key = value must hold; at most DOC_META_MAX */
    size_t nfilter;
    size_t max_per_document; /* at most this many chunks of one document; 0: any */
    bool merge_neighbours;   /* neighbouring chunks of a document as one hit */
} rag_query_t;

typedef struct rag_answer {
    result_t *results; /* a reference: release with rag_answer_release */
    bool cached;
    double embed_ms, search_ms, total_ms;
} rag_answer_t;

/* Opens the store in data_dir, loads its vectors into the vector index,
 * brings the keyword index up to the store (indexing what it lacks) and
 * sets the gauges. On error, err says why. */
int rag_open(rag_t **out, const rag_opts_t *o, char *err, size_t errlen);
void rag_close(rag_t **r);

/* Ingests a document (parse, chunk, embed, commit, index). */
int rag_ingest(rag_t *r, const rag_doc_in_t *in, rag_ingested_t *out, char *err, size_t errlen);

/* One document of a batch, and what became of it. */
typedef struct rag_batch_item {
    const rag_doc_in_t *in;
    rag_ingested_t out; /* when rc is 0 */
    int rc;             /* rag_ingest's codes */
    char err[256];
} rag_batch_item_t;
/* Ingests many documents: each parsed, chunked and embedded on its own,
 * then all committed in one transaction (one fsync), each in a savepoint:
 * a document that fails is left out with its rc and err, the others are
 * stored. Returns 0, or the transaction's error (then none is stored). A
 * document is acknowledged (rc 0) only once the transaction committed. */
int rag_ingest_batch(rag_t *r, rag_batch_item_t *items, size_t n);
/* The threads a batch is prepared on (--ingest-workers, 0 resolved). */
size_t rag_ingest_workers(const rag_t *r);
/* Deletes a document; *chunks = how many chunks went. 0 or -ENOENT, -EIO. */
int rag_delete(rag_t *r, const char *id, size_t *chunks);
/* The document with its text (free with doc_record_free). 0, -ENOENT. */
int rag_get(rag_t *r, const char *id, doc_record_t *out);
/* Documents by id after `after`, at most limit, without text (see
 * store_list for freeing). */
int rag_list(rag_t *r, size_t limit, const char *after, doc_record_t **out, size_t *n);
/* Answers a query, from the cache when it can. */
int rag_query(rag_t *r, const rag_query_t *q, rag_answer_t *out, char *err, size_t errlen);
void rag_answer_release(rag_answer_t *a);

/* Registers the components store, embedder, index (required), cache, and
 * reranker when there is one (not required: a failing one is bypassed). */
int rag_add_health(rag_t *r, health_t *h);

/* "hybrid" (or NULL), "vector", "keyword" -> mode; -EINVAL if unknown. */
int rag_mode_parse(const char *s);

#endif
