/* broker/tests/test_ring.c — the SPSC ring: capacity rounding, full and
 * empty behaviour, FIFO order, and a two-thread run pushing a million
 * sequence numbers through a small ring (every value arrives once, in order:
 * the release/acquire pairing and the cached indexes are right). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ring.h"

static void test_full_empty(void **state)
{
        (void)state;
        sl_ring *r = sl_ring_new(5); /* rounds up to 8 */
        assert_non_null(r);
        assert_int_equal(r->mask, 7);
        assert_true(sl_ring_empty(r));
        assert_null(sl_ring_pop(r));
        for (uintptr_t i = 1; i <= 8; i++)
                assert_true(sl_ring_push(r, (void *)i));
        assert_false(sl_ring_push(r, (void *)9));
        assert_false(sl_ring_empty(r));
        for (uintptr_t i = 1; i <= 3; i++)
                assert_ptr_equal(sl_ring_pop(r), (void *)i);
        for (uintptr_t i = 9; i <= 11; i++)
                assert_true(sl_ring_push(r, (void *)i));
        assert_false(sl_ring_push(r, (void *)12));
        for (uintptr_t i = 4; i <= 11; i++)
                assert_ptr_equal(sl_ring_pop(r), (void *)i);
        assert_null(sl_ring_pop(r));
        assert_true(sl_ring_empty(r));
        sl_ring_free(r);
}

#define N_MSGS 1000000u

static void *producer(void *arg)
{
        sl_ring *r = arg;
        for (uintptr_t i = 1; i <= N_MSGS; i++)
                while (!sl_ring_push(r, (void *)i))
                        ;
        return NULL;
}

static void test_two_threads(void **state)
{
        (void)state;
        sl_ring *r = sl_ring_new(64);
        pthread_t th;
        pthread_create(&th, NULL, producer, r);
        uintptr_t expect = 1;
        while (expect <= N_MSGS) {
                void *m = sl_ring_pop(r);
                if (!m)
                        continue;
                if ((uintptr_t)m != expect)
                        fail_msg("got %lu, expected %lu", (unsigned long)(uintptr_t)m,
                                 (unsigned long)expect);
                expect++;
        }
        pthread_join(th, NULL);
        assert_null(sl_ring_pop(r));
        sl_ring_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_full_empty),
            cmocka_unit_test(test_two_threads),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
