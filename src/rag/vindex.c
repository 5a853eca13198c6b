#include "rag/vindex.h"
#include "rag/vindex_int.h"
#include "util/dot.h"
#include "util/par.h"
#include "util/vec.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Defaults (vindex_opts_t): hnswlib's usual m; ef values measured by
 * make bench-scale for recall@10 >= 0.95; the sizes where exact scoring
 * stops paying (see README, "Vector index"). */
#define DEFAULT_M                16
#define DEFAULT_EF_CONSTRUCTION  100
#define DEFAULT_EF_SEARCH        256
#define DEFAULT_ANN_MIN_ROWS     50000
#define DEFAULT_FILTER_EXACT_MAX 20000
#define GRAPH_MAX_CANDIDATES     4096 /* a filtered graph search explores at most this */

/* Blocks come straight from mmap: freed, they go back to the system at
 * once. From malloc they might not: glibc raises its mmap threshold after
 * a large free, and later blocks would come from a heap that keeps what
 * the flat segment hands over to the graph (1.5 GiB at a million rows).
 * A block starts on a huge page boundary and asks for huge pages
 * (MADV_HUGEPAGE: Debian's kernels give them only where asked): a filtered
 * search reads rows anywhere in the index, a TLB miss each with 4 KiB
 * pages; at a million rows, 1 % allowed, p50 9.0-9.1 -> 7.4-7.7 ms, with
 * the prefetching of score_ids (below) 12.2-13.0 -> 7.0-7.4 ms (two
 * rounds, 2026-12-07). Its pages are then mapped in one call
 * (MADV_POPULATE_WRITE, as MAP_POPULATE did before) instead of a fault per
 * page on first write: loading 204,000 vectors at start-up took 1.26-1.31
 * s populated, 1.77-1.86 s not (the faults were a third of the time on
 * this VM); a million rows took 3.8-4.4 s with huge pages, 4.9-5.1 s
 * without. A block is filled before the next is made, so only the last
 * one and the spare blocks_trim keeps hold pages not yet in use (15 MiB at
 * 384 dimensions). */
size_t vindex_block_bytes(const vindex_t *ix)
{
    /* the floats, the int8 copies, 3 floats of bounds a row (vindex_int.h) */
    return (size_t)VINDEX_BLOCK_ROWS * (ix->stride * (sizeof(float) + 1) + 3 * sizeof(float));
}

#define HUGE_PAGE ((size_t)2 << 20)

