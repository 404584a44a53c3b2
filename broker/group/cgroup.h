/* broker/group/cgroup.h — KIP-848 consumer groups inside the group
 * coordinator (private to broker/group/).
 *
 * A consumer group is an sl_group whose `cg` is set: the broker computes the
 * assignment (uniform or range assignor) and every member reconciles towards
 * it through ConsumerGroupHeartbeat with member epochs, instead of the classic
 * JoinGroup/SyncGroup rebalance. Classic and consumer groups share one group
 * id namespace and the committed offsets of sl_group. State is persisted in
 * __consumer_offsets with Kafka's record keys 3-8 (cgroup_log.c). Files:
 * cgroup.c (the heartbeat), cgroup_member.c (groups, members, regexes,
 * timeouts, offset checks), cgroup_reconcile.c (targets, reconciliation),
 * cgroup_assign.c (assignors, partition sets), cgroup_log.c (records,
 * replay, the image of what the log holds and the rollback to it),
 * cgroup_describe.c (ConsumerGroupDescribe). */
#ifndef SL_CGROUP_H
#define SL_CGROUP_H

#include "group_int.h"

#include <regex.h>

/* Member states (Kafka's MemberState byte values). */
enum { SL_CMS_STABLE = 0, SL_CMS_UNREVOKED = 1, SL_CMS_UNRELEASED = 2 };

/* Group states of ConsumerGroupDescribe/ListGroups. */
enum { SL_CGS_EMPTY = 0, SL_CGS_ASSIGNING = 1, SL_CGS_RECONCILING = 2, SL_CGS_STABLE = 3 };

#define SL_CG_LEAVE_EPOCH        (-1)
#define SL_CG_STATIC_LEAVE_EPOCH (-2)

/* One topic partition; sets are sorted by (topic id bytes, partition). */
typedef struct sl_ctp {
        kp_uuid topic;
        int32_t part;
} sl_ctp;

typedef struct sl_ctpset {
        sl_ctp *v;
        int32_t n, cap;
} sl_ctpset;

typedef struct sl_cmember {
        sl_gstr id;
        sl_gstr instance_id; /* static member, null if dynamic */
        sl_gstr rack_id;
        sl_gstr client_id;
        sl_gstr client_host;
        sl_gstr *topics; /* subscribed topic names, sorted */
        int32_t ntopics;
        sl_gstr regex;    /* subscribed regex (v1), null if none */
        regex_t *re;      /* regex compiled (POSIX extended, whole name) */
        sl_gstr *rtopics; /* topics the regex matches now, sorted */
        int32_t nrtopics;
        sl_gstr assignor; /* requested server assignor, null if none */
        int32_t rebalance_timeout_ms;
        int32_t epoch;      /* member epoch; -2 after a static leave */
        int32_t prev_epoch; /* epoch before the last bump */
        int8_t state;       /* SL_CMS_* */
        sl_ctpset assigned; /* owned, and handed to the member */
        sl_ctpset revoking; /* still owned, waiting for the member to revoke */
        sl_ctpset target;   /* what the assignor gave this member */
        int64_t session_deadline_ms;
        int64_t rebalance_deadline_ms; /* revocation deadline, 0 = none */
        struct sl_cmember *next;
} sl_cmember;

/* A subscribed topic that exists (Kafka's subscription metadata). */
typedef struct sl_cmeta {
        sl_gstr name;
        kp_uuid id;
        int32_t partitions;
} sl_cmeta;

typedef struct sl_cgroup {
        int32_t epoch;        /* group epoch */
        int32_t assign_epoch; /* target assignment epoch */
        sl_cmember *members;
        int32_t nmembers;
        sl_cmeta *meta; /* sorted by name */
        int32_t nmeta;
} sl_cgroup;

/* A batch of records being built in an arena (cgroup_log.c). */
typedef struct sl_crecs {
        kp_record_in *v;
        int32_t n, cap;
        kp_arena *arena;
        int64_t ts;
        bool failed;
} sl_crecs;

/* partition sets (cgroup_assign.c) */
void sl_ctpset_free(sl_ctpset *s);
void sl_ctpset_clear(sl_ctpset *s);
bool sl_ctpset_has(const sl_ctpset *s, kp_uuid topic, int32_t part);
int sl_ctpset_add(sl_ctpset *s, kp_uuid topic, int32_t part);
int sl_ctpset_copy(sl_ctpset *dst, const sl_ctpset *src);
bool sl_ctpset_eq(const sl_ctpset *a, const sl_ctpset *b);

/* Computes every member's target (m->target) with the named assignor
 * ("uniform" or "range") over the group's subscription metadata. -1 when out
 * of memory. */
int sl_cgroup_assign(sl_cgroup *cg, const char *assignor);
/* The assignor index of a name in SL_CG_ASSIGNORS, -1 if unknown. */
int sl_cg_assignor_index(kp_str name);
extern const char *const SL_CG_ASSIGNORS[2];

