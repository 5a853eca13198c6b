/* registry: families, children, lookup, removal, and the value region.
 *
 * Locks, in the only order they are taken: registry scrape_mu -> registry mu
 * -> family mu -> registry slots_mu. Lookups of existing children take none
 * of them (see shard.c for the read sections that make that safe). */
#include "metrics/metrics_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/hash.h"
#include "util/utf8.h"
#include "util/vec.h"

#define DROPPED_NAME "ragd_metrics_dropped_series_total"
#define TABLE_MIN    16

/* Writes a registration message to err, when the caller gave one. */
static void set_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- names and escaping -------------------------------------------------- */

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s) return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (colon && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && memcmp(s + n - m, suffix, m) == 0;
}

/* Appends s escaped: backslash and newline always, double quote when
 * `quote` (label values; HELP in OpenMetrics). */
static void escape(buf_t *b, const char *s, bool quote)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *rep = NULL;
        if (*p == '\\')
            rep = "\\\\";
        else if (*p == '\n')
            rep = "\\n";
        else if (*p == '"' && quote)
            rep = "\\\"";
        if (!rep) continue;
        buf_append(b, run, (size_t)(p - run));
        buf_append(b, rep, 2);
        run = p + 1;
    }
    buf_puts(b, run);
}

static char *escaped_dup(const char *s, bool quote)
{
    buf_t b = BUF_INIT;
    escape(&b, s, quote);
    buf_putc(&b, '\0'); /* an empty string still allocates */
    if (buf_error(&b)) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* ---- the value region ---------------------------------------------------- */

/* Reserves n slots; SIZE_MAX when the region is full or n == 0. Slots are
 * never given back to the region: a removed child keeps its slots and is
 * recycled by its family (see child_retire), so a stale handle always points
 * at valid memory. */
static size_t slots_alloc(metrics_registry_t *reg, size_t n)
{
    size_t off = SIZE_MAX;
    if (n == 0) return SIZE_MAX;
    pthread_mutex_lock(&reg->slots_mu);
    if (reg->max_slots - reg->slot_next >= n) {
        off = reg->slot_next;
        reg->slot_next += n;
    }
    pthread_mutex_unlock(&reg->slots_mu);
    return off;
}

/* ---- children ------------------------------------------------------------ */

static uint64_t hash_values(const char *const *values, size_t n)
{
    static const unsigned char sep = 0xff; /* ("ab","") != ("a","b"): 0xff is never in UTF-8 */
    uint64_t h = HASH_FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h = hash_fnv1a(h, values[i], strlen(values[i]));
        h = hash_fnv1a(h, &sep, 1);
    }
    return h;
}

static bool values_equal(const metrics_child_t *c, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->values[i], values[i]) != 0) return false;
    return true;
}

static int values_cmp(char *const *a, const char *const *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int r = strcmp(a[i], b[i]);
        if (r) return r;
    }
    return 0;
}

/* Frees a child for good (family teardown only). */
static void child_free(metrics_child_t *c)
{
    if (!c) return;
    free(c->values);
    free(c->rendered);
    free(c);
}

/* After a grace period: drops the child's labels and puts it on its family's
 * free list, slots and all. Its memory stays valid, so a handle used after
 * removal never faults: its writes are lost, or land in the child that reuses
 * it. Under fam->mu. */
static void child_retire(metrics_family_t *fam, metrics_child_t *c)
{
    free(c->values);
    free(c->rendered);
    c->values = NULL;
    c->rendered = NULL;
    c->rendered_len = 0;
    c->next_free = fam->free_children;
    fam->free_children = c;
}

/* A child struct with its slots, zeroed: recycled when the family has one,
 * else new. Under fam->mu (or during registration). */
