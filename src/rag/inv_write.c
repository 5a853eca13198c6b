/* inv_write: segment files of rag/inv (see inv.h, layout in inv_int.h),
 * from a builder's chunks or by merging segments. Both go through one
 * writer: the doc table, then each term's postings in name order, encoded
 * in blocks as they come, then the block, term and name tables and the
 * header. The file is written under a temporary name, fsynced and renamed,
 * so a segment file is either whole or absent. */
#include "rag/inv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "rag/inv_int.h"
#include "util/file.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/vec.h"

/* --- the writer ---------------------------------------------------------- */

struct writer {
    FILE *f;
    char tmp[1100];
    uint64_t pos; /* bytes written */
    uint32_t ndocs;
    double inv_avgdl;
    buf_t blocks, dict, names; /* their tables, written at the end */
    double *parts;             /* scratch of writer_term: parts and a copy; 4 posting arrays */
    uint32_t *post;
    size_t parts_cap, post_cap;
    uLong crc;
    int err;
};

static void w_put(struct writer *w, const void *p, size_t n, bool crc)
{
    if (w->err || n == 0) return;
    if (fwrite(p, 1, n, w->f) != n) w->err = errno ? -errno : -EIO;
    if (crc) w->crc = crc32(w->crc, p, (uInt)n);
    w->pos += n;
}

/* Large sections go to crc32 in pieces (its length is a uInt). */
static void w_put_big(struct writer *w, const void *p, size_t n, bool crc)
{
    const char *s = p;
    for (size_t step; n; s += step, n -= step) {
        step = n < (1u << 30) ? n : (1u << 30);
        w_put(w, s, step, crc);
    }
}

static void w_align(struct writer *w, bool crc)
{
    static const char zeros[8];
    if (w->pos % 8) w_put(w, zeros, 8 - w->pos % 8, crc);
}

/* x as a float above x: a block's bound must not round down, and one float
 * step of margin (6e-8 of it) dwarfs the double rounding of the scores it
 * is compared with. */
static float round_up_float(double x)
{
    float f = (float)x;
    return (double)f <= x ? nextafterf(f, INFINITY) : f;
}

/* Starts the file at path's temporary name: a blank header, then the doc
 * table. */
static int writer_begin(struct writer *w, const char *path, const int64_t *ids,
                        const uint32_t *lens, uint32_t ndocs, uint64_t total_len)
{
    memset(w, 0, sizeof *w);
    buf_init(&w->blocks, SIZE_MAX / 4);
    buf_init(&w->dict, SIZE_MAX / 4);
    buf_init(&w->names, SIZE_MAX / 4);
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp", path);
    w->f = fopen(w->tmp, "wb");
    if (!w->f) return -errno;
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    w->ndocs = ndocs;
    w->inv_avgdl = total_len ? (double)ndocs / (double)total_len : 0;
    w->crc = crc32(0, NULL, 0);
    struct inv_hdr blank;
    memset(&blank, 0, sizeof blank);
    w_put(w, &blank, sizeof blank, false); /* the crc takes the real one */
    w_put_big(w, ids, (size_t)ndocs * sizeof *ids, true);
    w_put_big(w, lens, (size_t)ndocs * sizeof *lens, true);
    w_align(w, true);
    return w->err;
}

static unsigned char *put_varint(unsigned char *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

/* Encodes a list's postings (docs ascending, tfs >= 1) in blocks. */
static void writer_list(struct writer *w, struct inv_list *l, const uint32_t *docs,
                        const uint32_t *tfs, uint32_t n, const uint32_t *lens, uint64_t data0)
{
    *l = (struct inv_list){
        .block0 = w->blocks.len / sizeof(struct inv_block), .data_off = w->pos - data0, .df = n};
    unsigned char enc[INV_BLOCK * 10];
    uint32_t prev = 0;
    for (uint32_t b0 = 0; b0 < n && !w->err; b0 += INV_BLOCK) {
        uint32_t cnt = n - b0 < INV_BLOCK ? n - b0 : INV_BLOCK;
        unsigned char *p = enc;
        double max = 0;
        for (uint32_t i = 0; i < cnt; i++) {
            uint32_t d = docs[b0 + i];
            p = put_varint(p, b0 + i == 0 ? d : d - prev);
            prev = d;
            double part = inv_part(tfs[b0 + i], lens[d], w->inv_avgdl);
            if (part > max) max = part;
        }
        for (uint32_t i = 0; i < cnt; i++) p = put_varint(p, tfs[b0 + i]);
        struct inv_block blk = {.last = prev,
                                .off = (uint32_t)(w->pos - data0 - l->data_off),
                                .max_part = round_up_float(max)};
        if (blk.max_part > l->max_part) l->max_part = blk.max_part;
        buf_append(&w->blocks, &blk, sizeof blk);
        w_put(w, enc, (size_t)(p - enc), false);
    }
    l->data_len = w->pos - data0 - l->data_off;
}

/* The k-th largest of a[0..n) (k < n), reordering a (Hoare's selection). */
static double kth_largest(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double pivot = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] > pivot) i++;
            while (a[j] < pivot) j--;
            if (i <= j) {
                double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return a[k];
}

