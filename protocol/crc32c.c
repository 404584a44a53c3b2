/* protocol/crc32c.c — CRC-32C implementations and run-time dispatch (crc32c.h).
 *
 * Hardware path (x86-64): the crc32 instruction has a latency of 3 cycles and a
 * throughput of 1 per cycle, so a single dependent chain runs at a third of the
 * possible speed. Long buffers are cut into three equal blocks whose CRCs run
 * in parallel; the partial CRCs are combined by multiplying by x^(8*block) in
 * GF(2) (a table-driven "append block zero bytes" operator, Mark Adler's
 * method), for blocks of 8 KiB and then 256 bytes. The rest runs 8 bytes per
 * instruction. Tables are built once by a constructor before main. */
#include "crc32c.h"

#include <string.h>

#define POLY        0x82f63b78u /* reflected Castagnoli polynomial */
#define LONG_BLOCK  8192        /* bytes per stream in the long 3-way loop */
#define SHORT_BLOCK 256         /* bytes per stream in the short 3-way loop */

static uint32_t sw_table[8][256];
static uint32_t zeros_long[4][256];  /* operator: append LONG_BLOCK zero bytes */
static uint32_t zeros_short[4][256]; /* operator: append SHORT_BLOCK zero bytes */
static uint32_t (*crc_impl)(uint32_t, const void *, size_t);
static const char *crc_impl_name = "table";

/* ---- slicing-by-8 ---- */

static void sw_init(void)
{
        for (uint32_t n = 0; n < 256; n++) {
                uint32_t c = n;
                for (int k = 0; k < 8; k++)
                        c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
                sw_table[0][n] = c;
        }
        for (uint32_t n = 0; n < 256; n++) {
                uint32_t c = sw_table[0][n];
                for (int k = 1; k < 8; k++) {
                        c = sw_table[0][c & 0xff] ^ (c >> 8);
                        sw_table[k][n] = c;
                }
        }
}

static inline uint64_t load_le64(const uint8_t *p)
{
        uint64_t v;
        memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        return v;
}

uint32_t kp_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
        const uint8_t *p = buf;
        uint32_t c = ~crc;
        while (len && ((uintptr_t)p & 7)) {
                c = sw_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
                len--;
        }
        while (len >= 8) {
                uint64_t w = load_le64(p) ^ c;
                c = sw_table[7][w & 0xff] ^ sw_table[6][(w >> 8) & 0xff] ^
                    sw_table[5][(w >> 16) & 0xff] ^ sw_table[4][(w >> 24) & 0xff] ^
                    sw_table[3][(w >> 32) & 0xff] ^ sw_table[2][(w >> 40) & 0xff] ^
                    sw_table[1][(w >> 48) & 0xff] ^ sw_table[0][w >> 56];
                p += 8;
                len -= 8;
        }
        while (len--)
                c = sw_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        return ~c;
}

/* ---- GF(2) operators that shift a CRC over a run of zero bytes ---- */

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
        uint32_t sum = 0;
        while (vec) {
                if (vec & 1)
                        sum ^= *mat;
                vec >>= 1;
                mat++;
        }
        return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat)
{
        for (int n = 0; n < 32; n++)
                square[n] = gf2_times(mat, mat[n]);
}

/* Operator for appending len zero bytes (len a power of two). */
static void zeros_op(uint32_t *even, size_t len)
{
        uint32_t odd[32];
        uint32_t row = 1;
        odd[0] = POLY; /* one zero bit */
        for (int n = 1; n < 32; n++) {
                odd[n] = row;
                row <<= 1;
        }
        gf2_square(even, odd); /* two zero bits */
        gf2_square(odd, even); /* four zero bits */
        do {
                gf2_square(even, odd); /* one byte, then 4, 16, ... */
                len >>= 1;
                if (len == 0)
                        return;
                gf2_square(odd, even);
                len >>= 1;
        } while (len);
        memcpy(even, odd, sizeof(odd));
}

static void zeros_table(uint32_t zeros[4][256], size_t len)
{
        uint32_t op[32];
        zeros_op(op, len);
        for (uint32_t n = 0; n < 256; n++) {
                zeros[0][n] = gf2_times(op, n);
                zeros[1][n] = gf2_times(op, n << 8);
                zeros[2][n] = gf2_times(op, n << 16);
                zeros[3][n] = gf2_times(op, n << 24);
        }
}

