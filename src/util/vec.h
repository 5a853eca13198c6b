/* vec: the one way ragd grows an array: doubling, from a first capacity,
 * with the overflow of count * element size checked.
 *
 *     if ((rc = vec_reserve((void **)&b->v, &b->cap, b->n + 1, 16, sizeof *b->v))) return rc;
 *     b->v[b->n++] = item;
 */
#ifndef RAGD_VEC_H
#define RAGD_VEC_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* Makes room for `need` elements of `size` bytes in *v (capacity *cap),
 * doubling from `first`. On failure *v and *cap are unchanged. 0 or
 * -ENOMEM. */
static inline int vec_reserve(void **v, size_t *cap, size_t need, size_t first, size_t size)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : first;
    while (c < need) {
        if (c > SIZE_MAX / 2) return -ENOMEM;
        c *= 2;
    }
    if (c > SIZE_MAX / size) return -ENOMEM;
    void *p = realloc(*v, c * size);
    if (!p) return -ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

#endif