static int child_obtain(metrics_family_t *fam, metrics_child_t **out)
{
    metrics_registry_t *reg = fam->reg;
    metrics_child_t *c = fam->free_children;
    if (c) {
        fam->free_children = c->next_free;
        c->next_free = NULL;
        int high = metrics__shard_high();
        for (int s = 0; s <= high && c->cell; s++)
            for (size_t i = 0; i < fam->nslots; i++)
                atomic_store_explicit((_Atomic uint64_t *)(c->cell + (size_t)s * c->stride) + i, 0,
                                      memory_order_relaxed);
    } else {
        c = calloc(1, sizeof *c);
        if (!c) return -ENOMEM;
        c->fam = fam;
        c->flags = fam->flags;
        c->bounds = fam->bounds;
        c->nbounds = (uint32_t)fam->nbounds;
        c->stride = reg->stride;
        c->slot_off = SIZE_MAX;
        if (fam->nslots) {
            c->slot_off = slots_alloc(reg, fam->nslots);
            if (c->slot_off == SIZE_MAX) {
                free(c);
                return -ENOSPC;
            }
            c->cell = reg->slots + c->slot_off * 8;
        }
    }
    atomic_store_explicit(&c->gauge,
                          (fam->flags & METRICS_F_ABSENT) ? METRICS_ABSENT_BITS
                          : fam->type == METRICS_INFO     ? 0x3ff0000000000000ULL /* 1.0 */
                                                          : 0,
                          memory_order_relaxed);
    *out = c;
    return 0;
}

/* Builds a child (not yet linked). values NULL: a child without label values
 * (the only child of an unlabelled family, or a family's sink). */
static int child_new(metrics_family_t *fam, const char *const *values, uint64_t hash,
                     metrics_child_t **out)
{
    metrics_child_t *c;
    *out = NULL;
    int rc = child_obtain(fam, &c);
    if (rc) return rc;
    c->hash = hash;

    /* values: pointer array followed by the strings, one block. */
    size_t nl = values ? fam->nlabels : 0;
    size_t bytes = nl * sizeof(char *);
    for (size_t i = 0; i < nl; i++) bytes += strlen(values[i]) + 1;
    c->values = malloc(bytes ? bytes : 1);
    buf_t r = BUF_INIT;
    if (!c->values) goto nomem;
    char *sp = (char *)(c->values + nl);
    for (size_t i = 0; i < nl; i++) {
        size_t n = strlen(values[i]) + 1;
        memcpy(sp, values[i], n);
        c->values[i] = sp;
        sp += n;
        if (i) buf_putc(&r, ',');
        buf_puts(&r, fam->label_names[i]);
        buf_append(&r, "=\"", 2);
        escape(&r, values[i], true);
        buf_putc(&r, '"');
    }
    buf_putc(&r, '\0');
    if (buf_error(&r)) goto nomem;
    c->rendered = buf_steal(&r, &c->rendered_len);
    c->rendered_len--; /* the NUL we added */
    *out = c;
    return 0;
nomem:
    buf_free(&r);
    child_retire(fam, c);
    return -ENOMEM;
}

/* ---- the lookup table ---------------------------------------------------- */

static struct metrics_table *table_new(size_t cap)
{
    struct metrics_table *t = calloc(1, sizeof *t + cap * sizeof(t->e[0]));
    if (t) t->mask = cap - 1;
    return t;
}

static void table_free_chain(struct metrics_table *t)
{
    while (t) {
        struct metrics_table *next = t->retired;
        free(t);
        t = next;
    }
}

static metrics_child_t *table_find(struct metrics_table *t, uint64_t h, const char *const *values,
                                   size_t n)
{
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        metrics_child_t *e = atomic_load_explicit(&t->e[i], memory_order_acquire);
        if (!e) return NULL;
        if (e != METRICS_TOMBSTONE && e->hash == h && values_equal(e, values, n)) return e;
    }
}

/* Index of the entry holding c in t, or SIZE_MAX. */
static size_t table_index(struct metrics_table *t, const metrics_child_t *c)
{
    for (size_t i = c->hash & t->mask;; i = (i + 1) & t->mask) {
        metrics_child_t *e = atomic_load_explicit(&t->e[i], memory_order_relaxed);
        if (!e) return SIZE_MAX;
        if (e == c) return i;
    }
}

static void table_put(struct metrics_table *t, metrics_child_t *c)
{
    size_t i = c->hash & t->mask;
    while (atomic_load_explicit(&t->e[i], memory_order_relaxed) != NULL) i = (i + 1) & t->mask;
    atomic_store_explicit(&t->e[i], c, memory_order_release);
    t->used++;
}

/* Under fam->mu: makes room for one more entry, growing (or compacting
 * tombstones away) into a new table published atomically. */
