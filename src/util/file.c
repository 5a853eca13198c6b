#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

long file_read_all(const char *path, char *buf, size_t size)
{
    int fd;
    do fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return -errno;
    size_t len = 0;
    long rc = 0;
    for (;;) {
        if (len + 1 >= size) {
            rc = -EFBIG;
            break;
        }
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    if (rc) return rc;
    buf[len] = '\0';
    return (long)len;
}
