/* broker/group/group.h — the classic consumer-group coordinator and committed
 * offsets (JoinGroup/SyncGroup/Heartbeat/LeaveGroup state machine, OffsetCommit
 * and OffsetFetch, Describe/List/DeleteGroups, OffsetDelete).
 *
 * One sl_group_coord per shard holds the groups whose __consumer_offsets
 * partition (sl_group_partition_for) that shard owns; the broker glue
 * (group_shard.c) routes every request there. The coordinator knows nothing of
 * shards, sockets or files: time, the offsets log and durability come through
 * sl_group_env, so unit tests drive it with a fake clock and an in-memory log.
 * Requests and responses are the generated codec's structs; an operation may
 * finish later (a JoinGroup waits for the rebalance), always by calling
 * call->done exactly once on the coordinator's thread. */
#ifndef SL_GROUP_H
#define SL_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "gen/kp_messages.h"
#include "record_batch.h"
#include "wire.h"

typedef struct sl_group_coord sl_group_coord;
typedef struct sl_group_call sl_group_call;

#define SL_GROUP_ID_MAX          255     /* longer group ids: INVALID_GROUP_ID */
#define SL_GROUP_MEMBER_META_MAX 1048576 /* bytes of one member's protocol metadata */

/* Coordinator settings (Kafka's names). */
typedef struct sl_group_cfg {
        int32_t partitions;                 /* offsets.topic.num.partitions */
        int64_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
        int64_t min_session_timeout_ms;     /* group.min.session.timeout.ms */
        int64_t max_session_timeout_ms;     /* group.max.session.timeout.ms */
        int32_t max_size;                   /* group.max.size */
        int64_t offsets_retention_ms;       /* offsets.retention.minutes, in ms */
        int32_t offset_metadata_max;        /* offset.metadata.max.bytes */
        /* KIP-848 consumer groups; 0 (and no assignors) means Kafka's default */
        int32_t cg_heartbeat_interval_ms; /* group.consumer.heartbeat.interval.ms */
        int32_t cg_session_timeout_ms;    /* group.consumer.session.timeout.ms */
        int32_t cg_max_size;              /* group.consumer.max.size */
        int32_t cg_nassignors;            /* group.consumer.assignors, the first is the */
        uint8_t cg_assignors[2];          /* default: 0 uniform, 1 range */
} sl_group_cfg;

/* A durable append in flight: cb runs once the records are synced (err 0) or
 * failed (a Kafka error code). env_slot is the environment's room for its
 * own waiter (the broker keeps an sl_sync_waiter there). */
typedef struct sl_group_persist {
        void (*cb)(struct sl_group_persist *p, int16_t err);
        void *arg;
        void *env_slot[4];
} sl_group_persist;

/* What the coordinator needs from its host. */
typedef struct sl_group_env {
        int64_t (*now_ms)(void *arg);  /* monotonic ms: session/rebalance timers */
        int64_t (*wall_ms)(void *arg); /* wall clock: commit/state timestamps */
        /* Appends the records as one batch to offsets partition `partition`.
         * Returns 0 or a Kafka error (then p->cb never runs). With p, p->cb
         * runs once they are durable; without, durability is the log's
         * flush policy's business. */
        int16_t (*append)(void *arg, int32_t partition, const kp_record_in *recs, int32_t n,
                          sl_group_persist *p);
        void *arg;
        /* Topic metadata for server-side assignment (KIP-848); NULL: no
         * topics. By name: 0 and the id and partition count, or -1 unknown.
         * By id: 0 and the name (valid until the call returns), or -1. */
        int (*topic_by_name)(void *arg, kp_str name, kp_uuid *id, int32_t *partitions);
        int (*topic_by_id)(void *arg, kp_uuid id, kp_str *name);
        /* The i-th topic's name (0, i from 0 up), -1 past the last; regex
         * subscriptions match against these (internal topics excluded). */
        int (*topic_at)(void *arg, int32_t i, kp_str *name);
} sl_group_env;

/* One operation. The caller owns it until done runs; rq/rs are the generated
 * request/response structs of the API named by api_key (see each function). */
