/* The vector index's graph segment (rag/vindex_graph.c over rag/hnsw.cc):
 * recall against the exact answer, deletes, filters, persistence and the
 * builder running beside searches and writes. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "rag/embed.h"
#include "rag/hnsw.h"
#include "rag/vindex.h"
#include "rag/vindex_int.h"
#include "test.h"

enum { D = 48, CENTRES = 64 };

/* Clustered unit vectors, as text embeddings are (random ones in many
 * dimensions have no neighbours worth the name): row i near centre i %
 * CENTRES. */
static float *clustered(size_t n, unsigned seed)
{
    float *c = malloc((size_t)CENTRES * D * sizeof(float));
    float *v = malloc(n * D * sizeof(float));
    if (!c || !v) {
        free(c);
        free(v);
        return NULL;
    }
    for (size_t i = 0; i < (size_t)CENTRES * D; i++) c[i] = (float)rand_r(&seed) / RAND_MAX - 0.5f;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < D; k++)
            v[i * D + k] =
                c[(i % CENTRES) * D + k] + 0.35f * ((float)rand_r(&seed) / RAND_MAX - 0.5f);
        embed_normalize(v + i * D, D);
    }
    free(c);
    return v;
}

/* Ids 1..n, in order. */
static int64_t *ids_upto(size_t n)
{
    int64_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; ids && i < n; i++) ids[i] = (int64_t)i + 1;
    return ids;
}

/* Share of the reference top k that the index's answer holds. */
static double recall_of(vindex_t *ix, const float *q, size_t k)
{
    vindex_hit_t got[32], want[32];
    long n = vindex_search(ix, q, k, NULL, got);
    size_t m = vindex_search_reference(ix, q, k, want), hit = 0;
    for (size_t i = 0; i < m; i++)
        for (long j = 0; j < n; j++)
            if (got[j].id == want[i].id) {
                hit++;
                break;
            }
    return m ? (double)hit / (double)m : 1.0;
}

/* Mean recall@10 of 50 queries near rows of v (n rows), each a row with
 * one coordinate moved. */
static double mean_recall(vindex_t *ix, const float *v, size_t n, unsigned seed)
{
    double sum = 0;
    for (int qn = 0; qn < 50; qn++) {
        float q[D];
        memcpy(q, v + (size_t)(rand_r(&seed) % n) * D, sizeof q);
        q[qn % D] += 0.2f;
        embed_normalize(q, D);
        sum += recall_of(ix, q, 10);
    }
    return sum / 50;
}

/* A graph index (o's settings, kind hnsw) of n clustered rows, ids 1..n,
 * built; its rows and ids in *v and *ids. NULL when something failed. */
static vindex_t *built_graph(size_t n, unsigned seed, vindex_opts_t o, float **v, int64_t **ids)
{
    vindex_t *ix = NULL;
    *v = clustered(n, seed);
    *ids = ids_upto(n);
    o.kind = VINDEX_HNSW;
    if (!*v || !*ids || vindex_new(&ix, D, &o)) return NULL;
    if (vindex_add(ix, *ids, *v, n) || vindex_build_now(ix)) vindex_free(&ix);
    return ix;
}

TEST(vindex_graph_recall_and_deletes)
{
    enum { N = 8000, K = 10 };
    float *v;
    int64_t *ids;
    vindex_t *ix = built_graph(N, 11, (vindex_opts_t){0}, &v, &ids);
    ASSERT(ix);
    vindex_stats_t st;
    vindex_stats(ix, &st);
    ASSERT_EQ(st.graph_rows, N);
    ASSERT_EQ(st.flat_rows, 0); /* the rows moved: held once */
    ASSERT_EQ(st.watermark, N);
    ASSERT_EQ(vindex_size(ix), N);
    ASSERT(mean_recall(ix, v, N, 5) >= 0.95);
    /* a row finds itself */
    vindex_hit_t got[K];
    ASSERT(vindex_search(ix, v + 77 * D, 1, NULL, got) == 1);
    ASSERT_EQ(got[0].id, 78);

    /* deletes: hidden at once (pending), then marked in the graph */
    size_t removed = 0;
    for (size_t i = 0; i < N; i += 3) removed += vindex_remove(ix, &ids[i], 1);
    ASSERT_EQ(vindex_remove(ix, &ids[0], 1), 0);
    ASSERT_EQ(vindex_size(ix), N - removed);
    vindex_stats(ix, &st);
    ASSERT_EQ(st.pending_deletes, removed);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < N; i += 300) {
            long n = vindex_search(ix, v + i * D, K, NULL, got);
            ASSERT(n == K);
            for (long j = 0; j < n; j++) ASSERT(got[j].id % 3 != 1);
        }
        ASSERT_OK(vindex_build_now(ix));
        vindex_stats(ix, &st);
        ASSERT_EQ(st.pending_deletes, 0);
        ASSERT_EQ(st.graph_deleted, removed);
        ASSERT_EQ(vindex_size(ix), N - removed);
    }
    /* new rows go to the flat segment first and are found there */
    int64_t more[2] = {N + 1, N + 2};
    ASSERT_OK(vindex_add(ix, more, v, 2));
    ASSERT_EQ(vindex_add(ix, more, v, 1), -EEXIST);
    ASSERT(vindex_search(ix, v, 3, NULL, got) == 3);
    bool seen = false;
    for (int j = 0; j < 3; j++) seen |= got[j].id == N + 1 || got[j].id == N + 2;
    ASSERT(seen);
    free(ids);
    free(v);
    vindex_free(&ix);
}