static float *block_new(const vindex_t *ix)
{
    size_t bytes = vindex_block_bytes(ix);
    /* mapped with a huge page's room to spare, then trimmed to start on a
     * huge page boundary (the last part short of a huge page stays small
     * pages: nothing is mapped that is not used) */
    char *p = mmap(NULL, bytes + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                   0); /* page-aligned (so 64-byte aligned) and zeroed */
    if (p == MAP_FAILED) return NULL;
    size_t head = (HUGE_PAGE - (uintptr_t)p % HUGE_PAGE) % HUGE_PAGE;
    if (head) munmap(p, head);
    munmap(p + head + bytes, HUGE_PAGE - head);
    p += head;
    madvise(p, bytes, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
    madvise(p, bytes, MADV_POPULATE_WRITE);
#endif
    return (float *)p;
}

/* Frees the blocks past the rows in use, but one (a segment that shrinks
 * and grows around a block boundary does not map and unmap each time).
 * Under the write lock. */
static void blocks_trim(vindex_t *ix)
{
    size_t keep = (ix->n + VINDEX_BLOCK_ROWS - 1) / VINDEX_BLOCK_ROWS + 1;
    while (ix->nblocks > keep) munmap(ix->blocks[--ix->nblocks], vindex_block_bytes(ix));
}

const char *vindex_kind_name(vindex_kind_t k)
{
    return k == VINDEX_EXACT ? "exact" : k == VINDEX_HNSW ? "hnsw" : "auto";
}

int vindex_new(vindex_t **out, unsigned dim, const vindex_opts_t *o)
{
    *out = NULL;
    if (dim == 0) return -EINVAL;
    vindex_t *ix = calloc(1, sizeof *ix);
    if (!ix) return -ENOMEM;
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ix->lock, &a);
    pthread_rwlock_init(&ix->glock, &a);
    pthread_rwlockattr_destroy(&a);
    ix->dim = dim;
    ix->stride = (dim + 15) / 16 * 16;
    if (o)
        ix->o = *o;
    else
        ix->o.kind = VINDEX_EXACT;
    if (!ix->o.m) ix->o.m = DEFAULT_M;
    if (!ix->o.ef_construction) ix->o.ef_construction = DEFAULT_EF_CONSTRUCTION;
    if (!ix->o.ef_search) ix->o.ef_search = DEFAULT_EF_SEARCH;
    if (!ix->o.ann_min_rows) ix->o.ann_min_rows = DEFAULT_ANN_MIN_ROWS;
    if (!ix->o.filter_exact_max) ix->o.filter_exact_max = DEFAULT_FILTER_EXACT_MAX;
    if (!ix->o.build_threads) ix->o.build_threads = 1;
    if (ix->o.build_threads > PAR_MAX_THREADS) ix->o.build_threads = PAR_MAX_THREADS;
    ix->o.path = NULL;
    int rc = 0;
    if (o && o->path && !(ix->path = strdup(o->path))) rc = -ENOMEM;
    if (!rc && ix->o.m > HNSW_MAX_M) rc = -EINVAL;
    if (!rc) rc = vindex_graph_init(ix);
    if (rc) {
        free(ix->path);
        pthread_rwlock_destroy(&ix->lock);
        pthread_rwlock_destroy(&ix->glock);
        free(ix);
        return rc;
    }
    *out = ix;
    return 0;
}

void vindex_free(vindex_t **ixp)
{
    vindex_t *ix = ixp ? *ixp : NULL;
    if (!ix) return;
    vindex_graph_fini(ix); /* stops the builder and saves the graph */
    for (size_t i = 0; i < ix->nblocks; i++) munmap(ix->blocks[i], vindex_block_bytes(ix));
    free(ix->blocks);
    free(ix->ids);
    idmap_free(&ix->map);
    free(ix->path);
    pthread_rwlock_destroy(&ix->lock);
    pthread_rwlock_destroy(&ix->glock);
    free(ix);
    *ixp = NULL;
}

unsigned vindex_dim(const vindex_t *ix)
{
    return ix->dim;
}

size_t vindex_size(vindex_t *ix)
{
    pthread_rwlock_rdlock(&ix->lock);
    size_t n = ix->n;
    if (ix->graph) {
        vindex_glock_read(ix);
        n += hnsw_live(ix->graph) - ix->pending.n; /* pending rows are live graph rows */
        pthread_rwlock_unlock(&ix->glock);
    }
    pthread_rwlock_unlock(&ix->lock);
    return n;
}

void vindex_stats(vindex_t *ix, vindex_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->kind = ix->o.kind;
    st->m = ix->o.m;
    st->ef_construction = ix->o.ef_construction;
    st->ef_search = ix->o.ef_search;
    st->build_threads = ix->o.build_threads;
    st->ann_min_rows = ix->o.ann_min_rows;
    pthread_rwlock_rdlock(&ix->lock);
    st->flat_rows = ix->n;
    st->pending_deletes = ix->pending.n;
    st->watermark = ix->watermark;
    st->memory_bytes = ix->nblocks * vindex_block_bytes(ix) + ix->ids_cap * sizeof *ix->ids +
                       idmap_bytes(&ix->map);
    if (ix->graph) {
        vindex_glock_read(ix);
        st->graph_rows = hnsw_live(ix->graph);
        st->graph_deleted = hnsw_deleted(ix->graph);
        st->memory_bytes += hnsw_memory(ix->graph);
        st->m = hnsw_m(ix->graph);
        st->ef_construction = hnsw_ef_construction(ix->graph);
        pthread_rwlock_unlock(&ix->glock);
    }
    pthread_rwlock_unlock(&ix->lock);
    pthread_mutex_lock(&ix->smu);
    st->recall = -1;
    if (ix->nrecall) {
        double sum = 0;
        for (unsigned i = 0; i < ix->nrecall; i++) sum += ix->recall[i];
        st->recall = sum / ix->nrecall;
    }
    st->recall_checks = ix->recall_checks;
    st->saves = ix->saves;
    st->save_errors = ix->save_errors;
    pthread_mutex_unlock(&ix->smu);
}

