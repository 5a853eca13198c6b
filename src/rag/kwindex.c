/* kwindex: the keyword index on rag/inv segments (see kwindex.h).
 *
 * State: the writer's side (under wmu): a builder of puts not flushed, the
 * ids deleted since the last flush, counters. The searches' side: the
 * current view, a list of segments and the set of deleted ids inside them,
 * immutable once published and reference-counted; publishing swaps the
 * pointer under vmu. A segment is reference-counted too (views share
 * them); its file is unlinked once a manifest without it is written, and
 * unmapped when the last view holding it goes. */
#include "rag/kwindex.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/log.h"
#include "rag/inv.h"
#include "util/file.h"

#define MANIFEST     "MANIFEST"
#define MF_MAGIC     "ragdkw01"
#define MAX_SEGMENTS 256  /* the merge policy keeps far fewer (about log2 of chunks) */
#define MAX_K        4096 /* hits of one search (the fusion asks for far fewer) */

struct seg {
    inv_seg_t *g;
    uint64_t seq; /* its file: seg-<seq>.inv */
    atomic_int refs;
};

/* A set of deleted ids, shared by the views that have the same one. */
struct dead {
    atomic_int refs;
    idset_t set;
};

struct view {
    atomic_int refs;
    size_t n;
    struct seg *segs[MAX_SEGMENTS];
    inv_seg_t *gs[MAX_SEGMENTS]; /* segs[i]->g, as inv_search takes them */
    struct dead *dead;
};

struct kwindex {
    char dir[1024];
    pthread_mutex_t wmu;
    inv_builder_t *b;   /* puts not flushed */
    idset_t pend_dead;  /* deletes not flushed: ids in the view's segments or b */
    int64_t pending_wm; /* the next flush's watermark, at least */
    int64_t watermark;  /* the manifest's */
    int64_t max_id;     /* the largest id put */
    uint64_t next_seq;
    size_t live;       /* chunks indexed, pending writes counted */
    atomic_bool dirty; /* writes or a commit not flushed */
    atomic_uint_fast64_t flushes, merges;
    pthread_mutex_t vmu; /* cur: swapped, or a reference taken */
    struct view *cur;    /* written under wmu and vmu */
    pthread_t flusher;
    bool flusher_on;
    pthread_cond_t wake;
    bool stop; /* under wmu */
};

/* --- segments and views -------------------------------------------------- */

static void seg_path(const kwindex_t *kw, uint64_t seq, char *out, size_t n)
{
    snprintf(out, n, "%s/seg-%016llx.inv", kw->dir, (unsigned long long)seq);
}

static void seg_put(struct seg *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        inv_seg_free(&s->g);
        free(s);
    }
}

static struct dead *dead_new(void)
{
    struct dead *d = calloc(1, sizeof *d);
    if (d) atomic_init(&d->refs, 1);
    return d;
}

static void dead_put(struct dead *d)
{
    if (d && atomic_fetch_sub(&d->refs, 1) == 1) {
        idset_free(&d->set);
        free(d);
    }
}

static void view_put(struct view *v)
{
    if (!v || atomic_fetch_sub(&v->refs, 1) != 1) return;
    for (size_t i = 0; i < v->n; i++) seg_put(v->segs[i]);
    dead_put(v->dead);
    free(v);
}

static struct view *view_get(kwindex_t *kw)
{
    pthread_mutex_lock(&kw->vmu);
    struct view *v = kw->cur;
    atomic_fetch_add(&v->refs, 1);
    pthread_mutex_unlock(&kw->vmu);
    return v;
}

/* A new view of segs[0..n) (references taken) and dead (taken). */
static struct view *view_new(struct seg *const *segs, size_t n, struct dead *dead)
{
    struct view *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    atomic_init(&v->refs, 1);
    v->n = n;
    for (size_t i = 0; i < n; i++) {
        v->segs[i] = segs[i];
        v->gs[i] = segs[i]->g;
        atomic_fetch_add(&segs[i]->refs, 1);
    }
    v->dead = dead;
    atomic_fetch_add(&dead->refs, 1);
    return v;
}

