/* ragd eval: retrieval quality on a set with known answers.
 *
 *   ragd eval --corpus corpus.jsonl --queries queries.jsonl --qrels qrels.tsv
 *             [--modes vector,keyword,hybrid] [--top-k N] [--json]
 *             [--server URL [--ingest]]
 *
 * The set is in BEIR's format: corpus lines {"_id", "title"?, "text"} (ragd
 * also reads "content_type": text/plain, text/markdown, text/html or
 * application/pdf, and "path" in place of "text": a file, relative to the
 * corpus file's folder, for what JSON cannot carry, a PDF),
 * query lines {"_id", "text"}, and qrels "query-id<TAB>corpus-id<TAB>grade"
 * after a header line. Without --server the corpus is ingested into a
 * scratch data directory by the library itself (hash embedder, default
 * chunking) and removed after; with --server the queries go to a running
 * ragd, whose documents must carry the corpus ids (--ingest posts them
 * first).
 *
 * Each query asks top_k chunks (default 10, as a user would); the ranked
 * list is then read by document (a document counts at its first chunk), and
 * scored against the qrels: MRR@10, nDCG@10 (gain 2^grade - 1), recall@1,
 * recall@10, averaged over the queries that have a relevant document; plus
 * the distinct documents per list (what max_per_document is about). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"
#include "metrics/metrics.h"
#include "rag/rag.h"
#include "server/config.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/vec.h"

#define AT 10 /* the cut of every figure but recall@1 */

typedef struct qrel {
    char *query, *doc;
    int grade;
} qrel_t;

typedef struct set {
    json_t *corpus, *queries; /* arrays of the lines' objects */
    qrel_t *qrels;
    size_t nqrels, cap;
} set_t;

typedef struct figures {
    double mrr, ndcg, r1, r10, docs;
    size_t n;
} figures_t;

/* Reads a JSON Lines file into an array; NULL with a message. Each line
 * has "_id" and "text", or, with files, "path" in place of "text". */
static json_t *read_jsonl(const char *path, bool files)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ragd eval: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    json_t *a = json_array();
    char *line = NULL;
    size_t cap = 0, no = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        no++;
        if (n <= 1) continue;
        json_error_t e;
        json_t *j = json_loadb(line, (size_t)n, 0, &e);
        if (!json_is_object(j) || !json_is_string(json_object_get(j, "_id")) ||
            !(json_is_string(json_object_get(j, "text")) ||
              (files && json_is_string(json_object_get(j, "path"))))) {
            fprintf(stderr, "ragd eval: %s:%zu: not an object with \"_id\" and \"text\"%s%s%s\n",
                    path, no, files ? " (or \"path\")" : "", j ? "" : ": ", j ? "" : e.text);
            json_decref(j);
            json_decref(a);
            a = NULL;
            break;
        }
        json_array_append_new(a, j);
    }
    free(line);
    fclose(f);
    return a;
}

static int read_qrels(const char *path, set_t *s)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "ragd eval: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, no = 0;
    int rc = 0;
    while (getline(&line, &cap, f) > 0) {
        no++;
        char q[512], d[512];
        int g;
        if (sscanf(line, "%511[^\t]\t%511[^\t]\t%d", q, d, &g) != 3) {
            if (no == 1) continue; /* the header */
            if (line[0] == '\n') continue;
            fprintf(stderr, "ragd eval: %s:%zu: want query-id<TAB>corpus-id<TAB>grade\n", path, no);
            rc = -1;
            break;
        }
        if (vec_reserve((void **)&s->qrels, &s->cap, s->nqrels + 1, 64, sizeof *s->qrels)) {
            rc = -1;
            break;
        }
        s->qrels[s->nqrels++] = (qrel_t){strdup(q), strdup(d), g};
    }
    free(line);
    fclose(f);
    return rc;
}

