/* inv_search: bm25 top k over rag/inv segments by MaxScore (Turtle and
 * Flood, "Query evaluation: strategies and optimizations", 1995) over
 * tiered lists, with the block bounds of block-max indexes (Ding and Suel,
 * SIGIR 2011).
 *
 * Statistics (chunk count, mean length, each term's df) are summed over
 * the segments, so a chunk scores as in one index holding them all, as
 * Xapian would score it. Segments are walked in order (ascending ids), each
 * with one cursor per list of a query term (a common term has INV_TIERS:
 * its postings by bm25 part, highest first; a chunk is in one of them),
 * all sharing one heap of the best k, whose lowest score, theta, is what a
 * chunk must beat.
 *
 * The lists are split in two whenever theta rises: non-essential ones,
 * whose bounds together cannot beat theta, and the essential rest; only
 * the chunks of essential lists are candidates (see partition). Tiers are
 * what makes this work for queries of common words only, where every list
 * holds most chunks: the low tiers of all terms together stay under theta,
 * so the candidates are the chunks of some term's high tiers, a tenth of
 * the postings or less. A term adds the highest bound of its lists to a
 * chunk's, not their sum, as a chunk is in one of them. A candidate's
 * non-essential lists are looked up only while its parts so far and the
 * block bounds of the lists left can beat theta. Moves into another block
 * do not decode it (lazy cursors); a block is decoded when a chunk's own
 * frequency is needed.
 *
 * Block-max WAND (Ding and Suel, SIGIR 2011), ragd's search before,
 * summed a common term's two lists' bounds and so found a pivot at nearly
 * every chunk of its high list; on queries of the 20 most common words of
 * a million chunks it took 24 / 55 ms (p50 / p99), this 2.7 / 23.
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
#include <math.h>
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
    bool ne;           /* non-essential: looked up, not walked (see partition) */
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

/* Bound comparisons: a bound is summed in another order than the score
 * it bounds, so it counts as beating theta when within rounding of it. */
_Static_assert(MATCH_MAX_TERMS <= 64, "known: one bit a term");

static inline bool may_beat(double bound, double theta)
{
    return bound + bound * 1e-12 > theta;
}

/* A chunk is in at most one list of a term, so a term adds the highest of
 * its lists' bounds to a chunk's, never their sum: summed, a common term's
 * low tiers would count as much as its high one, and no split would leave
 * them out. tb[q] holds
 * term q's highest bound so far; the sum's growth is returned. */
static inline double term_max(double *tb, unsigned q, double b)
{
    if (b <= tb[q]) return 0;
    double up = b - tb[q];
    tb[q] = b;
    return up;
}

/* Splits the lists in two (MaxScore, Turtle and Flood 1995): the
 * non-essential ones, whose bounds together (a term's highest counted)
 * cannot beat theta, so that no chunk they alone hold can; and the
 * essential rest, whose chunks are the candidates. Any such split is
 * exact; the fewer postings the essential lists hold, the fewer
 * candidates. A term's lists (tl[q], bound ascending) go in from its
 * lowest tier up (a lower one costs nothing once a higher one is in), so a
 * split is a level a term; the levels are searched depth first for the
 * most postings left out, within a budget of steps (the best split found
 * by then is as exact as any). */
struct split {
    struct cursor *(*tl)[INV_TIERS];
    const size_t *nt;
    size_t nq;
    double theta;
    uint64_t df[MATCH_MAX_TERMS][INV_TIERS + 1]; /* postings of a term's first l lists */
    uint64_t after[MATCH_MAX_TERMS + 1];         /* postings of the terms from q on */
    size_t lvl[MATCH_MAX_TERMS], best[MATCH_MAX_TERMS];
    uint64_t best_out;
    int budget;
};

static void split_search(struct split *p, size_t q, double cost, uint64_t out)
{
    if (out + p->after[q] <= p->best_out && q) return; /* cannot do better */
    if (q == p->nq) {
        p->best_out = out;
        memcpy(p->best, p->lvl, p->nq * sizeof *p->lvl);
        return;
    }
    if (p->budget-- <= 0) return;
    for (size_t l = p->nt[q] + 1; l-- > 0;) {
        double c = l ? p->tl[q][l - 1]->ub : 0;
        if (l && may_beat(cost + c, p->theta)) continue;
        p->lvl[q] = l;
        split_search(p, q + 1, cost + c, out + p->df[q][l]);
    }
}

static void partition(struct split *p, double theta)
{
    p->theta = theta;
    p->best_out = 0;
    p->budget = 2000;
    memset(p->best, 0, p->nq * sizeof *p->best);
    split_search(p, 0, 0, 0);
    for (size_t q = 0; q < p->nq; q++)
        for (size_t i = 0; i < p->nt[q]; i++) p->tl[q][i]->ne = i < p->best[q];
}

/* c's part for the chunk it is exactly at (of length len), into part[]
 * by its term, whose bit it sets in *known; returned too. */
static inline double take_part(const struct search *s, const struct cursor *c, uint32_t len,
                               double *part, uint64_t *known)
{
    part[c->q] = c->w * inv_part(c->tfs[c->pos], len, s->inv_avgdl);
    *known |= 1ull << c->q;
    return part[c->q];
}

/* The block bounds of ne[0..to) (non-essential lists) of the terms not
 * known, a term's highest counted. */
