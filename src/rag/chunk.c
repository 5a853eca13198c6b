#include "rag/chunk.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rag/text.h"
#include "util/vec.h"

typedef struct unit {
    size_t start, end; /* byte span in the section text, trimmed */
    size_t tokens;
} unit_t;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int push_chunk(chunk_list_t *l, const chunk_opts_t *o, const char *text, size_t len,
                      const char *section, size_t tokens)
{
    while (len && is_space(text[len - 1])) len--;
    while (len && is_space(*text)) text++, len--;
    if (len == 0) return 0;
    if (l->n == o->max_chunks) return -E2BIG;
    if (vec_reserve((void **)&l->v, &l->cap, l->n + 1, 16, sizeof *l->v)) return -ENOMEM;
    char *copy = malloc(len + 1);
    if (!copy) return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    l->v[l->n++] = (chunk_t){copy, len, section, tokens};
    return 0;
}

/* Splits text into units: a unit ends at a line break or after a sentence
 * terminator followed by a space (or right after a CJK terminator). */
static int split_units(const char *s, size_t n, unit_t **out, size_t *nout)
{
    size_t cap = 64, count = 0, start = 0, i = 0;
    unit_t *u = malloc(cap * sizeof *u);
    if (!u) return -ENOMEM;
    while (i <= n) {
        bool cut = false;
        size_t next = i + 1;
        if (i == n) {
            cut = true;
        } else if (s[i] == '\n') {
            cut = true;
        } else if ((s[i] == '.' || s[i] == '!' || s[i] == '?') && i + 1 < n && is_space(s[i + 1])) {
            cut = true;
        } else if ((unsigned char)s[i] >= 0xE0) {
            size_t len;
            uint32_t cp = text_decode(s + i, n - i, &len);
            next = i + len;
            if (cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F) cut = true; /* 。！？ */
        }
        if (cut) {
            size_t a = start, b = i < n ? next : n;
            while (a < b && is_space(s[a])) a++;
            while (b > a && is_space(s[b - 1])) b--;
            if (b > a) {
                if (count == cap) {
                    cap *= 2;
                    void *p = realloc(u, cap * sizeof *u);
                    if (!p) {
                        free(u);
                        return -ENOMEM;
                    }
                    u = p;
                }
                u[count++] = (unit_t){a, b, text_count_tokens(s + a, b - a)};
            }
            start = i < n ? next : n;
        }
        if (i == n) break;
        i = next;
    }
    *out = u;
    *nout = count;
    return 0;
}

/* Token spans of a long unit, for cutting at token boundaries. */
struct spans {
    size_t *start, *end;
    size_t n, cap;
    const char *base;
};

static bool span_one(void *ctx, const char *s, size_t n, text_kind_t kind)
{
    struct spans *sp = ctx;
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 256;
        size_t *a = realloc(sp->start, cap * sizeof *a);
        if (!a) return false;
        sp->start = a;
        size_t *b = realloc(sp->end, cap * sizeof *b);
        if (!b) return false;
        sp->end = b;
        sp->cap = cap;
    }
    sp->start[sp->n] = (size_t)(s - sp->base);
    sp->end[sp->n] = (size_t)(s - sp->base) + n;
    sp->n++;
    return true;
}

static int split_long_unit(chunk_list_t *l, const chunk_opts_t *o, const char *s, const unit_t *u,
                           const char *section)
{
    struct spans sp = {.base = s + u->start};
    text_tokens(s + u->start, u->end - u->start, span_one, &sp);
    int rc = 0;
    size_t step = o->max_tokens - o->overlap_tokens;
    for (size_t first = 0; first < sp.n && rc == 0; first += step) {
        size_t last = first + o->max_tokens < sp.n ? first + o->max_tokens : sp.n;
        /* From the first token to just before the next piece's first token,
         * so punctuation between tokens stays with its text. */
        size_t a = first ? sp.start[first] : 0;
        size_t b = last < sp.n ? sp.start[last] : u->end - u->start;
        rc = push_chunk(l, o, s + u->start + a, b - a, section, last - first);
        if (last == sp.n) break;
    }
    free(sp.start);
    free(sp.end);
    return rc;
}

static int chunk_section(chunk_list_t *l, const chunk_opts_t *o, const char *s, size_t n,
                         const char *section)
{
    unit_t *u;
    size_t nu;
    int rc = split_units(s, n, &u, &nu);
    if (rc) return rc;
    size_t first = 0, tokens = 0; /* the current chunk: units first..i-1 */
    for (size_t i = 0; i <= nu && rc == 0; i++) {
        bool flush = i == nu || (tokens + u[i].tokens > o->max_tokens && i > first);
        if (flush && i > first) {
            rc = push_chunk(l, o, s + u[first].start, u[i - 1].end - u[first].start, section,
                            tokens);
            if (rc || i == nu) break;
            /* Overlap: carry the trailing units that fit in overlap_tokens. */
            size_t keep = i, kept = 0;
            while (keep > first + 1 && kept + u[keep - 1].tokens <= o->overlap_tokens &&
                   kept + u[keep - 1].tokens + u[i].tokens <= o->max_tokens) {
                keep--;
                kept += u[keep].tokens;
            }
            first = keep;
            tokens = kept;
        }
        if (i == nu) break;
        if (u[i].tokens > o->max_tokens) { /* a unit bigger than a chunk */
            if (i > first && !flush)
                rc = push_chunk(l, o, s + u[first].start, u[i - 1].end - u[first].start, section,
                                tokens);
            if (rc == 0) rc = split_long_unit(l, o, s, &u[i], section);
            first = i + 1;
            tokens = 0;
            continue;
        }
        tokens += u[i].tokens;
    }
    free(u);
    return rc;
}

int chunk_blocks(const doc_blocks_t *blocks, const chunk_opts_t *o, chunk_list_t *out)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    buf_t joined = BUF_INIT;
    /* Consecutive blocks of one section are chunked as one text. */
    for (size_t i = 0; i < blocks->n && rc == 0;) {
        const char *section = blocks->v[i].section ? blocks->v[i].section : "";
        buf_reset(&joined);
        size_t k = i;
        for (; k < blocks->n; k++) {
            const char *sk = blocks->v[k].section ? blocks->v[k].section : "";
            if (strcmp(sk, section) != 0) break;
            if (joined.len) buf_append(&joined, "\n\n", 2);
            buf_append(&joined, blocks->v[k].text, blocks->v[k].len);
        }
        if (buf_error(&joined))
            rc = -ENOMEM;
        else if (joined.len)
            rc = chunk_section(out, o, joined.data, joined.len, section);
        i = k;
    }
    buf_free(&joined);
    if (rc) chunk_list_free(out);
    return rc;
}

void chunk_list_free(chunk_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i].text);
    free(l->v);
    memset(l, 0, sizeof *l);
}
