/* config: the options of `ragd serve`, from flags and RAGD_* variables.
 *
 * Every option is a flag (--max-body 32MiB or --max-body=32MiB) and an
 * environment variable (RAGD_MAX_BODY); a flag wins over the environment,
 * the environment over the default. One table (config.c) gives each
 * option's name, variable, type, default, range and help, and drives the
 * defaults, parsing, validation and --help, so they cannot disagree. */
#ifndef RAGD_CONFIG_H
#define RAGD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/log.h"
#include "metrics/metrics.h"

#define CONFIG_MAX_BUCKETS METRICS_MAX_BUCKETS

typedef struct config_buckets {
    double v[CONFIG_MAX_BUCKETS];
    size_t n;
} config_buckets_t;

typedef enum config_embedder { CONFIG_EMBEDDER_HASH, CONFIG_EMBEDDER_OPENAI } config_embedder_t;
typedef enum config_generator {
    CONFIG_GENERATOR_EXTRACTIVE,
    CONFIG_GENERATOR_OPENAI
} config_generator_t;

/* The order of vindex_kind_t (rag/vindex.h): the choice's index is the kind. */
typedef enum config_vector_index {
    CONFIG_VECTOR_AUTO,
    CONFIG_VECTOR_EXACT,
    CONFIG_VECTOR_HNSW
} config_vector_index_t;

typedef struct config {
    char listen[256];
    char data_dir[1024];
    unsigned threads;  /* 0: one per CPU */
    size_t max_body;   /* bytes */
    char api_key[256]; /* "" : write routes open */
    log_format_t log_format;
    bool access_log;
    bool request_metrics;
    double timeout_s;          /* idle connection timeout */
    double shutdown_timeout_s; /* bounded wait for in-flight requests */
    double health_interval_s;
    char nvml_library[1024];
    config_buckets_t buckets_http;
    /* RAG */
    config_embedder_t embedder;
    char embedder_url[1024];
    char embedder_model[256];
    double embedder_timeout_s;
    unsigned embedder_retries;
    unsigned embedding_dim;
    unsigned chunk_tokens, chunk_overlap, max_chunks;
    unsigned cache_entries;
    double cache_ttl_s;
    size_t max_query; /* bytes of query text */
    unsigned max_top_k;
    unsigned max_per_document; /* default of a query's max_per_document */
    unsigned max_batch;        /* documents per batch */
    unsigned ingest_workers;   /* threads preparing a batch; 0: one per CPU */
    char reranker_url[1024];
    char reranker_model[256];
    double reranker_timeout_s;
    unsigned rerank_depth;
    double vector_weight; /* hybrid: the vector side's weight */
    double pdf_timeout_s;
    config_vector_index_t vector_index;
    unsigned hnsw_m, hnsw_ef_construction, hnsw_ef_search;
    unsigned hnsw_build_threads; /* 0: half the CPUs */
    unsigned ann_min_chunks;
    config_buckets_t buckets_document, buckets_embedding, buckets_search;
    /* answers */
    config_generator_t generator;
    char generator_url[1024];
    char generator_model[128];
    double generator_connect_timeout_s, generator_first_token_timeout_s, generator_timeout_s;
    unsigned generator_retries;
    unsigned generator_max_tokens;
    char prompt_template[1024]; /* a file; "" : the built-in template */
    unsigned context_tokens;
    unsigned max_answers;
    /* dashboard */
    char prometheus_url[1024];
    double prometheus_timeout_s;
} config_t;

/* How an option's value is read, and the type of its field. */
typedef enum config_kind {
    CONFIG_STRING,  /* char[]: at most the field's size less one */
    CONFIG_SIZE,    /* size_t bytes: "32MiB", "64k", "1048576" */
    CONFIG_UINT,    /* unsigned */
    CONFIG_NUMBER,  /* double, not negative: "2.5" (seconds, a weight) */
    CONFIG_BOOL,    /* bool: on|off, true|false, yes|no, 1|0 */
    CONFIG_CHOICE,  /* an enum (int): the index of the value in arg's "a|b|c" */
    CONFIG_BUCKETS, /* config_buckets_t */
} config_kind_t;

/* One row of the options table. */
typedef struct config_option {
    const char *flag; /* without "--" */
    const char *env;  /* RAGD_... */
    config_kind_t kind;
    size_t off, size; /* the field in config_t, and its size */
    const char *arg;  /* what a value looks like (N, SIZE, SECONDS; the choices) */
    const char *def;  /* default as a user writes it; NULL: none ("", false) */
    double min, max;  /* range of CONFIG_SIZE (bytes), CONFIG_UINT, CONFIG_NUMBER */
    const char *help;
} config_option_t;

/* The options table, read-only, in --help order; *n is set to its length. */
const config_option_t *config_options(size_t *n);
/* Writes o's range as --help shows it ("1-1000000", "1KiB-4GiB"), or ""
 * for an option without one. */
void config_option_range(const config_option_t *o, char *out, size_t outlen);

/* Fills c with the defaults of the table. */
void config_defaults(config_t *c);
/* Applies the environment, then argv[0..argc) (the words after "serve").
 * On a bad option or value (unknown, malformed, out of its range, or at
 * odds with another option) writes a message that names the option and
 * what it takes to err and returns -EINVAL;
 * returns 1 when --help was asked (help already printed to out). */
int config_parse(config_t *c, int argc, char *const *argv, char *const *envp, FILE *out, char *err,
                 size_t errlen);
/* Parses "32MiB", "64k", "1048576" into bytes. 0 or -EINVAL. */
int config_parse_size(const char *s, size_t *out);
/* Parses "0.005,0.01,0.5" into increasing finite bounds. 0 or -EINVAL. */
int config_parse_buckets(const char *s, config_buckets_t *out);

#endif
