/* server: ragd's HTTP server on libmicrohttpd.
 *
 * libmicrohttpd runs its own thread pool (epoll, one listening socket shared
 * by the pool), HTTP/1.1 keep-alive, and per-connection idle timeouts. This
 * module adds what every route shares:
 * - routing through http/router (404, 405 with Allow);
 * - the API key on write routes (401 unless "Authorization: Bearer KEY");
 * - the body cap: a declared Content-Length over it gets 413 before any of the
 *   body is read; a chunked body is cut off at the cap, the rest drained and
 *   discarded, then 413 (a client that keeps sending past twice the cap is
 *   disconnected);
 * - request metrics: http_requests_total{method,endpoint,status} and
 *   http_request_duration_seconds{method,endpoint}, endpoint being the route
 *   template or "unmatched", method one of the standard names or "OTHER";
 * - one access log line per request;
 * - JSON error bodies: {"error":{"code":"...","message":"..."}}.
 *
 * Handlers run on a pool thread once the whole body is in, and must answer
 * with exactly one http_respond*() call, or start a stream, or defer.
 *
 * Slow answers (a generator's, seconds long) must not hold a pool thread,
 * which serves many connections: the handler defers the request and hands
 * it to a thread of its own, which answers later with http_respond*() or
 * a stream; meanwhile the connection is suspended (libmicrohttpd's flow
 * control), and woken when the answer is handed over. A stream's reader
 * suspends the connection in the same way whenever it has sent all that
 * was written, so a quiet stream costs no thread and no polling. */
#ifndef RAGD_HTTP_SERVER_H
#define RAGD_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/router.h"
#include "metrics/metrics.h"
#include "util/buf.h"

typedef struct http_server http_server_t;
typedef struct http_request http_request_t;

typedef struct http_server_opts {
    const char *listen;  /* "HOST:PORT" or "[V6]:PORT"; port 0 picks a free one */
    unsigned threads;    /* pool size; 0: one per CPU */
    size_t max_body;     /* bytes */
    unsigned timeout_s;  /* idle connection timeout */
    const char *api_key; /* NULL or "": write routes are open */
    bool access_log;
    metrics_registry_t *metrics; /* NULL: no request metrics */
    const double *buckets;       /* http_request_duration_seconds bounds */
    size_t nbuckets;
} http_server_opts_t;

/* Starts serving. On error returns -errno and writes a message to err. The
 * router must outlive the server. */
int http_server_start(http_server_t **out, const http_router_t *router,
                      const http_server_opts_t *opts, char *err, size_t errlen);
/* The bound port (useful with port 0). */
uint16_t http_server_port(const http_server_t *s);
/* The address as "HOST:PORT" for logs. */
const char *http_server_address(const http_server_t *s);
/* Requests being handled right now. */
long http_server_inflight(const http_server_t *s);
bool http_server_accepting(const http_server_t *s);
/* True once http_server_stop has begun: deferred answers end now. */
bool http_server_stopping(const http_server_t *s);
/* Stops accepting connections (in-flight requests go on). */
void http_server_quiesce(http_server_t *s);
/* Waits until no request is in flight or timeout_s passes; returns the number
 * still in flight. */
long http_server_drain(http_server_t *s, double timeout_s);
/* Stops the server (closing every connection) and frees it; clears *s. */
void http_server_stop(http_server_t **s);

/* ---- requests ----------------------------------------------------------- */

http_method_t http_request_method(const http_request_t *req);
/* The server the request came to. */
http_server_t *http_request_server(const http_request_t *req);
const char *http_request_path(const http_request_t *req);
/* A request header (case-insensitive name), or NULL. */
const char *http_request_header(http_request_t *req, const char *name);
/* A query-string argument, or NULL. */
const char *http_request_query(http_request_t *req, const char *name);
/* A route parameter ({id}) as a NUL-terminated copy owned by the request, or NULL. */
const char *http_request_param(http_request_t *req, const char *name);
/* The body (NUL-terminated for convenience; may hold NULs) and its length. */
const char *http_request_body(const http_request_t *req, size_t *len);
/* Parses the body as a JSON object into *out (the caller owns the
 * reference). 0, or -EINVAL with the reason in err: the caller answers
 * (http_respond_error(req, 400, "invalid_json", ...)). */
int http_request_json(const http_request_t *req, json_t **out, char *err, size_t errlen);

/* Adds a response header for the coming http_respond*() (copied). */
void http_response_header(http_request_t *req, const char *name, const char *value);
/* Answers with a copy of body. */
void http_respond(http_request_t *req, int status, const char *content_type, const void *body,
                  size_t len);
/* Answers with the JSON value (takes the reference). */
void http_respond_json(http_request_t *req, int status, json_t *value);
/* Answers {"error":{"code":code,"message":...}}. */
void http_respond_error(http_request_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- deferred answers and streams ------------------------------------------ */

typedef struct http_stream http_stream_t;

/* Called by a handler that will answer from another thread: after it
 * returns, the connection waits for that thread's one http_respond*() or
 * http_stream_begin(). The request stays valid until then; after it, the
 * thread must not touch the request. Every deferred request must be
 * answered (http_server_stop waits for them). */
void http_request_defer(http_request_t *req);
/* Defers the request and runs fn(arg) on a detached thread of its own,
 * which answers it. 0, or -errno (no thread: the request is not deferred,
 * and the handler answers). */
int http_request_spawn(http_request_t *req, void *(*fn)(void *), void *arg);
/* True when a deferred request's client has closed its connection, or the
 * server is stopping: the answer is not wanted any more. */
bool http_request_gone(http_request_t *req);
/* Starts a streamed answer (chunked transfer encoding) with this status,
 * content type and the headers added so far; the body is what the writer
 * then writes. From here on the writer uses the stream, not the request.
 * NULL when out of memory (a 500 was answered). */
http_stream_t *http_stream_begin(http_request_t *req, int status, const char *content_type);
/* Appends bytes to the stream and wakes its connection. 0, -EPIPE (the
 * client has gone: stop), -ENOMEM. */
int http_stream_write(http_stream_t *st, const void *p, size_t n);
/* True when the client has gone (seen at once, even while nothing is
 * being written) or the server is stopping. */
bool http_stream_gone(http_stream_t *st);
/* Ends the stream (the writer's last call; NULL is a no-op). */
void http_stream_end(http_stream_t *st);

#endif
