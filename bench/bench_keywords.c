/* make bench-scale, the keyword side: ragd's keyword index (rag/kwindex
 * on rag/inv) beside Xapian 1.4 from C (tests/peer/xap.cc, ragd's index
 * before) and SQLite FTS5 as ragd used it before that (the same terms,
 * bm25, ORDER BY rank LIMIT 10; with BENCH_SCALE_FTS5=1 only), at N chunks of the synthetic corpus
 * (default 1,000,000; BENCH_SCALE_KW_N, else BENCH_SCALE_N). Figures
 * printed, not asserted.
 *
 * Prints: indexing rates (ragd through kwindex as ingestion drives it: a
 * flush every 1,000 chunks, merges in the background); per query set,
 * single-thread p50/p99 of ragd's whole keyword path (query terms,
 * common-term pruning with the index's document frequencies, bm25 top 10),
 * of Xapian and of FTS5 on the same terms, and how many of their top 10
 * ragd returns too; searches per second with 1, 2 and 4 threads; sizes on
 * disk and the process's memory. It writes every chunk's terms and the
 * queries to DIR (argv[1]) for bench/keyword_peer.py (Xapian from Python,
 * the peer the issue names). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_synth.h"
#include "bench_util.h"
#include "core/log.h"
#include "rag/kwindex.h"
#include "rag/match.h"
#include "rag/text.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/file.h"
#include "../tests/peer/xap.h"

#define NQ       300 /* queries per set */
#define FTS_NQ   40  /* of them through FTS5 (seconds each at a million chunks) */
#define K        10
#define COMMIT   1000 /* chunks between flushes (ragd) and commits (Xapian, its fastest batch) */
#define NSETS    3
#define MAXTERMS 8

static const char *const set_name[NSETS] = {"typical (2-4 Zipf words)",
                                            "all common (2-4 of the 20 most frequent words)",
                                            "topic (3 words of a chunk's topic + 1 common)"};
static char queries[NSETS][NQ][160];

static void make_queries(void)
{
    for (int s = 0; s < NSETS; s++)
        for (int q = 0; q < NQ; q++) {
            char *out = queries[s][q];
            size_t nw = 2 + next_rand() % 3;
            unsigned t = (unsigned)(next_rand() % TOPICS);
            out[0] = '\0';
            for (size_t w = 0; w < (s == 2 ? 4 : nw); w++) {
                unsigned word = s == 0   ? zipf_word()
                                : s == 1 ? (unsigned)(next_rand() % 20)
                                : w < 3  ? topic_words[t][next_rand() % TOPIC_W]
                                         : (unsigned)(next_rand() % 20);
                if (w) strcat(out, " ");
                strcat(out, words[word]);
            }
        }
}

static long dir_bytes(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "du -sb '%s'", dir);
    FILE *p = popen(cmd, "r");
    long b = -1;
    if (p && fscanf(p, "%ld", &b) != 1) b = -1;
    if (p) pclose(p);
    return b;
}

static int kw_dfs(void *ctx, const char *const *terms, size_t n, int64_t *dfs)
{
    return kwindex_dfs(ctx, terms, n, dfs);
}

/* ragd's keyword path for one query; its hits into out. */
static long ragd_query(kwindex_t *kw, size_t n, const char *q, vindex_hit_t *out)
{
    buf_t space = BUF_INIT;
    const char *t[MATCH_MAX_TERMS];
    size_t nt = match_terms(q, (int64_t)n, kw_dfs, kw, &space, t);
    long got = nt ? kwindex_search(kw, t, nt, K, NULL, out) : 0;
    buf_free(&space);
    return got;
}

/* The same terms through Xapian. */
static long xap_query(xap_reader_t *x, kwindex_t *kw, size_t n, const char *q, int64_t *out)
{
    buf_t space = BUF_INIT;
    const char *t[MATCH_MAX_TERMS];
    float scores[K];
    size_t nt = match_terms(q, (int64_t)n, kw_dfs, kw, &space, t);
    long got = nt ? xap_search(x, t, nt, K, NULL, NULL, out, scores) : 0;
    buf_free(&space);
    return got < 0 ? 0 : got;
}

/* The share of want[0..nw) that got[0..ng) holds (1 when want is empty). */
static double share(const int64_t *want, long nw, const vindex_hit_t *got, long ng)
{
    long both = 0;
    for (long i = 0; i < nw; i++)
        for (long j = 0; j < ng; j++) both += want[i] == got[j].id;
    return nw ? (double)both / (double)nw : 1;
}

/* The same terms through FTS5, as ragd 0.x queried it. */
static long fts_query(sqlite3_stmt *st, kwindex_t *kw, size_t n, const char *q, int64_t *out)
{
    buf_t space = BUF_INIT, expr = BUF_INIT;
    const char *t[MATCH_MAX_TERMS];
    size_t nt = match_terms(q, (int64_t)n, kw_dfs, kw, &space, t);
    for (size_t i = 0; i < nt; i++) {
        if (i) buf_append(&expr, " OR ", 4);
        buf_putc(&expr, '"');
        buf_puts(&expr, t[i]);
        buf_putc(&expr, '"');
    }
    buf_putc(&expr, '\0');
    long got = 0;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, expr.data, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, K);
    while (nt && sqlite3_step(st) == SQLITE_ROW && got < K)
        out[got++] = sqlite3_column_int64(st, 0);
    buf_free(&space);
    buf_free(&expr);
    return got;
}

