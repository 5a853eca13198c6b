/* The keyword index (rag/kwindex over rag/xap.cc, Xapian): bm25 order,
 * commits and what searches see, deletes, filters, persistence, a damaged
 * database, and searches beside a writer. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "rag/kwindex.h"
#include "rag/text.h"
#include "test.h"
#include "util/buf.h"
#include "util/file.h"

static int put_text(kwindex_t *kw, int64_t id, const char *text)
{
    buf_t b = BUF_INIT;
    text_terms(text, strlen(text), &b);
    int rc = kwindex_put(kw, id, b.data ? b.data : "", b.len);
    buf_free(&b);
    return rc;
}

static long search(kwindex_t *kw, const char *q, const idset_t *allowed, vindex_hit_t *out)
{
    buf_t b = BUF_INIT;
    text_terms(q, strlen(q), &b);
    buf_putc(&b, '\0');
    const char *t[16];
    size_t n = 0;
    for (char *s = b.data, *save = NULL, *w; n < 16 && (w = strtok_r(s, " ", &save)); s = NULL)
        t[n++] = w;
    long got = kwindex_search(kw, t, n, 10, allowed, out);
    buf_free(&b);
    return got;
}

TEST(kwindex_search_and_persist)
{
    char dir[] = "/tmp/ragd-test-kw-XXXXXX", path[128], err[512];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s", dir, KWINDEX_DIR);
    kwindex_t *kw;
    ASSERT_OK(kwindex_open(&kw, path, err, sizeof err));
    ASSERT_EQ(kwindex_watermark(kw), 0);
    ASSERT_OK(put_text(kw, 1, "the zircon bearing is worn"));
    ASSERT_OK(put_text(kw, 2, "zircon zircon zircon bearing"));
    ASSERT_OK(put_text(kw, 3, "a bearing of a ship, nothing else here at all"));
    ASSERT_OK(put_text(kw, 4, "東京タワーの高さ"));
    ASSERT_OK(put_text(kw, 5, "Café DÉJÀ vu"));
    ASSERT_OK(kwindex_commit(kw, 5));
    ASSERT_EQ(kwindex_watermark(kw), 0); /* pending until a flush */
    ASSERT_OK(kwindex_flush(kw));
    ASSERT_EQ(kwindex_watermark(kw), 5);
    ASSERT_EQ(kwindex_count(kw), 5);
    vindex_hit_t h[10];
    /* bm25: more of the rarer term ranks higher; scores decrease */
    ASSERT_EQ(search(kw, "zircon bearing", NULL, h), 3);
    ASSERT_EQ(h[0].id, 2);
    ASSERT_EQ(h[1].id, 1);
    ASSERT_EQ(h[2].id, 3);
    ASSERT(h[0].score > h[1].score && h[1].score > h[2].score && h[2].score > 0);
    /* Japanese through CJK bigrams, accents and case folded */
    ASSERT_EQ(search(kw, "東京の話", NULL, h), 1);
    ASSERT_EQ(h[0].id, 4);
    ASSERT_EQ(search(kw, "cafe deja", NULL, h), 1);
    ASSERT_EQ(h[0].id, 5);
    ASSERT_EQ(search(kw, "nowhere", NULL, h), 0);
    /* document frequencies */
    const char *terms[] = {"zircon", "bearing", "nowhere"};
    int64_t dfs[3];
    ASSERT_OK(kwindex_dfs(kw, terms, 3, dfs));
    ASSERT_EQ(dfs[0], 2);
    ASSERT_EQ(dfs[1], 3);
    ASSERT_EQ(dfs[2], 0);
    /* a filter keeps only its ids, in bm25 order */
    idset_t allow = {0};
    ASSERT_OK(idset_add(&allow, 1));
    ASSERT_OK(idset_add(&allow, 3));
    ASSERT_EQ(search(kw, "zircon bearing", &allow, h), 2);
    ASSERT_EQ(h[0].id, 1);
    ASSERT_EQ(h[1].id, 3);
    idset_free(&allow);
    /* delete and replace: the next search sees them (it commits them) */
    int64_t gone[] = {2, 99};
    ASSERT_OK(kwindex_delete(kw, gone, 2)); /* 99 was never there */
    ASSERT_OK(put_text(kw, 1, "nothing about stones now"));
    ASSERT_EQ(search(kw, "zircon", NULL, h), 0);
    ASSERT_EQ(search(kw, "stones", NULL, h), 1);
    /* without a search, the flusher commits within KWINDEX_FLUSH_S */
    ASSERT_OK(put_text(kw, 6, "flushed"));
    ASSERT_OK(kwindex_commit(kw, 6));
    for (int i = 0; i < 40 && kwindex_watermark(kw) != 6; i++) usleep(100000);
    ASSERT_EQ(kwindex_watermark(kw), 6);
    ASSERT_EQ(kwindex_put(kw, 4294967296LL, "x", 1), -ERANGE); /* Xapian ids are 32-bit */
    kwindex_free(&kw);
    ASSERT(kw == NULL);
    /* reopened: the watermark and the documents are there */
    ASSERT_OK(kwindex_open(&kw, path, err, sizeof err));
    ASSERT_EQ(kwindex_watermark(kw), 6);
    ASSERT_EQ(kwindex_count(kw), 5);
    ASSERT_EQ(search(kw, "bearing", NULL, h), 1);
    kwindex_free(&kw);
    /* a damaged database is refused with a message (the pipeline rebuilds) */
    char f[160];
    snprintf(f, sizeof f, "%s/iamglass", path);
    ASSERT_OK(test_damage_file(f));
    ASSERT_EQ(kwindex_open(&kw, path, err, sizeof err), -EIO);
    ASSERT(kw == NULL);
    ASSERT(strlen(err) > 0);
    ASSERT_OK(file_rm_rf(dir));
    ASSERT_EQ(access(dir, F_OK), -1);
    ASSERT_OK(file_rm_rf(dir)); /* absent: nothing to do */
}