TEST(vindex_graph_filters)
{
    enum { N = 6000, K = 10 };
    float *v;
    int64_t *ids;
    /* filter_exact_max 100: the 1 % filter is scored exactly, the half one
     * goes through the graph */
    vindex_t *ix = built_graph(N, 3, (vindex_opts_t){.filter_exact_max = 100}, &v, &ids);
    ASSERT(ix);
    idset_t few = {0}, half = {0};
    for (int64_t id = 1; id <= N; id++) {
        if (id % 100 == 7) ASSERT_OK(idset_add(&few, id));
        if (id % 2 == 0) ASSERT_OK(idset_add(&half, id));
    }
    vindex_hit_t got[K];
    for (size_t qi = 0; qi < 20; qi++) {
        const float *q = v + (qi * 97 % N) * D;
        /* the few: exactly the best allowed rows, by brute force here */
        long n = vindex_search(ix, q, K, &few, got);
        ASSERT_EQ(n, K);
        float worst_kept = got[K - 1].score;
        for (int64_t id = 7; id <= N; id += 100) {
            float s = 0;
            for (size_t k = 0; k < D; k++) s += v[(size_t)(id - 1) * D + k] * q[k];
            bool kept = false;
            for (int j = 0; j < K; j++) kept |= got[j].id == id;
            ASSERT(kept || s <= worst_kept + 1e-5f);
        }
        n = vindex_search(ix, q, K, &half, got);
        ASSERT_EQ(n, K);
        for (int j = 0; j < K; j++) ASSERT(got[j].id % 2 == 0);
    }
    /* removed rows leave the exactly scored answers: hidden while their
     * delete is pending, then out of the graph's id map once marked */
    int64_t gone[] = {7, 107, 207};
    ASSERT_EQ(vindex_remove(ix, gone, 3), (size_t)3);
    for (int round = 0; round < 2; round++) {
        if (round) ASSERT_OK(vindex_build_now(ix));
        const float *q = v + 6 * D; /* id 7's own vector */
        ASSERT_EQ(vindex_search(ix, q, K, &few, got), K);
        int64_t best = 0;
        float bs = -INFINITY;
        for (int64_t id = 307; id <= N; id += 100) {
            float sc = 0;
            for (size_t k = 0; k < D; k++) sc += v[(size_t)(id - 1) * D + k] * q[k];
            if (sc > bs) bs = sc, best = id;
        }
        ASSERT_EQ(got[0].id, best);
        for (int j = 0; j < K; j++) ASSERT(got[j].id % 100 == 7 && got[j].id >= 307);
    }
    /* a filter nothing passes in the graph's candidates still answers */
    idset_t one = {0};
    ASSERT_OK(idset_add(&one, N));
    ASSERT(vindex_search(ix, v, K, &one, got) == 1 && got[0].id == N);
    idset_free(&one);
    idset_free(&few);
    idset_free(&half);
    free(ids);
    free(v);
    vindex_free(&ix);
}

static bool all_but_ten(void *ctx, int64_t id)
{
    return id != 10;
}

