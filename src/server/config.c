#include "server/config.h"

#include "rag/embed.h"
#include "rag/rag.h"
#include "rag/vindex.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    } units[] = {{"", 0},    {"b", 0},    {"k", 10}, {"kb", 10}, {"kib", 10}, {"m", 20},
                 {"mb", 20}, {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}};
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
        if (*end == ',')
            end++;
        else if (*end)
            return -EINVAL;
        p = end;
    }
    if (b.n == 0) return -EINVAL;
    *out = b;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"}, *const no[] = {"off", "false",
                                                                                "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0) return *out = false, 0;
    }
    return -EINVAL;
}

static int parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < 0) return -EINVAL;
    *out = v;
    return 0;
}

/* The options. Each row: flag, variable, type, field, what the value looks
 * like, default (as a user writes it; NULL: none), range, help. The
 * defaults are parsed by the same code as a user's values, and a unit test
 * walks the table, so a default always parses and lies in its range; --help
 * and the README's table come from these rows. Ranges are for numbers
 * (sizes in bytes); strings are capped by their field. */
#define F(field)     offsetof(config_t, field), sizeof(((config_t *)0)->field)
#define HTTP_BUCKETS "0.0005,0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10"
/* The guide's bounds, plus finer ones below them, where a C service does most
 * of its work. */
