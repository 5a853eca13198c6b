#include "util/upstream.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/random.h"

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int upstream_init(upstream_t *u, const char *url, const char *path, const char *tail,
                  const char *api_key)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    memset(u, 0, sizeof *u);
    size_t n = url ? strlen(url) : 0, t = tail ? strlen(tail) : 0;
    while (n && url[n - 1] == '/') n--;
    if (n == 0 || n + strlen(path) >= sizeof u->url) return -EINVAL;
    pthread_once(&once, curl_init_once);
    bool full = tail && n >= t && strncmp(url + n - t, tail, t) == 0;
    snprintf(u->url, sizeof u->url, "%.*s%s", (int)n, url, full ? "" : path);
    snprintf(u->base, sizeof u->base, "%.*s", (int)n, url);
    if (api_key && *api_key) snprintf(u->auth, sizeof u->auth, "Authorization: Bearer %s", api_key);
    pthread_mutex_init(&u->mu, NULL);
    return 0;
}

void upstream_free(upstream_t *u)
{
    for (size_t i = 0; i < u->npool; i++) curl_easy_cleanup(u->pool[i]);
    for (size_t i = 0; i < u->nmultis; i++) curl_multi_cleanup(u->multis[i]);
    u->npool = u->nmultis = 0;
    pthread_mutex_destroy(&u->mu);
}

CURL *upstream_take(upstream_t *u)
{
    CURL *c = NULL;
    pthread_mutex_lock(&u->mu);
    if (u->npool) c = u->pool[--u->npool];
    pthread_mutex_unlock(&u->mu);
    if (c) {
        curl_easy_reset(c);
        return c;
    }
    return curl_easy_init();
}

void upstream_give(upstream_t *u, CURL *c)
{
    if (!c) return;
    pthread_mutex_lock(&u->mu);
    if (u->npool < UPSTREAM_POOL) {
        u->pool[u->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&u->mu);
    if (c) curl_easy_cleanup(c);
}

CURLM *upstream_take_multi(upstream_t *u)
{
    CURLM *m = NULL;
    pthread_mutex_lock(&u->mu);
    if (u->nmultis) m = u->multis[--u->nmultis];
    pthread_mutex_unlock(&u->mu);
    return m ? m : curl_multi_init();
}

void upstream_give_multi(upstream_t *u, CURLM *m)
{
    if (!m) return;
    pthread_mutex_lock(&u->mu);
    if (u->nmultis < UPSTREAM_POOL) {
        u->multis[u->nmultis++] = m;
        m = NULL;
    }
    pthread_mutex_unlock(&u->mu);
    if (m) curl_multi_cleanup(m);
}

struct curl_slist *upstream_headers(const upstream_t *u)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (u->auth[0]) h = curl_slist_append(h, u->auth);
    return curl_slist_append(h, "Expect:");
}

size_t upstream_header_cb(char *p, size_t size, size_t n, void *retry_after)
{
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
        *(double *)retry_after = strtod(p + 12, NULL);
    return len;
}

double upstream_backoff(unsigned attempt, double retry_after)
{
    double wait = retry_after >= 0
                      ? retry_after
                      : UPSTREAM_BACKOFF_S * (double)(1u << (attempt < 16 ? attempt : 16)) *
                            (0.75 + 0.5 * random_unit());
    return wait < UPSTREAM_WAIT_MAX ? wait : UPSTREAM_WAIT_MAX;
}
