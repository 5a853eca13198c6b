/* The RAG modules: text terms, chunker, hash embedder, vector index, query
 * cache, parsers on fixture files, store. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/log.h"
#include "helpers.h"
#include "rag/cache.h"
#include "rag/chunk.h"
#include "rag/embed.h"
#include "rag/fuse.h"
#include "rag/kwindex.h"
#include "rag/match.h"
#include "rag/parse.h"
#include "rag/parse_toc.h"
#include "rag/rag.h"
#include "rag/store.h"
#include "rag/text.h"
#include "rag/vindex.h"
#include "test.h"
#include "util/file.h"
#include "util/utf8.h"

#define FIX "tests/fixtures/docs/"
static const parse_opts_t popts = {.helper = "build/ragd", .timeout_s = 20};

static char *terms_of(const char *s)
{
    buf_t b = BUF_INIT;
    text_terms(s, strlen(s), &b);
    buf_putc(&b, '\0');
    return buf_steal(&b, NULL);
}

/* Stop words: any ASCII case, the whole word only, every length. */
TEST(text_stop_words)
{
    static const char *const yes[] = {"a", "I", "of", "The", "does", "WHICH", "where", "to"};
    static const char *const no[] = {"x", "ab", "ofs", "these", "whic", "wherever", "", "th"};
    for (size_t i = 0; i < 8; i++) {
        ASSERT(text_is_stop(yes[i], strlen(yes[i])));
        ASSERT(!text_is_stop(no[i], strlen(no[i])));
    }
    ASSERT(text_is_stop("the end", 3)); /* the first n bytes only */
}

TEST(text_terms_and_tokens)
{
    static const struct {
        const char *in, *terms;
        size_t tokens;
    } rows[] = {
        {"Hello, World!", "hello world", 2},
        {"東京タワー", "東京 京タ タワ ワー", 5},
        {"猫 です", "猫 です", 3},
        {"Grafanaはダッシュボード", "grafana はダ ダッ ッシ シュ ュボ ボー ード", 9},
        /* lower case, Latin letters without diacritics (as SQLite's unicode61) */
        {"Café DÉJÀ-vu 42", "cafe deja vu 42", 4},
        {"Łódź Straße ŒUVRE Æsir", "lodz straße œuvre æsir", 4},
        {"ΑΘΗΝΑ Москва ЁЖ", "αθηνα москва ёж", 3},
        {"  ...  ", "", 0},
        {"e-mail: a@b.c", "e mail a b c", 5},
        {"한국어 텍스트", "한국 국어 텍스 스트", 6},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *t = terms_of(rows[i].in);
        ASSERT_STR_EQ(t, rows[i].terms);
        free(t);
        ASSERT_EQ(text_count_tokens(rows[i].in, strlen(rows[i].in)), rows[i].tokens);
    }
}

static int chunk_text(const char *text, size_t max, size_t overlap, size_t max_chunks,
                      chunk_list_t *out)
{
    doc_blocks_t b = {0};
    doc_blocks_add(&b, NULL, text, strlen(text));
    int rc = chunk_blocks(&b, &(chunk_opts_t){max, overlap, max_chunks}, out);
    doc_blocks_free(&b);
    return rc;
}

TEST(chunker_cuts_at_boundaries)
{
    /* 12 sentences of 10 tokens each, 3 paragraphs */
    buf_t t = BUF_INIT;
    for (int p = 0; p < 3; p++) {
        for (int s = 0; s < 4; s++)
            buf_printf(&t, "Sentence %d %d has exactly ten small tokens in it. ", p, s);
        buf_puts(&t, "\n\n");
    }
    buf_putc(&t, '\0');
    chunk_list_t l;
    ASSERT_OK(chunk_text(t.data, 35, 10, 100, &l));
    ASSERT(l.n >= 4);
    for (size_t i = 0; i < l.n; i++) {
        ASSERT(l.v[i].tokens <= 35);
        ASSERT_EQ(text_count_tokens(l.v[i].text, l.v[i].len), l.v[i].tokens);
        ASSERT(strncmp(l.v[i].text, "Sentence", 8) == 0); /* starts at a sentence */
        ASSERT(l.v[i].text[l.v[i].len - 1] == '.');       /* ends at one */
    }
    /* overlap: each chunk after the first starts with the previous one's last sentence */
    for (size_t i = 1; i < l.n; i++) {
        const char *last = strrchr(l.v[i - 1].text, 'S');
        ASSERT(strncmp(l.v[i].text, last, strlen(last)) == 0);
    }
    chunk_list_free(&l);
    buf_free(&t);

    ASSERT_OK(chunk_text("Short text.", 256, 32, 10, &l));
    ASSERT_EQ(l.n, 1);
    ASSERT_STR_EQ(l.v[0].text, "Short text.");
    chunk_list_free(&l);
    ASSERT_OK(chunk_text(" \n\n  ", 256, 32, 10, &l));
    ASSERT_EQ(l.n, 0);
    chunk_list_free(&l);
}

TEST(chunker_japanese_and_long_units)
{
    /* Japanese: no spaces; sentences end with 。 */
    buf_t t = BUF_INIT;
    for (int i = 0; i < 30; i++) buf_puts(&t, "東京のデータセンターで監視を続けています。");
    buf_putc(&t, '\0');
    size_t per = text_count_tokens("東京のデータセンターで監視を続けています。",
                                   strlen("東京のデータセンターで監視を続けています。"));
    ASSERT_EQ(per, 20);
    chunk_list_t l;
    ASSERT_OK(chunk_text(t.data, 64, 8, 100, &l));
    ASSERT(l.n >= 10);
    for (size_t i = 0; i < l.n; i++) {
        ASSERT(l.v[i].tokens <= 64);
        ASSERT(strcmp(l.v[i].text + l.v[i].len - 3, "。") == 0); /* cut after 。 */
    }
    chunk_list_free(&l);
    buf_free(&t);

    /* one endless sentence: cut at token boundaries, with overlap */
    buf_init(&t, 0);
    for (int i = 0; i < 1000; i++) buf_printf(&t, "w%d ", i);
    buf_putc(&t, '\0');
    ASSERT_OK(chunk_text(t.data, 100, 20, 100, &l));
    ASSERT_EQ(l.n, 13); /* pieces start every 80 tokens */
    ASSERT(strncmp(l.v[0].text, "w0 ", 3) == 0);
    ASSERT(strncmp(l.v[1].text, "w80 ", 4) == 0);
    for (size_t i = 0; i + 1 < l.n; i++) ASSERT_EQ(l.v[i].tokens, 100);
    chunk_list_free(&l);
    /* too many chunks for the limit */
    ASSERT_EQ(chunk_text(t.data, 100, 20, 5, &l), -E2BIG);
    ASSERT_EQ(l.n, 0);
    buf_free(&t);
}

TEST(chunker_keeps_sections_apart)
{
    doc_blocks_t b = {0};
    doc_blocks_add(&b, "Intro", "First part.", 11);
    doc_blocks_add(&b, "Intro", "Same section.", 13);
    doc_blocks_add(&b, "Setup", "Other section.", 14);
    chunk_list_t l;
    ASSERT_OK(chunk_blocks(&b, &(chunk_opts_t){256, 32, 100}, &l));
    ASSERT_EQ(l.n, 2);
    ASSERT_STR_EQ(l.v[0].section, "Intro");
    ASSERT_STR_EQ(l.v[0].text, "First part.\n\nSame section.");
    ASSERT_STR_EQ(l.v[1].section, "Setup");
    chunk_list_free(&l);
    doc_blocks_free(&b);
}

