/* broker/tests/test_cgroup.c — unit tests of KIP-848 consumer groups
 * (broker/group/cgroup*.c) through the generated codec: every
 * ConsumerGroupHeartbeat is encoded and decoded at its version before the
 * coordinator sees it, and every answer is encoded and decoded back before
 * it is checked. A fake environment gives a settable clock, an in-memory
 * offsets log (replayed into a fresh coordinator to check recovery) and a
 * topic table whose partition counts a test may change. Members are walked
 * through join, assignment, revocation, reassignment, expiry, leave and
 * static leave/rejoin, and every error the heartbeat answers. */
#include <setjmp.h>
#include <stdarg.h>
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
} rec;

static int64_t now_ms = 1000000, wall_ms = 1700000000000LL;
static rec recs[4096];
static int nrecs;
static int16_t append_err; /* the fake log refuses appends with this */
static int16_t sync_err;   /* appends are written, their sync fails with this */

/* topics t1, t2, t3: ids {1,...}, {2,...}, {3,...}; 0 partitions: absent */
static int32_t topic_parts[4] = {0, 6, 5, 0};
static const char *const topic_names[4] = {"", "t1", "t2", "t3"};

static int64_t f_now(void *a)
{
        (void)a;
        return now_ms;
}

static int64_t f_wall(void *a)
{
        (void)a;
        return wall_ms;
}

static int16_t f_append(void *a, int32_t partition, const kp_record_in *r, int32_t n,
                        sl_group_persist *p)
{
        (void)a;
        (void)partition;
        if (append_err)
                return append_err;
        for (int32_t i = 0; i < n; i++) {
                rec *x = &recs[nrecs++];
                x->klen = r[i].key.len;
                x->key = malloc((size_t)x->klen);
                memcpy(x->key, r[i].key.p, (size_t)x->klen);
                x->vlen = r[i].value.len;
                x->val = NULL;
                if (r[i].value.len >= 0) {
                        x->val = malloc((size_t)x->vlen + 1);
                        memcpy(x->val, r[i].value.p, (size_t)x->vlen);
                }
        }
        if (p)
                p->cb(p, sync_err);
        return 0;
}

static kp_uuid tid(int t)
{
        kp_uuid u = {{0}};
        u.b[0] = (uint8_t)t;
        u.b[15] = 0x42;
        return u;
}

static int f_topic_by_name(void *a, kp_str name, kp_uuid *id, int32_t *parts)
{
        (void)a;
        for (int t = 1; t <= 3; t++) {
                if (topic_parts[t] && kp_str_eq(name, kp_str_c(topic_names[t]))) {
                        *id = tid(t);
                        *parts = topic_parts[t];
                        return 0;
                }
        }
        return -1;
}

static int f_topic_by_id(void *a, kp_uuid id, kp_str *name)
{
        (void)a;
        for (int t = 1; t <= 3; t++) {
                if (topic_parts[t] && !memcmp(id.b, tid(t).b, 16)) {
                        *name = kp_str_c(topic_names[t]);
                        return 0;
                }
        }
        return -1;
}

/* the topic table in order, plus the internal topic regexes must skip */
static int f_topic_at(void *a, int32_t i, kp_str *name)
{
        (void)a;
        if (i == 0) {
                *name = kp_str_c("__consumer_offsets");
                return 0;
        }
        for (int t = 1; t <= 3; t++)
                if (topic_parts[t] && --i == 0) {
                        *name = kp_str_c(topic_names[t]);
                        return 0;
                }
        return -1;
}

static sl_group_cfg cfg_default(void)
{
        sl_group_cfg c = {50, 0, 6000, 300000, 100, 3600000, 4096, 0, 0, 0, 0, {0, 0}};
        return c;
}

static sl_group_coord *coord(sl_group_cfg c)
{
        sl_group_env env = {f_now,           f_wall,        f_append,  NULL,
                            f_topic_by_name, f_topic_by_id, f_topic_at};
        return sl_group_coord_new(&c, &env);
}

static void reset_env(void)
{
        for (int i = 0; i < nrecs; i++) {
                free(recs[i].key);
                free(recs[i].val);
        }
        nrecs = 0;
        append_err = sync_err = 0;
        topic_parts[1] = 6;
        topic_parts[2] = 5;
        topic_parts[3] = 0;
}

static sl_group_coord *replayed(sl_group_cfg c)
{
        sl_group_coord *gc = coord(c);
        for (int i = 0; i < nrecs; i++) {
                kp_bytes k = {recs[i].key, recs[i].klen};
                kp_bytes v = {recs[i].val, recs[i].val ? recs[i].vlen : -1};
                assert_int_equal(sl_group_coord_replay(gc, k, v, now_ms), 0);
        }
        sl_group_coord_loaded(gc);
        return gc;
}

/* ---- calls through the codec ---- */

typedef struct call {
        sl_group_call c;
        kp_arena a;
        bool done;
} call;

static void on_done(sl_group_call *c)
{
        ((call *)c)->done = true;
}

static call *call_new(int16_t api, int16_t v)
{
        call *k = calloc(1, sizeof(*k));
        kp_arena_init(&k->a, 4096);
        kp_arena_init(&k->c.arena, 1024);
        k->c.api_key = api;
        k->c.version = v;
        k->c.client_id = kp_str_c("cid");
        k->c.client_host = kp_str_c("/127.0.0.1");
        k->c.done = on_done;
        return k;
}

static void call_free(call *k)
{
        kp_arena_release(&k->a);
        kp_arena_release(&k->c.arena);
        free(k);
}

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

static kp_str S(const char *s)
{
        return s ? kp_str_c(s) : KP_STR_NULL;
}

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

