/* broker/tests/test_produce.c — Produce, ListOffsets and OffsetForLeaderEpoch
 * through the real connection and dispatch path of a one-shard broker
 * (dp_harness.h): offsets across versions and acks, group commit for acks=-1,
 * acks=0 silence (and the close on failure), every per-partition error of
 * ENCODING §3.8 the handler gives (unknown topic/partition, invalid acks,
 * corrupt CRC, too large, compacted null keys with RecordErrors,
 * idempotent dedup, transactional refusal), LogAppendTime, v0-2 closing, and the
 * offset queries of ListOffsets v0-10 and OffsetForLeaderEpoch v2-4. */
#include "dp_harness.h"

static uint8_t batch[1 << 16];

static void test_produce_offsets(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        dp_topic(&t, "t", 3, NULL, NULL);
        int64_t next = 0;
        for (int16_t v = 3; v <= 11; v++) {
                size_t len =
                    dp_batch(batch, sizeof(batch), 3, KP_CODEC_NONE, false, 1000, -1, false);
                int16_t acks = v % 2 ? 1 : -1; /* -1: answered after the group commit */
                dp_produced r = dp_produce(&t, v, "t", 1, acks, batch, len);
                assert_int_equal(r.error, 0);
                assert_int_equal(r.base_offset, next);
                assert_int_equal(r.log_append_time, -1);
                if (v >= 5)
                        assert_int_equal(r.log_start_offset, 0);
                if (v >= 8)
                        assert_int_equal(r.record_errors, 0);
                next += 3;
        }
        /* Every codec is accepted (zstd from v7). */
        for (int codec = 1; codec <= 4; codec++) {
                size_t len = dp_batch(batch, sizeof(batch), 5, codec, false, 1000, -1, false);
                dp_produced r = dp_produce(&t, 9, "t", 0, 1, batch, len);
                assert_int_equal(r.error, 0);
        }
        size_t len = dp_batch(batch, sizeof(batch), 5, KP_CODEC_ZSTD, false, 1000, -1, false);
        assert_int_equal(dp_produce(&t, 6, "t", 0, 1, batch, len).error,
                         KP_ERR_UNSUPPORTED_COMPRESSION_TYPE);
        /* acks=-1 really waited for a sync: everything before is durable. */
        sl_partition *p =
            sl_partition_find(sl_topics_find(sl_topics_current(), kp_str_c("t"))->id, 1);
        assert_non_null(p);
        assert_true(sl_log_flushed_offset(p->log) >= next - 3);
        dp_stop(&t);
}

