/* broker/partition_ops.h — the data path's owner-shard operations and the
 * fan-out that gets a request's partitions to them.
 *
 * Produce, Fetch, ListOffsets and OffsetForLeaderEpoch run on the connection's
 * shard; every partition they touch lives on its owner shard (shard.h). A
 * handler lists its partitions as items, sl_fanout_plan() groups them by owner
 * (one xcall per owner shard, arrays from the request arena, no malloc), the
 * owner works on its group (append, read ranges, offsets) and replies, and the
 * handler's done callback runs back on the connection's shard once every group
 * has answered. Fetch long polls register "watches" on the owners that an
 * append wakes (fetch_owner.c). Private to broker/. */
#ifndef SL_PARTITION_OPS_H
#define SL_PARTITION_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "log.h"
#include "producer_state.h"
#include "request.h"
#include "shard.h"
#include "topics.h"
#include "wire.h"

#define SL_FANOUT_SKIP UINT32_MAX /* owners[i] for an item answered locally */

typedef struct sl_fanout sl_fanout;

/* One owner shard's share of a request. */
typedef struct sl_fanout_group {
        sl_xcall x;        /* runs on `owner`; x.arg points back here */
        sl_fanout *f;      /* the fan-out it belongs to */
        sl_shard_id owner; /* shard that owns these items' partitions */
        int32_t *items;    /* indexes into the handler's item array */
        int32_t n;         /* entries in items */
        int32_t pending;   /* owner side: outstanding syncs before the reply */
        void *scratch;     /* owner side: per-operation state */
} sl_fanout_group;

struct sl_fanout {
        sl_gather g;
        sl_fanout_group *groups; /* one per owner shard with items */
        int32_t ngroups;
        void (*done)(sl_fanout *f); /* origin shard, after every group replied */
        void *ctx;                  /* the handler's context */
};

/* Groups n items by owner shard (owners[i] < nshards, or SL_FANOUT_SKIP).
 * Pure: no shard state; memory from a. Returns 0 or -1 when out of memory.
 * Items keep their relative order within a group. */
int sl_fanout_plan(sl_fanout *f, kp_arena *a, const sl_shard_id *owners, int32_t n,
                   uint32_t nshards);
/* Sends every group's xcall (run on the owner, which must end each group with
 * sl_xcall_reply(&grp->x)), then done(f) runs on this shard after the last
 * reply — immediately (synchronously) if there are no groups. */
void sl_fanout_start(sl_fanout *f, sl_xcall_fn *run, void (*done)(sl_fanout *f), void *ctx);

/* Wall-clock milliseconds (timestamps on the wire). */
int64_t sl_wall_ms(void);

/* The calling shard's decompression context (records capped at 64 MiB
 * after decompression) and a reusable byte buffer of at least n bytes; both
 * grow once and are freed when the shard thread exits. NULL when out of
 * memory. */
struct kp_codec_ctx *sl_dp_codec_ctx(void);
uint8_t *sl_dp_scratch(size_t n);

/* Leader-epoch fencing of a client's current_leader_epoch (-1 = unchecked):
 * FENCED_LEADER_EPOCH when older than ours, UNKNOWN_LEADER_EPOCH when newer. */
int16_t sl_leader_epoch_check(const sl_partition *p, int32_t current_leader_epoch);
/* The partition a read may use (it exists here, the epoch check passes, its
 * log is not latched failed), or NULL with the Kafka error for its slot. */
sl_partition *sl_partition_readable(kp_uuid topic_id, int32_t partition,
                                    int32_t current_leader_epoch, int16_t *error_code);

/* ---- Produce: one partition's batch (validated on the connection shard) ---- */
typedef struct sl_produce_item {
        kp_uuid topic_id;
        int32_t partition;
        uint8_t *records; /* one batch, in the request frame (rewritten in place) */
        size_t len;       /* its size */
        bool wait_sync;   /* acks=-1: reply after the group commit covering it */
        /* out */
        int16_t error_code;       /* Kafka code */
        int64_t base_offset;      /* first offset, -1 on error */
        int64_t log_append_time;  /* LogAppendTime topics, else -1 */
        int64_t log_start_offset; /* after the append */
        /* owner-side */
        sl_sync_waiter w;
        sl_producer_waiter pw; /* parked while the partition's producer state loads */
        sl_fanout_group *grp;
} sl_produce_item;

