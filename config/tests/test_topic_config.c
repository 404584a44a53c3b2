/* config/tests/test_topic_config.c — unit tests of Kafka's topic configs:
 * Kafka's defaults, defaults taken from broker keys, set/validate/delete with
 * Kafka error codes, DescribeConfigs rows (value, source, type), and the
 * name=value text and file the broker keeps per topic. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "kafka_errors.h"
#include "topic_config.h"

static char err[512];

static void test_kafka_defaults(void **state)
{
        (void)state;
        sl_topic_config tc;
        sl_topic_config_init(&tc);
        sl_config b;
        sl_config_defaults(&b);
        const sl_config *brokers[] = {NULL, &b}; /* same answers with or without a broker */
        for (int i = 0; i < 2; i++) {
                const sl_config *br = brokers[i];
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_RETENTION_MS), 604800000);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_RETENTION_BYTES), -1);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_SEGMENT_BYTES), 1073741824);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_SEGMENT_MS), 604800000);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_MAX_MESSAGE_BYTES), 1048588);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_INDEX_INTERVAL_BYTES), 4096);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_FLUSH_MESSAGES), INT64_MAX);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_FLUSH_MS), INT64_MAX);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_MIN_INSYNC_REPLICAS), 1);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_CLEANUP_POLICY),
                                 SL_CLEANUP_DELETE);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_COMPRESSION_TYPE),
                                 SL_COMPRESSION_PRODUCER);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_MESSAGE_TIMESTAMP_TYPE),
                                 SL_TS_CREATE_TIME);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_DELETE_RETENTION_MS),
                                 86400000);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_SEGMENT_INDEX_BYTES),
                                 10485760);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_LOCAL_RETENTION_MS), -2);
                assert_int_equal(
                    sl_topic_config_i64(&tc, br, SL_TOPIC_MESSAGE_DOWNCONVERSION_ENABLE), 1);
                assert_int_equal(sl_topic_config_i64(&tc, br, SL_TOPIC_PREALLOCATE), 0);
                assert_true(sl_topic_config_double(&tc, br, SL_TOPIC_MIN_CLEANABLE_DIRTY_RATIO) ==
                            0.5);
                for (size_t k = 0; k < SL_TOPIC_KEY_COUNT; k++) {
                        sl_config_entry e;
                        sl_topic_config_describe(&tc, br, k, &e);
                        assert_int_equal(e.source, SL_CONFIG_SOURCE_DEFAULT);
                        assert_int_equal(sl_topic_config_key(e.name), (int)k);
                        assert_string_equal(sl_topic_config_name(k), e.name);
                        assert_false(e.read_only);
                        assert_false(e.sensitive);
                        assert_non_null(e.doc);
                        assert_true(e.type != SL_CONFIG_TYPE_UNKNOWN);
                        /* Every default is itself a valid value. */
                        sl_topic_config t2;
                        sl_topic_config_init(&t2);
                        assert_int_equal(
                            sl_topic_config_set(&t2, e.name, e.value, err, sizeof(err)),
                            KP_ERR_NONE);
                }
        }
        assert_int_equal(sl_topic_config_key("retention.ms"), SL_TOPIC_RETENTION_MS);
        assert_int_equal(sl_topic_config_key("log.retention.ms"), -1);
}

