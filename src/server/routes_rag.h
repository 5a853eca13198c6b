/* routes_rag: the document and query routes of the HTTP API. */
#ifndef RAGD_ROUTES_RAG_H
#define RAGD_ROUTES_RAG_H

#include <stddef.h>

#include "http/router.h"
#include "rag/rag.h"

typedef struct routes_rag_opts {
    rag_t *rag;
    size_t max_query_bytes; /* longest query text */
    size_t max_top_k;
} routes_rag_opts_t;

/* Adds POST/GET /v1/documents, GET/DELETE /v1/documents/{id}, POST
 * /v1/query. opts must outlive the router. */
int routes_rag_add(http_router_t *router, routes_rag_opts_t *opts);

#endif
