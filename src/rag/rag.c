/* rag: opening the pipeline, ingestion and deletion, and document reads
 * (see rag.h). */
#include "rag/rag.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "rag/rag_int.h"
#include "rag/text.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/file.h"
#include "util/par.h"
#include "util/random.h"

/* Texts per embedder call: remote embedders take batches, and the
 * histogram sees one observation per call. */
#define RAG_EMBED_BATCH 64

/* Vectors read at start-up go into the index LOAD_BATCH at a time: one
 * lock and one reservation per batch instead of per row. */
#define LOAD_BATCH 1024

struct vec_load {
    vindex_t *ix;
    unsigned dim;
    size_t n;
    int64_t ids[LOAD_BATCH];
    float *vecs; /* LOAD_BATCH * dim */
};

static int load_flush(struct vec_load *l)
{
    int rc = l->n ? vindex_add(l->ix, l->ids, l->vecs, l->n) : 0;
    l->n = 0;
    return rc;
}

static int load_vector(void *ctx, int64_t id, const float *vec)
{
    struct vec_load *l = ctx;
    l->ids[l->n] = id;
    memcpy(l->vecs + l->n * l->dim, vec, l->dim * sizeof *vec);
    return ++l->n == LOAD_BATCH ? load_flush(l) : 0;
}

/* The store's vectors above `after` into ix. */
static int load_vectors(store_t *s, int64_t after, vindex_t *ix, unsigned dim)
{
    struct vec_load *l = malloc(sizeof *l);
    float *vecs = malloc((size_t)LOAD_BATCH * dim * sizeof *vecs);
    int rc = l && vecs ? 0 : -ENOMEM;
    if (!rc) {
        *l = (struct vec_load){.ix = ix, .dim = dim, .vecs = vecs};
        rc = store_each_vector(s, after, load_vector, l);
        if (!rc) rc = load_flush(l);
    }
    free(vecs);
    free(l);
    return rc;
}

static bool chunk_kept(void *ctx, int64_t id)
{
    return idset_has(ctx, id);
}

/* Kept in the keyword index: above the watermark (just indexed from the
 * store), or a chunk the store has. */
struct kw_keep {
    const idset_t *ids;
    int64_t watermark;
};

static bool keyword_kept(void *ctx, int64_t id)
{
    const struct kw_keep *k = ctx;
    return id > k->watermark || idset_has(k->ids, id);
}

#define GRAPH_FILE "vectors.hnsw"
#define FLAT_FILE  "vectors.flat"
/* Saved flat rows compared with the store's at start-up */
#define FLAT_SAMPLE 64

/* True when the flat rows read from the file saved at the last clean
 * shutdown (and those above its top id read from the store since) are the
 * store's: as many rows as chunks, ids the store could have given, and a
 * sample of vectors the same bit for bit. A store restored from a backup
 * or written by another program since then fails it. */
static bool flat_matches(rag_t *r, int64_t top, int64_t chunks)
{
    int64_t last = 0, ids[FLAT_SAMPLE];
    if ((int64_t)vindex_size(r->index) != chunks || store_last_chunk_id(r->store, &last) != 0 ||
        top > last)
        return false;
    unsigned dim = r->emb->dim;
    float *got = malloc((size_t)FLAT_SAMPLE * dim * sizeof *got),
          *want = malloc(dim * sizeof *want);
    bool same = got && want;
    size_t n = same ? vindex_sample(r->index, FLAT_SAMPLE, ids, got) : 0;
    for (size_t i = 0; same && i < n; i++)
        same = store_vector(r->store, ids[i], want) == 0 &&
               memcmp(got + i * dim, want, dim * sizeof *want) == 0;
    free(got);
    free(want);
    return same;
}

/* The vector index at start-up: the saved graph when there is one (rows up
 * to its watermark), or else the flat rows a clean shutdown saved, then the
 * store's rows above the watermark. The store is the truth: graph rows it
 * no longer has (a crash after deletions) are dropped, and when the counts
 * still disagree the graph is not trusted and everything is loaded from
 * the store. The flat file serves one start (it is removed once read: from
 * then on the store changes) and is checked against the store
 * (flat_matches). */
