/* parse: turns an uploaded document into text blocks, each with its section
 * (the heading path in Markdown and HTML, "page N" in a PDF), and finds the
 * document's own title: HTML's <title> (else its first <h1>), Markdown's
 * first heading, a PDF's metadata title.
 *
 * HTML's page furniture is left out: nav, aside and footer, a header that
 * is not inside an article or main, and anything whose role is navigation,
 * banner, contentinfo or complementary. A box (an admonition: note, tip,
 * warning, callout...) keeps its text, but a heading inside it does not
 * become the section of what follows the box.
 *
 * Every parser is a library the field trusts: cmark for Markdown, libxml2's
 * HTML parser, poppler for PDF. PDF parsing runs in a child process (`ragd
 * parse-pdf`, exec'd fresh) under CPU, memory and wall-clock limits: a
 * hostile file can neither crash nor hang the server. */
#ifndef RAGD_PARSE_H
#define RAGD_PARSE_H

#include <stddef.h>

#include "rag/doc.h"
#include "rag/parse_pdf.h"

/* Every option so far is a limit of the PDF child. */
typedef parse_pdf_opts_t parse_opts_t;

/* Parses data[0..n) of the given type into blocks. Returns 0, -EILSEQ
 * (text types: not UTF-8), -EINVAL (unparseable: err says why), -ETIMEDOUT,
 * -ENOMEM. err gets a message on failure. */
int parse_document(doc_type_t type, const char *data, size_t n, const parse_opts_t *o,
                   doc_blocks_t *out, char *err, size_t errlen);

#endif
