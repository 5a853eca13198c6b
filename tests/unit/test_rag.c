/* The RAG modules: text terms, chunker, hash embedder, vector index, query
 * cache, parsers on fixture files, store. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "helpers.h"
#include "rag/cache.h"
#include "rag/chunk.h"
#include "rag/embed.h"
#include "rag/parse.h"
#include "rag/store.h"
#include "rag/text.h"
#include "rag/vindex.h"
#include "test.h"

#define FIX "tests/fixtures/docs/"
static const parse_opts_t popts = {.helper = "build/ragd", .timeout_s = 20};

static char *terms_of(const char *s)
{
    buf_t b = BUF_INIT;
    text_terms(s, strlen(s), &b);
    buf_putc(&b, '\0');
    return buf_steal(&b, NULL);
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
        {"café déjà-vu 42", "café déjà vu 42", 4},
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

static float frand(unsigned *seed)
{
    return (float)rand_r(seed) / (float)RAND_MAX - 0.5f;
}

static bool even_only(void *ctx, int64_t id)
{
    return id % 2 == 0;
}

TEST(vindex_matches_brute_force)
{
    enum { N = 5000, D = 384, K = 10 };
    vindex_t *ix;
    ASSERT_OK(vindex_new(&ix, D));
    float *vecs = malloc((size_t)N * D * sizeof(float));
    int64_t *ids = malloc(N * sizeof(int64_t));
    unsigned seed = 7;
    for (size_t i = 0; i < N; i++) {
        for (size_t k = 0; k < D; k++) vecs[i * D + k] = frand(&seed);
        embed_normalize(vecs + i * D, D);
        ids[i] = (int64_t)i + 1;
    }
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
            size_t a = (size_t)vindex_search(ix, q, K, NULL, NULL, got),
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
    ASSERT_EQ(vindex_search(ix, vecs + 1 * D, 1, NULL, NULL, got), 1);
    ASSERT_EQ(got[0].id, 2);
    ASSERT(fabsf(got[0].score - 1.0f) < 1e-5f);
    /* filter */
    size_t n = (size_t)vindex_search(ix, vecs + 4 * D, K, even_only, NULL, got);
    ASSERT_EQ(n, K);
    for (size_t i = 0; i < n; i++) ASSERT(got[i].id % 2 == 0);
    free(vecs);
    free(ids);
    vindex_free(&ix);
}

static double fake_now_value;
static double fake_now(void)
{
    return fake_now_value;
}

