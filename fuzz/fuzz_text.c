/* UTF-8 validation, the tokenizer, search terms, the chunker and the
 * printed table of contents' finder. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "rag/chunk.h"
#include "rag/parse_toc.h"
#include "rag/text.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    if (!utf8_valid(s, size)) return 0; /* the pipeline refuses the rest */
    buf_t t = BUF_INIT;
    text_terms(s, size, &t);
    buf_free(&t);
    size_t tokens = text_count_tokens(s, size);
    doc_blocks_t b = {0};
    doc_blocks_add(&b, size % 2 ? "section" : NULL, s, size);
    chunk_list_t l;
    if (chunk_blocks(&b, &(chunk_opts_t){16, 4, 100000}, &l) == 0) {
        size_t total = 0;
        for (size_t i = 0; i < l.n; i++) {
            if (l.v[i].tokens > 16) abort(); /* never over the size */
            total += l.v[i].tokens;
        }
        if (tokens && l.n == 0) abort(); /* text never vanishes */
        (void)total;
        chunk_list_free(&l);
    }
    doc_blocks_free(&b);
    buf_t kept = BUF_INIT;
    bool dropped = toc_drop(s, size, &kept);
    if (!buf_error(&kept)) {
        if (!dropped && (kept.len != size || (size && memcmp(kept.data, s, size)))) abort();
        if (dropped && kept.len >= size) abort(); /* a run is lines out, never in */
    }
    buf_free(&kept);
    return 0;
}
