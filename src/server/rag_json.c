#include "server/rag_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* 1..max characters of ASCII letters, digits and the punctuation in `also`. */
static bool valid_name(const char *s, size_t max, const char *also)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(also, c)))
            return false;
    }
    return true;
}

bool rag_json_valid_id(const char *s)
{
    return valid_name(s, DOC_ID_MAX, "-_.:");
}

int rag_json_kv(json_t *obj, const char *what, doc_kv_t *kv, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "%s must be an object of strings", what);
        return -EINVAL;
    }
    if (json_object_size(obj) > DOC_META_MAX) {
        snprintf(err, errlen, "%s has more than %d keys", what, DOC_META_MAX);
        return -EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!valid_name(k, DOC_META_KEY_MAX, "-_.")) {
            snprintf(err, errlen,
                     "%s keys are 1-%d characters of letters, digits, '-', '_' and '.'", what,
                     DOC_META_KEY_MAX);
            return -EINVAL;
        }
        if (!json_is_string(v) || json_string_length(v) > DOC_META_VALUE_MAX ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            snprintf(err, errlen, "%s.%s must be a string of at most %d bytes", what, k,
                     DOC_META_VALUE_MAX);
            return -EINVAL;
        }
        kv[(*n)++] = (doc_kv_t){k, json_string_value(v)};
    }
    return 0;
}

int rag_json_document_in(json_t *body, rag_doc_in_t *in, doc_kv_t *kv, char *err, size_t errlen)
{
    json_t *content = json_object_get(body, "content"), *t = json_object_get(body, "content_type");
    json_t *id = json_object_get(body, "id"), *title = json_object_get(body, "title");
    json_t *meta = json_object_get(body, "metadata");
    if (!json_is_string(content)) {
        snprintf(err, errlen, "'content' (a string) is required");
        return -EINVAL;
    }
    const char *tname = t ? json_string_value(t) : "text/plain";
    int type = tname ? doc_type_parse(tname) : -EINVAL;
    if (type < 0 || type == DOC_PDF) {
        snprintf(err, errlen,
                 "content_type must be text/plain, text/markdown or text/html in "
                 "JSON; send a PDF as the raw body with Content-Type: "
                 "application/pdf");
        return -ENOTSUP;
    }
    if ((id && !json_is_string(id)) || (title && !json_is_string(title))) {
        snprintf(err, errlen, "'%s' must be a string", id && !json_is_string(id) ? "id" : "title");
        return -EINVAL;
    }
    *in = (rag_doc_in_t){.type = (doc_type_t)type,
                         .data = json_string_value(content),
                         .len = json_string_length(content),
                         .id = id ? json_string_value(id) : NULL,
                         .title = title ? json_string_value(title) : NULL,
                         .meta = kv};
    return meta ? rag_json_kv(meta, "metadata", kv, &in->nmeta, err, errlen) : 0;
}

int rag_json_query_text(json_t *text, size_t max_bytes, rag_query_t *q, char *err, size_t errlen)
{
    if (!json_is_string(text) || json_string_length(text) == 0) {
        snprintf(err, errlen, "'query' (a non-empty string) is required");
        return -EINVAL;
    }
    if (json_string_length(text) > max_bytes) {
        snprintf(err, errlen, "'query' is longer than %zu bytes", max_bytes);
        return -EINVAL;
    }
    q->text = json_string_value(text);
    return 0;
}

int rag_json_query_in(json_t *body, const rag_json_limits_t *lim, rag_query_t *q, doc_kv_t *kv,
                      char *err, size_t errlen)
{
    json_t *k = json_object_get(body, "top_k"), *mode = json_object_get(body, "mode");
    json_t *filter = json_object_get(body, "filter"),
           *pd = json_object_get(body, "max_per_document");
    size_t max_top_k = lim->max_top_k;
    q->top_k = RAG_JSON_TOP_K_DEFAULT;
    if (k) {
        if (!json_is_integer(k) || json_integer_value(k) < 1 ||
            json_integer_value(k) > (json_int_t)max_top_k) {
            snprintf(err, errlen, "'top_k' must be an integer from 1 to %zu", max_top_k);
            return -EINVAL;
        }
        q->top_k = (size_t)json_integer_value(k);
    }
    int m = mode ? rag_mode_parse(json_string_value(mode)) : RAG_HYBRID;
    if (m < 0 || (mode && !json_is_string(mode))) {
        snprintf(err, errlen, "'mode' must be \"vector\", \"keyword\" or \"hybrid\"");
        return -EINVAL;
    }
    q->mode = (rag_mode_t)m;
    q->max_per_document = lim->max_per_document;
    json_t *merge = json_object_get(body, "merge_neighbours");
    if (merge && !json_is_boolean(merge)) {
        snprintf(err, errlen, "'merge_neighbours' must be true or false");
        return -EINVAL;
    }
    q->merge_neighbours = json_is_true(merge);
    if (pd) {
        if (!json_is_integer(pd) || json_integer_value(pd) < 0 ||
            json_integer_value(pd) > (json_int_t)max_top_k) {
            snprintf(err, errlen, "'max_per_document' must be an integer from 0 (any) to %zu",
                     max_top_k);
            return -EINVAL;
        }
        q->max_per_document = (size_t)json_integer_value(pd);
    }
    q->filter = kv;
    q->nfilter = 0;
    return filter ? rag_json_kv(filter, "filter", kv, &q->nfilter, err, errlen) : 0;
}

static json_t *meta_object(const doc_kv_t *kv, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) json_object_set_new(o, kv[i].key, json_string(kv[i].value));
    return o;
}

json_t *rag_json_document(const doc_record_t *d)
{
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:o,s:I,s:f,s:f}", "id", d->id, "title", d->title, "content_type",
                  d->content_type, "metadata", meta_object(d->meta, d->nmeta), "chunks",
                  (json_int_t)d->chunks, "created_at", d->created_at, "updated_at", d->updated_at);
    if (o && d->text) json_object_set_new(o, "text", json_stringn(d->text, d->text_len));
    return o;
}

json_t *rag_json_answer(const rag_answer_t *a)
{
    json_t *results = json_array();
    const result_t *r = a->results;
    for (size_t i = 0; results && r && i < r->n; i++) {
        const result_hit_t *h = &r->hits[i];
        json_t *hit = json_pack("{s:s,s:I,s:s,s:s,s:s%,s:f,s:o}", "document_id", h->document_id,
                                "chunk_index", (json_int_t)h->chunk_index, "title", h->title,
                                "section", h->section, "text", h->text, h->text_len, "score",
                                h->score, "metadata", meta_object(h->meta, h->nmeta));
        if (hit && h->chunk_last > h->chunk_index) /* merged neighbours */
            json_object_set_new(hit, "chunk_last", json_integer(h->chunk_last));
        json_array_append_new(results, hit);
    }
    return json_pack("{s:o,s:b,s:{s:f,s:f,s:f}}", "results", results, "cached", a->cached,
                     "timings_ms", "embedding", a->embed_ms, "search", a->search_ms, "total",
                     a->total_ms);
}
