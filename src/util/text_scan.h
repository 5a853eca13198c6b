/* text_scan: byte-level helpers for text that is not NUL-terminated (file
 * contents, request bytes): ASCII case folding, and finding a line by its
 * start, as the /proc and os-release parsers do. */
#ifndef RAGD_TEXT_SCAN_H
#define RAGD_TEXT_SCAN_H

#include <stddef.h>
#include <string.h>

/* c lowercased when it is an ASCII capital; every other byte (UTF-8
 * included) unchanged. */
static inline char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* The first line of p[0..n) that starts with prefix: returns the byte after
 * the prefix and sets *line_end to the line's end ('\n' or p + n); NULL
 * when no line does. */
static inline const char *scan_line(const char *p, size_t n, const char *prefix,
                                    const char **line_end)
{
    size_t plen = strlen(prefix);
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if ((size_t)(le - p) >= plen && memcmp(p, prefix, plen) == 0) {
            *line_end = le;
            return p + plen;
        }
        p = le + 1;
    }
    return NULL;
}

#endif
