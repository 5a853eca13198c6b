/* kwindex: the keyword index over Xapian (see kwindex.h). */
#include "rag/kwindex.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rag/xap.h"

#define KWINDEX_MAX_K 4096 /* hits of one search (the fusion asks for far fewer) */

struct kw_reader {
    pthread_mutex_t mu;
    xap_reader_t *x;
    uint64_t seen; /* the commit generation it was last moved to */
};

struct kwindex {
    pthread_mutex_t wmu; /* the writer: puts, deletes, commits */
    xap_writer_t *w;
    int64_t pending_watermark; /* under wmu: the next commit's */
    atomic_bool dirty;         /* writes not committed yet */
    struct kw_reader r[KWINDEX_READERS];
    atomic_uint_fast64_t gen; /* bumped by each commit */
    atomic_uint next_reader;
    /* the flusher: commits what is dirty every KWINDEX_FLUSH_S */
    pthread_t flusher;
    bool flusher_on;
    pthread_cond_t wake;
    bool stop; /* under wmu */
};

static void *flusher_main(void *arg);

int kwindex_open(kwindex_t **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    kwindex_t *kw = calloc(1, sizeof *kw);
    if (!kw) return -ENOMEM;
    pthread_mutex_init(&kw->wmu, NULL);
    pthread_cond_init(&kw->wake, NULL);
    for (int i = 0; i < KWINDEX_READERS; i++) pthread_mutex_init(&kw->r[i].mu, NULL);
    int rc = xap_writer_open(&kw->w, path, err, errlen);
    if (!rc) kw->pending_watermark = xap_writer_watermark(kw->w);
    /* a first commit, so that a new database exists for the readers */
    if (!rc && (rc = xap_writer_commit(kw->w, kw->pending_watermark)) != 0)
        snprintf(err, errlen, "%s: cannot write the keyword index", path);
    for (int i = 0; !rc && i < KWINDEX_READERS; i++)
        if ((rc = xap_reader_open(&kw->r[i].x, path)) != 0)
            snprintf(err, errlen, "%s: cannot read the keyword index", path);
    if (!rc && (rc = -pthread_create(&kw->flusher, NULL, flusher_main, kw)) != 0)
        snprintf(err, errlen, "cannot start the keyword index's flusher");
    kw->flusher_on = rc == 0;
    if (rc) {
        kwindex_free(&kw);
        return rc;
    }
    *out = kw;
    return 0;
}

void kwindex_free(kwindex_t **kwp)
{
    kwindex_t *kw = kwp ? *kwp : NULL;
    if (!kw) return;
    if (kw->flusher_on) {
        pthread_mutex_lock(&kw->wmu);
        kw->stop = true;
        pthread_cond_signal(&kw->wake);
        pthread_mutex_unlock(&kw->wmu);
        pthread_join(kw->flusher, NULL);
    }
    if (kw->w) kwindex_flush(kw); /* what is left, so a restart need not index it again */
    for (int i = 0; i < KWINDEX_READERS; i++) {
        xap_reader_free(&kw->r[i].x);
        pthread_mutex_destroy(&kw->r[i].mu);
    }
    xap_writer_free(&kw->w);
    pthread_cond_destroy(&kw->wake);
    pthread_mutex_destroy(&kw->wmu);
    free(kw);
    *kwp = NULL;
}

int kwindex_put(kwindex_t *kw, int64_t id, const char *terms, size_t len)
{
    pthread_mutex_lock(&kw->wmu);
    int rc = xap_writer_put(kw->w, id, terms, len);
    atomic_store(&kw->dirty, true);
    pthread_mutex_unlock(&kw->wmu);
    return rc;
}

int kwindex_delete(kwindex_t *kw, const int64_t *ids, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&kw->wmu);
    for (size_t i = 0; i < n && !rc; i++) rc = xap_writer_delete(kw->w, ids[i]);
    if (n) atomic_store(&kw->dirty, true);
    pthread_mutex_unlock(&kw->wmu);
    return rc;
}

/* Under wmu: the commit itself. */
static int commit_locked(kwindex_t *kw)
{
    int rc = xap_writer_commit(kw->w, kw->pending_watermark);
    if (!rc) {
        atomic_store(&kw->dirty, false);
        atomic_fetch_add(&kw->gen, 1);
    }
    return rc;
}

