#include "rag/cache.h"

#include "util/clock.h"
#include "util/hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *key;
    result_t *value; /* one reference */
    uint64_t hash;
    double expires;
    struct entry *prev, *next; /* LRU list: head most recent */
    struct entry *chain;       /* hash bucket chain */
};

struct cache {
    pthread_mutex_t mu;
    size_t max, n, nbuckets;
    double ttl;
    struct entry **buckets;
    struct entry *head, *tail;
    double (*now)(void);
};

static uint64_t hash_str(const char *s)
{
    return hash_fnv1a(HASH_FNV_OFFSET, s, strlen(s));
}

int cache_new(cache_t **out, size_t max_entries, double ttl_s)
{
    *out = NULL;
    cache_t *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->max = max_entries;
    c->ttl = ttl_s > 0 ? ttl_s : 300;
    c->nbuckets = 64;
    while (c->nbuckets < max_entries) c->nbuckets *= 2;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    c->now = clock_now;
    if (!c->buckets) {
        cache_free(&c);
        return -ENOMEM;
    }
    *out = c;
    return 0;
}

static void unlink_lru(cache_t *c, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(cache_t *c, struct entry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head) c->head->prev = e;
    c->head = e;
    if (!c->tail) c->tail = e;
}

static void remove_entry(cache_t *c, struct entry *e)
{
    struct entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp != e) pp = &(*pp)->chain;
    *pp = e->chain;
    unlink_lru(c, e);
    free(e->key);
    result_unref(&e->value);
    free(e);
    c->n--;
}

static struct entry *find(cache_t *c, const char *key, uint64_t h)
{
    for (struct entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->chain)
        if (e->hash == h && strcmp(e->key, key) == 0) return e;
    return NULL;
}

result_t *cache_get(cache_t *c, const char *key)
{
    if (c->max == 0) return NULL;
    uint64_t h = hash_str(key);
    result_t *r = NULL;
    pthread_mutex_lock(&c->mu);
    struct entry *e = find(c, key, h);
    if (e && e->expires <= c->now()) {
        remove_entry(c, e);
        e = NULL;
    }
    if (e) {
        r = result_ref(e->value);
        unlink_lru(c, e);
        push_front(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    return r;
}

void cache_put(cache_t *c, const char *key, result_t *value)
{
    if (c->max == 0) return;
    uint64_t h = hash_str(key);
    struct entry *e = calloc(1, sizeof *e);
    if (!e || !(e->key = strdup(key))) {
        free(e);
        return; /* a cache that cannot grow only misses */
    }
    e->value = result_ref(value);
    e->hash = h;
    pthread_mutex_lock(&c->mu);
    e->expires = c->now() + c->ttl;
    struct entry *old = find(c, key, h);
    if (old) remove_entry(c, old);
    while (c->n >= c->max && c->tail) remove_entry(c, c->tail);
    e->chain = c->buckets[h & (c->nbuckets - 1)];
    c->buckets[h & (c->nbuckets - 1)] = e;
    push_front(c, e);
    c->n++;
    pthread_mutex_unlock(&c->mu);
}

void cache_clear(cache_t *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->head) remove_entry(c, c->head);
    pthread_mutex_unlock(&c->mu);
}

size_t cache_size(cache_t *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->n;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void cache_set_clock(cache_t *c, double (*now)(void))
{
    c->now = now ? now : clock_now;
}

void cache_free(cache_t **cp)
{
    cache_t *c = cp ? *cp : NULL;
    if (!c) return;
    if (c->buckets) cache_clear(c);
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    free(c);
    *cp = NULL;
}
