/* The flat segment's exact scan, through an int8 copy of its rows.
 *
 * An exact scan reads every row: 1.5 KiB of float32 a row at 384
 * dimensions, 1.5 GB a query at a million rows, which is memory bandwidth
 * more than arithmetic (the hash embedder keeps the index exact; see
 * README, "Vector index"). So each row also has an int8 copy, a quarter of
 * the bytes, with what bounds its error:
 *
 *     x = s q + r      s = max|x_i| / 127, q_i = round(x_i / s), meta
 *                      (s, |r|, s|q|) kept beside the row
 *     y = t p + e      the query, likewise, at the start of a search
 *
 *     x.y = s t (q.p) + r.y + s (q.e), so |x.y - s t (q.p)| <= |r||y| + s|q||e|
 *
 * The scan scores the int8 rows (integer multiply-adds, AVX2 where the CPU
 * has it), keeps the k best lower bounds, and keeps as candidates the rows
 * whose upper bound reaches the k-th of them; only those are scored again
 * in float32, by the same code as before, so the results are the exact
 * scan's, bit for bit and tie for tie. A row outside the candidates is
 * below k rows' lower bounds, so below the k-th exact score. The bound
 * also covers float32 rounding (in the scores compared and in the bound
 * itself) with a margin of 2 (dim + 16) ulp of |x||y|. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "rag/vindex_int.h"
#include "util/dot.h"
#include "util/vec.h"

/* The widest SIMD the CPU has for quantize, picked at load time (an
 * ifunc); not under ThreadSanitizer, whose instrumented resolver would run
 * before its runtime is up and crash. */
#if defined(__SANITIZE_THREAD__)
#define VINDEX_CLONES
#else
#define VINDEX_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

typedef float v4f __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
typedef int v4i __attribute__((vector_size(16)));

/* x[0..dim) as int8 into q (zeros up to stride), and its (s, |r|, s|q|)
 * into meta. Four lanes at a time in double (it runs for every row at
 * start-up: a million rows took 3 s more with a scalar loop of divisions
 * and lrint). Rounding: t + 128.5 lies in [1.5, 255.5], so truncating it
 * and taking 128 off rounds t to the nearest integer, halves up, with no
 * branch. x need not be padded: a vector from a caller is dim floats. */
VINDEX_CLONES static void quantize(const float *x, unsigned dim, unsigned stride, int8_t *q,
                                   float *meta)
{
    float m = 0;
    for (unsigned i = 0; i < dim; i++) {
        float a = fabsf(x[i]);
        m = a > m ? a : m;
    }
    double s = m / 127.0, inv = m > 0 ? 127.0 / m : 0;
    v4d r2 = {0}, q2 = {0};
    unsigned i = 0;
    for (; i + 4 <= dim; i += 4) {
        v4f xf;
        memcpy(&xf, x + i, sizeof xf);
        v4d xd = __builtin_convertvector(xf, v4d);
        v4i v = __builtin_convertvector(xd * inv + 128.5, v4i) - 128;
        v4d vd = __builtin_convertvector(v, v4d);
        v4d r = xd - vd * s;
        r2 += r * r;
        q2 += vd * vd;
        for (int k = 0; k < 4; k++) q[i + k] = (int8_t)v[k];
    }
    double rr = r2[0] + r2[1] + r2[2] + r2[3], qq = q2[0] + q2[1] + q2[2] + q2[3];
    for (; i < dim; i++) { /* the same rounding, one at a time */
        double xd = x[i];
        int v = (int)(xd * inv + 128.5) - 128;
        double r = xd - v * s;
        rr += r * r;
        qq += (double)v * v;
        q[i] = (int8_t)v;
    }
    memset(q + dim, 0, stride - dim);
    /* rounded up, so that each stays a bound */
    meta[0] = (float)s;
    meta[1] = nextafterf((float)sqrt(rr), INFINITY);
    meta[2] = nextafterf((float)(s * sqrt(qq)), INFINITY);
}

void vindex_quantize(const vindex_t *ix, const float *x, int8_t *q, float *meta)
{
    quantize(x, ix->dim, ix->stride, q, meta);
}

/* q.p for nrows consecutive int8 rows (stride a multiple of 16). */
static void qdot_plain(const int8_t *rows, size_t nrows, unsigned stride, const int16_t *p,
                       int32_t *out)
{
    for (size_t r = 0; r < nrows; r++) {
        const int8_t *x = rows + r * stride;
        int32_t s = 0;
        for (unsigned i = 0; i < stride; i++) s += x[i] * p[i];
        out[r] = s;
    }
}

#if defined(__x86_64__)
/* Sixteen at a time: sign-extended to int16, multiplied and added in pairs
 * into int32 (vpmaddwd: 127 * 127 * 2 fits). */
__attribute__((target("avx2"))) static void
qdot_avx2(const int8_t *rows, size_t nrows, unsigned stride, const int16_t *p, int32_t *out)
{
    for (size_t r = 0; r < nrows; r++) {
        const int8_t *x = rows + r * stride;
        __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
        unsigned i = 0;
        for (; i + 32 <= stride; i += 32) {
            __m256i x0 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(x + i)));
            __m256i x1 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(x + i + 16)));
            a0 = _mm256_add_epi32(
                a0, _mm256_madd_epi16(x0, _mm256_load_si256((const __m256i *)(p + i))));
            a1 = _mm256_add_epi32(
                a1, _mm256_madd_epi16(x1, _mm256_load_si256((const __m256i *)(p + i + 16))));
        }
        if (i < stride) {
            __m256i x0 = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(x + i)));
            a0 = _mm256_add_epi32(
                a0, _mm256_madd_epi16(x0, _mm256_load_si256((const __m256i *)(p + i))));
        }
        a0 = _mm256_add_epi32(a0, a1);
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(a0), _mm256_extracti128_si256(a0, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
        out[r] = _mm_cvtsi128_si32(h);
    }
}
#endif

