/* broker/ring.c — allocation of the SPSC rings declared in ring.h (the push and
 * pop fast paths are inline there). Rings are created at startup, one per
 * ordered pair of shards, and never resized. */
#include "ring.h"

#include <stdlib.h>

sl_ring *sl_ring_new(uint32_t capacity)
{
        uint32_t n = 2;
        while (n < capacity && n < (1u << 30))
                n <<= 1;
        sl_ring *r = aligned_alloc(SL_CACHE_LINE, sizeof(*r));
        if (!r)
                return NULL;
        r->slots = calloc(n, sizeof(*r->slots));
        if (!r->slots) {
                free(r);
                return NULL;
        }
        atomic_init(&r->tail, 0);
        atomic_init(&r->head, 0);
        atomic_init(&r->producer_waiting, 0);
        r->cached_head = 0;
        r->cached_tail = 0;
        r->mask = n - 1;
        return r;
}

void sl_ring_free(sl_ring *r)
{
        if (!r)
                return;
        free(r->slots);
        free(r);
}