static int table_reserve(metrics_family_t *fam)
{
    struct metrics_table *t = atomic_load_explicit(&fam->table, memory_order_relaxed);
    if ((t->used + 1) * 2 <= t->mask + 1) return 0;
    size_t cap = TABLE_MIN;
    while (cap < (fam->nchildren + 1) * 4) cap *= 2;
    struct metrics_table *nt = table_new(cap);
    if (!nt) return -ENOMEM;
    for (size_t i = 0; i < fam->nchildren; i++) table_put(nt, fam->sorted[i]);
    nt->retired = t; /* readers may still be in t: freed after a grace period */
    atomic_store_explicit(&fam->table, nt, memory_order_release);
    return 0;
}

/* Position where values belong in fam->sorted (binary search). */
static size_t sorted_pos(metrics_family_t *fam, const char *const *values)
{
    size_t lo = 0, hi = fam->nchildren;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (values_cmp(fam->sorted[mid]->values, values, fam->nlabels) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- families ------------------------------------------------------------ */

static void family_free(metrics_family_t *fam)
{
    if (!fam) return;
    for (size_t i = 0; i < fam->nchildren; i++) child_free(fam->sorted[i]);
    child_free(fam->child0);
    child_free(fam->sink);
    while (fam->free_children) {
        metrics_child_t *next = fam->free_children->next_free;
        child_free(fam->free_children);
        fam->free_children = next;
    }
    table_free_chain(atomic_load_explicit(&fam->table, memory_order_relaxed));
    free(fam->sorted);
    for (size_t i = 0; i < fam->nlabels; i++) free(fam->label_names[i]);
    free(fam->label_names);
    for (size_t i = 0; i < fam->nbounds; i++) {
        free(fam->le_text[i]);
        free(fam->le_om[i]);
    }
    free(fam->le_text);
    free(fam->le_om);
    free(fam->bounds);
    free(fam->name);
    free(fam->om_name);
    free(fam->help_text);
    free(fam->help_om);
    pthread_mutex_destroy(&fam->mu);
    free(fam);
}

/* The sample names a family writes, in either format, plus its family
 * names: two families clash when these sets meet. */
static size_t family_names(const metrics_family_t *fam, char out[6][160])
{
    size_t n = 0;
    snprintf(out[n++], 160, "%s", fam->name);
    snprintf(out[n++], 160, "%s", fam->om_name);
    if (fam->type == METRICS_HISTOGRAM) {
        snprintf(out[n++], 160, "%s_bucket", fam->name);
        snprintf(out[n++], 160, "%s_sum", fam->name);
        snprintf(out[n++], 160, "%s_count", fam->name);
    }
    if (fam->type == METRICS_COUNTER) snprintf(out[n++], 160, "%s_created", fam->om_name);
    return n;
}

static bool family_clash(const metrics_family_t *a, const metrics_family_t *b)
{
    char na[6][160], nb[6][160];
    size_t ka = family_names(a, na), kb = family_names(b, nb);
    for (size_t i = 0; i < ka; i++)
        for (size_t j = 0; j < kb; j++)
            if (strcmp(na[i], nb[j]) == 0) return true;
    return false;
}

static int check_opts(const metrics_family_opts_t *o, char *err, size_t errlen)
{
    if (!o->name || !valid_name(o->name, true) || strlen(o->name) > 120) {
        set_error(err, errlen, "invalid metric name \"%s\"", o->name ? o->name : "(null)");
        return -EINVAL;
    }
    if (o->type > METRICS_INFO) {
        set_error(err, errlen, "%s: unknown metric type %d", o->name, (int)o->type);
        return -EINVAL;
    }
    if (o->type == METRICS_COUNTER && !ends_with(o->name, "_total")) {
        set_error(err, errlen, "%s: a counter's name must end in _total", o->name);
        return -EINVAL;
    }
    if (o->type == METRICS_INFO && !ends_with(o->name, "_info")) {
        set_error(err, errlen, "%s: an info metric's name must end in _info", o->name);
        return -EINVAL;
    }
    if ((o->flags & METRICS_F_ABSENT) && o->type != METRICS_GAUGE &&
        !(o->flags & METRICS_F_MIRROR)) {
        set_error(err, errlen, "%s: only gauges and mirror counters can start absent", o->name);
        return -EINVAL;
    }
    if ((o->flags & METRICS_F_MIRROR) && o->type != METRICS_COUNTER) {
        set_error(err, errlen, "%s: only counters can mirror", o->name);
        return -EINVAL;
    }
    if (!o->help || !utf8_valid(o->help, strlen(o->help))) {
        set_error(err, errlen, "%s: help text missing or not UTF-8", o->name);
        return -EINVAL;
    }
    if (o->nlabels > METRICS_MAX_LABELS || (o->nlabels && !o->labels)) {
        set_error(err, errlen, "%s: at most %d labels", o->name, METRICS_MAX_LABELS);
        return -EINVAL;
    }
    for (size_t i = 0; i < o->nlabels; i++) {
        const char *l = o->labels[i];
        if (!valid_name(l, false)) {
            set_error(err, errlen, "%s: invalid label name \"%s\"", o->name, l ? l : "(null)");
            return -EINVAL;
        }
        if (strncmp(l, "__", 2) == 0 || strcmp(l, "le") == 0) {
            set_error(err, errlen, "%s: label name \"%s\" is reserved", o->name, l);
            return -EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(o->labels[j], l) == 0) {
                set_error(err, errlen, "%s: label \"%s\" given twice", o->name, l);
                return -EINVAL;
            }
        }
    }
    if (o->type == METRICS_HISTOGRAM) {
        size_t n = o->nbuckets;
        if (n && isinf(o->buckets[n - 1]) && o->buckets[n - 1] > 0) n--;
        if (n == 0 || n > METRICS_MAX_BUCKETS) {
            set_error(err, errlen, "%s: a histogram needs 1 to %d bounds", o->name,
                      METRICS_MAX_BUCKETS);
            return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(o->buckets[i]) || (i && !(o->buckets[i] > o->buckets[i - 1]))) {
                set_error(err, errlen, "%s: bucket bounds must be finite and increasing", o->name);
                return -EINVAL;
            }
        }
    } else if (o->nbuckets) {
        set_error(err, errlen, "%s: only histograms have buckets", o->name);
        return -EINVAL;
    }
    return 0;
}

