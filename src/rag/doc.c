#include "rag/doc.h"
#include "util/vec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int doc_blocks_add(doc_blocks_t *b, const char *section, const char *text, size_t len)
{
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\n' || text[len - 1] == '\t')) len--;
    while (len && (*text == ' ' || *text == '\n' || *text == '\t')) text++, len--;
    if (len == 0) return 0;
    if (vec_reserve((void **)&b->v, &b->cap, b->n + 1, 16, sizeof *b->v)) return -ENOMEM;
    doc_block_t *d = &b->v[b->n];
    d->section = section && *section ? strdup(section) : NULL;
    d->text = malloc(len + 1);
    if (!d->text || (section && *section && !d->section)) {
        free(d->section);
        free(d->text);
        return -ENOMEM;
    }
    memcpy(d->text, text, len);
    d->text[len] = '\0';
    d->len = len;
    b->n++;
    b->bytes += len;
    return 0;
}

void doc_blocks_title(doc_blocks_t *b, const char *s, size_t n)
{
    if (b->title[0]) return;
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            space = o > 0;
            continue;
        }
        /* the character starting here: its length from the lead byte */
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (o + space + len > DOC_TITLE_MAX) break;
        if (space) b->title[o++] = ' ';
        space = false;
        for (size_t k = 0; k < len && i + k < n; k++) b->title[o++] = s[i + k];
        i += len - 1;
    }
    b->title[o] = '\0';
}

void doc_blocks_free(doc_blocks_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].section);
        free(b->v[i].text);
    }
    free(b->v);
    memset(b, 0, sizeof *b);
}

void doc_blocks_clear(doc_blocks_t *b)
{
    char title[sizeof b->title];
    memcpy(title, b->title, sizeof title);
    doc_blocks_free(b);
    memcpy(b->title, title, sizeof title);
}

bool doc_blocks_blank(const doc_blocks_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        for (size_t k = 0; k < b->v[i].len; k++)
            if ((unsigned char)b->v[i].text[k] > ' ') return false;
    return true;
}

static const struct {
    const char *mime, *alias, *name;
} types[DOC_TYPE_COUNT] = {
    [DOC_TEXT] = {"text/plain", "text", "text"},
    [DOC_MARKDOWN] = {"text/markdown", "markdown", "markdown"},
    [DOC_HTML] = {"text/html", "html", "html"},
    [DOC_PDF] = {"application/pdf", "pdf", "pdf"},
};

int doc_type_parse(const char *ct)
{
    if (!ct) return -EINVAL;
    while (*ct == ' ') ct++;
    size_t n = strcspn(ct, ";");
    while (n && ct[n - 1] == ' ') n--;
    for (int t = 0; t < DOC_TYPE_COUNT; t++) {
        if ((strlen(types[t].mime) == n && strncasecmp(ct, types[t].mime, n) == 0) ||
            (strlen(types[t].alias) == n && strncasecmp(ct, types[t].alias, n) == 0))
            return t;
    }
    if (n == 15 && strncasecmp(ct, "text/x-markdown", n) == 0) return DOC_MARKDOWN;
    return -EINVAL;
}

const char *doc_type_name(doc_type_t t)
{
    return t < DOC_TYPE_COUNT ? types[t].name : "unknown";
}

const char *doc_type_mime(doc_type_t t)
{
    return t < DOC_TYPE_COUNT ? types[t].mime : "application/octet-stream";
}

void doc_record_free(doc_record_t *d)
{
    if (!d) return;
    free(d->meta);
    free(d->mem);
    memset(d, 0, sizeof *d);
}
