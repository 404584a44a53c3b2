/* broker/fetch_session.c — the KIP-227 fetch session cache of one shard (see
 * fetch_session.h): a hash table by session id plus an LRU list for eviction.
 *
 * Eviction follows the spirit of Kafka's FetchSessionCache: when full, a new
 * session may replace the least recently used one if that has been idle for
 * SL_FSESS_EVICT_MS, or if it is smaller than the new one (bigger sessions
 * save more bytes per request); otherwise the fetch simply runs without a
 * session (session id 0), which every client accepts. */
#include <stdlib.h>
#include <string.h>

#include "fetch_session.h"
#include "kafka_errors.h"

static uint32_t next_rand(sl_fsess_cache *c)
{
        /* xorshift32: ids only need to be unlikely to repeat. */
        uint32_t x = c->seed ? c->seed : 0x9e3779b9u;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c->seed = x;
        return x;
}

int sl_fsess_cache_init(sl_fsess_cache *c, int32_t capacity, uint32_t shard, uint32_t seed)
{
        memset(c, 0, sizeof(*c));
        c->capacity = capacity > 0 ? capacity : 1;
        c->shard = shard & ((1u << SL_FSESS_SHARD_BITS) - 1);
        c->seed = seed;
        uint32_t n = 16;
        while (n < (uint32_t)c->capacity * 2)
                n *= 2;
        c->buckets = calloc(n, sizeof(*c->buckets));
        if (!c->buckets)
                return -1;
        c->mask = n - 1;
        return 0;
}

static void sess_free(sl_fsess *s)
{
        for (int32_t i = 0; i < s->ntopics; i++)
                free(s->topics[i].name);
        free(s->topics);
        free(s->parts);
        free(s);
}

void sl_fsess_cache_free(sl_fsess_cache *c)
{
        sl_fsess *s = c->lru_head;
        while (s) {
                sl_fsess *next = s->lru_next;
                sess_free(s);
                s = next;
        }
        free(c->buckets);
        memset(c, 0, sizeof(*c));
}

static void lru_unlink(sl_fsess_cache *c, sl_fsess *s)
{
        if (s->lru_prev)
                s->lru_prev->lru_next = s->lru_next;
        else
                c->lru_head = s->lru_next;
        if (s->lru_next)
                s->lru_next->lru_prev = s->lru_prev;
        else
                c->lru_tail = s->lru_prev;
        s->lru_prev = s->lru_next = NULL;
}

static void lru_push_head(sl_fsess_cache *c, sl_fsess *s)
{
        s->lru_prev = NULL;
        s->lru_next = c->lru_head;
        if (c->lru_head)
                c->lru_head->lru_prev = s;
        c->lru_head = s;
        if (!c->lru_tail)
                c->lru_tail = s;
}

sl_fsess *sl_fsess_find(sl_fsess_cache *c, int32_t id)
{
        if (!c->buckets)
                return NULL;
        for (sl_fsess *s = c->buckets[(uint32_t)id & c->mask]; s; s = s->hash_next)
                if (s->id == id)
                        return s;
        return NULL;
}

void sl_fsess_remove(sl_fsess_cache *c, sl_fsess *s)
{
        sl_fsess **pp = &c->buckets[(uint32_t)s->id & c->mask];
        while (*pp && *pp != s)
                pp = &(*pp)->hash_next;
        if (*pp)
                *pp = s->hash_next;
        lru_unlink(c, s);
        c->count--;
        sess_free(s);
}

static int32_t new_id(sl_fsess_cache *c)
{
        for (;;) {
                uint32_t r = next_rand(c) & 0xffffffu;
                if (!r)
                        continue;
                int32_t id = (int32_t)(r << SL_FSESS_SHARD_BITS | c->shard);
                if (!sl_fsess_find(c, id))
                        return id;
        }
}

/* A free slot, evicting the LRU session when it is idle or smaller. */
static bool make_room(sl_fsess_cache *c, int32_t nparts, int64_t now_ms)
{
        if (c->count < c->capacity)
                return true;
        sl_fsess *v = c->lru_tail;
        if (!v)
                return false;
        if (now_ms - v->last_used_ms >= SL_FSESS_EVICT_MS || v->nparts < nparts) {
                sl_fsess_remove(c, v);
                return true;
        }
        return false;
}

