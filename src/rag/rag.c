#include "rag/rag.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "rag/cache.h"
#include "rag/store.h"
#include "rag/text.h"
#include "rag/vindex.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/random.h"

/* Texts per embedder call: remote embedders take batches, and the
 * histogram sees one observation per call. */
#define EMBED_BATCH 64
/* Candidates each side brings to a hybrid fusion. */
#define HYBRID_DEPTH(k) ((k)*4 < 50 ? 50 : (k)*4)
#define MAX_QUERY_TERMS 64

struct rag {
    store_t *store;
    vindex_t *index;
    embedder_t *emb;
    cache_t *cache;
    chunk_opts_t chunk;
    parse_opts_t parse;
    pthread_mutex_t wmu;         /* store commit + index update, in one order */
    atomic_bool embedder_failed; /* the last call failed; the health check probes */
    health_t *health;            /* set by rag_add_health; failures are reported at once */
    metrics_family_t *doc_duration;
    metrics_child_t *doc_dur[DOC_TYPE_COUNT];
    metrics_child_t *embed_dur, *search_dur, *hits, *misses, *cache_entries, *docs, *embeddings;
};

int rag_mode_parse(const char *s)
{
    if (!s || !strcmp(s, "hybrid")) return RAG_HYBRID;
    if (!strcmp(s, "vector")) return RAG_VECTOR;
    if (!strcmp(s, "keyword")) return RAG_KEYWORD;
    return -EINVAL;
}

/* ---- metrics ------------------------------------------------------------- */

static int register_metrics(rag_t *r, const rag_opts_t *o)
{
    static const char *const type_l[] = {"document_type"};
    metrics_registry_t *reg = o->reg;
    metrics_family_t *f;
    int rc;
#define HIST(name_, help_, labels_, nl_, b_, nb_, out_)                                            \
    metrics_family_register(reg,                                                                   \
                            &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,                    \
                                                     .name = name_,                                \
                                                     .help = help_,                                \
                                                     .labels = labels_,                            \
                                                     .nlabels = nl_,                               \
                                                     .buckets = b_,                                \
                                                     .nbuckets = nb_},                             \
                            out_)
#define SIMPLE(type_, name_, help_, out_)                                                          \
    (rc = metrics_register_one(                                                                    \
         reg, &(metrics_family_opts_t){.type = type_, .name = name_, .help = help_}, out_))
    if ((rc = HIST("document_processing_duration_seconds",
                   "Time to ingest one document, parse to commit, in seconds.", type_l, 1,
                   o->buckets_document, o->nbuckets_document, &r->doc_duration)))
        return rc;
    for (int t = 0; t < DOC_TYPE_COUNT; t++)
        r->doc_dur[t] =
            metrics_family_child(r->doc_duration, (const char *[]){doc_type_name((doc_type_t)t)});
    if ((rc =
             HIST("embedding_generation_duration_seconds", "Time of one embedder call, in seconds.",
                  NULL, 0, o->buckets_embedding, o->nbuckets_embedding, &f)))
        return rc;
    r->embed_dur = metrics_family_child(f, NULL);
    if ((rc = HIST("vector_search_duration_seconds", "Time of one vector index search, in seconds.",
                   NULL, 0, o->buckets_search, o->nbuckets_search, &f)))
        return rc;
    r->search_dur = metrics_family_child(f, NULL);
    if (SIMPLE(METRICS_COUNTER, "query_cache_hits_total", "Queries answered from the query cache.",
               &r->hits) ||
        SIMPLE(METRICS_COUNTER, "query_cache_misses_total",
               "Queries the query cache could not answer.", &r->misses) ||
        SIMPLE(METRICS_GAUGE, "ragd_query_cache_entries", "Entries in the query cache.",
               &r->cache_entries) ||
        SIMPLE(METRICS_GAUGE, "active_documents_count", "Documents stored now.", &r->docs) ||
        SIMPLE(METRICS_GAUGE, "total_embeddings_count", "Embedding vectors stored now.",
               &r->embeddings))
        return rc;
#undef HIST
#undef SIMPLE
    return 0;
}

/* ---- open / close -------------------------------------------------------- */

