/*
 * parts_bench: CPU seconds per GB of the work a broker cannot avoid on the produce path.
 *
 * A produced byte must at least be received from a TCP socket, written into the page
 * cache, and checksummed (CRC-32C over each record batch; XXH3-128 as our storage
 * checksum). Each part is timed alone with the thread CPU clock, after a warm-up, so
 * compare.sh can put "broker CPU s/GB" beside "sum of the unavoidable parts".
 *
 *   recv   loopback TCP: receiver thread's CPU for recv() into a 1 MiB buffer
 *          (the sender's CPU, which on loopback includes the softirq TCP receive
 *          processing, is printed too)
 *   write  write() of 1 MiB chunks appending to a fresh file (page cache only; dirty
 *          page writeback by kernel threads is not charged here)
 *   write_wb  the same appends as SerpentLog's storage makes them (storage/log_cache.c):
 *          writeback started every 8 MiB (sync_file_range WRITE) and written-back data
 *          more than 64 MiB behind the end dropped from the page cache (wait, then
 *          POSIX_FADV_DONTNEED), all charged here; reported beside the sum, not in it
 *   crc32c kp_crc32c (protocol/crc32c.h) or, where that is not built, an SSE4.2 loop
 *   xxh3   XXH3_128bits from libxxhash
 *
 * Usage: parts_bench [--seconds S per part] [--dir DIR]
 * Last line: "RESULT recv_s_per_gb=... write_s_per_gb=... crc32c_s_per_gb=... ..."
 */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xxhash.h>

#ifdef SL_HAVE_KP_CRC32C
#include "crc32c.h"
#define CRC_IMPL kp_crc32c_impl()
static uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
        return kp_crc32c(crc, p, n);
}
#elif defined(__x86_64__)
#include <nmmintrin.h>
#define CRC_IMPL "sse4.2 loop (bench-local)"
__attribute__((target("sse4.2"))) static uint32_t crc32c(uint32_t crc, const void *p, size_t n)
{
        const unsigned char *b = p;
        uint64_t c = ~crc;

        for (; n >= 8; n -= 8, b += 8) {
                uint64_t w;

                memcpy(&w, b, 8);
                c = _mm_crc32_u64(c, w);
        }
        for (; n; n--, b++)
                c = _mm_crc32_u8((uint32_t)c, *b);
        return ~(uint32_t)c;
}
#else
#error "parts_bench needs protocol/crc32c.h or an x86-64 CPU"
#endif

#define CHUNK  (1u << 20)
#define BUFLEN (16u << 20) /* walk a buffer larger than L2 like a real receive stream */

typedef struct part_result {
        const char *name;
        double cpu_s;
        uint64_t bytes;
        double extra; /* part-specific: sender CPU s/GB for recv */
} part_result;

static double s_per_gb(const part_result *r)
{
        return r->bytes ? r->cpu_s / ((double)r->bytes / 1e9) : 0;
}

static int part_recv(unsigned char *buf, double seconds, part_result *r)
{
        sl_bench_drain d;
        int cfd, sfd;
        uint64_t sent = 0;
        double t_end, c0, scpu;

        if (sl_bench_tcp_pair(&cfd, &sfd) || sl_bench_drain_start(&d, sfd, CHUNK))
                return -1;
        c0 = sl_bench_thread_cpu_s();
        t_end = sl_bench_wall_s() + seconds;
        while (sl_bench_wall_s() < t_end) {
                for (size_t off = 0; off < BUFLEN; off += CHUNK) {
                        ssize_t n = send(cfd, buf + off, CHUNK, 0);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                close(cfd);
                                sl_bench_drain_join(&d);
                                close(sfd);
                                return -1;
                        }
                        sent += (uint64_t)n;
                }
        }
        scpu = sl_bench_thread_cpu_s() - c0;
        shutdown(cfd, SHUT_WR);
        sl_bench_drain_join(&d);
        close(cfd);
        close(sfd);
        if (d.err || d.bytes != sent)
                return -1;
        r->cpu_s = d.cpu_s;
        r->bytes = d.bytes;
        r->extra = scpu / ((double)sent / 1e9);
        return 0;
}