struct sl_group_call {
        int16_t api_key;    /* Kafka api key */
        int16_t version;    /* request version */
        const void *rq;     /* decoded request (strings view the request frame) */
        void *rs;           /* response to fill (initialised by the caller) */
        kp_str group_id;    /* group this call is about (multi-group APIs: one of them) */
        kp_str client_id;   /* request header client id */
        kp_str client_host; /* peer address */
        kp_arena arena;     /* coordinator-side allocations for rs (caller releases) */
        void (*done)(sl_group_call *c);
        void *arg;
        /* internal */
        int16_t error;              /* Kafka error of a simple answer */
        int32_t npending;           /* outstanding appends */
        sl_group_persist persist;   /* durable append of this call */
        struct sl_group *grp;       /* group a pending call waits on */
        struct sl_group_call *next; /* waiting list */
};

sl_group_coord *sl_group_coord_new(const sl_group_cfg *cfg, const sl_group_env *env);
/* Frees every group. Pending calls are answered COORDINATOR_NOT_AVAILABLE. */
void sl_group_coord_free(sl_group_coord *gc);

/* Kafka's placement: abs(Java String.hashCode(group)) % partitions. */
int32_t sl_group_partition_for(kp_str group_id, int32_t partitions);
/* Java's String.hashCode over the UTF-16 code units of a UTF-8 string. */
int32_t sl_group_java_hash(kp_str s);

/* Rebuilds state from one record of the offsets log (replay at load, oldest
 * first; a later record replaces an earlier one, a null value deletes).
 * Returns 0, or -1 for a record it cannot read (skipped). */
int sl_group_coord_replay(sl_group_coord *gc, kp_bytes key, kp_bytes value, int64_t now_ms);
/* After replay: starts session timers of loaded members. */
void sl_group_coord_loaded(sl_group_coord *gc);

/* Fires due session/rebalance/join deadlines and expires offsets of empty
 * groups. Returns the next deadline (monotonic ms) or INT64_MAX. */
int64_t sl_group_coord_tick(sl_group_coord *gc);
/* Earliest deadline that may need a tick (never later than the real one). */
int64_t sl_group_coord_next_deadline(const sl_group_coord *gc);

/* The operations. rq/rs types: JoinGroup kp_join_group_request/response,
 * SyncGroup kp_sync_group_*, Heartbeat kp_heartbeat_*, LeaveGroup
 * kp_leave_group_*, OffsetCommit kp_offset_commit_* (rs arrays pre-built by
 * the caller to mirror rq, the coordinator sets error codes), OffsetDelete
 * likewise. */
void sl_group_join(sl_group_coord *gc, sl_group_call *c);
void sl_group_sync(sl_group_coord *gc, sl_group_call *c);
void sl_group_heartbeat(sl_group_coord *gc, sl_group_call *c);
void sl_group_leave(sl_group_coord *gc, sl_group_call *c);
void sl_group_offset_commit(sl_group_coord *gc, sl_group_call *c);
void sl_group_offset_delete(sl_group_coord *gc, sl_group_call *c);
/* OffsetFetch of one group in the v8 form: rq is a
 * kp_offset_fetch_request_offset_fetch_request_group (topics_count -1: all),
 * rs a kp_offset_fetch_response_offset_fetch_response_group. */
void sl_group_offset_fetch(sl_group_coord *gc, sl_group_call *c);
/* DescribeGroups of c->group_id: rs is a
 * kp_describe_groups_response_described_group. */
void sl_group_describe(sl_group_coord *gc, sl_group_call *c);
/* ListGroups of this coordinator: rq kp_list_groups_request (filters), rs a
 * kp_list_groups_response whose groups array is allocated from c->arena. */
void sl_group_list(sl_group_coord *gc, sl_group_call *c);
/* DeleteGroups of c->group_id: answer in c->error. */
void sl_group_delete(sl_group_coord *gc, sl_group_call *c);

/* KIP-848 consumer groups (cgroup*.c). ConsumerGroupHeartbeat: rq/rs
 * kp_consumer_group_heartbeat_request/response; the answer waits until the
 * group's records are durable. ConsumerGroupDescribe of c->group_id: rs is a
 * kp_consumer_group_describe_response_described_group. */
void sl_cgroup_heartbeat(sl_group_coord *gc, sl_group_call *c);
void sl_cgroup_describe(sl_group_coord *gc, sl_group_call *c);

/* Answers a parked JoinGroup/SyncGroup now with err: its client is gone, or
 * the broker is shutting down. A JoinGroup member then counts as not
 * rejoined; no-op when c is not parked (already answered). */
void sl_group_cancel(sl_group_coord *gc, sl_group_call *c, int16_t err);

/* Validity of a group id for the APIs that need one. */
int16_t sl_group_id_check(kp_str group_id);

#endif