static int load_index(rag_t *r, const rag_opts_t *o, int64_t chunks, char *err, size_t errlen)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", o->data_dir, GRAPH_FILE);
    vindex_opts_t vo = o->vindex;
    vo.path = path;
    /* The hash embedder's vectors are near-random (a word's hash, summed):
     * a graph finds under half of their true top 10 at any affordable ef
     * (make bench-scale), so auto keeps them exact. */
    if (vo.kind == VINDEX_AUTO && strncmp(r->emb->name, "hash", 4) == 0) {
        vo.kind = VINDEX_EXACT;
        log_info("vector index: exact (auto, hash embedder: a graph would lose recall)");
    }
    if (!vo.recall_every) vo.recall_every = 64;
    vo.threads = (unsigned)r->ingest_workers; /* int8 copies at start-up, parts of a scan */
    /* Half the CPUs build: the graph is built while the service answers
     * (from the flat segment), and the other half is for the queries. */
    if (!vo.build_threads) vo.build_threads = (unsigned)(par_cpus(2 * PAR_MAX_THREADS) / 2);
    if (!vo.build_threads) vo.build_threads = 1;
    int rc = vindex_new(&r->index, r->emb->dim, &vo);
    if (rc) {
        snprintf(err, errlen, "index: %s", strerror(-rc));
        return rc;
    }
    int64_t watermark = 0;
    char lerr[512] = "";
    if (vindex_load(r->index, &watermark, lerr, sizeof lerr) != 0)
        log_warn("vector index: %s; building the graph again", lerr);
    char flat_path[1200];
    snprintf(flat_path, sizeof flat_path, "%s/%s", o->data_dir, FLAT_FILE);
    bool flat = false;
    if (watermark == 0) {
        int frc = vindex_flat_load(r->index, flat_path, &watermark, lerr, sizeof lerr);
        flat = frc == 0;
        if (frc && frc != -ENOENT)
            log_warn("vector index: %s; reading the vectors from the store", lerr);
        if (frc != -ENOENT && unlink(flat_path) != 0)
            log_warn("vector index: removing %s: %s (the next start checks it again)", flat_path,
                     strerror(errno));
    }
    if ((rc = load_vectors(r->store, watermark, r->index, r->emb->dim)) != 0) goto fail;
    if (flat && !flat_matches(r, watermark, chunks)) {
        log_warn("vector index: the flat rows saved at the last shutdown disagree with the store "
                 "(%zu rows, %lld chunks); reading every vector from the store",
                 vindex_size(r->index), (long long)chunks);
        vindex_reset(r->index);
        watermark = 0;
        if ((rc = load_vectors(r->store, 0, r->index, r->emb->dim)) != 0) goto fail;
    }
    if (flat) watermark = 0; /* what follows is the graph's */
    if (watermark && (int64_t)vindex_size(r->index) != chunks) {
        idset_t ids;
        if ((rc = store_chunk_ids(r->store, watermark, &ids)) != 0) goto fail;
        size_t dropped = vindex_retain(r->index, chunk_kept, &ids);
        idset_free(&ids);
        log_info("vector index: %zu graph rows the store no longer has were dropped", dropped);
    }
    if (watermark && (int64_t)vindex_size(r->index) != chunks) {
        log_warn("vector index: the graph disagrees with the store (%zu rows, %lld chunks); "
                 "loading every vector from the store and building the graph again",
                 vindex_size(r->index), (long long)chunks);
        vindex_reset(r->index);
        if ((rc = load_vectors(r->store, 0, r->index, r->emb->dim)) != 0) goto fail;
    }
    if ((rc = vindex_start(r->index)) != 0) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "loading the vectors: %s",
             rc == -EINVAL ? "a vector of the wrong size" : strerror(-rc));
    return rc;
}

/* Chunks replayed into the keyword index between two flushes at start-up:
 * one segment each (about 60 MB of builder at 200 words a chunk, under
 * KWINDEX_BUILDER_MAX), merged in the background as they come; a crash
 * keeps the flushes made. */
