/* Markdown documents through cmark and the section walk. */
#include "fuzz.h"
#include "rag/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    doc_blocks_t b;
    char err[256];
    if (parse_document(DOC_MARKDOWN, (const char *)data, size, NULL, &b, err, sizeof err) == 0)
        doc_blocks_free(&b);
    return 0;
}
