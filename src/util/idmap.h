/* idmap: int64 ids to uint32 values (a row, a slot of another structure),
 * by open addressing with linear probing and backward-shift deletion, so
 * that a lookup is one cache line most of the time and can be fetched
 * ahead (idmap_prefetch). (idmap_t){0} is an empty map. No locking: the
 * caller's.
 *
 *     if ((rc = idmap_reserve(&m, n))) return rc;
 *     for (i = 0; i < n; i++) idmap_put(&m, ids[i], rows[i]);
 *     size_t s = idmap_find(&m, id);
 *     if (s != SIZE_MAX) row = m.vals[s];
 */
#ifndef RAGD_IDMAP_H
#define RAGD_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#define IDMAP_EMPTY UINT32_MAX /* vals of an empty slot (so no value may be it) */

typedef struct idmap {
    int64_t *keys;
    uint32_t *vals;
    size_t mask, used; /* mask: slots - 1 */
} idmap_t;

/* The slot where id's probe starts. */
static inline size_t idmap_home(const idmap_t *m, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 20) & m->mask;
}

/* Fetches the lines where id's probe starts, ahead of idmap_find. */
static inline void idmap_prefetch(const idmap_t *m, int64_t id)
{
    if (!m->keys) return;
    size_t s = idmap_home(m, id);
    __builtin_prefetch(&m->keys[s]);
    __builtin_prefetch(&m->vals[s]);
}

/* id's slot, or SIZE_MAX. */
size_t idmap_find(const idmap_t *m, int64_t id);
/* Room for `more` puts (the map stays at most half full). 0 or -ENOMEM. */
int idmap_reserve(idmap_t *m, size_t more);
/* Adds id (not in the map; room reserved) with value v (not IDMAP_EMPTY). */
void idmap_put(idmap_t *m, int64_t id, uint32_t v);
/* Removes the entry in slot s (from idmap_find). */
void idmap_del(idmap_t *m, size_t s);
/* Removes every entry, keeping the arrays. */
void idmap_clear(idmap_t *m);
/* The bytes its arrays take. */
size_t idmap_bytes(const idmap_t *m);
/* Frees the arrays; the map is empty again. */
void idmap_free(idmap_t *m);

#endif
