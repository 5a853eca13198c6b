/* chunk: splits a document's text into chunks sized in tokens (rag/text's
 * tokens: words, and single characters of scripts without spaces), with
 * overlap between neighbours.
 *
 * Cuts fall at paragraph breaks, line breaks and sentence ends (. ! ? and
 * 。！？) where possible: a chunk is a run of whole units (sentences or
 * lines). A unit longer than a chunk is cut at token boundaries. Chunks never
 * cross a section (a Markdown or HTML heading, a PDF page): the section is
 * their context. Each chunk's text is a copy of a span of the source. */
#ifndef RAGD_CHUNK_H
#define RAGD_CHUNK_H

#include <stddef.h>

#include "rag/parse.h"

#define CHUNK_DEFAULT_TOKENS     256
#define CHUNK_DEFAULT_OVERLAP    32
#define CHUNK_DEFAULT_MAX_CHUNKS 10000

typedef struct chunk {
    char *text; /* owned, NUL-terminated */
    size_t len;
    const char *section; /* borrowed from the blocks; "" when none */
    size_t tokens;
} chunk_t;

typedef struct chunk_list {
    chunk_t *v;
    size_t n, cap;
} chunk_list_t;

typedef struct chunk_opts {
    size_t max_tokens;     /* per chunk, >= 8 */
    size_t overlap_tokens; /* < max_tokens / 2 */
    size_t max_chunks;     /* per document: more is an error */
} chunk_opts_t;

/* Chunks the blocks. 0, -E2BIG (more than max_chunks), -ENOMEM. On error
 * out is emptied. */
int chunk_blocks(const doc_blocks_t *blocks, const chunk_opts_t *o, chunk_list_t *out);
void chunk_list_free(chunk_list_t *l);

#endif
