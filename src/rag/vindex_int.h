/* vindex_int: what the files of the vector index share (vindex.c: the
 * flat segment and search; vindex_graph.c: the graph, its builder thread,
 * persistence and the recall check); not for use outside them. */
#ifndef RAGD_VINDEX_INT_H
#define RAGD_VINDEX_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "rag/hnsw.h"
#include "rag/vindex.h"
#include "util/idmap.h"

struct vindex {
    /* lock: the flat segment, the pending deletes and the graph pointer.
     * Searches read, add and remove write (briefly). Taken before glock. */
    pthread_rwlock_t lock;
    unsigned dim, stride; /* stride: dim rounded up to 16 floats */
    /* each VINDEX_BLOCK_ROWS rows of stride floats (64-byte aligned), then
     * the same rows in int8 by column (stride columns of VINDEX_BLOCK_ROWS
     * bytes), then 3 columns of floats that bound the int8 copies' error
     * (vindex_scan.c) */
    float **blocks;
    size_t nblocks, blocks_cap;
    int64_t *ids; /* row -> id */
    size_t n, ids_cap;
    idmap_t map; /* id -> row */

    vindex_opts_t o;
    char *path; /* o.path, owned */

    /* The graph segment. glock: its contents; only the builder writes,
     * searches read (vindex_glock_read). glock_waiting: readers blocked on
     * glock, so that the builder's round stops at the rows under way. */
    pthread_rwlock_t glock;
    atomic_uint glock_waiting;
    hnsw_t *graph;     /* NULL until the index needs one */
    int64_t watermark; /* every live id up to this is in the graph */
    idset_t pending;   /* graph rows removed, not yet marked there (under lock) */

    /* The builder: one thread; work_mu serialises its steps with
     * vindex_build_now. Its snapshot of flat ids, sorted, is its own. */
    pthread_mutex_t work_mu, wake_mu;
    pthread_cond_t wake;
    pthread_t thread;
    bool started, stopping, broken; /* broken: the graph could not grow (memory) */
    int64_t *snap;
    size_t snap_n, snap_pos, snap_cap;
    size_t changes; /* graph writes since the last save */
    double last_save;

    /* The recall check (smu): a sampled query and the last results. */
    atomic_uint_fast64_t searches;
    pthread_mutex_t smu;
    float *sample;
    bool sample_full;
    double recall[VINDEX_RECALL_WINDOW];
    unsigned nrecall, recall_pos;
    double last_check;
    uint64_t recall_checks, saves, save_errors;
};

/* Row r of the flat segment: its floats; its block's int8 copies, by
 * column (dimension i of the block's rows is VINDEX_BLOCK_ROWS bytes in a
 * row, so that a query reads only the columns where its own int8 form is
 * not zero: the hash embedder's queries have a few dozen of 384, see
 * vindex_scan.c); then, by column too, the copies' (scale, |residual|,
 * scale * |int8 row|), so that the scan bounds 8 rows at a time. */
static inline float *vindex_row(const vindex_t *ix, size_t r)
{
    return ix->blocks[r / VINDEX_BLOCK_ROWS] + (r % VINDEX_BLOCK_ROWS) * ix->stride;
}
static inline int8_t *vindex_qcols(const vindex_t *ix, size_t block)
{
    return (int8_t *)(ix->blocks[block] + (size_t)VINDEX_BLOCK_ROWS * ix->stride);
}
/* The block's scales; then VINDEX_BLOCK_ROWS residuals, then as many
 * scale * |int8 row|. */
static inline float *vindex_qmeta(const vindex_t *ix, size_t block)
{
    return (float *)(vindex_qcols(ix, block) + (size_t)VINDEX_BLOCK_ROWS * ix->stride);
}
/* A vector's (dim floats) int8 copy, stride bytes, and the 3 floats that
 * bound its error (vindex_scan.c). Touches nothing of ix but its sizes:
 * callers make copies outside the lock. */
void vindex_quantize(const vindex_t *ix, const float *x, int8_t *q, float *meta);
/* The int8 dots of a block's rows [0, rows) with a query's non-zero
 * dimensions nz[0..nnz) (a multiple of 4) of weights w, into dots
 * (VINDEX_BLOCK_ROWS int32, 32-byte aligned); plain: without SIMD, for the
 * tests that compare the two (vindex_scan.c). */
void vindex_qdot_cols(const int8_t *cols, size_t rows, const uint16_t *nz, const int16_t *w,
                      size_t nnz, int32_t *dots, bool plain);
/* Every flat row (the allowed ones) into the heap of k, exactly: the int8
 * copies bound each row's score, and the rows that can make the k best are
 * scored in float32 (vindex_scan.c). Under the read lock. 0 or -ENOMEM. */
int vindex_flat_scan(vindex_t *ix, const float *qq, size_t k, const idset_t *allowed,
                     vindex_hit_t *heap, size_t *got);

/* The bytes of one block of VINDEX_BLOCK_ROWS flat rows (vindex.c). */
size_t vindex_block_bytes(const vindex_t *ix);
/* For reading a saved flat segment (vindex_file.c), under the write lock:
 * room for n rows in the empty segment (blocks mapped, ids reserved), then,
 * once ids[0..n) and the blocks are filled, the id map and the count: 0,
 * -EEXIST (an id twice: the segment is emptied) or -ENOMEM. */
int vindex_flat_reserve(vindex_t *ix, size_t n);
int vindex_flat_index(vindex_t *ix, size_t n);

/* The best k kept in a min-heap: heap[0] is the worst kept. */
void vindex_heap_offer(vindex_hit_t *h, size_t *n, size_t k, vindex_hit_t c);
/* Sorts a heap's hits best first. */
void vindex_heap_sort(vindex_hit_t *h, size_t n);
/* Whether c would enter a full heap of k. */
bool vindex_heap_takes(const vindex_hit_t *h, size_t n, size_t k, vindex_hit_t c);

/* For the builder: copies the vectors of those of these ids that are flat
 * rows into vecs (dim floats each) and their ids into got; returns how
 * many. */
size_t vindex_flat_copy(vindex_t *ix, const int64_t *ids, size_t n, int64_t *got, float *vecs);
/* For the builder: the flat rows with these ids leave (the graph has them
 * now); ids no longer there were removed meanwhile, so the graph's copies
 * become pending deletes. Raises the watermark. 0 or -ENOMEM. */
int vindex_flat_handover(vindex_t *ix, const int64_t *ids, size_t n, int64_t watermark);
/* For the builder: a snapshot of the flat ids, ascending, into *ids
 * (grown as needed). The count, or -ENOMEM. */
long vindex_flat_ids(vindex_t *ix, int64_t **ids, size_t *cap);

/* Empties the flat segment (under the write lock). */
void vindex_flat_clear(vindex_t *ix);

/* Builder side (vindex_graph.c). */
int vindex_graph_init(vindex_t *ix);
void vindex_graph_fini(vindex_t *ix);
/* Wakes the builder (new rows, removals or a sample to check). */
void vindex_graph_wake(vindex_t *ix);

/* glock for reading, announced in glock_waiting while it waits (only
 * then: a search that gets it at once touches no shared counter). */
static inline void vindex_glock_read(vindex_t *ix)
{
    if (pthread_rwlock_tryrdlock(&ix->glock) == 0) return;
    atomic_fetch_add_explicit(&ix->glock_waiting, 1, memory_order_relaxed);
    pthread_rwlock_rdlock(&ix->glock);
    atomic_fetch_sub_explicit(&ix->glock_waiting, 1, memory_order_relaxed);
}

#endif
