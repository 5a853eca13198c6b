#include "rag/store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUSY_TIMEOUT_MS 10000

struct reader {
    pthread_mutex_t mu;
    sqlite3 *db;
};

struct store {
    pthread_mutex_t wmu; /* the write connection */
    sqlite3 *w;
    struct reader r[STORE_READERS];
    unsigned next_reader;
    unsigned dim;
};

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

static double now_epoch(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sql_err(sqlite3 *db, char *err, size_t errlen, const char *what)
{
    if (err) snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
    int ec = sqlite3_errcode(db);
    return ec == SQLITE_FULL ? -ENOSPC : ec == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        if (err) snprintf(err, errlen, "%s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

static int open_conn(const char *path, sqlite3 **db, bool readonly, char *err, size_t errlen)
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
    return exec(*db, "PRAGMA foreign_keys=ON", err, errlen);
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

/* Creates or upgrades the schema, and checks or records the embedder. */
static int migrate(sqlite3 *db, const char *embedder, unsigned dim, char *err, size_t errlen)
{
    int rc = exec(db, "BEGIN IMMEDIATE", err, errlen);
    if (rc) return rc;
    char v[256] = "0";
    if ((rc = exec(db, schema_v1[0], err, errlen)) != 0) goto fail;
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
            if ((rc = exec(db, schema_v1[i], err, errlen)) != 0) goto fail;
        char dims[16];
        snprintf(dims, sizeof dims, "%u", dim);
        if (meta_set(db, "embedder", embedder) || meta_set(db, "dimension", dims)) {
            rc = sql_err(db, err, errlen, "recording the schema");
            goto fail;
        }
    }
    if (version < 2)
        for (int i = 0; schema_v2[i]; i++)
            if ((rc = exec(db, schema_v2[i], err, errlen)) != 0) goto fail;
    /* Later migrations: `if (version < 3) { ... }`, each in this transaction. */
    char vs[16];
    snprintf(vs, sizeof vs, "%d", STORE_SCHEMA_VERSION);
    if (version < STORE_SCHEMA_VERSION && meta_set(db, "schema_version", vs)) {
        rc = sql_err(db, err, errlen, "recording the schema version");
        goto fail;
    }
    char have[256] = "", hdim[32] = "";
    meta_get(db, "embedder", have, sizeof have);
    meta_get(db, "dimension", hdim, sizeof hdim);
    if (strcmp(have, embedder) != 0 || (unsigned)strtoul(hdim, NULL, 10) != dim) {
        snprintf(err, errlen,
                 "the store's vectors were made by embedder '%s' with dimension %s, and this "
                 "server is set up for '%s' with dimension %u: vectors of two models must not "
                 "mix. Start with the original embedder, or use a new --data-dir",
                 have, hdim, embedder, dim);
        rc = -EINVAL;
        goto fail;
    }
    return exec(db, "COMMIT", err, errlen);
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int store_open(store_t **out, const char *dir, const char *embedder, unsigned dim, char *err,
               size_t errlen)
{
    char path[1200];
    *out = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
    store_t *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    pthread_mutex_init(&s->wmu, NULL);
    for (int i = 0; i < STORE_READERS; i++) pthread_mutex_init(&s->r[i].mu, NULL);
    s->dim = dim;
    int rc = open_conn(path, &s->w, false, err, errlen);
    if (!rc) rc = exec(s->w, "PRAGMA journal_mode=WAL", err, errlen);
    if (!rc) rc = exec(s->w, "PRAGMA synchronous=FULL", err, errlen);
    if (!rc) rc = migrate(s->w, embedder, dim, err, errlen);
    for (int i = 0; i < STORE_READERS && !rc; i++)
        rc = open_conn(path, &s->r[i].db, true, err, errlen);
    if (rc) {
        store_close(&s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_close(store_t **sp)
{
    store_t *s = sp ? *sp : NULL;
    if (!s) return;
    for (int i = 0; i < STORE_READERS; i++) {
        sqlite3_close_v2(s->r[i].db);
        pthread_mutex_destroy(&s->r[i].mu);
    }
    sqlite3_close_v2(s->w);
    pthread_mutex_destroy(&s->wmu);
    free(s);
    *sp = NULL;
}

/* A read connection: the first free one, else wait on one in turn. */
static struct reader *reader_get(store_t *s)
{
    for (int i = 0; i < STORE_READERS; i++)
        if (pthread_mutex_trylock(&s->r[i].mu) == 0) return &s->r[i];
    struct reader *r =
        &s->r[__atomic_fetch_add(&s->next_reader, 1, __ATOMIC_RELAXED) % STORE_READERS];
    pthread_mutex_lock(&r->mu);
    return r;
}

static void reader_put(struct reader *r)
{
    pthread_mutex_unlock(&r->mu);
}

/* ---- ids ------------------------------------------------------------------ */

static int ids_of_doc(sqlite3 *db, const char *id, int64_t **out, size_t *n)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(db, "SELECT id FROM chunks WHERE doc_id = ? ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                rc = -ENOMEM;
                break;
            }
            *out = p;
        }
        (*out)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    if (rc == 0 && step != SQLITE_DONE) rc = -EIO;
    sqlite3_finalize(st);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Removes a document, its chunks and their FTS rows (inside a transaction). */
static int delete_doc(sqlite3 *db, const char *id)
{
    static const char *const sql[] = {
        "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?1)",
        "DELETE FROM chunks WHERE doc_id = ?1",
        "DELETE FROM documents WHERE id = ?1",
    };
    for (size_t i = 0; i < 3; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) != SQLITE_OK) return -EIO;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return -EIO;
    }
    return 0;
}

/* ---- writes -------------------------------------------------------------- */

int store_put(store_t *s, const store_doc_t *d, const store_chunk_t *c, size_t n,
              store_put_result_t *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    sqlite3 *db = s->w;
    sqlite3_stmt *doc = NULL, *chunk = NULL, *fts = NULL;
    double created = now_epoch();
    int rc;
    pthread_mutex_lock(&s->wmu);
    if ((rc = exec(db, "BEGIN IMMEDIATE", err, errlen)) != 0) goto out;
    if ((rc = ids_of_doc(db, d->id, &res->old_ids, &res->n_old)) != 0) goto fail;
    {
        sqlite3_stmt *st; /* keep created_at across replacements */
        if (sqlite3_prepare_v2(db, "SELECT created_at FROM documents WHERE id = ?", -1, &st,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW) {
                res->replaced = true;
                created = sqlite3_column_double(st, 0);
            }
            sqlite3_finalize(st);
        }
    }
    if (res->replaced && (rc = delete_doc(db, d->id)) != 0) goto fail;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO documents(id, title, content_type, metadata, source, text, "
                           "chunk_count, created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?)",
                           -1, &doc, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO chunks(doc_id, position, section, text, embedding) "
                           "VALUES(?,?,?,?,?)",
                           -1, &chunk, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO chunks_fts(rowid, terms) VALUES(?, ?)", -1, &fts,
                           NULL) != SQLITE_OK) {
        rc = sql_err(db, err, errlen, "preparing the insert");
        goto fail;
    }
    sqlite3_bind_text(doc, 1, d->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(doc, 2, d->title ? d->title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(doc, 3, d->content_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(doc, 4, d->metadata ? d->metadata : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_blob64(doc, 5, d->source ? d->source : "", d->source_len, SQLITE_STATIC);
    sqlite3_bind_text64(doc, 6, d->text ? d->text : "", d->text_len, SQLITE_STATIC, SQLITE_UTF8);
    sqlite3_bind_int64(doc, 7, (sqlite3_int64)n);
    sqlite3_bind_double(doc, 8, created);
    sqlite3_bind_double(doc, 9, now_epoch());
    if (sqlite3_step(doc) != SQLITE_DONE) {
        rc = sql_err(db, err, errlen, "storing the document");
        goto fail;
    }
    res->new_ids = malloc((n ? n : 1) * sizeof *res->new_ids);
    if (!res->new_ids) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(chunk);
        sqlite3_bind_text(chunk, 1, d->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(chunk, 2, (sqlite3_int64)i);
        sqlite3_bind_text(chunk, 3, c[i].section ? c[i].section : "", -1, SQLITE_STATIC);
        sqlite3_bind_text64(chunk, 4, c[i].text, c[i].len, SQLITE_STATIC, SQLITE_UTF8);
        sqlite3_bind_blob64(chunk, 5, c[i].vec, (sqlite3_uint64)s->dim * sizeof(float),
                            SQLITE_STATIC);
        if (sqlite3_step(chunk) != SQLITE_DONE) {
            rc = sql_err(db, err, errlen, "storing a chunk");
            goto fail;
        }
        int64_t cid = sqlite3_last_insert_rowid(db);
        res->new_ids[res->n_new++] = cid;
        sqlite3_reset(fts);
        sqlite3_bind_int64(fts, 1, cid);
        sqlite3_bind_text64(fts, 2, c[i].terms, c[i].terms_len, SQLITE_STATIC, SQLITE_UTF8);
        if (sqlite3_step(fts) != SQLITE_DONE) {
            rc = sql_err(db, err, errlen, "indexing a chunk");
            goto fail;
        }
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = sql_err(db, err, errlen, "committing");
        goto fail;
    }
    rc = 0;
    goto out;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    store_put_result_free(res);
out:
    sqlite3_finalize(doc);
    sqlite3_finalize(chunk);
    sqlite3_finalize(fts);
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
    int rc = exec(db, "BEGIN IMMEDIATE", NULL, 0);
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
    if ((rc = ids_of_doc(db, id, ids, n)) == 0 && (rc = delete_doc(db, id)) == 0 &&
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

/* ---- reads ----------------------------------------------------------------- */

static json_t *metadata_json(const char *text)
{
    json_t *m = text ? json_loads(text, 0, NULL) : NULL;
    return m ? m : json_object();
}

static json_t *doc_row(sqlite3_stmt *st, bool with_text)
{
    json_t *d =
        json_pack("{s:s,s:s,s:s,s:o,s:I,s:f,s:f}", "id", sqlite3_column_text(st, 0), "title",
                  sqlite3_column_text(st, 1), "content_type", sqlite3_column_text(st, 2),
                  "metadata", metadata_json((const char *)sqlite3_column_text(st, 3)), "chunks",
                  (json_int_t)sqlite3_column_int64(st, 4), "created_at",
                  sqlite3_column_double(st, 5), "updated_at", sqlite3_column_double(st, 6));
    if (d && with_text)
        json_object_set_new(d, "text",
                            json_stringn((const char *)sqlite3_column_text(st, 7),
                                         (size_t)sqlite3_column_bytes(st, 7)));
    return d;
}

int store_get(store_t *s, const char *id, json_t **out)
{
    struct reader *r = reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    *out = NULL;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT id, title, content_type, metadata, chunk_count, created_at, "
                           "updated_at, text FROM documents WHERE id = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            *out = doc_row(st, true);
            rc = *out ? 0 : -ENOMEM;
        } else {
            rc = step == SQLITE_DONE ? -ENOENT : -EIO;
        }
        sqlite3_finalize(st);
    }
    reader_put(r);
    return rc;
}

int store_list(store_t *s, size_t limit, const char *after, json_t **out)
{
    struct reader *r = reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    *out = json_array();
    if (sqlite3_prepare_v2(r->db,
                           "SELECT id, title, content_type, metadata, chunk_count, created_at, "
                           "updated_at FROM documents WHERE id > ?1 ORDER BY id LIMIT ?2",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            json_array_append_new(*out, doc_row(st, false));
        rc = step == SQLITE_DONE ? 0 : -EIO;
        sqlite3_finalize(st);
    }
    reader_put(r);
    return rc;
}

int store_counts(store_t *s, int64_t *docs, int64_t *chunks)
{
    struct reader *r = reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks)",
                           -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            *docs = sqlite3_column_int64(st, 0);
            *chunks = sqlite3_column_int64(st, 1);
            rc = 0;
        }
        sqlite3_finalize(st);
    }
    reader_put(r);
    return rc;
}

int store_each_vector(store_t *s, store_vector_fn fn, void *ctx)
{
    struct reader *r = reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(r->db, "SELECT id, embedding FROM chunks", -1, &st, NULL) == SQLITE_OK) {
        int step;
        rc = 0;
        while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
            if ((size_t)sqlite3_column_bytes(st, 1) != s->dim * sizeof(float)) {
                rc = -EINVAL; /* a vector of the wrong size: the store is damaged */
                break;
            }
            rc = fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1));
        }
        if (rc == 0 && step != SQLITE_DONE) rc = -EIO;
        sqlite3_finalize(st);
    }
    reader_put(r);
    return rc;
}

