/* broker/producer_state.c — the idempotent producer state machine of one
 * partition (Kafka's ProducerStateManager / ProducerAppendInfo, without
 * transactions): a hash table producer id → epoch + last five batches, the
 * duplicate / sequence / epoch checks made before an append, and the update
 * made after it (or while rebuilding from the log).
 *
 * Pure: no shard, log or clock access; the owner shard calls it from the
 * Produce append path (producer_partition.c). Open addressing with linear
 * probing and backward-shift deletion; entries are stored inline, so an
 * append by a known producer allocates nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_errors.h"
#include "producer_state.h"

#define EMPTY_ID (-1)

struct sl_producer_state {
        sl_producer_entry *slots; /* producer_id == EMPTY_ID: free */
        uint32_t mask;            /* capacity - 1 (power of two) */
        uint32_t count;
};

static inline int64_t be64(const uint8_t *p)
{
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return (int64_t)v;
}
static inline int32_t be32(const uint8_t *p)
{
        return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}
static inline int16_t be16(const uint8_t *p)
{
        return (int16_t)((uint16_t)p[0] << 8 | p[1]);
}

int32_t sl_producer_seq_add(int32_t seq, int32_t delta)
{
        if (seq > INT32_MAX - delta)
                return delta - (INT32_MAX - seq) - 1;
        return seq + delta;
}

int sl_producer_batch_parse(const uint8_t *h, size_t len, sl_producer_batch_info *out)
{
        if (len < 61 || h[16] != 2)
                return -1;
        int32_t last_delta = be32(h + 23);
        if (last_delta < 0)
                return -1;
        out->base_offset = be64(h);
        out->last_offset = out->base_offset + last_delta;
        out->max_timestamp = be64(h + 35);
        out->producer_id = be64(h + 43);
        out->epoch = be16(h + 51);
        out->first_seq = be32(h + 53);
        out->last_seq = out->first_seq >= 0 ? sl_producer_seq_add(out->first_seq, last_delta) : -1;
        out->transactional = (be16(h + 21) & 0x10) != 0;
        return 0;
}

/* ---- table ---- */

static uint32_t hash_id(int64_t id)
{
        uint64_t x = (uint64_t)id * 0x9E3779B97F4A7C15ull;
        return (uint32_t)(x >> 32);
}

static sl_producer_entry *slots_new(uint32_t cap)
{
        sl_producer_entry *s = malloc((size_t)cap * sizeof(*s));
        if (!s)
                return NULL;
        for (uint32_t i = 0; i < cap; i++)
                s[i].producer_id = EMPTY_ID;
        return s;
}

sl_producer_state *sl_producer_state_new(void)
{
        sl_producer_state *ps = calloc(1, sizeof(*ps));
        if (!ps)
                return NULL;
        ps->slots = slots_new(8);
        if (!ps->slots) {
                free(ps);
                return NULL;
        }
        ps->mask = 7;
        return ps;
}

void sl_producer_state_free(sl_producer_state *ps)
{
        if (!ps)
                return;
        free(ps->slots);
        free(ps);
}

static sl_producer_entry *find_slot(const sl_producer_state *ps, int64_t id)
{
        for (uint32_t i = hash_id(id) & ps->mask;; i = (i + 1) & ps->mask) {
                sl_producer_entry *e = &ps->slots[i];
                if (e->producer_id == id)
                        return e;
                if (e->producer_id == EMPTY_ID)
                        return NULL;
        }
}

const sl_producer_entry *sl_producer_state_find(const sl_producer_state *ps, int64_t producer_id)
{
        if (producer_id < 0)
                return NULL;
        return find_slot(ps, producer_id);
}

static int grow(sl_producer_state *ps)
{
        uint32_t cap = (ps->mask + 1) * 2;
        sl_producer_entry *ns = slots_new(cap);
        if (!ns)
                return -ENOMEM;
        for (uint32_t i = 0; i <= ps->mask; i++) {
                sl_producer_entry *e = &ps->slots[i];
                if (e->producer_id == EMPTY_ID)
                        continue;
                uint32_t k = hash_id(e->producer_id) & (cap - 1);
                while (ns[k].producer_id != EMPTY_ID)
                        k = (k + 1) & (cap - 1);
                ns[k] = *e;
        }
        free(ps->slots);
        ps->slots = ns;
        ps->mask = cap - 1;
        return 0;
}

/* A new empty entry for id (not present). NULL when out of memory. */
static sl_producer_entry *insert(sl_producer_state *ps, int64_t id)
{
        if ((ps->count + 1) * 10 > (ps->mask + 1) * 7 && grow(ps) < 0)
                return NULL;
        uint32_t i = hash_id(id) & ps->mask;
        while (ps->slots[i].producer_id != EMPTY_ID)
                i = (i + 1) & ps->mask;
        sl_producer_entry *e = &ps->slots[i];
        memset(e, 0, sizeof(*e));
        e->producer_id = id;
        e->epoch = -1;
        ps->count++;
        return e;
}

