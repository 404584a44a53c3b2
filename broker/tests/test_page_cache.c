/* broker/tests/test_page_cache.c — the broker runs each partition's
 * write-behind and drop-behind (storage/log_cache.c) even when no producer
 * waits for durability: acks=1 Produce through the real connection and
 * dispatch path of a one-shard broker (dp_harness.h) with a small
 * log.page.cache.retain.bytes, then the log's counters show writeback started
 * and written-back data dropped, never the retained tail, and nothing made
 * "durable" by those jobs. With the key at 0 nothing is dropped. */
#include <time.h>

#include "dp_harness.h"
#include "log.h"

#define MIB (1LL << 20)

static uint8_t big[60000];

/* One ~57 KB batch: 56 records of 1000-byte values. */
static size_t big_batch(void)
{
        static kp_codec_ctx *cc;
        static char val[1000];
        if (!cc) {
                cc = kp_codec_ctx_new(1 << 20);
                memset(val, 'x', sizeof(val));
        }
        kp_record_in recs[56];
        for (int i = 0; i < 56; i++)
                recs[i] = (kp_record_in){.timestamp = 1000 + i,
                                         .key = KP_BYTES_NULL,
                                         .value = {(uint8_t *)val, (int32_t)sizeof(val)}};
        kp_batch_spec spec = {.base_offset = 0,
                              .partition_leader_epoch = -1,
                              .codec = KP_CODEC_NONE,
                              .producer_id = -1,
                              .producer_epoch = -1,
                              .base_sequence = -1};
        size_t len = 0;
        assert_int_equal(kp_batch_build(cc, &spec, recs, 56, big, sizeof(big), &len), 0);
        return len;
}

static void start_with_retain(th *t, int64_t retain)
{
        snprintf(dp_dir, sizeof(dp_dir), "/tmp/sl_test_pc_XXXXXX");
        assert_non_null(mkdtemp(dp_dir));
        sl_config cfg;
        sl_config_defaults(&cfg);
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dp_dir);
        cfg.log_page_cache_retain_bytes = retain;
        sl_topics_snap *snap = NULL;
        assert_int_equal(sl_topics_load(dp_dir, &snap), 0);
        th_start(t, &cfg, snap);
        kp_arena_init(&dp_arena, 65536);
}

static sl_log *log_of(const char *topic, int32_t part)
{
        sl_partition *p =
            sl_partition_find(sl_topics_find(sl_topics_current(), kp_str_c(topic))->id, part);
        assert_non_null(p);
        return p->log;
}

/* Produces acks=1 until the log holds total bytes. */
static void produce_bytes(th *t, sl_log *log, int64_t total)
{
        size_t len = big_batch();
        sl_log_stats st;
        do {
                assert_int_equal(dp_produce(t, 9, "pc", 0, 1, big, len).error, 0);
                sl_log_get_stats(log, &st);
        } while (st.size_bytes < total);
}

/* Turns the reactor until the log's counters pass the thresholds (the jobs
 * run on the shard's I/O helper), at most 10 s. */
static void settle(th *t, sl_log *log, sl_log_stats *st, bool want_drop)
{
        for (int i = 0; i < 1000; i++) {
                th_turn(t);
                sl_log_get_stats(log, st);
                if (st->writeback_bytes > 8 * MIB && (!want_drop || st->dropped_bytes > 8 * MIB))
                        return;
                nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        }
}

static void test_acks1_drops_behind(void **state)
{
        (void)state;
        th t;
        start_with_retain(&t, 2 * MIB);
        dp_topic(&t, "pc", 1, NULL, NULL);
        sl_log *log = log_of("pc", 0);
        produce_bytes(&t, log, 24 * MIB);
        sl_log_stats st;
        settle(&t, log, &st, true);
        assert_true(st.writeback_bytes > 8 * MIB);
        assert_true(st.dropped_bytes > 8 * MIB);
        /* The retained tail stays: nothing within 2 MiB of the end dropped. */
        assert_true(st.dropped_bytes <= st.size_bytes - 2 * MIB);
        /* Page-cache jobs prove nothing durable: no acks=-1, no flush policy. */
        assert_true(sl_log_flushed_offset(log) < sl_log_end_offset(log));
        assert_false(sl_log_failed(log));
        dp_stop(&t);
}

static void test_retain_zero_keeps_cache(void **state)
{
        (void)state;
        th t;
        start_with_retain(&t, 0);
        dp_topic(&t, "pc", 1, NULL, NULL);
        sl_log *log = log_of("pc", 0);
        produce_bytes(&t, log, 20 * MIB);
        sl_log_stats st;
        settle(&t, log, &st, false);
        assert_true(st.writeback_bytes > 8 * MIB); /* write-behind still runs */
        assert_int_equal(st.dropped_bytes, 0);
        dp_stop(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_acks1_drops_behind),
            cmocka_unit_test(test_retain_zero_keeps_cache),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