static int part_write(const char *dir, unsigned char *buf, double seconds, part_result *r)
{
        const uint64_t file_cap = 256ull << 20; /* truncate and restart, bounding page cache */
        char path[4096];
        uint64_t in_file = 0;
        double t_end, c0;
        int fd;

        snprintf(path, sizeof(path), "%s/sl-parts-XXXXXX", dir);
        fd = mkstemp(path);
        if (fd < 0)
                return -1;
        unlink(path);
        c0 = sl_bench_thread_cpu_s();
        t_end = sl_bench_wall_s() + seconds;
        while (sl_bench_wall_s() < t_end) {
                for (size_t off = 0; off < BUFLEN; off += CHUNK) {
                        ssize_t n = write(fd, buf + off, CHUNK);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                close(fd);
                                return -1;
                        }
                        r->bytes += (uint64_t)n;
                        in_file += (uint64_t)n;
                }
                if (in_file >= file_cap) {
                        /* Truncation frees the pages, as segment deletion would. */
                        if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) != 0) {
                                close(fd);
                                return -1;
                        }
                        in_file = 0;
                }
        }
        r->cpu_s = sl_bench_thread_cpu_s() - c0;
        close(fd);
        return 0;
}

/* Write-behind + drop-behind appends to one growing file, like a partition log. */
static int part_write_wb(const char *dir, unsigned char *buf, double seconds, part_result *r)
{
        const int64_t step = 8ll << 20, window = 64ll << 20;
        int64_t end = 0, wb = 0, dropped = 0;
        char path[4096];
        double t_end, c0;
        int fd;

        snprintf(path, sizeof(path), "%s/sl-parts-wb-XXXXXX", dir);
        fd = mkstemp(path);
        if (fd < 0)
                return -1;
        unlink(path);
        c0 = sl_bench_thread_cpu_s();
        t_end = sl_bench_wall_s() + seconds;
        while (sl_bench_wall_s() < t_end) {
                for (size_t off = 0; off < BUFLEN; off += CHUNK) {
                        ssize_t n = write(fd, buf + off, CHUNK);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                close(fd);
                                return -1;
                        }
                        r->bytes += (uint64_t)n;
                        end += n;
                        if (end - wb >= step) {
                                if (sync_file_range(fd, wb, end - wb, SYNC_FILE_RANGE_WRITE)) {
                                        close(fd);
                                        return -1;
                                }
                                wb = end;
                        }
                        if (wb - dropped >= window + step) {
                                int64_t to = wb - window;

                                if (sync_file_range(fd, dropped, to - dropped,
                                                    SYNC_FILE_RANGE_WAIT_BEFORE |
                                                        SYNC_FILE_RANGE_WRITE |
                                                        SYNC_FILE_RANGE_WAIT_AFTER)) {
                                        close(fd);
                                        return -1;
                                }
                                posix_fadvise(fd, dropped, to - dropped, POSIX_FADV_DONTNEED);
                                dropped = to;
                        }
                }
        }
        r->cpu_s = sl_bench_thread_cpu_s() - c0;
        close(fd);
        return 0;
}

static volatile uint64_t sink; /* keeps the checksums from being optimized away */

static void part_crc(const unsigned char *buf, double seconds, part_result *r)
{
        double t_end = sl_bench_wall_s() + seconds, c0 = sl_bench_thread_cpu_s();
        uint32_t c = 0;

        while (sl_bench_wall_s() < t_end) {
                for (size_t off = 0; off < BUFLEN; off += CHUNK)
                        c = crc32c(c, buf + off, CHUNK);
                r->bytes += BUFLEN;
        }
        r->cpu_s = sl_bench_thread_cpu_s() - c0;
        sink = c;
}

static void part_xxh3(const unsigned char *buf, double seconds, part_result *r)
{
        double t_end = sl_bench_wall_s() + seconds, c0 = sl_bench_thread_cpu_s();
        uint64_t acc = 0;

        while (sl_bench_wall_s() < t_end) {
                for (size_t off = 0; off < BUFLEN; off += CHUNK) {
                        XXH128_hash_t h = XXH3_128bits(buf + off, CHUNK);

                        acc ^= h.low64 ^ h.high64;
                }
                r->bytes += BUFLEN;
        }
        r->cpu_s = sl_bench_thread_cpu_s() - c0;
        sink = acc;
}

