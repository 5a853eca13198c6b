/* store_int: what the files of the store share (store.c, store_read.c,
 * store_search.c); not for use outside them. */
#ifndef RAGD_STORE_INT_H
#define RAGD_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "rag/store.h"

#define BUSY_TIMEOUT_MS 10000

struct store_reader {
    pthread_mutex_t mu;
    sqlite3 *db;
};

/* The write connection's statements, prepared once (store_wstmt). */
enum store_wsql {
    W_SAVEPOINT,
    W_RELEASE,
    W_ROLLBACK_TO,
    W_IDS_OF_DOC,
    W_CREATED_AT,
    W_DELETE_CHUNKS,
    W_DELETE_DOC,
    W_INSERT_DOC,
    W_INSERT_META,
    W_INSERT_CHUNK,
    W_INSERT_VECTOR,
    W_COUNT
};

struct store {
    pthread_mutex_t wmu; /* the write connection */
    sqlite3 *w;
    sqlite3_stmt *wst[W_COUNT]; /* under wmu; NULL until first used */
    struct store_reader r[STORE_READERS];
    unsigned next_reader;
    struct store_ckpt *ckpt; /* the checkpoint thread (store_ckpt.c) */
    unsigned dim;
    bool reembed; /* the vectors are the replaced embedder's (store_reembed) */
};

/* A read connection: the first free one, else a turn on one of them. */
struct store_reader *store_reader_get(store_t *s);
void store_reader_put(struct store_reader *r);
/* Opens a connection to path with the store's settings (busy timeout,
 * extended codes, foreign keys). 0, or -EIO with err set. */
int store_open_conn(const char *path, sqlite3 **db, bool readonly, char *err, size_t errlen);
/* Starts the checkpoint thread and hands it the write connection's WAL
 * hook; stop it before the write connection closes. */
int store_ckpt_start(store_t *s, const char *path, char *err, size_t errlen);
void store_ckpt_stop(store_t *s);
/* Writes "what: SQLite's message" to err (when err) and maps the
 * connection's last error: -ENOSPC (disk full), -ENOMEM, else -EIO. */
int store_sql_err(sqlite3 *db, char *err, size_t errlen, const char *what);
/* Runs SQL without results. 0, or -EIO with the message in err (when err). */
int store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

#endif
