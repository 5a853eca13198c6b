#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

void buf_init(buf_t *b, size_t max)
{
    *b = (buf_t)BUF_INIT;
    b->max = max;
}

void buf_free(buf_t *b)
{
    size_t max = b->max;
    free(b->data);
    buf_init(b, max);
}

void buf_reset(buf_t *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data) b->data[0] = '\0';
}

int buf_reserve(buf_t *b, size_t extra)
{
    size_t max = b->max ? b->max : BUF_DEFAULT_MAX;
    if (b->err) return b->err;
    if (extra > max || b->len > max - extra) return b->err = -E2BIG;
    size_t need = b->len + extra + 1; /* + NUL */
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return b->err = -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void buf_append(buf_t *b, const void *p, size_t n)
{
    if (buf_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (!b->err) b->err = -EINVAL;
        return;
    }
    if ((size_t)n < sizeof small) {
        buf_append(b, small, (size_t)n);
        return;
    }
    if (buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *buf_steal(buf_t *b, size_t *len)
{
    char *p = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    b->err = 0;
    return p;
}

size_t buf_write_cb(char *p, size_t size, size_t n, void *b)
{
    buf_append(b, p, size * n);
    return buf_error(b) ? 0 : size * n;
}
