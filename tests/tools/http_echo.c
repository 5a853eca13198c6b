/* A server on ragd's HTTP module with one write route, for the black-box
 * tests of what every route shares: body cap, JSON parsing, API key.
 *
 * usage: http_echo HOST:PORT MAX_BODY [API_KEY]
 *   POST /echo   (write route) parses the body as a JSON object and answers it
 *   GET  /ping   answers {"pong":true}
 * Prints "listening on PORT" on stdout, then serves until SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/server.h"

static void h_echo(http_request_t *req, void *ctx)
{
    json_t *j;
    char err[256];
    if (http_request_json(req, &j, err, sizeof err))
        http_respond_error(req, 400, "invalid_json", "%s", err);
    else
        http_respond_json(req, 200, j);
}

static void h_ping(http_request_t *req, void *ctx)
{
    http_respond_json(req, 200, json_pack("{s:b}", "pong", 1));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: http_echo HOST:PORT MAX_BODY [API_KEY]\n");
        return 2;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    http_router_t r;
    http_router_init(&r);
    http_router_add(&r, HTTP_POST, "/echo", h_echo, NULL, HTTP_ROUTE_WRITE, 200);
    http_router_add(&r, HTTP_GET, "/ping", h_ping, NULL, 0, 200);
    metrics_registry_t *reg;
    metrics_registry_new(&reg, NULL);
    static const double b[] = {0.001, 0.01, 0.1, 1};
    http_server_opts_t o = {.listen = argv[1],
                            .threads = 2,
                            .max_body = (size_t)atol(argv[2]),
                            .timeout_s = 5,
                            .api_key = argc > 3 ? argv[3] : NULL,
                            .metrics = reg,
                            .buckets = b,
                            .nbuckets = 4};
    http_server_t *s;
    char err[256];
    if (http_server_start(&s, &r, &o, err, sizeof err) != 0) {
        fprintf(stderr, "http_echo: %s\n", err);
        return 1;
    }
    printf("listening on %u\n", http_server_port(s));
    fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    http_server_stop(&s);
    http_router_free(&r);
    metrics_registry_free(&reg);
    return 0;
}
