/* protocol/tests/test_roundtrip_edge.c — the codec's rules for hostile and odd input.
 *
 * Hand-built frames check what a generated round trip cannot: hostile array
 * counts fail before anything is allocated, unknown tagged fields are skipped
 * and badly ordered or sized ones rejected, ignorable vs non-ignorable fields
 * in versions without them, null only where the version allows it, defaults
 * for fields a version lacks, header-version rules and the API table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gen/kp_messages.h"

#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static kp_arena g_arena;

static int setup(void **state)
{
        (void)state;
        kp_arena_init(&g_arena, 4096);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        kp_arena_release(&g_arena);
        return 0;
}

static kp_rd reader(const uint8_t *p, size_t n)
{
        kp_rd rd;
        kp_arena_reset(&g_arena);
        kp_rd_init(&rd, p, n, &g_arena);
        return rd;
}

static void test_hostile_counts(void **state)
{
        (void)state;
        kp_produce_request m;
        /* v3 classic: null txn id, acks, timeout, topic count 2^31-1, 9 bytes. */
        kp_rd rd = reader(B(0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x03, 0xe8, 0x7f, 0xff, 0xff, 0xff,
                            1, 2, 3, 4, 5, 6, 7, 8, 9));
        assert_int_equal(kp_produce_request_decode(&rd, 3, &m), -1);
        assert_int_equal(rd.err, KP_ERR_CORRUPT_MESSAGE);
        assert_int_equal(g_arena.used_bytes, 0);
        /* v9 compact: count uvarint 2^31 (+1). */
        rd = reader(B(0x00, 0x00, 0x01, 0x00, 0x00, 0x03, 0xe8, 0x80, 0x80, 0x80, 0x80, 0x08, 1, 2,
                      3, 4, 5, 6, 7, 8));
        assert_int_equal(kp_produce_request_decode(&rd, 9, &m), -1);
        assert_int_equal(rd.err, KP_ERR_CORRUPT_MESSAGE);
        assert_int_equal(g_arena.used_bytes, 0);
        /* 5 topics of at least 6 bytes each cannot fit in 10 bytes. */
        rd = reader(B(0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x05, 1, 2,
                      3, 4, 5, 6, 7, 8, 9, 10));
        assert_int_equal(kp_produce_request_decode(&rd, 3, &m), -1);
        assert_int_equal(g_arena.used_bytes, 0);
        /* Array of strings: DeleteTopics v0 TopicNames count 2^31-1, timeout. */
        kp_delete_topics_request d;
        rd = reader(B(0x7f, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x10));
        assert_int_equal(kp_delete_topics_request_decode(&rd, 0, &d), -1);
        assert_int_equal(g_arena.used_bytes, 0);
        /* Negative classic count other than -1 is malformed. */
        rd = reader(B(0xff, 0xff, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x10));
        assert_int_equal(kp_delete_topics_request_decode(&rd, 0, &d), -1);
        assert_int_equal(rd.err, KP_ERR_CORRUPT_MESSAGE);
        /* A sane count still decodes. */
        rd = reader(B(0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x10));
        assert_int_equal(kp_delete_topics_request_decode(&rd, 0, &d), 0);
        assert_int_equal(d.topic_names_count, 1);
        assert_true(kp_str_eq(d.topic_names[0], kp_str_c("t")));
        assert_int_equal(d.timeout_ms, 16);
}

