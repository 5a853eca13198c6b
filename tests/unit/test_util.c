#include <errno.h>
#include <stdlib.h>

#include "test.h"
#include "util/buf.h"
#include "util/num.h"
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
