/* vindex_file: the flat segment kept in a file between two runs (see
 * vindex.h, "Persistence").
 *
 * At a million rows, reading the vectors back from SQLite took 6-8 s with
 * a warm page cache and 35 s cold (its pages are spread over the whole
 * database, and every row was made int8 again); the file is the blocks as
 * they are in memory, int8 copies included, read sequentially into freshly
 * mapped blocks: the disk's speed, no work a row but the id map.
 *
 * Layout (native byte order; the file never leaves the machine that
 * wrote it, and a header of another layout is refused):
 *   header: magic "ragdflt2", dim, stride (u32), rows, block rows (u64),
 *           the highest id (i64), CRC-32 of the ids (u32), CRC-32 of the
 *           header before it (u32)
 *   ids:    rows int64, in row order
 *   blocks: ceil(rows / block rows) whole blocks, block_bytes each
 * The file is written under a temporary name, synced and renamed, so it is
 * whole or absent; a reader checks the size, both CRCs and that the ids are
 * distinct. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "core/log.h"
#include "rag/vindex_int.h"
#include "util/clock.h"
#include "util/file.h"

/* "ragdflt1" held the int8 copies row by row; its files are refused (the
 * index is then read from the store and saved again) */
#define FLAT_MAGIC "ragdflt2"

typedef struct flat_header {
    char magic[8];
    uint32_t dim, stride;
    uint64_t rows, block_rows;
    int64_t top;
    uint32_t ids_crc, crc;
} flat_header_t;

static uint32_t crc_of(const void *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    for (const unsigned char *b = p; n;) { /* crc32 takes a uInt length */
        uInt m = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, m);
        b += m;
        n -= m;
    }
    return (uint32_t)c;
}

static int write_all(int fd, const void *p, size_t n)
{
    for (const char *b = p; n;) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w < 0 ? -errno : -ENOSPC;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    for (char *b = p; n;) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r < 0 ? -errno : -EIO; /* short: checked by size first */
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

int vindex_flat_save(vindex_t *ix, const char *path, char *err, size_t errlen)
{
    double t0 = clock_now();
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    pthread_rwlock_rdlock(&ix->lock);
    if (ix->graph) {
        pthread_rwlock_unlock(&ix->lock);
        snprintf(err, errlen, "the index has a graph");
        return -EBUSY;
    }
    flat_header_t h = {
        .dim = ix->dim, .stride = ix->stride, .rows = ix->n, .block_rows = VINDEX_BLOCK_ROWS};
    memcpy(h.magic, FLAT_MAGIC, sizeof h.magic);
    for (size_t i = 0; i < ix->n; i++) h.top = ix->ids[i] > h.top ? ix->ids[i] : h.top;
    h.ids_crc = crc_of(ix->ids, ix->n * sizeof *ix->ids);
    h.crc = crc_of(&h, offsetof(flat_header_t, crc));
    size_t nblocks = (ix->n + VINDEX_BLOCK_ROWS - 1) / VINDEX_BLOCK_ROWS;
    int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) rc = -errno;
    if (!rc) rc = write_all(fd, &h, sizeof h);
    if (!rc) rc = write_all(fd, ix->ids, ix->n * sizeof *ix->ids);
    for (size_t b = 0; !rc && b < nblocks; b++)
        rc = write_all(fd, ix->blocks[b], vindex_block_bytes(ix));
    pthread_rwlock_unlock(&ix->lock);
    if (!rc && fsync(fd) != 0) rc = -errno;
    if (fd >= 0 && close(fd) != 0 && !rc) rc = -errno;
    if (!rc && rename(tmp, path) != 0) rc = -errno;
    if (!rc) rc = file_sync_dir_of(path);
    if (rc) {
        snprintf(err, errlen, "writing %s: %s", tmp, strerror(-rc));
        unlink(tmp);
        return rc;
    }
    log_info("vector index: %llu flat rows saved to %s in %.2f s", (unsigned long long)h.rows, path,
             clock_now() - t0);
    return 0;
}

