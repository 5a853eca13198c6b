/* parse_toc: a printed table of contents found in plain text and left out.
 *
 * A PDF's table of contents is lines of text, no links: "2.1.3. Title",
 * "Introduction . . . . 5". Such a list names every section of a manual in
 * a few short chunks, so it beats the section itself on a query of that
 * section's title (the Debian Reference's Japanese PDFs: 54 of 300 heading
 * queries ranked the book's contents above the chapter). The HTML parser
 * leaves lists of links out for the same reason.
 *
 * A run is at least TOC_RUN_MIN entries, one a line, with blank lines and
 * a single wrapped line between entries allowed. An entry is a numbered
 * line ("3.", "2.1.4", "A.2.") or a line ending in dot leaders and a page
 * number. A run counts as contents when its numbers read as an outline
 * (each the next one after the line before: 1.1 -> 1.2, 1.2 -> 1.2.1,
 * 1.2.1 -> 1.3) or end in page numbers, for TOC_SHARE of its entries, and
 * when it goes below one level (a sub-number or a leader line): a numbered
 * list of steps 1., 2., 3. is not contents. */
#ifndef RAGD_PARSE_TOC_H
#define RAGD_PARSE_TOC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define TOC_RUN_MIN 8
#define TOC_SHARE   0.8

/* Appends text[0..n) to out less the lines of every run of contents.
 * True when a run was left out (out then holds the rest, maybe nothing);
 * false when there was none (out holds text unchanged). */
bool toc_drop(const char *text, size_t n, buf_t *out);

#endif
