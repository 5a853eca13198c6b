/* Threads writing while another scrapes: exact totals at the end, and every
 * scrape seen on the way consistent. Also the shared-shard path (more
 * threads than exclusive shards) and lookups racing removals. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "helpers.h"
#include "metrics/metrics.h"
#include "metrics/metrics_int.h"
#include "test.h"

#define WRITERS 4
#define ITERS   200000

/* Exact binary fractions: sums stay exact in a double. */
static const double obs_values[] = {0.0009765625 /* 2^-10 */, 0.25, 0.5, 2, 8};
/* bounds: 0.01 0.5 1 4 -> buckets: {2^-10} {0.25,0.5} {} {2} {8 -> +Inf} */
static const double conc_b[] = {0.01, 0.5, 1, 4};

struct conc {
    metrics_registry_t *reg;
    metrics_child_t *counter, *hist;
    metrics_family_t *labelled;
    atomic_int writers_left;
    atomic_int scrapes, bad; /* writers start after the first scrape */
    char why[256];
};

static void *writer(void *arg)
{
    struct conc *c = arg;
    char v[16];
    /* On 2 loaded cores the scraper may not run before the writers are done;
     * waiting for its first scrape makes the writes and scrapes overlap. */
    while (atomic_load(&c->scrapes) == 0 && atomic_load(&c->bad) == 0) sched_yield();
    for (int i = 0; i < ITERS; i++) {
        metrics_counter_inc(c->counter);
        metrics_histogram_observe(c->hist, obs_values[i % 5]);
        if (i % 64 == 0) {
            snprintf(v, sizeof v, "v%d", i % 8);
            metrics_counter_inc(metrics_family_child(c->labelled, (const char *[]){v}));
        }
    }
    atomic_fetch_sub(&c->writers_left, 1);
    return NULL;
}

/* Checks one scrape; returns the counter value or -1 on inconsistency. */
static double check_scrape(struct conc *c, const char *e)
{
    double prev = -1;
    int nb = 0;
    for (const char *p = strstr(e, "conc_seconds_bucket{");
         p && strncmp(p, "conc_seconds_bucket{", 20) == 0;) {
        const char *sp = strchr(p, ' ');
        double v = strtod(sp + 1, NULL);
        if (v < prev) {
            snprintf(c->why, sizeof c->why, "bucket decreased: %.0f < %.0f", v, prev);
            return -1;
        }
        prev = v;
        nb++;
        p = strchr(p, '\n') + 1;
    }
    double count = test_sample(e, "conc_seconds_count");
    if (nb != 5 || count != prev) {
        snprintf(c->why, sizeof c->why, "%d buckets, +Inf %.0f vs count %.0f", nb, prev, count);
        return -1;
    }
    return test_sample(e, "conc_total");
}

static void *scraper(void *arg)
{
    struct conc *c = arg;
    double last = 0;
    buf_t b = BUF_INIT;
    while (atomic_load(&c->writers_left) > 0) {
        buf_reset(&b);
        metrics_expose(c->reg, c->scrapes % 2 ? METRICS_FMT_OPENMETRICS : METRICS_FMT_TEXT, &b);
        buf_putc(&b, '\0');
        double v = check_scrape(c, b.data);
        if (v < 0 || v < last) {
            if (v >= 0) snprintf(c->why, sizeof c->why, "counter went back: %.0f < %.0f", v, last);
            c->bad++;
            break;
        }
        last = v;
        c->scrapes++;
    }
    buf_free(&b);
    return NULL;
}

TEST(concurrent_writes_and_scrapes)
{
    static const char *const l[] = {"v"};
    struct conc c = {0};
    metrics_family_t *f;
    ASSERT_OK(metrics_registry_new(&c.reg, NULL));
    ASSERT_OK(metrics_family_register(
        c.reg, &(metrics_family_opts_t){.type = METRICS_COUNTER, .name = "conc_total", .help = "h"},
        &f, NULL, 0));
    c.counter = metrics_family_child(f, NULL);
    ASSERT_OK(metrics_family_register(c.reg,
                                      &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,
                                                               .name = "conc_seconds",
                                                               .help = "h",
                                                               .buckets = conc_b,
                                                               .nbuckets = 4},
                                      &f, NULL, 0));
    c.hist = metrics_family_child(f, NULL);
    ASSERT_OK(metrics_family_register(c.reg,
                                      &(metrics_family_opts_t){.type = METRICS_COUNTER,
                                                               .name = "conc_labelled_total",
                                                               .help = "h",
                                                               .labels = l,
                                                               .nlabels = 1},
                                      &c.labelled, NULL, 0));
    atomic_store(&c.writers_left, WRITERS);
    pthread_t w[WRITERS], s;
    pthread_create(&s, NULL, scraper, &c);
    for (int i = 0; i < WRITERS; i++) pthread_create(&w[i], NULL, writer, &c);
    for (int i = 0; i < WRITERS; i++) pthread_join(w[i], NULL);
    pthread_join(s, NULL);
    if (c.bad) fprintf(stderr, "    inconsistent scrape: %s\n", c.why);
    ASSERT_EQ(c.bad, 0);
    ASSERT(c.scrapes > 0);
    printf("     (%d scrapes checked while writing)\n", atomic_load(&c.scrapes));

    ASSERT_DBL_EQ(metrics_counter_value(c.counter), (double)WRITERS * ITERS);
    uint64_t cum[5];
    double sum;
    ASSERT_EQ(metrics_histogram_snapshot(c.hist, cum, &sum), (uint64_t)WRITERS * ITERS);
    uint64_t per = (uint64_t)WRITERS * ITERS / 5;
    ASSERT_EQ(cum[0], per);
    ASSERT_EQ(cum[1], 3 * per);
    ASSERT_EQ(cum[2], 3 * per);
    ASSERT_EQ(cum[3], 4 * per);
    ASSERT_EQ(cum[4], 5 * per);
    ASSERT_DBL_EQ(sum, (double)per * (0.0009765625 + 0.25 + 0.5 + 2 + 8));
    double lab = 0;
    for (int i = 0; i < 8; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%d", i);
        lab += metrics_counter_value(metrics_family_child(c.labelled, (const char *[]){v}));
    }
    ASSERT_DBL_EQ(lab, (double)WRITERS * ((ITERS + 63) / 64));
    metrics_registry_free(&c.reg);
}