/* Removes slot i, shifting back the run that follows it. */
static void remove_at(sl_producer_state *ps, uint32_t i)
{
        uint32_t j = i;
        for (;;) {
                ps->slots[i].producer_id = EMPTY_ID;
                for (;;) {
                        j = (j + 1) & ps->mask;
                        if (ps->slots[j].producer_id == EMPTY_ID) {
                                ps->count--;
                                return;
                        }
                        uint32_t home = hash_id(ps->slots[j].producer_id) & ps->mask;
                        /* j's entry may move to i unless home lies cyclically in (i, j]. */
                        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
                        if (!stays)
                                break;
                }
                ps->slots[i] = ps->slots[j];
                i = j;
        }
}

/* ---- the state machine ---- */

const sl_producer_batch *sl_producer_entry_last(const sl_producer_entry *e)
{
        return &e->batches[(e->head + e->n - 1) % SL_PRODUCER_BATCHES];
}

/* Kafka's inSequence: next follows last, wrapping from INT32_MAX to 0. */
static bool in_sequence(int32_t last_seq, int32_t next_seq)
{
        return (int64_t)next_seq == (int64_t)last_seq + 1 ||
               (next_seq == 0 && last_seq == INT32_MAX);
}

int16_t sl_producer_state_check(const sl_producer_state *ps, const sl_producer_batch_info *bi,
                                const sl_producer_batch **dup)
{
        *dup = NULL;
        const sl_producer_entry *e = sl_producer_state_find(ps, bi->producer_id);
        if (!e || e->epoch < 0)
                return 0; /* unknown producer: any sequence starts it (KIP-360) */
        /* A retry of one of the last five batches, same epoch: a duplicate. */
        if (bi->epoch == e->epoch) {
                for (int k = 0; k < e->n; k++) {
                        const sl_producer_batch *b =
                            &e->batches[(e->head + k) % SL_PRODUCER_BATCHES];
                        if (b->first_seq == bi->first_seq && b->last_seq == bi->last_seq) {
                                *dup = b;
                                return 0;
                        }
                }
        }
        if (bi->epoch < e->epoch)
                return KP_ERR_INVALID_PRODUCER_EPOCH; /* Kafka >= 2.7 for Produce */
        if (bi->epoch != e->epoch)
                return bi->first_seq == 0 ? 0 : KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        if (e->n == 0)
                return 0;
        if (!in_sequence(sl_producer_entry_last(e)->last_seq, bi->first_seq))
                return KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
        return 0;
}

int sl_producer_state_update(sl_producer_state *ps, const sl_producer_batch_info *bi,
                             int64_t now_ms)
{
        if (bi->producer_id < 0)
                return 0;
        sl_producer_entry *e = find_slot(ps, bi->producer_id);
        if (!e && !(e = insert(ps, bi->producer_id)))
                return -ENOMEM;
        if (bi->epoch != e->epoch) {
                e->epoch = bi->epoch;
                e->head = 0;
                e->n = 0;
        }
        if (e->n == SL_PRODUCER_BATCHES) {
                e->head = (uint8_t)((e->head + 1) % SL_PRODUCER_BATCHES);
                e->n--;
        }
        e->batches[(e->head + e->n) % SL_PRODUCER_BATCHES] =
            (sl_producer_batch){.first_seq = bi->first_seq,
                                .last_seq = bi->last_seq,
                                .first_offset = bi->base_offset,
                                .last_offset = bi->last_offset,
                                .timestamp = bi->max_timestamp};
        e->n++;
        if (now_ms > e->last_update_ms)
                e->last_update_ms = now_ms;
        return 0;
}

int sl_producer_state_expire(sl_producer_state *ps, int64_t now_ms, int64_t expiration_ms)
{
        int dropped = 0;
        for (uint32_t i = 0; i <= ps->mask;) {
                sl_producer_entry *e = &ps->slots[i];
                if (e->producer_id != EMPTY_ID && e->last_update_ms < now_ms - expiration_ms) {
                        /* The shift may move an unvisited entry into i: look again. */
                        remove_at(ps, i);
                        dropped++;
                        continue;
                }
                i++;
        }
        return dropped;
}

int sl_producer_state_truncate_head(sl_producer_state *ps, int64_t log_start_offset)
{
        int dropped = 0;
        for (uint32_t i = 0; i <= ps->mask;) {
                sl_producer_entry *e = &ps->slots[i];
                if (e->producer_id != EMPTY_ID &&
                    (e->n == 0 || sl_producer_entry_last(e)->last_offset < log_start_offset)) {
                        remove_at(ps, i);
                        dropped++;
                        continue;
                }
                i++;
        }
        return dropped;
}

int32_t sl_producer_state_count(const sl_producer_state *ps)
{
        return (int32_t)ps->count;
}

void sl_producer_state_each(const sl_producer_state *ps,
                            void (*fn)(const sl_producer_entry *e, void *arg), void *arg)
{
        for (uint32_t i = 0; i <= ps->mask; i++)
                if (ps->slots[i].producer_id != EMPTY_ID)
                        fn(&ps->slots[i], arg);
}
