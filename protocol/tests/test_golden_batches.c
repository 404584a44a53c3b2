/* protocol/tests/test_golden_batches.c — record batches written by real
 * clients (librdkafka 2.0.2 via kcat, kafka-python 2.0.2, KafkaJS, sarama
 * 1.22.1), taken from their captured Produce requests (golden/,
 * capture_all.py): each parses and passes the produce checks under its codec
 * (snappy raw from librdkafka and sarama, xerial from kafka-python; sarama's
 * zstd on Produce v3 is refused as Kafka does), holds exactly the records that
 * were sent, survives the broker's rewrites, and any flipped bit in the
 * CRC-covered area is reported as a CRC mismatch. The request is walked by
 * hand (Produce v3-8 is not flexible) so this does not depend on the
 * generated codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "golden/golden_manifest.h"
#include "record_batch.h"

static golden_manifest man;
static kp_codec_ctx *cc;

static int setup(void **state)
{
        (void)state;
        cc = kp_codec_ctx_new(16 << 20);
        return golden_load(&man) == 0 && cc ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        kp_codec_ctx_free(cc);
        return 0;
}

static int codec_of(const char *name)
{
        for (int c = KP_CODEC_NONE; c <= KP_CODEC_ZSTD; c++)
                if (!strcmp(kp_codec_name(c), name))
                        return c;
        return -1;
}

/* Finds the records field of the one partition of a Produce v3-8 request. */
static kp_bytes produce_records(const uint8_t *frame, size_t len, int16_t *version)
{
        int32_t flen;
        assert_int_equal(kp_frame_peek(frame, len, KP_FRAME_DEFAULT_MAX_BYTES, &flen),
                         KP_FRAME_READY);
        assert_int_equal((size_t)flen + 4, len);
        kp_rd rd;
        kp_rd_init(&rd, frame + 4, (size_t)flen, NULL);
        assert_int_equal(kp_rd_i16(&rd, "api_key"), 0);
        *version = kp_rd_i16(&rd, "api_version");
        assert_in_range(*version, 3, 8);
        kp_rd_i32(&rd, "correlation_id");
        int16_t n = kp_rd_i16(&rd, "client_id");
        if (n > 0)
                kp_rd_take(&rd, (size_t)n, "client_id");
        n = kp_rd_i16(&rd, "transactional_id");
        if (n > 0)
                kp_rd_take(&rd, (size_t)n, "transactional_id");
        kp_rd_i16(&rd, "acks");
        kp_rd_i32(&rd, "timeout");
        assert_int_equal(kp_rd_i32(&rd, "topics"), 1);
        n = kp_rd_i16(&rd, "topic");
        const uint8_t *name = kp_rd_take(&rd, (size_t)n, "topic");
        assert_int_equal(n, 6);
        assert_memory_equal(name, "golden", 6);
        assert_int_equal(kp_rd_i32(&rd, "partitions"), 1);
        assert_int_equal(kp_rd_i32(&rd, "partition"), 0);
        int32_t rlen = kp_rd_i32(&rd, "records");
        const uint8_t *p = kp_rd_take(&rd, (size_t)rlen, "records");
        assert_int_equal(rd.err, 0);
        assert_int_equal(kp_rd_left(&rd), 0);
        return (kp_bytes){p, rlen};
}

/* Checks record i is ("key-i", "value-i " + filler). */
static void check_contents(const kp_batch *b)
{
        const uint8_t *area = b->records.p;
        size_t area_len = (size_t)b->records.len;
        const char *why = NULL;
        if (kp_batch_codec(b) != KP_CODEC_NONE)
                assert_int_equal(kp_decompress(cc, kp_batch_codec(b), b->records.p,
                                               (size_t)b->records.len, &area, &area_len, &why),
                                 0);
        kp_record_iter it;
        kp_record r;
        kp_record_iter_init(&it, area, area_len, b->records_count);
        int i = 0;
        char want[1024];
        while (kp_record_next(&it, &r)) {
                int n = snprintf(want, sizeof(want), "key-%d", i);
                assert_int_equal(r.key.len, n);
                assert_memory_equal(r.key.p, want, (size_t)n);
                n = snprintf(want, sizeof(want), "value-%d %s", i, man.filler);
                assert_int_equal(r.value.len, n);
                assert_memory_equal(r.value.p, want, (size_t)n);
                assert_int_equal(r.offset_delta, i);
                i++;
        }
        assert_int_equal(it.rd.err, 0);
        assert_int_equal(i, b->records_count);
}

