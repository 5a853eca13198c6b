#include "rag/match.h"

#include <stdbool.h>
#include <string.h>

#include "rag/text.h"

void match_expr(const char *text, int64_t chunks, match_dfs_fn dfs, void *ctx, buf_t *out)
{
    buf_t terms = BUF_INIT;
    const char *tok[MATCH_MAX_TERMS];
    int64_t df[MATCH_MAX_TERMS];
    size_t n = 0;
    text_terms(text, strlen(text), &terms);
    buf_putc(&terms, '\0');
    for (char *t = terms.data, *save = NULL, *w;
         terms.data && n < MATCH_MAX_TERMS && (w = strtok_r(t, " ", &save)); t = NULL) {
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++) dup = strcmp(tok[i], w) == 0;
        if (!dup) tok[n++] = w;
    }
    double common = MATCH_COMMON_SHARE * (double)chunks;
    bool prune = n > 1 && chunks > 0 && dfs && dfs(ctx, tok, n, df) == 0;
    bool rare = false;
    /* a term no chunk holds matches nothing: it cannot stand for the query */
    for (size_t i = 0; prune && i < n; i++) rare |= df[i] > 0 && (double)df[i] <= common;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (prune && rare && (double)df[i] > common) continue;
        if (count++) buf_append(out, " OR ", 4);
        buf_putc(out, '"');
        for (const char *c = tok[i]; *c; c++) {
            if (*c == '"') buf_putc(out, '"'); /* FTS5 escapes a quote by doubling it */
            buf_putc(out, *c);
        }
        buf_putc(out, '"');
    }
    buf_free(&terms);
    buf_putc(out, '\0');
}
