/* Router, configuration and the log format. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "http/jread.h"
#include "http/router.h"
#include "server/config.h"
#include "test.h"

static void dummy(struct http_request *req, void *ctx)
{
    (void)req;
    (void)ctx;
}

TEST(router_matches_templates)
{
    http_router_t r;
    http_router_init(&r);
    ASSERT_OK(http_router_add(&r, HTTP_GET, "/health", dummy, NULL, 0, 200));
    ASSERT_OK(http_router_add(&r, HTTP_GET, "/v1/documents", dummy, NULL, 0, 200));
    ASSERT_OK(http_router_add(&r, HTTP_POST, "/v1/documents", dummy, NULL, HTTP_ROUTE_WRITE, 201));
    ASSERT_OK(http_router_add(&r, HTTP_GET, "/v1/documents/{id}", dummy, NULL, 0, 200));
    ASSERT_OK(
        http_router_add(&r, HTTP_DELETE, "/v1/documents/{id}", dummy, NULL, HTTP_ROUTE_WRITE, 200));
    ASSERT_OK(http_router_add(&r, HTTP_GET, "/", dummy, NULL, 0, 200));
    /* bad templates and duplicates */
    ASSERT_EQ(http_router_add(&r, HTTP_GET, "/health", dummy, NULL, 0, 200), -EINVAL);
    ASSERT_EQ(http_router_add(&r, HTTP_GET, "nope", dummy, NULL, 0, 200), -EINVAL);
    ASSERT_EQ(http_router_add(&r, HTTP_GET, "/a//b", dummy, NULL, 0, 200), -EINVAL);
    ASSERT_EQ(http_router_add(&r, HTTP_GET, "/a/", dummy, NULL, 0, 200), -EINVAL);
    ASSERT_EQ(http_router_add(&r, HTTP_GET, "/a/{}", dummy, NULL, 0, 200), -EINVAL);
    ASSERT_EQ(http_router_add(&r, HTTP_HEAD, "/h", dummy, NULL, 0, 200), -EINVAL);

    static const struct {
        http_method_t m;
        const char *path;
        http_match_result_t want;
        const char *tmpl, *param;
    } rows[] = {
        {HTTP_GET, "/health", HTTP_MATCH_OK, "/health", NULL},
        {HTTP_HEAD, "/health", HTTP_MATCH_OK, "/health", NULL},
        {HTTP_POST, "/health", HTTP_MATCH_BAD_METHOD, "/health", NULL},
        {HTTP_OTHER, "/health", HTTP_MATCH_BAD_METHOD, "/health", NULL},
        {HTTP_GET, "/health/", HTTP_MATCH_NOT_FOUND, NULL, NULL},
        {HTTP_GET, "/healthz", HTTP_MATCH_NOT_FOUND, NULL, NULL},
        {HTTP_GET, "/", HTTP_MATCH_OK, "/", NULL},
        {HTTP_GET, "", HTTP_MATCH_NOT_FOUND, NULL, NULL},
        {HTTP_POST, "/v1/documents", HTTP_MATCH_OK, "/v1/documents", NULL},
        {HTTP_GET, "/v1/documents/abc-123", HTTP_MATCH_OK, "/v1/documents/{id}", "abc-123"},
        {HTTP_DELETE, "/v1/documents/x", HTTP_MATCH_OK, "/v1/documents/{id}", "x"},
        {HTTP_PUT, "/v1/documents/x", HTTP_MATCH_BAD_METHOD, "/v1/documents/{id}", NULL},
        {HTTP_GET, "/v1/documents/", HTTP_MATCH_NOT_FOUND, NULL, NULL},
        {HTTP_GET, "/v1/documents/a/b", HTTP_MATCH_NOT_FOUND, NULL, NULL},
        {HTTP_GET, "/v1//documents", HTTP_MATCH_NOT_FOUND, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        http_match_t m;
        http_match_result_t got = http_router_match(&r, rows[i].m, rows[i].path, &m);
        if (got != rows[i].want) fprintf(stderr, "    row %zu: %s\n", i, rows[i].path);
        ASSERT_EQ(got, rows[i].want);
        if (rows[i].tmpl) ASSERT_STR_EQ(m.route->tmpl, rows[i].tmpl);
        if (rows[i].param) {
            ASSERT_EQ(m.nparams, 1);
            ASSERT_STR_EQ(m.params[0].name, "{id}");
            ASSERT_EQ(m.params[0].len, strlen(rows[i].param));
            ASSERT(strncmp(m.params[0].value, rows[i].param, m.params[0].len) == 0);
        }
    }
    http_match_t m;
    http_router_match(&r, HTTP_PUT, "/v1/documents/x", &m);
    char allow[64];
    http_route_allow(m.route, allow, sizeof allow);
    ASSERT_STR_EQ(allow, "GET, HEAD, DELETE");
    ASSERT_EQ(m.route->flags[HTTP_DELETE], HTTP_ROUTE_WRITE);
    ASSERT_EQ(m.route->ok_status[HTTP_POST], 0);
    http_router_match(&r, HTTP_POST, "/v1/documents", &m);
    ASSERT_EQ(m.route->ok_status[HTTP_POST], 201);
    http_router_free(&r);
}

