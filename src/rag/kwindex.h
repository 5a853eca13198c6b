/* kwindex: the keyword index, bm25 over chunks' search terms (rag/text),
 * kept in Xapian (rag/xap) in the data directory beside the store.
 *
 * Why not the store's SQLite FTS5: FTS5 scores every chunk that holds a
 * query term before it sorts, so a query of common words costs in
 * proportion to the corpus (250 ms at 200,000 chunks, measured); Xapian's
 * matcher stops scoring documents that cannot reach the top k (6 ms on the
 * same data). See README "Keyword index".
 *
 * The store is the truth and this index follows it: the pipeline puts and
 * deletes chunks here after each store commit and commits with the largest
 * chunk id as watermark; at start-up the pipeline replays the store's
 * chunks above the watermark and drops ids the store no longer has
 * (rag.c, load_keywords).
 *
 * Commits are deferred: a Xapian commit rewrites a block for each term it
 * touches (about 8 MB for one document at 100,000 chunks), so one per
 * document would halve single-document ingestion. kwindex_commit marks the
 * writes ready; they are committed by a flusher thread within
 * KWINDEX_FLUSH_S, or at once by the next search that finds them pending
 * (a search sees every write made before it began), or at kwindex_free.
 *
 * Any thread may write or search: writes serialise on the index's writer
 * lock; searches take one of a pool of readers, moved to the latest commit
 * when taken, and wait on a writer only to commit writes still pending. */
#ifndef RAGD_KWINDEX_H
#define RAGD_KWINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rag/idset.h"
#include "rag/vindex.h"

#define KWINDEX_DIR     "keywords.xapian"
#define KWINDEX_READERS 8
#define KWINDEX_FLUSH_S 1 /* pending writes are committed at most this late */

typedef struct kwindex kwindex_t;

/* Opens (creating) the index in directory path. 0, or -EIO (damaged: the
 * caller removes it and builds again) or -ENOMEM, with err set. */
int kwindex_open(kwindex_t **out, const char *path, char *err, size_t errlen);
void kwindex_free(kwindex_t **kw);

/* Indexes a chunk's terms (space-separated), replacing an earlier version.
 * 0 or a negative code. */
int kwindex_put(kwindex_t *kw, int64_t id, const char *terms, size_t len);
/* Removes chunks (absent ones are ignored). 0 or a negative code. */
int kwindex_delete(kwindex_t *kw, const int64_t *ids, size_t n);
/* Marks the writes so far ready for searches (see above); watermark: the
 * largest chunk id they cover (it never goes down). 0. */
int kwindex_commit(kwindex_t *kw, int64_t watermark);
/* Commits pending writes now. 0 or a negative code. */
int kwindex_flush(kwindex_t *kw);
/* The watermark of the last commit (what a restart resumes from). */
int64_t kwindex_watermark(kwindex_t *kw);
/* Chunks indexed (commits and pending writes). */
size_t kwindex_count(kwindex_t *kw);
/* Removes the chunks keep rejects; the number removed or a negative code. */
long kwindex_retain(kwindex_t *kw, bool (*keep)(void *ctx, int64_t id), void *ctx);

/* The k best chunks for the terms by bm25 (scores: higher is better), only
 * ids in allowed when it is not NULL. The number of hits or a negative code. */
long kwindex_search(kwindex_t *kw, const char *const *terms, size_t n, size_t k,
                    const idset_t *allowed, vindex_hit_t *out);
/* How many chunks hold each term (as of the last commit). */
int kwindex_dfs(kwindex_t *kw, const char *const *terms, size_t n, int64_t *dfs);

#endif