static void qdot(const int8_t *rows, size_t nrows, unsigned stride, const int16_t *p, int32_t *out)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) {
        qdot_avx2(rows, nrows, stride, p, out);
        return;
    }
#endif
    qdot_plain(rows, nrows, stride, p, out);
}

/* A row whose upper bound reached the k-th lower bound when it was read. */
typedef struct cand {
    uint32_t row;
    float hi;
} cand_t;

/* The k best lower bounds, a min-heap of floats: lb[0] is the k-th. */
static void lb_offer(float *lb, size_t *n, size_t k, float v)
{
    size_t i;
    if (*n < k) {
        i = (*n)++;
        for (; i && lb[(i - 1) / 2] > v; i = (i - 1) / 2) lb[i] = lb[(i - 1) / 2];
        lb[i] = v;
        return;
    }
    if (v <= lb[0]) return;
    i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float mv = v;
        if (l < *n && lb[l] < mv) m = l, mv = lb[l];
        if (r < *n && lb[r] < mv) m = r;
        if (m == i) break;
        lb[i] = lb[m];
        i = m;
    }
    lb[i] = v;
}

/* Drops the candidates under bound; returns how many are left. */
static size_t cands_prune(cand_t *c, size_t n, float bound)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].hi >= bound) c[m++] = c[i];
    return m;
}

/* Sifts c[i] down the max-heap c[0..n) by upper bound. */
static void hi_down(cand_t *c, size_t n, size_t i)
{
    cand_t v = c[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float mv = v.hi;
        if (l < n && c[l].hi > mv) m = l, mv = c[l].hi;
        if (r < n && c[r].hi > mv) m = r;
        if (m == i) break;
        c[i] = c[m];
        i = m;
    }
    c[i] = v;
}

int vindex_flat_scan(vindex_t *ix, const float *qq, size_t k, const idset_t *allowed,
                     vindex_hit_t *heap, size_t *got)
{
    if (ix->n == 0) return 0;
    unsigned stride = ix->stride;
    /* aligned_alloc wants a multiple of the alignment: 16 dimensions are 32 bytes */
    int16_t *p = aligned_alloc(64, (stride * sizeof *p + 63) / 64 * 64);
    int32_t *dots = malloc(VINDEX_BLOCK_ROWS * sizeof *dots);
    float *lb = malloc(k * sizeof *lb);
    cand_t *c = NULL;
    size_t nc = 0, cap = 0, nlb = 0;
    int rc = 0;
    if (!p || !dots || !lb) {
        rc = -ENOMEM;
        goto out;
    }
    float qmeta[3];
    int8_t *p8 = (int8_t *)dots; /* the query's int8 form, widened below */
    quantize(qq, stride, stride, p8, qmeta);
    for (unsigned i = 0; i < stride; i++) p[i] = p8[i];
    float t = qmeta[0], en = qmeta[1], yn = 0;
    for (unsigned i = 0; i < stride; i++) yn += qq[i] * qq[i];
    yn = nextafterf(sqrtf(yn) * (1 + 4 * FLT_EPSILON), INFINITY);
    const float slack = 2 * FLT_EPSILON * (float)(stride + 16);
    for (size_t b = 0; b * VINDEX_BLOCK_ROWS < ix->n; b++) {
        size_t first = b * VINDEX_BLOCK_ROWS;
        size_t rows = ix->n - first < VINDEX_BLOCK_ROWS ? ix->n - first : VINDEX_BLOCK_ROWS;
        qdot(vindex_qrow(ix, first), rows, stride, p, dots);
        const float *meta = vindex_qmeta(ix, first);
        for (size_t r = 0; r < rows; r++, meta += 3) {
            float ap = meta[0] * t * (float)dots[r];
            float e = (meta[1] * yn + meta[2] * en) * (1 + 8 * FLT_EPSILON) +
                      slack * (meta[1] + meta[2]) * yn + FLT_MIN;
            float hi = ap + e;
            if (nlb == k && hi < lb[0]) continue;
            if (allowed && !idset_has(allowed, ix->ids[first + r])) continue;
            lb_offer(lb, &nlb, k, ap - e);
            if (nc == cap) {
                if (nlb == k) nc = cands_prune(c, nc, lb[0]);
                if (nc * 2 >= cap && /* still half full: room for more */
                    (rc = vec_reserve((void **)&c, &cap, nc + 1, 256, sizeof *c)))
                    goto out;
            }
            c[nc++] = (cand_t){(uint32_t)(first + r), hi};
        }
    }
    /* the candidates that can still make the k best, in float32, highest
     * upper bound first: once the heap is full, a candidate whose upper
     * bound is under the k-th score cannot enter (nor tie), nor can any
     * after it. At the hybrid's depth of 100 most candidates stop there:
     * the k-th exact score lies about one error bound above the k-th lower
     * bound they were kept by. */
    nc = cands_prune(c, nc, nlb == k ? lb[0] : -INFINITY);
    for (size_t i = nc / 2; i-- > 0;)
        hi_down(c, nc, i); /* a max-heap: only what is scored is popped */
    while (nc && !(*got == k && c[0].hi < heap[0].score)) {
        uint32_t row = c[0].row;
        c[0] = c[--nc];
        hi_down(c, nc, 0);
        float s = dot_f32(vindex_row(ix, row), qq, stride);
        vindex_heap_offer(heap, got, k, (vindex_hit_t){ix->ids[row], s});
    }
out:
    free(p);
    free(dots);
    free(lb);
    free(c);
    return rc;
}
