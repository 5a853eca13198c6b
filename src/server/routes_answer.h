/* routes_answer: the answer routes: POST /v1/answer (ragd's API, JSON or
 * Server-Sent Events), and the OpenAI-compatible POST /v1/chat/completions
 * and GET /v1/models.
 *
 * An answer takes seconds when an LLM writes it, so it runs on a thread
 * of its own (the request is deferred: no pool thread waits) and streams
 * through the HTTP server's streams. At most max_concurrent answers run at
 * once; one more gets 503 with Retry-After. */
#ifndef RAGD_ROUTES_ANSWER_H
#define RAGD_ROUTES_ANSWER_H

#include <stdatomic.h>

#include "answer/answer.h"
#include "http/router.h"
#include "server/answer_json.h"

typedef struct routes_answer_opts {
    answerer_t *answerer;
    answer_limits_t lim;
    unsigned max_concurrent;
    double started; /* epoch seconds: the model's "created" */
    atomic_uint running;
} routes_answer_opts_t;

/* Adds the routes; opts must outlive the router. */
int routes_answer_add(http_router_t *router, routes_answer_opts_t *opts);
/* Waits until no answer thread runs, or timeout_s; returns how many still do. */
unsigned routes_answer_wait(routes_answer_opts_t *opts, double timeout_s);

#endif
