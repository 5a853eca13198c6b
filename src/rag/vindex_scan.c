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
 *     y = t p + e      the query in int16 (quantize_query)
 *
 *     x.y = s t (q.p) + r.y + s (q.e), so
 *     |x.y - s t (q.p)| <= min(|r||y|, s |y|_1 / 2) + s|q||e|
 *
 * The copies are kept by column (vindex_int.h) and a query reads only the
 * columns where p is not zero: a hash-embedded query of a few words has
 * about 50 of 384, so the scan reads an eighth of the int8 bytes, and
 * |y|_1 / 2 halves the bound's first term for it. The scan scores the
 * int8 rows (integer multiply-adds, AVX2 where the CPU has it), keeps the
 * k best lower bounds, and keeps as candidates the rows whose upper bound
 * reaches the k-th of them; only those are scored again in float32, by the
 * same code as before, so the results are the exact scan's, bit for bit
 * and tie for tie. A row outside the candidates is below k rows' lower
 * bounds, so below the k-th exact score. The bound also covers float32
 * rounding (in the scores compared and in the bound itself) with a margin
 * of 2 (dim + 16) ulp of |x||y|.
 *
 * Measured (300,000 hash-embedded rows, 2-4 word queries, k 100, p50, this
 * 2-core machine, 2026-12-08): 10.6-11.7 ms row by row with an int8
 * query, 2.0-2.3 ms now; the candidates scored again in float32 went from
 * 2,500 to 490 a query. A model's dense query reads every column: on
 * 200,000 random dense rows 6.3-8.6 ms before, 7.3-9.0 ms now (columns
 * need one shuffle more for each 16 int8 values than rows did). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "rag/vindex_int.h"
#include "util/dot.h"
#include "util/par.h"
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

/* The query y (stride floats) as int16, p = round(y / t), t = max|y_i| /
 * lim, and *en = |e| (e = y - t p), rounded up. lim, 32,767 up to 4,224
 * dimensions, keeps every q.p of a row in int32 (|q_i| <= 127), so the
 * query's own error, and the bound's term s|q||e| with it, is about 1/256
 * of what an int8 query's was: with hash-embedded rows that term was half
 * the bound, and the rows it could not tell from the k best were 13 % of
 * all (40,000 of 300,000, 2,100 now). */
static void quantize_query(const float *y, unsigned stride, int16_t *p, float *t, float *en)
{
    double lim = floor(INT32_MAX / (127.0 * stride));
    lim = lim < 32767 ? lim : 32767;
    float m = 0;
    for (unsigned i = 0; i < stride; i++) {
        float a = fabsf(y[i]);
        m = a > m ? a : m;
    }
    double s = m / lim, inv = m > 0 ? lim / m : 0, ee = 0;
    for (unsigned i = 0; i < stride; i++) {
        double v = nearbyint(y[i] * inv), r = y[i] - v * s;
        ee += r * r;
        p[i] = (int16_t)v;
    }
    *t = (float)s;
    *en = nextafterf((float)sqrt(ee), INFINITY);
}

/* q.p for the rows [0, rows) of a block, over the query's dimensions
 * nz[0..nnz) (nnz a multiple of 4) of int16 weights w: the columns of a
 * block (vindex_int.h), each VINDEX_BLOCK_ROWS bytes, read one after the
 * other, summed into dots (VINDEX_BLOCK_ROWS int32, 32-byte aligned). A
 * query's zero dimensions add nothing, so they are not read: the hash
 * embedder's queries have a few dozen non-zero of 384, and its scan of a
 * million rows reads that share of the int8 copies instead of all of
 * them. A model's query, non-zero everywhere, reads every column, the
 * bytes the row-by-row scan read before. */
static void qdot_cols_plain(const int8_t *cols, size_t rows, const uint16_t *nz, const int16_t *w,
                            size_t nnz, int32_t *dots)
{
    size_t steps = (rows + 15) / 16 * 16; /* as far as the AVX2 code goes */
    memset(dots, 0, steps * sizeof *dots);
    for (size_t j = 0; j < nnz; j++) {
        const int8_t *c = cols + (size_t)nz[j] * VINDEX_BLOCK_ROWS;
        int32_t wj = w[j];
        for (size_t r = 0; r < steps; r++) dots[r] += c[r] * wj;
    }
}

#if defined(__x86_64__)
/* Four columns a pass, sixteen rows a step: each column sign-extended to
 * int16, two columns interleaved and multiplied and added in pairs into
 * int32 (vpmaddwd: 127 * 127 * 2 fits) against the pair of their weights.
 * The interleave works within 128-bit lanes, so a step's two sums hold
 * rows 0-3 and 8-11, then 4-7 and 12-15; they are put in order once at
 * the end. The columns are 16-byte aligned (a block starts on a page, its
 * floats are a multiple of 4 KiB, each column 4 KiB) and zero or stale
 * past the block's rows up to VINDEX_BLOCK_ROWS, so steps run on to a
 * multiple of 16. */
