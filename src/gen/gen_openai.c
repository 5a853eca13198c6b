/* The openai generator: any OpenAI-compatible POST /v1/chat/completions
 * server, always streamed from upstream (so the first token is seen when
 * it comes, whether or not ragd's client streams):
 *   {"model", "messages", "stream": true,
 *    "stream_options": {"include_usage": true}, "max_tokens"?, "temperature"?}
 * Each SSE event's choices[0].delta.content goes to the sink; usage comes
 * from the server's usage chunk when it sends one, else the completion is
 * counted one token per content chunk (what the OpenTelemetry conventions
 * ask when a server streams token by token) and the prompt is not counted.
 *
 * The call waits in ticks (GEN_TICK_S) on a multi handle, so between two
 * pieces of the stream it checks the sink's gone function and its
 * deadlines: connect (libcurl's), first token, and total. Before the first
 * token a connection error, a 429 or a 5xx is retried with backoff (and
 * Retry-After); after it, nothing is retried (the client has part of an
 * answer). A stream that ends without "[DONE]" or a finish_reason was cut. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/sse.h"
#include "util/upstream.h"

#define EVENT_MAX     ((size_t)1 << 20) /* one SSE line or event */
#define ERR_BODY_MAX  4096              /* kept of an error answer */
#define PROBE_TIMEOUT 2.0

typedef struct openai_gen {
    generator_t base;
    upstream_t up;
    char models_url[UPSTREAM_URL_MAX];
    gen_openai_opts_t o; /* numbers only: the strings are copied above */
} openai_gen_t;

/* One attempt's state, seen by libcurl's callbacks. */
typedef struct call {
    CURL *c;
    sse_t sse;
    const gen_sink_t *sink;
    gen_result_t *out;
    double t0;      /* the whole call's start */
    long status;    /* of this attempt, once known */
    buf_t err_body; /* a non-200 answer's body */
    bool got_text, done, stop;
    long chunks; /* content chunks: the completion's tokens when usage is absent */
    gen_reason_t fail;
    char msg[600];
} call_t;

static int fail(call_t *k, gen_reason_t r, const char *fmt, const char *detail)
{
    k->fail = r;
    snprintf(k->msg, sizeof k->msg, fmt, detail);
    return 1;
}

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
    call_t *k = ctx;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        k->done = true;
        return 0;
    }
    json_error_t je;
    json_t *j = json_loadb(data, len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return fail(k, GEN_MALFORMED, "malformed stream event: %s", j ? "not an object" : je.text);
    }
    int rc = 0;
    json_t *e = json_object_get(j, "error");
    if (e) {
        const char *m = json_string_value(json_object_get(e, "message"));
        rc = fail(k, GEN_HTTP_5XX, "the server reported an error mid-stream: %s",
                  m                      ? m
                  : json_string_value(e) ? json_string_value(e)
                                         : "(no message)");
        goto out;
    }
    json_t *usage = json_object_get(j, "usage");
    if (json_is_object(usage)) {
        json_t *p = json_object_get(usage, "prompt_tokens"),
               *c = json_object_get(usage, "completion_tokens");
        if (json_is_integer(p)) k->out->prompt_tokens = (long)json_integer_value(p);
        if (json_is_integer(c)) k->out->completion_tokens = (long)json_integer_value(c);
    }
    json_t *choices = json_object_get(j, "choices");
    if (!json_is_array(choices)) {
        if (!json_is_object(usage))
            rc = fail(k, GEN_MALFORMED, "malformed stream event: %s", "no choices");
        goto out;
    }
    json_t *ch = json_array_get(choices, 0);
    if (!ch) goto out; /* the usage chunk has none */
    json_t *delta = json_object_get(ch, "delta"), *fr = json_object_get(ch, "finish_reason");
    json_t *content = json_object_get(delta, "content");
    if (!json_is_object(delta) || (content && !json_is_string(content) && !json_is_null(content))) {
        rc = fail(k, GEN_MALFORMED, "malformed stream event: %s",
                  "choices[0].delta is not a message delta");
        goto out;
    }
    if (json_is_string(fr))
        snprintf(k->out->finish_reason, sizeof k->out->finish_reason, "%s", json_string_value(fr));
    if (json_is_string(content) && json_string_length(content)) {
        if (!k->got_text) k->out->first_token_s = clock_now() - k->t0;
        k->got_text = true;
        k->chunks++;
        if (k->sink->delta(k->sink->ctx, json_string_value(content), json_string_length(content))) {
            k->stop = true;
            rc = fail(k, GEN_CANCELLED, "%s", "cancelled: the client went away");
        }
    }