static char *strip_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    if (suffix && ends_with(s, suffix)) n -= strlen(suffix);
    return strndup(s, n);
}

/* Builds a family from checked options; nothing is linked yet. */
static int family_build(metrics_registry_t *reg, const metrics_family_opts_t *o,
                        metrics_family_t **out)
{
    metrics_family_t *f = calloc(1, sizeof *f);
    *out = NULL;
    if (!f) return -ENOMEM;
    pthread_mutex_init(&f->mu, NULL);
    f->reg = reg;
    f->type = o->type;
    f->flags = o->flags;
    f->max_children = o->max_children ? o->max_children : reg->max_children;
    f->name = strdup(o->name);
    f->om_name = strip_suffix(o->name, o->type == METRICS_COUNTER ? "_total"
                                       : o->type == METRICS_INFO  ? "_info"
                                                                  : NULL);
    f->help_text = escaped_dup(o->help, false);
    f->help_om = escaped_dup(o->help, true);
    f->nlabels = o->nlabels;
    f->label_names = calloc(o->nlabels ? o->nlabels : 1, sizeof(char *));
    f->table = table_new(TABLE_MIN);
    if (!f->name || !f->om_name || !f->help_text || !f->help_om || !f->label_names || !f->table)
        goto nomem;
    for (size_t i = 0; i < o->nlabels; i++)
        if (!(f->label_names[i] = strdup(o->labels[i]))) goto nomem;

    if (o->type == METRICS_HISTOGRAM) {
        size_t n = o->nbuckets;
        if (isinf(o->buckets[n - 1])) n--;
        f->nbounds = n;
        f->bounds = malloc(n * sizeof(double));
        f->le_text = calloc(n, sizeof(char *));
        f->le_om = calloc(n, sizeof(char *));
        if (!f->bounds || !f->le_text || !f->le_om) goto nomem;
        for (size_t i = 0; i < n; i++) {
            char tmp[32];
            f->bounds[i] = o->buckets[i];
            metrics_format_double(tmp, o->buckets[i], false);
            f->le_text[i] = strdup(tmp);
            metrics_format_double(tmp, o->buckets[i], true);
            f->le_om[i] = strdup(tmp);
            if (!f->le_text[i] || !f->le_om[i]) goto nomem;
        }
        f->nslots = n + 2; /* n + 1 buckets, then the sum */
    } else if (o->type == METRICS_COUNTER && !(o->flags & METRICS_F_MIRROR)) {
        f->nslots = 2; /* integer part, fractional part */
    }
    *out = f;
    return 0;
nomem:
    family_free(f);
    return -ENOMEM;
}

