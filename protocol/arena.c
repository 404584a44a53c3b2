/* protocol/arena.c — chunked bump allocator (see arena.h). */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct kp_arena_chunk {
        struct kp_arena_chunk *next;
        size_t size; /* usable bytes in data[] */
        size_t used;
        _Alignas(16) unsigned char data[];
};

void kp_arena_init(kp_arena *a, size_t first_chunk_bytes)
{
        a->head = NULL;
        a->chunk_bytes = first_chunk_bytes ? first_chunk_bytes : 4096;
        a->used_bytes = 0;
}

static struct kp_arena_chunk *chunk_new(size_t size)
{
        struct kp_arena_chunk *c = malloc(sizeof(*c) + size);
        if (!c)
                return NULL;
        c->next = NULL;
        c->size = size;
        c->used = 0;
        return c;
}

void *kp_arena_alloc(kp_arena *a, size_t n, size_t size)
{
        if (size && n > SIZE_MAX / size)
                return NULL;
        size_t bytes = (n * size + 15) & ~(size_t)15;
        if (bytes < n * size)
                return NULL;
        struct kp_arena_chunk *c = a->head;
        if (!c || c->size - c->used < bytes) {
                size_t want = a->chunk_bytes;
                while (want < bytes)
                        want *= 2;
                struct kp_arena_chunk *fresh = chunk_new(want);
                if (!fresh)
                        return NULL;
                fresh->next = a->head;
                a->head = fresh;
                a->chunk_bytes = want;
                c = fresh;
        }
        void *p = c->data + c->used;
        c->used += bytes;
        a->used_bytes += bytes;
        memset(p, 0, bytes);
        return p;
}

void kp_arena_reset(kp_arena *a)
{
        struct kp_arena_chunk *keep = NULL;
        struct kp_arena_chunk *c = a->head;
        while (c) {
                struct kp_arena_chunk *next = c->next;
                if (!keep || c->size > keep->size) {
                        free(keep);
                        keep = c;
                } else {
                        free(c);
                }
                c = next;
        }
        if (keep) {
                keep->next = NULL;
                keep->used = 0;
        }
        a->head = keep;
        a->used_bytes = 0;
}

void kp_arena_release(kp_arena *a)
{
        struct kp_arena_chunk *c = a->head;
        while (c) {
                struct kp_arena_chunk *next = c->next;
                free(c);
                c = next;
        }
        a->head = NULL;
        a->used_bytes = 0;
}