/* The first INV_TIERS - 1 lists of a common term end at its top n / this
 * many postings. 3 tiers of 1/64 and 1/8 were measured against 2 of 1/16
 * (the format before), 3 of 1/32 and 1/4, and 4 of 1/128, 1/32 and 1/8, on
 * queries of common words at a million chunks: 2 tiers were slower, the
 * others as fast within the noise or slower at the 99th percentile. */
static const unsigned tier_share[INV_TIERS - 1] = {64, 8};

/* Makes room for n postings in the writer's scratch arrays. */
static int writer_scratch(struct writer *w, size_t n)
{
    int rc = vec_reserve((void **)&w->parts, &w->parts_cap, 2 * n, 8192, sizeof *w->parts);
    return rc ? rc : vec_reserve((void **)&w->post, &w->post_cap, 2 * n, 16384, sizeof *w->post);
}

/* Adds a term (names in ascending order) and its postings: docs ascending,
 * tfs >= 1, lens the segment's. A common term's postings are split in
 * tiers by part: list i from the top n / tier_share[i] down to the one
 * before's cut (ties in the higher list), the last list the rest. */
static int writer_term(struct writer *w, const char *name, uint32_t nlen, const uint32_t *docs,
                       const uint32_t *tfs, uint32_t n, const uint32_t *lens, uint64_t data0)
{
    struct inv_term t = {.name_off = w->names.len, .name_len = nlen};
    if (n < INV_TIER_MIN) {
        writer_list(w, &t.list[0], docs, tfs, n, lens, data0);
        for (int li = 1; li < INV_TIERS; li++) /* empty, where they would start */
            writer_list(w, &t.list[li], NULL, NULL, 0, lens, data0);
    } else if (!w->err && !(w->err = writer_scratch(w, n))) {
        for (uint32_t i = 0; i < n; i++)
            w->parts[i] = inv_part(tfs[i], lens[docs[i]], w->inv_avgdl);
        double *copy = w->parts + n; /* selection reorders: on a copy */
        memcpy(copy, w->parts, (size_t)n * sizeof *copy);
        double above = INFINITY; /* the tier before's cut */
        for (int li = 0; li < INV_TIERS; li++) {
            double cut = li + 1 < INV_TIERS ? kth_largest(copy, n, n / tier_share[li]) : -INFINITY;
            uint32_t *td = w->post, *tt = td + n, nt = 0;
            for (uint32_t i = 0; i < n; i++)
                if (w->parts[i] >= cut && w->parts[i] < above) {
                    td[nt] = docs[i];
                    tt[nt++] = tfs[i];
                }
            writer_list(w, &t.list[li], td, tt, nt, lens, data0);
            above = cut;
        }
    }
    buf_append(&w->dict, &t, sizeof t);
    buf_append(&w->names, name, nlen);
    if (!w->err) w->err = buf_error(&w->blocks) ? buf_error(&w->blocks) : buf_error(&w->dict);
    if (!w->err) w->err = buf_error(&w->names);
    return w->err;
}

static void writer_abort(struct writer *w)
{
    if (w->f) fclose(w->f);
    w->f = NULL;
    unlink(w->tmp);
    buf_free(&w->blocks);
    buf_free(&w->dict);
    buf_free(&w->names);
    free(w->parts);
    free(w->post);
}

