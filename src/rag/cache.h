/* cache: the query cache, an LRU map from a query key (normalised query
 * text and parameters) to the answer's JSON text, with a TTL and a cap on
 * entries. Any change to the corpus clears it (cache_clear): a cached answer
 * never outlives the documents it was made from. Thread-safe (one mutex;
 * every operation is a hash lookup and a few pointer moves). */
#ifndef RAGD_CACHE_H
#define RAGD_CACHE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cache cache_t;

/* max_entries 0 disables the cache (every get misses). */
int cache_new(cache_t **out, size_t max_entries, double ttl_s);
void cache_free(cache_t **c);
/* A copy of the value (caller frees) or NULL on a miss or an expired entry. */
char *cache_get(cache_t *c, const char *key, size_t *len);
/* Stores a copy, evicting the least recently used entry when full. */
void cache_put(cache_t *c, const char *key, const char *value, size_t len);
void cache_clear(cache_t *c);
size_t cache_size(cache_t *c);
/* The clock, settable for tests (seconds; NULL restores the real clock). */
void cache_set_clock(cache_t *c, double (*now)(void));

#endif
