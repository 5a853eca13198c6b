#include "rag/rerank.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/upstream.h"

#define ANSWER_MAX ((size_t)16 << 20)

struct reranker {
    upstream_t up;
    char model[256];
    double timeout_s;
};

int rerank_new(reranker_t **out, const rerank_opts_t *o)
{
    *out = NULL;
    reranker_t *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    int rc = upstream_init(&r->up, o->url, "/rerank", "/rerank", o->api_key);
    if (rc) {
        free(r);
        return rc;
    }
    snprintf(r->model, sizeof r->model, "%s", o->model ? o->model : "");
    r->timeout_s = o->timeout_s > 0 ? o->timeout_s : 5;
    *out = r;
    return 0;
}

void rerank_free(reranker_t **rp)
{
    reranker_t *r = rp ? *rp : NULL;
    if (!r) return;
    upstream_free(&r->up);
    free(r);
    *rp = NULL;
}

/* Reads [{"index","score"}] (TEI) or {"results":[{"index","relevance_score"}]}
 * into scores; every index once. 0 or -EPROTO. */
static int parse(const buf_t *b, size_t n, double *scores, char *err, size_t errlen)
{
    json_t *j = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    json_t *list = json_is_array(j) ? j : json_object_get(j, "results");
    const char *field = json_is_array(j) ? "score" : "relevance_score";
    bool *seen = calloc(n ? n : 1, sizeof *seen);
    int rc = -EPROTO;
    size_t i, got = 0;
    json_t *item;
    if (!json_is_array(list) || !seen) goto out;
    json_array_foreach(list, i, item)
    {
        json_t *idx = json_object_get(item, "index"), *s = json_object_get(item, field);
        if (!json_is_integer(idx) || !json_is_number(s)) goto out;
        json_int_t k = json_integer_value(idx);
        if (k < 0 || (size_t)k >= n || seen[k]) goto out;
        seen[k] = true;
        scores[k] = json_number_value(s);
        got++;
    }
    if (got == n) rc = 0;
out:
    if (rc)
        snprintf(err, errlen, "the reranker's answer is not a score for each of the %zu texts", n);
    free(seen);
    json_decref(j);
    return rc;
}

int rerank_score(reranker_t *r, const char *query, const char *const *texts, const size_t *lens,
                 size_t n, double *scores, char *err, size_t errlen)
{
    if (n == 0) return 0;
    json_t *docs = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(docs, json_stringn(texts[i], lens[i]));
    json_t *req = json_pack("{s:s,s:O,s:o,s:I,s:b}", "query", query, "texts", docs, "documents",
                            docs, "top_n", (json_int_t)n, "raw_scores", 0);
    if (req && r->model[0]) json_object_set_new(req, "model", json_string(r->model));
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) return -ENOMEM;
    struct curl_slist *h = upstream_headers(&r->up);
    CURL *c = upstream_take(&r->up);
    buf_t out;
    buf_init(&out, ANSWER_MAX);
    char cerr[CURL_ERROR_SIZE] = "";
    long status = 0;
    int rc = -ENOMEM;
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, r->up.url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(r->timeout_s * 1000));
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        CURLcode cc = curl_easy_perform(c);
        if (cc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        upstream_give(&r->up, c);
        if (cc != CURLE_OK) {
            snprintf(err, errlen, "%.300s: %.256s", r->up.url,
                     cerr[0] ? cerr : curl_easy_strerror(cc));
            rc = -ENETDOWN;
        } else if (status != 200) {
            snprintf(err, errlen, "%.300s answered HTTP %ld", r->up.url, status);
            rc = -EIO;
        } else {
            rc = parse(&out, n, scores, err, errlen);
        }
    }
    buf_free(&out);
    curl_slist_free_all(h);
    free(body);
    return rc;
}
