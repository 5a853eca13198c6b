/* fuse: the hybrid ranking, one list made of the vector and the keyword
 * rankings by their scores.
 *
 * Each list's scores are scaled to [0, 1] by its own best and worst
 * (min-max: a cosine and a bm25 have no common scale), and a hit scores
 * w * vector + (1 - w) * keyword, 0 for a side whose list lacks it. Scores,
 * not ranks: reciprocal rank fusion gave the second list's first hit as
 * much as the first list's, and with the hash embedder's weak vector
 * ranking that cost hybrid a fifth of its MRR against keyword search alone
 * on real documentation (README, "Retrieval quality"). Both lists are as
 * deep whatever top_k, so the scaling, and the first k, do not depend on
 * how many are asked. */
#ifndef RAGD_FUSE_H
#define RAGD_FUSE_H

#include <stddef.h>

#include "rag/vindex.h"

/* Fuses the vector hits v[0..nv) and the keyword hits kw[0..nk) (each best
 * first) into out, at most k hits, best first, ties by smaller id; w is the
 * vector side's weight, 0 to 1. The number of hits, or -ENOMEM. */
long fuse_scores(const vindex_hit_t *v, size_t nv, const vindex_hit_t *kw, size_t nk, double w,
                 size_t k, vindex_hit_t *out);

#endif
