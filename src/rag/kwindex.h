/* kwindex: the keyword index, bm25 over chunks' search terms (rag/text),
 * in segments of ragd's own inverted index (rag/inv) in the data
 * directory beside the store.
 *
 * Why not a library: SQLite FTS5 scores every chunk that holds a query
 * term (250 ms at 200,000 chunks on common words); Xapian 1.4 prunes by a
 * term's highest weight in the whole index only (43 ms p50 at a million
 * chunks on common words). rag/inv keeps a bound per block of 128 postings
 * and splits a common term's postings by weight, so most of them are never
 * decoded (make bench-scale: README "Keyword index").
 *
 * Layout: DATA_DIR/keywords/ holds segment files (seg-<n>.inv, each
 * immutable) and MANIFEST, which lists the live segments, the deleted ids
 * still inside them, and the watermark (the largest chunk id indexed); it
 * is replaced whole (a temporary file, fsynced, renamed), so a crash leaves
 * the old or the new one.
 *
 * The store is the truth and this index follows it: the pipeline puts and
 * deletes chunks here after each store commit; at start-up it indexes the
 * store's chunks above the watermark and drops ids the store no longer has
 * (rag.c, load_keywords).
 *
 * Writes collect in memory (a builder, and a set of deleted ids). A flush
 * writes them as one new segment and a new manifest, and publishes a new
 * view (segments and deleted ids) for searches. Flushes happen in a
 * flusher thread within KWINDEX_FLUSH_S, at once when a search finds
 * writes not yet flushed (a search sees every write made before it
 * began), when the builder outgrows KWINDEX_BUILDER_MAX, and at
 * kwindex_free. The flusher also merges segments in the background: the
 * newest ones when the one before them is at most KWINDEX_MERGE_RATIO
 * times their size (so sizes grow geometrically and a million chunks make
 * a few tens of segments at most), and a segment where deleted chunks pass
 * KWINDEX_DEAD_SHARE, to drop them.
 *
 * Chunk ids only grow (the store's AUTOINCREMENT): a put must be above
 * every id put before. Any thread may write or search: writes serialise
 * on the writer lock; a search takes a reference to the current view
 * under a lock held for a pointer copy, and never waits on a flush or a
 * merge unless it must flush writes itself. */
#ifndef RAGD_KWINDEX_H
#define RAGD_KWINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rag/idset.h"
#include "rag/vindex.h"

#define KWINDEX_DIR         "keywords"
#define KWINDEX_FLUSH_S     1          /* writes are flushed at most this late */
#define KWINDEX_BUILDER_MAX (64 << 20) /* bytes of writes held before a flush */
#define KWINDEX_MERGE_RATIO 2
#define KWINDEX_DEAD_SHARE  0.2

typedef struct kwindex kwindex_t;

/* Opens (creating) the index in directory path. 0, or -EIO (damaged: the
 * caller removes it and builds again) or another negative code, with err
 * set. */
int kwindex_open(kwindex_t **out, const char *path, char *err, size_t errlen);
void kwindex_free(kwindex_t **kw);

/* Indexes a chunk's terms (space-separated). 0, -EINVAL (id not above
 * every id put before), or a negative code. */
int kwindex_put(kwindex_t *kw, int64_t id, const char *terms, size_t len);
/* Removes chunks (absent ones are ignored). 0 or a negative code. */
int kwindex_delete(kwindex_t *kw, const int64_t *ids, size_t n);
/* Marks the writes so far ready for the next flush (see above);
 * watermark: the largest chunk id they cover (it never goes down). 0. */
int kwindex_commit(kwindex_t *kw, int64_t watermark);
/* Flushes pending writes now. 0 or a negative code. */
int kwindex_flush(kwindex_t *kw);
/* The watermark of the last flush (what a restart resumes from). */
int64_t kwindex_watermark(kwindex_t *kw);
/* Chunks indexed (flushed and pending writes). */
size_t kwindex_count(kwindex_t *kw);
/* Removes the chunks keep rejects; the number removed or a negative code. */
long kwindex_retain(kwindex_t *kw, bool (*keep)(void *ctx, int64_t id), void *ctx);

/* The k best chunks for the terms by bm25 (scores: higher is better), only
 * ids in allowed when it is not NULL. The number of hits or a negative code. */
long kwindex_search(kwindex_t *kw, const char *const *terms, size_t n, size_t k,
                    const idset_t *allowed, vindex_hit_t *out);
/* How many chunks hold each term (deleted ones included until a merge
 * drops them, as bm25's statistics do). 0 or a negative code. */
int kwindex_dfs(kwindex_t *kw, const char *const *terms, size_t n, int64_t *dfs);

typedef struct kwindex_stats {
    size_t segments, chunks, deleted; /* deleted: ids still inside segments */
    size_t bytes;                     /* segment files */
    uint64_t flushes, merges;
} kwindex_stats_t;

void kwindex_stats(kwindex_t *kw, kwindex_stats_t *st);

#endif
