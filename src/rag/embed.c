#include "rag/embed.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rag/text.h"
#include "util/hash.h"
#include "util/text_scan.h"

void embed_normalize(float *v, unsigned dim)
{
    double s = 0;
    for (unsigned i = 0; i < dim; i++) s += (double)v[i] * v[i];
    if (s <= 0) return;
    float inv = (float)(1.0 / sqrt(s));
    for (unsigned i = 0; i < dim; i++) v[i] *= inv;
}

int embed_texts(embedder_t *e, const char *const *texts, const size_t *lens, size_t n, float *out,
                char *err, size_t errlen)
{
    int rc = e->embed(e, texts, lens, n, out, err, errlen);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) embed_normalize(out + i * e->dim, e->dim);
    return rc;
}

void embed_free(embedder_t **e)
{
    if (!e || !*e) return;
    (*e)->destroy(*e);
    *e = NULL;
}

/* ---- hash ---------------------------------------------------------------- */

/* Seeds keep the feature kinds apart: a word and a trigram never collide by
 * construction, only by hashing. */
#define SEED_WORD    0xcbf29ce484222325ULL
#define SEED_TRIGRAM 0x9e3779b97f4a7c15ULL
#define SEED_CJK1    0xc2b2ae3d27d4eb4fULL
#define SEED_CJK2    0x165667b19e3779f9ULL

struct wcache;

struct feats {
    float *v;
    unsigned dim;
    struct wcache *wc;    /* NULL: no word cache */
    const char *prev_cjk; /* for bigrams */
    size_t prev_len;
    const char *prev_end;
};

/* Each feature goes to HASH_SLOTS signed slots, its weight shared between
 * them (w / sqrt(slots): the feature's own norm stays w). With one slot, a
 * collision of two whole words gave their texts the full weight of the
 * word in common: a document "ok" scored 0.47 against "zircon bearing",
 * above a document holding both words. With two, a collision shares half,
 * and MRR@10 of vector search rose on all three evaluation sets (README,
 * "Retrieval quality"); three and more were worse again (each slot more
 * fills the 384 dimensions). */
#define HASH_SLOTS 2

/* Stop words (text_is_stop) and their trigrams count this much. */
#define HASH_STOP_WEIGHT 0.3f

/* One addition to a vector: what a feature does to one of its slots. */
struct upd {
    uint32_t slot;
    float value;
};

/* The HASH_SLOTS additions of the feature with hash h and weight w. */
static void feature(uint64_t h, float w, unsigned dim, struct upd *out)
{
    w *= 0.70710678f; /* 1 / sqrt(HASH_SLOTS) */
    for (int k = 0; k < HASH_SLOTS; k++) {
        /* final mix so that low bits depend on every byte; each slot
         * mixes again from a different start */
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        out[k] = (struct upd){(uint32_t)(h % dim), (h >> 63) ? -w : w};
        h += 0x9e3779b97f4a7c15ULL;
    }
}

static void apply(float *v, const struct upd *u, size_t n)
{
    for (size_t i = 0; i < n; i++) v[u[i].slot] += u[i].value;
}

static void add(struct feats *f, uint64_t h, float w)
{
    struct upd u[HASH_SLOTS];
    feature(h, w, f->dim, u);
    apply(f->v, u, HASH_SLOTS);
}

/* The additions of a word (lowercased, between '^' and '$' in w[0..m+2)):
 * the word's, then each of its m trigrams'. Returns how many. */
static size_t word_features(const char *w, size_t m, uint64_t hword, unsigned dim, struct upd *out)
{
    float weight = text_is_stop(w + 1, m) ? HASH_STOP_WEIGHT : 1.0f;
    feature(hword, weight, dim, out);
    size_t n = HASH_SLOTS;
    for (size_t i = 0; i + 3 <= m + 2; i++, n += HASH_SLOTS)
        feature(hash_fnv1a(SEED_TRIGRAM, w + i, 3), 0.35f * weight, dim, out + n);
    return n;
}

/* ---- the word cache -------------------------------------------------------
 * A word's additions depend on the word alone, and text repeats its words
 * (Zipf): a thread keeps the additions of the words it met last, and a
 * word found there costs its hash and its additions, not its stop-word
 * test, trigram hashes and slot mixing (they were half of a batch's
 * instructions). The additions are applied in the same order with the same
 * values, so the vectors are bit for bit those made without it. Per
 * thread, so no locks; direct-mapped on the word's hash; about 0.6 MiB. */