int16_t sl_fsess_begin(sl_fsess_cache *c, int32_t session_id, int32_t epoch, int32_t nparts_hint,
                       int64_t now_ms, int *kind, sl_fsess **out)
{
        *kind = SL_FSESS_NONE;
        *out = NULL;
        if (epoch > 0) {
                sl_fsess *s = sl_fsess_find(c, session_id);
                if (!s || session_id == 0)
                        return KP_ERR_FETCH_SESSION_ID_NOT_FOUND;
                if (s->epoch != epoch)
                        return KP_ERR_INVALID_FETCH_SESSION_EPOCH;
                s->epoch = epoch == INT32_MAX ? 1 : epoch + 1;
                s->last_used_ms = now_ms;
                lru_unlink(c, s);
                lru_push_head(c, s);
                *kind = SL_FSESS_INCREMENTAL;
                *out = s;
                return 0;
        }
        if (epoch < -1)
                return KP_ERR_INVALID_FETCH_SESSION_EPOCH;
        /* Full fetch: a named session is closed first. */
        if (session_id != 0) {
                sl_fsess *old = sl_fsess_find(c, session_id);
                if (old)
                        sl_fsess_remove(c, old);
        }
        if (epoch == -1 || !c->buckets || !make_room(c, nparts_hint, now_ms))
                return 0;
        sl_fsess *s = calloc(1, sizeof(*s));
        if (!s)
                return 0;
        if (nparts_hint > 0) {
                s->parts = malloc((size_t)nparts_hint * sizeof(*s->parts));
                if (!s->parts) {
                        free(s);
                        return 0;
                }
                s->parts_cap = nparts_hint;
        }
        s->id = new_id(c);
        s->epoch = 1;
        s->last_used_ms = now_ms;
        sl_fsess **b = &c->buckets[(uint32_t)s->id & c->mask];
        s->hash_next = *b;
        *b = s;
        lru_push_head(c, s);
        c->count++;
        *kind = SL_FSESS_FULL;
        *out = s;
        return 0;
}

static int32_t topic_find(const sl_fsess *s, kp_uuid id)
{
        for (int32_t i = 0; i < s->ntopics; i++)
                if (!memcmp(s->topics[i].id.b, id.b, sizeof(id.b)))
                        return i;
        return -1;
}

int32_t sl_fsess_topic_by_name(const sl_fsess *s, kp_str name)
{
        for (int32_t i = 0; i < s->ntopics; i++)
                if (s->topics[i].name_len == name.len &&
                    !memcmp(s->topics[i].name, name.p, (size_t)name.len))
                        return i;
        return -1;
}

static int32_t topic_add(sl_fsess *s, kp_uuid id, kp_str name)
{
        if (s->ntopics == s->topics_cap) {
                int32_t cap = s->topics_cap ? s->topics_cap * 2 : 4;
                sl_fsess_topic *nt = realloc(s->topics, (size_t)cap * sizeof(*nt));
                if (!nt)
                        return -1;
                s->topics = nt;
                s->topics_cap = cap;
        }
        int32_t len = name.len > 0 ? name.len : 0;
        char *copy = malloc((size_t)len + 1);
        if (!copy)
                return -1;
        if (len)
                memcpy(copy, name.p, (size_t)len);
        copy[len] = 0;
        s->topics[s->ntopics] = (sl_fsess_topic){.id = id, .name = copy, .name_len = len};
        return s->ntopics++;
}

sl_fsess_part *sl_fsess_upsert(sl_fsess *s, kp_uuid topic_id, kp_str name, int32_t partition)
{
        int32_t t = topic_find(s, topic_id);
        if (t >= 0) {
                for (int32_t i = 0; i < s->nparts; i++)
                        if (s->parts[i].topic == t && s->parts[i].partition == partition)
                                return &s->parts[i];
        } else if ((t = topic_add(s, topic_id, name)) < 0) {
                return NULL;
        }
        if (s->nparts == s->parts_cap) {
                int32_t cap = s->parts_cap ? s->parts_cap * 2 : 8;
                sl_fsess_part *np = realloc(s->parts, (size_t)cap * sizeof(*np));
                if (!np)
                        return NULL;
                s->parts = np;
                s->parts_cap = cap;
        }
        sl_fsess_part *p = &s->parts[s->nparts++];
        memset(p, 0, sizeof(*p));
        p->topic = t;
        p->partition = partition;
        p->current_leader_epoch = -1;
        p->last_fetched_epoch = -1;
        p->sent_hw = -1;
        p->sent_start = -1;
        return p;
}

void sl_fsess_forget(sl_fsess *s, kp_uuid topic_id, int32_t partition)
{
        int32_t t = topic_find(s, topic_id);
        if (t < 0)
                return;
        for (int32_t i = 0; i < s->nparts; i++) {
                if (s->parts[i].topic == t && s->parts[i].partition == partition) {
                        /* Keep the order of the rest (responses follow it). */
                        memmove(&s->parts[i], &s->parts[i + 1],
                                (size_t)(s->nparts - i - 1) * sizeof(*s->parts));
                        s->nparts--;
                        return;
                }
        }
}

bool sl_fsess_part_changed(sl_fsess_part *p, bool has_records, int16_t error, int64_t hw,
                           int64_t log_start)
{
        bool changed = has_records || error != 0 || hw != p->sent_hw ||
                       (log_start >= 0 && log_start != p->sent_start);
        p->sent_hw = hw;
        if (log_start >= 0)
                p->sent_start = log_start;
        return changed;
}

void sl_fsess_rotate(sl_fsess *s, const bool *moved, sl_fsess_part *scratch)
{
        int32_t n = 0;
        for (int32_t i = 0; i < s->nparts; i++)
                if (!moved[i])
                        scratch[n++] = s->parts[i];
        for (int32_t i = 0; i < s->nparts; i++)
                if (moved[i])
                        scratch[n++] = s->parts[i];
        memcpy(s->parts, scratch, (size_t)n * sizeof(*scratch));
}
