/* storage/residency.h — is a file range in the page cache, and bringing it in.
 *
 * A Fetch sends record bytes with sendfile from the connection's shard. For a
 * consumer far behind the log end the bytes are no longer cached (drop-behind,
 * log_cache.c), and sendfile would wait for the disk on the reactor, stalling
 * every other client of the shard. The broker asks sl_residency_check first
 * (one cheap syscall per range) and, when some page is missing, has the
 * shard's I/O helper run sl_residency_fill before it sends (broker/
 * fetch_response.c). Thread-safe; no allocation. */
#ifndef SL_RESIDENCY_H
#define SL_RESIDENCY_H

#include <stddef.h>
#include <stdint.h>

/* How sl_residency_check answers, picked at the first call. */
enum sl_residency_method {
        SL_RESIDENCY_UNKNOWN = 0,
        SL_RESIDENCY_CACHESTAT, /* cachestat(2), Linux >= 6.5: one syscall */
        SL_RESIDENCY_MINCORE,   /* mmap + mincore + munmap of the range */
        SL_RESIDENCY_ASSUME,    /* neither works: everything counts as cached */
};

/* 1 when every page of [off, off + len) of fd is in the page cache, 0 when
 * some page is not. A page that is present but still being read in (a
 * readahead in flight) counts as cached under cachestat, as missing under
 * mincore. Never fails: when no method works the answer is 1, as before this
 * check existed. */
int sl_residency_check(int fd, int64_t off, int64_t len);

/* The method in use (SL_RESIDENCY_UNKNOWN before the first check). */
enum sl_residency_method sl_residency_method_get(void);
const char *sl_residency_method_name(enum sl_residency_method m);

/* Blocking, for a helper thread: reads [off, off + len) into the page cache
 * and returns once every page is read, without copying it to user space
 * (sendfile to /dev/null; a pread through a stack buffer where that cannot
 * work). Returns 0 or -errno. */
int sl_residency_fill(int fd, int64_t off, int64_t len);

/* sl_log_read (log.h) for a shard's reactor: never waits for the disk and
 * starts no disk read. It reads a batch-header window only when cachestat
 * says it is cached: the windows around the offset, and further ones only
 * while the range holds less than half of max_bytes. Otherwise it ends the
 * range at the last batch boundary it knows: the index entry the budget
 * reaches, or a header already read. So its ranges are a prefix of
 * sl_log_read's (whole batches; the first batch always), at most about
 * index.interval.bytes plus a batch shorter, or at least half the budget.
 * Returns -EAGAIN, with no range pinned and *need set to the window to bring
 * in (sl_residency_fill on a helper thread, then call again), when the
 * offset's own header window is not cached. Implemented in log_read.c. */
struct sl_log;
struct sl_file_range;
int sl_residency_log_read(struct sl_log *log, int64_t offset, int64_t max_offset, size_t max_bytes,
                          struct sl_file_range *ranges, int max_ranges, int *n_out,
                          struct sl_file_range *need);

/* Test hooks: force a method (SL_RESIDENCY_UNKNOWN: detect again). */
void sl_residency_method_set(enum sl_residency_method m);

#endif