#define KW_LOAD_COMMIT 50000

void rag_chunk_input(buf_t *b, const char *section, const char *text, size_t len)
{
    if (*section) {
        buf_puts(b, section);
        buf_putc(b, '\n');
    }
    buf_append(b, text, len);
}

struct kw_load {
    kwindex_t *kw;
    buf_t in, terms;
    int64_t last;
    size_t n;
    double t0, logged;
};

/* Indexes one stored chunk, with the terms ingestion gave it. */
static int load_text(void *ctx, int64_t id, const char *section, const char *text, size_t len)
{
    struct kw_load *l = ctx;
    buf_reset(&l->in);
    buf_reset(&l->terms);
    rag_chunk_input(&l->in, section, text, len);
    text_terms(l->in.data ? l->in.data : "", l->in.len, &l->terms);
    if (buf_error(&l->in) || buf_error(&l->terms)) return -ENOMEM;
    int rc = kwindex_put(l->kw, id, l->terms.data ? l->terms.data : "", l->terms.len);
    l->last = id;
    if (!rc && ++l->n % KW_LOAD_COMMIT == 0) {
        kwindex_commit(l->kw, id);
        rc = kwindex_flush(l->kw);
        double now = clock_now();
        if (now - l->logged >= 5) { /* progress, for a long rebuild */
            log_info("keyword index: %zu chunks indexed (%.0f/s)", l->n, l->n / (now - l->t0));
            l->logged = now;
        }
    }
    return rc;
}

/* Indexes the store's chunks above the index's watermark and commits. */
static int replay_keywords(rag_t *r)
{
    struct kw_load l = {.kw = r->kw, .in = BUF_INIT, .terms = BUF_INIT, .t0 = clock_now()};
    l.logged = l.t0;
    l.last = kwindex_watermark(r->kw);
    int rc = store_each_text(r->store, l.last, load_text, &l);
    if (!rc) kwindex_commit(r->kw, l.last);
    if (!rc) rc = kwindex_flush(r->kw);
    if (!rc && l.n)
        log_info("keyword index: %zu chunks indexed from the store in %.1f s", l.n,
                 clock_now() - l.t0);
    buf_free(&l.in);
    buf_free(&l.terms);
    return rc;
}

/* Removes the keyword index at path and opens it empty. */
static int keywords_anew(rag_t *r, const char *path, char *kerr, size_t n)
{
    kwindex_free(&r->kw);
    int rc = file_rm_rf(path);
    return rc ? rc : kwindex_open(&r->kw, path, kerr, n);
}

/* The keyword index at start-up, as the vector index: the store's chunks
 * above its watermark are indexed, ids the store no longer has dropped;
 * an index that cannot be opened or still disagrees with the store is
 * removed and built again from the store (logged, with progress). */