#define DOCUMENT_BUCKETS "0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,5,10,30,60,120,300"
#define FAST_BUCKETS     "0.0001,0.00025,0.0005,0.001,0.0025,0.005,0.01,0.05,0.1,0.25,0.5,1"
static const config_option_t options[] = {
    {"listen", "RAGD_LISTEN", CONFIG_STRING, F(listen), "HOST:PORT", "127.0.0.1:8050", 0, 0,
     "address to serve on: 0.0.0.0:8050 for every interface, [::1]:8050 for IPv6, port 0 for any "
     "free port"},
    {"data-dir", "RAGD_DATA_DIR", CONFIG_STRING, F(data_dir), "DIR", "./data", 0, 0,
     "data directory (created if missing)"},
    {"threads", "RAGD_THREADS", CONFIG_UINT, F(threads), "N", "0", 0, 1024,
     "HTTP worker threads; 0: one per CPU"},
    {"max-body", "RAGD_MAX_BODY", CONFIG_SIZE, F(max_body), "SIZE", "32MiB", 1024, 4.0 * (1u << 30),
     "largest request body (64k, 32MiB, 1G)"},
    {"api-key", "RAGD_API_KEY", CONFIG_STRING, F(api_key), "KEY", NULL, 0, 0,
     "write routes need 'Authorization: Bearer KEY' (prefer the variable: flags show in ps)"},
    {"log-format", "RAGD_LOG_FORMAT", CONFIG_CHOICE, F(log_format), "text|json", "text", 0, 0,
     "log lines on stderr"},
    {"access-log", "RAGD_ACCESS_LOG", CONFIG_BOOL, F(access_log), "on|off", "on", 0, 0,
     "one log line per request"},
    {"request-metrics", "RAGD_REQUEST_METRICS", CONFIG_BOOL, F(request_metrics), "on|off", "on", 0,
     0, "HTTP request metrics (off only to measure their cost)"},
    {"timeout", "RAGD_TIMEOUT", CONFIG_NUMBER, F(timeout_s), "SECONDS", "30", 1, 86400,
     "close connections idle this long, stalled clients included"},
    {"shutdown-timeout", "RAGD_SHUTDOWN_TIMEOUT", CONFIG_NUMBER, F(shutdown_timeout_s), "SECONDS",
     "10", 0, 3600, "on SIGTERM or SIGINT, wait this long for requests in flight"},
    {"health-interval", "RAGD_HEALTH_INTERVAL", CONFIG_NUMBER, F(health_interval_s), "SECONDS", "5",
     0.1, 3600, "time between background health checks"},
    {"nvml-library", "RAGD_NVML_LIBRARY", CONFIG_STRING, F(nvml_library), "PATH",
     "libnvidia-ml.so.1", 0, 0, "NVML library to load for GPU metrics"},
    {"buckets-http", "RAGD_BUCKETS_HTTP", CONFIG_BUCKETS, F(buckets_http), "LIST", HTTP_BUCKETS, 0,
     0, "http_request_duration_seconds bounds, increasing, comma-separated"},
    {"embedder", "RAGD_EMBEDDER", CONFIG_CHOICE, F(embedder), "hash|openai", "hash", 0, 0,
     "embedding backend; openai: any OpenAI-compatible /v1/embeddings server"},
    {"embedding-dim", "RAGD_EMBEDDING_DIM", CONFIG_UINT, F(embedding_dim), "N", "384", 1,
     EMBED_MAX_DIM, "vector dimensions (hash: at least 16; openai: the model's)"},
    {"embedder-url", "RAGD_EMBEDDER_URL", CONFIG_STRING, F(embedder_url), "URL", NULL, 0, 0,
     "openai: the server's base URL; the key comes from RAGD_EMBEDDER_API_KEY only"},
    {"embedder-model", "RAGD_EMBEDDER_MODEL", CONFIG_STRING, F(embedder_model), "NAME", NULL, 0, 0,
     "openai: the model"},
    {"embedder-timeout", "RAGD_EMBEDDER_TIMEOUT", CONFIG_NUMBER, F(embedder_timeout_s), "SECONDS",
     "30", 0.1, 3600, "openai: time one request may take"},
    {"embedder-retries", "RAGD_EMBEDDER_RETRIES", CONFIG_UINT, F(embedder_retries), "N", "3", 0, 10,
     "openai: retries with backoff on 429, 5xx and network errors"},
    {"chunk-tokens", "RAGD_CHUNK_TOKENS", CONFIG_UINT, F(chunk_tokens), "N", "256", 8, 8192,
     "tokens per chunk"},
    {"chunk-overlap", "RAGD_CHUNK_OVERLAP", CONFIG_UINT, F(chunk_overlap), "N", "32", 0, 4095,
     "tokens shared by neighbouring chunks (under half of --chunk-tokens)"},
    {"max-chunks", "RAGD_MAX_CHUNKS", CONFIG_UINT, F(max_chunks), "N", "10000", 1, 1000000,
     "most chunks one document may make (more: 422)"},
    {"max-batch", "RAGD_MAX_BATCH", CONFIG_UINT, F(max_batch), "N", "1000", 1, 100000,
     "documents one POST /v1/documents/batch may hold (its bytes: --max-body)"},
    {"ingest-workers", "RAGD_INGEST_WORKERS", CONFIG_UINT, F(ingest_workers), "N", "0", 0,
     RAG_MAX_INGEST_WORKERS,
     "threads that parse, chunk and embed one batch's documents, and that share an exact vector "
     "scan of 65,536 chunks or more; 0: one per CPU (at most 16)"},
    {"max-query", "RAGD_MAX_QUERY", CONFIG_SIZE, F(max_query), "SIZE", "4096", 1, 1u << 20,
     "longest query text"},
    {"max-top-k", "RAGD_MAX_TOP_K", CONFIG_UINT, F(max_top_k), "N", "100", 1, VINDEX_MAX_K,
     "largest top_k a query may ask"},
    {"max-per-document", "RAGD_MAX_PER_DOCUMENT", CONFIG_UINT, F(max_per_document), "N", "2", 0,
     VINDEX_MAX_K,
     "chunks of one document in a result list when a query does not say (max_per_document); 0: "
     "any"},
    {"vector-weight", "RAGD_VECTOR_WEIGHT", CONFIG_NUMBER, F(vector_weight), "W", "0.3", 0, 1,
     "hybrid search: the vector ranking's weight against the keyword ranking's (1 - W), each "
     "scaled to 0-1 by its best and worst score"},
    {"reranker-url", "RAGD_RERANKER_URL", CONFIG_STRING, F(reranker_url), "URL", NULL, 0, 0,
     "a /rerank server (Hugging Face TEI, Cohere, Jina) that orders the first candidates again; "
     "the key comes from RAGD_RERANKER_API_KEY only"},
    {"reranker-model", "RAGD_RERANKER_MODEL", CONFIG_STRING, F(reranker_model), "NAME", NULL, 0, 0,
     "the reranker's model, when its API asks for one (Cohere, Jina)"},
    {"reranker-timeout", "RAGD_RERANKER_TIMEOUT", CONFIG_NUMBER, F(reranker_timeout_s), "SECONDS",
     "5", 0.1, 600, "time one reranker call may take (then the first ranking is kept)"},
    {"rerank-depth", "RAGD_RERANK_DEPTH", CONFIG_UINT, F(rerank_depth), "N", "20", 1, 100,
     "candidates the reranker orders (at least top_k)"},
    {"vector-index", "RAGD_VECTOR_INDEX", CONFIG_CHOICE, F(vector_index), "auto|exact|hnsw", "auto",
     0, 0,
     "vector search; exact: a scan of every chunk; hnsw: an approximate graph (hnswlib); auto: "
     "exact below --ann-min-chunks chunks, the graph from there"},
    {"ann-min-chunks", "RAGD_ANN_MIN_CHUNKS", CONFIG_UINT, F(ann_min_chunks), "N", "50000", 1,
     100000000, "auto: chunks from which the graph is built"},
    {"hnsw-m", "RAGD_HNSW_M", CONFIG_UINT, F(hnsw_m), "N", "16", 2, 64,
     "graph links per chunk (twice that on the base layer): more, better recall, more memory"},
    {"hnsw-ef-construction", "RAGD_HNSW_EF_CONSTRUCTION", CONFIG_UINT, F(hnsw_ef_construction), "N",
     "100", 8, 4096, "candidates weighed when linking a chunk into the graph"},
    {"hnsw-build-threads", "RAGD_HNSW_BUILD_THREADS", CONFIG_UINT, F(hnsw_build_threads), "N", "0",
     0, 64,
     "threads inserting into the graph together while it is built (a search waits for the rows "
     "under way, one a thread); 0: half the CPUs, at least 1"},
    {"hnsw-ef-search", "RAGD_HNSW_EF_SEARCH", CONFIG_UINT, F(hnsw_ef_search), "N", "256", 1, 4096,
     "candidates a graph search explores (at least the depth it asks): more, better recall, "
     "slower"},
    {"cache-entries", "RAGD_CACHE_ENTRIES", CONFIG_UINT, F(cache_entries), "N", "1000", 0, 1000000,
     "query cache size; 0 turns it off"},
    {"cache-ttl", "RAGD_CACHE_TTL", CONFIG_NUMBER, F(cache_ttl_s), "SECONDS", "300", 1, 604800,
     "query cache entry lifetime"},
    {"pdf-timeout", "RAGD_PDF_TIMEOUT", CONFIG_NUMBER, F(pdf_timeout_s), "SECONDS", "30", 0.1, 3600,
     "time one PDF may take to parse"},
    {"buckets-document", "RAGD_BUCKETS_DOCUMENT", CONFIG_BUCKETS, F(buckets_document), "LIST",
     DOCUMENT_BUCKETS, 0, 0, "document_processing_duration_seconds bounds"},
    {"buckets-embedding", "RAGD_BUCKETS_EMBEDDING", CONFIG_BUCKETS, F(buckets_embedding), "LIST",
     FAST_BUCKETS, 0, 0, "embedding_generation_duration_seconds bounds"},
    {"buckets-search", "RAGD_BUCKETS_SEARCH", CONFIG_BUCKETS, F(buckets_search), "LIST",
     FAST_BUCKETS, 0, 0, "vector_search_duration_seconds bounds"},
    {"generator", "RAGD_GENERATOR", CONFIG_CHOICE, F(generator), "extractive|openai", "extractive",
     0, 0,
     "answer writer; extractive: the context's best sentences, offline; openai: any "
     "OpenAI-compatible /v1/chat/completions server"},
    {"generator-url", "RAGD_GENERATOR_URL", CONFIG_STRING, F(generator_url), "URL", NULL, 0, 0,
     "openai: the server's base URL; the key comes from RAGD_GENERATOR_API_KEY only"},
    {"generator-model", "RAGD_GENERATOR_MODEL", CONFIG_STRING, F(generator_model), "NAME", NULL, 0,
     0, "openai: the model (also the one model /v1/models lists)"},
    {"generator-connect-timeout", "RAGD_GENERATOR_CONNECT_TIMEOUT", CONFIG_NUMBER,
     F(generator_connect_timeout_s), "SECONDS", "5", 0.1, 600, "openai: time to connect"},
    {"generator-first-token-timeout", "RAGD_GENERATOR_FIRST_TOKEN_TIMEOUT", CONFIG_NUMBER,
     F(generator_first_token_timeout_s), "SECONDS", "60", 0.1, 3600,
     "openai: time from a request to its first token"},
    {"generator-timeout", "RAGD_GENERATOR_TIMEOUT", CONFIG_NUMBER, F(generator_timeout_s),
     "SECONDS", "300", 0.1, 86400, "openai: time one answer may take in all"},
    {"generator-retries", "RAGD_GENERATOR_RETRIES", CONFIG_UINT, F(generator_retries), "N", "2", 0,
     10, "openai: retries with backoff on 429, 5xx and connection errors, before the first token"},
    {"generator-max-tokens", "RAGD_GENERATOR_MAX_TOKENS", CONFIG_UINT, F(generator_max_tokens), "N",
     "1024", 1, 65536, "longest answer, in tokens, when a request gives no max_tokens"},
    {"prompt-template", "RAGD_PROMPT_TEMPLATE", CONFIG_STRING, F(prompt_template), "FILE", NULL, 0,
     0,
     "system prompt file, with {context} where the numbered passages go; none: the built-in one"},
    {"context-tokens", "RAGD_CONTEXT_TOKENS", CONFIG_UINT, F(context_tokens), "N", "2048", 16,
     1000000, "budget of the numbered context in a prompt, in words and CJK characters"},
    {"max-answers", "RAGD_MAX_ANSWERS", CONFIG_UINT, F(max_answers), "N", "64", 1, 10000,
     "answers written at once; one more gets 503"},
    {"prometheus-url", "RAGD_PROMETHEUS_URL", CONFIG_STRING, F(prometheus_url), "URL", NULL, 0, 0,
     "the Prometheus /dashboard reads (query, query_range and alerts only); none: the page says "
     "so"},
    {"prometheus-timeout", "RAGD_PROMETHEUS_TIMEOUT", CONFIG_NUMBER, F(prometheus_timeout_s),
     "SECONDS", "10", 0.1, 300, "time one dashboard call to Prometheus may take"},
};
#undef F
#define NOPTIONS (sizeof options / sizeof options[0])