TEST(vindex_graph_persists)
{
    enum { N = 3000, K = 10 };
    char dir[] = "/tmp/ragd-test-vindex-XXXXXX", path[64], err[256];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/vectors.hnsw", dir);
    float *v = clustered(N + 10, 9);
    int64_t *ids = ids_upto(N + 10);
    ASSERT(v && ids);
    vindex_opts_t o = {.kind = VINDEX_HNSW, .path = path};
    vindex_t *ix;
    ASSERT_OK(vindex_new(&ix, D, &o));
    ASSERT_OK(vindex_add(ix, ids, v, N));
    ASSERT_OK(vindex_build_now(ix));
    ASSERT_OK(vindex_add(ix, ids + N, v + (size_t)N * D, 10)); /* a flat tail: not saved */
    ASSERT_EQ(vindex_remove(ix, &ids[5], 1), 1);
    vindex_hit_t before[K], after[K];
    ASSERT(vindex_search(ix, v + 100 * D, K, NULL, before) == K);
    vindex_free(&ix); /* saves */
    ASSERT(access(path, F_OK) == 0);

    ASSERT_OK(vindex_new(&ix, D, &o));
    int64_t w = -1;
    ASSERT_OK(vindex_load(ix, &w, err, sizeof err));
    ASSERT_EQ(w, N);
    ASSERT_EQ(vindex_size(ix), N - 1);
    ASSERT_OK(vindex_add(ix, ids + N, v + (size_t)N * D, 10)); /* what the store gives back */
    ASSERT(vindex_search(ix, v + 100 * D, K, NULL, after) == K);
    for (int j = 0; j < K; j++) ASSERT_EQ(after[j].id, before[j].id);
    /* a few allowed rows, scored one by one through the graph's id map as
     * loaded: the removed row 6 is not in it */
    idset_t few = {0};
    for (int64_t id = 6; id <= N; id += 50) ASSERT_OK(idset_add(&few, id));
    ASSERT(vindex_search(ix, v + 5 * D, K, &few, after) == K);
    for (int j = 0; j < K; j++) ASSERT(after[j].id % 50 == 6 && after[j].id != 6);
    ASSERT(vindex_search(ix, v + 55 * D, 1, &few, after) == 1 && after[0].id == 56);
    /* rows the store lost go */
    ASSERT_EQ(vindex_retain(ix, all_but_ten, NULL), 1);
    ASSERT_EQ(vindex_size(ix), N - 2 + 10);
    ASSERT(vindex_search(ix, v + 9 * D, 1, NULL, after) == 1 && after[0].id != 10);
    ASSERT_OK(idset_add(&few, 10));
    ASSERT(vindex_search(ix, v + 9 * D, 1, &few, after) == 1 && after[0].id != 10);
    idset_free(&few);
    vindex_free(&ix);

    /* another dimension: refused with a message, nothing loaded */
    ASSERT_OK(vindex_new(&ix, D * 2, &o));
    ASSERT_EQ(vindex_load(ix, &w, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "dimension");
    ASSERT_EQ(vindex_size(ix), 0);
    vindex_free(&ix);
    /* a damaged file: refused */
    FILE *f = fopen(path, "r+b");
    ASSERT(f);
    ASSERT(ftruncate(fileno(f), 1000) == 0);
    fclose(f);
    ASSERT_OK(vindex_new(&ix, D, &o));
    ASSERT_EQ(vindex_load(ix, &w, err, sizeof err), -EINVAL);
    vindex_free(&ix);
    /* kind exact: a stale graph is removed */
    o.kind = VINDEX_EXACT;
    ASSERT_OK(vindex_new(&ix, D, &o));
    ASSERT_OK(vindex_load(ix, &w, err, sizeof err));
    ASSERT_EQ(w, 0);
    ASSERT(access(path, F_OK) != 0);
    vindex_free(&ix);
    /* reset: the graph goes unsaved, its file removed, every row gone */
    o.kind = VINDEX_HNSW;
    ASSERT_OK(vindex_new(&ix, D, &o));
    ASSERT_OK(vindex_add(ix, ids, v, 100));
    ASSERT_OK(vindex_build_now(ix));
    vindex_free(&ix); /* saves */
    ASSERT_OK(vindex_new(&ix, D, &o));
    ASSERT_OK(vindex_load(ix, &w, err, sizeof err));
    ASSERT_OK(vindex_add(ix, ids + 100, v + 100 * D, 5));
    ASSERT_EQ(vindex_size(ix), 105);
    vindex_reset(ix);
    ASSERT_EQ(vindex_size(ix), 0);
    ASSERT(access(path, F_OK) != 0);
    ASSERT_OK(vindex_add(ix, ids, v, 10));
    ASSERT_EQ(vindex_size(ix), 10);
    vindex_free(&ix);
    ASSERT(access(path, F_OK) != 0); /* no graph was built again: nothing saved */
    rmdir(dir);
    free(ids);
    free(v);
}

/* The builder thread beside a writer (ascending ids, some removed) and two
 * searchers; at the end every live row is there once. Run under TSan. */
struct churn {
    vindex_t *ix;
    const float *v;
    atomic_bool done;
    atomic_long searches;
};

static void *churn_search(void *arg)
{
    struct churn *c = arg;
    vindex_hit_t got[10];
    unsigned i = 0;
    while (!atomic_load(&c->done)) {
        if (vindex_search(c->ix, c->v + (size_t)(i++ % 1000) * D, 10, NULL, got) < 0) break;
        atomic_fetch_add(&c->searches, 1);
    }
    return NULL;
}

/* The builder on build_threads threads, beside two searching threads and
 * a writer adding and removing rows. */
static void builder_beside_writes(unsigned build_threads)
{
    enum { N = 4000 };
    float *v = clustered(N, 17);
    ASSERT(v);
    vindex_t *ix;
    ASSERT_OK(vindex_new(&ix, D,
                         &(vindex_opts_t){.kind = VINDEX_AUTO,
                                          .ann_min_rows = 500,
                                          .recall_every = 4,
                                          .build_threads = build_threads}));
    ASSERT_OK(vindex_start(ix));
    struct churn c = {.ix = ix, .v = v};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) ASSERT_OK(pthread_create(&t[i], NULL, churn_search, &c));
    size_t removed = 0;
    for (size_t i = 0; i < N; i += 50) {
        int64_t ids[50];
        for (int k = 0; k < 50; k++) ids[k] = (int64_t)(i + k) + 1;
        ASSERT_OK(vindex_add(ix, ids, v + i * D, 50));
        if (i >= 100) { /* a row some batches back: in the graph or on its way */
            int64_t old = (int64_t)i - 99;
            removed += vindex_remove(ix, &old, 1);
        }
        usleep(1000);
    }
    atomic_store(&c.done, true);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    ASSERT(atomic_load(&c.searches) > 0);
    /* the builder drains the flat segment and the pending deletes by itself
     * (graph writes stay on its thread, as in the server) */
    vindex_stats_t st;
    for (int waited = 0; waited < 3000; waited++) {
        vindex_stats(ix, &st);
        if (st.flat_rows == 0 && st.pending_deletes == 0) break;
        usleep(10000);
    }
    ASSERT_EQ(vindex_size(ix), N - removed);
    ASSERT_EQ(st.graph_rows, N - removed);
    ASSERT_EQ(st.flat_rows, 0);
    ASSERT_EQ(st.pending_deletes, 0);
    vindex_hit_t got[10];
    for (size_t i = 0; i < N; i += 97) {
        long n = vindex_search(ix, v + i * D, 10, NULL, got);
        ASSERT_EQ(n, 10);
        for (int j = 0; j < 10; j++)
            for (int k = 0; k < j; k++) ASSERT(got[j].id != got[k].id);
    }
    vindex_free(&ix);
    free(v);
}

