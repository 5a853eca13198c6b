/* ragd ask: an answer streamed to the terminal, then its sources.
 *
 * POST /v1/answer with "stream": true; the Server-Sent Events are parsed
 * as they come (util/sse): "citations" first, then "delta" pieces printed
 * at once, then "done" (or "error"). The sources listed are those the
 * answer cites by [n], or every context passage when it cites none. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/buf.h"
#include "util/sse.h"

#define EVENT_MAX ((size_t)4 << 20)

typedef struct ask {
    sse_t sse;
    CURL *c;
    long status;
    buf_t body; /* a non-stream answer (an error) */
    buf_t text; /* the answer so far */
    json_t *citations, *done;
    char error[512];
} ask_t;

static int on_event(void *ctx, const char *event, const char *data, size_t len)
{
    ask_t *a = ctx;
    json_t *j = json_loadb(data, len, 0, NULL);
    if (!strcmp(event, "citations")) {
        json_decref(a->citations);
        a->citations = json_incref(json_object_get(j, "citations"));
    } else if (!strcmp(event, "delta")) {
        json_t *t = json_object_get(j, "text");
        if (json_is_string(t)) {
            fwrite(json_string_value(t), 1, json_string_length(t), stdout);
            fflush(stdout);
            buf_append(&a->text, json_string_value(t), json_string_length(t));
        }
    } else if (!strcmp(event, "done")) {
        json_decref(a->done);
        a->done = json_incref(j);
    } else if (!strcmp(event, "error")) {
        const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        snprintf(a->error, sizeof a->error, "%s", m ? m : "the server reported an error");
    }
    json_decref(j);
    return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    ask_t *a = ctx;
    size_t len = size * n;
    if (!a->status) curl_easy_getinfo(a->c, CURLINFO_RESPONSE_CODE, &a->status);
    if (a->status != 200) {
        buf_append(&a->body, p, len);
        return buf_error(&a->body) ? 0 : len;
    }
    return sse_feed(&a->sse, p, len) ? 0 : len;
}

/* True when the text cites [n]. */
static bool cites(const buf_t *text, json_int_t n)
{
    char tag[32];
    int k = snprintf(tag, sizeof tag, "[%lld]", (long long)n);
    for (size_t i = 0; text->data && i + (size_t)k <= text->len; i++)
        if (memcmp(text->data + i, tag, (size_t)k) == 0) return true;
    return false;
}

static void print_sources(const ask_t *a)
{
    size_t i, cited = 0;
    json_t *c;
    json_array_foreach(a->citations, i, c) cited +=
        cites(&a->text, json_integer_value(json_object_get(c, "n")));
    if (json_array_size(a->citations) == 0) return;
    printf("\nSources:\n");
    json_array_foreach(a->citations, i, c)
    {
        json_int_t n = json_integer_value(json_object_get(c, "n"));
        if (cited && !cites(&a->text, n)) continue;
        const char *title = json_string_value(json_object_get(c, "title"));
        const char *section = json_string_value(json_object_get(c, "section"));
        printf("  [%lld] %s%s%s (%s #%lld)\n", (long long)n, title && *title ? title : "(untitled)",
               section && *section ? " - " : "", section ? section : "",
               json_string_value(json_object_get(c, "document_id")),
               (long long)json_integer_value(json_object_get(c, "chunk_index")));
    }
}

int cli_ask_main(int argc, char **argv)
{
    cli_question_t q;
    int rc = cli_question_args(argc, argv, "ask",
                               "usage: ragd ask QUESTION [--server URL] [--top-k N] [--mode "
                               "hybrid|vector|keyword] [--max-tokens N]\n"
                               "Streams the answer of a running ragd, then lists the sources it "
                               "cites.\n",
                               true, &q);
    if (rc >= 0) return rc;
    char *body = cli_question_body(&q, true);
    if (!body) return 2;
    const char *server = q.server;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ask_t a = {.c = curl_easy_init()};
    buf_init(&a.body, 1 << 20);
    buf_init(&a.text, 0);
    sse_init(&a.sse, EVENT_MAX, on_event, &a);
    char url[2048], cerr[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "%s/v1/answer", server);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: text/event-stream");
    curl_easy_setopt(a.c, CURLOPT_URL, url);
    curl_easy_setopt(a.c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(a.c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(a.c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(a.c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(a.c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(a.c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(a.c);
    rc = 0;
    if (cc != CURLE_OK && !a.status) {
        fprintf(stderr, "ragd ask: %s: %s\n", url, cerr[0] ? cerr : curl_easy_strerror(cc));
        rc = 1;
    } else if (a.status != 200) {
        char msg[600];
        cli_error_message(&a.body, a.status, msg, sizeof msg);
        fprintf(stderr, "ragd ask: %s\n", msg);
        rc = 1;
    } else {
        if (a.text.len) putchar('\n');
        if (a.error[0] || !a.done || cc != CURLE_OK) {
            fprintf(stderr, "ragd ask: %s\n", a.error[0] ? a.error : "the answer was cut short");
            rc = 1;
        }
        print_sources(&a);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(a.c);
    sse_free(&a.sse);
    buf_free(&a.body);
    buf_free(&a.text);
    json_decref(a.citations);
    json_decref(a.done);
    free(body);
    curl_global_cleanup();
    return rc;
}
