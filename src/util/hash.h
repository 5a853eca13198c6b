/* hash: FNV-1a, 64 bits: small, fast on short keys (label values, words,
 * paths), and stable across runs and machines, which the hash embedder
 * needs (its vectors are stored). Not for untrusted keys in tables that an
 * attacker could flood: every table using it here is capped. */
#ifndef RAGD_HASH_H
#define RAGD_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_OFFSET 0xcbf29ce484222325ULL

/* Continues hash h over p[0..n); start with HASH_FNV_OFFSET. */
static inline uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

#endif
