/* inv_seg: a segment file of rag/inv, read through a read-only mapping
 * (see inv.h; layout in inv_int.h). Opening checks the crc32 of every
 * section but the postings (about 25 bytes a chunk: tens of milliseconds at
 * a million chunks) and that every table points inside the file; the
 * postings are checked as they are decoded, so damaged bytes there give
 * -EIO or wrong hits, never a read outside the mapping. */
#include "rag/inv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "rag/inv_int.h"

/* check()'s answer for a segment of another format: not damage, an
 * upgrade (the caller builds the index again either way) */
static const char another_format[] =
    "a segment of another format (this ragd reads format " INV_VERSION_S ")";

static int damaged(const char *path, const char *why, char *err, size_t errlen)
{
    if (err && why == another_format)
        snprintf(err, errlen, "%s: %s", path, why);
    else if (err)
        snprintf(err, errlen, "%s: damaged segment (%s)", path, why);
    return -EIO;
}

static uLong crc_of(uLong crc, const unsigned char *p, uint64_t n)
{
    for (uInt step; n; p += step, n -= step) {
        step = n < (1u << 30) ? (uInt)n : (1u << 30);
        crc = crc32(crc, p, step);
    }
    return crc;
}

/* The checks of the open: sections in order inside the file, the crc, and
 * every term's and block's references. NULL or what is wrong. */
static const char *check(const inv_seg_t *g)
{
    const struct inv_hdr *h = g->hdr;
    if (memcmp(h->magic, INV_MAGIC, 8) != 0) return "not a segment";
    if (h->version != INV_VERSION || h->block != INV_BLOCK) return another_format;
    if (h->size != g->size) return "size";
    if (h->ids_off != sizeof *h || h->lens_off != h->ids_off + (uint64_t)h->ndocs * 8 ||
        h->data_off < h->lens_off + (uint64_t)h->ndocs * 4 || h->blocks_off < h->data_off ||
        h->blocks_off % 8 || h->dict_off < h->blocks_off + h->nblocks * sizeof(struct inv_block) ||
        h->dict_off % 8 ||
        h->names_off != h->dict_off + (uint64_t)h->nterms * sizeof(struct inv_term) ||
        h->names_off > h->size)
        return "sections";
    struct inv_hdr copy = *h;
    copy.crc = 0;
    uLong crc = crc_of(crc32(0, NULL, 0), g->map + h->ids_off, h->data_off - h->ids_off);
    crc = crc_of(crc, g->map + h->blocks_off, h->size - h->blocks_off);
    if ((uint32_t)crc32(crc, (const Bytef *)&copy, sizeof copy) != h->crc) return "checksum";
    uint64_t data_len = h->blocks_off - h->data_off, total = 0;
    for (uint32_t d = 0; d < h->ndocs; d++) {
        if (d && g->ids[d] <= g->ids[d - 1]) return "ids";
        total += g->lens[d];
    }
    if (total != h->total_len) return "lengths";
    uint64_t next_block = 0, names_len = h->size - h->names_off;
    for (uint32_t i = 0; i < h->nterms; i++) {
        const struct inv_term *t = &g->dict[i];
        if (t->name_len == 0 || t->name_len > INV_MAX_TERM || t->name_off > names_len ||
            t->name_len > names_len - t->name_off || t->list[0].df == 0 ||
            inv_term_df(t) > h->ndocs || inv_term_df(t) < t->list[0].df)
            return "terms";
        for (int li = 0; li < INV_TIERS; li++) {
            const struct inv_list *l = &t->list[li];
            uint64_t nb = inv_list_blocks(l);
            if (l->block0 != next_block || nb > h->nblocks - l->block0 || l->data_off > data_len ||
                l->data_len > data_len - l->data_off)
                return "terms";
            for (uint64_t b = 0; b < nb; b++) {
                const struct inv_block *k = &g->blocks[l->block0 + b];
                const struct inv_block *prev = b ? k - 1 : NULL;
                if (k->off >= l->data_len || (prev && k->off <= prev->off) || k->last >= h->ndocs ||
                    (prev && k->last <= prev->last) || !(k->max_part >= 0) ||
                    k->max_part > l->max_part)
                    return "blocks";
            }
            next_block += nb;
        }
    }
    if (next_block != h->nblocks) return "blocks";
    return NULL;
}

