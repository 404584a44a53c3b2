/* storage/residency.c — page-cache residency of file ranges (see residency.h).
 *
 * The check is cachestat(2) (syscall 451, Linux >= 6.5; glibc has no wrapper)
 * on the range: one syscall that walks the page-cache tree, no mapping, no
 * copy. Kernels without it (ENOSYS, or a seccomp filter's EPERM) fall back to
 * mmap + mincore + munmap of the range (three syscalls, PROT_READ shared
 * mapping that is never touched, so no page is faulted in); if the file
 * cannot be mapped either, everything counts as cached, which is what the
 * broker did before it checked. The method is picked once per process.
 *
 * The fill runs on a helper thread: sendfile of the range to /dev/null. The
 * kernel reads it exactly as a Fetch's own sendfile would (its readahead,
 * large folios) and waits for every page, and /dev/null drops the pages
 * without a copy: 0.03 CPU-s/GB measured here, against 0.25 for
 * POSIX_FADV_WILLNEED (which also leaves 4 KiB pages that cost the later
 * sendfile more) and 0.7 for a pread through a buffer (1 GiB file, this
 * machine). The kernel's readahead goes on past the range, and cachestat
 * counts pages still being read as cached, so a caller must not send the
 * next range of the same reader from a reactor on cachestat's word alone
 * (broker/fetch_response.c sends it through the helper too). If /dev/null
 * cannot be spliced to, the range is pread through a stack buffer. */
#include "residency.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_cachestat
#define __NR_cachestat 451 /* the same number on every architecture */
#endif

#define CHUNK_PAGES 1024 /* mincore vector on the stack: 4 MiB of 4 KiB pages */

/* The kernel's struct cachestat_range and struct cachestat (uapi mman.h). */
typedef struct cs_range {
        uint64_t off;
        uint64_t len;
} cs_range;

typedef struct cs_stat {
        uint64_t nr_cache;
        uint64_t nr_dirty;
        uint64_t nr_writeback;
        uint64_t nr_evicted;
        uint64_t nr_recently_evicted;
} cs_stat;

static _Atomic int g_method; /* enum sl_residency_method */

static int64_t page_bytes(void)
{
        static _Atomic long pg;
        long p = atomic_load_explicit(&pg, memory_order_relaxed);
        if (!p) {
                p = sysconf(_SC_PAGESIZE);
                if (p <= 0)
                        p = 4096;
                atomic_store_explicit(&pg, p, memory_order_relaxed);
        }
        return (int64_t)p;
}

enum sl_residency_method sl_residency_method_get(void)
{
        return (enum sl_residency_method)atomic_load_explicit(&g_method, memory_order_relaxed);
}

void sl_residency_method_set(enum sl_residency_method m)
{
        atomic_store(&g_method, (int)m);
}

const char *sl_residency_method_name(enum sl_residency_method m)
{
        switch (m) {
        case SL_RESIDENCY_CACHESTAT:
                return "cachestat";
        case SL_RESIDENCY_MINCORE:
                return "mincore";
        case SL_RESIDENCY_ASSUME:
                return "none (assume cached)";
        default:
                return "unknown";
        }
}

/* 1 cached, 0 not, -errno when cachestat cannot answer. */
static int check_cachestat(int fd, int64_t off, int64_t len)
{
        int64_t pg = page_bytes();
        cs_range r = {.off = (uint64_t)off, .len = (uint64_t)len};
        cs_stat st = {0};
        if (syscall(__NR_cachestat, fd, &r, &st, 0) < 0)
                return -errno;
        uint64_t pages = (uint64_t)((off + len - 1) / pg - off / pg + 1);
        return st.nr_cache >= pages ? 1 : 0;
}

/* Maps [a, a + bytes) of fd (a page aligned) and fills vec: bit 0 set for a
 * page that is cached and up to date. Returns the mapping or MAP_FAILED
 * (errno set); the caller unmaps. */