/* Writes the tables and the header, syncs and renames the file to path. */
static int writer_finish(struct writer *w, const char *path, uint64_t data0, uint64_t total_len)
{
    struct inv_hdr h = {.version = INV_VERSION,
                        .block = INV_BLOCK,
                        .ndocs = w->ndocs,
                        .nterms = (uint32_t)(w->dict.len / sizeof(struct inv_term)),
                        .nblocks = w->blocks.len / sizeof(struct inv_block),
                        .total_len = total_len,
                        .ids_off = sizeof h,
                        .data_off = data0};
    memcpy(h.magic, INV_MAGIC, 8);
    h.lens_off = h.ids_off + (uint64_t)w->ndocs * sizeof(int64_t);
    w_align(w, false);
    h.blocks_off = w->pos;
    w_put_big(w, w->blocks.data, w->blocks.len, true);
    w_align(w, true);
    h.dict_off = w->pos;
    w_put_big(w, w->dict.data, w->dict.len, true);
    h.names_off = w->pos;
    w_put_big(w, w->names.data, w->names.len, true);
    w_align(w, true);
    h.size = w->pos;
    h.crc = (uint32_t)crc32(w->crc, (const Bytef *)&h, sizeof h);
    int rc = w->err;
    if (!rc && (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(&h, sizeof h, 1, w->f) != 1)) rc = -EIO;
    if (!rc && fflush(w->f) != 0) rc = -errno;
    if (!rc && fsync(fileno(w->f)) != 0) rc = -errno;
    if (fclose(w->f) != 0 && !rc) rc = -errno;
    w->f = NULL;
    if (!rc && rename(w->tmp, path) != 0) rc = -errno;
    if (!rc) rc = file_sync_dir_of(path);
    if (rc) unlink(w->tmp);
    buf_free(&w->blocks);
    buf_free(&w->dict);
    buf_free(&w->names);
    free(w->parts);
    free(w->post);
    return rc;
}

static int name_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn;
}

/* --- the builder --------------------------------------------------------- */

struct post {
    uint32_t *docs, *tfs;
    size_t n, dcap, tcap;
    uint64_t name_off;
    uint32_t name_len;
};

struct inv_builder {
    buf_t names;
    struct post *posts;
    size_t nposts, pcap;
    uint32_t *slots; /* post index + 1 by hash, 0 empty; grown at half full */
    size_t mask;
    int64_t *ids;
    uint32_t *lens;
    size_t ndocs, icap, lcap;
    uint64_t total_len;
    size_t bytes;
};

int inv_builder_new(inv_builder_t **out)
{
    *out = NULL;
    inv_builder_t *b = calloc(1, sizeof *b);
    if (!b) return -ENOMEM;
    buf_init(&b->names, SIZE_MAX / 4);
    b->mask = 1023;
    b->slots = calloc(b->mask + 1, sizeof *b->slots);
    if (!b->slots) {
        free(b);
        return -ENOMEM;
    }
    *out = b;
    return 0;
}

void inv_builder_free(inv_builder_t **bp)
{
    inv_builder_t *b = bp ? *bp : NULL;
    if (!b) return;
    for (size_t i = 0; i < b->nposts; i++) {
        free(b->posts[i].docs);
        free(b->posts[i].tfs);
    }
    free(b->posts);
    free(b->slots);
    free(b->ids);
    free(b->lens);
    buf_free(&b->names);
    free(b);
    *bp = NULL;
}

size_t inv_builder_docs(const inv_builder_t *b)
{
    return b->ndocs;
}

const int64_t *inv_builder_ids(const inv_builder_t *b, size_t *n)
{
    *n = b->ndocs;
    return b->ids;
}

size_t inv_builder_bytes(const inv_builder_t *b)
{
    return b->bytes + b->names.cap + (b->mask + 1) * sizeof *b->slots + b->pcap * sizeof *b->posts;
}

static int grow_slots(inv_builder_t *b)
{
    size_t mask = b->mask * 2 + 1;
    uint32_t *slots = calloc(mask + 1, sizeof *slots);
    if (!slots) return -ENOMEM;
    for (size_t i = 0; i < b->nposts; i++) {
        const struct post *p = &b->posts[i];
        size_t s = hash_fnv1a(HASH_FNV_OFFSET, b->names.data + p->name_off, p->name_len) & mask;
        while (slots[s]) s = (s + 1) & mask;
        slots[s] = (uint32_t)i + 1;
    }
    free(b->slots);
    b->slots = slots;
    b->mask = mask;
    return 0;
}

/* The posting list of term s[0..n), created when new; NULL: no memory. */
static struct post *term_post(inv_builder_t *b, const char *s, size_t n)
{
    uint64_t h = hash_fnv1a(HASH_FNV_OFFSET, s, n);
    size_t i = h & b->mask;
    for (; b->slots[i]; i = (i + 1) & b->mask) {
        struct post *p = &b->posts[b->slots[i] - 1];
        if (p->name_len == n && memcmp(b->names.data + p->name_off, s, n) == 0) return p;
    }
    if ((b->nposts + 1) * 2 > b->mask) { /* grown before it is half full */
        if (grow_slots(b) != 0) return NULL;
        for (i = h & b->mask; b->slots[i]; i = (i + 1) & b->mask) {
        }
    }
    if (vec_reserve((void **)&b->posts, &b->pcap, b->nposts + 1, 1024, sizeof *b->posts) != 0)
        return NULL;
    uint64_t off = b->names.len;
    buf_append(&b->names, s, n);
    if (buf_error(&b->names)) return NULL;
    b->posts[b->nposts] = (struct post){.name_off = off, .name_len = (uint32_t)n};
    b->slots[i] = (uint32_t)++b->nposts;
    return &b->posts[b->nposts - 1];
}