out:
    json_decref(j);
    return rc;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    call_t *k = ctx;
    size_t len = size * n;
    if (!k->status) curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &k->status);
    if (k->status != 200) {
        size_t room = ERR_BODY_MAX - k->err_body.len;
        buf_append(&k->err_body, p, len < room ? len : room);
        return len;
    }
    int rc = sse_feed(&k->sse, p, len);
    if (rc < 0 && !k->fail) fail(k, GEN_MALFORMED, "malformed stream: %s", strerror(-rc));
    return rc ? 0 : len; /* 0 stops the transfer */
}

static char *request_body(const openai_gen_t *g, const gen_request_t *req)
{
    json_t *msgs = json_array();
    for (size_t i = 0; i < req->nmsgs; i++)
        json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", gen_role_name(req->msgs[i].role),
                                              "content", req->msgs[i].content));
    json_t *j = json_pack("{s:s,s:o,s:b,s:{s:b}}", "model", g->base.model, "messages", msgs,
                          "stream", 1, "stream_options", "include_usage", 1);
    unsigned max = req->max_tokens ? req->max_tokens : g->o.max_tokens;
    if (j && max) json_object_set_new(j, "max_tokens", json_integer(max));
    if (j && req->temperature >= 0)
        json_object_set_new(j, "temperature", json_real(req->temperature));
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* The message of an error answer: its error.message, or the body. */
static void error_answer(call_t *k, const char *url)
{
    json_t *j = json_loadb(k->err_body.data ? k->err_body.data : "", k->err_body.len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    if (!m) m = json_string_value(e);
    snprintf(k->msg, sizeof k->msg, "%s answered HTTP %ld: %.160s", url, k->status,
             m                  ? m
             : k->err_body.data ? k->err_body.data
                                : "");
    json_decref(j);
    k->fail = k->status == 429 ? GEN_RATE_LIMITED : k->status >= 500 ? GEN_HTTP_5XX : GEN_HTTP_4XX;
}

/* One request. Returns when it ends, fails, or the sink or a deadline
 * stops it; k->fail says how it went (GEN_OK: a whole stream). */
static void attempt(openai_gen_t *g, call_t *k, const char *body, struct curl_slist *h,
                    double *retry_after)
{
    CURLM *m = upstream_take_multi(&g->up);
    CURL *c = upstream_take(&g->up);
    char cerr[CURL_ERROR_SIZE] = "";
    if (!m || !c) {
        upstream_give(&g->up, c);
        upstream_give_multi(&g->up, m);
        k->fail = GEN_CONNECT;
        snprintf(k->msg, sizeof k->msg, "out of memory");
        return;
    }
    k->c = c;
    curl_easy_setopt(c, CURLOPT_URL, g->up.url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, upstream_header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, retry_after);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(g->o.connect_timeout_s * 1000));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(m, c);
    double start = clock_now();
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (!running || k->fail) break;
        double now = clock_now();
        if (k->sink->gone && k->sink->gone(k->sink->ctx)) {
            fail(k, GEN_CANCELLED, "%s", "cancelled: the client went away");
            break;
        }
        if (!k->got_text && now - start > g->o.first_token_timeout_s) {
            snprintf(k->msg, sizeof k->msg, "%s sent no token in %.1f s", g->up.url,
                     g->o.first_token_timeout_s);
            k->fail = GEN_FIRST_TOKEN_TIMEOUT;
            break;
        }
        if (now - k->t0 > g->o.timeout_s) {
            snprintf(k->msg, sizeof k->msg, "%s did not finish in %.1f s", g->up.url,
                     g->o.timeout_s);
            k->fail = GEN_TIMEOUT;
            break;
        }
        curl_multi_poll(m, NULL, 0, (int)(GEN_TICK_S * 1000), NULL);
    }
    CURLcode cc = CURLE_OK;
    int left;
    for (CURLMsg *msg; (msg = curl_multi_info_read(m, &left)) != NULL;)
        if (msg->msg == CURLMSG_DONE) cc = msg->data.result;
    if (!k->status) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &k->status);
    curl_multi_remove_handle(m, c);
    upstream_give(&g->up, c);
    upstream_give_multi(&g->up, m);
    if (k->fail) return;
    if (k->status && k->status != 200) {
        error_answer(k, g->up.url);
    } else if (cc != CURLE_OK && !k->status) {
        k->fail = GEN_CONNECT;
        snprintf(k->msg, sizeof k->msg, "%.300s: %.256s", g->up.url,
                 cerr[0] ? cerr : curl_easy_strerror(cc));
    } else if (cc != CURLE_OK || (!k->done && !k->out->finish_reason[0])) {
        k->fail = GEN_STREAM_CUT;
        snprintf(k->msg, sizeof k->msg, "%s: the stream ended before its end%s%s", g->up.url,
                 cc != CURLE_OK ? ": " : "", cc != CURLE_OK ? curl_easy_strerror(cc) : "");
    }
}

static bool retryable(const call_t *k)
{
    return !k->got_text &&
           (k->fail == GEN_CONNECT || k->fail == GEN_RATE_LIMITED || k->fail == GEN_HTTP_5XX);
}