int kwindex_commit(kwindex_t *kw, int64_t watermark)
{
    pthread_mutex_lock(&kw->wmu);
    if (watermark > kw->pending_watermark) kw->pending_watermark = watermark;
    atomic_store(&kw->dirty, true);
    pthread_mutex_unlock(&kw->wmu);
    return 0;
}

int kwindex_flush(kwindex_t *kw)
{
    int rc = 0;
    if (!atomic_load(&kw->dirty)) return 0;
    pthread_mutex_lock(&kw->wmu);
    if (atomic_load(&kw->dirty)) rc = commit_locked(kw);
    pthread_mutex_unlock(&kw->wmu);
    return rc;
}

static void *flusher_main(void *arg)
{
    kwindex_t *kw = arg;
    pthread_mutex_lock(&kw->wmu);
    while (!kw->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += KWINDEX_FLUSH_S;
        pthread_cond_timedwait(&kw->wake, &kw->wmu, &until);
        if (!kw->stop && atomic_load(&kw->dirty)) commit_locked(kw);
    }
    pthread_mutex_unlock(&kw->wmu);
    return NULL;
}

int64_t kwindex_watermark(kwindex_t *kw)
{
    pthread_mutex_lock(&kw->wmu);
    int64_t w = xap_writer_watermark(kw->w);
    pthread_mutex_unlock(&kw->wmu);
    return w;
}

size_t kwindex_count(kwindex_t *kw)
{
    pthread_mutex_lock(&kw->wmu);
    size_t n = xap_writer_count(kw->w);
    pthread_mutex_unlock(&kw->wmu);
    return n;
}

long kwindex_retain(kwindex_t *kw, bool (*keep)(void *ctx, int64_t id), void *ctx)
{
    pthread_mutex_lock(&kw->wmu);
    long n = xap_writer_retain(kw->w, keep, ctx);
    if (n > 0) atomic_store(&kw->dirty, true);
    pthread_mutex_unlock(&kw->wmu);
    return n;
}

/* A reader on the latest commit: the first free one, else a turn on one
 * of them (as the store's connections). */
static struct kw_reader *reader_get(kwindex_t *kw, int *rc)
{
    /* writes made before this search: committed now if the flusher has
     * not yet (the cost of seeing them, paid once for a burst of writes) */
    int frc = kwindex_flush(kw);
    struct kw_reader *r = NULL;
    for (int i = 0; i < KWINDEX_READERS && !r; i++)
        if (pthread_mutex_trylock(&kw->r[i].mu) == 0) r = &kw->r[i];
    if (!r) {
        r = &kw->r[atomic_fetch_add(&kw->next_reader, 1) % KWINDEX_READERS];
        pthread_mutex_lock(&r->mu);
    }
    uint64_t gen = atomic_load(&kw->gen);
    *rc = frc;
    if (!*rc && r->seen != gen) {
        if ((*rc = xap_reader_refresh(r->x)) == 0) r->seen = gen;
    }
    return r;
}

static bool allowed_id(void *ctx, int64_t id)
{
    return idset_has(ctx, id);
}

long kwindex_search(kwindex_t *kw, const char *const *terms, size_t n, size_t k,
                    const idset_t *allowed, vindex_hit_t *out)
{
    if (k > KWINDEX_MAX_K) k = KWINDEX_MAX_K;
    int64_t *ids = malloc((k ? k : 1) * sizeof *ids);
    float *scores = malloc((k ? k : 1) * sizeof *scores);
    long got = -ENOMEM;
    if (ids && scores) {
        int rc;
        struct kw_reader *r = reader_get(kw, &rc);
        got = rc ? rc
                 : xap_search(r->x, terms, n, k, allowed ? allowed_id : NULL, (void *)allowed, ids,
                              scores);
        pthread_mutex_unlock(&r->mu);
    }
    for (long i = 0; i < got; i++) out[i] = (vindex_hit_t){ids[i], scores[i]};
    free(ids);
    free(scores);
    return got;
}

int kwindex_dfs(kwindex_t *kw, const char *const *terms, size_t n, int64_t *dfs)
{
    int rc;
    struct kw_reader *r = reader_get(kw, &rc);
    if (!rc) rc = xap_term_dfs(r->x, terms, n, dfs);
    pthread_mutex_unlock(&r->mu);
    return rc;
}