static int post_add(inv_builder_t *b, struct post *p, uint32_t doc)
{
    if (p->n && p->docs[p->n - 1] == doc) {
        p->tfs[p->n - 1]++;
        return 0;
    }
    size_t before = p->dcap + p->tcap;
    if (vec_reserve((void **)&p->docs, &p->dcap, p->n + 1, 4, sizeof *p->docs) != 0 ||
        vec_reserve((void **)&p->tfs, &p->tcap, p->n + 1, 4, sizeof *p->tfs) != 0)
        return -ENOMEM;
    b->bytes += (p->dcap + p->tcap - before) * 4;
    p->docs[p->n] = doc;
    p->tfs[p->n++] = 1;
    return 0;
}

int inv_builder_add(inv_builder_t *b, int64_t id, const char *terms, size_t len)
{
    if (id < 1 || (b->ndocs && id <= b->ids[b->ndocs - 1])) return -EINVAL;
    if (b->ndocs >= INV_MAX_DOCS) return -E2BIG;
    size_t before = b->icap;
    if (vec_reserve((void **)&b->ids, &b->icap, b->ndocs + 1, 1024, sizeof *b->ids) != 0 ||
        vec_reserve((void **)&b->lens, &b->lcap, b->ndocs + 1, 1024, sizeof *b->lens) != 0)
        return -ENOMEM;
    b->bytes += (b->icap - before) * 12;
    uint32_t doc = (uint32_t)b->ndocs, n = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && terms[j] != ' ') j++;
        if (j > i && j - i <= INV_MAX_TERM) {
            struct post *p = term_post(b, terms + i, j - i);
            /* out of memory midway: the postings of this doc so far stay,
             * under a docnum the next add reuses (post_add merges them), so
             * the caller must not go on after an error but write or free */
            if (!p || post_add(b, p, doc) != 0) return -ENOMEM;
            n++;
        }
        i = j + 1;
    }
    b->ids[doc] = id;
    b->lens[doc] = n;
    b->ndocs++;
    b->total_len += n;
    return 0;
}

static int post_cmp(const void *x, const void *y, void *ctx)
{
    const inv_builder_t *b = ctx;
    const struct post *p = &b->posts[*(const uint32_t *)x], *q = &b->posts[*(const uint32_t *)y];
    return name_cmp(b->names.data + p->name_off, p->name_len, b->names.data + q->name_off,
                    q->name_len);
}

int inv_builder_write(inv_builder_t *b, const char *path, char *err, size_t errlen)
{
    uint32_t *order = malloc((b->nposts + 1) * sizeof *order);
    if (!order) return -ENOMEM;
    for (size_t i = 0; i < b->nposts; i++) order[i] = (uint32_t)i;
    qsort_r(order, b->nposts, sizeof *order, post_cmp, b);
    struct writer w;
    int rc = writer_begin(&w, path, b->ids, b->lens, (uint32_t)b->ndocs, b->total_len);
    uint64_t data0 = w.pos;
    for (size_t i = 0; !rc && i < b->nposts; i++) {
        const struct post *p = &b->posts[order[i]];
        rc = writer_term(&w, b->names.data + p->name_off, p->name_len, p->docs, p->tfs,
                         (uint32_t)p->n, b->lens, data0);
    }
    free(order);
    if (rc) {
        writer_abort(&w);
    } else {
        rc = writer_finish(&w, path, data0, b->total_len);
    }
    if (rc && err) snprintf(err, errlen, "writing %s: %s", path, strerror(-rc));
    return rc;
}

/* --- merging ------------------------------------------------------------- */

/* Appends list l of g, docnums renumbered by map (dropped ones left out),
 * at docs[*n] and tfs[*n]. */
static int take_list(const inv_seg_t *g, const struct inv_list *l, const uint32_t *map,
                     uint32_t *docs, uint32_t *tfs, uint32_t *n)
{
    uint32_t d[INV_BLOCK], f[INV_BLOCK];
    for (uint64_t bi = 0; bi < inv_list_blocks(l); bi++) {
        int cnt = inv_block_decode(g, l, bi, d, f);
        if (cnt < 0) return cnt;
        for (int i = 0; i < cnt; i++) {
            if (map[d[i]] == INV_END) continue;
            docs[*n] = map[d[i]];
            tfs[(*n)++] = f[i];
        }
    }
    return 0;
}

