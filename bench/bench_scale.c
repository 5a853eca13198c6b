/* make bench-scale, the vector side: ragd's vector index at N chunks
 * (default 1,000,000; BENCH_SCALE_N), figures printed, not asserted.
 *
 * Two sets of vectors, fixed seed: "model-like" ones (a mixture of topics
 * in a low-dimensional space mapped into 384 dimensions: what a learned
 * embedder's space looks like to an index) at N, and chunks of synthetic
 * text (Zipf vocabulary, topics) through ragd's hash embedder at up to
 * 100,000, for contrast. Queries are new draws (model-like) or 4-8 words of
 * a random chunk (text).
 *
 * Prints: the graph's build rate; per ef, recall@10 against the exact
 * answer and single-thread p50/p99 latency of vindex_search (the code the
 * server runs); the exact scan beside it; a filter keeping 1 % of chunks;
 * the exact-versus-graph switch point at smaller sizes (with each size's
 * build rate); loading the graph (the start-up path) and resident memory.
 * It leaves the vectors, queries, exact answers and the million-row graph
 * (hnswlib's file format) in DIR (argv[1]) for bench/ann_peers.py, which
 * searches that graph with hnswlib's own binding and builds hnswlib's and
 * FAISS's graphs on the first 20,000 vectors. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_synth.h"
#include "bench_util.h"
#include "core/log.h"
#include "rag/embed.h"
#include "rag/vindex.h"
#include "util/clock.h"
#include "util/par.h"
#include "util/file.h"

#define DIM     384
#define QUERIES 1000
#define K       10
#define EXACT_Q 300 /* queries timed on the exact scan of the full set */

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    size_t w = f ? fwrite(p, 1, n, f) : 0;
    if (f) fclose(f);
    return w == n ? 0 : -1;
}

/* recall@K of got against the exact want, and latency, over the queries. */
static void measure(vindex_t *ix, const float *qs, size_t nq, const vindex_hit_t *want,
                    const idset_t *allowed, const char *label)
{
    double *lat = malloc(nq * sizeof *lat), hit = 0;
    vindex_hit_t got[K];
    for (size_t q = 0; q < nq; q++) {
        double t0 = clock_now();
        long n = vindex_search(ix, qs + q * DIM, K, allowed, got);
        lat[q] = (clock_now() - t0) * 1e3;
        for (long i = 0; i < n; i++)
            for (int j = 0; j < K; j++)
                if (got[i].id == want[q * K + j].id) {
                    hit++;
                    break;
                }
    }
    double mean = 0;
    for (size_t q = 0; q < nq; q++) mean += lat[q];
    mean /= (double)nq;
    printf("  %-34s recall@10 %.3f   p50 %7.3f ms   p99 %7.3f ms   %8.0f q/s\n", label,
           hit / (double)(nq * K), bench_pct(lat, nq, 0.5), bench_pct(lat, nq, 0.99), 1e3 / mean);
    free(lat);
}

/* The exact answers, by the exact index (a scan; the reference's double
 * sums agree with it to float error), a query a thread on every CPU: the
 * truth is not a figure, only its time in the run. */
struct answers_job {
    vindex_t *exact;
    const float *qs;
    const idset_t *allowed;
    vindex_hit_t *want;
};

static void answer_one(void *ctx, size_t q)
{
    struct answers_job *j = ctx;
    vindex_search(j->exact, j->qs + q * DIM, K, j->allowed, j->want + q * K);
}

static void exact_answers(vindex_t *exact, const float *qs, size_t nq, const idset_t *allowed,
                          vindex_hit_t *want)
{
    struct answers_job j = {exact, qs, allowed, want};
    par_for(nq, par_cpus(PAR_MAX_THREADS), answer_one, &j);
}

/* Model-like vectors: what a learned embedder's space looks like to an
 * index (low intrinsic dimension, overlapping topics): points of a mixture
 * of CENTRES Gaussians in IDIM dimensions, mapped into DIM by one fixed
 * random matrix, with a little noise in every dimension. Queries are new
 * draws from the same mixture. */
