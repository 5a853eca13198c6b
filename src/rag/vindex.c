#include "rag/vindex.h"
#include "util/vec.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY_SLOT UINT32_MAX

struct vindex {
    pthread_rwlock_t lock;
    unsigned dim, stride; /* stride: dim rounded up to 16 floats */
    float **blocks;       /* each VINDEX_BLOCK_ROWS * stride floats, 64-byte aligned */
    size_t nblocks, blocks_cap;
    int64_t *ids; /* row -> id */
    size_t n, ids_cap;
    /* id -> row: open addressing, linear probing, backward-shift deletion */
    int64_t *keys;
    uint32_t *rows;
    size_t mask, used;
};

typedef float v16 __attribute__((vector_size(64), aligned(64)));

static inline float *row_ptr(const vindex_t *ix, size_t r)
{
    return ix->blocks[r / VINDEX_BLOCK_ROWS] + (r % VINDEX_BLOCK_ROWS) * ix->stride;
}

static size_t slot_of(const vindex_t *ix, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 20) & ix->mask;
}

static size_t map_find(const vindex_t *ix, int64_t id)
{
    if (!ix->keys) return SIZE_MAX;
    for (size_t i = slot_of(ix, id);; i = (i + 1) & ix->mask) {
        if (ix->rows[i] == EMPTY_SLOT) return SIZE_MAX;
        if (ix->keys[i] == id) return i;
    }
}

static int map_grow(vindex_t *ix)
{
    size_t cap = ix->keys ? (ix->mask + 1) * 2 : 1024;
    int64_t *keys = malloc(cap * sizeof *keys);
    uint32_t *rows = malloc(cap * sizeof *rows);
    if (!keys || !rows) {
        free(keys);
        free(rows);
        return -ENOMEM;
    }
    memset(rows, 0xff, cap * sizeof *rows);
    int64_t *ok = ix->keys;
    uint32_t *orow = ix->rows;
    size_t ocap = ok ? ix->mask + 1 : 0;
    ix->keys = keys;
    ix->rows = rows;
    ix->mask = cap - 1;
    for (size_t i = 0; i < ocap; i++) {
        if (orow[i] == EMPTY_SLOT) continue;
        size_t s = slot_of(ix, ok[i]);
        while (rows[s] != EMPTY_SLOT) s = (s + 1) & ix->mask;
        keys[s] = ok[i];
        rows[s] = orow[i];
    }
    free(ok);
    free(orow);
    return 0;
}

static void map_put(vindex_t *ix, int64_t id, uint32_t row)
{
    size_t s = slot_of(ix, id);
    while (ix->rows[s] != EMPTY_SLOT) s = (s + 1) & ix->mask;
    ix->keys[s] = id;
    ix->rows[s] = row;
    ix->used++;
}

static void map_del(vindex_t *ix, size_t s)
{
    /* backward-shift: keep every probe chain unbroken */
    size_t hole = s;
    for (size_t i = (s + 1) & ix->mask; ix->rows[i] != EMPTY_SLOT; i = (i + 1) & ix->mask) {
        size_t home = slot_of(ix, ix->keys[i]);
        bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
        if (movable) {
            ix->keys[hole] = ix->keys[i];
            ix->rows[hole] = ix->rows[i];
            hole = i;
        }
    }
    ix->rows[hole] = EMPTY_SLOT;
    ix->used--;
}

int vindex_new(vindex_t **out, unsigned dim)
{
    *out = NULL;
    if (dim == 0) return -EINVAL;
    vindex_t *ix = calloc(1, sizeof *ix);
    if (!ix) return -ENOMEM;
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ix->lock, &a);
    pthread_rwlockattr_destroy(&a);
    ix->dim = dim;
    ix->stride = (dim + 15) / 16 * 16;
    *out = ix;
    return 0;
}

void vindex_free(vindex_t **ixp)
{
    vindex_t *ix = ixp ? *ixp : NULL;
    if (!ix) return;
    for (size_t i = 0; i < ix->nblocks; i++) free(ix->blocks[i]);
    free(ix->blocks);
    free(ix->ids);
    free(ix->keys);
    free(ix->rows);
    pthread_rwlock_destroy(&ix->lock);
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
    pthread_rwlock_unlock(&ix->lock);
    return n;
}

/* Room for `more` rows: blocks, the id array, the map. Under the write lock. */
static int reserve(vindex_t *ix, size_t more)
{
    size_t need = ix->n + more;
    while (ix->nblocks * VINDEX_BLOCK_ROWS < need) {
        if (vec_reserve((void **)&ix->blocks, &ix->blocks_cap, ix->nblocks + 1, 16,
                        sizeof *ix->blocks))
            return -ENOMEM;
        float *b = aligned_alloc(64, (size_t)VINDEX_BLOCK_ROWS * ix->stride * sizeof(float));
        if (!b) return -ENOMEM;
        memset(b, 0, (size_t)VINDEX_BLOCK_ROWS * ix->stride * sizeof(float));
        ix->blocks[ix->nblocks++] = b;
    }
    if (vec_reserve((void **)&ix->ids, &ix->ids_cap, need, 1024, sizeof *ix->ids)) return -ENOMEM;
    while ((ix->used + more) * 2 > (ix->keys ? ix->mask + 1 : 0))
        if (map_grow(ix)) return -ENOMEM;
    return 0;
}

