/* rag_query: answering a query: the cache, the vector and keyword searches,
 * their fusion, and the result rows (see rag.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rag/fuse.h"
#include "rag/match.h"
#include "rag/rag_int.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/text_scan.h"

/* Candidates each search brings (to the fusion, and to the picking of
 * results: identical texts once, max_per_document): the same for every
 * top_k up to HYBRID_MIN_DEPTH, so the first k results of a query do not
 * depend on how many were asked (with a depth growing with top_k, asking
 * for more changed, and worsened, the first ten). */
#define HYBRID_MIN_DEPTH 100
#define HYBRID_DEPTH(k)  ((k) < HYBRID_MIN_DEPTH ? HYBRID_MIN_DEPTH : (k))

/* A lexical query: the keyword side's best chunk holds every one of the
 * query's search terms, and they are at least HYBRID_LEXICAL_TERMS (a name,
 * an error message, words lifted from the text). Then the vector side
 * weighs HYBRID_LEXICAL_SHARE of its usual weight in the fusion: none, the
 * keyword ranking stands (chunks only the vector side found come after).
 * On words lifted from Node.js's documentation hybrid was 1.6 points of
 * MRR@10 under keyword search alone, the hash embedder's ranking pulling
 * the chunk that holds the words down; with the rule hybrid is at least as
 * good as the better side on all seven evaluation sets, English and
 * Japanese, and the paraphrased set, whose best chunk rarely holds every
 * word, does not move (README, "Retrieval quality"). */
#define HYBRID_LEXICAL_TERMS 3
#define HYBRID_LEXICAL_SHARE 0.0

int rag_mode_parse(const char *s)
{
    if (!s || !strcmp(s, "hybrid")) return RAG_HYBRID;
    if (!strcmp(s, "vector")) return RAG_VECTOR;
    if (!strcmp(s, "keyword")) return RAG_KEYWORD;
    return -EINVAL;
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp(((const doc_kv_t *)a)->key, ((const doc_kv_t *)b)->key);
}

/* The cache key: the mode, top_k and the filter's pairs sorted by key (the
 * order a client wrote them in does not matter), each string prefixed by
 * its length, then the query text with ASCII lowercased and whitespace
 * collapsed, last: no two queries share a key, whatever bytes they hold.
 * NULL when out of memory. */
