#include "server/answer_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/rag_json.h"
#include "util/buf.h"
#include "util/random.h"

/* max_tokens and temperature, where both APIs agree. */
static int generation_opts(json_t *body, answer_request_t *ar, char *err, size_t errlen)
{
    json_t *mt = json_object_get(body, "max_tokens"), *t = json_object_get(body, "temperature");
    if (!mt) mt = json_object_get(body, "max_completion_tokens");
    ar->temperature = -1;
    if (mt && !json_is_null(mt)) {
        if (!json_is_integer(mt) || json_integer_value(mt) < 1 ||
            json_integer_value(mt) > ANSWER_JSON_MAX_TOKENS) {
            snprintf(err, errlen, "'max_tokens' must be an integer from 1 to %d",
                     ANSWER_JSON_MAX_TOKENS);
            return -EINVAL;
        }
        ar->max_tokens = (unsigned)json_integer_value(mt);
    }
    if (t && !json_is_null(t)) {
        if (!json_is_number(t) || json_number_value(t) < 0 || json_number_value(t) > 2) {
            snprintf(err, errlen, "'temperature' must be a number from 0 to 2");
            return -EINVAL;
        }
        ar->temperature = json_number_value(t);
    }
    return 0;
}

static int stream_flag(json_t *body, bool *out, char *err, size_t errlen)
{
    json_t *s = json_object_get(body, "stream");
    if (s && !json_is_boolean(s) && !json_is_null(s)) {
        snprintf(err, errlen, "'stream' must be true or false");
        return -EINVAL;
    }
    *out = json_is_true(s);
    return 0;
}

int answer_json_request(json_t *body, const answer_limits_t *lim, answer_request_t *ar,
                        answer_wire_t *w, char *err, size_t errlen)
{
    memset(ar, 0, sizeof *ar);
    int rc = rag_json_query_text(json_object_get(body, "query"), lim->max_query_bytes, &ar->query,
                                 err, errlen);
    if (!rc) rc = rag_json_query_in(body, lim, &ar->query, w->kv, err, errlen);
    if (!rc) rc = stream_flag(body, &w->stream, err, errlen);
    if (!rc) rc = generation_opts(body, ar, err, errlen);
    return rc;
}

/* A message's text: a string, or the "text" parts of an array joined by
 * newlines (into w->owned). NULL with err set when it is neither. */
static const char *message_text(json_t *content, answer_wire_t *w, size_t i, char *err,
                                size_t errlen)
{
    if (json_is_string(content)) {
        if (strlen(json_string_value(content)) == json_string_length(content))
            return json_string_value(content);
        snprintf(err, errlen, "messages[%zu].content holds a NUL character", i);
        return NULL;
    }
    if (!json_is_array(content)) {
        snprintf(err, errlen, "messages[%zu].content must be a string or an array of text parts",
                 i);
        return NULL;
    }
    buf_t b = BUF_INIT;
    size_t k;
    json_t *part;
    json_array_foreach(content, k, part)
    {
        const char *type = json_string_value(json_object_get(part, "type"));
        json_t *text = json_object_get(part, "text");
        if (!type || strcmp(type, "text") != 0 || !json_is_string(text)) {
            snprintf(err, errlen, "messages[%zu].content[%zu]: only text parts are supported", i,
                     k);
            buf_free(&b);
            return NULL;
        }
        if (b.len) buf_putc(&b, '\n');
        buf_append(&b, json_string_value(text), json_string_length(text));
    }
    buf_putc(&b, '\0');
    if (buf_error(&b) || memchr(b.data, '\0', b.len - 1)) {
        snprintf(err, errlen, "messages[%zu].content cannot be read", i);
        buf_free(&b);
        return NULL;
    }
    return w->owned[w->nowned++] = buf_steal(&b, NULL);
}

static int role_of(const char *r)
{
    if (!r) return -1;
    if (!strcmp(r, "system") || !strcmp(r, "developer")) return GEN_SYSTEM;
    if (!strcmp(r, "user")) return GEN_USER;
    if (!strcmp(r, "assistant")) return GEN_ASSISTANT;
    return -1;
}

int answer_json_chat_request(json_t *body, const answer_limits_t *lim, const char *model,
                             answer_request_t *ar, answer_wire_t *w, char *err, size_t errlen)
{
    memset(ar, 0, sizeof *ar);
    json_t *m = json_object_get(body, "model"), *msgs = json_object_get(body, "messages");
    if (m && !json_is_null(m) && (!json_is_string(m) || strcmp(json_string_value(m), model) != 0)) {
        snprintf(err, errlen, "the model '%.100s' does not exist: this server answers with '%s'",
                 json_is_string(m) ? json_string_value(m) : "(not a string)", model);
        return -ENOENT;
    }
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        snprintf(err, errlen, "'messages' must be a non-empty array");
        return -EINVAL;
    }
    /* the question: the last user message */
    size_t n = json_array_size(msgs), last = n;
    for (size_t i = n; i-- > 0;) {
        if (role_of(json_string_value(json_object_get(json_array_get(msgs, i), "role"))) ==
            GEN_USER) {
            last = i;
            break;
        }
    }
    if (last == n) {
        snprintf(err, errlen, "'messages' has no user message to answer");
        return -EINVAL;
    }
    size_t first = last > ANSWER_HISTORY_MAX ? last - ANSWER_HISTORY_MAX : 0;
    for (size_t i = first; i <= last; i++) {
        json_t *msg = json_array_get(msgs, i);
        int role = role_of(json_string_value(json_object_get(msg, "role")));
        if (role < 0) {
            snprintf(err, errlen, "messages[%zu].role must be system, developer, user or assistant",
                     i);
            return -EINVAL;
        }
        const char *text = message_text(json_object_get(msg, "content"), w, i, err, errlen);
        if (!text) return -EINVAL;
        if (i < last) {
            w->history[ar->nhistory++] = (gen_msg_t){(gen_role_t)role, text};
        } else {
            if (!*text) {
                snprintf(err, errlen, "the last user message is empty");
                return -EINVAL;
            }
            if (strlen(text) > lim->max_query_bytes) {
                snprintf(err, errlen, "the last user message is longer than %zu bytes",
                         lim->max_query_bytes);
                return -EINVAL;
            }
            ar->query.text = text;
        }
    }
    ar->history = w->history;
    json_t *so = json_object_get(body, "stream_options");
    w->include_usage = json_is_true(json_object_get(so, "include_usage"));
    int rc = rag_json_query_in(body, lim, &ar->query, w->kv, err, errlen);
    if (!rc) rc = stream_flag(body, &w->stream, err, errlen);
    if (!rc) rc = generation_opts(body, ar, err, errlen);
    return rc;
}