int vindex_add(vindex_t *ix, const int64_t *ids, const float *vecs, size_t n)
{
    int rc = 0;
    pthread_rwlock_wrlock(&ix->lock);
    for (size_t i = 0; i < n; i++)
        if (map_find(ix, ids[i]) != SIZE_MAX) rc = -EEXIST;
    if (rc == 0) rc = reserve(ix, n);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            float *r = row_ptr(ix, ix->n);
            memcpy(r, vecs + i * ix->dim, ix->dim * sizeof(float));
            memset(r + ix->dim, 0, (ix->stride - ix->dim) * sizeof(float));
            ix->ids[ix->n] = ids[i];
            map_put(ix, ids[i], (uint32_t)ix->n);
            ix->n++;
        }
    }
    pthread_rwlock_unlock(&ix->lock);
    return rc;
}

size_t vindex_remove(vindex_t *ix, const int64_t *ids, size_t n)
{
    size_t removed = 0;
    pthread_rwlock_wrlock(&ix->lock);
    for (size_t i = 0; i < n; i++) {
        size_t s = map_find(ix, ids[i]);
        if (s == SIZE_MAX) continue;
        size_t row = ix->rows[s], last = ix->n - 1;
        map_del(ix, s);
        if (row != last) { /* move the last row into the hole */
            memcpy(row_ptr(ix, row), row_ptr(ix, last), ix->stride * sizeof(float));
            ix->ids[row] = ix->ids[last];
            ix->rows[map_find(ix, ix->ids[row])] = (uint32_t)row;
        }
        ix->n--;
        removed++;
    }
    pthread_rwlock_unlock(&ix->lock);
    return removed;
}

/* Scores of nrows consecutive rows against q. The hot loop of every
 * search: one pass over the rows' memory. The widest SIMD the CPU has is
 * picked at load time (an ifunc); not under ThreadSanitizer, whose
 * instrumented resolver would run before its runtime is up and crash. */
#if defined(__SANITIZE_THREAD__)
#define VINDEX_CLONES
#else
#define VINDEX_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
VINDEX_CLONES static void score_rows(const float *rows, size_t nrows, unsigned stride,
                                     const float *q, float *out)
{
    for (size_t r = 0; r < nrows; r++) {
        const float *row = rows + r * stride;
        v16 a0 = {0}, a1 = {0};
        unsigned i = 0;
        for (; i + 32 <= stride; i += 32) {
            a0 += *(const v16 *)(row + i) * *(const v16 *)(q + i);
            a1 += *(const v16 *)(row + i + 16) * *(const v16 *)(q + i + 16);
        }
        if (i < stride) a0 += *(const v16 *)(row + i) * *(const v16 *)(q + i);
        a0 += a1;
        float s = 0;
        for (int k = 0; k < 16; k++) s += a0[k];
        out[r] = s;
    }
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

static void heap_offer(vindex_hit_t *h, size_t *n, size_t k, vindex_hit_t c)
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

long vindex_search(vindex_t *ix, const float *q, size_t k, vindex_allow_fn allow, void *ctx,
                   vindex_hit_t *out)
{
    if (k > VINDEX_MAX_K) k = VINDEX_MAX_K;
    if (k == 0) return 0;
    float *qq = aligned_alloc(64, ix->stride * sizeof(float));
    float *scores = aligned_alloc(64, VINDEX_BLOCK_ROWS * sizeof(float));
    long n = 0;
    size_t got = 0;
    if (!qq || !scores) {
        n = -ENOMEM;
        goto out;
    }
    memcpy(qq, q, ix->dim * sizeof(float));
    memset(qq + ix->dim, 0, (ix->stride - ix->dim) * sizeof(float));
    pthread_rwlock_rdlock(&ix->lock);
    for (size_t b = 0; b * VINDEX_BLOCK_ROWS < ix->n; b++) {
        size_t first = b * VINDEX_BLOCK_ROWS;
        size_t rows = ix->n - first < VINDEX_BLOCK_ROWS ? ix->n - first : VINDEX_BLOCK_ROWS;
        score_rows(ix->blocks[b], rows, ix->stride, qq, scores);
        for (size_t r = 0; r < rows; r++) {
            vindex_hit_t c = {ix->ids[first + r], scores[r]};
            if (got == k && !worse(&out[0], &c)) continue; /* cheap reject first */
            if (allow && !allow(ctx, c.id)) continue;
            heap_offer(out, &got, k, c);
        }
    }
    pthread_rwlock_unlock(&ix->lock);
    qsort(out, got, sizeof *out, cmp_best);
    n = (long)got;
out:
    free(qq);
    free(scores);
    return n;
}

size_t vindex_search_reference(vindex_t *ix, const float *q, size_t k, vindex_hit_t *out)
{
    pthread_rwlock_rdlock(&ix->lock);
    vindex_hit_t *all = malloc((ix->n ? ix->n : 1) * sizeof *all);
    size_t n = 0;
    if (all) {
        for (size_t r = 0; r < ix->n; r++) {
            const float *row = row_ptr(ix, r);
            double s = 0;
            for (unsigned i = 0; i < ix->dim; i++) s += (double)row[i] * q[i];
            all[r] = (vindex_hit_t){ix->ids[r], (float)s};
        }
        qsort(all, ix->n, sizeof *all, cmp_best);
        n = ix->n < k ? ix->n : k;
        memcpy(out, all, n * sizeof *out);
        free(all);
    }
    pthread_rwlock_unlock(&ix->lock);
    return n;
}
