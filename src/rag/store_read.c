/* store_read: documents and result rows, read through the reader pool.
 * Strings come out as copies owned by the caller's record or result. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rag/store_int.h"
#include "util/hash.h"
#include "util/buf.h"

#define META_SQL "SELECT key, value FROM doc_meta WHERE doc_id = ? ORDER BY key"

/* The metadata of a document, sorted by key, as "key\0value\0" pairs
 * appended to b; *n pairs. st is META_SQL prepared on the connection: one
 * statement serves every hit of a result. 0, -EIO, -ENOMEM. */
static int read_meta(sqlite3_stmt *st, const char *doc_id, buf_t *b, size_t *n)
{
    *n = 0;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, doc_id, -1, SQLITE_TRANSIENT);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        buf_append(b, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0) + 1);
        buf_append(b, sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1) + 1);
        (*n)++;
    }
    if (step != SQLITE_DONE) return -EIO;
    return buf_error(b) ? -ENOMEM : 0;
}

/* Points kv[0..n) at the pairs packed in p. */
static void unpack_meta(const char *p, doc_kv_t *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kv[i].key = p;
        p += strlen(p) + 1;
        kv[i].value = p;
        p += strlen(p) + 1;
    }
}

/* A record from a row (id, title, content_type, chunk_count, created_at,
 * updated_at[, text]): every string in one allocation. */
static int doc_row(sqlite3_stmt *meta, sqlite3_stmt *st, bool with_text, doc_record_t *out)
{
    memset(out, 0, sizeof *out);
    buf_t b = BUF_INIT;
    size_t off[4], nmeta;
    for (int c = 0; c < 3; c++) {
        off[c] = b.len;
        buf_append(&b, sqlite3_column_text(st, c), (size_t)sqlite3_column_bytes(st, c) + 1);
    }
    off[3] = b.len;
    size_t text_len = with_text ? (size_t)sqlite3_column_bytes(st, 6) : 0;
    if (with_text) buf_append(&b, sqlite3_column_text(st, 6), text_len + 1);
    size_t meta_off = b.len;
    int rc = read_meta(meta, (const char *)sqlite3_column_text(st, 0), &b, &nmeta);
    if (!rc && buf_error(&b)) rc = -ENOMEM;
    if (!rc && nmeta && !(out->meta = calloc(nmeta, sizeof *out->meta))) rc = -ENOMEM;
    if (rc) {
        buf_free(&b);
        return rc;
    }
    char *mem = buf_steal(&b, NULL);
    out->mem = mem;
    out->id = mem + off[0];
    out->title = mem + off[1];
    out->content_type = mem + off[2];
    out->text = with_text ? mem + off[3] : NULL;
    out->text_len = text_len;
    out->nmeta = nmeta;
    unpack_meta(mem + meta_off, out->meta, nmeta);
    out->chunks = sqlite3_column_int64(st, 3);
    out->created_at = sqlite3_column_double(st, 4);
    out->updated_at = sqlite3_column_double(st, 5);
    return 0;
}

#define DOC_COLUMNS "id, title, content_type, chunk_count, created_at, updated_at"