/* Under wmu: makes v current. */
static void publish(kwindex_t *kw, struct view *v)
{
    pthread_mutex_lock(&kw->vmu);
    struct view *old = kw->cur;
    kw->cur = v;
    pthread_mutex_unlock(&kw->vmu);
    view_put(old);
}

static size_t view_docs(const struct view *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n; i++) n += inv_seg_docs(v->gs[i]);
    return n;
}

/* The segment of v holding id, or -1. Segments hold ascending id ranges. */
static long seg_of(const struct view *v, int64_t id)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (inv_seg_max_id(v->gs[mid]) < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == v->n || inv_seg_min_id(v->gs[lo]) > id) return -1;
    size_t n;
    const int64_t *ids = inv_seg_ids(v->gs[lo], &n);
    return inv_ids_have(ids, n, id) ? (long)lo : -1;
}

/* --- the manifest -------------------------------------------------------- */

struct mf_hdr {
    char magic[8];
    uint32_t nsegs, pad;
    uint64_t next_seq;
    int64_t watermark;
    uint64_t ndead;
};

static int put_all(FILE *f, const void *p, size_t n, uLong *crc)
{
    *crc = crc32(*crc, p, (uInt)n);
    return n && fwrite(p, 1, n, f) != n ? -EIO : 0;
}

/* Writes the manifest of v with watermark: the header, the segments'
 * numbers, the deleted ids, a crc32 of them all. */
static int manifest_write(kwindex_t *kw, const struct view *v, int64_t watermark)
{
    char path[1100], tmp[1110];
    snprintf(path, sizeof path, "%s/%s", kw->dir, MANIFEST);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return -errno;
    struct mf_hdr h = {.nsegs = (uint32_t)v->n,
                       .next_seq = kw->next_seq,
                       .watermark = watermark,
                       .ndead = v->dead->set.n};
    memcpy(h.magic, MF_MAGIC, 8);
    uLong crc = crc32(0, NULL, 0);
    int rc = put_all(f, &h, sizeof h, &crc);
    for (size_t i = 0; !rc && i < v->n; i++) rc = put_all(f, &v->segs[i]->seq, 8, &crc);
    const idset_t *d = &v->dead->set;
    for (size_t i = 0; !rc && d->keys && i <= d->mask; i++)
        if (d->keys[i]) rc = put_all(f, &d->keys[i], 8, &crc);
    uint32_t c = (uint32_t)crc;
    if (!rc && fwrite(&c, 4, 1, f) != 1) rc = -EIO;
    if (!rc && fflush(f) != 0) rc = -errno;
    if (!rc && fsync(fileno(f)) != 0) rc = -errno;
    if (fclose(f) != 0 && !rc) rc = -errno;
    if (!rc && rename(tmp, path) != 0) rc = -errno;
    if (!rc) rc = file_sync_dir_of(path);
    if (rc) unlink(tmp);
    return rc;
}

/* Reads 8 bytes into v, adding them to the crc; false at the end of f. */
static bool read8(FILE *f, void *v, uLong *crc)
{
    if (fread(v, 8, 1, f) != 1) return false;
    *crc = crc32(*crc, v, 8);
    return true;
}