static bool odd_only(void *ctx, int64_t id)
{
    return id % 2 == 1;
}

TEST(kwindex_retain)
{
    char dir[] = "/tmp/ragd-test-kw-XXXXXX", path[128], err[512];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s", dir, KWINDEX_DIR);
    kwindex_t *kw;
    ASSERT_OK(kwindex_open(&kw, path, err, sizeof err));
    for (int64_t id = 1; id <= 10; id++) ASSERT_OK(put_text(kw, id, "word"));
    ASSERT_OK(kwindex_commit(kw, 10));
    ASSERT_EQ(kwindex_retain(kw, odd_only, NULL), 5);
    ASSERT_OK(kwindex_commit(kw, 10));
    vindex_hit_t h[10];
    ASSERT_EQ(search(kw, "word", NULL, h), 5);
    for (int i = 0; i < 5; i++) ASSERT_EQ(h[i].id % 2, 1);
    kwindex_free(&kw);
    ASSERT_OK(file_rm_rf(dir));
}

struct beside {
    kwindex_t *kw;
    atomic_bool stop;
    atomic_long acked; /* the writer's last id, once written and committed */
    atomic_long searches, bad;
};

/* A search sees every write made before it began: the chunks holding
 * "word" are at least the writer's acknowledged count, read before. */
static void *searcher(void *arg)
{
    struct beside *b = arg;
    const char *word[] = {"word"};
    while (!atomic_load(&b->stop)) {
        long before = atomic_load(&b->acked);
        int64_t df;
        if (kwindex_dfs(b->kw, word, 1, &df) != 0 || df < before) atomic_fetch_add(&b->bad, 1);
        atomic_fetch_add(&b->searches, 1);
    }
    return NULL;
}

TEST(kwindex_searches_beside_writer)
{
    char dir[] = "/tmp/ragd-test-kw-XXXXXX", path[128], err[512];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s", dir, KWINDEX_DIR);
    struct beside b = {0};
    ASSERT_OK(kwindex_open(&b.kw, path, err, sizeof err));
    pthread_t t[3];
    for (int i = 0; i < 3; i++) ASSERT_OK(pthread_create(&t[i], NULL, searcher, &b));
    for (int64_t id = 1; id <= 300; id++) {
        ASSERT_OK(put_text(b.kw, id, "word"));
        if (id % 3 == 0) { /* a replacement too: the count stays */
            int64_t old = id;
            ASSERT_OK(kwindex_delete(b.kw, &old, 1));
            ASSERT_OK(put_text(b.kw, id, "word again"));
        }
        ASSERT_OK(kwindex_commit(b.kw, id));
        atomic_store(&b.acked, id);
        /* every 30 writes, wait for a search: writes without a flush are
         * so quick that the searchers could otherwise start after them */
        for (long seen = atomic_load(&b.searches);
             id % 30 == 0 && atomic_load(&b.searches) == seen;)
            sched_yield();
    }
    atomic_store(&b.stop, true);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    ASSERT(atomic_load(&b.searches) > 0);
    ASSERT_EQ(atomic_load(&b.bad), 0);
    vindex_hit_t h[10];
    ASSERT_EQ(search(b.kw, "again", NULL, h), 10);
    kwindex_free(&b.kw);
    ASSERT_OK(file_rm_rf(dir));
}
