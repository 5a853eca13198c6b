#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "util/buf.h"
#include "util/dot.h"
#include "util/file.h"
#include "util/num.h"
#include "util/par.h"
#include "util/proc.h"
#include "util/random.h"
#include "util/text_scan.h"
#include "util/vec.h"
#include "util/utf8.h"

TEST(utf8_valid_table)
{
    static const struct {
        const char *s;
        size_t n; /* 0: strlen */
        int ok;
    } rows[] = {
        {"", 0, 1},
        {"plain ascii text, long enough for the 8-byte path", 0, 1},
        {"日本語のテキスト", 0, 1},
        {"caf\xc3\xa9", 0, 1},
        {"\xf0\x9f\x98\x80 emoji", 0, 1},
        {"\xc3", 0, 0},             /* truncated */
        {"\xc0\xaf", 0, 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 0, 0},     /* overlong, 3 bytes */
        {"\xed\xa0\x80", 0, 0},     /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0, 0}, /* above U+10FFFF */
        {"\xff", 0, 0},
        {"abc\x80", 0, 0}, /* stray continuation */
        {"a\0b", 3, 1},    /* NUL is a code point */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n = rows[i].n ? rows[i].n : strlen(rows[i].s);
        ASSERT_EQ(utf8_valid(rows[i].s, n), rows[i].ok);
    }
}

TEST(buf_append_and_cap)
{
    buf_t b;
    buf_init(&b, 10);
    buf_puts(&b, "hello");
    buf_printf(&b, "%d", 42);
    ASSERT_OK(buf_error(&b));
    ASSERT_STR_EQ(b.data, "hello42");
    buf_puts(&b, "toolong");
    ASSERT_EQ(buf_error(&b), -E2BIG);
    ASSERT_EQ(b.len, 7); /* nothing of the refused append */
    buf_reset(&b);
    ASSERT_OK(buf_error(&b));
    buf_printf(&b, "%s", "abc");
    ASSERT_STR_EQ(b.data, "abc");
    size_t n;
    char *s = buf_steal(&b, &n);
    ASSERT_EQ(n, 3);
    ASSERT_STR_EQ(s, "abc");
    free(s);
    ASSERT(b.data == NULL);
    buf_free(&b);

    /* printf longer than the small stack buffer */
    buf_init(&b, 0);
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "[%s]", big);
    ASSERT_EQ(b.len, 601);
    buf_free(&b);
}

TEST(num_parse_table)
{
    static const struct {
        const char *s;
        size_t n; /* 0: strlen */
        int rc;
        uint64_t v;
        size_t used;
    } rows[] = {
        {"0", 0, 0, 0, 1},
        {"12345 rest", 0, 0, 12345, 5},
        {"18446744073709551615", 0, 0, UINT64_MAX, 20},
        {"18446744073709551616", 0, -ERANGE, 0, 0},
        {"", 0, -EINVAL, 0, 0},
        {"-1", 0, -EINVAL, 0, 0},
        {"x9", 0, -EINVAL, 0, 0},
        {"123456", 3, 0, 123, 3}, /* never reads past n */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t v = 0;
        size_t used = 0;
        size_t n = rows[i].n ? rows[i].n : strlen(rows[i].s);
        ASSERT_EQ(num_parse_u64(rows[i].s, n, &v, &used), rows[i].rc);
        if (rows[i].rc == 0) {
            ASSERT(v == rows[i].v);
            ASSERT_EQ(used, rows[i].used);
        }
    }
}

/* A child's every ending: output and input, exit codes, a signal, the
 * deadline, too much output, and a program that does not exist. */