const config_option_t *config_options(size_t *n)
{
    *n = NOPTIONS;
    return options;
}

/* Writes a number as a user would give it: sizes with the largest binary
 * unit that divides them (1024 -> 1KiB), others in the shortest exact form. */
static void format_number(char *out, size_t outlen, config_kind_t kind, double v)
{
    static const char *const units[] = {"", "KiB", "MiB", "GiB"};
    size_t u = 0;
    while (kind == CONFIG_SIZE && u < 3 && v >= 1024 && fmod(v, 1024) == 0) v /= 1024, u++;
    snprintf(out, outlen, "%.15g%s", v, units[u]);
}

void config_option_range(const config_option_t *o, char *out, size_t outlen)
{
    char lo[32], hi[32];
    out[0] = '\0';
    if (o->kind != CONFIG_SIZE && o->kind != CONFIG_UINT && o->kind != CONFIG_NUMBER) return;
    format_number(lo, sizeof lo, o->kind, o->min);
    format_number(hi, sizeof hi, o->kind, o->max);
    snprintf(out, outlen, "%s-%s", lo, hi);
}

/* The index of v among the '|'-separated choices, or -EINVAL. */
static int choice_index(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (int i = 0; *choices; i++) {
        const char *bar = strchr(choices, '|');
        size_t len = bar ? (size_t)(bar - choices) : strlen(choices);
        if (len == n && strncmp(choices, v, n) == 0) return i;
        if (!bar) break;
        choices = bar + 1;
    }
    return -EINVAL;
}

