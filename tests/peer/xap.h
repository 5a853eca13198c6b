/* xap: a thin C face on Xapian (Debian's libxapian-dev), ragd's keyword
 * index until rag/inv replaced it, kept as the peer that the unit tests
 * (the same scores) and make bench-scale (the same top 10, and the time)
 * compare rag/inv with. Linked into those binaries only, not into ragd.
 *
 * Documents are chunks: Xapian's document id is the chunk id (1 to
 * 2^32 - 1), its terms the chunk's terms (rag/text), no positions. The
 * database is a scratch one (DB_NO_SYNC): the callers build it, query it,
 * throw it away.
 *
 * One writer (the caller serialises its calls); any number of readers, one
 * thread each at a time, seeing the commits made before they opened. No C++ exception crosses this
 * interface: each becomes -ENOMEM (allocation), -EIO (anything else, with a message where an err
 * buffer is given). */
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
/* Makes the changes visible to readers, recording the watermark. */
int xap_writer_commit(xap_writer_t *w, int64_t watermark);

/* Opens the database in path for reading; it must exist. 0, -ENOMEM, -EIO. */
int xap_reader_open(xap_reader_t **out, const char *path);
void xap_reader_free(xap_reader_t **r);
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
