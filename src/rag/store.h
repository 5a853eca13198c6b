/* store: documents, chunks, vectors and the keyword index in one SQLite
 * database (ragd.db in the data directory).
 *
 * - WAL mode, synchronous=FULL: a write is acknowledged only after its
 *   transaction commits to disk, and a document is stored whole or not at
 *   all (one transaction per document). A crash at any moment leaves the
 *   last committed state.
 * - The schema is versioned (meta.schema_version); migrations run at open.
 * - The store records the embedder and dimension its vectors were made with
 *   and refuses to open with another: vectors of two models never mix.
 * - Keyword search: FTS5 (unicode61) over each chunk's search terms
 *   (rag/text: words, and bigrams of CJK runs), ranked by bm25.
 * - One write connection (writes are serialised by a mutex) and a small
 *   pool of read connections: readers never wait for a writer (WAL). */
#ifndef RAGD_STORE_H
#define RAGD_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rag/vindex.h"

#define STORE_SCHEMA_VERSION 2
#define STORE_READERS        4
#define STORE_FILE           "ragd.db"

typedef struct store store_t;

typedef struct store_doc {
    const char *id;
    const char *title;
    const char *content_type;
    const char *metadata; /* a JSON object of strings, as text */
    const void *source;   /* the uploaded bytes */
    size_t source_len;
    const char *text; /* extracted text */
    size_t text_len;
} store_doc_t;

typedef struct store_chunk {
    const char *text;
    size_t len;
    const char *section;
    const char *terms; /* FTS terms */
    size_t terms_len;
    const float *vec; /* dim floats */
} store_chunk_t;

typedef struct store_put_result {
    bool replaced;
    int64_t *old_ids; /* chunks of the replaced version */
    size_t n_old;
    int64_t *new_ids;
    size_t n_new;
} store_put_result_t;

/* A set of chunk ids (for metadata filters). */
typedef struct store_idset {
    int64_t *keys; /* open addressing; 0 marks an empty slot (ids start at 1) */
    size_t mask, n;
} store_idset_t;

/* Opens (creating) DIR/ragd.db. 0, or -EINVAL with a message when the store
 * was made with another embedder or dimension, or another error. */
int store_open(store_t **out, const char *dir, const char *embedder, unsigned dim, char *err,
               size_t errlen);
void store_close(store_t **s);

/* Stores a document and its chunks, replacing any document with the same
 * id, in one transaction. */
int store_put(store_t *s, const store_doc_t *d, const store_chunk_t *c, size_t n,
              store_put_result_t *res, char *err, size_t errlen);
void store_put_result_free(store_put_result_t *r);
/* Deletes a document; gives the ids of its chunks (caller frees). -ENOENT. */
int store_delete(store_t *s, const char *id, int64_t **ids, size_t *n);
/* The document as JSON (with its text). -ENOENT. */
int store_get(store_t *s, const char *id, json_t **out);
/* Documents ordered by id, after `after` (NULL: from the start), at most
 * limit, without their text. */
int store_list(store_t *s, size_t limit, const char *after, json_t **out);
int store_counts(store_t *s, int64_t *docs, int64_t *chunks);

/* Calls fn for every stored vector (start-up load). */
typedef int (*store_vector_fn)(void *ctx, int64_t id, const float *vec);
int store_each_vector(store_t *s, store_vector_fn fn, void *ctx);

/* bm25 top k for an FTS5 MATCH expression, optionally only chunks whose
 * document metadata matches every key/value of filter. Scores are -bm25
 * (higher is better). Returns the number of hits, or a negative code. */
long store_keyword(store_t *s, const char *match, size_t k, json_t *filter, vindex_hit_t *out);
/* How many chunks contain each term (FTS5's vocabulary): dfs[i] for
 * terms[i]. 0 or a negative code. */
int store_term_dfs(store_t *s, const char *const *terms, size_t n, int64_t *dfs);
/* The chunk ids whose document matches the filter. */
int store_filter_ids(store_t *s, json_t *filter, store_idset_t *out);
bool store_idset_has(const store_idset_t *set, int64_t id);
void store_idset_free(store_idset_t *set);
/* Appends one result object per hit to results (an array), in order:
 * document_id, chunk_index, title, section, text, score, metadata. */
int store_results(store_t *s, const vindex_hit_t *hits, size_t n, json_t *results);

/* Health: a trivial read through the pool; 0 or -errno with a message. */
int store_check(store_t *s, char *detail, size_t n);

#endif
