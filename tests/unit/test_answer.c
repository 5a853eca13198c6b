/* Unit tests of answering's pure parts: the SSE parser, the extractive
 * generator, the prompt's budget, the endpoints built from URLs, and the
 * chat request's reading. */
#include <errno.h>
#include <stdlib.h>

#include "answer/answer.h"
#include "gen/gen.h"
#include "server/answer_json.h"
#include "test.h"
#include "util/buf.h"
#include "util/sse.h"
#include "util/upstream.h"

typedef struct events {
    buf_t log; /* "name=data|" per event */
} events_t;

static int log_event(void *ctx, const char *event, const char *data, size_t len)
{
    events_t *e = ctx;
    buf_printf(&e->log, "%s=%.*s|", event, (int)len, data);
    return 0;
}

static int stop_event(void *ctx, const char *event, const char *data, size_t len)
{
    return 7;
}

TEST(sse_parser_cut_anywhere)
{
    static const char stream[] = ": keep-alive\r\n"
                                 "data: one\r\n\r\n"
                                 "event: delta\n"
                                 "data:two\n"
                                 "data:  three\n"
                                 "id: 5\n\n"
                                 "data\r\r"
                                 "retry: 10\n"
                                 "\n"
                                 "data: [DONE]\n\n"
                                 "data: no blank line yet";
    const char *want = "message=one|delta=two\n three|message=|message=[DONE]|";
    size_t n = sizeof stream - 1;
    /* every cut into two pieces, and byte by byte, give the same events */
    for (size_t cut = 0; cut <= n; cut++) {
        events_t e = {BUF_INIT};
        sse_t p;
        sse_init(&p, 1024, log_event, &e);
        ASSERT_OK(sse_feed(&p, stream, cut));
        ASSERT_OK(sse_feed(&p, stream + cut, n - cut));
        buf_putc(&e.log, '\0');
        ASSERT_STR_EQ(e.log.data, want);
        sse_free(&p);
        buf_free(&e.log);
    }
    events_t e = {BUF_INIT};
    sse_t p;
    sse_init(&p, 1024, log_event, &e);
    for (size_t i = 0; i < n; i++) ASSERT_OK(sse_feed(&p, stream + i, 1));
    buf_putc(&e.log, '\0');
    ASSERT_STR_EQ(e.log.data, want);
    sse_free(&p);
    buf_free(&e.log);
    /* a line over the cap, whole or in pieces, is refused */
    char big[200];
    memset(big, 'x', sizeof big);
    sse_init(&p, 64, log_event, &e);
    ASSERT_EQ(sse_feed(&p, big, sizeof big), -E2BIG);
    sse_free(&p);
    sse_init(&p, 64, log_event, &e);
    int rc = 0;
    for (size_t i = 0; i < sizeof big && !rc; i += 10) rc = sse_feed(&p, big + i, 10);
    ASSERT_EQ(rc, -E2BIG);
    sse_free(&p);
    /* the callback's stop comes back */
    sse_init(&p, 64, stop_event, NULL);
    ASSERT_EQ(sse_feed(&p, "data: x\n\ndata: y\n\n", 18), 7);
    sse_free(&p);
}

typedef struct collect {
    buf_t text;
    int pieces, stop_after;
    bool gone;
} collect_t;

static int collect_delta(void *ctx, const char *s, size_t n)
{
    collect_t *c = ctx;
    buf_append(&c->text, s, n);
    return ++c->pieces == c->stop_after;
}

static bool collect_gone(void *ctx)
{
    return ((collect_t *)ctx)->gone;
}

static int extract(generator_t *g, const char *q, const gen_passage_t *p, size_t n, unsigned max,
                   collect_t *c, gen_result_t *r)
{
    char err[128];
    buf_reset(&c->text);
    c->pieces = 0;
    gen_request_t req = {.question = q, .passages = p, .npassages = n, .max_tokens = max};
    int rc =
        gen_generate(g, &req, &(gen_sink_t){collect_delta, collect_gone, c}, r, err, sizeof err);
    buf_putc(&c->text, '\0');
    return rc;
}

TEST(extractive_generator)
{
    generator_t *g;
    ASSERT_OK(gen_extractive_new(&g));
    ASSERT_STR_EQ(g->model, "extractive");
    static const char a[] = "Prometheus scrapes targets.\n\nThe error budget is 0.1 percent\nof "
                            "requests. It resets monthly. The weather is nice.";
    static const char b[] = "Burn-rate alerts page on the error budget. 予算は月ごとに戻ります。";
    gen_passage_t p[] = {{"A", "", a, sizeof a - 1}, {"B", "s", b, sizeof b - 1}};
    collect_t c = {BUF_INIT, 0, 0, false};
    gen_result_t r;
    ASSERT_OK(extract(g, "What is the error budget?", p, 2, 0, &c, &r));
    /* reading order, wrapped lines joined, each with its passage's number */
    ASSERT_STR_EQ(c.text.data, "The error budget is 0.1 percent of requests. [1] "
                               "Burn-rate alerts page on the error budget. [2]");
    ASSERT_EQ(c.pieces, 2);
    ASSERT_STR_EQ(r.finish_reason, "stop");
    ASSERT(r.first_token_s >= 0 && r.prompt_tokens > 20 && r.completion_tokens > 10);
    /* Japanese: CJK bigrams match */
    ASSERT_OK(extract(g, "予算はいつ戻りますか", p, 2, 0, &c, &r));
    ASSERT_STR_EQ(c.text.data, "予算は月ごとに戻ります。 [2]");
    /* no word in common: the best passage's first sentence */
    ASSERT_OK(extract(g, "zircon", p, 2, 0, &c, &r));
    ASSERT_STR_EQ(c.text.data, "Prometheus scrapes targets. [1]");
    /* max_tokens bounds all but the first sentence */
    ASSERT_OK(extract(g, "error budget", p, 2, 3, &c, &r));
    ASSERT_EQ(c.pieces, 1);
    /* a sink that stops, and a client gone before the start */
    c.stop_after = 1;
    ASSERT_EQ(extract(g, "error budget", p, 2, 0, &c, &r), -ECANCELED);
    ASSERT_EQ(r.reason, GEN_CANCELLED);
    c.stop_after = 0;
    c.gone = true;
    ASSERT_EQ(extract(g, "error budget", p, 2, 0, &c, &r), -ECANCELED);
    ASSERT_EQ(c.pieces, 0);
    buf_free(&c.text);
    gen_free(&g);
    ASSERT(g == NULL);
}