static hbr hb(sl_group_coord *gc, hbq q)
{
        call *k = call_new(68, q.v0 ? 0 : 1);
        kp_consumer_group_heartbeat_request rq;
        kp_consumer_group_heartbeat_request_init(&rq);
        rq.group_id = S(q.group ? q.group : "g");
        rq.member_id = S(q.member ? q.member : "");
        rq.member_epoch = q.epoch;
        rq.instance_id = S(q.inst);
        rq.rebalance_timeout_ms = q.rto ? q.rto : (q.epoch == 0 ? 30000 : -1);
        kp_str names[8];
        int nn = 0;
        if (q.topics) {
                for (; q.topics[nn]; nn++)
                        names[nn] = S(q.topics[nn]);
                rq.subscribed_topic_names = names;
                rq.subscribed_topic_names_count = nn;
        }
        if (k->c.version >= 1)
                rq.subscribed_topic_regex = S(q.regex);
        rq.server_assignor = S(q.assignor);
        kp_consumer_group_heartbeat_request_topic_partitions tps[2];
        int32_t parts[2][32];
        if (q.owned || q.epoch == 0) {
                rq.topic_partitions = tps;
                rq.topic_partitions_count = 0;
                for (int i = 0; q.owned && q.owned[i] >= 0; i++) {
                        int t = q.owned[i] / 100, p = q.owned[i] % 100, j;
                        for (j = 0; j < rq.topic_partitions_count; j++)
                                if (!memcmp(tps[j].topic_id.b, tid(t).b, 16))
                                        break;
                        if (j == rq.topic_partitions_count) {
                                kp_consumer_group_heartbeat_request_topic_partitions_init(&tps[j]);
                                tps[j].topic_id = tid(t);
                                tps[j].partitions = parts[j];
                                tps[j].partitions_count = 0;
                                rq.topic_partitions_count++;
                        }
                        parts[j][tps[j].partitions_count++] = p;
                }
        }
        k->c.rq = ROUNDTRIP(k, kp_consumer_group_heartbeat_request, &rq);
        k->c.group_id = rq.group_id;
        kp_consumer_group_heartbeat_response *rs = kp_arena_alloc(&k->a, 1, sizeof(*rs));
        kp_consumer_group_heartbeat_response_init(rs);
        k->c.rs = rs;
        sl_cgroup_heartbeat(gc, &k->c);
        assert_true(k->done);
        kp_consumer_group_heartbeat_response *o =
            ROUNDTRIP(k, kp_consumer_group_heartbeat_response, rs);
        hbr r = {0};
        r.err = o->error_code;
        if (o->member_id.len > 0)
                snprintf(r.mid, sizeof(r.mid), "%.*s", o->member_id.len, o->member_id.p);
        r.epoch = o->member_epoch;
        r.interval = o->heartbeat_interval_ms;
        r.has_asg = o->assignment_present;
        for (int32_t i = 0; r.has_asg && i < o->assignment.topic_partitions_count; i++) {
                const kp_consumer_group_heartbeat_response_topic_partitions *t =
                    &o->assignment.topic_partitions[i];
                for (int32_t j = 0; j < t->partitions_count; j++)
                        r.tp[r.n++] = t->topic_id.b[0] * 100 + t->partitions[j];
        }
        call_free(k);
        return r;
}

static const char *const T1[] = {"t1", NULL};
static const char *const T2[] = {"t2", NULL};

static hbr join(sl_group_coord *gc, const char *member, const char *inst)
{
        return hb(gc, (hbq){.member = member, .inst = inst, .epoch = 0, .topics = T1});
}

/* Plain heartbeat: nothing but the epoch (and owned partitions if given). */
static hbr beat(sl_group_coord *gc, const char *member, int32_t epoch, const int32_t *owned)
{
        return hb(gc, (hbq){.member = member, .epoch = epoch, .owned = owned});
}

static void want_tps(const hbr *r, const int32_t *want)
{
        int n = 0;
        while (want[n] >= 0)
                n++;
        assert_true(r->has_asg);
        assert_int_equal(r->n, n);
        for (int i = 0; i < n; i++)
                assert_int_equal(r->tp[i], want[i]);
}

/* ConsumerGroupDescribe of group `g` into a fresh call (caller frees). */
static kp_consumer_group_describe_response_described_group *describe(sl_group_coord *gc,
                                                                     const char *g, call **kp)
{
        call *k = call_new(69, 0);
        kp_consumer_group_describe_response_described_group *d =
            kp_arena_alloc(&k->a, 1, sizeof(*d));
        kp_consumer_group_describe_response_described_group_init(d);
        k->c.group_id = S(g);
        k->c.rs = d;
        sl_cgroup_describe(gc, &k->c);
        assert_true(k->done);
        kp_consumer_group_describe_response whole = {0, d, 1};
        kp_consumer_group_describe_response *o =
            ROUNDTRIP(k, kp_consumer_group_describe_response, &whole);
        *kp = k;
        return &o->groups[0];
}

static const kp_consumer_group_describe_response_member *
dmember(const kp_consumer_group_describe_response_described_group *d, const char *id)
{
        for (int32_t i = 0; i < d->members_count; i++)
                if (kp_str_eq(d->members[i].member_id, S(id)))
                        return &d->members[i];
        return NULL;
}

static int32_t nparts(const kp_consumer_group_describe_response_assignment *a)
{
        int32_t n = 0;
        for (int32_t i = 0; i < a->topic_partitions_count; i++)
                n += a->topic_partitions[i].partitions_count;
        return n;
}

static void tick_to(sl_group_coord *gc, int64_t t)
{
        now_ms = t;
        sl_group_coord_tick(gc);
}

/* ---- tests ---- */

/* Two members: join, assignment, revocation before reassignment, epochs,
 * session expiry of one, the other takes everything, then leaves. */