static int load_vector(void *ctx, int64_t id, const float *vec)
{
    return vindex_add(ctx, &id, vec, 1);
}

int rag_open(rag_t **out, const rag_opts_t *o, char *err, size_t errlen)
{
    *out = NULL;
    rag_t *r = calloc(1, sizeof *r);
    embedder_t *emb = o->embedder;
    if (!r) {
        embed_free(&emb);
        return -ENOMEM;
    }
    pthread_mutex_init(&r->wmu, NULL);
    r->emb = emb;
    r->chunk = o->chunk;
    r->parse = o->parse;
    int rc = store_open(&r->store, o->data_dir, emb->name, emb->dim, err, errlen);
    if (!rc && (rc = vindex_new(&r->index, emb->dim)) != 0)
        snprintf(err, errlen, "index: out of memory");
    if (!rc && (rc = cache_new(&r->cache, o->cache_entries, o->cache_ttl_s)) != 0)
        snprintf(err, errlen, "cache: out of memory");
    if (!rc && (rc = register_metrics(r, o)) != 0)
        snprintf(err, errlen, "metrics: %s", metrics_registry_error(o->reg));
    double t0 = clock_now();
    if (!rc && (rc = store_each_vector(r->store, load_vector, r->index)) != 0)
        snprintf(err, errlen, "loading the vectors: %s",
                 rc == -EINVAL ? "a vector of the wrong size" : strerror(-rc));
    int64_t docs = 0, chunks = 0;
    if (!rc && (rc = store_counts(r->store, &docs, &chunks)) != 0)
        snprintf(err, errlen, "counting documents failed");
    if (rc) {
        rag_close(&r);
        return rc;
    }
    metrics_gauge_set(r->docs, (double)docs);
    metrics_gauge_set(r->embeddings, (double)chunks);
    metrics_gauge_set(r->cache_entries, 0);
    log_info("rag: %lld documents, %lld chunks loaded into the index in %.3f s (embedder %s, %u "
             "dimensions)",
             (long long)docs, (long long)chunks, clock_now() - t0, emb->name, emb->dim);
    *out = r;
    return 0;
}

void rag_close(rag_t **rp)
{
    rag_t *r = rp ? *rp : NULL;
    if (!r) return;
    store_close(&r->store);
    vindex_free(&r->index);
    cache_free(&r->cache);
    embed_free(&r->emb);
    pthread_mutex_destroy(&r->wmu);
    free(r);
    *rp = NULL;
}

/* ---- embedding ------------------------------------------------------------ */

/* Embeds texts in batches, timing each call; marks the embedder failed or
 * recovered. -ENETDOWN when the backend fails. */
static int embed_all(rag_t *r, const char *const *texts, const size_t *lens, size_t n, float *out,
                     char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i += EMBED_BATCH) {
        size_t m = n - i < EMBED_BATCH ? n - i : EMBED_BATCH;
        double t0 = clock_now();
        char e[256] = "";
        int rc = embed_texts(r->emb, texts + i, lens + i, m, out + i * r->emb->dim, e, sizeof e);
        metrics_histogram_observe(r->embed_dur, clock_now() - t0);
        if (rc) {
            if (!atomic_exchange(&r->embedder_failed, true))
                log_warn("embedder %s failed: %s", r->emb->name, e);
            if (r->health) health_set(r->health, "embedder", HEALTH_UNHEALTHY, e);
            snprintf(err, errlen, "the embedder is unavailable: %s", e);
            return -ENETDOWN;
        }
    }
    if (atomic_exchange(&r->embedder_failed, false)) {
        log_info("embedder %s recovered", r->emb->name);
        if (r->health) health_set(r->health, "embedder", HEALTH_HEALTHY, NULL);
    }
    return 0;
}

/* ---- ingest ----------------------------------------------------------------- */

