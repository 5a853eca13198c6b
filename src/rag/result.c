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