static void test_join_revoke_reassign_expire_leave(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        hbr r = join(gc, "A", NULL);
        assert_int_equal(r.err, 0);
        assert_string_equal(r.mid, "A");
        assert_int_equal(r.epoch, 1);
        assert_int_equal(r.interval, 5000);
        want_tps(&r, (int32_t[]){100, 101, 102, 103, 104, 105, -1});
        r = beat(gc, "A", 1, NULL);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, 1);
        assert_false(r.has_asg); /* unchanged and not a full request */
        /* B joins: epoch 2; what the assignor gives it is still A's */
        r = join(gc, "B", NULL);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, 2);
        want_tps(&r, (int32_t[]){-1});
        call *k;
        kp_consumer_group_describe_response_described_group *d = describe(gc, "g", &k);
        assert_int_equal(d->error_code, 0);
        assert_true(kp_str_eq(d->group_state, S("Reconciling")));
        assert_int_equal(d->group_epoch, 2);
        assert_int_equal(d->assignment_epoch, 2);
        assert_true(kp_str_eq(d->assignor_name, S("uniform")));
        assert_int_equal(nparts(&dmember(d, "B")->target_assignment), 3);
        assert_int_equal(nparts(&dmember(d, "B")->assignment), 0);
        assert_int_equal(nparts(&dmember(d, "A")->assignment), 6);
        call_free(k);
        /* A is told to give up half, at its old epoch */
        r = beat(gc, "A", 1, NULL);
        assert_int_equal(r.epoch, 1);
        want_tps(&r, (int32_t[]){100, 101, 102, -1});
        /* B still waits: A has not released them */
        r = beat(gc, "B", 2, NULL);
        assert_int_equal(r.epoch, 2);
        assert_false(r.has_asg);
        /* still owned → still pending */
        r = beat(gc, "A", 1, (int32_t[]){100, 101, 102, 103, -1});
        assert_int_equal(r.epoch, 1);
        /* A revoked: it moves to epoch 2 */
        r = beat(gc, "A", 1, (int32_t[]){100, 101, 102, -1});
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, 2);
        /* B gets the released partitions */
        r = beat(gc, "B", 2, NULL);
        assert_int_equal(r.epoch, 2);
        want_tps(&r, (int32_t[]){103, 104, 105, -1});
        d = describe(gc, "g", &k);
        assert_true(kp_str_eq(d->group_state, S("Stable")));
        assert_true(kp_str_eq(dmember(d, "B")->assignment.topic_partitions[0].topic_name, S("t1")));
        assert_true(kp_str_eq(dmember(d, "A")->client_host, S("/127.0.0.1")));
        call_free(k);
        /* B goes silent: fenced after the session timeout (45 s) */
        now_ms += 40000;
        assert_int_equal(beat(gc, "A", 2, NULL).err, 0);
        tick_to(gc, now_ms + 5001);
        r = beat(gc, "A", 2, NULL);
        assert_int_equal(r.epoch, 3);
        want_tps(&r, (int32_t[]){100, 101, 102, 103, 104, 105, -1});
        assert_int_equal(beat(gc, "B", 2, NULL).err, KP_ERR_UNKNOWN_MEMBER_ID);
        /* A leaves */
        r = beat(gc, "A", -1, NULL);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, -1);
        d = describe(gc, "g", &k);
        assert_true(kp_str_eq(d->group_state, S("Empty")));
        assert_int_equal(d->group_epoch, 4);
        assert_int_equal(d->members_count, 0);
        call_free(k);
        assert_int_equal(beat(gc, "A", 3, NULL).err, KP_ERR_UNKNOWN_MEMBER_ID);
        sl_group_coord_free(gc);
        reset_env();
}

static void test_errors(void **st)
{
        (void)st;
        reset_env();
        sl_group_cfg cfg = cfg_default();
        cfg.cg_max_size = 2;
        sl_group_coord *gc = coord(cfg);
        /* invalid requests */
        assert_int_equal(hb(gc, (hbq){.member = "A", .epoch = 0}).err, KP_ERR_INVALID_REQUEST);
        assert_int_equal(hb(gc, (hbq){.member = "", .epoch = 0, .topics = T1}).err,
                         KP_ERR_INVALID_REQUEST); /* v1: the client makes the id */
        assert_int_equal(hb(gc, (hbq){.member = "A", .epoch = 0, .topics = T1, .rto = -1}).err,
                         KP_ERR_INVALID_REQUEST);
        assert_int_equal(hb(gc, (hbq){.member = "A", .epoch = -3}).err, KP_ERR_INVALID_REQUEST);
        assert_int_equal(hb(gc, (hbq){.member = "A", .epoch = 0, .regex = "t(1"}).err,
                         KP_ERR_INVALID_REGULAR_EXPRESSION);
        assert_int_equal(hb(gc, (hbq){.member = "A", .epoch = 0, .topics = T1, .inst = ""}).err,
                         KP_ERR_INVALID_REQUEST);
        assert_int_equal(
            hb(gc, (hbq){.member = "A", .epoch = 0, .topics = T1, .assignor = "sticky"}).err,
            KP_ERR_UNSUPPORTED_ASSIGNOR);
        /* a heartbeat (not a join) for a group that does not exist */
        assert_int_equal(beat(gc, "A", 5, NULL).err, KP_ERR_GROUP_ID_NOT_FOUND);
        assert_int_equal(beat(gc, "A", -1, NULL).err, KP_ERR_GROUP_ID_NOT_FOUND);
        /* v0: the coordinator makes the member id */
        hbr r = hb(gc, (hbq){.v0 = true, .member = "", .epoch = 0, .topics = T1});
        assert_int_equal(r.err, 0);
        assert_int_equal(strlen(r.mid), 22);
        /* epochs ahead of or behind the coordinator's are fenced */
        assert_int_equal(join(gc, "A", NULL).epoch, 2);
        assert_int_equal(beat(gc, "A", 3, NULL).err, KP_ERR_FENCED_MEMBER_EPOCH);
        assert_int_equal(beat(gc, "Z", 2, NULL).err, KP_ERR_UNKNOWN_MEMBER_ID);
        /* group.consumer.max.size */
        assert_int_equal(join(gc, "C", NULL).err, KP_ERR_GROUP_MAX_SIZE_REACHED);
        /* a rejoin (epoch 0) of a known member is not a new member */
        assert_int_equal(join(gc, "A", NULL).err, 0);
        sl_group_coord_free(gc);
        reset_env();
}

