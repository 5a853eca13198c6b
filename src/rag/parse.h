/* parse: turns an uploaded document into text blocks, each with its section
 * (the heading path in Markdown and HTML, "page N" in a PDF).
 *
 * Every parser is a library the field trusts: cmark for Markdown, libxml2's
 * HTML parser, poppler for PDF. PDF parsing runs in a child process (`ragd
 * parse-pdf`, exec'd fresh) under CPU, memory and wall-clock limits: a
 * hostile file can neither crash nor hang the server. */
#ifndef RAGD_PARSE_H
#define RAGD_PARSE_H

#include <stddef.h>

typedef enum doc_type { DOC_TEXT, DOC_MARKDOWN, DOC_HTML, DOC_PDF, DOC_TYPE_COUNT } doc_type_t;

typedef struct doc_block {
    char *section; /* owned; NULL for none */
    char *text;    /* owned, UTF-8 */
    size_t len;
} doc_block_t;

typedef struct doc_blocks {
    doc_block_t *v;
    size_t n, cap;
    size_t bytes; /* total text */
} doc_blocks_t;

/* Appends a block (copies). 0 or -ENOMEM. Empty text is skipped. */
int doc_blocks_add(doc_blocks_t *b, const char *section, const char *text, size_t len);
void doc_blocks_free(doc_blocks_t *b);

/* Type from a Content-Type value (parameters ignored) or a short name
 * ("markdown"); -EINVAL when unsupported. */
int doc_type_parse(const char *content_type);
/* "text", "markdown", "html", "pdf": the metrics label. */
const char *doc_type_name(doc_type_t t);
/* The canonical Content-Type of a type. */
const char *doc_type_mime(doc_type_t t);

typedef struct parse_opts {
    const char *helper; /* the ragd binary for `parse-pdf`; NULL: /proc/self/exe */
    double timeout_s;   /* wall clock for one PDF */
    size_t max_memory;  /* address space of the PDF child, bytes */
    size_t max_pages;
} parse_opts_t;

/* Parses data[0..n) of the given type into blocks. Returns 0, -EILSEQ
 * (text types: not UTF-8), -EINVAL (unparseable: err says why), -ETIMEDOUT,
 * -ENOMEM. err gets a message on failure. */
int parse_document(doc_type_t type, const char *data, size_t n, const parse_opts_t *o,
                   doc_blocks_t *out, char *err, size_t errlen);

/* `ragd parse-pdf [--max-pages N]`: reads a PDF on stdin, writes frames
 * "<page> <bytes>\n<text>" on stdout. Exit 0, or 3 when the file is not a
 * PDF poppler can read (message on stderr). */
int parse_pdf_main(int argc, char **argv);

#endif
