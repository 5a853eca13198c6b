/* fuse: reciprocal rank fusion (Cormack, Clarke and Buettcher, 2009) of two
 * rankings into one: each hit scores the sum over the lists it is in of
 * 1 / (FUSE_RRF_K + rank), rank from 1. Scores of the inputs are ignored,
 * so rankings of different scales (cosine, bm25) fuse without tuning. */
#ifndef RAGD_FUSE_H
#define RAGD_FUSE_H

#include <stddef.h>

#include "rag/vindex.h"

#define FUSE_RRF_K 60 /* the paper's constant: damps the weight of the very first ranks */

/* Fuses a[0..na) and b[0..nb) (each best first) into out, at most k hits,
 * best first, ties by smaller id. The number of hits, or -ENOMEM. */
long fuse_rrf(const vindex_hit_t *a, size_t na, const vindex_hit_t *b, size_t nb, size_t k,
              vindex_hit_t *out);

#endif
