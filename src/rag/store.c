#include "rag/store.h"

#include "core/log.h"
#include "rag/store_int.h"
#include "util/clock.h"
#include "util/vec.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const schema_v1[] = {
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE documents("
    " id TEXT PRIMARY KEY,"
    " title TEXT NOT NULL,"
    " content_type TEXT NOT NULL,"
    " metadata TEXT NOT NULL,"
    " source BLOB NOT NULL,"
    " text TEXT NOT NULL,"
    " chunk_count INTEGER NOT NULL,"
    " created_at REAL NOT NULL,"
    " updated_at REAL NOT NULL)",
    "CREATE TABLE chunks("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    " position INTEGER NOT NULL,"
    " section TEXT NOT NULL,"
    " text TEXT NOT NULL,"
    " embedding BLOB NOT NULL,"
    " UNIQUE(doc_id, position))",
    "CREATE VIRTUAL TABLE chunks_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 2')",
    NULL,
};

/* v2: the FTS vocabulary (term -> number of chunks), for the keyword
 * query's document frequencies. A view on the index: nothing to fill. */
static const char *const schema_v2[] = {
    "CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, row)",
    NULL,
};

/* v3: metadata as rows instead of a JSON object per document, so that a
 * filter is SQL on bound values (no JSON path built from a key), and an
 * index on (key, value) finds the documents of a filter. The v2 objects
 * move over, then their column goes. */
static const char *const schema_v3[] = {
    "CREATE TABLE doc_meta("
    " doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL,"
    " PRIMARY KEY(doc_id, key)) WITHOUT ROWID",
    "CREATE INDEX doc_meta_kv ON doc_meta(key, value)",
    "INSERT INTO doc_meta(doc_id, key, value) SELECT d.id, j.key, j.value"
    " FROM documents d, json_each(d.metadata) j WHERE j.type = 'text'",
    "ALTER TABLE documents DROP COLUMN metadata",
    NULL,
};

/* v4: keyword search moves to its own index (rag/kwindex, Xapian), which
 * the pipeline fills from the chunks' text: the FTS5 tables go. */
static const char *const schema_v4[] = {
    "DROP TABLE IF EXISTS chunks_vocab",
    "DROP TABLE IF EXISTS chunks_fts",
    NULL,
};

/* v5: the vectors move to a table of their own. In the chunk's row they
 * sat after its text, so reading them at start-up read every page of the
 * chunks (text and vector, 3.5 KB a chunk); on their own they are 1.5 KB
 * rows, two to a page, and a chunk's deletion still takes its vector. */
static const char *const schema_v5[] = {
    "CREATE TABLE chunk_vectors("
    " id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,"
    " embedding BLOB NOT NULL)",
    "INSERT INTO chunk_vectors(id, embedding) SELECT id, embedding FROM chunks",
    "ALTER TABLE chunks DROP COLUMN embedding",
    NULL,
};

