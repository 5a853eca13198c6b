#include "server/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The guide's HTTP buckets (0.01 .. 10) plus finer ones below 10 ms, where a
 * C service does most of its work. */
static const double default_http_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};

/* RAG histograms: the guide's bounds, plus finer ones below them. */
static const double default_document_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                  0.5,   1,      5,     10,   30,    60,   120, 300};
static const double default_fast_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                              0.01,   0.05,    0.1,    0.25,  0.5,    1};

static void set_buckets(config_buckets_t *b, const double *v, size_t n)
{
    b->n = n;
    memcpy(b->v, v, n * sizeof *v);
}

void config_defaults(config_t *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->listen, "127.0.0.1:8050");
    strcpy(c->data_dir, "./data");
    c->max_body = 32u << 20;
    c->log_format = LOG_TEXT;
    c->access_log = true;
    c->request_metrics = true;
    c->timeout_s = 30;
    c->shutdown_timeout_s = 10;
    c->health_interval_s = 5;
    set_buckets(&c->buckets_http, default_http_buckets, sizeof default_http_buckets / sizeof(double));
    strcpy(c->embedder, "hash");
    c->embedder_timeout_s = 30;
    c->embedder_retries = 3;
    c->embedding_dim = 384;
    c->chunk_tokens = 256;
    c->chunk_overlap = 32;
    c->max_chunks = 10000;
    c->cache_entries = 1000;
    c->cache_ttl_s = 300;
    c->max_query = 4096;
    c->max_top_k = 100;
    c->pdf_timeout_s = 30;
    set_buckets(&c->buckets_document, default_document_buckets, sizeof default_document_buckets / sizeof(double));
    set_buckets(&c->buckets_embedding, default_fast_buckets, sizeof default_fast_buckets / sizeof(double));
    set_buckets(&c->buckets_search, default_fast_buckets, sizeof default_fast_buckets / sizeof(double));
}

int config_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s)) return -EINVAL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return -EINVAL;
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0},    {"b", 0},   {"k", 10},   {"kb", 10}, {"kib", 10}, {"m", 20},
                 {"mb", 20}, {"mib", 20}, {"g", 30},  {"gb", 30}, {"gib", 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].suffix) != 0) continue;
        if (v > (~0ULL >> units[i].shift)) return -EINVAL;
        *out = (size_t)(v << units[i].shift);
        return 0;
    }
    return -EINVAL;
}

int config_parse_buckets(const char *s, config_buckets_t *out)
{
    config_buckets_t b = {.n = 0};
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || b.n == CONFIG_MAX_BUCKETS) return -EINVAL;
        if (b.n && !(v > b.v[b.n - 1])) return -EINVAL;
        b.v[b.n++] = v;
        while (*end == ' ') end++;
        if (*end == ',') end++;
        else if (*end) return -EINVAL;
        p = end;
    }
    if (b.n == 0) return -EINVAL;
    *out = b;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"}, *const no[] = {"off", "false", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0) return *out = false, 0;
    }
    return -EINVAL;
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < 0) return -EINVAL;
    *out = v;
    return 0;
}

enum kind { K_STRING, K_SIZE, K_UINT, K_SECONDS, K_USECONDS, K_BOOL, K_LOGFMT, K_BUCKETS };