/* " AND json_extract(d.metadata, ?) = ?" for each filter key. */
static void filter_sql(json_t *filter, char *sql, size_t n)
{
    size_t len = strlen(sql);
    const char *key;
    json_t *v;
    json_object_foreach(filter, key, v)
    {
        int k = snprintf(sql + len, n - len, " AND json_extract(d.metadata, ?) = ?");
        if (k < 0 || (size_t)k >= n - len) break;
        len += (size_t)k;
    }
}

static int filter_bind(sqlite3_stmt *st, json_t *filter, int first)
{
    const char *key;
    json_t *v;
    int i = first;
    json_object_foreach(filter, key, v)
    {
        char path[256];
        snprintf(path, sizeof path, "$.\"%s\"", key); /* keys are validated: no quotes */
        sqlite3_bind_text(st, i++, path, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, i++, json_string_value(v), -1, SQLITE_STATIC);
    }
    return i;
}

long store_keyword(store_t *s, const char *match, size_t k, json_t *filter, vindex_hit_t *out)
{
    /* Without a filter, FTS5 alone: its rank is bm25, and ORDER BY rank with
     * a LIMIT keeps only the best k while scanning. */
    char sql[4096] =
        "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?";
    bool filtered = filter && json_object_size(filter);
    if (filtered) {
        snprintf(sql, sizeof sql,
                 "SELECT f.rowid, f.rank FROM chunks_fts f "
                 "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.doc_id "
                 "WHERE chunks_fts MATCH ?");
        filter_sql(filter, sql, sizeof sql - 64);
        strcat(sql, " ORDER BY f.rank LIMIT ?");
    }
    struct reader *r = reader_get(s);
    sqlite3_stmt *st;
    long n = -EIO;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
        int i = filtered ? filter_bind(st, filter, 2) : 2;
        sqlite3_bind_int64(st, i, (sqlite3_int64)k);
        n = 0;
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW && (size_t)n < k)
            out[n++] =
                (vindex_hit_t){sqlite3_column_int64(st, 0), (float)-sqlite3_column_double(st, 1)};
        if (step != SQLITE_DONE && step != SQLITE_ROW) n = -EIO;
        sqlite3_finalize(st);
    }
    reader_put(r);
    return n;
}

