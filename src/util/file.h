/* file: small whole-file reads (libuv's uv__slurp habit). */
#ifndef RAGD_FILE_H
#define RAGD_FILE_H

#include <stddef.h>

/* Reads the file at path into buf (at most size - 1 bytes, NUL-terminated),
 * retrying on EINTR. Works for /proc files, whose size stat() reports as 0.
 * Returns the length read, or -errno. -EFBIG when the file does not fit. */
long file_read_all(const char *path, char *buf, size_t size);

#endif