static void test_broker_supplies_defaults(void **state)
{
        (void)state;
        sl_config b;
        sl_config_defaults(&b);
        assert_int_equal(sl_config_set(&b, "log.retention.ms", "1h", "test", err, sizeof(err)), 0);
        assert_int_equal(sl_config_set(&b, "log.cleanup.policy", "compact", "t", err, sizeof(err)),
                         0);
        sl_config start = b;
        assert_int_equal(sl_config_alter(&b, &start, "log.segment.bytes", "1MiB", err, sizeof(err)),
                         KP_ERR_NONE);
        sl_topic_config tc;
        sl_topic_config_init(&tc);
        sl_config_entry e;
        sl_topic_config_describe(&tc, &b, SL_TOPIC_RETENTION_MS, &e);
        assert_string_equal(e.name, "retention.ms");
        assert_string_equal(e.value, "3600000");
        assert_int_equal(e.source, SL_CONFIG_SOURCE_STATIC_BROKER);
        assert_string_equal(e.synonym, "log.retention.ms");
        assert_int_equal(e.type, SL_CONFIG_TYPE_LONG);
        sl_topic_config_describe(&tc, &b, SL_TOPIC_SEGMENT_BYTES, &e);
        assert_string_equal(e.value, "1048576");
        assert_int_equal(e.source, SL_CONFIG_SOURCE_DYNAMIC_BROKER);
        assert_int_equal(e.type, SL_CONFIG_TYPE_INT);
        sl_topic_config_describe(&tc, &b, SL_TOPIC_CLEANUP_POLICY, &e);
        assert_string_equal(e.value, "compact");
        assert_int_equal(e.type, SL_CONFIG_TYPE_LIST);
        sl_topic_config_describe(&tc, &b, SL_TOPIC_DELETE_RETENTION_MS, &e);
        assert_null(e.synonym);
        assert_int_equal(e.source, SL_CONFIG_SOURCE_DEFAULT);
        /* A topic override beats the broker. */
        assert_int_equal(sl_topic_config_set(&tc, "retention.ms", "5000", err, sizeof(err)),
                         KP_ERR_NONE);
        sl_topic_config_describe(&tc, &b, SL_TOPIC_RETENTION_MS, &e);
        assert_string_equal(e.value, "5000");
        assert_int_equal(e.source, SL_CONFIG_SOURCE_TOPIC);
        assert_int_equal(sl_topic_config_i64(&tc, &b, SL_TOPIC_RETENTION_MS), 5000);
}

static void expect_invalid(const char *name, const char *value, const char *msg)
{
        sl_topic_config tc, before;
        sl_topic_config_init(&tc);
        assert_int_equal(sl_topic_config_set(&tc, "segment.ms", "1000", err, sizeof(err)), 0);
        before = tc;
        assert_int_equal(sl_topic_config_set(&tc, name, value, err, sizeof(err)),
                         KP_ERR_INVALID_CONFIG);
        assert_string_equal(err, msg);
        assert_memory_equal(&tc, &before, sizeof(tc));
}

