/* broker/group/group_int.h — private state of the group coordinator, shared by
 * group.c (table, timers, describe/list/delete), group_join.c (JoinGroup and
 * rebalance), group_sync.c (SyncGroup, Heartbeat, LeaveGroup), group_offsets.c
 * (commit/fetch/delete/expiry) and offsets_log.c (the __consumer_offsets record
 * format). Everything here belongs to the coordinator's shard. */
#ifndef SL_GROUP_INT_H
#define SL_GROUP_INT_H

#include "group.h"

#include <stdlib.h>
#include <string.h>

/* Kafka's classic group states (DescribeGroups/ListGroups spell them so). */
enum {
        SL_GS_EMPTY = 0,
        SL_GS_PREPARING = 1,  /* PreparingRebalance: collecting JoinGroups */
        SL_GS_COMPLETING = 2, /* CompletingRebalance: waiting for the leader's SyncGroup */
        SL_GS_STABLE = 3,
        SL_GS_DEAD = 4,
};
const char *sl_group_state_name(int state);

/* A heap copy of a string; never NULL-terminated on the wire, always here. */
typedef struct sl_gstr {
        char *p;     /* NUL-terminated, NULL when null */
        int32_t len; /* -1 when null */
} sl_gstr;

typedef struct sl_gproto {
        sl_gstr name;
        uint8_t *meta;
        int32_t meta_len;
} sl_gproto;

typedef struct sl_member {
        sl_gstr id;
        sl_gstr instance_id; /* static membership (KIP-345), null if dynamic */
        sl_gstr client_id;
        sl_gstr client_host;
        int32_t session_timeout_ms;
        int32_t rebalance_timeout_ms;
        sl_gproto *protos; /* in the member's preference order */
        int32_t nprotos;
        uint8_t *assignment; /* from the leader's SyncGroup */
        int32_t assignment_len;
        int64_t deadline_ms;      /* session expiry (monotonic) */
        bool is_new;              /* joined during the current rebalance */
        sl_group_call *join_call; /* parked JoinGroup */
        sl_group_call *sync_call; /* parked SyncGroup */
        struct sl_member *next;
} sl_member;

/* A member id handed out with MEMBER_ID_REQUIRED, not yet joined. */
typedef struct sl_pending_id {
        sl_gstr id;
        int64_t deadline_ms;
        struct sl_pending_id *next;
} sl_pending_id;

/* One committed offset. */
typedef struct sl_goffset {
        sl_gstr topic;
        int32_t partition;
        int64_t offset;
        int32_t leader_epoch;
        sl_gstr metadata;
        int64_t commit_ts; /* wall ms */
        struct sl_goffset *next;
} sl_goffset;

typedef struct sl_group {
        sl_gstr id;
        int32_t partition; /* __consumer_offsets partition */
        int state;
        int32_t generation;
        sl_gstr protocol_type; /* null when never joined */
        sl_gstr protocol;      /* selected protocol, null when none */
        sl_gstr leader;        /* member id, null when none */
        sl_member *members;
        int32_t nmembers;
        sl_pending_id *pending;      /* MEMBER_ID_REQUIRED ids */
        int64_t join_deadline_ms;    /* PreparingRebalance ends here, 0 = none */
        int64_t initial_deadline_ms; /* initial-delay cap, 0 = not in initial delay */
        int64_t sync_deadline_ms;    /* CompletingRebalance ends here, 0 = none */
        int64_t state_ts;            /* wall ms of the last state change */
        int64_t empty_since_ms;      /* wall ms when it became Empty, for retention */
        sl_goffset **otab;           /* offsets hash table */
        uint32_t omask;
        uint32_t noffsets;
        int32_t persisting;            /* group metadata appends in flight */
        bool dead;                     /* deleted: free once persisting reaches 0 */
        sl_group_persist gm_persist;   /* fire-and-forget metadata write */
        sl_group_persist sync_persist; /* the leader's assignment write */
        bool sync_persisting;          /* sync_persist in flight */
        struct sl_group_coord *gc;     /* owner */
        int32_t gm_generation;         /* generation the in-flight metadata write is for */
        struct sl_cgroup *cg;          /* KIP-848 consumer group state; NULL: classic */
        struct sl_cimage *cimg;        /* its records as the log holds them (cgroup_log.c) */
        bool cimg_lost;                /* the image could not be made: no rollback */
        struct sl_group *next;
} sl_group;

struct sl_group_coord {
        sl_group_cfg cfg;
        sl_group_env env;
        sl_group **tab;
        uint32_t mask;
        uint32_t ngroups;
        int64_t next_deadline; /* lower bound of every armed deadline */
};

/* strings */
int sl_gstr_set(sl_gstr *s, kp_str v);
void sl_gstr_free(sl_gstr *s);
static inline kp_str sl_gstr_view(const sl_gstr *s)
{
        return (kp_str){s->p, s->len};
}
static inline bool sl_gstr_eq(const sl_gstr *s, kp_str v)
{
        return kp_str_eq(sl_gstr_view(s), v);
}
/* Copy of a view into the call's arena (responses outlive group state). */
kp_str sl_group_call_str(sl_group_call *c, kp_str s);
kp_bytes sl_group_call_bytes(sl_group_call *c, const uint8_t *p, int32_t len);

