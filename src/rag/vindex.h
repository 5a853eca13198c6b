/* vindex: the in-memory vector index: exact below a size, approximate
 * (an HNSW graph, rag/hnsw) above it.
 *
 * Two segments. The flat segment holds new rows: L2-normalised float32
 * vectors in blocks of VINDEX_BLOCK_ROWS rows, each row padded to a
 * multiple of 16 floats and 64-byte aligned, with an int8 copy: a scan
 * reads the copies, which bound each row's score, and scores again in
 * float32 (GCC vector extensions, cloned for AVX-512, AVX2 and SSE2) only
 * the rows that can make the top k, so it is exact (vindex_scan.c). The graph
 * segment exists once the index holds ann_min_rows rows (kind auto) or from
 * the first row (kind hnsw): a builder thread moves flat rows into it in
 * ascending id order, so the graph always holds every live row up to a
 * watermark id and the flat segment every row above it. A search asks the
 * graph and scans the flat segment; a deleted graph row is hidden at once
 * and marked in the graph by the builder. A row lives in one segment (the
 * flat copy is freed once the graph has it), so the vectors are held once.
 *
 * Filters: when the allowed ids are few (filter_exact_max), they are scored
 * exactly one by one, so a selective filter gets exact results; otherwise
 * the graph is asked for more candidates and its answers filtered, with
 * the exact path as the fallback when too few survive.
 *
 * Persistence: with a path, the graph is written there (hnsw_save) at
 * vindex_free and by the builder after enough changes, and vindex_load
 * reads it back, so a restart does not rebuild. The store stays the truth:
 * rag.c loads the rows above the graph's watermark and drops graph rows the
 * store no longer has (vindex_retain).
 *
 * Without a graph (kind exact, or auto below ann_min_rows), the flat
 * segment itself can be kept between runs: vindex_flat_save writes its
 * blocks as they are (int8 copies included) at a clean shutdown, and
 * vindex_flat_load reads them back sequentially (vindex_file.c). The caller
 * removes the file once loaded and checks it against the store (counts and
 * a sample of vectors): it is a start-up's shortcut, never the truth.
 *
 * Recall: one unfiltered graph search in recall_every copies its query;
 * the builder compares the graph's top 10 for it with the exact top 10 of
 * the graph's rows, off the query path, and keeps the mean of the last
 * VINDEX_RECALL_WINDOW checks.
 *
 * Concurrency: searches take a read lock on the segments and never block
 * each other; add and remove take the write lock briefly (an add makes its
 * rows' int8 copies before it takes the lock, and copies them in). Only the builder
 * writes the graph, under its own lock, a round of rows at a time: one row
 * with one build thread, four a thread with more (they insert together,
 * as hnswlib allows), so a search waits at most about four insertions. */
#ifndef RAGD_VINDEX_H
#define RAGD_VINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rag/idset.h"

#define VINDEX_BLOCK_ROWS    4096
#define VINDEX_MAX_K         1000
#define VINDEX_RECALL_WINDOW 32

typedef struct vindex vindex_t;

typedef struct vindex_hit {
    int64_t id;
    float score;
} vindex_hit_t;

typedef enum { VINDEX_AUTO, VINDEX_EXACT, VINDEX_HNSW } vindex_kind_t;

typedef struct vindex_opts {
    vindex_kind_t kind;
    unsigned m, ef_construction, ef_search; /* the graph's; 0: 16, 100, 256 */
    size_t ann_min_rows;                    /* kind auto: the graph from this size; 0: 50000 */
    size_t filter_exact_max;                /* allowed ids scored one by one up to; 0: 20000 */
    unsigned recall_every;                  /* 1 search in this many is checked; 0: never */
    unsigned threads;                       /* make a large add's int8 copies; 0: 1 */
    unsigned build_threads;                 /* the builder's, inserting together; 0: 1 */
    const char *path;                       /* where the graph persists; NULL: nowhere */
} vindex_opts_t;