static void test_static_leave_rejoin(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        hbr r = join(gc, "S1", "i1");
        assert_int_equal(r.epoch, 1);
        assert_int_equal(r.n, 6);
        /* another member cannot take an instance id in use */
        assert_int_equal(join(gc, "X", "i1").err, KP_ERR_UNRELEASED_INSTANCE_ID);
        /* the instance id names the member: a different member id is fenced */
        assert_int_equal(hb(gc, (hbq){.member = "X", .inst = "i1", .epoch = 1}).err,
                         KP_ERR_FENCED_INSTANCE_ID);
        /* static leave: the member stays with its partitions at epoch -2 */
        r = hb(gc, (hbq){.member = "S1", .inst = "i1", .epoch = -2});
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, -2);
        call *k;
        kp_consumer_group_describe_response_described_group *d = describe(gc, "g", &k);
        assert_int_equal(dmember(d, "S1")->member_epoch, -2);
        assert_int_equal(nparts(&dmember(d, "S1")->assignment), 6);
        assert_int_equal(d->group_epoch, 1);
        call_free(k);
        /* the instance restarts under a new member id: same partitions, no
         * new group epoch */
        now_ms += 10000;
        r = join(gc, "S2", "i1");
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, 1);
        want_tps(&r, (int32_t[]){100, 101, 102, 103, 104, 105, -1});
        d = describe(gc, "g", &k);
        assert_int_equal(d->group_epoch, 1);
        assert_int_equal(d->members_count, 1);
        assert_non_null(dmember(d, "S2"));
        assert_true(kp_str_eq(dmember(d, "S2")->instance_id, S("i1")));
        call_free(k);
        assert_int_equal(hb(gc, (hbq){.member = "S1", .inst = "i1", .epoch = 1}).err,
                         KP_ERR_FENCED_INSTANCE_ID);
        /* a static member that left and does not come back is removed at
         * the session timeout */
        assert_int_equal(hb(gc, (hbq){.member = "S2", .inst = "i1", .epoch = -2}).err, 0);
        tick_to(gc, now_ms + 45001);
        d = describe(gc, "g", &k);
        assert_int_equal(d->members_count, 0);
        assert_int_equal(d->group_epoch, 2);
        call_free(k);
        sl_group_coord_free(gc);
        reset_env();
}

/* A member that never revokes is fenced at its rebalance timeout. */
static void test_revocation_timeout(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        assert_int_equal(hb(gc, (hbq){.member = "A", .epoch = 0, .topics = T1, .rto = 10000}).epoch,
                         1);
        assert_int_equal(join(gc, "B", NULL).epoch, 2);
        const int32_t all[] = {100, 101, 102, 103, 104, 105, -1};
        hbr r = beat(gc, "A", 1, all);
        assert_int_equal(r.n, 3);
        tick_to(gc, now_ms + 5000);
        assert_int_equal(beat(gc, "A", 1, all).epoch, 1); /* still holds them */
        assert_int_equal(beat(gc, "B", 2, NULL).err, 0);
        tick_to(gc, now_ms + 5001);
        assert_int_equal(beat(gc, "A", 1, all).err, KP_ERR_UNKNOWN_MEMBER_ID);
        r = beat(gc, "B", 2, NULL);
        assert_int_equal(r.epoch, 3);
        want_tps(&r, (int32_t[]){100, 101, 102, 103, 104, 105, -1});
        sl_group_coord_free(gc);
        reset_env();
}

/* The range assignor, and new partitions of a subscribed topic. */
static void test_range_and_new_partitions(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        hbr r = hb(gc, (hbq){.member = "m1", .epoch = 0, .topics = T2, .assignor = "range"});
        assert_int_equal(r.n, 5);
        r = hb(gc, (hbq){.member = "m2", .epoch = 0, .topics = T2, .assignor = "range"});
        assert_int_equal(r.epoch, 2);
        call *k;
        kp_consumer_group_describe_response_described_group *d = describe(gc, "g", &k);
        assert_true(kp_str_eq(d->assignor_name, S("range")));
        const kp_consumer_group_describe_response_assignment *t1 =
            &dmember(d, "m1")->target_assignment;
        assert_int_equal(nparts(t1), 3);
        assert_int_equal(t1->topic_partitions[0].partitions[0], 0);
        assert_int_equal(t1->topic_partitions[0].partitions[2], 2);
        assert_int_equal(nparts(&dmember(d, "m2")->target_assignment), 2);
        call_free(k);
        r = beat(gc, "m1", 1, (int32_t[]){200, 201, 202, -1});
        assert_int_equal(r.epoch, 2);
        r = beat(gc, "m2", 2, NULL);
        want_tps(&r, (int32_t[]){203, 204, -1});
        /* t2 grows to 7 partitions: the next heartbeat bumps the epoch */
        topic_parts[2] = 7;
        r = beat(gc, "m2", 2, NULL);
        assert_int_equal(r.epoch, 2); /* first 203 goes back: revoked at epoch 2 */
        want_tps(&r, (int32_t[]){204, -1});
        r = beat(gc, "m2", 2, (int32_t[]){204, -1});
        assert_int_equal(r.epoch, 3);
        want_tps(&r, (int32_t[]){204, 205, 206, -1});
        d = describe(gc, "g", &k);
        assert_int_equal(d->group_epoch, 3);
        assert_int_equal(nparts(&dmember(d, "m1")->target_assignment), 4);
        call_free(k);
        sl_group_coord_free(gc);
        reset_env();
}

