/* The extractive generator: an answer made of the context's own sentences,
 * offline and instant, so that `make run` answers out of the box.
 *
 * Each passage is cut into sentences (at . ! ? and 。！？ followed by a
 * space or the end, and at blank lines; a single line break is a space, as
 * in wrapped text). A sentence scores the weights of
 * the question's distinct search terms (rag/text's terms: lowercased words
 * and CJK bigrams) that it holds, a stop word counting a tenth; ties go to
 * the better-ranked passage, then the earlier sentence. The best ones (at
 * most EXTRACT_SENTENCES, within max_tokens, scoring at least two thirds
 * of the best score, and sharing a word that is not a stop word) are given in
 * reading order, whitespace runs as one space,
 * each followed by its passage's citation [n]. When no sentence shares
 * such a word with the question (a vector-only match), the first sentence
 * of the best passage stands for it. Tokens are rag/text's tokens. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "rag/text.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/vec.h"

#define EXTRACT_SENTENCES  4
#define EXTRACT_MAX_TOKENS 256 /* when the request gives no max_tokens */
#define TERMS_MAX          64

typedef struct sentence {
    size_t passage; /* 0-based */
    const char *s;
    size_t len, tokens, order;
    double score;
} sentence_t;

typedef struct terms {
    char *v[TERMS_MAX];
    double w[TERMS_MAX];
    size_t n;
} terms_t;

/* Splits a space-separated term list into distinct terms. */
static void terms_of(const char *q, terms_t *t)
{
    buf_t b = BUF_INIT;
    text_terms(q, strlen(q), &b);
    char *save = NULL;
    for (char *w = b.data ? strtok_r(b.data, " ", &save) : NULL; w && t->n < TERMS_MAX;
         w = strtok_r(NULL, " ", &save)) {
        bool dup = false;
        for (size_t i = 0; i < t->n && !dup; i++) dup = !strcmp(t->v[i], w);
        if (dup) continue;
        if (!(t->v[t->n] = strdup(w))) break;
        t->w[t->n++] = text_is_stop(w, strlen(w)) ? 0.1 : 1.0;
    }
    buf_free(&b);
}

static double score_of(const terms_t *q, const char *s, size_t len)
{
    buf_t b = BUF_INIT;
    text_terms(s, len, &b);
    double score = 0;
    if (b.data) {
        for (size_t i = 0; i < q->n; i++) {
            /* a term matches as a whole word of the space-separated list */
            size_t n = strlen(q->v[i]);
            for (const char *p = b.data; (p = strstr(p, q->v[i])) != NULL; p += n) {
                if ((p == b.data || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) {
                    score += q->w[i];
                    break;
                }
            }
        }
    }
    buf_free(&b);
    return score;
}

/* The length of the sentence at s (at most n bytes), its end included. */
static size_t sentence_len(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' && i + 1 < n && s[i + 1] == '\n') return i + 2; /* a paragraph's end */
        if ((c == '.' || c == '!' || c == '?') &&
            (i + 1 == n || s[i + 1] == ' ' || s[i + 1] == '\n'))
            return i + 1;
        /* 。！？ are E3 80 82, EF BC 81, EF BC 9F */
        if (i + 2 < n &&
            ((c == 0xE3 && (unsigned char)s[i + 1] == 0x80 && (unsigned char)s[i + 2] == 0x82) ||
             (c == 0xEF && (unsigned char)s[i + 1] == 0xBC &&
              ((unsigned char)s[i + 2] == 0x81 || (unsigned char)s[i + 2] == 0x9F))))
            return i + 3;
    }
    return n;
}

