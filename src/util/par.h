/* par: a loop whose iterations run on several threads at once.
 *
 * For a batch of independent items (parsing a batch's lines, preparing its
 * documents): the caller's thread and up to threads - 1 more take the next
 * index until none is left, and par_for returns when all are done. Threads
 * are made per call: a batch costs milliseconds, a thread tens of
 * microseconds. A thread that cannot be made leaves its share to the
 * others: the outcome is the same, only slower. */
#ifndef RAGD_PAR_H
#define RAGD_PAR_H

#include <stddef.h>

/* The most threads one par_for runs. */
#define PAR_MAX_THREADS 64

/* Calls fn(ctx, i) once for each i in [0, n), on up to `threads` threads
 * (the caller's included, never more than n; threads 0 or 1, or n 1: all
 * on the caller's, no thread made). fn must touch only
 * what belongs to its i, or lock. */
void par_for(size_t n, size_t threads, void (*fn)(void *ctx, size_t i), void *ctx);

/* The CPUs online, at least 1 and at most `cap`. */
size_t par_cpus(size_t cap);

#endif
