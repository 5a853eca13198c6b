/* vindex: the in-memory vector index: exact cosine top-k.
 *
 * Rows are L2-normalised float32 vectors (cosine == dot), stored in blocks
 * of VINDEX_BLOCK_ROWS rows, each row padded to a multiple of 16 floats and
 * 64-byte aligned: growth never moves existing rows, and the scoring loop
 * streams memory with SIMD (GCC vector extensions, cloned for AVX-512, AVX2
 * and SSE2 and picked at run time). A bounded min-heap keeps the top k.
 *
 * Concurrency: searches take a read lock and never block each other;
 * writes (add, remove) take the write lock briefly (copying or moving a few
 * rows), with writers preferred so a stream of searches cannot starve them. */
#ifndef RAGD_VINDEX_H
#define RAGD_VINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VINDEX_BLOCK_ROWS 4096
#define VINDEX_MAX_K      1000

typedef struct vindex vindex_t;

typedef struct vindex_hit {
    int64_t id;
    float score;
} vindex_hit_t;

/* Filter: true when the row with this id may be returned. */
typedef bool (*vindex_allow_fn)(void *ctx, int64_t id);

int vindex_new(vindex_t **out, unsigned dim);
void vindex_free(vindex_t **ix);
/* Adds n rows (ids must be new). 0, -EEXIST, -ENOMEM. */
int vindex_add(vindex_t *ix, const int64_t *ids, const float *vecs, size_t n);
/* Removes the rows with these ids (missing ones are skipped); returns how
 * many were removed. */
size_t vindex_remove(vindex_t *ix, const int64_t *ids, size_t n);
size_t vindex_size(vindex_t *ix);
unsigned vindex_dim(const vindex_t *ix);
/* Top k (<= VINDEX_MAX_K) rows by dot product with q, best first (ties by
 * smaller id). allow may be NULL. Returns the number of hits written, or
 * -ENOMEM (never an empty answer in its place). */
long vindex_search(vindex_t *ix, const float *q, size_t k, vindex_allow_fn allow, void *ctx,
                   vindex_hit_t *out);
/* The same by brute force over a plain loop, for tests. */
size_t vindex_search_reference(vindex_t *ix, const float *q, size_t k, vindex_hit_t *out);

#endif