#define WC_WORD_MAX 16 /* longer words are not kept */
#define WC_ENTRIES  2048
#define WC_UPDS     (HASH_SLOTS * (WC_WORD_MAX + 1))

struct wc_entry {
    uint64_t hash;
    uint8_t len; /* 0: empty */
    uint8_t nupd;
    char word[WC_WORD_MAX];
    struct upd upd[WC_UPDS];
};

struct wcache {
    unsigned dim; /* the additions are for vectors of this size */
    struct wc_entry e[WC_ENTRIES];
};

static pthread_key_t wc_key;
static bool wc_ok;

static void wc_init(void)
{
    wc_ok = pthread_key_create(&wc_key, free) == 0;
}

/* This thread's cache for vectors of dim, or NULL (then nothing is kept). */
static struct wcache *wc_get(unsigned dim)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, wc_init);
    if (!wc_ok) return NULL;
    struct wcache *c = pthread_getspecific(wc_key);
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) return NULL;
        if (pthread_setspecific(wc_key, c) != 0) {
            free(c);
            return NULL;
        }
        c->dim = dim;
    }
    if (c->dim != dim) {
        for (size_t i = 0; i < WC_ENTRIES; i++) c->e[i].len = 0;
        c->dim = dim;
    }
    return c;
}

static bool feat_one(void *ctx, const char *s, size_t n, text_kind_t kind)
{
    struct feats *f = ctx;
    if (kind == TEXT_CJK) {
        add(f, hash_fnv1a(SEED_CJK1, s, n), 0.5f);
        if (f->prev_cjk && f->prev_end == s) {
            uint64_t h = hash_fnv1a(SEED_CJK2, f->prev_cjk, f->prev_len);
            add(f, hash_fnv1a(h, s, n), 1.0f);
        }
        f->prev_cjk = s;
        f->prev_len = n;
        f->prev_end = s + n;
        return true;
    }
    f->prev_cjk = NULL;
    char w[64 + 2];
    size_t m = n < 64 ? n : 64;
    w[0] = '^';
    for (size_t i = 0; i < m; i++) w[i + 1] = ascii_lower(s[i]);
    w[m + 1] = '$';
    uint64_t hword = hash_fnv1a(SEED_WORD, w + 1, m);
    if (!f->wc || m > WC_WORD_MAX) {
        struct upd u[HASH_SLOTS * 65];
        apply(f->v, u, word_features(w, m, hword, f->dim, u));
        return true;
    }
    struct wc_entry *e = &f->wc->e[hword & (WC_ENTRIES - 1)];
    if (e->len != m || e->hash != hword || memcmp(e->word, w + 1, m) != 0) {
        e->nupd = (uint8_t)word_features(w, m, hword, f->dim, e->upd);
        e->hash = hword;
        e->len = (uint8_t)m;
        memcpy(e->word, w + 1, m);
    }
    apply(f->v, e->upd, e->nupd);
    return true;
}

static int hash_embed(embedder_t *e, const char *const *texts, const size_t *lens, size_t n,
                      float *out, char *err, size_t errlen)
{
    struct wcache *wc = wc_get(e->dim);
    for (size_t i = 0; i < n; i++) {
        struct feats f = {.v = out + i * e->dim, .dim = e->dim, .wc = wc};
        memset(f.v, 0, e->dim * sizeof(float));
        text_tokens(texts[i], lens[i], feat_one, &f);
    }
    return 0;
}

static void hash_destroy(embedder_t *e)
{
    free(e);
}

int embed_hash_new(embedder_t **out, unsigned dim)
{
    *out = NULL;
    if (dim < 16 || dim > EMBED_MAX_DIM) return -EINVAL;
    embedder_t *e = calloc(1, sizeof *e);
    if (!e) return -ENOMEM;
    snprintf(e->name, sizeof e->name, "hash-2");
    e->replaces = "hash"; /* the first version (one slot a feature, no stop words) */
    e->dim = dim;
    e->embed = hash_embed;
    e->destroy = hash_destroy;
    *out = e;
    return 0;
}
