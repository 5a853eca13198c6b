#include "util/sse.h"

#include <errno.h>
#include <string.h>

void sse_init(sse_t *p, size_t max, sse_event_fn fn, void *ctx)
{
    memset(p, 0, sizeof *p);
    buf_init(&p->line, max);
    buf_init(&p->data, max);
    p->fn = fn;
    p->ctx = ctx;
}

void sse_free(sse_t *p)
{
    buf_free(&p->line);
    buf_free(&p->data);
}

/* One complete line (without its ending). */
static int on_line(sse_t *p, const char *s, size_t n)
{
    if (n == 0) { /* blank line: dispatch */
        int rc = 0;
        if (p->has_data)
            rc = p->fn(p->ctx, p->event[0] ? p->event : "message", p->data.data ? p->data.data : "",
                       p->data.len);
        buf_reset(&p->data);
        p->event[0] = '\0';
        p->has_data = 0;
        return rc;
    }
    if (s[0] == ':') return 0; /* comment: a keep-alive */
    const char *colon = memchr(s, ':', n);
    size_t flen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen && *v == ' ') v++, vlen--;
    if (flen == 4 && memcmp(s, "data", 4) == 0) {
        if (p->has_data) buf_putc(&p->data, '\n');
        buf_append(&p->data, v, vlen);
        p->has_data = 1;
        return buf_error(&p->data);
    }
    if (flen == 5 && memcmp(s, "event", 5) == 0) {
        if (vlen > SSE_EVENT_NAME_MAX) vlen = SSE_EVENT_NAME_MAX;
        memcpy(p->event, v, vlen);
        p->event[vlen] = '\0';
    }
    return 0;
}

int sse_feed(sse_t *p, const char *s, size_t n)
{
    int rc;
    if ((rc = buf_error(&p->line)) != 0 || (rc = buf_error(&p->data)) != 0) return rc;
    for (size_t i = 0; i < n;) {
        if (p->last_cr && s[i] == '\n') { /* the LF of a CRLF */
            p->last_cr = 0;
            i++;
            continue;
        }
        p->last_cr = 0;
        /* the rest of this line, or all that is left */
        size_t j = i;
        while (j < n && s[j] != '\n' && s[j] != '\r') j++;
        if (j == n) {
            buf_append(&p->line, s + i, n - i);
            return buf_error(&p->line);
        }
        p->last_cr = s[j] == '\r';
        if (p->line.len) { /* a line cut across feeds */
            buf_append(&p->line, s + i, j - i);
            if ((rc = buf_error(&p->line)) != 0) return rc;
            rc = on_line(p, p->line.data, p->line.len);
            buf_reset(&p->line);
        } else {
            if (j - i > p->line.max && p->line.max) return -E2BIG;
            rc = on_line(p, s + i, j - i);
        }
        if (rc) return rc;
        i = j + 1;
    }
    return 0;
}
