/* protocol/tests/test_frame.c — the request size check (frame.h): partial
 * prefixes, partial bodies, exact and oversized frames, negative and too-small
 * sizes, and a pipelined buffer holding more than one frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "frame.h"

static void put(uint8_t *b, uint32_t v)
{
        kp_frame_put_size(b, (int32_t)v);
}

static void test_need_more_prefix(void **state)
{
        (void)state;
        uint8_t b[4] = {0, 0, 0, 10};
        int32_t len = 12345;
        for (size_t n = 0; n < 4; n++) {
                assert_int_equal(kp_frame_peek(b, n, KP_FRAME_DEFAULT_MAX_BYTES, &len),
                                 KP_FRAME_NEED_MORE);
                assert_int_equal(len, 12345); /* untouched until the prefix is in */
        }
}

static void test_need_more_body_then_ready(void **state)
{
        (void)state;
        uint8_t b[4 + 20] = {0};
        put(b, 20);
        int32_t len = -1;
        for (size_t n = 4; n < sizeof(b); n++) {
                assert_int_equal(kp_frame_peek(b, n, KP_FRAME_DEFAULT_MAX_BYTES, &len),
                                 KP_FRAME_NEED_MORE);
                assert_int_equal(len, 20);
        }
        assert_int_equal(kp_frame_peek(b, sizeof(b), KP_FRAME_DEFAULT_MAX_BYTES, &len),
                         KP_FRAME_READY);
        assert_int_equal(len, 20);
}

static void test_pipelined(void **state)
{
        (void)state;
        uint8_t b[4 + 8 + 4 + 9] = {0};
        put(b, 8);
        put(b + 12, 9);
        int32_t len;
        assert_int_equal(kp_frame_peek(b, sizeof(b), 1000, &len), KP_FRAME_READY);
        assert_int_equal(len, 8);
        assert_int_equal(kp_frame_peek(b + 12, sizeof(b) - 12, 1000, &len), KP_FRAME_READY);
        assert_int_equal(len, 9);
        assert_int_equal(kp_frame_peek(b + 12, sizeof(b) - 13, 1000, &len), KP_FRAME_NEED_MORE);
}

static void test_invalid_sizes(void **state)
{
        (void)state;
        uint8_t b[4];
        int32_t len = 77;
        put(b, 0xffffffffu); /* -1 */
        assert_int_equal(kp_frame_peek(b, 4, KP_FRAME_DEFAULT_MAX_BYTES, &len), KP_FRAME_INVALID);
        put(b, 0x80000000u); /* INT32_MIN */
        assert_int_equal(kp_frame_peek(b, 4, KP_FRAME_DEFAULT_MAX_BYTES, &len), KP_FRAME_INVALID);
        put(b, 0);
        assert_int_equal(kp_frame_peek(b, 4, KP_FRAME_DEFAULT_MAX_BYTES, &len), KP_FRAME_INVALID);
        put(b, KP_FRAME_MIN_REQUEST_BYTES - 1);
        assert_int_equal(kp_frame_peek(b, 4, KP_FRAME_DEFAULT_MAX_BYTES, &len), KP_FRAME_INVALID);
        put(b, KP_FRAME_DEFAULT_MAX_BYTES + 1);
        assert_int_equal(kp_frame_peek(b, 4, KP_FRAME_DEFAULT_MAX_BYTES, &len), KP_FRAME_INVALID);
        put(b, 0x7fffffffu);
        assert_int_equal(kp_frame_peek(b, 4, KP_FRAME_DEFAULT_MAX_BYTES, &len), KP_FRAME_INVALID);
        assert_int_equal(len, 77);
        /* Exactly the limits are fine. */
        put(b, KP_FRAME_DEFAULT_MAX_BYTES);
        assert_int_equal(kp_frame_peek(b, 4, KP_FRAME_DEFAULT_MAX_BYTES, &len), KP_FRAME_NEED_MORE);
        assert_int_equal(len, KP_FRAME_DEFAULT_MAX_BYTES);
        put(b, KP_FRAME_MIN_REQUEST_BYTES);
        assert_int_equal(kp_frame_peek(b, 4, KP_FRAME_DEFAULT_MAX_BYTES, &len), KP_FRAME_NEED_MORE);
        /* A smaller configured maximum. */
        put(b, 1025);
        assert_int_equal(kp_frame_peek(b, 4, 1024, &len), KP_FRAME_INVALID);
}

static void test_response_minimum(void **state)
{
        (void)state;
        uint8_t b[8];
        int32_t len;
        put(b, 4);
        memset(b + 4, 0, 4);
        assert_int_equal(kp_frame_peek_min(b, 8, KP_FRAME_MIN_RESPONSE_BYTES, 1000, &len),
                         KP_FRAME_READY);
        assert_int_equal(kp_frame_peek(b, 8, 1000, &len), KP_FRAME_INVALID);
        put(b, 3);
        assert_int_equal(kp_frame_peek_min(b, 8, KP_FRAME_MIN_RESPONSE_BYTES, 1000, &len),
                         KP_FRAME_INVALID);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_need_more_prefix),
            cmocka_unit_test(test_need_more_body_then_ready),
            cmocka_unit_test(test_pipelined),
            cmocka_unit_test(test_invalid_sizes),
            cmocka_unit_test(test_response_minimum),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
