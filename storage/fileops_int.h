/* storage/fileops_int.h — the file-system calls storage makes, as a table.
 *
 * Every open/pread/pwritev/fdatasync/truncate/unlink of the storage library
 * goes through sl_fileops_current, so tests can swap in a crash layer that
 * tracks unsynced writes and drops or garbles them at a simulated crash
 * (SQLite's test6.c), or a layer that fails a chosen call (failure probes).
 * All functions return >= 0 on success and -errno on failure (never errno). */
#ifndef SL_FILEOPS_INT_H
#define SL_FILEOPS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct sl_fileops {
        int (*open)(const char *path, int flags, int mode); /* fd */
        int (*close)(int fd);
        ssize_t (*pread)(int fd, void *buf, size_t n, int64_t off);
        ssize_t (*pwritev)(int fd, const struct iovec *iov, int iovcnt, int64_t off);
        int (*fdatasync)(int fd);
        int (*fsync)(int fd);
        int (*ftruncate)(int fd, int64_t len);
        /* Reserves blocks for [off, off + len) without changing the size. */
        int (*fallocate)(int fd, int64_t off, int64_t len);
        int (*fsize)(int fd, int64_t *size);
        int (*unlink)(const char *path);
        int (*rename)(const char *from, const char *to);
        /* Page-cache control, never durability (see log_sync.c): wait=false
         * starts writeback of the dirty pages of [off, off + len); wait=true
         * also waits until every page of the range is written back (clean). */
        int (*sync_range)(int fd, int64_t off, int64_t len, bool wait);
        /* Drops the clean cached pages of [off, off + len) (DONTNEED). */
        int (*drop_cache)(int fd, int64_t off, int64_t len);
} sl_fileops;

/* The real system calls. */
extern const sl_fileops sl_fileops_posix;
/* The table in use (defaults to sl_fileops_posix); set by tests only. */
extern const sl_fileops *sl_fileops_current;
void sl_fileops_set(const sl_fileops *ops);

/* Loops until all bytes are read or EOF; returns bytes read or -errno. */
ssize_t sl_pread_full(int fd, void *buf, size_t n, int64_t off);
/* Loops over short writes; returns 0 or -errno (-EIO on a zero write). */
int sl_pwritev_full(int fd, struct iovec *iov, int iovcnt, int64_t off);
int sl_pwrite_full(int fd, const void *buf, size_t n, int64_t off);

#endif