/* Reads the manifest into a first view; 1 when there is none (a new index). */
static int manifest_read(kwindex_t *kw, struct view **out, char *err, size_t errlen)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", kw->dir, MANIFEST);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    struct mf_hdr h;
    struct seg *segs[MAX_SEGMENTS];
    size_t nseg = 0;
    struct dead *dead = dead_new();
    uLong crc = crc32(0, NULL, 0);
    int rc = dead ? 0 : -ENOMEM;
    const char *why = NULL;
    if (!rc && (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, MF_MAGIC, 8) != 0 ||
                h.nsegs > MAX_SEGMENTS))
        why = "not a manifest";
    if (!rc && !why) crc = crc32(crc, (const Bytef *)&h, sizeof h);
    for (uint32_t i = 0; !rc && !why && i < h.nsegs; i++) {
        uint64_t seq;
        if (!read8(f, &seq, &crc)) {
            why = "short";
            break;
        }
        char sp[1100], serr[512];
        seg_path(kw, seq, sp, sizeof sp);
        struct seg *s = calloc(1, sizeof *s);
        if (!s) {
            rc = -ENOMEM;
            break;
        }
        s->seq = seq;
        atomic_init(&s->refs, 1);
        if ((rc = inv_seg_open(&s->g, sp, serr, sizeof serr)) != 0) {
            snprintf(err, errlen, "%s", serr);
            free(s);
            rc = -EIO;
            break;
        }
        segs[nseg++] = s;
        if (nseg > 1 && inv_seg_docs(s->g) &&
            inv_seg_min_id(s->g) <= inv_seg_max_id(segs[nseg - 2]->g))
            why = "segments out of order";
    }
    for (uint64_t i = 0; !rc && !why && i < h.ndead; i++) {
        int64_t id;
        if (!read8(f, &id, &crc)) {
            why = "short";
            break;
        }
        if ((rc = idset_add(&dead->set, id)) != 0) break;
    }
    uint32_t c;
    if (!rc && !why && (fread(&c, 4, 1, f) != 1 || c != (uint32_t)crc)) why = "checksum";
    fclose(f);
    if (!rc && !why) {
        kw->next_seq = h.next_seq;
        kw->watermark = kw->pending_wm = kw->max_id = h.watermark;
        *out = view_new(segs, nseg, dead);
        if (!*out) rc = -ENOMEM;
    }
    if (why) {
        snprintf(err, errlen, "%s: damaged (%s)", path, why);
        rc = -EIO;
    }
    for (size_t i = 0; i < nseg; i++) seg_put(segs[i]); /* the view holds its own */
    dead_put(dead);
    return rc;
}

/* Files in the directory that the manifest does not name: a segment
 * written before a crash could name it, or one merged away. */
static void remove_strays(kwindex_t *kw, const struct view *v)
{
    DIR *d = opendir(kw->dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, MANIFEST) == 0) continue;
        unsigned long long seq;
        bool live = false;
        if (sscanf(e->d_name, "seg-%16llx.inv", &seq) == 1 && strlen(e->d_name) == 24)
            for (size_t i = 0; i < v->n && !live; i++) live = v->segs[i]->seq == seq;
        if (live) continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", kw->dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

/* --- open and close ------------------------------------------------------ */

static void *flusher_main(void *arg);

int kwindex_open(kwindex_t **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    kwindex_t *kw = calloc(1, sizeof *kw);
    if (!kw) return -ENOMEM;
    snprintf(kw->dir, sizeof kw->dir, "%s", path);
    pthread_mutex_init(&kw->wmu, NULL);
    pthread_mutex_init(&kw->vmu, NULL);
    pthread_cond_init(&kw->wake, NULL);
    kw->next_seq = 1;
    struct view *v = NULL;
    int rc = file_mkdir_p(path, 0755);
    if (rc) snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    if (!rc && (rc = manifest_read(kw, &v, err, errlen)) == 1) { /* a new index */
        struct dead *d = dead_new();
        v = d ? view_new(NULL, 0, d) : NULL;
        dead_put(d);
        rc = v ? manifest_write(kw, v, 0) : -ENOMEM;
        if (rc)
            snprintf(err, errlen, "%s: cannot write the keyword index: %s", path, strerror(-rc));
    }
    if (!rc) {
        kw->cur = v;
        remove_strays(kw, v);
        kw->live = view_docs(v) - v->dead->set.n;
        rc = inv_builder_new(&kw->b);
    }
    if (!rc && (rc = -pthread_create(&kw->flusher, NULL, flusher_main, kw)) != 0)
        snprintf(err, errlen, "cannot start the keyword index's flusher");
    kw->flusher_on = rc == 0;
    if (rc) {
        if (!kw->cur) view_put(v);
        kwindex_free(&kw);
        return rc;
    }
    *out = kw;
    return 0;
}

