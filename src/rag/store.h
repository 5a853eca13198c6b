/* store: documents, chunks and vectors in one SQLite database (ragd.db in
 * the data directory): the truth the indexes are rebuilt from.
 *
 * - WAL mode, synchronous=FULL: a write is acknowledged only after its
 *   transaction commits to disk, and a document is stored whole or not at
 *   all (one transaction per document). A crash at any moment leaves the
 *   last committed state.
 * - The schema is versioned (meta.schema_version); migrations run at open.
 * - The store records the embedder and dimension its vectors were made with
 *   and refuses to open with another: vectors of two models never mix.
 * - Keyword search is not here (rag/kwindex): the store gives the chunks'
 *   text to index (store_each_text).
 * - Metadata is a table of (document, key, value) rows: filters are SQL on
 *   bound values, whatever the key holds.
 * - One write connection (writes are serialised by a mutex) and a small
 *   pool of read connections: readers never wait for a writer (WAL). The
 *   WAL is copied into the database file by a thread of the store's own,
 *   not by the commit that fills it (store_ckpt.c).
 * - Plain C types in and out (doc.h, result.h); no JSON crosses this API.
 *
 * Files: store.c (connections, schema, writes), store_read.c (documents,
 * result rows, start-up scans), store_search.c (filters, id sets),
 * store_ckpt.c (WAL checkpoints). */
#ifndef RAGD_STORE_H
#define RAGD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rag/doc.h"
#include "rag/idset.h"
#include "rag/result.h"
#include "rag/vindex.h"

#define STORE_SCHEMA_VERSION 5
#define STORE_READERS        4
#define STORE_FILE           "ragd.db"
/* WAL pages from which the checkpoint thread is woken (SQLite's own
 * auto-checkpoint point), and from which the writer checkpoints itself
 * (64 MiB of 4 KiB pages): see store_ckpt.c. */
#define STORE_CKPT_FRAMES 1000
#define STORE_CKPT_CAP    16384

typedef struct store store_t;

typedef struct store_doc {
    const char *id;
    const char *title;
    const char *content_type;
    const doc_kv_t *meta; /* at most DOC_META_MAX pairs, distinct keys */
    size_t nmeta;
    const void *source; /* the uploaded bytes */
    size_t source_len;
    const char *text; /* extracted text */
    size_t text_len;
} store_doc_t;

typedef struct store_chunk {
    const char *text;
    size_t len;
    const char *section;
    const float *vec; /* dim floats */
} store_chunk_t;

typedef struct store_put_result {
    bool replaced;
    int64_t *old_ids; /* chunks of the replaced version */
    size_t n_old;
    int64_t *new_ids;
    size_t n_new;
} store_put_result_t;

/* Opens (creating) DIR/ragd.db. 0, or -EINVAL with a message when the store
 * was made with another embedder or dimension, or another error. A store
 * made by `replaces` (NULL: none) with the same dimension opens, and
 * store_reembed says its vectors must be made again. */
int store_open(store_t **out, const char *dir, const char *embedder, const char *replaces,
               unsigned dim, char *err, size_t errlen);
/* True when the vectors are the replaced embedder's: the caller embeds every
 * chunk again (store_set_vectors), then records its own (store_set_embedder). */
bool store_reembed(const store_t *s);
/* Overwrites the vectors of chunks ids[0..n) with vecs[i * dim ..], in one
 * transaction. 0 or -EIO / -ENOSPC. */
int store_set_vectors(store_t *s, const int64_t *ids, const float *vecs, size_t n);
/* Records that the vectors are the embedder's now; store_reembed turns false. */
int store_set_embedder(store_t *s, const char *embedder);
void store_close(store_t **s);

/* Stores a document and its chunks, replacing any document with the same
 * id, in one transaction. -EINVAL (too many or repeated metadata keys),
 * -ENOSPC (disk full), -EIO, -ENOMEM; err says why. */
int store_put(store_t *s, const store_doc_t *d, const store_chunk_t *c, size_t n,
              store_put_result_t *res, char *err, size_t errlen);
void store_put_result_free(store_put_result_t *r);

