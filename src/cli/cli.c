#include "cli/cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/vec.h"

#define FILE_MAX ((size_t)1 << 30) /* the server refuses far less; this bounds our memory */

long cli_http_call(const char *method, const char *url, const char *ctype, const char *key,
                   const void *body, size_t len, double timeout, buf_t *out, char *err,
                   size_t errlen)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, errlen, "cannot start libcurl");
        return 0;
    }
    struct curl_slist *h = NULL;
    char hdr[512];
    if (ctype) {
        snprintf(hdr, sizeof hdr, "Content-Type: %s", ctype);
        h = curl_slist_append(h, hdr);
    }
    if (key && *key) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, hdr);
    }
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    buf_putc(out, '\0');
    out->len--;
    return status;
}

void cli_error_message(const buf_t *body, long status, char *out, size_t n)
{
    json_t *j = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    snprintf(out, n, "HTTP %ld: %s", status, m ? m : body->len ? body->data : "(no body)");
    json_decref(j);
}

/* ---- ingest ------------------------------------------------------------------ */

void cli_path_id(const char *rel, char *out, size_t size)
{
    size_t n = strlen(rel), max = size - 1 < 128 ? size - 1 : 128, k = 0;
    const char *s = rel;
    if (n > max) { /* keep the end (the file name), mark the cut with a hash */
        uint64_t h = hash_fnv1a(HASH_FNV_OFFSET, rel, n);
        k = (size_t)snprintf(out, size, "%08x-", (unsigned)(h >> 32));
        s = rel + n - (max - k);
    }
    for (; *s && k < max; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        out[k++] = ok ? c : '-';
    }
    out[k] = '\0';
}

static const char *mime_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/')) return NULL;
    static const struct {
        const char *ext, *mime;
    } m[] = {{".txt", "text/plain"},         {".text", "text/plain"}, {".md", "text/markdown"},
             {".markdown", "text/markdown"}, {".html", "text/html"},  {".htm", "text/html"},
             {".pdf", "application/pdf"}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcasecmp(dot, m[i].ext) == 0) return m[i].mime;
    return NULL;
}

struct file {
    char *path, *rel;
    off_t size;
};

static struct {
    struct file *v;
    size_t n, cap;
    const char *root;
    size_t rootlen;
} files;

static int add_file(const char *path, const char *rel, off_t size)
{
    if (vec_reserve((void **)&files.v, &files.cap, files.n + 1, 64, sizeof *files.v))
        return -ENOMEM;
    files.v[files.n++] = (struct file){strdup(path), strdup(rel), size};
    return 0;
}

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (type != FTW_F || !S_ISREG(st->st_mode) || !mime_of(path)) return 0;
    const char *rel = path + files.rootlen;
    while (*rel == '/') rel++;
    return add_file(path, rel, st->st_size);
}

static void progress(size_t done, size_t total, double bytes, double total_bytes, double t0,
                     bool final)
{
    double dt = clock_now() - t0, rate = dt > 0 ? bytes / dt : 0;
    double eta = rate > 0 ? (total_bytes - bytes) / rate : 0;
    int width = 30, fill = total ? (int)(width * done / total) : width;
    fprintf(stderr, "\r[%.*s%.*s] %zu/%zu files  %.1f MB  %.2f MB/s  ETA %d:%02d ", fill,
            "==============================", width - fill, "                              ", done,
            total, bytes / 1e6, rate / 1e6, (int)eta / 60, (int)eta % 60);
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

const char *cli_flag_value(int *i, int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc) return argv[++*i];
    return NULL;
}

/* Adds a PATH argument to the list: a file, or a directory's files by
 * extension. 0, or -errno (a list cut short would look like a successful
 * ingest). */
static int collect_path(const char *path, const struct stat *st)
{
    if (S_ISDIR(st->st_mode)) {
        files.root = path;
        files.rootlen = strlen(path);
        int rc = nftw(path, walk_one, 32, FTW_PHYS); /* walk_one's -errno, or -1 */
        return rc == -1 ? -errno : rc;
    }
    const char *base = strrchr(path, '/');
    return add_file(path, base ? base + 1 : path, st->st_size);
}