TEST(proc_run_endings)
{
    static const struct {
        const char *script, *input;
        double timeout;
        size_t max_out;
        int exit_code, signal;
        bool timed_out, too_large;
        const char *out, *err;
    } cases[] = {
        {"cat; echo done >&2", "hello", 5, 1024, 0, 0, false, false, "hello", "done\n"},
        {"exit 3", NULL, 5, 1024, 3, 0, false, false, "", ""},
        {"kill -9 $$", NULL, 5, 1024, -1, 9, false, false, "", ""},
        {"sleep 10", NULL, 0.2, 1024, -1, 9, true, false, "", ""},
        {"yes", NULL, 5, 4096, -1, 9, false, true, NULL, ""},
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {"sh", "-c", (char *)cases[i].script, NULL};
        proc_run_t r = {.path = "/bin/sh",
                        .argv = argv,
                        .input = cases[i].input,
                        .input_len = cases[i].input ? strlen(cases[i].input) : 0,
                        .timeout_s = cases[i].timeout,
                        .max_out = cases[i].max_out,
                        .max_err = 256};
        proc_result_t res;
        ASSERT_OK(proc_run(&r, &res, err, sizeof err));
        ASSERT_EQ(res.exit_code, cases[i].exit_code);
        ASSERT_EQ(res.signal, cases[i].signal);
        ASSERT_EQ(res.timed_out, cases[i].timed_out);
        ASSERT_EQ(res.out_too_large, cases[i].too_large);
        if (cases[i].out) {
            ASSERT_EQ(res.out.len, strlen(cases[i].out));
            ASSERT_OK(memcmp(res.out.data ? res.out.data : "", cases[i].out, res.out.len));
        }
        ASSERT_EQ(res.err.len, strlen(cases[i].err));
        proc_result_free(&res);
    }
    char *argv[] = {"x", NULL};
    proc_run_t missing = {.path = "/nonexistent/x", .argv = argv, .timeout_s = 1, .max_out = 16};
    proc_result_t res;
    ASSERT_EQ(proc_run(&missing, &res, err, sizeof err), -ENOENT);
    ASSERT_CONTAINS(err, "/nonexistent/x");
}

/* Two draws of 16 random bytes differ, and random_unit stays in [0, 1). */
TEST(random_draws)
{
    unsigned char a[16], b[16];
    random_bytes(a, sizeof a);
    random_bytes(b, sizeof b);
    ASSERT(memcmp(a, b, sizeof a) != 0);
    for (int i = 0; i < 1000; i++) {
        double u = random_unit();
        ASSERT(u >= 0 && u < 1);
    }
}

struct par_seen {
    atomic_int calls[1000];
    pthread_t caller;
    atomic_int off_caller; /* calls on another thread than the caller's */
};

static void par_mark(void *ctx, size_t i)
{
    struct par_seen *p = ctx;
    atomic_fetch_add(&p->calls[i], 1);
    if (!pthread_equal(pthread_self(), p->caller)) atomic_fetch_add(&p->off_caller, 1);
}

/* par_for calls each index once, whatever the threads; with one thread,
 * or one item (the graph builder's last round), all on the caller's. */
TEST(par_for_each_once)
{
    static struct par_seen p;
    static const size_t ns[] = {0, 1, 7, 1000}, ts[] = {0, 1, 4, PAR_MAX_THREADS + 5};
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++) {
            memset(&p, 0, sizeof p);
            p.caller = pthread_self();
            par_for(ns[a], ts[b], par_mark, &p);
            for (size_t i = 0; i < 1000; i++) ASSERT_EQ(atomic_load(&p.calls[i]), i < ns[a]);
            if (ts[b] <= 1 || ns[a] <= 1) ASSERT_EQ(atomic_load(&p.off_caller), 0);
        }
}

/* The small helpers: case folding, line finding, the write callback, array
 * growth and mkdir -p. */