/* Room for `more` rows: blocks (the spare ones first, each taken is set
 * to NULL), the id array, the map. Under the write lock. */
static int reserve(vindex_t *ix, size_t more, float **spare, size_t nspare)
{
    size_t need = ix->n + more;
    while (ix->nblocks * VINDEX_BLOCK_ROWS < need) {
        if (vec_reserve((void **)&ix->blocks, &ix->blocks_cap, ix->nblocks + 1, 16,
                        sizeof *ix->blocks))
            return -ENOMEM;
        float *b = NULL;
        for (size_t i = 0; !b && i < nspare; i++)
            if (spare[i]) b = spare[i], spare[i] = NULL;
        if (!b && !(b = block_new(ix))) return -ENOMEM;
        ix->blocks[ix->nblocks++] = b;
    }
    if (vec_reserve((void **)&ix->ids, &ix->ids_cap, need, 1024, sizeof *ix->ids)) return -ENOMEM;
    return idmap_reserve(&ix->map, more);
}

int vindex_flat_reserve(vindex_t *ix, size_t n)
{
    return ix->n ? -EBUSY : reserve(ix, n, NULL, 0);
}

int vindex_flat_index(vindex_t *ix, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (idmap_find(&ix->map, ix->ids[i]) != SIZE_MAX) {
            vindex_flat_clear(ix);
            return -EEXIST;
        }
        idmap_put(&ix->map, ix->ids[i], (uint32_t)i);
        ix->n = i + 1;
    }
    return 0;
}

/* The blocks an add of n rows will need, mapped before the write lock is
 * taken: mapping one fills 8 MiB of pages (MAP_POPULATE), milliseconds that
 * searches waited for once every 4,096 rows. A guess (the lock is not
 * held): reserve maps what is still missing, and vindex_add unmaps what
 * it did not use. *nspare: how many; NULL when none are needed or there is
 * no memory (reserve then maps them itself, or fails). */
static float **spare_blocks(vindex_t *ix, size_t n, size_t *nspare)
{
    pthread_rwlock_rdlock(&ix->lock);
    size_t room = ix->nblocks * VINDEX_BLOCK_ROWS - ix->n;
    pthread_rwlock_unlock(&ix->lock);
    *nspare = 0;
    if (n <= room) return NULL;
    size_t want = (n - room + VINDEX_BLOCK_ROWS - 1) / VINDEX_BLOCK_ROWS;
    float **spare = calloc(want, sizeof *spare);
    for (size_t i = 0; spare && i < want && (spare[i] = block_new(ix)); i++) *nspare = i + 1;
    return spare;
}

/* The int8 copies of an add's rows, made before the write lock is taken
 * (like its blocks, spare_blocks):
 * they were most of an add's time (2 us a row at 384 dimensions), and
 * searches wait on the lock. An add of QUANTIZE_PAR_ROWS rows or more (the
 * start-up's batches) makes them on o.threads threads. */
#define QUANTIZE_PAR_ROWS 256

struct quantize_job {
    const vindex_t *ix;
    const float *vecs;
    int8_t *q;
    float *meta;
};

static void quantize_one(void *ctx, size_t i)
{
    const struct quantize_job *j = ctx;
    vindex_quantize(j->ix, j->vecs + i * j->ix->dim, j->q + i * j->ix->stride, j->meta + 3 * i);
}

/* Rows [r0, r0 + n) take their int8 copies q (n rows of stride bytes) and
 * bounds meta (3 floats a row) into their blocks' columns, a column at a
 * time for each 64 rows: a row at a time, each of its 384 bytes went to a
 * cache line of its own, and a million rows took 2.7 s more to load from
 * the store. Under the write lock. */