/* Parses v for option o into c. On failure writes to err a message that
 * names the option as the user gave it (source: "--flag" or "RAGD_VAR") and
 * what it takes, and leaves c as it was. 0 or -EINVAL. */
static int apply(config_t *c, const config_option_t *o, const char *v, const char *source,
                 char *err, size_t errlen)
{
    void *field = (char *)c + o->off;
    double num = 0;
    size_t size = 0;
    int rc = 0;
    switch (o->kind) {
    case CONFIG_STRING:
        if (strlen(v) < o->size) {
            strcpy(field, v);
            return 0;
        }
        snprintf(err, errlen, "%s is too long (at most %zu bytes)", source, o->size - 1);
        return -EINVAL;
    case CONFIG_BOOL:
        rc = parse_bool(v, field);
        break;
    case CONFIG_CHOICE:
        rc = choice_index(o->arg, v);
        if (rc >= 0) *(int *)field = rc, rc = 0;
        break;
    case CONFIG_BUCKETS:
        rc = config_parse_buckets(v, field);
        break;
    case CONFIG_SIZE:
        rc = config_parse_size(v, &size);
        num = (double)size;
        break;
    case CONFIG_UINT: {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (!isdigit((unsigned char)*v) || *end || errno) rc = -EINVAL;
        num = (double)n;
        break;
    }
    case CONFIG_NUMBER:
        rc = parse_number(v, &num);
        break;
    }
    if (rc) {
        snprintf(err, errlen, "invalid value '%s' for %s (want %s)", v, source, o->arg);
        return -EINVAL;
    }
    if (o->kind != CONFIG_SIZE && o->kind != CONFIG_UINT && o->kind != CONFIG_NUMBER) return 0;
    if (num < o->min || num > o->max) {
        char range[64];
        config_option_range(o, range, sizeof range);
        snprintf(err, errlen, "%s %s is out of range (%s)", source, v, range);
        return -EINVAL;
    }
    if (o->kind == CONFIG_SIZE)
        *(size_t *)field = size;
    else if (o->kind == CONFIG_UINT)
        *(unsigned *)field = (unsigned)num;
    else
        *(double *)field = num;
    return 0;
}

