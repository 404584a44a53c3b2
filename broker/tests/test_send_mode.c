/* broker/tests/test_send_mode.c — fetch.send.mode: which connections get
 * their Fetch file ranges copied and which get sendfile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "send_mode.h"

static const char *const loopback[] = {"127.0.0.1:40000", "127.1.2.3:9", "::1:40000",
                                       "::ffff:127.0.0.1:40000"};
static const char *const remote[] = {
    "10.0.0.7:40000",        "192.168.1.2:9", "::2:40000", "fe80::1:40000",
    "::ffff:10.0.0.1:40000", "1270.0.0.1:5",  "?:0",       ""};

static void test_auto_copies_to_loopback_only(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
                assert_true(sl_send_mode_copies(SL_FETCH_SEND_AUTO, loopback[i]));
        for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
                assert_false(sl_send_mode_copies(SL_FETCH_SEND_AUTO, remote[i]));
}

static void test_fixed_modes_ignore_the_peer(void **state)
{
        (void)state;
        assert_false(sl_send_mode_copies(SL_FETCH_SEND_SENDFILE, "127.0.0.1:1"));
        assert_false(sl_send_mode_copies(SL_FETCH_SEND_SENDFILE, "10.0.0.7:1"));
        assert_true(sl_send_mode_copies(SL_FETCH_SEND_COPY, "127.0.0.1:1"));
        assert_true(sl_send_mode_copies(SL_FETCH_SEND_COPY, "10.0.0.7:1"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_auto_copies_to_loopback_only),
            cmocka_unit_test(test_fixed_modes_ignore_the_peer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
