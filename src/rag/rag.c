/* rag: opening the pipeline, ingestion and deletion, and document reads
 * (see rag.h). */
#include "rag/rag.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "rag/rag_int.h"
#include "rag/text.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/random.h"

/* Texts per embedder call: remote embedders take batches, and the
 * histogram sees one observation per call. */
#define RAG_EMBED_BATCH 64

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
    if (!rc) rc = rag_metrics_register(r, o->reg, o, err, errlen);
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
    atomic_store(&r->ndocs, docs);
    atomic_store(&r->nchunks, chunks);
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

int rag_ingest(rag_t *r, const rag_doc_in_t *in, rag_ingested_t *out, char *err, size_t errlen)
{
    double t0 = clock_now();
    doc_blocks_t blocks = {0};
    chunk_list_t chunks = {0};
    buf_t text = BUF_INIT, terms = BUF_INIT, embed_in = BUF_INIT;
    store_chunk_t *sc = NULL;
    const char **etexts = NULL;
    size_t *elens = NULL, *eoffs = NULL, *toffs = NULL;
    float *vecs = NULL;
    char idbuf[40];
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
    if ((rc = rag_embed(r, etexts, elens, chunks.n, vecs, err, errlen)) != 0) goto out;

    const char *id = in->id;
    if (!id) {
        random_id(idbuf);
        id = idbuf;
    }
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
                     in->meta,
                     in->nmeta,
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
        if (!res.replaced) atomic_fetch_add(&r->ndocs, 1);
        atomic_fetch_add(&r->nchunks, (int_least64_t)res.n_new - (int_least64_t)res.n_old);
    }
    pthread_mutex_unlock(&r->wmu);
    if (rc) goto out;
    metrics_histogram_observe(r->m.doc_dur[in->type], clock_now() - t0);
    snprintf(out->id, sizeof out->id, "%s", id);
    out->chunks = res.n_new;
    out->replaced = res.replaced;
out:
    store_put_result_free(&res);
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
        atomic_fetch_sub(&r->ndocs, 1);
        atomic_fetch_sub(&r->nchunks, (int_least64_t)n);
    }
    pthread_mutex_unlock(&r->wmu);
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