static int by_score(const void *a, const void *b)
{
    const sentence_t *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int by_order(const void *a, const void *b)
{
    const sentence_t *x = a, *y = b;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int extractive_generate(generator_t *g, const gen_request_t *req, const gen_sink_t *sink,
                               gen_result_t *out, char *err, size_t errlen)
{
    double t0 = clock_now();
    terms_t q = {.n = 0};
    sentence_t *v = NULL;
    size_t n = 0, cap = 0, prompt = text_count_tokens(req->question, strlen(req->question));
    int rc = 0;
    terms_of(req->question, &q);
    for (size_t p = 0; p < req->npassages && !rc; p++) {
        const char *s = req->passages[p].text, *end = s + req->passages[p].len;
        prompt += text_count_tokens(s, req->passages[p].len);
        while (s < end) {
            size_t len = sentence_len(s, (size_t)(end - s));
            const char *a = s, *b = s + len;
            s += len;
            while (a < b && (*a == ' ' || *a == '\n' || *a == '\t')) a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\n' || b[-1] == '\t')) b--;
            size_t tokens = text_count_tokens(a, (size_t)(b - a));
            if (tokens == 0) continue;
            if (vec_reserve((void **)&v, &cap, n + 1, 64, sizeof *v)) {
                rc = -ENOMEM;
                break;
            }
            v[n] = (sentence_t){p, a, (size_t)(b - a), tokens, n, score_of(&q, a, (size_t)(b - a))};
            n++;
        }
    }
    size_t take = 0, budget = req->max_tokens ? req->max_tokens : EXTRACT_MAX_TOKENS, used = 0;
    if (!rc && n) {
        qsort(v, n, sizeof *v, by_score);
        if (v[0].score < 1) { /* no word in common: the best passage's first sentence */
            qsort(v, n, sizeof *v, by_order);
            v[0].score = 0;
        }
        double floor = v[0].score * 2 / 3 > 1 ? v[0].score * 2 / 3 : 1;
        while (take < n && take < EXTRACT_SENTENCES &&
               (take == 0 || (v[take].score >= floor && used + v[take].tokens <= budget)))
            used += v[take++].tokens;
        qsort(v, take, sizeof *v, by_order);
    }
    size_t completion = 0;
    buf_t piece = BUF_INIT;
    for (size_t i = 0; !rc && i < take; i++) {
        if (sink->gone && sink->gone(sink->ctx)) {
            rc = -ECANCELED;
            break;
        }
        buf_reset(&piece);
        if (i) buf_putc(&piece, ' ');
        for (size_t k = 0; k < v[i].len; k++) { /* whitespace runs as one space */
            char c = v[i].s[k];
            bool ws = c == ' ' || c == '\n' || c == '\t' || c == '\r';
            if (!ws)
                buf_putc(&piece, c);
            else if (piece.len && piece.data[piece.len - 1] != ' ')
                buf_putc(&piece, ' ');
        }
        buf_printf(&piece, " [%zu]", v[i].passage + 1);
        if ((rc = buf_error(&piece)) != 0) break;
        if (out->first_token_s < 0) out->first_token_s = clock_now() - t0;
        completion += v[i].tokens + 1; /* the citation's number is a token */
        if (sink->delta(sink->ctx, piece.data, piece.len)) rc = -ECANCELED;
    }
    buf_free(&piece);
    free(v);
    for (size_t i = 0; i < q.n; i++) free(q.v[i]);
    out->prompt_tokens = (long)prompt;
    out->completion_tokens = (long)completion;
    out->attempts = 1;
    if (rc == -ECANCELED) out->reason = GEN_CANCELLED;
    if (!rc) snprintf(out->finish_reason, sizeof out->finish_reason, "stop");
    if (rc && errlen) snprintf(err, errlen, "%s", rc == -ECANCELED ? "cancelled" : strerror(-rc));
    (void)g;
    return rc;
}

static int extractive_probe(generator_t *g, char *err, size_t errlen)
{
    return 0; /* in process: nothing can be down */
}

static void extractive_destroy(generator_t *g)
{
    free(g);
}

int gen_extractive_new(generator_t **out)
{
    generator_t *g = calloc(1, sizeof *g);
    if (!g) return -ENOMEM;
    g->provider = "extractive";
    snprintf(g->model, sizeof g->model, "extractive");
    g->generate = extractive_generate;
    g->probe = extractive_probe;
    g->destroy = extractive_destroy;
    *out = g;
    return 0;
}
