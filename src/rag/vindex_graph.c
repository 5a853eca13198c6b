/* vindex_graph: the graph segment of the vector index (see vindex.h): the
 * builder thread that moves flat rows into the graph and marks removed
 * rows there, persistence, and the sampled recall check.
 *
 * The builder is the graph's only writer. It copies a batch of the
 * smallest flat ids' vectors under the read lock, inserts them under
 * glock (a search waits for the rows under way), then hands the batch
 * over under the write lock: the flat copies go, the watermark rises. A row
 * removed between the copy and the hand-over is in the graph but gone from
 * the flat segment: it becomes a pending delete. Because ids arrive in
 * ascending order and each batch is the smallest of a sorted snapshot, the
 * graph always holds every live id up to the watermark, which is what a
 * restart relies on (vindex_load). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "rag/vindex_int.h"
#include "util/clock.h"
#include "util/dot.h"
#include "util/par.h"

#define BUILD_BATCH        64    /* rows copied per read lock */
#define SAVE_MIN_SECONDS   60.0  /* the builder saves at most this often... */
#define SAVE_MIN_CHANGES   10000 /* ...and after this many graph writes (or a tenth) */
#define RECALL_MIN_SECONDS 1.0   /* one recall check per second at most */
#define RECALL_K           10

int vindex_graph_init(vindex_t *ix)
{
    pthread_mutex_init(&ix->work_mu, NULL);
    pthread_mutex_init(&ix->wake_mu, NULL);
    pthread_mutex_init(&ix->smu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ix->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (ix->o.kind != VINDEX_EXACT && ix->o.recall_every &&
        !(ix->sample = malloc(ix->dim * sizeof(float))))
        return -ENOMEM;
    return 0;
}

void vindex_graph_wake(vindex_t *ix)
{
    if (!ix->started) return;
    pthread_mutex_lock(&ix->wake_mu);
    pthread_cond_signal(&ix->wake);
    pthread_mutex_unlock(&ix->wake_mu);
}

/* Whether the flat rows should go into a graph now. */
static bool graph_wanted(vindex_t *ix)
{
    if (ix->o.kind == VINDEX_EXACT || ix->broken) return false;
    pthread_rwlock_rdlock(&ix->lock);
    bool want =
        ix->n > 0 && (ix->graph || ix->o.kind == VINDEX_HNSW || ix->n >= ix->o.ann_min_rows);
    pthread_rwlock_unlock(&ix->lock);
    return want;
}

/* The rows of one insert_rows call, inserted in rounds under glock. */
#define ROW_LEFT 1 /* rc of a row no round has inserted yet */
_Static_assert(BUILD_BATCH <= 256, "a batch's rows are numbered in uint8_t");

struct insert_job {
    vindex_t *ix;
    const int64_t *ids;
    const float *vecs;
    uint8_t todo[BUILD_BATCH]; /* this round's rows */
    int rc[BUILD_BATCH];       /* per row: 0, ROW_LEFT or an error */
    size_t first;              /* rows a round inserts, waiting searches or not */
    atomic_bool failed;
};

/* The round's i-th row, unless a search waits for glock (a row under way
 * is finished first) or a row failed: those rows stay ROW_LEFT. The first
 * rows of a round go in regardless, so that searches coming one after
 * another cannot stop the build. */
static void insert_one(void *ctx, size_t i)
{
    struct insert_job *j = ctx;
    if (atomic_load_explicit(&j->failed, memory_order_relaxed) ||
        (i >= j->first && atomic_load_explicit(&j->ix->glock_waiting, memory_order_relaxed)))
        return;
    size_t r = j->todo[i];
    j->rc[r] = hnsw_add_reserved(j->ix->graph, j->ids[r], j->vecs + r * j->ix->dim);
    if (j->rc[r]) atomic_store_explicit(&j->failed, true, memory_order_relaxed);
}

/* Inserts the *n (<= BUILD_BATCH) rows ids/vecs into the graph on the
 * build threads, in rounds under glock: a round goes on until the rows are
 * in or a search waits for glock (vindex_glock_read), so a search waits for
 * the rows under way (at most one a thread), and a build without searches
 * holds glock once a batch (its threads started once, one wait for the
 * slowest). Leaves in ids[0..*n) the rows the graph took: all of them and
 * 0, or fewer and the first error (the rows after it are not tried). Under
 * work_mu. */
static int insert_rows(vindex_t *ix, int64_t *ids, const float *vecs, size_t *n)
{
    unsigned threads = ix->o.build_threads;
    struct insert_job j = {.ix = ix, .ids = ids, .vecs = vecs, .first = threads};
    atomic_init(&j.failed, false);
    pthread_rwlock_wrlock(&ix->glock);
    int rc = hnsw_reserve(ix->graph, ids, *n);
    pthread_rwlock_unlock(&ix->glock);
    if (rc) {
        *n = 0;
        return rc;
    }
    size_t left = *n;
    for (size_t i = 0; i < left; i++) {
        j.todo[i] = (uint8_t)i;
        j.rc[i] = ROW_LEFT;
    }
    while (left && !atomic_load_explicit(&j.failed, memory_order_relaxed)) {
        pthread_rwlock_wrlock(&ix->glock);
        par_for(left, threads, insert_one, &j); /* one thread: on this one */
        pthread_rwlock_unlock(&ix->glock);
        size_t m = 0;
        for (size_t i = 0; i < left; i++)
            if (j.rc[j.todo[i]] == ROW_LEFT) j.todo[m++] = j.todo[i];
        left = m;
    }
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        if (j.rc[i] == 0)
            ids[kept++] = ids[i];
        else if (!rc && j.rc[i] != ROW_LEFT)
            rc = j.rc[i];
    }
    *n = kept;
    ix->changes += kept;
    return rc;
}

