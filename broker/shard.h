/* broker/shard.h — shards (one pinned thread + reactor each) and cross-shard calls.
 *
 * A SerpentLog broker runs `cores` shards. Each owns a reactor, a SO_REUSEPORT
 * listener, the connections it accepted and the partitions that hash to it
 * (jump consistent hash of topic id + partition). Nothing mutable is shared:
 * work that belongs to another shard travels as an sl_xcall through a bounded
 * SPSC ring (broker/ring.h) and comes back the same way, so the memory an
 * xcall points to is only ever freed by the shard that allocated it.
 *
 * Handler usage (e.g. Produce spanning partitions on shards 1 and 3):
 *     sl_gather_init(&ctx->g, produce_gathered, ctx);
 *     for each owner shard s: ctx->x[s].run = append_on_owner;
 *                             ctx->x[s].arg = &ctx->part_views[s];
 *                             sl_gather_call(&ctx->g, s, &ctx->x[s]);
 *     sl_gather_arm(&ctx->g);      // produce_gathered() runs on this shard
 * and on the owner:  append_on_owner(x) { ...append...; sl_xcall_reply(x); }
 * (or later, e.g. after the group-commit fdatasync, see sl_shard_sync_wait). */
#ifndef SL_SHARD_H
#define SL_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

typedef uint32_t sl_shard_id;
typedef struct sl_shard sl_shard;
typedef struct sl_reactor sl_reactor;
typedef struct sl_config sl_config;
typedef struct sl_xcall sl_xcall;
typedef struct sl_gather sl_gather;
typedef void sl_xcall_fn(sl_xcall *x);

/* One cross-shard call. The caller owns the memory (embed it in a request's
 * context or arena); it must stay valid until `done` has run. The target may
 * read and write what `arg` points to until it calls sl_xcall_reply(). */
struct sl_xcall {
        sl_xcall_fn *run;  /* on the target shard; must end in sl_xcall_reply() */
        sl_xcall_fn *done; /* on the origin shard once replied (NULL: nothing) */
        void *arg;         /* caller's payload */
        int result;        /* for run to fill: 0, -errno, a Kafka code... */
        /* internal: set by sl_shard_call / sl_gather_call */
        sl_shard_id origin;
        sl_shard_id target;
        uint8_t phase; /* 0 call, 1 reply, 2 offload */
        sl_gather *gather;
        sl_xcall *next; /* FIFO link while waiting for ring room */
};

/* Sends x->run to shard `target` (may be the calling shard: then it runs from
 * this shard's loop, never re-entrantly). Never fails: if the ring is full the
 * xcall waits in a FIFO on the calling shard (no allocation, it is the
 * caller's memory) and the shard stops reading sockets until it drains —
 * that is the backpressure. Order between two shards is FIFO. */
void sl_shard_call(sl_shard_id target, sl_xcall *x);

/* Called on the target shard when the work of x is finished (from run or
 * later); sends x home, where x->done runs. */
void sl_xcall_reply(sl_xcall *x);

/* Scatter/gather: several xcalls whose completions are counted; `done` runs
 * once on the origin shard after the last reply (and after sl_gather_arm). */
struct sl_gather {
        void (*done)(sl_gather *g);
        void *arg;
        int pending; /* xcalls sent and not yet back */
        bool armed;
};
void sl_gather_init(sl_gather *g, void (*done)(sl_gather *g), void *arg);
void sl_gather_call(sl_gather *g, sl_shard_id target, sl_xcall *x);
void sl_gather_arm(sl_gather *g);

/* Runs x->run on this shard's I/O helper thread (blocking disk work: mkdir,
 * fsync of metadata files, opening logs); x->done then runs back on this
 * shard. run must not touch shard state and must not call sl_xcall_reply. */
void sl_shard_offload(sl_xcall *x);

/* The shard running on this thread (NULL on other threads). */
sl_shard *sl_shard_self(void);
sl_shard_id sl_shard_index(const sl_shard *s);
uint32_t sl_shard_count(void);
sl_reactor *sl_shard_reactor(sl_shard *s);
const sl_config *sl_shard_config(void);
/* True while this shard has xcalls waiting for ring room: connections must not
 * read more requests. */
bool sl_shard_backpressured(const sl_shard *s);

/* Shutdown barrier (server.c). On a shard thread that takes no new work any
 * more (listener and connections closed, its timers stopped): keeps answering
 * calls and collecting replies and I/O completions until the main thread
 * releases every shard at once, which it does when no call is in flight to or
 * from any shard and none can start again (see shard.c). */
void sl_shard_quiesce(sl_shard *s);
/* Main thread: waits until shards [0, n) are quiescent, for at most
 * timeout_ms (then each shard logs what it still waits for), and releases
 * them from sl_shard_quiesce. True when they were quiescent. */
bool sl_shards_quiesce(uint32_t n, int64_t timeout_ms);

/* Owner shard of a partition: jump consistent hash of the topic id and index. */
sl_shard_id sl_shard_for_partition(kp_uuid topic_id, int32_t partition);
/* The jump consistent hash itself (Lamping & Veach), exposed for tests. */
uint32_t sl_jump_hash(uint64_t key, uint32_t buckets);

#endif
