/* routes_rag: the document and query routes of the HTTP API. */
#ifndef RAGD_ROUTES_RAG_H
#define RAGD_ROUTES_RAG_H

#include <stddef.h>

#include "http/router.h"
#include "http/server.h"
#include "rag/rag.h"
#include "server/rag_json.h"

typedef struct routes_rag_opts {
    rag_t *rag;
    rag_json_limits_t lim;
    size_t max_batch; /* documents per POST /v1/documents/batch */
    size_t workers;   /* threads that parse a batch's lines */
} routes_rag_opts_t;

/* Adds POST/GET /v1/documents, GET/DELETE /v1/documents/{id}, POST
 * /v1/query. opts must outlive the router. */
int routes_rag_add(http_router_t *router, routes_rag_opts_t *opts);

/* The status and error code of rag's error code rc (see routes_rag_error). */
int routes_rag_status(int rc, const char **code);
/* Answers rag's error code rc with its status and err's message:
 * -EILSEQ 400, -EINVAL/-E2BIG/-ETIMEDOUT 422, -ENETDOWN 503, -ENOENT 404,
 * -ENOSPC 507, others 500. */
void routes_rag_error(http_request_t *req, int rc, const char *err);

#endif