int inv_seg_open(inv_seg_t **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        if (err) snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(struct inv_hdr)) {
        close(fd);
        return damaged(path, "too short", err, errlen);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        int rc = -errno;
        if (err) snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
        return rc;
    }
    inv_seg_t *g = calloc(1, sizeof *g);
    if (!g) {
        munmap(map, (size_t)st.st_size);
        return -ENOMEM;
    }
    g->map = map;
    g->size = (size_t)st.st_size;
    g->hdr = map;
    const char *why = NULL;
    if (memcmp(g->hdr->magic, INV_MAGIC, 8) != 0 || g->hdr->size != g->size) {
        why = memcmp(g->hdr->magic, INV_MAGIC, 8) != 0 ? "not a segment" : "size";
    } else {
        const struct inv_hdr *h = g->hdr;
        g->ids = (const int64_t *)(g->map + h->ids_off);
        g->lens = (const uint32_t *)(g->map + h->lens_off);
        g->data = g->map + h->data_off;
        g->blocks = (const struct inv_block *)(g->map + h->blocks_off);
        g->dict = (const struct inv_term *)(g->map + h->dict_off);
        g->names = (const char *)(g->map + h->names_off);
        why = check(g);
        g->avgdl = h->ndocs ? (double)h->total_len / h->ndocs : 0;
    }
    if (why) {
        inv_seg_free(&g);
        return damaged(path, why, err, errlen);
    }
    *out = g;
    return 0;
}

void inv_seg_free(inv_seg_t **gp)
{
    inv_seg_t *g = gp ? *gp : NULL;
    if (!g) return;
    munmap((void *)g->map, g->size);
    free(g);
    *gp = NULL;
}

size_t inv_seg_docs(const inv_seg_t *g)
{
    return g->hdr->ndocs;
}

int64_t inv_seg_min_id(const inv_seg_t *g)
{
    return g->hdr->ndocs ? g->ids[0] : 0;
}

int64_t inv_seg_max_id(const inv_seg_t *g)
{
    return g->hdr->ndocs ? g->ids[g->hdr->ndocs - 1] : 0;
}

size_t inv_seg_bytes(const inv_seg_t *g)
{
    return g->size;
}

const int64_t *inv_seg_ids(const inv_seg_t *g, size_t *n)
{
    *n = g->hdr->ndocs;
    return g->ids;
}

bool inv_ids_have(const int64_t *ids, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] == id) return true;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

const struct inv_term *inv_seg_term(const inv_seg_t *g, const char *s, size_t n)
{
    size_t lo = 0, hi = g->hdr->nterms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct inv_term *t = &g->dict[mid];
        int c = memcmp(g->names + t->name_off, s, t->name_len < n ? t->name_len : n);
        if (!c) c = t->name_len < n ? -1 : t->name_len > n;
        if (c == 0) return t;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Reads a varint at *p below end; false when it runs off or overflows. */
static inline bool get_varint(const unsigned char **p, const unsigned char *end, uint32_t *v)
{
    uint32_t x = 0;
    for (int shift = 0; shift < 35 && *p < end; shift += 7) {
        unsigned char c = *(*p)++;
        x |= (uint32_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

int inv_block_decode(const inv_seg_t *g, const struct inv_list *l, uint64_t bi, uint32_t *docs,
                     uint32_t *tfs)
{
    const struct inv_block *k = &g->blocks[l->block0 + bi];
    uint64_t nb = inv_list_blocks(l);
    uint32_t cnt = bi + 1 < nb ? INV_BLOCK : l->df - (uint32_t)(bi * INV_BLOCK);
    const unsigned char *base = g->data + l->data_off;
    const unsigned char *p = base + k->off;
    const unsigned char *end = base + (bi + 1 < nb ? k[1].off : l->data_len);
    uint32_t doc = bi ? k[-1].last : 0;
    for (uint32_t i = 0; i < cnt; i++) {
        uint32_t d;
        if (!get_varint(&p, end, &d) || (i + bi > 0 && d == 0) || d > k->last - doc) return -EIO;
        doc += d;
        docs[i] = doc;
    }
    if (doc != k->last) return -EIO;
    for (uint32_t i = 0; i < cnt; i++)
        if (!get_varint(&p, end, &tfs[i]) || tfs[i] == 0) return -EIO;
    return (int)cnt;
}

double inv_termweight(uint64_t df, uint64_t n)
{
    double tw = ((double)n - (double)df + 0.5) / ((double)df + 0.5);
    if (tw < 2) tw = tw * 0.5 + 1;
    return log(tw) * (INV_K1 + 1);
}

int inv_dfs(inv_seg_t *const *segs, size_t n, const char *const *terms, size_t nterms, int64_t *dfs)
{
    for (size_t i = 0; i < nterms; i++) {
        dfs[i] = 0;
        for (size_t s = 0; s < n; s++) {
            const struct inv_term *t = inv_seg_term(segs[s], terms[i], strlen(terms[i]));
            if (t) dfs[i] += inv_term_df(t);
        }
    }
    return 0;
}
