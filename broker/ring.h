/* broker/ring.h — bounded single-producer/single-consumer ring of pointers.
 *
 * One ring per ordered pair of shards carries sl_xcall pointers (calls and
 * their replies). The producer index and the consumer index sit on separate
 * cache lines, each side keeps a cached copy of the other's index so a push
 * or pop touches the shared line only when the cached view says full/empty
 * (Seastar's smp_message_queue layout). Publication is release/acquire: what
 * a message points to is visible to the consumer once it pops the pointer.
 * A full ring is backpressure: push returns false and the caller keeps the
 * message, raises producer_waiting and retries when the consumer, having made
 * room, wakes it. Waking the consumer's reactor is the caller's job
 * (sl_reactor_wake_if_sleeping after a batch of pushes). */
#ifndef SL_RING_H
#define SL_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SL_CACHE_LINE 64

typedef struct sl_ring {
        alignas(SL_CACHE_LINE) atomic_uint_fast32_t tail; /* written by the producer */
        uint32_t cached_head;                             /* producer's view of head */
        alignas(SL_CACHE_LINE) atomic_uint_fast32_t head; /* written by the consumer */
        uint32_t cached_tail;                             /* consumer's view of tail */
        /* Set by the producer when messages wait for room (before it retries),
         * cleared by the consumer, which then wakes the producer's shard. */
        alignas(SL_CACHE_LINE) atomic_int producer_waiting;
        alignas(SL_CACHE_LINE) uint32_t mask; /* capacity - 1 (read-only) */
        void **slots;
} sl_ring;

/* Allocates a ring of `capacity` slots (rounded up to a power of two, >= 2).
 * NULL when out of memory. */
sl_ring *sl_ring_new(uint32_t capacity);
void sl_ring_free(sl_ring *r);

/* Producer side. False when full (nothing is changed). */
static inline bool sl_ring_push(sl_ring *r, void *msg)
{
        uint32_t t = (uint32_t)atomic_load_explicit(&r->tail, memory_order_relaxed);
        if (t - r->cached_head > r->mask) {
                r->cached_head = (uint32_t)atomic_load_explicit(&r->head, memory_order_acquire);
                if (t - r->cached_head > r->mask)
                        return false;
        }
        r->slots[t & r->mask] = msg;
        atomic_store_explicit(&r->tail, t + 1, memory_order_release);
        return true;
}

/* Producer side: true when a push would succeed. */
static inline bool sl_ring_has_room(sl_ring *r)
{
        uint32_t t = (uint32_t)atomic_load_explicit(&r->tail, memory_order_relaxed);
        if (t - r->cached_head <= r->mask)
                return true;
        r->cached_head = (uint32_t)atomic_load_explicit(&r->head, memory_order_acquire);
        return t - r->cached_head <= r->mask;
}

/* Consumer side. NULL when empty. */
static inline void *sl_ring_pop(sl_ring *r)
{
        uint32_t h = (uint32_t)atomic_load_explicit(&r->head, memory_order_relaxed);
        if (h == r->cached_tail) {
                r->cached_tail = (uint32_t)atomic_load_explicit(&r->tail, memory_order_acquire);
                if (h == r->cached_tail)
                        return 0;
        }
        void *msg = r->slots[h & r->mask];
        atomic_store_explicit(&r->head, h + 1, memory_order_release);
        return msg;
}

/* Consumer side: true when a pop would return NULL. */
static inline bool sl_ring_empty(sl_ring *r)
{
        uint32_t h = (uint32_t)atomic_load_explicit(&r->head, memory_order_relaxed);
        if (h != r->cached_tail)
                return false;
        r->cached_tail = (uint32_t)atomic_load_explicit(&r->tail, memory_order_acquire);
        return h == r->cached_tail;
}

#endif