struct load {
    kwindex_t *kw;
    size_t n;
    atomic_long done;
    double secs;
};

static void *load_thread(void *arg)
{
    struct load *l = arg;
    vindex_hit_t h[K];
    double t0 = clock_now();
    for (long i = 0; i < 400; i++) {
        ragd_query(l->kw, l->n, queries[i % 2 == 0 ? 0 : 2][(i / 2) % NQ], h);
        atomic_fetch_add(&l->done, 1);
    }
    l->secs = clock_now() - t0;
    return NULL;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "build/bench-scale";
    const char *ns =
        getenv("BENCH_SCALE_KW_N") ? getenv("BENCH_SCALE_KW_N") : getenv("BENCH_SCALE_N");
    size_t n = ns ? strtoul(ns, NULL, 10) : 1000000;
    /* FTS5 is ragd's past, not a peer the goals name: minutes at a million
     * chunks (its queries take seconds each), so only when asked */
    bool fts = getenv("BENCH_SCALE_FTS5") && strcmp(getenv("BENCH_SCALE_FTS5"), "1") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_init(LOG_TEXT, -1);
    char kwpath[1200], xpath[1200], ftspath[1200], tpath[1200], qpath[1200];
    snprintf(kwpath, sizeof kwpath, "%s/kw/%s", dir, KWINDEX_DIR);
    snprintf(xpath, sizeof xpath, "%s/kw/xapian", dir);
    snprintf(ftspath, sizeof ftspath, "%s/kw/fts.db", dir);
    snprintf(tpath, sizeof tpath, "%s/kw/terms.txt", dir);
    snprintf(qpath, sizeof qpath, "%s/kw/queries.txt", dir);
    char kwdir[1200];
    snprintf(kwdir, sizeof kwdir, "%s/kw", dir);
    file_rm_rf(kwdir);
    if (n < 1000 || file_mkdir_p(kwdir, 0755) != 0) return 1;
    make_vocabulary();
    make_queries();

    printf("\n== keyword search at %zu chunks (synthetic text: %u-word vocabulary, Zipf, %u "
           "topics, 150-250 words a chunk)\n",
           n, VOCAB, TOPICS);
    kwindex_t *kw;
    xap_writer_t *xw;
    char err[512];
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    if (kwindex_open(&kw, kwpath, err, sizeof err) ||
        xap_writer_open(&xw, xpath, err, sizeof err) ||
        (fts && sqlite3_open(ftspath, &db) != SQLITE_OK)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (fts)
        sqlite3_exec(
            db,
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            "CREATE VIRTUAL TABLE f USING fts5(terms, tokenize = 'unicode61 remove_diacritics "
            "2');",
            NULL, NULL, NULL);
    if (fts) sqlite3_prepare_v2(db, "INSERT INTO f(rowid, terms) VALUES(?, ?)", -1, &ins, NULL);
    FILE *tf = fopen(tpath, "w");
    char *text = malloc(1 << 14);
    buf_t terms = BUF_INIT;
    double t_kw = 0, t_x = 0, t_fts = 0, t0 = clock_now();
    if (fts) sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    /* each index in a pass of its own, so that one's syncs do not wait on
     * another's writes: ragd as the text is made, the peers from terms.txt */
    for (size_t i = 0; i < n; i++) {
        size_t len = make_chunk((unsigned)(i / 6 % TOPICS), text);
        buf_reset(&terms);
        text_terms(text, len, &terms);
        fwrite(terms.data, 1, terms.len, tf);
        fputc('\n', tf);
        double a = clock_now();
        kwindex_put(kw, (int64_t)i + 1, terms.data, terms.len);
        if ((i + 1) % COMMIT == 0 || i + 1 == n) {
            kwindex_commit(kw, (int64_t)i + 1);
            kwindex_flush(kw);
        }
        t_kw += clock_now() - a;
        if ((i + 1) % 200000 == 0) printf("  %zu chunks (%.0f s)\n", i + 1, clock_now() - t0);
    }
    fclose(tf);
    tf = fopen(tpath, "r");
    char *line = NULL;
    size_t cap = 0;
    for (int pass = 0; pass < (fts ? 2 : 1) && tf; pass++) {
        rewind(tf);
        ssize_t got;
        for (size_t i = 0; (got = getline(&line, &cap, tf)) > 0; i++) {
            size_t len = (size_t)got - 1;
            bool last = (i + 1) % COMMIT == 0 || i + 1 == n;
            double a = clock_now();
            if (pass == 0) {
                xap_writer_put(xw, (int64_t)i + 1, line, len);
                if (last) xap_writer_commit(xw, (int64_t)i + 1);
                t_x += clock_now() - a;
                continue;
            }
            sqlite3_reset(ins);
            sqlite3_bind_int64(ins, 1, (int64_t)i + 1);
            sqlite3_bind_text(ins, 2, line, (int)len, SQLITE_STATIC);
            sqlite3_step(ins);
            if (last) {
                sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
                if (i + 1 < n) sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
            }
            t_fts += clock_now() - a;
        }
    }
    free(line);
    if (tf) fclose(tf);
    sqlite3_finalize(ins);
    xap_writer_free(&xw);
    /* merges the flushes left to the flusher: until the policy is done */
    double m0 = clock_now();
    kwindex_stats_t st;
    for (size_t last = 0;; last = st.merges) {
        kwindex_stats(kw, &st);
        if (last == st.merges && clock_now() - m0 > 2) break;
        usleep(200000);
        if (last != st.merges) m0 = clock_now();
    }
    printf("  indexing, one thread, flushes or commits of %d: ragd %.0f chunks/s (%zu segments "
           "after %llu merges in the background), Xapian %.0f chunks/s",
           COMMIT, n / t_kw, st.segments, (unsigned long long)st.merges, n / t_x);
    if (fts) printf(", FTS5 %.0f chunks/s", n / t_fts);
    printf("\n  on disk: ragd %.0f MiB, Xapian %.0f MiB", dir_bytes(kwpath) / 1048576.0,
           dir_bytes(xpath) / 1048576.0);
    if (fts) printf(", FTS5 %.0f MiB", dir_bytes(ftspath) / 1048576.0);
    printf(" (terms only; ragd's store no longer holds them)%s\n",
           fts ? "" : "; FTS5, ragd's index before Xapian: BENCH_SCALE_FTS5=1");
    xap_reader_t *xr;
    if (xap_reader_open(&xr, xpath) != 0) return 1;
    FILE *qf = fopen(qpath, "w");
    for (int s = 0; s < NSETS; s++)
        for (int q = 0; q < NQ; q++) fprintf(qf, "%d\t%s\n", s, queries[s][q]);
    fclose(qf);

    sqlite3_stmt *sel = NULL;
    if (fts)
        sqlite3_prepare_v2(db, "SELECT rowid FROM f WHERE f MATCH ? ORDER BY rank LIMIT ?", -1,
                           &sel, NULL);
    printf("  single thread, p50 / p99 ms; 'same': the peer's top 10 that ragd also returns\n");
    for (int s = 0; s < NSETS; s++) {
        double lr[NQ], lx[NQ], lf[FTS_NQ], same_x = 0, same_f = 0;
        vindex_hit_t h[K];
        int64_t fh[K], xh[K];
        for (int q = 0; q < NQ; q++) {
            double a = clock_now();
            ragd_query(kw, n, queries[s][q], h);
            lr[q] = (clock_now() - a) * 1e3;
        }
        for (int q = 0; q < NQ; q++) {
            long nr = ragd_query(kw, n, queries[s][q], h);
            double a = clock_now();
            long nx = xap_query(xr, kw, n, queries[s][q], xh);
            lx[q] = (clock_now() - a) * 1e3;
            same_x += share(xh, nx, h, nr);
        }
        for (int q = 0; fts && q < FTS_NQ; q++) {
            long nr = ragd_query(kw, n, queries[s][q], h);
            double a = clock_now();
            long nf = fts_query(sel, kw, n, queries[s][q], fh);
            lf[q] = (clock_now() - a) * 1e3;
            same_f += share(fh, nf, h, nr);
        }
        printf("  %-48s ragd %6.2f / %6.2f   Xapian %6.2f / %6.2f (same %.2f)", set_name[s],
               bench_pct(lr, NQ, 0.5), bench_pct(lr, NQ, 0.99), bench_pct(lx, NQ, 0.5),
               bench_pct(lx, NQ, 0.99), same_x / NQ);
        if (fts)
            printf("   FTS5 %7.1f / %7.1f (%d queries, same %.2f)", bench_pct(lf, FTS_NQ, 0.5),
                   bench_pct(lf, FTS_NQ, 0.99), FTS_NQ, same_f / FTS_NQ);
        printf("\n");
    }
    if (fts) {
        sqlite3_finalize(sel);
        sqlite3_close(db);
    }

    printf("  searches per second (typical and topic queries, 400 a thread): ");
    double one = 0;
    for (int threads = 1; threads <= 4; threads *= 2) {
        struct load l[4];
        pthread_t t[4];
        double a = clock_now();
        for (int i = 0; i < threads; i++) {
            l[i] = (struct load){.kw = kw, .n = n};
            pthread_create(&t[i], NULL, load_thread, &l[i]);
        }
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        double qps = 400.0 * threads / (clock_now() - a);
        if (threads == 1) one = qps;
        printf("%d thread%s %.0f (%.2fx)%s", threads, threads > 1 ? "s" : "", qps, qps / one,
               threads < 4 ? ", " : "\n");
    }
    printf("  process RSS %.0f MiB (the index is read through the page cache)\n",
           bench_rss_kib() / 1024.0);
    kwindex_free(&kw);
    xap_reader_free(&xr);
    free(text);
    buf_free(&terms);
    return 0;
}
