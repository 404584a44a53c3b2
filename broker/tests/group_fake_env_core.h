/* broker/tests/group_fake_env_core.h — the part of the group coordinator's
 * fake test environment that the classic group tests (group_fake_env.h) and
 * the KIP-848 consumer group tests (cgroup_fake_env.h) share: settable
 * monotonic and wall clocks, an in-memory offsets log whose appends can be
 * refused, held until the test syncs them, or synced with an error, and the
 * plumbing of a coordinator call whose request and answer go through the
 * generated codec. Test-only code; the tests include one of the two headers
 * built on it, not this one. */
#ifndef SL_GROUP_FAKE_ENV_CORE_H
#define SL_GROUP_FAKE_ENV_CORE_H

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
extern int16_t sync_err;   /* appends are written, their sync fails with this */

/* Completes every waiting append with err. */
void sync_all(int16_t err);
/* The clocks and the log; no topic table (its callbacks are NULL). */
sl_group_env fake_env(void);
/* Forgets the log and the failures, appends complete at once again (the
 * clocks keep running). */
void fake_env_reset(void);

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
kp_str S(const char *s);
void tick_to(sl_group_coord *gc, int64_t t);
/* OffsetDelete of `topic` partition 0 in `group` (v0): the group error;
 * *perr gets the partition's. */
int16_t offset_delete_one(sl_group_coord *gc, const char *group, const char *topic, int16_t *perr);

/* Encodes *in at the call's version and decodes it back into the call's
 * arena (checks it is encodable at the version); the decoded copy. */
#define ROUNDTRIP(k, TYPE, in)                                                                     \
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

#endif
