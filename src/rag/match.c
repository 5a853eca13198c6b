#include "rag/match.h"

#include <stdbool.h>
#include <string.h>

#include "rag/text.h"

size_t match_held(const char *const *terms, size_t n, const char *text, size_t len)
{
    buf_t own = BUF_INIT;
    buf_putc(&own, ' ');
    text_terms(text, len, &own);
    buf_putc(&own, ' ');
    size_t held = 0;
    for (size_t i = 0; i < n && !buf_error(&own); i++) {
        size_t tl = strlen(terms[i]);
        /* " term " within " t1 t2 ... ": a whole term, not a part of one */
        for (const char *p = own.data;
             (p = memmem(p, own.len - (size_t)(p - own.data), terms[i], tl)) != NULL; p++) {
            if (p[-1] == ' ' && p[tl] == ' ') {
                held++;
                break;
            }
        }
    }
    buf_free(&own);
    return held;
}

size_t match_terms(const char *text, int64_t chunks, match_dfs_fn dfs, void *ctx, buf_t *space,
                   const char **out)
{
    const char *tok[MATCH_MAX_TERMS];
    int64_t df[MATCH_MAX_TERMS];
    size_t n = 0;
    text_terms(text, strlen(text), space);
    buf_putc(space, '\0');
    if (buf_error(space)) return 0;
    for (char *t = space->data, *save = NULL, *w;
         n < MATCH_MAX_TERMS && (w = strtok_r(t, " ", &save)); t = NULL) {
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++) dup = strcmp(tok[i], w) == 0;
        if (!dup) tok[n++] = w;
    }
    double common = MATCH_COMMON_SHARE * (double)chunks;
    bool prune = n > 1 && chunks > 0 && dfs && dfs(ctx, tok, n, df) == 0;
    bool rare = false;
    /* a term no chunk holds matches nothing: it cannot stand for the query */
    for (size_t i = 0; prune && i < n; i++) rare |= df[i] > 0 && (double)df[i] <= common;
    /* nor is it a search term: it scores nothing and no chunk can hold it
     * (a word cut short, a typo); left out while another term matches */
    bool any = false;
    for (size_t i = 0; prune && i < n; i++) any |= df[i] > 0;
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (!(prune && rare && (double)df[i] > common) && !(prune && any && df[i] == 0))
            out[count++] = tok[i];
    return count;
}