/* Waits s seconds in ticks, watching the sink; false when it says gone. */
static bool wait_watching(const gen_sink_t *sink, double s)
{
    double end = clock_now() + s;
    for (double now; (now = clock_now()) < end;) {
        if (sink->gone && sink->gone(sink->ctx)) return false;
        clock_sleep(end - now < GEN_TICK_S ? end - now : GEN_TICK_S);
    }
    return true;
}

static int openai_generate(generator_t *base, const gen_request_t *req, const gen_sink_t *sink,
                           gen_result_t *out, char *err, size_t errlen)
{
    openai_gen_t *g = (openai_gen_t *)base;
    char *body = request_body(g, req);
    if (!body) return -ENOMEM;
    struct curl_slist *h = upstream_headers(&g->up);
    call_t k = {.sink = sink, .out = out, .t0 = clock_now()};
    buf_init(&k.err_body, ERR_BODY_MAX + 1);
    for (unsigned a = 0;; a++) {
        double retry_after = -1;
        sse_init(&k.sse, EVENT_MAX, on_event, &k);
        k.status = 0;
        k.fail = GEN_OK;
        k.done = false;
        buf_reset(&k.err_body);
        out->attempts = a + 1;
        attempt(g, &k, body, h, &retry_after);
        sse_free(&k.sse);
        if (!retryable(&k) || a >= g->o.retries) break;
        double wait = upstream_backoff(a, retry_after);
        if (clock_now() + wait - k.t0 > g->o.timeout_s) break;
        if (!wait_watching(sink, wait)) {
            fail(&k, GEN_CANCELLED, "%s", "cancelled: the client went away");
            break;
        }
    }
    buf_free(&k.err_body);
    curl_slist_free_all(h);
    free(body);
    if (out->completion_tokens < 0 && k.got_text) out->completion_tokens = k.chunks;
    out->reason = k.fail;
    if (k.fail == GEN_OK) return 0;
    snprintf(err, errlen, "%s", k.msg);
    switch (k.fail) {
    case GEN_CANCELLED:
        return -ECANCELED;
    case GEN_TIMEOUT:
    case GEN_FIRST_TOKEN_TIMEOUT:
        return -ETIMEDOUT;
    case GEN_CONNECT:
        return -ENETDOWN;
    case GEN_MALFORMED:
    case GEN_STREAM_CUT:
        return -EPROTO;
    default:
        return -EIO;
    }
}

static int openai_probe(generator_t *base, char *err, size_t errlen)
{
    openai_gen_t *g = (openai_gen_t *)base;
    CURL *c = upstream_take(&g->up);
    if (!c) return -ENOMEM;
    struct curl_slist *h = upstream_headers(&g->up);
    buf_t body;
    buf_init(&body, ERR_BODY_MAX);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, g->models_url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(PROBE_TIMEOUT * 1000));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    if (cc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    upstream_give(&g->up, c);
    curl_slist_free_all(h);
    buf_free(&body);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", g->models_url, cerr[0] ? cerr : curl_easy_strerror(cc));
        return -ENETDOWN;
    }
    if (status != 200) {
        snprintf(err, errlen, "%s answered HTTP %ld", g->models_url, status);
        return -EIO;
    }
    return 0;
}

static void openai_destroy(generator_t *base)
{
    openai_gen_t *g = (openai_gen_t *)base;
    upstream_free(&g->up);
    free(g);
}

int gen_openai_new(generator_t **out, const gen_openai_opts_t *o)
{
    *out = NULL;
    if (!o->url || !*o->url || !o->model || !*o->model || strlen(o->model) >= GEN_MODEL_MAX)
        return -EINVAL;
    openai_gen_t *g = calloc(1, sizeof *g);
    if (!g) return -ENOMEM;
    int rc = upstream_init(&g->up, o->url, "/v1/chat/completions", "/chat/completions", o->api_key);
    if (rc) {
        free(g);
        return rc;
    }
    /* the models list beside the endpoint: …/chat/completions -> …/models */
    size_t n = strlen(g->up.url) - strlen("/chat/completions");
    snprintf(g->models_url, sizeof g->models_url, "%.*s/models", (int)n, g->up.url);
    g->o = *o;
    g->o.url = g->o.model = g->o.api_key = NULL;
    if (g->o.connect_timeout_s <= 0) g->o.connect_timeout_s = 5;
    if (g->o.first_token_timeout_s <= 0) g->o.first_token_timeout_s = 30;
    if (g->o.timeout_s <= 0) g->o.timeout_s = 300;
    g->base.provider = "openai";
    snprintf(g->base.model, sizeof g->base.model, "%s", o->model);
    g->base.generate = openai_generate;
    g->base.probe = openai_probe;
    g->base.destroy = openai_destroy;
    *out = &g->base;
    return 0;
}
