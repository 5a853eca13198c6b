/* answer: the answering pipeline and the metrics of generation (see
 * answer.h). */
#include "answer/answer.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rag/text.h"
#include "util/clock.h"

#define OPERATION "chat" /* gen_ai.operation.name */

const char answer_no_context_text[] =
    "No indexed document matches this question, so there is nothing to answer from.";

struct answerer {
    rag_t *rag;
    generator_t *gen;
    char *template;
    size_t context_tokens;
    unsigned max_tokens;
    health_t *health;
    atomic_bool gen_failed;
    struct {
        metrics_family_t *client_dur, *client_tokens, *server_dur;
        metrics_child_t *ttft, *tpot, *client_ok, *server_ok, *tokens_in, *tokens_out;
        metrics_child_t *outcomes[ANSWER_OUTCOME_COUNT], *errors[GEN_REASON_COUNT];
        metrics_child_t *ctx_chunks, *ctx_tokens, *out_rate;
    } m;
};

/* OpenTelemetry's advised bounds. */
static const double DURATION_BUCKETS[] = {0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                          1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
static const double TOKEN_BUCKETS[] = {1,     4,     16,     64,      256,     1024,     4096,
                                       16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
static const double TTFT_BUCKETS[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                      0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0};
static const double TPOT_BUCKETS[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                      0.3,  0.4,   0.5,  0.75,  1.0, 2.5};
/* ragd's own. */
static const double CHUNK_BUCKETS[] = {0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 100};
static const double CTX_TOKEN_BUCKETS[] = {64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
static const double RATE_BUCKETS[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};

static const char *const outcome_names[ANSWER_OUTCOME_COUNT] = {"answered", "no_context", "error",
                                                                "client_gone"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int register_metrics(answerer_t *a, metrics_registry_t *reg, char *err, size_t errlen)
{
    static const char *const client_l[] = {"gen_ai_operation_name", "gen_ai_provider_name",
                                           "gen_ai_request_model", "error_type"};
    static const char *const token_l[] = {"gen_ai_operation_name", "gen_ai_provider_name",
                                          "gen_ai_request_model", "gen_ai_token_type"};
    static const char *const server_l[] = {"gen_ai_operation_name", "gen_ai_request_model",
                                           "error_type"};
    static const char *const model_l[] = {"gen_ai_operation_name", "gen_ai_request_model"};
    static const char *const outcome_l[] = {"outcome"}, *const reason_l[] = {"reason"};
    metrics_family_t *ttft, *tpot, *outcomes, *errors;
    const metrics_def_t defs[] = {
        {{.type = METRICS_HISTOGRAM,
          .name = "gen_ai_client_operation_duration_seconds",
          .help = "Duration of one generator call (ragd as the model server's client), in seconds.",
          .labels = client_l,
          .nlabels = 4,
          .buckets = DURATION_BUCKETS,
          .nbuckets = N(DURATION_BUCKETS)},
         &a->m.client_dur,
         NULL},
        {{.type = METRICS_HISTOGRAM,
          .name = "gen_ai_client_token_usage",
          .help = "Tokens of one generator call, by type (input, output).",
          .labels = token_l,
          .nlabels = 4,
          .buckets = TOKEN_BUCKETS,
          .nbuckets = N(TOKEN_BUCKETS)},
         &a->m.client_tokens,
         NULL},
        {{.type = METRICS_HISTOGRAM,
          .name = "gen_ai_server_request_duration_seconds",
          .help = "Duration of one answer, retrieval to last token, in seconds.",
          .labels = server_l,
          .nlabels = 3,
          .buckets = DURATION_BUCKETS,
          .nbuckets = N(DURATION_BUCKETS)},
         &a->m.server_dur,
         NULL},
        {{.type = METRICS_HISTOGRAM,
          .name = "gen_ai_server_time_to_first_token_seconds",
          .help =
              "Time from an answer's request to its first token, retrieval included, in seconds.",
          .labels = model_l,
          .nlabels = 2,
          .buckets = TTFT_BUCKETS,
          .nbuckets = N(TTFT_BUCKETS)},
         &ttft,
         NULL},
        {{.type = METRICS_HISTOGRAM,
          .name = "gen_ai_server_time_per_output_token_seconds",
          .help = "Time per output token after the first, per answer, in seconds.",
          .labels = model_l,
          .nlabels = 2,
          .buckets = TPOT_BUCKETS,
          .nbuckets = N(TPOT_BUCKETS)},
         &tpot,
         NULL},
        {{.type = METRICS_COUNTER,
          .name = "ragd_answers_total",
          .help = "Answers by outcome: answered, no_context, error, client_gone.",
          .labels = outcome_l,
          .nlabels = 1},
         &outcomes,
         NULL},
        {{.type = METRICS_COUNTER,
          .name = "ragd_generator_errors_total",
          .help = "Failed generator calls by reason.",
          .labels = reason_l,
          .nlabels = 1},
         &errors,
         NULL},
        {{.type = METRICS_HISTOGRAM,
          .name = "ragd_answer_context_chunks",
          .help = "Context passages given to the generator per answer.",
          .buckets = CHUNK_BUCKETS,
          .nbuckets = N(CHUNK_BUCKETS)},
         NULL,
         &a->m.ctx_chunks},
        {{.type = METRICS_HISTOGRAM,
          .name = "ragd_answer_context_tokens",
          .help = "Tokens of context given to the generator per answer.",
          .buckets = CTX_TOKEN_BUCKETS,
          .nbuckets = N(CTX_TOKEN_BUCKETS)},
         NULL,
         &a->m.ctx_tokens},
        {{.type = METRICS_HISTOGRAM,
          .name = "ragd_answer_output_tokens_per_second",
          .help = "Output tokens per second of one answer, after its first token.",
          .buckets = RATE_BUCKETS,
          .nbuckets = N(RATE_BUCKETS)},
         NULL,
         &a->m.out_rate},
    };
    int rc = metrics_register_all(reg, defs, N(defs), err, errlen);
    if (rc) return rc;
    const char *p = a->gen->provider, *model = a->gen->model;
    /* the series a dashboard reads exist at zero from the start */
    a->m.ttft = metrics_family_child(ttft, (const char *[]){OPERATION, model});
    a->m.tpot = metrics_family_child(tpot, (const char *[]){OPERATION, model});
    a->m.client_ok =
        metrics_family_child(a->m.client_dur, (const char *[]){OPERATION, p, model, ""});
    a->m.server_ok = metrics_family_child(a->m.server_dur, (const char *[]){OPERATION, model, ""});
    a->m.tokens_in =
        metrics_family_child(a->m.client_tokens, (const char *[]){OPERATION, p, model, "input"});
    a->m.tokens_out =
        metrics_family_child(a->m.client_tokens, (const char *[]){OPERATION, p, model, "output"});
    for (int i = 0; i < ANSWER_OUTCOME_COUNT; i++)
        a->m.outcomes[i] = metrics_family_child(outcomes, (const char *[]){outcome_names[i]});
    for (int i = 1; i < GEN_REASON_COUNT; i++) /* a client leaving is no generator error */
        if (i != GEN_CANCELLED)
            a->m.errors[i] =
                metrics_family_child(errors, (const char *[]){gen_reason_name((gen_reason_t)i)});
    return 0;
}

int answer_new(answerer_t **out, const answer_opts_t *o, char *err, size_t errlen)
{
    *out = NULL;
    generator_t *gen = o->gen;
    const char *t = o->template ? o->template : answer_default_template;
    if (!strstr(t, "{context}")) {
        gen_free(&gen);
        snprintf(err, errlen, "the prompt template has no {context}");
        return -EINVAL;
    }
    answerer_t *a = calloc(1, sizeof *a);
    if (!a || !(a->template = strdup(t))) {
        free(a);
        gen_free(&gen);
        return -ENOMEM;
    }
    a->rag = o->rag;
    a->gen = gen;
    a->context_tokens = o->context_tokens ? o->context_tokens : ANSWER_DEFAULT_CONTEXT_TOKENS;
    a->max_tokens = o->max_tokens;
    /* a remote generator is probed by the first health check */
    atomic_init(&a->gen_failed, strcmp(gen->provider, "extractive") != 0);
    char why[256] = "";
    int rc = register_metrics(a, o->reg, why, sizeof why);
    if (rc) {
        snprintf(err, errlen, "metrics: %s", why);
        answer_free(&a);
        return rc;
    }
    *out = a;
    return 0;
}

void answer_free(answerer_t **ap)
{
    answerer_t *a = ap ? *ap : NULL;
    if (!a) return;
    gen_free(&a->gen);
    free(a->template);
    free(a);
    *ap = NULL;
}

const char *answer_model(const answerer_t *a)
{
    return a->gen->model;
}

void answer_result_release(answer_result_t *r)
{
    free(r->citations);
    r->citations = NULL;
    result_unref(&r->results);
}

/* The generator's sink, between answer_run and the caller's. */
typedef struct relay {
    const answer_sink_t *sink;
    double t0, first;
} relay_t;

static int relay_delta(void *ctx, const char *s, size_t n)
{
    relay_t *r = ctx;
    if (r->first < 0) r->first = clock_now();
    return r->sink->delta(r->sink->ctx, s, n);
}

static bool relay_gone(void *ctx)
{
    relay_t *r = ctx;
    return r->sink->gone && r->sink->gone(r->sink->ctx);
}

/* The figures of one answer, whatever its outcome. */
static void observe(answerer_t *a, const answer_result_t *res, const gen_result_t *g, bool called,
                    double t0, double first)
{
    metrics_counter_inc(a->m.outcomes[res->outcome]);
    const char *model = a->gen->model;
    const char *etype = res->outcome == ANSWER_ERROR ? gen_reason_name(res->reason) : "";
    if (res->outcome == ANSWER_ERROR && !called) etype = "retrieval";
    metrics_histogram_observe(
        etype[0] ? metrics_family_child(a->m.server_dur, (const char *[]){OPERATION, model, etype})
                 : a->m.server_ok,
        res->total_ms / 1000);
    if (first >= 0) metrics_histogram_observe(a->m.ttft, first - t0);
    if (!called) return;
    metrics_histogram_observe(a->m.ctx_chunks, (double)res->ncitations);
    const char *gtype = gen_reason_name(g->reason);
    metrics_histogram_observe(
        gtype[0] ? metrics_family_child(a->m.client_dur,
                                        (const char *[]){OPERATION, a->gen->provider, model, gtype})
                 : a->m.client_ok,
        g->duration_s);
    /* a client that left is not the generator's failure */
    if (g->reason != GEN_OK && g->reason != GEN_CANCELLED && g->reason < GEN_REASON_COUNT)
        metrics_counter_inc(a->m.errors[g->reason]);
    if (g->prompt_tokens >= 0) metrics_histogram_observe(a->m.tokens_in, (double)g->prompt_tokens);
    if (g->completion_tokens >= 0)
        metrics_histogram_observe(a->m.tokens_out, (double)g->completion_tokens);
    double after_first = first >= 0 ? t0 + res->total_ms / 1000 - first : 0;
    if (g->reason == GEN_OK && g->completion_tokens > 1 && after_first > 0) {
        metrics_histogram_observe(a->m.tpot, after_first / (double)(g->completion_tokens - 1));
        metrics_histogram_observe(a->m.out_rate, (double)(g->completion_tokens - 1) / after_first);
    }
}

/* Generation's effect on the component's health: a backend failure marks
 * it unhealthy at once; a success after one clears it. */
static void note_health(answerer_t *a, const gen_result_t *g, const char *err)
{
    bool down = g->reason == GEN_CONNECT || g->reason == GEN_HTTP_5XX || g->reason == GEN_TIMEOUT ||
                g->reason == GEN_FIRST_TOKEN_TIMEOUT;
    if (down) {
        atomic_store(&a->gen_failed, true);
        if (a->health) health_set(a->health, "generator", HEALTH_UNHEALTHY, err);
    } else if (g->reason == GEN_OK && atomic_exchange(&a->gen_failed, false) && a->health) {
        health_set(a->health, "generator", HEALTH_HEALTHY, NULL);
    }
}

int answer_run(answerer_t *a, const answer_request_t *req, const answer_sink_t *sink,
               answer_result_t *out, char *err, size_t errlen)
{
    *out = (answer_result_t){.prompt_tokens = -1, .completion_tokens = -1, .first_token_ms = -1};
    double t0 = clock_now();
    relay_t relay = {sink, t0, -1};
    gen_result_t g = {.reason = GEN_OK, .prompt_tokens = -1, .completion_tokens = -1};
    bool called = false;
    rag_answer_t ra;
    int rc = rag_query(a->rag, &req->query, &ra, err, errlen);
    out->retrieval_ms = (clock_now() - t0) * 1000;
    if (rc) {
        out->outcome = ANSWER_ERROR;
        goto done;
    }
    out->results = ra.results; /* the reference passes to out */
    size_t n = out->results ? out->results->n : 0;
    gen_passage_t *pass = calloc(n ? n : 1, sizeof *pass);
    out->citations = calloc(n ? n : 1, sizeof *out->citations);
    if (!pass || !out->citations) {
        free(pass);
        out->outcome = ANSWER_ERROR;
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const result_hit_t *h = &out->results->hits[i];
        pass[i] = (gen_passage_t){h->title, h->section, h->text, h->text_len};
    }
    char *system = NULL;
    size_t ctx_tokens = 0;
    size_t used =
        n ? answer_prompt(a->template, pass, n, a->context_tokens, &system, &ctx_tokens) : 0;
    if (n && !system) {
        free(pass);
        out->outcome = ANSWER_ERROR;
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < used; i++) {
        const result_hit_t *h = &out->results->hits[i];
        out->citations[i] = (answer_citation_t){(unsigned)(i + 1), h->document_id, h->title,
                                                h->section, h->chunk_index};
    }
    out->ncitations = used;
    if (sink->citations) sink->citations(sink->ctx, out->citations, used);
    if (used == 0) { /* nothing to answer from: say so, ask nobody */
        relay.first = clock_now();
        out->outcome =
            sink->delta(sink->ctx, answer_no_context_text, strlen(answer_no_context_text))
                ? ANSWER_CLIENT_GONE
                : ANSWER_NO_CONTEXT;
        snprintf(out->finish_reason, sizeof out->finish_reason, "stop");
        free(pass);
        goto done;
    }
    gen_msg_t msgs[ANSWER_HISTORY_MAX + 2];
    size_t nm = 0;
    msgs[nm++] = (gen_msg_t){GEN_SYSTEM, system};
    size_t skip = req->nhistory > ANSWER_HISTORY_MAX ? req->nhistory - ANSWER_HISTORY_MAX : 0;
    for (size_t i = skip; i < req->nhistory; i++) msgs[nm++] = req->history[i];
    msgs[nm++] = (gen_msg_t){GEN_USER, req->query.text};
    gen_request_t gr = {.question = req->query.text,
                        .passages = pass,
                        .npassages = used,
                        .msgs = msgs,
                        .nmsgs = nm,
                        .max_tokens = req->max_tokens ? req->max_tokens : a->max_tokens,
                        .temperature = req->temperature};
    double tg = clock_now();
    called = true;
    rc = gen_generate(a->gen, &gr, &(gen_sink_t){relay_delta, relay_gone, &relay}, &g, err, errlen);
    out->generation_ms = (clock_now() - tg) * 1000;
    free(system);
    free(pass);
    metrics_histogram_observe(a->m.ctx_tokens, (double)ctx_tokens);
    out->prompt_tokens = g.prompt_tokens;
    out->completion_tokens = g.completion_tokens;
    out->reason = g.reason;
    snprintf(out->finish_reason, sizeof out->finish_reason, "%s", g.finish_reason);
    out->outcome = rc == 0                                  ? ANSWER_ANSWERED
                   : rc == -ECANCELED || relay_gone(&relay) ? ANSWER_CLIENT_GONE
                                                            : ANSWER_ERROR;
    note_health(a, &g, err);
done:
    out->total_ms = (clock_now() - t0) * 1000;
    if (relay.first >= 0) out->first_token_ms = (relay.first - t0) * 1000;
    observe(a, out, &g, called, t0, relay.first);
    return rc;
}

static health_state_t check_generator(void *ctx, char *detail, size_t n)
{
    answerer_t *a = ctx;
    if (!atomic_load(&a->gen_failed)) return HEALTH_HEALTHY;
    if (a->gen->probe(a->gen, detail, n) == 0) {
        atomic_store(&a->gen_failed, false);
        return HEALTH_HEALTHY;
    }
    return HEALTH_UNHEALTHY;
}

int answer_add_health(answerer_t *a, health_t *h)
{
    a->health = h;
    return health_add(h, "generator", check_generator, a, false);
}