int store_sql_err(sqlite3 *db, char *err, size_t errlen, const char *what)
{
    if (err) snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
    int ec = sqlite3_errcode(db);
    return ec == SQLITE_FULL ? -ENOSPC : ec == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

int store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        if (err) snprintf(err, errlen, "%s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

int store_open_conn(const char *path, sqlite3 **db, bool readonly, char *err, size_t errlen)
{
    int flags = SQLITE_OPEN_NOMUTEX |
                (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 *db ? sqlite3_errmsg(*db) : "out of memory");
        return -EIO;
    }
    sqlite3_busy_timeout(*db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(*db, 1);
    return store_exec(*db, "PRAGMA foreign_keys=ON", err, errlen);
}

static int meta_get(sqlite3 *db, const char *key, char *out, size_t n)
{
    sqlite3_stmt *st;
    int rc = -ENOENT;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

static int meta_set(sqlite3 *db, const char *key, const char *value)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    sqlite3_finalize(st);
    return rc;
}

/* The write connection's statements, each prepared on first use and kept:
 * a batch of 500 documents prepared 4,000 of them, 4 % of its
 * instructions. Returned reset and unbound; NULL when SQLite cannot
 * prepare it (the connection's error says why). Under wmu. */
static const char *const wsql[W_COUNT] = {
    [W_SAVEPOINT] = "SAVEPOINT doc",
    [W_RELEASE] = "RELEASE doc",
    [W_ROLLBACK_TO] = "ROLLBACK TO doc",
    [W_IDS_OF_DOC] = "SELECT id FROM chunks WHERE doc_id = ? ORDER BY id",
    [W_CREATED_AT] = "SELECT created_at FROM documents WHERE id = ?",
    [W_DELETE_CHUNKS] = "DELETE FROM chunks WHERE doc_id = ?1",
    [W_DELETE_DOC] = "DELETE FROM documents WHERE id = ?1",
    [W_INSERT_DOC] = ("INSERT INTO documents(id, title, content_type, source, text, chunk_count, "
                      "created_at, updated_at) VALUES(?,?,?,?,?,?,?,?)"),
    [W_INSERT_META] = "INSERT INTO doc_meta(doc_id, key, value) VALUES(?,?,?)",
    [W_INSERT_CHUNK] = "INSERT INTO chunks(doc_id, position, section, text) VALUES(?,?,?,?)",
    [W_INSERT_VECTOR] = "INSERT INTO chunk_vectors(id, embedding) VALUES(?,?)",
};

static sqlite3_stmt *wstmt(store_t *s, enum store_wsql which)
{
    sqlite3_stmt **st = &s->wst[which];
    if (!*st) {
        if (sqlite3_prepare_v3(s->w, wsql[which], -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
            SQLITE_OK)
            *st = NULL;
        return *st;
    }
    sqlite3_reset(*st);
    sqlite3_clear_bindings(*st);
    return *st;
}

/* Runs a cached statement without results: 0 or -EIO. */
static int wexec(store_t *s, enum store_wsql which)
{
    sqlite3_stmt *st = wstmt(s, which);
    int rc = st && sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    if (st) sqlite3_reset(st);
    return rc;
}

/* Creates or upgrades the schema, and checks or records the embedder. */
static int migrate(sqlite3 *db, const char *embedder, const char *replaces, unsigned dim,
                   bool *reembed, char *err, size_t errlen)
{
    int rc = store_exec(db, "BEGIN IMMEDIATE", err, errlen);
    if (rc) return rc;
    char v[256] = "0";
    if ((rc = store_exec(db, schema_v1[0], err, errlen)) != 0) goto fail;
    meta_get(db, "schema_version", v, sizeof v);
    int version = atoi(v);
    if (version > STORE_SCHEMA_VERSION) {
        snprintf(err, errlen, "the store has schema version %d; this ragd knows up to %d", version,
                 STORE_SCHEMA_VERSION);
        rc = -EINVAL;
        goto fail;
    }
    if (version < 1) {
        for (int i = 1; schema_v1[i]; i++)
            if ((rc = store_exec(db, schema_v1[i], err, errlen)) != 0) goto fail;
        char dims[16];
        snprintf(dims, sizeof dims, "%u", dim);
        if (meta_set(db, "embedder", embedder) || meta_set(db, "dimension", dims)) {
            rc = store_sql_err(db, err, errlen, "recording the schema");
            goto fail;
        }
    }
    /* Each migration in this one transaction: all or none. A new store runs
     * v1 and then every later step, so the steps are the only schema. */
    static const char *const *const steps[] = {NULL,      NULL,      schema_v2,
                                               schema_v3, schema_v4, schema_v5};
    _Static_assert(sizeof steps / sizeof steps[0] == STORE_SCHEMA_VERSION + 1,
                   "a step per version");
    double t0 = clock_now();
    if (version >= 1 && version < STORE_SCHEMA_VERSION) /* minutes for millions of chunks */
        log_info("store: upgrading the schema from version %d to %d, in one transaction", version,
                 STORE_SCHEMA_VERSION);
    for (int step = version < 1 ? 2 : version + 1; step <= STORE_SCHEMA_VERSION; step++)
        for (int i = 0; steps[step][i]; i++)
            if ((rc = store_exec(db, steps[step][i], err, errlen)) != 0) goto fail;
    if (version >= 1 && version < STORE_SCHEMA_VERSION)
        log_info("store: schema version %d in %.1f s", STORE_SCHEMA_VERSION, clock_now() - t0);
    char vs[16];
    snprintf(vs, sizeof vs, "%d", STORE_SCHEMA_VERSION);
    if (version < STORE_SCHEMA_VERSION && meta_set(db, "schema_version", vs)) {
        rc = store_sql_err(db, err, errlen, "recording the schema version");
        goto fail;
    }
    char have[256] = "", hdim[32] = "";
    meta_get(db, "embedder", have, sizeof have);
    meta_get(db, "dimension", hdim, sizeof hdim);
    bool same_dim = (unsigned)strtoul(hdim, NULL, 10) == dim;
    *reembed = replaces && !strcmp(have, replaces) && same_dim;
    if (!*reembed && (strcmp(have, embedder) != 0 || !same_dim)) {
        snprintf(err, errlen,
                 "the store's vectors were made by embedder '%s' with dimension %s, and this "
                 "server is set up for '%s' with dimension %u: vectors of two models must not "
                 "mix. Start with the original embedder, or use a new --data-dir",
                 have, hdim, embedder, dim);
        rc = -EINVAL;
        goto fail;
    }
    return store_exec(db, "COMMIT", err, errlen);
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* SQLite's global memory statistics take a process-wide mutex on every
 * allocation, which readers on many threads then wait on; ragd reads none
 * of them. Must run before SQLite initialises: once, before the first open
 * (if SQLite is already up, the call fails and nothing changes). */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_initialize();
}

int store_open(store_t **out, const char *dir, const char *embedder, const char *replaces,
               unsigned dim, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    char path[1200];
    *out = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
    store_t *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    pthread_mutex_init(&s->wmu, NULL);
    for (int i = 0; i < STORE_READERS; i++) pthread_mutex_init(&s->r[i].mu, NULL);
    s->dim = dim;
    int rc = store_open_conn(path, &s->w, false, err, errlen);
    if (!rc) rc = store_exec(s->w, "PRAGMA journal_mode=WAL", err, errlen);
    if (!rc) rc = store_exec(s->w, "PRAGMA synchronous=FULL", err, errlen);
    if (!rc) rc = migrate(s->w, embedder, replaces, dim, &s->reembed, err, errlen);
    for (int i = 0; i < STORE_READERS && !rc; i++)
        rc = store_open_conn(path, &s->r[i].db, true, err, errlen);
    if (!rc) rc = store_ckpt_start(s, path, err, errlen);
    if (rc) {
        store_close(&s);
        return rc;
    }
    *out = s;
    return 0;
}

bool store_reembed(const store_t *s)
{
    return s->reembed;
}

int store_set_vectors(store_t *s, const int64_t *ids, const float *vecs, size_t n)
{
    pthread_mutex_lock(&s->wmu);
    sqlite3_stmt *st = NULL;
    int rc = store_exec(s->w, "BEGIN IMMEDIATE", NULL, 0);
    if (!rc && sqlite3_prepare_v2(s->w, "UPDATE chunk_vectors SET embedding = ? WHERE id = ?", -1,
                                  &st, NULL) != SQLITE_OK)
        rc = store_sql_err(s->w, NULL, 0, NULL);
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_blob64(st, 1, vecs + i * s->dim, (sqlite3_uint64)s->dim * sizeof(float),
                            SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, ids[i]);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_sql_err(s->w, NULL, 0, NULL);
    }
    sqlite3_finalize(st);
    if (!rc) rc = store_exec(s->w, "COMMIT", NULL, 0);
    if (rc) sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

int store_set_embedder(store_t *s, const char *embedder)
{
    pthread_mutex_lock(&s->wmu);
    int rc = meta_set(s->w, "embedder", embedder);
    if (!rc) s->reembed = false;
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

void store_close(store_t **sp)
{
    store_t *s = sp ? *sp : NULL;
    if (!s) return;
    store_ckpt_stop(s);
    for (int i = 0; i < STORE_READERS; i++) {
        sqlite3_close_v2(s->r[i].db);
        pthread_mutex_destroy(&s->r[i].mu);
    }
    for (int i = 0; i < W_COUNT; i++) sqlite3_finalize(s->wst[i]);
    sqlite3_close_v2(s->w);
    pthread_mutex_destroy(&s->wmu);
    free(s);
    *sp = NULL;
}

/* A read connection: the first free one, else wait on one in turn. */
struct store_reader *store_reader_get(store_t *s)
{
    for (int i = 0; i < STORE_READERS; i++)
        if (pthread_mutex_trylock(&s->r[i].mu) == 0) return &s->r[i];
    struct store_reader *r =
        &s->r[__atomic_fetch_add(&s->next_reader, 1, __ATOMIC_RELAXED) % STORE_READERS];
    pthread_mutex_lock(&r->mu);
    return r;
}

void store_reader_put(struct store_reader *r)
{
    pthread_mutex_unlock(&r->mu);
}

/* ---- ids ------------------------------------------------------------------ */

static int ids_of_doc(store_t *s, const char *id, int64_t **out, size_t *n)
{
    sqlite3_stmt *st = wstmt(s, W_IDS_OF_DOC);
    *out = NULL;
    *n = 0;
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = vec_reserve((void **)out, &cap, *n + 1, 64, sizeof **out)) != 0) break;
        (*out)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (rc == 0 && step != SQLITE_DONE) rc = -EIO;
    sqlite3_reset(st);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Removes a document and its chunks (inside a transaction). */
static int delete_doc(store_t *s, const char *id)
{
    static const enum store_wsql sql[] = {W_DELETE_CHUNKS, W_DELETE_DOC};
    for (size_t i = 0; i < 2; i++) {
        sqlite3_stmt *st = wstmt(s, sql[i]);
        if (!st) return -EIO;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return -EIO;
    }
    return 0;
}

/* ---- writes -------------------------------------------------------------- */

/* Inside the transaction: the ids of the version being replaced (if any),
 * its creation time (kept across replacements), then its removal. */
static int put_replace_old(store_t *s, const char *id, store_put_result_t *res, double *created)
{
    int rc = ids_of_doc(s, id, &res->old_ids, &res->n_old);
    if (rc) return rc;
    sqlite3_stmt *st = wstmt(s, W_CREATED_AT);
    if (!st) return -EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        res->replaced = true;
        *created = sqlite3_column_double(st, 0);
    }
    sqlite3_reset(st);
    return res->replaced ? delete_doc(s, id) : 0;
}

/* The document's row and its metadata rows. */
static int put_document(store_t *s, const store_doc_t *d, size_t nchunks, double created, char *err,
                        size_t errlen)
{
    sqlite3 *db = s->w;
    sqlite3_stmt *doc = wstmt(s, W_INSERT_DOC), *meta = doc ? wstmt(s, W_INSERT_META) : NULL;
    int rc = 0;
    if (!doc || !meta) {
        rc = store_sql_err(db, err, errlen, "preparing the insert");
        goto out;
    }
    sqlite3_bind_text(doc, 1, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(doc, 2, d->title ? d->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(doc, 3, d->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(doc, 4, d->source ? d->source : "", d->source_len, SQLITE_STATIC);
    sqlite3_bind_text64(doc, 5, d->text ? d->text : "", d->text_len, SQLITE_STATIC, SQLITE_UTF8);
    sqlite3_bind_int64(doc, 6, (sqlite3_int64)nchunks);
    sqlite3_bind_double(doc, 7, created);
    sqlite3_bind_double(doc, 8, clock_epoch());
    if (sqlite3_step(doc) != SQLITE_DONE) {
        rc = store_sql_err(db, err, errlen, "storing the document");
        goto out;
    }
    for (size_t i = 0; i < d->nmeta; i++) {
        sqlite3_reset(meta);
        sqlite3_bind_text(meta, 1, d->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(meta, 2, d->meta[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(meta, 3, d->meta[i].value, -1, SQLITE_STATIC);
        if (sqlite3_step(meta) != SQLITE_DONE) {
            rc = store_sql_err(db, err, errlen, "storing the metadata");
            if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY) {
                snprintf(err, errlen, "metadata key '%s' is given twice", d->meta[i].key);
                rc = -EINVAL;
            }
            goto out;
        }
    }
out:
    if (doc) sqlite3_reset(doc);
    if (meta) sqlite3_reset(meta);
    return rc;
}

/* The chunks' rows; their new ids into res. */
static int put_chunks(store_t *s, const char *id, const store_chunk_t *c, size_t n,
                      store_put_result_t *res, char *err, size_t errlen)
{
    sqlite3 *db = s->w;
    sqlite3_stmt *chunk = wstmt(s, W_INSERT_CHUNK), *vec = chunk ? wstmt(s, W_INSERT_VECTOR) : NULL;
    int rc = 0;
    if (!(res->new_ids = malloc((n ? n : 1) * sizeof *res->new_ids))) return -ENOMEM;
    if (!chunk || !vec) {
        rc = store_sql_err(db, err, errlen, "preparing the insert");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(chunk);
        sqlite3_bind_text(chunk, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(chunk, 2, (sqlite3_int64)i);
        sqlite3_bind_text(chunk, 3, c[i].section ? c[i].section : "", -1, SQLITE_STATIC);
        sqlite3_bind_text64(chunk, 4, c[i].text, c[i].len, SQLITE_STATIC, SQLITE_UTF8);
        if (sqlite3_step(chunk) != SQLITE_DONE) {
            rc = store_sql_err(db, err, errlen, "storing a chunk");
            goto out;
        }
        int64_t cid = sqlite3_last_insert_rowid(db);
        sqlite3_reset(vec);
        sqlite3_bind_int64(vec, 1, cid);
        sqlite3_bind_blob64(vec, 2, c[i].vec, (sqlite3_uint64)s->dim * sizeof(float),
                            SQLITE_STATIC);
        if (sqlite3_step(vec) != SQLITE_DONE) {
            rc = store_sql_err(db, err, errlen, "storing a vector");
            goto out;
        }
        res->new_ids[res->n_new++] = cid;
    }
out:
    if (chunk) sqlite3_reset(chunk);
    if (vec) sqlite3_reset(vec);
    return rc;
}

int store_put(store_t *s, const store_doc_t *d, const store_chunk_t *c, size_t n,
              store_put_result_t *res, char *err, size_t errlen)
{
    store_put_item_t it = {.doc = d, .chunks = c, .nchunks = n};
    memset(res, 0, sizeof *res);
    int rc = store_put_many(s, &it, 1, err, errlen);
    if (!rc && (rc = it.rc) != 0) snprintf(err, errlen, "%s", it.err);
    if (!rc) *res = it.res;
    return rc;
}

int store_put_many(store_t *s, store_put_item_t *items, size_t n, char *err, size_t errlen)
{
    double created0 = clock_epoch();
    pthread_mutex_lock(&s->wmu);
    int rc = store_exec(s->w, "BEGIN IMMEDIATE", err, errlen);
    for (size_t i = 0; !rc && i < n; i++) {
        store_put_item_t *it = &items[i];
        double created = created0;
        memset(&it->res, 0, sizeof it->res);
        it->err[0] = '\0';
        if (it->doc->nmeta > DOC_META_MAX) {
            snprintf(it->err, sizeof it->err, "more than %d metadata keys", DOC_META_MAX);
            it->rc = -EINVAL;
            continue;
        }
        if ((rc = wexec(s, W_SAVEPOINT)) != 0) {
            store_sql_err(s->w, err, errlen, "SAVEPOINT doc");
            break;
        }
        if ((it->rc = put_replace_old(s, it->doc->id, &it->res, &created)) != 0 ||
            (it->rc = put_document(s, it->doc, it->nchunks, created, it->err, sizeof it->err)) !=
                0 ||
            (it->rc = put_chunks(s, it->doc->id, it->chunks, it->nchunks, &it->res, it->err,
                                 sizeof it->err)) != 0) {
            wexec(s, W_ROLLBACK_TO);
            store_put_result_free(&it->res);
        }
        if ((rc = wexec(s, W_RELEASE)) != 0) store_sql_err(s->w, err, errlen, "RELEASE doc");
    }
    if (!rc && sqlite3_exec(s->w, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = store_sql_err(s->w, err, errlen, "committing");
    if (rc) {
        sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
        for (size_t i = 0; i < n; i++) {
            store_put_result_free(&items[i].res);
            if (!items[i].rc) items[i].rc = rc;
            if (!items[i].err[0]) snprintf(items[i].err, sizeof items[i].err, "%s", err);
        }
    }
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

void store_put_result_free(store_put_result_t *r)
{
    free(r->old_ids);
    free(r->new_ids);
    memset(r, 0, sizeof *r);
}

int store_delete(store_t *s, const char *id, int64_t **ids, size_t *n)
{
    sqlite3 *db = s->w;
    pthread_mutex_lock(&s->wmu);
    int rc = store_exec(db, "BEGIN IMMEDIATE", NULL, 0);
    if (rc) goto out;
    sqlite3_stmt *st;
    bool exists = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM documents WHERE id = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        exists = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    if (!exists) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        rc = -ENOENT;
        goto out;
    }
    if ((rc = ids_of_doc(s, id, ids, n)) == 0 && (rc = delete_doc(s, id)) == 0 &&
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        goto out;
    if (rc == 0) rc = -EIO;
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    free(*ids);
    *ids = NULL;
    *n = 0;
out:
    pthread_mutex_unlock(&s->wmu);
    return rc;
}