int inv_merge(inv_seg_t *const *segs, size_t n, inv_skip_fn drop, void *ctx, const char *path,
              char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t s = 0; s < n; s++) total += segs[s]->hdr->ndocs;
    int rc = total > INV_MAX_DOCS ? -E2BIG : 0;
    int64_t *ids = malloc((total + 1) * sizeof *ids);
    uint32_t *lens = malloc((total + 1) * sizeof *lens);
    uint32_t **map = calloc(n + 1, sizeof *map);
    size_t *at = calloc(n + 1, sizeof *at); /* each segment's next term */
    uint32_t *docs = NULL, *tfs = NULL, *sd = NULL, *st = NULL;
    size_t cap[4] = {0}; /* of docs, tfs, sd, st */
    if (!ids || !lens || !map || !at) rc = -ENOMEM;
    /* new docnums: INV_END for a dropped chunk */
    uint32_t nd = 0;
    uint64_t total_len = 0;
    for (size_t s = 0; !rc && s < n; s++) {
        const inv_seg_t *g = segs[s];
        if (!(map[s] = malloc(((size_t)g->hdr->ndocs + 1) * sizeof **map))) rc = -ENOMEM;
        for (uint32_t d = 0; !rc && d < g->hdr->ndocs; d++) {
            if (nd && g->ids[d] <= ids[nd - 1]) rc = -EINVAL; /* interleaved ids */
            if (drop && drop(ctx, g->ids[d])) {
                map[s][d] = INV_END;
                continue;
            }
            map[s][d] = nd;
            ids[nd] = g->ids[d];
            lens[nd] = g->lens[d];
            total_len += g->lens[d];
            nd++;
        }
    }
    struct writer w = {0};
    bool begun = false;
    if (!rc) {
        rc = writer_begin(&w, path, ids, lens, nd, total_len);
        begun = true;
    }
    uint64_t data0 = w.pos;
    while (!rc) {
        /* the smallest name among the segments' next terms */
        const char *name = NULL;
        size_t nlen = 0;
        for (size_t s = 0; s < n; s++) {
            if (at[s] == segs[s]->hdr->nterms) continue;
            const struct inv_term *t = &segs[s]->dict[at[s]];
            const char *tn = segs[s]->names + t->name_off;
            if (!name || name_cmp(tn, t->name_len, name, nlen) < 0) {
                name = tn;
                nlen = t->name_len;
            }
        }
        if (!name) break;
        uint32_t np = 0;
        for (size_t s = 0; !rc && s < n; s++) {
            if (at[s] == segs[s]->hdr->nterms) continue;
            const struct inv_term *t = &segs[s]->dict[at[s]];
            if (name_cmp(segs[s]->names + t->name_off, t->name_len, name, nlen) != 0) continue;
            at[s]++;
            size_t df = inv_term_df(t);
            uint32_t **arr[4] = {&docs, &tfs, &sd, &st};
            for (int k = 0; k < 4 && !rc; k++)
                rc = vec_reserve((void **)arr[k], &cap[k], k < 2 ? np + df : df, 1024, 4);
            if (rc) break;
            /* its lists into the scratch, then merged in docnum order */
            uint32_t end[INV_TIERS], pos[INV_TIERS], got = 0;
            for (int li = 0; li < INV_TIERS && !rc; li++) {
                pos[li] = got;
                rc = take_list(segs[s], &t->list[li], map[s], sd, st, &got);
                end[li] = got;
            }
            if (rc) break;
            for (;;) { /* the lowest docnum at the lists' heads */
                int from = -1;
                for (int li = 0; li < INV_TIERS; li++)
                    if (pos[li] < end[li] && (from < 0 || sd[pos[li]] < sd[pos[from]])) from = li;
                if (from < 0) break;
                docs[np] = sd[pos[from]];
                tfs[np++] = st[pos[from]++];
            }
        }
        if (!rc && np) rc = writer_term(&w, name, (uint32_t)nlen, docs, tfs, np, lens, data0);
    }
    if (begun) {
        if (rc)
            writer_abort(&w);
        else
            rc = writer_finish(&w, path, data0, total_len);
    }
    for (size_t s = 0; map && s < n; s++) free(map[s]);
    free(map);
    free(at);
    free(ids);
    free(lens);
    free(docs);
    free(tfs);
    free(sd);
    free(st);
    if (rc && err) snprintf(err, errlen, "merging into %s: %s", path, strerror(-rc));
    return rc;
}