/* Owner side of Produce: run for sl_fanout_start with ctx = sl_produce_item[]
 * (f->ctx must point at a struct whose first member is that array pointer:
 * use sl_produce_fanout_ctx). Appends, wakes fetch watchers, waits for syncs. */
typedef struct sl_produce_fanout_ctx {
        sl_produce_item *items;
} sl_produce_fanout_ctx;
void sl_produce_on_owner(sl_xcall *x);

/* ---- Fetch: read ranges of one partition ---- */
#define SL_FETCH_MAX_RANGES 4 /* segments one partition's read may span */
typedef struct sl_fetch_item {
        kp_uuid topic_id;
        int32_t partition;
        int64_t fetch_offset;
        int32_t max_bytes;            /* partition_max_bytes */
        int32_t current_leader_epoch; /* -1 = unchecked */
        int32_t last_fetched_epoch;   /* -1 = none (v12+ divergence check) */
        /* out (owner) */
        int16_t error_code;
        int64_t high_watermark;
        int64_t log_start_offset;
        bool diverged;                /* KIP-320 check failed: no records */
        int32_t diverging_epoch;      /* where that epoch ends here (-1: unknown) */
        int64_t diverging_end_offset; /* -1 when unknown */
        sl_file_range ranges[SL_FETCH_MAX_RANGES];
        int32_t nranges;
        int64_t bytes;             /* sum of range lengths */
        struct sl_partition *part; /* whose segments the ranges pin */
        /* watch (fetch_owner.c), owner side while registered */
        struct sl_fetch_item *w_next, *w_prev;
        sl_fanout_group *w_grp;
        bool w_linked;
} sl_fetch_item;

typedef struct sl_fetch_fanout_ctx {
        sl_fetch_item *items;
} sl_fetch_fanout_ctx;
/* Owner side of a Fetch read: fills out fields, pins ranges. */
void sl_fetch_read_on_owner(sl_xcall *x);

/* Unpins one fetch item's ranges from any shard. Sends a pooled message to
 * the owner (no malloc in steady state); the item may be freed right after. */
void sl_fetch_release(sl_shard_id owner, sl_fetch_item *it);

/* ---- Long-poll watches (fetch_owner.c) ----
 * A watch group's xcall (run = sl_fetch_watch_on_owner) releases the group's
 * pins, then stays with the owner until an append reaches one of its
 * partitions past the high watermark seen in the read, or until cancelled by
 * sl_fetch_watch_cancel (cancel xcall sent to the same owner: its reply always
 * follows the watch's). */
void sl_fetch_watch_on_owner(sl_xcall *x);
void sl_fetch_watch_cancel_on_owner(sl_xcall *x); /* x->arg = the watch group */
/* Called on the owner after an append to (topic_id, partition): wakes watches. */
void sl_fetch_notify(kp_uuid topic_id, int32_t partition);

/* ---- Long polls, connection-shard side (fetch_wait.c) ----
 * Parks one watch per owner group of `plan` (a finished read fan-out over
 * items); the read's pins move into the wait. While attached, every watch
 * that comes home moves its fresh read (pins included) into items[] and
 * calls woken(): returning true means the fetch has answered, and the wait
 * detaches (never touching items again) and cleans up on its own. Otherwise
 * (and after sl_fetch_wait_cancel) over() runs once every watch is home,
 * with items holding fresh reads. NULL when out of memory (items untouched). */
typedef struct sl_fetch_wait sl_fetch_wait;
typedef struct sl_fetch_wait_cb {
        bool (*woken)(void *ctx);
        void (*over)(void *ctx);
        void *ctx;
} sl_fetch_wait_cb;
sl_fetch_wait *sl_fetch_wait_start(sl_fetch_item *items, int32_t nitems, const sl_fanout *plan,
                                   sl_fetch_wait_cb cb);
/* Ends the wait early (the fetch's timer): over() follows. */
void sl_fetch_wait_cancel(sl_fetch_wait *w);

/* ---- ListOffsets / OffsetForLeaderEpoch ---- */
typedef struct sl_offsets_item {
        kp_uuid topic_id;
        int32_t partition;
        int64_t timestamp;            /* ListOffsets: -1 latest, -2 earliest, ... */
        int32_t current_leader_epoch; /* -1 = unchecked */
        int32_t leader_epoch;         /* OffsetForLeaderEpoch: the requested epoch */
        bool read_committed;          /* ListOffsets isolation level 1 */
        /* out */
        int16_t error_code;
        int64_t offset;
        int64_t found_timestamp;
        int32_t found_epoch;
} sl_offsets_item;