TEST(method_names)
{
    ASSERT_EQ(http_method_parse("GET"), HTTP_GET);
    ASSERT_EQ(http_method_parse("PATCH"), HTTP_PATCH);
    ASSERT_EQ(http_method_parse("get"), HTTP_OTHER); /* methods are case-sensitive */
    ASSERT_EQ(http_method_parse("BREW"), HTTP_OTHER);
    ASSERT_STR_EQ(http_method_name(HTTP_OTHER), "OTHER");
    ASSERT_STR_EQ(http_method_name(HTTP_DELETE), "DELETE");
}

TEST(config_sizes_and_buckets)
{
    static const struct {
        const char *s;
        size_t want;
        int rc;
    } sizes[] = {
        {"1024", 1024, 0},
        {"32MiB", 32u << 20, 0},
        {"32m", 32u << 20, 0},
        {"64k", 65536, 0},
        {"1G", 1u << 30, 0},
        {"10KB", 10240, 0},
        {"", 0, -EINVAL},
        {"-1", 0, -EINVAL},
        {"12x", 0, -EINVAL},
        {"MiB", 0, -EINVAL},
        {"99999999999999999999", 0, -EINVAL},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t v = 0;
        ASSERT_EQ(config_parse_size(sizes[i].s, &v), sizes[i].rc);
        if (!sizes[i].rc) ASSERT_EQ(v, sizes[i].want);
    }
    config_buckets_t b;
    ASSERT_OK(config_parse_buckets("0.005, 0.01,1,10", &b));
    ASSERT_EQ(b.n, 4);
    ASSERT_DBL_EQ(b.v[1], 0.01);
    ASSERT_EQ(config_parse_buckets("1,1", &b), -EINVAL);
    ASSERT_EQ(config_parse_buckets("2,1", &b), -EINVAL);
    ASSERT_EQ(config_parse_buckets("1,x", &b), -EINVAL);
    ASSERT_EQ(config_parse_buckets("", &b), -EINVAL);
    ASSERT_EQ(config_parse_buckets("1,inf", &b), -EINVAL);
}

