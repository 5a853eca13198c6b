/* answer_json: the wire format of the answer routes. ragd's own
 * POST /v1/answer, and the OpenAI-compatible POST /v1/chat/completions and
 * GET /v1/models (the shapes OpenAI clients and chat front ends expect,
 * with ragd's citations in an extra field they ignore). Requests in to
 * answer's plain types, answers and stream events out. */
#ifndef RAGD_ANSWER_JSON_H
#define RAGD_ANSWER_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "answer/answer.h"
#include "server/rag_json.h"

#define ANSWER_JSON_MAX_TOKENS 65536 /* the largest max_tokens a request may ask */

typedef rag_json_limits_t answer_limits_t;

/* What a request asks beside the question. */
typedef struct answer_wire {
    bool stream;
    bool include_usage; /* chat: stream_options.include_usage */
    doc_kv_t kv[DOC_META_MAX];
    gen_msg_t history[ANSWER_HISTORY_MAX];
    char *owned[ANSWER_HISTORY_MAX + 1]; /* message texts joined from parts */
    size_t nowned;
} answer_wire_t;

/* {"query", "top_k"?, "mode"?, "filter"?, "stream"?, "max_tokens"?,
 * "temperature"?} into ar and w (pointing into body). 0 or -EINVAL. */
int answer_json_request(json_t *body, const answer_limits_t *lim, answer_request_t *ar,
                        answer_wire_t *w, char *err, size_t errlen);
/* An OpenAI chat request {"model"?, "messages", "stream"?, "stream_options"?,
 * "max_tokens"? / "max_completion_tokens"?, "temperature"?} (plus ragd's
 * "top_k", "mode", "filter") into ar and w: the last user message is the
 * question, the messages before it the history. 0; -EINVAL (a malformed
 * request); -ENOENT (a model other than `model`). */
int answer_json_chat_request(json_t *body, const answer_limits_t *lim, const char *model,
                             answer_request_t *ar, answer_wire_t *w, char *err, size_t errlen);
void answer_json_wire_free(answer_wire_t *w);

/* [{"n","document_id","chunk_index","title","section"}] */
json_t *answer_json_citations(const answer_citation_t *c, size_t n);
/* {"prompt_tokens","completion_tokens"}: null where unknown. */
json_t *answer_json_usage(const answer_result_t *r);
/* {"retrieval","first_token","generation","total"} in ms (first_token
 * null when no token came). */
json_t *answer_json_timings(const answer_result_t *r);
/* /v1/answer's answer: {"answer","outcome","citations","model","usage",
 * "finish_reason","timings_ms"}. */
json_t *answer_json_answer(const char *text, size_t len, const answer_result_t *r,
                           const char *model);

/* A chat completion's id ("chatcmpl-" and 24 random hex digits). */
void answer_json_chat_id(char *out, size_t n);
/* A whole chat completion. */
json_t *answer_json_chat(const char *id, double created, const char *model, const char *text,
                         size_t len, const answer_result_t *r);
/* One chat.completion.chunk: delta {"role"?, "content"?} and a finish
 * reason (NULL: null); citations (may be NULL) as the extra field. */
json_t *answer_json_chat_chunk(const char *id, double created, const char *model, bool role,
                               const char *text, size_t len, const char *finish, json_t *citations);
/* The final usage chunk (choices empty), or NULL when usage is unknown. */
json_t *answer_json_chat_usage(const char *id, double created, const char *model,
                               const answer_result_t *r);
/* GET /v1/models: the one model ragd serves. */
json_t *answer_json_models(const char *model, double created);

#endif