static inline uint32_t shift_crc(uint32_t zeros[4][256], uint32_t crc)
{
        return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^
               zeros[3][crc >> 24];
}

/* ---- hardware ---- */

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>

#define HW_TARGET     __attribute__((target("sse4.2")))
#define CRC_U8(c, p)  ((uint32_t)_mm_crc32_u8((c), *(p)))
#define CRC_U64(c, p) ((uint64_t)_mm_crc32_u64((c), load_le64(p)))

static bool detect_hw(void)
{
        unsigned int eax, ebx, ecx, edx;
        if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
                return false;
        return (ecx & bit_SSE4_2) != 0;
}
#define HW_NAME "sse4.2"

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif

#if defined(__clang__)
/* clang's arm_acle.h hides the intrinsics unless the whole file targets +crc,
 * so call the builtins behind them. */
#define HW_TARGET     __attribute__((target("crc")))
#define CRC_U8(c, p)  (__builtin_arm_crc32cb((c), *(p)))
#define CRC_U64(c, p) ((uint64_t)__builtin_arm_crc32cd((uint32_t)(c), load_le64(p)))
#else
#include <arm_acle.h>
#define HW_TARGET     __attribute__((target("+crc")))
#define CRC_U8(c, p)  (__crc32cb((c), *(p)))
#define CRC_U64(c, p) ((uint64_t)__crc32cd((uint32_t)(c), load_le64(p)))
#endif

static bool detect_hw(void)
{
        return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}
#define HW_NAME "armv8"
#endif

#ifdef HW_TARGET
/* Runs three streams of block bytes each; returns the combined CRC. */
#define THREE_WAY(block, zeros)                                                                    \
        while (len >= 3 * (block)) {                                                               \
                uint64_t c1 = 0, c2 = 0;                                                           \
                const uint8_t *stop = p + (block);                                                 \
                do {                                                                               \
                        c0 = CRC_U64(c0, p);                                                       \
                        c1 = CRC_U64(c1, p + (block));                                             \
                        c2 = CRC_U64(c2, p + 2 * (block));                                         \
                        p += 8;                                                                    \
                } while (p < stop);                                                                \
                c0 = shift_crc(zeros, (uint32_t)c0) ^ (uint32_t)c1;                                \
                c0 = shift_crc(zeros, (uint32_t)c0) ^ (uint32_t)c2;                                \
                p += 2 * (block);                                                                  \
                len -= 3 * (block);                                                                \
        }

HW_TARGET uint32_t kp_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
        const uint8_t *p = buf;
        uint64_t c0 = ~crc;
        while (len && ((uintptr_t)p & 7)) {
                c0 = CRC_U8((uint32_t)c0, p);
                p++;
                len--;
        }
        THREE_WAY(LONG_BLOCK, zeros_long)
        THREE_WAY(SHORT_BLOCK, zeros_short)
        while (len >= 8) {
                c0 = CRC_U64(c0, p);
                p += 8;
                len -= 8;
        }
        while (len) {
                c0 = CRC_U8((uint32_t)c0, p);
                p++;
                len--;
        }
        return ~(uint32_t)c0;
}

bool kp_crc32c_hw_available(void)
{
        return detect_hw();
}
#else
uint32_t kp_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
        return kp_crc32c_sw(crc, buf, len);
}

bool kp_crc32c_hw_available(void)
{
        return false;
}
#endif

__attribute__((constructor)) static void crc32c_init(void)
{
        sw_init();
        zeros_table(zeros_long, LONG_BLOCK);
        zeros_table(zeros_short, SHORT_BLOCK);
        crc_impl = kp_crc32c_sw;
#ifdef HW_TARGET
        if (detect_hw()) {
                crc_impl = kp_crc32c_hw;
                crc_impl_name = HW_NAME;
        }
#endif
}

uint32_t kp_crc32c(uint32_t crc, const void *buf, size_t len)
{
        /* Only another constructor running before ours can get here first. */
        if (__builtin_expect(crc_impl == NULL, 0))
                crc32c_init();
        return crc_impl(crc, buf, len);
}

const char *kp_crc32c_impl(void)
{
        return crc_impl_name;
}
