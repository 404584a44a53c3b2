/* broker/tests/test_topics.c — the topic registry and partitions: Kafka's
 * name rule, jump-hash placement, the .meta file round trip, the create /
 * add-partitions / delete state machine on a one-shard runtime with real
 * storage (errors included: exists, invalid name, bad config, shrink,
 * unknown), group commit (appends waited on are flushed by one sync on the
 * I/O helper thread) and the flush.messages policy pass (no waiter needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "harness.h"
#include "record_batch.h"

static void test_name_check(void **state)
{
        (void)state;
        const char *ok[] = {"a", "topic-1", "Topic_1.x", "__consumer_offsets", ".a", "..."};
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                assert_int_equal(sl_topic_name_check(kp_str_c(ok[i])), 0);
        const char *bad[] = {"", ".", "..", "a b", "a/b", "ü", "a\nb"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(sl_topic_name_check(kp_str_c(bad[i])),
                                 KP_ERR_INVALID_TOPIC_EXCEPTION);
        char longest[251];
        memset(longest, 'x', 250);
        longest[250] = 0;
        assert_int_equal(sl_topic_name_check(kp_str_c(longest)), KP_ERR_INVALID_TOPIC_EXCEPTION);
        longest[249] = 0;
        assert_int_equal(sl_topic_name_check(kp_str_c(longest)), 0);
}

static void test_jump_hash(void **state)
{
        (void)state;
        int counts[8] = {0};
        int moved = 0, moved_elsewhere = 0;
        for (uint64_t k = 0; k < 80000; k++) {
                uint64_t key = k * 0x9E3779B97F4A7C15ULL;
                uint32_t b7 = sl_jump_hash(key, 7), b8 = sl_jump_hash(key, 8);
                assert_true(b7 < 7 && b8 < 8);
                assert_int_equal(b7, sl_jump_hash(key, 7));
                counts[b8]++;
                if (b7 != b8) {
                        moved++;
                        moved_elsewhere += b8 != 7;
                }
        }
        /* Going 7 -> 8 buckets moves ~1/8 of keys, all into the new bucket. */
        assert_int_equal(moved_elsewhere, 0);
        assert_true(moved > 8000 && moved < 12000);
        for (int i = 0; i < 8; i++)
                assert_true(counts[i] > 9000 && counts[i] < 11000);
        assert_int_equal(sl_jump_hash(12345, 1), 0);
}

static char data_dir[64];

static void make_data_dir(void)
{
        snprintf(data_dir, sizeof(data_dir), "/tmp/sl_test_topics_XXXXXX");
        assert_non_null(mkdtemp(data_dir));
}

static void rm_rf(const char *dir)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void test_store_roundtrip(void **state)
{
        (void)state;
        make_data_dir();
        memset(&g_sl, 0, sizeof(g_sl));
        sl_config_defaults(&g_sl.cfg);
        sl_topics_snap *snap = NULL;
        assert_int_equal(sl_topics_load(data_dir, &snap), 0);
        assert_int_equal(snap->count, 0);
        sl_topics_snap_free(snap);
        sl_topic_info t = {.name = kp_str_c("orders"), .partitions = 12};
        t.id = sl_uuid_random();
        assert_int_equal(t.id.b[6] >> 4, 4);
        sl_topic_config_init(&t.config);
        char err[128];
        assert_int_equal(sl_topic_config_set(&t.config, "retention.ms", "1000", err, sizeof(err)),
                         0);
        assert_int_equal(sl_topics_store_save(data_dir, &t), 0);
        assert_int_equal(sl_topics_load(data_dir, &snap), 0);
        assert_int_equal(snap->count, 1);
        const sl_topic_info *got = sl_topics_find(snap, kp_str_c("orders"));
        assert_non_null(got);
        assert_memory_equal(got->id.b, t.id.b, 16);
        assert_int_equal(got->partitions, 12);
        assert_true(sl_topic_config_is_set(&got->config, SL_TOPIC_RETENTION_MS));
        assert_int_equal(sl_topic_config_i64(&got->config, &g_sl.cfg, SL_TOPIC_RETENTION_MS), 1000);
        assert_ptr_equal(sl_topics_find_id(snap, t.id), got);
        assert_null(sl_topics_find(snap, kp_str_c("order")));
        sl_topics_snap_free(snap);
        /* A damaged file stops the load instead of being guessed at. */
        char path[128];
        snprintf(path, sizeof(path), "%s/__topics/bad.meta", data_dir);
        FILE *f = fopen(path, "w");
        fputs("id=zz\npartitions=1\n", f);
        fclose(f);
        assert_int_not_equal(sl_topics_load(data_dir, &snap), 0);
        rm_rf(data_dir);
}

