/* broker/block_pool.h — per-thread free lists of fixed-size blocks, for
 * messages a shard sends and gets back many times a second (Fetch release
 * messages, cold-header jobs). get and put take no lock and, once a thread
 * has used as many blocks as it ever has in flight, allocate nothing. A free
 * block's first word links the list; a thread's list is freed when the
 * thread exits (a pthread key's destructor). */
#ifndef SL_BLOCK_POOL_H
#define SL_BLOCK_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

typedef struct sl_block_pool {
        size_t size;      /* bytes per block, at least a pointer */
        atomic_int state; /* 0 key not made, 1 key made, -1 no key: plain malloc/free */
        pthread_mutex_t mu;
        pthread_key_t key;
} sl_block_pool;

#define SL_BLOCK_POOL_INIT(bytes)                                                                  \
        {                                                                                          \
                .size = (bytes), .mu = PTHREAD_MUTEX_INITIALIZER                                   \
        }

/* An uninitialised block of pool->size bytes, or NULL when out of memory. */
void *sl_block_get(sl_block_pool *pool);
/* Back to the calling thread's list. */
void sl_block_put(sl_block_pool *pool, void *block);

#endif
