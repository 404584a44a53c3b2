/* storage/fileops.c — POSIX implementation of the storage file-ops table and
 * the short-read/short-write loops every caller uses.
 *
 * Kept apart so that tests can replace the table (crash layer, failure
 * probes) without the library knowing; see fileops_int.h. */
#include "fileops_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int px_open(const char *path, int flags, int mode)
{
        int fd = open(path, flags | O_CLOEXEC, mode);
        return fd < 0 ? -errno : fd;
}

static int px_close(int fd)
{
        return close(fd) < 0 ? -errno : 0;
}

static ssize_t px_pread(int fd, void *buf, size_t n, int64_t off)
{
        ssize_t r = pread(fd, buf, n, (off_t)off);
        return r < 0 ? -errno : r;
}

static ssize_t px_pwritev(int fd, const struct iovec *iov, int iovcnt, int64_t off)
{
        ssize_t r = pwritev(fd, iov, iovcnt, (off_t)off);
        return r < 0 ? -errno : r;
}

static int px_fdatasync(int fd)
{
        return fdatasync(fd) < 0 ? -errno : 0;
}

static int px_fsync(int fd)
{
        return fsync(fd) < 0 ? -errno : 0;
}

static int px_ftruncate(int fd, int64_t len)
{
        return ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
}

static int px_fallocate(int fd, int64_t off, int64_t len)
{
        return fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0 ? -errno : 0;
}

static int px_fsize(int fd, int64_t *size)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        *size = (int64_t)st.st_size;
        return 0;
}

static int px_unlink(const char *path)
{
        return unlink(path) < 0 ? -errno : 0;
}

static int px_rename(const char *from, const char *to)
{
        return rename(from, to) < 0 ? -errno : 0;
}

static int px_sync_range(int fd, int64_t off, int64_t len, bool wait)
{
        unsigned flags = SYNC_FILE_RANGE_WRITE;
        if (wait)
                flags |= SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER;
        return sync_file_range(fd, (off_t)off, (off_t)len, flags) < 0 ? -errno : 0;
}

static int px_drop_cache(int fd, int64_t off, int64_t len)
{
        return -posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
}

const sl_fileops sl_fileops_posix = {
    .open = px_open,
    .close = px_close,
    .pread = px_pread,
    .pwritev = px_pwritev,
    .fdatasync = px_fdatasync,
    .fsync = px_fsync,
    .ftruncate = px_ftruncate,
    .fallocate = px_fallocate,
    .fsize = px_fsize,
    .unlink = px_unlink,
    .rename = px_rename,
    .sync_range = px_sync_range,
    .drop_cache = px_drop_cache,
};

const sl_fileops *sl_fileops_current = &sl_fileops_posix;

void sl_fileops_set(const sl_fileops *ops)
{
        sl_fileops_current = ops ? ops : &sl_fileops_posix;
}

ssize_t sl_pread_full(int fd, void *buf, size_t n, int64_t off)
{
        size_t got = 0;
        while (got < n) {
                ssize_t r = sl_fileops_current->pread(fd, (uint8_t *)buf + got, n - got,
                                                      off + (int64_t)got);
                if (r == -EINTR)
                        continue;
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                got += (size_t)r;
        }
        return (ssize_t)got;
}

int sl_pwritev_full(int fd, struct iovec *iov, int iovcnt, int64_t off)
{
        while (iovcnt > 0) {
                int cnt = iovcnt > IOV_MAX ? IOV_MAX : iovcnt;
                ssize_t r = sl_fileops_current->pwritev(fd, iov, cnt, off);
                if (r == -EINTR)
                        continue;
                if (r < 0)
                        return (int)r;
                if (r == 0)
                        return -EIO;
                off += r;
                /* Skip fully written vectors, then trim a partly written one. */
                size_t left = (size_t)r;
                while (iovcnt > 0 && left >= iov->iov_len) {
                        left -= iov->iov_len;
                        iov++;
                        iovcnt--;
                }
                if (left) {
                        iov->iov_base = (uint8_t *)iov->iov_base + left;
                        iov->iov_len -= left;
                }
        }
        return 0;
}

int sl_pwrite_full(int fd, const void *buf, size_t n, int64_t off)
{
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};
        return sl_pwritev_full(fd, &iov, 1, off);
}