int metrics_family_register(metrics_registry_t *reg, const metrics_family_opts_t *o,
                            metrics_family_t **out, char *err, size_t errlen)
{
    metrics_family_t *f = NULL;
    int rc;
    *out = NULL;
    pthread_mutex_lock(&reg->mu);
    if ((rc = check_opts(o, err, errlen)) != 0) goto out;
    if ((rc = family_build(reg, o, &f)) != 0) {
        set_error(err, errlen, "%s: out of memory", o->name);
        goto out;
    }
    size_t pos = 0;
    for (size_t i = 0; i < reg->nfams; i++) {
        if (family_clash(reg->fams[i], f)) {
            set_error(err, errlen, "%s: clashes with the registered metric %s", o->name,
                      reg->fams[i]->name);
            rc = -EEXIST;
            goto out;
        }
        if (strcmp(reg->fams[i]->name, f->name) < 0) pos = i + 1;
    }
    if ((rc = vec_reserve((void **)&reg->fams, &reg->fcap, reg->nfams + 1, 32,
                          sizeof *reg->fams)) != 0)
        goto out;
    /* child0 for unlabelled families; a sink for labelled ones. */
    rc = child_new(f, NULL, 0, f->nlabels ? &f->sink : &f->child0);
    if (rc) {
        set_error(err, errlen, "%s: %s", o->name,
                  rc == -ENOSPC ? "value region full" : "out of memory");
        goto out;
    }
    if (f->nlabels && reg->dropped) {
        const char *v[1] = {f->name};
        metrics_family_get(reg->dropped, v, &f->dropped);
    }
    memmove(reg->fams + pos + 1, reg->fams + pos, (reg->nfams - pos) * sizeof *reg->fams);
    reg->fams[pos] = f;
    reg->nfams++;
    *out = f;
    f = NULL;
out:
    pthread_mutex_unlock(&reg->mu);
    family_free(f);
    return rc;
}

int metrics_register_one(metrics_registry_t *reg, const metrics_family_opts_t *o,
                         metrics_child_t **out, char *err, size_t errlen)
{
    metrics_family_t *f;
    *out = NULL;
    if (o->nlabels) {
        set_error(err, errlen, "%s: metrics_register_one is for families without labels",
                  o->name ? o->name : "?");
        return -EINVAL;
    }
    int rc = metrics_family_register(reg, o, &f, err, errlen);
    if (rc == 0) *out = f->child0;
    return rc;
}

int metrics_register_all(metrics_registry_t *reg, const metrics_def_t *defs, size_t n, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        metrics_family_t *f;
        int rc = metrics_family_register(reg, &defs[i].opts, &f, err, errlen);
        if (rc) return rc;
        if (defs[i].family) *defs[i].family = f;
        if (defs[i].child) *defs[i].child = f->nlabels ? f->sink : f->child0;
    }
    return 0;
}

int metrics_info_register(metrics_registry_t *reg, const char *name, const char *help,
                          const char *const *labels, const char *const *values, size_t n, char *err,
                          size_t errlen)
{
    metrics_family_t *f;
    metrics_child_t *c;
    int rc = metrics_family_register(
        reg,
        &(metrics_family_opts_t){
            .type = METRICS_INFO, .name = name, .help = help, .labels = labels, .nlabels = n},
        &f, err, errlen);
    if (!rc && (rc = metrics_family_get(f, values, &c)) != 0)
        set_error(err, errlen, "%s: a value is not UTF-8", name);
    return rc;
}

/* ---- child lookup, creation, removal ------------------------------------ */

