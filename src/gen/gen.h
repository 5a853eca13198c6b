/* gen: the generator interface, what turns a question and its numbered
 * context into an answer, and its two backends.
 *
 * extractive (default, offline): the answer is the context's sentences
 *   that best match the question, each followed by its citation [n]
 *   (gen_extractive.c). Its model is "extractive": it never claims to be
 *   an LLM.
 * openai: any OpenAI-compatible POST /v1/chat/completions server
 *   (llama.cpp server, Ollama, vLLM, OpenAI), streamed (gen_openai.c).
 *
 * A call streams the text as it comes to the sink's delta function, and
 * polls the sink's gone function so that a client who left stops the
 * work (an upstream request is cancelled within a tick, GEN_TICK_S).
 * Errors are negative codes, with the reason (bounded: a metrics label) in
 * the result:
 *   -ECANCELED (the sink said stop or gone), -ETIMEDOUT (first token or
 *   total time), -ENETDOWN (cannot connect), -EPROTO (malformed answer or
 *   a stream cut short), -EIO (an HTTP error status), -ENOMEM. */
#ifndef RAGD_GEN_H
#define RAGD_GEN_H

#include <stdbool.h>
#include <stddef.h>

#define GEN_MODEL_MAX 128
#define GEN_TICK_S    0.05 /* how often a waiting call checks gone and its deadlines */

typedef enum gen_role { GEN_SYSTEM, GEN_USER, GEN_ASSISTANT } gen_role_t;

typedef struct gen_msg {
    gen_role_t role;
    const char *content;
} gen_msg_t;

/* One numbered passage of context: [n] is its 1-based place in the list. */
typedef struct gen_passage {
    const char *title, *section, *text;
    size_t len;
} gen_passage_t;

typedef struct gen_request {
    const char *question;          /* the user's last message */
    const gen_passage_t *passages; /* the context, as numbered in the prompt */
    size_t npassages;
    const gen_msg_t *msgs; /* the whole prompt: system, history, question */
    size_t nmsgs;
    unsigned max_tokens; /* 0: the generator's default */
    double temperature;  /* < 0: the server's default */
} gen_request_t;

typedef struct gen_sink {
    /* A piece of the answer's text (UTF-8, never split inside a character
     * by extractive; as the server sends it by openai). Non-zero: stop. */
    int (*delta)(void *ctx, const char *text, size_t len);
    /* True when nobody waits for the answer any more (may be NULL). */
    bool (*gone)(void *ctx);
    void *ctx;
} gen_sink_t;

/* Why a call failed: a metrics label value each. */
typedef enum gen_reason {
    GEN_OK,
    GEN_CONNECT,             /* cannot reach the server */
    GEN_TIMEOUT,             /* the whole call took too long */
    GEN_FIRST_TOKEN_TIMEOUT, /* no text came in time */
    GEN_RATE_LIMITED,        /* 429, after the retries */
    GEN_HTTP_4XX,            /* refused: the request or the key */
    GEN_HTTP_5XX,            /* the server failed, after the retries */
    GEN_MALFORMED,           /* an answer that is not the API's shape */
    GEN_STREAM_CUT,          /* the stream ended without its end */
    GEN_CANCELLED,           /* the client went away */
    GEN_REASON_COUNT
} gen_reason_t;

typedef struct gen_result {
    long prompt_tokens, completion_tokens; /* -1: the server did not say */
    double first_token_s;                  /* from the call's start; -1 if none came */
    double duration_s;
    unsigned attempts;      /* requests made (retries before the first token) */
    char finish_reason[32]; /* "stop", "length", ... or "" */
    gen_reason_t reason;
} gen_result_t;

typedef struct generator generator_t;
struct generator {
    const char *provider;      /* "extractive" or "openai": a label value */
    char model[GEN_MODEL_MAX]; /* from configuration, never from a request */
    int (*generate)(generator_t *g, const gen_request_t *req, const gen_sink_t *sink,
                    gen_result_t *out, char *err, size_t errlen);
    /* Checks the backend can answer (health); 0 or an error with err. */
    int (*probe)(generator_t *g, char *err, size_t errlen);
    void (*destroy)(generator_t *g);
};

typedef struct gen_openai_opts {
    const char *url; /* base URL (…/v1/chat/completions is added) or the endpoint */
    const char *model;
    const char *api_key;          /* NULL or "": no Authorization header */
    double connect_timeout_s;     /* to open the connection */
    double first_token_timeout_s; /* from the request to the first text */
    double timeout_s;             /* the whole call */
    unsigned retries;             /* before the first token only: 429, 5xx, connect errors */
    unsigned max_tokens;          /* default when a request gives none; 0: the server's */
} gen_openai_opts_t;

/* 0 or -ENOMEM. */
int gen_extractive_new(generator_t **out);
/* 0, -EINVAL (no url or model), -ENOMEM. */
int gen_openai_new(generator_t **out, const gen_openai_opts_t *opts);
/* Runs g, filling out (result fields first reset). */
int gen_generate(generator_t *g, const gen_request_t *req, const gen_sink_t *sink,
                 gen_result_t *out, char *err, size_t errlen);
void gen_free(generator_t **g);
/* The label value of a reason ("" for GEN_OK). */
const char *gen_reason_name(gen_reason_t r);
/* "system", "user", "assistant". */
const char *gen_role_name(gen_role_t r);

#endif