/* What the index holds now, for metrics and health. */
typedef struct vindex_stats {
    vindex_kind_t kind;
    size_t flat_rows, graph_rows, graph_deleted, pending_deletes;
    size_t memory_bytes; /* vectors, links and maps */
    unsigned m, ef_construction, ef_search, build_threads;
    size_t ann_min_rows;
    double recall; /* mean of the last checks; negative before the first */
    uint64_t recall_checks, saves, save_errors;
    int64_t watermark; /* the graph holds every live row with an id up to this */
} vindex_stats_t;

/* A new empty index. o may be NULL (exact). 0, -EINVAL or -ENOMEM. */
int vindex_new(vindex_t **out, unsigned dim, const vindex_opts_t *o);
/* Stops the builder, writes the graph when it changed (opts.path), frees. */
void vindex_free(vindex_t **ix);
/* Reads the graph saved at opts.path (before any add). Sets *watermark to
 * its highest id (0 when there is no graph: -ENOENT is not an error here).
 * 0, or a negative code with err set: the caller goes on without it. */
int vindex_load(vindex_t *ix, int64_t *watermark, char *err, size_t errlen);
/* Writes the flat segment to path (a temporary file, synced, renamed):
 * 0, -EBUSY when the index has a graph (its rows are the graph's file's),
 * or -errno with err set. */
int vindex_flat_save(vindex_t *ix, const char *path, char *err, size_t errlen);
/* Reads a flat segment saved at path into the empty index; *top: its
 * highest id. 0, -ENOENT (no file; err untouched), or a negative code with
 * err set (a damaged file or one of other dimensions: nothing is loaded). */
int vindex_flat_load(vindex_t *ix, const char *path, int64_t *top, char *err, size_t errlen);
/* Up to n flat rows spread over the segment (the first and the last
 * among them): their ids and vectors (n * dim floats). Returns how many. */
size_t vindex_sample(vindex_t *ix, size_t n, int64_t *ids, float *vecs);
/* Marks deleted every graph row for which keep(ctx, id) is false; returns
 * how many. For rows the store lost while the graph was not being saved. */
size_t vindex_retain(vindex_t *ix, bool (*keep)(void *ctx, int64_t id), void *ctx);
/* Empties the index before the builder starts: the graph goes unsaved and
 * its file is removed, the flat segment is emptied. For a graph the store
 * contradicts: the caller loads every vector again. */
void vindex_reset(vindex_t *ix);
/* Starts the builder thread (kinds auto and hnsw). 0 or -errno. */
int vindex_start(vindex_t *ix);
/* Moves every flat row into the graph now, if there is or should be one
 * (for tests and benchmarks; the builder does it in the background). */
int vindex_build_now(vindex_t *ix);

/* Adds n rows. 0, -EEXIST, -ENOMEM. Ids must be new; with a graph (kinds
 * auto and hnsw) also above every id added before, as the store's are:
 * the watermark relies on it. */
int vindex_add(vindex_t *ix, const int64_t *ids, const float *vecs, size_t n);
/* Removes the rows with these ids (missing ones are skipped); returns how
 * many were removed. */
size_t vindex_remove(vindex_t *ix, const int64_t *ids, size_t n);
size_t vindex_size(vindex_t *ix);
unsigned vindex_dim(const vindex_t *ix);
void vindex_stats(vindex_t *ix, vindex_stats_t *st);
const char *vindex_kind_name(vindex_kind_t k);

/* Top k (<= VINDEX_MAX_K) rows by dot product with q, best first (ties by
 * smaller id). allowed: NULL for all rows, else only these ids. Returns the
 * number of hits written, or -ENOMEM (never an empty answer in its place). */
long vindex_search(vindex_t *ix, const float *q, size_t k, const idset_t *allowed,
                   vindex_hit_t *out);
/* The same by brute force over a plain loop of every row, for tests. */
size_t vindex_search_reference(vindex_t *ix, const float *q, size_t k, vindex_hit_t *out);

#endif