static void random_id(char *out)
{
    unsigned char b[16];
    random_bytes(b, sizeof b);
    for (int i = 0; i < 16; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

int rag_ingest(rag_t *r, const rag_doc_in_t *in, json_t **out, char *err, size_t errlen)
{
    double t0 = clock_now();
    doc_blocks_t blocks = {0};
    chunk_list_t chunks = {0};
    buf_t text = BUF_INIT, terms = BUF_INIT, embed_in = BUF_INIT;
    store_chunk_t *sc = NULL;
    const char **etexts = NULL;
    size_t *elens = NULL, *eoffs = NULL, *toffs = NULL;
    float *vecs = NULL;
    char *meta = NULL, idbuf[40];
    store_put_result_t res = {0};
    int rc = parse_document(in->type, in->data, in->len, &r->parse, &blocks, err, errlen);
    if (rc) goto out;
    if ((rc = chunk_blocks(&blocks, &r->chunk, &chunks)) != 0) {
        if (rc == -E2BIG)
            snprintf(err, errlen,
                     "the document makes more than %zu chunks (the limit per document)",
                     r->chunk.max_chunks);
        goto out;
    }
    if (chunks.n == 0) {
        snprintf(err, errlen, "the document has no text to index");
        rc = -EINVAL;
        goto out;
    }
    /* Extracted text for GET, and per chunk: what is embedded (the section
     * gives context) and its search terms. Offsets first: buffers move. */
    for (size_t i = 0; i < blocks.n; i++) {
        if (i) buf_append(&text, "\n\n", 2);
        buf_append(&text, blocks.v[i].text, blocks.v[i].len);
    }
    sc = calloc(chunks.n, sizeof *sc);
    etexts = calloc(chunks.n, sizeof *etexts);
    elens = calloc(chunks.n, sizeof *elens);
    eoffs = calloc(chunks.n, sizeof *eoffs);
    toffs = calloc(chunks.n + 1, sizeof *toffs);
    vecs = malloc(chunks.n * r->emb->dim * sizeof(float));
    if (!sc || !etexts || !elens || !eoffs || !toffs || !vecs) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < chunks.n; i++) {
        const chunk_t *c = &chunks.v[i];
        eoffs[i] = embed_in.len;
        if (*c->section) {
            buf_puts(&embed_in, c->section);
            buf_putc(&embed_in, '\n');
        }
        buf_append(&embed_in, c->text, c->len);
        elens[i] = embed_in.len - eoffs[i];
        toffs[i] = terms.len;
        text_terms(embed_in.data + eoffs[i], elens[i], &terms);
        buf_putc(&terms, '\0');
    }
    toffs[chunks.n] = terms.len;
    if (buf_error(&text) || buf_error(&terms) || buf_error(&embed_in)) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < chunks.n; i++) etexts[i] = embed_in.data + eoffs[i];
    if ((rc = embed_all(r, etexts, elens, chunks.n, vecs, err, errlen)) != 0) goto out;

    const char *id = in->id;
    if (!id) {
        random_id(idbuf);
        id = idbuf;
    }
    meta = in->metadata ? json_dumps(in->metadata, JSON_COMPACT | JSON_SORT_KEYS)
                        : NULL; /* NULL: "{}" */
    for (size_t i = 0; i < chunks.n; i++)
        sc[i] = (store_chunk_t){chunks.v[i].text,
                                chunks.v[i].len,
                                chunks.v[i].section,
                                terms.data + toffs[i],
                                toffs[i + 1] - toffs[i] - 1,
                                vecs + i * r->emb->dim};
    store_doc_t d = {id,
                     in->title ? in->title : "",
                     doc_type_mime(in->type),
                     meta ? meta : "{}",
                     in->data,
                     in->len,
                     text.data ? text.data : "",
                     text.len};
    pthread_mutex_lock(&r->wmu);
    rc = store_put(r->store, &d, sc, chunks.n, &res, err, errlen);
    if (rc == 0) {
        vindex_remove(r->index, res.old_ids, res.n_old);
        if (vindex_add(r->index, res.new_ids, vecs, res.n_new) != 0)
            log_error("index: cannot add %zu vectors of %s (out of memory): restart to reload",
                      res.n_new, id);
        cache_clear(r->cache);
        metrics_gauge_set(r->cache_entries, 0);
        if (!res.replaced) metrics_gauge_inc(r->docs);
        metrics_gauge_add(r->embeddings, (double)res.n_new - (double)res.n_old);
    }
    pthread_mutex_unlock(&r->wmu);
    if (rc) goto out;
    metrics_histogram_observe(r->doc_dur[in->type], clock_now() - t0);
    *out = json_pack("{s:s,s:I,s:b}", "id", id, "chunks", (json_int_t)res.n_new, "replaced",
                     res.replaced);
out:
    store_put_result_free(&res);
    free(meta);
    free(vecs);
    free(toffs);
    free(eoffs);
    free(elens);
    free(etexts);
    free(sc);
    buf_free(&embed_in);
    buf_free(&terms);
    buf_free(&text);
    chunk_list_free(&chunks);
    doc_blocks_free(&blocks);
    return rc;
}