int store_term_dfs(store_t *s, const char *const *terms, size_t n, int64_t *dfs)
{
    struct reader *r = reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(r->db, "SELECT doc FROM chunks_vocab WHERE term = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        rc = 0;
        for (size_t i = 0; i < n; i++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, terms[i], -1, SQLITE_STATIC);
            dfs[i] = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        }
        sqlite3_finalize(st);
    }
    reader_put(r);
    return rc;
}

static int idset_add(store_idset_t *set, int64_t id)
{
    if ((set->n + 1) * 2 > (set->keys ? set->mask + 1 : 0)) {
        size_t cap = set->keys ? (set->mask + 1) * 2 : 256;
        int64_t *keys = calloc(cap, sizeof *keys);
        if (!keys) return -ENOMEM;
        for (size_t i = 0; set->keys && i <= set->mask; i++) {
            if (!set->keys[i]) continue;
            size_t h = (size_t)((uint64_t)set->keys[i] * 0x9e3779b97f4a7c15ULL >> 17) & (cap - 1);
            while (keys[h]) h = (h + 1) & (cap - 1);
            keys[h] = set->keys[i];
        }
        free(set->keys);
        set->keys = keys;
        set->mask = cap - 1;
    }
    size_t h = (size_t)((uint64_t)id * 0x9e3779b97f4a7c15ULL >> 17) & set->mask;
    while (set->keys[h] && set->keys[h] != id) h = (h + 1) & set->mask;
    if (!set->keys[h]) set->n++;
    set->keys[h] = id;
    return 0;
}

