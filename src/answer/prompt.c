/* prompt: the system prompt of an answer, its numbered context within a
 * token budget (rag/text's tokens: words and CJK characters; an LLM's
 * tokenizer counts about 1.3 per English word, which the default budget
 * leaves room for). */
#include <stdlib.h>
#include <string.h>

#include "answer/answer.h"
#include "rag/text.h"
#include "util/buf.h"

const char answer_default_template[] =
    "You answer questions using only the numbered context passages below. After each statement, "
    "cite the passages that support it by their numbers in square brackets, like [1] or [2][3]. "
    "If the context does not hold the answer, say that you do not know; do not make one up. "
    "Answer in the language of the question.\n\nContext:\n{context}";

typedef struct cut {
    const char *base;
    size_t want, seen, end;
} cut_t;

static bool cut_one(void *ctx, const char *s, size_t n, text_kind_t kind)
{
    cut_t *c = ctx;
    if (c->seen == c->want) return false;
    c->seen++;
    c->end = (size_t)(s + n - c->base);
    return true;
}

/* Bytes of s that hold its first `want` tokens. */
static size_t prefix_of(const char *s, size_t n, size_t want)
{
    cut_t c = {s, want, 0, 0};
    text_tokens(s, n, cut_one, &c);
    return c.end;
}

size_t answer_prompt(const char *template, gen_passage_t *p, size_t n, size_t budget, char **system,
                     size_t *tokens)
{
    buf_t ctx = BUF_INIT, out = BUF_INIT;
    size_t used = 0, k = 0;
    for (; k < n; k++) {
        size_t t = text_count_tokens(p[k].text, p[k].len);
        if (used + t > budget) {
            if (k > 0) break;
            p[0].len = prefix_of(p[0].text, p[0].len, budget);
            t = budget;
        }
        used += t;
        buf_printf(&ctx, "[%zu] %s%s%s\n%.*s\n\n", k + 1,
                   p[k].title && *p[k].title ? p[k].title : "(untitled)",
                   p[k].section && *p[k].section ? " — " : "", p[k].section ? p[k].section : "",
                   (int)p[k].len, p[k].text);
    }
    while (ctx.len && ctx.data[ctx.len - 1] == '\n') ctx.len--;
    const char *at = strstr(template, "{context}");
    if (at) {
        buf_append(&out, template, (size_t)(at - template));
        buf_append(&out, ctx.data ? ctx.data : "", ctx.len);
        buf_puts(&out, at + 9);
    } else {
        buf_puts(&out, template);
    }
    buf_putc(&out, '\0');
    buf_free(&ctx);
    if (buf_error(&out)) {
        buf_free(&out);
        *system = NULL;
        return 0;
    }
    *system = buf_steal(&out, NULL);
    *tokens = used;
    return k;
}