static int load_keywords(rag_t *r, const rag_opts_t *o, int64_t chunks, char *err, size_t errlen)
{
    char path[1200];
    /* ragd 0.x kept its keyword index in Xapian: built again from the store */
    snprintf(path, sizeof path, "%s/keywords.xapian", o->data_dir);
    if (access(path, F_OK) == 0) {
        log_info("keyword index: replacing the Xapian index of an earlier ragd (%s)", path);
        file_rm_rf(path);
    }
    snprintf(path, sizeof path, "%s/%s", o->data_dir, KWINDEX_DIR);
    char kerr[512] = "";
    int rc = kwindex_open(&r->kw, path, kerr, sizeof kerr);
    if (rc == -EIO) {
        log_warn("keyword index: %s; building it again from the store", kerr);
        rc = keywords_anew(r, path, kerr, sizeof kerr);
    }
    if (rc) {
        snprintf(err, errlen, "keyword index: %s", *kerr ? kerr : strerror(-rc));
        return rc;
    }
    int64_t watermark = kwindex_watermark(r->kw), last = 0;
    if ((rc = store_last_chunk_id(r->store, &last)) != 0) goto fail;
    if (watermark > last) { /* the store went back in time: its new ids would clash */
        log_warn("keyword index: it holds chunk ids up to %lld, the store only gave up to %lld "
                 "(a restored backup?); building it again from the store",
                 (long long)watermark, (long long)last);
        if ((rc = keywords_anew(r, path, kerr, sizeof kerr)) != 0) goto fail;
        watermark = 0;
    }
    if ((rc = replay_keywords(r)) != 0) goto fail;
    if ((int64_t)kwindex_count(r->kw) != chunks) {
        idset_t ids;
        if ((rc = store_chunk_ids(r->store, watermark, &ids)) != 0) goto fail;
        struct kw_keep keep = {&ids, watermark};
        long dropped = kwindex_retain(r->kw, keyword_kept, &keep);
        idset_free(&ids);
        if (dropped < 0 || (rc = kwindex_flush(r->kw)) != 0) {
            rc = dropped < 0 ? (int)dropped : rc;
            goto fail;
        }
        log_info("keyword index: %ld chunks the store no longer has were dropped", dropped);
    }
    if ((int64_t)kwindex_count(r->kw) != chunks) {
        log_warn("keyword index: %zu chunks indexed, the store has %lld; building it again",
                 kwindex_count(r->kw), (long long)chunks);
        if ((rc = keywords_anew(r, path, kerr, sizeof kerr)) != 0 || (rc = replay_keywords(r)) != 0)
            goto fail;
    }
    return 0;
fail:
    snprintf(err, errlen, "loading the keyword index: %s", strerror(-rc));
    return rc;
}

/* Chunks embedded again per transaction when a store of the replaced
 * embedder is opened. */
#define REEMBED_BATCH 1024

struct reembed {
    int64_t ids[REEMBED_BATCH];
    buf_t in[REEMBED_BATCH];
    size_t n, done;
    int64_t last;
};

/* Collects one stored chunk's embedding input; 1 (stop) when the batch is full. */
static int reembed_row(void *ctx, int64_t id, const char *section, const char *text, size_t len)
{
    struct reembed *e = ctx;
    buf_reset(&e->in[e->n]);
    rag_chunk_input(&e->in[e->n], section, text, len);
    if (buf_error(&e->in[e->n])) return -ENOMEM;
    e->ids[e->n++] = id;
    e->last = id;
    return e->n == REEMBED_BATCH;
}

/* The store's vectors are the replaced embedder's (an earlier version of the
 * hash embedder): every chunk is embedded again from its stored text, a
 * batch per transaction, then the new embedder is recorded. A crash in
 * between leaves the old name, and the next start does it all again (the
 * same texts give the same vectors). A saved graph or flat file holds the old vectors:
 * it is removed, and load_index builds the index from the new ones. */
static int reembed_all(rag_t *r, const rag_opts_t *o, int64_t chunks, char *err, size_t errlen)
{
    static const char *const saved[] = {GRAPH_FILE, FLAT_FILE};
    for (size_t i = 0; i < sizeof saved / sizeof *saved; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", o->data_dir, saved[i]);
        if (unlink(path) && errno != ENOENT) log_warn("removing %s: %s", path, strerror(errno));
    }
    log_info("rag: the store's vectors are embedder %s's; embedding %lld chunks again with %s",
             r->emb->replaces, (long long)chunks, r->emb->name);
    struct reembed *e = calloc(1, sizeof *e);
    float *vecs = malloc((size_t)REEMBED_BATCH * r->emb->dim * sizeof *vecs);
    const char **texts = malloc(REEMBED_BATCH * sizeof *texts);
    size_t *lens = malloc(REEMBED_BATCH * sizeof *lens);
    int rc = e && vecs && texts && lens ? 0 : -ENOMEM;
    double t0 = clock_now(), logged = t0;
    while (!rc) {
        e->n = 0;
        rc = store_each_text(r->store, e->last, reembed_row, e);
        if (rc < 0 || e->n == 0) break;
        for (size_t i = 0; i < e->n; i++)
            texts[i] = e->in[i].data ? e->in[i].data : "", lens[i] = e->in[i].len;
        char why[256] = "";
        if ((rc = embed_texts(r->emb, texts, lens, e->n, vecs, why, sizeof why)) == 0 &&
            (rc = store_set_vectors(r->store, e->ids, vecs, e->n)) == 0) {
            e->done += e->n;
            double now = clock_now();
            if (now - logged >= 5) {
                log_info("rag: %zu of %lld chunks embedded again (%.0f/s)", e->done,
                         (long long)chunks, e->done / (now - t0));
                logged = now;
            }
        }
    }
    if (rc >= 0 && (rc = store_set_embedder(r->store, r->emb->name)) == 0)
        log_info("rag: %zu chunks embedded again in %.1f s", e->done, clock_now() - t0);
    for (size_t i = 0; e && i < REEMBED_BATCH; i++) buf_free(&e->in[i]);
    free(e);
    free(vecs);
    free(texts);
    free(lens);
    if (rc) snprintf(err, errlen, "embedding the store's chunks again: %s", strerror(-rc));
    return rc;
}