void answer_json_wire_free(answer_wire_t *w)
{
    for (size_t i = 0; i < w->nowned; i++) free(w->owned[i]);
    w->nowned = 0;
}

json_t *answer_json_citations(const answer_citation_t *c, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_pack("{s:I,s:s,s:I,s:s,s:s}", "n", (json_int_t)c[i].n,
                                           "document_id", c[i].document_id, "chunk_index",
                                           (json_int_t)c[i].chunk_index, "title", c[i].title,
                                           "section", c[i].section));
    return a;
}

static json_t *count_or_null(long v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

json_t *answer_json_usage(const answer_result_t *r)
{
    return json_pack("{s:o,s:o}", "prompt_tokens", count_or_null(r->prompt_tokens),
                     "completion_tokens", count_or_null(r->completion_tokens));
}

json_t *answer_json_timings(const answer_result_t *r)
{
    return json_pack("{s:f,s:o,s:f,s:f}", "retrieval", r->retrieval_ms, "first_token",
                     r->first_token_ms >= 0 ? json_real(r->first_token_ms) : json_null(),
                     "generation", r->generation_ms, "total", r->total_ms);
}

json_t *answer_json_answer(const char *text, size_t len, const answer_result_t *r,
                           const char *model)
{
    return json_pack("{s:s%,s:s,s:o,s:s,s:o,s:s,s:o}", "answer", text ? text : "", len, "outcome",
                     r->outcome == ANSWER_NO_CONTEXT ? "no_context" : "answered", "citations",
                     answer_json_citations(r->citations, r->ncitations), "model", model, "usage",
                     answer_json_usage(r), "finish_reason", r->finish_reason, "timings_ms",
                     answer_json_timings(r));
}

void answer_json_chat_id(char *out, size_t n)
{
    unsigned char r[12];
    random_bytes(r, sizeof r);
    size_t k = (size_t)snprintf(out, n, "chatcmpl-");
    for (size_t i = 0; i < sizeof r && k + 2 < n; i++, k += 2)
        snprintf(out + k, n - k, "%02x", r[i]);
}

/* usage as OpenAI gives it, or NULL when a count is unknown. */
static json_t *chat_usage(const answer_result_t *r)
{
    if (r->prompt_tokens < 0 || r->completion_tokens < 0) return NULL;
    return json_pack("{s:I,s:I,s:I}", "prompt_tokens", (json_int_t)r->prompt_tokens,
                     "completion_tokens", (json_int_t)r->completion_tokens, "total_tokens",
                     (json_int_t)(r->prompt_tokens + r->completion_tokens));
}

json_t *answer_json_chat(const char *id, double created, const char *model, const char *text,
                         size_t len, const answer_result_t *r)
{
    json_t *j =
        json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s%},s:s}],s:o}", "id", id, "object",
                  "chat.completion", "created", (json_int_t)created, "model", model, "choices",
                  "index", 0, "message", "role", "assistant", "content", text ? text : "", len,
                  "finish_reason", r->finish_reason[0] ? r->finish_reason : "stop", "citations",
                  answer_json_citations(r->citations, r->ncitations));
    json_t *u = chat_usage(r);
    if (j && u) json_object_set_new(j, "usage", u);
    return j;
}

json_t *answer_json_chat_chunk(const char *id, double created, const char *model, bool role,
                               const char *text, size_t len, const char *finish, json_t *citations)
{
    json_t *delta = json_object();
    if (role) json_object_set_new(delta, "role", json_string("assistant"));
    if (text) json_object_set_new(delta, "content", json_stringn(text, len));
    json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:o}]}", "id", id, "object",
                          "chat.completion.chunk", "created", (json_int_t)created, "model", model,
                          "choices", "index", 0, "delta", delta, "finish_reason",
                          finish ? json_string(finish) : json_null());
    if (j && citations) json_object_set(j, "citations", citations);
    return j;
}

json_t *answer_json_chat_usage(const char *id, double created, const char *model,
                               const answer_result_t *r)
{
    json_t *u = chat_usage(r);
    if (!u) return NULL;
    return json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", id, "object", "chat.completion.chunk",
                     "created", (json_int_t)created, "model", model, "choices", "usage", u);
}

json_t *answer_json_models(const char *model, double created)
{
    return json_pack("{s:s,s:[{s:s,s:s,s:I,s:s}]}", "object", "list", "data", "id", model, "object",
                     "model", "created", (json_int_t)created, "owned_by", "ragd");
}
