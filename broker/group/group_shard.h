/* broker/group/group_shard.h — how the group handlers reach the coordinator.
 *
 * A group lives on the shard that owns its __consumer_offsets partition
 * (sl_group_partition_for, then the usual partition → shard hash). A handler
 * fills an sl_group_fwd (in its request arena) and calls sl_group_forward():
 * on the connection's shard it checks that __consumer_offsets exists (if not,
 * its creation starts, as Kafka does, and the call is answered
 * COORDINATOR_NOT_AVAILABLE for the client to retry), then the op runs
 * on the owner shard's coordinator, which is built and replayed from the log
 * on the first call there; the op may finish later (JoinGroup waits for the
 * rebalance), and `done` runs back on the connection's shard, where the
 * handler encodes f->call.rs and calls sl_group_fwd_release(). Private to
 * broker/. */
#ifndef SL_GROUP_SHARD_H
#define SL_GROUP_SHARD_H

#include "group.h"
#include "reactor.h"
#include "request.h"
#include "shard.h"
#include "topics.h"

#define SL_OFFSETS_TOPIC "__consumer_offsets"

typedef struct sl_group_fwd sl_group_fwd;
typedef void sl_group_op_fn(sl_group_coord *gc, sl_group_call *c);

struct sl_group_fwd {
        sl_group_call call;            /* in: api_key..group_id, rq, rs; the op's arena */
        sl_group_op_fn *op;            /* runs on the owner shard; NULL: every shard (ListGroups) */
        void (*done)(sl_group_fwd *f); /* connection shard, once */
        sl_request *req;
        void *ctx; /* handler's */
        /* internal */
        sl_xcall x;
        kp_uuid topic_id;
        int32_t partitions;
        int32_t partition;
        sl_shard_id owner;
        /* JoinGroup/SyncGroup may wait long: while they do, the connection's
         * shard checks its connection and the broker's phase, and withdraws
         * the call if the client died or the broker drains for shutdown */
        sl_timer watch;
        sl_xcall cancel_x;
        int16_t cancel_err;  /* answer of a withdrawn call */
        bool cancel_sent;    /* cancel_x went to the owner */
        bool cancel_pending; /* cancel_x not back yet: done waits for it */
        bool home;           /* x came back while cancel_x was out */
};

/* Sends f->op to the group's coordinator. If the coordinator cannot be
 * reached, f->op does not run and f->call.error holds COORDINATOR_NOT_AVAILABLE
 * (offsets topic creation failed, out of memory) or NOT_COORDINATOR (the
 * group's offsets partition is not open here); done runs in every case. */
void sl_group_forward(sl_request *req, sl_group_fwd *f);

/* ListGroups: runs sl_group_list on shard `target`'s coordinator as part of
 * gather g (the offsets topic must exist; f->done is not used). */
void sl_group_forward_shard(sl_group_fwd *f, sl_shard_id target, sl_gather *g);

/* 0 when __consumer_offsets exists; else starts creating it (once) and
 * returns COORDINATOR_NOT_AVAILABLE for the caller to answer (FindCoordinator). */
int16_t sl_group_ensure_topic(void);

/* Initialises f for req (header fields, client host, arena). */
void sl_group_fwd_init(sl_group_fwd *f, sl_request *req, kp_str group_id, const void *rq, void *rs);
/* Frees the coordinator-side memory of f (after encoding the response). */
void sl_group_fwd_release(sl_group_fwd *f);

/* A request naming several groups (DescribeGroups, ConsumerGroupDescribe,
 * DeleteGroups, OffsetFetch v8+): one result and one forward per group, each
 * forwarded to its own coordinator, the response finished when the last one
 * answers. The handler keeps what differs in sl_group_fanout_ops. */
typedef struct sl_group_fanout_item {
        kp_str group_id; /* checked with sl_group_id_check, then forwarded */
        const void *rq;  /* the forward's call.rq and call.rs */
        void *rs;
} sl_group_fanout_item;

typedef struct sl_group_fanout_ops {
        sl_group_op_fn *op;
        /* initialises result i (ids, field defaults) and fills *it */
        void (*init)(void *ctx, int32_t i, sl_group_fanout_item *it);
        /* result i failed: its group id was invalid, or the call answered error */
        void (*fail)(void *ctx, int32_t i, int16_t error);
        /* every group has answered: encode, sl_group_fanout_release, respond */
        void (*finish)(void *ctx);
} sl_group_fanout_ops;

typedef struct sl_group_fanout {
        const sl_group_fanout_ops *ops;
        void *ctx;
        sl_request *req;
        void *results; /* n results, in req's arena */
        sl_group_fwd *f;
        int32_t n;
        int32_t pending;
} sl_group_fanout;

/* Allocates n (clamped to 0) results of result_size bytes, and n forwards,
 * in req's arena; fo->results is NULL when n is 0. -1: out of memory. */
int sl_group_fanout_alloc(sl_group_fanout *fo, sl_request *req, int32_t n, size_t result_size);
/* Initialises and forwards each group; ops->finish runs once, possibly
 * before this returns (after it, fo may be freed with the request). */
void sl_group_fanout_run(sl_group_fanout *fo, const sl_group_fanout_ops *ops, void *ctx);
/* sl_group_fwd_release of every forward. */
void sl_group_fanout_release(sl_group_fanout *fo);

/* SL_REQUEST_RESPOND for the group handlers: encodes msg (which may point
 * into the forwards' arenas), runs RELEASE (sl_group_fwd_release of each
 * forward), then completes the request. In that order: completing may free
 * the request arena the handler context lives in at once (closed
 * connection), and the encoded body no longer needs the forwards' memory. */
#define SL_GROUP_RESPOND(req, TYPE, msg, RELEASE)                                                  \
        do {                                                                                       \
                sl_request *rq_ = (req);                                                           \
                kp_wr *w_ = sl_request_body(rq_, TYPE##_size((msg), rq_->api_version));            \
                if (w_)                                                                            \
                        TYPE##_encode(w_, rq_->api_version, (msg));                                \
                RELEASE;                                                                           \
                sl_request_respond(rq_);                                                           \
        } while (0)

/* Coordinator config from the broker config (group.max.size and
 * offsets.retention.minutes have no keys yet: Kafka's defaults). */
sl_group_cfg sl_group_cfg_from_broker(int32_t partitions);

#endif