int rag_open(rag_t **out, const rag_opts_t *o, char *err, size_t errlen)
{
    *out = NULL;
    rag_t *r = calloc(1, sizeof *r);
    embedder_t *emb = o->embedder;
    if (!r) {
        embed_free(&emb);
        reranker_t *rr = o->reranker;
        rerank_free(&rr);
        return -ENOMEM;
    }
    pthread_mutex_init(&r->cmu, NULL);
    pthread_mutex_init(&r->amu, NULL);
    r->emb = emb;
    r->reranker = o->reranker;
    r->rerank_depth = o->rerank_depth ? o->rerank_depth : 20;
    r->vector_weight = o->vector_weight;
    r->ingest_workers = o->ingest_workers ? o->ingest_workers : par_cpus(RAG_AUTO_INGEST_WORKERS);
    r->chunk = o->chunk;
    r->parse = o->parse;
    int rc = store_open(&r->store, o->data_dir, emb->name, emb->replaces, emb->dim, err, errlen);
    if (!rc && (rc = cache_new(&r->cache, o->cache_entries, o->cache_ttl_s)) != 0)
        snprintf(err, errlen, "cache: out of memory");
    double t0 = clock_now();
    int64_t docs = 0, chunks = 0;
    if (!rc && (rc = store_counts(r->store, &docs, &chunks)) != 0)
        snprintf(err, errlen, "counting documents failed");
    if (!rc && store_reembed(r->store)) rc = reembed_all(r, o, chunks, err, errlen);
    if (!rc) rc = load_index(r, o, chunks, err, errlen);
    if (!rc) rc = load_keywords(r, o, chunks, err, errlen);
    if (!rc) rc = rag_metrics_register(r, o->reg, o, err, errlen);
    if (rc) {
        rag_close(&r);
        return rc;
    }
    atomic_store(&r->ndocs, docs);
    atomic_store(&r->nchunks, chunks);
    /* opened whole: rag_close may save the flat rows for the next start */
    if (asprintf(&r->flat_path, "%s/%s", o->data_dir, FLAT_FILE) < 0) r->flat_path = NULL;
    vindex_stats_t st;
    vindex_stats(r->index, &st);
    log_info("rag: %lld documents, %lld chunks loaded into the index in %.3f s (embedder %s, %u "
             "dimensions, vector index %s)",
             (long long)docs, (long long)chunks, clock_now() - t0, emb->name, emb->dim,
             vindex_kind_name(st.kind));
    *out = r;
    return 0;
}

void rag_close(rag_t **rp)
{
    rag_t *r = rp ? *rp : NULL;
    if (!r) return;
    char err[1400];
    int rc = r->flat_path ? vindex_flat_save(r->index, r->flat_path, err, sizeof err) : -EBUSY;
    if (rc && rc != -EBUSY) log_warn("vector index: %s (the next start reads the store)", err);
    free(r->flat_path);
    store_close(&r->store);
    vindex_free(&r->index);
    kwindex_free(&r->kw);
    cache_free(&r->cache);
    embed_free(&r->emb);
    rerank_free(&r->reranker);
    pthread_mutex_destroy(&r->amu);
    pthread_mutex_destroy(&r->cmu);
    free(r);
    *rp = NULL;
}

