/* match: the FTS5 expression of a keyword query.
 *
 * The query's terms (rag/text: words and CJK bigrams), each quoted, joined
 * with OR, so bm25 ranks chunks that hold more and rarer terms higher.
 * Terms found in more than MATCH_COMMON_SHARE of the chunks are left out
 * when a rarer term that some chunk holds remains: their bm25 weight (IDF) is near zero, but
 * scoring every chunk that holds them was most of a query's cost. */
#ifndef RAGD_MATCH_H
#define RAGD_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define MATCH_MAX_TERMS    64  /* distinct terms of one query; the rest are ignored */
#define MATCH_COMMON_SHARE 0.2 /* a term in more of the chunks than this is common */

/* How many chunks hold each term: dfs[i] for terms[i]; 0 or a negative
 * code (then nothing is left out). */
typedef int (*match_dfs_fn)(void *ctx, const char *const *terms, size_t n, int64_t *dfs);

/* Appends the NUL-terminated expression for text to out ("" when the text
 * has no term). chunks is the corpus size; dfs may be NULL (no pruning). */
void match_expr(const char *text, int64_t chunks, match_dfs_fn dfs, void *ctx, buf_t *out);

#endif