static void test_set_validates(void **state)
{
        (void)state;
        expect_invalid("retention.msec", "1", "Unknown topic config name: retention.msec");
        expect_invalid("retention.ms", "abc",
                       "retention.ms: expected an integer >= -1, got \"abc\"");
        expect_invalid("segment.bytes", "13",
                       "segment.bytes: expected an integer in [14, 2147483647], got \"13\"");
        expect_invalid("cleanup.policy", "remove",
                       "cleanup.policy: expected a comma-separated list of delete, compact, got "
                       "\"remove\"");
        expect_invalid(
            "compression.type", "brotli",
            "compression.type: expected one of producer, uncompressed, gzip, snappy, lz4, "
            "zstd, got \"brotli\"");
        expect_invalid("message.timestamp.type", "createtime",
                       "message.timestamp.type: expected one of CreateTime, LogAppendTime, got "
                       "\"createtime\"");
        expect_invalid("min.cleanable.dirty.ratio", "1.5",
                       "min.cleanable.dirty.ratio: expected a number in [0, 1], got \"1.5\"");
        expect_invalid("min.cleanable.dirty.ratio", "nan",
                       "min.cleanable.dirty.ratio: expected a number in [0, 1], got \"nan\"");
        expect_invalid("preallocate", "1", "preallocate: expected true or false, got \"1\"");
        expect_invalid("remote.storage.enable", "true",
                       "remote.storage.enable: tiered storage is not supported");
        expect_invalid("min.insync.replicas", "0",
                       "min.insync.replicas: expected an integer in [1, 2147483647], got \"0\"");

        sl_topic_config tc;
        sl_topic_config_init(&tc);
        char buf[64];
        assert_int_equal(
            sl_topic_config_set(&tc, "cleanup.policy", "compact,delete", err, sizeof(err)),
            KP_ERR_NONE);
        assert_int_equal(sl_topic_config_i64(&tc, NULL, SL_TOPIC_CLEANUP_POLICY),
                         SL_CLEANUP_COMPACT | SL_CLEANUP_DELETE);
        assert_string_equal(
            sl_topic_config_text(&tc, NULL, SL_TOPIC_CLEANUP_POLICY, buf, sizeof(buf)),
            "delete,compact");
        assert_int_equal(
            sl_topic_config_set(&tc, "min.cleanable.dirty.ratio", "0.25", err, sizeof(err)),
            KP_ERR_NONE);
        assert_true(sl_topic_config_double(&tc, NULL, SL_TOPIC_MIN_CLEANABLE_DIRTY_RATIO) == 0.25);
        assert_int_equal(
            sl_topic_config_set(&tc, "unclean.leader.election.enable", "True", err, sizeof(err)),
            KP_ERR_NONE);
        assert_string_equal(sl_topic_config_text(&tc, NULL, SL_TOPIC_UNCLEAN_LEADER_ELECTION_ENABLE,
                                                 buf, sizeof(buf)),
                            "true");
        assert_int_equal(sl_topic_config_set(&tc, "retention.ms", " 100\t", err, sizeof(err)),
                         KP_ERR_NONE); /* Kafka trims non-string values */
        assert_int_equal(sl_topic_config_i64(&tc, NULL, SL_TOPIC_RETENTION_MS), 100);
        assert_true(sl_topic_config_is_set(&tc, SL_TOPIC_CLEANUP_POLICY));
        assert_int_equal(sl_topic_config_delete(&tc, "cleanup.policy", err, sizeof(err)),
                         KP_ERR_NONE);
        assert_false(sl_topic_config_is_set(&tc, SL_TOPIC_CLEANUP_POLICY));
        assert_int_equal(sl_topic_config_i64(&tc, NULL, SL_TOPIC_CLEANUP_POLICY),
                         SL_CLEANUP_DELETE);
        assert_int_equal(sl_topic_config_delete(&tc, "cleanup.policy", err, sizeof(err)),
                         KP_ERR_NONE);
        assert_int_equal(sl_topic_config_delete(&tc, "nope", err, sizeof(err)),
                         KP_ERR_INVALID_CONFIG);
        assert_string_equal(err, "Unknown topic config name: nope");
}