static const struct option {
    const char *flag;  /* without "--" */
    const char *env;
    enum kind kind;
    size_t off, size;  /* field, and its size for strings */
    const char *arg, *help;
} options[] = {
#define F(field) offsetof(config_t, field), sizeof(((config_t *)0)->field)
    {"listen", "RAGD_LISTEN", K_STRING, F(listen), "HOST:PORT",
     "address to serve on (default 127.0.0.1:8050; 0.0.0.0:8050 for every interface)"},
    {"data-dir", "RAGD_DATA_DIR", K_STRING, F(data_dir), "DIR", "data directory (default ./data)"},
    {"threads", "RAGD_THREADS", K_UINT, F(threads), "N", "HTTP worker threads (default: one per CPU)"},
    {"max-body", "RAGD_MAX_BODY", K_SIZE, F(max_body), "SIZE", "largest request body (default 32MiB)"},
    {"api-key", "RAGD_API_KEY", K_STRING, F(api_key), "KEY",
     "require 'Authorization: Bearer KEY' on write routes (prefer the variable: flags show in ps)"},
    {"log-format", "RAGD_LOG_FORMAT", K_LOGFMT, F(log_format), "text|json", "log line format (default text)"},
    {"access-log", "RAGD_ACCESS_LOG", K_BOOL, F(access_log), "on|off", "one log line per request (default on)"},
    {"request-metrics", "RAGD_REQUEST_METRICS", K_BOOL, F(request_metrics), "on|off",
     "HTTP request metrics (default on; off only to measure their cost)"},
    {"timeout", "RAGD_TIMEOUT", K_USECONDS, F(timeout_s), "SECONDS",
     "close connections idle this long, stalled clients included (default 30)"},
    {"shutdown-timeout", "RAGD_SHUTDOWN_TIMEOUT", K_SECONDS, F(shutdown_timeout_s), "SECONDS",
     "on SIGTERM, wait this long for in-flight requests (default 10)"},
    {"health-interval", "RAGD_HEALTH_INTERVAL", K_SECONDS, F(health_interval_s), "SECONDS",
     "seconds between health checks (default 5)"},
    {"nvml-library", "RAGD_NVML_LIBRARY", K_STRING, F(nvml_library), "PATH",
     "NVML library to load for GPU metrics (default libnvidia-ml.so.1)"},
    {"buckets-http", "RAGD_BUCKETS_HTTP", K_BUCKETS, F(buckets_http), "LIST",
     "http_request_duration_seconds bounds, comma-separated (default 0.0005,...,10)"},
    {"embedder", "RAGD_EMBEDDER", K_STRING, F(embedder), "hash|openai",
     "embedding backend (default hash; openai: any OpenAI-compatible /v1/embeddings server)"},
    {"embedding-dim", "RAGD_EMBEDDING_DIM", K_UINT, F(embedding_dim), "N",
     "vector dimensions; for openai, the model's (default 384)"},
    {"embedder-url", "RAGD_EMBEDDER_URL", K_STRING, F(embedder_url), "URL",
     "openai: the server's base URL (http://127.0.0.1:8080); key from RAGD_EMBEDDER_API_KEY"},
    {"embedder-model", "RAGD_EMBEDDER_MODEL", K_STRING, F(embedder_model), "NAME", "openai: the model name"},
    {"embedder-timeout", "RAGD_EMBEDDER_TIMEOUT", K_SECONDS, F(embedder_timeout_s), "SECONDS",
     "openai: time one request may take (default 30)"},
    {"embedder-retries", "RAGD_EMBEDDER_RETRIES", K_UINT, F(embedder_retries), "N",
     "openai: retries with backoff on 429, 5xx and network errors (default 3)"},
    {"chunk-tokens", "RAGD_CHUNK_TOKENS", K_UINT, F(chunk_tokens), "N", "tokens per chunk (default 256)"},
    {"chunk-overlap", "RAGD_CHUNK_OVERLAP", K_UINT, F(chunk_overlap), "N",
     "tokens shared by neighbouring chunks (default 32)"},
    {"max-chunks", "RAGD_MAX_CHUNKS", K_UINT, F(max_chunks), "N", "most chunks one document may make (default 10000)"},
    {"cache-entries", "RAGD_CACHE_ENTRIES", K_UINT, F(cache_entries), "N", "query cache size; 0 turns it off (default 1000)"},
    {"cache-ttl", "RAGD_CACHE_TTL", K_SECONDS, F(cache_ttl_s), "SECONDS", "query cache entry lifetime (default 300)"},
    {"max-query", "RAGD_MAX_QUERY", K_SIZE, F(max_query), "SIZE", "longest query text (default 4096 bytes)"},
    {"max-top-k", "RAGD_MAX_TOP_K", K_UINT, F(max_top_k), "N", "largest top_k a query may ask (default 100, at most 1000)"},
    {"pdf-timeout", "RAGD_PDF_TIMEOUT", K_SECONDS, F(pdf_timeout_s), "SECONDS", "time one PDF may take to parse (default 30)"},
    {"buckets-document", "RAGD_BUCKETS_DOCUMENT", K_BUCKETS, F(buckets_document), "LIST",
     "document_processing_duration_seconds bounds (default 0.001,...,300)"},
    {"buckets-embedding", "RAGD_BUCKETS_EMBEDDING", K_BUCKETS, F(buckets_embedding), "LIST",
     "embedding_generation_duration_seconds bounds (default 0.0001,...,1)"},
    {"buckets-search", "RAGD_BUCKETS_SEARCH", K_BUCKETS, F(buckets_search), "LIST",
     "vector_search_duration_seconds bounds (default 0.0001,...,1)"},
#undef F
};
#define NOPTIONS (sizeof options / sizeof options[0])

