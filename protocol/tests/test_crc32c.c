/* protocol/tests/test_crc32c.c — CRC-32C known vectors (RFC 3720 B.4 and the
 * "123456789" check value), hardware == table on random buffers of every
 * length and alignment around the 3-way block sizes, and incremental
 * (chunked) computation equal to one-shot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

static uint32_t (*const impls[])(uint32_t, const void *, size_t) = {kp_crc32c, kp_crc32c_sw,
                                                                    kp_crc32c_hw};

static size_t impl_count(void)
{
        return kp_crc32c_hw_available() ? 3 : 2;
}

static void test_vectors(void **state)
{
        (void)state;
        uint8_t zeros[32] = {0}, ones[32], inc[32], dec[32];
        memset(ones, 0xff, sizeof(ones));
        for (int i = 0; i < 32; i++) {
                inc[i] = (uint8_t)i;
                dec[i] = (uint8_t)(31 - i);
        }
        for (size_t k = 0; k < impl_count(); k++) {
                assert_int_equal(impls[k](0, "123456789", 9), 0xE3069283u);
                assert_int_equal(impls[k](0, "", 0), 0);
                assert_int_equal(impls[k](0, zeros, 32), 0x8A9136AAu);
                assert_int_equal(impls[k](0, ones, 32), 0x62A8AB43u);
                assert_int_equal(impls[k](0, inc, 32), 0x46DD794Eu);
                assert_int_equal(impls[k](0, dec, 32), 0x113FDB5Cu);
        }
}

static void test_hw_matches_table(void **state)
{
        (void)state;
        if (!kp_crc32c_hw_available())
                skip();
        size_t cap = 3 * 8192 * 2 + 3 * 256 * 2 + 64;
        uint8_t *buf = malloc(cap + 8);
        assert_non_null(buf);
        srand(12345);
        for (size_t i = 0; i < cap + 8; i++)
                buf[i] = (uint8_t)rand();
        /* Every length up to ~1.6 KiB, at every alignment of the start. */
        for (size_t off = 0; off < 8; off++)
                for (size_t len = 0; len < 1600; len++)
                        assert_int_equal(kp_crc32c_hw(0, buf + off, len),
                                         kp_crc32c_sw(0, buf + off, len));
        /* Lengths around the long and short 3-way blocks. */
        const size_t lens[] = {3 * 256 - 1, 3 * 256,      3 * 256 + 7,    3 * 8192 - 8,
                               3 * 8192,    3 * 8192 + 1, 3 * 8192 + 777, 6 * 8192 + 3 * 256 + 5,
                               cap};
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
                for (size_t off = 0; off < 8; off += 3)
                        assert_int_equal(kp_crc32c_hw(7, buf + off, lens[i]),
                                         kp_crc32c_sw(7, buf + off, lens[i]));
        free(buf);
}

static void test_incremental(void **state)
{
        (void)state;
        uint8_t buf[5000];
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)(i * 131 + 7);
        for (size_t k = 0; k < impl_count(); k++) {
                uint32_t whole = impls[k](0, buf, sizeof(buf));
                for (size_t cut = 0; cut <= sizeof(buf); cut += 97) {
                        uint32_t c = impls[k](0, buf, cut);
                        c = impls[k](c, buf + cut, sizeof(buf) - cut);
                        assert_int_equal(c, whole);
                }
        }
}

static void test_dispatch_name(void **state)
{
        (void)state;
        const char *name = kp_crc32c_impl();
        if (kp_crc32c_hw_available())
                assert_string_not_equal(name, "table");
        else
                assert_string_equal(name, "table");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vectors),
            cmocka_unit_test(test_hw_matches_table),
            cmocka_unit_test(test_incremental),
            cmocka_unit_test(test_dispatch_name),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
