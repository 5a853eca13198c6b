#include "rag/result.h"
#include "util/vec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int result_new(result_t **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return -ENOMEM;
    atomic_init(&(*out)->refs, 1);
    return 0;
}

static void hit_free(result_hit_t *h)
{
    free((void *)h->document_id);
    free((void *)h->title);
    free((void *)h->section);
    free((void *)h->text);
    for (size_t i = 0; i < h->nmeta; i++) {
        free((void *)h->meta[i].key);
        free((void *)h->meta[i].value);
    }
    free((void *)h->meta);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s ? s : "", s ? n : 0);
        d[s ? n : 0] = '\0';
    }
    return d;
}

static char *dup(const char *s)
{
    return dup_n(s, s ? strlen(s) : 0);
}

int result_add(result_t *r, const result_hit_t *h)
{
    if (vec_reserve((void **)&r->hits, &r->cap, r->n + 1, 8, sizeof *r->hits)) return -ENOMEM;
    result_hit_t c = {.document_id = dup(h->document_id),
                      .title = dup(h->title),
                      .section = dup(h->section),
                      .text = dup_n(h->text, h->text_len),
                      .text_len = h->text ? h->text_len : 0,
                      .chunk_index = h->chunk_index,
                      .chunk_last = h->chunk_last > h->chunk_index ? h->chunk_last : h->chunk_index,
                      .score = h->score};
    doc_kv_t *meta = h->nmeta ? calloc(h->nmeta, sizeof *meta) : NULL;
    bool ok = c.document_id && c.title && c.section && c.text && (meta || !h->nmeta);
    c.meta = meta;
    for (size_t i = 0; ok && i < h->nmeta; i++) {
        meta[i] = (doc_kv_t){dup(h->meta[i].key), dup(h->meta[i].value)};
        c.nmeta++; /* counted before the check: hit_free frees what was made */
        ok = meta[i].key && meta[i].value;
    }
    if (!ok) {
        hit_free(&c);
        return -ENOMEM;
    }
    r->hits[r->n++] = c;
    return 0;
}

/* Bytes of a's end that begin b (the overlap of neighbouring chunks),
 * looked for up to OVERLAP_MAX bytes. */
#define OVERLAP_MAX 4096
static size_t overlap(const char *a, size_t na, const char *b, size_t nb)
{
    size_t k = na < nb ? na : nb;
    if (k > OVERLAP_MAX) k = OVERLAP_MAX;
    for (; k > 0; k--)
        if (memcmp(a + na - k, b, k) == 0) return k;
    return 0;
}

/* The hit of in's document doc with chunk index i, not yet used; or -1. */
static long find(const result_t *in, const bool *used, const char *doc, int64_t i)
{
    for (size_t k = 0; k < in->n; k++)
        if (!used[k] && in->hits[k].chunk_index == i && !strcmp(in->hits[k].document_id, doc))
            return (long)k;
    return -1;
}

int result_merge_neighbours(const result_t *in, result_t **out)
{
    bool *used = calloc(in->n ? in->n : 1, sizeof *used);
    size_t *run = calloc(in->n ? in->n : 1, sizeof *run);
    int rc = used && run ? result_new(out) : -ENOMEM;
    for (size_t i = 0; !rc && i < in->n; i++) {
        if (used[i]) continue;
        const result_hit_t *h = &in->hits[i];
        used[i] = true;
        int64_t lo = h->chunk_index, hi = h->chunk_index;
        long k;
        while ((k = find(in, used, h->document_id, lo - 1)) >= 0) used[k] = true, lo--;
        while ((k = find(in, used, h->document_id, hi + 1)) >= 0) used[k] = true, hi++;
        if (lo == hi) {
            rc = result_add(*out, h);
            continue;
        }
        /* the run's texts in document order, each overlap once */
        size_t n = 0, len = 0;
        for (int64_t c = lo; c <= hi; c++)
            for (size_t m = 0; m < in->n; m++)
                if (in->hits[m].chunk_index == c &&
                    !strcmp(in->hits[m].document_id, h->document_id))
                    run[n++] = m;
        for (size_t m = 0; m < n; m++) len += in->hits[run[m]].text_len + 1;
        char *text = malloc(len + 1);
        if (!text) {
            rc = -ENOMEM;
            break;
        }
        size_t at = 0;
        for (size_t m = 0; m < n; m++) {
            const result_hit_t *p = &in->hits[run[m]];
            size_t skip = at ? overlap(text, at, p->text, p->text_len) : 0;
            if (at && !skip) text[at++] = '\n'; /* no shared words: keep them apart */
            memcpy(text + at, p->text + skip, p->text_len - skip);
            at += p->text_len - skip;
        }
        result_hit_t merged = *h;
        merged.section = in->hits[run[0]].section;
        merged.text = text;
        merged.text_len = at;
        merged.chunk_index = lo;
        merged.chunk_last = hi;
        rc = result_add(*out, &merged);
        free(text);
    }
    free(used);
    free(run);
    if (rc && *out) result_unref(out);
    return rc;
}

result_t *result_ref(result_t *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void result_unref(result_t **rp)
{
    result_t *r = rp ? *rp : NULL;
    if (!r) return;
    *rp = NULL;
    /* acq_rel: the freeing thread sees every write made before the others let go */
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < r->n; i++) hit_free(&r->hits[i]);
    free(r->hits);
    free(r);
}