TEST(query_cache_lru_ttl_clear)
{
    cache_t *c;
    ASSERT_OK(cache_new(&c, 2, 10));
    cache_set_clock(c, fake_now);
    fake_now_value = 100;
    cache_put(c, "a", "A", 1);
    cache_put(c, "b", "B", 1);
    size_t len;
    char *v = cache_get(c, "a", &len); /* a is now the most recent */
    ASSERT_STR_EQ(v, "A");
    ASSERT_EQ(len, 1);
    free(v);
    cache_put(c, "c", "C", 1); /* evicts b */
    ASSERT(cache_get(c, "b", NULL) == NULL);
    ASSERT_EQ(cache_size(c), 2);
    cache_put(c, "a", "A2", 2); /* replace */
    v = cache_get(c, "a", NULL);
    ASSERT_STR_EQ(v, "A2");
    free(v);
    fake_now_value = 111; /* past the TTL */
    ASSERT(cache_get(c, "a", NULL) == NULL);
    ASSERT_EQ(cache_size(c), 1);
    cache_put(c, "d", "D", 1);
    cache_clear(c);
    ASSERT_EQ(cache_size(c), 0);
    ASSERT(cache_get(c, "d", NULL) == NULL);
    cache_free(&c);
    ASSERT_OK(cache_new(&c, 0, 10)); /* disabled */
    cache_put(c, "a", "A", 1);
    ASSERT(cache_get(c, "a", NULL) == NULL);
    cache_free(&c);
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

TEST(store_roundtrip)
{
    char dir[] = "/tmp/ragd-test-store-XXXXXX";
    ASSERT(mkdtemp(dir));
    store_t *s;
    char err[512];
    ASSERT_OK(store_open(&s, dir, "hash", 16, err, sizeof err));
    float v[3][16] = {{1}, {0, 1}, {0, 0, 1}};
    store_chunk_t c[2] = {{"alpha text", 10, "", "alpha text", 10, v[0]},
                          {"beta", 4, "S", "beta", 4, v[1]}};
    store_doc_t d = {"d1", "T", "text/plain", "{\"k\":\"v\"}", "src", 3, "alpha text\n\nbeta", 16};
    store_put_result_t r;
    ASSERT_OK(store_put(s, &d, c, 2, &r, err, sizeof err));
    ASSERT(!r.replaced);
    ASSERT_EQ(r.n_new, 2);
    int64_t first = r.new_ids[0];
    store_put_result_free(&r);
    json_t *j;
    ASSERT_OK(store_get(s, "d1", &j));
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "text")), "alpha text\n\nbeta");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "metadata"), "k")), "v");
    json_decref(j);
    ASSERT_EQ(store_get(s, "nope", &j), -ENOENT);
    vindex_hit_t h[4];
    ASSERT_EQ(store_keyword(s, "\"beta\"", 4, NULL, h), 1);
    ASSERT_EQ(h[0].id, first + 1);
    json_t *filter = json_pack("{s:s}", "k", "v"), *nomatch = json_pack("{s:s}", "k", "x");
    ASSERT_EQ(store_keyword(s, "\"beta\"", 4, filter, h), 1);
    ASSERT_EQ(store_keyword(s, "\"beta\"", 4, nomatch, h), 0);
    store_idset_t set;
    ASSERT_OK(store_filter_ids(s, filter, &set));
    ASSERT_EQ(set.n, 2);
    ASSERT(store_idset_has(&set, first) && !store_idset_has(&set, first + 5));
    store_idset_free(&set);
    json_decref(filter);
    json_decref(nomatch);
    const char *terms[] = {"alpha", "text", "beta", "zzz"};
    int64_t dfs[4];
    ASSERT_OK(store_term_dfs(s, terms, 4, dfs));
    ASSERT_EQ(dfs[0], 1);
    ASSERT_EQ(dfs[1], 1);
    ASSERT_EQ(dfs[2], 1);
    ASSERT_EQ(dfs[3], 0);
    /* replace: old chunk ids come back, new ones never reuse them */
    store_chunk_t c2[1] = {{"gamma", 5, "", "gamma", 5, v[2]}};
    d.title = "T2";
    ASSERT_OK(store_put(s, &d, c2, 1, &r, err, sizeof err));
    ASSERT(r.replaced);
    ASSERT_EQ(r.n_old, 2);
    ASSERT_EQ(r.old_ids[0], first);
    ASSERT(r.new_ids[0] > first + 1);
    store_put_result_free(&r);
    ASSERT_EQ(store_keyword(s, "\"beta\"", 4, NULL, h), 0); /* old terms are gone */
    int64_t docs, chunks;
    ASSERT_OK(store_counts(s, &docs, &chunks));
    ASSERT_EQ(docs, 1);
    ASSERT_EQ(chunks, 1);
    store_close(&s);
    /* reopen: the same embedder works, another is refused */
    ASSERT_OK(store_open(&s, dir, "hash", 16, err, sizeof err));
    ASSERT_OK(store_counts(s, &docs, &chunks));
    ASSERT_EQ(chunks, 1);
    int64_t *ids;
    size_t n;
    ASSERT_OK(store_delete(s, "d1", &ids, &n));
    ASSERT_EQ(n, 1);
    free(ids);
    ASSERT_EQ(store_delete(s, "d1", &ids, &n), -ENOENT);
    store_close(&s);
    /* a version-1 store (no vocabulary table) is migrated at open */
    sqlite3 *db;
    char path[128];
    snprintf(path, sizeof path, "%s/ragd.db", dir);
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(
            db, "DROP TABLE chunks_vocab; UPDATE meta SET value = '1' WHERE key = 'schema_version'",
            NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    ASSERT_OK(store_open(&s, dir, "hash", 16, err, sizeof err));
    ASSERT_OK(store_term_dfs(s, terms, 1, dfs));
    store_close(&s);
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
                                 NULL),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "2");
    sqlite3_finalize(st);
    /* a store from a newer ragd is refused */
    ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", NULL,
                           NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    ASSERT_EQ(store_open(&s, dir, "hash", 16, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "schema version 99");
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "UPDATE meta SET value = '2' WHERE key = 'schema_version'", NULL, NULL, NULL);
    sqlite3_close(db);
    ASSERT_EQ(store_open(&s, dir, "hash", 32, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "dimension 16");
    ASSERT_EQ(store_open(&s, dir, "openai:model", 16, err, sizeof err), -EINVAL);
    ASSERT_CONTAINS(err, "must not mix");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_OK(system(cmd));
}
