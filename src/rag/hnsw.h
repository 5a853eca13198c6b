/* hnsw: a thin C face on hnswlib (Debian's libhnswlib-dev, header-only
 * C++), the approximate nearest-neighbour graph of the vector index.
 *
 * Only what the index needs: add, mark deleted, search, save and load, and
 * a look at the stored rows (for exact checks and filtered scoring). Rows
 * are L2-normalised float32 vectors labelled by chunk id; the distance is
 * 1 - dot, so a hit's score is the cosine. hnswlib keeps the vectors (one
 * copy: the flat segment hands its rows over), the links (2 * m per row on
 * the base layer) and a label map.
 *
 * Not thread-safe by itself: hnswlib's searches read links without locks,
 * so the caller (vindex) excludes writes from searches. Concurrent searches
 * are safe, and so are concurrent additions (hnsw_add_reserved). No C++ exception crosses this
 * interface: each becomes -ENOMEM (allocation) or -EIO (anything else). */
#ifndef RAGD_HNSW_H
#define RAGD_HNSW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hnsw hnsw_t;

typedef struct hnsw_hit {
    int64_t id;
    float score;
} hnsw_hit_t;

#define HNSW_MAX_M 64 /* more links per row cost memory and build time, no recall */

/* A new empty graph for vectors of dim floats: m links per row (2 * m on
 * the base layer), ef_construction candidates while linking. 0, -EINVAL
 * or -ENOMEM. */
int hnsw_new(hnsw_t **out, unsigned dim, unsigned m, unsigned ef_construction);
/* Loads a graph written by hnsw_save; -ENOENT when there is none, -EINVAL
 * when it is for another dimension or damaged (err says which). */
int hnsw_load(hnsw_t **out, const char *path, unsigned dim, char *err, size_t errlen);
/* Writes the graph to path durably: a temporary file beside it, checked,
 * fsynced and renamed over path. 0 or a negative code (err says why). */
int hnsw_save(hnsw_t *h, const char *path, char *err, size_t errlen);
void hnsw_free(hnsw_t **h);

/* Adds a row (growing the graph as needed): hnsw_reserve and
 * hnsw_add_reserved for one row, on one thread (the builder uses the pair
 * itself, to insert from several). 0, -EEXIST or -ENOMEM. */
int hnsw_add(hnsw_t *h, int64_t id, const float *vec);
/* Several threads adding at once (hnswlib locks each row's links; its
 * Python binding builds the same way): hnsw_reserve first, alone, checks
 * that the n ids are new and grows the graph to hold them (0, -EEXIST,
 * -ENOMEM); then hnsw_add_reserved adds each of those rows, from any
 * number of threads together, but with no search or other write running.
 * The ids must differ from each other. 0, -ENOMEM or -EIO. */
int hnsw_reserve(hnsw_t *h, const int64_t *ids, size_t n);
int hnsw_add_reserved(hnsw_t *h, int64_t id, const float *vec);
/* Marks a row deleted: it leaves the results and stays as a way through
 * the graph. 0, or -ENOENT when the id is absent or already deleted. */
int hnsw_delete(hnsw_t *h, int64_t id);
/* Up to k nearest live rows, best first, exploring ef (>= k) candidates.
 * The number written or -ENOMEM. */
long hnsw_search(const hnsw_t *h, const float *q, size_t k, size_t ef, hnsw_hit_t *out);

/* The vector of a live row, or NULL. Valid until the next write. */
const float *hnsw_vector(const hnsw_t *h, int64_t id);
/* Rows by position, 0 <= i < hnsw_slots(h): false for a deleted one. */
size_t hnsw_slots(const hnsw_t *h);
bool hnsw_row(const hnsw_t *h, size_t i, int64_t *id, const float **vec);

size_t hnsw_live(const hnsw_t *h);
size_t hnsw_deleted(const hnsw_t *h);
/* Bytes held: rows, links and the label map (an estimate of the map). */
size_t hnsw_memory(const hnsw_t *h);
unsigned hnsw_m(const hnsw_t *h);
unsigned hnsw_ef_construction(const hnsw_t *h);

#ifdef __cplusplus
}
#endif

#endif
