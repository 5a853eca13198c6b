/* routes_rag: HTTP in, rag calls, HTTP out. What a client sends is checked
 * here against the API's rules before any heavy work (rag_json for the
 * wire format); rag's error codes map to statuses in one place
 * (routes_rag_error), and only the handlers answer. */
#include "server/routes_rag.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/jread.h"
#include "http/server.h"
#include "server/rag_json.h"
#include "util/par.h"
#include "util/utf8.h"

#define TITLE_MAX    1024
#define LIST_DEFAULT 50
#define LIST_MAX     1000

int routes_rag_status(int rc, const char **code)
{
    switch (rc) {
    case -EILSEQ:
        *code = "invalid_encoding";
        return 400;
    case -EINVAL:
    case -E2BIG:
    case -ETIMEDOUT:
        *code = "unprocessable_document";
        return 422;
    case -ENETDOWN:
        *code = "embedder_unavailable";
        return 503;
    case -ENOENT:
        *code = "not_found";
        return 404;
    case -ENOSPC:
        *code = "insufficient_storage";
        return 507;
    default:
        *code = "internal";
        return 500;
    }
}

void routes_rag_error(http_request_t *req, int rc, const char *err)
{
    const char *code;
    int status = routes_rag_status(rc, &code);
    if (rc == -ENOSPC)
        http_respond_error(req, status, code, "the disk is full: %s", err);
    else
        http_respond_error(req, status, code, "%s", err[0] || status != 500 ? err : strerror(-rc));
}

/* ---- POST /v1/documents ------------------------------------------------------ */

/* The document of a raw body: its Content-Type, ?id= and ?title=. 0, or
 * -ENOTSUP (a type ragd does not read) with err set. */
static int doc_from_raw(http_request_t *req, const char *ct, rag_doc_in_t *in, char *err,
                        size_t errlen)
{
    int type = doc_type_parse(ct);
    if (type < 0) {
        snprintf(err, errlen,
                 "Content-Type %s is not supported: use application/json, text/plain, "
                 "text/markdown, text/html or application/pdf",
                 ct ? ct : "(none)");
        return -ENOTSUP;
    }
    in->type = (doc_type_t)type;
    in->data = http_request_body(req, &in->len);
    in->id = http_request_query(req, "id");
    in->title = http_request_query(req, "title");
    return 0;
}

/* What every document must be, however it came: -EINVAL with err set. */
static int doc_check(const rag_doc_in_t *in, char *err, size_t errlen)
{
    if (in->id && !rag_json_valid_id(in->id)) {
        snprintf(err, errlen,
                 "'id' must be 1-%d characters of letters, digits, '-', '_', '.' and ':'",
                 DOC_ID_MAX);
        return -EINVAL;
    }
    if (in->title && (strlen(in->title) > TITLE_MAX || !utf8_valid(in->title, strlen(in->title)))) {
        snprintf(err, errlen, "'title' must be UTF-8 of at most %d bytes", TITLE_MAX);
        return -EINVAL;
    }
    if (in->len == 0) {
        snprintf(err, errlen, "the document is empty");
        return -EINVAL;
    }
    return 0;
}

static void h_post_document(http_request_t *req, void *ctx)
{
    routes_rag_opts_t *o = ctx;
    rag_doc_in_t in = {0};
    doc_kv_t kv[DOC_META_MAX];
    json_t *body = NULL;
    char err[512] = "";
    const char *ct = http_request_header(req, "Content-Type");
    int rc;
    if (ct && strncasecmp(ct, "application/json", 16) == 0) {
        if (http_request_json(req, &body, err, sizeof err)) {
            http_respond_error(req, 400, "invalid_json", "%s", err);
            return;
        }
        rc = rag_json_document_in(body, &in, kv, err, sizeof err);
    } else {
        rc = doc_from_raw(req, ct, &in, err, sizeof err);
    }
    if (!rc) rc = doc_check(&in, err, sizeof err);
    if (rc == -ENOTSUP) {
        http_respond_error(req, 415, "unsupported_media_type", "%s", err);
    } else if (rc) {
        http_respond_error(req, 400, "invalid_field", "%s", err);
    } else {
        rag_ingested_t res;
        if ((rc = rag_ingest(o->rag, &in, &res, err, sizeof err)) != 0)
            routes_rag_error(req, rc, err);
        else
            http_respond_json(req, res.replaced ? 200 : 201,
                              json_pack("{s:s,s:I,s:b}", "id", res.id, "chunks",
                                        (json_int_t)res.chunks, "replaced", res.replaced));
    }
    json_decref(body);
}

/* ---- POST /v1/documents/batch ---------------------------------------------------- */

/* One line's error in the results. */
static json_t *line_error(size_t line, const char *code, const char *msg)
{
    json_t *e = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (!e) e = json_pack("{s:s,s:s}", "code", code, "message", "invalid line");
    return json_pack("{s:I,s:o}", "line", (json_int_t)line, "error", e);
}

/* NDJSON: one JSON document per line (as POST /v1/documents takes), all
 * committed in one transaction; per-line results, so one bad line loses
 * nothing of the others. A batch takes a while (about a millisecond a
 * document): it runs on a thread of its own, not on a pool thread. */