/* One batch into the graph. Returns 1 when it did work, 0 when there was
 * none, or a negative code. Under work_mu. */
static int build_step(vindex_t *ix)
{
    if (ix->snap_pos == ix->snap_n) {
        if (!graph_wanted(ix)) return 0;
        long n = vindex_flat_ids(ix, &ix->snap, &ix->snap_cap);
        if (n < 0) return (int)n;
        ix->snap_n = (size_t)n;
        ix->snap_pos = 0;
        if (n == 0) return 0;
    }
    if (!ix->graph) {
        hnsw_t *g;
        int rc = hnsw_new(&g, ix->dim, ix->o.m, ix->o.ef_construction);
        if (rc) return rc;
        pthread_rwlock_wrlock(&ix->lock);
        ix->graph = g;
        pthread_rwlock_unlock(&ix->lock);
        log_info(
            "vector index: building the graph (m %u, ef_construction %u, build threads %u) over "
            "%zu rows",
            ix->o.m, ix->o.ef_construction, ix->o.build_threads, ix->snap_n);
    }
    size_t take = ix->snap_n - ix->snap_pos < BUILD_BATCH ? ix->snap_n - ix->snap_pos : BUILD_BATCH;
    const int64_t *batch = ix->snap + ix->snap_pos;
    int64_t got[BUILD_BATCH];
    float *vecs = malloc((size_t)BUILD_BATCH * ix->dim * sizeof(float));
    if (!vecs) return -ENOMEM;
    size_t m = vindex_flat_copy(ix, batch, take, got, vecs);
    int rc = insert_rows(ix, got, vecs, &m); /* m: what the graph took, handed over */
    free(vecs);
    int hrc = vindex_flat_handover(ix, got, m, rc ? 0 : batch[take - 1]);
    if (rc) return rc;
    ix->snap_pos += take;
    return hrc ? hrc : 1;
}

/* Marks the pending deletes in the graph. 1 when there were some. Under
 * work_mu. */
static int apply_pending(vindex_t *ix)
{
    pthread_rwlock_rdlock(&ix->lock);
    size_t n = ix->pending.n;
    pthread_rwlock_unlock(&ix->lock);
    if (!n) return 0;
    pthread_rwlock_wrlock(&ix->lock);
    pthread_rwlock_wrlock(&ix->glock);
    for (size_t i = 0; ix->pending.keys && i <= ix->pending.mask; i++)
        if (ix->pending.keys[i] && hnsw_delete(ix->graph, ix->pending.keys[i]) == 0) ix->changes++;
    idset_free(&ix->pending);
    pthread_rwlock_unlock(&ix->glock);
    pthread_rwlock_unlock(&ix->lock);
    return 1;
}

/* Writes the graph when forced (and changed), or when enough changed and
 * the last save is old enough. Searches go on meanwhile (glock is read);
 * only the builder writes the graph, and it is the one saving. Under
 * work_mu. */