static char *cache_key(const rag_query_t *q)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "%d:%zu:%zu:%d:", (int)q->mode, q->top_k, q->max_per_document,
               (int)q->merge_neighbours);
    doc_kv_t sorted[DOC_META_MAX];
    size_t n = q->nfilter < DOC_META_MAX ? q->nfilter : DOC_META_MAX;
    if (n) memcpy(sorted, q->filter, n * sizeof *sorted); /* filter may be NULL when n is 0 */
    qsort(sorted, n, sizeof *sorted, cmp_kv);
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%zu:%s%zu:%s", strlen(sorted[i].key), sorted[i].key,
                   strlen(sorted[i].value), sorted[i].value);
    buf_putc(&b, '|');
    bool space = true;
    for (const char *p = q->text; *p; p++) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (!space) buf_putc(&b, ' ');
            space = true;
            continue;
        }
        buf_putc(&b, ascii_lower(c));
        space = false;
    }
    if (b.len && b.data[b.len - 1] == ' ') b.len--;
    buf_putc(&b, '\0');
    if (buf_error(&b)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

static int term_dfs(void *ctx, const char *const *terms, size_t n, int64_t *dfs)
{
    return kwindex_dfs(ctx, terms, n, dfs);
}

/* The vector side: embeds the query, then searches the index (only the
 * allowed ids when filtered). The number of hits or a negative code. */
static long vector_side(rag_t *r, const rag_query_t *q, size_t depth, const idset_t *allowed,
                        vindex_hit_t *out, double *t_embed, double *t_search, char *err,
                        size_t errlen)
{
    float *qv = malloc(r->emb->dim * sizeof(float));
    size_t qlen = strlen(q->text);
    if (!qv) return -ENOMEM;
    double t0 = clock_now();
    long n = rag_embed(r, &q->text, &qlen, 1, qv, err, errlen);
    *t_embed = clock_now() - t0;
    if (n == 0) {
        double ts = clock_now();
        n = q->nfilter && allowed->n == 0
                ? 0
                : vindex_search(r->index, qv, depth, q->nfilter ? allowed : NULL, out);
        double dt = clock_now() - ts;
        metrics_histogram_observe(r->m.search_dur, dt);
        *t_search += dt;
    }
    free(qv);
    return n;
}

/* True when the chunk `best` holds each of terms[0..n) (see
 * HYBRID_LEXICAL_TERMS); false too when it cannot be read. */
static bool holds_all(rag_t *r, const vindex_hit_t *best, const char *const *terms, size_t n)
{
    result_t *one = NULL;
    bool all = false;
    if (result_new(&one) == 0 && store_results(r->store, best, 1, NULL, one) == 0 && one->n) {
        buf_t in = BUF_INIT;
        const result_hit_t *h = &one->hits[0];
        rag_chunk_input(&in, h->section ? h->section : "", h->text, h->text_len);
        all = !buf_error(&in) && match_held(terms, n, in.data, in.len) == n;
        buf_free(&in);
    }
    result_unref(&one);
    return all;
}

/* The keyword side: bm25 over the query's terms (only the allowed ids when
 * filtered). Hits or a negative code; with lexical, whether the query is
 * lexical (see HYBRID_LEXICAL_TERMS). */
static long keyword_side(rag_t *r, const rag_query_t *q, size_t depth, const idset_t *allowed,
                         vindex_hit_t *out, double *t_search, bool *lexical, char *err,
                         size_t errlen)
{
    buf_t space = BUF_INIT;
    const char *terms[MATCH_MAX_TERMS];
    size_t nt = match_terms(q->text, atomic_load(&r->nchunks), term_dfs, r->kw, &space, terms);
    long n = 0;
    if (buf_error(&space)) {
        n = -ENOMEM;
    } else if (nt && !(q->nfilter && allowed->n == 0)) {
        double ts = clock_now();
        n = kwindex_search(r->kw, terms, nt, depth, q->nfilter ? allowed : NULL, out);
        double dt = clock_now() - ts;
        metrics_histogram_observe(r->m.keyword_dur, dt);
        *t_search += dt;
        if (n < 0) snprintf(err, errlen, "keyword search failed");
        if (lexical && n > 0 && nt >= HYBRID_LEXICAL_TERMS)
            *lexical = holds_all(r, &out[0], terms, nt);
    }
    buf_free(&space);
    return n;
}

typedef struct ranked {
    double score;
    size_t at; /* place in the first ranking: ties keep it */
} ranked_t;

static int by_rerank(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Orders the candidates of *res again by the reranker and keeps top_k of
 * them (their score the reranker's). When the reranker fails, the first
 * ranking stays (cut to top_k), the failure is counted and the component
 * marked unhealthy: a query is still answered. 0 or -ENOMEM. */
static int rerank(rag_t *r, const rag_query_t *q, result_t **res)
{
    result_t *in = *res, *out = NULL;
    size_t n = in->n;
    const char **texts = calloc(n ? n : 1, sizeof *texts);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    double *scores = calloc(n ? n : 1, sizeof *scores);
    ranked_t *order = calloc(n ? n : 1, sizeof *order);
    int rc = texts && lens && scores && order ? result_new(&out) : -ENOMEM;
    for (size_t i = 0; !rc && i < n; i++)
        texts[i] = in->hits[i].text, lens[i] = in->hits[i].text_len;
    char why[256] = "";
    double t0 = clock_now();
    bool ok =
        !rc && rerank_score(r->reranker, q->text, texts, lens, n, scores, why, sizeof why) == 0;
    if (!rc) metrics_histogram_observe(r->m.rerank_dur, clock_now() - t0);
    if (!rc && !ok) {
        metrics_counter_inc(r->m.rerank_errors);
        atomic_store(&r->reranker_failed, true);
        if (r->health) health_set(r->health, "reranker", HEALTH_UNHEALTHY, why);
    } else if (ok && atomic_exchange(&r->reranker_failed, false) && r->health) {
        health_set(r->health, "reranker", HEALTH_HEALTHY, NULL);
    }
    for (size_t i = 0; !rc && i < n; i++) order[i] = (ranked_t){ok ? scores[i] : -(double)i, i};
    if (!rc) qsort(order, n, sizeof *order, by_rerank);
    for (size_t i = 0; !rc && i < n && i < q->top_k; i++) {
        result_hit_t h = in->hits[order[i].at];
        if (ok) h.score = order[i].score;
        rc = result_add(out, &h);
    }
    free(texts);
    free(lens);
    free(scores);
    free(order);
    if (rc) {
        result_unref(&out);
        return rc;
    }
    result_unref(res);
    *res = out;
    return 0;
}

int rag_query(rag_t *r, const rag_query_t *q, rag_answer_t *out, char *err, size_t errlen)
{
    double t0 = clock_now(), t_embed = 0, t_search = 0;
    memset(out, 0, sizeof *out);
    if (q->nfilter > DOC_META_MAX) {
        snprintf(err, errlen, "a filter has at most %d conditions", DOC_META_MAX);
        return -EINVAL;
    }
    char *key = cache_key(q);
    if (!key) return -ENOMEM;
    if ((out->results = cache_get(r->cache, key)) != NULL) {
        metrics_counter_inc(r->m.hits);
        rag_metrics_quality(r, q->mode, out->results);
        free(key);
        out->cached = true;
        out->total_ms = (clock_now() - t0) * 1000;
        return 0;
    }
    metrics_counter_inc(r->m.misses);

    size_t depth = HYBRID_DEPTH(q->top_k);
    vindex_hit_t *vh = calloc(depth, sizeof *vh), *kh = calloc(depth, sizeof *kh);
    vindex_hit_t *final = calloc(depth, sizeof *final);
    idset_t allowed = {0};
    long nv = 0, nk = 0, nf = 0;
    bool lexical = false;
    result_t *res = NULL;
    int rc = 0;
    if (!vh || !kh || !final || (rc = result_new(&res)) != 0) {
        rc = -ENOMEM;
        goto done;
    }
    if (q->nfilter && (rc = store_filter_ids(r->store, q->filter, q->nfilter, &allowed)) != 0) {
        snprintf(err, errlen, "applying the filter failed");
        goto done;
    }
    if (q->mode != RAG_KEYWORD &&
        (nv = vector_side(r, q, depth, &allowed, vh, &t_embed, &t_search, err, errlen)) < 0) {
        rc = (int)nv;
        goto done;
    }
    if (q->mode != RAG_VECTOR &&
        (nk = keyword_side(r, q, depth, &allowed, kh, &t_search,
                           q->mode == RAG_HYBRID ? &lexical : NULL, err, errlen)) < 0) {
        rc = (int)nk;
        goto done;
    }
    if (q->mode == RAG_VECTOR)
        memcpy(final, vh, (size_t)(nf = nv) * sizeof *final);
    else if (q->mode == RAG_KEYWORD)
        memcpy(final, kh, (size_t)(nf = nk) * sizeof *final);
    else if ((nf = fuse_scores(vh, (size_t)nv, kh, (size_t)nk,
                               r->vector_weight * (lexical ? HYBRID_LEXICAL_SHARE : 1), depth,
                               final)) < 0) {
        rc = (int)nf;
        goto done;
    }
    size_t pool = r->reranker && r->rerank_depth > q->top_k ? r->rerank_depth : q->top_k;
    if ((rc = store_results(r->store, final, (size_t)nf, &(store_pick_t){pool, q->max_per_document},
                            res)) != 0) {
        snprintf(err, errlen, "reading the results failed");
        goto done;
    }
    if (r->reranker && (rc = rerank(r, q, &res)) != 0) goto done;
    if (q->merge_neighbours) {
        result_t *merged;
        if ((rc = result_merge_neighbours(res, &merged)) != 0) goto done;
        result_unref(&res);
        res = merged;
    }
    cache_put(r->cache, key, res);
    rag_metrics_quality(r, q->mode, res);
    out->results = res;
    res = NULL;
    out->embed_ms = t_embed * 1000;
    out->search_ms = t_search * 1000;
    out->total_ms = (clock_now() - t0) * 1000;
done:
    result_unref(&res);
    idset_free(&allowed);
    free(vh);
    free(kh);
    free(final);
    free(key);
    return rc;
}

void rag_answer_release(rag_answer_t *a)
{
    result_unref(&a->results);
}