/* Slow path, under fam->mu: find again, else create and link. */
static int family_get_locked(metrics_family_t *fam, const char *const *values, uint64_t h,
                             metrics_child_t **out)
{
    struct metrics_table *t = atomic_load_explicit(&fam->table, memory_order_relaxed);
    metrics_child_t *c = table_find(t, h, values, fam->nlabels);
    if (c) {
        *out = c;
        return 0;
    }
    *out = fam->sink;
    for (size_t i = 0; i < fam->nlabels; i++)
        if (!utf8_valid(values[i], strlen(values[i]))) return -EINVAL;
    if (fam->nchildren >= fam->max_children) {
        if (fam->dropped) metrics_counter_inc(fam->dropped);
        return -ENOSPC;
    }
    if (vec_reserve((void **)&fam->sorted, &fam->cap, fam->nchildren + 1, 16, sizeof *fam->sorted))
        return -ENOMEM;
    int rc = table_reserve(fam);
    if (rc) return rc;
    if ((rc = child_new(fam, values, h, &c)) != 0) {
        if (rc == -ENOSPC && fam->dropped) metrics_counter_inc(fam->dropped);
        return rc;
    }
    size_t pos = sorted_pos(fam, values);
    memmove(fam->sorted + pos + 1, fam->sorted + pos, (fam->nchildren - pos) * sizeof(c));
    fam->sorted[pos] = c;
    fam->nchildren++;
    table_put(atomic_load_explicit(&fam->table, memory_order_relaxed), c);
    *out = c;
    return 0;
}

int metrics_family_get(metrics_family_t *fam, const char *const *values, metrics_child_t **out)
{
    if (fam->nlabels == 0) {
        *out = fam->child0;
        return 0;
    }
    if (!values) {
        *out = fam->sink;
        return -EINVAL;
    }
    for (size_t i = 0; i < fam->nlabels; i++) {
        if (!values[i]) {
            *out = fam->sink;
            return -EINVAL;
        }
    }
    uint64_t h = hash_values(values, fam->nlabels);
    int s = metrics__read_enter();
    if (s) {
        metrics_child_t *c = table_find(atomic_load_explicit(&fam->table, memory_order_acquire), h,
                                        values, fam->nlabels);
        metrics__read_exit(s);
        if (c) {
            *out = c;
            return 0;
        }
    }
    pthread_mutex_lock(&fam->mu);
    int rc = family_get_locked(fam, values, h, out);
    pthread_mutex_unlock(&fam->mu);
    return rc;
}

metrics_child_t *metrics_family_child(metrics_family_t *fam, const char *const *values)
{
    metrics_child_t *c;
    metrics_family_get(fam, values, &c);
    return c;
}

size_t metrics_family_size(metrics_family_t *fam)
{
    pthread_mutex_lock(&fam->mu);
    size_t n = fam->nlabels ? fam->nchildren : 1;
    pthread_mutex_unlock(&fam->mu);
    return n;
}

/* Under fam->mu, after unlinking: waits out lookups that could still read
 * the dead children's labels or the retired tables, then recycles them. */
static void reclaim(metrics_family_t *fam, metrics_child_t **dead, size_t n)
{
    metrics__synchronize();
    for (size_t i = 0; i < n; i++) child_retire(fam, dead[i]);
    struct metrics_table *t = atomic_load_explicit(&fam->table, memory_order_relaxed);
    table_free_chain(t->retired);
    t->retired = NULL;
}

int metrics_family_remove(metrics_family_t *fam, const char *const *values)
{
    if (fam->nlabels == 0 || !values) return -ENOENT;
    for (size_t i = 0; i < fam->nlabels; i++)
        if (!values[i]) return -ENOENT;
    uint64_t h = hash_values(values, fam->nlabels);
    pthread_mutex_lock(&fam->mu);
    struct metrics_table *t = atomic_load_explicit(&fam->table, memory_order_relaxed);
    metrics_child_t *c = table_find(t, h, values, fam->nlabels);
    if (!c) {
        pthread_mutex_unlock(&fam->mu);
        return -ENOENT;
    }
    atomic_store_explicit(&t->e[table_index(t, c)], METRICS_TOMBSTONE, memory_order_release);
    size_t pos = sorted_pos(fam, values);
    memmove(fam->sorted + pos, fam->sorted + pos + 1, (fam->nchildren - pos - 1) * sizeof(c));
    fam->nchildren--;
    reclaim(fam, &c, 1);
    pthread_mutex_unlock(&fam->mu);
    return 0;
}

