/* inv: ragd's own inverted index of chunks' search terms (rag/text), in
 * immutable segments searched by bm25 top k with MaxScore over tiered lists.
 *
 * Why: Xapian 1.4 (rag/kwindex) prunes by each term's highest weight in the
 * whole index, so a query whose terms are all common walks nearly every
 * posting (43 ms p50 at a million chunks, make bench-scale). Here a common
 * term's postings are in three tiers by weight, each block of 128 postings
 * keeps its own highest weight, and only the chunks of tiers that can reach
 * the top k are candidates (2.2 ms p50 on such queries). The ranking is
 * Xapian's BM25Weight as ragd configures it (k1 1.2, b 0.75, no length
 * floor), so the two return the same chunks with the same scores.
 *
 * A segment holds chunks of ascending ids, each with its terms' counts and
 * its length (terms, repeats included). A builder collects chunks in
 * memory and writes a segment file (a temporary file, fsynced, renamed); a
 * segment is read through a read-only mapping and never changes; inv_merge
 * writes several as one, leaving out chunks the caller drops. A search
 * spans segments, whose ids must not interleave (each holds chunks newer
 * than the one before: ids only grow), with their statistics summed.
 * Segments are safe to search from any number of threads. */
#ifndef RAGD_INV_H
#define RAGD_INV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rag/vindex.h"

#define INV_MAX_TERM 245 /* longer "words" are noise, left out (as Xapian refuses them) */
#define INV_MAX_DOCS (UINT32_MAX - 1) /* chunks in one segment */

typedef struct inv_builder inv_builder_t;
typedef struct inv_seg inv_seg_t;
/* True for a chunk to leave out (deleted, or outside a filter). */
typedef bool (*inv_skip_fn)(void *ctx, int64_t id);

int inv_builder_new(inv_builder_t **out);
void inv_builder_free(inv_builder_t **b);
/* Adds a chunk: its id (above the last one added) and its terms, space-
 * separated, repeats counted. 0, -EINVAL (id not ascending), -E2BIG (the
 * segment is full) or -ENOMEM (the builder is unchanged). */
int inv_builder_add(inv_builder_t *b, int64_t id, const char *terms, size_t len);
size_t inv_builder_docs(const inv_builder_t *b);
/* The ids added, ascending (*n of them; valid until the next add). */
const int64_t *inv_builder_ids(const inv_builder_t *b, size_t *n);
/* Bytes the builder holds (for the caller's cap on it). */
size_t inv_builder_bytes(const inv_builder_t *b);
/* Writes the chunks added as a segment file at path. 0 or a negative
 * code, with err set. The builder is unchanged. */
int inv_builder_write(inv_builder_t *b, const char *path, char *err, size_t errlen);

/* Opens the segment file at path. 0, or -EIO (not a segment, or damaged)
 * or another negative code, with err set. */
int inv_seg_open(inv_seg_t **out, const char *path, char *err, size_t errlen);
void inv_seg_free(inv_seg_t **seg);
size_t inv_seg_docs(const inv_seg_t *seg);
/* Its chunks' smallest and largest ids (0 when empty). */
int64_t inv_seg_min_id(const inv_seg_t *seg);
int64_t inv_seg_max_id(const inv_seg_t *seg);
size_t inv_seg_bytes(const inv_seg_t *seg);
/* Its chunks' ids, ascending (*n of them, as long as seg is open). */
const int64_t *inv_seg_ids(const inv_seg_t *seg, size_t *n);
/* True when ids[0..n) (ascending) holds id: a binary search. */
bool inv_ids_have(const int64_t *ids, size_t n, int64_t id);

/* Writes segs[0..n) (ascending ids) as one segment file at path, without
 * the chunks drop says to leave out (drop may be NULL). 0 or a negative
 * code, with err set. */
int inv_merge(inv_seg_t *const *segs, size_t n, inv_skip_fn drop, void *ctx, const char *path,
              char *err, size_t errlen);

/* The k best chunks of segs[0..n) for the terms (distinct; their OR) by
 * bm25, best first, ties by smaller id; chunks skip rejects are left out
 * (skip may be NULL). The number of hits, or -EIO (a damaged block) or
 * -ENOMEM. */
long inv_search(inv_seg_t *const *segs, size_t n, const char *const *terms, size_t nterms, size_t k,
                inv_skip_fn skip, void *ctx, vindex_hit_t *out);
/* Chunks holding each term, over segs[0..n). 0. */
int inv_dfs(inv_seg_t *const *segs, size_t n, const char *const *terms, size_t nterms,
            int64_t *dfs);

#endif
