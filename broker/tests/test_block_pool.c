/* broker/tests/test_block_pool.c — per-thread block free lists: a put block
 * comes back to the same thread, threads keep separate lists, and a thread's
 * list is freed when it exits (LeakSanitizer checks that in the ASan suite). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "block_pool.h"

typedef struct block {
        uint64_t words[40];
} block;

static sl_block_pool pool = SL_BLOCK_POOL_INIT(sizeof(block));

static void test_put_block_comes_back(void **state)
{
        (void)state;
        block *a = sl_block_get(&pool), *b = sl_block_get(&pool);
        assert_non_null(a);
        assert_non_null(b);
        assert_ptr_not_equal(a, b);
        memset(a, 0xab, sizeof(*a)); /* the whole block is the caller's */
        sl_block_put(&pool, a);
        sl_block_put(&pool, b);
        /* Last in, first out. */
        assert_ptr_equal(sl_block_get(&pool), b);
        assert_ptr_equal(sl_block_get(&pool), a);
        sl_block_put(&pool, a);
        sl_block_put(&pool, b);
}

static void *other_thread(void *arg)
{
        block *mine = arg;
        /* This thread's list is empty: it must not get the main thread's blocks. */
        block *x = sl_block_get(&pool), *y = sl_block_get(&pool);
        int shared = x == mine || y == mine;
        sl_block_put(&pool, x);
        sl_block_put(&pool, y);
        return (void *)(intptr_t)shared; /* its two blocks are freed as it exits */
}

static void test_threads_keep_their_own_lists(void **state)
{
        (void)state;
        block *mine = sl_block_get(&pool);
        sl_block_put(&pool, mine);
        pthread_t t;
        void *shared = NULL;
        assert_int_equal(pthread_create(&t, NULL, other_thread, mine), 0);
        assert_int_equal(pthread_join(t, &shared), 0);
        assert_null(shared);
        assert_ptr_equal(sl_block_get(&pool), mine);
        sl_block_put(&pool, mine);
}

static void *put_and_exit(void *arg)
{
        (void)arg;
        for (int i = 0; i < 8; i++)
                sl_block_put(&pool, sl_block_get(&pool));
        return NULL;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_put_block_comes_back),
            cmocka_unit_test(test_threads_keep_their_own_lists),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        pthread_t t;
        if (pthread_create(&t, NULL, put_and_exit, NULL) == 0)
                pthread_join(t, NULL);
        return rc;
}
