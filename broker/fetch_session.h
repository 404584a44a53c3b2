/* broker/fetch_session.h — KIP-227 incremental fetch sessions: a bounded
 * cache of sessions on each connection shard.
 *
 * A full fetch (epoch 0) creates a session holding the request's partitions
 * and their fetch state; later requests (epoch 1, 2, ...) carry only what
 * changed (new fetch offsets, added partitions, forgotten ones) and get back
 * only partitions with news (records, an error, a moved high watermark or log
 * start). Epoch -1 means no session; a session id with epoch 0 or -1 closes
 * that session first (Kafka's FetchManager.newContext). The cache is
 * per shard (a client reconnecting to another shard gets
 * FETCH_SESSION_ID_NOT_FOUND and starts over, which clients handle); session
 * ids carry the shard number in their low bits, so ids never collide across
 * shards. Pure data structure: no shard state, tested in
 * broker/tests/test_fetch_session.c. Allocates per session, never per
 * request once a session exists (unless it grows). */
#ifndef SL_FETCH_SESSION_H
#define SL_FETCH_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

#define SL_FSESS_EVICT_MS   120000 /* an idle session may be evicted for a new one */
#define SL_FSESS_SHARD_BITS 7      /* low bits of an id: the shard (<= 128 shards) */

/* One partition of a session: what the client asked for last, and what was
 * last sent (an incremental response includes the partition when it moves). */
typedef struct sl_fsess_part {
        int32_t topic; /* index into the session's topics */
        int32_t partition;
        int64_t fetch_offset;
        int32_t max_bytes;
        int32_t current_leader_epoch;
        int32_t last_fetched_epoch;
        int64_t sent_hw;    /* high watermark last sent, -1 = never */
        int64_t sent_start; /* log start offset last sent */
} sl_fsess_part;

typedef struct sl_fsess_topic {
        kp_uuid id;
        char *name; /* NUL-terminated copy (responses before v13 need it) */
        int32_t name_len;
} sl_fsess_topic;

typedef struct sl_fsess {
        int32_t id;
        int32_t epoch;        /* epoch the next request must carry */
        int64_t last_used_ms; /* for eviction */
        sl_fsess_topic *topics;
        int32_t ntopics, topics_cap;
        sl_fsess_part *parts;
        int32_t nparts, parts_cap;
        struct sl_fsess *hash_next;
        struct sl_fsess *lru_prev, *lru_next; /* head = most recently used */
} sl_fsess;

typedef struct sl_fsess_cache {
        int32_t capacity; /* sessions kept at most */
        int32_t count;
        uint32_t shard; /* folded into ids */
        uint32_t seed;  /* id generator state */
        sl_fsess **buckets;
        uint32_t mask;
        sl_fsess *lru_head, *lru_tail;
} sl_fsess_cache;

/* How a request relates to sessions. */
enum {
        SL_FSESS_NONE = 0,        /* sessionless full fetch (answer session id 0) */
        SL_FSESS_FULL = 1,        /* full fetch that created *out (answer its id) */
        SL_FSESS_INCREMENTAL = 2, /* incremental fetch on *out */
};

int sl_fsess_cache_init(sl_fsess_cache *c, int32_t capacity, uint32_t shard, uint32_t seed);
void sl_fsess_cache_free(sl_fsess_cache *c);

/* Applies a request's (session_id, epoch). For epoch 0 a session is created
 * with `nparts_hint` room when the cache has a free or evictable slot (else
 * SL_FSESS_NONE). Returns 0 with *kind and *out (NULL unless a session), or
 * FETCH_SESSION_ID_NOT_FOUND / INVALID_FETCH_SESSION_EPOCH. An incremental
 * request advances the session's epoch. */
int16_t sl_fsess_begin(sl_fsess_cache *c, int32_t session_id, int32_t epoch, int32_t nparts_hint,
                       int64_t now_ms, int *kind, sl_fsess **out);

/* The session's partition for (topic id, partition), added if absent (with
 * the topic's name copied the first time). NULL when out of memory. */
sl_fsess_part *sl_fsess_upsert(sl_fsess *s, kp_uuid topic_id, kp_str name, int32_t partition);
/* Drops a partition (forgotten topics). */
void sl_fsess_forget(sl_fsess *s, kp_uuid topic_id, int32_t partition);
/* Lookup by name (requests before v13 name topics). */
int32_t sl_fsess_topic_by_name(const sl_fsess *s, kp_str name);

/* The session with this id, or NULL (e.g. evicted while a fetch waited). */
sl_fsess *sl_fsess_find(sl_fsess_cache *c, int32_t id);
/* Removes and frees a session. */
void sl_fsess_remove(sl_fsess_cache *c, sl_fsess *s);

/* Incremental responses: true when the partition must be sent (records, an
 * error, or a high watermark / log start that changed since last sent);
 * records what is sent. Full responses call it too, to record. */
bool sl_fsess_part_changed(sl_fsess_part *p, bool has_records, int16_t error, int64_t hw,
                           int64_t log_start);

/* Fairness (as Kafka's incremental sessions do): moves the partitions marked
 * in `moved` (s->nparts flags) to the end, keeping relative order, so that a
 * partition cut by max_bytes comes first next time. scratch holds
 * s->nparts parts. */
void sl_fsess_rotate(sl_fsess *s, const bool *moved, sl_fsess_part *scratch);

#endif