int rag_delete(rag_t *r, const char *id, size_t *nchunks)
{
    int64_t *ids = NULL;
    size_t n = 0;
    pthread_mutex_lock(&r->wmu);
    int rc = store_delete(r->store, id, &ids, &n);
    if (rc == 0) {
        vindex_remove(r->index, ids, n);
        cache_clear(r->cache);
        metrics_gauge_set(r->cache_entries, 0);
        metrics_gauge_dec(r->docs);
        metrics_gauge_sub(r->embeddings, (double)n);
    }
    pthread_mutex_unlock(&r->wmu);
    free(ids);
    if (nchunks) *nchunks = n;
    return rc;
}

int rag_get(rag_t *r, const char *id, json_t **out)
{
    return store_get(r->store, id, out);
}

int rag_list(rag_t *r, size_t limit, const char *after, json_t **out)
{
    return store_list(r->store, limit, after, out);
}

/* ---- query ------------------------------------------------------------------ */

/* The cache key: query text with ASCII lowercased and whitespace collapsed,
 * then the parameters. */
static char *cache_key(const rag_query_t *q)
{
    buf_t b = BUF_INIT;
    bool space = true;
    for (const char *p = q->text; *p; p++) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (!space) buf_putc(&b, ' ');
            space = true;
            continue;
        }
        buf_putc(&b, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
        space = false;
    }
    if (b.len && b.data[b.len - 1] == ' ') b.len--;
    char *f = q->filter ? json_dumps(q->filter, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    buf_printf(&b, "\x1f%d\x1f%zu\x1f%s", (int)q->mode, q->top_k, f ? f : "");
    free(f);
    buf_putc(&b, '\0');
    if (buf_error(&b)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* FTS5 expression: the query's terms, each quoted, joined with OR (bm25
 * ranks chunks that match more and rarer terms higher). Terms found in more
 * than COMMON_TERM_SHARE of the chunks are left out when a rarer term
 * remains: their bm25 weight (IDF) is near zero, but scoring every chunk
 * that holds them is most of a query's cost. Empty when there is no term. */
#define COMMON_TERM_SHARE 0.2
static void match_expr(rag_t *r, const char *text, buf_t *out)
{
    buf_t terms = BUF_INIT;
    const char *tok[MAX_QUERY_TERMS];
    int64_t df[MAX_QUERY_TERMS];
    size_t n = 0;
    text_terms(text, strlen(text), &terms);
    buf_putc(&terms, '\0');
    for (char *t = terms.data, *save = NULL, *w;
         terms.data && n < MAX_QUERY_TERMS && (w = strtok_r(t, " ", &save)); t = NULL) {
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++) dup = strcmp(tok[i], w) == 0;
        if (!dup) tok[n++] = w;
    }
    double chunks = metrics_gauge_value(r->embeddings);
    bool prune = n > 1 && chunks > 0 && store_term_dfs(r->store, tok, n, df) == 0;
    bool rare = false;
    for (size_t i = 0; prune && i < n; i++) rare |= (double)df[i] <= COMMON_TERM_SHARE * chunks;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (prune && rare && (double)df[i] > COMMON_TERM_SHARE * chunks) continue;
        if (count++) buf_append(out, " OR ", 4);
        buf_putc(out, '"');
        for (const char *c = tok[i]; *c; c++) {
            if (*c == '"') buf_putc(out, '"'); /* FTS5 escapes a quote by doubling it */
            buf_putc(out, *c);
        }
        buf_putc(out, '"');
    }
    buf_free(&terms);
    buf_putc(out, '\0');
}

struct fused {
    int64_t id;
    double score;
};

