#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static log_format_t g_format = LOG_TEXT;
static int g_fd = 2;

void log_init(log_format_t fmt, int fd)
{
    g_format = fmt;
    g_fd = fd;
}

log_format_t log_get_format(void)
{
    return g_format;
}

/* RFC 3339 UTC timestamp with milliseconds. */
static size_t timestamp(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    k += (size_t)snprintf(buf + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000);
    return k;
}

/* Appends s as JSON string content (no quotes) to line at *len. */
static void json_escape(char *line, size_t *len, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)s; *p && *len + 7 < cap; p++) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            line[(*len)++] = '\\';
            line[(*len)++] = (char)c;
        } else if (c < 0x20) {
            const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
            if (e) {
                memcpy(line + *len, e, 2);
                *len += 2;
            } else {
                memcpy(line + *len, "\\u00", 4);
                line[*len + 4] = hex[c >> 4];
                line[*len + 5] = hex[c & 15];
                *len += 6;
            }
        } else {
            line[(*len)++] = (char)c;
        }
    }
}

static void emit(char *line, size_t len)
{
    if (len >= LINE_MAX_BYTES) len = LINE_MAX_BYTES - 1;
    line[len++] = '\n';
    while (write(g_fd, line, len) < 0 && errno == EINTR) {
    }
}

static void log_msg(const char *level, const char *fmt, va_list ap)
{
    char msg[LINE_MAX_BYTES / 2], line[LINE_MAX_BYTES];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = 0;
    if (g_format == LOG_JSON) {
        len += (size_t)snprintf(line, sizeof line, "{\"ts\":\"");
        len += timestamp(line + len, sizeof line - len);
        len += (size_t)snprintf(line + len, sizeof line - len, "\",\"level\":\"%s\",\"msg\":\"",
                                level);
        json_escape(line, &len, sizeof line - 3, msg);
        line[len++] = '"';
        line[len++] = '}';
    } else {
        len += timestamp(line, sizeof line);
        len += (size_t)snprintf(line + len, sizeof line - len, " %-5s %s", level, msg);
    }
    emit(line, len);
}

#define DEFINE_LEVEL(fn, name)                                                                     \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_msg(name, fmt, ap);                                                                    \
        va_end(ap);                                                                                \
    }
DEFINE_LEVEL(log_info, "info")
DEFINE_LEVEL(log_warn, "warn")
DEFINE_LEVEL(log_error, "error")

void log_request(const log_request_t *r)
{
    char line[LINE_MAX_BYTES];
    size_t len = 0;
    double ms = r->duration_s * 1000.0;
    if (g_format == LOG_JSON) {
        len += (size_t)snprintf(line, sizeof line, "{\"ts\":\"");
        len += timestamp(line + len, sizeof line - len);
        len += (size_t)snprintf(line + len, sizeof line - len,
                                "\",\"level\":\"info\",\"msg\":\"request\",\"method\":\"");
        json_escape(line, &len, sizeof line - 200, r->method);
        memcpy(line + len, "\",\"path\":\"", 10);
        len += 10;
        json_escape(line, &len, sizeof line - 200, r->path);
        memcpy(line + len, "\",\"route\":\"", 11);
        len += 11;
        json_escape(line, &len, sizeof line - 200, r->route);
        len += (size_t)snprintf(line + len, sizeof line - len,
                                "\",\"status\":%d,\"duration_ms\":%.3f,\"bytes_in\":%zu,"
                                "\"bytes_out\":%zu}",
                                r->status, ms, r->bytes_in, r->bytes_out);
    } else {
        len += timestamp(line, sizeof line);
        len += (size_t)snprintf(line + len, sizeof line - len,
                                " info  request %s %.512s route=%s status=%d duration_ms=%.3f "
                                "bytes_in=%zu bytes_out=%zu",
                                r->method, r->path, r->route, r->status, ms, r->bytes_in,
                                r->bytes_out);
        /* A path is client input: never let it break the line. */
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)line[i] < 0x20) line[i] = '?';
    }
    emit(line, len);
}
