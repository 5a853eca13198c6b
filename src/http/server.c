#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "http/jread.h"
#include "util/clock.h"

#define MAX_EXTRA_HEADERS 8
/* Statuses the middleware knows; anything else is counted as its class. */
#define ENDPOINT_UNMATCHED "unmatched"
#define STREAM_BLOCK       (16 * 1024) /* bytes MHD asks of a stream at most */
#define STOP_WAIT_S        10.0        /* for deferred answers to end at stop */
#define FLUSH_WAIT_S       1.0         /* then for their connections to send what is left */

struct http_server {
    struct MHD_Daemon *daemon;
    const http_router_t *router;
    size_t max_body;
    char *api_key;
    bool access_log;
    uint16_t port;
    char address[80];
    atomic_long inflight;
    atomic_bool accepting;
    atomic_bool stopping;
    atomic_long deferred; /* deferred requests whose answer has not ended */
    pthread_mutex_t mu;   /* hands deferred answers over (pending, suspended) */
    metrics_family_t *requests, *durations;
};

/* A streamed answer: written by the handler's thread, read by MHD's.
 * Two references: the writer's (until http_stream_end) and the MHD
 * response's (until its free callback). */
struct http_stream {
    pthread_mutex_t mu;
    atomic_int refs;
    http_server_t *srv;
    struct MHD_Connection *conn;
    int fd;
    buf_t data;
    size_t off;     /* bytes of data already given to MHD */
    bool done;      /* the writer has ended */
    bool gone;      /* MHD is done with the response: the client left or it was sent */
    bool suspended; /* the reader found nothing and suspended the connection */
    bool counted;   /* begun on a deferred request: its end ends the deferral */
};

struct http_request {
    http_server_t *srv;
    struct MHD_Connection *conn;
    const char *path;     /* MHD's, valid for the request */
    http_method_t method; /* as parsed (OTHER for unknown) */
    const char *method_raw;
    http_match_result_t match_result;
    http_match_t match;
    double t0;
    buf_t body;
    size_t body_in; /* bytes received, kept or not */
    bool too_large;
    bool handled; /* the handler (or the middleware) has been called */
    int status;   /* 0 until a response is queued */
    size_t bytes_out;
    struct {
        char *name, *value;
    } headers[MAX_EXTRA_HEADERS];
    size_t nheaders;
    char *params[HTTP_PARAMS_MAX]; /* NUL-terminated copies, lazily */
    int fd;                        /* the client's socket, to see it close */
    /* deferred answers (under srv->mu) */
    bool deferred;        /* the handler deferred: another thread answers */
    pthread_t mhd_thread; /* the thread that ran the handler */
    bool suspended;       /* the connection waits for the answer */
    bool pending;         /* an answer is ready to queue */
    int pending_status;
    char *pending_ct;
    buf_t pending_body;
    http_stream_t *pending_stream;
};

/* ---- responses ------------------------------------------------------------ */

void http_response_header(http_request_t *req, const char *name, const char *value)
{
    if (req->nheaders == MAX_EXTRA_HEADERS) return;
    req->headers[req->nheaders].name = strdup(name);
    req->headers[req->nheaders].value = strdup(value);
    req->nheaders++;
}

static void queue(http_request_t *req, struct MHD_Response *r, int status, const char *content_type,
                  size_t len)
{
    if (!r) return; /* MHD then closes the connection: counted with status 0 */
    if (content_type) MHD_add_response_header(r, "Content-Type", content_type);
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name && req->headers[i].value)
            MHD_add_response_header(r, req->headers[i].name, req->headers[i].value);
    if (MHD_queue_response(req->conn, (unsigned)status, r) == MHD_YES) {
        req->status = status;
        req->bytes_out = len;
    }
    MHD_destroy_response(r);
}

static struct MHD_Response *stream_response(http_stream_t *st);