/* A corpus id as ragd's ids allow (cli_path_id); the map back is the
 * corpus itself (ids are compared in this form on both sides). */
static void id_of(const char *corpus_id, char *out, size_t n)
{
    cli_path_id(corpus_id, out, n);
}

/* ---- the two ways to ask ------------------------------------------------------ */

typedef struct engine {
    size_t per_doc_default; /* ragd serve's --max-per-document default */
    rag_t *rag;             /* in process, or */
    const char *server;
    metrics_registry_t *reg;
    char dir[256];
    char corpus_dir[1024]; /* where a corpus line's "path" is found */
} engine_t;

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(p);
}

/* POSTs j (taken) as JSON to the server's path; the HTTP status (0 when
 * none came), the body in out. */
static long post_json(const engine_t *e, const char *path, json_t *j, buf_t *out)
{
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL, url[1024], err[256];
    json_decref(j);
    if (!body) return 0;
    snprintf(url, sizeof url, "%s%s", e->server, path);
    long status = cli_http_call("POST", url, "application/json", NULL, body, strlen(body), 0, out,
                                err, sizeof err);
    free(body);
    return status;
}

/* The bytes of the file a corpus line's "path" names, into *out (caller
 * frees). 0, or -errno with err set. */
static int read_path(const engine_t *e, const char *rel, buf_t *out, char *err, size_t errlen)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", rel[0] == '/' ? "" : e->corpus_dir, rel);
    FILE *f = fopen(rel[0] == '/' ? rel : path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", rel, strerror(errno));
        return -errno;
    }
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(out, tmp, n);
    fclose(f);
    if (buf_error(out)) snprintf(err, errlen, "%s: too large to read", rel);
    return buf_error(out);
}

static int ingest(engine_t *e, json_t *doc, char *err, size_t errlen)
{
    char id[160];
    id_of(json_string_value(json_object_get(doc, "_id")), id, sizeof id);
    const char *title = json_string_value(json_object_get(doc, "title"));
    const char *ct = json_string_value(json_object_get(doc, "content_type"));
    const char *rel = json_string_value(json_object_get(doc, "path"));
    json_t *text = json_object_get(doc, "text");
    buf_t file = BUF_INIT, out = BUF_INIT;
    int rc = rel ? read_path(e, rel, &file, err, errlen) : 0;
    const char *data = rel ? (file.data ? file.data : "") : json_string_value(text);
    size_t len = rel ? file.len : json_string_length(text);
    if (rc) {
        /* nothing to send */
    } else if (e->rag) {
        int type = doc_type_parse(ct ? ct : "text/plain");
        rag_doc_in_t in = {.id = id,
                           .title = title,
                           .type = type < 0 ? DOC_TEXT : (doc_type_t)type,
                           .data = data,
                           .len = len};
        rag_ingested_t res;
        rc = rag_ingest(e->rag, &in, &res, err, errlen);
    } else {
        /* a raw body: what JSON carries and what it cannot (a PDF) alike */
        char url[2048], *t = title ? curl_easy_escape(NULL, title, 0) : NULL;
        snprintf(url, sizeof url, "%s/v1/documents?id=%s%s%s", e->server, id, t ? "&title=" : "",
                 t ? t : "");
        curl_free(t);
        long status = cli_http_call("POST", url, ct ? ct : "text/plain", NULL, data, len, 0, &out,
                                    err, errlen);
        if (status != 200 && status != 201) {
            if (status) cli_error_message(&out, status, err, errlen);
            rc = -EIO;
        }
    }
    buf_free(&file);
    buf_free(&out);
    return rc;
}

/* The ranked document ids of a query (distinct, in order of their first
 * chunk) into docs; returns how many, or -1. *chunks: the list's length. */