/* Four columns' share of sixteen rows, as two sums of 8 int32 (rows 0-3
 * and 8-11, then 4-7 and 12-15), added to lo and hi. */
__attribute__((target("avx2"))) static inline void
cols4(const int8_t *cols, const uint16_t *nz, const int16_t *w, size_t r, __m256i *lo, __m256i *hi)
{
    __m256i x[4];
    for (int i = 0; i < 4; i++)
        x[i] = _mm256_cvtepi8_epi16(
            _mm_load_si128((const __m128i *)(cols + (size_t)nz[i] * VINDEX_BLOCK_ROWS + r)));
    __m256i wa =
        _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)w[0] | (uint32_t)(uint16_t)w[1] << 16));
    __m256i wb =
        _mm256_set1_epi32((int32_t)((uint32_t)(uint16_t)w[2] | (uint32_t)(uint16_t)w[3] << 16));
    *lo = _mm256_add_epi32(
        *lo, _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi16(x[0], x[1]), wa),
                              _mm256_madd_epi16(_mm256_unpacklo_epi16(x[2], x[3]), wb)));
    *hi = _mm256_add_epi32(
        *hi, _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpackhi_epi16(x[0], x[1]), wa),
                              _mm256_madd_epi16(_mm256_unpackhi_epi16(x[2], x[3]), wb)));
}

__attribute__((target("avx2"))) static void qdot_cols_avx2(const int8_t *cols, size_t rows,
                                                           const uint16_t *nz, const int16_t *w,
                                                           size_t nnz, int32_t *dots)
{
    size_t steps = (rows + 15) / 16 * 16;
    memset(dots, 0, steps * sizeof *dots);
    /* eight columns a pass (the sums go through memory once for eight),
     * four in the last when their number is not a multiple of 8 */
    for (size_t j = 0; j < nnz; j += 8) {
        bool eight = j + 8 <= nnz;
        for (size_t r = 0; r < steps; r += 16) {
            __m256i *d = (__m256i *)(dots + r);
            __m256i lo = _mm256_load_si256(d), hi = _mm256_load_si256(d + 1);
            cols4(cols, nz + j, w + j, r, &lo, &hi);
            if (eight) cols4(cols, nz + j + 4, w + j + 4, r, &lo, &hi);
            _mm256_store_si256(d, lo);
            _mm256_store_si256(d + 1, hi);
        }
    }
    for (size_t r = 0; r < steps; r += 16) {
        __m256i *d = (__m256i *)(dots + r);
        __m256i lo = _mm256_load_si256(d), hi = _mm256_load_si256(d + 1);
        _mm256_store_si256(d, _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_store_si256(d + 1, _mm256_permute2x128_si256(lo, hi, 0x31));
    }
}
#endif

void vindex_qdot_cols(const int8_t *cols, size_t rows, const uint16_t *nz, const int16_t *w,
                      size_t nnz, int32_t *dots, bool plain)
{
#if defined(__x86_64__)
    if (!plain && __builtin_cpu_supports("avx2")) {
        qdot_cols_avx2(cols, rows, nz, w, nnz, dots);
        return;
    }
#endif
    (void)plain;
    qdot_cols_plain(cols, rows, nz, w, nnz, dots);
}

/* What a query's bound needs (vindex_flat_scan): its int16 scale, |y|
 * and |e| rounded up, |y|_1 / 2 with a margin, the rounding slack. */
struct qbound {
    float t, yn, y1, en, slack;
};

typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));

/* Each row's score lies in [lo[r], hi[r]], for the rows [0, rows) of a
 * block (on to a multiple of 8: the block's arrays are that long, and
 * what lies past its rows is not looked at), from its int8 dots and the
 * block's bounds (vindex_int.h):
 *
 *     s t (q.p) -/+ (min(|r||y|, s |y|_1 / 2) + s|q||e|) (1 + 8 eps)
 *                   + slack (|r| + s|q|) |y| + FLT_MIN
 *
 * Eight rows at a time: one row at a time this was as long as the int8
 * dots themselves. */