TEST(config_flags_env_and_errors)
{
    config_t c;
    char err[256];
    config_defaults(&c);
    ASSERT_STR_EQ(c.listen, "127.0.0.1:8050");
    ASSERT_STR_EQ(c.data_dir, "./data");
    ASSERT_EQ(c.max_body, 32u << 20);
    ASSERT_EQ(c.buckets_http.n, 14);
    ASSERT_DBL_EQ(c.buckets_http.v[4], 0.01); /* the guide's first bound is kept */

    char *env[] = {"RAGD_LISTEN=0.0.0.0:9000", "RAGD_API_KEY=from-env", "RAGD_THREADS=3", "OTHER=1",
                   NULL};
    char *argv[] = {"--listen",     "127.0.0.1:9100", "--max-body=1MiB",
                    "--log-format", "json",           "--access-log",
                    "off",          "--buckets-http", "0.1,1"};
    ASSERT_OK(config_parse(&c, 9, argv, env, stdout, err, sizeof err));
    ASSERT_STR_EQ(c.listen, "127.0.0.1:9100"); /* the flag wins */
    ASSERT_STR_EQ(c.api_key, "from-env");
    ASSERT_EQ(c.threads, 3);
    ASSERT_EQ(c.max_body, 1u << 20);
    ASSERT_EQ(c.log_format, LOG_JSON);
    ASSERT_EQ(c.access_log, false);
    ASSERT_EQ(c.buckets_http.n, 2);

    static const struct {
        int argc;
        char *argv[3];
        const char *msg;
    } bad[] = {
        {1, {"--nope"}, "unknown option '--nope'"},
        {1, {"--listen"}, "needs a value"},
        {2, {"--max-body", "lots"}, "invalid value 'lots' for --max-body"},
        {2, {"--log-format", "xml"}, "invalid value 'xml'"},
        {2, {"--threads", "-2"}, "invalid value '-2'"},
        {2, {"--access-log", "maybe"}, "invalid value 'maybe'"},
        {1, {"--max-body=0"}, "--max-body 0 is out of range (1KiB-4GiB)"},
        {2, {"--max-chunks", "0"}, "--max-chunks 0 is out of range (1-1000000)"},
        {2, {"--max-top-k", "1001"}, "--max-top-k 1001 is out of range (1-1000)"},
        {2, {"--embedding-dim", "8193"}, "--embedding-dim 8193 is out of range (1-8192)"},
        {2, {"--embedding-dim", "8"}, "too small for the hash embedder"},
        {2,
         {"--chunk-overlap", "128"},
         "--chunk-overlap 128 must be under half of --chunk-tokens 256"},
        {2,
         {"--embedder", "word2vec"},
         "invalid value 'word2vec' for --embedder (want hash|openai)"},
        {2, {"--embedder", "openai"}, "needs --embedder-url and --embedder-model"},
        {2, {"--timeout", "0.5"}, "--timeout 0.5 is out of range (1-86400)"},
        {2, {"--threads", "99999999999999999999999"}, "invalid value"},
        {1, {"serve"}, "unexpected argument 'serve'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_defaults(&c);
        err[0] = '\0';
        ASSERT_EQ(config_parse(&c, bad[i].argc, bad[i].argv, NULL, stdout, err, sizeof err),
                  -EINVAL);
        ASSERT_CONTAINS(err, bad[i].msg);
    }
    /* Values the old parser refused above 4096, each in its range. */
    char *big[] = {"--max-chunks",    "10000", "--cache-entries", "5000",
                   "--embedding-dim", "8192",  "--max-query",     "64k"};
    config_defaults(&c);
    ASSERT_OK(config_parse(&c, 8, big, NULL, stdout, err, sizeof err));
    ASSERT_EQ(c.max_chunks, 10000);
    ASSERT_EQ(c.cache_entries, 5000);
    ASSERT_EQ(c.embedding_dim, 8192);
    ASSERT_EQ(c.max_query, 65536);
    char *benv[] = {"RAGD_MAX_BODY=huge", NULL};
    config_defaults(&c);
    ASSERT_EQ(config_parse(&c, 0, NULL, benv, stdout, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "RAGD_MAX_BODY");
    FILE *devnull = fopen("/dev/null", "w");
    char *help[] = {"--help"};
    ASSERT_EQ(config_parse(&c, 1, help, NULL, devnull, err, sizeof err), 1);
    fclose(devnull);
}

/* Walks the options table: every default parses, lies in its range and is
 * what config_defaults gives; both ends of every range are accepted and one
 * step beyond each refused with a message naming the option and the range;
 * --help shows every option with its variable, default and range. */
TEST(config_table)
{
    size_t n;
    const config_option_t *opts = config_options(&n);
    ASSERT(n >= 25);
    config_t defaults, c;
    char err[256], arg[160], range[64];
    config_defaults(&defaults);
    FILE *help = tmpfile();
    ASSERT(help != NULL);
    char *h[] = {"--help"};
    ASSERT_EQ(config_parse(&c, 1, h, NULL, help, err, sizeof err), 1);
    long hlen = ftell(help);
    ASSERT(hlen > 0);
    char *text = calloc(1, (size_t)hlen + 1);
    rewind(help);
    ASSERT_EQ(fread(text, 1, (size_t)hlen, help), (size_t)hlen);
    fclose(help);
    for (size_t i = 0; i < n; i++) {
        const config_option_t *o = &opts[i];
        ASSERT(o->flag && o->env && o->arg && o->help);
        ASSERT(o->off + o->size <= sizeof(config_t));
        config_option_range(o, range, sizeof range);
        snprintf(arg, sizeof arg, "--%s %s", o->flag, o->arg);
        ASSERT_CONTAINS(text, arg);
        snprintf(arg, sizeof arg, "[%s; default %s%s%s]", o->env, o->def ? o->def : "none",
                 range[0] ? "; range " : "", range);
        ASSERT_CONTAINS(text, arg);
        if (o->def) { /* the default, given explicitly, parses to what config_defaults set */
            snprintf(arg, sizeof arg, "--%s=%s", o->flag, o->def);
            char *argv[] = {arg};
            config_defaults(&c);
            memset((char *)&c + o->off, 0xa5, o->size);
            int rc = config_parse(&c, 1, argv, NULL, stdout, err, sizeof err);
            if (rc) fprintf(stderr, "  default of --%s: %s\n", o->flag, err);
            ASSERT_OK(rc);
            const char *got = (char *)&c + o->off, *want = (char *)&defaults + o->off;
            if (o->kind == CONFIG_STRING) {
                ASSERT_STR_EQ(got, want);
            } else if (o->kind == CONFIG_BUCKETS) {
                const config_buckets_t *bg = (const void *)got, *bw = (const void *)want;
                ASSERT_EQ(bg->n, bw->n);
                ASSERT_OK(memcmp(bg->v, bw->v, bw->n * sizeof bw->v[0]));
            } else {
                ASSERT_OK(memcmp(got, want, o->size));
            }
        }
        if (!range[0]) continue;
        ASSERT(o->min <= o->max);
        const double ends[4] = {o->min, o->max, o->min - 1, o->max + 1};
        for (int e = 0; e < 4; e++) {
            if (ends[e] < 0) continue;
            char *argv[2] = {arg, NULL};
            snprintf(arg, sizeof arg, "--%s=%.15g", o->flag, ends[e]);
            config_defaults(&c);
            int rc = config_parse(&c, 1, argv, NULL, stdout, err, sizeof err);
            if (e < 2) {
                /* one end may clash with another option (overlap vs tokens) */
                bool clash =
                    rc && (strstr(err, "must be under half") || strstr(err, "too small for"));
                if (rc && !clash) fprintf(stderr, "  %s: %s\n", arg, err);
                ASSERT(rc == 0 || clash);
            } else {
                ASSERT_EQ(rc, -EINVAL);
                ASSERT_CONTAINS(err, o->flag);
                ASSERT_CONTAINS(err, range);
            }
        }
    }
    free(text);
}

TEST(log_json_lines_parse)
{
    int p[2];
    ASSERT_OK(pipe(p));
    log_init(LOG_JSON, p[1]);
    log_request(&(log_request_t){.method = "GET",
                                 .path = "/a\"b\n\x01",
                                 .route = "unmatched",
                                 .status = 404,
                                 .duration_s = 0.0015,
                                 .bytes_in = 3,
                                 .bytes_out = 65});
    log_warn("disk %d%% full", 97);
    log_init(LOG_TEXT, 2);
    close(p[1]);
    char buf[4096];
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    ASSERT(n > 0);
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    ASSERT(nl);
    *nl = '\0';
    json_error_t e;
    json_t *j = json_loads(buf, 0, &e);
    ASSERT(j != NULL);
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "path")), "/a\"b\n\x01");
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "route")), "unmatched");
    ASSERT_EQ(json_integer_value(json_object_get(j, "status")), 404);
    ASSERT(fabs(json_real_value(json_object_get(j, "duration_ms")) - 1.5) < 1e-9);
    ASSERT_EQ(json_integer_value(json_object_get(j, "bytes_out")), 65);
    json_decref(j);
    j = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, &e);
    ASSERT(j != NULL);
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "level")), "warn");
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "msg")), "disk 97% full");
    json_decref(j);
}

