/*
 * malloc_count.c: LD_PRELOAD shim that counts malloc/calloc/realloc/free calls of a
 * process (all threads) into a small shared file, so compare.sh can read the counts of
 * a running broker before and after a workload and report heap allocations per record.
 *
 *   SL_MALLOC_COUNT_FILE=/tmp/counts LD_PRELOAD=.../libsl_malloc_count.so serpentlog ...
 *   od -An -t u8 -N 40 /tmp/counts      -> malloc calloc realloc free aligned
 *
 * The counters live in a MAP_SHARED page of that file: reading them needs no signal and
 * no cooperation from the process. Calls forward to glibc's __libc_* entry points, so
 * no dlsym (which itself allocates) is needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t sz);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

enum { MC_MALLOC, MC_CALLOC, MC_REALLOC, MC_FREE, MC_ALIGNED, MC_N };

static _Atomic uint64_t mc_fallback[MC_N];
static _Atomic uint64_t *mc_ctr = mc_fallback;

static inline void mc_count(int which)
{
        atomic_fetch_add_explicit(&mc_ctr[which], 1, memory_order_relaxed);
}

__attribute__((constructor)) static void mc_init(void)
{
        const char *path = getenv("SL_MALLOC_COUNT_FILE");
        _Atomic uint64_t *m;
        int fd;

        if (!path)
                return;
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        if (ftruncate(fd, 4096) != 0) {
                close(fd);
                return;
        }
        m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED)
                return;
        for (int i = 0; i < MC_N; i++)
                atomic_store(&m[i], atomic_load(&mc_fallback[i]));
        mc_ctr = m;
}

void *malloc(size_t n)
{
        mc_count(MC_MALLOC);
        return __libc_malloc(n);
}

void *calloc(size_t n, size_t sz)
{
        mc_count(MC_CALLOC);
        return __libc_calloc(n, sz);
}

void *realloc(void *p, size_t n)
{
        mc_count(MC_REALLOC);
        return __libc_realloc(p, n);
}

void free(void *p)
{
        if (p)
                mc_count(MC_FREE);
        __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
        void *p;

        mc_count(MC_ALIGNED);
        p = __libc_memalign(align, n);
        if (!p)
                return ENOMEM;
        *out = p;
        return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
        mc_count(MC_ALIGNED);
        return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n)
{
        mc_count(MC_ALIGNED);
        return __libc_memalign(align, n);
}
