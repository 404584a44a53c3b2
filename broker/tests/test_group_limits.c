/* broker/tests/test_group_limits.c — unit tests of the classic group
 * coordinator's limits (broker/group/): group.max.size (only members that
 * really joined count, not MEMBER_ID_REQUIRED ids), the session timeout
 * bounds, offset.metadata.max.bytes, offsets.retention.minutes, and a
 * leader's assignment record too large for the log. Fake clock and offsets
 * log: group_fake_env.c. */
#include "group_fake_env.h"

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

/* group.max.size counts only members that really joined (Kafka's
 * acceptJoiningMember), not ids handed out with MEMBER_ID_REQUIRED: with a
 * size of 1, two fresh v5 joins both get MEMBER_ID_REQUIRED; the first to
 * come back with its id joins, the second's real join is refused with
 * GROUP_MAX_SIZE_REACHED and its pending id is dropped, which lets the
 * rebalance of the first complete at once. */
static void test_limit_max_size_pending_ids(void **st)
{
        (void)st;
        reset_env();
        sl_group_cfg cfg = cfg_default();
        cfg.max_size = 1;
        sl_group_coord *gc = coord(cfg);
        call *k = join(gc, 5, "one", "", NULL, NULL, "m");
        kp_join_group_response *r = join_rs(k);
        assert_int_equal(r->error_code, KP_ERR_MEMBER_ID_REQUIRED);
        char *a = dup_str(r->member_id);
        call_free(k);
        k = join(gc, 5, "one", "", NULL, NULL, "m");
        r = join_rs(k);
        assert_int_equal(r->error_code, KP_ERR_MEMBER_ID_REQUIRED);
        char *b = dup_str(r->member_id);
        call_free(k);
        /* a joins; the rebalance waits for b's pending id */
        call *ja = join(gc, 5, "one", a, NULL, NULL, "m");
        assert_false(ja->done);
        /* b's real join is one too many: refused, and a's join completes */
        k = join(gc, 5, "one", b, NULL, NULL, "m");
        r = join_rs(k);
        assert_int_equal(r->error_code, KP_ERR_GROUP_MAX_SIZE_REACHED);
        assert_int_equal(r->member_id.len, 0);
        call_free(k);
        r = join_rs(ja);
        assert_int_equal(r->error_code, 0);
        assert_int_equal(r->generation_id, 1);
        assert_int_equal(r->members_count, 1);
        assert_memory_equal(r->leader.p, a, strlen(a));
        call_free(ja);
        /* b coming back while a holds the only place: still refused */
        k = join(gc, 5, "one", b, NULL, NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_GROUP_MAX_SIZE_REACHED);
        call_free(k);
        /* Stable and full: a fresh join is refused before any id is handed out */
        const char *ids[] = {a};
        const char *as[] = {"A"};
        call *s = sync_(gc, 5, "one", 1, a, NULL, 1, ids, as);
        assert_int_equal(ROUNDTRIP_RS(s, kp_sync_group_response)->error_code, 0);
        call_free(s);
        k = join(gc, 5, "one", "", NULL, NULL, "m");
        assert_int_equal(join_rs(k)->error_code, KP_ERR_GROUP_MAX_SIZE_REACHED);
        call_free(k);
        assert_int_equal(heartbeat(gc, "one", 1, a, NULL), 0);
        free(a);
        free(b);
        sl_group_coord_free(gc);
        reset_env();
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
            cmocka_unit_test(test_limit_group_max_size),
            cmocka_unit_test(test_limit_max_size_pending_ids),
            cmocka_unit_test(test_limit_session_timeout),
            cmocka_unit_test(test_limit_offset_metadata),
            cmocka_unit_test(test_limit_offsets_retention),
            cmocka_unit_test(test_sync_record_too_large),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