int rag_embed(rag_t *r, const char *const *texts, const size_t *lens, size_t n, float *out,
              char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i += RAG_EMBED_BATCH) {
        size_t m = n - i < RAG_EMBED_BATCH ? n - i : RAG_EMBED_BATCH;
        double t0 = clock_now();
        char e[256] = "";
        int rc = embed_texts(r->emb, texts + i, lens + i, m, out + i * r->emb->dim, e, sizeof e);
        metrics_histogram_observe(r->m.embed_dur, clock_now() - t0);
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

static void random_id(char *out)
{
    unsigned char b[16];
    random_bytes(b, sizeof b);
    for (int i = 0; i < 16; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

/* The working memory of one ingest, released by ingest_free. */
struct ingest {
    doc_blocks_t blocks;
    chunk_list_t chunks;
    buf_t text;     /* the extracted text, for GET */
    buf_t embed_in; /* per chunk: its section, a newline, its text (what is embedded) */
    buf_t terms;    /* per chunk: its search terms, NUL-terminated */
    size_t *eoffs, *elens, *toffs;
    const char **etexts;
    float *vecs;
    store_chunk_t *sc;
};

static void ingest_free(struct ingest *g)
{
    free(g->sc);
    free(g->vecs);
    free(g->etexts);
    free(g->toffs);
    free(g->elens);
    free(g->eoffs);
    buf_free(&g->terms);
    buf_free(&g->embed_in);
    buf_free(&g->text);
    chunk_list_free(&g->chunks);
    doc_blocks_free(&g->blocks);
}

/* Parses and chunks the document. 0, or the parser's and chunker's codes
 * (-EINVAL also for a document without text), with err set. */
static int ingest_split(rag_t *r, const rag_doc_in_t *in, struct ingest *g, char *err,
                        size_t errlen)
{
    int rc = parse_document(in->type, in->data, in->len, &r->parse, &g->blocks, err, errlen);
    if (rc) return rc;
    if ((rc = chunk_blocks(&g->blocks, &r->chunk, &g->chunks)) != 0) {
        if (rc == -E2BIG)
            snprintf(err, errlen,
                     "the document makes more than %zu chunks (the limit per document)",
                     r->chunk.max_chunks);
        return rc;
    }
    if (g->chunks.n == 0) {
        snprintf(err, errlen, "the document has no text to index");
        return -EINVAL;
    }
    return 0;
}

/* The extracted text, and per chunk what is embedded (the section gives
 * context) and its search terms, then the vectors and the store's rows.
 * Offsets first, pointers last: the buffers move while they grow. */
static int ingest_build(rag_t *r, struct ingest *g, char *err, size_t errlen)
{
    size_t n = g->chunks.n, dim = r->emb->dim;
    for (size_t i = 0; i < g->blocks.n; i++) {
        if (i) buf_append(&g->text, "\n\n", 2);
        buf_append(&g->text, g->blocks.v[i].text, g->blocks.v[i].len);
    }
    g->sc = calloc(n, sizeof *g->sc);
    g->etexts = calloc(n, sizeof *g->etexts);
    g->elens = calloc(n, sizeof *g->elens);
    g->eoffs = calloc(n, sizeof *g->eoffs);
    g->toffs = calloc(n + 1, sizeof *g->toffs);
    g->vecs = malloc(n * dim * sizeof(float));
    if (!g->sc || !g->etexts || !g->elens || !g->eoffs || !g->toffs || !g->vecs) return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const chunk_t *c = &g->chunks.v[i];
        g->eoffs[i] = g->embed_in.len;
        rag_chunk_input(&g->embed_in, c->section, c->text, c->len);
        g->elens[i] = g->embed_in.len - g->eoffs[i];
        g->toffs[i] = g->terms.len;
        text_terms(g->embed_in.data + g->eoffs[i], g->elens[i], &g->terms);
        buf_putc(&g->terms, '\0');
    }
    g->toffs[n] = g->terms.len;
    if (buf_error(&g->text) || buf_error(&g->terms) || buf_error(&g->embed_in)) return -ENOMEM;
    for (size_t i = 0; i < n; i++) g->etexts[i] = g->embed_in.data + g->eoffs[i];
    int rc = rag_embed(r, g->etexts, g->elens, n, g->vecs, err, errlen);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        g->sc[i] = (store_chunk_t){g->chunks.v[i].text, g->chunks.v[i].len, g->chunks.v[i].section,
                                   g->vecs + i * dim};
    return 0;
}

/* From the store's commit to the indexes' update: takes the apply mutex
 * before it lets the commit mutex go, so that the indexes are updated in
 * the store's order of commits, while the next write already commits
 * (see rag.h). */
static void handover(rag_t *r)
{
    pthread_mutex_lock(&r->amu);
    pthread_mutex_unlock(&r->cmu);
}

/* What a committed document changes beside the store: the indexes (in the
 * store's order of commits; the keyword index is committed once per batch
 * by the caller), the cache, the counts. Under amu. */
static void apply_commit(rag_t *r, const char *id, const struct ingest *g,
                         const store_put_result_t *res)
{
    vindex_remove(r->index, res->old_ids, res->n_old);
    if (vindex_add(r->index, res->new_ids, g->vecs, res->n_new) != 0)
        log_error("index: cannot add %zu vectors of %s (out of memory): restart to reload",
                  res->n_new, id); /* committed: the index check reports it degraded */
    int rc = kwindex_delete(r->kw, res->old_ids, res->n_old);
    for (size_t i = 0; !rc && i < res->n_new; i++)
        rc = kwindex_put(r->kw, res->new_ids[i], g->terms.data + g->toffs[i],
                         g->toffs[i + 1] - g->toffs[i] - 1);
    if (rc) /* committed: a restart finds the count off and indexes again */
        log_error("keyword index: cannot index %s: %s (restart to index again)", id, strerror(-rc));
    if (!res->replaced) atomic_fetch_add(&r->ndocs, 1);
    atomic_fetch_add(&r->nchunks, (int_least64_t)res->n_new - (int_least64_t)res->n_old);
}

/* Parses, chunks and embeds item i of a batch into g[i] and its store row
 * docs[i]; item->rc says how it went. Touches only its own slots: the
 * batch's workers call it for different i at once. */
static void prepare_one(rag_t *r, rag_batch_item_t *it, struct ingest *g, store_doc_t *doc)
{
    const rag_doc_in_t *in = it->in;
    *g = (struct ingest){.text = BUF_INIT, .embed_in = BUF_INIT, .terms = BUF_INIT};
    if (in->id)
        snprintf(it->out.id, sizeof it->out.id, "%s", in->id);
    else
        random_id(it->out.id);
    it->err[0] = '\0';
    it->rc = ingest_split(r, in, g, it->err, sizeof it->err);
    if (!it->rc) it->rc = ingest_build(r, g, it->err, sizeof it->err);
    if (it->rc) return;
    /* no title given: the document's own (HTML <title>, first heading) */
    *doc = (store_doc_t){it->out.id,
                         in->title && *in->title ? in->title : g->blocks.title,
                         doc_type_mime(in->type),
                         in->meta,
                         in->nmeta,
                         in->data,
                         in->len,
                         g->text.data ? g->text.data : "",
                         g->text.len};
}

/* A batch being prepared (par_for's context). */
struct prep {
    rag_t *r;
    rag_batch_item_t *items;
    struct ingest *g;
    store_doc_t *docs;
};

static void prep_one(void *ctx, size_t i)
{
    struct prep *p = ctx;
    prepare_one(p->r, &p->items[i], &p->g[i], &p->docs[i]);
}

int rag_ingest_batch(rag_t *r, rag_batch_item_t *items, size_t n)
{
    double t0 = clock_now();
    struct ingest *g = calloc(n ? n : 1, sizeof *g);
    store_doc_t *docs = calloc(n ? n : 1, sizeof *docs);
    store_put_item_t *puts = calloc(n ? n : 1, sizeof *puts);
    size_t *which = calloc(n ? n : 1, sizeof *which), nput = 0;
    if (!g || !docs || !puts || !which) {
        free(g), free(docs), free(puts), free(which);
        for (size_t i = 0; i < n; i++) items[i].rc = -ENOMEM;
        return -ENOMEM;
    }
    /* the slow part, unlocked and on several threads: parse, chunk, embed */
    struct prep p = {.r = r, .items = items, .g = g, .docs = docs};
    par_for(n, r->ingest_workers, prep_one, &p);
    for (size_t i = 0; i < n; i++) {
        if (items[i].rc) continue;
        puts[nput] =
            (store_put_item_t){.doc = &docs[i], .chunks = g[i].sc, .nchunks = g[i].chunks.n};
        which[nput++] = i;
    }
    /* one transaction for all, and the index in its order */
    char err[256] = "";
    pthread_mutex_lock(&r->cmu);
    int rc = nput ? store_put_many(r->store, puts, nput, err, sizeof err) : 0;
    handover(r);
    int64_t top = 0;
    for (size_t k = 0; k < nput; k++) {
        rag_batch_item_t *it = &items[which[k]];
        if ((it->rc = puts[k].rc) != 0) {
            snprintf(it->err, sizeof it->err, "%s", puts[k].err);
            continue;
        }
        apply_commit(r, it->out.id, &g[which[k]], &puts[k].res);
        if (puts[k].res.n_new && puts[k].res.new_ids[puts[k].res.n_new - 1] > top)
            top = puts[k].res.new_ids[puts[k].res.n_new - 1];
        it->out.chunks = puts[k].res.n_new;
        it->out.replaced = puts[k].res.replaced;
    }
    if (nput) {
        kwindex_commit(r->kw, top); /* the largest chunk id now indexed */
        cache_clear(r->cache);
    }
    pthread_mutex_unlock(&r->amu);
    double dt = clock_now() - t0;
    metrics_histogram_observe(r->m.batch_docs, (double)n);
    for (size_t i = 0; i < n; i++) {
        if (!items[i].rc) metrics_histogram_observe(r->m.doc_dur[items[i].in->type], dt);
        ingest_free(&g[i]);
    }
    for (size_t k = 0; k < nput; k++) store_put_result_free(&puts[k].res);
    free(g), free(docs), free(puts), free(which);
    return rc;
}

size_t rag_ingest_workers(const rag_t *r)
{
    return r->ingest_workers;
}

int rag_ingest(rag_t *r, const rag_doc_in_t *in, rag_ingested_t *out, char *err, size_t errlen)
{
    rag_batch_item_t it = {.in = in};
    rag_ingest_batch(r, &it, 1);
    if (it.rc) {
        snprintf(err, errlen, "%s", it.err);
        return it.rc;
    }
    *out = it.out;
    return 0;
}

int rag_delete(rag_t *r, const char *id, size_t *nchunks)
{
    int64_t *ids = NULL;
    size_t n = 0;
    pthread_mutex_lock(&r->cmu);
    int rc = store_delete(r->store, id, &ids, &n);
    handover(r);
    if (rc == 0) {
        vindex_remove(r->index, ids, n);
        int krc = kwindex_delete(r->kw, ids, n);
        if (krc) log_error("keyword index: cannot remove %s: %s", id, strerror(-krc));
        kwindex_commit(r->kw, 0); /* the watermark stays */
        cache_clear(r->cache);
        atomic_fetch_sub(&r->ndocs, 1);
        atomic_fetch_sub(&r->nchunks, (int_least64_t)n);
    }
    pthread_mutex_unlock(&r->amu);
    free(ids);
    if (nchunks) *nchunks = n;
    return rc;
}

int rag_get(rag_t *r, const char *id, doc_record_t *out)
{
    return store_get(r->store, id, true, out);
}

int rag_list(rag_t *r, size_t limit, const char *after, doc_record_t **out, size_t *n)
{
    return store_list(r->store, limit, after, out, n);
}