/* More threads alive at once than exclusive shards: the rest share shard 0. */
#define CROWD       (METRICS_MAX_SHARDS + 16)
#define CROWD_ITERS 2000

struct crowd {
    metrics_child_t *counter, *hist;
    pthread_barrier_t start, done;
    atomic_int on_shared;
};

static void *crowd_thread(void *arg)
{
    struct crowd *c = arg;
    pthread_barrier_wait(&c->start);
    for (int i = 0; i < CROWD_ITERS; i++) {
        metrics_counter_inc(c->counter);
        metrics_counter_add(c->counter, 0.5);
        metrics_histogram_observe(c->hist, 0.25);
    }
    if (metrics__tls_shard == 0) atomic_fetch_add(&c->on_shared, 1);
    pthread_barrier_wait(&c->done); /* keep every shard held until all have counted */
    return NULL;
}

TEST(more_threads_than_shards)
{
    metrics_registry_t *reg;
    metrics_family_t *f;
    struct crowd c;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_family_register(
        reg, &(metrics_family_opts_t){.type = METRICS_COUNTER, .name = "crowd_total", .help = "h"},
        &f, NULL, 0));
    c.counter = metrics_family_child(f, NULL);
    ASSERT_OK(metrics_family_register(reg,
                                      &(metrics_family_opts_t){.type = METRICS_HISTOGRAM,
                                                               .name = "crowd_seconds",
                                                               .help = "h",
                                                               .buckets = conc_b,
                                                               .nbuckets = 4},
                                      &f, NULL, 0));
    c.hist = metrics_family_child(f, NULL);
    atomic_init(&c.on_shared, 0);
    pthread_barrier_init(&c.start, NULL, CROWD);
    pthread_barrier_init(&c.done, NULL, CROWD);
    pthread_t t[CROWD];
    for (int i = 0; i < CROWD; i++) ASSERT_OK(pthread_create(&t[i], NULL, crowd_thread, &c));
    for (int i = 0; i < CROWD; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&c.start);
    pthread_barrier_destroy(&c.done);
    ASSERT(atomic_load(&c.on_shared) >= CROWD - METRICS_MAX_SHARDS);
    ASSERT_DBL_EQ(metrics_counter_value(c.counter), CROWD * CROWD_ITERS * 1.5);
    uint64_t cum[5];
    double sum;
    ASSERT_EQ(metrics_histogram_snapshot(c.hist, cum, &sum), (uint64_t)CROWD * CROWD_ITERS);
    ASSERT_DBL_EQ(sum, CROWD * CROWD_ITERS * 0.25);
    metrics_registry_free(&reg);
}

/* Lookups and increments racing removals and clears: under ASan this would
 * report any use of a child freed too early. */
struct churn {
    metrics_family_t *f;
    atomic_int stop;
};

static void *churn_reader(void *arg)
{
    struct churn *c = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    char v[16];
    while (!atomic_load(&c->stop)) {
        snprintf(v, sizeof v, "k%d", rand_r(&seed) % 40);
        metrics_child_t *ch;
        metrics_family_get(c->f, (const char *[]){v}, &ch);
        (void)metrics_counter_value(ch);
    }
    return NULL;
}

TEST(lookup_races_removal)
{
    static const char *const l[] = {"k"};
    metrics_registry_t *reg;
    struct churn c;
    ASSERT_OK(metrics_registry_new(&reg, NULL));
    ASSERT_OK(metrics_family_register(
        reg,
        &(metrics_family_opts_t){
            .type = METRICS_COUNTER, .name = "churn_total", .help = "h", .labels = l, .nlabels = 1},
        &c.f, NULL, 0));
    atomic_init(&c.stop, 0);
    pthread_t r[2];
    for (int i = 0; i < 2; i++) pthread_create(&r[i], NULL, churn_reader, &c);
    char v[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(v, sizeof v, "k%d", i % 40);
        metrics_family_remove(c.f, (const char *[]){v});
        if (i % 500 == 499) metrics_family_clear(c.f);
    }
    atomic_store(&c.stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(r[i], NULL);
    ASSERT(metrics_family_size(c.f) <= 40);
    /* Every remaining child is still whole and findable. */
    char *e = test_expose(reg, METRICS_FMT_TEXT);
    ASSERT(e != NULL);
    free(e);
    metrics_registry_free(&reg);
}
