/* idmap: see idmap.h. */
#include "util/idmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

size_t idmap_find(const idmap_t *m, int64_t id)
{
    if (!m->keys) return SIZE_MAX;
    for (size_t i = idmap_home(m, id);; i = (i + 1) & m->mask) {
        if (m->vals[i] == IDMAP_EMPTY) return SIZE_MAX;
        if (m->keys[i] == id) return i;
    }
}

static int grow(idmap_t *m)
{
    size_t cap = m->keys ? (m->mask + 1) * 2 : 1024;
    if (cap > SIZE_MAX / sizeof(int64_t)) return -ENOMEM;
    int64_t *keys = malloc(cap * sizeof *keys);
    uint32_t *vals = malloc(cap * sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -ENOMEM;
    }
    memset(vals, 0xff, cap * sizeof *vals); /* IDMAP_EMPTY */
    idmap_t old = *m;
    size_t ocap = old.keys ? old.mask + 1 : 0;
    m->keys = keys;
    m->vals = vals;
    m->mask = cap - 1;
    for (size_t i = 0; i < ocap; i++) {
        if (old.vals[i] == IDMAP_EMPTY) continue;
        size_t s = idmap_home(m, old.keys[i]);
        while (vals[s] != IDMAP_EMPTY) s = (s + 1) & m->mask;
        keys[s] = old.keys[i];
        vals[s] = old.vals[i];
    }
    free(old.keys);
    free(old.vals);
    return 0;
}

int idmap_reserve(idmap_t *m, size_t more)
{
    while ((m->used + more) * 2 > (m->keys ? m->mask + 1 : 0))
        if (grow(m)) return -ENOMEM;
    return 0;
}

void idmap_put(idmap_t *m, int64_t id, uint32_t v)
{
    size_t s = idmap_home(m, id);
    while (m->vals[s] != IDMAP_EMPTY) s = (s + 1) & m->mask;
    m->keys[s] = id;
    m->vals[s] = v;
    m->used++;
}

void idmap_del(idmap_t *m, size_t s)
{
    /* backward-shift: keep every probe chain unbroken */
    size_t hole = s;
    for (size_t i = (s + 1) & m->mask; m->vals[i] != IDMAP_EMPTY; i = (i + 1) & m->mask) {
        size_t home = idmap_home(m, m->keys[i]);
        bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
        if (movable) {
            m->keys[hole] = m->keys[i];
            m->vals[hole] = m->vals[i];
            hole = i;
        }
    }
    m->vals[hole] = IDMAP_EMPTY;
    m->used--;
}

void idmap_clear(idmap_t *m)
{
    if (m->keys) memset(m->vals, 0xff, (m->mask + 1) * sizeof *m->vals);
    m->used = 0;
}

size_t idmap_bytes(const idmap_t *m)
{
    return m->keys ? (m->mask + 1) * (sizeof *m->keys + sizeof *m->vals) : 0;
}

void idmap_free(idmap_t *m)
{
    free(m->keys);
    free(m->vals);
    *m = (idmap_t){0};
}