static void maybe_save(vindex_t *ix, bool force)
{
    if (!ix->path || !ix->graph || !ix->changes) return;
    double now = clock_now();
    size_t live = hnsw_live(ix->graph);
    if (!force && (now - ix->last_save < SAVE_MIN_SECONDS ||
                   ix->changes < (live / 10 > SAVE_MIN_CHANGES ? live / 10 : SAVE_MIN_CHANGES)))
        return;
    char err[512];
    pthread_rwlock_rdlock(&ix->glock);
    int rc = hnsw_save(ix->graph, ix->path, err, sizeof err);
    pthread_rwlock_unlock(&ix->glock);
    ix->last_save = now;
    pthread_mutex_lock(&ix->smu);
    if (rc)
        ix->save_errors++;
    else
        ix->saves++;
    pthread_mutex_unlock(&ix->smu);
    if (rc) {
        log_warn("vector index: saving the graph failed (the next start rebuilds what is "
                 "missing): %s",
                 err);
        return;
    }
    log_info("vector index: graph of %zu rows saved to %s in %.2f s", live, ix->path,
             clock_now() - now);
    ix->changes = 0;
}

/* The exact top k of the graph's live rows (pending deletes included: the
 * graph's own answer has them too). Under glock. */
static void graph_exact(vindex_t *ix, const float *q, size_t k, vindex_hit_t *heap, size_t *got)
{
    for (size_t i = 0; i < hnsw_slots(ix->graph); i++) {
        int64_t id;
        const float *v;
        if (hnsw_row(ix->graph, i, &id, &v))
            vindex_heap_offer(heap, got, k, (vindex_hit_t){id, dot_f32(v, q, ix->dim)});
    }
}

/* Compares the graph's answer for the sampled query with the exact one over
 * the graph's rows. Under work_mu; glock read (writers are not held up). */
static void check_recall(vindex_t *ix)
{
    if (!ix->sample || !ix->graph || clock_now() - ix->last_check < RECALL_MIN_SECONDS) return;
    float *q = malloc(ix->dim * sizeof(float));
    if (!q) return;
    pthread_mutex_lock(&ix->smu);
    bool have = ix->sample_full;
    if (have) memcpy(q, ix->sample, ix->dim * sizeof(float));
    ix->sample_full = false;
    pthread_mutex_unlock(&ix->smu);
    if (!have) {
        free(q);
        return;
    }
    ix->last_check = clock_now();
    hnsw_hit_t ann[RECALL_K];
    vindex_hit_t exact[RECALL_K];
    size_t nexact = 0;
    pthread_rwlock_rdlock(&ix->glock);
    long nann = hnsw_search(ix->graph, q, RECALL_K, ix->o.ef_search, ann);
    graph_exact(ix, q, RECALL_K, exact, &nexact);
    pthread_rwlock_unlock(&ix->glock);
    free(q);
    if (nann < 0 || nexact == 0) return;
    size_t found = 0;
    for (size_t i = 0; i < nexact; i++)
        for (long j = 0; j < nann; j++)
            if (ann[j].id == exact[i].id) {
                found++;
                break;
            }
    pthread_mutex_lock(&ix->smu);
    ix->recall[ix->recall_pos] = (double)found / (double)nexact;
    ix->recall_pos = (ix->recall_pos + 1) % VINDEX_RECALL_WINDOW;
    if (ix->nrecall < VINDEX_RECALL_WINDOW) ix->nrecall++;
    ix->recall_checks++;
    pthread_mutex_unlock(&ix->smu);
}

/* One round of the builder's work. 1 when it built or marked something. */
static int work(vindex_t *ix)
{
    pthread_mutex_lock(&ix->work_mu);
    int rc = ix->broken ? 0 : build_step(ix);
    if (rc < 0) {
        log_error("vector index: the graph cannot grow (%s); new rows stay in the exact "
                  "segment",
                  strerror(-rc));
        ix->broken = true;
        rc = 0;
    }
    if (ix->graph && apply_pending(ix)) rc = 1;
    if (rc == 0) {
        check_recall(ix);
        maybe_save(ix, false);
    }
    pthread_mutex_unlock(&ix->work_mu);
    return rc;
}

static void *builder_main(void *arg)
{
    vindex_t *ix = arg;
    for (;;) {
        int did = work(ix);
        pthread_mutex_lock(&ix->wake_mu);
        if (!ix->stopping && !did) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&ix->wake, &ix->wake_mu, &ts);
        }
        bool stop = ix->stopping;
        pthread_mutex_unlock(&ix->wake_mu);
        if (stop) return NULL;
    }
}