typedef struct batch_call {
    routes_rag_opts_t *o;
    http_request_t *req;
} batch_call_t;

static void batch(routes_rag_opts_t *o, http_request_t *req);

static void *batch_main(void *arg)
{
    batch_call_t *c = arg;
    batch(c->o, c->req);
    free(c);
    return NULL;
}

static void h_post_batch(http_request_t *req, void *ctx)
{
    batch_call_t *c = malloc(sizeof *c);
    if (!c) {
        http_respond_error(req, 500, "internal", "out of memory");
        return;
    }
    *c = (batch_call_t){ctx, req};
    int rc = http_request_spawn(req, batch_main, c);
    if (rc) {
        free(c);
        http_respond_error(req, 503, "busy", "cannot start the batch: %s", strerror(-rc));
    }
}

/* One document line of a batch, parsed on its own (by par_for). */
struct batch_line {
    const char *text;
    size_t len, line; /* line: its physical line number, for messages */
    json_t *j;        /* the parsed line, when rc is 0 */
    int rc;
    char *err; /* when rc: the message (malloc'd) */
};

struct batch_parse {
    struct batch_line *lines;
    rag_doc_in_t *ins;
    doc_kv_t (*kv)[DOC_META_MAX];
};

/* Parses line i into ins[i] (borrowing from its JSON): JSON was most of a
 * batch's cost before the pipeline (jansson read 4 MB of Markdown in about
 * half a second; jread has simdjson read it), and lines are independent. */
static void batch_parse_one(void *ctx, size_t i)
{
    struct batch_parse *bp = ctx;
    struct batch_line *l = &bp->lines[i];
    char err[512] = "";
    json_error_t je;
    l->j = jread(l->text, l->len, &je);
    l->rc = -EINVAL;
    if (!json_is_object(l->j))
        snprintf(err, sizeof err, "line %zu: %s", l->line, l->j ? "not a JSON object" : je.text);
    else if ((l->rc = rag_json_document_in(l->j, &bp->ins[i], bp->kv[i], err, sizeof err)) == 0)
        l->rc = doc_check(&bp->ins[i], err, sizeof err);
    if (l->rc) {
        json_decref(l->j);
        l->j = NULL;
        l->err = strdup(err);
    }
}

static void batch(routes_rag_opts_t *o, http_request_t *req)
{
    size_t len;
    const char *body = http_request_body(req, &len), *end = body + len;
    size_t cap = o->max_batch, n = 0, lines = 0, docs = 0; /* lines: physical, for messages */
    struct batch_line *ln = calloc(cap, sizeof *ln);
    json_t *results = json_array();
    rag_doc_in_t *ins = calloc(cap, sizeof *ins);
    rag_batch_item_t *items = calloc(cap, sizeof *items);
    doc_kv_t(*kv)[DOC_META_MAX] = calloc(cap, sizeof *kv);
    size_t *line_of = calloc(cap, sizeof *line_of);
    json_t **slot = calloc(cap, sizeof *slot); /* the results entry of each item */
    if (!ln || !results || !ins || !items || !kv || !line_of || !slot) {
        http_respond_error(req, 500, "internal", "out of memory");
        goto out;
    }
    for (const char *p = body; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t ll = (size_t)(le - p);
        if (ll && p[ll - 1] == '\r') ll--;
        const char *line = p;
        p = nl ? nl + 1 : end;
        lines++;
        if (ll == 0) continue; /* blank lines are allowed */
        if (docs == cap) {
            http_respond_error(req, 413, "payload_too_large",
                               "a batch holds at most %zu documents (--max-batch)", cap);
            goto out;
        }
        ln[docs++] = (struct batch_line){.text = line, .len = ll, .line = lines};
    }
    if (docs == 0) {
        http_respond_error(req, 400, "invalid_field",
                           "the body holds no document: one JSON document per line");
        goto out;
    }
    par_for(docs, o->workers, batch_parse_one, &(struct batch_parse){ln, ins, kv});
    for (size_t i = 0; i < docs; i++) { /* in line order */
        if (ln[i].rc) {
            json_array_append_new(
                results,
                line_error(ln[i].line,
                           ln[i].rc == -ENOTSUP ? "unsupported_media_type" : "invalid_field",
                           ln[i].err ? ln[i].err : "out of memory"));
            continue;
        }
        line_of[n] = ln[i].line;
        items[n].in = &ins[i];
        slot[n] = json_object();
        json_array_append_new(results, slot[n]); /* filled once committed, in line order */
        n++;
    }
    rag_ingest_batch(o->rag, items, n);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(slot[i], "line", json_integer((json_int_t)line_of[i]));
        if (items[i].rc) {
            const char *code;
            routes_rag_status(items[i].rc, &code);
            json_t *e = json_pack("{s:s,s:s}", "code", code, "message", items[i].err);
            json_object_set_new(slot[i], "error", e ? e : json_pack("{s:s}", "code", code));
            continue;
        }
        ok++;
        json_object_set_new(slot[i], "id", json_string(items[i].out.id));
        json_object_set_new(slot[i], "chunks", json_integer((json_int_t)items[i].out.chunks));
        json_object_set_new(slot[i], "replaced", json_boolean(items[i].out.replaced));
    }
    http_respond_json(req, 200,
                      json_pack("{s:O,s:I,s:I}", "results", results, "ingested", (json_int_t)ok,
                                "failed", (json_int_t)(docs - ok)));
