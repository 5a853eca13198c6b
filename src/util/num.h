/* num: decimal numbers parsed from (pointer, length), never past the end:
 * the /proc and header parsers read buffers that need not end in NUL. */
#ifndef RAGD_NUM_H
#define RAGD_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Parses the decimal digits at the start of p[0..n) (at least one) into
 * *out and sets *used to their count. 0, -EINVAL (no digit) or -ERANGE. */
int num_parse_u64(const char *p, size_t n, uint64_t *out, size_t *used);

#endif
