/* store_ckpt: the WAL's checkpoints, off the commit path.
 *
 * SQLite's own auto-checkpoint runs in the committing thread, after the
 * commit, whenever the WAL holds 1,000 pages or more: a batch of documents
 * writes more than that, so every batch commit also copied the WAL into the
 * database file and fsync'd it, with the store's (and rag's) write mutex
 * held. Here the write connection's WAL hook only counts: past
 * STORE_CKPT_FRAMES it wakes a thread of our own, which checkpoints
 * (PASSIVE: it never blocks readers or the writer) on a connection of its
 * own, while the writer goes on. Past STORE_CKPT_CAP frames the writer
 * checkpoints itself, as SQLite would: the thread has fallen behind, and
 * the WAL must not grow without bound. Durability does not change: a
 * commit is on disk once the WAL is synced, checkpointed or not. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"
#include "rag/store_int.h"

/* A busy checkpoint is tried again this often, this long apart. */
#define CKPT_BUSY_TRIES   100
#define CKPT_BUSY_WAIT_US 10000

struct store_ckpt {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3 *db; /* the thread's own connection */
    bool wanted; /* under mu: the WAL passed STORE_CKPT_FRAMES */
    bool stop;   /* under mu */
    _Atomic uint64_t background, inline_, failed;
    _Atomic int64_t wal_frames; /* as the last commit left the WAL */
    _Atomic int64_t copied;     /* of them, copied by the last checkpoint */
    int64_t page_size;
};

/* The database's page size in bytes (4,096 unless made otherwise). */
static int64_t page_size(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int64_t n = 4096;
    if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void *ckpt_main(void *arg)
{
    struct store_ckpt *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->wanted && !c->stop) pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop) break;
        c->wanted = false;
        pthread_mutex_unlock(&c->mu);
        int nlog = 0, ndone = 0, rc;
        /* busy: the writer is restarting the WAL, or another process
         * checkpoints; PASSIVE does not wait, so try again shortly (the
         * next commit past the mark wakes the thread anyway) */
        for (int tries = 0; (rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                                            &nlog, &ndone)) == SQLITE_BUSY &&
                            tries < CKPT_BUSY_TRIES;
             tries++)
            usleep(CKPT_BUSY_WAIT_US);
        if (rc == SQLITE_BUSY) {
            /* still busy: not a failure; the next commit tries again */
        } else if (rc == SQLITE_OK) {
            atomic_store(&c->copied, ndone);
            atomic_fetch_add(&c->background, 1);
        } else if (atomic_fetch_add(&c->failed, 1) == 0) { /* once: the writer's cap still holds */
            log_warn("store: background checkpoint failed: %s", sqlite3_errmsg(c->db));
        }
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Called by SQLite on the writing thread after each commit, the write lock
 * released; nframes: the pages now in the WAL. */
static int wal_hook(void *ctx, sqlite3 *db, const char *name, int nframes)
{
    struct store_ckpt *c = ctx;
    atomic_store(&c->wal_frames, nframes);
    if (nframes >= STORE_CKPT_CAP) {
        int nlog = 0, ndone = 0;
        if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &nlog, &ndone) ==
            SQLITE_OK) {
            atomic_store(&c->copied, ndone);
            atomic_fetch_add(&c->inline_, 1);
        }
    } else if (nframes >= STORE_CKPT_FRAMES) {
        pthread_mutex_lock(&c->mu);
        c->wanted = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK; /* a checkpoint's failure is not the commit's */
}

int store_ckpt_start(store_t *s, const char *path, char *err, size_t errlen)
{
    struct store_ckpt *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    int rc = store_open_conn(path, &c->db, false, err, errlen);
    /* a connection learns that the database is in WAL mode when it first
     * reads it; until then a checkpoint is a no-op that reports success */
    if (!rc) rc = store_exec(c->db, "PRAGMA journal_mode=WAL", err, errlen);
    c->page_size = page_size(s->w);
    if (!rc && pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
        snprintf(err, errlen, "cannot start the checkpoint thread");
        rc = -EAGAIN;
    }
    if (rc) {
        sqlite3_close_v2(c->db);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return rc;
    }
    s->ckpt = c;
    sqlite3_wal_hook(s->w, wal_hook, c); /* replaces SQLite's auto-checkpoint */
    return 0;
}

void store_ckpt_stop(store_t *s)
{
    struct store_ckpt *c = s->ckpt;
    if (!c) return;
    sqlite3_wal_hook(s->w, NULL, NULL);
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    sqlite3_close_v2(c->db);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
    s->ckpt = NULL;
}

void store_stats(store_t *s, store_stats_t *out)
{
    struct store_ckpt *c = s->ckpt;
    *out = (store_stats_t){0};
    if (!c) return;
    out->checkpoints_background = atomic_load(&c->background);
    out->checkpoints_inline = atomic_load(&c->inline_);
    out->checkpoint_failures = atomic_load(&c->failed);
    out->wal_bytes = atomic_load(&c->wal_frames) * c->page_size;
    out->wal_copied_bytes = atomic_load(&c->copied) * c->page_size;
}