static int cmp_fused(const void *a, const void *b)
{
    const struct fused *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : (x->id > y->id) - (x->id < y->id);
}

/* Reciprocal rank fusion of two ranked lists into out (at most k): the
 * number of hits, or -ENOMEM. */
static long fuse(const vindex_hit_t *a, size_t na, const vindex_hit_t *b, size_t nb, size_t k,
                 vindex_hit_t *out)
{
    struct fused *f = malloc((na + nb + 1) * sizeof *f);
    size_t n = 0;
    if (!f) return -ENOMEM;
    for (size_t i = 0; i < na; i++) f[n++] = (struct fused){a[i].id, 1.0 / (RAG_RRF_K + i + 1)};
    for (size_t i = 0; i < nb; i++) {
        size_t j = 0;
        while (j < n && f[j].id != b[i].id) j++;
        double s = 1.0 / (RAG_RRF_K + i + 1);
        if (j < n)
            f[j].score += s;
        else
            f[n++] = (struct fused){b[i].id, s};
    }
    qsort(f, n, sizeof *f, cmp_fused);
    size_t m = n < k ? n : k;
    for (size_t i = 0; i < m; i++) out[i] = (vindex_hit_t){f[i].id, (float)f[i].score};
    free(f);
    return (long)m;
}

static bool allow_in_set(void *ctx, int64_t id)
{
    return store_idset_has(ctx, id);
}

int rag_query(rag_t *r, const rag_query_t *q, json_t **out, char *err, size_t errlen)
{
    double t0 = clock_now(), t_embed = 0, t_search = 0;
    *out = NULL;
    char *key = cache_key(q);
    if (!key) return -ENOMEM;
    size_t vlen;
    char *cached = cache_get(r->cache, key, &vlen);
    if (cached) {
        json_t *results = json_loadb(cached, vlen, 0, NULL);
        free(cached);
        if (results) {
            metrics_counter_inc(r->hits);
            free(key);
            *out = json_pack("{s:o,s:b,s:{s:f,s:f,s:f}}", "results", results, "cached", 1,
                             "timings_ms", "embedding", 0.0, "search", 0.0, "total",
                             (clock_now() - t0) * 1000);
            return 0;
        }
    }
    metrics_counter_inc(r->misses);

    size_t depth = q->mode == RAG_HYBRID ? HYBRID_DEPTH(q->top_k) : q->top_k;
    vindex_hit_t *vh = calloc(depth, sizeof *vh), *kh = calloc(depth, sizeof *kh);
    vindex_hit_t *final = calloc(q->top_k, sizeof *final);
    store_idset_t allowed = {0};
    buf_t match = BUF_INIT;
    size_t nv = 0, nk = 0, nf = 0;
    int rc = 0;
    json_t *results = json_array();
    if (!vh || !kh || !final || !results) {
        rc = -ENOMEM;
        goto done;
    }
    if (q->filter && json_object_size(q->filter) &&
        (rc = store_filter_ids(r->store, q->filter, &allowed)) != 0) {
        snprintf(err, errlen, "applying the filter failed");
        goto done;
    }
    bool filtered = q->filter && json_object_size(q->filter);
    if (q->mode != RAG_KEYWORD) {
        float *qv = malloc(r->emb->dim * sizeof(float));
        size_t qlen = strlen(q->text);
        if (!qv) {
            rc = -ENOMEM;
            goto done;
        }
        double te = clock_now();
        rc = embed_all(r, &q->text, &qlen, 1, qv, err, errlen);
        t_embed = clock_now() - te;
        if (rc == 0) {
            double ts = clock_now();
            long got = filtered && allowed.n == 0
                           ? 0
                           : vindex_search(r->index, qv, depth, filtered ? allow_in_set : NULL,
                                           &allowed, vh);
            if (got < 0)
                rc = (int)got;
            else
                nv = (size_t)got;
            double dt = clock_now() - ts;
            metrics_histogram_observe(r->search_dur, dt);
            t_search += dt;
        }
        free(qv);
        if (rc) goto done;
    }
    if (q->mode != RAG_VECTOR) {
        match_expr(r, q->text, &match);
        if (buf_error(&match)) {
            rc = -ENOMEM;
            goto done;
        }
        if (match.data[0]) {
            double ts = clock_now();
            long n = store_keyword(r->store, match.data, depth, filtered ? q->filter : NULL, kh);
            t_search += clock_now() - ts;
            if (n < 0) {
                rc = (int)n;
                snprintf(err, errlen, "keyword search failed");
                goto done;
            }
            nk = (size_t)n;
        }
    }
    if (q->mode == RAG_VECTOR)
        memcpy(final, vh, (nf = nv < q->top_k ? nv : q->top_k) * sizeof *final);
    else if (q->mode == RAG_KEYWORD)
        memcpy(final, kh, (nf = nk < q->top_k ? nk : q->top_k) * sizeof *final);
    else {
        long m = fuse(vh, nv, kh, nk, q->top_k, final);
        if (m < 0) {
            rc = (int)m;
            goto done;
        }
        nf = (size_t)m;
    }
    if ((rc = store_results(r->store, final, nf, results)) != 0) {
        snprintf(err, errlen, "reading the results failed");
        goto done;
    }
    char *text = json_dumps(results, JSON_COMPACT);
    if (text) {
        cache_put(r->cache, key, text, strlen(text));
        metrics_gauge_set(r->cache_entries, (double)cache_size(r->cache));
        free(text);
    }
    *out = json_pack("{s:O,s:b,s:{s:f,s:f,s:f}}", "results", results, "cached", 0, "timings_ms",
                     "embedding", t_embed * 1000, "search", t_search * 1000, "total",
                     (clock_now() - t0) * 1000);
    if (!*out) rc = -ENOMEM;
done:
    json_decref(results);
    buf_free(&match);
    store_idset_free(&allowed);
    free(vh);
    free(kh);
    free(final);
    free(key);
    return rc;
}

