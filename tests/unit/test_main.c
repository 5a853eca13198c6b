/* Runs every unit test (or those whose name contains argv[1]; with a
 * leading '-', those whose name does not contain the rest) and closes with
 * "N passed, M failed". Tests run in the order of tests.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>

#include "test.h"

static int failed_now;

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: assertion failed: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    failed_now = 1;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
#define X(name) {#name, test_##name},
        ALL_TESTS
#undef X
    };
    int passed = 0, failed = 0;
    const char *filter = argc > 1 ? argv[1] : NULL;
    bool exclude = filter && filter[0] == '-';
    if (exclude) filter++;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (filter && (strstr(tests[i].name, filter) != NULL) == exclude) continue;
        failed_now = 0;
        tests[i].fn();
        if (failed_now) {
            failed++;
            printf("FAIL %s\n", tests[i].name);
        } else {
            passed++;
            printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
