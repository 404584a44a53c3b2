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

/* Blocking, for a helper thread: starts reading [off, off + len) into the page
 * cache in one request (POSIX_FADV_WILLNEED) and waits until every page is
 * read (mincore tells which pages to wait for, waiting costs a 1-byte pread;
 * without mincore the range is pread through a stack buffer). Returns 0 or
 * -errno. */
int sl_residency_fill(int fd, int64_t off, int64_t len);

/* Test hooks: force a method (SL_RESIDENCY_UNKNOWN: detect again). */
void sl_residency_method_set(enum sl_residency_method m);

#endif
