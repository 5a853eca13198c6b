/* idset: a set of chunk ids (positive int64), for the chunks a metadata
 * filter allows: open addressing with linear probing, grown at half full,
 * so a lookup on the vector search's hot path is one or two probes. */
#ifndef RAGD_IDSET_H
#define RAGD_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct idset {
    int64_t *keys; /* 0 marks an empty slot (ids start at 1) */
    size_t mask, n;
} idset_t;

/* Adds id (> 0). 0 or -ENOMEM (the set is unchanged). */
int idset_add(idset_t *set, int64_t id);
bool idset_has(const idset_t *set, int64_t id);
void idset_free(idset_t *set);

#endif