bool store_idset_has(const store_idset_t *set, int64_t id)
{
    if (!set->keys) return false;
    size_t h = (size_t)((uint64_t)id * 0x9e3779b97f4a7c15ULL >> 17) & set->mask;
    while (set->keys[h]) {
        if (set->keys[h] == id) return true;
        h = (h + 1) & set->mask;
    }
    return false;
}

void store_idset_free(store_idset_t *set)
{
    free(set->keys);
    memset(set, 0, sizeof *set);
}

int store_filter_ids(store_t *s, json_t *filter, store_idset_t *out)
{
    char sql[4096] = "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE 1";
    memset(out, 0, sizeof *out);
    filter_sql(filter, sql, sizeof sql);
    struct reader *r = reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK) {
        filter_bind(st, filter, 1);
        int step;
        rc = 0;
        while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
            rc = idset_add(out, sqlite3_column_int64(st, 0));
        if (rc == 0 && step != SQLITE_DONE) rc = -EIO;
        sqlite3_finalize(st);
    }
    reader_put(r);
    if (rc) store_idset_free(out);
    return rc;
}

int store_results(store_t *s, const vindex_hit_t *hits, size_t n, json_t *results)
{
    struct reader *r = reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT c.doc_id, c.position, d.title, c.section, c.text, d.metadata "
                           "FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        rc = 0;
        for (size_t i = 0; i < n; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, hits[i].id);
            if (sqlite3_step(st) != SQLITE_ROW) continue; /* deleted meanwhile */
            json_t *o = json_pack(
                "{s:s,s:I,s:s,s:s,s:s%,s:f,s:o}", "document_id", sqlite3_column_text(st, 0),
                "chunk_index", (json_int_t)sqlite3_column_int64(st, 1), "title",
                sqlite3_column_text(st, 2), "section", sqlite3_column_text(st, 3), "text",
                sqlite3_column_text(st, 4), (size_t)sqlite3_column_bytes(st, 4), "score",
                (double)hits[i].score, "metadata",
                metadata_json((const char *)sqlite3_column_text(st, 5)));
            if (!o) {
                rc = -ENOMEM;
                break;
            }
            json_array_append_new(results, o);
        }
        sqlite3_finalize(st);
    }
    reader_put(r);
    return rc;
}

int store_check(store_t *s, char *detail, size_t n)
{
    struct reader *r = reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM meta", -1, &st, NULL) == SQLITE_OK) {
        rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -EIO;
        sqlite3_finalize(st);
    }
    if (rc) snprintf(detail, n, "store read failed: %s", sqlite3_errmsg(r->db));
    reader_put(r);
    return rc;
}
