/* broker/tests/test_group_offsets.c — unit tests of committed offsets in the
 * classic group coordinator (broker/group/): OffsetCommit/OffsetFetch with
 * durability (answers wait for the log) and replay into a fresh
 * coordinator, Describe/List/DeleteGroups and retention, OffsetDelete, and
 * the SyncGroup timeout. Fake clock and offsets log: group_fake_env.c. */
#include "group_fake_env.h"

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
        assert_int_equal(offset_delete_one(gc, "live", "topic", &perr), 0);
        assert_int_equal(perr, KP_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
        assert_int_equal(offset_delete_one(gc, "live", "other", &perr), 0);
        assert_int_equal(perr, 0);
        assert_int_equal(offset_delete_one(gc, "nope", "topic", &perr), KP_ERR_GROUP_ID_NOT_FOUND);
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

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_offsets_and_replay),
            cmocka_unit_test(test_describe_list_delete_retention),
            cmocka_unit_test(test_offset_delete_and_sync_timeout),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
