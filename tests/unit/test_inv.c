/* rag/inv, ragd's own inverted index: MaxScore over tiers returns exactly what
 * scoring every chunk returns (random corpora, one or several segments,
 * ties, skipped chunks, any k), merges keep what they should, the scores
 * are Xapian's, and damaged files are refused. Fixed seeds: a failure
 * repeats. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rag/inv.h"
#include "rag/inv_int.h"
#include "rag/text.h"
#include "test.h"
#include "util/buf.h"
#include "util/file.h"
#include "../peer/xap.h"

#define MAXD  9000 /* above INV_TIER_MIN: common terms get their tiers */
#define VOCAB 400

static uint64_t rng = 88172645463325252ULL;
static unsigned draw(unsigned n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* A corpus: each doc's terms as text and as counts. */
struct corpus {
    size_t n;
    int64_t ids[MAXD];
    uint32_t len[MAXD];
    unsigned char tf[MAXD][VOCAB];
    char *text[MAXD];
};

static void term_name(unsigned t, char *out)
{
    snprintf(out, 16, "w%u", t);
}

/* Zipf-like draws over vocab words, lengths 0..maxlen. */
static void make_corpus(struct corpus *c, size_t n, unsigned vocab, unsigned maxlen)
{
    c->n = n;
    int64_t id = 0;
    for (size_t d = 0; d < n; d++) {
        id += 1 + draw(3); /* gaps, as deletions leave */
        c->ids[d] = id;
        memset(c->tf[d], 0, VOCAB);
        unsigned len = draw(maxlen + 1);
        buf_t b = BUF_INIT;
        for (unsigned i = 0; i < len; i++) {
            unsigned t = draw(1 + draw(vocab)); /* skewed to small t */
            if (c->tf[d][t] == 255) continue;
            c->tf[d][t]++;
            char name[16];
            term_name(t, name);
            if (b.len) buf_putc(&b, ' ');
            buf_puts(&b, name);
        }
        uint32_t l = 0;
        for (unsigned t = 0; t < vocab; t++) l += c->tf[d][t];
        c->len[d] = l;
        c->text[d] = b.data ? b.data : strdup("");
    }
}

static void free_corpus(struct corpus *c)
{
    for (size_t d = 0; d < c->n; d++) free(c->text[d]);
}

/* Docs [from, to) as a segment file in dir. */
static inv_seg_t *segment(const struct corpus *c, size_t from, size_t to, const char *dir, int i)
{
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/seg%d", dir, i);
    inv_builder_t *b;
    if (inv_builder_new(&b)) return NULL;
    for (size_t d = from; d < to; d++)
        if (inv_builder_add(b, c->ids[d], c->text[d], strlen(c->text[d])) != 0) return NULL;
    inv_seg_t *g = NULL;
    if (inv_builder_write(b, path, err, sizeof err) == 0) inv_seg_open(&g, path, err, sizeof err);
    inv_builder_free(&b);
    return g;
}

static bool skip_sevens(void *ctx, int64_t id)
{
    return id % 7 == 0;
}

struct ref {
    double score;
    int64_t id;
};

static int ref_cmp(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Every doc scored, sorted, the first k: what inv_search must return. */
static size_t reference(const struct corpus *c, const unsigned *q, size_t nq, size_t k, bool skip,
                        struct ref *out)
{
    uint64_t total = 0, df[16] = {0};
    for (size_t d = 0; d < c->n; d++) {
        total += c->len[d];
        for (size_t j = 0; j < nq; j++) df[j] += c->tf[d][q[j]] > 0;
    }
    double inv_avgdl = total ? (double)c->n / (double)total : 0, w[16];
    for (size_t j = 0; j < nq; j++) w[j] = inv_termweight(df[j], c->n);
    size_t m = 0;
    for (size_t d = 0; d < c->n; d++) {
        double s = 0;
        bool any = false;
        for (size_t j = 0; j < nq; j++) {
            unsigned tf = c->tf[d][q[j]];
            s += tf ? w[j] * inv_part(tf, c->len[d], inv_avgdl) : 0;
            any |= tf > 0;
        }
        if (any && !(skip && skip_sevens(NULL, c->ids[d]))) out[m++] = (struct ref){s, c->ids[d]};
    }
    qsort(out, m, sizeof *out, ref_cmp);
    return m < k ? m : k;
}

static struct corpus corpus;
static struct ref refs[MAXD];
static vindex_hit_t hits[MAXD];

/* Random queries against the reference, over segs. */
static int check_queries(inv_seg_t *const *segs, size_t nseg, unsigned vocab, int nqueries)
{
    for (int qi = 0; qi < nqueries; qi++) {
        unsigned q[8];
        size_t nq = 1 + draw(6);
        for (size_t j = 0; j < nq; j++) {
            q[j] = draw(j % 2 ? vocab + 3 : 1 + draw(vocab)); /* some absent, many common */
            for (size_t i = 0; i < j; i++)
                if (q[i] == q[j]) q[j] = (q[j] + 1) % (vocab + 3);
        }
        char names[8][16];
        const char *t[8];
        for (size_t j = 0; j < nq; j++) {
            term_name(q[j], names[j]);
            t[j] = names[j];
        }
        static const size_t ks[] = {1, 3, 10, 50, 1000};
        size_t k = ks[draw(5)];
        bool skip = draw(2);
        size_t want = reference(&corpus, q, nq, k, skip, refs);
        long got = inv_search(segs, nseg, t, nq, k, skip ? skip_sevens : NULL, NULL, hits);
        if (got != (long)want) {
            fprintf(stderr, "query %d: %ld hits, want %zu\n", qi, got, want);
            return -1;
        }
        for (size_t i = 0; i < want; i++)
            if (hits[i].id != refs[i].id || hits[i].score != (float)refs[i].score) {
                fprintf(stderr, "query %d rank %zu: id %lld score %.9g, want %lld %.9g\n", qi, i,
                        (long long)hits[i].id, hits[i].score, (long long)refs[i].id, refs[i].score);
                return -1;
            }
    }
    return 0;
}

TEST(inv_matches_exhaustive)
{
    char dir[] = "/tmp/ragd-test-inv-XXXXXX";
    ASSERT(mkdtemp(dir));
    /* long docs of a wide vocabulary; short docs of a narrow one, where
     * many scores tie; enough docs that common terms split in tiers */
    static const unsigned shapes[][3] = {
        {3000, 300, 120}, {4000, 12, 4}, {700, 60, 40}, {9000, 8, 6}, {9000, 200, 100}};
    for (size_t sh = 0; sh < 5; sh++) {
        make_corpus(&corpus, shapes[sh][0], shapes[sh][1], shapes[sh][2]);
        for (size_t nseg = 1; nseg <= 4; nseg++) {
            inv_seg_t *segs[4] = {0};
            size_t from = 0;
            for (size_t i = 0; i < nseg; i++) {
                /* uneven sizes: the last segments small, as fresh ones are */
                size_t to = i + 1 == nseg ? corpus.n : from + (corpus.n - from) * 2 / 3;
                segs[i] = segment(&corpus, from, to, dir, (int)i);
                ASSERT(segs[i]);
                from = to;
            }
            int rc = check_queries(segs, nseg, shapes[sh][1], 150);
            for (size_t i = 0; i < nseg; i++) inv_seg_free(&segs[i]);
            ASSERT_OK(rc);
        }
        free_corpus(&corpus);
    }
    ASSERT_OK(file_rm_rf(dir));
}

static bool drop_even(void *ctx, int64_t id)
{
    return id % 2 == 0;
}

TEST(inv_merge_keeps_the_rest)
{
    char dir[] = "/tmp/ragd-test-inv-XXXXXX", path[256], err[512];
    ASSERT(mkdtemp(dir));
    make_corpus(&corpus, 2000, 150, 60);
    inv_seg_t *segs[3] = {segment(&corpus, 0, 1200, dir, 0), segment(&corpus, 1200, 1900, dir, 1),
                          segment(&corpus, 1900, 2000, dir, 2)};
    ASSERT(segs[0] && segs[1] && segs[2]);
    ASSERT_EQ(inv_seg_min_id(segs[1]), corpus.ids[1200]);
    ASSERT_EQ(inv_seg_max_id(segs[1]), corpus.ids[1899]);
    /* merged whole: the same answers as the three */
    snprintf(path, sizeof path, "%s/all", dir);
    ASSERT_OK(inv_merge(segs, 3, NULL, NULL, path, err, sizeof err));
    inv_seg_t *all;
    ASSERT_OK(inv_seg_open(&all, path, err, sizeof err));
    ASSERT_EQ(inv_seg_docs(all), 2000);
    ASSERT_OK(check_queries(&all, 1, 150, 100));
    ASSERT_OK(check_queries(segs, 3, 150, 100));
    /* merged without the even ids: the same as a corpus without them */
    snprintf(path, sizeof path, "%s/odd", dir);
    ASSERT_OK(inv_merge(segs, 3, drop_even, NULL, path, err, sizeof err));
    inv_seg_t *odd;
    ASSERT_OK(inv_seg_open(&odd, path, err, sizeof err));
    size_t m = 0;
    for (size_t d = 0; d < corpus.n; d++) {
        if (drop_even(NULL, corpus.ids[d])) {
            free(corpus.text[d]);
            continue;
        }
        corpus.ids[m] = corpus.ids[d];
        corpus.len[m] = corpus.len[d];
        memcpy(corpus.tf[m], corpus.tf[d], VOCAB);
        corpus.text[m++] = corpus.text[d];
    }
    corpus.n = m;
    ASSERT_EQ(inv_seg_docs(odd), m);
    ASSERT_OK(check_queries(&odd, 1, 150, 100));
    /* interleaved ids are refused */
    inv_seg_t *wrong[2] = {segs[1], segs[0]};
    ASSERT_EQ(inv_merge(wrong, 2, NULL, NULL, path, err, sizeof err), -EINVAL);
    inv_seg_free(&odd);
    inv_seg_free(&all);
    for (int i = 0; i < 3; i++) inv_seg_free(&segs[i]);
    free_corpus(&corpus);
    ASSERT_OK(file_rm_rf(dir));
}

static int add_text(inv_builder_t *b, xap_writer_t *x, int64_t id, const char *text)
{
    buf_t t = BUF_INIT;
    text_terms(text, strlen(text), &t);
    int rc = inv_builder_add(b, id, t.data ? t.data : "", t.len);
    if (!rc) rc = xap_writer_put(x, id, t.data ? t.data : "", t.len);
    buf_free(&t);
    return rc;
}

/* The same corpus in Xapian (the peer, ragd's index before) and here: the
 * same scores. */
TEST(inv_scores_as_xapian)
{
    char dir[] = "/tmp/ragd-test-inv-XXXXXX", path[256], err[512];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/xapian", dir);
    xap_writer_t *xw;
    ASSERT_OK(xap_writer_open(&xw, path, err, sizeof err));
    inv_builder_t *b;
    ASSERT_OK(inv_builder_new(&b));
    static const char *const words[] = {"prometheus", "scrape", "alert",   "latency", "the",
                                        "a",          "of",     "grafana", "chunk",   "vector",
                                        "東京",       "検索",   "Café",    "index",   "query"};
    for (int64_t id = 1; id <= 600; id++) {
        char text[2048] = "";
        unsigned n = draw(40);
        for (unsigned i = 0; i < n; i++) {
            strcat(text, words[draw(1 + draw(15))]);
            strcat(text, " ");
        }
        ASSERT_OK(add_text(b, xw, id * 3, text));
    }
    ASSERT_OK(xap_writer_commit(xw, 1800));
    xap_reader_t *xr;
    ASSERT_OK(xap_reader_open(&xr, path));
    snprintf(path, sizeof path, "%s/seg", dir);
    ASSERT_OK(inv_builder_write(b, path, err, sizeof err));
    inv_seg_t *g;
    ASSERT_OK(inv_seg_open(&g, path, err, sizeof err));
    static const char *const queries[][3] = {{"prometheus", "scrape", NULL},
                                             {"the", "a", "of"},
                                             {"query", NULL, NULL},
                                             {"東京", "index", NULL},
                                             {"cafe", "alert", "vector"}};
    for (size_t qi = 0; qi < 5; qi++) {
        size_t nq = 0;
        while (nq < 3 && queries[qi][nq]) nq++;
        vindex_hit_t x[10], o[10];
        int64_t xid[10];
        float xs[10];
        long nx = xap_search(xr, queries[qi], nq, 10, NULL, NULL, xid, xs);
        for (long i = 0; i < nx; i++) x[i] = (vindex_hit_t){xid[i], xs[i]};
        long no = inv_search(&g, 1, queries[qi], nq, 10, NULL, NULL, o);
        ASSERT(nx > 0);
        ASSERT_EQ(no, nx);
        for (long i = 0; i < nx; i++) {
            ASSERT(fabsf(o[i].score - x[i].score) <= 1e-5f * x[i].score);
            /* ids agree unless Xapian ordered a tie its own way */
            if (i + 1 < nx && x[i].score != x[i + 1].score &&
                (i == 0 || x[i - 1].score != x[i].score))
                ASSERT_EQ(o[i].id, x[i].id);
        }
    }
    const char *dft[] = {"the", "東京", "missing"};
    int64_t d1[3], d2[3];
    ASSERT_OK(inv_dfs(&g, 1, dft, 3, d1));
    ASSERT_OK(xap_term_dfs(xr, dft, 3, d2));
    for (int i = 0; i < 3; i++) ASSERT_EQ(d1[i], d2[i]);
    inv_seg_free(&g);
    inv_builder_free(&b);
    xap_reader_free(&xr);
    xap_writer_free(&xw);
    ASSERT_OK(file_rm_rf(dir));
}

static int flip(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    if (fd < 0 || pread(fd, &c, 1, off) != 1) return -1;
    c ^= 0x5a;
    int rc = pwrite(fd, &c, 1, off) == 1 ? 0 : -1;
    close(fd);
    return rc;
}

TEST(inv_refuses_damage)
{
    char dir[] = "/tmp/ragd-test-inv-XXXXXX", path[256], copy[300], err[512];
    ASSERT(mkdtemp(dir));
    inv_builder_t *b;
    ASSERT_OK(inv_builder_new(&b));
    ASSERT_OK(inv_builder_add(b, 5, "alpha beta beta", 15));
    ASSERT_EQ(inv_builder_add(b, 5, "gamma", 5), -EINVAL); /* ids ascend */
    ASSERT_EQ(inv_builder_add(b, 0, "gamma", 5), -EINVAL);
    ASSERT_OK(inv_builder_add(b, 9, "", 0)); /* a chunk without terms counts */
    for (int64_t id = 10; id < 400; id++) ASSERT_OK(inv_builder_add(b, id, "alpha gamma", 11));
    ASSERT_EQ(inv_builder_docs(b), 392);
    snprintf(path, sizeof path, "%s/seg", dir);
    ASSERT_OK(inv_builder_write(b, path, err, sizeof err));
    inv_seg_t *g;
    ASSERT_OK(inv_seg_open(&g, path, err, sizeof err));
    const char *q[] = {"beta"};
    vindex_hit_t h[4];
    ASSERT_EQ(inv_search(&g, 1, q, 1, 4, NULL, NULL, h), 1);
    ASSERT_EQ(h[0].id, 5);
    size_t size = inv_seg_bytes(g);
    uint64_t data_off = g->hdr->data_off, dict_off = g->hdr->dict_off;
    inv_seg_free(&g);
    /* header, doc table, dictionary: refused; truncated: refused */
    static const char *const why[] = {"checksum", "checksum", "checksum", "size"};
    long offs[] = {20, (long)sizeof(struct inv_hdr) + 3, (long)dict_off + 9, -1};
    snprintf(copy, sizeof copy, "%s/copy", dir);
    for (int i = 0; i < 4; i++) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path, copy);
        ASSERT_OK(system(cmd));
        if (offs[i] >= 0)
            ASSERT_OK(flip(copy, offs[i]));
        else
            ASSERT_OK(truncate(copy, (off_t)size - 8));
        err[0] = '\0';
        ASSERT_EQ(inv_seg_open(&g, copy, err, sizeof err), -EIO);
        ASSERT(strstr(err, why[i]) || strstr(err, "sections"));
    }
    /* postings bytes are checked as they are decoded: an error or hits,
     * never a read outside (ASan) */
    for (long off = (long)data_off; off < (long)data_off + 40; off++) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path, copy);
        ASSERT_OK(system(cmd));
        ASSERT_OK(flip(copy, off));
        ASSERT_OK(inv_seg_open(&g, copy, err, sizeof err));
        const char *qa[] = {"alpha", "gamma", "beta"};
        long got = inv_search(&g, 1, qa, 3, 4, NULL, NULL, h);
        ASSERT(got == -EIO || (got >= 0 && got <= 4));
        inv_seg_free(&g);
    }
    /* a segment of the format before (two lists a term): refused as such,
     * so that the index is built again from the store */
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", path, copy);
        ASSERT_OK(system(cmd));
        FILE *v = fopen(copy, "r+b");
        ASSERT(v);
        uint32_t one = 1;
        ASSERT_OK(fseek(v, offsetof(struct inv_hdr, version), SEEK_SET));
        ASSERT_EQ(fwrite(&one, 4, 1, v), 1);
        ASSERT_OK(fclose(v));
        ASSERT_EQ(inv_seg_open(&g, copy, err, sizeof err), -EIO);
        ASSERT(strstr(err, "another format"));
    }
    snprintf(copy, sizeof copy, "%s/junk", dir);
    FILE *f = fopen(copy, "w");
    ASSERT(f);
    fputs("not a segment at all, but long enough to hold a header of one, surely, yes..........."
          "...............................................",
          f);
    fclose(f);
    ASSERT_EQ(inv_seg_open(&g, copy, err, sizeof err), -EIO);
    ASSERT(strstr(err, "not a segment"));
    /* an empty builder writes an empty segment */
    inv_builder_free(&b);
    ASSERT_OK(inv_builder_new(&b));
    snprintf(path, sizeof path, "%s/empty", dir);
    ASSERT_OK(inv_builder_write(b, path, err, sizeof err));
    ASSERT_OK(inv_seg_open(&g, path, err, sizeof err));
    ASSERT_EQ(inv_search(&g, 1, q, 1, 4, NULL, NULL, h), 0);
    inv_seg_free(&g);
    inv_builder_free(&b);
    ASSERT_OK(file_rm_rf(dir));
}