static void qput_rows(vindex_t *ix, size_t r0, size_t n, const int8_t *q, const float *meta)
{
    unsigned stride = ix->stride;
    for (size_t i = 0; i < n;) {
        size_t r = r0 + i, off = r % VINDEX_BLOCK_ROWS;
        size_t t = 64 - off % 64 < n - i ? 64 - off % 64 : n - i;
        int8_t *cols = vindex_qcols(ix, r / VINDEX_BLOCK_ROWS) + off;
        for (unsigned d = 0; d < stride; d++) {
            int8_t *c = cols + (size_t)d * VINDEX_BLOCK_ROWS;
            for (size_t k = 0; k < t; k++) c[k] = q[(i + k) * stride + d];
        }
        float *m = vindex_qmeta(ix, r / VINDEX_BLOCK_ROWS) + off;
        for (size_t k = 0; k < t; k++)
            for (int x = 0; x < 3; x++)
                m[(size_t)x * VINDEX_BLOCK_ROWS + k] = meta[3 * (i + k) + x];
        i += t;
    }
}

/* Row from's int8 copy and bounds to row to, in their columns. Under the
 * write lock. */
static void qmove(const vindex_t *ix, size_t to, size_t from)
{
    int8_t *t = vindex_qcols(ix, to / VINDEX_BLOCK_ROWS) + to % VINDEX_BLOCK_ROWS;
    const int8_t *f = vindex_qcols(ix, from / VINDEX_BLOCK_ROWS) + from % VINDEX_BLOCK_ROWS;
    for (unsigned i = 0; i < ix->stride; i++)
        t[(size_t)i * VINDEX_BLOCK_ROWS] = f[(size_t)i * VINDEX_BLOCK_ROWS];
    float *mt = vindex_qmeta(ix, to / VINDEX_BLOCK_ROWS) + to % VINDEX_BLOCK_ROWS;
    const float *mf = vindex_qmeta(ix, from / VINDEX_BLOCK_ROWS) + from % VINDEX_BLOCK_ROWS;
    for (int i = 0; i < 3; i++) mt[i * VINDEX_BLOCK_ROWS] = mf[i * VINDEX_BLOCK_ROWS];
}

int vindex_add(vindex_t *ix, const int64_t *ids, const float *vecs, size_t n)
{
    if (n == 0) return 0;
    unsigned stride = ix->stride;
    struct quantize_job j = {
        .ix = ix, .vecs = vecs, .q = malloc(n * stride), .meta = malloc(n * 3 * sizeof(float))};
    int rc = j.q && j.meta ? 0 : -ENOMEM;
    if (rc == 0) par_for(n, n >= QUANTIZE_PAR_ROWS ? ix->o.threads : 1, quantize_one, &j);
    size_t nspare = 0;
    float **spare = rc == 0 ? spare_blocks(ix, n, &nspare) : NULL;
    if (rc == 0) {
        pthread_rwlock_wrlock(&ix->lock);
        for (size_t i = 0; i < n; i++)
            if (idmap_find(&ix->map, ids[i]) != SIZE_MAX) rc = -EEXIST;
        if (rc == 0) rc = reserve(ix, n, spare, nspare);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            float *r = vindex_row(ix, ix->n);
            memcpy(r, vecs + i * ix->dim, ix->dim * sizeof(float));
            memset(r + ix->dim, 0, (stride - ix->dim) * sizeof(float));
            ix->ids[ix->n] = ids[i];
            idmap_put(&ix->map, ids[i], (uint32_t)ix->n);
            ix->n++;
        }
        if (rc == 0) qput_rows(ix, ix->n - n, n, j.q, j.meta);
        pthread_rwlock_unlock(&ix->lock);
    }
    for (size_t i = 0; i < nspare; i++)
        if (spare[i]) munmap(spare[i], vindex_block_bytes(ix));
    free(spare);
    free(j.q);
    free(j.meta);
    if (rc == 0) vindex_graph_wake(ix);
    return rc;
}

/* Removes the flat row in map slot s: the last row moves into its place.
 * Under the write lock. */
