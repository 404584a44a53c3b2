/* broker/tests/test_group_handlers.c — the group handlers on a one-shard
 * runtime (broker/tests/harness.h), as a client sees them: framed requests
 * built with the generated codec go through conn, dispatch, the handler, the
 * forward to the coordinator and back, and the answers are decoded. Covers
 * the version conversions the unit test of the state machine cannot see:
 * FindCoordinator v0 and the v4 batch (the first lookup starts creating
 * __consumer_offsets and is told to retry), OffsetCommit v2/v8 and OffsetFetch v1 (per-partition
 * errors), v5 (all topics) and v8 (several groups), ListGroups v4 filters, DescribeGroups,
 * DeleteGroups, OffsetDelete, JoinGroup v0 — and that a JoinGroup left waiting by a client that
 * hung up does not keep its connection alive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "gen/kp_messages.h"
#include "group/group_shard.h"
#include "harness.h"

static char data_dir[] = "/tmp/sl_test_group_XXXXXX";
static th t;
static kp_arena A;
static int32_t corr = 1;

/* Sends one request (body encoded at v) and decodes the answer into out. */
#define CALL(KEY, RQ, RS, v, rq, out)                                                              \
        do {                                                                                       \
                int16_t v_ = (v);                                                                  \
                size_t n_ = RQ##_size((rq), v_);                                                   \
                uint8_t *b_ = kp_arena_alloc(&A, 1, n_ + 1);                                       \
                kp_wr w_;                                                                          \
                kp_wr_init(&w_, b_, n_);                                                           \
                assert_int_equal(RQ##_encode(&w_, v_, (rq)), 0);                                   \
                uint8_t *f_ = kp_arena_alloc(&A, 1, n_ + 64);                                      \
                bool flex_ = kp_request_header_version((KEY), v_) >= 2;                            \
                size_t fl_ = th_request(f_, (KEY), v_, corr++, flex_, b_, n_);                     \
                th_send(&t, f_, fl_);                                                              \
                uint8_t *r_ = kp_arena_alloc(&A, 1, 1 << 20);                                      \
                int32_t rl_ = th_recv_frame(&t, r_, 1 << 20);                                      \
                assert_true(rl_ > 4);                                                              \
                size_t hl_ = kp_response_header_version((KEY), v_) >= 1 ? 5 : 4;                   \
                kp_rd rd_;                                                                         \
                kp_rd_init(&rd_, r_ + hl_, (size_t)rl_ - hl_, &A);                                 \
                assert_int_equal(RS##_decode(&rd_, v_, (out)), 0);                                 \
        } while (0)

static void setup_runtime(int64_t initial_delay_ms)
{
        sl_config cfg;
        sl_config_defaults(&cfg);
        assert_non_null(mkdtemp(data_dir));
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", data_dir);
        char topics[sizeof(data_dir) + 16];
        snprintf(topics, sizeof(topics), "%s/__topics", data_dir);
        mkdir(topics, 0755);
        cfg.offsets_topic_num_partitions = 4;
        cfg.group_initial_rebalance_delay_ms = initial_delay_ms;
        th_start(&t, &cfg, NULL);
        kp_arena_init(&A, 1 << 16);
        /* a data topic to commit offsets for */
        sl_topic_op op;
        memset(&op, 0, sizeof(op));
        op.name = kp_str_c("data");
        op.partitions = 3;
        sl_topics_create(&op);
        for (int i = 0; i < 200 && !sl_topics_find(sl_topics_current(), kp_str_c("data")); i++)
                th_turn(&t);
        assert_non_null(sl_topics_find(sl_topics_current(), kp_str_c("data")));
}

static void teardown_runtime(void)
{
        th_stop(&t);
        kp_arena_release(&A);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data_dir);
        assert_int_equal(system(cmd), 0);
}

static void find_coordinator(void)
{
        kp_find_coordinator_request q;
        kp_find_coordinator_response r;
        kp_find_coordinator_request_init(&q);
        q.key = kp_str_c("g1");
        /* the first lookup starts creating __consumer_offsets: retriable error */
        CALL(10, kp_find_coordinator_request, kp_find_coordinator_response, 0, &q, &r);
        assert_int_equal(r.error_code, KP_ERR_COORDINATOR_NOT_AVAILABLE);
        for (int i = 0; i < 400 && !sl_topics_find(sl_topics_current(), kp_str_c(SL_OFFSETS_TOPIC));
             i++)
                th_turn(&t);
        CALL(10, kp_find_coordinator_request, kp_find_coordinator_response, 0, &q, &r);
        assert_int_equal(r.error_code, 0);
        assert_int_equal(r.node_id, 0);
        assert_true(kp_str_eq(r.host, kp_str_c("broker.test")));
        assert_int_equal(r.port, 9092);
        const sl_topic_info *ti = sl_topics_find(sl_topics_current(), kp_str_c(SL_OFFSETS_TOPIC));
        assert_non_null(ti);
        assert_int_equal(ti->partitions, 4);
        /* v4: a batch, one bad key, and a transaction key we do not serve */
        kp_str keys[3] = {kp_str_c("g1"), kp_str_c(""), kp_str_c("g2")};
        kp_find_coordinator_request_init(&q); /* no v0-3 key */
        q.coordinator_keys = keys;
        q.coordinator_keys_count = 3;
        CALL(10, kp_find_coordinator_request, kp_find_coordinator_response, 4, &q, &r);
        assert_int_equal(r.coordinators_count, 3);
        assert_int_equal(r.coordinators[0].error_code, 0);
        assert_int_equal(r.coordinators[1].error_code, KP_ERR_INVALID_GROUP_ID);
        assert_true(kp_str_eq(r.coordinators[2].key, kp_str_c("g2")));
        q.key_type = 1;
        CALL(10, kp_find_coordinator_request, kp_find_coordinator_response, 6, &q, &r);
        assert_int_equal(r.coordinators[0].error_code, KP_ERR_COORDINATOR_NOT_AVAILABLE);
}

static void commit(const char *group, int16_t v, int64_t base, const char *topic, int16_t want0)
{
        kp_offset_commit_request q;
        kp_offset_commit_request_init(&q);
        kp_offset_commit_request_offset_commit_request_topic tp;
        kp_offset_commit_request_offset_commit_request_topic_init(&tp);
        kp_offset_commit_request_offset_commit_request_partition p[2];
        for (int i = 0; i < 2; i++) {
                kp_offset_commit_request_offset_commit_request_partition_init(&p[i]);
                p[i].partition_index = i;
                p[i].committed_offset = base + i;
                p[i].committed_metadata = kp_str_c("md");
                p[i].committed_leader_epoch = 0;
        }
        tp.name = kp_str_c(topic);
        tp.partitions = p;
        tp.partitions_count = 2;
        q.group_id = kp_str_c(group);
        q.member_id = kp_str_c("");
        q.topics = &tp;
        q.topics_count = 1;
        kp_offset_commit_response r;
        CALL(8, kp_offset_commit_request, kp_offset_commit_response, v, &q, &r);
        assert_int_equal(r.topics_count, 1);
        assert_int_equal(r.topics[0].partitions_count, 2);
        assert_int_equal(r.topics[0].partitions[0].error_code, want0);
        assert_int_equal(r.topics[0].partitions[1].error_code, want0);
}

static void offsets(void)
{
        commit("g1", 2, 100, "data", 0);
        commit("g2", 8, 200, "data", 0);
        commit("g1", 8, 1, "no-such-topic", KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        commit("", 8, 1, "data", KP_ERR_INVALID_GROUP_ID);
        /* v1: one group, partitions asked */
        kp_offset_fetch_request q;
        kp_offset_fetch_request_init(&q);
        kp_offset_fetch_request_offset_fetch_request_topic tp;
        int32_t idx[3] = {0, 1, 2};
        tp.name = kp_str_c("data");
        tp.partition_indexes = idx;
        tp.partition_indexes_count = 3;
        q.group_id = kp_str_c("g1");
        q.topics = &tp;
        q.topics_count = 1;
        kp_offset_fetch_response r;
        CALL(9, kp_offset_fetch_request, kp_offset_fetch_response, 1, &q, &r);
        assert_int_equal(r.topics_count, 1);
        assert_int_equal(r.topics[0].partitions_count, 3);
        assert_int_equal(r.topics[0].partitions[0].committed_offset, 100);
        assert_int_equal(r.topics[0].partitions[1].committed_offset, 101);
        assert_int_equal(r.topics[0].partitions[2].committed_offset, -1);
        assert_true(kp_str_eq(r.topics[0].partitions[0].metadata, kp_str_c("md")));
        /* v1 has no group error: an invalid group reports it per partition */
        q.group_id = kp_str_c("");
        CALL(9, kp_offset_fetch_request, kp_offset_fetch_response, 1, &q, &r);
        assert_int_equal(r.topics[0].partitions[0].error_code, KP_ERR_INVALID_GROUP_ID);
        CALL(9, kp_offset_fetch_request, kp_offset_fetch_response, 5, &q, &r);
        assert_int_equal(r.error_code, KP_ERR_INVALID_GROUP_ID);
        /* v5: null topics = everything the group committed */
        q.group_id = kp_str_c("g2");
        q.topics = NULL;
        q.topics_count = -1;
        CALL(9, kp_offset_fetch_request, kp_offset_fetch_response, 5, &q, &r);
        assert_int_equal(r.error_code, 0);
        assert_int_equal(r.topics_count, 1);
        assert_int_equal(r.topics[0].partitions_count, 2);
        int64_t sum =
            r.topics[0].partitions[0].committed_offset + r.topics[0].partitions[1].committed_offset;
        assert_int_equal(sum, 401);
        assert_int_equal(r.topics[0].partitions[0].committed_leader_epoch, 0);
        /* v8: two groups in one request */
        kp_offset_fetch_request_init(&q);
        kp_offset_fetch_request_offset_fetch_request_group gs[2];
        kp_offset_fetch_request_offset_fetch_request_topics t8;
        t8.name = kp_str_c("data");
        t8.partition_indexes = idx;
        t8.partition_indexes_count = 1;
        for (int i = 0; i < 2; i++) {
                kp_offset_fetch_request_offset_fetch_request_group_init(&gs[i]);
                gs[i].group_id = kp_str_c(i ? "g2" : "g1");
                gs[i].topics = &t8;
                gs[i].topics_count = 1;
        }
        q.groups = gs;
        q.groups_count = 2;
        CALL(9, kp_offset_fetch_request, kp_offset_fetch_response, 8, &q, &r);
        assert_int_equal(r.groups_count, 2);
        assert_true(kp_str_eq(r.groups[1].group_id, kp_str_c("g2")));
        assert_int_equal(r.groups[0].topics[0].partitions[0].committed_offset, 100);
        assert_int_equal(r.groups[1].topics[0].partitions[0].committed_offset, 200);
}

static void admin(void)
{
        kp_list_groups_request lq;
        kp_list_groups_response lr;
        kp_list_groups_request_init(&lq);
        CALL(16, kp_list_groups_request, kp_list_groups_response, 0, &lq, &lr);
        assert_int_equal(lr.error_code, 0);
        assert_int_equal(lr.groups_count, 2);
        kp_str st = kp_str_c("Stable");
        lq.states_filter = &st;
        lq.states_filter_count = 1;
        CALL(16, kp_list_groups_request, kp_list_groups_response, 4, &lq, &lr);
        assert_int_equal(lr.groups_count, 0);
        kp_str ty = kp_str_c("classic");
        lq.states_filter_count = 0;
        lq.types_filter = &ty;
        lq.types_filter_count = 1;
        CALL(16, kp_list_groups_request, kp_list_groups_response, 5, &lq, &lr);
        assert_int_equal(lr.groups_count, 2);
        assert_true(kp_str_eq(lr.groups[0].group_state, kp_str_c("Empty")));

        kp_describe_groups_request dq;
        kp_describe_groups_response dr;
        kp_describe_groups_request_init(&dq);
        kp_str names[2] = {kp_str_c("g1"), kp_str_c("unknown")};
        dq.groups = names;
        dq.groups_count = 2;
        CALL(15, kp_describe_groups_request, kp_describe_groups_response, 5, &dq, &dr);
        assert_int_equal(dr.groups_count, 2);
        assert_true(kp_str_eq(dr.groups[0].group_state, kp_str_c("Empty")));
        assert_true(kp_str_eq(dr.groups[1].group_state, kp_str_c("Dead")));

        /* OffsetDelete on an empty group, then DeleteGroups */
        kp_offset_delete_request oq;
        kp_offset_delete_response orr;
        kp_offset_delete_request_init(&oq);
        kp_offset_delete_request_offset_delete_request_topic ot;
        kp_offset_delete_request_offset_delete_request_partition op = {0};
        ot.name = kp_str_c("data");
        ot.partitions = &op;
        ot.partitions_count = 1;
        oq.group_id = kp_str_c("g1");
        oq.topics = &ot;
        oq.topics_count = 1;
        CALL(47, kp_offset_delete_request, kp_offset_delete_response, 0, &oq, &orr);
        assert_int_equal(orr.error_code, 0);
        assert_int_equal(orr.topics[0].partitions[0].error_code, 0);
        oq.group_id = kp_str_c("nope");
        CALL(47, kp_offset_delete_request, kp_offset_delete_response, 0, &oq, &orr);
        assert_int_equal(orr.error_code, KP_ERR_GROUP_ID_NOT_FOUND);

        kp_delete_groups_request gq;
        kp_delete_groups_response gr;
        kp_delete_groups_request_init(&gq);
        kp_str del[2] = {kp_str_c("g2"), kp_str_c("nope")};
        gq.groups_names = del;
        gq.groups_names_count = 2;
        CALL(42, kp_delete_groups_request, kp_delete_groups_response, 2, &gq, &gr);
        assert_int_equal(gr.results_count, 2);
        assert_int_equal(gr.results[0].error_code, 0);
        assert_int_equal(gr.results[1].error_code, KP_ERR_GROUP_ID_NOT_FOUND);
        lq.types_filter_count = 0;
        CALL(16, kp_list_groups_request, kp_list_groups_response, 3, &lq, &lr);
        assert_int_equal(lr.groups_count, 1);
        assert_true(kp_str_eq(lr.groups[0].group_id, kp_str_c("g1")));
}

/* JoinGroup v0 waits for the initial delay; its client hangs up: the call is
 * withdrawn and the connection freed well before the delay is over. */
static void join_then_hang_up(void)
{
        kp_join_group_request q;
        kp_join_group_request_init(&q);
        kp_join_group_request_join_group_request_protocol p;
        kp_join_group_request_join_group_request_protocol_init(&p);
        p.name = kp_str_c("range");
        p.metadata = (kp_bytes){(const uint8_t *)"\0\0\0\0\0\0\0\0", 8};
        q.group_id = kp_str_c("waiting");
        q.session_timeout_ms = 10000;
        q.member_id = kp_str_c("");
        q.protocol_type = kp_str_c("consumer");
        q.protocols = &p;
        q.protocols_count = 1;
        size_t n = kp_join_group_request_size(&q, 0);
        uint8_t body[256], frame[320];
        kp_wr w;
        kp_wr_init(&w, body, n);
        assert_int_equal(kp_join_group_request_encode(&w, 0, &q), 0);
        th_send(&t, frame, th_request(frame, 11, 0, corr++, false, body, n));
        for (int i = 0; i < 20; i++)
                th_turn(&t);
        assert_int_equal(t.s->nconns, 1); /* parked, not answered */
        close(t.client);
        t.client = -1;
        int64_t t0 = sl_now_ms();
        while (t.s->nconns > 0 && sl_now_ms() - t0 < 2000)
                sl_reactor_turn(t.s->reactor, 5);
        assert_int_equal(t.s->nconns, 0);
        assert_true(sl_now_ms() - t0 < 1000); /* initial delay is 5000 ms */
        /* a fresh client for th_stop */
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        t.client = sv[1];
        close(sv[0]);
}

static void test_group_handlers(void **st)
{
        (void)st;
        setup_runtime(5000);
        find_coordinator();
        offsets();
        admin();
        join_then_hang_up();
        teardown_runtime();
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_group_handlers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
