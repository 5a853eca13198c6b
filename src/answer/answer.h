/* answer: a question in, an answer with citations out: retrieval (rag),
 * the prompt with the numbered context (prompt.c), the generator (gen), and
 * the metrics and health of generation.
 *
 * The answer streams to a sink: the citations first (the context passages,
 * numbered as the prompt numbers them), then the text as it comes. A
 * question with no retrieved context is answered so, without asking the
 * generator to invent one (outcome no_context).
 *
 * Metrics (OpenTelemetry GenAI conventions in Prometheus naming, labels
 * from configuration only):
 *   gen_ai_client_operation_duration_seconds  one generator call (ragd as
 *       the model server's client), by operation, provider, model, error_type
 *   gen_ai_client_token_usage                 tokens of a call, by token type
 *   gen_ai_server_request_duration_seconds    one answer (ragd as a GenAI
 *       server to its clients), retrieval included
 *   gen_ai_server_time_to_first_token_seconds request to first token
 *   gen_ai_server_time_per_output_token_seconds  after the first
 * and ragd's own:
 *   ragd_answers_total{outcome}   answered, no_context, error, client_gone
 *   ragd_generator_errors_total{reason}   gen.h's reasons
 *   ragd_answer_context_chunks, ragd_answer_context_tokens   per answer
 *   ragd_answer_output_tokens_per_second   per answer, after the first token
 *
 * Errors: rag_query's codes (retrieval), then gen.h's (generation). */
#ifndef RAGD_ANSWER_H
#define RAGD_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/health.h"
#include "gen/gen.h"
#include "metrics/metrics.h"
#include "rag/rag.h"

#define ANSWER_DEFAULT_CONTEXT_TOKENS 2048
#define ANSWER_HISTORY_MAX            32 /* earlier messages a chat may carry */

typedef struct answerer answerer_t;

typedef struct answer_opts {
    rag_t *rag;
    generator_t *gen;      /* owned from answer_new on, even on failure */
    const char *template;  /* system prompt with one "{context}"; NULL: the default */
    size_t context_tokens; /* budget of the numbered context */
    unsigned max_tokens;   /* an answer's length when a request gives none; 0: the generator's */
    metrics_registry_t *reg;
} answer_opts_t;

typedef enum answer_outcome {
    ANSWER_ANSWERED,
    ANSWER_NO_CONTEXT,
    ANSWER_ERROR,
    ANSWER_CLIENT_GONE,
    ANSWER_OUTCOME_COUNT
} answer_outcome_t;

typedef struct answer_citation {
    unsigned n; /* the [n] of the prompt and the answer */
    const char *document_id, *title, *section;
    int64_t chunk_index;
} answer_citation_t;

typedef struct answer_request {
    rag_query_t query;        /* retrieval; its text is the question */
    const gen_msg_t *history; /* earlier turns of a chat (user, assistant), oldest first */
    size_t nhistory;
    unsigned max_tokens; /* 0: the generator's default */
    double temperature;  /* < 0: the generator's default */
} answer_request_t;

typedef struct answer_sink {
    /* The citations, once, before any text (may be NULL). */
    void (*citations)(void *ctx, const answer_citation_t *c, size_t n);
    /* A piece of text; non-zero: the client cannot take more (gone). */
    int (*delta)(void *ctx, const char *text, size_t len);
    /* True when the client has gone (may be NULL). */
    bool (*gone)(void *ctx);
    void *ctx;
} answer_sink_t;

typedef struct answer_result {
    answer_outcome_t outcome;
    answer_citation_t *citations; /* point into the retrieval result, held here */
    size_t ncitations;
    long prompt_tokens, completion_tokens;                        /* -1: unknown */
    double retrieval_ms, first_token_ms, generation_ms, total_ms; /* first_token_ms -1: none */
    char finish_reason[32];
    gen_reason_t reason;
    result_t *results;
} answer_result_t;

/* 0, or -EINVAL (a template without "{context}") / -ENOMEM / a metrics
 * registration error, with err set. */
int answer_new(answerer_t **out, const answer_opts_t *o, char *err, size_t errlen);
void answer_free(answerer_t **a);
/* Answers req into sink; out holds the figures (release it in every case). */
int answer_run(answerer_t *a, const answer_request_t *req, const answer_sink_t *sink,
               answer_result_t *out, char *err, size_t errlen);
void answer_result_release(answer_result_t *r);
/* The model that answers, as configuration names it ("extractive" for the
 * extractive generator). */
const char *answer_model(const answerer_t *a);
/* Registers the component "generator" (not required: retrieval works
 * without it). */
int answer_add_health(answerer_t *a, health_t *h);
/* The text of an answer with no context. */
extern const char answer_no_context_text[];

/* ---- prompt.c ---- */

/* The default system prompt. */
extern const char answer_default_template[];
/* Chooses the passages, in order, that fit budget tokens (the first one
 * is cut to fit when it alone is too long: p[0].len shrinks) and renders
 * the system prompt: template with "{context}" replaced by
 * "[n] title — section\ntext" blocks. Returns how many passages it used
 * (0 when out of memory), the prompt in *system (malloc'd) and its
 * context's tokens in *tokens. */
size_t answer_prompt(const char *template, gen_passage_t *p, size_t n, size_t budget, char **system,
                     size_t *tokens);

#endif
