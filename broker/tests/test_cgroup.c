/* broker/tests/test_cgroup.c — unit tests of the KIP-848 consumer group
 * heartbeat (broker/group/cgroup*.c) through the generated codec: members
 * walked through join, assignment, revocation, reassignment, expiry, leave
 * and static leave/rejoin, every error the heartbeat answers, range and new
 * partitions, replay, regex subscriptions, and the rollback of changes the
 * log refuses. Fake clock, log and topic table: cgroup_fake_env.c; the
 * consumer groups with the rest of the coordinator: test_cgroup_interplay.c. */
#include "cgroup_fake_env.h"

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
            cmocka_unit_test(test_regex_subscription),
            cmocka_unit_test(test_append_failure_rollback),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