/* Uploads one file: its id from its path; its title its name for plain
 * text, and for HTML, Markdown and PDF the document's own (<title>, the
 * first heading, the PDF's metadata title), which the server finds. The HTTP
 * status (0 when nothing was sent), the chunks made in *chunks, and the
 * reason of a failure in err. */
static long upload_one(const struct file *f, const char *server, const char *key, size_t *chunks,
                       char *err, size_t errlen)
{
    char id[160], url[2048];
    buf_t body, resp = BUF_INIT;
    buf_init(&body, FILE_MAX);
    FILE *fp = fopen(f->path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s", strerror(errno));
        return 0;
    }
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, fp)) > 0) buf_append(&body, tmp, n);
    fclose(fp);
    long status = 0;
    if (buf_error(&body)) {
        snprintf(err, errlen, "too large to read");
    } else {
        cli_path_id(f->rel, id, sizeof id);
        const char *base = strrchr(f->rel, '/');
        const char *mime = mime_of(f->path);
        bool own = strcmp(mime, "text/plain") != 0;
        char *title = own ? NULL : curl_easy_escape(NULL, base ? base + 1 : f->rel, 0);
        snprintf(url, sizeof url, "%s/v1/documents?id=%s%s%s", server, id, title ? "&title=" : "",
                 title ? title : "");
        curl_free(title);
        status = cli_http_call("POST", url, mime_of(f->path), key, body.data ? body.data : "",
                               body.len, 600, &resp, err, errlen);
        if (status == 200 || status == 201) {
            json_t *j = json_loadb(resp.data, resp.len, 0, NULL);
            *chunks += (size_t)json_integer_value(json_object_get(j, "chunks"));
            json_decref(j);
        } else if (status) {
            cli_error_message(&resp, status, err, errlen);
        }
    }
    buf_free(&body);
    buf_free(&resp);
    return status;
}

/* ---- batches ----------------------------------------------------------------------- */

#define BATCH_FILES 100
#define BATCH_BYTES ((size_t)8 << 20) /* of NDJSON; the server's default cap is 32 MiB */
/* Batches in flight at once: while the server commits one (under its write
 * lock) it prepares the next (parse, chunk, embed) on its other cores. */
#define SENDERS 2

/* What became of the files: shared by the senders and the main thread. */
typedef struct tally {
    pthread_mutex_t mu;
    size_t ok, failed, chunks;
    buf_t failures;
} tally_t;

typedef struct batch {
    buf_t nd;                   /* one JSON document per line */
    size_t idx[BATCH_FILES], n; /* the files of the lines */
    enum { B_FREE, B_QUEUED, B_SENDING } state;
    unsigned long seq; /* the order batches were queued in */
} batch_t;

/* The batches being filled, waiting and sent: the main thread fills a free
 * one and queues it; SENDERS threads send the oldest queued. */
typedef struct sendq {
    const char *server, *key;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch_t b[SENDERS + 1];
    unsigned long queued;
    bool done; /* no more batches will be queued */
    tally_t *tally;
} sendq_t;

static void tally_failure(tally_t *t, const char *path, const char *why)
{
    pthread_mutex_lock(&t->mu);
    t->failed++;
    buf_printf(&t->failures, "  %s: %s\n", path, why);
    pthread_mutex_unlock(&t->mu);
}

/* Adds file i as a line; false when it must go alone (a PDF, a file that
 * cannot be read or is not UTF-8: the single upload says why). */
static bool batch_add(batch_t *b, size_t i)
{
    const struct file *f = &files.v[i];
    const char *mime = mime_of(f->path);
    if (!strcmp(mime, "application/pdf") || f->size > (off_t)BATCH_BYTES) return false;
    buf_t data = BUF_INIT;
    FILE *fp = fopen(f->path, "rb");
    if (!fp) return false;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, fp)) > 0) buf_append(&data, tmp, n);
    fclose(fp);
    char id[160];
    cli_path_id(f->rel, id, sizeof id);
    const char *base = strrchr(f->rel, '/');
    json_t *content = buf_error(&data) ? NULL : json_stringn(data.data ? data.data : "", data.len);
    buf_free(&data);
    if (!content) return false; /* not UTF-8 */
    json_t *j = json_pack("{s:s,s:o,s:s}", "id", id, "content", content, "content_type", mime);
    if (j && !strcmp(mime, "text/plain")) /* the others have their own */
        json_object_set_new(j, "title", json_string(base ? base + 1 : f->rel));
    char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!line) return false;
    buf_puts(&b->nd, line);
    buf_putc(&b->nd, '\n');
    free(line);
    b->idx[b->n++] = i;
    return true;
}