static int flush_locked(kwindex_t *kw);

void kwindex_free(kwindex_t **kwp)
{
    kwindex_t *kw = kwp ? *kwp : NULL;
    if (!kw) return;
    if (kw->flusher_on) {
        pthread_mutex_lock(&kw->wmu);
        kw->stop = true;
        pthread_cond_signal(&kw->wake);
        pthread_mutex_unlock(&kw->wmu);
        pthread_join(kw->flusher, NULL);
    }
    if (kw->cur && kw->b) { /* what is left, so a restart need not index it again */
        pthread_mutex_lock(&kw->wmu);
        flush_locked(kw);
        pthread_mutex_unlock(&kw->wmu);
    }
    inv_builder_free(&kw->b);
    idset_free(&kw->pend_dead);
    view_put(kw->cur);
    pthread_cond_destroy(&kw->wake);
    pthread_mutex_destroy(&kw->vmu);
    pthread_mutex_destroy(&kw->wmu);
    free(kw);
    *kwp = NULL;
}

/* --- writes -------------------------------------------------------------- */

/* Under wmu: writes the builder as a segment, adds the pending deletes to
 * the view's, writes the manifest, publishes. On failure nothing changes
 * (the writes stay pending). */
static int flush_locked(kwindex_t *kw)
{
    if (!atomic_load(&kw->dirty)) return 0;
    struct view *old = kw->cur;
    struct seg *s = NULL;
    int rc = 0;
    char path[1100], err[512];
    if (inv_builder_docs(kw->b)) {
        if (old->n == MAX_SEGMENTS) return -ENOSPC; /* merges have fallen far behind */
        seg_path(kw, kw->next_seq, path, sizeof path);
        s = calloc(1, sizeof *s);
        if (!s) return -ENOMEM;
        atomic_init(&s->refs, 1);
        s->seq = kw->next_seq;
        if ((rc = inv_builder_write(kw->b, path, err, sizeof err)) != 0 ||
            (rc = inv_seg_open(&s->g, path, err, sizeof err)) != 0) {
            log_error("keyword index: %s", err);
            unlink(path);
            free(s);
            return rc;
        }
        kw->next_seq++;
    }
    struct dead *d = old->dead;
    if (kw->pend_dead.n) {
        if (!(d = dead_new())) rc = -ENOMEM;
        const idset_t *sets[2] = {&old->dead->set, &kw->pend_dead};
        for (int k = 0; k < 2 && !rc; k++)
            for (size_t i = 0; !rc && sets[k]->keys && i <= sets[k]->mask; i++)
                if (sets[k]->keys[i]) rc = idset_add(&d->set, sets[k]->keys[i]);
    } else {
        atomic_fetch_add(&d->refs, 1);
    }
    struct view *v = NULL;
    if (!rc) {
        struct seg *segs[MAX_SEGMENTS];
        memcpy(segs, old->segs, old->n * sizeof *segs);
        if (s) segs[old->n] = s;
        if (!(v = view_new(segs, old->n + (s != NULL), d))) rc = -ENOMEM;
    }
    int64_t wm = kw->pending_wm > kw->max_id ? kw->pending_wm : kw->max_id;
    if (!rc && (rc = manifest_write(kw, v, wm)) != 0)
        log_error("keyword index: cannot write its manifest: %s", strerror(-rc));
    dead_put(d);
    seg_put(s); /* the view holds it */
    if (rc) {
        if (s) unlink(path);
        view_put(v);
        return rc;
    }
    publish(kw, v);
    inv_builder_free(&kw->b);
    if ((rc = inv_builder_new(&kw->b)) != 0) return rc;
    idset_free(&kw->pend_dead);
    kw->watermark = wm;
    atomic_store(&kw->dirty, false);
    atomic_fetch_add(&kw->flushes, 1);
    pthread_cond_signal(&kw->wake); /* the flusher looks at merges */
    return 0;
}

