/* broker/tests/group_fake_env.h — what the group coordinator unit tests
 * (test_group.c, test_group_offsets.c, test_group_limits.c) share: a fake
 * environment (settable monotonic and wall clocks, an in-memory offsets log
 * whose appends complete when the test says, or fail with append_err) and
 * helpers that send each request through the generated codec at its version
 * and decode each answer back before it is checked. Test-only code. */
#ifndef SL_GROUP_FAKE_ENV_H
#define SL_GROUP_FAKE_ENV_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "group/group.h"

/* ---- fake environment ---- */

typedef struct rec {
        uint8_t *key;
        int32_t klen;
        uint8_t *val; /* NULL: tombstone */
        int32_t vlen;
        int32_t partition;
} rec;

extern int64_t now_ms, wall_ms;
extern rec recs[4096]; /* every record appended, oldest first */
extern int nrecs;
extern sl_group_persist *pend[64]; /* appends waiting for sync_all */
extern int npend;
extern bool auto_sync;     /* appends complete at once (default) */
extern int16_t append_err; /* the fake log refuses appends with this */

/* Completes every waiting append with err. */
void sync_all(int16_t err);
/* 50 partitions, no initial delay, sessions of 6 s to 5 min, group.max.size
 * 3, 1 h offsets retention, 4 KiB offset metadata. */
sl_group_cfg cfg_default(void);
sl_group_coord *coord(sl_group_cfg c);
/* Forgets the log and restores the defaults (clocks keep running). */
void reset_env(void);

/* ---- calls through the codec ---- */

typedef struct call {
        sl_group_call c;
        kp_arena a; /* request side */
        uint8_t buf[8192];
        bool done;
        void *rs; /* decoded answer (after done) */
} call;

call *call_new(int16_t api, int16_t v);
void call_free(call *k);

/* Round-trips a request struct through the codec into the call's arena. */
#define ROUNDTRIP_RQ(k, TYPE, in)                                                                  \
        ({                                                                                         \
                size_t n_ = TYPE##_size((in), (k)->c.version);                                     \
                uint8_t *b_ = kp_arena_alloc(&(k)->a, 1, n_ + 1);                                  \
                kp_wr w_;                                                                          \
                kp_wr_init(&w_, b_, n_);                                                           \
                assert_int_equal(TYPE##_encode(&w_, (k)->c.version, (in)), 0);                     \
                TYPE *o_ = kp_arena_alloc(&(k)->a, 1, sizeof(TYPE));                               \
                kp_rd r_;                                                                          \
                kp_rd_init(&r_, b_, n_, &(k)->a);                                                  \
                assert_int_equal(TYPE##_decode(&r_, (k)->c.version, o_), 0);                       \
                o_;                                                                                \
        })

/* Encodes then decodes the answer (checks it is encodable at the version). */
#define ROUNDTRIP_RS(k, TYPE)                                                                      \
        ({                                                                                         \
                size_t n_ = TYPE##_size((k)->c.rs, (k)->c.version);                                \
                uint8_t *b_ = kp_arena_alloc(&(k)->a, 1, n_ + 1);                                  \
                kp_wr w_;                                                                          \
                kp_wr_init(&w_, b_, n_);                                                           \
                assert_int_equal(TYPE##_encode(&w_, (k)->c.version, (k)->c.rs), 0);                \
                TYPE *o_ = kp_arena_alloc(&(k)->a, 1, sizeof(TYPE));                               \
                kp_rd r_;                                                                          \
                kp_rd_init(&r_, b_, n_, &(k)->a);                                                  \
                assert_int_equal(TYPE##_decode(&r_, (k)->c.version, o_), 0);                       \
                o_;                                                                                \
        })

kp_str S(const char *s);
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
void tick_to(sl_group_coord *gc, int64_t t);
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
