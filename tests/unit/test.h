/* Minimal unit-test harness (libuv's ASSERT habit): a failing assertion
 * reports file, line and values, marks the test failed and returns. */
#ifndef RAGD_TEST_H
#define RAGD_TEST_H

#include <stdio.h>
#include <string.h>

void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_fail(__FILE__, __LINE__, "%s", #cond);                                            \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            test_fail(__FILE__, __LINE__, "%s == %s (%lld != %lld)", #a, #b, a_, b_);              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_OK(x) ASSERT_EQ((x), 0)

#define ASSERT_DBL_EQ(a, b)                                                                        \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(a_ == b_)) {                                                                         \
            test_fail(__FILE__, __LINE__, "%s == %s (%.17g != %.17g)", #a, #b, a_, b_);            \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            test_fail(__FILE__, __LINE__, "%s == %s (\"%s\" != \"%s\")", #a, #b,                   \
                      a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                     \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Haystack contains needle. */
#define ASSERT_CONTAINS(hay, needle)                                                               \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_)) {                                                              \
            test_fail(__FILE__, __LINE__, "%s contains \"%s\"", #hay, n_);                         \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_NOT_CONTAINS(hay, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ && strstr(h_, n_)) {                                                                \
            test_fail(__FILE__, __LINE__, "%s lacks \"%s\"", #hay, n_);                            \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Every test is listed once in tests.h; this declares them all. */
#include "tests.h"
#define X(name) void test_##name(void);
ALL_TESTS
#undef X
#define TEST(name) void test_##name(void)

#endif
