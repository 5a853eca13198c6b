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

long fuse_rrf(const vindex_hit_t *a, size_t na, const vindex_hit_t *b, size_t nb, size_t k,
              vindex_hit_t *out)
{
    struct fused *f = malloc((na + nb + 1) * sizeof *f);
    size_t n = 0;
    if (!f) return -ENOMEM;
    for (size_t i = 0; i < na; i++) f[n++] = (struct fused){a[i].id, 1.0 / (FUSE_RRF_K + i + 1)};
    for (size_t i = 0; i < nb; i++) {
        size_t j = 0;
        while (j < n && f[j].id != b[i].id) j++;
        double s = 1.0 / (FUSE_RRF_K + i + 1);
        if (j < n)
            f[j].score += s;
        else
            f[n++] = (struct fused){b[i].id, s};
    }
    qsort(f, n, sizeof *f, cmp_fused);
    size_t m = n < k ? n : k;
    for (size_t i = 0; i < m; i++) out[i] = (vindex_hit_t){f[i].id, (float)f[i].score};
    free(f);
    return (long)m;
}
