/* broker/tests/group_fake_env.h — what the group coordinator unit tests
 * (test_group.c, test_group_offsets.c, test_group_limits.c) share: the
 * fake environment of group_fake_env_core.h (settable clocks, an in-memory
 * offsets log whose appends complete when the test says, or fail with
 * append_err) with this suite's defaults, and helpers that send each request through the generated
 * codec at its version and decode each answer back before it is checked. Test-only code. */
#ifndef SL_GROUP_FAKE_ENV_H
#define SL_GROUP_FAKE_ENV_H

#include "group_fake_env_core.h"

/* 50 partitions, no initial delay, sessions of 6 s to 5 min, group.max.size
 * 3, 1 h offsets retention, 4 KiB offset metadata. */
sl_group_cfg cfg_default(void);
sl_group_coord *coord(sl_group_cfg c);
/* Forgets the log and restores the defaults (clocks keep running). */
void reset_env(void);

/* Round-trips a request struct through the codec into the call's arena. */
#define ROUNDTRIP_RQ(k, TYPE, in) ROUNDTRIP(k, TYPE, in)

/* Encodes then decodes the answer (checks it is encodable at the version). */
#define ROUNDTRIP_RS(k, TYPE) ROUNDTRIP(k, TYPE, (const TYPE *)(k)->c.rs)

char *dup_str(kp_str s);
/* JoinGroup v`v` with protocols `proto` (default "range", metadata `meta`)
 * and "roundrobin", session timeout `st` ms (join: 10 s). */
call *join_st(sl_group_coord *gc, int16_t v, const char *group, const char *member,
              const char *inst, const char *proto, const char *meta, int32_t st);
call *join(sl_group_coord *gc, int16_t v, const char *group, const char *member, const char *inst,
           const char *proto, const char *meta);
kp_join_group_response *join_rs(call *k);
/* Joins with v5: MEMBER_ID_REQUIRED, then with the id. Returns the parked or
 * answered second call; *id gets the member id. */
call *join2(sl_group_coord *gc, const char *group, char **id);
call *sync_(sl_group_coord *gc, int16_t v, const char *group, int32_t gen, const char *member,
            const char *inst, int nass, const char **ids, const char **ass);
int16_t heartbeat(sl_group_coord *gc, const char *group, int32_t gen, const char *member,
                  const char *inst);
/* OffsetCommit of topic partitions 0..np-1 at offsets off.., partition i
 * with metadata metas[i] (commit: all `meta`). */
call *commit_metas(sl_group_coord *gc, int16_t v, const char *group, int32_t gen,
                   const char *member, int64_t off, const char *const *metas, int np);
call *commit(sl_group_coord *gc, int16_t v, const char *group, int32_t gen, const char *member,
             int64_t off, const char *meta, int np);
int16_t commit_err(call *k, int i);
/* OffsetFetch (v8 group form) of topic partitions 0..np-1; returns offsets. */
void fetch(sl_group_coord *gc, const char *group, int np, int64_t *out, int32_t *epochs);
/* LeaveGroup v3 of one member. */
int16_t leave1(sl_group_coord *gc, const char *group, const char *member);
/* One member joined and synced; returns its id. */
char *stable1(sl_group_coord *gc, const char *group);

#endif