static void flat_remove_slot(vindex_t *ix, size_t s)
{
    size_t row = ix->map.vals[s], last = ix->n - 1;
    idmap_del(&ix->map, s);
    if (row != last) {
        memcpy(vindex_row(ix, row), vindex_row(ix, last), ix->stride * sizeof(float));
        qmove(ix, row, last);
        ix->ids[row] = ix->ids[last];
        ix->map.vals[idmap_find(&ix->map, ix->ids[row])] = (uint32_t)row;
    }
    ix->n--;
}

size_t vindex_remove(vindex_t *ix, const int64_t *ids, size_t n)
{
    size_t removed = 0;
    bool graph_work = false;
    pthread_rwlock_wrlock(&ix->lock);
    if (ix->graph) vindex_glock_read(ix);
    for (size_t i = 0; i < n; i++) {
        size_t s = idmap_find(&ix->map, ids[i]);
        if (s != SIZE_MAX) {
            flat_remove_slot(ix, s);
            removed++;
        } else if (ix->graph && !idset_has(&ix->pending, ids[i]) &&
                   hnsw_vector(ix->graph, ids[i])) {
            /* hidden from searches now; the builder marks it in the graph */
            if (idset_add(&ix->pending, ids[i]) == 0) {
                removed++;
                graph_work = true;
            }
        }
    }
    if (ix->graph) pthread_rwlock_unlock(&ix->glock);
    blocks_trim(ix);
    pthread_rwlock_unlock(&ix->lock);
    if (graph_work) vindex_graph_wake(ix);
    return removed;
}

int vindex_flat_handover(vindex_t *ix, const int64_t *ids, size_t n, int64_t watermark)
{
    int rc = 0;
    pthread_rwlock_wrlock(&ix->lock);
    for (size_t i = 0; i < n; i++) {
        size_t s = idmap_find(&ix->map, ids[i]);
        if (s != SIZE_MAX)
            flat_remove_slot(ix, s);
        else if (idset_add(&ix->pending, ids[i]) != 0)
            rc = -ENOMEM;
    }
    blocks_trim(ix);
    if (watermark > ix->watermark) ix->watermark = watermark;
    pthread_rwlock_unlock(&ix->lock);
    return rc;
}

size_t vindex_flat_copy(vindex_t *ix, const int64_t *ids, size_t n, int64_t *got, float *vecs)
{
    size_t m = 0;
    pthread_rwlock_rdlock(&ix->lock);
    for (size_t i = 0; i < n; i++) {
        size_t s = idmap_find(&ix->map, ids[i]);
        if (s == SIZE_MAX) continue;
        memcpy(vecs + m * ix->dim, vindex_row(ix, ix->map.vals[s]), ix->dim * sizeof(float));
        got[m++] = ids[i];
    }
    pthread_rwlock_unlock(&ix->lock);
    return m;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void vindex_flat_clear(vindex_t *ix)
{
    ix->n = 0;
    idmap_clear(&ix->map);
    blocks_trim(ix);
}

long vindex_flat_ids(vindex_t *ix, int64_t **ids, size_t *cap)
{
    pthread_rwlock_rdlock(&ix->lock);
    size_t n = ix->n;
    int rc = vec_reserve((void **)ids, cap, n ? n : 1, 1024, sizeof **ids);
    if (rc == 0) memcpy(*ids, ix->ids, n * sizeof **ids);
    pthread_rwlock_unlock(&ix->lock);
    if (rc) return rc;
    qsort(*ids, n, sizeof **ids, cmp_id);
    return (long)n;
}

/* Min-heap of the best k: heap[0] is the worst kept. */
static bool worse(const vindex_hit_t *a, const vindex_hit_t *b)
{
    return a->score < b->score || (a->score == b->score && a->id > b->id);
}

static void heap_down(vindex_hit_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m])) m = l;
        if (r < n && worse(&h[r], &h[m])) m = r;
        if (m == i) return;
        vindex_hit_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

bool vindex_heap_takes(const vindex_hit_t *h, size_t n, size_t k, vindex_hit_t c)
{
    return n < k || worse(&h[0], &c);
}

