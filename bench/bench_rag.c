/* RAG benchmarks (make bench), figures printed, not asserted:
 * - the machine's memory bandwidth (a streaming read of 512 MiB), the
 *   yardstick for the exact vector search;
 * - ingestion of Markdown through rag_ingest (parse, chunk, hash-embed,
 *   store with fsync, index): MB/s and documents/s;
 * - query latency p50/p99 per mode at 10,000 and 100,000 chunks of 384
 *   dimensions, single-threaded, cache off;
 * - the raw vector scan (vindex_search) and the bandwidth it reaches.
 * Runs in a temporary data directory; uses the same code paths as ragd. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "bench_util.h"
#include "core/log.h"
#include "rag/rag.h"
#include "rag/vindex.h"
#include "util/clock.h"

#define DIM     384
#define QUERIES 200

typedef float v16 __attribute__((vector_size(64), aligned(64)));

__attribute__((target_clones("avx512f", "avx2", "default"))) static float stream_sum(const float *p,
                                                                                     size_t n)
{
    v16 a0 = {0}, a1 = {0};
    for (size_t i = 0; i + 32 <= n; i += 32) {
        a0 += *(const v16 *)(p + i);
        a1 += *(const v16 *)(p + i + 16);
    }
    a0 += a1;
    float s = 0;
    for (int k = 0; k < 16; k++) s += a0[k];
    return s;
}

/* Single-threaded read bandwidth in GB/s, median of 5 passes. */
static double memory_bandwidth(void)
{
    size_t n = (size_t)512 << 20 >> 2;
    float *p = aligned_alloc(64, n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = (float)(i & 7);
    double r[5];
    volatile float sink = 0;
    for (int k = 0; k < 5; k++) {
        double t0 = clock_now();
        sink += stream_sum(p, n);
        r[k] = (double)n * sizeof(float) / (clock_now() - t0) / 1e9;
    }
    (void)sink;
    free(p);
    return bench_pct(r, 5, 0.5);
}

static const char *const words[] = {
    "latency",   "throughput", "vector",   "index",   "cache",    "query",      "document",
    "embedding", "cluster",    "replica",  "shard",   "alert",    "dashboard",  "metric",
    "histogram", "bucket",     "quantile", "budget",  "error",    "ratio",      "window",
    "scrape",    "target",     "label",    "series",  "storage",  "compaction", "disk",
    "memory",    "thread",     "socket",   "request", "response", "timeout",    "retry",
    "backoff",   "token",      "chunk",    "section", "heading",  "paragraph",  "sentence",
    "keyword",   "ranking",    "fusion",   "recall",  "precision"};
#define NWORDS (sizeof words / sizeof words[0])

/* Words of the synthetic corpus: the common words above, then a long tail
 * of made-up words drawn with a Zipf-like law, as in real text (every query
 * term matching every chunk would make keyword search a worst case). */
static const char *pick_word(unsigned *seed, char *tmp)
{
    if (rand_r(seed) % 3 == 0) return words[rand_r(seed) % NWORDS];
    double u = (double)rand_r(seed) / RAND_MAX;
    unsigned rank = (unsigned)pow(20000.0, u); /* 1..20000, log-uniform ~ Zipf */
    unsigned x = rank * 2654435761u;
    int len = 4 + (int)(x % 6);
    for (int i = 0; i < len; i++, x = x * 1103515245u + 12345u)
        tmp[i] = (char)('a' + (x >> 16) % 26);
    tmp[len] = '\0';
    return tmp;
}

/* A Markdown document of `sections` sections of `sentences` sentences. */
static void make_doc(buf_t *b, unsigned *seed, int sections, int sentences)
{
    buf_reset(b);
    buf_printf(b, "# Report %u\n\n", rand_r(seed) % 100000);
    for (int s = 0; s < sections; s++) {
        buf_printf(b, "## Section %d about %s\n\n", s, words[rand_r(seed) % NWORDS]);
        for (int k = 0; k < sentences; k++) {
            int n = 8 + rand_r(seed) % 10;
            char tmp[16];
            for (int w = 0; w < n; w++)
                buf_printf(b, "%s%s", w ? " " : (k % 4 == 0 && k ? "\n\n" : ""),
                           pick_word(seed, tmp));
            buf_printf(b, " w%u. ", rand_r(seed) % 50000); /* rare terms */
        }
        buf_puts(b, "\n\n");
    }
}

static void run_queries(rag_t *rag, size_t chunks, unsigned *seed)
{
    static const char *const modes[] = {"vector", "keyword", "hybrid"};
    for (int m = 0; m < 3; m++) {
        double lat[QUERIES];
        for (int i = 0; i < QUERIES; i++) {
            char q[128], t1[16], t2[16], t3[16];
            snprintf(q, sizeof q, "%s %s %s", pick_word(seed, t1), pick_word(seed, t2),
                     pick_word(seed, t3));
            rag_query_t rq = {.text = q, .top_k = 10, .mode = (rag_mode_t)rag_mode_parse(modes[m])};
            rag_answer_t out;
            char err[256];
            double t0 = clock_now();
            if (rag_query(rag, &rq, &out, err, sizeof err) != 0) {
                fprintf(stderr, "query failed: %s\n", err);
                exit(1);
            }
            lat[i] = (clock_now() - t0) * 1000;
            rag_answer_release(&out);
        }
        double p50 = bench_pct(lat, QUERIES, 0.5), p99 = bench_pct(lat, QUERIES, 0.99);
        printf("  query %-8s at %6zu chunks: p50 %7.3f ms  p99 %7.3f ms\n", modes[m], chunks, p50,
               p99);
        printf("RESULT query_%s_%zu_p50_ms %.4f\nRESULT query_%s_%zu_p99_ms %.4f\n", modes[m],
               chunks, p50, modes[m], chunks, p99);
    }
}

/* The exact scan alone: 100,000 random vectors, bytes read per search. */
static void raw_scan(double bw)
{
    static const size_t sizes[] = {10000, 100000};
    vindex_t *ix;
    vindex_new(&ix, DIM, NULL);
    unsigned seed = 3;
    size_t have = 0;
    float *v = malloc(1000 * DIM * sizeof(float));
    int64_t ids[1000];
    for (int s = 0; s < 2; s++) {
        while (have < sizes[s]) {
            for (size_t i = 0; i < 1000; i++) {
                for (size_t k = 0; k < DIM; k++)
                    v[i * DIM + k] = (float)rand_r(&seed) / RAND_MAX - 0.5f;
                ids[i] = (int64_t)(have + i + 1);
            }
            vindex_add(ix, ids, v, 1000);
            have += 1000;
        }
        double lat[QUERIES];
        vindex_hit_t hits[10];
        for (int i = 0; i < QUERIES; i++) {
            double t0 = clock_now();
            vindex_search(ix, v + (size_t)(i % 1000) * DIM, 10, NULL, hits);
            lat[i] = (clock_now() - t0) * 1000;
        }
        double p50 = bench_pct(lat, QUERIES, 0.5), p99 = bench_pct(lat, QUERIES, 0.99);
        double gbs = (double)have * DIM * sizeof(float) / (p50 / 1000) / 1e9;
        printf("  vector scan at %6zu rows: p50 %7.3f ms  p99 %7.3f ms  %6.1f GB/s (%.0f %% of "
               "memory bandwidth)\n",
               have, p50, p99, gbs, gbs / bw * 100);
        printf("RESULT scan_%zu_p99_ms %.4f\nRESULT scan_%zu_gbs %.3f\n", have, p99, have, gbs);
    }
    free(v);
    vindex_free(&ix);
}

int main(void)
{
    log_init(LOG_TEXT, 2);
    double bw = memory_bandwidth();
    printf("== RAG (single-threaded, 384 dimensions, hash embedder)\n");
    printf("  memory bandwidth (streaming read, 1 thread): %.1f GB/s\nRESULT memory_gbs %.3f\n", bw,
           bw);
    raw_scan(bw);

    char dir[] = "/tmp/ragd-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    metrics_registry_t *reg;
    metrics_registry_new(&reg, NULL);
    embedder_t *emb;
    embed_hash_new(&emb, DIM);
    static const double b[] = {0.001, 0.01, 0.1, 1, 10};
    rag_opts_t o = {.data_dir = dir,
                    .vector_weight = RAG_VECTOR_WEIGHT,
                    .embedder = emb,
                    .chunk = {64, 8, 10000},
                    .cache_entries = 0,
                    .reg = reg,
                    .buckets_document = b,
                    .nbuckets_document = 5,
                    .buckets_embedding = b,
                    .nbuckets_embedding = 5,
                    .buckets_search = b,
                    .nbuckets_search = 5};
    rag_t *rag;
    char err[512];
    log_init(LOG_TEXT, open("/dev/null", O_WRONLY));
    if (rag_open(&rag, &o, err, sizeof err) != 0) {
        fprintf(stderr, "rag_open: %s\n", err);
        return 1;
    }
    unsigned seed = 11;
    buf_t doc = BUF_INIT;
    size_t chunks = 0, docs = 0, bytes = 0;
    double ingest_time = 0;
    static const size_t targets[] = {10000, 100000};
    for (int t = 0; t < 2; t++) {
        while (chunks < targets[t]) {
            make_doc(&doc, &seed, 6, 12);
            char id[32];
            snprintf(id, sizeof id, "d%zu", docs);
            rag_doc_in_t in = {.id = id, .type = DOC_MARKDOWN, .data = doc.data, .len = doc.len};
            rag_ingested_t res;
            double t0 = clock_now();
            if (rag_ingest(rag, &in, &res, err, sizeof err) != 0) {
                fprintf(stderr, "ingest: %s\n", err);
                return 1;
            }
            ingest_time += clock_now() - t0;
            chunks += res.chunks;
            docs++;
            bytes += doc.len;
        }
        if (t == 0) {
            double mbs = (double)bytes / ingest_time / 1e6, dps = (double)docs / ingest_time;
            printf("  ingest Markdown: %zu documents, %.1f MB, %zu chunks: %.2f MB/s, %.0f "
                   "documents/s\n",
                   docs, (double)bytes / 1e6, chunks, mbs, dps);
            printf("RESULT ingest_mbs %.3f\nRESULT ingest_docs_per_s %.1f\n", mbs, dps);
        }
        run_queries(rag, chunks, &seed);
    }
    printf("  (ingestion overall: %zu documents, %.1f MB in %.1f s, each committed with fsync)\n",
           docs, (double)bytes / 1e6, ingest_time);
    /* batches (one commit, one fsync, per 100) against one by one, in turn,
     * on the same store */
    enum { BATCH = 100, ROUNDS = 3 };
    static char ids[BATCH][32];
    static buf_t texts[BATCH];
    rag_doc_in_t ins[BATCH];
    rag_batch_item_t items[BATCH];
    double t_batch = 0, t_single = 0;
    size_t n_batch = 0, n_single = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < BATCH; k++) {
            buf_reset(&texts[k]);
            make_doc(&texts[k], &seed, 6, 12);
            snprintf(ids[k], sizeof ids[k], "b%zu", docs++);
            ins[k] = (rag_doc_in_t){
                .id = ids[k], .type = DOC_MARKDOWN, .data = texts[k].data, .len = texts[k].len};
            items[k] = (rag_batch_item_t){.in = &ins[k]};
        }
        double t0 = clock_now();
        if (rag_ingest_batch(rag, items, BATCH) != 0) {
            fprintf(stderr, "batch ingest failed\n");
            return 1;
        }
        t_batch += clock_now() - t0;
        n_batch += BATCH;
        for (int k = 0; k < BATCH / 4; k++) {
            make_doc(&doc, &seed, 6, 12);
            char id[32];
            snprintf(id, sizeof id, "s%zu", docs++);
            rag_doc_in_t in = {.id = id, .type = DOC_MARKDOWN, .data = doc.data, .len = doc.len};
            rag_ingested_t res;
            double t1 = clock_now();
            if (rag_ingest(rag, &in, &res, err, sizeof err) != 0) return 1;
            t_single += clock_now() - t1;
            n_single++;
        }
    }
    printf("  ingest in batches of %d: %.0f documents/s; one by one, in turn on the same store: "
           "%.0f documents/s (%.1fx)\n",
           BATCH, (double)n_batch / t_batch, (double)n_single / t_single,
           ((double)n_batch / t_batch) / ((double)n_single / t_single));
    printf("RESULT ingest_batch_docs_per_s %.1f\n", (double)n_batch / t_batch);
    for (int k = 0; k < BATCH; k++) buf_free(&texts[k]);
    buf_free(&doc);
    rag_close(&rag);
    metrics_registry_free(&reg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