static int ask(engine_t *e, const char *text, rag_mode_t mode, size_t top_k, long per_doc,
               char docs[][160], size_t *chunks)
{
    static const char *const names[] = {"hybrid", "vector", "keyword"};
    size_t n = 0;
    *chunks = 0;
#define ADD(id)                                                                                    \
    do {                                                                                           \
        bool seen = false;                                                                         \
        for (size_t k = 0; k < n && !seen; k++) seen = !strcmp(docs[k], (id));                     \
        if (!seen && n < top_k) snprintf(docs[n++], 160, "%s", (id));                              \
        (*chunks)++;                                                                               \
    } while (0)
    if (e->rag) {
        char err[256];
        rag_answer_t a;
        if (rag_query(e->rag,
                      &(rag_query_t){.text = text,
                                     .top_k = top_k,
                                     .mode = mode,
                                     .max_per_document =
                                         per_doc < 0 ? e->per_doc_default : (size_t)per_doc},
                      &a, err, sizeof err)) {
            fprintf(stderr, "ragd eval: query failed: %s\n", err);
            return -1;
        }
        for (size_t i = 0; a.results && i < a.results->n; i++) ADD(a.results->hits[i].document_id);
        rag_answer_release(&a);
        return (int)n;
    }
    json_t *j =
        json_pack("{s:s,s:I,s:s}", "query", text, "top_k", (json_int_t)top_k, "mode", names[mode]);
    if (per_doc >= 0) json_object_set_new(j, "max_per_document", json_integer(per_doc));
    buf_t out = BUF_INIT;
    long status = post_json(e, "/v1/query", j, &out);
    json_t *r = status == 200 ? json_loadb(out.data, out.len, 0, NULL) : NULL;
    buf_free(&out);
    if (!r) {
        fprintf(stderr, "ragd eval: %s/v1/query answered %ld\n", e->server, status);
        return -1;
    }
    size_t i;
    json_t *hit;
    json_array_foreach(json_object_get(r, "results"), i, hit)
        ADD(json_string_value(json_object_get(hit, "document_id")));
    json_decref(r);
#undef ADD
    return (int)n;
}

/* ---- scoring ---------------------------------------------------------------------------- */

static int cmp_desc(const void *a, const void *b)
{
    return *(const int *)b - *(const int *)a;
}

static void score(const set_t *s, const char *qid, char docs[][160], int n, figures_t *f)
{
    int ideal[AT] = {0}, nrel = 0;
    for (size_t i = 0; i < s->nqrels; i++)
        if (!strcmp(s->qrels[i].query, qid) && s->qrels[i].grade > 0) {
            if (nrel < AT) ideal[nrel] = s->qrels[i].grade;
            nrel++;
        }
    if (nrel == 0) return; /* not scored */
    qsort(ideal, nrel < AT ? (size_t)nrel : AT, sizeof *ideal, cmp_desc);
    double dcg = 0, idcg = 0, rr = 0;
    int found1 = 0, found10 = 0;
    for (int i = 0; i < n && i < AT; i++) {
        char id[160];
        int g = 0;
        for (size_t k = 0; k < s->nqrels && !g; k++) {
            if (strcmp(s->qrels[k].query, qid)) continue;
            id_of(s->qrels[k].doc, id, sizeof id);
            if (!strcmp(id, docs[i])) g = s->qrels[k].grade;
        }
        if (g > 0) {
            if (rr == 0) rr = 1.0 / (i + 1);
            dcg += (pow(2, g) - 1) / log2(i + 2);
            found10++;
            if (i == 0) found1++;
        }
    }
    for (int i = 0; i < nrel && i < AT; i++) idcg += (pow(2, ideal[i]) - 1) / log2(i + 2);
    f->mrr += rr;
    f->ndcg += idcg > 0 ? dcg / idcg : 0;
    f->r1 += (double)found1 / nrel;
    f->r10 += (double)found10 / nrel;
    f->docs += n;
    f->n++;
}

/* A weight from 0 to 1, or NAN. */
static double weight_of(const char *s)
{
    char *end;
    double w = strtod(s, &end);
    return end != s && !*end && w >= 0 && w <= 1 ? w : NAN;
}