/* One document of a batch: in, and what became of it. */
typedef struct store_put_item {
    const store_doc_t *doc;
    const store_chunk_t *chunks;
    size_t nchunks;
    store_put_result_t res; /* out, when rc is 0 */
    int rc;                 /* out: 0, or the document's own error */
    char err[256];
} store_put_item_t;
/* Stores many documents in one transaction (one fsync): each in a
 * savepoint, so one that fails (its rc and err set) is rolled back alone
 * and the others are kept. Returns 0 when the transaction committed
 * (items' rc say how each went), or a negative code with err set when it
 * could not begin or commit (then nothing is stored and every item fails). */
int store_put_many(store_t *s, store_put_item_t *items, size_t n, char *err, size_t errlen);
/* Deletes a document; gives the ids of its chunks (caller frees). -ENOENT. */
int store_delete(store_t *s, const char *id, int64_t **ids, size_t *n);
/* The document, with its text when with_text. 0, -ENOENT, -EIO, -ENOMEM.
 * Free *out with doc_record_free. */
int store_get(store_t *s, const char *id, bool with_text, doc_record_t *out);
/* Documents ordered by id, after `after` (NULL: from the start), at most
 * limit, without their text: *out holds *n records (free each with
 * doc_record_free, then the array). */
int store_list(store_t *s, size_t limit, const char *after, doc_record_t **out, size_t *n);
int store_counts(store_t *s, int64_t *docs, int64_t *chunks);
/* The largest chunk id the store has ever given (its AUTOINCREMENT
 * sequence; 0 before the first chunk): indexes that hold ids above it
 * belong to a store from later on (a backup was restored). */
int store_last_chunk_id(store_t *s, int64_t *last);

/* Calls fn for every stored vector of a chunk id above `after`, in id
 * order (start-up load; 0: all). fn's vec may be unaligned. */
typedef int (*store_vector_fn)(void *ctx, int64_t id, const float *vec);
int store_each_vector(store_t *s, int64_t after, store_vector_fn fn, void *ctx);
/* Chunk id's vector into out (the store's dimensions): 0, -ENOENT, -EIO or
 * -EINVAL (a vector of the wrong size). */
int store_vector(store_t *s, int64_t id, float *out);
/* The same for each chunk's section and text (len bytes, NUL-terminated). */
typedef int (*store_text_fn)(void *ctx, int64_t id, const char *section, const char *text,
                             size_t len);
int store_each_text(store_t *s, int64_t after, store_text_fn fn, void *ctx);
/* The ids of the chunks up to `upto`, into out (empty first). 0, -ENOMEM
 * or -EIO. */
int store_chunk_ids(store_t *s, int64_t upto, idset_t *out);

/* The chunk ids whose document has every key = value of filter. */
int store_filter_ids(store_t *s, const doc_kv_t *filter, size_t nfilter, idset_t *out);
/* How store_results picks among ranked candidates. */
typedef struct store_pick {
    size_t limit;            /* at most this many hits; 0: all */
    size_t max_per_document; /* at most this many chunks of one document; 0: any */
} store_pick_t;
/* Appends one hit per id to out, in order, with its chunk's and document's
 * fields (a chunk deleted meanwhile is skipped). With pick (NULL: every
 * id), a text given already is skipped (identical chunks of two documents
 * come once), as is a chunk past its document's max_per_document, until
 * limit hits are in. 0, -EIO, -ENOMEM. */
int store_results(store_t *s, const vindex_hit_t *hits, size_t n, const store_pick_t *pick,
                  result_t *out);

/* What the store's WAL and its checkpoint thread did (store_ckpt.c). */
typedef struct store_stats {
    uint64_t checkpoints_background; /* by the checkpoint thread */
    uint64_t checkpoints_inline;     /* by the writer, the WAL past its cap */
    uint64_t checkpoint_failures;
    int64_t wal_bytes;        /* the WAL's pages after the last commit, in bytes */
    int64_t wal_copied_bytes; /* of the WAL, what the last checkpoint copied */
} store_stats_t;
void store_stats(store_t *s, store_stats_t *out);

/* Health: a trivial read through the pool; 0 or -errno with a message. */
int store_check(store_t *s, char *detail, size_t n);

#endif
