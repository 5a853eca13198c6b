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

struct store {
    pthread_mutex_t wmu; /* the write connection */
    sqlite3 *w;
    struct store_reader r[STORE_READERS];
    unsigned next_reader;
    unsigned dim;
    bool reembed; /* the vectors are the replaced embedder's (store_reembed) */
};

/* A read connection: the first free one, else a turn on one of them. */
struct store_reader *store_reader_get(store_t *s);
void store_reader_put(struct store_reader *r);
/* Writes "what: SQLite's message" to err (when err) and maps the
 * connection's last error: -ENOSPC (disk full), -ENOMEM, else -EIO. */
int store_sql_err(sqlite3 *db, char *err, size_t errlen, const char *what);
/* Runs SQL without results. 0, or -EIO with the message in err (when err). */
int store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

#endif