/* --- registry ops on a one-shard runtime --- */

static bool op_finished;

static void op_done(sl_topic_op *op)
{
        (void)op;
        op_finished = true;
}

static int16_t run_op(th *t, void (*fn)(sl_topic_op *), sl_topic_op *op)
{
        op_finished = false;
        op->done = op_done;
        fn(op);
        for (int i = 0; i < 400 && !op_finished; i++)
                th_turn(t);
        assert_true(op_finished);
        return op->error;
}

static void start_with_dir(th *t)
{
        make_data_dir();
        sl_config cfg;
        sl_config_defaults(&cfg);
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", data_dir);
        cfg.num_partitions = 2;
        sl_topics_snap *snap = NULL;
        assert_int_equal(sl_topics_load(data_dir, &snap), 0);
        th_start(t, &cfg, snap);
}

static bool exists(const char *rel)
{
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", data_dir, rel);
        struct stat st;
        return stat(p, &st) == 0;
}

static void test_registry_ops(void **state)
{
        (void)state;
        th t;
        start_with_dir(&t);
        sl_topic_kv kv = {kp_str_c("retention.ms"), kp_str_c("5000")};
        sl_topic_op op = {
            .name = kp_str_c("t1"), .partitions = 3, .configs = &kv, .config_count = 1};
        assert_int_equal(run_op(&t, sl_topics_create, &op), 0);
        const sl_topic_info *ti = sl_topics_find(sl_topics_current(), kp_str_c("t1"));
        assert_non_null(ti);
        assert_int_equal(ti->partitions, 3);
        assert_memory_equal(ti->id.b, op.out_id.b, 16);
        assert_int_equal(sl_topic_config_i64(&ti->config, &g_sl.cfg, SL_TOPIC_RETENTION_MS), 5000);
        for (int32_t i = 0; i < 3; i++)
                assert_non_null(sl_partition_find(ti->id, i));
        assert_true(exists("__topics/t1.meta") && exists("t1-0") && exists("t1-2"));
        kp_uuid id = ti->id;

        sl_topic_op again = {.name = kp_str_c("t1")};
        assert_int_equal(run_op(&t, sl_topics_create, &again), KP_ERR_TOPIC_ALREADY_EXISTS);
        sl_topic_op badname = {.name = kp_str_c("no way")};
        assert_int_equal(run_op(&t, sl_topics_create, &badname), KP_ERR_INVALID_TOPIC_EXCEPTION);
        sl_topic_kv badkv = {kp_str_c("retention.ms"), kp_str_c("soon")};
        sl_topic_op badcfg = {.name = kp_str_c("t2"), .configs = &badkv, .config_count = 1};
        assert_int_equal(run_op(&t, sl_topics_create, &badcfg), KP_ERR_INVALID_CONFIG);
        assert_non_null(badcfg.error_message);
        sl_topic_op dflt = {.name = kp_str_c("t3"), .validate_only = true};
        assert_int_equal(run_op(&t, sl_topics_create, &dflt), 0);
        assert_int_equal(dflt.out_partitions, 2); /* num.partitions */
        assert_null(sl_topics_find(sl_topics_current(), kp_str_c("t3")));

        sl_topic_op add = {.name = kp_str_c("t1"), .partitions = 5};
        assert_int_equal(run_op(&t, sl_topics_add_partitions, &add), 0);
        ti = sl_topics_find(sl_topics_current(), kp_str_c("t1"));
        assert_int_equal(ti->partitions, 5);
        assert_memory_equal(ti->id.b, id.b, 16);
        assert_non_null(sl_partition_find(id, 4));
        sl_topic_op shrink = {.name = kp_str_c("t1"), .partitions = 2};
        assert_int_equal(run_op(&t, sl_topics_add_partitions, &shrink), KP_ERR_INVALID_PARTITIONS);

        sl_topic_op del = {.name = KP_STR_NULL, .id = id};
        assert_int_equal(run_op(&t, sl_topics_delete, &del), 0);
        assert_null(sl_topics_find(sl_topics_current(), kp_str_c("t1")));
        assert_null(sl_partition_find(id, 0));
        assert_false(exists("__topics/t1.meta") || exists("t1-0") || exists("t1-4"));
        sl_topic_op del2 = {.name = kp_str_c("t1")};
        assert_int_equal(run_op(&t, sl_topics_delete, &del2), KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        th_stop(&t);
        rm_rf(data_dir);
}

/* --- group commit --- */

static size_t one_record_batch(uint8_t *b)
{
        memset(b, 0, 69);
        kp_wr w;
        kp_wr_init(&w, b, 69);
        kp_wr_i64(&w, 0);  /* baseOffset */
        kp_wr_i32(&w, 57); /* batchLength */
        kp_wr_i32(&w, -1); /* partitionLeaderEpoch */
        kp_wr_i8(&w, 2);   /* magic */
        kp_wr_u32(&w, 0);  /* crc, below */
        kp_wr_i16(&w, 0);  /* attributes */
        kp_wr_i32(&w, 0);  /* lastOffsetDelta */
        kp_wr_i64(&w, 1000);
        kp_wr_i64(&w, 1000);
        kp_wr_i64(&w, -1); /* producerId */
        kp_wr_i16(&w, -1);
        kp_wr_i32(&w, -1);
        kp_wr_i32(&w, 1); /* records */
        const uint8_t rec[] = {0x0e, 0, 0, 0, 0x01, 0x02, 'x', 0};
        kp_wr_raw(&w, rec, sizeof(rec));
        uint32_t crc = kp_batch_compute_crc(b, 69);
        b[17] = (uint8_t)(crc >> 24);
        b[18] = (uint8_t)(crc >> 16);
        b[19] = (uint8_t)(crc >> 8);
        b[20] = (uint8_t)crc;
        return 69;
}

static int synced[4];
static int nsynced;

static void on_synced(sl_sync_waiter *w, int err)
{
        (void)w;
        synced[nsynced++] = err;
}

static void test_group_commit(void **state)
{
        (void)state;
        th t;
        start_with_dir(&t);
        sl_topic_op op = {.name = kp_str_c("gc"), .partitions = 1};
        assert_int_equal(run_op(&t, sl_topics_create, &op), 0);
        sl_partition *p = sl_partition_find(op.out_id, 0);
        assert_non_null(p);
        uint8_t b[69];
        sl_sync_waiter w[3] = {{.cb = on_synced}, {.cb = on_synced}, {.cb = on_synced}};
        nsynced = 0;
        sl_log_stats st;
        sl_log_get_stats(p->log, &st);
        int64_t syncs_before = st.syncs; /* open may sync the new directory */
        for (int i = 0; i < 3; i++) {
                one_record_batch(b);
                sl_append_result res;
                assert_int_equal(sl_log_append(p->log, b, sizeof(b), 0, 1000, &res), 0);
                assert_int_equal(res.base_offset, i);
                sl_partition_sync_wait(p, &w[i]);
        }
        assert_int_equal(nsynced, 0); /* never inline: the sync runs off-reactor */
        for (int i = 0; i < 400 && nsynced < 3; i++)
                th_turn(&t);
        assert_int_equal(nsynced, 3);
        for (int i = 0; i < 3; i++)
                assert_int_equal(synced[i], 0);
        assert_int_equal(sl_log_flushed_offset(p->log), 3);
        sl_log_get_stats(p->log, &st);
        assert_int_equal(st.syncs - syncs_before, 1); /* one job covered all three */
        th_stop(&t);
        rm_rf(data_dir);
}

static void test_flush_policy(void **state)
{
        (void)state;
        th t;
        start_with_dir(&t);
        sl_partitions_start_maintenance(t.s);
        sl_topic_kv kv = {kp_str_c("flush.messages"), kp_str_c("1")};
        sl_topic_op op = {
            .name = kp_str_c("fm"), .partitions = 1, .configs = &kv, .config_count = 1};
        assert_int_equal(run_op(&t, sl_topics_create, &op), 0);
        sl_partition *p = sl_partition_find(op.out_id, 0);
        uint8_t b[69];
        one_record_batch(b);
        sl_append_result res;
        assert_int_equal(sl_log_append(p->log, b, sizeof(b), 0, 1000, &res), 0);
        assert_int_equal(sl_log_flushed_offset(p->log), 0);
        /* No waiter: the once-a-second policy pass syncs it. */
        int64_t start = sl_now_ms();
        while (sl_log_flushed_offset(p->log) < 1 && sl_now_ms() - start < 3000)
                th_turn(&t);
        assert_int_equal(sl_log_flushed_offset(p->log), 1);
        sl_timer_stop(t.s->reactor, &t.s->flush_timer);
        th_stop(&t);
        rm_rf(data_dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_name_check),      cmocka_unit_test(test_jump_hash),
            cmocka_unit_test(test_store_roundtrip), cmocka_unit_test(test_registry_ops),
            cmocka_unit_test(test_group_commit),    cmocka_unit_test(test_flush_policy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
