/* The keyword index (rag/kwindex over rag/inv segments): bm25 order,
 * flushes and what searches see, deletes, filters, persistence, merges, a
 * damaged manifest or segment, and searches beside a writer. */
#include <dirent.h>
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
    /* delete and replace (a new id, as the store gives): the next search
     * sees them (it flushes them) */
    int64_t gone[] = {1, 2, 99, 2};
    ASSERT_OK(kwindex_delete(kw, gone, 4)); /* 99 was never there, 2 goes once */
    ASSERT_EQ(kwindex_count(kw), 3);
    ASSERT_OK(put_text(kw, 6, "nothing about stones now"));
    ASSERT_EQ(search(kw, "zircon", NULL, h), 0);
    ASSERT_EQ(search(kw, "stones", NULL, h), 1);
    ASSERT_EQ(h[0].id, 6);
    /* without a search, the flusher flushes within KWINDEX_FLUSH_S */
    ASSERT_OK(put_text(kw, 7, "flushed"));
    ASSERT_OK(kwindex_commit(kw, 7));
    for (int i = 0; i < 40 && kwindex_watermark(kw) != 7; i++) usleep(100000);
    ASSERT_EQ(kwindex_watermark(kw), 7);
    ASSERT_EQ(kwindex_put(kw, 7, "x", 1), -EINVAL); /* ids only grow */
    ASSERT_EQ(kwindex_put(kw, 3, "x", 1), -EINVAL);
    ASSERT_EQ(kwindex_count(kw), 5);
    kwindex_free(&kw);
    ASSERT(kw == NULL);
    /* reopened: the watermark, the chunks and the deletions are there */
    ASSERT_OK(kwindex_open(&kw, path, err, sizeof err));
    ASSERT_EQ(kwindex_watermark(kw), 7);
    ASSERT_EQ(kwindex_count(kw), 5);
    ASSERT_EQ(search(kw, "bearing", NULL, h), 1);
    ASSERT_EQ(h[0].id, 3);
    ASSERT_EQ(search(kw, "zircon", NULL, h), 0);
    kwindex_free(&kw);
    /* a file the manifest does not name (a crash mid-flush) is removed */
    char f[200];
    snprintf(f, sizeof f, "%s/seg-00000000000000ff.inv", path);
    FILE *stray = fopen(f, "w");
    ASSERT(stray);
    fclose(stray);
    ASSERT_OK(kwindex_open(&kw, path, err, sizeof err));
    ASSERT_EQ(access(f, F_OK), -1);
    kwindex_free(&kw);
    /* a damaged manifest, or a damaged segment, is refused with a message
     * (the pipeline rebuilds from the store) */
    snprintf(f, sizeof f, "%s/MANIFEST", path);
    char seg[400] = "";
    DIR *d = opendir(path);
    ASSERT(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, "seg-", 4) == 0) snprintf(seg, sizeof seg, "%s/%s", path, e->d_name);
    closedir(d);
    ASSERT(seg[0]);
    ASSERT_OK(test_damage_file(seg));
    err[0] = '\0';
    ASSERT_EQ(kwindex_open(&kw, path, err, sizeof err), -EIO);
    ASSERT(kw == NULL);
    ASSERT(strstr(err, "damaged"));
    ASSERT_OK(test_damage_file(f));
    err[0] = '\0';
    ASSERT_EQ(kwindex_open(&kw, path, err, sizeof err), -EIO);
    ASSERT(strstr(err, "MANIFEST"));
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
    for (int64_t id = 1, step = 1; step <= 300; step++) {
        ASSERT_OK(put_text(b.kw, id, "word"));
        if (step % 3 == 0) { /* a replacement too: the count stays */
            int64_t old = id;
            ASSERT_OK(kwindex_delete(b.kw, &old, 1));
            ASSERT_OK(put_text(b.kw, ++id, "word again"));
        }
        ASSERT_OK(kwindex_commit(b.kw, id));
        atomic_store(&b.acked, step);
        id++;
        /* every 30 writes, wait for a search: writes without a flush are
         * so quick that the searchers could otherwise start after them */
        for (long seen = atomic_load(&b.searches);
             step % 30 == 0 && atomic_load(&b.searches) == seen;)
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

static bool keep_none_below(void *ctx, int64_t id)
{
    return id > *(int64_t *)ctx;
}

/* Many small flushes merge into few segments; deletions leave with the
 * merges; the answers stay those of the chunks that are left, before and
 * after a restart. */
TEST(kwindex_merges_and_reopens)
{
    char dir[] = "/tmp/ragd-test-kw-XXXXXX", path[128], err[512];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s", dir, KWINDEX_DIR);
    kwindex_t *kw;
    ASSERT_OK(kwindex_open(&kw, path, err, sizeof err));
    vindex_hit_t h[10];
    for (int64_t id = 1; id <= 2000; id++) {
        char text[64];
        snprintf(text, sizeof text, "word w%lld %s", (long long)id, id % 10 ? "" : "tenth");
        ASSERT_OK(put_text(kw, id, text));
        if (id % 40 == 0) { /* a flush each 40: 50 segments, merged as they come */
            ASSERT_OK(kwindex_commit(kw, id));
            ASSERT_OK(kwindex_flush(kw));
        }
    }
    kwindex_stats_t st;
    for (int i = 0; i < 50; i++) { /* the flusher merges in the background */
        kwindex_stats(kw, &st);
        if (st.segments <= 12) break;
        usleep(100000);
    }
    ASSERT(st.merges > 0);
    ASSERT(st.segments <= 12); /* about log2(2000 / 40) + 1 */
    ASSERT_EQ(st.chunks, 2000);
    ASSERT_EQ(search(kw, "tenth", NULL, h), 10);
    ASSERT_EQ(search(kw, "w1234", NULL, h), 1);
    ASSERT_EQ(h[0].id, 1234);
    /* the first half deleted: the segments holding them are rewritten */
    int64_t half = 1000;
    ASSERT_EQ(kwindex_retain(kw, keep_none_below, &half), 1000);
    ASSERT_OK(kwindex_flush(kw));
    for (int i = 0; i < 50; i++) {
        kwindex_stats(kw, &st);
        if (st.deleted == 0) break;
        usleep(100000);
    }
    ASSERT_EQ(st.deleted, 0);
    ASSERT_EQ(st.chunks, 1000);
    ASSERT_EQ(search(kw, "w1234", NULL, h), 1);
    ASSERT_EQ(search(kw, "w999", NULL, h), 0);
    const char *word[] = {"word"};
    int64_t df;
    ASSERT_OK(kwindex_dfs(kw, word, 1, &df));
    ASSERT_EQ(df, 1000); /* merged away, so bm25 no longer counts them */
    kwindex_free(&kw);
    ASSERT_OK(kwindex_open(&kw, path, err, sizeof err));
    ASSERT_EQ(kwindex_count(kw), 1000);
    ASSERT_EQ(kwindex_watermark(kw), 2000);
    ASSERT_EQ(search(kw, "tenth", NULL, h), 10);
    for (int i = 0; i < 10; i++) ASSERT(h[i].id > 1000 && h[i].id % 10 == 0);
    ASSERT_OK(put_text(kw, 2001, "word after"));
    ASSERT_EQ(search(kw, "after", NULL, h), 1);
    kwindex_free(&kw);
    ASSERT_OK(file_rm_rf(dir));
}
