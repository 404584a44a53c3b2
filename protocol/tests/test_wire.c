/* protocol/tests/test_wire.c — the varint and bounds rules of wire.h, checked
 * against the byte examples of Kafka's encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wire.h"

static void check_uvarint(uint32_t v, const uint8_t *bytes, size_t n)
{
        uint8_t buf[8];
        kp_wr wr;
        kp_wr_init(&wr, buf, sizeof(buf));
        kp_wr_uvarint(&wr, v);
        assert_int_equal(wr.p - buf, n);
        assert_memory_equal(buf, bytes, n);
        assert_int_equal(kp_uvarint_size(v), n);
        kp_rd rd;
        kp_rd_init(&rd, bytes, n, NULL);
        assert_int_equal(kp_rd_uvarint(&rd, "v"), v);
        assert_int_equal(rd.err, 0);
        assert_int_equal(kp_rd_left(&rd), 0);
}

static void test_uvarint_examples(void **state)
{
        (void)state;
        check_uvarint(0, (const uint8_t[]){0x00}, 1);
        check_uvarint(127, (const uint8_t[]){0x7f}, 1);
        check_uvarint(128, (const uint8_t[]){0x80, 0x01}, 2);
        check_uvarint(300, (const uint8_t[]){0xac, 0x02}, 2);
        check_uvarint(16384, (const uint8_t[]){0x80, 0x80, 0x01}, 3);
        check_uvarint(2147483647u, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x07}, 5);
}

static void test_zigzag_examples(void **state)
{
        (void)state;
        const struct {
                int32_t v;
                uint8_t b[2];
                size_t n;
        } cases[] = {{0, {0x00}, 1},  {-1, {0x01}, 1},  {1, {0x02}, 1},       {-2, {0x03}, 1},
                     {63, {0x7e}, 1}, {-64, {0x7f}, 1}, {64, {0x80, 0x01}, 2}};
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                kp_rd rd;
                kp_rd_init(&rd, cases[i].b, cases[i].n, NULL);
                assert_int_equal(kp_rd_varint(&rd, "v"), cases[i].v);
                assert_int_equal(kp_varint_size(cases[i].v), cases[i].n);
                kp_rd_init(&rd, cases[i].b, cases[i].n, NULL);
                assert_int_equal(kp_rd_varlong(&rd, "v"), cases[i].v);
        }
}

static void test_overlong_uvarint_rejected(void **state)
{
        (void)state;
        const uint8_t six[] = {0xff, 0xff, 0xff, 0xff, 0x8f, 0x01};
        kp_rd rd;
        kp_rd_init(&rd, six, sizeof(six), NULL);
        kp_rd_uvarint(&rd, "count");
        assert_int_equal(rd.err, KP_ERR_CORRUPT_MESSAGE);
        assert_string_equal(rd.why, "count");
}

static void test_sticky_error_stops_reads(void **state)
{
        (void)state;
        const uint8_t two[] = {0x00, 0x01};
        kp_rd rd;
        kp_rd_init(&rd, two, sizeof(two), NULL);
        assert_int_equal(kp_rd_i32(&rd, "first"), 0);
        assert_int_equal(rd.err, KP_ERR_CORRUPT_MESSAGE);
        assert_int_equal(kp_rd_i8(&rd, "second"), 0);
        assert_string_equal(rd.why, "first");
}

static void test_hostile_count_fails_before_allocation(void **state)
{
        (void)state;
        uint8_t frame[20] = {0};
        kp_rd rd;
        kp_rd_init(&rd, frame, sizeof(frame), NULL);
        assert_false(kp_rd_count_fits(&rd, INT64_C(1) << 31, 1, "Topics"));
        assert_int_equal(rd.err, KP_ERR_CORRUPT_MESSAGE);
}

static void test_writer_never_overflows(void **state)
{
        (void)state;
        uint8_t buf[3];
        kp_wr wr;
        kp_wr_init(&wr, buf, sizeof(buf));
        kp_wr_i32(&wr, 7);
        assert_int_not_equal(wr.err, 0);
}

static void test_arena_reuses_and_aligns(void **state)
{
        (void)state;
        kp_arena a;
        kp_arena_init(&a, 64);
        char *p = kp_arena_alloc(&a, 1, 3);
        char *q = kp_arena_alloc(&a, 10, 100);
        assert_non_null(p);
        assert_non_null(q);
        assert_int_equal((uintptr_t)q % 16, 0);
        assert_null(kp_arena_alloc(&a, SIZE_MAX / 2, 4));
        kp_arena_reset(&a);
        assert_int_equal(a.used_bytes, 0);
        assert_non_null(kp_arena_alloc(&a, 1, 500));
        kp_arena_release(&a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_uvarint_examples),
            cmocka_unit_test(test_zigzag_examples),
            cmocka_unit_test(test_overlong_uvarint_rejected),
            cmocka_unit_test(test_sticky_error_stops_reads),
            cmocka_unit_test(test_hostile_count_fails_before_allocation),
            cmocka_unit_test(test_writer_never_overflows),
            cmocka_unit_test(test_arena_reuses_and_aligns),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
