/* cache: the query cache, an LRU map from a query key (normalised query
 * text and parameters) to the answer (a result_t, held by reference), with
 * a TTL and a cap on entries. Any change to the corpus clears it (cache_clear): a cached answer
 * never outlives the documents it was made from. Thread-safe (one mutex;
 * every operation is a hash lookup and a few pointer moves). */
#ifndef RAGD_CACHE_H
#define RAGD_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "rag/result.h"

typedef struct cache cache_t;

/* max_entries 0 disables the cache (every get misses). */
int cache_new(cache_t **out, size_t max_entries, double ttl_s);
void cache_free(cache_t **c);
/* A new reference to the cached answer (release with result_unref), or
 * NULL on a miss or an expired entry. */
result_t *cache_get(cache_t *c, const char *key);
/* Keeps a reference to value, evicting the least recently used entry when
 * full. Out of memory, it keeps nothing (a later get misses). */
void cache_put(cache_t *c, const char *key, result_t *value);
void cache_clear(cache_t *c);
size_t cache_size(cache_t *c);
/* The clock, settable for tests (seconds; NULL restores the real clock). */
void cache_set_clock(cache_t *c, double (*now)(void));

#endif