int vindex_start(vindex_t *ix)
{
    if (ix->o.kind == VINDEX_EXACT || ix->started) return 0;
    ix->last_save = clock_now();
    int rc = pthread_create(&ix->thread, NULL, builder_main, ix);
    if (rc) return -rc;
    ix->started = true;
    return 0;
}

int vindex_build_now(vindex_t *ix)
{
    int rc;
    pthread_mutex_lock(&ix->work_mu);
    while ((rc = ix->broken ? 0 : build_step(ix)) > 0) {
    }
    if (ix->graph) apply_pending(ix);
    pthread_mutex_unlock(&ix->work_mu);
    return rc < 0 ? rc : 0;
}

void vindex_graph_fini(vindex_t *ix)
{
    if (ix->started) {
        pthread_mutex_lock(&ix->wake_mu);
        ix->stopping = true;
        pthread_cond_signal(&ix->wake);
        pthread_mutex_unlock(&ix->wake_mu);
        pthread_join(ix->thread, NULL);
        ix->started = false;
    }
    if (ix->graph) {
        apply_pending(ix);
        maybe_save(ix, true);
        hnsw_free(&ix->graph);
    }
    idset_free(&ix->pending);
    free(ix->snap);
    free(ix->sample);
    pthread_mutex_destroy(&ix->work_mu);
    pthread_mutex_destroy(&ix->wake_mu);
    pthread_mutex_destroy(&ix->smu);
    pthread_cond_destroy(&ix->wake);
}

int vindex_load(vindex_t *ix, int64_t *watermark, char *err, size_t errlen)
{
    *watermark = 0;
    if (!ix->path) return 0;
    if (ix->o.kind == VINDEX_EXACT) {
        /* a graph from an earlier run with another kind: it would only go
         * stale (and take the disk) */
        if (unlink(ix->path) == 0) log_info("vector index: exact; removed %s", ix->path);
        return 0;
    }
    hnsw_t *g;
    double t0 = clock_now();
    int rc = hnsw_load(&g, ix->path, ix->dim, err, errlen);
    if (rc == -ENOENT) return 0;
    if (rc) return rc;
    int64_t top = 0;
    for (size_t i = 0; i < hnsw_slots(g); i++) {
        int64_t id;
        const float *v;
        if (hnsw_row(g, i, &id, &v) && id > top) top = id;
    }
    pthread_rwlock_wrlock(&ix->lock);
    ix->graph = g;
    ix->watermark = top;
    pthread_rwlock_unlock(&ix->lock);
    *watermark = top;
    log_info("vector index: graph of %zu rows (%zu deleted, m %u) loaded from %s in %.2f s",
             hnsw_live(g), hnsw_deleted(g), hnsw_m(g), ix->path, clock_now() - t0);
    return 0;
}

size_t vindex_retain(vindex_t *ix, bool (*keep)(void *ctx, int64_t id), void *ctx)
{
    size_t dropped = 0;
    pthread_mutex_lock(&ix->work_mu);
    pthread_rwlock_wrlock(&ix->lock);
    pthread_rwlock_wrlock(&ix->glock);
    for (size_t i = 0; ix->graph && i < hnsw_slots(ix->graph); i++) {
        int64_t id;
        const float *v;
        if (hnsw_row(ix->graph, i, &id, &v) && !keep(ctx, id) && hnsw_delete(ix->graph, id) == 0)
            dropped++;
    }
    ix->changes += dropped;
    pthread_rwlock_unlock(&ix->glock);
    pthread_rwlock_unlock(&ix->lock);
    pthread_mutex_unlock(&ix->work_mu);
    return dropped;
}

void vindex_reset(vindex_t *ix)
{
    pthread_mutex_lock(&ix->work_mu);
    pthread_rwlock_wrlock(&ix->lock);
    hnsw_free(&ix->graph);
    idset_free(&ix->pending);
    ix->watermark = 0;
    ix->changes = 0;
    ix->snap_n = ix->snap_pos = 0;
    vindex_flat_clear(ix);
    pthread_rwlock_unlock(&ix->lock);
    pthread_mutex_unlock(&ix->work_mu);
    if (ix->path) unlink(ix->path);
}