typedef struct sl_offsets_fanout_ctx {
        sl_offsets_item *items;
} sl_offsets_fanout_ctx;
void sl_list_offsets_on_owner(sl_xcall *x);
void sl_epoch_end_on_owner(sl_xcall *x);

/* ---- Group commit batches (partition.c; partition_sync.c runs them) ----
 * Up to SL_COMMIT_SLOTS batches per shard are in flight at once: a batch
 * may start while the previous one is still in fdatasync, so a produce that
 * arrives meanwhile does not wait for that sync and then for its own. Each
 * batch holds at most one job per log; two jobs of one log may overlap. A
 * later job's success covers everything appended before it was prepared,
 * but batches are completed strictly in the order they started: on one file
 * descriptor a writeback error is reported to only one of the overlapping
 * fdatasyncs, so a later job's success is believed only after every earlier
 * job of the log succeeded (an earlier failure latches the log first, and
 * the later completion then fails too).
 * A batch whose jobs carry page-cache work (write-behind, drop-behind) runs
 * in two steps: the fdatasyncs, then the page-cache calls. Its helper posts
 * the first step's completion on its own, so the batch's waiters are
 * answered without waiting for the page-cache work; the page-cache step also
 * completes before any later batch (it may take a writeback error too). */
#define SL_COMMIT_SLOTS 2
typedef struct sl_commit_entry {
        sl_partition *p;
        sl_sync_job job;
        int rc;                      /* sl_sync_job_run_durable's result */
        int cache_rc;                /* sl_sync_job_run_cache's result */
        struct sl_sync_waiter *busy; /* answered when the durable step completes */
} sl_commit_entry;
typedef struct sl_commit_slot {
        sl_xcall x;         /* the whole batch; x.arg: this slot */
        sl_xcall x_durable; /* its fdatasync step, posted early (two-step batches) */
        struct sl_commit *c;
        sl_commit_entry *e;
        uint32_t n, cap;
        uint64_t seq;       /* start order */
        bool two_step;      /* some job carries page-cache work */
        bool running;       /* started, not yet completed on the shard */
        bool durable_done;  /* the helper finished the fdatasyncs */
        bool durable_taken; /* the shard completed them (waiters answered) */
        bool finished;      /* the helper is done with the whole batch */
} sl_commit_slot;
typedef struct sl_commit {
        sl_shard *s;
        uint64_t next_seq;
        sl_commit_slot slot[SL_COMMIT_SLOTS];
} sl_commit;
/* Runs one step of the prepared jobs of e[0..n) concurrently (jbd2 folds
 * concurrent fdatasyncs into one journal commit): the fdatasyncs (results in
 * e->rc), or with cache the page-cache calls (e->cache_rc). Helper threads
 * only: blocks in fdatasync. Workers are named sl-sync<shard>. */
void sl_commit_entries_run(sl_commit_entry *e, uint32_t n, uint32_t shard, bool cache);
/* A slot free for a new batch, or NULL when all are in flight. */
sl_commit_slot *sl_commit_free_slot(sl_commit *c);
/* What the shard may complete next, or NULL: always a step of the oldest
 * batch in flight (a newer batch whose helper finished first waits). Its
 * durable step once the helper finished the fdatasyncs (*cache = false; the
 * caller then sets durable_taken), else its page-cache step once the helper
 * finished the batch (*cache = true; the caller then frees the slot). */
sl_commit_slot *sl_commit_next_step(sl_commit *c, bool *cache);
/* After an append (owner shard): when the log's write-behind / drop-behind
 * work is due (storage/log.h, sl_log_cache_due), the partition joins the next
 * group commit batch, which runs that work on the I/O helper even when no
 * producer waits for durability (acks=0/1). */
void sl_partition_cache_kick(sl_partition *p);

/* Kafka's reading of special ListOffsets timestamps. */
#define SL_TS_LATEST         (-1)
#define SL_TS_EARLIEST       (-2)
#define SL_TS_MAX            (-3)
#define SL_TS_EARLIEST_LOCAL (-4)
#define SL_TS_LATEST_TIERED  (-5)

#endif
