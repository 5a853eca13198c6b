/* file: small whole-file reads (libuv's uv__slurp habit), mkdir -p and rm -rf. */
#ifndef RAGD_FILE_H
#define RAGD_FILE_H

#include <stddef.h>

/* Room for a /proc file that grows with the machine (/proc/stat: a line
 * per CPU and per interrupt). */
#define FILE_PROC_MAX (1 << 20)

/* Reads the file at path into buf (at most size - 1 bytes, NUL-terminated),
 * retrying on EINTR. Works for /proc files, whose size stat() reports as 0.
 * Returns the length read, or -errno. -EFBIG when the file does not fit. */
long file_read_all(const char *path, char *buf, size_t size);

/* Creates path and its missing parents with mode, like mkdir -p. 0 (also
 * when it exists), or -errno. */
int file_mkdir_p(const char *path, unsigned mode);

/* Removes path and, for a directory, everything under it (links are
 * removed, not followed), like rm -rf. 0 (also when absent), or -errno. */
int file_rm_rf(const char *path);

/* Syncs the directory that holds path (after a rename into it, so that the
 * rename survives a crash). 0 or -errno. */
int file_sync_dir_of(const char *path);

#endif