static double dot(const float *a, const float *b, unsigned n)
{
    double s = 0;
    for (unsigned i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

TEST(hash_embedder)
{
    embedder_t *e;
    ASSERT_EQ(embed_hash_new(&e, 8), -EINVAL);
    ASSERT_OK(embed_hash_new(&e, 384));
    const char *texts[] = {"The cat sat on the mat.", "The cat sat on the mat.",
                           "A cat sits on a mat.",    "Quarterly revenue grew by ten percent.",
                           "東京の天気は晴れです",    "東京の天候は晴れ",
                           "大阪のラーメンが好き",    ""};
    size_t n = sizeof texts / sizeof texts[0], lens[8];
    for (size_t i = 0; i < n; i++) lens[i] = strlen(texts[i]);
    float *v = malloc(n * 384 * sizeof(float));
    char err[64];
    ASSERT_OK(embed_texts(e, texts, lens, n, v, err, sizeof err));
    for (size_t i = 0; i + 1 < n; i++)
        ASSERT(fabs(dot(v + i * 384, v + i * 384, 384) - 1.0) < 1e-5);
    ASSERT(memcmp(v, v + 384, 384 * sizeof(float)) == 0);        /* deterministic */
    ASSERT(dot(v, v + 2 * 384, 384) > dot(v, v + 3 * 384, 384)); /* similar beats unrelated */
    ASSERT(dot(v + 4 * 384, v + 5 * 384, 384) >
           dot(v + 4 * 384, v + 6 * 384, 384) + 0.2);     /* Japanese too */
    ASSERT_DBL_EQ(dot(v + 7 * 384, v + 7 * 384, 384), 0); /* no text: a zero vector */
    /* the same text alone gives the same vector (no batch effects) */
    float one[384];
    ASSERT_OK(embed_texts(e, texts + 3, lens + 3, 1, one, err, sizeof err));
    ASSERT(memcmp(one, v + 3 * 384, sizeof one) == 0);
    free(v);
    embed_free(&e);
    ASSERT(e == NULL);
}

/* The word cache changes no vector: a text's vector is the same whatever
 * the thread embedded before (other words, in another order, for vectors
 * of another size), and the same as the hash-2 embedder's before the cache
 * existed (stored vectors stay valid): a fingerprint taken then. */
struct embed_run {
    const char *const *texts;
    const size_t *lens;
    size_t n;
    bool reverse, other_dim_first;
    float *out; /* n x 384 */
    int rc;
};

static void *embed_run_main(void *arg)
{
    struct embed_run *r = arg;
    embedder_t *e, *small;
    char err[64];
    r->rc = embed_hash_new(&e, 384) || embed_hash_new(&small, 64);
    float tmp[64];
    for (size_t k = 0; !r->rc && r->other_dim_first && k < r->n; k++)
        r->rc = embed_texts(small, r->texts + k, r->lens + k, 1, tmp, err, sizeof err);
    for (size_t k = 0; !r->rc && k < r->n; k++) {
        size_t i = r->reverse ? r->n - 1 - k : k;
        r->rc = embed_texts(e, r->texts + i, r->lens + i, 1, r->out + i * 384, err, sizeof err);
    }
    embed_free(&e);
    embed_free(&small);
    return NULL;
}

TEST(hash_embedder_word_cache)
{
    enum { WORDS = 3000, TEXTS = 150 };
    static char vocab[WORDS][24], text[TEXTS][1200];
    static const char *stops[] = {"the", "The", "of", "which", "WHERE"};
    const char *texts[TEXTS];
    size_t lens[TEXTS];
    unsigned seed = 3;
    for (int w = 0; w < WORDS; w++) { /* 1 to 20 letters: some past the cached length */
        int len = 1 + rand_r(&seed) % 20;
        for (int c = 0; c < len; c++)
            vocab[w][c] = (char)((rand_r(&seed) % 3 ? 'a' : 'A') + rand_r(&seed) % 26);
        vocab[w][len] = '\0';
    }
    for (int t = 0; t < TEXTS; t++) {
        size_t n = 0;
        for (int k = 0; k < 80; k++)
            n += (size_t)sprintf(text[t] + n, "%s ",
                                 k % 7 ? vocab[rand_r(&seed) % WORDS] : stops[k % 5]);
        texts[t] = text[t];
        lens[t] = n;
    }
    struct embed_run a = {texts, lens, TEXTS, false, false, malloc(TEXTS * 384 * sizeof(float)), 0};
    struct embed_run b = {texts, lens, TEXTS, true, true, malloc(TEXTS * 384 * sizeof(float)), 0};
    pthread_t ta, tb;
    ASSERT_OK(pthread_create(&ta, NULL, embed_run_main, &a));
    ASSERT_OK(pthread_create(&tb, NULL, embed_run_main, &b));
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ASSERT_OK(a.rc);
    ASSERT_OK(b.rc);
    ASSERT(memcmp(a.out, b.out, TEXTS * 384 * sizeof(float)) == 0);
    free(a.out);
    free(b.out);
    /* the fingerprint of one text, from the embedder before the cache */
    embedder_t *e;
    ASSERT_OK(embed_hash_new(&e, 384));
    const char *t = "The Kubernetes operator restarts a failing embedder; Café naïve "
                    "日本語のテキスト, supercalifragilisticexpialidocious!";
    size_t len = strlen(t);
    float v[384];
    char err[64];
    for (int round = 0; round < 2; round++) { /* cold, then from the cache */
        ASSERT_OK(embed_texts(e, &t, &len, 1, v, err, sizeof err));
        double fp = 0;
        for (int i = 0; i < 384; i++) fp += v[i] * (i + 1);
        ASSERT(fabs(fp - 183.399403811) < 1e-6);
    }
    embed_free(&e);
}

static float frand(unsigned *seed)
{
    return (float)rand_r(seed) / (float)RAND_MAX - 0.5f;
}

/* n random unit vectors of d dimensions (caller frees); NULL when out of memory. */
static float *unit_vectors(size_t n, size_t d, unsigned *seed)
{
    float *v = malloc(n * d * sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        for (size_t k = 0; k < d; k++) v[i * d + k] = frand(seed);
        embed_normalize(v + i * d, d);
    }
    return v;
}

/* vindex_search's top k for q against the plain reference scan: the same
 * count, scores within float error, ids the same unless two scores tie
 * within a tenth of it. The hits go to got (k of them at most). */
static void check_search(vindex_t *ix, const float *q, size_t k, vindex_hit_t *got)
{
    vindex_hit_t *want = malloc(k * sizeof *want);
    ASSERT(want);
    size_t a = (size_t)vindex_search(ix, q, k, NULL, got),
           b = vindex_search_reference(ix, q, k, want);
    for (size_t i = 0; a == b && i < a; i++) {
        float tol = 1e-5f * (1 + fabsf(want[i].score)), d = fabsf(got[i].score - want[i].score);
        if (d > tol || (got[i].id != want[i].id && d > tol / 10)) b = SIZE_MAX;
    }
    free(want);
    ASSERT(a == b);
}

/* The scan reads int8 copies and scores again in float32 only the rows
 * whose bound can reach the k best: the results must be the exact scan's
 * on vectors where int8 loses most (one large component and small rest),
 * near ties, exact ties (smaller id first), large and negative scores, a
 * zero vector, and under a filter. */
TEST(vindex_int8_scan_exact)
{
    enum { D = 384, K = 10, KINDS = 5, PER = 1200, N = KINDS * PER };
    vindex_t *ix;
    ASSERT_OK(vindex_new(&ix, D, NULL));
    float *vecs = calloc((size_t)N, D * sizeof(float));
    int64_t *ids = malloc(N * sizeof(int64_t));
    unsigned seed = 11;
    float base[D];
    for (size_t k = 0; k < D; k++) base[k] = frand(&seed);
    for (size_t i = 0; i < N; i++) {
        float *v = vecs + i * D;
        int kind = (int)(i / PER);
        for (size_t k = 0; k < D; k++) v[k] = frand(&seed);
        if (kind == 1) v[rand_r(&seed) % D] = 40; /* a spike: the rest in 1-2 int8 steps */
        if (kind == 2)                            /* near ties */
            for (size_t k = 0; k < D; k++) v[k] = base[k] + 1e-4f * v[k];
        if (kind == 3) memcpy(v, base, sizeof base); /* exact ties */
        if (kind == 4)                               /* large, not normalised */
            for (size_t k = 0; k < D; k++) v[k] *= 1000;
        else
            embed_normalize(v, D);
        ids[i] = (int64_t)i + 1;
    }
    memset(vecs + (size_t)(N - 1) * D, 0, D * sizeof(float)); /* a zero vector */
    ASSERT_OK(vindex_add(ix, ids, vecs, N));
    idset_t odd = {0};
    for (int64_t id = 1; id <= N; id += 2) ASSERT_OK(idset_add(&odd, id));
    vindex_hit_t got[K];
    size_t ties = 0;
    for (int qn = 0; qn < 60; qn++) {
        float q[D];
        int kind = qn % 6;
        if (kind < 5) { /* near a row of each kind, or (5) zero */
            const float *row = vecs + (size_t)(kind * PER + rand_r(&seed) % PER) * D;
            for (size_t k = 0; k < D; k++) q[k] = row[k] + 0.3f * frand(&seed);
            if (qn % 4 == 0)
                for (size_t k = 0; k < D; k++) q[k] = -q[k]; /* negative scores */
        } else {
            memset(q, 0, sizeof q);
        }
        check_search(ix, q, K, got);
        size_t a = (size_t)vindex_search(ix, q, K, NULL, got);
        for (size_t i = 0; i < a; i++) {
            if (i && got[i].score == got[i - 1].score) { /* a tie: the smaller id first */
                ASSERT(got[i].id > got[i - 1].id);
                ties++;
            }
        }
        /* under a filter: only allowed ids, the best of them */
        idset_t *f = &odd;
        size_t c = (size_t)vindex_search(ix, q, K, f, got);
        ASSERT_EQ(c, (size_t)K);
        for (size_t i = 0; i < c; i++) ASSERT(got[i].id % 2 == 1);
        vindex_hit_t all[K * 2];
        size_t m = vindex_search_reference(ix, q, K * 2, all), j = 0;
        (void)m;
        /* the reference's best odd id is the filtered scan's first */
        while (j < m && all[j].id % 2 == 0) j++;
        if (j < m) ASSERT(fabsf(got[0].score - all[j].score) <= 1e-5f * (1 + fabsf(all[j].score)));
    }
    ASSERT(ties > 0); /* the exact ties were met */
    /* at the hybrid's depth (100: candidates are scored highest bound
     * first and the rest skipped), near each kind, on the 1,200 tied
     * rows too: the reference's answer */
    vindex_hit_t deep[100];
    for (int kind = 0; kind < 5; kind++) {
        const float *row = vecs + (size_t)(kind * PER + 17) * D;
        float q[D];
        for (size_t k = 0; k < D; k++) q[k] = row[k] + (kind == 3 ? 0 : 0.3f * frand(&seed));
        check_search(ix, q, 100, deep);
    }
    /* the smallest dimension (a 16-float row, a 32-byte int16 query) and
     * dimensions that are no multiple of 4 (the copies' tail), the copies
     * made on two threads (600 rows: a parallel add) */
    static const unsigned dims[] = {16, 13, 22};
    for (size_t d = 0; d < sizeof dims / sizeof *dims; d++) {
        vindex_t *small;
        ASSERT_OK(
            vindex_new(&small, dims[d], &(vindex_opts_t){.kind = VINDEX_EXACT, .threads = 2}));
        ASSERT_OK(vindex_add(small, ids, vecs, 600)); /* rows of dims[d] floats from the buffer */
        for (int qn = 0; qn < 20; qn++) {
            float qs[32];
            memcpy(qs, vecs + (size_t)(7 + 31 * qn) * D, dims[d] * sizeof *qs);
            check_search(small, qs, K, got);
        }
        vindex_free(&small);
    }
    /* queries of few dimensions (the hash embedder's: its bound's |y|_1
     * side), before and after removals (a removed row's place takes the
     * last row's int8 columns and bounds) */
    for (int round = 0; round < 2; round++) {
        if (round == 1) {
            int64_t gone[700];
            for (size_t i = 0; i < 700; i++) gone[i] = (int64_t)(i * 7 + 3);
            ASSERT_EQ(vindex_remove(ix, gone, 700), (size_t)700);
        }
        for (int qn = 0; qn < 40; qn++) {
            float q[D] = {0};
            const float *row = vecs + (size_t)(rand_r(&seed) % (2 * PER)) * D;
            for (int j = 0; j < 3 + qn % 40; j++) {
                unsigned d = (unsigned)rand_r(&seed) % D;
                q[d] = row[d] + (qn % 3 ? 0.2f * frand(&seed) : 0);
            }
            check_search(ix, q, qn % 2 ? K : 100, deep);
        }
    }
    /* past 4,224 dimensions the query's int16 scale is cut so that a
     * row's int8 dot stays in int32 */
    {
        enum { BIG = 6000 };
        vindex_t *big;
        ASSERT_OK(vindex_new(&big, BIG, &(vindex_opts_t){.kind = VINDEX_EXACT}));
        float *bv = unit_vectors(300, BIG, &seed);
        ASSERT(bv);
        for (size_t i = 0; i < 300; i++) bv[i * BIG + i] = 127; /* a spike: int8's worst */
        ASSERT_OK(vindex_add(big, ids, bv, 300));
        for (int qn = 0; qn < 10; qn++) {
            float *q = bv + (size_t)(qn * 29) * BIG;
            check_search(big, q, K, got);
            for (size_t i = 0; i < BIG; i++)
                q[i] = q[i] > 0 ? 127 : -127; /* every product at most */
            check_search(big, q, K, got);
        }
        vindex_free(&big);
        free(bv);
    }
    idset_free(&odd);
    vindex_free(&ix);
    free(vecs);
    free(ids);
}

/* A flat segment of 16 blocks or more is scanned in parts on o.threads
 * threads, each with its own k best lower bounds and candidates, merged
 * after: the same answers as the plain scan, at k 10 and 100, with near
 * ties across parts, under a filter and after removals. */
TEST(vindex_scan_parts_exact)
{
    enum { D = 16, N = 70000, K = 100 }; /* 70,000: 18 blocks of 4,096 */
    vindex_t *ix;
    ASSERT_OK(vindex_new(&ix, D, &(vindex_opts_t){.kind = VINDEX_EXACT, .threads = 3}));
    unsigned seed = 21;
    float *vecs = unit_vectors(N, D, &seed);
    int64_t *ids = malloc(N * sizeof *ids);
    ASSERT(vecs && ids);
    for (size_t i = 0; i < N; i++) ids[i] = (int64_t)i + 1;
    for (size_t i = 0; i < N; i += 997) /* near ties, one in each part */
        for (size_t k = 0; k < D; k++) vecs[i * D + k] = vecs[k] + 1e-5f * frand(&seed);
    ASSERT_OK(vindex_add(ix, ids, vecs, N));
    vindex_hit_t got[K];
    for (int round = 0; round < 2; round++) {
        if (round) {
            int64_t gone[3000];
            for (size_t i = 0; i < 3000; i++) gone[i] = (int64_t)(i * 23 + 1);
            ASSERT_EQ(vindex_remove(ix, gone, 3000), (size_t)3000);
        }
        for (int qn = 0; qn < 12; qn++) {
            float q[D];
            const float *row = qn % 3 ? vecs + (size_t)(rand_r(&seed) % N) * D : vecs;
            for (size_t k = 0; k < D; k++) q[k] = row[k] + (qn % 3 ? 0.1f * frand(&seed) : 0);
            check_search(ix, q, qn % 2 ? 10 : K, got);
        }
    }
    idset_t third = {0};
    for (int64_t id = 3; id <= N; id += 3) ASSERT_OK(idset_add(&third, id));
    long n = vindex_search(ix, vecs + 5 * D, 10, &third, got); /* id 6's own vector */
    ASSERT_EQ(n, 10);
    ASSERT_EQ(got[0].id, 6);
    for (long i = 0; i < n; i++) ASSERT(got[i].id % 3 == 0);
    idset_free(&third);
    vindex_free(&ix);
    free(vecs);
    free(ids);
}

/* Flips one byte of the file at path, at offset off (negative: from the end). */
static int flip_byte(const char *path, long off)
{
    FILE *f = fopen(path, "r+b");
    int c = -1;
    if (f && fseek(f, off, off < 0 ? SEEK_END : SEEK_SET) == 0 && (c = fgetc(f)) != EOF &&
        fseek(f, -1, SEEK_CUR) == 0)
        fputc(c ^ 0x5a, f);
    return f && fclose(f) == 0 && c != EOF ? 0 : -1;
}

/* The flat segment saved and read back: the same rows (holes from
 * removals included), the same answers bit for bit; a damaged, cut or
 * foreign file, or a non-empty index, loads nothing; an index with a graph
 * does not save. */
TEST(vindex_flat_file)
{
    enum { D = 40, N = 9000, K = 10 }; /* 40: padded rows; 9,000: three blocks, the last partial */
    char dir[] = "/tmp/ragd-test-flat-XXXXXX", path[128], err[512];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/vectors.flat", dir);
    vindex_t *a, *b;
    ASSERT_OK(vindex_new(&a, D, NULL));
    unsigned seed = 5;
    float *vecs = unit_vectors(N, D, &seed);
    int64_t *ids = malloc(N * sizeof(int64_t));
    ASSERT(vecs && ids);
    for (size_t i = 0; i < N; i++) ids[i] = 3 * (int64_t)i + 7;
    ASSERT_OK(vindex_add(a, ids, vecs, N));
    ASSERT_EQ(vindex_remove(a, ids + 100, 50), 50); /* holes, filled by the last rows */
    ASSERT_OK(vindex_flat_save(a, path, err, sizeof err));
    ASSERT_OK(vindex_new(&b, D, NULL));
    int64_t top = 0;
    ASSERT_OK(vindex_flat_load(b, path, &top, err, sizeof err));
    ASSERT_EQ(top, ids[N - 1]);
    ASSERT_EQ(vindex_size(b), (size_t)N - 50);
    vindex_hit_t ga[K], gb[K];
    for (int qn = 0; qn < 20; qn++) {
        const float *q = vecs + (size_t)(rand_r(&seed) % N) * D;
        long na = vindex_search(a, q, K, NULL, ga), nb = vindex_search(b, q, K, NULL, gb);
        ASSERT_EQ(na, nb);
        ASSERT(memcmp(ga, gb, (size_t)na * sizeof *ga) == 0);
    }
    int64_t sid[4];
    float sv[4 * D];
    ASSERT_EQ(vindex_sample(b, 4, sid, sv), 4);
    for (int i = 0; i < 4; i++) { /* each sampled row is its id's vector */
        size_t at = (size_t)(sid[i] - 7) / 3;
        ASSERT(memcmp(sv + i * D, vecs + at * D, D * sizeof(float)) == 0);
    }
    /* into a non-empty index, or one of other dimensions: nothing */
    ASSERT_EQ(vindex_flat_load(b, path, &top, err, sizeof err), -EBUSY);
    ASSERT_EQ(vindex_size(b), (size_t)N - 50);
    vindex_free(&b);
    ASSERT_OK(vindex_new(&b, 32, NULL));
    ASSERT(vindex_flat_load(b, path, &top, err, sizeof err) < 0);
    ASSERT(strstr(err, "dimensions"));
    vindex_free(&b);
    /* a flipped byte in the ids, in the header; a file cut short; none */
    static const long at[] = {48 + 8 * 17, 20};
    for (size_t i = 0; i < 2; i++) {
        ASSERT_OK(vindex_flat_save(a, path, err, sizeof err));
        ASSERT_OK(flip_byte(path, at[i]));
        ASSERT_OK(vindex_new(&b, D, NULL));
        ASSERT(vindex_flat_load(b, path, &top, err, sizeof err) < 0);
        ASSERT_EQ(vindex_size(b), 0);
        vindex_free(&b);
    }
    ASSERT_OK(vindex_flat_save(a, path, err, sizeof err));
    ASSERT_OK(truncate(path, 4096));
    ASSERT_OK(vindex_new(&b, D, NULL));
    ASSERT(vindex_flat_load(b, path, &top, err, sizeof err) < 0);
    ASSERT(strstr(err, "size"));
    unlink(path);
    ASSERT_EQ(vindex_flat_load(b, path, &top, err, sizeof err), -ENOENT);
    ASSERT_EQ(vindex_size(b), 0);
    vindex_free(&b);
    vindex_free(&a);
    free(vecs);
    free(ids);
    ASSERT_OK(rmdir(dir));
}

/* With a graph, the graph's file holds the rows: no flat file. (Named
 * vindex_graph_*: tests/run runs those apart, tests/tsan.supp says why.) */
TEST(vindex_graph_no_flat_file)
{
    enum { D = 40, N = 100 };
    char dir[] = "/tmp/ragd-test-flatg-XXXXXX", path[128], err[512];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/vectors.flat", dir);
    unsigned seed = 9;
    float *vecs = unit_vectors(N, D, &seed);
    int64_t ids[N];
    ASSERT(vecs);
    for (size_t i = 0; i < N; i++) ids[i] = (int64_t)i + 1;
    vindex_t *a;
    ASSERT_OK(vindex_new(&a, D, &(vindex_opts_t){.kind = VINDEX_HNSW}));
    ASSERT_OK(vindex_add(a, ids, vecs, N));
    ASSERT_OK(vindex_build_now(a));
    ASSERT_EQ(vindex_flat_save(a, path, err, sizeof err), -EBUSY);
    ASSERT(access(path, F_OK) != 0);
    vindex_free(&a);
    free(vecs);
    ASSERT_OK(rmdir(dir));
}

TEST(vindex_matches_brute_force)
{
    enum { N = 5000, D = 384, K = 10 };
    vindex_t *ix;
    ASSERT_OK(vindex_new(&ix, D, NULL));
    unsigned seed = 7;
    float *vecs = unit_vectors(N, D, &seed);
    int64_t *ids = malloc(N * sizeof(int64_t));
    ASSERT(vecs && ids);
    for (size_t i = 0; i < N; i++) ids[i] = (int64_t)i + 1;
    ASSERT_OK(vindex_add(ix, ids, vecs, N / 2));
    ASSERT_OK(vindex_add(ix, ids + N / 2, vecs + (size_t)(N / 2) * D, N - N / 2));
    ASSERT_EQ(vindex_add(ix, ids, vecs, 1), -EEXIST);
    ASSERT_EQ(vindex_size(ix), N);
    vindex_hit_t got[K], want[K];
    for (int round = 0; round < 2; round++) {
        for (int qn = 0; qn < 20; qn++) {
            float q[D];
            for (size_t k = 0; k < D; k++) q[k] = frand(&seed);
            embed_normalize(q, D);
            size_t a = (size_t)vindex_search(ix, q, K, NULL, got),
                   b = vindex_search_reference(ix, q, K, want);
            ASSERT_EQ(a, b);
            for (size_t i = 0; i < a; i++) {
                ASSERT(fabsf(got[i].score - want[i].score) < 1e-5f);
                /* same ids unless two scores tie within float error */
                if (got[i].id != want[i].id) ASSERT(fabsf(got[i].score - want[i].score) < 1e-6f);
            }
            ASSERT(got[0].score >= got[K - 1].score);
        }
        /* remove every third row, then search again */
        if (round == 0) {
            size_t removed = 0;
            for (size_t i = 0; i < N; i += 3) removed += vindex_remove(ix, &ids[i], 1);
            ASSERT_EQ(vindex_size(ix), N - removed);
            ASSERT_EQ(vindex_remove(ix, &ids[0], 1), 0);
        }
    }
    /* a row's own vector finds itself first */
    ASSERT_EQ(vindex_search(ix, vecs + 1 * D, 1, NULL, got), 1);
    ASSERT_EQ(got[0].id, 2);
    ASSERT(fabsf(got[0].score - 1.0f) < 1e-5f);
    /* filters: a large set (scanned) and a small one (scored one by one) */
    idset_t even = {0}, few = {0};
    for (int64_t id = 2; id <= N; id += 2) ASSERT_OK(idset_add(&even, id));
    for (int64_t id = 2; id <= 200; id += 2) ASSERT_OK(idset_add(&few, id));
    const idset_t *sets[] = {&even, &few};
    for (int f = 0; f < 2; f++) {
        size_t n = (size_t)vindex_search(ix, vecs + 4 * D, K, sets[f], got);
        ASSERT_EQ(n, K);
        for (size_t i = 0; i < n; i++) ASSERT(idset_has(sets[f], got[i].id) && got[i].id % 3 != 1);
        for (size_t i = 1; i < n; i++) ASSERT(got[i - 1].score >= got[i].score);
        /* exactly the best allowed rows still there (brute force here) */
        for (int64_t id = 2; id <= N; id += 2) {
            if (!idset_has(sets[f], id) || id % 3 == 1) continue;
            float s = 0;
            for (size_t k = 0; k < D; k++) s += vecs[(size_t)(id - 1) * D + k] * vecs[4 * D + k];
            bool kept = false;
            for (size_t j = 0; j < n; j++) kept |= got[j].id == id;
            ASSERT(kept || s <= got[n - 1].score + 1e-5f);
        }
    }
    idset_free(&even);
    idset_free(&few);
    free(vecs);
    free(ids);
    vindex_free(&ix);
}

static double fake_now_value;
static double fake_now(void)
{
    return fake_now_value;
}

/* A result holding one hit whose text is `text`, for the cache tests. */
static result_t *one_hit(const char *text)
{
    result_t *r;
    if (result_new(&r)) return NULL;
    doc_kv_t kv = {"k", "v"};
    result_hit_t h = {.document_id = "d",
                      .title = "",
                      .section = "",
                      .text = text,
                      .text_len = strlen(text),
                      .meta = &kv,
                      .nmeta = 1};
    if (result_add(r, &h)) result_unref(&r);
    return r;
}

TEST(query_cache_lru_ttl_clear)
{
    cache_t *c;
    ASSERT_OK(cache_new(&c, 2, 10));
    cache_set_clock(c, fake_now);
    fake_now_value = 100;
    result_t *a = one_hit("A"), *b = one_hit("B"), *c3 = one_hit("C"), *a2 = one_hit("A2");
    ASSERT(a && b && c3 && a2);
    cache_put(c, "a", a);
    cache_put(c, "b", b);
    result_t *v = cache_get(c, "a"); /* a is now the most recent; shared, not copied */
    ASSERT(v == a);
    ASSERT_EQ(atomic_load(&a->refs), 3); /* ours, the cache's, this get's */
    ASSERT_STR_EQ(v->hits[0].text, "A");
    ASSERT_STR_EQ(v->hits[0].meta[0].value, "v");
    result_unref(&v);
    ASSERT(v == NULL);
    cache_put(c, "c", c3); /* evicts b */
    ASSERT(cache_get(c, "b") == NULL);
    ASSERT_EQ(atomic_load(&b->refs), 1); /* the cache let go of it */
    ASSERT_EQ(cache_size(c), 2);
    cache_put(c, "a", a2); /* replace */
    v = cache_get(c, "a");
    ASSERT_STR_EQ(v->hits[0].text, "A2");
    result_unref(&v);
    fake_now_value = 111; /* past the TTL */
    ASSERT(cache_get(c, "a") == NULL);
    ASSERT_EQ(cache_size(c), 1);
    cache_put(c, "d", a);
    cache_clear(c);
    ASSERT_EQ(cache_size(c), 0);
    ASSERT(cache_get(c, "d") == NULL);
    cache_free(&c);
    ASSERT_OK(cache_new(&c, 0, 10)); /* disabled */
    cache_put(c, "a", a);
    ASSERT(cache_get(c, "a") == NULL);
    cache_free(&c);
    ASSERT_EQ(atomic_load(&a->refs), 1);
    result_unref(&a);
    result_unref(&b);
    result_unref(&c3);
    result_unref(&a2);
}

static int parse_file(const char *name, doc_type_t t, const parse_opts_t *o, doc_blocks_t *b,
                      char *err, size_t n)
{
    size_t len;
    char path[256];
    snprintf(path, sizeof path, FIX "%s", name);
    char *data = test_read_file(path, &len);
    if (!data) return -ENOENT;
    int rc = parse_document(t, data, len, o, b, err, n);
    free(data);
    return rc;
}

TEST(parse_markdown_and_html)
{
    doc_blocks_t b;
    char err[256];
    ASSERT_OK(parse_file("sample.md", DOC_MARKDOWN, &popts, &b, err, sizeof err));
    ASSERT_EQ(b.n, 3); /* one block per section: paragraphs join */
    ASSERT_STR_EQ(b.v[0].section, "ragd operations");
    ASSERT_STR_EQ(b.v[0].text, "ragd exports Prometheus metrics on /metrics.");
    bool alerts = false, ja = false;
    for (size_t i = 0; i < b.n; i++) {
        if (b.v[i].section && !strcmp(b.v[i].section, "ragd operations > Alerts")) {
            ASSERT_CONTAINS(b.v[i].text, "sends them to a webhook. A second sentence");
            ASSERT_CONTAINS(b.v[i].text, "list item two");
            alerts = true;
        }
        if (b.v[i].section && !strcmp(b.v[i].section, "ragd operations > 日本語")) ja = true;
    }
    ASSERT(alerts && ja);
    doc_blocks_free(&b);

    ASSERT_OK(parse_file("sample.html", DOC_HTML, &popts, &b, err, sizeof err));
    ASSERT_EQ(b.n, 2);
    ASSERT_STR_EQ(b.v[0].section, "Latency");
    ASSERT_CONTAINS(b.v[0].text,
                    "P95 latency is computed with histogram_quantile over summed buckets.");
    ASSERT_CONTAINS(b.v[0].text, "Second block & entity.");
    ASSERT_STR_EQ(b.v[1].section, "Cache");
    for (size_t i = 0; i < b.n; i++) {
        ASSERT_NOT_CONTAINS(b.v[i].text, "secret");
        ASSERT_NOT_CONTAINS(b.v[i].text, "never");
        ASSERT_NOT_CONTAINS(b.v[i].text, "color");
        ASSERT_NOT_CONTAINS(b.v[i].text, "enable scripts");
    }
    doc_blocks_free(&b);
    ASSERT_OK(parse_file("broken.html", DOC_HTML, &popts, &b, err, sizeof err));
    ASSERT_CONTAINS(b.v[0].text, "still fine");
    doc_blocks_free(&b);
    ASSERT_EQ(parse_file("invalid-utf8.txt", DOC_TEXT, &popts, &b, err, sizeof err), -EILSEQ);
    ASSERT_CONTAINS(err, "not valid UTF-8");
    ASSERT_EQ(b.n, 0);
}

TEST(parse_pdf_in_child)
{
    doc_blocks_t b;
    char err[256];
    ASSERT_OK(parse_file("sample.pdf", DOC_PDF, &popts, &b, err, sizeof err));
    ASSERT_EQ(b.n, 2);
    ASSERT_STR_EQ(b.v[0].section, "page 1");
    ASSERT_CONTAINS(b.v[0].text, "Vector search finds the nearest embeddings");
    ASSERT_STR_EQ(b.v[1].section, "page 2");
    doc_blocks_free(&b);
    static const char *const bad[] = {"notapdf.pdf", "truncated.pdf", "cycle.pdf"};
    for (size_t i = 0; i < 3; i++) {
        int rc = parse_file(bad[i], DOC_PDF, &popts, &b, err, sizeof err);
        if (rc == 0) { /* poppler may recover a damaged file; then it found no text */
            ASSERT_EQ(b.n, 0);
            doc_blocks_free(&b);
        } else {
            ASSERT_EQ(rc, -EINVAL);
            ASSERT(err[0] != '\0');
        }
    }
    ASSERT_EQ(parse_file("notapdf.pdf", DOC_PDF, &popts, &b, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "not a PDF");
    /* a helper that does not exist */
    parse_opts_t nohelper = {.helper = "/nonexistent/ragd", .timeout_s = 5};
    ASSERT(parse_file("sample.pdf", DOC_PDF, &nohelper, &b, err, sizeof err) != 0);
    /* a time limit: 2000 pages cannot be parsed in 5 ms */
    ASSERT_OK(system("python3 " FIX "make_pdf.py /tmp/ragd-test-big.pdf --pages 2000"));
    size_t len;
    char *big = test_read_file("/tmp/ragd-test-big.pdf", &len);
    ASSERT(big);
    parse_opts_t fast = {.helper = "build/ragd", .timeout_s = 0.005};
    ASSERT_EQ(parse_document(DOC_PDF, big, len, &fast, &b, err, sizeof err), -ETIMEDOUT);
    ASSERT_CONTAINS(err, "longer than");
    parse_opts_t few = {.helper = "build/ragd", .timeout_s = 20, .max_pages = 10};
    ASSERT_EQ(parse_document(DOC_PDF, big, len, &few, &b, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "over the limit of 10");
    free(big);
    unlink("/tmp/ragd-test-big.pdf");
}

/* A store as ragd wrote it at schema 2 (the first release's format), with
 * one document whose metadata is a JSON object: the input of the v3
 * migration test. */
static const char schema2_fixture[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE documents(id TEXT PRIMARY KEY, title TEXT NOT NULL, content_type TEXT NOT NULL,"
    " metadata TEXT NOT NULL, source BLOB NOT NULL, text TEXT NOT NULL,"
    " chunk_count INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL);"
    "CREATE TABLE chunks(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    " position INTEGER NOT NULL, section TEXT NOT NULL, text TEXT NOT NULL,"
    " embedding BLOB NOT NULL, UNIQUE(doc_id, position));"
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 2');"
    "CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, row);"
    "INSERT INTO meta VALUES('schema_version', '2'), ('embedder', 'hash'), ('dimension', '16');"
    "INSERT INTO documents VALUES('old', 'Old', 'text/plain', '{\"team\":\"ops\",\"a\":\"1\"}',"
    " 'runbook', 'runbook', 1, 1, 1);"
    "INSERT INTO chunks(doc_id, position, section, text, embedding)"
    " VALUES('old', 0, '', 'runbook', zeroblob(64));"
    "INSERT INTO chunks_fts(rowid, terms) VALUES(last_insert_rowid(), 'runbook');";

/* store_each_text's rows, as "section|text". */
struct texts {
    size_t n;
    int64_t id[4];
    char text[4][64];
};

static int collect_text(void *ctx, int64_t id, const char *section, const char *text, size_t len)
{
    struct texts *t = ctx;
    if (t->n == 4 || strlen(text) != len) return -EINVAL;
    t->id[t->n] = id;
    snprintf(t->text[t->n++], sizeof t->text[0], "%s|%s", section, text);
    return 0;
}

static int count_vector(void *ctx, int64_t id, const float *vec)
{
    (void)id;
    (void)vec;
    ++*(size_t *)ctx;
    return 0;
}

static off_t file_size_of(const char *dir, const char *name)
{
    char path[256];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* Commits never copy the WAL into the database file themselves: past 1,000
 * pages the checkpoint thread does, and the database file grows while the
 * writer goes on; the WAL is then written from its start again. Past the
 * cap (64 MiB) the writer checkpoints itself. */
TEST(store_checkpoints_off_commit)
{
    char dir[] = "/tmp/ragd-test-ckpt-XXXXXX", err[256];
    ASSERT(mkdtemp(dir));
    store_t *s;
    ASSERT_OK(store_open(&s, dir, "hash", NULL, 16, err, sizeof err));
    off_t db0 = file_size_of(dir, "ragd.db");
    static char src[40000];
    memset(src, 'x', sizeof src);
    float v[16] = {1};
    store_chunk_t c = {"text", 4, "", v};
    store_stats_t st;
    for (int i = 0; i < 150; i++) { /* about 10 pages each: 1,500 in all */
        char id[16];
        snprintf(id, sizeof id, "d%d", i);
        store_doc_t d = {id, "T", "text/plain", NULL, 0, src, sizeof src, "text", 4};
        store_put_result_t r;
        ASSERT_OK(store_put(s, &d, &c, 1, &r, err, sizeof err));
        store_put_result_free(&r);
    }
    /* the thread runs beside us (and behind: while commits follow each
     * other without a pause, the WAL grows): wait until all is copied */
    off_t all = db0 + 150 * (off_t)sizeof src;
    for (int i = 0; i < 1000; i++) {
        store_stats(s, &st);
        if (st.wal_copied_bytes == st.wal_bytes) break;
        usleep(10000);
    }
    ASSERT_EQ(st.wal_copied_bytes, st.wal_bytes);
    ASSERT(st.checkpoints_background > 0);
    ASSERT_EQ(st.checkpoints_inline, 0);
    ASSERT_EQ(st.checkpoint_failures, 0);
    ASSERT(file_size_of(dir, "ragd.db") >= all);
    /* once checkpointed, a commit writes the WAL from its start again: it
     * holds less than all that was written */
    store_doc_t small = {"small", "T", "text/plain", NULL, 0, "s", 1, "text", 4};
    store_put_result_t r;
    ASSERT_OK(store_put(s, &small, &c, 1, &r, err, sizeof err));
    store_put_result_free(&r);
    store_stats(s, &st);
    ASSERT(st.wal_bytes > 0 && st.wal_bytes < 150 * (int64_t)sizeof src);
    /* one commit past the cap: the writer checkpoints it at once */
    size_t big_len = (size_t)(STORE_CKPT_CAP + 100) * 4096;
    char *big = malloc(big_len);
    ASSERT(big);
    memset(big, 'y', big_len);
    store_doc_t bd = {"big", "T", "text/plain", NULL, 0, big, big_len, "text", 4};
    ASSERT_OK(store_put(s, &bd, &c, 1, &r, err, sizeof err));
    store_put_result_free(&r);
    free(big);
    store_stats(s, &st);
    ASSERT_EQ(st.checkpoints_inline, 1);
    store_close(&s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_OK(system(cmd));
}

TEST(store_roundtrip)
{
    char dir[] = "/tmp/ragd-test-store-XXXXXX";
    ASSERT(mkdtemp(dir));
    store_t *s;
    char err[512];
    ASSERT_OK(store_open(&s, dir, "hash", NULL, 16, err, sizeof err));
    float v[3][16] = {{1}, {0, 1}, {0, 0, 1}};
    store_chunk_t c[2] = {{"alpha text", 10, "", v[0]}, {"beta", 4, "S", v[1]}};
    doc_kv_t meta[2] = {{"k", "v"}, {"a.b", "it's \"quoted\""}};
    store_doc_t d = {"d1", "T", "text/plain", meta, 2, "src", 3, "alpha text\n\nbeta", 16};
    store_put_result_t r;
    ASSERT_OK(store_put(s, &d, c, 2, &r, err, sizeof err));
    ASSERT(!r.replaced);
    ASSERT_EQ(r.n_new, 2);
    int64_t first = r.new_ids[0];
    store_put_result_free(&r);
    doc_record_t rec;
    ASSERT_OK(store_get(s, "d1", true, &rec));
    ASSERT_STR_EQ(rec.text, "alpha text\n\nbeta");
    ASSERT_STR_EQ(rec.title, "T");
    ASSERT_EQ(rec.nmeta, 2);
    ASSERT_STR_EQ(rec.meta[0].key, "a.b"); /* sorted by key */
    ASSERT_STR_EQ(rec.meta[0].value, "it's \"quoted\"");
    ASSERT_STR_EQ(rec.meta[1].key, "k");
    ASSERT_EQ(rec.chunks, 2);
    doc_record_free(&rec);
    ASSERT_EQ(store_get(s, "nope", true, &rec), -ENOENT);
    /* the texts the keyword index is built from, above an id */
    struct texts t = {.n = 0};
    ASSERT_OK(store_each_text(s, first, collect_text, &t));
    ASSERT_EQ(t.n, 1);
    ASSERT_EQ(t.id[0], first + 1);
    ASSERT_STR_EQ(t.text[0], "S|beta");
    ASSERT_OK(store_each_text(s, 0, collect_text, &t));
    ASSERT_EQ(t.n, 3);
    ASSERT_STR_EQ(t.text[1], "|alpha text");
    /* filters: every condition must hold; keys and values are bound, any bytes */
    doc_kv_t both[2] = {{"k", "v"}, {"a.b", "it's \"quoted\""}}, nomatch[1] = {{"k", "x"}};
    doc_kv_t odd[1] = {{"k\") OR 1=1 --", "v"}};
    idset_t set;
    ASSERT_OK(store_filter_ids(s, both, 2, &set));
    ASSERT_EQ(set.n, 2);
    ASSERT(idset_has(&set, first) && !idset_has(&set, first + 5));
    idset_free(&set);
    ASSERT_OK(store_filter_ids(s, odd, 1, &set));
    ASSERT_EQ(set.n, 0);
    idset_free(&set);
    ASSERT_OK(store_filter_ids(s, nomatch, 1, &set));
    ASSERT_EQ(set.n, 0);
    idset_free(&set);
    /* result rows carry the chunk's and the document's fields */
    result_t *res;
    ASSERT_OK(result_new(&res));
    vindex_hit_t two[2] = {{first + 1, 0.5f}, {first + 99, 0.25f}}; /* the second is gone */
    ASSERT_OK(store_results(s, two, 2, NULL, res));
    ASSERT_EQ(res->n, 1);
    ASSERT_STR_EQ(res->hits[0].document_id, "d1");
    ASSERT_EQ(res->hits[0].chunk_index, 1);
    ASSERT_STR_EQ(res->hits[0].section, "S");
    ASSERT_STR_EQ(res->hits[0].text, "beta");
    ASSERT_EQ(res->hits[0].nmeta, 2);
    ASSERT_DBL_EQ(res->hits[0].score, 0.5);
    result_unref(&res);
    /* a key given twice is refused, and nothing is stored */
    doc_kv_t dup[2] = {{"k", "1"}, {"k", "2"}};
    store_doc_t bad = {"d2", "", "text/plain", dup, 2, "x", 1, "x", 1};
    ASSERT_EQ(store_put(s, &bad, c, 1, &r, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "given twice");
    ASSERT_EQ(store_get(s, "d2", false, &rec), -ENOENT);
    /* replace: old chunk ids come back, new ones never reuse them */
    store_chunk_t c2[1] = {{"gamma", 5, "", v[2]}};
    d.title = "T2";
    ASSERT_OK(store_put(s, &d, c2, 1, &r, err, sizeof err));
    ASSERT(r.replaced);
    ASSERT_EQ(r.n_old, 2);
    ASSERT_EQ(r.old_ids[0], first);
    ASSERT(r.new_ids[0] > first + 1);
    store_put_result_free(&r);
    t.n = 0;
    ASSERT_OK(store_each_text(s, 0, collect_text, &t)); /* the old chunks are gone */
    ASSERT_EQ(t.n, 1);
    ASSERT_STR_EQ(t.text[0], "|gamma");
    size_t nvec = 0; /* and their vectors with them */
    ASSERT_OK(store_each_vector(s, 0, count_vector, &nvec));
    ASSERT_EQ(nvec, 1);
    doc_record_t *list;
    size_t nlist;
    ASSERT_OK(store_list(s, 10, NULL, &list, &nlist));
    ASSERT_EQ(nlist, 1);
    ASSERT_STR_EQ(list[0].title, "T2");
    ASSERT(list[0].text == NULL);
    ASSERT_EQ(list[0].nmeta, 2);
    doc_record_free(&list[0]);
    free(list);
    int64_t docs, chunks;
    ASSERT_OK(store_counts(s, &docs, &chunks));
    ASSERT_EQ(docs, 1);
    ASSERT_EQ(chunks, 1);
    store_close(&s);
    /* reopen: the same embedder works, another is refused */
    ASSERT_OK(store_open(&s, dir, "hash", NULL, 16, err, sizeof err));
    ASSERT_OK(store_counts(s, &docs, &chunks));
    ASSERT_EQ(chunks, 1);
    int64_t *ids;
    size_t n;
    ASSERT_OK(store_delete(s, "d1", &ids, &n));
    ASSERT_EQ(n, 1);
    free(ids);
    ASSERT_EQ(store_delete(s, "d1", &ids, &n), -ENOENT);
    store_close(&s);
    /* a store of schema 2 (metadata as JSON text) is migrated at open: its
     * metadata becomes rows that filters find */
    sqlite3 *db;
    char path[128];
    snprintf(path, sizeof path, "%s/ragd.db", dir);
    unlink(path);
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, schema2_fixture, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ASSERT_OK(store_open(&s, dir, "hash", NULL, 16, err, sizeof err));
    doc_kv_t old_meta[1] = {{"team", "ops"}};
    ASSERT_OK(store_filter_ids(s, old_meta, 1, &set));
    ASSERT_EQ(set.n, 1);
    idset_free(&set);
    ASSERT_OK(store_get(s, "old", false, &rec));
    ASSERT_EQ(rec.nmeta, 2);
    ASSERT_STR_EQ(rec.meta[1].key, "team");
    doc_record_free(&rec);
    store_close(&s);
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
                                 NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "5");
    sqlite3_finalize(st);
    /* v5: the vectors in a table of their own, none left in the chunks' rows */
    ASSERT_EQ(
        sqlite3_prepare_v2(db,
                           "SELECT (SELECT group_concat(length(embedding)) FROM chunk_vectors),"
                           " (SELECT count(*) FROM pragma_table_info('chunks')"
                           "  WHERE name = 'embedding')",
                           -1, &st, NULL),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "64");
    ASSERT_EQ(sqlite3_column_int(st, 1), 0);
    sqlite3_finalize(st);
    /* v4: the FTS5 tables are gone (the keyword index is rag/kwindex) */
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT count(*) FROM sqlite_master WHERE name LIKE 'chunks_%'",
                                 -1, &st, NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    /* a store from a newer ragd is refused */
    ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", NULL,
                           NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    ASSERT_EQ(store_open(&s, dir, "hash", NULL, 16, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "schema version 99");
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "UPDATE meta SET value = '5' WHERE key = 'schema_version'", NULL, NULL, NULL);
    sqlite3_close(db);
    ASSERT_EQ(store_open(&s, dir, "hash", NULL, 32, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "dimension 16");
    ASSERT_EQ(store_open(&s, dir, "openai:model", NULL, 16, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "must not mix");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_OK(system(cmd));
}

/* The pipeline end to end on a real store: ingest (with metadata, and a
 * replacement), every query mode, a filter, the cache (a hit shares the
 * same result), reads, delete, and the counts the collector publishes. */
TEST(rag_pipeline)
{
    char dir[] = "/tmp/ragd-test-rag-XXXXXX";
    ASSERT(mkdtemp(dir));
    metrics_registry_t *reg;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    embedder_t *emb;
    ASSERT_OK(embed_hash_new(&emb, 64));
    static const double b[] = {0.001, 0.01, 0.1, 1};
    rag_opts_t o = {.data_dir = dir,
                    .vector_weight = RAG_VECTOR_WEIGHT,
                    .embedder = emb,
                    .chunk = {64, 8, 100},
                    .parse = popts,
                    .cache_entries = 16,
                    .cache_ttl_s = 60,
                    .reg = reg,
                    .buckets_document = b,
                    .nbuckets_document = 4,
                    .buckets_embedding = b,
                    .nbuckets_embedding = 4,
                    .buckets_search = b,
                    .nbuckets_search = 4};
    rag_t *r;
    char err[256];
    log_init(LOG_TEXT, open("/dev/null", O_WRONLY));
    ASSERT_OK(rag_open(&r, &o, err, sizeof err));
    log_init(LOG_TEXT, 2);
    static const char *const docs[][3] = {
        {"ops", "# Runbook\n\nRestart the embedder when latency alerts fire.", "ops"},
        {"dev", "Vector search reads every embedding once per query.", "dev"},
        {"jp", "検索の遅延を監視する。", "ops"},
    };
    rag_ingested_t ing;
    for (size_t i = 0; i < 3; i++) {
        doc_kv_t kv = {"team", docs[i][2]};
        rag_doc_in_t in = {.id = docs[i][0],
                           .type = i == 0 ? DOC_MARKDOWN : DOC_TEXT,
                           .meta = &kv,
                           .nmeta = 1,
                           .data = docs[i][1],
                           .len = strlen(docs[i][1])};
        ASSERT_OK(rag_ingest(r, &in, &ing, err, sizeof err));
        ASSERT_STR_EQ(ing.id, docs[i][0]);
        ASSERT(!ing.replaced && ing.chunks == 1);
    }
    rag_doc_in_t noid = {.type = DOC_TEXT, .data = "anonymous text", .len = 14};
    ASSERT_OK(rag_ingest(r, &noid, &ing, err, sizeof err));
    ASSERT_EQ(strlen(ing.id), 32); /* a random id was made */
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "active_documents_count"), 4);
    ASSERT_DBL_EQ(test_sample(e, "total_embeddings_count"), 4);
    ASSERT_DBL_EQ(
        test_sample(e, "document_processing_duration_seconds_count{document_type=\"markdown\"}"),
        1);
    free(e);

    for (int m = RAG_HYBRID; m <= RAG_KEYWORD; m++) {
        rag_query_t q = {.text = "embedder latency", .top_k = 2, .mode = (rag_mode_t)m};
        rag_answer_t a;
        ASSERT_OK(rag_query(r, &q, &a, err, sizeof err));
        ASSERT(!a.cached);
        ASSERT(a.results->n >= 1 && a.results->n <= 2);
        ASSERT_STR_EQ(a.results->hits[0].document_id, "ops");
        ASSERT_STR_EQ(a.results->hits[0].section, "Runbook");
        ASSERT_STR_EQ(a.results->hits[0].meta[0].value, "ops");
        rag_answer_release(&a);
        ASSERT(a.results == NULL);
    }
    /* the same query again (case and spaces aside): the cache's result itself */
    rag_query_t q = {.text = "  Embedder   LATENCY ", .top_k = 2, .mode = RAG_HYBRID};
    rag_answer_t a1, a2;
    ASSERT_OK(rag_query(r, &q, &a1, err, sizeof err));
    ASSERT_OK(rag_query(r, &q, &a2, err, sizeof err));
    ASSERT(a1.cached && a2.cached && a1.results == a2.results);
    rag_answer_release(&a1);
    rag_answer_release(&a2);
    /* a filter keeps the documents with every pair */
    doc_kv_t dev = {"team", "dev"};
    rag_query_t fq = {
        .text = "embedding latency", .top_k = 5, .mode = RAG_HYBRID, .filter = &dev, .nfilter = 1};
    ASSERT_OK(rag_query(r, &fq, &a1, err, sizeof err));
    ASSERT_EQ(a1.results->n, 1);
    ASSERT_STR_EQ(a1.results->hits[0].document_id, "dev");
    rag_answer_release(&a1);
    /* Japanese: a two-character word inside an unsegmented sentence */
    rag_query_t jq = {.text = "遅延", .top_k = 1, .mode = RAG_KEYWORD};
    ASSERT_OK(rag_query(r, &jq, &a1, err, sizeof err));
    ASSERT_EQ(a1.results->n, 1);
    ASSERT_STR_EQ(a1.results->hits[0].document_id, "jp");
    rag_answer_release(&a1);

    /* replace, read, list, delete */
    rag_doc_in_t again = {.id = "dev", .type = DOC_TEXT, .data = "Replaced.", .len = 9};
    ASSERT_OK(rag_ingest(r, &again, &ing, err, sizeof err));
    ASSERT(ing.replaced);
    doc_record_t d;
    ASSERT_OK(rag_get(r, "dev", &d));
    ASSERT_STR_EQ(d.text, "Replaced.");
    ASSERT_EQ(d.nmeta, 0);
    doc_record_free(&d);
    doc_record_t *list;
    size_t n;
    ASSERT_OK(rag_list(r, 10, NULL, &list, &n)); /* dev, jp, ops and the random id */
    ASSERT_EQ(n, 4);
    for (size_t i = 1; i < n; i++) ASSERT(strcmp(list[i - 1].id, list[i].id) < 0);
    for (size_t i = 0; i < n; i++) doc_record_free(&list[i]);
    free(list);
    ASSERT_OK(rag_list(r, 1, "dev", &list, &n)); /* after an id */
    ASSERT_EQ(n, 1);
    ASSERT(strcmp(list[0].id, "dev") > 0);
    doc_record_free(&list[0]);
    free(list);
    size_t gone;
    ASSERT_OK(rag_delete(r, "ops", &gone));
    ASSERT_EQ(gone, 1);
    ASSERT_EQ(rag_delete(r, "ops", &gone), -ENOENT);
    ASSERT_EQ(rag_get(r, "ops", &d), -ENOENT);
    e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT_DBL_EQ(test_sample(e, "active_documents_count"), 3);
    ASSERT_DBL_EQ(test_sample(e, "total_embeddings_count"), 3);
    ASSERT_DBL_EQ(test_sample(e, "ragd_query_cache_entries"), 0); /* a write clears it */
    ASSERT_DBL_EQ(test_sample(e, "query_cache_hits_total"), 2);
    free(e);
    ASSERT_EQ(rag_mode_parse("nope"), -EINVAL);
    rag_close(&r);
    metrics_registry_free(&reg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_OK(system(cmd));
}

/* A pipeline over a fresh directory (dir: a mkdtemp template), hash
 * embedder of 64 dimensions, chunks of `tokens` with `overlap`; NULL when
 * it cannot open. Close with close_test_rag. */
/* A pipeline over the data directory dir (hash embedder, 64 dimensions),
 * whose batches are prepared on `workers` threads (0: one per CPU), hybrid
 * weighing the vector side `weight`. */
static rag_t *open_rag_opts(const char *dir, metrics_registry_t **reg, size_t tokens,
                            size_t overlap, unsigned workers, double weight)
{
    static const double b[] = {0.001, 0.01, 0.1, 1};
    embedder_t *emb;
    rag_t *r = NULL;
    char err[256];
    if (metrics_registry_new(reg, NULL) || embed_hash_new(&emb, 64)) return NULL;
    rag_opts_t o = {.data_dir = dir,
                    .vector_weight = weight,
                    .embedder = emb,
                    .chunk = {tokens, overlap, 100},
                    .parse = popts,
                    .ingest_workers = workers,
                    .reg = *reg,
                    .buckets_document = b,
                    .nbuckets_document = 4,
                    .buckets_embedding = b,
                    .nbuckets_embedding = 4,
                    .buckets_search = b,
                    .nbuckets_search = 4};
    log_init(LOG_TEXT, open("/dev/null", O_WRONLY));
    int rc = rag_open(&r, &o, err, sizeof err);
    log_init(LOG_TEXT, 2);
    return rc ? NULL : r;
}

/* A pipeline over the data directory dir (hash embedder, 64 dimensions). */
static rag_t *open_rag_in(const char *dir, metrics_registry_t **reg, size_t tokens, size_t overlap)
{
    return open_rag_opts(dir, reg, tokens, overlap, 0, RAG_VECTOR_WEIGHT);
}

static rag_t *open_test_rag(char *dir, metrics_registry_t **reg, size_t tokens, size_t overlap)
{
    return mkdtemp(dir) ? open_rag_in(dir, reg, tokens, overlap) : NULL;
}

static int close_test_rag(rag_t **r, metrics_registry_t **reg, const char *dir)
{
    char cmd[128];
    rag_close(r);
    metrics_registry_free(reg);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* The first k results of a hybrid query are the same whatever top_k asks
 * (up to the fusion's fixed depth): asking for more never reorders the top. */
TEST(hybrid_prefix_stable)
{
    char dir[] = "/tmp/ragd-test-prefix-XXXXXX", err[256];
    metrics_registry_t *reg;
    rag_t *r = open_test_rag(dir, &reg, 64, 8);
    ASSERT(r);
    static const char *const words[] = {"latency", "budget",     "cache",   "vector", "index",
                                        "alert",   "error",      "token",   "answer", "shard",
                                        "replica", "disk",       "memory",  "query",  "chunk",
                                        "embed",   "prometheus", "grafana", "burn",   "window"};
    uint64_t x = 42;
    for (int d = 0; d < 600; d++) {
        char id[16], text[512];
        size_t n = 0;
        for (int w = 0; w < 8 + d % 17; w++) { /* lengths vary: bm25 and cosine disagree */
            x = x * 6364136223846793005ull +
                1442695040888963407ull; /* fixed: same corpus each run */
            unsigned v = (unsigned)(x >> 33) % 60;
            n += v < 20 ? (size_t)snprintf(text + n, sizeof text - n, "%s ", words[v])
                        : (size_t)snprintf(text + n, sizeof text - n, "w%u ", v);
        }
        snprintf(id, sizeof id, "d%d", d);
        rag_ingested_t ing;
        ASSERT_OK(rag_ingest(r, &(rag_doc_in_t){.id = id, .type = DOC_TEXT, .data = text, .len = n},
                             &ing, err, sizeof err));
    }
    static const char *const queries[] = {
        "latency budget",  "cache index", "prometheus alert window",
        "token answer",    "disk",        "w21 w22",
        "w30 latency",     "w45 w46 w47", "error window",
        "w59 shard",       "embed w33",   "query chunk",
        "grafana w40 w41", "memory w25",  "replica burn"};
    static const size_t ks[] = {3, 10, 60, 100};
    for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
        rag_answer_t big;
        ASSERT_OK(rag_query(r, &(rag_query_t){.text = queries[q], .top_k = 100, .mode = RAG_HYBRID},
                            &big, err, sizeof err));
        ASSERT(big.results->n == 100);
        for (size_t k = 0; k < 3; k++) {
            rag_answer_t a;
            ASSERT_OK(
                rag_query(r, &(rag_query_t){.text = queries[q], .top_k = ks[k], .mode = RAG_HYBRID},
                          &a, err, sizeof err));
            ASSERT_EQ(a.results->n, ks[k]);
            for (size_t i = 0; i < ks[k]; i++) {
                ASSERT_STR_EQ(a.results->hits[i].document_id, big.results->hits[i].document_id);
                ASSERT_EQ(a.results->hits[i].chunk_index, big.results->hits[i].chunk_index);
            }
            rag_answer_release(&a);
        }
        rag_answer_release(&big);
    }
    ASSERT_OK(close_test_rag(&r, &reg, dir));
}

/* Hits of a keyword query, or -1. */
static long keyword_hits(rag_t *r, const char *q)
{
    rag_answer_t a;
    char err[256];
    if (rag_query(r, &(rag_query_t){.text = q, .top_k = 10, .mode = RAG_KEYWORD}, &a, err,
                  sizeof err))
        return -1;
    long n = (long)a.results->n;
    rag_answer_release(&a);
    return n;
}

/* The vector of the top hit of a vector query, and its document. */
static double top_vector_hit(rag_t *r, const char *q, char *doc, size_t n)
{
    rag_answer_t a;
    char err[256];
    if (rag_query(r, &(rag_query_t){.text = q, .top_k = 3, .mode = RAG_VECTOR}, &a, err,
                  sizeof err) ||
        a.results->n == 0)
        return -1;
    snprintf(doc, n, "%s", a.results->hits[0].document_id);
    double score = a.results->hits[0].score;
    rag_answer_release(&a);
    return score;
}

/* Flat rows in the vector index, as /metrics says. */
static double flat_rows(metrics_registry_t *reg)
{
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    double v = e ? test_sample(e, "ragd_vector_index_vectors{segment=\"flat\"}") : NAN;
    free(e);
    return v;
}

/* A clean shutdown of a test's rag and its registry. */
static void shut_rag(rag_t **r, metrics_registry_t **reg)
{
    rag_close(r);
    metrics_registry_free(reg);
}

static int ingest_text(rag_t *r, const char *id, const char *text)
{
    rag_ingested_t ing;
    char err[256];
    return rag_ingest(
        r, &(rag_doc_in_t){.id = id, .type = DOC_TEXT, .data = text, .len = strlen(text)}, &ing,
        err, sizeof err);
}

/* A clean shutdown saves the flat vectors (vectors.flat); the next start
 * reads them and removes the file, so a start after a crash reads the
 * store. A file that does not fit the store is not used: one from before
 * later writes (counts differ), and one from another store with the same
 * ids and counts (the sampled vectors differ). */
TEST(rag_flat_file_restart)
{
    char d1[] = "/tmp/ragd-test-flatr-XXXXXX", d2[] = "/tmp/ragd-test-flatr-XXXXXX";
    char f1[128], f2[128], doc[64], cmd[400];
    metrics_registry_t *reg;
    rag_t *r = open_test_rag(d1, &reg, 64, 8);
    ASSERT(r);
    snprintf(f1, sizeof f1, "%s/vectors.flat", d1);
    ASSERT_OK(ingest_text(r, "a", "alpha zircon crystals"));
    ASSERT_OK(ingest_text(r, "b", "beta quartz sands"));
    double s_a = top_vector_hit(r, "alpha zircon crystals", doc, sizeof doc);
    ASSERT_STR_EQ(doc, "a");
    shut_rag(&r, &reg);
    ASSERT_OK(access(f1, F_OK));
    ASSERT((r = open_rag_in(d1, &reg, 64, 8)) != NULL);
    ASSERT(access(f1, F_OK) != 0); /* one start's */
    ASSERT(top_vector_hit(r, "alpha zircon crystals", doc, sizeof doc) == s_a);
    ASSERT_STR_EQ(doc, "a");
    shut_rag(&r, &reg);
    /* a file from before a write: the rows are read from the store */
    snprintf(cmd, sizeof cmd, "cp %s %s.old", f1, f1);
    ASSERT_OK(system(cmd));
    ASSERT((r = open_rag_in(d1, &reg, 64, 8)) != NULL);
    ASSERT_OK(ingest_text(r, "a", "gamma basalt columns")); /* replaces a's chunk */
    shut_rag(&r, &reg);
    snprintf(cmd, sizeof cmd, "mv %s.old %s", f1, f1);
    ASSERT_OK(system(cmd));
    ASSERT((r = open_rag_in(d1, &reg, 64, 8)) != NULL);
    ASSERT(top_vector_hit(r, "gamma basalt columns", doc, sizeof doc) > 0.99);
    ASSERT_STR_EQ(doc, "a");
    ASSERT(top_vector_hit(r, "alpha zircon crystals", doc, sizeof doc) < s_a);
    ASSERT_EQ(flat_rows(reg), 2); /* no stale row */
    ASSERT_OK(close_test_rag(&r, &reg, d1));
    /* another store, the same ids and counts, other vectors */
    char d3[] = "/tmp/ragd-test-flatr-XXXXXX";
    ASSERT((r = open_test_rag(d3, &reg, 64, 8)) != NULL);
    snprintf(f1, sizeof f1, "%s/vectors.flat", d3);
    ASSERT_OK(ingest_text(r, "a", "alpha zircon crystals"));
    ASSERT_OK(ingest_text(r, "b", "beta quartz sands"));
    shut_rag(&r, &reg);
    ASSERT((r = open_test_rag(d2, &reg, 64, 8)) != NULL);
    snprintf(f2, sizeof f2, "%s/vectors.flat", d2);
    ASSERT_OK(ingest_text(r, "b", "beta quartz sands"));     /* chunk 1: alpha's in d3 */
    ASSERT_OK(ingest_text(r, "a", "alpha zircon crystals")); /* chunk 2 */
    shut_rag(&r, &reg);
    snprintf(cmd, sizeof cmd, "cp %s %s", f1, f2);
    ASSERT_OK(system(cmd));
    ASSERT((r = open_rag_in(d2, &reg, 64, 8)) != NULL);
    ASSERT(top_vector_hit(r, "alpha zircon crystals", doc, sizeof doc) > 0.99);
    ASSERT_STR_EQ(doc, "a");
    ASSERT_OK(close_test_rag(&r, &reg, d2));
    snprintf(cmd, sizeof cmd, "rm -rf %s", d3);
    ASSERT_OK(system(cmd));
}

/* A store of the hash embedder's first version ("hash") is embedded again
 * at start-up, all of it, and then records "hash-2"; a saved graph of the
 * old vectors goes. Another embedder's store is still refused. */
TEST(rag_reembeds_replaced_hash)
{
    char dir[] = "/tmp/ragd-test-reembed-XXXXXX", err[256], path[200], doc[64];
    metrics_registry_t *reg;
    rag_t *r = open_test_rag(dir, &reg, 8, 0);
    ASSERT(r);
    rag_ingested_t ing;
    static const char *const texts[] = {"alpha zircon bearing rocks", "beta quartz crystals",
                                        "gamma feldspar in granite"};
    char big[4000] = "";
    for (int i = 0; i < 300; i++) /* over one batch of chunks */
        snprintf(big + strlen(big), sizeof big - strlen(big), "w%d ", i);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%d", i);
        ASSERT_OK(rag_ingest(
            r,
            &(rag_doc_in_t){.id = id, .type = DOC_TEXT, .data = texts[i], .len = strlen(texts[i])},
            &ing, err, sizeof err));
    }
    for (int i = 0; i < 40; i++) {
        char id[16];
        snprintf(id, sizeof id, "f%d", i);
        ASSERT_OK(rag_ingest(
            r, &(rag_doc_in_t){.id = id, .type = DOC_TEXT, .data = big, .len = strlen(big)}, &ing,
            err, sizeof err));
    }
    double before = top_vector_hit(r, "beta quartz crystals", doc, sizeof doc);
    ASSERT_STR_EQ(doc, "d1");
    rag_close(&r);
    metrics_registry_free(&reg);
    /* as the first version left it: its name, other vectors, and a graph file */
    snprintf(path, sizeof path, "%s/ragd.db", dir);
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "UPDATE meta SET value = 'hash' WHERE key = 'embedder';"
                           "UPDATE chunk_vectors SET embedding = zeroblob(256)",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    snprintf(path, sizeof path, "%s/vectors.hnsw", dir);
    FILE *fp = fopen(path, "w");
    ASSERT(fp);
    fputs("old graph", fp);
    fclose(fp);
    ASSERT((r = open_rag_in(dir, &reg, 8, 0)) != NULL);
    ASSERT(access(path, F_OK) != 0); /* the old graph is gone */
    double after = top_vector_hit(r, "beta quartz crystals", doc, sizeof doc);
    ASSERT_STR_EQ(doc, "d1");
    ASSERT(fabs(after - before) < 1e-6); /* the same vectors as ingestion made */
    rag_close(&r);
    metrics_registry_free(&reg);
    snprintf(path, sizeof path, "%s/ragd.db", dir);
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ASSERT_EQ(
        sqlite3_prepare_v2(db,
                           "SELECT (SELECT value FROM meta WHERE key = 'embedder'),"
                           " (SELECT count(*) FROM chunk_vectors WHERE embedding = zeroblob(256)),"
                           " (SELECT count(*) FROM chunks)",
                           -1, &st, NULL),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "hash-2");
    ASSERT_EQ(sqlite3_column_int(st, 1), 0);
    ASSERT(sqlite3_column_int(st, 2) > 1024); /* more than one batch */
    sqlite3_finalize(st);
    /* only the replaced name, at the same dimension, is embedded again */
    ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = 'openai:m' WHERE key = 'embedder'", NULL,
                           NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    store_t *s;
    ASSERT_EQ(store_open(&s, dir, "hash-2", "hash", 64, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "must not mix");
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "UPDATE meta SET value = 'hash' WHERE key = 'embedder'", NULL, NULL, NULL);
    sqlite3_close(db);
    ASSERT_EQ(store_open(&s, dir, "hash-2", "hash", 32, err, sizeof err), -EINVAL);
    ASSERT_OK(store_open(&s, dir, "hash-2", "hash", 64, err, sizeof err));
    ASSERT(store_reembed(s));
    store_close(&s);
    ASSERT_OK(file_rm_rf(dir));
}

/* The keyword index follows the store across restarts: lost, behind or
 * ahead of it (a crash between the two commits), or damaged. */
TEST(rag_keywords_follow_store)
{
    char dir[] = "/tmp/ragd-test-kwfollow-XXXXXX", err[256], path[160];
    metrics_registry_t *reg;
    rag_t *r = open_test_rag(dir, &reg, 64, 8);
    ASSERT(r);
    snprintf(path, sizeof path, "%s/%s", dir, KWINDEX_DIR);
    rag_ingested_t ing;
    ASSERT_OK(rag_ingest(
        r, &(rag_doc_in_t){.id = "a", .type = DOC_TEXT, .data = "alpha zircon", .len = 12}, &ing,
        err, sizeof err));
    ASSERT_OK(rag_ingest(
        r, &(rag_doc_in_t){.id = "b", .type = DOC_TEXT, .data = "beta quartz", .len = 11}, &ing,
        err, sizeof err));
    ASSERT_EQ(keyword_hits(r, "zircon"), 1);
    ASSERT_EQ(keyword_hits(r, "quartz"), 1);
    rag_close(&r);
    metrics_registry_free(&reg);
    /* lost: built again from the store */
    ASSERT_OK(file_rm_rf(path));
    ASSERT((r = open_rag_in(dir, &reg, 64, 8)) != NULL);
    ASSERT_EQ(keyword_hits(r, "zircon"), 1);
    ASSERT_EQ(keyword_hits(r, "quartz"), 1);
    rag_close(&r);
    metrics_registry_free(&reg);
    /* the store moved on without it: "b" deleted, "c" added */
    store_t *s;
    ASSERT_OK(store_open(&s, dir, "hash-2", NULL, 64, err, sizeof err));
    int64_t *ids;
    size_t n;
    ASSERT_OK(store_delete(s, "b", &ids, &n));
    free(ids);
    float v[64] = {1};
    store_chunk_t c = {"gamma garnet", 12, "", v};
    store_doc_t d = {"c", "", "text/plain", NULL, 0, "gamma garnet", 12, "gamma garnet", 12};
    store_put_result_t res;
    ASSERT_OK(store_put(s, &d, &c, 1, &res, err, sizeof err));
    store_put_result_free(&res);
    store_close(&s);
    ASSERT((r = open_rag_in(dir, &reg, 64, 8)) != NULL);
    ASSERT_EQ(keyword_hits(r, "quartz"), 0);
    ASSERT_EQ(keyword_hits(r, "garnet"), 1);
    ASSERT_EQ(keyword_hits(r, "zircon"), 1);
    rag_close(&r);
    metrics_registry_free(&reg);
    /* damaged: built again */
    char f[200];
    snprintf(f, sizeof f, "%s/MANIFEST", path);
    ASSERT_OK(test_damage_file(f));
    ASSERT((r = open_rag_in(dir, &reg, 64, 8)) != NULL);
    ASSERT_EQ(keyword_hits(r, "garnet zircon"), 2);
    /* a delete through the pipeline is seen at once */
    ASSERT_OK(rag_delete(r, "a", &n));
    ASSERT_EQ(keyword_hits(r, "zircon"), 0);
    rag_close(&r);
    metrics_registry_free(&reg);
    /* an older store (a backup restored) under a newer index: the store's
     * next ids would clash with the index's, so it is built again */
    char db[200];
    static const char *const files[] = {"ragd.db", "ragd.db-wal", "ragd.db-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(db, sizeof db, "%s/%s", dir, files[i]);
        unlink(db);
    }
    ASSERT((r = open_rag_in(dir, &reg, 64, 8)) != NULL);
    ASSERT_EQ(keyword_hits(r, "garnet"), 0);
    ASSERT_OK(
        rag_ingest(r, &(rag_doc_in_t){.id = "d", .type = DOC_TEXT, .data = "delta opal", .len = 10},
                   &ing, err, sizeof err));
    ASSERT_EQ(keyword_hits(r, "opal"), 1);
    ASSERT_OK(close_test_rag(&r, &reg, dir));
}

static int fixed_dfs(void *ctx, const char *const *terms, size_t n, int64_t *dfs)
{
    for (size_t i = 0; i < n; i++)
        dfs[i] = !strcmp(terms[i], "common") ? 900 : !strcmp(terms[i], "rare") ? 3 : 0;
    return 0;
}

/* Common terms are left out only for a rarer term that matches something. */
static char *joined_terms(const char *text, match_dfs_fn dfs)
{
    static char out[256];
    buf_t space = BUF_INIT;
    const char *t[MATCH_MAX_TERMS];
    size_t n = match_terms(text, 1000, dfs, NULL, &space, t);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(out, "|");
        strcat(out, t[i]);
    }
    buf_free(&space);
    return out;
}

TEST(match_prunes_common_terms)
{
    ASSERT_STR_EQ(joined_terms("common rare", fixed_dfs), "rare");
    /* unseen matches nothing: it neither stands for the query nor stays a
     * term while another one matches (a word cut short, a typo) */
    ASSERT_STR_EQ(joined_terms("common unseen", fixed_dfs), "common");
    ASSERT_STR_EQ(joined_terms("unseen rare common", fixed_dfs), "rare");
    ASSERT_STR_EQ(joined_terms("unseen other", fixed_dfs), "unseen|other");
    /* no dfs: nothing pruned; repeats and punctuation go */
    ASSERT_STR_EQ(joined_terms("Common \"quoted\" common", NULL), "common|quoted");
    ASSERT_STR_EQ(joined_terms("?!", NULL), "");
}

TEST(match_held_terms)
{
    const char *t[] = {"zircon", "bearing", "cafe", "bear"};
    const char *text = "Café notes: Zircon-bearing rocks.";
    ASSERT_EQ(match_held(t, 3, text, strlen(text)), 3);     /* folded as the index folds */
    ASSERT_EQ(match_held(t + 3, 1, text, strlen(text)), 0); /* a whole term, not a part */
    ASSERT_EQ(match_held(t, 4, "", 0), 0);
}

/* A lexical query (the keyword side's best chunk holds all of its three
 * or more terms) keeps the keyword ranking: with a vector-heavy weight,
 * "zircon bearing lattice" puts the chunk that holds all three first,
 * where "zircon bearing" (two terms: not lexical) lets the vector side's
 * favourite, a chunk of look-alike words, win. */
TEST(hybrid_lexical_queries)
{
    char dir[] = "/tmp/ragd-test-lexical-XXXXXX", err[256];
    metrics_registry_t *reg;
    rag_t *r = mkdtemp(dir) ? open_rag_opts(dir, &reg, 64, 8, 1, 0.9) : NULL;
    ASSERT(r);
    static const char *const docs[][2] = {
        {"a", "Zircon bearing zircons, bearings and lattices; zirconia, bearer, latticed, "
              "zirconium, bearers, lattices, zircons."},
        {"b", "Camp notes: the lattice, a zircon, the bearing; weather, roads, rivers, supplies, "
              "mines, bridges, gates, horses, wagons, tents, lamps, maps, ropes, boots, coats."},
        {"c", "Camp notes: a zircon; weather, roads, rivers, supplies, mines, bridges, gates, "
              "horses, wagons, tents, lamps, maps, ropes, boots, coats, food and water."}};
    rag_ingested_t ing;
    for (size_t i = 0; i < 3; i++)
        ASSERT_OK(rag_ingest(
            r,
            &(rag_doc_in_t){
                .id = docs[i][0], .type = DOC_TEXT, .data = docs[i][1], .len = strlen(docs[i][1])},
            &ing, err, sizeof err));
    for (int i = 0; i < 20; i++) { /* the three terms stay rare: none is left out */
        char id[16], text[128];
        snprintf(id, sizeof id, "f%d", i);
        int n = snprintf(text, sizeof text,
                         "Filler %d about weather, roads, camps, rivers and supplies.", i);
        ASSERT_OK(rag_ingest(
            r, &(rag_doc_in_t){.id = id, .type = DOC_TEXT, .data = text, .len = (size_t)n}, &ing,
            err, sizeof err));
    }
    rag_answer_t a;
    ASSERT_OK(rag_query(
        r, &(rag_query_t){.text = "zircon bearing lattice", .top_k = 3, .mode = RAG_HYBRID}, &a,
        err, sizeof err));
    ASSERT(a.results->n >= 2);
    ASSERT_STR_EQ(a.results->hits[0].document_id, "b");
    rag_answer_release(&a);
    /* a word no chunk holds (cut short, as from a copied passage) does not
     * stop the query being lexical */
    ASSERT_OK(rag_query(
        r, &(rag_query_t){.text = "zircon bearing lattice latt", .top_k = 3, .mode = RAG_HYBRID},
        &a, err, sizeof err));
    ASSERT(a.results->n >= 2);
    ASSERT_STR_EQ(a.results->hits[0].document_id, "b");
    rag_answer_release(&a);
    ASSERT_OK(rag_query(r, &(rag_query_t){.text = "zircon bearing", .top_k = 3, .mode = RAG_HYBRID},
                        &a, err, sizeof err));
    ASSERT(a.results->n >= 2);
    ASSERT_STR_EQ(a.results->hits[0].document_id, "a");
    rag_answer_release(&a);
    ASSERT_OK(close_test_rag(&r, &reg, dir));
}

/* A result list gives an identical text once, and at most max_per_document
 * chunks of one document; the cap is the query's. */
TEST(results_pick_per_document)
{
    char dir[] = "/tmp/ragd-test-pick-XXXXXX", err[256];
    metrics_registry_t *reg;
    rag_t *r = open_test_rag(dir, &reg, 16, 0);
    ASSERT(r);
    /* "long": six chunks about zircon; "b" and "b-copy" the same text */
    static const char longdoc[] =
        "Zircon one is here in the first part of this text about many things.\n\n"
        "Zircon two is here in the second part of this text about many things.\n\n"
        "Zircon three is here in the third part of this text about many things.\n\n"
        "Zircon four is here in the fourth part of this text about many things.\n\n"
        "Zircon five is here in the fifth part of this text about many things.\n\n"
        "Zircon six is here in the sixth part of this text about many things.";
    static const char *const docs[][2] = {{"long", longdoc},
                                          {"b", "Zircon sands are mined on beaches."},
                                          {"b-copy", "Zircon sands are mined on beaches."},
                                          {"c", "A zircon crystal is very old."}};
    rag_ingested_t ing;
    for (size_t i = 0; i < 4; i++)
        ASSERT_OK(rag_ingest(
            r,
            &(rag_doc_in_t){
                .id = docs[i][0], .type = DOC_TEXT, .data = docs[i][1], .len = strlen(docs[i][1])},
            &ing, err, sizeof err));
    rag_answer_t a;
    for (int mode = 0; mode < 3; mode++) {
        size_t ndocs[4] = {0}, copies = 0;
        ASSERT_OK(rag_query(
            r,
            &(rag_query_t){
                .text = "zircon", .top_k = 10, .mode = (rag_mode_t)mode, .max_per_document = 2},
            &a, err, sizeof err));
        for (size_t i = 0; i < a.results->n; i++) {
            const char *d = a.results->hits[i].document_id;
            for (size_t k = 0; k < 4; k++) ndocs[k] += !strcmp(d, docs[k][0]);
            copies += !strcmp(d, "b") || !strcmp(d, "b-copy");
        }
        ASSERT_EQ(ndocs[0], 2); /* six chunks, two given */
        ASSERT_EQ(copies, 1);   /* one text, once */
        ASSERT_EQ(ndocs[3], 1);
        ASSERT_EQ(a.results->n, 4);
        rag_answer_release(&a);
    }
    ASSERT_OK(rag_query(r, &(rag_query_t){.text = "zircon", .top_k = 10, .mode = RAG_KEYWORD}, &a,
                        err, sizeof err));
    ASSERT_EQ(a.results->n, 8); /* no cap: the six chunks, one of the copies, c */
    rag_answer_release(&a);
    ASSERT_OK(close_test_rag(&r, &reg, dir));
}

static const char *section_of(const doc_blocks_t *b, const char *needle)
{
    for (size_t i = 0; i < b->n; i++)
        if (strstr(b->v[i].text, needle)) return b->v[i].section ? b->v[i].section : "";
    return NULL;
}

static bool any_block_has(const doc_blocks_t *b, const char *needle)
{
    return section_of(b, needle) != NULL;
}

/* A list of links (a table of contents) is left out like navigation; a
 * list whose items say more than their links stays; a page that is
 * nothing but a list of links keeps it. */
TEST(parse_link_lists)
{
    doc_blocks_t b;
    char err[128];
    char page[4096];
    size_t n =
        (size_t)snprintf(page, sizeof page, "<body><h1>Manual</h1><p>Read this first.</p><ul>");
    for (int i = 1; i <= 10; i++)
        n += (size_t)snprintf(page + n, sizeof page - n,
                              "<li><a href=\"#s%d\">%d. Zircon section %d</a></li>", i, i, i);
    n += (size_t)snprintf(page + n, sizeof page - n, "</ul><ol>");
    for (int i = 1; i <= 10; i++)
        n += (size_t)snprintf(page + n, sizeof page - n,
                              "<li><a href=\"f%d\">f%d</a> returns the lattice of a bearing %d "
                              "and more words about it</li>",
                              i, i, i);
    n += (size_t)snprintf(page + n, sizeof page - n, "</ol></body>");
    ASSERT_OK(parse_document(DOC_HTML, page, n, &popts, &b, err, sizeof err));
    ASSERT(any_block_has(&b, "Read this first"));
    ASSERT(!any_block_has(&b, "Zircon section"));     /* the table of contents */
    ASSERT(any_block_has(&b, "returns the lattice")); /* links with words of their own */
    doc_blocks_free(&b);
    /* seven links are no table of contents yet */
    n = (size_t)snprintf(page, sizeof page, "<body><p>Intro.</p><ul>");
    for (int i = 1; i <= 7; i++)
        n += (size_t)snprintf(page + n, sizeof page - n, "<li><a href=\"#%d\">Part %d</a></li>", i,
                              i);
    n += (size_t)snprintf(page + n, sizeof page - n, "</ul></body>");
    ASSERT_OK(parse_document(DOC_HTML, page, n, &popts, &b, err, sizeof err));
    ASSERT(any_block_has(&b, "Part 7"));
    doc_blocks_free(&b);
    /* an index page and nothing else: its links are its text */
    n = (size_t)snprintf(page, sizeof page, "<html><head><title>Index</title></head><body><dl>");
    for (int i = 1; i <= 12; i++)
        n += (size_t)snprintf(page + n, sizeof page - n,
                              "<dt><a href=\"c%d.html\">Chapter %d</a></dt>", i, i);
    n += (size_t)snprintf(page + n, sizeof page - n, "</dl></body></html>");
    ASSERT_OK(parse_document(DOC_HTML, page, n, &popts, &b, err, sizeof err));
    ASSERT_STR_EQ(b.title, "Index");
    ASSERT(any_block_has(&b, "Chapter 12"));
    doc_blocks_free(&b);
}

/* Whether toc_drop leaves text out; *kept gets what it keeps (caller frees). */
static bool toc_of(const char *text, char **kept)
{
    buf_t out = BUF_INIT;
    bool dropped = toc_drop(text, strlen(text), &out);
    buf_putc(&out, '\0');
    *kept = out.data;
    return dropped;
}

/* A printed table of contents (numbers in outline order, or dot leaders and
 * page numbers) is left out of plain text; numbered steps, numbered
 * headings between paragraphs, a table of addresses and short lists stay;
 * a PDF that is nothing but contents keeps them. */
TEST(parse_toc_runs)
{
    char *kept;
    static const char outline[] = "Debian Reference\nAbstract words here.\nContents\n"
                                  "1. Tutorial\n1.1. Console basics\n1.1.1. The shell prompt\n"
                                  "1.1.2. The root account\n\n1.2. Filesystem\n"
                                  "1.2.1. Unix file basics with a title long enough\nto wrap\n"
                                  "1.2.2. Permissions\n2. Package management\n"
                                  "2.1. Prerequisites\nA.1. Odd one\n"
                                  "The text after the contents.\n";
    ASSERT(toc_of(outline, &kept));
    ASSERT_STR_EQ(kept, "Debian Reference\nAbstract words here.\nContents\n"
                        "The text after the contents.\n");
    free(kept);
    static const char leaders[] = "Contents\nIntroduction . . . . . . 1\nInstalling ........ 3\n"
                                  "Configuring ....... 7\nUpgrading ...... 12\n"
                                  "Troubleshooting ....... 19\nMonitoring \xe2\x80\xa6 25\n"
                                  "Reference ....... 31\nIndex ........ 40\nPreface text.";
    ASSERT(toc_of(leaders, &kept));
    ASSERT_STR_EQ(kept, "Contents\nPreface text.");
    free(kept);
    static const char latex[] = "1 Introduction 1\n1.1 Motivation 2\n1.2 Scope 4\n2 Design 7\n"
                                "2.1 Storage 8\n2.2 Index 11\n2.3 Queries 15\n3 Results 20\n";
    ASSERT(toc_of(latex, &kept));
    ASSERT_STR_EQ(kept, "");
    free(kept);
    static const char *const stay[] = {
        /* steps: one level, no page numbers */
        "1. Unpack\n2. Configure\n3. Build\n4. Test\n5. Install\n6. Start\n7. Check\n8. Done\n",
        /* numbered headings between paragraphs */
        "1.1. Scope\nThis part says what is in scope\nand what is not, at length.\n"
        "1.2. Terms\nWords we use\nin this guide, defined.\n1.3. Layout\nHow the text\nis laid "
        "out.\n"
        "1.4. More\nAnd more\ntext here.\n1.5. End\nThe end\nof it.\n",
        /* addresses */
        "10.0.0.1 gateway\n10.0.0.2 printer\n10.0.0.3 nas\n10.0.0.4 tv\n10.0.0.5 fridge\n"
        "10.0.0.6 phone\n10.0.0.7 laptop\n10.0.0.8 desktop\n",
        /* seven entries are no table of contents yet */
        "1. A\n1.1. B\n1.2. C\n1.3. D\n2. E\n2.1. F\n2.2. G\nBody.\n",
        /* numbers out of any outline order */
        "3.14 pi\n2.71 e\n1.41 root two\n1.73 root three\n0.57 gamma\n1.61 phi\n"
        "4.66 delta\n2.50 alpha\n",
    };
    for (size_t i = 0; i < sizeof stay / sizeof *stay; i++) {
        ASSERT(!toc_of(stay[i], &kept));
        ASSERT_STR_EQ(kept, stay[i]);
        free(kept);
    }
    /* through the PDF parser: contents out, the rest kept; a PDF of
     * contents alone keeps them */
    doc_blocks_t b;
    char err[128];
    size_t len;
    ASSERT_OK(system("python3 " FIX "make_pdf.py /tmp/ragd-test-toc.pdf 'Contents\n1. Tutorial\n"
                     "1.1. Console\n1.2. Files\n1.3. Zircon bearings\n2. Packages\n2.1. Basics\n"
                     "2.2. Archives\n3. Boot' 'Zircon bearings are hard.'"));
    char *pdf = test_read_file("/tmp/ragd-test-toc.pdf", &len);
    ASSERT(pdf);
    ASSERT_OK(parse_document(DOC_PDF, pdf, len, &popts, &b, err, sizeof err));
    ASSERT(any_block_has(&b, "Contents"));
    ASSERT(!any_block_has(&b, "1.3. Zircon"));
    ASSERT_STR_EQ(section_of(&b, "Zircon bearings are"), "page 2");
    doc_blocks_free(&b);
    free(pdf);
    ASSERT_OK(system("python3 " FIX "make_pdf.py /tmp/ragd-test-toc.pdf '1. Tutorial\n"
                     "1.1. Console\n1.2. Files\n1.3. Zircon bearings\n2. Packages\n2.1. Basics\n"
                     "2.2. Archives\n3. Boot'"));
    pdf = test_read_file("/tmp/ragd-test-toc.pdf", &len);
    ASSERT(pdf);
    ASSERT_OK(parse_document(DOC_PDF, pdf, len, &popts, &b, err, sizeof err));
    ASSERT(any_block_has(&b, "1.3. Zircon"));
    doc_blocks_free(&b);
    free(pdf);
    unlink("/tmp/ragd-test-toc.pdf");
}

/* Titles from the document itself; page furniture out; a box's heading is
 * not the section of what follows the box. */
TEST(parse_titles_and_furniture)
{
    doc_blocks_t b;
    char err[128];
    static const char html[] =
        "<html><head><title> Install guide \n</title></head><body>"
        "<header><a href=/>Home</a> Products Pricing</header>"
        "<nav><ul><li>Docs</li><li>Blog</li></ul></nav>"
        "<div role=navigation>Breadcrumbs here</div>"
        "<main><article><header><h1>Installing</h1></header>"
        "<h2>Requirements</h2><p>You need a C compiler.</p>"
        "<div class=\"admonition warning\"><h3>Warning</h3><p>Back up first.</p></div>"
        "<p>Then run make.</p>"
        "<aside>Related: other guides</aside></article></main>"
        "<footer>Copyright 2026</footer></body></html>";
    ASSERT_OK(parse_document(DOC_HTML, html, sizeof html - 1, &popts, &b, err, sizeof err));
    ASSERT_STR_EQ(b.title, "Install guide");
    ASSERT(!any_block_has(&b, "Products"));
    ASSERT(!any_block_has(&b, "Blog"));
    ASSERT(!any_block_has(&b, "Breadcrumbs"));
    ASSERT(!any_block_has(&b, "Related"));
    ASSERT(!any_block_has(&b, "Copyright"));
    ASSERT_STR_EQ(section_of(&b, "C compiler"), "Requirements");
    ASSERT_STR_EQ(section_of(&b, "Back up"), "Warning"); /* inside the box, its heading */
    ASSERT_STR_EQ(section_of(&b, "Then run make"), "Requirements"); /* after it, the page's */
    doc_blocks_free(&b);
    static const char no_title[] =
        "<body><h2>Intro</h2><p>x</p><h1> Real name </h1><p>y</p></body>";
    ASSERT_OK(parse_document(DOC_HTML, no_title, sizeof no_title - 1, &popts, &b, err, sizeof err));
    ASSERT_STR_EQ(b.title, "Real name"); /* no <title>: the first h1 */
    doc_blocks_free(&b);
    static const char md[] = "Some words first.\n\n## Setup\n\ntext\n\n# Later\n\nmore\n";
    ASSERT_OK(parse_document(DOC_MARKDOWN, md, sizeof md - 1, &popts, &b, err, sizeof err));
    ASSERT_STR_EQ(b.title, "Setup"); /* Markdown: the first heading */
    doc_blocks_free(&b);
    ASSERT_OK(parse_document(DOC_TEXT, "plain", 5, &popts, &b, err, sizeof err));
    ASSERT_STR_EQ(b.title, "");
    doc_blocks_free(&b);
    /* a PDF: its metadata title (UTF-16 in the file), white space collapsed */
    ASSERT_OK(system("python3 " FIX "make_pdf.py /tmp/ragd-test-title.pdf --title "
                     "' Latency\tbudgets:  待ち時間 ' 'page text'"));
    size_t len;
    char *pdf = test_read_file("/tmp/ragd-test-title.pdf", &len);
    ASSERT(pdf);
    ASSERT_OK(parse_document(DOC_PDF, pdf, len, &popts, &b, err, sizeof err));
    ASSERT_STR_EQ(b.title, "Latency budgets: 待ち時間");
    ASSERT_EQ(b.n, 1); /* the title is no page */
    ASSERT_STR_EQ(b.v[0].section, "page 1");
    doc_blocks_free(&b);
    free(pdf);
    ASSERT_OK(parse_file("sample.pdf", DOC_PDF, &popts, &b, err, sizeof err));
    ASSERT_STR_EQ(b.title, ""); /* none in the file */
    doc_blocks_free(&b);
    /* the stand-ins office tools write are no titles */
    static const char *const junk[] = {"Microsoft Word - report.docx", "slides.pptx", "Untitled",
                                       "scan0001.PDF"};
    for (size_t i = 0; i < 4; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd,
                 "python3 " FIX "make_pdf.py /tmp/ragd-test-title.pdf --title '%s' x", junk[i]);
        ASSERT_OK(system(cmd));
        pdf = test_read_file("/tmp/ragd-test-title.pdf", &len);
        ASSERT(pdf);
        ASSERT_OK(parse_document(DOC_PDF, pdf, len, &popts, &b, err, sizeof err));
        ASSERT_STR_EQ(b.title, "");
        doc_blocks_free(&b);
        free(pdf);
    }
    unlink("/tmp/ragd-test-title.pdf");
}

/* Hybrid fusion by scaled scores: weight 1 or 0 gives one side's order, a
 * hit both sides rank well beats one only a side holds, scales do not
 * matter (cosines and bm25 of any size), ties go to the smaller id. */
TEST(fuse_scaled_scores)
{
    const vindex_hit_t v[] = {{1, 0.9f}, {2, 0.8f}, {3, 0.5f}};
    const vindex_hit_t kw[] = {{4, 40.0f}, {2, 30.0f}, {5, 10.0f}};
    vindex_hit_t out[6];
    ASSERT_EQ(fuse_scores(v, 3, kw, 3, 1.0, 6, out), 5);
    ASSERT_EQ(out[0].id, 1);
    ASSERT_EQ(out[1].id, 2);
    ASSERT_EQ(fuse_scores(v, 3, kw, 3, 0.0, 6, out), 5);
    ASSERT_EQ(out[0].id, 4);
    ASSERT_EQ(out[1].id, 2);
    /* 2 is second on both sides, 4 first on the heavier one */
    ASSERT_EQ(fuse_scores(v, 3, kw, 3, 0.3, 6, out), 5);
    ASSERT_EQ(out[0].id, 4); /* 0.7 */
    ASSERT_EQ(out[1].id, 2); /* 0.3 * 0.75 + 0.7 * 20 / 30 = 0.692 */
    ASSERT_EQ(out[2].id, 1); /* 0.3 */
    ASSERT(fabs(out[1].score - (0.3 * 0.75 + 0.7 * 20.0 / 30.0)) < 1e-6);
    ASSERT_EQ(fuse_scores(v, 3, kw, 3, 0.5, 6, out), 5);
    ASSERT_EQ(out[0].id, 2); /* 0.5 * 0.75 + 0.5 * 0.667, above either side's first alone */
    /* the same keyword scores ten times larger: the same fusion */
    vindex_hit_t kw10[3];
    for (int i = 0; i < 3; i++) kw10[i] = (vindex_hit_t){kw[i].id, kw[i].score * 10};
    vindex_hit_t out10[6];
    ASSERT_EQ(fuse_scores(v, 3, kw10, 3, 0.3, 6, out10), 5);
    ASSERT_EQ(fuse_scores(v, 3, kw, 3, 0.3, 6, out), 5);
    for (int i = 0; i < 5; i++) ASSERT_EQ(out10[i].id, out[i].id);
    /* one side empty, or a list of equal scores: the whole weight each */
    const vindex_hit_t flat[] = {{9, 2.0f}, {7, 2.0f}};
    ASSERT_EQ(fuse_scores(NULL, 0, flat, 2, 0.3, 6, out), 2);
    ASSERT_EQ(out[0].id, 7);
    ASSERT(fabs(out[0].score - 0.7) < 1e-6);
    ASSERT_EQ(fuse_scores(v, 3, kw, 3, 0.3, 2, out), 2); /* at most k */
}

/* A title is cut at a character, never inside one, and set once. */
TEST(doc_title_cut_and_kept)
{
    doc_blocks_t b = {0};
    char s[DOC_TITLE_MAX + 8];
    memset(s, 'a', DOC_TITLE_MAX - 1);
    memcpy(s + DOC_TITLE_MAX - 1, "éé", 4); /* a 2-byte letter across the limit */
    doc_blocks_title(&b, s, DOC_TITLE_MAX + 3);
    ASSERT_EQ(strlen(b.title), DOC_TITLE_MAX - 1);
    ASSERT(utf8_valid(b.title, strlen(b.title)));
    doc_blocks_title(&b, "other", 5);
    ASSERT_EQ(b.title[0], 'a'); /* the first title stays */
    doc_blocks_t c = {0};
    doc_blocks_title(&c, " \n ", 3); /* only white space: no title, the next one counts */
    ASSERT_STR_EQ(c.title, "");
    doc_blocks_title(&c, "\tNext  one\n", 11);
    ASSERT_STR_EQ(c.title, "Next one");
}

/* Neighbouring chunks of one document become one hit, at the best one's
 * place, their shared words once; others stay as they were. */
TEST(result_merges_neighbours)
{
    result_t *in, *out;
    ASSERT_OK(result_new(&in));
    const result_hit_t hits[] = {
        {.document_id = "a",
         .title = "A",
         .section = "s3",
         .text = "c d e f",
         .text_len = 7,
         .chunk_index = 3,
         .score = 0.9},
        {.document_id = "b",
         .title = "B",
         .section = "",
         .text = "other",
         .text_len = 5,
         .chunk_index = 0,
         .score = 0.8},
        {.document_id = "a",
         .title = "A",
         .section = "s2",
         .text = "a b c d",
         .text_len = 7,
         .chunk_index = 2,
         .score = 0.7},
        {.document_id = "a",
         .title = "A",
         .section = "s5",
         .text = "far away",
         .text_len = 8,
         .chunk_index = 5,
         .score = 0.6},
        {.document_id = "a",
         .title = "A",
         .section = "s4",
         .text = "g h",
         .text_len = 3,
         .chunk_index = 4,
         .score = 0.5},
    };
    for (size_t i = 0; i < 5; i++) ASSERT_OK(result_add(in, &hits[i]));
    ASSERT_OK(result_merge_neighbours(in, &out));
    ASSERT_EQ(out->n, 2);
    ASSERT_STR_EQ(out->hits[0].document_id, "a");
    ASSERT_EQ(out->hits[0].chunk_index, 2);
    ASSERT_EQ(out->hits[0].chunk_last, 5);
    ASSERT_STR_EQ(out->hits[0].text,
                  "a b c d e f\ng h\nfar away"); /* "c d" once; no overlap after */
    ASSERT_EQ(out->hits[0].text_len, strlen(out->hits[0].text));
    ASSERT_STR_EQ(out->hits[0].section, "s2");
    ASSERT_DBL_EQ(out->hits[0].score, 0.9);
    ASSERT_STR_EQ(out->hits[1].document_id, "b");
    ASSERT_EQ(out->hits[1].chunk_last, 0);
    result_unref(&out);
    result_unref(&in);
}

/* A batch prepared on 4 threads comes out as on 1: per item the same code,
 * id, chunks and message, and per stored document the same title and text
 * (Markdown, HTML and text, and documents refused for no text or too many
 * chunks, mixed). Under TSan this is also the race check of the workers. */
TEST(rag_batch_workers)
{
    enum { N = 41 };
    char dirs[2][40] = {"/tmp/ragd-test-w1-XXXXXX", "/tmp/ragd-test-w4-XXXXXX"};
    metrics_registry_t *reg[2];
    rag_t *r[2];
    static char text[N][8192];
    rag_doc_in_t in[N];
    rag_batch_item_t items[2][N];
    static const char *const words[] = {"latency", "budget", "cache", "vector", "index",
                                        "alert",   "error",  "token", "answer", "shard"};
    for (int i = 0; i < N; i++) {
        size_t n = 0;
        doc_type_t type = i % 3 == 0 ? DOC_MARKDOWN : i % 3 == 1 ? DOC_HTML : DOC_TEXT;
        if (type == DOC_MARKDOWN) n += (size_t)sprintf(text[i] + n, "# Title %d\n\n", i);
        if (type == DOC_HTML)
            n += (size_t)sprintf(text[i] + n, "<html><head><title>Page %d</title></head><body><p>",
                                 i);
        int words_n = i == 7 ? 0 : i == 11 ? 1000 : 20 + i; /* 7: no text; 11: too many chunks */
        for (int w = 0; w < words_n && n < sizeof text[i] - 40; w++)
            n += (size_t)sprintf(text[i] + n, "%s%d ", words[(i * 7 + w) % 10], w % 5);
        if (type == DOC_HTML) n += (size_t)sprintf(text[i] + n, "</p></body></html>");
        in[i] = (rag_doc_in_t){.type = type, .data = text[i], .len = n};
    }
    for (int k = 0; k < 2; k++) {
        r[k] = mkdtemp(dirs[k])
                   ? open_rag_opts(dirs[k], &reg[k], 8, 0, k ? 4 : 1, RAG_VECTOR_WEIGHT)
                   : NULL;
        ASSERT(r[k]);
        for (int i = 0; i < N; i++) items[k][i] = (rag_batch_item_t){.in = &in[i]};
        ASSERT_OK(rag_ingest_batch(r[k], items[k], N));
    }
    int stored = 0;
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(items[0][i].rc, items[1][i].rc);
        ASSERT_STR_EQ(items[0][i].err, items[1][i].err);
        if (items[0][i].rc) continue;
        ASSERT_EQ(items[0][i].out.chunks, items[1][i].out.chunks);
        doc_record_t d[2];
        for (int k = 0; k < 2; k++) ASSERT_OK(rag_get(r[k], items[k][i].out.id, &d[k]));
        ASSERT_STR_EQ(d[0].title, d[1].title);
        ASSERT(d[0].text_len == d[1].text_len && memcmp(d[0].text, d[1].text, d[0].text_len) == 0);
        for (int k = 0; k < 2; k++) doc_record_free(&d[k]);
        stored++;
    }
    ASSERT_EQ(items[0][7].rc, -EINVAL);
    ASSERT_EQ(items[0][11].rc, -E2BIG);
    ASSERT_EQ(stored, N - 2);
    /* and each finds the same: the same chunks went into both indexes */
    rag_query_t q = {.text = "latency3 cache1", .top_k = 10, .mode = RAG_HYBRID};
    rag_answer_t a[2];
    char err[256];
    for (int k = 0; k < 2; k++) ASSERT_OK(rag_query(r[k], &q, &a[k], err, sizeof err));
    ASSERT(a[0].results->n > 0);
    ASSERT_EQ(a[0].results->n, a[1].results->n);
    for (size_t j = 0; j < a[0].results->n; j++) { /* ids are random: the texts */
        ASSERT_EQ(a[0].results->hits[j].chunk_index, a[1].results->hits[j].chunk_index);
        ASSERT_STR_EQ(a[0].results->hits[j].text, a[1].results->hits[j].text);
    }
    for (int k = 0; k < 2; k++) {
        rag_answer_release(&a[k]);
        ASSERT_OK(close_test_rag(&r[k], &reg[k], dirs[k]));
    }
}
