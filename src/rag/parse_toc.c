/* A printed table of contents found and left out (see parse_toc.h). */
#include <stdlib.h>
#include <string.h>

#include "rag/parse_toc.h"

#define TOC_DEPTH 8 /* levels of a section number that are compared */

enum { LINE_BLANK, LINE_OTHER, LINE_ENTRY };

typedef struct toc_line {
    size_t at, len; /* the line in the text, without its '\n' */
    int kind;
    int depth; /* levels of its number; 0: none */
    unsigned num[TOC_DEPTH];
    bool paged; /* ends in a page number after dot leaders (or after a section number) */
} toc_line_t;

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f';
}

/* The page number at the end of s[0..n): true when s ends in digits (or
 * lower-case Roman ones) after white space, with *leaders set when dots
 * ("....", ". . .", "…") stand before them. */
static bool page_number(const char *s, size_t n, bool *leaders)
{
    while (n && space(s[n - 1])) n--;
    size_t end = n;
    while (n && ((s[n - 1] >= '0' && s[n - 1] <= '9') || (s[n - 1] && strchr("ivxlc", s[n - 1]))))
        n--;
    if (n == end || end - n > 5 || !n || (!space(s[n - 1]) && s[n - 1] != '.')) return false;
    int dots = 0;
    for (;;) {
        if (n && space(s[n - 1]))
            n--;
        else if (n && s[n - 1] == '.')
            n--, dots++;
        else if (n >= 3 && !memcmp(s + n - 3, "\xe2\x80\xa6", 3)) /* U+2026 … */
            n -= 3, dots += 3;
        else
            break;
    }
    *leaders = dots >= 3;
    return n > 0;
}

/* Classifies s[0..n): its section number ("2.1.3.", "A.2", "7."), and
 * whether it ends in a page number. */
static void classify(const char *s, size_t n, toc_line_t *l)
{
    size_t i = 0;
    while (i < n && space(s[i])) i++;
    l->kind = i == n ? LINE_BLANK : LINE_OTHER;
    if (l->kind == LINE_BLANK) return;
    int depth = 0;
    bool dot = false;
    for (;;) {
        unsigned v = 0;
        size_t d = i;
        while (d < n && d - i < 4 && s[d] >= '0' && s[d] <= '9')
            v = v * 10 + (unsigned)(s[d++] - '0');
        if (d == i && depth == 0 && i < n && s[i] >= 'A' && s[i] <= 'Z' && i + 1 < n &&
            s[i + 1] == '.')
            v = (unsigned)(s[d++] - 'A' + 1); /* an appendix: "A.", "B.2" */
        if (d == i || d - i > 3 || (d < n && s[d] >= '0' && s[d] <= '9')) break;
        if (depth < TOC_DEPTH) l->num[depth] = v;
        depth++;
        i = d;
        dot = i < n && s[i] == '.';
        if (!dot) break;
        i++;
        if (i == n || s[i] < '0' || s[i] > '9') break; /* letters only lead: "A.2" */
    }
    bool leaders = false;
    bool paged = page_number(s, n, &leaders);
    /* a number, then white space and a title */
    bool titled = depth && i < n && space(s[i]);
    while (i < n && space(s[i])) i++;
    titled = titled && i < n;
    if (depth >= 4 && !dot && !paged) titled = false; /* an address: "10.0.0.1 gateway" */
    l->depth = titled && (dot || depth > 1 || paged) ? (depth > TOC_DEPTH ? TOC_DEPTH : depth) : 0;
    l->paged = leaders || (l->depth && paged);
    if (l->depth || leaders) l->kind = LINE_ENTRY;
}

/* True when b's number is the one after a's in an outline: the next at the
 * same level (1.2 -> 1.3), the first one level down (1.2 -> 1.2.1), or the
 * next at a level up (1.2.3 -> 1.3, 1.2.3 -> 2). */
static bool next_in_outline(const toc_line_t *a, const toc_line_t *b)
{
    if (b->depth == a->depth + 1)
        return !memcmp(a->num, b->num, sizeof *a->num * (size_t)a->depth) &&
               b->num[b->depth - 1] <= 1;
    if (b->depth < 1 || b->depth > a->depth) return false;
    int last = b->depth - 1;
    return !memcmp(a->num, b->num, sizeof *a->num * (size_t)last) &&
           b->num[last] == a->num[last] + 1;
}

/* Whether lines v[from..to] (entries, blanks, wrapped lines) are contents. */
static bool toc_run(const toc_line_t *v, size_t from, size_t to)
{
    size_t entries = 0, strong = 0, wrapped = 0;
    bool deep = false;
    const toc_line_t *prev = NULL;
    for (size_t i = from; i <= to; i++) {
        if (v[i].kind == LINE_OTHER) wrapped++;
        if (v[i].kind != LINE_ENTRY) continue;
        entries++;
        deep = deep || v[i].depth > 1 || v[i].paged;
        bool next = v[i].depth && prev && next_in_outline(prev, &v[i]);
        strong += v[i].paged || next;
        if (v[i].depth) prev = &v[i];
    }
    /* the first numbered entry has no line before it to follow */
    return entries >= TOC_RUN_MIN && deep && 4 * wrapped <= entries &&
           (double)(strong + 1) >= TOC_SHARE * (double)entries;
}

bool toc_drop(const char *text, size_t n, buf_t *out)
{
    size_t lines = 1;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    toc_line_t *v = calloc(lines, sizeof *v);
    if (!v) { /* no room to look: the text as it is */
        buf_append(out, text, n);
        return false;
    }
    size_t count = 0;
    for (size_t at = 0; at <= n && count < lines;) {
        const char *nl = memchr(text + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (text + at)) : n - at;
        v[count].at = at;
        v[count].len = len;
        classify(text + at, len, &v[count]);
        count++;
        at += len + 1;
    }
    bool dropped = false;
    size_t keep_from = 0; /* byte offset of the first line not yet copied */
    for (size_t i = 0; i < count; i++) {
        if (v[i].kind != LINE_ENTRY) continue;
        /* the run from here: entries, blanks, and single wrapped lines */
        size_t last = i;
        for (size_t k = i + 1; k < count; k++) {
            if (v[k].kind == LINE_ENTRY)
                last = k;
            else if (v[k].kind == LINE_OTHER && v[k - 1].kind == LINE_OTHER)
                break;
        }
        if (toc_run(v, i, last)) {
            buf_append(out, text + keep_from, v[i].at - keep_from);
            keep_from = v[last].at + v[last].len + 1 > n ? n : v[last].at + v[last].len + 1;
            dropped = true;
        }
        i = last;
    }
    buf_append(out, text + keep_from, n - keep_from);
    free(v);
    return dropped;
}
