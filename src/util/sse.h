/* sse: an incremental parser of Server-Sent Events (the WHATWG "event
 * stream" format), for the streams ragd reads: an OpenAI-compatible
 * server's chat completions, and ragd's own answers in `ragd ask`.
 *
 * Bytes go in as they arrive, cut anywhere; each complete event comes out
 * once its blank line is seen. Lines end in LF, CRLF or CR; a line starting
 * with ':' is a comment; "data:" lines of one event are joined with LF;
 * "event:" names the event ("message" when absent); other fields (id,
 * retry) are ignored, as a reader without reconnection may. The one space
 * after the colon is not part of the value. A line longer than the parser's
 * cap is an error (a stream that never ends a line would otherwise grow
 * without bound). */
#ifndef RAGD_SSE_H
#define RAGD_SSE_H

#include <stddef.h>

#include "util/buf.h"

#define SSE_EVENT_NAME_MAX 64

/* Called for each event: its name and data (NUL-terminated, data may be
 * ""). Return 0 to go on, anything else to stop: sse_feed returns it. */
typedef int (*sse_event_fn)(void *ctx, const char *event, const char *data, size_t len);

typedef struct sse {
    buf_t line, data;
    char event[SSE_EVENT_NAME_MAX + 1];
    int has_data; /* a data line was seen in this event */
    int last_cr;  /* the previous byte ended a line with CR (an LF may follow) */
    sse_event_fn fn;
    void *ctx;
} sse_t;

/* max: the longest line and event data, in bytes. */
void sse_init(sse_t *p, size_t max, sse_event_fn fn, void *ctx);
/* Parses s[0..n). 0; -E2BIG (a line or event over the cap) or -ENOMEM,
 * after which the parser is spent; or the callback's non-zero value. */
int sse_feed(sse_t *p, const char *s, size_t n);
void sse_free(sse_t *p);

#endif
