/* broker/tests/cgroup_fake_env.h — what the KIP-848 consumer group unit tests
 * (test_cgroup.c, test_cgroup_interplay.c) share: the fake environment of
 * group_fake_env_core.h (a settable clock, an in-memory offsets log that can
 * refuse appends or fail their sync) plus a replay of that log into a fresh
 * coordinator to check recovery, a topic table t1/t2/t3 whose partition
 * counts a test may change, and helpers that send every request through the
 * generated codec at its version and decode every answer back before it is
 * checked. Test-only code. */
#ifndef SL_CGROUP_FAKE_ENV_H
#define SL_CGROUP_FAKE_ENV_H

#include "group_fake_env_core.h"

/* One heartbeat: topics NULL-terminated (NULL: not sent), owned partitions
 * as t*100+p, -1-terminated (NULL: not sent; a join always sends []). */
typedef struct hbq {
        bool v0; /* version 0 (else 1) */
        const char *group, *member, *inst, *assignor, *regex;
        int32_t epoch;
        int32_t rto;
        const char *const *topics;
        const int32_t *owned;
} hbq;

typedef struct hbr {
        int16_t err;
        char mid[64];
        int32_t epoch;
        int32_t interval;
        bool has_asg;
        int32_t n;
        int32_t tp[64]; /* t*100+p, in answer order */
} hbr;

/* topics t1, t2, t3: ids {1,...}, {2,...}, {3,...}; 0 partitions: absent */
extern int32_t topic_parts[4];

/* 50 partitions, sessions of 6 s to 5 min, group.max.size 100, KIP-848
 * settings at Kafka's defaults. */
sl_group_cfg cfg_default(void);
sl_group_coord *coord(sl_group_cfg c);
/* Forgets the log, the failures and topic changes (clocks keep running). */
void reset_env(void);
/* A fresh coordinator that replayed the whole log. */
sl_group_coord *replayed(sl_group_cfg c);
hbr hb(sl_group_coord *gc, hbq q);
extern const char *const T1[]; /* {"t1", NULL} */
extern const char *const T2[]; /* {"t2", NULL} */
/* Join (epoch 0) of group "g" subscribed to t1. */
hbr join(sl_group_coord *gc, const char *member, const char *inst);
/* Plain heartbeat: nothing but the epoch (and owned partitions if given). */
hbr beat(sl_group_coord *gc, const char *member, int32_t epoch, const int32_t *owned);
/* The answer's assignment is exactly want (t*100+p, -1-terminated). */
void want_tps(const hbr *r, const int32_t *want);
/* ConsumerGroupDescribe of group `g` into a fresh call (caller frees). */
kp_consumer_group_describe_response_described_group *describe(sl_group_coord *gc, const char *g,
                                                              call **kp);
const kp_consumer_group_describe_response_member *
dmember(const kp_consumer_group_describe_response_described_group *d, const char *id);
int32_t nparts(const kp_consumer_group_describe_response_assignment *a);

#endif