/* Sends the batch and counts each file's result. */
static void batch_send(sendq_t *q, batch_t *b)
{
    char url[2048], err[512] = "";
    snprintf(url, sizeof url, "%s/v1/documents/batch", q->server);
    buf_t resp = BUF_INIT;
    long status = cli_http_call("POST", url, "application/x-ndjson", q->key, b->nd.data, b->nd.len,
                                600, &resp, err, sizeof err);
    json_t *j = status == 200 ? json_loadb(resp.data, resp.len, 0, NULL) : NULL;
    json_t *results = json_object_get(j, "results");
    if (status && status != 200) cli_error_message(&resp, status, err, sizeof err);
    for (size_t k = 0; k < b->n; k++) {
        json_t *r = json_array_get(results, k);
        json_t *e = json_object_get(r, "error");
        if (r && !e) {
            pthread_mutex_lock(&q->tally->mu);
            q->tally->ok++;
            q->tally->chunks += (size_t)json_integer_value(json_object_get(r, "chunks"));
            pthread_mutex_unlock(&q->tally->mu);
            continue;
        }
        const char *m = json_string_value(json_object_get(e, "message"));
        tally_failure(q->tally, files.v[b->idx[k]].path, m ? m : err[0] ? err : "no answer for it");
    }
    json_decref(j);
    buf_free(&resp);
}

