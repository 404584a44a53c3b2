/* broker/tests/test_cgroup_interplay.c — unit tests of KIP-848 consumer
 * groups with the rest of the group coordinator: ListGroups/DescribeGroups
 * and ConsumerGroupDescribe telling the kinds apart, classic and consumer
 * groups sharing one namespace, OffsetCommit/OffsetFetch/OffsetDelete with
 * member epochs, the uniform assignor over mixed subscriptions, and
 * DeleteGroups. Fake clock, log and topic table: cgroup_fake_env.c. */
#include "cgroup_fake_env.h"

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
        assert_int_equal(offset_delete_one(gc, "g", "t1", &perr), 0);
        assert_int_equal(perr, KP_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
        assert_int_equal(offset_delete_one(gc, "g", "t2", &perr), 0);
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

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_list_and_describe_kinds),
            cmocka_unit_test(test_classic_and_consumer),
            cmocka_unit_test(test_offsets_member_epochs),
            cmocka_unit_test(test_uniform_mixed_and_delete),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