static void test_tagged_fields(void **state)
{
        (void)state;
        kp_api_versions_request q;
        /* ApiVersions v3 body; unknown tag 5 (3 bytes) is skipped. */
        kp_rd rd = reader(B(0x03, 'a', 'b', 0x02, '1', 0x01, 0x05, 0x03, 0xaa, 0xbb, 0xcc));
        assert_int_equal(kp_api_versions_request_decode(&rd, 3, &q), 0);
        assert_int_equal(kp_rd_left(&rd), 0);
        assert_true(kp_str_eq(q.client_software_name, kp_str_c("ab")));
        assert_true(kp_str_eq(q.client_software_version, kp_str_c("1")));
        /* Tags must be strictly ascending. */
        rd = reader(B(0x03, 'a', 'b', 0x02, '1', 0x02, 0x05, 0x00, 0x04, 0x00));
        assert_int_equal(kp_api_versions_request_decode(&rd, 3, &q), -1);
        assert_int_equal(rd.err, KP_ERR_CORRUPT_MESSAGE);
        rd = reader(B(0x03, 'a', 'b', 0x02, '1', 0x02, 0x05, 0x00, 0x05, 0x00));
        assert_int_equal(kp_api_versions_request_decode(&rd, 3, &q), -1);
        /* A tag whose size runs past the frame. */
        rd = reader(B(0x03, 'a', 'b', 0x02, '1', 0x01, 0x05, 0x09, 0xaa));
        assert_int_equal(kp_api_versions_request_decode(&rd, 3, &q), -1);

        /* ApiVersionsResponse v3: error, no keys, throttle, tag 1 (FinalizedFeaturesEpoch). */
        kp_api_versions_response r;
        rd = reader(
            B(0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 42));
        assert_int_equal(kp_api_versions_response_decode(&rd, 3, &r), 0);
        assert_int_equal(r.finalized_features_epoch, 42);
        assert_int_equal(r.zk_migration_ready, false);
        /* Absent tag keeps its default (-1). */
        rd = reader(B(0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00));
        assert_int_equal(kp_api_versions_response_decode(&rd, 3, &r), 0);
        assert_int_equal(r.finalized_features_epoch, -1);
        /* Known tag whose value does not fill its size. */
        rd = reader(B(0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x09, 0, 0, 0, 0, 0, 0,
                      0, 42, 0));
        assert_int_equal(kp_api_versions_response_decode(&rd, 3, &r), -1);
        assert_int_equal(rd.err, KP_ERR_CORRUPT_MESSAGE);
        /* Known tag too short for its value. */
        rd = reader(B(0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x04, 0, 0, 0, 42));
        assert_int_equal(kp_api_versions_response_decode(&rd, 3, &r), -1);

        /* Encoder: only non-default tagged fields, ascending. */
        kp_api_versions_response_init(&r);
        r.zk_migration_ready = true;
        r.finalized_features_epoch = 7;
        uint8_t buf[64];
        kp_wr wr;
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_api_versions_response_encode(&wr, 3, &r), 0);
        static const uint8_t want[] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                                       0x02, 0x01, 0x08, 0,    0,    0,    0,
                                       0,    0,    0,    7,    0x03, 0x01, 0x01};
        assert_int_equal(wr.p - buf, sizeof(want));
        assert_memory_equal(buf, want, sizeof(want));
        assert_int_equal(kp_api_versions_response_size(&r, 3), sizeof(want));
}

static void test_ignorable(void **state)
{
        (void)state;
        uint8_t buf[256];
        kp_wr wr;
        /* ThrottleTimeMs is ignorable and absent in v0: dropped silently. */
        kp_produce_response p;
        kp_produce_response_init(&p);
        p.throttle_time_ms = 100;
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_produce_response_encode(&wr, 0, &p), 0);
        kp_rd rd = reader(buf, (size_t)(wr.p - buf));
        assert_int_equal(kp_produce_response_decode(&rd, 0, &p), 0);
        assert_int_equal(p.throttle_time_ms, 0);
        /* AllowAutoTopicCreation is not ignorable and absent before v4. */
        kp_metadata_request m;
        kp_metadata_request_init(&m);
        m.allow_auto_topic_creation = false;
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_metadata_request_encode(&wr, 3, &m), -1);
        assert_non_null(wr.why);
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_metadata_request_encode(&wr, 4, &m), 0);
        /* Default value of a non-ignorable field is fine in any version. */
        m.allow_auto_topic_creation = true;
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_metadata_request_encode(&wr, 3, &m), 0);
        /* TransactionalId (v3+) set on a v2 produce request is refused. */
        kp_produce_request q;
        kp_produce_request_init(&q);
        q.transactional_id = kp_str_c("txn");
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_produce_request_encode(&wr, 2, &q), -1);
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_produce_request_encode(&wr, 3, &q), 0);
}

