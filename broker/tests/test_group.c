/* broker/tests/test_group.c — unit tests of the group coordinator state
 * machine (broker/group/), driven through the generated codec: every request
 * is encoded and decoded at its version before the coordinator sees it and
 * every answer is encoded and decoded back before it is checked. A fake
 * environment supplies a settable clock and an in-memory offsets log whose
 * appends complete when the test says (to check answers wait for
 * durability); its records are replayed into a fresh coordinator to check
 * recovery. */
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
        int32_t partition;
} rec;

static int64_t now_ms = 1000000, wall_ms = 1700000000000LL;
static rec recs[4096];
static int nrecs;
static sl_group_persist *pend[64];
static int npend;
static bool auto_sync = true;
static int16_t append_err; /* the fake log refuses appends with this */

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
        if (append_err)
                return append_err;
        for (int32_t i = 0; i < n; i++) {
                rec *x = &recs[nrecs++];
                x->partition = partition;
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
                pend[npend++] = p;
        if (p && auto_sync) {
                npend--;
                p->cb(p, 0);
        }
        return 0;
}
static void sync_all(int16_t err)
{
        while (npend) {
                sl_group_persist *p = pend[0];
                memmove(pend, pend + 1, (size_t)--npend * sizeof(*pend));
                p->cb(p, err);
        }
}

static sl_group_cfg cfg_default(void)
{
        sl_group_cfg c = {50, 0, 6000, 300000, 3, 3600000, 4096, 0, 0, 0, 0, {0, 0}};
        return c;
}

static sl_group_coord *coord(sl_group_cfg c)
{
        sl_group_env env = {f_now, f_wall, f_append, NULL, NULL, NULL, NULL};
        return sl_group_coord_new(&c, &env);
}

static void reset_env(void)
{
        for (int i = 0; i < nrecs; i++) {
                free(recs[i].key);
                free(recs[i].val);
        }
        nrecs = 0;
        npend = 0;
        auto_sync = true;
        append_err = 0;
}

/* ---- calls through the codec ---- */

typedef struct call {
        sl_group_call c;
        kp_arena a; /* request side */
        uint8_t buf[8192];
        bool done;
        void *rs; /* decoded answer (after done) */
} call;