/* Queues a deferred request's answer, on MHD's thread. */
static void queue_pending(http_request_t *req)
{
    req->pending = false;
    if (req->pending_stream) {
        http_stream_t *st = req->pending_stream;
        req->pending_stream = NULL;
        queue(req, stream_response(st), req->pending_status, req->pending_ct, 0);
    } else {
        queue(req,
              MHD_create_response_from_buffer(req->pending_body.len,
                                              req->pending_body.data ? req->pending_body.data : "",
                                              MHD_RESPMEM_MUST_COPY),
              req->pending_status, req->pending_ct, req->pending_body.len);
    }
}

/* Another thread's answer to a deferred request: kept for MHD's thread,
 * which is woken to queue it. req must not be touched after. */
static void hand_over(http_request_t *req)
{
    http_server_t *s = req->srv;
    struct MHD_Connection *conn = req->conn;
    pthread_mutex_lock(&s->mu);
    req->pending = true;
    bool resume = req->suspended;
    req->suspended = false;
    pthread_mutex_unlock(&s->mu);
    if (resume) MHD_resume_connection(conn); /* MHD calls on_request again: it queues */
}

/* True when the answer must wait for MHD's thread (see hand_over): a
 * deferred request answered by another thread than the handler's. */
static bool handed_over(const http_request_t *req)
{
    return req->deferred && !pthread_equal(pthread_self(), req->mhd_thread);
}

void http_respond(http_request_t *req, int status, const char *content_type, const void *body,
                  size_t len)
{
    if (req->status || req->pending) return; /* one answer per request */
    if (handed_over(req)) {
        req->pending_status = status;
        req->pending_ct = content_type ? strdup(content_type) : NULL;
        buf_init(&req->pending_body, 0);
        buf_append(&req->pending_body, body, len);
        if (buf_error(&req->pending_body)) req->pending_status = 500, buf_reset(&req->pending_body);
        atomic_fetch_sub(&req->srv->deferred, 1);
        hand_over(req);
        return;
    }
    if (req->deferred) { /* the handler deferred, then answered itself after all */
        req->deferred = false;
        atomic_fetch_sub(&req->srv->deferred, 1);
    }
    queue(req, MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY),
          status, content_type, len);
}

/* ---- deferred answers and streams ---------------------------------------------- */

void http_request_defer(http_request_t *req)
{
    req->deferred = true;
    atomic_fetch_add(&req->srv->deferred, 1);
}