/* jread gives json_loadb's value, or its refusal and message, for every
 * input: what simdjson reads (strings with escapes and UTF-8, numbers at
 * int64's edges, nesting, big texts past the kept parser's size) and what
 * json_loadb refuses that simdjson would take (duplicate keys, "\u0000",
 * an integer past int64, a scalar at the top, nesting past simdjson's
 * depth, which jansson takes). */
TEST(jread_as_json_loadb)
{
    static const char *const in[] = {
        "{\"id\":\"a\",\"content\":\"# T\\n\\nx \\\"q\\\" \\u00e9 "
        "\\ud83d\\ude00\",\"metadata\":{\"k\":\"v\"}}",
        "[9223372036854775807, -9223372036854775808, 1.5e300, -0.0, 0.1, true, false, null, [], "
        "{}]",
        "  {\"a\":{\"b\":[1,{\"c\":\"d\"}]}}\r\n",
        "{\"a\":1,\"a\":2}",
        "{\"a\":{\"x\":1,\"x\":1}}",
        "{\"s\":\"a\\u0000b\"}",
        "{\"k\\u0000\":1}",
        "[9223372036854775808]",
        "\"top\"",
        "42",
        "{\"a\":1} x",
        "{\"a\":\"\xff\"}",
        "{\"a\":1,}",
        "",
        "not json",
    };
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        json_error_t ea, eb;
        json_t *a = jread(in[i], strlen(in[i]), &ea);
        json_t *b = json_loadb(in[i], strlen(in[i]), JSON_REJECT_DUPLICATES, &eb);
        ASSERT_EQ(!a, !b);
        if (a)
            ASSERT(json_equal(a, b));
        else
            ASSERT_STR_EQ(ea.text, eb.text);
        json_decref(a);
        json_decref(b);
    }
    /* nesting of 1,500 (simdjson stops at 1,024, jansson at 2,048) and a
     * text past JREAD_KEEP */
    size_t n = 3000 + JREAD_KEEP;
    char *big = malloc(n + 16);
    ASSERT(big);
    memset(big, '[', 1500);
    memset(big + 1500, ']', 1500);
    json_error_t e;
    json_t *deep = jread(big, 3000, &e);
    ASSERT(deep && json_is_array(deep));
    json_decref(deep);
    size_t len = (size_t)sprintf(big, "{\"content\":\"");
    memset(big + len, 'x', JREAD_KEEP);
    len += JREAD_KEEP;
    len += (size_t)sprintf(big + len, "\"}");
    json_t *j = jread(big, len, &e);
    ASSERT(j && json_string_length(json_object_get(j, "content")) == JREAD_KEEP);
    json_decref(j);
    free(big);
}