/* The records of a group bring it back in a new coordinator. */
static void test_replay(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        join(gc, "A", NULL);
        join(gc, "B", "ib");
        beat(gc, "A", 1, NULL);
        beat(gc, "A", 1, (int32_t[]){100, 101, 102, -1});
        hbr r = hb(gc, (hbq){.member = "B", .inst = "ib", .epoch = 2});
        assert_int_equal(r.n, 3);
        sl_group_coord_free(gc);
        gc = replayed(cfg_default());
        call *k;
        kp_consumer_group_describe_response_described_group *d = describe(gc, "g", &k);
        assert_int_equal(d->error_code, 0);
        assert_true(kp_str_eq(d->group_state, S("Stable")));
        assert_int_equal(d->group_epoch, 2);
        assert_int_equal(d->assignment_epoch, 2);
        assert_int_equal(d->members_count, 2);
        assert_int_equal(dmember(d, "A")->member_epoch, 2);
        assert_int_equal(nparts(&dmember(d, "A")->assignment), 3);
        assert_int_equal(nparts(&dmember(d, "B")->assignment), 3);
        assert_true(kp_str_eq(dmember(d, "B")->instance_id, S("ib")));
        assert_int_equal(dmember(d, "B")->subscribed_topic_names_count, 1);
        call_free(k);
        /* members go on with their epochs */
        r = beat(gc, "A", 2, NULL);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, 2);
        assert_int_equal(hb(gc, (hbq){.member = "B", .inst = "ib", .epoch = 2}).err, 0);
        /* a leave is replayed too */
        assert_int_equal(beat(gc, "A", -1, NULL).err, 0);
        sl_group_coord_free(gc);
        gc = replayed(cfg_default());
        d = describe(gc, "g", &k);
        assert_int_equal(d->members_count, 1);
        assert_int_equal(d->group_epoch, 3);
        call_free(k);
        sl_group_coord_free(gc);
        reset_env();
}

/* ListGroups reports consumer groups with their type; DescribeGroups (the
 * classic API) and ConsumerGroupDescribe tell the two kinds apart. */
static void test_list_and_describe_kinds(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        join(gc, "A", NULL);
        call *k = call_new(16, 5);
        kp_list_groups_request lq;
        kp_list_groups_request_init(&lq);
        kp_str f = S("Consumer");
        lq.types_filter = &f;
        lq.types_filter_count = 1;
        k->c.rq = &lq;
        kp_list_groups_response lr;
        kp_list_groups_response_init(&lr);
        k->c.rs = &lr;
        sl_group_list(gc, &k->c);
        kp_list_groups_response *l = ROUNDTRIP(k, kp_list_groups_response, &lr);
        assert_int_equal(l->groups_count, 1);
        assert_true(kp_str_eq(l->groups[0].group_type, S("consumer")));
        assert_true(kp_str_eq(l->groups[0].protocol_type, S("consumer")));
        assert_true(kp_str_eq(l->groups[0].group_state, S("Stable")));
        call_free(k);
        k = call_new(16, 5);
        f = S("classic");
        kp_list_groups_response_init(&lr);
        k->c.rq = &lq;
        k->c.rs = &lr;
        sl_group_list(gc, &k->c);
        assert_int_equal(lr.groups_count, 0);
        call_free(k);
        k = call_new(15, 5);
        kp_describe_groups_response_described_group dg;
        kp_describe_groups_response_described_group_init(&dg);
        k->c.group_id = S("g");
        k->c.rs = &dg;
        sl_group_describe(gc, &k->c);
        assert_true(kp_str_eq(dg.group_state, S("Dead")));
        call_free(k);
        kp_consumer_group_describe_response_described_group *d = describe(gc, "nope", &k);
        assert_int_equal(d->error_code, KP_ERR_GROUP_ID_NOT_FOUND);
        call_free(k);
        sl_group_coord_free(gc);
        reset_env();
}

/* JoinGroup v3 (no MEMBER_ID_REQUIRED) of one classic member; its error. */
static int16_t classic_join(sl_group_coord *gc, const char *group)
{
        call *k = call_new(11, 3);
        kp_join_group_request rq;
        kp_join_group_request_init(&rq);
        kp_join_group_request_join_group_request_protocol pr;
        kp_join_group_request_join_group_request_protocol_init(&pr);
        pr.name = S("range");
        pr.metadata = (kp_bytes){(const uint8_t *)"m", 1};
        rq.group_id = S(group);
        rq.session_timeout_ms = 10000;
        rq.rebalance_timeout_ms = 10000;
        rq.member_id = S("");
        rq.protocol_type = S("consumer");
        rq.protocols = &pr;
        rq.protocols_count = 1;
        k->c.rq = ROUNDTRIP(k, kp_join_group_request, &rq);
        k->c.group_id = rq.group_id;
        kp_join_group_response *rs = kp_arena_alloc(&k->a, 1, sizeof(*rs));
        kp_join_group_response_init(rs);
        k->c.rs = rs;
        sl_group_join(gc, &k->c);
        int16_t err = k->done ? rs->error_code : -1;
        if (!k->done)
                sl_group_cancel(gc, &k->c, KP_ERR_UNKNOWN_MEMBER_ID);
        call_free(k);
        return err;
}

/* OffsetCommit at version v to `group` of t1 partition 0: its error. */
static int16_t commit(sl_group_coord *gc, int16_t v, const char *group, const char *member,
                      int32_t epoch, int64_t offset)
{
        call *k = call_new(8, v);
        kp_offset_commit_request rq;
        kp_offset_commit_request_init(&rq);
        kp_offset_commit_request_offset_commit_request_topic t;
        kp_offset_commit_request_offset_commit_request_topic_init(&t);
        kp_offset_commit_request_offset_commit_request_partition p;
        kp_offset_commit_request_offset_commit_request_partition_init(&p);
        p.partition_index = 0;
        p.committed_offset = offset;
        t.name = S("t1");
        t.partitions = &p;
        t.partitions_count = 1;
        rq.group_id = S(group);
        rq.generation_id_or_member_epoch = epoch;
        rq.member_id = S(member);
        rq.topics = &t;
        rq.topics_count = 1;
        const kp_offset_commit_request *d = ROUNDTRIP(k, kp_offset_commit_request, &rq);
        k->c.rq = d;
        kp_offset_commit_response *rs = kp_arena_alloc(&k->a, 1, sizeof(*rs));
        kp_offset_commit_response_init(rs);
        rs->topics = kp_arena_alloc(&k->a, 1, sizeof(*rs->topics));
        rs->topics_count = 1;
        rs->topics[0].name = d->topics[0].name;
        rs->topics[0].partitions = kp_arena_alloc(&k->a, 1, sizeof(*rs->topics[0].partitions));
        rs->topics[0].partitions_count = 1;
        k->c.rs = rs;
        sl_group_offset_commit(gc, &k->c);
        assert_true(k->done);
        int16_t err = rs->topics[0].partitions[0].error_code;
        call_free(k);
        return err;
}