int kwindex_put(kwindex_t *kw, int64_t id, const char *terms, size_t len)
{
    pthread_mutex_lock(&kw->wmu);
    int rc = id <= kw->max_id ? -EINVAL : inv_builder_add(kw->b, id, terms, len);
    if (!rc) {
        kw->max_id = id;
        kw->live++;
        atomic_store(&kw->dirty, true);
        if (inv_builder_bytes(kw->b) > KWINDEX_BUILDER_MAX) rc = flush_locked(kw);
    }
    pthread_mutex_unlock(&kw->wmu);
    return rc;
}

/* Under wmu: true when id is indexed and not deleted. */
static bool live_locked(kwindex_t *kw, int64_t id)
{
    if (idset_has(&kw->pend_dead, id) || idset_has(&kw->cur->dead->set, id)) return false;
    size_t n;
    const int64_t *ids = inv_builder_ids(kw->b, &n);
    return seg_of(kw->cur, id) >= 0 || inv_ids_have(ids, n, id);
}

static int delete_locked(kwindex_t *kw, int64_t id)
{
    if (!live_locked(kw, id)) return 0; /* absent: nothing to do */
    int rc = idset_add(&kw->pend_dead, id);
    if (!rc) {
        kw->live--;
        atomic_store(&kw->dirty, true);
    }
    return rc;
}

int kwindex_delete(kwindex_t *kw, const int64_t *ids, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&kw->wmu);
    for (size_t i = 0; i < n && !rc; i++) rc = delete_locked(kw, ids[i]);
    pthread_mutex_unlock(&kw->wmu);
    return rc;
}

int kwindex_commit(kwindex_t *kw, int64_t watermark)
{
    pthread_mutex_lock(&kw->wmu);
    if (watermark > kw->pending_wm) kw->pending_wm = watermark;
    atomic_store(&kw->dirty, true);
    pthread_mutex_unlock(&kw->wmu);
    return 0;
}

int kwindex_flush(kwindex_t *kw)
{
    if (!atomic_load(&kw->dirty)) return 0;
    pthread_mutex_lock(&kw->wmu);
    int rc = flush_locked(kw);
    pthread_mutex_unlock(&kw->wmu);
    return rc;
}

int64_t kwindex_watermark(kwindex_t *kw)
{
    pthread_mutex_lock(&kw->wmu);
    int64_t w = kw->watermark;
    pthread_mutex_unlock(&kw->wmu);
    return w;
}

size_t kwindex_count(kwindex_t *kw)
{
    pthread_mutex_lock(&kw->wmu);
    size_t n = kw->live;
    pthread_mutex_unlock(&kw->wmu);
    return n;
}

long kwindex_retain(kwindex_t *kw, bool (*keep)(void *ctx, int64_t id), void *ctx)
{
    long dropped = 0;
    int rc = 0;
    pthread_mutex_lock(&kw->wmu);
    const struct view *v = kw->cur;
    for (size_t s = 0; s <= v->n && !rc; s++) {
        size_t n;
        const int64_t *ids = s < v->n ? inv_seg_ids(v->gs[s], &n) : inv_builder_ids(kw->b, &n);
        for (size_t i = 0; i < n && !rc; i++) {
            if (keep(ctx, ids[i]) || !live_locked(kw, ids[i])) continue;
            if ((rc = delete_locked(kw, ids[i])) == 0) dropped++;
        }
    }
    pthread_mutex_unlock(&kw->wmu);
    return rc ? rc : dropped;
}

