/* routes_answer: see routes_answer.h. A handler checks the request, then
 * hands it to a job thread: the job runs answer_run with a sink that either
 * gathers the text (a JSON answer at the end) or streams it (SSE from the
 * citations on). Errors before the stream starts are JSON errors with
 * their status; after it, an error event. */
#include "server/routes_answer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/server.h"
#include "server/routes_rag.h"
#include "util/buf.h"
#include "util/clock.h"

#define SSE_TYPE "text/event-stream"

typedef enum api { API_ANSWER, API_CHAT } api_t;

typedef struct job {
    routes_answer_opts_t *o;
    api_t api;
    http_server_t *srv;
    http_request_t *req; /* until answered */
    http_stream_t *st;   /* once streaming */
    json_t *body;        /* what ar points into */
    answer_request_t ar;
    answer_wire_t w;
    buf_t text; /* a whole answer's text */
    char id[48];
    double created;
    bool broken; /* a stream write failed: the client has gone */
} job_t;

/* ---- errors ----------------------------------------------------------------- */

/* ragd's {"error":{"code","message"}}; the chat API adds OpenAI's "type"
 * and "param" (clients read them). */
static json_t *error_body(api_t api, int status, const char *code, const char *msg)
{
    json_t *e = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (!e) e = json_pack("{s:s,s:s}", "code", code, "message", "invalid request");
    if (api == API_CHAT) {
        json_object_set_new(e, "type",
                            json_string(status == 429  ? "rate_limit_error"
                                        : status < 500 ? "invalid_request_error"
                                                       : "server_error"));
        json_object_set_new(e, "param", json_null());
    }
    return json_pack("{s:o}", "error", e);
}

static void respond_error(http_request_t *req, api_t api, int status, const char *code,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void respond_error(http_request_t *req, api_t api, int status, const char *code,
                          const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_respond_json(req, status, error_body(api, status, code, msg));
}

/* The status and code of answer_run's failure. */
static int failure_status(int rc, const answer_result_t *r, const char **code)
{
    if (r->reason == GEN_OK) return routes_rag_status(rc, code); /* retrieval */
    switch (rc) {
    case -ETIMEDOUT:
        *code = "generator_timeout";
        return 504;
    case -ENETDOWN:
        *code = "generator_unavailable";
        return 503;
    default:
        *code = "generator_error";
        return 502;
    }
}

/* ---- the sink ------------------------------------------------------------------ */

static int write_json_event(job_t *j, const char *event, json_t *data)
{
    char *s = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!s) return -ENOMEM;
    buf_t b = BUF_INIT;
    if (event) buf_printf(&b, "event: %s\n", event);
    buf_printf(&b, "data: %s\n\n", s);
    free(s);
    int rc = buf_error(&b) ? buf_error(&b) : http_stream_write(j->st, b.data, b.len);
    buf_free(&b);
    if (rc) j->broken = true;
    return rc;
}

static void on_citations(void *ctx, const answer_citation_t *c, size_t n)
{
    job_t *j = ctx;
    if (!j->w.stream) return;
    http_response_header(j->req, "Cache-Control", "no-cache");
    http_response_header(j->req, "X-Accel-Buffering", "no"); /* proxies: do not hold it back */
    j->st = http_stream_begin(j->req, 200, SSE_TYPE);
    j->req = NULL; /* answered: from here on, the stream */
    if (!j->st) {
        j->broken = true;
        return;
    }
    const char *model = answer_model(j->o->answerer);
    if (j->api == API_ANSWER) {
        write_json_event(
            j, "citations",
            json_pack("{s:o,s:s}", "citations", answer_json_citations(c, n), "model", model));
    } else {
        json_t *cit = answer_json_citations(c, n);
        write_json_event(j, NULL,
                         answer_json_chat_chunk(j->id, j->created, model, true, "", 0, NULL, cit));
        json_decref(cit);
    }
}

static int on_delta(void *ctx, const char *s, size_t n)
{
    job_t *j = ctx;
    if (!j->w.stream) {
        buf_append(&j->text, s, n);
        return buf_error(&j->text);
    }
    if (j->broken || !j->st) return -EPIPE;
    if (j->api == API_ANSWER)
        return write_json_event(j, "delta", json_pack("{s:s%}", "text", s, n));
    return write_json_event(j, NULL,
                            answer_json_chat_chunk(j->id, j->created, answer_model(j->o->answerer),
                                                   false, s, n, NULL, NULL));
}

static bool on_gone(void *ctx)
{
    job_t *j = ctx;
    if (j->broken) return true;
    return j->st ? http_stream_gone(j->st) : j->req ? http_request_gone(j->req) : false;
}

/* ---- the end of an answer ---------------------------------------------------------- */

static void finish_stream(job_t *j, int rc, const answer_result_t *r, const char *err)
{
    const char *model = answer_model(j->o->answerer);
    if (!j->broken && http_server_stopping(j->srv)) { /* cut short by the stop, not the client */
        write_json_event(j, j->api == API_ANSWER ? "error" : NULL,
                         error_body(j->api, 503, "shutting_down", "the server is shutting down"));
        return;
    }
    if (j->broken || r->outcome == ANSWER_CLIENT_GONE) return;
    if (rc) {
        const char *code;
        int status = failure_status(rc, r, &code);
        write_json_event(j, j->api == API_ANSWER ? "error" : NULL,
                         error_body(j->api, status, code, err));
        return;
    }
    if (j->api == API_ANSWER) {
        write_json_event(j, "done",
                         json_pack("{s:s,s:o,s:s,s:o}", "outcome",
                                   r->outcome == ANSWER_NO_CONTEXT ? "no_context" : "answered",
                                   "usage", answer_json_usage(r), "finish_reason", r->finish_reason,
                                   "timings_ms", answer_json_timings(r)));
        return;
    }
    write_json_event(j, NULL,
                     answer_json_chat_chunk(j->id, j->created, model, false, NULL, 0,
                                            r->finish_reason[0] ? r->finish_reason : "stop", NULL));
    json_t *u = j->w.include_usage ? answer_json_chat_usage(j->id, j->created, model, r) : NULL;
    if (u) write_json_event(j, NULL, u);
    if (!j->broken && http_stream_write(j->st, "data: [DONE]\n\n", 14)) j->broken = true;
}

