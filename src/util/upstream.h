/* upstream: what ragd's clients of OpenAI-compatible servers share (the
 * embedder, the generator): the endpoint built from a base URL, the key
 * as a Bearer header, a pool of libcurl easy handles so connections stay
 * alive between calls, Retry-After, and backoff with jitter. */
#ifndef RAGD_UPSTREAM_H
#define RAGD_UPSTREAM_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>

#define UPSTREAM_POOL      8
#define UPSTREAM_URL_MAX   1024
#define UPSTREAM_BACKOFF_S 0.2 /* first retry's wait; doubles each time */
#define UPSTREAM_WAIT_MAX  5.0 /* no wait is longer */

typedef struct upstream {
    char url[UPSTREAM_URL_MAX];  /* the endpoint */
    char base[UPSTREAM_URL_MAX]; /* the URL as given, trailing '/' removed */
    char auth[600];              /* "Authorization: Bearer KEY", or "" */
    pthread_mutex_t mu;
    CURL *pool[UPSTREAM_POOL];
    size_t npool;
    CURLM *multis[UPSTREAM_POOL]; /* each keeps its own connection cache */
    size_t nmultis;
} upstream_t;

/* The endpoint: url as given when it already ends in `tail` (a full
 * endpoint such as ".../v1/chat/completions"), else url + path (a server's
 * base URL); tail NULL and path "": the base alone, for a caller that adds
 * its own paths. api_key NULL or "": no Authorization header. Initialises
 * libcurl once per process. 0, or -EINVAL (url empty or too long). */
int upstream_init(upstream_t *u, const char *url, const char *path, const char *tail,
                  const char *api_key);
void upstream_free(upstream_t *u);
/* A handle from the pool (reset) or a new one; NULL without memory. */
CURL *upstream_take(upstream_t *u);
/* Returns a handle to the pool (or frees it when the pool is full). */
void upstream_give(upstream_t *u, CURL *c);
/* A multi handle from the pool (its connections still open) or a new one,
 * for a call that waits in ticks of its own; NULL without memory. Give it
 * back with no easy handle in it. */
CURLM *upstream_take_multi(upstream_t *u);
void upstream_give_multi(upstream_t *u, CURLM *m);
/* Content-Type: application/json, the key, and no Expect: 100-continue
 * (free with curl_slist_free_all). */
struct curl_slist *upstream_headers(const upstream_t *u);
/* A CURLOPT_HEADERFUNCTION that stores a Retry-After in seconds into the
 * double at CURLOPT_HEADERDATA (left as it is when there is none). */
size_t upstream_header_cb(char *p, size_t size, size_t n, void *retry_after);
/* Seconds to wait before retry `attempt` (0 for the first retry):
 * exponential with jitter, or the server's Retry-After when it gave one
 * (>= 0), never over UPSTREAM_WAIT_MAX. */
double upstream_backoff(unsigned attempt, double retry_after);

#endif