/* --- merges -------------------------------------------------------------- */

/* Deleted ids of v in segment i. */
static size_t dead_in(const struct view *v, size_t i)
{
    const idset_t *d = &v->dead->set;
    int64_t lo = inv_seg_min_id(v->gs[i]), hi = inv_seg_max_id(v->gs[i]);
    size_t n = 0;
    for (size_t k = 0; d->keys && k <= d->mask; k++) n += d->keys[k] >= lo && d->keys[k] <= hi;
    return n;
}

/* The segments to merge next, [*from, *to) of v: a segment whose deleted
 * share passed KWINDEX_DEAD_SHARE alone, else the newest ones when the one
 * before them is at most KWINDEX_MERGE_RATIO times their size together
 * (a binary counter's carry, in chunks). False when there is nothing. */
static bool merge_plan(const struct view *v, size_t *from, size_t *to)
{
    for (size_t i = 0; v->dead->set.n && i < v->n; i++) {
        if ((double)dead_in(v, i) > KWINDEX_DEAD_SHARE * (double)inv_seg_docs(v->gs[i])) {
            *from = i;
            *to = i + 1;
            return true;
        }
    }
    if (v->n < 2) return false;
    size_t k = v->n - 1, tail = inv_seg_docs(v->gs[k]);
    while (k > 0 && inv_seg_docs(v->gs[k - 1]) <= KWINDEX_MERGE_RATIO * tail)
        tail += inv_seg_docs(v->gs[--k]);
    if (k == v->n - 1) return false;
    *from = k;
    *to = v->n;
    return true;
}

static bool in_dead(void *ctx, int64_t id)
{
    return idset_has(ctx, id);
}

/* One merge, if the policy asks for one: written with no lock held, then
 * installed under wmu. 1 when it merged, 0 when there was nothing to do,
 * or a negative code. */
static int merge_once(kwindex_t *kw)
{
    struct view *v = view_get(kw);
    size_t from, to;
    if (!merge_plan(v, &from, &to)) {
        view_put(v);
        return 0;
    }
    pthread_mutex_lock(&kw->wmu);
    uint64_t seq = kw->next_seq++;
    pthread_mutex_unlock(&kw->wmu);
    char path[1100], err[512];
    seg_path(kw, seq, path, sizeof path);
    struct seg *m = calloc(1, sizeof *m);
    int rc = m ? 0 : -ENOMEM;
    if (!rc) {
        atomic_init(&m->refs, 1);
        m->seq = seq;
        rc = inv_merge(v->gs + from, to - from, in_dead, &v->dead->set, path, err, sizeof err);
    }
    if (!rc) rc = inv_seg_open(&m->g, path, err, sizeof err);
    if (rc) {
        log_error("keyword index: %s", err);
        unlink(path);
        free(m);
        view_put(v);
        return rc;
    }
    int64_t lo = inv_seg_min_id(v->gs[from]), hi = inv_seg_max_id(v->gs[to - 1]);
    pthread_mutex_lock(&kw->wmu);
    /* the current view still holds the merged run, in place: only merges
     * (this thread) take segments out, flushes add after them */
    struct view *c = kw->cur;
    size_t at = 0;
    while (at < c->n && c->segs[at] != v->segs[from]) at++;
    struct seg *segs[MAX_SEGMENTS];
    size_t n = 0;
    for (size_t i = 0; i < at; i++) segs[n++] = c->segs[i];
    if (inv_seg_docs(m->g)) segs[n++] = m;
    for (size_t i = at + (to - from); i < c->n; i++) segs[n++] = c->segs[i];
    /* the deleted ids the merge dropped leave the set */
    struct dead *d = dead_new();
    rc = d ? 0 : -ENOMEM;
    const idset_t *cs = &c->dead->set;
    for (size_t i = 0; !rc && cs->keys && i <= cs->mask; i++) {
        int64_t id = cs->keys[i];
        bool dropped = id >= lo && id <= hi && idset_has(&v->dead->set, id);
        if (id && !dropped) rc = idset_add(&d->set, id);
    }
    struct view *nv = rc ? NULL : view_new(segs, n, d);
    if (!rc && !nv) rc = -ENOMEM;
    if (!rc && (rc = manifest_write(kw, nv, kw->watermark)) == 0) {
        publish(kw, nv);
        atomic_fetch_add(&kw->merges, 1);
        nv = NULL;
        for (size_t i = from; i < to; i++) { /* mapped until the last view lets go */
            seg_path(kw, v->segs[i]->seq, path, sizeof path);
            unlink(path);
        }
        if (!inv_seg_docs(m->g)) { /* every chunk was deleted: no segment */
            seg_path(kw, seq, path, sizeof path);
            unlink(path);
        }
    }
    pthread_mutex_unlock(&kw->wmu);
    if (rc) {
        log_error("keyword index: cannot install a merge: %s", strerror(-rc));
        seg_path(kw, seq, path, sizeof path);
        unlink(path);
    }
    view_put(nv);
    dead_put(d);
    seg_put(m);
    view_put(v);
    return rc ? rc : 1;
}