VINDEX_CLONES static void bounds(const float *meta, const int32_t *dots, size_t rows,
                                 const struct qbound *qb, float *lo, float *hi)
{
    const float *m0 = meta, *m1 = meta + VINDEX_BLOCK_ROWS, *m2 = m1 + VINDEX_BLOCK_ROWS;
    for (size_t r = 0; r < rows; r += 8) {
        v8f s, res, sq, ap, e;
        v8i d;
        memcpy(&s, m0 + r, sizeof s);
        memcpy(&res, m1 + r, sizeof res);
        memcpy(&sq, m2 + r, sizeof sq);
        memcpy(&d, dots + r, sizeof d);
        ap = s * qb->t * __builtin_convertvector(d, v8f);
        v8f ry = res * qb->yn, half = s * qb->y1;
        v8i less = ry < half;
        v8f m = (v8f)((less & (v8i)ry) | (~less & (v8i)half));
        e = (m + sq * qb->en) * (1 + 8 * FLT_EPSILON) + qb->slack * (res + sq) * qb->yn + FLT_MIN;
        v8f h = ap + e, l = ap - e;
        memcpy(hi + r, &h, sizeof h);
        memcpy(lo + r, &l, sizeof l);
    }
}

/* A row whose upper bound reached the k-th lower bound when it was read. */
typedef struct cand {
    uint32_t row;
    float hi;
} cand_t;

/* Bit i: whether hi[i] >= thr, for i in [0, 32). */
static uint32_t above_plain(const float *hi, float thr)
{
    uint32_t m = 0;
    for (unsigned i = 0; i < 32; i++) m |= (uint32_t)(hi[i] >= thr) << i;
    return m;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static uint32_t above_avx2(const float *hi, float thr)
{
    __m256 t = _mm256_set1_ps(thr);
    uint32_t m = 0;
    for (unsigned i = 0; i < 4; i++)
        m |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(hi + 8 * i), t, _CMP_GE_OQ))
             << (8 * i);
    return m;
}
#endif

static uint32_t above(const float *hi, float thr)
{
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) return above_avx2(hi, thr);
#endif
    return above_plain(hi, thr);
}

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

/* What every part of a scan shares. */
struct scan {
    vindex_t *ix;
    const idset_t *allowed;
    size_t k, nnz;
    const uint16_t *nz;
    const int16_t *w;
    struct qbound qb;
    struct scan_part *parts;
};

/* One part of a scan: blocks [b0, b1), its own k best lower bounds and
 * candidates. */
struct scan_part {
    size_t b0, b1;
    float *lb;
    size_t nlb;
    cand_t *c;
    size_t nc, cap;
    int rc;
};

/* Scans a part's blocks: each row's bounds; a row whose upper bound
 * reaches the part's k-th lower bound is a candidate. */
static void scan_part(const struct scan *sc, struct scan_part *pt)
{
    vindex_t *ix = sc->ix;
    size_t k = sc->k;
    /* a block's int8 dots, then its rows' lower and upper bounds */
    int32_t *dots = aligned_alloc(32, 3 * VINDEX_BLOCK_ROWS * sizeof *dots);
    float *lo = (float *)(dots + VINDEX_BLOCK_ROWS), *hi = lo + VINDEX_BLOCK_ROWS;
    pt->lb = malloc(k * sizeof *pt->lb);
    if (!dots || !pt->lb) {
        pt->rc = -ENOMEM;
        free(dots);
        return;
    }
    float *lb = pt->lb;
    for (size_t b = pt->b0; b < pt->b1; b++) {
        size_t first = b * VINDEX_BLOCK_ROWS;
        size_t rows = ix->n - first < VINDEX_BLOCK_ROWS ? ix->n - first : VINDEX_BLOCK_ROWS;
        vindex_qdot_cols(vindex_qcols(ix, b), rows, sc->nz, sc->w, sc->nnz, dots, false);
        bounds(vindex_qmeta(ix, b), dots, rows, &sc->qb, lo, hi);
        for (size_t r32 = 0; r32 < rows; r32 += 32) {
            /* most rows are under the k-th lower bound already: skipped
             * 32 at a time (lb[0] only rises, so a row under it at the
             * block's start stays under) */
            uint32_t m = above(hi + r32, pt->nlb == k ? lb[0] : -INFINITY);
            if (rows - r32 < 32) m &= (1u << (rows - r32)) - 1;
            for (; m; m &= m - 1) {
                size_t r = r32 + (size_t)__builtin_ctz(m);
                if (pt->nlb == k && hi[r] < lb[0]) continue;
                if (sc->allowed && !idset_has(sc->allowed, ix->ids[first + r])) continue;
                lb_offer(lb, &pt->nlb, k, lo[r]);
                if (pt->nc == pt->cap) {
                    if (pt->nlb == k) pt->nc = cands_prune(pt->c, pt->nc, lb[0]);
                    if (pt->nc * 2 >= pt->cap && /* still half full: room for more */
                        (pt->rc = vec_reserve((void **)&pt->c, &pt->cap, pt->nc + 1, 256,
                                              sizeof *pt->c))) {
                        free(dots);
                        return;
                    }
                }
                pt->c[pt->nc++] = (cand_t){(uint32_t)(first + r), hi[r]};
            }
        }
    }
    free(dots);
}