/* table (group.c) */
sl_group *sl_group_find(sl_group_coord *gc, kp_str id);
sl_group *sl_group_get_or_create(sl_group_coord *gc, kp_str id);
void sl_group_remove(sl_group_coord *gc, sl_group *g);
void sl_group_set_state(sl_group_coord *gc, sl_group *g, int state);
/* An append that referenced g completed: frees a removed group at the last. */
void sl_group_unref(sl_group *g);
void sl_group_arm(sl_group_coord *gc, int64_t deadline_ms);
static inline int64_t sl_group_now(const sl_group_coord *gc)
{
        return gc->env.now_ms(gc->env.arg);
}
static inline int64_t sl_group_wall(const sl_group_coord *gc)
{
        return gc->env.wall_ms(gc->env.arg);
}
/* Answers c; a parked call forgets its group (sl_group_cancel may follow). */
static inline void sl_group_call_finish(sl_group_call *c)
{
        c->grp = NULL;
        c->done(c);
}

/* members and rebalance (group_join.c) */
sl_member *sl_member_find(const sl_group *g, kp_str id);
sl_member *sl_member_find_instance(const sl_group *g, kp_str instance_id);
void sl_member_free(sl_member *m);
/* Removes m (answering its parked calls with err) and moves the group on:
 * a rebalance when others remain, Empty when none. */
void sl_group_remove_member(sl_group_coord *gc, sl_group *g, sl_member *m, int16_t err);
void sl_group_prepare_rebalance(sl_group_coord *gc, sl_group *g);
void sl_group_try_complete_join(sl_group_coord *gc, sl_group *g);
void sl_group_complete_join(sl_group_coord *gc, sl_group *g);
/* Answers every parked SyncGroup with err (a rebalance started). */
void sl_group_fail_syncs(sl_group *g, int16_t err);
/* Session/rebalance deadlines of one group; returns its next deadline. */
int64_t sl_group_expire(sl_group_coord *gc, sl_group *g, int64_t now);
void sl_group_heartbeat_member(sl_group_coord *gc, sl_member *m);
/* Writes the group's metadata record (offsets_log.c); p may be NULL (no wait). */
int16_t sl_group_store(sl_group_coord *gc, sl_group *g, sl_group_persist *p);

/* offsets (group_offsets.c) */
sl_goffset *sl_goffset_find(const sl_group *g, kp_str topic, int32_t partition);
int sl_goffset_put(sl_group *g, kp_str topic, int32_t partition, int64_t offset,
                   int32_t leader_epoch, kp_str metadata, int64_t commit_ts);
void sl_goffset_del(sl_group *g, kp_str topic, int32_t partition);
void sl_goffsets_free(sl_group *g);
/* Retention of an Empty group's offsets: tombstones of the due ones, then the
 * group once none is left. Returns true when the group was removed. */
bool sl_group_expire_offsets(sl_group_coord *gc, sl_group *g, int64_t wall);

/* KIP-848 consumer groups (cgroup.c); see cgroup.h */
void sl_cgroup_free(struct sl_cgroup *cg);
/* The image of g's consumer group records (cgroup_log.c): freed with g;
 * sl_cimage_replayed keeps a record replayed at load. */
void sl_cimage_free(sl_group *g);
void sl_cimage_replayed(sl_group_coord *gc, kp_bytes key, kp_bytes value);
int64_t sl_cgroup_expire(sl_group_coord *gc, sl_group *g, int64_t now);
/* OffsetCommit (any version) and OffsetFetch v9 member checks of a consumer
 * group: 0, UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH or UNSUPPORTED_VERSION. */
int16_t sl_cgroup_commit_check(sl_group *g, int16_t version, kp_str member, int32_t epoch);
int16_t sl_cgroup_fetch_check(sl_group *g, kp_str member, int32_t epoch);
/* OffsetDelete: does a member of consumer group g subscribe to topic? */
bool sl_cgroup_subscribed(const sl_group *g, kp_str topic);
/* JoinGroup on a consumer group: an Empty one becomes classic again (its
 * records tombstoned, offsets kept); otherwise INCONSISTENT_GROUP_PROTOCOL. */
int16_t sl_cgroup_detach(sl_group_coord *gc, sl_group *g);

/* record format (offsets_log.c) */
#define SL_OFFSETS_KEY_COMMIT 1 /* OffsetCommitKey (versions 0 and 1) */
#define SL_OFFSETS_KEY_GROUP  2 /* GroupMetadataKey */
size_t sl_offsets_commit_key(uint8_t *buf, size_t cap, kp_str group, kp_str topic,
                             int32_t partition);
size_t sl_offsets_commit_value(uint8_t *buf, size_t cap, int64_t offset, int32_t leader_epoch,
                               kp_str metadata, int64_t commit_ts);
size_t sl_offsets_group_key(uint8_t *buf, size_t cap, kp_str group);
/* GroupMetadataValue v3 of g; returns the size needed (buf may be too small). */
size_t sl_offsets_group_value(uint8_t *buf, size_t cap, const sl_group *g, int64_t wall);

typedef struct sl_offsets_key {
        int16_t version; /* 0/1 offset commit, 2 group metadata */
        kp_str group;
        kp_str topic;
        int32_t partition;
} sl_offsets_key;
int sl_offsets_key_parse(kp_bytes key, sl_offsets_key *out);
typedef struct sl_offsets_commit {
        int64_t offset;
        int32_t leader_epoch;
        kp_str metadata;
        int64_t commit_ts;
} sl_offsets_commit;
int sl_offsets_commit_parse(kp_bytes value, sl_offsets_commit *out);
/* Applies a GroupMetadataValue to g (members included). */
int sl_offsets_group_apply(sl_group *g, kp_bytes value);

#endif