static void on_done(sl_group_call *c)
{
        call *k = (call *)c;
        k->done = true;
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

static kp_str S(const char *s)
{
        return s ? kp_str_c(s) : KP_STR_NULL;
}

/* JoinGroup v`v` with protocols `proto` (default "range", metadata `meta`)
 * and "roundrobin", session timeout `st` ms. */
static call *join_st(sl_group_coord *gc, int16_t v, const char *group, const char *member,
                     const char *inst, const char *proto, const char *meta, int32_t st)
{
        call *k = call_new(11, v);
        kp_join_group_request rq;
        kp_join_group_request_init(&rq);
        kp_join_group_request_join_group_request_protocol pr[2];
        kp_join_group_request_join_group_request_protocol_init(&pr[0]);
        kp_join_group_request_join_group_request_protocol_init(&pr[1]);
        pr[0].name = S(proto ? proto : "range");
        pr[0].metadata = (kp_bytes){(const uint8_t *)meta, (int32_t)strlen(meta)};
        pr[1].name = S("roundrobin");
        pr[1].metadata = (kp_bytes){(const uint8_t *)"rr", 2};
        rq.group_id = S(group);
        rq.session_timeout_ms = st;
        rq.rebalance_timeout_ms = 30000;
        rq.member_id = S(member ? member : "");
        if (v >= 5)
                rq.group_instance_id = S(inst);
        rq.protocol_type = S("consumer");
        rq.protocols = pr;
        rq.protocols_count = 2;
        k->c.rq = ROUNDTRIP_RQ(k, kp_join_group_request, &rq);
        k->c.group_id = rq.group_id;
        kp_join_group_response *rs = kp_arena_alloc(&k->a, 1, sizeof(*rs));
        kp_join_group_response_init(rs);
        k->c.rs = rs;
        sl_group_join(gc, &k->c);
        return k;
}

static call *join(sl_group_coord *gc, int16_t v, const char *group, const char *member,
                  const char *inst, const char *proto, const char *meta)
{
        return join_st(gc, v, group, member, inst, proto, meta, 10000);
}

static kp_join_group_response *join_rs(call *k)
{
        assert_true(k->done);
        kp_join_group_response *rs = k->c.rs;
        if (rs->protocol_name.len < 0 && k->c.version < 7)
                rs->protocol_name = S("");
        return ROUNDTRIP_RS(k, kp_join_group_response);
}

static char *dup_str(kp_str s)
{
        char *p = malloc((size_t)s.len + 1);
        memcpy(p, s.p, (size_t)s.len);
        p[s.len] = 0;
        return p;
}

/* Joins with v5: MEMBER_ID_REQUIRED, then with the id. Returns the parked or
 * answered second call; *id gets the member id. */
static call *join2(sl_group_coord *gc, const char *group, char **id)
{
        call *k = join(gc, 5, group, "", NULL, NULL, "m");
        kp_join_group_response *rs = join_rs(k);
        assert_int_equal(rs->error_code, KP_ERR_MEMBER_ID_REQUIRED);
        assert_true(rs->member_id.len > 0);
        *id = dup_str(rs->member_id);
        call_free(k);
        return join(gc, 5, group, *id, NULL, NULL, "m");
}

static call *sync_(sl_group_coord *gc, int16_t v, const char *group, int32_t gen,
                   const char *member, const char *inst, int nass, const char **ids,
                   const char **ass)
{
        call *k = call_new(14, v);
        kp_sync_group_request rq;
        kp_sync_group_request_init(&rq);
        kp_sync_group_request_sync_group_request_assignment a[4];
        for (int i = 0; i < nass; i++) {
                kp_sync_group_request_sync_group_request_assignment_init(&a[i]);
                a[i].member_id = S(ids[i]);
                a[i].assignment = (kp_bytes){(const uint8_t *)ass[i], (int32_t)strlen(ass[i])};
        }
        rq.group_id = S(group);
        rq.generation_id = gen;
        rq.member_id = S(member);
        if (v >= 3)
                rq.group_instance_id = S(inst);
        rq.assignments = a;
        rq.assignments_count = nass;
        k->c.rq = ROUNDTRIP_RQ(k, kp_sync_group_request, &rq);
        k->c.group_id = rq.group_id;
        kp_sync_group_response *rs = kp_arena_alloc(&k->a, 1, sizeof(*rs));
        kp_sync_group_response_init(rs);
        k->c.rs = rs;
        sl_group_sync(gc, &k->c);
        return k;
}

static int16_t heartbeat(sl_group_coord *gc, const char *group, int32_t gen, const char *member,
                         const char *inst)
{
        call *k = call_new(12, 4);
        kp_heartbeat_request rq;
        kp_heartbeat_request_init(&rq);
        rq.group_id = S(group);
        rq.generation_id = gen;
        rq.member_id = S(member);
        rq.group_instance_id = S(inst);
        k->c.rq = ROUNDTRIP_RQ(k, kp_heartbeat_request, &rq);
        kp_heartbeat_response rs;
        kp_heartbeat_response_init(&rs);
        k->c.rs = &rs;
        sl_group_heartbeat(gc, &k->c);
        assert_true(k->done);
        int16_t e = ROUNDTRIP_RS(k, kp_heartbeat_response)->error_code;
        call_free(k);
        return e;
}

static void tick_to(sl_group_coord *gc, int64_t t)
{
        now_ms = t;
        sl_group_coord_tick(gc);
}

/* ---- tests ---- */

static void test_java_hash(void **st)
{
        (void)st;
        assert_int_equal(sl_group_java_hash(S("")), 0);
        assert_int_equal(sl_group_java_hash(S("abc")), 96354);
        assert_int_equal(sl_group_java_hash(S("my-group")), -1906497762);
        assert_int_equal(sl_group_partition_for(S("my-group"), 50), 12);
        assert_int_equal(sl_group_partition_for(S("console-consumer-12345"), 50), 6);
        /* non-ASCII (UTF-16 surrogates) and Integer.MIN_VALUE (Utils.abs → 0) */
        assert_int_equal(sl_group_java_hash(S("gr\xc3\xbcppe-\xf0\x9f\x98\x80")), -1039948164);
        assert_int_equal(sl_group_partition_for(S("gr\xc3\xbcppe-\xf0\x9f\x98\x80"), 50), 14);
        assert_int_equal(sl_group_java_hash(S("polygenelubricants")), INT32_MIN);
        assert_int_equal(sl_group_partition_for(S("polygenelubricants"), 50), 0);
}

static void test_single_member_lifecycle(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        char *id;
        call *j = join2(gc, "g", &id);
        kp_join_group_response *rs = join_rs(j);
        assert_int_equal(rs->error_code, 0);
        assert_int_equal(rs->generation_id, 1);
        assert_true(kp_str_eq(rs->leader, S(id)));
        assert_true(kp_str_eq(rs->protocol_name, S("range")));
        assert_int_equal(rs->members_count, 1);
        assert_true(kp_str_eq(
            (kp_str){(const char *)rs->members[0].metadata.p, rs->members[0].metadata.len},
            S("m")));
        call_free(j);
        /* Heartbeat in CompletingRebalance: fine; SyncGroup waits for the log */
        assert_int_equal(heartbeat(gc, "g", 1, id, NULL), 0);
        auto_sync = false;
        const char *ids[] = {id};
        const char *as[] = {"A0"};
        call *s = sync_(gc, 5, "g", 1, id, NULL, 1, ids, as);
        assert_false(s->done);
        assert_int_equal(npend, 1);
        sync_all(0);
        assert_true(s->done);
        kp_sync_group_response *sr = ROUNDTRIP_RS(s, kp_sync_group_response);
        assert_int_equal(sr->error_code, 0);
        assert_int_equal(sr->assignment.len, 2);
        assert_memory_equal(sr->assignment.p, "A0", 2);
        assert_true(kp_str_eq(sr->protocol_name, S("range")));
        call_free(s);
        /* generation and member errors */
        assert_int_equal(heartbeat(gc, "g", 1, id, NULL), 0);
        assert_int_equal(heartbeat(gc, "g", 7, id, NULL), KP_ERR_ILLEGAL_GENERATION);
        assert_int_equal(heartbeat(gc, "g", 1, "nobody", NULL), KP_ERR_UNKNOWN_MEMBER_ID);
        assert_int_equal(heartbeat(gc, "nogroup", 1, id, NULL), KP_ERR_UNKNOWN_MEMBER_ID);
        s = sync_(gc, 5, "g", 0, id, NULL, 0, NULL, NULL);
        assert_int_equal(((kp_sync_group_response *)s->c.rs)->error_code,
                         KP_ERR_ILLEGAL_GENERATION);
        call_free(s);
        free(id);
        sl_group_coord_free(gc);
}

static void test_two_members_and_session_timeout(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        char *a, *b;
        call *ja = join2(gc, "g", &a);
        assert_true(ja->done);
        call_free(ja);
        const char *ids1[] = {a};
        const char *as1[] = {"A"};
        call_free(sync_(gc, 3, "g", 1, a, NULL, 1, ids1, as1));
        /* b arrives: a learns of the rebalance from its heartbeat */
        call *jb = join2(gc, "g", &b);
        assert_false(jb->done);
        assert_int_equal(heartbeat(gc, "g", 1, a, NULL), KP_ERR_REBALANCE_IN_PROGRESS);
        ja = join(gc, 5, "g", a, NULL, NULL, "m");
        assert_true(ja->done && jb->done);
        kp_join_group_response *ra = join_rs(ja), *rb = join_rs(jb);
        assert_int_equal(ra->generation_id, 2);
        assert_int_equal(rb->generation_id, 2);
        assert_true(kp_str_eq(ra->leader, S(a)));
        assert_int_equal(ra->members_count, 2);
        assert_int_equal(rb->members_count, 0);
        call_free(ja);
        call_free(jb);
        /* follower's SyncGroup waits for the leader's */
        call *sb = sync_(gc, 3, "g", 2, b, NULL, 0, NULL, NULL);
        assert_false(sb->done);
        const char *ids[] = {a, b};
        const char *as[] = {"AA", "BB"};
        call *sa = sync_(gc, 3, "g", 2, a, NULL, 2, ids, as);
        assert_true(sa->done && sb->done);
        kp_sync_group_response *rsb = ROUNDTRIP_RS(sb, kp_sync_group_response);
        assert_memory_equal(rsb->assignment.p, "BB", 2);
        call_free(sa);
        call_free(sb);
        /* b goes silent: its session expires, a must rejoin alone */
        now_ms += 5000;
        assert_int_equal(heartbeat(gc, "g", 2, a, NULL), 0);
        assert_true(sl_group_coord_next_deadline(gc) <= now_ms + 10000);
        tick_to(gc, now_ms + 5001);
        assert_int_equal(heartbeat(gc, "g", 2, a, NULL), KP_ERR_REBALANCE_IN_PROGRESS);
        assert_int_equal(heartbeat(gc, "g", 2, b, NULL), KP_ERR_UNKNOWN_MEMBER_ID);
        ja = join(gc, 5, "g", a, NULL, NULL, "m");
        assert_true(ja->done);
        assert_int_equal(join_rs(ja)->generation_id, 3);
        assert_int_equal(join_rs(ja)->members_count, 1);
        call_free(ja);
        free(a);
        free(b);
        sl_group_coord_free(gc);
}

static void test_rebalance_timeout_and_initial_delay(void **st)
{
        (void)st;
        reset_env();
        sl_group_cfg cfg = cfg_default();
        cfg.initial_rebalance_delay_ms = 3000;
        sl_group_coord *gc = coord(cfg);
        char *a, *b;
        call *ja = join2(gc, "g", &a);
        assert_false(ja->done); /* initial delay */
        tick_to(gc, now_ms + 2999);
        assert_false(ja->done);
        tick_to(gc, now_ms + 2);
        assert_true(ja->done);
        call_free(ja);
        const char *ids[] = {a};
        const char *as[] = {"A"};
        call_free(sync_(gc, 3, "g", 1, a, NULL, 1, ids, as));
        /* b joins; a never rejoins: after the rebalance timeout (30 s) b's
         * join completes without a */
        call *jb = join2(gc, "g", &b);
        assert_false(jb->done);
        assert_int_equal(heartbeat(gc, "g", 1, a, NULL), KP_ERR_REBALANCE_IN_PROGRESS);
        int64_t t0 = now_ms;
        for (int i = 0; i < 6; i++) { /* a stays alive but does not rejoin */
                tick_to(gc, now_ms + 4900);
                assert_false(jb->done);
                assert_int_equal(heartbeat(gc, "g", 1, a, NULL), KP_ERR_REBALANCE_IN_PROGRESS);
        }
        tick_to(gc, t0 + 30001);
        assert_true(jb->done);
        kp_join_group_response *rb = join_rs(jb);
        assert_int_equal(rb->error_code, 0);
        assert_int_equal(rb->generation_id, 2);
        assert_int_equal(rb->members_count, 1);
        assert_true(kp_str_eq(rb->leader, S(b)));
        call_free(jb);
        free(a);
        free(b);
        sl_group_coord_free(gc);
}

static void test_static_membership(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        char *a;
        call *ja = join2(gc, "g", &a);
        call_free(ja);
        const char *ids1[] = {a};
        const char *as1[] = {"A"};
        call_free(sync_(gc, 3, "g", 1, a, NULL, 1, ids1, as1));
        /* a static member joins without MEMBER_ID_REQUIRED */
        call *js = join(gc, 5, "g", "", "inst-1", NULL, "m");
        assert_false(js->done);
        ja = join(gc, 5, "g", a, NULL, NULL, "m");
        assert_true(js->done);
        kp_join_group_response *rs = join_rs(js);
        assert_int_equal(rs->error_code, 0);
        char *s1 = dup_str(rs->member_id);
        int32_t gen = rs->generation_id;
        call_free(js);
        call_free(ja);
        const char *ids[] = {a, s1};
        const char *as[] = {"AA", "SS"};
        call *ss = sync_(gc, 3, "g", gen, s1, "inst-1", 0, NULL, NULL);
        call_free(sync_(gc, 3, "g", gen, a, NULL, 2, ids, as));
        assert_true(ss->done);
        call_free(ss);
        /* the static member restarts: new id, same generation and assignment,
         * no rebalance; the old id is fenced */
        js = join(gc, 5, "g", "", "inst-1", NULL, "m");
        assert_true(js->done);
        rs = join_rs(js);
        assert_int_equal(rs->error_code, 0);
        assert_int_equal(rs->generation_id, gen);
        assert_false(kp_str_eq(rs->member_id, S(s1)));
        char *s2 = dup_str(rs->member_id);
        call_free(js);
        assert_int_equal(heartbeat(gc, "g", gen, a, NULL), 0);
        assert_int_equal(heartbeat(gc, "g", gen, s1, "inst-1"), KP_ERR_FENCED_INSTANCE_ID);
        assert_int_equal(heartbeat(gc, "g", gen, s2, "inst-1"), 0);
        ss = sync_(gc, 3, "g", gen, s2, "inst-1", 0, NULL, NULL);
        assert_true(ss->done);
        assert_memory_equal(ROUNDTRIP_RS(ss, kp_sync_group_response)->assignment.p, "SS", 2);
        call_free(ss);
        /* LeaveGroup v3+ by instance id with the wrong member id: fenced */
        call *k = call_new(13, 4);
        kp_leave_group_request lq;
        kp_leave_group_request_init(&lq);
        kp_leave_group_request_member_identity mi[2];
        kp_leave_group_request_member_identity_init(&mi[0]);
        kp_leave_group_request_member_identity_init(&mi[1]);
        mi[0].member_id = S(s1);
        mi[0].group_instance_id = S("inst-1");
        mi[1].member_id = S(s2);
        mi[1].group_instance_id = S("inst-1");
        lq.group_id = S("g");
        lq.members = mi;
        lq.members_count = 2;
        k->c.rq = ROUNDTRIP_RQ(k, kp_leave_group_request, &lq);
        kp_leave_group_response lr;
        kp_leave_group_response_init(&lr);
        k->c.rs = &lr;
        sl_group_leave(gc, &k->c);
        kp_leave_group_response *lrs = ROUNDTRIP_RS(k, kp_leave_group_response);
        assert_int_equal(lrs->members_count, 2);
        assert_int_equal(lrs->members[0].error_code, KP_ERR_FENCED_INSTANCE_ID);
        assert_int_equal(lrs->members[1].error_code, 0);
        call_free(k);
        assert_int_equal(heartbeat(gc, "g", gen, a, NULL), KP_ERR_REBALANCE_IN_PROGRESS);
        free(a);
        free(s1);
        free(s2);
        sl_group_coord_free(gc);
}

static void test_bad_joins(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        char longid[300];
        memset(longid, 'x', sizeof(longid) - 1);
        longid[sizeof(longid) - 1] = 0;
        struct {
                const char *group;
                int16_t want;
        } ids[] = {{"", KP_ERR_INVALID_GROUP_ID}, {longid, KP_ERR_INVALID_GROUP_ID}};
        for (size_t i = 0; i < 2; i++) {
                call *k = join(gc, 5, ids[i].group, "", NULL, NULL, "m");
                assert_int_equal(join_rs(k)->error_code, ids[i].want);
                call_free(k);
        }
        /* session timeout outside [6000, 300000] */
        call *k = call_new(11, 5);
        kp_join_group_request rq;
        kp_join_group_request_init(&rq);
        kp_join_group_request_join_group_request_protocol pr;
        kp_join_group_request_join_group_request_protocol_init(&pr);
        pr.name = S("range");
        pr.metadata = (kp_bytes){(const uint8_t *)"", 0};
        rq.group_id = S("g");
        rq.session_timeout_ms = 10;
        rq.member_id = S("");
        rq.protocol_type = S("consumer");
        rq.protocols = &pr;
        rq.protocols_count = 1;
        k->c.rq = ROUNDTRIP_RQ(k, kp_join_group_request, &rq);
        kp_join_group_response rs;
        kp_join_group_response_init(&rs);
        k->c.rs = &rs;
        sl_group_join(gc, &k->c);
        assert_int_equal(rs.error_code, KP_ERR_INVALID_SESSION_TIMEOUT);
        call_free(k);
        /* empty protocol type, no protocols, oversized metadata */
        rq.session_timeout_ms = 10000;
        rq.protocol_type = S("");
        k = call_new(11, 5);
        k->c.rq = &rq;
        kp_join_group_response_init(&rs);
        k->c.rs = &rs;
        sl_group_join(gc, &k->c);
        assert_int_equal(rs.error_code, KP_ERR_INCONSISTENT_GROUP_PROTOCOL);
        call_free(k);
        rq.protocol_type = S("consumer");
        uint8_t *big = calloc(1, SL_GROUP_MEMBER_META_MAX + 1);
        pr.metadata = (kp_bytes){big, SL_GROUP_MEMBER_META_MAX + 1};
        k = call_new(11, 5);
        k->c.rq = &rq;
        kp_join_group_response_init(&rs);
        k->c.rs = &rs;
        sl_group_join(gc, &k->c);
        assert_int_equal(rs.error_code, KP_ERR_INVALID_REQUEST);
        call_free(k);
        free(big);
        /* no common protocol / other type than the group's */
        char *a;
        call *ja = join2(gc, "g", &a);
        call_free(ja);
        k = join(gc, 5, "g", "", NULL, "sticky-only", "m");
        kp_join_group_response *r2 = join_rs(k);
        /* "sticky-only" + "roundrobin": roundrobin is common, so accepted */
        assert_int_equal(r2->error_code, KP_ERR_MEMBER_ID_REQUIRED);
        call_free(k);
        pr.name = S("nothing-in-common");
        pr.metadata = (kp_bytes){(const uint8_t *)"", 0};
        k = call_new(11, 5);
        k->c.rq = &rq;
        kp_join_group_response_init(&rs);
        k->c.rs = &rs;
        sl_group_join(gc, &k->c);
        assert_int_equal(rs.error_code, KP_ERR_INCONSISTENT_GROUP_PROTOCOL);
        call_free(k);
        /* group.max.size = 3: a + two pending ids fill it */
        k = join(gc, 5, "g", "", NULL, NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_MEMBER_ID_REQUIRED);
        call_free(k);
        k = join(gc, 5, "g", "", NULL, NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_GROUP_MAX_SIZE_REACHED);
        call_free(k);
        /* v3 (no MEMBER_ID_REQUIRED) unknown member id */
        k = join(gc, 3, "g", "bogus", NULL, NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_UNKNOWN_MEMBER_ID);
        call_free(k);
        free(a);
        sl_group_coord_free(gc);
}

/* OffsetCommit of topic partitions 0..np-1 at offsets off.., partition i
 * with metadata metas[i]. */
static call *commit_metas(sl_group_coord *gc, int16_t v, const char *group, int32_t gen,
                          const char *member, int64_t off, const char *const *metas, int np)
{
        call *k = call_new(8, v);
        kp_offset_commit_request rq;
        kp_offset_commit_request_init(&rq);
        kp_offset_commit_request_offset_commit_request_topic t;
        kp_offset_commit_request_offset_commit_request_topic_init(&t);
        kp_offset_commit_request_offset_commit_request_partition p[8];
        for (int i = 0; i < np; i++) {
                kp_offset_commit_request_offset_commit_request_partition_init(&p[i]);
                p[i].partition_index = i;
                p[i].committed_offset = off + i;
                p[i].committed_leader_epoch = v >= 6 ? 3 : -1;
                p[i].committed_metadata = S(metas[i]);
        }
        t.name = S("topic");
        t.partitions = p;
        t.partitions_count = np;
        rq.group_id = S(group);
        rq.generation_id_or_member_epoch = gen;
        rq.member_id = S(member);
        rq.topics = &t;
        rq.topics_count = 1;
        const kp_offset_commit_request *d = ROUNDTRIP_RQ(k, kp_offset_commit_request, &rq);
        k->c.rq = d;
        kp_offset_commit_response *rs = kp_arena_alloc(&k->a, 1, sizeof(*rs));
        kp_offset_commit_response_init(rs);
        rs->topics = kp_arena_alloc(&k->a, 1, sizeof(*rs->topics));
        rs->topics_count = 1;
        rs->topics[0].name = d->topics[0].name;
        rs->topics[0].partitions =
            kp_arena_alloc(&k->a, (size_t)np, sizeof(*rs->topics[0].partitions));
        rs->topics[0].partitions_count = np;
        for (int i = 0; i < np; i++)
                rs->topics[0].partitions[i].partition_index = i;
        k->c.rs = rs;
        sl_group_offset_commit(gc, &k->c);
        return k;
}

static call *commit(sl_group_coord *gc, int16_t v, const char *group, int32_t gen,
                    const char *member, int64_t off, const char *meta, int np)
{
        const char *metas[8];
        for (int i = 0; i < np; i++)
                metas[i] = meta;
        return commit_metas(gc, v, group, gen, member, off, metas, np);
}

static int16_t commit_err(call *k, int i)
{
        return ROUNDTRIP_RS(k, kp_offset_commit_response)->topics[0].partitions[i].error_code;
}

/* OffsetFetch (v8 group form) of topic partitions 0..np-1; returns offsets. */
static void fetch(sl_group_coord *gc, const char *group, int np, int64_t *out, int32_t *epochs)
{
        call *k = call_new(9, 8);
        kp_offset_fetch_request_offset_fetch_request_group q;
        kp_offset_fetch_request_offset_fetch_request_group_init(&q);
        kp_offset_fetch_request_offset_fetch_request_topics t;
        int32_t idx[8];
        for (int i = 0; i < np; i++)
                idx[i] = i;
        t.name = S("topic");
        t.partition_indexes = idx;
        t.partition_indexes_count = np;
        q.group_id = S(group);
        q.topics = &t;
        q.topics_count = 1;
        k->c.rq = &q;
        kp_offset_fetch_response_offset_fetch_response_group g;
        kp_offset_fetch_response_offset_fetch_response_group_init(&g);
        k->c.rs = &g;
        sl_group_offset_fetch(gc, &k->c);
        assert_true(k->done);
        assert_int_equal(g.error_code, 0);
        assert_int_equal(g.topics_count, 1);
        for (int i = 0; i < np; i++) {
                out[i] = g.topics[0].partitions[i].committed_offset;
                if (epochs)
                        epochs[i] = g.topics[0].partitions[i].committed_leader_epoch;
        }
        call_free(k);
}

static void test_offsets_and_replay(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        /* a simple (generation-less) commit creates an Empty group; the answer
         * waits for the append to be durable */
        auto_sync = false;
        call *k = commit(gc, 7, "simple", -1, "", 100, "meta", 3);
        assert_false(k->done);
        int64_t offs[3];
        fetch(gc, "simple", 3, offs, NULL);
        assert_int_equal(offs[0], -1); /* not applied before it is durable */
        sync_all(0);
        assert_true(k->done);
        for (int i = 0; i < 3; i++)
                assert_int_equal(commit_err(k, i), 0);
        call_free(k);
        int32_t ep[3];
        fetch(gc, "simple", 3, offs, ep);
        assert_int_equal(offs[0], 100);
        assert_int_equal(offs[2], 102);
        assert_int_equal(ep[1], 3);
        auto_sync = true;
        /* a generation that is gone, metadata too large */
        k = commit(gc, 7, "gone", 5, "m-1", 1, "", 1);
        assert_int_equal(commit_err(k, 0), KP_ERR_ILLEGAL_GENERATION);
        call_free(k);
        char big[4096 + 2];
        memset(big, 'm', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        k = commit(gc, 7, "simple", -1, "", 1, big, 1);
        assert_int_equal(commit_err(k, 0), KP_ERR_OFFSET_METADATA_TOO_LARGE);
        call_free(k);
        /* a member's commits are checked against its generation */
        char *a;
        call_free(join2(gc, "grp", &a));
        k = commit(gc, 8, "grp", 1, a, 10, NULL, 2);
        assert_int_equal(commit_err(k, 0), KP_ERR_REBALANCE_IN_PROGRESS);
        call_free(k);
        const char *ids[] = {a};
        const char *as[] = {"A"};
        call_free(sync_(gc, 3, "grp", 1, a, NULL, 1, ids, as));
        k = commit(gc, 2, "grp", 0, a, 10, NULL, 2);
        assert_int_equal(commit_err(k, 0), KP_ERR_ILLEGAL_GENERATION);
        call_free(k);
        k = commit(gc, 2, "grp", 1, "stranger", 10, NULL, 2);
        assert_int_equal(commit_err(k, 0), KP_ERR_UNKNOWN_MEMBER_ID);
        call_free(k);
        k = commit(gc, 1, "grp", 1, a, 10, NULL, 2);
        assert_int_equal(commit_err(k, 0), 0);
        call_free(k);
        /* replay everything into a fresh coordinator */
        sl_group_coord *gc2 = coord(cfg_default());
        for (int i = 0; i < nrecs; i++)
                assert_int_equal(
                    sl_group_coord_replay(gc2, (kp_bytes){recs[i].key, recs[i].klen},
                                          (kp_bytes){recs[i].val, recs[i].val ? recs[i].vlen : -1},
                                          now_ms),
                    0);
        sl_group_coord_loaded(gc2);
        fetch(gc2, "simple", 3, offs, ep);
        assert_int_equal(offs[1], 101);
        assert_int_equal(ep[1], 3);
        fetch(gc2, "grp", 2, offs, NULL);
        assert_int_equal(offs[0], 10);
        assert_int_equal(offs[1], 11);
        /* the member and its generation came back too */
        assert_int_equal(heartbeat(gc2, "grp", 1, a, NULL), 0);
        free(a);
        sl_group_coord_free(gc2);
        sl_group_coord_free(gc);
}

static void test_describe_list_delete_retention(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        call_free(commit(gc, 7, "empty-g", -1, "", 5, NULL, 2));
        char *a;
        call_free(join2(gc, "live-g", &a));
        /* DescribeGroups */
        call *k = call_new(15, 5);
        kp_describe_groups_response_described_group d;
        kp_describe_groups_response_described_group_init(&d);
        k->c.group_id = S("live-g");
        k->c.rs = &d;
        sl_group_describe(gc, &k->c);
        assert_true(kp_str_eq(d.group_state, S("CompletingRebalance")));
        assert_true(kp_str_eq(d.protocol_type, S("consumer")));
        assert_int_equal(d.members_count, 1);
        assert_true(kp_str_eq(d.members[0].client_host, S("/127.0.0.1")));
        call_free(k);
        /* ListGroups with a state filter (v4, case-insensitive) */
        k = call_new(16, 4);
        kp_list_groups_request lq;
        kp_list_groups_request_init(&lq);
        kp_str f = S("empty");
        lq.states_filter = &f;
        lq.states_filter_count = 1;
        k->c.rq = &lq;
        kp_list_groups_response lr;
        kp_list_groups_response_init(&lr);
        k->c.rs = &lr;
        sl_group_list(gc, &k->c);
        kp_list_groups_response *l = ROUNDTRIP_RS(k, kp_list_groups_response);
        assert_int_equal(l->groups_count, 1);
        assert_true(kp_str_eq(l->groups[0].group_id, S("empty-g")));
        call_free(k);
        /* DeleteGroups: live refused, unknown not found, empty deleted */
        const char *names[] = {"live-g", "nope", "empty-g"};
        int16_t want[] = {KP_ERR_NON_EMPTY_GROUP, KP_ERR_GROUP_ID_NOT_FOUND, 0};
        for (int i = 0; i < 3; i++) {
                k = call_new(42, 2);
                k->c.group_id = S(names[i]);
                sl_group_delete(gc, &k->c);
                assert_true(k->done);
                assert_int_equal(k->c.error, want[i]);
                call_free(k);
        }
        int64_t offs[2];
        fetch(gc, "empty-g", 2, offs, NULL);
        assert_int_equal(offs[0], -1);
        /* retention: an Empty group's offsets expire retention after it emptied */
        call_free(commit(gc, 7, "old-g", -1, "", 5, NULL, 2));
        int before = nrecs;
        wall_ms += 3600000 - 1;
        sl_group_coord_tick(gc);
        fetch(gc, "old-g", 2, offs, NULL);
        assert_int_equal(offs[0], 5);
        wall_ms += 2;
        sl_group_coord_tick(gc);
        fetch(gc, "old-g", 2, offs, NULL);
        assert_int_equal(offs[0], -1);
        assert_int_equal(nrecs, before + 3); /* two offset tombstones + group */
        assert_null(recs[nrecs - 1].val);
        free(a);
        sl_group_coord_free(gc);
        reset_env();
}

/* ConsumerProtocolSubscription v0 for one topic, as clients send it. */
static size_t subscription(uint8_t *b, const char *topic)
{
        size_t tl = strlen(topic), n = 0;
        b[n++] = 0, b[n++] = 0;                         /* version 0 */
        b[n++] = 0, b[n++] = 0, b[n++] = 0, b[n++] = 1; /* one topic */
        b[n++] = 0, b[n++] = (uint8_t)tl;
        memcpy(b + n, topic, tl);
        n += tl;
        b[n++] = 0xff, b[n++] = 0xff, b[n++] = 0xff, b[n++] = 0xff; /* null user data */
        return n;
}

static int16_t offset_delete(sl_group_coord *gc, const char *group, const char *topic,
                             int16_t *perr)
{
        call *k = call_new(47, 0);
        kp_offset_delete_request rq;
        kp_offset_delete_request_init(&rq);
        kp_offset_delete_request_offset_delete_request_topic t;
        kp_offset_delete_request_offset_delete_request_partition p = {0};
        t.name = S(topic);
        t.partitions = &p;
        t.partitions_count = 1;
        rq.group_id = S(group);
        rq.topics = &t;
        rq.topics_count = 1;
        k->c.rq = ROUNDTRIP_RQ(k, kp_offset_delete_request, &rq);
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

static void test_offset_delete_and_sync_timeout(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        /* a live consumer group subscribed to "topic" */
        uint8_t meta[64];
        size_t ml = subscription(meta, "topic");
        call *j = call_new(11, 3);
        kp_join_group_request rq;
        kp_join_group_request_init(&rq);
        kp_join_group_request_join_group_request_protocol pr;
        kp_join_group_request_join_group_request_protocol_init(&pr);
        pr.name = S("range");
        pr.metadata = (kp_bytes){meta, (int32_t)ml};
        rq.group_id = S("live");
        rq.session_timeout_ms = 10000;
        rq.rebalance_timeout_ms = 20000;
        rq.member_id = S("");
        rq.protocol_type = S("consumer");
        rq.protocols = &pr;
        rq.protocols_count = 1;
        j->c.rq = ROUNDTRIP_RQ(j, kp_join_group_request, &rq);
        kp_join_group_response jr;
        kp_join_group_response_init(&jr);
        j->c.rs = &jr;
        sl_group_join(gc, &j->c);
        assert_true(j->done);
        assert_int_equal(jr.error_code, 0);
        char *id = dup_str(jr.member_id);
        call_free(j);
        const char *ids[] = {id};
        const char *as[] = {"A"};
        call_free(sync_(gc, 3, "live", 1, id, NULL, 1, ids, as));
        call_free(commit(gc, 7, "live", 1, id, 7, NULL, 1));
        /* offsets of a subscribed topic stay; of another topic they go */
        int16_t perr;
        assert_int_equal(offset_delete(gc, "live", "topic", &perr), 0);
        assert_int_equal(perr, KP_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
        assert_int_equal(offset_delete(gc, "live", "other", &perr), 0);
        assert_int_equal(perr, 0);
        assert_int_equal(offset_delete(gc, "nope", "topic", &perr), KP_ERR_GROUP_ID_NOT_FOUND);
        int64_t off;
        fetch(gc, "live", 1, &off, NULL);
        assert_int_equal(off, 7);
        /* a rebalance whose leader never sends SyncGroup: after the rebalance
         * timeout the silent members are dropped and the rest rejoin */
        call *jb = join(gc, 3, "live", "", NULL, NULL, "m");
        assert_false(jb->done);
        j = call_new(11, 3);
        rq.member_id = S(id);
        j->c.rq = ROUNDTRIP_RQ(j, kp_join_group_request, &rq);
        kp_join_group_response_init(&jr);
        j->c.rs = &jr;
        sl_group_join(gc, &j->c);
        assert_true(j->done && jb->done);
        kp_join_group_response *rb = join_rs(jb);
        assert_int_equal(rb->generation_id, 2);
        char *b = dup_str(rb->member_id);
        call_free(j);
        call_free(jb);
        call *sb = sync_(gc, 3, "live", 2, b, NULL, 0, NULL, NULL);
        assert_false(sb->done);
        int64_t t0 = now_ms;
        for (int i = 0; i < 5; i++) { /* both stay alive; the leader never syncs */
                tick_to(gc, now_ms + 5000);
                assert_false(sb->done);
                assert_int_equal(heartbeat(gc, "live", 2, b, NULL), 0);
                assert_int_equal(heartbeat(gc, "live", 2, id, NULL), 0);
        }
        tick_to(gc, t0 + 30001); /* the largest rebalance timeout (b's 30 s) */
        assert_true(sb->done);
        assert_int_equal(((kp_sync_group_response *)sb->c.rs)->error_code,
                         KP_ERR_REBALANCE_IN_PROGRESS);
        call_free(sb);
        assert_int_equal(heartbeat(gc, "live", 2, id, NULL), KP_ERR_UNKNOWN_MEMBER_ID);
        assert_int_equal(heartbeat(gc, "live", 2, b, NULL), KP_ERR_REBALANCE_IN_PROGRESS);
        free(id);
        free(b);
        sl_group_coord_free(gc);
        reset_env();
}

/* LeaveGroup v3 of one member. */
static int16_t leave1(sl_group_coord *gc, const char *group, const char *member)
{
        call *k = call_new(13, 3);
        kp_leave_group_request lq;
        kp_leave_group_request_init(&lq);
        kp_leave_group_request_member_identity mi;
        kp_leave_group_request_member_identity_init(&mi);
        mi.member_id = S(member);
        lq.group_id = S(group);
        lq.members = &mi;
        lq.members_count = 1;
        k->c.rq = ROUNDTRIP_RQ(k, kp_leave_group_request, &lq);
        kp_leave_group_response lr;
        kp_leave_group_response_init(&lr);
        k->c.rs = &lr;
        sl_group_leave(gc, &k->c);
        assert_true(k->done);
        kp_leave_group_response *r = ROUNDTRIP_RS(k, kp_leave_group_response);
        int16_t e = r->error_code ? r->error_code : r->members[0].error_code;
        call_free(k);
        return e;
}

/* One member joined and synced; returns its id. */
static char *stable1(sl_group_coord *gc, const char *group)
{
        char *id;
        call *j = join2(gc, group, &id);
        kp_join_group_response *r = join_rs(j);
        assert_int_equal(r->error_code, 0);
        int32_t gen = r->generation_id;
        call_free(j);
        const char *ids[] = {id};
        const char *as[] = {"A"};
        call *s = sync_(gc, 5, group, gen, id, NULL, 1, ids, as);
        assert_int_equal(ROUNDTRIP_RS(s, kp_sync_group_response)->error_code, 0);
        call_free(s);
        return id;
}

/* group.max.size: a join beyond it is refused (fresh, v3 and new static
 * members alike) without disturbing the members or other groups. */
static void test_limit_group_max_size(void **st)
{
        (void)st;
        reset_env();
        sl_group_cfg cfg = cfg_default();
        cfg.max_size = 1;
        sl_group_coord *gc = coord(cfg);
        char *a = stable1(gc, "full");
        call *k = join(gc, 5, "full", "", NULL, NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_GROUP_MAX_SIZE_REACHED);
        call_free(k);
        k = join(gc, 3, "full", "", NULL, NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_GROUP_MAX_SIZE_REACHED);
        call_free(k);
        k = join(gc, 5, "full", "", "static-1", NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_GROUP_MAX_SIZE_REACHED);
        call_free(k);
        /* the member is still Stable in generation 1; another group is free */
        assert_int_equal(heartbeat(gc, "full", 1, a, NULL), 0);
        char *o = stable1(gc, "other");
        assert_int_equal(heartbeat(gc, "other", 1, o, NULL), 0);
        /* once a leaves there is room again */
        assert_int_equal(leave1(gc, "full", a), 0);
        char *b = stable1(gc, "full");
        free(b);
        free(o);
        free(a);
        sl_group_coord_free(gc);
}

/* group.min/max.session.timeout.ms bound a JoinGroup's session timeout
 * (both ends inclusive). */
static void test_limit_session_timeout(void **st)
{
        (void)st;
        reset_env();
        sl_group_cfg cfg = cfg_default();
        cfg.min_session_timeout_ms = 1000;
        cfg.max_session_timeout_ms = 20000;
        sl_group_coord *gc = coord(cfg);
        struct {
                int32_t st;
                int16_t want;
        } cases[] = {
            {999, KP_ERR_INVALID_SESSION_TIMEOUT},       {20001, KP_ERR_INVALID_SESSION_TIMEOUT},
            {INT32_MAX, KP_ERR_INVALID_SESSION_TIMEOUT}, {-1, KP_ERR_INVALID_SESSION_TIMEOUT},
            {1000, KP_ERR_MEMBER_ID_REQUIRED},           {20000, KP_ERR_MEMBER_ID_REQUIRED}};
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                call *k = join_st(gc, 5, "st", "", NULL, NULL, "m", cases[i].st);
                assert_int_equal(join_rs(k)->error_code, cases[i].want);
                call_free(k);
        }
        sl_group_coord_free(gc);
}

/* offset.metadata.max.bytes is checked per partition: the others of the same
 * request are committed. */
static void test_limit_offset_metadata(void **st)
{
        (void)st;
        reset_env();
        sl_group_cfg cfg = cfg_default();
        cfg.offset_metadata_max = 8;
        sl_group_coord *gc = coord(cfg);
        const char *metas[] = {"12345678", "123456789", NULL};
        call *k = commit_metas(gc, 7, "meta", -1, "", 10, metas, 3);
        assert_int_equal(commit_err(k, 0), 0);
        assert_int_equal(commit_err(k, 1), KP_ERR_OFFSET_METADATA_TOO_LARGE);
        assert_int_equal(commit_err(k, 2), 0);
        call_free(k);
        int64_t offs[3];
        fetch(gc, "meta", 3, offs, NULL);
        assert_int_equal(offs[0], 10);
        assert_int_equal(offs[1], -1);
        assert_int_equal(offs[2], 12);
        sl_group_coord_free(gc);
        reset_env();
}

/* offsets.retention.minutes: a group that had members keeps its offsets while
 * it has any and loses them all retention after it emptied; a simple group
 * loses each offset retention after its own commit (a consumer that keeps
 * committing keeps its offsets), and goes when none is left. */
static void test_limit_offsets_retention(void **st)
{
        (void)st;
        reset_env();
        sl_group_cfg cfg = cfg_default();
        cfg.offsets_retention_ms = 60000;
        sl_group_coord *gc = coord(cfg);
        int64_t offs[2];
        /* simple group: p0 recommitted 40 s later, p1 not; nothing but the
         * commit brings the coordinator's tick that expires them */
        call_free(commit(gc, 7, "simple", -1, "", 5, NULL, 2));
        assert_true(sl_group_coord_next_deadline(gc) <= now_ms + 60000);
        wall_ms += 40000;
        call_free(commit(gc, 7, "simple", -1, "", 50, NULL, 1));
        int before = nrecs;
        wall_ms += 20001;
        sl_group_coord_tick(gc);
        fetch(gc, "simple", 2, offs, NULL);
        assert_int_equal(offs[0], 50);
        assert_int_equal(offs[1], -1);
        assert_int_equal(nrecs, before + 1); /* p1's tombstone only */
        assert_null(recs[nrecs - 1].val);
        wall_ms += 40000;
        sl_group_coord_tick(gc);
        fetch(gc, "simple", 2, offs, NULL);
        assert_int_equal(offs[0], -1);
        assert_int_equal(nrecs, before + 3); /* p0 and the group */
        /* consumer group: Stable for twice the retention, then Empty */
        char *a = stable1(gc, "cg");
        call *k = commit(gc, 7, "cg", 1, a, 7, NULL, 2);
        assert_int_equal(commit_err(k, 0), 0);
        call_free(k);
        wall_ms += 120000;
        sl_group_coord_tick(gc);
        fetch(gc, "cg", 2, offs, NULL);
        assert_int_equal(offs[1], 8);
        assert_int_equal(leave1(gc, "cg", a), 0);
        wall_ms += 59999;
        sl_group_coord_tick(gc);
        fetch(gc, "cg", 2, offs, NULL);
        assert_int_equal(offs[0], 7);
        wall_ms += 2;
        sl_group_coord_tick(gc);
        fetch(gc, "cg", 2, offs, NULL);
        assert_int_equal(offs[0], -1);
        assert_int_equal(offs[1], -1);
        free(a);
        sl_group_coord_free(gc);
        reset_env();
}

/* A leader's assignment the log refuses as too large: SyncGroup answers
 * UNKNOWN_SERVER_ERROR as Kafka's storeGroup does (not OffsetCommit's
 * INVALID_COMMIT_OFFSET_SIZE) and the group rebalances. */
static void test_sync_record_too_large(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        char *a;
        call *j = join2(gc, "big", &a);
        kp_join_group_response *r = join_rs(j);
        assert_int_equal(r->error_code, 0);
        int32_t gen = r->generation_id;
        call_free(j);
        append_err = KP_ERR_INVALID_COMMIT_OFFSET_SIZE;
        const char *ids[] = {a};
        const char *as[] = {"too large"};
        call *s = sync_(gc, 5, "big", gen, a, NULL, 1, ids, as);
        assert_true(s->done);
        assert_int_equal(ROUNDTRIP_RS(s, kp_sync_group_response)->error_code,
                         KP_ERR_UNKNOWN_SERVER_ERROR);
        call_free(s);
        assert_int_equal(heartbeat(gc, "big", gen, a, NULL), KP_ERR_REBALANCE_IN_PROGRESS);
        append_err = 0;
        free(a);
        sl_group_coord_free(gc);
        reset_env();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_java_hash),
            cmocka_unit_test(test_single_member_lifecycle),
            cmocka_unit_test(test_two_members_and_session_timeout),
            cmocka_unit_test(test_rebalance_timeout_and_initial_delay),
            cmocka_unit_test(test_static_membership),
            cmocka_unit_test(test_bad_joins),
            cmocka_unit_test(test_offsets_and_replay),
            cmocka_unit_test(test_describe_list_delete_retention),
            cmocka_unit_test(test_offset_delete_and_sync_timeout),
            cmocka_unit_test(test_limit_group_max_size),
            cmocka_unit_test(test_limit_session_timeout),
            cmocka_unit_test(test_limit_offset_metadata),
            cmocka_unit_test(test_limit_offsets_retention),
            cmocka_unit_test(test_sync_record_too_large),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
