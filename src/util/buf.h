/* buf: a growable byte buffer with a size cap (curl's dynbuf habit).
 *
 * Appends never fail loudly: the first allocation failure or cap overrun sets
 * a sticky error, later appends are ignored, and buf_error() reports it once
 * the caller is done building. This keeps formatting code linear and free of
 * per-append checks. The data is NUL-terminated whenever len < cap so it can
 * be printed, but its length is what counts (it may hold NUL bytes). */
#ifndef RAGD_BUF_H
#define RAGD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

/* Default cap: nothing ragd builds in one buffer comes near it. */
#define BUF_DEFAULT_MAX ((size_t)1 << 30)

typedef struct buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    size_t max; /* hard cap on len; 0 means BUF_DEFAULT_MAX */
    int err;    /* 0, or -ENOMEM / -E2BIG, sticky */
} buf_t;

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

void buf_init(buf_t *b, size_t max);
/* Releases the memory; the buffer is empty and usable again. */
void buf_free(buf_t *b);
/* Empties the buffer but keeps its memory; clears the error. */
void buf_reset(buf_t *b);
/* Makes room for `extra` more bytes; 0 or the sticky error. */
int buf_reserve(buf_t *b, size_t extra);
void buf_append(buf_t *b, const void *p, size_t n);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 when every append so far succeeded, else -ENOMEM or -E2BIG. */
static inline int buf_error(const buf_t *b)
{
    return b->err;
}

static inline void buf_puts(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

static inline void buf_putc(buf_t *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
    } else {
        buf_append(b, &c, 1);
    }
}

/* Gives the caller the data (to free()) and leaves the buffer empty. */
char *buf_steal(buf_t *b, size_t *len);
/* A write callback in libcurl's shape (CURLOPT_WRITEFUNCTION, with the buf_t
 * as CURLOPT_WRITEDATA): appends size * n bytes; returns 0 once the buffer
 * has failed (full or out of memory), which makes the transfer stop. */
size_t buf_write_cb(char *p, size_t size, size_t n, void *b);

#endif
