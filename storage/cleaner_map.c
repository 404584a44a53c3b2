/* storage/cleaner_map.c — the compaction offset map and producer table.
 *
 * The offset map remembers, for every key met in the dirty section, the
 * largest offset it has there; its memory is fixed up front (a share of
 * Kafka's log.cleaner.dedupe.buffer.size), so a dirty section with more keys
 * than fit is cleaned in parts (the map reports full, the cleaning stops at
 * that segment). Keys are stored as their XXH3-128 hash, like Kafka's MD5
 * map: two different keys colliding in 128 bits is not a practical concern.
 * The producer table finds, per producer id, its last batch in the cleaned
 * range: that batch's header is kept even when all its records go, so the
 * idempotent producer state can still be rebuilt from the log. */
#include "cleaner_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

static void slot_put(uint8_t *s, XXH128_hash_t h, int64_t off)
{
        memcpy(s, &h.high64, 8);
        memcpy(s + 8, &h.low64, 8);
        memcpy(s + 16, &off, 8);
}

static int64_t slot_off(const uint8_t *s)
{
        int64_t v;
        memcpy(&v, s + 16, 8);
        return v;
}

static bool slot_is(const uint8_t *s, XXH128_hash_t h)
{
        uint64_t hi, lo;
        memcpy(&hi, s, 8);
        memcpy(&lo, s + 8, 8);
        return hi == h.high64 && lo == h.low64;
}

int cl_map_init(cl_map *m, size_t bytes)
{
        memset(m, 0, sizeof(*m));
        uint64_t want = bytes / CL_SLOT_BYTES, cap = 1024;
        while (cap * 2 <= want)
                cap *= 2;
        m->slots = malloc(cap * CL_SLOT_BYTES);
        if (!m->slots)
                return -ENOMEM;
        m->cap = cap;
        m->max_n = cap / 10 * 9;
        for (uint64_t i = 0; i < cap; i++)
                slot_put(m->slots + i * CL_SLOT_BYTES, (XXH128_hash_t){0, 0}, -1);
        return 0;
}

void cl_map_free(cl_map *m)
{
        free(m->slots);
        memset(m, 0, sizeof(*m));
}

/* Slot holding h, or the empty slot where it would go. */
static uint8_t *find(const cl_map *m, XXH128_hash_t h, uint64_t *probes)
{
        uint64_t i = h.low64 & (m->cap - 1);
        for (;;) {
                uint8_t *s = m->slots + i * CL_SLOT_BYTES;
                (*probes)++;
                if (slot_off(s) < 0 || slot_is(s, h))
                        return s;
                i = (i + 1) & (m->cap - 1);
        }
}

int cl_map_put(cl_map *m, const uint8_t *key, size_t len, int64_t offset)
{
        XXH128_hash_t h = XXH3_128bits(key, len);
        uint8_t *s = find(m, h, &m->probes);
        int64_t cur = slot_off(s);
        if (cur < 0) {
                if (m->n >= m->max_n)
                        return -ENOSPC;
                m->n++;
        } else if (cur > offset) {
                return 0;
        }
        slot_put(s, h, offset);
        return 0;
}

int64_t cl_map_get(const cl_map *m, const uint8_t *key, size_t len)
{
        uint64_t probes = 0;
        if (!m->n)
                return -1;
        XXH128_hash_t h = XXH3_128bits(key, len);
        return slot_off(find(m, h, &probes));
}

static uint32_t pid_slot(const cl_pids *t, int64_t pid)
{
        uint64_t x = (uint64_t)pid * 0x9E3779B97F4A7C15ull;
        uint32_t i = (uint32_t)(x >> 32) & (t->cap - 1);
        while (t->pid[i] != -1 && t->pid[i] != pid)
                i = (i + 1) & (t->cap - 1);
        return i;
}

static int pids_grow(cl_pids *t)
{
        uint32_t ncap = t->cap ? t->cap * 2 : 64;
        if (ncap < t->cap)
                return -ENOMEM;
        cl_pids nt = {.cap = ncap};
        nt.pid = malloc(ncap * sizeof(*nt.pid));
        nt.base = malloc(ncap * sizeof(*nt.base));
        if (!nt.pid || !nt.base) {
                free(nt.pid);
                free(nt.base);
                return -ENOMEM;
        }
        for (uint32_t i = 0; i < ncap; i++)
                nt.pid[i] = -1;
        for (uint32_t i = 0; i < t->cap; i++) {
                if (t->pid[i] == -1)
                        continue;
                uint32_t k = pid_slot(&nt, t->pid[i]);
                nt.pid[k] = t->pid[i];
                nt.base[k] = t->base[i];
                nt.n++;
        }
        cl_pids_free(t);
        *t = nt;
        return 0;
}

int cl_pids_put(cl_pids *t, int64_t pid, int64_t base_offset)
{
        if ((t->n + 1) * 4 > t->cap * 3) {
                int rc = pids_grow(t);
                if (rc < 0)
                        return rc;
        }
        uint32_t i = pid_slot(t, pid);
        if (t->pid[i] == -1) {
                t->pid[i] = pid;
                t->n++;
        }
        t->base[i] = base_offset;
        return 0;
}

int64_t cl_pids_last(const cl_pids *t, int64_t pid)
{
        if (!t->cap)
                return -1;
        uint32_t i = pid_slot(t, pid);
        return t->pid[i] == pid ? t->base[i] : -1;
}

void cl_pids_free(cl_pids *t)
{
        free(t->pid);
        free(t->base);
        memset(t, 0, sizeof(*t));
}