/* Classic and consumer groups share the namespace: an Empty classic group
 * becomes a consumer group and keeps its offsets, a live one refuses. */
static void test_classic_and_consumer(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        assert_int_equal(commit(gc, 7, "g", "", -1, 42), 0); /* a simple (Empty) classic group */
        hbr r = join(gc, "A", NULL);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, 1);
        call *k;
        kp_consumer_group_describe_response_described_group *d = describe(gc, "g", &k);
        assert_int_equal(d->error_code, 0);
        call_free(k);
        /* a classic member cannot join the live consumer group */
        assert_int_equal(classic_join(gc, "g"), KP_ERR_INCONSISTENT_GROUP_PROTOCOL);
        /* a live classic group is not a consumer group */
        assert_int_equal(classic_join(gc, "cl"), 0);
        assert_int_equal(hb(gc, (hbq){.group = "cl", .member = "A", .epoch = 0, .topics = T1}).err,
                         KP_ERR_GROUP_ID_NOT_FOUND);
        d = describe(gc, "cl", &k);
        assert_int_equal(d->error_code, KP_ERR_GROUP_ID_NOT_FOUND);
        call_free(k);
        /* once the consumer group is empty, a classic member may take it */
        assert_int_equal(beat(gc, "A", -1, NULL).err, 0);
        assert_int_equal(classic_join(gc, "g"), 0);
        d = describe(gc, "g", &k);
        assert_int_equal(d->error_code, KP_ERR_GROUP_ID_NOT_FOUND);
        call_free(k);
        sl_group_coord_free(gc);
        /* replayed: g is classic again, cl classic, nothing consumer */
        gc = replayed(cfg_default());
        d = describe(gc, "g", &k);
        assert_int_equal(d->error_code, KP_ERR_GROUP_ID_NOT_FOUND);
        call_free(k);
        sl_group_coord_free(gc);
        reset_env();
}

/* OffsetDelete of `topic` partition 0 in group g: group error, *perr the
 * partition's. */
static int16_t offset_delete(sl_group_coord *gc, const char *topic, int16_t *perr)
{
        call *k = call_new(47, 0);
        kp_offset_delete_request rq;
        kp_offset_delete_request_init(&rq);
        kp_offset_delete_request_offset_delete_request_topic t;
        kp_offset_delete_request_offset_delete_request_partition p = {0};
        t.name = S(topic);
        t.partitions = &p;
        t.partitions_count = 1;
        rq.group_id = S("g");
        rq.topics = &t;
        rq.topics_count = 1;
        k->c.rq = ROUNDTRIP(k, kp_offset_delete_request, &rq);
        kp_offset_delete_response rs;
        kp_offset_delete_response_init(&rs);
        kp_offset_delete_response_offset_delete_response_topic rt;
        kp_offset_delete_response_offset_delete_response_partition rp = {0, 0};
        rt.name = t.name;
        rt.partitions = &rp;
        rt.partitions_count = 1;
        rs.topics = &rt;
        rs.topics_count = 1;
        k->c.rs = &rs;
        sl_group_offset_delete(gc, &k->c);
        assert_true(k->done);
        *perr = rp.error_code;
        int16_t e = rs.error_code;
        call_free(k);
        return e;
}

/* OffsetCommit and OffsetFetch against a consumer group check the member
 * and its epoch; v8 from a consumer-protocol member is refused. */