int http_request_spawn(http_request_t *req, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    http_request_defer(req);
    int rc = pthread_create(&t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    if (rc) { /* not deferred after all: the handler answers */
        req->deferred = false;
        atomic_fetch_sub(&req->srv->deferred, 1);
        return -rc;
    }
    return 0;
}

/* True when the peer of fd has closed or reset its side. */
static bool peer_closed(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

bool http_request_gone(http_request_t *req)
{
    http_server_t *s = req->srv;
    if (atomic_load(&s->stopping)) return true;
    pthread_mutex_lock(&s->mu);
    /* only while suspended is the socket surely still this request's */
    bool gone = req->suspended && peer_closed(req->fd);
    pthread_mutex_unlock(&s->mu);
    return gone;
}

static void stream_unref(http_stream_t *st)
{
    if (atomic_fetch_sub(&st->refs, 1) != 1) return;
    buf_free(&st->data);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    http_stream_t *st = cls;
    ssize_t n;
    pthread_mutex_lock(&st->mu);
    if (st->off < st->data.len) {
        size_t k = st->data.len - st->off < max ? st->data.len - st->off : max;
        memcpy(out, st->data.data + st->off, k);
        st->off += k;
        if (st->off == st->data.len) st->off = 0, buf_reset(&st->data);
        n = (ssize_t)k;
    } else if (st->done) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else { /* nothing yet: wait without a thread, until the writer resumes us */
        st->suspended = true;
        MHD_suspend_connection(st->conn);
        n = 0;
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

static void stream_free(void *cls)
{
    http_stream_t *st = cls;
    pthread_mutex_lock(&st->mu);
    st->gone = true;
    pthread_mutex_unlock(&st->mu);
    stream_unref(st);
}

static struct MHD_Response *stream_response(http_stream_t *st)
{
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                               stream_read, st, stream_free);
    if (!r) stream_free(st);
    return r;
}

http_stream_t *http_stream_begin(http_request_t *req, int status, const char *content_type)
{
    if (req->status || req->pending) return NULL;
    http_stream_t *st = calloc(1, sizeof *st);
    if (!st) {
        http_respond_error(req, 500, "internal", "out of memory");
        return NULL;
    }
    pthread_mutex_init(&st->mu, NULL);
    atomic_init(&st->refs, 2);
    st->srv = req->srv;
    st->conn = req->conn;
    st->fd = req->fd;
    st->counted = req->deferred;
    buf_init(&st->data, 0);
    req->pending_stream = st;
    req->pending_status = status;
    req->pending_ct = content_type ? strdup(content_type) : NULL;
    if (handed_over(req)) {
        hand_over(req);
    } else {
        req->pending = true;
        queue_pending(req);
    }
    return st;
}

int http_stream_write(http_stream_t *st, const void *p, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    if (st->gone) {
        rc = -EPIPE;
    } else {
        buf_append(&st->data, p, n);
        rc = buf_error(&st->data);
        if (st->suspended) {
            st->suspended = false;
            MHD_resume_connection(st->conn);
        }
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

bool http_stream_gone(http_stream_t *st)
{
    if (atomic_load(&st->srv->stopping)) return true;
    pthread_mutex_lock(&st->mu);
    bool gone = st->gone || (st->suspended && peer_closed(st->fd));
    pthread_mutex_unlock(&st->mu);
    return gone;
}

void http_stream_end(http_stream_t *st)
{
    if (!st) return;
    http_server_t *s = st->srv;
    pthread_mutex_lock(&st->mu);
    st->done = true;
    if (st->suspended) { /* let the reader see the end */
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
    bool counted = st->counted;
    pthread_mutex_unlock(&st->mu);
    stream_unref(st);
    if (counted) atomic_fetch_sub(&s->deferred, 1);
}

void http_respond_json(http_request_t *req, int status, json_t *value)
{
    char *s = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    if (!s) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        http_respond(req, 500, "application/json", oom, sizeof oom - 1);
        return;
    }
    http_respond(req, status, "application/json", s, strlen(s));
    free(s);
}

void http_respond_error(http_request_t *req, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    if (!err) { /* msg was not UTF-8 (it quotes client input): say less */
        err = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", "invalid request");
    }
    http_respond_json(req, status, err);
}

/* ---- request accessors ------------------------------------------------------ */

http_server_t *http_request_server(const http_request_t *req)
{
    return req->srv;
}

http_method_t http_request_method(const http_request_t *req)
{
    return req->method;
}

const char *http_request_path(const http_request_t *req)
{
    return req->path;
}

const char *http_request_header(http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_query(http_request_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_request_param(http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->match.nparams; i++) {
        const http_param_t *p = &req->match.params[i];
        size_t nlen = strlen(name);
        /* the template holds "{name}" */
        if (strlen(p->name) != nlen + 2 || strncmp(p->name + 1, name, nlen) != 0) continue;
        if (!req->params[i]) req->params[i] = strndup(p->value, p->len);
        return req->params[i];
    }
    return NULL;
}

const char *http_request_body(const http_request_t *req, size_t *len)
{
    if (len) *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

int http_request_json(const http_request_t *req, json_t **out, char *err, size_t errlen)
{
    json_error_t e;
    *out = NULL;
    if (req->body.len == 0) {
        snprintf(err, errlen, "request body is empty; a JSON object is required");
        return -EINVAL;
    }
    json_t *j = jread(req->body.data, req->body.len, &e);
    if (!j) {
        snprintf(err, errlen, "invalid JSON at line %d, column %d: %s", e.line, e.column, e.text);
        return -EINVAL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, errlen, "the body must be a JSON object");
        return -EINVAL;
    }
    *out = j;
    return 0;
}

/* ---- middleware ------------------------------------------------------------ */

static bool key_matches(const char *have, const char *want)
{
    /* constant time in the length of the configured key */
    size_t n = strlen(want), m = have ? strlen(have) : 0;
    unsigned diff = (unsigned)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)(i < m ? have[i] : 0);
    return diff == 0;
}

static bool authorized(http_request_t *req)
{
    const char *h = http_request_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return false;
    h += 7;
    while (*h == ' ') h++;
    return key_matches(h, req->srv->api_key);
}

/* Checks made before any of the body is read. Returns true when it answered. */
static bool precheck(http_request_t *req)
{
    http_server_t *s = req->srv;
    if (req->match_result == HTTP_MATCH_NOT_FOUND) {
        http_respond_error(req, 404, "not_found", "no route for %s %s", req->method_raw, req->path);
        return true;
    }
    if (req->match_result == HTTP_MATCH_BAD_METHOD) {
        char allow[128];
        http_route_allow(req->match.route, allow, sizeof allow);
        http_response_header(req, "Allow", allow);
        http_respond_error(req, 405, "method_not_allowed", "%s is not allowed on %s (allowed: %s)",
                           req->method_raw, req->match.route->tmpl, allow);
        return true;
    }
    if (s->api_key && (req->match.route->flags[req->match.method] & HTTP_ROUTE_WRITE) &&
        !authorized(req)) {
        http_response_header(req, "WWW-Authenticate", "Bearer realm=\"ragd\"");
        http_respond_error(req, 401, "unauthorized",
                           "this route needs the API key: Authorization: Bearer <key>");
        return true;
    }
    const char *cl = http_request_header(req, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || *end || n > s->max_body) {
            http_respond_error(req, 413, "payload_too_large",
                               "request body of %s bytes is over the limit of %zu bytes", cl,
                               s->max_body);
            return true;
        }
    }
    return false;
}

static bool announces_body(http_request_t *req)
{
    const char *cl = http_request_header(req, "Content-Length");
    return (cl && strcmp(cl, "0") != 0) || http_request_header(req, "Transfer-Encoding");
}

static const char *endpoint_of(const http_request_t *req)
{
    return req->match.route ? req->match.route->tmpl : ENDPOINT_UNMATCHED;
}

static void record(http_request_t *req)
{
    http_server_t *s = req->srv;
    double dt = clock_now() - req->t0;
    const char *method = http_method_name(req->method);
    const char *endpoint = endpoint_of(req);
    if (s->requests) {
        char status[8];
        /* 499: the client went away before any answer (nginx's convention) */
        snprintf(status, sizeof status, "%d", req->status ? req->status : 499);
        metrics_counter_inc(
            metrics_family_child(s->requests, (const char *[]){method, endpoint, status}));
        metrics_histogram_observe(
            metrics_family_child(s->durations, (const char *[]){method, endpoint}), dt);
    }
    if (s->access_log) {
        log_request(&(log_request_t){
            .method = req->method_raw,
            .path = req->path,
            .route = endpoint,
            .status = req->status ? req->status : 499,
            .duration_s = dt,
            .bytes_in = req->body_in,
            .bytes_out = req->bytes_out,
        });
    }
}

static void request_free(http_request_t *req)
{
    buf_free(&req->body);
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    for (size_t i = 0; i < HTTP_PARAMS_MAX; i++) free(req->params[i]);
    free(req->pending_ct);
    buf_free(&req->pending_body);
    if (req->pending_stream) stream_free(req->pending_stream);
    free(req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    http_server_t *s = cls;
    http_request_t *req = *con_cls;
    if (!req) { /* first call: headers are in, no body yet */
        req = calloc(1, sizeof *req);
        if (!req) return MHD_NO;
        req->srv = s;
        req->conn = conn;
        req->path = url;
        req->method_raw = method;
        req->method = http_method_parse(method);
        req->t0 = clock_now();
        buf_init(&req->body, s->max_body + 1);
        req->match_result = http_router_match(s->router, req->method, url, &req->match);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        req->fd = ci ? ci->connect_fd : -1;
        atomic_fetch_add(&s->inflight, 1);
        *con_cls = req;
        /* With a body announced, refuse now so that it is never read (MHD
         * then closes the connection). Without one, answer at the last call:
         * an early answer would cost the client its keep-alive connection. */
        if (announces_body(req) && precheck(req)) req->handled = true;
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        req->body_in += *upload_size;
        if (!req->handled && !req->too_large) {
            if (req->body.len + *upload_size > s->max_body) {
                req->too_large = true;
                buf_free(&req->body);
            } else {
                buf_append(&req->body, upload, *upload_size);
                if (buf_error(&req->body)) req->too_large = true;
            }
        }
        *upload_size = 0;
        /* a client streaming far past the cap is cut off */
        return req->body_in > 2 * s->max_body + (1u << 20) ? MHD_NO : MHD_YES;
    }
    if (req->handled) { /* answered, or resumed to queue a deferred answer */
        bool ready = false;
        if (req->deferred) {
            pthread_mutex_lock(&s->mu);
            ready = req->pending;
            pthread_mutex_unlock(&s->mu);
        }
        if (ready) queue_pending(req);
        return MHD_YES;
    }
    req->handled = true;
    if (precheck(req)) return MHD_YES;
    if (req->too_large) {
        http_respond_error(req, 413, "payload_too_large",
                           "request body is over the limit of %zu bytes", s->max_body);
        return MHD_YES;
    }
    const http_route_t *rt = req->match.route;
    req->mhd_thread = pthread_self();
    rt->handlers[req->match.method](req, rt->ctx[req->match.method]);
    if (req->deferred && !req->status) {
        /* another thread answers: wait for it without holding this one,
         * unless it already has */
        pthread_mutex_lock(&s->mu);
        bool ready = req->pending;
        if (!ready) {
            req->suspended = true;
            MHD_suspend_connection(conn);
        }
        pthread_mutex_unlock(&s->mu);
        if (ready) queue_pending(req);
        return MHD_YES;
    }
    if (!req->status)
        http_respond_error(req, 500, "internal", "the handler for %s gave no answer", rt->tmpl);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server_t *s = cls;
    http_request_t *req = *con_cls;
    if (!req) return;
    record(req);
    request_free(req);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

/* ---- lifecycle ------------------------------------------------------------ */

/* "host:port" or "[v6]:port" to a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len, char *err,
                        size_t errlen)
{
    char host[256];
    const char *colon, *hs = listen, *he;
    if (listen[0] == '[') {
        he = strchr(listen, ']');
        if (!he || he[1] != ':') goto bad;
        hs = listen + 1;
        colon = he + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon) goto bad;
        he = colon;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof host) goto bad;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    const char *port = colon + 1;
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end || p < 0 || p > 65535) goto bad;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve listen address '%s': %s", listen, gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
bad:
    snprintf(err, errlen, "invalid listen address '%s' (want HOST:PORT or [IPV6]:PORT)", listen);
    return -EINVAL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    log_warn("http: %s", msg);
}

static int register_metrics(http_server_t *s, const http_router_t *router,
                            const http_server_opts_t *o, char *err, size_t errlen)
{
    static const char *const req_l[] = {"method", "endpoint", "status"};
    static const char *const dur_l[] = {"method", "endpoint"};
    const metrics_def_t defs[] = {
        {{.type = METRICS_COUNTER,
          .name = "http_requests_total",
          .help = "HTTP requests by method, route template and status.",
          .labels = req_l,
          .nlabels = 3},
         &s->requests,
         NULL},
        {{.type = METRICS_HISTOGRAM,
          .name = "http_request_duration_seconds",
          .help = "HTTP request duration in seconds, by method and route template.",
          .labels = dur_l,
          .nlabels = 2,
          .buckets = o->buckets,
          .nbuckets = o->nbuckets},
         &s->durations,
         NULL},
    };
    char why[256] = "";
    int rc = metrics_register_all(o->metrics, defs, 2, why, sizeof why);
    if (rc) {
        snprintf(err, errlen, "request metrics: %s", why);
        return rc;
    }
    /* Known routes exist at zero from the start, so rates and error ratios
     * are defined before the first request. */
    for (size_t i = 0; i < router->nroutes; i++) {
        const http_route_t *rt = &router->routes[i];
        for (int m = 0; m < HTTP_OTHER; m++) {
            if (!rt->handlers[m]) continue;
            char ok[8];
            snprintf(ok, sizeof ok, "%d", rt->ok_status[m]);
            const char *method = http_method_name((http_method_t)m);
            metrics_family_child(s->requests, (const char *[]){method, rt->tmpl, ok});
            metrics_family_child(s->requests, (const char *[]){method, rt->tmpl, "500"});
            metrics_family_child(s->durations, (const char *[]){method, rt->tmpl});
        }
    }
    return 0;
}

/* A listening TCP socket on ss, made here rather than by libmicrohttpd so
 * that a failure keeps its errno: -EADDRINUSE, -EACCES (a port below 1024),
 * -EADDRNOTAVAIL (an address this host does not have). */
static int listen_socket(const struct sockaddr_storage *ss, socklen_t len)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int http_server_start(http_server_t **out, const http_router_t *router, const http_server_opts_t *o,
                      char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    *out = NULL;
    int rc = parse_listen(o->listen, &ss, &sslen, err, errlen);
    if (rc) return rc;
    http_server_t *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->router = router;
    pthread_mutex_init(&s->mu, NULL);
    s->max_body = o->max_body;
    s->access_log = o->access_log;
    if (o->api_key && *o->api_key && !(s->api_key = strdup(o->api_key))) {
        free(s);
        return -ENOMEM;
    }
    if (o->metrics && (rc = register_metrics(s, router, o, err, errlen)) != 0) {
        free(s->api_key);
        free(s);
        return rc;
    }
    unsigned threads = o->threads ? o->threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    int fd = listen_socket(&ss, sslen);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", o->listen, strerror(-fd));
        free(s->api_key);
        free(s);
        return fd;
    }
    /* No MHD_USE_TURBO: with it, libmicrohttpd 0.9.75 closes the connection
     * after every 4xx answer, costing keep-alive clients a reconnect. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    errno = 0;
    s->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
                         NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        rc = errno ? -errno : -EIO; /* threads, epoll, memory: not the address */
        snprintf(err, errlen, "cannot start the HTTP server on %s: %s", o->listen,
                 errno ? strerror(errno) : "libmicrohttpd refused to start");
        close(fd);
        free(s->api_key);
        free(s);
        return rc;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
        ss = bound; /* port 0: the real one */
    s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
        snprintf(s->address, sizeof s->address, "[%s]:%u", host, s->port);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
        snprintf(s->address, sizeof s->address, "%s:%u", host, s->port);
    }
    atomic_store(&s->accepting, true);
    *out = s;
    return 0;
}

uint16_t http_server_port(const http_server_t *s)
{
    return s->port;
}

const char *http_server_address(const http_server_t *s)
{
    return s->address;
}

long http_server_inflight(const http_server_t *s)
{
    return atomic_load(&((http_server_t *)s)->inflight);
}

bool http_server_accepting(const http_server_t *s)
{
    return atomic_load(&((http_server_t *)s)->accepting);
}

bool http_server_stopping(const http_server_t *s)
{
    return atomic_load(&((http_server_t *)s)->stopping);
}

void http_server_quiesce(http_server_t *s)
{
    if (!atomic_exchange(&s->accepting, false)) return;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

long http_server_drain(http_server_t *s, double timeout_s)
{
    double deadline = clock_now() + timeout_s;
    long n;
    while ((n = atomic_load(&s->inflight)) > 0 && clock_now() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return n;
}

void http_server_stop(http_server_t **sp)
{
    http_server_t *s = sp ? *sp : NULL;
    if (!s) return;
    /* MHD must not stop with a connection suspended: deferred answers see
     * their client gone, end, and so resume theirs. */
    atomic_store(&s->stopping, true);
    double deadline = clock_now() + STOP_WAIT_S;
    while (atomic_load(&s->deferred) > 0 && clock_now() < deadline) clock_sleep(0.01);
    if (atomic_load(&s->deferred) > 0)
        log_warn("http: %ld deferred answer(s) still running at stop", atomic_load(&s->deferred));
    /* their last words (a stream's closing event) still go out, briefly */
    http_server_drain(s, FLUSH_WAIT_S);
    MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->mu);
    free(s->api_key);
    free(s);
    *sp = NULL;
}