#define IDIM    64
#define CENTRES 2000
#define SPREAD  1.2

static double gauss(void)
{
    double u = unit_rand(), v = unit_rand();
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static void make_model_like(size_t n, float *vecs, float *qs)
{
    float *a = malloc((size_t)IDIM * DIM * sizeof(float));
    float *c = malloc((size_t)CENTRES * IDIM * sizeof(float));
    for (size_t i = 0; i < (size_t)IDIM * DIM; i++) a[i] = (float)gauss();
    for (size_t i = 0; i < (size_t)CENTRES * IDIM; i++) c[i] = (float)gauss();
    for (size_t i = 0; i < n + QUERIES; i++) {
        float z[IDIM], *x = i < n ? vecs + i * DIM : qs + (i - n) * DIM;
        const float *ce = c + (next_rand() % CENTRES) * IDIM;
        for (int k = 0; k < IDIM; k++) z[k] = ce[k] + (float)(SPREAD * gauss());
        for (int d = 0; d < DIM; d++) x[d] = 0.05f * (float)gauss();
        for (int k = 0; k < IDIM; k++)
            for (int d = 0; d < DIM; d++) x[d] += z[k] * a[(size_t)k * DIM + d];
        embed_normalize(x, DIM);
    }
    free(a);
    free(c);
}

/* Hash-embedded synthetic text (ragd's default embedder). */
static void make_hash_text(embedder_t *emb, size_t n, float *vecs, float *qs)
{
    char *buf = malloc(1 << 14);
    char(*qtext)[512] = calloc(QUERIES, 512);
    size_t every = n / QUERIES ? n / QUERIES : 1;
    for (size_t i = 0; i < n; i++) {
        unsigned topic = (unsigned)(i / 6 % TOPICS); /* 6 chunks a document */
        size_t len = make_chunk(topic, buf);
        const char *t = buf;
        embed_texts(emb, &t, &len, 1, vecs + i * DIM, NULL, 0);
        if (i % every || i / every >= QUERIES) continue;
        /* a query: 4-8 words of this chunk */
        size_t want = 4 + next_rand() % 5, w = 0;
        char *p = buf, *out = qtext[i / every];
        for (size_t skip = next_rand() % 100; skip && *p; p++)
            if (*p == ' ') skip--;
        while (*p && w++ < want) {
            char *e = strchr(p, ' ');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (strlen(out) + l + 2 < 512) {
                strncat(out, p, l);
                strcat(out, " ");
            }
            p = e ? e + 1 : p + l;
        }
    }
    for (size_t q = 0; q < QUERIES; q++) {
        const char *t = qtext[q];
        size_t len = strlen(t);
        embed_texts(emb, &t, &len, 1, qs + q * DIM, NULL, 0);
    }
    free(buf);
    free(qtext);
}

/* As many build threads as the peers get (bench/ann_peers.py: a thread per
 * CPU); the server's --hnsw-build-threads defaults to half the CPUs. */
static unsigned build_threads(void)
{
    const char *e = getenv("BENCH_SCALE_BUILD_THREADS");
    return e ? (unsigned)strtoul(e, NULL, 10) : (unsigned)par_cpus(PAR_MAX_THREADS);
}

/* Exact, then the graph at several ef, on one set of vectors (consumed:
 * freed once the index holds them). dir: where the peers' files and the
 * graph go. */
static void run_set(const char *dir, float *vecs, const float *qs, size_t n, bool full)
{
    int64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int64_t)i + 1;
    vindex_t *exact;
    vindex_new(&exact, DIM, NULL);
    vindex_add(exact, ids, vecs, n);
    vindex_hit_t *want = malloc((size_t)QUERIES * K * sizeof *want);
    exact_answers(exact, qs, QUERIES, NULL, want);
    idset_t one_pct = {0};
    for (size_t i = 0; i < n; i += 100) idset_add(&one_pct, ids[i]);
    vindex_hit_t *want_f = malloc((size_t)QUERIES * K * sizeof *want_f);
    exact_answers(exact, qs, QUERIES, &one_pct, want_f);
    if (full) { /* the peers' files: vectors, queries, exact answers as row numbers */
        int64_t *truth = malloc((size_t)QUERIES * K * sizeof *truth);
        for (size_t i = 0; i < (size_t)QUERIES * K; i++) truth[i] = want[i].id - 1;
        if (write_file(dir, "vectors.f32", vecs, n * DIM * sizeof(float)) ||
            write_file(dir, "queries.f32", qs, (size_t)QUERIES * DIM * sizeof(float)) ||
            write_file(dir, "truth.i64", truth, (size_t)QUERIES * K * sizeof *truth))
            fprintf(stderr, "cannot write the vectors to %s\n", dir);
        free(truth);
    }
    /* the exact scan of a million rows takes a minute a thousand queries on
     * one thread: the first EXACT_Q tell its latency well enough */
    size_t nx = full && QUERIES > EXACT_Q ? EXACT_Q : QUERIES;
    printf("  (vindex_search, one thread, k %d, %d queries; the exact scans %zu of them)\n", K,
           QUERIES, nx);
    measure(exact, qs, nx, want, NULL, "exact scan");
    if (full) measure(exact, qs, QUERIES, want_f, &one_pct, "exact, filter keeps 1 %");
    vindex_free(&exact);

    char path[1100];
    snprintf(path, sizeof path, "%s/vectors.hnsw", dir);
    unlink(path);
    vindex_t *ix;
    vindex_new(
        &ix, DIM,
        &(vindex_opts_t){.kind = VINDEX_HNSW, .path = path, .build_threads = build_threads()});
    vindex_add(ix, ids, vecs, n);
    free(vecs); /* the index holds its own copy: resident memory below is the index's */
    double t0 = clock_now();
    vindex_build_now(ix);
    double build = clock_now() - t0;
    vindex_stats_t st;
    vindex_stats(ix, &st);
    printf("  graph built (m %u, ef_construction %u, %u threads) in %.1f s: %.0f rows/s\n", st.m,
           st.ef_construction, st.build_threads, build, (double)n / build);
    static const unsigned efs[] = {16, 32, 64, 128, 256};
    for (size_t e = 0; e < sizeof efs / sizeof efs[0]; e++) {
        vindex_free(&ix); /* saves; each ef loads the saved graph again */
        vindex_new(&ix, DIM,
                   &(vindex_opts_t){.kind = VINDEX_HNSW, .path = path, .ef_search = efs[e]});
        int64_t w;
        char err[256];
        t0 = clock_now();
        if (vindex_load(ix, &w, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            break;
        }
        struct stat fst;
        if (e == 0 && full && stat(path, &fst) == 0)
            printf("  graph loaded from its file in %.2f s (the start-up path; the file is %.2f "
                   "GiB)\n",
                   clock_now() - t0, (double)fst.st_size / (1 << 30));
        char label[64];
        snprintf(label, sizeof label, "graph, ef %u", efs[e]);
        measure(ix, qs, QUERIES, want, NULL, label);
        if (efs[e] == 64 && full)
            measure(ix, qs, QUERIES, want_f, &one_pct, "graph, filter keeps 1 % (exact path)");
    }
    if (full) {
        vindex_stats(ix, &st);
        printf("  memory: index %.2f GiB (%.0f bytes a chunk), process resident %.2f GiB\n",
               (double)st.memory_bytes / (1 << 30), (double)st.memory_bytes / (double)n,
               (double)bench_rss_kib() / (1 << 20));
    }
    vindex_free(&ix);
    if (!full) unlink(path); /* the full set's graph is hnswlib's to search (ann_peers.py) */
    free(ids);
    free(want);
    free(want_f);
    idset_free(&one_pct);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "build/bench-scale";
    size_t n = getenv("BENCH_SCALE_N") ? strtoul(getenv("BENCH_SCALE_N"), NULL, 10) : 1000000;
    size_t nh = n < 100000 ? n : 100000, small_n = n < 100000 ? n : 100000;
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress through a pipe (bench/scale tees it) */
    log_init(LOG_TEXT, -1);
    if (n < 1000 || file_mkdir_p(dir, 0755) != 0) return 1;
    float *qs = malloc((size_t)QUERIES * DIM * sizeof(float));
    float *vecs = malloc(n * DIM * sizeof(float));
    if (!qs || !vecs) return 1;

    printf("== %zu model-like vectors (%u dimensions: %u-dimensional mixture of %u topics, "
           "spread %.1f)\n",
           n, DIM, IDIM, CENTRES, SPREAD);
    double t0 = clock_now();
    make_model_like(n, vecs, qs);
    printf("  made in %.1f s\n", clock_now() - t0);
    /* keep what the switch-point part needs */
    float *small = malloc(small_n * DIM * sizeof(float)), *sq = malloc((size_t)QUERIES * DIM * 4);
    memcpy(small, vecs, small_n * DIM * sizeof(float));
    memcpy(sq, qs, (size_t)QUERIES * DIM * sizeof(float));
    run_set(dir, vecs, qs, n, true);

    printf("\n== exact or graph: where the graph starts to pay (model-like, the default ef; "
           "p50 / p99 ms)\n");
    static const size_t sizes[] = {5000, 10000, 20000, 50000, 100000};
    int64_t *ids = malloc(small_n * sizeof *ids);
    for (size_t i = 0; i < small_n; i++) ids[i] = (int64_t)i + 1;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0] && sizes[s] <= small_n; s++) {
        size_t m = sizes[s];
        vindex_t *a, *b;
        vindex_new(&a, DIM, NULL);
        vindex_new(&b, DIM,
                   &(vindex_opts_t){.kind = VINDEX_HNSW, .build_threads = build_threads()});
        vindex_add(a, ids, small, m);
        vindex_add(b, ids, small, m);
        double tb = clock_now();
        vindex_build_now(b);
        tb = clock_now() - tb;
        double la[200], lb[200], hit = 0;
        vindex_hit_t want[K], got[K];
        for (int q = 0; q < 200; q++) {
            double t = clock_now();
            long nw = vindex_search(a, sq + (size_t)q * DIM, K, NULL, want);
            la[q] = (clock_now() - t) * 1e3;
            t = clock_now();
            long ng = vindex_search(b, sq + (size_t)q * DIM, K, NULL, got);
            lb[q] = (clock_now() - t) * 1e3;
            for (long i = 0; i < ng; i++)
                for (long j = 0; j < nw; j++) hit += got[i].id == want[j].id;
        }
        printf("  %7zu chunks: exact %.3f / %.3f   graph %.3f / %.3f (recall@10 %.3f; built on %u "
               "threads at %.0f rows/s)\n",
               m, bench_pct(la, 200, 0.5), bench_pct(la, 200, 0.99), bench_pct(lb, 200, 0.5),
               bench_pct(lb, 200, 0.99), hit / (200.0 * K), build_threads(), (double)m / tb);
        vindex_free(&a);
        vindex_free(&b);
    }
    free(small);
    free(ids);

    printf("\n== %zu chunks of hash-embedded synthetic text (%u-word vocabulary, Zipf, %u "
           "topics; ragd's default embedder): why auto stays exact for it\n",
           nh, VOCAB, TOPICS);
    make_vocabulary();
    embedder_t *emb;
    if (embed_hash_new(&emb, DIM)) return 1;
    vecs = malloc(nh * DIM * sizeof(float));
    make_hash_text(emb, nh, vecs, sq);
    char hdir[1100];
    snprintf(hdir, sizeof hdir, "%s/hash", dir);
    if (file_mkdir_p(hdir, 0755) != 0) return 1;
    run_set(hdir, vecs, sq, nh, false);
    embed_free(&emb);
    free(qs);
    free(sq);
    return 0;
}