static int apply(config_t *c, const struct option *o, const char *v, const char *source, char *err,
                 size_t errlen)
{
    void *field = (char *)c + o->off;
    int rc = 0;
    double d;
    switch (o->kind) {
    case K_STRING:
        if (strlen(v) >= o->size) rc = -EINVAL;
        else strcpy(field, v);
        break;
    case K_SIZE:
        rc = config_parse_size(v, field);
        break;
    case K_UINT: {
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (!isdigit((unsigned char)*v) || *end || errno || n > 4096) rc = -EINVAL;
        else *(unsigned *)field = (unsigned)n;
        break;
    }
    case K_SECONDS:
        rc = parse_seconds(v, field);
        break;
    case K_USECONDS:
        rc = parse_seconds(v, &d);
        if (!rc && d > 86400) rc = -EINVAL;
        if (!rc) *(unsigned *)field = (unsigned)d;
        break;
    case K_BOOL:
        rc = parse_bool(v, field);
        break;
    case K_LOGFMT:
        if (strcmp(v, "text") == 0) *(log_format_t *)field = LOG_TEXT;
        else if (strcmp(v, "json") == 0) *(log_format_t *)field = LOG_JSON;
        else rc = -EINVAL;
        break;
    case K_BUCKETS:
        rc = config_parse_buckets(v, field);
        break;
    }
    if (rc) snprintf(err, errlen, "invalid value '%s' for %s (want %s)", v, source, o->arg);
    return rc;
}

static void print_help(FILE *out)
{
    fprintf(out, "usage: ragd serve [options]\n\nRuns the ragd HTTP service.\n\noptions (each also "
                 "an environment variable; a flag wins):\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s %s", options[i].flag, options[i].arg);
        fprintf(out, "  %-30s %s\n  %-30s [%s]\n", left, options[i].help, "", options[i].env);
    }
    fprintf(out, "  %-30s %s\n", "-h, --help", "show this help");
}

int config_parse(config_t *c, int argc, char *const *argv, char *const *envp, FILE *out, char *err,
                 size_t errlen)
{
    for (char *const *e = envp; e && *e; e++) {
        for (size_t i = 0; i < NOPTIONS; i++) {
            size_t n = strlen(options[i].env);
            if (strncmp(*e, options[i].env, n) == 0 && (*e)[n] == '=') {
                if (apply(c, &options[i], *e + n + 1, options[i].env, err, errlen)) return -EINVAL;
            }
        }
    }
    for (int a = 0; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            print_help(out);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see ragd serve --help)", arg);
            return -EINVAL;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct option *o = NULL;
        for (size_t i = 0; i < NOPTIONS; i++)
            if (strlen(options[i].flag) == nlen && strncmp(options[i].flag, name, nlen) == 0) o = &options[i];
        if (!o) {
            snprintf(err, errlen, "unknown option '%.*s' (see ragd serve --help)", (int)nlen + 2, arg);
            return -EINVAL;
        }
        const char *v = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
        if (!v) {
            snprintf(err, errlen, "option '--%s' needs a value (%s)", o->flag, o->arg);
            return -EINVAL;
        }
        char source[80];
        snprintf(source, sizeof source, "--%s", o->flag);
        if (apply(c, o, v, source, err, errlen)) return -EINVAL;
    }
    if (c->max_body == 0) {
        snprintf(err, errlen, "--max-body must be above 0");
        return -EINVAL;
    }
    if (strcmp(c->embedder, "hash") != 0 && strcmp(c->embedder, "openai") != 0) {
        snprintf(err, errlen, "unknown embedder '%s' (available: hash, openai)", c->embedder);
        return -EINVAL;
    }
    if (!strcmp(c->embedder, "openai") && (!c->embedder_url[0] || !c->embedder_model[0])) {
        snprintf(err, errlen, "--embedder openai needs --embedder-url and --embedder-model");
        return -EINVAL;
    }
    if (c->embedding_dim < 1 || c->embedding_dim > 8192 || (!strcmp(c->embedder, "hash") && c->embedding_dim < 16)) {
        snprintf(err, errlen, "--embedding-dim must be 16-8192 (1-8192 for openai)");
        return -EINVAL;
    }
    if (c->chunk_tokens < 8 || c->chunk_overlap * 2 >= c->chunk_tokens) {
        snprintf(err, errlen, "--chunk-tokens must be at least 8 and --chunk-overlap under half of it");
        return -EINVAL;
    }
    if (c->max_chunks == 0 || c->max_query == 0 || c->max_top_k == 0 || c->max_top_k > 1000) {
        snprintf(err, errlen, "--max-chunks and --max-query must be above 0, --max-top-k 1-1000");
        return -EINVAL;
    }
    return 0;
}