static void test_offsets_member_epochs(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        assert_int_equal(join(gc, "A", NULL).epoch, 1);
        assert_int_equal(commit(gc, 9, "g", "A", 1, 5), 0);
        assert_int_equal(commit(gc, 9, "g", "A", 0, 6), KP_ERR_STALE_MEMBER_EPOCH);
        assert_int_equal(commit(gc, 9, "g", "A", 2, 6), KP_ERR_STALE_MEMBER_EPOCH);
        assert_int_equal(commit(gc, 9, "g", "B", 1, 6), KP_ERR_UNKNOWN_MEMBER_ID);
        assert_int_equal(commit(gc, 8, "g", "A", 1, 6), KP_ERR_UNSUPPORTED_VERSION);
        assert_int_equal(commit(gc, 9, "g", "", -1, 6), KP_ERR_UNKNOWN_MEMBER_ID); /* not empty */
        /* OffsetFetch v9 */
        const char *who[] = {"A", "A", "B", NULL};
        int32_t ep[] = {1, 7, 1, -1};
        int16_t want[] = {0, KP_ERR_STALE_MEMBER_EPOCH, KP_ERR_UNKNOWN_MEMBER_ID, 0};
        for (int i = 0; i < 4; i++) {
                call *k = call_new(9, 9);
                kp_offset_fetch_request_offset_fetch_request_group q;
                kp_offset_fetch_request_offset_fetch_request_group_init(&q);
                kp_offset_fetch_request_offset_fetch_request_topics t;
                kp_offset_fetch_request_offset_fetch_request_topics_init(&t);
                int32_t idx = 0;
                t.name = S("t1");
                t.partition_indexes = &idx;
                t.partition_indexes_count = 1;
                q.group_id = S("g");
                q.member_id = S(who[i]);
                q.member_epoch = ep[i];
                q.topics = &t;
                q.topics_count = 1;
                k->c.rq = &q;
                kp_offset_fetch_response_offset_fetch_response_group g;
                kp_offset_fetch_response_offset_fetch_response_group_init(&g);
                k->c.rs = &g;
                sl_group_offset_fetch(gc, &k->c);
                assert_true(k->done);
                assert_int_equal(g.error_code, want[i]);
                if (!want[i])
                        assert_int_equal(g.topics[0].partitions[0].committed_offset, 5);
                call_free(k);
        }
        /* OffsetDelete: refused for a topic a member subscribes to */
        int16_t perr;
        assert_int_equal(offset_delete(gc, "t1", &perr), 0);
        assert_int_equal(perr, KP_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
        assert_int_equal(offset_delete(gc, "t2", &perr), 0);
        assert_int_equal(perr, 0);
        /* an empty consumer group takes simple commits (admin tools) */
        assert_int_equal(beat(gc, "A", -1, NULL).err, 0);
        assert_int_equal(commit(gc, 9, "g", "", -1, 9), 0);
        /* offsets.retention.minutes after it emptied, the group and its
         * offsets go, records included */
        wall_ms += 3600000;
        sl_group_coord_tick(gc);
        call *k;
        kp_consumer_group_describe_response_described_group *d = describe(gc, "g", &k);
        assert_int_equal(d->error_code, KP_ERR_GROUP_ID_NOT_FOUND);
        call_free(k);
        sl_group_coord_free(gc);
        gc = replayed(cfg_default());
        d = describe(gc, "g", &k);
        assert_int_equal(d->error_code, KP_ERR_GROUP_ID_NOT_FOUND);
        call_free(k);
        sl_group_coord_free(gc);
        reset_env();
}

/* uniform over mixed subscriptions: every partition once, only to a
 * subscriber, counts within one; DeleteGroups of the emptied group. */
static void test_uniform_mixed_and_delete(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        const char *const both[] = {"t1", "t2", NULL};
        hb(gc, (hbq){.member = "m1", .epoch = 0, .topics = both});
        hb(gc, (hbq){.member = "m2", .epoch = 0, .topics = T1});
        hb(gc, (hbq){.member = "m3", .epoch = 0, .topics = T2});
        call *k;
        kp_consumer_group_describe_response_described_group *d = describe(gc, "g", &k);
        assert_int_equal(d->group_epoch, 3);
        int seen[3][8] = {{0}};
        int32_t lo = 100, hi = 0;
        for (int32_t i = 0; i < d->members_count; i++) {
                const kp_consumer_group_describe_response_assignment *t =
                    &d->members[i].target_assignment;
                int32_t n = nparts(t);
                lo = n < lo ? n : lo;
                hi = n > hi ? n : hi;
                for (int32_t j = 0; j < t->topic_partitions_count; j++) {
                        int topic = t->topic_partitions[j].topic_id.b[0];
                        if (kp_str_eq(d->members[i].member_id, S("m2")))
                                assert_int_equal(topic, 1);
                        if (kp_str_eq(d->members[i].member_id, S("m3")))
                                assert_int_equal(topic, 2);
                        for (int32_t q = 0; q < t->topic_partitions[j].partitions_count; q++)
                                seen[topic][t->topic_partitions[j].partitions[q]]++;
                }
        }
        for (int p = 0; p < 6; p++)
                assert_int_equal(seen[1][p], 1);
        for (int p = 0; p < 5; p++)
                assert_int_equal(seen[2][p], 1);
        assert_true(hi - lo <= 1);
        call_free(k);
        /* DeleteGroups: refused while members remain, then the group goes */
        k = call_new(42, 2);
        k->c.group_id = S("g");
        sl_group_delete(gc, &k->c);
        assert_int_equal(k->c.error, KP_ERR_NON_EMPTY_GROUP);
        call_free(k);
        for (int i = 1; i <= 3; i++) {
                char m[4];
                snprintf(m, sizeof(m), "m%d", i);
                assert_int_equal(beat(gc, m, -1, NULL).err, 0);
        }
        k = call_new(42, 2);
        k->c.group_id = S("g");
        sl_group_delete(gc, &k->c);
        assert_int_equal(k->c.error, 0);
        call_free(k);
        d = describe(gc, "g", &k);
        assert_int_equal(d->error_code, KP_ERR_GROUP_ID_NOT_FOUND);
        call_free(k);
        sl_group_coord_free(gc);
        gc = replayed(cfg_default());
        d = describe(gc, "g", &k);
        assert_int_equal(d->error_code, KP_ERR_GROUP_ID_NOT_FOUND);
        call_free(k);
        sl_group_coord_free(gc);
        reset_env();
}

/* A regex subscription follows the topic table: t3 created → new epoch. */
static void test_regex_subscription(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        hbr r = hb(gc, (hbq){.member = "R", .epoch = 0, .regex = "t[0-9]"});
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, 1);
        assert_int_equal(r.n, 11); /* t1 and t2, not __consumer_offsets */
        r = hb(gc, (hbq){.member = "N", .epoch = 0, .topics = T2});
        assert_int_equal(r.epoch, 2);
        topic_parts[3] = 4;
        r = beat(gc, "R", 1, NULL);
        assert_int_equal(r.epoch, 1); /* revokes t2's partitions N gets, first */
        call *k;
        kp_consumer_group_describe_response_described_group *d = describe(gc, "g", &k);
        assert_int_equal(d->group_epoch, 3);
        assert_true(kp_str_eq(dmember(d, "R")->subscribed_topic_regex, S("t[0-9]")));
        const kp_consumer_group_describe_response_assignment *t =
            &dmember(d, "R")->target_assignment;
        bool t3 = false;
        for (int32_t i = 0; i < t->topic_partitions_count; i++)
                t3 |= kp_str_eq(t->topic_partitions[i].topic_name, S("t3"));
        assert_true(t3);
        assert_int_equal(nparts(t) + nparts(&dmember(d, "N")->target_assignment), 15);
        call_free(k);
        sl_group_coord_free(gc);
        /* replayed: the regex is compiled and resolved again, same epoch */
        gc = replayed(cfg_default());
        r = beat(gc, "N", 2, NULL);
        assert_int_equal(r.err, 0);
        d = describe(gc, "g", &k);
        assert_int_equal(d->group_epoch, 3);
        call_free(k);
        /* an empty regex ("" as librdkafka sends) clears it */
        r = hb(gc, (hbq){.member = "R", .epoch = 1, .regex = "", .topics = T1});
        assert_int_equal(r.err, 0);
        d = describe(gc, "g", &k);
        assert_int_equal(d->group_epoch, 4);
        assert_int_equal(dmember(d, "R")->subscribed_topic_regex.len, -1);
        call_free(k);
        sl_group_coord_free(gc);
        reset_env();
}