static void *sender_main(void *arg)
{
    sendq_t *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        batch_t *next = NULL;
        for (int i = 0; i <= SENDERS; i++)
            if (q->b[i].state == B_QUEUED && (!next || q->b[i].seq < next->seq)) next = &q->b[i];
        if (!next) {
            if (q->done) break;
            pthread_cond_wait(&q->cv, &q->mu);
            continue;
        }
        next->state = B_SENDING;
        pthread_mutex_unlock(&q->mu);
        batch_send(q, next);
        pthread_mutex_lock(&q->mu);
        buf_reset(&next->nd);
        next->n = 0;
        next->state = B_FREE;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* True when two files map to one id: then batches go one at a time, and a
 * file sent alone waits for them, so that the later file replaces the
 * earlier, as in the list. */
static bool ids_repeat(void)
{
    char **ids = calloc(files.n ? files.n : 1, sizeof *ids);
    bool repeat = ids == NULL;
    for (size_t i = 0; ids && i < files.n; i++) {
        char id[160];
        cli_path_id(files.v[i].rel, id, sizeof id);
        if (!(ids[i] = strdup(id))) repeat = true;
    }
    if (!repeat) qsort(ids, files.n, sizeof *ids, cmp_str);
    for (size_t i = 1; !repeat && i < files.n; i++) repeat = strcmp(ids[i - 1], ids[i]) == 0;
    for (size_t i = 0; ids && i < files.n; i++) free(ids[i]);
    free(ids);
    return repeat;
}

/* A batch to fill: a free one, waiting for a sender to free one. */
static batch_t *sendq_free(sendq_t *q)
{
    pthread_mutex_lock(&q->mu);
    batch_t *b = NULL;
    while (!b) {
        for (int i = 0; i <= SENDERS && !b; i++)
            if (q->b[i].state == B_FREE) b = &q->b[i];
        if (!b) pthread_cond_wait(&q->cv, &q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return b;
}

/* Waits until no batch is queued or being sent. */
static void sendq_drain(sendq_t *q)
{
    pthread_mutex_lock(&q->mu);
    for (int i = 0; i <= SENDERS; i++)
        while (q->b[i].state != B_FREE) pthread_cond_wait(&q->cv, &q->mu);
    pthread_mutex_unlock(&q->mu);
}

static void sendq_queue(sendq_t *q, batch_t *b)
{
    pthread_mutex_lock(&q->mu);
    b->state = B_QUEUED;
    b->seq = q->queued++;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

int cli_ingest_main(int argc, char **argv)
{
    const char *server = getenv("RAGD_SERVER"), *key = getenv("RAGD_API_KEY");
    if (!server) server = CLI_DEFAULT_SERVER;
    int npaths = 0;
    for (int i = 0; i < argc; i++) {
        const char *v;
        if ((v = cli_flag_value(&i, argc, argv, "--server"))) {
            server = v;
        } else if ((v = cli_flag_value(&i, argc, argv, "--api-key"))) {
            key = v;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: ragd ingest PATH... [--server URL] [--api-key KEY]\n"
                   "Uploads files, and directories recursively (.txt .md .markdown .html .htm "
                   ".pdf).\n");
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "ragd ingest: unknown option '%s'\n", argv[i]);
            return 2;
        } else {
            struct stat st;
            if (stat(argv[i], &st) != 0) { /* a PATH that is not there: a usage error */
                fprintf(stderr, "ragd ingest: %s: %s\n", argv[i], strerror(errno));
                return 2;
            }
            int rc = collect_path(argv[i], &st);
            npaths++;
            if (rc) {
                fprintf(stderr, "ragd ingest: %s: %s\n", argv[i], strerror(-rc));
                return 1;
            }
        }
    }
    if (npaths == 0) {
        fprintf(stderr, "ragd ingest: no PATH given (see ragd ingest --help)\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    bool tty = isatty(2);
    double total = 0, sent = 0, t0 = clock_now();
    for (size_t i = 0; i < files.n; i++) total += (double)files.v[i].size;
    tally_t t = {.failures = BUF_INIT};
    pthread_mutex_init(&t.mu, NULL);
    sendq_t q = {.server = server, .key = key, .tally = &t};
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.cv, NULL);
    for (int i = 0; i <= SENDERS; i++) buf_init(&q.b[i].nd, 0);
    pthread_t senders[SENDERS];
    int nsenders = 0, want = ids_repeat() ? 1 : SENDERS;
    for (; nsenders < want; nsenders++)
        if (pthread_create(&senders[nsenders], NULL, sender_main, &q) != 0) break;
    if (nsenders == 0) {
        fprintf(stderr, "ragd ingest: cannot start a thread\n");
        return 1;
    }
    batch_t *b = sendq_free(&q);
    for (size_t i = 0; i < files.n; i++) {
        /* text, Markdown and HTML go in batches (one commit for many); a
         * PDF (binary), or a file JSON cannot carry, goes alone */
        if (!batch_add(b, i)) {
            char err[512] = "";
            if (want == 1) sendq_drain(&q); /* ids repeat: in the list's order */
            size_t chunks = 0;
            long status = upload_one(&files.v[i], server, key, &chunks, err, sizeof err);
            if (status == 200 || status == 201) {
                pthread_mutex_lock(&t.mu);
                t.ok++;
                t.chunks += chunks;
                pthread_mutex_unlock(&t.mu);
            } else {
                tally_failure(&t, files.v[i].path, err);
            }
        }
        if (b->n && (b->n == BATCH_FILES || b->nd.len >= BATCH_BYTES || i + 1 == files.n)) {
            sendq_queue(&q, b);
            if (i + 1 < files.n) b = sendq_free(&q);
        }
        sent += (double)files.v[i].size;
        if (tty) progress(i + 1, files.n, sent, total, t0, i + 1 == files.n);
    }
    pthread_mutex_lock(&q.mu);
    q.done = true;
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
    for (int i = 0; i < nsenders; i++) pthread_join(senders[i], NULL);
    for (int i = 0; i <= SENDERS; i++) buf_free(&q.b[i].nd);
    pthread_cond_destroy(&q.cv);
    pthread_mutex_destroy(&q.mu);
    pthread_mutex_destroy(&t.mu);
    size_t ok = t.ok, failed = t.failed, chunks = t.chunks;
    buf_t failures = t.failures;
    printf("ingested %zu of %zu files (%.1f MB, %zu chunks) in %.1f s; %zu failed\n", ok, files.n,
           sent / 1e6, chunks, clock_now() - t0, failed);
    if (failed) fprintf(stderr, "failed:\n%s", failures.data);
    buf_free(&failures);
    for (size_t i = 0; i < files.n; i++) {
        free(files.v[i].path);
        free(files.v[i].rel);
    }
    free(files.v);
    curl_global_cleanup();
    return failed ? 1 : 0;
}

/* ---- query ------------------------------------------------------------------- */

int cli_question_args(int argc, char **argv, const char *cmd, const char *usage, bool answer,
                      cli_question_t *q)
{
    *q = (cli_question_t){getenv("RAGD_SERVER"), NULL, "hybrid", 5, 0};
    if (!q->server) q->server = CLI_DEFAULT_SERVER;
    for (int i = 0; i < argc; i++) {
        const char *v;
        if ((v = cli_flag_value(&i, argc, argv, "--server"))) {
            q->server = v;
        } else if ((v = cli_flag_value(&i, argc, argv, "--mode"))) {
            q->mode = v;
        } else if ((v = cli_flag_value(&i, argc, argv, "--top-k"))) {
            q->top_k = strtol(v, NULL, 10);
        } else if (answer && (v = cli_flag_value(&i, argc, argv, "--max-tokens"))) {
            q->max_tokens = strtol(v, NULL, 10);
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("%s", usage);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "ragd %s: unknown option '%s'\n", cmd, argv[i]);
            return 2;
        } else if (!q->text) {
            q->text = argv[i];
        } else {
            fprintf(stderr, "ragd %s: one text only (quote it)\n", cmd);
            return 2;
        }
    }
    if (!q->text) {
        fprintf(stderr, "ragd %s: no text given (see ragd %s --help)\n", cmd, cmd);
        return 2;
    }
    return -1;
}

char *cli_question_body(const cli_question_t *q, bool stream)
{
    json_t *req = json_pack("{s:s,s:I,s:s}", "query", q->text, "top_k", (json_int_t)q->top_k,
                            "mode", q->mode);
    if (req && stream) json_object_set_new(req, "stream", json_true());
    if (req && q->max_tokens > 0)
        json_object_set_new(req, "max_tokens", json_integer(q->max_tokens));
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) fprintf(stderr, "ragd: the text is not valid UTF-8\n");
    return body;
}

int cli_query_main(int argc, char **argv)
{
    cli_question_t q;
    int rc = cli_question_args(argc, argv, "query",
                               "usage: ragd query TEXT [--server URL] [--top-k N] [--mode "
                               "hybrid|vector|keyword]\n",
                               false, &q);
    if (rc >= 0) return rc;
    char *body = cli_question_body(&q, false);
    if (!body) return 2;
    const char *server = q.server, *mode = q.mode;
    rc = 0;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char url[2048], err[512] = "";
    snprintf(url, sizeof url, "%s/v1/query", server);
    buf_t resp = BUF_INIT;
    long status = cli_http_call("POST", url, "application/json", NULL, body, strlen(body), 60,
                                &resp, err, sizeof err);
    free(body);
    if (status != 200) {
        if (status) cli_error_message(&resp, status, err, sizeof err);
        fprintf(stderr, "ragd query: %s\n", err);
        rc = 1;
    } else {
        json_t *j = json_loadb(resp.data, resp.len, 0, NULL), *r;
        size_t i;
        json_t *results = json_object_get(j, "results");
        printf("%zu result%s (%s, %.2f ms%s)\n", json_array_size(results),
               json_array_size(results) == 1 ? "" : "s", mode,
               json_real_value(json_object_get(json_object_get(j, "timings_ms"), "total")),
               json_is_true(json_object_get(j, "cached")) ? ", cached" : "");
        json_array_foreach(results, i, r)
        {
            const char *title = json_string_value(json_object_get(r, "title"));
            const char *section = json_string_value(json_object_get(r, "section"));
            const char *t = json_string_value(json_object_get(r, "text"));
            printf("\n%zu. [%.4f] %s%s(%s #%lld%s%s)\n", i + 1,
                   json_real_value(json_object_get(r, "score")), title && *title ? title : "",
                   title && *title ? " " : "", json_string_value(json_object_get(r, "document_id")),
                   (long long)json_integer_value(json_object_get(r, "chunk_index")),
                   section && *section ? ", " : "", section ? section : "");
            printf("   %.400s%s\n", t ? t : "", t && strlen(t) > 400 ? "..." : "");
        }
        json_decref(j);
    }
    buf_free(&resp);
    curl_global_cleanup();
    return rc;
}