TEST(small_helpers)
{
    ASSERT_EQ(ascii_lower('Q'), 'q');
    ASSERT_EQ(ascii_lower('q'), 'q');
    ASSERT_EQ(ascii_lower('['), '[');
    ASSERT_EQ(ascii_lower((char)0xC3), (char)0xC3); /* a UTF-8 lead byte stays */

    static const char text[] = "MemTotal: 10 kB\nMemFree: 2\nMem";
    const char *le, *v = scan_line(text, sizeof text - 1, "MemFree:", &le);
    ASSERT(v && le - v == 2 && memcmp(v, " 2", 2) == 0);
    ASSERT(scan_line(text, sizeof text - 1, "Mem", &le) == text + 3); /* the first */
    ASSERT(scan_line(text, sizeof text - 1, "Swap", &le) == NULL);
    ASSERT(scan_line(text, 20, "MemFree:", &le) == NULL); /* only within n */

    buf_t b;
    buf_init(&b, 8);
    char chunk[5] = "abcde";
    ASSERT_EQ(buf_write_cb(chunk, 1, 5, &b), 5);
    ASSERT_EQ(buf_write_cb(chunk, 1, 5, &b), 0); /* past the cap: stop the transfer */
    buf_free(&b);

    int *v2 = NULL;
    size_t cap = 0;
    ASSERT_OK(vec_reserve((void **)&v2, &cap, 3, 4, sizeof *v2));
    ASSERT_EQ(cap, 4);
    ASSERT_OK(vec_reserve((void **)&v2, &cap, 9, 4, sizeof *v2));
    ASSERT_EQ(cap, 16);
    ASSERT_EQ(vec_reserve((void **)&v2, &cap, SIZE_MAX / 2, 4, sizeof *v2), -ENOMEM);
    ASSERT_EQ(cap, 16); /* unchanged on failure */
    free(v2);

    char dir[] = "/tmp/ragd-test-mkdir-XXXXXX", path[128], cmd[160];
    ASSERT(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a/b/c", dir);
    ASSERT_OK(file_mkdir_p(path, 0750));
    ASSERT_OK(file_mkdir_p(path, 0750)); /* it exists: fine */
    snprintf(path, sizeof path, "%s/a/b/c/f", dir);
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fclose(f);
    snprintf(path, sizeof path, "%s/a/b/c/f/g", dir);
    ASSERT_EQ(file_mkdir_p(path, 0750), -ENOTDIR);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_OK(system(cmd));
}

/* Against a double sum, at every length (each step and tail) and
 * alignment, on both paths. */
TEST(dot_any_alignment)
{
    float a[80], b[80];
    for (int i = 0; i < 80; i++) a[i] = (float)i / 70, b[i] = 1.0f - (float)i / 90;
    for (unsigned n = 0; n <= 73; n++)
        for (unsigned o = 0; o < 4; o++) {
            double want = 0;
            for (unsigned i = 0; i < n; i++) want += (double)a[i + o] * b[i + 3];
            ASSERT(fabs(dot_f32(a + o, b + 3, n) - want) < 1e-4);
            ASSERT(fabs(dot_f32_plain(a + o, b + 3, n) - want) < 1e-4);
        }
}

/* The AVX2 path (where the CPU has it: this machine's dot_f32) and the
 * plain one give the same bits, so a score does not depend on the CPU:
 * values of mixed sign and magnitude, where another order of the sums
 * would round differently. */
TEST(dot_same_bits_on_every_cpu)
{
    enum { N = 400 };
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    uint64_t st = 12345;
#define NEXT() ((st = st * 6364136223846793005u + 1442695040888963407u) >> 33)
    int differ = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < N; i++) {
            a[i] = (float)((double)(NEXT() % 2000001) / 1e6 - 1.0) * (i % 7 == 0 ? 1e3f : 1);
            b[i] = (float)((double)(NEXT() % 2000001) / 1e6 - 1.0);
        }
        for (unsigned n = 0; n <= N; n += n < 70 ? 1 : 41) {
            float x = dot_f32(a, b, n), y = dot_f32_plain(a, b, n);
            ASSERT(memcmp(&x, &y, sizeof x) == 0);
            /* the sums' order matters for these values: a plain loop differs */
            float z = 0;
            for (unsigned i = 0; i < n; i++) z += a[i] * b[i];
            differ += z != x;
        }
    }
#undef NEXT
    ASSERT(differ > 0);
    free(a);
    free(b);
}
