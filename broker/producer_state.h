/* broker/producer_state.h — idempotent producers: per-partition producer state
 * (Kafka's ProducerStateManager) and the hooks of the Produce append path.
 *
 * For every producer id that appended to a partition, the state keeps its
 * epoch and its last five batches (first/last sequence, first/last offset,
 * timestamp). Before a batch with producerId >= 0 is appended on the owner
 * shard, sl_producer_state_check() says whether it is a duplicate of one of
 * those five (answer with the original offsets, do not append), out of order
 * (OUT_OF_ORDER_SEQUENCE_NUMBER), from a fenced epoch (INVALID_PRODUCER_EPOCH)
 * or fine; after the append sl_producer_state_update() records it. Rules:
 * ENCODING §3.8 item 11, as Kafka 3.x (KIP-360: an unknown producer may start
 * at any sequence, so UNKNOWN_PRODUCER_ID is never answered).
 *
 * Owner: the partition's owner shard (state is never shared). The state is
 * rebuilt from the stored batch headers the first time a partition sees an
 * idempotent batch after the broker started (producer_partition.c), on the
 * shard's I/O helper thread while that partition's produces wait. */
#ifndef SL_PRODUCER_STATE_H
#define SL_PRODUCER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define SL_PRODUCER_BATCHES 5 /* batches remembered per producer (Kafka's window) */
#define SL_PRODUCER_EXPIRATION_MS                                                                  \
        86400000LL /* producer.id.expiration.ms default: state of idle producers is dropped */

/* The producer fields of one v2 record batch header (ENCODING §3.1). */
typedef struct sl_producer_batch_info {
        int64_t producer_id; /* < 0: not idempotent, nothing to check */
        int16_t epoch;
        int32_t first_seq;
        int32_t last_seq; /* first_seq + lastOffsetDelta, wrapping at INT32_MAX */
        int64_t base_offset;
        int64_t last_offset; /* base_offset + lastOffsetDelta */
        int64_t max_timestamp;
        bool transactional;
} sl_producer_batch_info;

/* Reads the header of the batch at hdr (len >= 61 bytes). 0, or -1 when too
 * short or not magic 2. */
int sl_producer_batch_parse(const uint8_t *hdr, size_t len, sl_producer_batch_info *out);

/* Sequence arithmetic: seq + delta modulo 2^31 (Kafka's incrementSequence). */
int32_t sl_producer_seq_add(int32_t seq, int32_t delta);

/* One remembered batch. */
typedef struct sl_producer_batch {
        int32_t first_seq;
        int32_t last_seq;
        int64_t first_offset;
        int64_t last_offset;
        int64_t timestamp; /* the batch's maxTimestamp as stored */
} sl_producer_batch;

/* One producer's entry. Batches are a ring: the newest is at
 * batches[(head + n - 1) % SL_PRODUCER_BATCHES]. */
typedef struct sl_producer_entry {
        int64_t producer_id;
        int16_t epoch;
        uint8_t head; /* oldest batch */
        uint8_t n;    /* batches remembered, <= SL_PRODUCER_BATCHES */
        sl_producer_batch batches[SL_PRODUCER_BATCHES];
        int64_t last_update_ms; /* wall clock of the last append (expiry) */
} sl_producer_entry;

/* A partition's producers: an open-addressing hash table by producer id. */
typedef struct sl_producer_state sl_producer_state;

/* Allocates an empty state; NULL when out of memory. */
sl_producer_state *sl_producer_state_new(void);
void sl_producer_state_free(sl_producer_state *ps);

/* The entry of a producer id, or NULL. */
const sl_producer_entry *sl_producer_state_find(const sl_producer_state *ps, int64_t producer_id);
/* Newest batch of an entry (n > 0). */
const sl_producer_batch *sl_producer_entry_last(const sl_producer_entry *e);

/* Validates an idempotent batch about to be appended (bi->producer_id >= 0).
 * Returns 0 and *dup = NULL: append it; 0 and *dup set: a duplicate of that
 * remembered batch (answer its offsets, do not append); or a Kafka error code
 * (INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER). Pure. */
int16_t sl_producer_state_check(const sl_producer_state *ps, const sl_producer_batch_info *bi,
                                const sl_producer_batch **dup);

