#include "rag/fuse.h"

#include <errno.h>
#include <stdlib.h>

struct fused {
    int64_t id;
    double score;
};

static int cmp_fused(const void *a, const void *b)
{
    const struct fused *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : (x->id > y->id) - (x->id < y->id);
}

/* h[i]'s score scaled by the list's best h[0] and worst h[n-1], times w; a
 * list of equal scores gives each hit the whole weight. */
static double scaled(const vindex_hit_t *h, size_t n, size_t i, double w)
{
    double hi = h[0].score, lo = h[n - 1].score;
    return hi > lo ? w * (h[i].score - lo) / (hi - lo) : w;
}

long fuse_scores(const vindex_hit_t *v, size_t nv, const vindex_hit_t *kw, size_t nk, double w,
                 size_t k, vindex_hit_t *out)
{
    struct fused *f = malloc((nv + nk + 1) * sizeof *f);
    size_t n = 0;
    if (!f) return -ENOMEM;
    for (size_t i = 0; i < nv; i++) f[n++] = (struct fused){v[i].id, scaled(v, nv, i, w)};
    for (size_t i = 0; i < nk; i++) {
        size_t j = 0; /* lists are at most 100 deep: a linear look-up is fine */
        while (j < nv && f[j].id != kw[i].id) j++;
        double s = scaled(kw, nk, i, 1 - w);
        if (j < nv)
            f[j].score += s;
        else
            f[n++] = (struct fused){kw[i].id, s};
    }
    qsort(f, n, sizeof *f, cmp_fused);
    size_t m = n < k ? n : k;
    for (size_t i = 0; i < m; i++) out[i] = (vindex_hit_t){f[i].id, (float)f[i].score};
    free(f);
    return (long)m;
}
