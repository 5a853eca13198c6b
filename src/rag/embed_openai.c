/* The openai embedder: any server with an OpenAI-compatible
 * POST /v1/embeddings (llama.cpp server, Ollama, vLLM, Hugging Face TEI,
 * OpenAI itself) over libcurl.
 *
 * One request per batch: {"model", "input": [texts], "encoding_format":
 * "float"}; the answer's data[i].embedding (placed by data[i].index) must
 * have exactly the configured dimension. Retries with exponential backoff
 * (and jitter; Retry-After when the server gives one) on connection errors,
 * timeouts, 429 and 5xx; other 4xx fail at once. Easy handles are pooled so
 * connections stay alive between calls. The key is sent as a Bearer token. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rag/embed.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/upstream.h"

#define RESPONSE_MAX ((size_t)256 << 20)

typedef struct openai {
    embedder_t base;
    upstream_t up;
    char model[256];
    double timeout_s;
    unsigned retries;
} openai_t;

/* Parses the answer into out; 0 or -EPROTO with a message. */
static int parse_answer(openai_t *o, const buf_t *b, size_t n, float *out, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_loadb(b->data ? b->data : "", b->len, 0, &je);
    json_t *data = json_object_get(j, "data");
    int rc = -EPROTO;
    if (!json_is_array(data) || json_array_size(data) != n) {
        snprintf(err, errlen, "malformed answer: %s",
                 !j ? je.text : "'data' is not an array of one embedding per input");
        goto out;
    }
    unsigned char *seen = calloc(n, 1);
    if (!seen) {
        rc = -ENOMEM;
        goto out;
    }
    size_t i;
    json_t *item;
    json_array_foreach(data, i, item)
    {
        json_t *idx = json_object_get(item, "index"), *emb = json_object_get(item, "embedding");
        size_t at = idx ? (size_t)json_integer_value(idx) : i;
        if (at >= n || seen[at] || !json_is_array(emb) || json_array_size(emb) != o->base.dim) {
            snprintf(err, errlen, "malformed answer: embedding %zu is not an array of %u numbers",
                     i, o->base.dim);
            free(seen);
            goto out;
        }
        seen[at] = 1;
        for (size_t k = 0; k < o->base.dim; k++) {
            json_t *x = json_array_get(emb, k);
            if (!json_is_number(x)) {
                snprintf(err, errlen, "malformed answer: embedding %zu holds a non-number", i);
                free(seen);
                goto out;
            }
            out[at * o->base.dim + k] = (float)json_number_value(x);
        }
    }
    free(seen);
    rc = 0;
out:
    json_decref(j);
    return rc;
}

static int openai_embed(embedder_t *e, const char *const *texts, const size_t *lens, size_t n,
                        float *out, char *err, size_t errlen)
{
    openai_t *o = (openai_t *)e;
    json_t *input = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(input, json_stringn(texts[i], lens[i]));
    json_t *req =
        json_pack("{s:s,s:o,s:s}", "model", o->model, "input", input, "encoding_format", "float");
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) return -ENOMEM;
    struct curl_slist *h = upstream_headers(&o->up);
    int rc = -EIO;
    buf_t resp;
    buf_init(&resp, RESPONSE_MAX);
    for (unsigned attempt = 0;; attempt++) {
        CURL *c = upstream_take(&o->up);
        char cerr[CURL_ERROR_SIZE] = "";
        double retry_after = -1;
        if (!c) {
            rc = -ENOMEM;
            break;
        }
        buf_reset(&resp);
        curl_easy_setopt(c, CURLOPT_URL, o->up.url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, upstream_header_cb);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &retry_after);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000));
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->timeout_s * 1000));
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        CURLcode cc = curl_easy_perform(c);
        long status = 0;
        if (cc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        upstream_give(&o->up, c);
        bool retryable;
        if (cc != CURLE_OK) {
            snprintf(err, errlen, "%s: %s", o->up.url, cerr[0] ? cerr : curl_easy_strerror(cc));
            retryable = true;
        } else if (status == 200) {
            rc = parse_answer(o, &resp, n, out, err, errlen);
            break;
        } else {
            snprintf(err, errlen, "%s answered HTTP %ld: %.200s", o->up.url, status,
                     resp.data ? resp.data : "");
            retryable = status == 429 || status >= 500;
        }
        if (!retryable || attempt >= o->retries) break;
        clock_sleep(upstream_backoff(attempt, retry_after));
    }
    buf_free(&resp);
    curl_slist_free_all(h);
    free(body);
    return rc;
}

static void openai_destroy(embedder_t *e)
{
    openai_t *o = (openai_t *)e;
    upstream_free(&o->up);
    free(o);
}

int embed_openai_new(embedder_t **out, const embed_openai_opts_t *opts)
{
    *out = NULL;
    if (!opts->url || !*opts->url || !opts->model || !*opts->model || opts->dim < 1 ||
        opts->dim > EMBED_MAX_DIM)
        return -EINVAL;
    openai_t *o = calloc(1, sizeof *o);
    if (!o) return -ENOMEM;
    int rc = upstream_init(&o->up, opts->url, "/v1/embeddings", "/embeddings", opts->api_key);
    if (rc) {
        free(o);
        return rc;
    }
    snprintf(o->model, sizeof o->model, "%s", opts->model);
    o->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 30;
    o->retries = opts->retries;
    snprintf(o->base.name, sizeof o->base.name, "openai:%.*s", (int)sizeof o->base.name - 8,
             o->model);
    o->base.dim = opts->dim;
    o->base.embed = openai_embed;
    o->base.destroy = openai_destroy;
    *out = &o->base;
    return 0;
}
