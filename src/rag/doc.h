/* doc: the plain model of a document that parsing, the store and the
 * pipeline share: its type, its text blocks, and its metadata as key/value
 * pairs. No JSON here: the HTTP layer turns these into its wire format.
 *
 * Ownership: what a caller passes in (doc_kv_t arrays of an ingest or a
 * filter) is borrowed for the call; what a function gives back (blocks,
 * records) is owned by the caller and freed with the type's _free. */
#ifndef RAGD_DOC_H
#define RAGD_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DOC_ID_MAX         128  /* bytes of a document id */
#define DOC_META_MAX       32   /* metadata pairs of a document, or of a filter */
#define DOC_META_KEY_MAX   64   /* bytes of a metadata key */
#define DOC_META_VALUE_MAX 1024 /* bytes of a metadata value */

typedef enum doc_type { DOC_TEXT, DOC_MARKDOWN, DOC_HTML, DOC_PDF, DOC_TYPE_COUNT } doc_type_t;

/* Type from a Content-Type value (parameters ignored) or a short name
 * ("markdown"); -EINVAL when unsupported. */
int doc_type_parse(const char *content_type);
/* "text", "markdown", "html", "pdf": the metrics label. */
const char *doc_type_name(doc_type_t t);
/* The canonical Content-Type of a type. */
const char *doc_type_mime(doc_type_t t);

/* One metadata pair, or one filter condition (key = value). */
typedef struct doc_kv {
    const char *key, *value;
} doc_kv_t;

typedef struct doc_block {
    char *section; /* owned; NULL for none */
    char *text;    /* owned, UTF-8 */
    size_t len;
} doc_block_t;

#define DOC_TITLE_MAX 1024 /* bytes of a title */

typedef struct doc_blocks {
    doc_block_t *v;
    size_t n, cap;
    size_t bytes;                  /* total text */
    char title[DOC_TITLE_MAX + 1]; /* the document's own title ("" when none) */
} doc_blocks_t;

/* Appends a block (copies). 0 or -ENOMEM. Empty text is skipped. */
int doc_blocks_add(doc_blocks_t *b, const char *section, const char *text, size_t len);
/* Sets the document's own title from s[0..n) (valid UTF-8): runs of white
 * space become one space, none at either end, cut to DOC_TITLE_MAX bytes at
 * a character boundary. The first call that leaves a title wins: later ones
 * (a second heading, a <title> after an <h1>) change nothing. */
void doc_blocks_title(doc_blocks_t *b, const char *s, size_t n);
void doc_blocks_free(doc_blocks_t *b);
/* Frees the blocks and keeps the title: a parser's second pass. */
void doc_blocks_clear(doc_blocks_t *b);
/* True when no block holds a character but white space. */
bool doc_blocks_blank(const doc_blocks_t *b);

/* A stored document as read back. Every string is owned by the record
 * (one allocation, freed by doc_record_free). */
typedef struct doc_record {
    const char *id, *title, *content_type;
    doc_kv_t *meta; /* sorted by key */
    size_t nmeta;
    int64_t chunks;
    double created_at, updated_at; /* seconds since the epoch */
    const char *text;              /* extracted text; NULL when not asked for */
    size_t text_len;
    void *mem; /* the allocation behind the strings */
} doc_record_t;

void doc_record_free(doc_record_t *d);

#endif