TEST(vindex_graph_builder_beside_writes)
{
    builder_beside_writes(1);
}

TEST(vindex_graph_parallel_builder_beside_writes)
{
    builder_beside_writes(3);
}

/* Several build threads make the same graph's worth: every row in it once,
 * each found by its own vector, recall as with one thread. */
TEST(vindex_graph_parallel_build)
{
    enum { N = 8000, K = 10 };
    float *v;
    int64_t *ids;
    vindex_t *ix = built_graph(N, 23, (vindex_opts_t){.build_threads = 4}, &v, &ids);
    ASSERT(ix);
    vindex_stats_t st;
    vindex_stats(ix, &st);
    ASSERT_EQ(st.build_threads, 4);
    ASSERT_EQ(st.graph_rows, N);
    ASSERT_EQ(st.flat_rows, 0);
    ASSERT_EQ(st.watermark, N);
    size_t self = 0;
    vindex_hit_t got[K];
    for (size_t i = 0; i < N; i += 7)
        self += vindex_search(ix, v + i * D, 1, NULL, got) == 1 && got[0].id == ids[i];
    ASSERT(self >= (N / 7) * 99 / 100);
    ASSERT(mean_recall(ix, v, N, 9) >= 0.95);
    /* a second, smaller batch on top of the graph */
    int64_t more[3] = {N + 1, N + 2, N + 3};
    ASSERT_OK(vindex_add(ix, more, v + D, 3));
    ASSERT_OK(vindex_build_now(ix));
    vindex_stats(ix, &st);
    ASSERT_EQ(st.graph_rows, N + 3);
    ASSERT_EQ(st.flat_rows, 0);
    ASSERT(vindex_search(ix, v + D, 4, NULL, got) == 4);
    bool both = false;
    for (int j = 0; j < 4; j++) both |= got[j].id == N + 1;
    ASSERT(both); /* the copy of row 2 is found beside it */
    free(ids);
    free(v);
    vindex_free(&ix);
}