static void test_text_round_trip(void **state)
{
        (void)state;
        sl_topic_config tc, back;
        sl_topic_config_init(&tc);
        char buf[4096];
        assert_int_equal(sl_topic_config_format(&tc, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "");
        assert_int_equal(sl_topic_config_set(&tc, "segment.ms", "1h", err, sizeof(err)), 0);
        assert_int_equal(sl_topic_config_set(&tc, "cleanup.policy", "compact", err, sizeof(err)),
                         0);
        assert_int_equal(
            sl_topic_config_set(&tc, "min.cleanable.dirty.ratio", "0.1", err, sizeof(err)), 0);
        assert_int_equal(sl_topic_config_set(&tc, "retention.bytes", "-1", err, sizeof(err)), 0);
        const char *want = "cleanup.policy=compact\nmin.cleanable.dirty.ratio=0.1\n"
                           "retention.bytes=-1\nsegment.ms=3600000\n";
        assert_int_equal(sl_topic_config_format(&tc, buf, sizeof(buf)), strlen(want));
        assert_string_equal(buf, want);
        char small[10];
        assert_int_equal(sl_topic_config_format(&tc, small, sizeof(small)), strlen(want));
        assert_string_equal(small, "cleanup.p");
        assert_int_equal(sl_topic_config_parse(&back, "t", buf, strlen(buf), err, sizeof(err)), 0);
        assert_memory_equal(&back, &tc, sizeof(tc));

        const char *hand = "# topic configs\n\n  retention.ms = 86400000 \r\nflush.ms=0";
        assert_int_equal(sl_topic_config_parse(&back, "t", hand, strlen(hand), err, sizeof(err)),
                         0);
        assert_int_equal(back.set, (1ULL << SL_TOPIC_RETENTION_MS) | (1ULL << SL_TOPIC_FLUSH_MS));
        assert_int_equal(sl_topic_config_i64(&back, NULL, SL_TOPIC_FLUSH_MS), 0);

        sl_topic_config keep = back;
        const char *bad[][2] = {
            {"retention.ms=1\nsegment.ms=0\n",
             "t:2: segment.ms: expected an integer >= 1, got \"0\""},
            {"a\n", "t:1: expected name=value"},
            {"x.y=1\n", "t:1: Unknown topic config name: x.y"},
            {"flush.ms=1\nflush.ms=2\n", "t:2: flush.ms: duplicate"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(sl_topic_config_parse(&back, "t", bad[i][0], strlen(bad[i][0]),
                                                       err, sizeof(err)),
                                 -EINVAL);
                assert_string_equal(err, bad[i][1]);
                assert_memory_equal(&back, &keep, sizeof(keep));
        }
        char nul[] = "flush.ms=1\0\n";
        assert_int_equal(sl_topic_config_parse(&back, "t", nul, sizeof(nul) - 1, err, sizeof(err)),
                         -EINVAL);
        assert_string_equal(err, "t:1: line too long or contains a NUL byte");
}

static void test_file_round_trip(void **state)
{
        (void)state;
        char dir[] = "/tmp/sl_topic_config_testXXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/topic.config", dir);
        sl_topic_config tc, back;
        sl_topic_config_init(&tc);
        sl_topic_config_init(&back);
        assert_int_equal(sl_topic_config_set(&back, "retention.ms", "1", err, sizeof(err)), 0);
        assert_int_equal(sl_topic_config_load(&back, path, err, sizeof(err)), 0); /* missing */
        assert_int_equal(back.set, 0);
        for (size_t k = 0; k < SL_TOPIC_KEY_COUNT; k++) {
                sl_config_entry e;
                sl_topic_config_describe(&tc, NULL, k, &e);
                assert_int_equal(sl_topic_config_set(&tc, e.name, e.value, err, sizeof(err)), 0);
        }
        assert_int_equal(sl_topic_config_set(&tc, "segment.bytes", "64MiB", err, sizeof(err)), 0);
        assert_int_equal(sl_topic_config_save(&tc, path, err, sizeof(err)), 0);
        assert_int_equal(sl_topic_config_load(&back, path, err, sizeof(err)), 0);
        assert_memory_equal(&back, &tc, sizeof(tc));
        assert_int_equal(sl_topic_config_i64(&back, NULL, SL_TOPIC_SEGMENT_BYTES), 64 << 20);
        char tmp[300];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        assert_int_equal(access(tmp, F_OK), -1); /* renamed away */

        FILE *f = fopen(path, "w");
        fputs("retention.ms=-5\n", f);
        fclose(f);
        assert_int_equal(sl_topic_config_load(&back, path, err, sizeof(err)), -EINVAL);
        char want[512];
        snprintf(want, sizeof(want), "%s:1: retention.ms: expected an integer >= -1, got \"-5\"",
                 path);
        assert_string_equal(err, want);
        unlink(path);
        char nodir[300];
        snprintf(nodir, sizeof(nodir), "%s/missing/topic.config", dir);
        assert_int_equal(sl_topic_config_save(&tc, nodir, err, sizeof(err)), -ENOENT);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kafka_defaults),  cmocka_unit_test(test_broker_supplies_defaults),
            cmocka_unit_test(test_set_validates),   cmocka_unit_test(test_text_round_trip),
            cmocka_unit_test(test_file_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