int store_get(store_t *s, const char *id, bool with_text, doc_record_t *out)
{
    struct store_reader *r = store_reader_get(s);
    sqlite3_stmt *st = NULL, *meta = NULL;
    int rc = -EIO;
    memset(out, 0, sizeof *out);
    if (sqlite3_prepare_v2(r->db, "SELECT " DOC_COLUMNS ", text FROM documents WHERE id = ?", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(r->db, META_SQL, -1, &meta, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            rc = doc_row(meta, st, with_text, out);
        else
            rc = step == SQLITE_DONE ? -ENOENT : -EIO;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(meta);
    store_reader_put(r);
    return rc;
}

int store_list(store_t *s, size_t limit, const char *after, doc_record_t **out, size_t *n)
{
    struct store_reader *r = store_reader_get(s);
    sqlite3_stmt *st = NULL, *meta = NULL;
    int rc = -EIO;
    *n = 0;
    *out = calloc(limit ? limit : 1, sizeof **out);
    if (!*out) {
        store_reader_put(r);
        return -ENOMEM;
    }
    if (sqlite3_prepare_v2(r->db,
                           "SELECT " DOC_COLUMNS " FROM documents WHERE id > ?1 ORDER BY id "
                           "LIMIT ?2",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(r->db, META_SQL, -1, &meta, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
        int step;
        rc = 0;
        while (rc == 0 && *n < limit && (step = sqlite3_step(st)) == SQLITE_ROW)
            if ((rc = doc_row(meta, st, false, &(*out)[*n])) == 0) (*n)++;
        if (rc == 0 && *n < limit && step != SQLITE_DONE) rc = -EIO;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(meta);
    store_reader_put(r);
    if (rc) {
        for (size_t i = 0; i < *n; i++) doc_record_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Whether this text was given already (hashes of the texts given so far). */
static bool seen_text(uint64_t *seen, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        if (seen[i] == h) return true;
    return false;
}

int store_results(store_t *s, const vindex_hit_t *hits, size_t n, const store_pick_t *pick,
                  result_t *out)
{
    struct store_reader *r = store_reader_get(s);
    size_t limit = pick && pick->limit ? pick->limit : n,
           per_doc = pick ? pick->max_per_document : 0;
    uint64_t *texts = calloc(limit ? limit : 1, sizeof *texts);
    if (!texts) {
        store_reader_put(r);
        return -ENOMEM;
    }
    sqlite3_stmt *st = NULL, *mst = NULL;
    int rc = -EIO;
    buf_t meta = BUF_INIT;
    doc_kv_t kv[DOC_META_MAX];
    if (sqlite3_prepare_v2(r->db,
                           "SELECT c.doc_id, c.position, d.title, c.section, c.text "
                           "FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id = ?",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(r->db, META_SQL, -1, &mst, NULL) == SQLITE_OK) {
        rc = 0;
        for (size_t i = 0; i < n && rc == 0 && out->n < limit; i++) {
            sqlite3_reset(st);
            sqlite3_bind_int64(st, 1, hits[i].id);
            if (sqlite3_step(st) != SQLITE_ROW) continue; /* deleted meanwhile */
            const char *doc_id = (const char *)sqlite3_column_text(st, 0);
            const char *text = (const char *)sqlite3_column_text(st, 4);
            size_t text_len = (size_t)sqlite3_column_bytes(st, 4);
            uint64_t th = hash_fnv1a(HASH_FNV_OFFSET, text ? text : "", text_len);
            if (pick && seen_text(texts, out->n, th)) continue; /* the same words, once */
            if (per_doc) {
                size_t of_doc = 0;
                for (size_t k = 0; k < out->n; k++)
                    of_doc += !strcmp(out->hits[k].document_id, doc_id);
                if (of_doc >= per_doc) continue;
            }
            texts[out->n] = th;
            size_t nmeta;
            buf_reset(&meta);
            if ((rc = read_meta(mst, doc_id, &meta, &nmeta)) != 0) break;
            if (nmeta > DOC_META_MAX) nmeta = DOC_META_MAX; /* put never stores more */
            unpack_meta(meta.data, kv, nmeta);
            result_hit_t h = {.document_id = doc_id,
                              .chunk_index = sqlite3_column_int64(st, 1),
                              .title = (const char *)sqlite3_column_text(st, 2),
                              .section = (const char *)sqlite3_column_text(st, 3),
                              .text = text,
                              .text_len = text_len,
                              .score = hits[i].score,
                              .meta = kv,
                              .nmeta = nmeta};
            rc = result_add(out, &h);
        }
    }
    sqlite3_finalize(st);
    sqlite3_finalize(mst);
    buf_free(&meta);
    free(texts);
    store_reader_put(r);
    return rc;
}

int store_counts(store_t *s, int64_t *docs, int64_t *chunks)
{
    struct store_reader *r = store_reader_get(s);
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
    store_reader_put(r);
    return rc;
}

int store_last_chunk_id(store_t *s, int64_t *last)
{
    struct store_reader *r = store_reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    *last = 0;
    if (sqlite3_prepare_v2(r->db, "SELECT seq FROM sqlite_sequence WHERE name = 'chunks'", -1, &st,
                           NULL) == SQLITE_OK) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) *last = sqlite3_column_int64(st, 0);
        rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -EIO;
        sqlite3_finalize(st);
    }
    store_reader_put(r);
    return rc;
}

/* Steps "SELECT id, ... FROM chunks WHERE id > ? ORDER BY id" from after,
 * calling row for each; stops at row's first non-zero code. */
static int each_row(store_t *s, const char *sql, int64_t after,
                    int (*row)(store_t *s, sqlite3_stmt *st, void *fn, void *ctx), void *fn,
                    void *ctx)
{
    struct store_reader *r = store_reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, after);
        int step;
        rc = 0;
        while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) rc = row(s, st, fn, ctx);
        if (rc == 0 && step != SQLITE_DONE) rc = -EIO;
        sqlite3_finalize(st);
    }
    store_reader_put(r);
    return rc;
}

static int vector_row(store_t *s, sqlite3_stmt *st, void *fn, void *ctx)
{
    if ((size_t)sqlite3_column_bytes(st, 1) != s->dim * sizeof(float))
        return -EINVAL; /* a vector of the wrong size: the store is damaged */
    return ((store_vector_fn)fn)(ctx, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1));
}

int store_each_vector(store_t *s, int64_t after, store_vector_fn fn, void *ctx)
{
    return each_row(s, "SELECT id, embedding FROM chunk_vectors WHERE id > ? ORDER BY id", after,
                    vector_row, (void *)fn, ctx);
}

static int copy_vector(void *ctx, int64_t id, const float *vec)
{
    (void)id;
    float **out = ctx;
    memcpy(out[0], vec, (size_t)(out[1] - out[0]) * sizeof *vec);
    return 1;
}

int store_vector(store_t *s, int64_t id, float *out)
{
    float *span[2] = {out, out + s->dim};
    int rc = each_row(s, "SELECT id, embedding FROM chunk_vectors WHERE id = ?", id, vector_row,
                      (void *)copy_vector, span);
    return rc == 1 ? 0 : rc ? rc : -ENOENT;
}

static int text_row(store_t *s, sqlite3_stmt *st, void *fn, void *ctx)
{
    const char *section = (const char *)sqlite3_column_text(st, 1);
    const char *text = (const char *)sqlite3_column_text(st, 2);
    size_t len = (size_t)sqlite3_column_bytes(st, 2);
    return ((store_text_fn)fn)(ctx, sqlite3_column_int64(st, 0), section ? section : "",
                               text ? text : "", len);
}

int store_each_text(store_t *s, int64_t after, store_text_fn fn, void *ctx)
{
    return each_row(s, "SELECT id, section, text FROM chunks WHERE id > ? ORDER BY id", after,
                    text_row, (void *)fn, ctx);
}

int store_check(store_t *s, char *detail, size_t n)
{
    struct store_reader *r = store_reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM meta", -1, &st, NULL) == SQLITE_OK) {
        rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -EIO;
        sqlite3_finalize(st);
    }
    if (rc) snprintf(detail, n, "store read failed: %s", sqlite3_errmsg(r->db));
    store_reader_put(r);
    return rc;
}