/* A change whose records the log refuses is rolled back to what the log
 * holds, as Kafka reverts a failed write: a join, a leave, a session expiry,
 * the first join of a new group. A sync that fails after the records were
 * written keeps the change (the log has it) but the client hears the error. */
static void test_append_failure_rollback(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        assert_int_equal(join(gc, "A", NULL).epoch, 1);
        /* B's join is refused by the log: no B, no new epoch, A keeps all */
        append_err = KP_ERR_COORDINATOR_NOT_AVAILABLE;
        assert_int_equal(join(gc, "B", NULL).err, KP_ERR_COORDINATOR_NOT_AVAILABLE);
        append_err = 0;
        call *k;
        kp_consumer_group_describe_response_described_group *d = describe(gc, "g", &k);
        assert_int_equal(d->group_epoch, 1);
        assert_int_equal(d->members_count, 1);
        assert_int_equal(nparts(&dmember(d, "A")->assignment), 6);
        assert_true(kp_str_eq(d->group_state, S("Stable")));
        call_free(k);
        hbr r = beat(gc, "A", 1, NULL);
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, 1);
        assert_false(r.has_asg);
        /* B joins for real; A gives up half and B gets it */
        assert_int_equal(join(gc, "B", NULL).epoch, 2);
        r = beat(gc, "A", 1, NULL);
        want_tps(&r, (int32_t[]){100, 101, 102, -1});
        assert_int_equal(beat(gc, "A", 1, (int32_t[]){100, 101, 102, -1}).epoch, 2);
        r = beat(gc, "B", 2, NULL);
        want_tps(&r, (int32_t[]){103, 104, 105, -1});
        /* a refused leave: B is still there with its partitions */
        append_err = KP_ERR_NOT_COORDINATOR;
        assert_int_equal(beat(gc, "B", -1, NULL).err, KP_ERR_NOT_COORDINATOR);
        append_err = 0;
        r = beat(gc, "B", 2, (int32_t[]){103, 104, 105, -1});
        assert_int_equal(r.err, 0);
        assert_int_equal(r.epoch, 2);
        /* memory is what a restart replays */
        sl_group_coord *gr = replayed(cfg_default());
        d = describe(gr, "g", &k);
        assert_int_equal(d->group_epoch, 2);
        assert_int_equal(d->members_count, 2);
        assert_int_equal(nparts(&dmember(d, "B")->assignment), 3);
        call_free(k);
        sl_group_coord_free(gr);
        /* B goes silent; the log refuses its fencing: B stays, with a fresh
         * session, and is fenced once the log takes it */
        now_ms += 40000;
        assert_int_equal(beat(gc, "A", 2, NULL).err, 0);
        append_err = KP_ERR_COORDINATOR_NOT_AVAILABLE;
        tick_to(gc, now_ms + 5001);
        append_err = 0;
        d = describe(gc, "g", &k);
        assert_int_equal(d->members_count, 2);
        assert_int_equal(d->group_epoch, 2);
        call_free(k);
        now_ms += 40000;
        assert_int_equal(beat(gc, "A", 2, NULL).err, 0);
        tick_to(gc, now_ms + 5001);
        r = beat(gc, "A", 2, NULL);
        assert_int_equal(r.epoch, 3);
        want_tps(&r, (int32_t[]){100, 101, 102, 103, 104, 105, -1});
        assert_int_equal(beat(gc, "B", 2, NULL).err, KP_ERR_UNKNOWN_MEMBER_ID);
        /* the first join of a new group refused: no consumer group */
        append_err = KP_ERR_COORDINATOR_NOT_AVAILABLE;
        r = hb(gc, (hbq){.group = "h", .member = "X", .epoch = 0, .topics = T1});
        assert_int_equal(r.err, KP_ERR_COORDINATOR_NOT_AVAILABLE);
        append_err = 0;
        d = describe(gc, "h", &k);
        assert_int_equal(d->error_code, KP_ERR_GROUP_ID_NOT_FOUND);
        call_free(k);
        r = hb(gc, (hbq){.group = "h", .member = "X", .epoch = 1});
        assert_int_equal(r.err, KP_ERR_GROUP_ID_NOT_FOUND);
        /* written but not synced: the change stays (the log has it) */
        sync_err = KP_ERR_COORDINATOR_NOT_AVAILABLE;
        assert_int_equal(join(gc, "C", NULL).err, KP_ERR_COORDINATOR_NOT_AVAILABLE);
        sync_err = 0;
        d = describe(gc, "g", &k);
        assert_int_equal(d->members_count, 2);
        assert_int_equal(d->group_epoch, 4);
        call_free(k);
        sl_group_coord_free(gc);
        reset_env();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_join_revoke_reassign_expire_leave),
            cmocka_unit_test(test_errors),
            cmocka_unit_test(test_static_leave_rejoin),
            cmocka_unit_test(test_revocation_timeout),
            cmocka_unit_test(test_range_and_new_partitions),
            cmocka_unit_test(test_replay),
            cmocka_unit_test(test_list_and_describe_kinds),
            cmocka_unit_test(test_classic_and_consumer),
            cmocka_unit_test(test_offsets_member_epochs),
            cmocka_unit_test(test_uniform_mixed_and_delete),
            cmocka_unit_test(test_regex_subscription),
            cmocka_unit_test(test_append_failure_rollback),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