static void scan_part_fn(void *ctx, size_t i)
{
    const struct scan *sc = ctx;
    scan_part(sc, &sc->parts[i]);
}

/* A flat segment of this many rows or more is scanned in parts, one a
 * thread (ix->o.threads): at a million hash-embedded rows a scan is
 * bound by what one core reads from memory, and two read more. */
#define SCAN_PAR_ROWS (16 * VINDEX_BLOCK_ROWS)

int vindex_flat_scan(vindex_t *ix, const float *qq, size_t k, const idset_t *allowed,
                     vindex_hit_t *heap, size_t *got)
{
    if (ix->n == 0) return 0;
    unsigned stride = ix->stride;
    size_t nblocks = (ix->n + VINDEX_BLOCK_ROWS - 1) / VINDEX_BLOCK_ROWS;
    size_t parts = ix->n >= SCAN_PAR_ROWS && ix->o.threads > 1 ? ix->o.threads : 1;
    parts = parts < nblocks ? parts : nblocks;
    struct scan_part *pt = calloc(parts, sizeof *pt);
    /* the query's non-zero int8 dimensions and their weights, padded to a
     * multiple of 4 with weight 0 (on the first column: any would do) */
    uint16_t *nz = malloc((stride + 3) * sizeof *nz);
    int16_t *w = malloc((stride + 3) * sizeof *w);
    int16_t *p = malloc(stride * sizeof *p); /* the query's int16 form */
    float *lb = malloc(k * sizeof *lb);
    cand_t *c = NULL;
    size_t nc = 0, nlb = 0, nnz = 0;
    int rc = 0;
    if (!pt || !nz || !w || !p || !lb) {
        rc = -ENOMEM;
        goto out;
    }
    float t, en, yn = 0, y1 = 0;
    quantize_query(qq, stride, p, &t, &en);
    for (unsigned i = 0; i < stride; i++)
        if (p[i]) nz[nnz] = (uint16_t)i, w[nnz++] = p[i];
    while (nnz % 4) nz[nnz] = 0, w[nnz++] = 0;
    for (unsigned i = 0; i < stride; i++) yn += qq[i] * qq[i], y1 += fabsf(qq[i]);
    yn = nextafterf(sqrtf(yn) * (1 + 4 * FLT_EPSILON), INFINITY);
    /* |r_i| <= s / 2 (rounding to nearest), so |r.y| <= s |y|_1 / 2 too:
     * the smaller of the two bounds for a query of few dimensions (the
     * hash embedder's); the margin covers the sum's rounding and s's */
    y1 = nextafterf(y1 * (1 + (float)(stride + 16) * FLT_EPSILON) * 0.50025f, INFINITY);
    struct scan sc = {ix,
                      allowed,
                      k,
                      nnz,
                      nz,
                      w,
                      (struct qbound){t, yn, y1, en, 2 * FLT_EPSILON * (float)(stride + 16)},
                      pt};
    for (size_t i = 0; i < parts; i++)
        pt[i] = (struct scan_part){.b0 = nblocks * i / parts, .b1 = nblocks * (i + 1) / parts};
    par_for(parts, parts, scan_part_fn, &sc);
    /* the parts' lower bounds are rows' (a row in one part only): the k-th
     * best of them all bounds the k-th score, and each part's candidates
     * are every row of it whose upper bound reached its own k-th */
    for (size_t i = 0; i < parts; i++) {
        if (pt[i].rc) rc = pt[i].rc;
        for (size_t j = 0; !rc && j < pt[i].nlb; j++) lb_offer(lb, &nlb, k, pt[i].lb[j]);
    }
    size_t want = 0;
    for (size_t i = 0; !rc && i < parts; i++)
        want += pt[i].nc = cands_prune(pt[i].c, pt[i].nc, nlb == k ? lb[0] : -INFINITY);
    if (!rc && want && !(c = malloc(want * sizeof *c))) rc = -ENOMEM;
    if (rc) goto out;
    for (size_t i = 0; i < parts; i++) {
        memcpy(c + nc, pt[i].c, pt[i].nc * sizeof *c);
        nc += pt[i].nc;
    }
    /* the candidates that can still make the k best, in float32, highest
     * upper bound first: once the heap is full, a candidate whose upper
     * bound is under the k-th score cannot enter (nor tie), nor can any
     * after it. At the hybrid's depth of 100 most candidates stop there:
     * the k-th exact score lies about one error bound above the k-th lower
     * bound they were kept by. */
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
    for (size_t i = 0; pt && i < parts; i++) {
        free(pt[i].lb);
        free(pt[i].c);
    }
    free(pt);
    free(nz);
    free(w);
    free(p);
    free(lb);
    free(c);
    return rc;
}