/* A search waiting for the graph's lock at every moment (the counter held
 * up, as by searches that never stop coming) stops each of the builder's
 * rounds after its first row a thread, and the build still finishes, on
 * one thread and on several, with the graph as good. */
TEST(vindex_graph_builds_while_searches_wait)
{
    enum { N = 2000 };
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        float *v = clustered(N, 31);
        int64_t *ids = ids_upto(N);
        vindex_t *ix;
        ASSERT_OK(
            vindex_new(&ix, D, &(vindex_opts_t){.kind = VINDEX_HNSW, .build_threads = threads}));
        ASSERT_OK(vindex_add(ix, ids, v, N));
        atomic_store(&ix->glock_waiting, 1);
        ASSERT_OK(vindex_build_now(ix));
        atomic_store(&ix->glock_waiting, 0);
        vindex_stats_t st;
        vindex_stats(ix, &st);
        ASSERT_EQ(st.graph_rows, N);
        ASSERT_EQ(st.flat_rows, 0);
        ASSERT(mean_recall(ix, v, N, 9) >= 0.95);
        free(ids);
        free(v);
        vindex_free(&ix);
    }
}

TEST(hnsw_reserve_refuses_present_ids)
{
    hnsw_t *h;
    ASSERT_OK(hnsw_new(&h, D, 8, 32));
    float *v = clustered(3, 3);
    ASSERT(v);
    int64_t ids[3] = {10, 11, 12};
    ASSERT_OK(hnsw_reserve(h, ids, 2));
    ASSERT_OK(hnsw_add_reserved(h, 10, v));
    ASSERT_OK(hnsw_add_reserved(h, 11, v + D));
    ASSERT_EQ(hnsw_reserve(h, ids + 1, 2), -EEXIST); /* 11 is in */
    ASSERT_EQ(hnsw_live(h), 2);
    ASSERT_OK(hnsw_add(h, 12, v + 2 * D));
    ASSERT_EQ(hnsw_add(h, 12, v), -EEXIST);
    ASSERT_EQ(hnsw_live(h), 3);
    free(v);
    hnsw_free(&h);
}

/* The int8 dots of a block's columns: the SIMD code and the plain one
 * give the same integers as a sum taken row by row, for any count of
 * rows (not a multiple of 16 included) and of columns (4 to all of them,
 * the weights at their extremes too). */
TEST(vindex_qdot_cols_same)
{
    enum { STRIDE = D, BR = VINDEX_BLOCK_ROWS };
    int8_t *cols = aligned_alloc(64, (size_t)STRIDE * BR);
    int32_t *a = aligned_alloc(32, BR * sizeof *a), *b = aligned_alloc(32, BR * sizeof *b);
    ASSERT(cols && a && b);
    unsigned seed = 5;
    for (size_t i = 0; i < (size_t)STRIDE * BR; i++) cols[i] = (int8_t)(rand_r(&seed) % 255 - 127);
    static const size_t rows[] = {1, 15, 16, 17, 1000, BR};
    for (size_t t = 0; t < 40; t++) {
        uint16_t nz[STRIDE];
        int16_t w[STRIDE];
        size_t nnz = 4 * (1 + t % (STRIDE / 4));
        for (size_t j = 0; j < nnz; j++) {
            nz[j] = (uint16_t)(rand_r(&seed) % STRIDE);
            w[j] = t % 5 == 0 ? (j % 2 ? -32767 : 32767) : (int16_t)(rand_r(&seed) % 65535 - 32767);
        }
        size_t n = rows[t % (sizeof rows / sizeof *rows)];
        vindex_qdot_cols(cols, n, nz, w, nnz, a, false);
        vindex_qdot_cols(cols, n, nz, w, nnz, b, true);
        for (size_t r = 0; r < n; r++) {
            int64_t want = 0;
            for (size_t j = 0; j < nnz; j++) want += (int64_t)cols[(size_t)nz[j] * BR + r] * w[j];
            ASSERT_EQ((int64_t)a[r], want);
            ASSERT_EQ((int64_t)b[r], want);
        }
    }
    free(cols);
    free(a);
    free(b);
}
