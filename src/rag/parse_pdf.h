/* parse_pdf: PDF text through poppler, in a child process.
 *
 * The server never runs poppler itself: parse_pdf_child spawns `ragd
 * parse-pdf` (its own binary, exec'd fresh, so no state is shared with the
 * server's threads) through util/proc, with the PDF on stdin, a wall-clock
 * deadline, and CPU and address-space limits that the child sets on
 * itself. A crash, a limit or the deadline is a failure of that document
 * (-EINVAL or -ETIMEDOUT), nothing more. */
#ifndef RAGD_PARSE_PDF_H
#define RAGD_PARSE_PDF_H

#include <stddef.h>

#include "rag/doc.h"

typedef struct parse_pdf_opts {
    const char *helper; /* the ragd binary for `parse-pdf`; NULL: /proc/self/exe */
    double timeout_s;   /* wall clock for one PDF */
    size_t max_memory;  /* address space of the PDF child, bytes */
    size_t max_pages;
} parse_pdf_opts_t;

/* Parses the PDF data[0..n) in a child into blocks, one per page ("page N"),
 * and out->title from the PDF's metadata title when it has one that is no
 * office tool's stand-in (a file name, "Microsoft Word - ...", "untitled").
 * 0, -EINVAL (not a PDF poppler reads, a crash or a limit of the child: err
 * says which), -ETIMEDOUT, -ENOMEM, or another -errno of the spawn. */
int parse_pdf_child(const char *data, size_t n, const parse_pdf_opts_t *o, doc_blocks_t *out,
                    char *err, size_t errlen);

/* `ragd parse-pdf [--max-pages N] [--max-memory BYTES] [--max-cpu SECONDS]`:
 * reads a PDF on stdin, writes frames "title <bytes>\n<text>" (when the PDF
 * has a metadata title) and "<page> <bytes>\n<text>" on stdout.
 * Exit 0, or 3 when the file is not a PDF poppler can read (message on
 * stderr). */
int parse_pdf_main(int argc, char **argv);

#endif
