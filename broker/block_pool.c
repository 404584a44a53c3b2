/* broker/block_pool.c — per-thread fixed-size block free lists (block_pool.h). */
#include "block_pool.h"

#include <stdlib.h>

static void free_chain(void *head)
{
        while (head) {
                void *next = *(void **)head;
                free(head);
                head = next;
        }
}

/* 1 when the pool's key exists (made on first use), -1 when it cannot. */
static int pool_ready(sl_block_pool *pool)
{
        int st = atomic_load_explicit(&pool->state, memory_order_acquire);
        if (st)
                return st;
        pthread_mutex_lock(&pool->mu);
        st = atomic_load_explicit(&pool->state, memory_order_relaxed);
        if (!st) {
                st = pthread_key_create(&pool->key, free_chain) ? -1 : 1;
                atomic_store_explicit(&pool->state, st, memory_order_release);
        }
        pthread_mutex_unlock(&pool->mu);
        return st;
}

void *sl_block_get(sl_block_pool *pool)
{
        if (pool_ready(pool) > 0) {
                void *b = pthread_getspecific(pool->key);
                if (b) {
                        pthread_setspecific(pool->key, *(void **)b);
                        return b;
                }
        }
        return malloc(pool->size);
}

void sl_block_put(sl_block_pool *pool, void *block)
{
        if (pool_ready(pool) < 0) {
                free(block);
                return;
        }
        *(void **)block = pthread_getspecific(pool->key);
        if (pthread_setspecific(pool->key, block))
                free(block); /* no room for the thread's value: keep nothing */
}