static void test_nullable_per_version(void **state)
{
        (void)state;
        kp_metadata_request m;
        /* Topics is nullable from v1 only. */
        kp_rd rd = reader(B(0xff, 0xff, 0xff, 0xff));
        assert_int_equal(kp_metadata_request_decode(&rd, 0, &m), -1);
        assert_int_equal(rd.err, KP_ERR_INVALID_REQUEST);
        rd = reader(B(0xff, 0xff, 0xff, 0xff));
        assert_int_equal(kp_metadata_request_decode(&rd, 1, &m), 0);
        assert_int_equal(m.topics_count, -1);
        uint8_t buf[64];
        kp_wr wr;
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_metadata_request_encode(&wr, 0, &m), -1);
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_metadata_request_encode(&wr, 1, &m), 0);
        /* A null topic name is never allowed. */
        kp_produce_request p;
        rd = reader(B(0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x01, 0xff,
                      0xff, 0x00, 0x00, 0x00, 0x00));
        assert_int_equal(kp_produce_request_decode(&rd, 3, &p), -1);
        assert_int_equal(rd.err, KP_ERR_INVALID_REQUEST);
        /* Nullable struct (default null): marker -1 on the wire. */
        kp_describe_topic_partitions_request d;
        kp_describe_topic_partitions_request_init(&d);
        assert_false(d.cursor_present);
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_describe_topic_partitions_request_encode(&wr, 0, &d), 0);
        assert_int_equal(wr.p - buf, 1 + 4 + 1 + 1); /* topics, limit, cursor, tags */
        assert_int_equal(buf[5], 0xff);
        rd = reader(buf, (size_t)(wr.p - buf));
        d.cursor_present = true;
        assert_int_equal(kp_describe_topic_partitions_request_decode(&rd, 0, &d), 0);
        assert_false(d.cursor_present);
}

static void test_defaults(void **state)
{
        (void)state;
        /* ProduceResponse v0: one topic, one partition; newer fields keep defaults. */
        kp_produce_response p;
        kp_rd rd = reader(B(0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x01, 0x00,
                            0x00, 0x00, 0x02, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 5));
        assert_int_equal(kp_produce_response_decode(&rd, 0, &p), 0);
        assert_int_equal(p.responses_count, 1);
        kp_produce_response_partition_produce_response *pr = &p.responses[0].partition_responses[0];
        assert_int_equal(pr->index, 2);
        assert_int_equal(pr->base_offset, 5);
        assert_int_equal(pr->log_append_time_ms, -1);
        assert_int_equal(pr->log_start_offset, -1);
        assert_int_equal(pr->error_message.len, -1);
        assert_int_equal(p.throttle_time_ms, 0);
        kp_metadata_request m;
        rd = reader(B(0x00, 0x00, 0x00, 0x00));
        assert_int_equal(kp_metadata_request_decode(&rd, 3, &m), 0);
        assert_true(m.allow_auto_topic_creation);
        kp_fetch_request f;
        kp_fetch_request_init(&f);
        assert_int_equal(f.replica_id, -1);
        assert_int_equal(f.cluster_id.len, -1);
        assert_int_equal(f.max_bytes, 0x7fffffff);
        assert_int_equal(f.replica_state.replica_epoch, -1);
}

static void test_header_versions(void **state)
{
        (void)state;
        assert_int_equal(kp_response_header_version(18, 0), 0);
        assert_int_equal(kp_response_header_version(18, 3), 0);
        assert_int_equal(kp_response_header_version(18, 4), 0);
        assert_int_equal(kp_response_header_version(0, 9), 1);
        assert_int_equal(kp_response_header_version(0, 8), 0);
        assert_int_equal(kp_response_header_version(999, 0), 0);
        assert_int_equal(kp_request_header_version(18, 3), 2);
        assert_int_equal(kp_request_header_version(18, 7), 2); /* newer than known */
        assert_int_equal(kp_request_header_version(18, 2), 1);
        assert_int_equal(kp_request_header_version(7, 0), 0);
        assert_int_equal(kp_request_header_version(7, 1), 1);
        assert_int_equal(kp_request_header_version(999, 5), 1);
        /* Header v2 keeps a classic client id, then a tag section. */
        kp_request_header h;
        kp_rd rd = reader(B(0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'x', 0x00));
        assert_int_equal(kp_request_header_decode(&rd, 2, &h), 0);
        assert_int_equal(h.request_api_key, 18);
        assert_int_equal(h.correlation_id, 1);
        assert_true(kp_str_eq(h.client_id, kp_str_c("x")));
        /* Header v0 (ControlledShutdown v0) has no client id. */
        rd = reader(B(0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09));
        assert_int_equal(kp_request_header_decode(&rd, 0, &h), 0);
        assert_int_equal(h.correlation_id, 9);
        assert_int_equal(kp_rd_left(&rd), 0);
}

