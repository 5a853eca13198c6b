/* router: route templates ("/v1/documents/{id}") to handlers.
 *
 * A template is a path of literal segments and {name} segments, each of
 * which matches one non-empty path segment. A path that matches a template
 * under another method gets 405 with the template's methods in Allow; a
 * path that matches nothing gets 404. The template string is the route's
 * identity in metrics and logs: never the raw path. Routes are few (tens):
 * matching is a linear scan, at well under a microsecond. */
#ifndef RAGD_ROUTER_H
#define RAGD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_ROUTES_MAX         64
#define HTTP_ROUTE_SEGMENTS_MAX 8
#define HTTP_PARAMS_MAX         4

typedef enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_PATCH,
    HTTP_OPTIONS,
    HTTP_CONNECT,
    HTTP_TRACE,
    HTTP_OTHER, /* anything else: one metrics label value for all */
    HTTP_METHOD_COUNT
} http_method_t;

/* Route flags. */
#define HTTP_ROUTE_WRITE 1u /* changes state: needs the API key when one is set */

struct http_request;
typedef void (*http_handler_fn)(struct http_request *req, void *ctx);

typedef struct http_route {
    char *tmpl; /* e.g. "/v1/documents/{id}" */
    char *segs[HTTP_ROUTE_SEGMENTS_MAX];
    size_t nsegs;
    http_handler_fn handlers[HTTP_METHOD_COUNT]; /* NULL: method not allowed */
    void *ctx[HTTP_METHOD_COUNT];
    unsigned flags[HTTP_METHOD_COUNT];
    int ok_status[HTTP_METHOD_COUNT]; /* the usual success status, for metrics */
} http_route_t;

typedef struct http_router {
    http_route_t routes[HTTP_ROUTES_MAX];
    size_t nroutes;
} http_router_t;

typedef struct http_param {
    const char *name;  /* the template's name, NUL-terminated */
    const char *value; /* points into the matched path */
    size_t len;
} http_param_t;

typedef enum http_match_result {
    HTTP_MATCH_OK,
    HTTP_MATCH_NOT_FOUND,
    HTTP_MATCH_BAD_METHOD
} http_match_result_t;

typedef struct http_match {
    const http_route_t *route; /* set for OK and BAD_METHOD */
    http_method_t method;      /* the method whose handler runs (HEAD runs GET's) */
    http_param_t params[HTTP_PARAMS_MAX];
    size_t nparams;
} http_match_t;

void http_router_init(http_router_t *r);
void http_router_free(http_router_t *r);
/* Adds a handler for method on tmpl (the template is created on first use).
 * ok_status: the status the handler normally answers (201 for creations).
 * 0, -EINVAL (bad template, HEAD/OTHER, duplicate), -ENOSPC or -ENOMEM. */
int http_router_add(http_router_t *r, http_method_t m, const char *tmpl, http_handler_fn fn,
                    void *ctx, unsigned flags, int ok_status);
/* Matches (method, path). HEAD falls back to GET's handler. */
http_match_result_t http_router_match(const http_router_t *r, http_method_t m, const char *path,
                                      http_match_t *out);
/* Writes the route's methods as an Allow header value ("GET, HEAD"). */
void http_route_allow(const http_route_t *route, char *buf, size_t size);

/* Method from its name (case-sensitive, as HTTP says); HTTP_OTHER if unknown. */
http_method_t http_method_parse(const char *name);
/* Label value of a method: "GET", ..., "OTHER". */
const char *http_method_name(http_method_t m);

#endif
