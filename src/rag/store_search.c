/* store_search: metadata filters, and sets of chunk ids.
 *
 * A filter is a conjunction of key = value conditions on the document's
 * metadata rows; keys and values are bound parameters, so any string is
 * safe here whatever the caller validated. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rag/store_int.h"

/* " AND EXISTS (...)" once per condition, on the chunk's document (c.doc_id). */
static int filter_sql(size_t nfilter, char *sql, size_t n)
{
    size_t len = strlen(sql);
    for (size_t i = 0; i < nfilter; i++) {
        int k = snprintf(sql + len, n - len,
                         " AND EXISTS (SELECT 1 FROM doc_meta m WHERE m.doc_id = c.doc_id"
                         " AND m.key = ? AND m.value = ?)");
        if (k < 0 || (size_t)k >= n - len) return -EINVAL;
        len += (size_t)k;
    }
    return 0;
}

static int filter_bind(sqlite3_stmt *st, const doc_kv_t *filter, size_t nfilter, int first)
{
    int i = first;
    for (size_t f = 0; f < nfilter; f++) {
        sqlite3_bind_text(st, i++, filter[f].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, i++, filter[f].value, -1, SQLITE_STATIC);
    }
    return i;
}

/* Big enough for DOC_META_MAX conditions. */
#define FILTER_SQL_MAX (512 + DOC_META_MAX * 128)

/* Steps st (bound, prepared) to its end, adding column 0 of each row to
 * out; finalizes it. 0, -ENOMEM or -EIO. */
static int step_ids(sqlite3_stmt *st, idset_t *out)
{
    int step, rc = 0;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = idset_add(out, sqlite3_column_int64(st, 0));
    if (rc == 0 && step != SQLITE_DONE) rc = -EIO;
    sqlite3_finalize(st);
    return rc;
}

int store_filter_ids(store_t *s, const doc_kv_t *filter, size_t nfilter, idset_t *out)
{
    char sql[FILTER_SQL_MAX] = "SELECT c.id FROM chunks c WHERE 1";
    memset(out, 0, sizeof *out);
    if (nfilter > DOC_META_MAX || filter_sql(nfilter, sql, sizeof sql)) return -EINVAL;
    struct store_reader *r = store_reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK) {
        filter_bind(st, filter, nfilter, 1);
        rc = step_ids(st, out);
    }
    store_reader_put(r);
    if (rc) idset_free(out);
    return rc;
}

int store_chunk_ids(store_t *s, int64_t upto, idset_t *out)
{
    memset(out, 0, sizeof *out);
    struct store_reader *r = store_reader_get(s);
    sqlite3_stmt *st;
    int rc = -EIO;
    if (sqlite3_prepare_v2(r->db, "SELECT id FROM chunks WHERE id <= ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, upto);
        rc = step_ids(st, out);
    }
    store_reader_put(r);
    if (rc) idset_free(out);
    return rc;
}