/* Reads the file's rows into the empty index ix. Under the write lock. */
static int load_rows(vindex_t *ix, int fd, const flat_header_t *h, char *err, size_t errlen)
{
    size_t n = (size_t)h->rows;
    int rc = vindex_flat_reserve(ix, n);
    if (!rc) rc = read_all(fd, ix->ids, n * sizeof *ix->ids);
    if (!rc && crc_of(ix->ids, n * sizeof *ix->ids) != h->ids_crc) {
        snprintf(err, errlen, "its ids are damaged (CRC)");
        return -EIO;
    }
    for (size_t b = 0; !rc && b * VINDEX_BLOCK_ROWS < n; b++)
        rc = read_all(fd, ix->blocks[b], vindex_block_bytes(ix));
    if (!rc && (rc = vindex_flat_index(ix, n)) == -EEXIST) {
        snprintf(err, errlen, "an id is in it twice");
        return -EIO;
    }
    if (rc) snprintf(err, errlen, "reading it: %s", strerror(-rc));
    return rc;
}

int vindex_flat_load(vindex_t *ix, const char *path, int64_t *top, char *err, size_t errlen)
{
    *top = 0;
    *err = '\0';
    double t0 = clock_now();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return -ENOENT;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -EIO;
    }
    flat_header_t h;
    off_t size = lseek(fd, 0, SEEK_END);
    int rc = -EIO;
    if (size >= (off_t)sizeof h && lseek(fd, 0, SEEK_SET) == 0) rc = read_all(fd, &h, sizeof h);
    if (rc || memcmp(h.magic, FLAT_MAGIC, sizeof h.magic) ||
        h.crc != crc_of(&h, offsetof(flat_header_t, crc))) {
        snprintf(err, errlen, "%s: not a flat segment file of this ragd", path);
        rc = -EIO;
    } else if (h.dim != ix->dim || h.stride != ix->stride || h.block_rows != VINDEX_BLOCK_ROWS ||
               h.rows > UINT32_MAX) {
        snprintf(err, errlen, "%s: %u dimensions, the index has %u", path, h.dim, ix->dim);
        rc = -EIO;
    } else if ((uint64_t)size !=
               sizeof h + h.rows * sizeof(int64_t) +
                   (h.rows + VINDEX_BLOCK_ROWS - 1) / VINDEX_BLOCK_ROWS * vindex_block_bytes(ix)) {
        snprintf(err, errlen, "%s: %lld bytes, not the size its header gives", path,
                 (long long)size);
        rc = -EIO;
    } else {
        char why[256] = "";
        pthread_rwlock_wrlock(&ix->lock);
        if (ix->n || ix->graph) {
            snprintf(why, sizeof why, "the index is not empty");
            rc = -EBUSY;
        } else if ((rc = load_rows(ix, fd, &h, why, sizeof why)) != 0) {
            vindex_flat_clear(ix);
        }
        pthread_rwlock_unlock(&ix->lock);
        if (rc) snprintf(err, errlen, "%s: %s", path, why);
    }
    close(fd);
    if (rc) return rc;
    *top = h.top;
    log_info("vector index: %llu flat rows loaded from %s in %.2f s", (unsigned long long)h.rows,
             path, clock_now() - t0);
    return 0;
}

size_t vindex_sample(vindex_t *ix, size_t n, int64_t *ids, float *vecs)
{
    pthread_rwlock_rdlock(&ix->lock);
    size_t got = n < ix->n ? n : ix->n;
    for (size_t i = 0; i < got; i++) {
        size_t row = got > 1 ? i * (ix->n - 1) / (got - 1) : 0; /* the first, the last, between */
        ids[i] = ix->ids[row];
        memcpy(vecs + i * ix->dim, vindex_row(ix, row), ix->dim * sizeof(float));
    }
    pthread_rwlock_unlock(&ix->lock);
    return got;
}
