/* rerank: an optional second ranking of a query's candidates by a
 * cross-encoder server speaking one of the field's /rerank APIs:
 *   Hugging Face TEI   POST /rerank {"query","texts"} -> [{"index","score"}]
 *   Cohere, Jina       POST /v1/rerank {"model","query","documents","top_n"}
 *                      -> {"results":[{"index","relevance_score"}]}
 * One request carries both "texts" and "documents" (each server ignores the
 * other's field), so the same client speaks to all three; the answer's shape
 * says which it was. The key goes as a Bearer token. */
#ifndef RAGD_RERANK_H
#define RAGD_RERANK_H

#include <stddef.h>

typedef struct reranker reranker_t;

typedef struct rerank_opts {
    const char *url;     /* the endpoint (…/rerank) or a base URL (/rerank is added) */
    const char *model;   /* NULL or "": none sent (TEI serves one model) */
    const char *api_key; /* NULL or "": no Authorization header */
    double timeout_s;
} rerank_opts_t;

/* 0, -EINVAL (no url), -ENOMEM. */
int rerank_new(reranker_t **out, const rerank_opts_t *o);
void rerank_free(reranker_t **r);
/* Scores texts[0..n) against query into scores[0..n) (higher: more
 * relevant). 0; -ENETDOWN (cannot reach it), -EIO (an error status),
 * -EPROTO (an answer of another shape, or not scoring every text), with err
 * set. */
int rerank_score(reranker_t *r, const char *query, const char *const *texts, const size_t *lens,
                 size_t n, double *scores, char *err, size_t errlen);

#endif
