/* utf8: validation of UTF-8 text from outside (label values, HELP text,
 * request bodies). Follows RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
#ifndef RAGD_UTF8_H
#define RAGD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is valid UTF-8 (NUL bytes are valid code points). */
bool utf8_valid(const char *s, size_t n);

#endif
