/* Request paths through the router, and the option value parsers. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http/router.h"
#include "server/config.h"

static void h(struct http_request *req, void *ctx)
{
    (void)req;
    (void)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static http_router_t r;
    static int ready;
    if (!ready) {
        http_router_init(&r);
        http_router_add(&r, HTTP_GET, "/health", h, NULL, 0, 200);
        http_router_add(&r, HTTP_POST, "/v1/documents", h, NULL, HTTP_ROUTE_WRITE, 201);
        http_router_add(&r, HTTP_GET, "/v1/documents/{id}", h, NULL, 0, 200);
        http_router_add(&r, HTTP_GET, "/a/{b}/c/{d}", h, NULL, 0, 200);
        ready = 1;
    }
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    http_match_t m;
    for (int meth = 0; meth < HTTP_METHOD_COUNT; meth++) {
        http_match_result_t res = http_router_match(&r, (http_method_t)meth, s, &m);
        if (res != HTTP_MATCH_NOT_FOUND && !m.route) abort();
        for (size_t i = 0; i < m.nparams; i++)
            if (m.params[i].value < s || m.params[i].value + m.params[i].len > s + size) abort();
    }
    size_t v;
    config_buckets_t b;
    (void)config_parse_size(s, &v);
    (void)config_parse_buckets(s, &b);
    free(s);
    return 0;
}