out:
    for (size_t i = 0; ln && i < docs; i++) {
        json_decref(ln[i].j);
        free(ln[i].err);
    }
    free(ln);
    json_decref(results);
    free(ins);
    free(items);
    free(kv);
    free(line_of);
    free(slot);
}

/* ---- GET /v1/documents, GET/DELETE /v1/documents/{id} ----------------------- */

static void h_list_documents(http_request_t *req, void *ctx)
{
    routes_rag_opts_t *o = ctx;
    const char *l = http_request_query(req, "limit"), *after = http_request_query(req, "after");
    long limit = LIST_DEFAULT;
    if (l) {
        char *end;
        limit = strtol(l, &end, 10);
        if (*end || limit < 1 || limit > LIST_MAX) {
            http_respond_error(req, 400, "invalid_field", "limit must be 1-%d", LIST_MAX);
            return;
        }
    }
    doc_record_t *docs;
    size_t n;
    int rc = rag_list(o->rag, (size_t)limit, after, &docs, &n);
    if (rc) {
        routes_rag_error(req, rc, "listing the documents failed");
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(list, rag_json_document(&docs[i]));
    json_t *next = (long)n == limit ? json_string(docs[n - 1].id) : json_null();
    for (size_t i = 0; i < n; i++) doc_record_free(&docs[i]);
    free(docs);
    http_respond_json(req, 200, json_pack("{s:o,s:o}", "documents", list, "next", next));
}

static void h_get_document(http_request_t *req, void *ctx)
{
    routes_rag_opts_t *o = ctx;
    const char *id = http_request_param(req, "id");
    doc_record_t doc;
    int rc = rag_get(o->rag, id, &doc);
    if (rc == -ENOENT)
        http_respond_error(req, 404, "not_found", "no document with id '%s'", id);
    else if (rc)
        routes_rag_error(req, rc, "reading the document failed");
    else
        http_respond_json(req, 200, rag_json_document(&doc));
    doc_record_free(&doc);
}

static void h_delete_document(http_request_t *req, void *ctx)
{
    routes_rag_opts_t *o = ctx;
    const char *id = http_request_param(req, "id");
    size_t n;
    int rc = rag_delete(o->rag, id, &n);
    if (rc == -ENOENT)
        http_respond_error(req, 404, "not_found", "no document with id '%s'", id);
    else if (rc)
        routes_rag_error(req, rc, "deleting the document failed");
    else
        http_respond_json(
            req, 200, json_pack("{s:s,s:b,s:I}", "id", id, "deleted", 1, "chunks", (json_int_t)n));
}

/* ---- POST /v1/query ------------------------------------------------------------ */

static void h_query(http_request_t *req, void *ctx)
{
    routes_rag_opts_t *o = ctx;
    json_t *body;
    char err[512] = "";
    if (http_request_json(req, &body, err, sizeof err)) {
        http_respond_error(req, 400, "invalid_json", "%s", err);
        return;
    }
    rag_query_t q = {0};
    doc_kv_t kv[DOC_META_MAX];
    if (rag_json_query_text(json_object_get(body, "query"), o->lim.max_query_bytes, &q, err,
                            sizeof err) ||
        rag_json_query_in(body, &o->lim, &q, kv, err, sizeof err)) {
        http_respond_error(req, 400, "invalid_field", "%s", err);
        goto out;
    }
    rag_answer_t answer;
    int rc = rag_query(o->rag, &q, &answer, err, sizeof err);
    if (rc)
        routes_rag_error(req, rc, err);
    else
        http_respond_json(req, 200, rag_json_answer(&answer));
    rag_answer_release(&answer);
out:
    json_decref(body);
}

int routes_rag_add(http_router_t *r, routes_rag_opts_t *o)
{
    int rc =
        http_router_add(r, HTTP_POST, "/v1/documents", h_post_document, o, HTTP_ROUTE_WRITE, 201);
    if (!rc)
        rc = http_router_add(r, HTTP_POST, "/v1/documents/batch", h_post_batch, o, HTTP_ROUTE_WRITE,
                             200);
    if (!rc) rc = http_router_add(r, HTTP_GET, "/v1/documents", h_list_documents, o, 0, 200);
    if (!rc) rc = http_router_add(r, HTTP_GET, "/v1/documents/{id}", h_get_document, o, 0, 200);
    if (!rc)
        rc = http_router_add(r, HTTP_DELETE, "/v1/documents/{id}", h_delete_document, o,
                             HTTP_ROUTE_WRITE, 200);
    if (!rc) rc = http_router_add(r, HTTP_POST, "/v1/query", h_query, o, 0, 200);
    return rc;
}
