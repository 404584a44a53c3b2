/* bench/crc32c_bench.c — CRC-32C throughput: kp_crc32c (what the broker
 * runs on every produced byte) against, in the same run and on the same
 * buffers, the plain hardware instruction loop (one dependent crc32 chain, 8
 * bytes per instruction) and the slicing-by-8 table. The 3-way interleaved
 * kp_crc32c should beat the plain loop on long buffers; the target is at least
 * 0.8x of it at every size. No allocation: one static buffer.
 *
 * Usage: crc32c_bench [seconds_per_case (default 0.3)] [--check]
 * With --check, exits 1 if kp_crc32c is below 0.8x the raw loop at >= 4 KiB. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
__attribute__((target("sse4.2"))) static uint32_t raw_loop(uint32_t crc, const void *buf,
                                                           size_t len)
{
        const uint8_t *p = buf;
        uint64_t c = ~crc;
        while (len >= 8) {
                uint64_t w;
                memcpy(&w, p, 8);
                c = _mm_crc32_u64(c, w);
                p += 8;
                len -= 8;
        }
        while (len--)
                c = _mm_crc32_u8((uint32_t)c, *p++);
        return ~(uint32_t)c;
}
#define HAVE_RAW 1
#else
#define HAVE_RAW 0
static uint32_t raw_loop(uint32_t crc, const void *buf, size_t len)
{
        return kp_crc32c_sw(crc, buf, len);
}
#endif

#define BUF_BYTES (4u << 20)
static uint8_t buf[BUF_BYTES] __attribute__((aligned(64)));

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* GB/s of f over len-byte slices of buf for about secs seconds. */
static double measure(uint32_t (*f)(uint32_t, const void *, size_t), size_t len, double secs,
                      uint32_t *sink)
{
        size_t slots = BUF_BYTES / len;
        uint64_t bytes = 0;
        size_t iters = 1;
        double start = now_s(), t;
        do {
                for (size_t i = 0; i < iters; i++) {
                        *sink ^= f(*sink, buf + (i % slots) * len, len);
                        bytes += len;
                }
                iters *= 2;
                t = now_s() - start;
        } while (t < secs);
        return (double)bytes / t / 1e9;
}

int main(int argc, char **argv)
{
        double secs = 0.3;
        int check = 0;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--check"))
                        check = 1;
                else
                        secs = atof(argv[i]);
        }
        for (size_t i = 0; i < BUF_BYTES; i++)
                buf[i] = (uint8_t)(i * 2654435761u >> 13);
        if (kp_crc32c(0, "123456789", 9) != 0xE3069283u ||
            raw_loop(0, "123456789", 9) != 0xE3069283u) {
                fprintf(stderr, "crc32c_bench: wrong check value\n");
                return 1;
        }
        printf("kp_crc32c implementation: %s; raw loop: %s\n", kp_crc32c_impl(),
               HAVE_RAW ? "sse4.2 crc32 (serial)" : "none (table)");
        printf("%10s %12s %12s %12s %8s\n", "bytes", "kp GB/s", "raw GB/s", "table GB/s", "kp/raw");
        const size_t sizes[] = {64, 256, 1024, 4096, 16384, 65536, 1 << 20, 4 << 20};
        uint32_t sink = 0;
        int ok = 1;
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                double kp = measure(kp_crc32c, sizes[s], secs, &sink);
                double raw = measure(raw_loop, sizes[s], secs, &sink);
                double tab = measure(kp_crc32c_sw, sizes[s], secs, &sink);
                printf("%10zu %12.2f %12.2f %12.2f %8.2f\n", sizes[s], kp, raw, tab, kp / raw);
                if (sizes[s] >= 4096 && kp < 0.8 * raw)
                        ok = 0;
        }
        printf("(sink %08x)\n", sink);
        if (check && !ok) {
                fprintf(stderr, "crc32c_bench: kp_crc32c below 0.8x the raw loop\n");
                return 1;
        }
        return 0;
}