static void *flusher_main(void *arg)
{
    kwindex_t *kw = arg;
    pthread_mutex_lock(&kw->wmu);
    while (!kw->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += KWINDEX_FLUSH_S;
        pthread_cond_timedwait(&kw->wake, &kw->wmu, &until);
        if (kw->stop) break;
        if (atomic_load(&kw->dirty)) flush_locked(kw);
        pthread_mutex_unlock(&kw->wmu);
        while (merge_once(kw) == 1) {
            pthread_mutex_lock(&kw->wmu);
            bool stop = kw->stop;
            pthread_mutex_unlock(&kw->wmu);
            if (stop) break;
        }
        pthread_mutex_lock(&kw->wmu);
    }
    pthread_mutex_unlock(&kw->wmu);
    return NULL;
}

/* --- reads --------------------------------------------------------------- */

struct skip {
    const idset_t *dead, *allowed;
};

static bool skipped(void *ctx, int64_t id)
{
    const struct skip *s = ctx;
    return idset_has(s->dead, id) || (s->allowed && !idset_has(s->allowed, id));
}

/* The current view, after flushing writes made before the call: the cost
 * of seeing them, paid once for a burst of writes. */
static struct view *reading(kwindex_t *kw, int *rc)
{
    *rc = kwindex_flush(kw);
    return view_get(kw);
}

long kwindex_search(kwindex_t *kw, const char *const *terms, size_t n, size_t k,
                    const idset_t *allowed, vindex_hit_t *out)
{
    if (k > MAX_K) k = MAX_K;
    int rc;
    struct view *v = reading(kw, &rc);
    struct skip sk = {&v->dead->set, allowed};
    long got = rc ? rc : inv_search(v->gs, v->n, terms, n, k, skipped, &sk, out);
    view_put(v);
    return got;
}

int kwindex_dfs(kwindex_t *kw, const char *const *terms, size_t n, int64_t *dfs)
{
    int rc;
    struct view *v = reading(kw, &rc);
    if (!rc) rc = inv_dfs(v->gs, v->n, terms, n, dfs);
    view_put(v);
    return rc;
}

void kwindex_stats(kwindex_t *kw, kwindex_stats_t *st)
{
    struct view *v = view_get(kw);
    *st = (kwindex_stats_t){.segments = v->n,
                            .deleted = v->dead->set.n,
                            .flushes = atomic_load(&kw->flushes),
                            .merges = atomic_load(&kw->merges)};
    for (size_t i = 0; i < v->n; i++) st->bytes += inv_seg_bytes(v->gs[i]);
    view_put(v);
    st->chunks = kwindex_count(kw);
}