static int usage(void)
{
    printf("usage: ragd eval --corpus FILE --queries FILE --qrels FILE [--modes "
           "vector,keyword,hybrid] [--top-k N] [--max-per-document N] [--vector-weight W] [--json] "
           "[--server URL "
           "[--ingest]]\n"
           "Retrieval quality on a BEIR-style set: MRR@10, nDCG@10, recall@1, recall@10 per "
           "mode.\n");
    return 0;
}

int cli_eval_main(int argc, char **argv)
{
    const char *corpus = NULL, *queries = NULL, *qrels = NULL, *modes = "vector,keyword,hybrid";
    bool as_json = false, do_ingest = false;
    long top_k = 10, per_doc = -1; /* -1: the default of ragd serve */
    double weight = -1;            /* -1: the default of ragd serve */
    engine_t e = {0};
    for (int i = 0; i < argc; i++) {
        const char *v;
        if ((v = cli_flag_value(&i, argc, argv, "--corpus")))
            corpus = v;
        else if ((v = cli_flag_value(&i, argc, argv, "--queries")))
            queries = v;
        else if ((v = cli_flag_value(&i, argc, argv, "--qrels")))
            qrels = v;
        else if ((v = cli_flag_value(&i, argc, argv, "--modes")))
            modes = v;
        else if ((v = cli_flag_value(&i, argc, argv, "--top-k")))
            top_k = strtol(v, NULL, 10);
        else if ((v = cli_flag_value(&i, argc, argv, "--max-per-document")))
            per_doc = strtol(v, NULL, 10);
        else if ((v = cli_flag_value(&i, argc, argv, "--vector-weight")))
            weight = weight_of(v);
        else if ((v = cli_flag_value(&i, argc, argv, "--server")))
            e.server = v;
        else if (!strcmp(argv[i], "--ingest"))
            do_ingest = true;
        else if (!strcmp(argv[i], "--json"))
            as_json = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage();
        else {
            fprintf(stderr, "ragd eval: unknown argument '%s' (see ragd eval --help)\n", argv[i]);
            return 2;
        }
    }
    if (!corpus || !queries || !qrels || top_k < 1 || top_k > 100 || isnan(weight) ||
        (weight >= 0 && e.server)) {
        fprintf(stderr, "ragd eval: --corpus, --queries and --qrels are required; --top-k 1-100; "
                        "--vector-weight 0-1, and not with --server (the server's own)\n");
        return 2;
    }
    set_t s = {0};
    const char *slash = strrchr(corpus, '/');
    snprintf(e.corpus_dir, sizeof e.corpus_dir, "%.*s", slash ? (int)(slash - corpus) : 1,
             slash ? corpus : ".");
    if (!(s.corpus = read_jsonl(corpus, true)) || !(s.queries = read_jsonl(queries, false)) ||
        read_qrels(qrels, &s)) {
        json_decref(s.corpus);
        json_decref(s.queries);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 0, quiet = open("/dev/null", O_WRONLY | O_CLOEXEC);
    char err[512] = "";
    double t0 = clock_now();
    if (quiet >= 0) log_init(LOG_TEXT, quiet); /* the library's start-up lines: not a report's */
    if (!e.server) { /* a scratch store, in process, with ragd serve's defaults */
        snprintf(e.dir, sizeof e.dir, "/tmp/ragd-eval.XXXXXX");
        embedder_t *emb = NULL;
        config_t c;
        config_defaults(&c);
        e.per_doc_default = c.max_per_document;
        if (!mkdtemp(e.dir) || metrics_registry_new(&e.reg, NULL) ||
            embed_hash_new(&emb, c.embedding_dim) ||
            rag_open(&e.rag,
                     &(rag_opts_t){.data_dir = e.dir,
                                   .vector_weight = weight >= 0 ? weight : c.vector_weight,
                                   .embedder = emb,
                                   .chunk = {c.chunk_tokens, c.chunk_overlap, c.max_chunks},
                                   .parse = {.timeout_s = c.pdf_timeout_s,
                                             .max_memory = (size_t)2 << 30,
                                             .max_pages = 5000},
                                   .reg = e.reg,
                                   .buckets_document = c.buckets_document.v,
                                   .nbuckets_document = c.buckets_document.n,
                                   .buckets_embedding = c.buckets_embedding.v,
                                   .nbuckets_embedding = c.buckets_embedding.n,
                                   .buckets_search = c.buckets_search.v,
                                   .nbuckets_search = c.buckets_search.n},
                     err, sizeof err)) {
            fprintf(stderr, "ragd eval: cannot open a scratch store: %s\n", err);
            rc = 1;
            goto out;
        }
    }
    if (!e.server || do_ingest) {
        size_t i;
        json_t *d;
        json_array_foreach(s.corpus, i, d)
        {
            if (ingest(&e, d, err, sizeof err)) {
                fprintf(stderr, "ragd eval: document %s: %s\n",
                        json_string_value(json_object_get(d, "_id")), err);
                rc = 1;
                goto out;
            }
        }
    }
    double t_ingest = clock_now() - t0;
    json_t *report = json_object();
    if (!as_json)
        printf("%zu documents, %zu queries, %zu judgements; top_k %ld, figures by document\n\n"
               "  %-8s %8s %8s %9s %10s %10s\n",
               json_array_size(s.corpus), json_array_size(s.queries), s.nqrels, top_k, "mode",
               "MRR@10", "nDCG@10", "recall@1", "recall@10", "docs/list");
    char *list = strdup(modes), *save = NULL;
    for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        int mode = rag_mode_parse(m);
        if (mode < 0) {
            fprintf(stderr, "ragd eval: unknown mode '%s'\n", m);
            rc = 2;
            break;
        }
        figures_t f = {0};
        size_t i;
        json_t *q;
        json_array_foreach(s.queries, i, q)
        {
            char docs[100][160];
            size_t chunks;
            int n = ask(&e, json_string_value(json_object_get(q, "text")), (rag_mode_t)mode,
                        (size_t)top_k, per_doc, docs, &chunks);
            if (n < 0) {
                rc = 1;
                break;
            }
            score(&s, json_string_value(json_object_get(q, "_id")), docs, n, &f);
        }
        if (rc) break;
        double k = f.n ? (double)f.n : 1;
        if (as_json)
            json_object_set_new(report, m,
                                json_pack("{s:f,s:f,s:f,s:f,s:f,s:I}", "mrr@10", f.mrr / k,
                                          "ndcg@10", f.ndcg / k, "recall@1", f.r1 / k, "recall@10",
                                          f.r10 / k, "docs_per_list", f.docs / k, "queries",
                                          (json_int_t)f.n));
        else
            printf("  %-8s %8.3f %8.3f %9.3f %10.3f %10.1f\n", m, f.mrr / k, f.ndcg / k, f.r1 / k,
                   f.r10 / k, f.docs / k);
    }
    free(list);
    if (!rc && as_json) {
        json_object_set_new(report, "ingest_seconds", json_real(t_ingest));
        char *s_out = json_dumps(report, JSON_INDENT(2));
        printf("%s\n", s_out);
        free(s_out);
    }
    json_decref(report);
out:
    rag_close(&e.rag);
    metrics_registry_free(&e.reg);
    if (e.dir[0]) nftw(e.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    json_decref(s.corpus);
    json_decref(s.queries);
    for (size_t i = 0; i < s.nqrels; i++) free(s.qrels[i].query), free(s.qrels[i].doc);
    free(s.qrels);
    curl_global_cleanup();
    if (quiet >= 0) close(quiet);
    return rc;
}
