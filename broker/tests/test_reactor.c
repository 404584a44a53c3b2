/* broker/tests/test_reactor.c — the event loop: timers fire in deadline
 * order and not before their time, stopped and re-armed timers behave, fd
 * callbacks see readability and the mask can silence them, a hang-up is
 * reported even with an empty mask, and another thread can wake a sleeping
 * loop (eventfd) promptly. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "reactor.h"

static int fired[16];
static int nfired;

static void on_timer(sl_timer *t)
{
        fired[nfired++] = (int)(intptr_t)t->arg;
}

static void test_timers(void **state)
{
        (void)state;
        sl_reactor *r = sl_reactor_new();
        assert_non_null(r);
        sl_timer t[6];
        int64_t delays[6] = {30, 10, 50, 20, 40, 60};
        for (int i = 0; i < 6; i++) {
                sl_timer_init(&t[i], on_timer, (void *)(intptr_t)i);
                sl_timer_start(r, &t[i], delays[i]);
        }
        sl_timer_stop(r, &t[4]);     /* never fires */
        sl_timer_start(r, &t[0], 5); /* moved earlier */
        assert_false(sl_timer_armed(&t[4]));
        nfired = 0;
        int64_t start = sl_now_ms();
        while (nfired < 5 && sl_now_ms() - start < 2000)
                sl_reactor_turn(r, 100);
        assert_int_equal(nfired, 5);
        int order[5] = {0, 1, 3, 2, 5};
        for (int i = 0; i < 5; i++)
                assert_int_equal(fired[i], order[i]);
        assert_true(sl_now_ms() - start >= 60);
        for (int i = 0; i < 6; i++)
                assert_false(sl_timer_armed(&t[i]));
        sl_reactor_free(r);
}

static int reads;
static int last_mask;

static void on_fd(sl_reactor *r, int fd, void *arg, int mask)
{
        (void)r;
        (void)arg;
        last_mask = mask;
        char b[16];
        if (mask & SL_READABLE)
                reads += (int)read(fd, b, sizeof(b));
}

static void test_fd_events(void **state)
{
        (void)state;
        sl_reactor *r = sl_reactor_new();
        int p[2];
        assert_int_equal(pipe(p), 0);
        assert_int_equal(sl_reactor_watch(r, p[0], SL_READABLE, on_fd, NULL), 0);
        assert_int_equal(write(p[1], "abc", 3), 3);
        reads = 0;
        sl_reactor_turn(r, 100);
        assert_int_equal(reads, 3);
        assert_int_equal(sl_reactor_set_mask(r, p[0], 0), 0);
        assert_int_equal(write(p[1], "de", 2), 2);
        sl_reactor_turn(r, 20);
        assert_int_equal(reads, 3); /* silenced */
        assert_int_equal(sl_reactor_set_mask(r, p[0], SL_READABLE), 0);
        sl_reactor_turn(r, 100);
        assert_int_equal(reads, 5);
        /* Writer gone with an empty mask: HUP still arrives. */
        assert_int_equal(sl_reactor_set_mask(r, p[0], 0), 0);
        close(p[1]);
        last_mask = 0;
        sl_reactor_turn(r, 100);
        assert_true(last_mask & SL_HANGUP);
        sl_reactor_unwatch(r, p[0]);
        close(p[0]);
        sl_reactor_free(r);
}

static void *waker(void *arg)
{
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
        sl_reactor_wake_if_sleeping(arg);
        return NULL;
}

static void test_wake(void **state)
{
        (void)state;
        sl_reactor *r = sl_reactor_new();
        pthread_t th;
        pthread_create(&th, NULL, waker, r);
        int64_t start = sl_now_ms();
        sl_reactor_turn(r, 5000); /* would sleep 5 s without the wake */
        int64_t took = sl_now_ms() - start;
        pthread_join(th, NULL);
        assert_true(took < 2000);
        sl_reactor_stop(r);
        assert_true(sl_reactor_stopping(r));
        sl_reactor_run(r); /* returns at once */
        sl_reactor_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_timers),
            cmocka_unit_test(test_fd_events),
            cmocka_unit_test(test_wake),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
