/* inv_search: bm25 top k over rag/inv segments by block-max WAND (Ding and
 * Suel, "Faster top-k document retrieval using block-max indexes", SIGIR
 * 2011).
 *
 * Statistics (chunk count, mean length, each term's df) are summed over
 * the segments, so a chunk scores as in one index holding them all, as
 * Xapian would score it. Segments are walked in order (ascending ids), each
 * with one cursor per list of a query term (a common term has two: the
 * chunks where it weighs most, and the rest), all sharing one heap of the
 * best k, whose lowest score is the threshold a chunk must beat.
 *
 * Each step finds the pivot: the first chunk (in id order) where the
 * lists' upper bounds, summed in cursor order, beat the threshold (WAND).
 * Then the bounds of the blocks holding it are summed; when they cannot
 * beat the threshold, every cursor up to the pivot skips past the shortest
 * of those blocks (block-max). When they can, the bound is tightened with
 * the exact parts of the cursors already decoded at the pivot; only if it
 * still can are the other cursors moved to it, sparsest list first, since
 * a sparse list's next chunk often lies past the pivot and the step starts
 * over without decoding a dense block. Moves into another block do not
 * decode it (lazy cursors); a block is decoded when a chunk's own
 * frequency is needed. Once a common term's rest can no longer beat the
 * threshold, only chunks of high lists are looked at.
 *
 * A chunk enters the heap only when it beats the lowest score, so among
 * equal scores the smaller id (found first) wins: the results are exactly
 * those of scoring every chunk (unit-tested against that, ties included).
 *
 * Block bounds are stored at the segment's own mean length A; the query's
 * mean A' (over all segments) differs. A part tf / (k1 (b len/A + 1 - b) +
 * tf) grows with A, and part(A') <= part(A) * A'/A when A' > A (a ratio of
 * two linear functions of 1/A with positive terms), so bounds are scaled by
 * max(1, A'/A): still bounds, and tight while segments are alike. */
#include "rag/inv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rag/inv_int.h"
#include "rag/match.h"

struct cursor {
    const inv_seg_t *seg;
    const struct inv_list *list;
    const struct inv_block *blk; /* the list's blocks */
    uint32_t nblk;
    uint32_t bi;       /* block holding doc (decoded) */
    uint32_t sbi;      /* block of the last shallow move, >= bi */
    uint32_t pos, cnt; /* doc is docs[pos] of cnt */
    uint32_t doc;      /* current docnum, INV_END when done; when lazy, a lower bound */
    bool lazy;         /* moved to block bi without decoding it (see seek) */
    unsigned q;        /* the term's place in the query */
    double w;          /* term weight */
    double ub;         /* bound on its score in this segment */
    double bw;         /* w times the mean-length scale: block max_part to score */
    uint32_t docs[INV_BLOCK], tfs[INV_BLOCK];
};

struct heap {
    vindex_hit_t *h; /* scores as doubles while searching: see worse() */
    double *score;
    size_t n, k;
};

struct search {
    struct heap heap;
    double theta; /* the score to beat: the heap's lowest, -1 until it is full */
    double inv_avgdl;
    inv_skip_fn skip;
    void *ctx;
    int err;
};

/* a is worse than b: lower score, or equal and a larger id. */
static inline bool worse(const struct heap *h, size_t a, size_t b)
{
    return h->score[a] < h->score[b] || (h->score[a] == h->score[b] && h->h[a].id > h->h[b].id);
}

static void heap_swap(struct heap *h, size_t a, size_t b)
{
    vindex_hit_t t = h->h[a];
    h->h[a] = h->h[b];
    h->h[b] = t;
    double s = h->score[a];
    h->score[a] = h->score[b];
    h->score[b] = s;
}

static void heap_down(struct heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && worse(h, l, m)) m = l;
        if (r < h->n && worse(h, r, m)) m = r;
        if (m == i) return;
        heap_swap(h, i, m);
        i = m;
    }
}