/* Runs all parts for `seconds` each; returns 0 or -1. */
static int run_all(const char *dir, unsigned char *buf, double seconds, part_result res[4])
{
        memset(res, 0, 4 * sizeof(res[0]));
        res[0].name = "recv";
        res[1].name = "write";
        res[2].name = "crc32c";
        res[3].name = "xxh3";
        if (part_recv(buf, seconds, &res[0])) {
                fprintf(stderr, "parts_bench: loopback recv failed\n");
                return -1;
        }
        if (part_write(dir, buf, seconds, &res[1])) {
                fprintf(stderr, "parts_bench: write to %s failed: %s\n", dir, strerror(errno));
                return -1;
        }
        part_crc(buf, seconds, &res[2]);
        part_xxh3(buf, seconds, &res[3]);
        return 0;
}

static part_result res_wb;

int main(int argc, char **argv)
{
        const char *dir = "/tmp";
        double seconds = 1.0, sum = 0;
        part_result res[4];
        unsigned char *buf;
        uint64_t x = 88172645463325252ull;

        for (int i = 1; i + 1 < argc; i += 2) {
                if (!strcmp(argv[i], "--seconds"))
                        seconds = strtod(argv[i + 1], NULL);
                else if (!strcmp(argv[i], "--dir"))
                        dir = argv[i + 1];
                else
                        seconds = -1;
        }
        if (seconds <= 0 || argc % 2 == 0) {
                fprintf(stderr, "usage: parts_bench [--seconds S] [--dir DIR]\n");
                return 2;
        }
        buf = malloc(BUFLEN);
        if (!buf)
                return 1;
        for (size_t i = 0; i < BUFLEN; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf[i] = (unsigned char)x;
        }
        /* Warm-up pass: faults in the buffer, grows socket buffers, loads code. */
        if (run_all(dir, buf, 0.2, res) || run_all(dir, buf, seconds, res)) {
                free(buf);
                return 1;
        }
        res_wb.name = "write_wb";
        if (part_write_wb(dir, buf, seconds, &res_wb)) {
                fprintf(stderr, "parts_bench: write_wb to %s failed: %s\n", dir, strerror(errno));
                free(buf);
                return 1;
        }
        printf("unavoidable parts, CPU seconds per GB (1 MiB chunks, %.1f s each; crc32c: %s)\n",
               seconds, CRC_IMPL);
        for (int i = 0; i < 4; i++) {
                printf("  %-7s %.4f s/GB  (%.2f GB/s on one core)", res[i].name, s_per_gb(&res[i]),
                       s_per_gb(&res[i]) > 0 ? 1 / s_per_gb(&res[i]) : 0);
                if (i == 0)
                        printf("  [sender side %.4f s/GB]", res[i].extra);
                printf("\n");
                sum += s_per_gb(&res[i]);
        }
        printf("  sum     %.4f s/GB\n", sum);
        double sum_wb = sum - s_per_gb(&res[1]) + s_per_gb(&res_wb);
        printf("  %-7s %.4f s/GB  (%.2f GB/s on one core; write-behind + drop-behind, as the "
               "broker's storage writes; sum with it instead of write: %.4f)\n",
               res_wb.name, s_per_gb(&res_wb), s_per_gb(&res_wb) > 0 ? 1 / s_per_gb(&res_wb) : 0,
               sum_wb);
        printf("RESULT recv_s_per_gb=%.4f recv_sender_s_per_gb=%.4f write_s_per_gb=%.4f "
               "crc32c_s_per_gb=%.4f xxh3_s_per_gb=%.4f sum_s_per_gb=%.4f write_wb_s_per_gb=%.4f "
               "sum_wb_s_per_gb=%.4f\n",
               s_per_gb(&res[0]), res[0].extra, s_per_gb(&res[1]), s_per_gb(&res[2]),
               s_per_gb(&res[3]), sum, s_per_gb(&res_wb), sum_wb);
        free(buf);
        return 0;
}
