/* log: one line per event on stderr, as text or JSON.
 *
 * Each line is formatted into a stack buffer and written with one write(2),
 * so lines from concurrent threads never interleave (lines stay well under
 * PIPE_BUF's worth of atomicity for pipes; longer fields are truncated). */
#ifndef RAGD_LOG_H
#define RAGD_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum log_format { LOG_TEXT, LOG_JSON } log_format_t;

/* Sets the format (default text) and the fd (default 2). Not thread-safe:
 * call before starting threads. */
void log_init(log_format_t fmt, int fd);
log_format_t log_get_format(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The access log line of one request. */
typedef struct log_request {
    const char *method, *path, *route; /* route: template or "unmatched" */
    int status;
    double duration_s;
    size_t bytes_in, bytes_out;
} log_request_t;
void log_request(const log_request_t *r);

#endif
