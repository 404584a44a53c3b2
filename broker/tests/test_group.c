/* broker/tests/test_group.c — unit tests of the classic group coordinator's
 * membership and rebalance state machine (broker/group/): placement hash,
 * join/sync/heartbeat/leave of one and two members, session, rebalance and
 * initial-delay timeouts, static membership, and malformed joins. Requests
 * and answers go through the generated codec; the fake clock and offsets log
 * are group_fake_env.c's. Offsets: test_group_offsets.c; limits:
 * test_group_limits.c. */
#include "group_fake_env.h"

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

/* A restarted static member's new member id is answered only once its
 * record is durable; when the write fails (at once, or at the sync) the old
 * id and the group are as before (Kafka reverts) and the rejoin gets the
 * error. */
static void test_static_rejoin_write_fails(void **st)
{
        (void)st;
        reset_env();
        sl_group_coord *gc = coord(cfg_default());
        char *a;
        call_free(join2(gc, "g", &a));
        const char *ids1[] = {a};
        const char *as1[] = {"A"};
        call_free(sync_(gc, 3, "g", 1, a, NULL, 1, ids1, as1));
        call *js = join(gc, 5, "g", "", "inst-1", NULL, "m");
        call_free(join(gc, 5, "g", a, NULL, NULL, "m"));
        kp_join_group_response *rs = join_rs(js);
        assert_int_equal(rs->error_code, 0);
        char *s1 = dup_str(rs->member_id);
        int32_t gen = rs->generation_id;
        call_free(js);
        const char *ids[] = {a, s1};
        const char *as[] = {"AA", "SS"};
        call *ss = sync_(gc, 3, "g", gen, s1, "inst-1", 0, NULL, NULL);
        call_free(sync_(gc, 3, "g", gen, a, NULL, 2, ids, as));
        call_free(ss);
        /* the log refuses the record: the old id stays, nothing rebalances */
        append_err = KP_ERR_COORDINATOR_NOT_AVAILABLE;
        js = join(gc, 5, "g", "", "inst-1", NULL, "m");
        assert_int_equal(join_rs(js)->error_code, KP_ERR_COORDINATOR_NOT_AVAILABLE);
        call_free(js);
        append_err = 0;
        assert_int_equal(heartbeat(gc, "g", gen, s1, "inst-1"), 0);
        assert_int_equal(heartbeat(gc, "g", gen, a, NULL), 0);
        /* the record is written but its sync fails: the same */
        auto_sync = false;
        js = join(gc, 5, "g", "", "inst-1", NULL, "m");
        assert_false(js->done);
        sync_all(KP_ERR_COORDINATOR_NOT_AVAILABLE);
        assert_int_equal(join_rs(js)->error_code, KP_ERR_COORDINATOR_NOT_AVAILABLE);
        call_free(js);
        assert_int_equal(heartbeat(gc, "g", gen, s1, "inst-1"), 0);
        /* a durable record: the new id, answered after the sync */
        js = join(gc, 5, "g", "", "inst-1", NULL, "m");
        assert_false(js->done);
        assert_int_equal(heartbeat(gc, "g", gen, a, NULL), 0);
        sync_all(0);
        rs = join_rs(js);
        assert_int_equal(rs->error_code, 0);
        assert_int_equal(rs->generation_id, gen);
        char *s2 = dup_str(rs->member_id);
        call_free(js);
        assert_int_equal(heartbeat(gc, "g", gen, s1, "inst-1"), KP_ERR_FENCED_INSTANCE_ID);
        assert_int_equal(heartbeat(gc, "g", gen, s2, "inst-1"), 0);
        free(a);
        free(s1);
        free(s2);
        sl_group_coord_free(gc);
        reset_env();
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
        /* group.max.size = 3: pending MEMBER_ID_REQUIRED ids do not count
         * (a and three pending ids; test_group_limits.c has the real joins) */
        k = join(gc, 5, "g", "", NULL, NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_MEMBER_ID_REQUIRED);
        call_free(k);
        k = join(gc, 5, "g", "", NULL, NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_MEMBER_ID_REQUIRED);
        call_free(k);
        /* v3 (no MEMBER_ID_REQUIRED) unknown member id */
        k = join(gc, 3, "g", "bogus", NULL, NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_UNKNOWN_MEMBER_ID);
        call_free(k);
        free(a);
        sl_group_coord_free(gc);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_java_hash),
            cmocka_unit_test(test_single_member_lifecycle),
            cmocka_unit_test(test_two_members_and_session_timeout),
            cmocka_unit_test(test_rebalance_timeout_and_initial_delay),
            cmocka_unit_test(test_static_membership),
            cmocka_unit_test(test_static_rejoin_write_fails),
            cmocka_unit_test(test_bad_joins),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
