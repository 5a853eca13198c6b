/* result: one query's answer, the hits with the fields of their chunk and
 * document, in plain C types. Built once (by the store), then immutable and
 * shared by reference: the query cache holds one reference, each request
 * answered from it another, and the last release frees it. A cache hit
 * therefore costs no copy and no parsing. */
#ifndef RAGD_RESULT_H
#define RAGD_RESULT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "rag/doc.h"

typedef struct result_hit {
    const char *document_id, *title, *section, *text;
    size_t text_len;
    int64_t chunk_index; /* position of the chunk in its document, from 0 */
    int64_t chunk_last;  /* the last chunk a merged hit spans (= chunk_index when one) */
    double score;        /* higher is better; the scale depends on the mode */
    const doc_kv_t *meta;
    size_t nmeta;
} result_hit_t;

typedef struct result {
    atomic_int refs;
    result_hit_t *hits;
    size_t n, cap;
} result_t;

/* A new, empty result with one reference. 0 or -ENOMEM. */
int result_new(result_t **out);
/* Appends a copy of h (every string copied). 0 or -ENOMEM. Only while the
 * result is being built, before it is shared. */
int result_add(result_t *r, const result_hit_t *h);
/* A new result where the hits of one document whose chunks neighbour each
 * other (chunk_index i, i+1, ...) are one hit: at the place and with the
 * score of the best of them, its text theirs in document order with the
 * overlap between neighbours given once, chunk_index..chunk_last the run.
 * 0 or -ENOMEM. */
int result_merge_neighbours(const result_t *in, result_t **out);
/* Another reference to r (r itself). */
result_t *result_ref(result_t *r);
/* Drops the caller's reference and clears *r; the last one frees. */
void result_unref(result_t **r);

#endif