static void heap_push(struct search *s, int64_t id, double score)
{
    struct heap *h = &s->heap;
    if (h->n < h->k) {
        size_t i = h->n++;
        h->h[i].id = id;
        h->score[i] = score;
        while (i && worse(h, i, (i - 1) / 2)) {
            heap_swap(h, i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
    } else {
        h->h[0].id = id;
        h->score[0] = score;
        heap_down(h, 0);
    }
    if (h->n == h->k) s->theta = h->score[0];
}

static void decode(struct search *s, struct cursor *c, uint32_t bi)
{
    int cnt = inv_block_decode(c->seg, c->list, bi, c->docs, c->tfs);
    if (cnt <= 0) {
        s->err = -EIO;
        c->doc = INV_END;
        return;
    }
    /* the chunks' lengths are read at random (a miss each in a list
     * sparser than a cache line's 16): fetched now, used a little later */
    if (c->list->df < c->seg->hdr->ndocs / 16)
        for (int i = 0; i < cnt; i++) __builtin_prefetch(&c->seg->lens[c->docs[i]]);
    c->bi = bi;
    if (c->sbi < bi) c->sbi = bi;
    c->cnt = (uint32_t)cnt;
    c->pos = 0;
    c->doc = c->docs[0];
}

/* Moves c to its first chunk >= d. A move into another block does not
 * decode it: the cursor is lazy, its doc a lower bound of its next chunk
 * (d, or the block's first possible docnum), which is all the pivot search
 * and the block bounds need; exact() decodes when the chunk's own
 * frequency is needed. Most blocks a skip lands in are skipped again
 * before that. */
static void seek(struct cursor *c, uint32_t d)
{
    if (c->doc >= d) return;
    if (c->blk[c->bi].last < d) {
        uint32_t bi = c->bi + 1;
        while (bi < c->nblk && c->blk[bi].last < d) bi++;
        if (bi == c->nblk) {
            c->doc = INV_END;
            return;
        }
        uint32_t first = c->blk[bi - 1].last + 1;
        c->bi = bi;
        if (c->sbi < bi) c->sbi = bi;
        c->lazy = true;
        c->doc = d > first ? d : first;
        return;
    }
    if (c->lazy) {
        c->doc = d;
        return;
    }
    while (c->docs[c->pos] < d) c->pos++; /* stops: the block's last is >= d */
    c->doc = c->docs[c->pos];
}

/* Decodes a lazy cursor's block: its doc becomes its next chunk's. */
static void exact(struct search *s, struct cursor *c)
{
    if (!c->lazy) return;
    uint32_t d = c->doc;
    c->lazy = false;
    decode(s, c, c->bi);
    if (c->doc == INV_END) return; /* damaged */
    while (c->docs[c->pos] < d) c->pos++;
    c->doc = c->docs[c->pos];
}

/* Moves an exact cursor to its next chunk. */
static void next(struct search *s, struct cursor *c)
{
    if (++c->pos < c->cnt) {
        c->doc = c->docs[c->pos];
    } else if (c->bi + 1 < c->nblk) {
        decode(s, c, c->bi + 1);
    } else {
        c->doc = INV_END;
    }
}

/* The bound of c's block holding d or the first after it (d >= c->doc),
 * found without decoding; *last gets that block's last docnum. */
static double shallow(struct cursor *c, uint32_t d, uint32_t *last)
{
    uint32_t b = c->sbi;
    while (b < c->nblk && c->blk[b].last < d) b++;
    c->sbi = b;
    if (b == c->nblk) {
        *last = INV_END;
        return 0;
    }
    *last = c->blk[b].last;
    return c->blk[b].max_part * c->bw;
}

/* The score of cur[0..m)'s terms for the chunk they are all at: their
 * parts summed in query order (so that every path adds a chunk's parts
 * alike, and pruning compares with the very score it would get). */
static double partial(const struct search *s, const inv_seg_t *g, struct cursor **cur, size_t m,
                      size_t nq, double *part)
{
    uint32_t len = g->lens[cur[0]->doc];
    for (size_t i = 0; i < m; i++)
        part[cur[i]->q] = cur[i]->w * inv_part(cur[i]->tfs[cur[i]->pos], len, s->inv_avgdl);
    double sc = 0;
    for (size_t j = 0; j < nq; j++) {
        sc += part[j];
        part[j] = 0;
    }
    return sc;
}

static void sort_cursors(struct cursor **cur, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct cursor *c = cur[i];
        size_t j = i;
        for (; j && cur[j - 1]->doc > c->doc; j--) cur[j] = cur[j - 1];
        cur[j] = c;
    }
}

static void search_segment(struct search *s, const inv_seg_t *g, struct cursor **cur, size_t n,
                           size_t nq, double *part)
{
    for (;;) {
        sort_cursors(cur, n);
        /* the pivot: the first cursor where the bounds so far beat theta */
        double acc = 0;
        size_t p = n;
        for (size_t i = 0; i < n && cur[i]->doc != INV_END; i++) {
            acc += cur[i]->ub;
            if (acc > s->theta) {
                p = i;
                break;
            }
        }
        if (p == n || s->err) return;
        uint32_t pivot = cur[p]->doc;
        while (p + 1 < n && cur[p + 1]->doc == pivot) p++;
        double bm = 0, bound[2 * MATCH_MAX_TERMS];
        uint32_t end = INV_END;
        for (size_t i = 0; i <= p; i++) {
            uint32_t last;
            bm += bound[i] = shallow(cur[i], pivot, &last);
            if (last < end) end = last;
        }
        if (bm > s->theta) {
            /* the pivot may make it. Its bound, tighter: the exact parts of
             * the cursors decoded at it, the block bounds of the others. */
            struct cursor *at[2 * MATCH_MAX_TERMS];
            size_t nat = 0;
            double behind = 0;
            for (size_t i = 0; i <= p; i++) {
                if (cur[i]->doc == pivot && !cur[i]->lazy)
                    at[nat++] = cur[i];
                else
                    behind += bound[i];
            }
            double sc = nat ? partial(s, g, at, nat, nq, part) : 0;
            if (sc + behind <= s->theta) { /* it cannot: past it */
                for (size_t i = 0; i < nat; i++) next(s, at[i]);
                continue;
            }
            if (nat <= p) {
                /* the others must be exact at it: the one with the fewest
                 * postings first, as a common term's high list is 16 times
                 * sparser than its rest, its next chunk usually lies past
                 * the pivot, which then moves on without the dense list's
                 * block being decoded */
                size_t best = n;
                for (size_t i = 0; i <= p; i++)
                    if ((cur[i]->doc < pivot || cur[i]->lazy) &&
                        (best == n || cur[i]->list->df < cur[best]->list->df))
                        best = i;
                seek(cur[best], pivot);
                if (cur[best]->doc != INV_END) exact(s, cur[best]);
                continue;
            }
            int64_t id = g->ids[pivot];
            if (sc > s->theta && (!s->skip || !s->skip(s->ctx, id))) heap_push(s, id, sc);
            for (size_t i = 0; i <= p; i++) next(s, cur[i]);
        } else {
            /* nothing from the pivot to the end of the shortest block can
             * beat theta, nor before the pivot (above) */
            uint32_t to = end == INV_END ? INV_END : end + 1;
            if (p + 1 < n && cur[p + 1]->doc < to) to = cur[p + 1]->doc;
            for (size_t i = 0; i <= p; i++) {
                if (to == INV_END)
                    cur[i]->doc = INV_END;
                else
                    seek(cur[i], to);
            }
        }
    }
}

struct ranked {
    double score;
    int64_t id;
};

static int ranked_cmp(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

long inv_search(inv_seg_t *const *segs, size_t n, const char *const *terms, size_t nterms, size_t k,
                inv_skip_fn skip, void *ctx, vindex_hit_t *out)
{
    if (nterms > MATCH_MAX_TERMS) nterms = MATCH_MAX_TERMS;
    if (!k || !nterms || !n) return 0;
    uint64_t ndocs = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        ndocs += segs[i]->hdr->ndocs;
        total += segs[i]->hdr->total_len;
    }
    if (!ndocs) return 0;
    int64_t dfs[MATCH_MAX_TERMS];
    double w[MATCH_MAX_TERMS], part[MATCH_MAX_TERMS] = {0};
    inv_dfs(segs, n, terms, nterms, dfs);
    for (size_t q = 0; q < nterms; q++) w[q] = inv_termweight((uint64_t)dfs[q], ndocs);
    struct search s = {.theta = -1, .skip = skip, .ctx = ctx};
    s.inv_avgdl = total ? (double)ndocs / (double)total : 0;
    double avgdl = total ? (double)total / (double)ndocs : 0;
    s.heap.k = k;
    s.heap.h = out;
    s.heap.score = malloc(k * sizeof *s.heap.score);
    struct cursor *cs = malloc(2 * nterms * sizeof *cs); /* a term has at most 2 lists */
    struct cursor *cur[2 * MATCH_MAX_TERMS];
    if (!s.heap.score || !cs) {
        free(s.heap.score);
        free(cs);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n && !s.err; i++) {
        const inv_seg_t *g = segs[i];
        double scale = g->avgdl > 0 && avgdl > g->avgdl ? avgdl / g->avgdl : 1;
        size_t m = 0;
        for (size_t q = 0; q < nterms && !s.err; q++) {
            const struct inv_term *t = inv_seg_term(g, terms[q], strlen(terms[q]));
            for (int li = 0; t && li < 2; li++) {
                const struct inv_list *l = &t->list[li];
                if (!l->df) continue;
                struct cursor *c = &cs[m];
                *c = (struct cursor){.seg = g,
                                     .list = l,
                                     .blk = &g->blocks[l->block0],
                                     .nblk = (uint32_t)inv_list_blocks(l),
                                     .q = (unsigned)q,
                                     .w = w[q],
                                     .bw = w[q] * scale,
                                     .ub = w[q] * scale * l->max_part};
                decode(&s, c, 0);
                cur[m++] = c;
            }
        }
        if (m) search_segment(&s, g, cur, m, nterms, part);
    }
    /* best first, by the double scores (floats could tie where they do not) */
    struct ranked *r = malloc((s.heap.n + 1) * sizeof *r);
    if (r) {
        for (size_t i = 0; i < s.heap.n; i++) r[i] = (struct ranked){s.heap.score[i], out[i].id};
        qsort(r, s.heap.n, sizeof *r, ranked_cmp);
        for (size_t i = 0; i < s.heap.n; i++) out[i] = (vindex_hit_t){r[i].id, (float)r[i].score};
        free(r);
    } else if (!s.err) {
        s.err = -ENOMEM;
    }
    long got = s.err ? s.err : (long)s.heap.n;
    free(s.heap.score);
    free(cs);
    return got;
}