void metrics_family_clear(metrics_family_t *fam)
{
    if (fam->nlabels == 0) return;
    pthread_mutex_lock(&fam->mu);
    struct metrics_table *t = atomic_load_explicit(&fam->table, memory_order_relaxed);
    struct metrics_table *nt = table_new(TABLE_MIN);
    if (nt) {
        nt->retired = t;
        atomic_store_explicit(&fam->table, nt, memory_order_release);
    } else { /* no memory for a fresh table: tombstone the old one in place */
        for (size_t i = 0; i < fam->nchildren; i++)
            atomic_store_explicit(&t->e[table_index(t, fam->sorted[i])], METRICS_TOMBSTONE,
                                  memory_order_release);
    }
    size_t n = fam->nchildren;
    fam->nchildren = 0;
    reclaim(fam, fam->sorted, n);
    pthread_mutex_unlock(&fam->mu);
}

/* ---- registry ------------------------------------------------------------ */

int metrics_registry_new(metrics_registry_t **out, const metrics_registry_opts_t *opts)
{
    metrics_registry_t *reg = calloc(1, sizeof *reg);
    *out = NULL;
    if (!reg) return -ENOMEM;
    pthread_mutex_init(&reg->mu, NULL);
    pthread_mutex_init(&reg->slots_mu, NULL);
    pthread_mutex_init(&reg->scrape_mu, NULL);
    reg->max_slots = opts && opts->max_slots ? opts->max_slots : METRICS_DEFAULT_MAX_SLOTS;
    reg->max_children =
        opts && opts->max_children ? opts->max_children : METRICS_DEFAULT_MAX_CHILDREN;
    reg->stride = reg->max_slots * 8;
    /* Reserve, do not commit: untouched pages cost nothing. */
    void *p = mmap(NULL, reg->stride * (METRICS_MAX_SHARDS + 1), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        metrics_registry_free(&reg);
        return -ENOMEM;
    }
    reg->slots = p;
    static const char *const dropped_labels[] = {"family"};
    metrics_family_opts_t d = {
        .type = METRICS_COUNTER,
        .name = DROPPED_NAME,
        .help = "Label sets refused because their family reached its child limit.",
        .labels = dropped_labels,
        .nlabels = 1,
        .max_children = 100000,
    };
    int rc = metrics_family_register(reg, &d, &reg->dropped, NULL, 0);
    if (rc) {
        metrics_registry_free(&reg);
        return rc;
    }
    *out = reg;
    return 0;
}

void metrics_registry_free(metrics_registry_t **regp)
{
    metrics_registry_t *reg = regp ? *regp : NULL;
    if (!reg) return;
    for (size_t i = 0; i < reg->nfams; i++) family_free(reg->fams[i]);
    free(reg->fams);
    if (reg->slots) munmap(reg->slots, reg->stride * (METRICS_MAX_SHARDS + 1));
    pthread_mutex_destroy(&reg->mu);
    pthread_mutex_destroy(&reg->slots_mu);
    pthread_mutex_destroy(&reg->scrape_mu);
    free(reg);
    *regp = NULL;
}

int metrics_registry_add_collector(metrics_registry_t *reg, metrics_collect_fn fn, void *ctx)
{
    int rc = 0;
    pthread_mutex_lock(&reg->scrape_mu);
    if (reg->ncollectors == METRICS_MAX_COLLECTORS)
        rc = -ENOSPC;
    else
        reg->collectors[reg->ncollectors++] = (struct metrics_collector){fn, ctx};
    pthread_mutex_unlock(&reg->scrape_mu);
    return rc;
}

/* ---- bucket helpers ------------------------------------------------------ */

int metrics_buckets_linear(double start, double width, size_t count, double *out)
{
    if (count == 0 || count > METRICS_MAX_BUCKETS || !isfinite(start) || !(width > 0) ||
        !isfinite(width))
        return -EINVAL;
    for (size_t i = 0; i < count; i++) out[i] = start + (double)i * width;
    return 0;
}

int metrics_buckets_exponential(double start, double factor, size_t count, double *out)
{
    if (count == 0 || count > METRICS_MAX_BUCKETS || !(start > 0) || !isfinite(start) ||
        !(factor > 1) || !isfinite(factor))
        return -EINVAL;
    double v = start;
    for (size_t i = 0; i < count; i++, v *= factor) {
        if (!isfinite(v)) return -EINVAL;
        out[i] = v;
    }
    return 0;
}