/* Records an appended batch (bi with its assigned offsets), without checks:
 * used after a checked append and when rebuilding from the log. A new epoch
 * forgets the old epoch's batches. 0, or -ENOMEM (a new producer only). */
int sl_producer_state_update(sl_producer_state *ps, const sl_producer_batch_info *bi,
                             int64_t now_ms);

/* Drops producers idle for longer than expiration_ms (whose last append was
 * before now_ms - expiration_ms). Returns how many were dropped. */
int sl_producer_state_expire(sl_producer_state *ps, int64_t now_ms, int64_t expiration_ms);

/* Drops producers whose newest batch ends below log_start_offset (their
 * batches were deleted: DeleteRecords, retention), as Kafka's truncateHead.
 * Returns how many were dropped. */
int sl_producer_state_truncate_head(sl_producer_state *ps, int64_t log_start_offset);

/* Number of producers and the i-th (0 <= i < count, table order, stable
 * while the state is not modified). */
int32_t sl_producer_state_count(const sl_producer_state *ps);
void sl_producer_state_each(const sl_producer_state *ps,
                            void (*fn)(const sl_producer_entry *e, void *arg), void *arg);

/* Rebuilds ps from the batch headers of log between its start and end offset
 * (only the 61-byte headers are read: one pread each). 0 or <0 (SL_E*,
 * -errno). Allocates. */
int sl_producer_state_load(sl_producer_state *ps, sl_log *log, int64_t now_ms);

/* ---- Produce append path hooks (producer_partition.c; owner shard) ---- */

struct sl_partition;
struct sl_append_result;

/* What sl_producer_before_append decided, for sl_producer_after_append. */
typedef struct sl_producer_append {
        sl_producer_state *ps; /* NULL: nothing to record */
        sl_producer_batch_info bi;
        int64_t now_ms;
} sl_producer_append;

/* Before appending one batch (records, len) to p: returns true when it must
 * be appended; false when res is already the answer (a duplicate with its
 * original offsets and error_code 0, or an error code). Non-idempotent
 * batches return true at once. */
bool sl_producer_before_append(struct sl_partition *p, const uint8_t *records, size_t len,
                               int64_t now_ms, sl_producer_append *pa,
                               struct sl_append_result *res);
/* After the append (records rewritten with offsets): records the batch if the
 * append succeeded. */
void sl_producer_after_append(sl_producer_append *pa, const uint8_t *records, size_t len,
                              const struct sl_append_result *res);

/* The state of p on this (owner) shard; NULL with err set when out of memory,
 * when the log cannot be read, or (-EAGAIN) while its rebuild runs on the
 * shard's I/O helper (started here if needed: never scanned on the reactor).
 * DescribeProducers, and the append hooks once sl_producer_park said go. */
sl_producer_state *sl_producer_state_of(struct sl_partition *p, int64_t now_ms, int *err);

/* A produce item waiting for its partition's producer state (owner shard). */
typedef struct sl_producer_waiter {
        void (*cb)(struct sl_producer_waiter *w, int err);
        void *arg;
        struct sl_producer_waiter *next;
} sl_producer_waiter;

/* Owner shard, before sl_producer_before_append. Returns true when the item
 * must wait: p's producer state is being rebuilt (then every produce to p
 * waits, idempotent or not, so appends keep their arrival order), or the
 * batch is idempotent, p has no state yet and its rebuild has just started on
 * the shard's I/O helper (the rest of the shard keeps serving). w->cb runs
 * later on this shard, waiters in arrival order, when the rebuild ended: err 0
 * (state ready: go on with the item), -ECANCELED (the partition closed
 * meanwhile: look it up again) or another error (the log could not be read).
 * False: go on now (state ready, not needed, or a rebuild that could not
 * start: sl_producer_before_append then reports it). */
bool sl_producer_park(struct sl_partition *p, const uint8_t *records, size_t len, int64_t now_ms,
                      sl_producer_waiter *w);

/* Test hooks: microseconds the rebuild scan sleeps per batch header, the
 * thread id (gettid) that last ran a rebuild scan, and the bytes of batches
 * one helper round of a rebuild walks (32 MiB). */
extern _Atomic int sl_producer_load_delay_us;
extern _Atomic int sl_producer_load_tid;
extern _Atomic long sl_producer_load_round_bytes;

#endif