static void test_client_batches(void **state)
{
        (void)state;
        int produces = 0;
        assert_true(strlen(man.filler) > 10);
        for (int k = 0; k < man.count; k++) {
                const golden_row *row = &man.rows[k];
                if (strcmp(row->api, "produce"))
                        continue;
                size_t len;
                uint8_t *frame = golden_read(row, &len);
                assert_non_null(frame);
                int16_t version;
                kp_bytes rec = produce_records(frame, len, &version);
                kp_batch b;
                kp_batch_info info;
                const char *why = NULL;
                int16_t err = kp_batch_validate_produce(rec, version, cc, &b, &info, &why);
                if (codec_of(row->codec) == KP_CODEC_ZSTD && version < 7) {
                        /* sarama 1.22.1 sends zstd on Produce v3: Kafka refuses it. */
                        assert_int_equal(err, KP_ERR_UNSUPPORTED_COMPRESSION_TYPE);
                        err = kp_batch_validate_produce(rec, 7, cc, &b, &info, &why);
                }
                if (err)
                        fail_msg("%s/%s: %d %s", row->client, row->file, err, why);
                assert_int_equal(kp_batch_codec(&b), codec_of(row->codec));
                assert_int_equal(b.records_count, row->records);
                assert_int_equal(info.records, row->records);
                /* sarama 1.22.1 leaves maxTimestamp at -1; the broker sets it on
                 * append (kp_batch_set_max_timestamp), as Kafka does. */
                if (strcmp(row->client, "sarama"))
                        assert_int_equal(b.max_timestamp, info.max_timestamp);
                else
                        assert_int_equal(b.max_timestamp, -1);
                assert_true(info.max_timestamp > 1700000000000LL);
                check_contents(&b);
                produces++;
                free(frame);
        }
        assert_true(produces >= 17);
}

static void test_flipped_bits(void **state)
{
        (void)state;
        int checked = 0;
        for (int k = 0; k < man.count; k++) {
                const golden_row *row = &man.rows[k];
                if (strcmp(row->api, "produce"))
                        continue;
                size_t len;
                uint8_t *frame = golden_read(row, &len);
                int16_t version;
                kp_bytes rec = produce_records(frame, len, &version);
                if (version < 7)
                        version = 7; /* past the zstd version check, to reach the CRC */
                uint8_t *p = (uint8_t *)rec.p;
                for (size_t off = KP_BATCH_OFF_CRC; off < (size_t)rec.len; off++) {
                        if (off >= KP_BATCH_OFF_ATTRIBUTES && off < KP_BATCH_OFF_ATTRIBUTES + 2)
                                continue; /* attribute flips may change the codec check first */
                        uint8_t bit = (uint8_t)(1u << (off * 5 % 8));
                        p[off] ^= bit;
                        kp_batch b;
                        const char *why = NULL;
                        int16_t err = kp_batch_validate_produce(rec, version, cc, &b, NULL, &why);
                        assert_int_equal(err, KP_ERR_CORRUPT_MESSAGE);
                        assert_string_equal(why, "CRC-32C mismatch");
                        p[off] ^= bit;
                        checked++;
                }
                free(frame);
        }
        assert_true(checked > 1000);
}

static void test_rewrites_keep_batches_valid(void **state)
{
        (void)state;
        for (int k = 0; k < man.count; k++) {
                const golden_row *row = &man.rows[k];
                if (strcmp(row->api, "produce"))
                        continue;
                size_t len;
                uint8_t *frame = golden_read(row, &len);
                int16_t version;
                kp_bytes rec = produce_records(frame, len, &version);
                uint8_t *p = (uint8_t *)rec.p;
                kp_batch_set_base_offset(p, 1000000);
                kp_batch_set_leader_epoch(p, 7);
                kp_batch_set_log_append_time(p, (size_t)rec.len, 1900000000000LL);
                kp_batch b;
                kp_batch_info info;
                const char *why = NULL;
                assert_int_equal(kp_batch_parse(p, (size_t)rec.len, &b, &why), 0);
                assert_int_equal(kp_batch_verify(&b, cc, 0, &info, &why), 0);
                assert_int_equal(b.base_offset, 1000000);
                assert_int_equal(b.partition_leader_epoch, 7);
                assert_int_equal(b.max_timestamp, 1900000000000LL);
                assert_int_equal(kp_batch_codec(&b), codec_of(row->codec));
                free(frame);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_client_batches),
            cmocka_unit_test(test_flipped_bits),
            cmocka_unit_test(test_rewrites_keep_batches_valid),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