/* regex subscriptions (cgroup.c) */
/* Compiles pattern as a whole-name POSIX extended regex; NULL if invalid. */
regex_t *sl_cg_regex_compile(kp_str pattern);
/* Recomputes the topics every regex member matches; true if any changed. */
bool sl_cgroup_resolve(sl_group_coord *gc, sl_cgroup *cg);
/* Is topic in m's subscription (names or regex matches)? */
bool sl_cmember_subscribes(const sl_cmember *m, kp_str topic);

/* members (cgroup_member.c) */
int sl_gstr_cmp(const void *a, const void *b); /* qsort of sl_gstr by bytes */
/* Replaces m's compiled regex (NULL: none) and forgets its matches. */
void sl_cmember_set_regex(sl_cmember *m, regex_t *re);
/* Refreshes the subscription metadata (a record when it changed). */
int sl_cgroup_meta_refresh(sl_group_coord *gc, sl_group *g, const sl_cmember *skip, sl_crecs *r,
                           bool *changed);
/* Removes m with tombstones of its records and bumps the group epoch. */
void sl_cgroup_fence(sl_group_coord *gc, sl_group *g, sl_cmember *m, sl_crecs *r);

/* target and reconciliation (cgroup_reconcile.c) */
/* Recomputes every target (records for the changed ones), assignment epoch
 * := group epoch. */
int sl_cgroup_update_target(sl_group_coord *gc, sl_group *g, sl_crecs *r);
/* One reconciliation step of m from its heartbeat rq (0 or -1: no memory). */
int sl_cmember_reconcile(sl_cgroup *cg, sl_cmember *m,
                         const kp_consumer_group_heartbeat_request *rq);
/* Are all partitions the heartbeat reports owned in s? (false if not sent) */
bool sl_cg_owned_subset(const kp_consumer_group_heartbeat_request *rq, const sl_ctpset *s);

/* group life (cgroup_member.c) */
/* The assignor of the next target: the one most members ask for, else the
 * first of group.consumer.assignors. */
const char *sl_cgroup_assignor(const sl_group_coord *gc, const sl_cgroup *cg);
sl_cgroup *sl_cgroup_new(void);
void sl_cgroup_free(sl_cgroup *cg);
void sl_cmember_free(sl_cmember *m);
sl_cmember *sl_cmember_find(const sl_cgroup *cg, kp_str id);
sl_cmember *sl_cmember_find_instance(const sl_cgroup *cg, kp_str instance_id);
sl_cmember *sl_cmember_new(kp_str id);
void sl_cgroup_unlink(sl_cgroup *cg, sl_cmember *m);
int sl_cgroup_state(const sl_cgroup *cg);
const char *sl_cgroup_state_name(int state);
/* Keeps sl_group.state in step (Stable with members, Empty without) so the
 * classic code (DeleteGroups, retention) treats the group right. */
void sl_cgroup_sync_state(sl_group_coord *gc, sl_group *g);
/* Turns g (a new or Empty classic group) into a consumer group. */
int sl_cgroup_attach(sl_group *g);

/* Session and revocation deadlines; returns the group's next deadline. */
int64_t sl_cgroup_expire(sl_group_coord *gc, sl_group *g, int64_t now);
/* Tombstones of every record of g's consumer group, appended to out at *n
 * (room for 3 per member + 3 needed), allocated from a. */
int16_t sl_cgroup_tombstones(sl_group_coord *gc, sl_group *g, kp_arena *a, kp_record_in *out,
                             int32_t *n);

/* what the log holds (cgroup_log.c) */
/* Keeps the consumer group records (key versions 3-8) among recs, just
 * appended to the log, in g's image. */
void sl_cimage_apply(sl_group *g, const kp_record_in *recs, int32_t n);
/* A change whose records did not reach the log: rebuilds g's consumer group
 * from the image, as a load would (an Empty group if it was never in the
 * log). false when the image was lost (out of memory): memory stays. */
bool sl_cgroup_rollback(sl_group_coord *gc, sl_group *g);

/* records (cgroup_log.c) */
void sl_crecs_init(sl_crecs *r, kp_arena *a, int64_t ts);
void sl_crec_group_epoch(sl_crecs *r, kp_str group, const sl_cgroup *cg, bool tombstone);
void sl_crec_meta(sl_crecs *r, kp_str group, const sl_cgroup *cg, bool tombstone);
void sl_crec_member(sl_crecs *r, kp_str group, const sl_cmember *m, bool tombstone);
void sl_crec_assign_epoch(sl_crecs *r, kp_str group, const sl_cgroup *cg, bool tombstone);
void sl_crec_target(sl_crecs *r, kp_str group, const sl_cmember *m, bool tombstone);
void sl_crec_current(sl_crecs *r, kp_str group, const sl_cmember *m, bool tombstone);
/* Replays one record with key version 3-8; 1 if the key is not one of
 * those, 0 applied, -1 unreadable. */
int sl_cgroup_replay(sl_group_coord *gc, kp_bytes key, kp_bytes value);

#endif