void config_defaults(config_t *c)
{
    char err[128];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NOPTIONS; i++) /* cannot fail: unit test config_table */
        if (options[i].def)
            (void)apply(c, &options[i], options[i].def, options[i].flag, err, sizeof err);
}

static void print_help(FILE *out)
{
    fprintf(out, "usage: ragd serve [options]\n\nRuns the ragd HTTP service.\n\noptions (each also "
                 "an environment variable; a flag wins):\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        const config_option_t *o = &options[i];
        char left[64], range[64];
        snprintf(left, sizeof left, "--%s %s", o->flag, o->arg);
        config_option_range(o, range, sizeof range);
        fprintf(out, "  %-30s %s\n  %-30s [%s; default %s%s%s]\n", left, o->help, "", o->env,
                o->def ? o->def : "none", range[0] ? "; range " : "", range);
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
        const config_option_t *o = NULL;
        for (size_t i = 0; i < NOPTIONS; i++)
            if (strlen(options[i].flag) == nlen && strncmp(options[i].flag, name, nlen) == 0)
                o = &options[i];
        if (!o) {
            snprintf(err, errlen, "unknown option '%.*s' (see ragd serve --help)", (int)nlen + 2,
                     arg);
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
    /* What one option's range cannot say. */
    if (c->embedder == CONFIG_EMBEDDER_OPENAI && (!c->embedder_url[0] || !c->embedder_model[0])) {
        snprintf(err, errlen, "--embedder openai needs --embedder-url and --embedder-model");
        return -EINVAL;
    }
    if (c->generator == CONFIG_GENERATOR_OPENAI &&
        (!c->generator_url[0] || !c->generator_model[0])) {
        snprintf(err, errlen, "--generator openai needs --generator-url and --generator-model");
        return -EINVAL;
    }
    if (c->prometheus_url[0] && strncmp(c->prometheus_url, "http://", 7) != 0 &&
        strncmp(c->prometheus_url, "https://", 8) != 0) {
        snprintf(err, errlen, "--prometheus-url must be an http:// or https:// URL");
        return -EINVAL;
    }
    if (c->embedder == CONFIG_EMBEDDER_HASH && c->embedding_dim < 16) {
        snprintf(err, errlen, "--embedding-dim %u is too small for the hash embedder (16-%d)",
                 c->embedding_dim, EMBED_MAX_DIM);
        return -EINVAL;
    }
    if (c->chunk_overlap * 2 >= c->chunk_tokens) {
        snprintf(err, errlen, "--chunk-overlap %u must be under half of --chunk-tokens %u",
                 c->chunk_overlap, c->chunk_tokens);
        return -EINVAL;
    }
    return 0;
}