static void test_limits(void **state)
{
        (void)state;
        kp_api_versions_request q;
        /* Compact string of 40000 bytes (uvarint 40001) is malformed. */
        kp_rd rd = reader(B(0xc1, 0xb8, 0x02, 'a', 'b'));
        assert_int_equal(kp_api_versions_request_decode(&rd, 3, &q), -1);
        assert_int_equal(rd.err, KP_ERR_CORRUPT_MESSAGE);
        /* A six-byte uvarint is malformed. */
        rd = reader(B(0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x00));
        assert_int_equal(kp_api_versions_request_decode(&rd, 3, &q), -1);
        /* Classic string length -2. */
        kp_delete_topics_request d;
        rd = reader(B(0x00, 0x00, 0x00, 0x01, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x10));
        assert_int_equal(kp_delete_topics_request_decode(&rd, 0, &d), -1);
        assert_int_equal(rd.err, KP_ERR_CORRUPT_MESSAGE);
        /* The encoder refuses a string over 32767 bytes. */
        static char big[40000];
        memset(big, 'a', sizeof(big));
        kp_api_versions_request_init(&q);
        q.client_software_name = (kp_str){big, (int32_t)sizeof(big)};
        static uint8_t buf[50000];
        kp_wr wr;
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_api_versions_request_encode(&wr, 3, &q), -1);
        /* Decoding needs an arena only when there is an array to allocate. */
        kp_rd_init(&rd, B(0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't', 0x00, 0x00, 0x00, 0x10), NULL);
        assert_int_equal(kp_delete_topics_request_decode(&rd, 0, &d), -1);
        assert_int_equal(rd.err, KP_ERR_UNKNOWN_SERVER_ERROR);
}

static void test_api_table(void **state)
{
        (void)state;
        assert_int_equal(kp_api_infos_count, 88);
        const kp_api_info *a = kp_api_info_find(0);
        assert_non_null(a);
        assert_string_equal(a->name, "Produce");
        assert_int_equal(a->min_version, 0);
        assert_int_equal(a->max_version, 11);
        assert_int_equal(a->first_flexible, 9);
        assert_false(a->latest_unstable);
        assert_true(kp_api_info_find(26)->latest_unstable);
        assert_int_equal(kp_api_info_find(17)->first_flexible, -1);
        assert_null(kp_api_info_find(88));
        assert_null(kp_api_info_find(-1));
        for (size_t i = 0; i < kp_api_infos_count; i++)
                assert_int_equal(kp_api_info_find(kp_api_infos[i].api_key), &kp_api_infos[i]);
        assert_int_equal(kp_request_struct_size(0), sizeof(kp_produce_request));
        assert_int_equal(kp_response_struct_size(1), sizeof(kp_fetch_response));
        assert_int_equal(kp_request_struct_size(100), 0);
        kp_rd rd = reader(B(0x00, 0x00, 0x00, 0x00));
        kp_metadata_request m;
        assert_int_equal(kp_request_decode_any(&rd, 3, 3, &m), 0);
        assert_int_equal(m.topics_count, 0);
        rd = reader(B(0x00, 0x00, 0x00, 0x00));
        assert_int_equal(kp_request_decode_any(&rd, 100, 0, &m), -1);
        assert_int_equal(rd.err, KP_ERR_INVALID_REQUEST);
        assert_int_equal(kp_request_size_any(3, 3, &m), 4);
        uint8_t buf[8];
        kp_wr wr;
        kp_wr_init(&wr, buf, sizeof(buf));
        assert_int_equal(kp_request_encode_any(&wr, 3, 3, &m), 0);
        assert_int_equal(wr.p - buf, 4);
        assert_int_equal(kp_request_init_any(100, &m), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_hostile_counts), cmocka_unit_test(test_tagged_fields),
            cmocka_unit_test(test_ignorable),      cmocka_unit_test(test_nullable_per_version),
            cmocka_unit_test(test_defaults),       cmocka_unit_test(test_header_versions),
            cmocka_unit_test(test_limits),         cmocka_unit_test(test_api_table),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
