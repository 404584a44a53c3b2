/* protocol/arena.h — bump allocator for one request's decoded structs.
 *
 * A request decodes into one arena and is released in one call: no malloc per
 * field. Chunks are kept between requests (kp_arena_reset), so a shard that
 * reuses its arena allocates only when a request is larger than any before it.
 * Owner: the shard that decodes the request; never shared between shards. */
#ifndef KP_ARENA_H
#define KP_ARENA_H

#include <stddef.h>

struct kp_arena_chunk;

typedef struct kp_arena {
        struct kp_arena_chunk *head; /* chunk being filled; older chunks follow */
        size_t chunk_bytes;          /* size of the next chunk to allocate */
        size_t used_bytes;           /* bytes handed out since the last reset */
} kp_arena;

/* Prepares an empty arena; the first chunk is allocated on first use. */
void kp_arena_init(kp_arena *a, size_t first_chunk_bytes);
/* Returns zeroed, 16-byte-aligned memory, or NULL when out of memory or when
 * n * size overflows. */
void *kp_arena_alloc(kp_arena *a, size_t n, size_t size);
/* Forgets every allocation but keeps the largest chunk for reuse. */
void kp_arena_reset(kp_arena *a);
/* Frees every chunk. */
void kp_arena_release(kp_arena *a);

#endif