TEST(prompt_budget)
{
    static const char t1[] = "one two three four five six", t2[] = "seven eight", t3[] = "nine";
    gen_passage_t p[] = {{"T1", "S1", t1, sizeof t1 - 1}, {"T2", "", t2, 11}, {"", "", t3, 4}};
    char *sys;
    size_t tokens;
    /* all fit */
    ASSERT_EQ(answer_prompt("<{context}>", p, 3, 100, &sys, &tokens), 3);
    ASSERT_STR_EQ(sys, "<[1] T1 — S1\none two three four five six\n\n[2] T2\nseven eight\n\n[3] "
                       "(untitled)\nnine>");
    ASSERT_EQ(tokens, 9);
    free(sys);
    /* the budget stops at the passage that would pass it */
    ASSERT_EQ(answer_prompt("{context}", p, 3, 8, &sys, &tokens), 2);
    ASSERT_EQ(tokens, 8);
    free(sys);
    /* a first passage alone over the budget is cut to it */
    ASSERT_EQ(answer_prompt("{context}!", p, 3, 2, &sys, &tokens), 1);
    ASSERT_STR_EQ(sys, "[1] T1 — S1\none two!");
    ASSERT_EQ(p[0].len, 7);
    free(sys);
    ASSERT_CONTAINS(answer_default_template, "{context}");
}

TEST(upstream_endpoints)
{
    upstream_t u;
    ASSERT_OK(upstream_init(&u, "http://h:1/", "/v1/chat/completions", "/chat/completions", "k"));
    ASSERT_STR_EQ(u.url, "http://h:1/v1/chat/completions");
    ASSERT_STR_EQ(u.auth, "Authorization: Bearer k");
    upstream_free(&u);
    ASSERT_OK(upstream_init(&u, "http://h/api/v9/chat/completions", "/v1/chat/completions",
                            "/chat/completions", NULL));
    ASSERT_STR_EQ(u.url, "http://h/api/v9/chat/completions");
    ASSERT_STR_EQ(u.auth, "");
    upstream_free(&u);
    ASSERT_EQ(upstream_init(&u, "", "/x", "/x", NULL), -EINVAL);
    ASSERT_EQ(upstream_init(&u, "///", "/x", "/x", NULL), -EINVAL);
    ASSERT_DBL_EQ(upstream_backoff(3, 1.5), 1.5);
    ASSERT_DBL_EQ(upstream_backoff(0, 60), UPSTREAM_WAIT_MAX);
    double w = upstream_backoff(1, -1); /* 0.4 s with +-25 % jitter */
    ASSERT(w >= 0.3 && w <= 0.5);
}

TEST(chat_request_reading)
{
    answer_limits_t lim = {100, 10, 2};
    answer_request_t ar;
    answer_wire_t w = {0};
    char err[256];
    json_t *j =
        json_loads("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
                   "{\"role\":\"user\",\"content\":\"u1\"},{\"role\":\"assistant\","
                   "\"content\":\"a1\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\","
                   "\"text\":\"q1\"},{\"type\":\"text\",\"text\":\"q2\"}]},{\"role\":"
                   "\"assistant\",\"content\":\"trailing\"}],\"stream\":true,"
                   "\"stream_options\":{\"include_usage\":true},\"max_completion_tokens\":9,"
                   "\"top_k\":3,\"mode\":\"keyword\"}",
                   0, NULL);
    ASSERT_OK(answer_json_chat_request(j, &lim, "m", &ar, &w, err, sizeof err));
    ASSERT_STR_EQ(ar.query.text, "q1\nq2"); /* the last user message */
    ASSERT_EQ(ar.nhistory, 3);
    ASSERT_EQ(ar.history[0].role, GEN_SYSTEM);
    ASSERT_STR_EQ(ar.history[2].content, "a1");
    ASSERT(w.stream && w.include_usage);
    ASSERT_EQ(ar.max_tokens, 9);
    ASSERT_EQ(ar.query.top_k, 3);
    ASSERT_EQ(ar.query.mode, RAG_KEYWORD);
    answer_json_wire_free(&w);
    ASSERT_EQ(answer_json_chat_request(j, &lim, "other", &ar, &w, err, sizeof err), -ENOENT);
    ASSERT_CONTAINS(err, "'m' does not exist");
    answer_json_wire_free(&w);
    json_decref(j);
    j = json_loads("{\"messages\":[{\"role\":\"user\",\"content\":\"this is longer than ten\"}]}",
                   0, NULL);
    lim.max_query_bytes = 10;
    ASSERT_EQ(answer_json_chat_request(j, &lim, "m", &ar, &w, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "longer than 10 bytes");
    answer_json_wire_free(&w);
    json_decref(j);
}
