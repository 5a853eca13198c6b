#include "rag/idset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IDSET_MIX 0x9e3779b97f4a7c15ULL /* Fibonacci hashing: spreads sequential ids */

/* The first slot to probe for id in a table of mask + 1 slots. */
static size_t slot(int64_t id, size_t mask)
{
    return (size_t)((uint64_t)id * IDSET_MIX >> 17) & mask;
}

int idset_add(idset_t *set, int64_t id)
{
    if ((set->n + 1) * 2 > (set->keys ? set->mask + 1 : 0)) {
        size_t cap = set->keys ? (set->mask + 1) * 2 : 256;
        int64_t *keys = calloc(cap, sizeof *keys);
        if (!keys) return -ENOMEM;
        for (size_t i = 0; set->keys && i <= set->mask; i++) {
            if (!set->keys[i]) continue;
            size_t h = slot(set->keys[i], cap - 1);
            while (keys[h]) h = (h + 1) & (cap - 1);
            keys[h] = set->keys[i];
        }
        free(set->keys);
        set->keys = keys;
        set->mask = cap - 1;
    }
    size_t h = slot(id, set->mask);
    while (set->keys[h] && set->keys[h] != id) h = (h + 1) & set->mask;
    if (!set->keys[h]) set->n++;
    set->keys[h] = id;
    return 0;
}

bool idset_has(const idset_t *set, int64_t id)
{
    if (!set->keys) return false;
    size_t h = slot(id, set->mask);
    while (set->keys[h]) {
        if (set->keys[h] == id) return true;
        h = (h + 1) & set->mask;
    }
    return false;
}

void idset_free(idset_t *set)
{
    free(set->keys);
    memset(set, 0, sizeof *set);
}