static double rest_bound(struct cursor **ne, size_t to, const double *bound, uint64_t known,
                         double *tb, size_t nq)
{
    double rest = 0;
    memset(tb, 0, nq * sizeof *tb);
    for (size_t j = 0; j < to; j++)
        if (!(known >> ne[j]->q & 1)) rest += term_max(tb, ne[j]->q, bound[j]);
    return rest;
}

/* MaxScore over the segment's lists, with block bounds: the chunks of the
 * essential lists, in docnum order, are the candidates (see partition).
 * For each, the non-essential lists are looked up, highest bound first,
 * only while the parts found and the bounds of the lists left could still
 * beat theta: first the lists' own bounds (free), then their blocks'. A
 * term's lists are disjoint, so once one holds the chunk the term's others
 * are not looked at. */
static void search_segment(struct search *s, const inv_seg_t *g, struct cursor **cur, size_t n,
                           size_t nq, double *part)
{
    struct cursor *tl[MATCH_MAX_TERMS][INV_TIERS], *ess[INV_TIERS * MATCH_MAX_TERMS],
        *ne[INV_TIERS * MATCH_MAX_TERMS];
    size_t nt[MATCH_MAX_TERMS] = {0}, ness = 0, nne = 0;
    for (size_t i = 1; i < n; i++) { /* bound ascending */
        struct cursor *c = cur[i];
        size_t j = i;
        for (; j && cur[j - 1]->ub > c->ub; j--) cur[j] = cur[j - 1];
        cur[j] = c;
    }
    for (size_t i = 0; i < n; i++) tl[cur[i]->q][nt[cur[i]->q]++] = cur[i];
    struct split sp = {.tl = tl, .nt = nt, .nq = nq};
    for (size_t q = nq; q-- > 0;) {
        for (size_t l = 0; l < nt[q]; l++) sp.df[q][l + 1] = sp.df[q][l] + tl[q][l]->list->df;
        sp.after[q] = sp.after[q + 1] + sp.df[q][nt[q]];
    }
    double tb[MATCH_MAX_TERMS], bound[INV_TIERS * MATCH_MAX_TERMS], theta = -2;
    double nemax[MATCH_MAX_TERMS], nesum = 0; /* a term's highest non-essential bound */
    uint32_t from = 0;                        /* chunks before it are done */
    while (!s->err) {
        if (s->theta != theta) {
            theta = s->theta;
            partition(&sp, theta);
            ness = nne = 0;
            nesum = 0;
            memset(nemax, 0, nq * sizeof *nemax);
            for (size_t i = n; i-- > 0;) { /* ne by bound descending */
                struct cursor *c = cur[i];
                if (c->ne) {
                    ne[nne++] = c;
                    nesum += term_max(nemax, c->q, c->ub);
                    continue;
                }
                ess[ness++] = c;
                if (c->doc < from || c->lazy) { /* made essential: walked from here */
                    seek(c, from);
                    if (c->doc != INV_END) exact(s, c);
                }
            }
        }
        uint32_t d = INV_END;
        for (size_t i = 0; i < ness; i++)
            if (ess[i]->doc < d) d = ess[i]->doc;
        if (d == INV_END) return;
        /* the essential lists' parts; their terms are known */
        uint32_t len = g->lens[d];
        uint64_t known = 0;
        double sc = 0, rest = nesum;
        for (size_t i = 0; i < ness; i++)
            if (ess[i]->doc == d) {
                sc += take_part(s, ess[i], len, part, &known);
                rest -= nemax[ess[i]->q];
            }
        if (may_beat(sc + rest, s->theta)) {
            for (size_t i = 0; i < nne; i++) {
                uint32_t last;
                bound[i] = known >> ne[i]->q & 1 ? 0 : shallow(ne[i], d, &last);
            }
            rest = rest_bound(ne, nne, bound, known, tb, nq);
        }
        for (size_t i = 0; i < nne && may_beat(sc + rest, s->theta); i++) {
            struct cursor *c = ne[i];
            double bound_i = bound[i];
            if (known >> c->q & 1 || bound_i == 0) continue;
            seek(c, d);
            if (c->doc == d) exact(s, c);
            if (c->doc == d) sc += take_part(s, c, len, part, &known);
            /* the lists left: without the term when it holds the chunk,
             * else without this list, if it was the term's highest */
            double had = tb[c->q];
            bound[i] = 0;
            if (known >> c->q & 1) {
                rest -= had;
            } else if (bound_i >= had) {
                double m = 0;
                for (size_t j = 0; j < nne; j++)
                    if (ne[j]->q == c->q && bound[j] > m) m = bound[j];
                tb[c->q] = m;
                rest -= had - m;
            }
        }
        if (may_beat(sc + rest, s->theta)) {
            /* every list that may hold it looked at (rest is 0 but for
             * rounding): its score, its parts summed in query order */
            double exact_sc = 0;
            for (size_t j = 0; j < nq; j++) exact_sc += part[j];
            int64_t id = g->ids[d];
            if (exact_sc > s->theta && (!s->skip || !s->skip(s->ctx, id)))
                heap_push(s, id, exact_sc);
        }
        for (size_t j = 0; j < nq; j++) part[j] = 0;
        for (size_t i = 0; i < ness; i++)
            if (ess[i]->doc == d) next(s, ess[i]);
        from = d + 1;
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
    struct cursor *cs = malloc(INV_TIERS * nterms * sizeof *cs); /* lists of the terms */
    struct cursor *cur[INV_TIERS * MATCH_MAX_TERMS];
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
            for (int li = 0; t && li < INV_TIERS; li++) {
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