void vindex_heap_offer(vindex_hit_t *h, size_t *n, size_t k, vindex_hit_t c)
{
    if (*n < k) { /* sift up */
        size_t i = (*n)++;
        h[i] = c;
        while (i && worse(&h[i], &h[(i - 1) / 2])) {
            vindex_hit_t t = h[i];
            h[i] = h[(i - 1) / 2];
            h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (worse(&h[0], &c)) {
        h[0] = c;
        heap_down(h, *n, 0);
    }
}

static int cmp_best(const void *a, const void *b)
{
    const vindex_hit_t *x = a, *y = b;
    return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

void vindex_heap_sort(vindex_hit_t *h, size_t n)
{
    qsort(h, n, sizeof *h, cmp_best);
}

#define SCORE_AHEAD 8   /* ids fetched ahead of their use in score_ids */
#define SCORE_CHUNK 256 /* ids score_ids takes at a time */

/* An allowed id's vector, wherever it lives, or NULL (not in the index). */
static const float *allowed_vector(vindex_t *ix, int64_t id)
{
    size_t s = idmap_find(&ix->map, id);
    if (s != SIZE_MAX) return vindex_row(ix, ix->map.vals[s]);
    if (!ix->graph || idset_has(&ix->pending, id)) return NULL;
    return hnsw_vector(ix->graph, id);
}

/* Scores the allowed ids one by one (a selective filter: exact). Their
 * rows lie anywhere in the index, each a cache and TLB miss, so each chunk
 * of ids is done in two passes that keep several misses in flight instead
 * of one: their map slots, then their vectors, each fetched SCORE_AHEAD
 * ids before it is needed. Under the read lock (and glock with a graph). */
static void score_ids(vindex_t *ix, const float *qq, size_t k, const idset_t *allowed,
                      vindex_hit_t *heap, size_t *got)
{
    int64_t ids[SCORE_CHUNK];
    const float *vecs[SCORE_CHUNK];
    size_t bytes = ix->dim * sizeof(float), i = 0;
    while (allowed->keys && i <= allowed->mask) {
        size_t n = 0, m = 0;
        for (; i <= allowed->mask && n < SCORE_CHUNK; i++)
            if (allowed->keys[i]) ids[n++] = allowed->keys[i];
        for (size_t j = 0; j < n; j++) {
            if (j + SCORE_AHEAD < n) idmap_prefetch(&ix->map, ids[j + SCORE_AHEAD]);
            const float *v = allowed_vector(ix, ids[j]);
            if (v) {
                ids[m] = ids[j];
                vecs[m++] = v;
            }
        }
        for (size_t j = 0; j < m; j++) {
            if (j + SCORE_AHEAD < m)
                for (size_t b = 0; b < bytes; b += 64)
                    __builtin_prefetch((const char *)vecs[j + SCORE_AHEAD] + b);
            vindex_heap_offer(heap, got, k, (vindex_hit_t){ids[j], dot_f32(vecs[j], qq, ix->dim)});
        }
    }
}

/* The graph's nearest rows into the heap: want candidates (more when a
 * filter or pending deletes will drop some). Under the read lock and glock.
 * Returns how many of them passed, or -ENOMEM. */
static long graph_ask(vindex_t *ix, const float *qq, size_t k, const idset_t *allowed, size_t total,
                      vindex_hit_t *heap, size_t *got)
{
    size_t want = k + ix->pending.n;
    if (allowed) /* enough candidates that about k pass the filter, twice over */
        want = allowed->n ? k * total / allowed->n * 2 : total;
    if (want > GRAPH_MAX_CANDIDATES) want = GRAPH_MAX_CANDIDATES;
    if (want < k) want = k;
    size_t ef = ix->o.ef_search > want ? ix->o.ef_search : want;
    hnsw_hit_t *hits = malloc(want * sizeof *hits);
    if (!hits) return -ENOMEM;
    long n = hnsw_search(ix->graph, qq, want, ef, hits);
    long passed = 0;
    for (long i = 0; i < n; i++) {
        if (idset_has(&ix->pending, hits[i].id)) continue;
        if (allowed && !idset_has(allowed, hits[i].id)) continue;
        if (idmap_find(&ix->map, hits[i].id) != SIZE_MAX)
            continue; /* being handed over: flat has it */
        vindex_heap_offer(heap, got, k, (vindex_hit_t){hits[i].id, hits[i].score});
        passed++;
    }
    free(hits);
    return n < 0 ? n : passed;
}

long vindex_search(vindex_t *ix, const float *q, size_t k, const idset_t *allowed,
                   vindex_hit_t *out)
{
    if (k > VINDEX_MAX_K) k = VINDEX_MAX_K;
    if (k == 0) return 0;
    float *qq = aligned_alloc(64, ix->stride * sizeof(float));
    long n = 0;
    size_t got = 0;
    if (!qq) {
        n = -ENOMEM;
        goto out;
    }
    memcpy(qq, q, ix->dim * sizeof(float));
    memset(qq + ix->dim, 0, (ix->stride - ix->dim) * sizeof(float));
    pthread_rwlock_rdlock(&ix->lock);
    if (!ix->graph) {
        if (allowed && allowed->n < ix->n / 8)
            score_ids(ix, qq, k, allowed, out, &got);
        else
            n = vindex_flat_scan(ix, qq, k, allowed, out, &got);
    } else {
        vindex_glock_read(ix);
        size_t total = ix->n + hnsw_live(ix->graph);
        if (allowed && allowed->n <= ix->o.filter_exact_max) {
            score_ids(ix, qq, k, allowed, out, &got); /* few allowed: exact */
        } else {
            n = vindex_flat_scan(ix, qq, k, allowed, out, &got);
            long passed = n ? n : graph_ask(ix, qq, k, allowed, total, out, &got);
            if (passed < 0)
                n = passed;
            else if (allowed && got < k) { /* the filter left too few: exact after all */
                got = 0;
                score_ids(ix, qq, k, allowed, out, &got);
            } else if (!allowed && ix->o.recall_every &&
                       atomic_fetch_add(&ix->searches, 1) % ix->o.recall_every == 0) {
                pthread_mutex_lock(&ix->smu);
                if (ix->sample && !ix->sample_full) {
                    memcpy(ix->sample, q, ix->dim * sizeof(float));
                    ix->sample_full = true;
                }
                pthread_mutex_unlock(&ix->smu);
            }
        }
        pthread_rwlock_unlock(&ix->glock);
    }
    pthread_rwlock_unlock(&ix->lock);
    if (n == 0) {
        vindex_heap_sort(out, got);
        n = (long)got;
    }
out:
    free(qq);
    return n;
}

/* The reference's dot product: a plain loop in double. */
static float dot_plain(const float *a, const float *b, unsigned n)
{
    double s = 0;
    for (unsigned i = 0; i < n; i++) s += (double)a[i] * b[i];
    return (float)s;
}

size_t vindex_search_reference(vindex_t *ix, const float *q, size_t k, vindex_hit_t *out)
{
    pthread_rwlock_rdlock(&ix->lock);
    if (ix->graph) vindex_glock_read(ix);
    size_t total = ix->n + (ix->graph ? hnsw_slots(ix->graph) : 0);
    vindex_hit_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t n = 0, m = 0;
    if (all) {
        for (size_t r = 0; r < ix->n; r++) {
            const float *row = vindex_row(ix, r);
            all[m++] = (vindex_hit_t){ix->ids[r], dot_plain(row, q, ix->dim)};
        }
        for (size_t r = 0; ix->graph && r < hnsw_slots(ix->graph); r++) {
            int64_t id;
            const float *row;
            if (!hnsw_row(ix->graph, r, &id, &row) || idset_has(&ix->pending, id)) continue;
            all[m++] = (vindex_hit_t){id, dot_plain(row, q, ix->dim)};
        }
        vindex_heap_sort(all, m);
        n = m < k ? m : k;
        memcpy(out, all, n * sizeof *out);
        free(all);
    }
    if (ix->graph) pthread_rwlock_unlock(&ix->glock);
    pthread_rwlock_unlock(&ix->lock);
    return n;
}