static void test_produce_errors(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        dp_topic(&t, "t", 2, NULL, NULL);
        dp_topic(&t, "small", 1, "max.message.bytes", "200");
        dp_topic(&t, "compacted", 1, "cleanup.policy", "compact");
        size_t len = dp_batch(batch, sizeof(batch), 3, KP_CODEC_NONE, false, 1000, -1, false);

        assert_int_equal(dp_produce(&t, 9, "nope", 0, 1, batch, len).error,
                         KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(dp_produce(&t, 9, "t", 2, 1, batch, len).error,
                         KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(dp_produce(&t, 9, "t", -1, 1, batch, len).error,
                         KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(dp_produce(&t, 9, "t", 0, 2, batch, len).error,
                         KP_ERR_INVALID_REQUIRED_ACKS);
        assert_int_equal(dp_produce(&t, 9, "t", 0, -2, batch, len).error,
                         KP_ERR_INVALID_REQUIRED_ACKS);

        /* A flipped byte in the records: CRC mismatch. */
        batch[len - 1] ^= 0x55;
        assert_int_equal(dp_produce(&t, 9, "t", 0, 1, batch, len).error, KP_ERR_CORRUPT_MESSAGE);
        batch[len - 1] ^= 0x55;
        /* Two batches in one partition's records: INVALID_RECORD. */
        memcpy(batch + len, batch, len);
        assert_int_equal(dp_produce(&t, 9, "t", 0, 1, batch, 2 * len).error, KP_ERR_INVALID_RECORD);
        /* Truncated batch. */
        assert_int_not_equal(dp_produce(&t, 9, "t", 0, 1, batch, len - 3).error, 0);

        size_t big = dp_batch(batch, sizeof(batch), 10, KP_CODEC_NONE, false, 1000, -1, false);
        assert_true(big > 200);
        assert_int_equal(dp_produce(&t, 9, "small", 0, 1, batch, big).error,
                         KP_ERR_MESSAGE_TOO_LARGE);

        len = dp_batch(batch, sizeof(batch), 4, KP_CODEC_GZIP, true, 1000, -1, false);
        dp_produced r = dp_produce(&t, 9, "compacted", 0, 1, batch, len);
        assert_int_equal(r.error, KP_ERR_INVALID_RECORD);
        assert_int_equal(r.record_errors, 4);
        assert_int_equal(r.first_bad, 0);
        assert_int_equal(r.base_offset, -1);

        /* Idempotent batches are appended once (producer_state.h: a retry gets
         * the original offset); transactional ones are refused. */
        len = dp_batch(batch, sizeof(batch), 2, KP_CODEC_NONE, false, 1000, 77, false);
        for (int i = 0; i < 2; i++) {
                r = dp_produce(&t, 9, "t", 1, 1, batch, len);
                assert_int_equal(r.error, 0);
                assert_int_equal(r.base_offset, 0);
        }
        len = dp_batch(batch, sizeof(batch), 2, KP_CODEC_NONE, false, 1000, 77, true);
        assert_int_equal(dp_produce(&t, 9, "t", 0, 1, batch, len).error, KP_ERR_INVALID_TXN_STATE);

        /* Nothing above was appended. */
        len = dp_batch(batch, sizeof(batch), 1, KP_CODEC_NONE, false, 1000, -1, false);
        r = dp_produce(&t, 9, "t", 0, 1, batch, len);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.base_offset, 0);
        dp_stop(&t);
}

static void test_produce_log_append_time(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        dp_topic(&t, "la", 1, "message.timestamp.type", "LogAppendTime");
        size_t len = dp_batch(batch, sizeof(batch), 2, KP_CODEC_LZ4, false, 5, -1, false);
        dp_produced r = dp_produce(&t, 8, "la", 0, 1, batch, len);
        assert_int_equal(r.error, 0);
        assert_true(r.log_append_time > 1600000000000LL);
        dp_stop(&t);
}

static void test_produce_acks0(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        dp_topic(&t, "t", 1, NULL, NULL);
        size_t len = dp_batch(batch, sizeof(batch), 2, KP_CODEC_NONE, false, 1000, -1, false);
        /* acks=0: no answer; the next request's answer comes next. */
        dp_produce_send(&t, 9, 7, "t", 0, 0, batch, len);
        dp_produced r = dp_produce(&t, 9, "t", 0, 1, batch, len);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.base_offset, 2);
        /* A failed acks=0 produce closes the connection. */
        dp_produce_send(&t, 9, 8, "nope", 0, 0, batch, len);
        assert_true(th_eof(&t));
        dp_stop(&t);
}

static void test_produce_old_versions_close(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        dp_topic(&t, "t", 1, NULL, NULL);
        size_t len = dp_batch(batch, sizeof(batch), 2, KP_CODEC_NONE, false, 1000, -1, false);
        dp_produce_send(&t, 2, 9, "t", 0, 1, batch, len);
        assert_true(th_eof(&t));
        dp_stop(&t);
}

/* ---- ListOffsets ---- */

typedef struct lo_out {
        int16_t error;
        int64_t offset;
        int64_t timestamp;
        int32_t epoch;
        int32_t old_count;
} lo_out;

static lo_out list_offsets(th *t, int16_t v, const char *topic, int32_t part, int64_t ts,
                           int32_t current_epoch)
{
        static int32_t corr = 5000;
        kp_list_offsets_request_list_offsets_partition rp = {.partition_index = part,
                                                             .current_leader_epoch = current_epoch,
                                                             .timestamp = ts,
                                                             .max_num_offsets = 1};
        kp_list_offsets_request_list_offsets_topic rt = {
            .name = kp_str_c(topic), .partitions = &rp, .partitions_count = 1};
        kp_list_offsets_request q;
        kp_list_offsets_request_init(&q);
        q.replica_id = -1;
        q.topics = &rt;
        q.topics_count = 1;
        size_t n;
        const uint8_t *body = DP_ENCODE(kp_list_offsets_request, &q, v, &n);
        dp_send(t, 2, v, ++corr, body, n);
        kp_rd rd = dp_recv(t, 2, v, corr);
        kp_list_offsets_response r;
        assert_int_equal(kp_list_offsets_response_decode(&rd, v, &r), 0);
        assert_int_equal(kp_rd_left(&rd), 0);
        const kp_list_offsets_response_list_offsets_partition_response *p =
            &r.topics[0].partitions[0];
        lo_out o = {p->error_code, p->offset, p->timestamp, p->leader_epoch,
                    p->old_style_offsets_count};
        if (v == 0 && p->old_style_offsets_count > 0)
                o.offset = p->old_style_offsets[0];
        return o;
}

static void test_list_offsets(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        dp_topic(&t, "t", 2, NULL, NULL);
        /* Empty log: earliest = latest = 0. */
        for (int16_t v = 0; v <= 10; v++) {
                assert_int_equal(list_offsets(&t, v, "t", 0, -1, -1).offset, 0);
                assert_int_equal(list_offsets(&t, v, "t", 0, -2, -1).offset, 0);
        }
        lo_out o = list_offsets(&t, 7, "t", 0, -3, -1);
        assert_int_equal(o.error, 0);
        assert_int_equal(o.offset, -1);
        /* Three batches with timestamps 1000.., 2000.., 3000.. */
        for (int b = 1; b <= 3; b++) {
                size_t len =
                    dp_batch(batch, sizeof(batch), 4, KP_CODEC_SNAPPY, false, b * 1000, -1, false);
                assert_int_equal(dp_produce(&t, 7, "t", 0, 1, batch, len).error, 0);
        }
        for (int16_t v = 1; v <= 10; v++) {
                o = list_offsets(&t, v, "t", 0, -1, -1);
                assert_int_equal(o.error, 0);
                assert_int_equal(o.offset, 12);
                assert_int_equal(o.epoch, v >= 4 ? 0 : -1);
                assert_int_equal(list_offsets(&t, v, "t", 0, -2, -1).offset, 0);
                o = list_offsets(&t, v, "t", 0, 2001, -1);
                assert_int_equal(o.offset, 5); /* the record with ts 2001 */
                assert_int_equal(o.timestamp, 2001);
                o = list_offsets(&t, v, "t", 0, 1500, -1);
                assert_int_equal(o.offset, 4); /* next record: ts 2000 */
                assert_int_equal(o.timestamp, 2000);
                o = list_offsets(&t, v, "t", 0, 9999, -1);
                assert_int_equal(o.error, 0);
                assert_int_equal(o.offset, -1);
                assert_int_equal(o.timestamp, -1);
        }
        o = list_offsets(&t, 7, "t", 0, -3, -1);
        assert_int_equal(o.offset, 11);
        assert_int_equal(o.timestamp, 3003);
        assert_int_equal(list_offsets(&t, 8, "t", 0, -4, -1).offset, 0);
        assert_int_equal(list_offsets(&t, 9, "t", 0, -5, -1).offset, -1);
        /* v0: old-style array of one offset. */
        o = list_offsets(&t, 0, "t", 0, -1, -1);
        assert_int_equal(o.old_count, 1);
        assert_int_equal(o.offset, 12);
        o = list_offsets(&t, 0, "t", 0, 9999, -1);
        assert_int_equal(o.old_count, 0);
        /* Errors. */
        assert_int_equal(list_offsets(&t, 5, "t", 2, -1, -1).error,
                         KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(list_offsets(&t, 5, "x", 0, -1, -1).error,
                         KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(list_offsets(&t, 5, "t", 0, -1, 3).error, KP_ERR_UNKNOWN_LEADER_EPOCH);
        assert_int_equal(list_offsets(&t, 5, "t", 0, -1, 0).error, 0);
        dp_stop(&t);
}

/* A producer that leaves maxTimestamp at -1 (sarama 1.22): the broker
 * recomputes it from the records, so offsets for times still work. */
static void test_produce_fixes_max_timestamp(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        dp_topic(&t, "m", 1, NULL, NULL);
        size_t len = dp_batch(batch, sizeof(batch), 4, KP_CODEC_GZIP, false, 5000, -1, false);
        kp_batch_set_max_timestamp(batch, len, -1);
        assert_int_equal(dp_produce(&t, 7, "m", 0, 1, batch, len).error, 0);
        lo_out o = list_offsets(&t, 5, "m", 0, 5002, -1);
        assert_int_equal(o.error, 0);
        assert_int_equal(o.offset, 2);
        assert_int_equal(o.timestamp, 5002);
        o = list_offsets(&t, 7, "m", 0, -3, -1);
        assert_int_equal(o.timestamp, 5003);
        dp_stop(&t);
}

/* ---- OffsetForLeaderEpoch ---- */

static kp_offset_for_leader_epoch_response_epoch_end_offset
ofle(th *t, int16_t v, const char *topic, int32_t part, int32_t epoch, int32_t current)
{
        static int32_t corr = 7000;
        kp_offset_for_leader_epoch_request_offset_for_leader_partition rp = {
            .partition = part, .current_leader_epoch = current, .leader_epoch = epoch};
        kp_offset_for_leader_epoch_request_offset_for_leader_topic rt = {
            .topic = kp_str_c(topic), .partitions = &rp, .partitions_count = 1};
        kp_offset_for_leader_epoch_request q;
        kp_offset_for_leader_epoch_request_init(&q);
        q.replica_id = -1;
        q.topics = &rt;
        q.topics_count = 1;
        size_t n;
        const uint8_t *body = DP_ENCODE(kp_offset_for_leader_epoch_request, &q, v, &n);
        dp_send(t, 23, v, ++corr, body, n);
        kp_rd rd = dp_recv(t, 23, v, corr);
        kp_offset_for_leader_epoch_response r;
        assert_int_equal(kp_offset_for_leader_epoch_response_decode(&rd, v, &r), 0);
        assert_int_equal(kp_rd_left(&rd), 0);
        return r.topics[0].partitions[0];
}

static void test_offset_for_leader_epoch(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        dp_topic(&t, "t", 1, NULL, NULL);
        /* Empty log: no epoch known. */
        kp_offset_for_leader_epoch_response_epoch_end_offset e = ofle(&t, 2, "t", 0, 0, -1);
        assert_int_equal(e.error_code, 0);
        assert_int_equal(e.leader_epoch, -1);
        assert_int_equal(e.end_offset, -1);
        size_t len = dp_batch(batch, sizeof(batch), 5, KP_CODEC_NONE, false, 1000, -1, false);
        assert_int_equal(dp_produce(&t, 9, "t", 0, 1, batch, len).error, 0);
        for (int16_t v = 2; v <= 4; v++) {
                e = ofle(&t, v, "t", 0, 0, 0);
                assert_int_equal(e.error_code, 0);
                assert_int_equal(e.leader_epoch, 0);
                assert_int_equal(e.end_offset, 5);
                e = ofle(&t, v, "t", 0, 3, -1); /* above the latest epoch */
                assert_int_equal(e.leader_epoch, -1);
                assert_int_equal(e.end_offset, -1);
                assert_int_equal(ofle(&t, v, "t", 0, 0, 1).error_code, KP_ERR_UNKNOWN_LEADER_EPOCH);
                assert_int_equal(ofle(&t, v, "t", 1, 0, -1).error_code,
                                 KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        }
        dp_stop(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_produce_offsets),
            cmocka_unit_test(test_produce_errors),
            cmocka_unit_test(test_produce_log_append_time),
            cmocka_unit_test(test_produce_acks0),
            cmocka_unit_test(test_produce_old_versions_close),
            cmocka_unit_test(test_list_offsets),
            cmocka_unit_test(test_produce_fixes_max_timestamp),
            cmocka_unit_test(test_offset_for_leader_epoch),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