static void finish_whole(job_t *j, int rc, const answer_result_t *r, const char *err)
{
    if (r->outcome == ANSWER_CLIENT_GONE && http_server_stopping(j->srv)) {
        respond_error(j->req, j->api, 503, "shutting_down", "the server is shutting down");
    } else if (r->outcome == ANSWER_CLIENT_GONE) { /* nobody reads it: counted as 499 */
        respond_error(j->req, j->api, 499, "client_closed_request", "the client went away");
    } else if (rc) {
        const char *code;
        int status = failure_status(rc, r, &code);
        respond_error(j->req, j->api, status, code, "%s", err[0] ? err : strerror(-rc));
    } else if (buf_error(&j->text)) {
        respond_error(j->req, j->api, 500, "internal", "out of memory");
    } else if (j->api == API_ANSWER) {
        http_respond_json(
            j->req, 200,
            answer_json_answer(j->text.data, j->text.len, r, answer_model(j->o->answerer)));
    } else {
        http_respond_json(j->req, 200,
                          answer_json_chat(j->id, j->created, answer_model(j->o->answerer),
                                           j->text.data, j->text.len, r));
    }
    j->req = NULL;
}

static void job_free(job_t *j)
{
    answer_json_wire_free(&j->w);
    json_decref(j->body);
    buf_free(&j->text);
    free(j);
}

static void *job_main(void *arg)
{
    job_t *j = arg;
    routes_answer_opts_t *o = j->o;
    answer_result_t r;
    char err[512] = "";
    int rc = answer_run(o->answerer, &j->ar, &(answer_sink_t){on_citations, on_delta, on_gone, j},
                        &r, err, sizeof err);
    if (j->st) {
        finish_stream(j, rc, &r, err);
        http_stream_end(j->st);
    } else if (j->req) {
        finish_whole(j, rc, &r, err);
    }
    answer_result_release(&r);
    job_free(j);
    atomic_fetch_sub(&o->running, 1);
    return NULL;
}

/* ---- handlers ------------------------------------------------------------------------ */

/* Parses and checks the request, then hands it to a job thread. */
static void start(http_request_t *req, routes_answer_opts_t *o, api_t api)
{
    char err[512] = "";
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        respond_error(req, api, 500, "internal", "out of memory");
        return;
    }
    j->o = o;
    j->api = api;
    j->req = req;
    j->srv = http_request_server(req);
    j->created = clock_epoch();
    buf_init(&j->text, 0);
    answer_json_chat_id(j->id, sizeof j->id);
    if (http_request_json(req, &j->body, err, sizeof err)) {
        respond_error(req, api, 400, "invalid_json", "%s", err);
        job_free(j);
        return;
    }
    int rc = api == API_ANSWER
                 ? answer_json_request(j->body, &o->lim, &j->ar, &j->w, err, sizeof err)
                 : answer_json_chat_request(j->body, &o->lim, answer_model(o->answerer), &j->ar,
                                            &j->w, err, sizeof err);
    if (rc) {
        if (rc == -ENOENT)
            respond_error(req, api, 404, "model_not_found", "%s", err);
        else
            respond_error(req, api, 400, "invalid_field", "%s", err);
        job_free(j);
        return;
    }
    if (atomic_fetch_add(&o->running, 1) >= o->max_concurrent) {
        atomic_fetch_sub(&o->running, 1);
        http_response_header(req, "Retry-After", "1");
        respond_error(req, api, 503, "busy", "%u answers are being written; try again shortly",
                      o->max_concurrent);
        job_free(j);
        return;
    }
    if ((rc = http_request_spawn(req, job_main, j)) != 0) {
        atomic_fetch_sub(&o->running, 1);
        respond_error(req, api, 503, "busy", "cannot start an answer: %s", strerror(-rc));
        job_free(j);
    }
}

static void h_answer(http_request_t *req, void *ctx)
{
    start(req, ctx, API_ANSWER);
}

static void h_chat(http_request_t *req, void *ctx)
{
    start(req, ctx, API_CHAT);
}

static void h_models(http_request_t *req, void *ctx)
{
    routes_answer_opts_t *o = ctx;
    http_respond_json(req, 200, answer_json_models(answer_model(o->answerer), o->started));
}

int routes_answer_add(http_router_t *r, routes_answer_opts_t *o)
{
    int rc = http_router_add(r, HTTP_POST, "/v1/answer", h_answer, o, 0, 200);
    if (!rc) rc = http_router_add(r, HTTP_POST, "/v1/chat/completions", h_chat, o, 0, 200);
    if (!rc) rc = http_router_add(r, HTTP_GET, "/v1/models", h_models, o, 0, 200);
    return rc;
}

unsigned routes_answer_wait(routes_answer_opts_t *o, double timeout_s)
{
    double end = clock_now() + timeout_s;
    while (atomic_load(&o->running) > 0 && clock_now() < end) clock_sleep(0.01);
    return atomic_load(&o->running);
}