/* ---- health --------------------------------------------------------------- */

static health_state_t check_store(void *ctx, char *detail, size_t n)
{
    rag_t *r = ctx;
    return store_check(r->store, detail, n) == 0 ? HEALTH_HEALTHY : HEALTH_UNHEALTHY;
}

/* Healthy until a call fails; then each check probes the backend with a
 * one-word input, so the state recovers without waiting for traffic. */
static health_state_t check_embedder(void *ctx, char *detail, size_t n)
{
    rag_t *r = ctx;
    if (!atomic_load(&r->embedder_failed)) return HEALTH_HEALTHY;
    static const char *const probe[] = {"health"};
    static const size_t plen[] = {6};
    float *v = malloc(r->emb->dim * sizeof(float));
    char err[256];
    int rc = v ? embed_all(r, probe, plen, 1, v, err, sizeof err) : -ENOMEM;
    free(v);
    if (rc == 0) return HEALTH_HEALTHY;
    snprintf(detail, n, "%s", err); /* the probe's own failure: no state shared with ingests */
    return HEALTH_UNHEALTHY;
}

static health_state_t check_index(void *ctx, char *detail, size_t n)
{
    rag_t *r = ctx;
    int64_t docs, chunks;
    pthread_mutex_lock(&r->wmu); /* store and index agree between writes */
    size_t rows = vindex_size(r->index);
    int rc = store_counts(r->store, &docs, &chunks);
    pthread_mutex_unlock(&r->wmu);
    if (rc) {
        snprintf(detail, n, "cannot count the store's chunks");
        return HEALTH_DEGRADED;
    }
    if ((int64_t)rows != chunks) {
        snprintf(detail, n, "index holds %zu vectors, the store %lld", rows, (long long)chunks);
        return HEALTH_DEGRADED;
    }
    return HEALTH_HEALTHY;
}

static health_state_t check_cache(void *ctx, char *detail, size_t n)
{
    rag_t *r = ctx;
    metrics_gauge_set(r->cache_entries, (double)cache_size(r->cache)); /* expiries */
    return HEALTH_HEALTHY;
}

int rag_add_health(rag_t *r, health_t *h)
{
    r->health = h;
    int rc = health_add(h, "store", check_store, r, true);
    if (!rc) rc = health_add(h, "embedder", check_embedder, r, true);
    if (!rc) rc = health_add(h, "index", check_index, r, true);
    if (!rc) rc = health_add(h, "cache", check_cache, r, false);
    return rc;
}
