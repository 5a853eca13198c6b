/* inv_int.h: the segment file of rag/inv, shared by its writer, reader and
 * search (see inv.h). Host byte order: a segment is rebuilt from the store,
 * never moved between machines.
 *
 * File layout, each section 8-byte aligned (data is written as it is
 * encoded, so a merge holds one term's postings at a time):
 *   header                           struct inv_hdr
 *   ids[ndocs]                       int64, ascending: docnum -> chunk id
 *   lens[ndocs]                      uint32: terms in the chunk (bm25's length)
 *   data                             postings: per block, the doc deltas and
 *                                    then the term frequencies, as varints
 *   blocks[nblocks]                  struct inv_block, each term's in a run
 *   dict[nterms]                     struct inv_term, sorted by name (bytes)
 *   names                            the terms' bytes, back to back
 *
 * A term's postings are in blocks of INV_BLOCK (the last one shorter). A
 * block keeps its last docnum (to skip it without decoding) and the highest
 * bm25 part of its postings at the segment's mean length (the search's
 * bound; see inv_search.c for why it bounds the part at any other mean). */
#ifndef RAGD_INV_INT_H
#define RAGD_INV_INT_H

#include <stddef.h>
#include <stdint.h>

#include "rag/inv.h"

#define INV_MAGIC     "ragdinv1"
#define INV_VERSION   2 /* 1: two lists a term, before 2026-12-07 */
#define INV_VERSION_S "2"
#define INV_BLOCK     128 /* postings per block: Lucene's and PISA's choice */
#define INV_END       UINT32_MAX
#define INV_TIER_MIN  4096 /* postings of a term split in tiers */
#define INV_TIERS     3    /* lists of a common term, by bm25 part */
#define INV_K1        1.2  /* bm25 as the index had it under Xapian and FTS5 */
#define INV_B         0.75

struct inv_hdr {
    char magic[8];
    uint32_t version, block;
    uint32_t ndocs, nterms;
    uint64_t nblocks;
    uint64_t total_len; /* sum of lens */
    uint64_t ids_off, lens_off, data_off, blocks_off, dict_off, names_off, size;
    uint32_t crc; /* crc32 of every section but data, this field taken as 0 */
    uint32_t pad;
};

/* A run of postings in docnum order, in blocks. */
struct inv_list {
    uint64_t block0;   /* its first block in blocks */
    uint64_t data_off; /* its bytes, into data */
    uint64_t data_len;
    uint32_t df;    /* postings */
    float max_part; /* highest block max_part */
};

/* A term's postings are one list, or for a common term (INV_TIER_MIN
 * postings or more) INV_TIERS, by bm25 part: list 0 its highest parts,
 * each next one lower ones (the shares: tier_share in inv_write.c). Each
 * list's highest part is lower than the one's before it (see inv_search.c
 * for what that saves). A chunk is in one list of a term. */
struct inv_term {
    uint64_t name_off; /* into names */
    uint32_t name_len; /* bytes, 1..INV_MAX_TERM */
    uint32_t pad;
    struct inv_list list[INV_TIERS]; /* the lists after 0 empty when there is one */
};

struct inv_block {
    uint32_t last;  /* its last docnum */
    uint32_t off;   /* its first byte, from the term's data_off */
    float max_part; /* highest bm25 part in it, at the segment's mean length, rounded up */
};

struct inv_seg {
    const unsigned char *map;
    size_t size;
    const struct inv_hdr *hdr;
    const int64_t *ids;
    const uint32_t *lens;
    const struct inv_term *dict;
    const char *names;
    const struct inv_block *blocks;
    const unsigned char *data;
    double avgdl; /* total_len / ndocs */
};

/* The bm25 part of one posting: tf / (k1 (b len / avgdl + 1 - b) + tf), as
 * Xapian's BM25Weight computes it (without a length floor). The term's
 * weight multiplies it. */
static inline double inv_part(uint32_t tf, uint32_t len, double inv_avgdl)
{
    double t = (double)tf;
    return t / (INV_K1 * ((double)len * inv_avgdl * INV_B + (1 - INV_B)) + t);
}

/* The term's weight for df of n chunks, as Xapian's BM25Weight (k3 1, one
 * occurrence in the query): ln of the Robertson-Sparck Jones ratio, which
 * for a term in more than a third of the chunks is halved and raised by 1
 * so that it stays positive, times k1 + 1. */
double inv_termweight(uint64_t df, uint64_t n);

/* The term named s[0..n) in seg, or NULL. */
const struct inv_term *inv_seg_term(const inv_seg_t *seg, const char *s, size_t n);

static inline uint32_t inv_term_df(const struct inv_term *t)
{
    uint32_t df = 0;
    for (int i = 0; i < INV_TIERS; i++) df += t->list[i].df;
    return df;
}

static inline uint64_t inv_list_blocks(const struct inv_list *l)
{
    return ((uint64_t)l->df + INV_BLOCK - 1) / INV_BLOCK;
}

/* Decodes block bi of list l into docs and tfs (INV_BLOCK each); the
 * count, or -EIO when the bytes do not decode to what the block says. */
int inv_block_decode(const inv_seg_t *seg, const struct inv_list *l, uint64_t bi, uint32_t *docs,
                     uint32_t *tfs);

#endif
