/* xap: a thin C face on Xapian (Debian's libxapian-dev), the keyword
 * index: bm25 over each chunk's search terms, top k without scoring every
 * chunk that holds a term (Xapian's matcher skips documents whose best
 * possible weight cannot enter the top k).
 *
 * Documents are chunks: Xapian's document id is the chunk id (1 to
 * 2^32 - 1), its terms the chunk's terms (rag/text), no positions. The
 * database is derived: ragd's store holds the truth, and a metadata entry
 * (the watermark, the largest chunk id indexed) says where to resume.
 * Commits do not fsync (Xapian's DB_NO_SYNC): a crash of the process loses
 * nothing the kernel has, and after a power loss the database is rebuilt
 * from the store when it cannot be opened or disagrees with it.
 *
 * One writer (the caller serialises its calls); any number of readers, one
 * thread each at a time. A reader sees the writer's commits after
 * xap_reader_refresh. No C++ exception crosses this interface: each
 * becomes -ENOMEM (allocation), -EIO (anything else, with a message where
 * an err buffer is given). */
#ifndef RAGD_XAP_H
#define RAGD_XAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xap_writer xap_writer_t;
typedef struct xap_reader xap_reader_t;

#define XAP_MAX_ID 4294967295LL /* Xapian's document ids are 32-bit */

/* Opens (creating) the database in directory path for writing. 0, or -EIO
 * (damaged, or another process holds it) with err set. */
int xap_writer_open(xap_writer_t **out, const char *path, char *err, size_t errlen);
/* Flushes and closes; uncommitted changes are lost. */
void xap_writer_free(xap_writer_t **w);

/* Indexes chunk id with its terms (separated by single spaces), replacing
 * any earlier version. 0, -ERANGE (id outside 1..XAP_MAX_ID), -ENOMEM, -EIO. */
int xap_writer_put(xap_writer_t *w, int64_t id, const char *terms, size_t len);
/* Removes chunk id; 0 also when it is absent. */
int xap_writer_delete(xap_writer_t *w, int64_t id);
/* Makes the changes visible to readers, recording the watermark. */
int xap_writer_commit(xap_writer_t *w, int64_t watermark);
/* The watermark of the last commit (0 for a new database). */
int64_t xap_writer_watermark(xap_writer_t *w);
/* Documents in the database, committed or not. */
size_t xap_writer_count(xap_writer_t *w);
/* Removes every document for which keep(ctx, id) is false; the number
 * removed, or a negative code. */
long xap_writer_retain(xap_writer_t *w, bool (*keep)(void *ctx, int64_t id), void *ctx);

/* Opens the database in path for reading; it must exist. 0, -ENOMEM, -EIO. */
int xap_reader_open(xap_reader_t **out, const char *path);
void xap_reader_free(xap_reader_t **r);
/* Moves the reader to the latest commit. 0 or -EIO. */
int xap_reader_refresh(xap_reader_t *r);
/* The k best chunks holding any of the n terms, by bm25 (k1 1.2, b 0.75),
 * best first; with allow, only ids it accepts. ids and scores get the hits;
 * the number of hits or a negative code. */
long xap_search(xap_reader_t *r, const char *const *terms, size_t n, size_t k,
                bool (*allow)(void *ctx, int64_t id), void *ctx, int64_t *ids, float *scores);
/* How many chunks hold each term. 0 or a negative code. */
int xap_term_dfs(xap_reader_t *r, const char *const *terms, size_t n, int64_t *dfs);

#ifdef __cplusplus
}
#endif

#endif