static void *map_and_probe(int fd, int64_t a, size_t bytes, unsigned char *vec)
{
        void *m = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, (off_t)a);
        if (m == MAP_FAILED)
                return m;
        if (mincore(m, bytes, vec) < 0) {
                int err = errno;
                munmap(m, bytes);
                errno = err;
                return MAP_FAILED;
        }
        return m;
}

static int check_mincore(int fd, int64_t off, int64_t len)
{
        int64_t pg = page_bytes();
        int64_t a = off / pg * pg, end = off + len;
        unsigned char vec[CHUNK_PAGES];
        while (a < end) {
                int64_t bytes = end - a;
                if (bytes > CHUNK_PAGES * pg)
                        bytes = CHUNK_PAGES * pg;
                void *m = map_and_probe(fd, a, (size_t)bytes, vec);
                if (m == MAP_FAILED)
                        return -errno;
                munmap(m, (size_t)bytes);
                int64_t pages = (bytes + pg - 1) / pg;
                for (int64_t i = 0; i < pages; i++)
                        if (!(vec[i] & 1))
                                return 0;
                a += bytes;
        }
        return 1;
}

/* Errors that say "this method does not exist here", not "bad arguments". */
static bool unsupported(int err)
{
        return err == -ENOSYS || err == -EPERM || err == -EOPNOTSUPP || err == -ENODEV ||
               err == -EACCES;
}

int sl_residency_check(int fd, int64_t off, int64_t len)
{
        if (len <= 0)
                return 1;
        int m = atomic_load_explicit(&g_method, memory_order_relaxed);
        if (m == SL_RESIDENCY_CACHESTAT || m == SL_RESIDENCY_UNKNOWN) {
                int rc = check_cachestat(fd, off, len);
                if (rc >= 0) {
                        if (m == SL_RESIDENCY_UNKNOWN)
                                atomic_store(&g_method, SL_RESIDENCY_CACHESTAT);
                        return rc;
                }
                if (!unsupported(rc))
                        return 1; /* e.g. a bad fd: sendfile will say so */
                if (m == SL_RESIDENCY_CACHESTAT)
                        return 1; /* worked before: this file is special */
                m = SL_RESIDENCY_MINCORE;
        }
        if (m == SL_RESIDENCY_MINCORE) {
                int rc = check_mincore(fd, off, len);
                if (rc >= 0) {
                        atomic_store(&g_method, SL_RESIDENCY_MINCORE);
                        return rc;
                }
                if (!unsupported(rc) ||
                    atomic_load_explicit(&g_method, memory_order_relaxed) == SL_RESIDENCY_MINCORE)
                        return 1;
                atomic_store(&g_method, SL_RESIDENCY_ASSUME);
        }
        return 1;
}

/* /dev/null, opened once per process (never closed: one fd for the process's
 * life), or -1 when it cannot be opened. */
static int devnull(void)
{
        static _Atomic int fd = -2;
        int f = atomic_load_explicit(&fd, memory_order_acquire);
        if (f != -2)
                return f;
        int nf = open("/dev/null", O_WRONLY | O_CLOEXEC);
        int expect = -2;
        if (!atomic_compare_exchange_strong(&fd, &expect, nf)) {
                if (nf >= 0)
                        close(nf);
                return expect;
        }
        return nf;
}

/* Fallback: reads the range through a stack buffer (copies). */
static int fill_by_reading(int fd, int64_t off, int64_t len)
{
        char buf[64 << 10];
        while (len > 0) {
                size_t want = len < (int64_t)sizeof(buf) ? (size_t)len : sizeof(buf);
                ssize_t r = pread(fd, buf, want, (off_t)off);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return 0; /* end of file */
                off += r;
                len -= r;
        }
        return 0;
}

int sl_residency_fill(int fd, int64_t off, int64_t len)
{
        int null = devnull();
        while (len > 0 && null >= 0) {
                off_t o = (off_t)off;
                ssize_t r = sendfile(null, fd, &o, (size_t)len);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0 && (errno == EINVAL || errno == ENOSYS))
                        break; /* no splice for this file: read it */
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return 0; /* end of file */
                off += r;
                len -= r;
        }
        return len > 0 ? fill_by_reading(fd, off, len) : 0;
}
