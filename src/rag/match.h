/* match: the terms of a keyword query.
 *
 * The query's terms (rag/text: words and CJK bigrams), distinct, for the
 * keyword index to OR together, so bm25 ranks chunks that hold more and
 * rarer terms higher. Terms found in more than MATCH_COMMON_SHARE of the
 * chunks are left out when a rarer term that some chunk holds remains:
 * their bm25 weight (IDF) is near zero, and they would only add candidates
 * to score. Terms no chunk holds (a word cut short, a typo) are left out
 * while another term matches: they score nothing, and would keep a query
 * from being lexical (rag_query.c: the best chunk holds every term). */
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

/* Writes the query's terms to out (at most MATCH_MAX_TERMS pointers into
 * *space, which the caller frees with buf_free) and returns how many (0:
 * the text has no term, or no memory: buf_error(space) tells). chunks is
 * the corpus size; dfs may be NULL (nothing left out). */
size_t match_terms(const char *text, int64_t chunks, match_dfs_fn dfs, void *ctx, buf_t *space,
                   const char **out);

/* How many of terms[0..n) (distinct) the text holds as terms of its own
 * (text_terms: folded as the keyword index folds them). */
size_t match_held(const char *const *terms, size_t n, const char *text, size_t len);

#endif
