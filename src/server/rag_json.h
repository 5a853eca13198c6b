/* rag_json: the RAG API's wire format. JSON in (metadata and filters as
 * objects of strings) to rag's plain types, and rag's documents, hits and
 * answers out to JSON. The only place that knows the API's field names.
 *
 * Inputs are validated here against the API's rules (key characters and
 * lengths, string values, counts); what comes back points into the JSON
 * it was read from, so it lives as long as that JSON. */
#ifndef RAGD_RAG_JSON_H
#define RAGD_RAG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "rag/doc.h"
#include "rag/rag.h"

/* An id: 1-DOC_ID_MAX characters of letters, digits, '-', '_', '.', ':'. */
bool rag_json_valid_id(const char *s);

/* An object of at most DOC_META_MAX strings (keys of 1-DOC_META_KEY_MAX
 * letters, digits, '-', '_', '.'; values of at most DOC_META_VALUE_MAX
 * bytes) into kv[0..*n). what names the field in messages. 0, or -EINVAL
 * with the reason in err. */
int rag_json_kv(json_t *obj, const char *what, doc_kv_t *kv, size_t *n, char *err, size_t errlen);

/* A document from a JSON body {"content", "content_type"?, "id"?, "title"?,
 * "metadata"?} into in (pointing into body; metadata into kv, of
 * DOC_META_MAX). 0, -EINVAL (a field of the wrong shape), or -ENOTSUP (a
 * content type JSON cannot carry), with err set. */
int rag_json_document_in(json_t *body, rag_doc_in_t *in, doc_kv_t *kv, char *err, size_t errlen);

#define RAG_JSON_TOP_K_DEFAULT 5

/* A query's text from a JSON value: a non-empty string of at most
 * max_bytes, into q->text (pointing into the JSON). 0 or -EINVAL. */
int rag_json_query_text(json_t *text, size_t max_bytes, rag_query_t *q, char *err, size_t errlen);
/* The limits and defaults a query is read with. */
typedef struct rag_json_limits {
    size_t max_query_bytes, max_top_k;
    size_t max_per_document; /* the default of "max_per_document" */
} rag_json_limits_t;

/* A query's options from a request body: "top_k" (1..max_top_k; default
 * RAG_JSON_TOP_K_DEFAULT), "mode", "filter" (into kv, of DOC_META_MAX) and
 * "max_per_document" (0..max_top_k, 0: any). 0 or -EINVAL with err set. */
int rag_json_query_in(json_t *body, const rag_json_limits_t *lim, rag_query_t *q, doc_kv_t *kv,
                      char *err, size_t errlen);

/* {"id","title","content_type","metadata","chunks","created_at","updated_at"[,"text"]} */
json_t *rag_json_document(const doc_record_t *d);
/* {"results":[{"document_id","chunk_index","title","section","text","score","metadata"}],
 *  "cached", "timings_ms":{"embedding","search","total"}} */
json_t *rag_json_answer(const rag_answer_t *a);

#endif
