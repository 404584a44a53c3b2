/* protocol/tests/test_record_batch.c — record batch v2 (record_batch.h): the
 * ENCODING.md §3.4 vector, build → verify → iterate round trips under every
 * codec, bit flips caught by the CRC, the in-place rewrites, each produce-side
 * rule of §3.8 and the looser rules for stored (compacted, control) batches,
 * and malformed records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record_batch.h"

/* ENCODING.md §3.4: records (null, "hi") and ("k", "v", h=x). */
static const uint8_t vector[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x47, 0xff, 0xff,
    0xff, 0xff, 0x02, 0x3a, 0xbf, 0x97, 0x85, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68,
    0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x00, 0x00, 0x02, 0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 0x68, 0x69, 0x00,
    0x18, 0x00, 0x0a, 0x02, 0x02, 0x6b, 0x02, 0x76, 0x02, 0x02, 0x68, 0x02, 0x78};

static kp_codec_ctx *cc;

static int setup(void **state)
{
        (void)state;
        cc = kp_codec_ctx_new(64 << 20);
        return cc ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        kp_codec_ctx_free(cc);
        return 0;
}

static void fix_crc(uint8_t *b, size_t size)
{
        uint32_t c = kp_batch_compute_crc(b, size);
        b[17] = (uint8_t)(c >> 24);
        b[18] = (uint8_t)(c >> 16);
        b[19] = (uint8_t)(c >> 8);
        b[20] = (uint8_t)c;
}

static int16_t produce_check(const uint8_t *p, size_t len, int16_t version, const char **why)
{
        kp_batch b;
        kp_batch_info info;
        return kp_batch_validate_produce((kp_bytes){p, (int32_t)len}, version, cc, &b, &info, why);
}

static void test_vector(void **state)
{
        (void)state;
        kp_batch b;
        const char *why = NULL;
        assert_int_equal(kp_batch_parse(vector, sizeof(vector), &b, &why), 0);
        assert_int_equal(b.size, sizeof(vector));
        assert_int_equal(b.crc, 0x3abf9785u);
        assert_true(kp_batch_crc_ok(&b));
        assert_int_equal(b.partition_leader_epoch, -1);
        assert_int_equal(b.records_count, 2);
        assert_int_equal(b.last_offset_delta, 1);
        assert_int_equal(b.base_timestamp, 1700000000000LL);
        assert_int_equal(b.max_timestamp, 1700000000005LL);
        assert_int_equal(b.producer_id, -1);
        assert_int_equal(kp_batch_codec(&b), KP_CODEC_NONE);

        kp_batch_info info;
        assert_int_equal(
            kp_batch_validate_produce((kp_bytes){vector, sizeof(vector)}, 3, cc, &b, &info, &why),
            0);
        assert_int_equal(info.records, 2);
        assert_int_equal(info.max_timestamp, 1700000000005LL);
        assert_int_equal(info.min_timestamp, 1700000000000LL);
        assert_true(info.null_key);

        kp_record_iter it;
        kp_record r;
        kp_record_iter_init(&it, b.records.p, (size_t)b.records.len, b.records_count);
        assert_true(kp_record_next(&it, &r));
        assert_int_equal(r.key.len, -1);
        assert_int_equal(r.value.len, 2);
        assert_memory_equal(r.value.p, "hi", 2);
        assert_int_equal(r.header_count, 0);
        assert_true(kp_record_next(&it, &r));
        assert_int_equal(r.offset_delta, 1);
        assert_int_equal(r.timestamp_delta, 5);
        assert_memory_equal(r.key.p, "k", 1);
        assert_memory_equal(r.value.p, "v", 1);
        kp_header_iter hi;
        kp_header h;
        kp_header_iter_init(&hi, &r);
        assert_true(kp_header_next(&hi, &h));
        assert_int_equal(h.key.len, 1);
        assert_memory_equal(h.key.p, "h", 1);
        assert_memory_equal(h.value.p, "x", 1);
        assert_false(kp_header_next(&hi, &h));
        assert_false(kp_record_next(&it, &r));
        assert_int_equal(it.rd.err, 0);
}

/* Records i = 0..n-1: key "key-i" (null every 7th), value of i-dependent
 * length, header "idx" on odd records. */
#define NREC 500
static char keys[NREC][16];
static uint8_t vals[NREC][300];
static kp_header hdrs[NREC];
static kp_record_in recs[NREC];

static void make_records(void)
{
        for (int i = 0; i < NREC; i++) {
                int klen = snprintf(keys[i], sizeof(keys[i]), "key-%d", i);
                int vlen = (i * 37) % 300;
                for (int j = 0; j < vlen; j++)
                        vals[i][j] = (uint8_t)("abcdefgh"[j % 8] + (j % 3 == 0 ? i : 0));
                hdrs[i] = (kp_header){kp_str_c("idx"), {(const uint8_t *)keys[i], klen}};
                recs[i] = (kp_record_in){
                    .timestamp = 1700000000000LL + (i * 13) % 1000,
                    .key = i % 7 == 3 ? KP_BYTES_NULL : (kp_bytes){(const uint8_t *)keys[i], klen},
                    .value = i % 11 == 5 ? KP_BYTES_NULL : (kp_bytes){vals[i], vlen},
                    .headers = i % 2 ? &hdrs[i] : NULL,
                    .header_count = i % 2,
                };
        }
}

static uint8_t *build(int codec, int32_t n, const kp_batch_spec *override, size_t *len)
{
        kp_batch_spec spec = {0, -1, codec, 0, -1, -1, -1};
        if (override)
                spec = *override;
        size_t cap = kp_batch_build_bound(&spec, recs, n);
        assert_true(cap >= KP_BATCH_HEADER_BYTES);
        uint8_t *out = malloc(cap);
        assert_non_null(out);
        assert_int_equal(kp_batch_build(cc, &spec, recs, n, out, cap, len), 0);
        assert_true(*len <= cap);
        return out;
}

static void check_records(const kp_batch *b, int32_t n)
{
        const uint8_t *area = b->records.p;
        size_t area_len = (size_t)b->records.len;
        const char *why;
        if (kp_batch_codec(b) != KP_CODEC_NONE)
                assert_int_equal(kp_decompress(cc, kp_batch_codec(b), b->records.p,
                                               (size_t)b->records.len, &area, &area_len, &why),
                                 0);
        kp_record_iter it;
        kp_record r;
        kp_record_iter_init(&it, area, area_len, b->records_count);
        int32_t i = 0;
        while (kp_record_next(&it, &r)) {
                assert_int_equal(r.offset_delta, i);
                assert_int_equal(b->base_timestamp + r.timestamp_delta, recs[i].timestamp);
                assert_int_equal(r.key.len, recs[i].key.len);
                if (r.key.len > 0)
                        assert_memory_equal(r.key.p, recs[i].key.p, (size_t)r.key.len);
                assert_int_equal(r.value.len, recs[i].value.len);
                if (r.value.len > 0)
                        assert_memory_equal(r.value.p, recs[i].value.p, (size_t)r.value.len);
                assert_int_equal(r.header_count, recs[i].header_count);
                kp_header_iter hi;
                kp_header h;
                kp_header_iter_init(&hi, &r);
                for (int32_t k = 0; k < r.header_count; k++) {
                        assert_true(kp_header_next(&hi, &h));
                        assert_true(kp_str_eq(h.key, recs[i].headers[k].key));
                        assert_int_equal(h.value.len, recs[i].headers[k].value.len);
                }
                i++;
        }
        assert_int_equal(it.rd.err, 0);
        assert_int_equal(i, n);
}

static void test_build_round_trip(void **state)
{
        (void)state;
        make_records();
        for (int codec = KP_CODEC_NONE; codec <= KP_CODEC_ZSTD; codec++) {
                for (int32_t n = 1; n <= NREC; n = n * 3 + 1) {
                        size_t len;
                        uint8_t *p = build(codec, n, NULL, &len);
                        kp_batch b;
                        kp_batch_info info;
                        const char *why = NULL;
                        assert_int_equal(kp_batch_validate_produce((kp_bytes){p, (int32_t)len}, 9,
                                                                   cc, &b, &info, &why),
                                         0);
                        assert_int_equal(kp_batch_codec(&b), codec);
                        assert_int_equal(b.records_count, n);
                        assert_int_equal(info.records, n);
                        assert_int_equal(b.max_timestamp, info.max_timestamp);
                        check_records(&b, n);
                        free(p);
                }
        }
}

static void test_bit_flips_caught(void **state)
{
        (void)state;
        make_records();
        for (int codec = KP_CODEC_NONE; codec <= KP_CODEC_ZSTD; codec++) {
                size_t len;
                uint8_t *p = build(codec, 40, NULL, &len);
                /* Flip one bit per byte across the CRC-covered area and the CRC itself. */
                for (size_t off = KP_BATCH_OFF_CRC; off < len; off++) {
                        p[off] ^= (uint8_t)(1u << (off % 8));
                        const char *why = NULL;
                        int16_t err = produce_check(p, len, 9, &why);
                        assert_int_not_equal(err, 0);
                        if (off >= KP_BATCH_OFF_ATTRIBUTES + 2 || off < KP_BATCH_OFF_ATTRIBUTES) {
                                assert_int_equal(err, KP_ERR_CORRUPT_MESSAGE);
                                assert_string_equal(why, "CRC-32C mismatch");
                        }
                        p[off] ^= (uint8_t)(1u << (off % 8));
                }
                /* baseOffset and leader epoch are not covered. */
                kp_batch b;
                const char *why;
                p[12] ^= 0x40;
                assert_int_equal(kp_batch_parse(p, len, &b, &why), 0);
                assert_true(kp_batch_crc_ok(&b));
                free(p);
        }
}

static void test_rewrites(void **state)
{
        (void)state;
        make_records();
        size_t len;
        uint8_t *p = build(KP_CODEC_LZ4, 30, NULL, &len);
        kp_batch b;
        const char *why;
        kp_batch_set_base_offset(p, 123456789012LL);
        kp_batch_set_leader_epoch(p, 42);
        assert_int_equal(kp_batch_parse(p, len, &b, &why), 0);
        assert_int_equal(b.base_offset, 123456789012LL);
        assert_int_equal(b.partition_leader_epoch, 42);
        assert_int_equal(kp_batch_last_offset(&b), 123456789012LL + 29);
        assert_true(kp_batch_crc_ok(&b));
        assert_int_equal(kp_batch_verify(&b, cc, 0, NULL, &why), 0);

        uint32_t old_crc = b.crc;
        kp_batch_set_max_timestamp(p, len, b.max_timestamp);
        assert_int_equal(kp_batch_parse(p, len, &b, &why), 0);
        assert_int_equal(b.crc, old_crc);
        kp_batch_set_max_timestamp(p, len, 1800000000000LL);
        assert_int_equal(kp_batch_parse(p, len, &b, &why), 0);
        assert_int_equal(b.max_timestamp, 1800000000000LL);
        assert_int_not_equal(b.crc, old_crc);
        assert_true(kp_batch_crc_ok(&b));

        kp_batch_set_log_append_time(p, len, 1900000000000LL);
        assert_int_equal(kp_batch_parse(p, len, &b, &why), 0);
        assert_true(b.attributes & KP_BATCH_ATTR_LOG_APPEND_TIME);
        assert_int_equal(kp_batch_codec(&b), KP_CODEC_LZ4);
        assert_int_equal(b.max_timestamp, 1900000000000LL);
        assert_true(kp_batch_crc_ok(&b));
        kp_batch_info info;
        assert_int_equal(kp_batch_verify(&b, cc, 0, &info, &why), 0);
        assert_int_equal(info.max_timestamp, 1900000000000LL);
        assert_int_equal(info.min_timestamp, 1900000000000LL);
        free(p);
}

static void test_produce_rules(void **state)
{
        (void)state;
        make_records();
        const char *why;
        uint8_t buf[2 * sizeof(vector)];
        memcpy(buf, vector, sizeof(vector));
        memcpy(buf + sizeof(vector), vector, sizeof(vector));
        /* Two batches, or a batch plus trailing bytes. */
        assert_int_equal(produce_check(buf, sizeof(buf), 3, &why), KP_ERR_INVALID_RECORD);
        assert_int_equal(produce_check(buf, sizeof(vector) + 5, 3, &why), KP_ERR_INVALID_RECORD);
        /* Too short, truncated, null. */
        assert_int_equal(produce_check(buf, 60, 3, &why), KP_ERR_INVALID_RECORD);
        assert_int_equal(produce_check(buf, sizeof(vector) - 1, 3, &why), KP_ERR_INVALID_RECORD);
        kp_batch b;
        assert_int_equal(kp_batch_validate_produce(KP_BYTES_NULL, 3, cc, &b, NULL, &why),
                         KP_ERR_INVALID_RECORD);
        /* Magic 1. */
        memcpy(buf, vector, sizeof(vector));
        buf[16] = 1;
        assert_int_equal(produce_check(buf, sizeof(vector), 3, &why), KP_ERR_INVALID_RECORD);
        /* baseOffset != 0 (not CRC-covered, so only the rule catches it). */
        memcpy(buf, vector, sizeof(vector));
        buf[7] = 1;
        assert_int_equal(produce_check(buf, sizeof(vector), 3, &why), KP_ERR_INVALID_RECORD);
        /* lastOffsetDelta + 1 != recordsCount. */
        memcpy(buf, vector, sizeof(vector));
        buf[26] = 2;
        fix_crc(buf, sizeof(vector));
        assert_int_equal(produce_check(buf, sizeof(vector), 3, &why), KP_ERR_INVALID_RECORD);
        /* Control bit. */
        memcpy(buf, vector, sizeof(vector));
        buf[22] |= KP_BATCH_ATTR_CONTROL;
        fix_crc(buf, sizeof(vector));
        assert_int_equal(produce_check(buf, sizeof(vector), 3, &why), KP_ERR_INVALID_RECORD);
        /* LogAppendTime bit from a producer. */
        memcpy(buf, vector, sizeof(vector));
        buf[22] |= KP_BATCH_ATTR_LOG_APPEND_TIME;
        fix_crc(buf, sizeof(vector));
        assert_int_equal(produce_check(buf, sizeof(vector), 3, &why), KP_ERR_INVALID_TIMESTAMP);
        /* Codec 6. */
        memcpy(buf, vector, sizeof(vector));
        buf[22] |= 6;
        fix_crc(buf, sizeof(vector));
        assert_int_equal(produce_check(buf, sizeof(vector), 3, &why), KP_ERR_CORRUPT_MESSAGE);
        /* producerId 5 with baseSequence -1. */
        memcpy(buf, vector, sizeof(vector));
        memset(buf + 43, 0, 8);
        buf[50] = 5;
        fix_crc(buf, sizeof(vector));
        assert_int_equal(produce_check(buf, sizeof(vector), 3, &why), KP_ERR_INVALID_RECORD);
        memset(buf + 53, 0, 4);
        fix_crc(buf, sizeof(vector));
        assert_int_equal(produce_check(buf, sizeof(vector), 3, &why), 0);
        /* Second record's offsetDelta 2 instead of 1. */
        memcpy(buf, vector, sizeof(vector));
        assert_int_equal(buf[73], 0x02);
        buf[73] = 0x04;
        fix_crc(buf, sizeof(vector));
        assert_int_equal(produce_check(buf, sizeof(vector), 3, &why), KP_ERR_INVALID_RECORD);
        /* zstd needs Produce v7. */
        size_t len;
        uint8_t *z = build(KP_CODEC_ZSTD, 20, NULL, &len);
        assert_int_equal(produce_check(z, len, 6, &why), KP_ERR_UNSUPPORTED_COMPRESSION_TYPE);
        assert_int_equal(produce_check(z, len, 7, &why), 0);
        free(z);
        /* recordsCount larger than the compressed records hold. */
        uint8_t *g = build(KP_CODEC_GZIP, 20, NULL, &len);
        g[60] = 21;
        g[26] = 20;
        fix_crc(g, len);
        assert_int_equal(produce_check(g, len, 7, &why), KP_ERR_CORRUPT_MESSAGE);
        /* Fewer records than declared. */
        g[60] = 19;
        g[26] = 18;
        fix_crc(g, len);
        assert_int_equal(produce_check(g, len, 7, &why), KP_ERR_CORRUPT_MESSAGE);
        free(g);
}

static void test_malformed_records(void **state)
{
        (void)state;
        uint8_t buf[sizeof(vector)];
        const char *why;
        /* First record length 8 → 9: runs into the next record's length. */
        memcpy(buf, vector, sizeof(vector));
        buf[61] = 0x12;
        fix_crc(buf, sizeof(buf));
        assert_int_equal(produce_check(buf, sizeof(buf), 3, &why), KP_ERR_CORRUPT_MESSAGE);
        /* First record length 8 → 7: fields run past it. */
        memcpy(buf, vector, sizeof(vector));
        buf[61] = 0x0e;
        fix_crc(buf, sizeof(buf));
        assert_int_equal(produce_check(buf, sizeof(buf), 3, &why), KP_ERR_CORRUPT_MESSAGE);
        /* Key length -2. */
        memcpy(buf, vector, sizeof(vector));
        assert_int_equal(buf[65], 0x01);
        buf[65] = 0x03;
        fix_crc(buf, sizeof(buf));
        assert_int_equal(produce_check(buf, sizeof(buf), 3, &why), KP_ERR_CORRUPT_MESSAGE);
        /* Header value length 1 → 2: past the record. */
        memcpy(buf, vector, sizeof(vector));
        buf[sizeof(buf) - 2] = 0x04;
        fix_crc(buf, sizeof(buf));
        assert_int_equal(produce_check(buf, sizeof(buf), 3, &why), KP_ERR_CORRUPT_MESSAGE);
        /* Negative header count. */
        memcpy(buf, vector, sizeof(vector));
        assert_int_equal(buf[sizeof(buf) - 5], 0x02);
        buf[sizeof(buf) - 5] = 0x01;
        fix_crc(buf, sizeof(buf));
        assert_int_equal(produce_check(buf, sizeof(buf), 3, &why), KP_ERR_CORRUPT_MESSAGE);
        /* recordsCount 1: bytes left after the last record. */
        memcpy(buf, vector, sizeof(vector));
        buf[60] = 1;
        buf[26] = 0;
        fix_crc(buf, sizeof(buf));
        assert_int_equal(produce_check(buf, sizeof(buf), 3, &why), KP_ERR_CORRUPT_MESSAGE);
        assert_string_equal(why, "bytes after the last record");
}

static void test_log_rules(void **state)
{
        (void)state;
        const char *why;
        kp_batch b;
        kp_batch_info info;
        /* A compacted batch: record 0 removed, lastOffsetDelta kept at 1. */
        uint8_t buf[sizeof(vector)];
        size_t n = 0;
        memcpy(buf, vector, 61);
        memcpy(buf + 61, vector + 70, sizeof(vector) - 70);
        n = 61 + sizeof(vector) - 70;
        buf[11] = (uint8_t)(n - 12);
        buf[60] = 1;
        fix_crc(buf, n);
        assert_int_equal(kp_batch_parse(buf, n, &b, &why), 0);
        assert_int_equal(kp_batch_verify(&b, cc, 0, &info, &why), 0);
        assert_int_equal(info.records, 1);
        assert_int_equal(kp_batch_verify(&b, cc, KP_VERIFY_PRODUCE, &info, &why),
                         KP_ERR_INVALID_RECORD);
        /* A batch emptied by compaction, codec bits kept, no bytes. */
        uint8_t empty[61];
        memcpy(empty, vector, 61);
        empty[11] = 49;
        empty[22] = KP_CODEC_ZSTD;
        empty[60] = 0;
        fix_crc(empty, sizeof(empty));
        assert_int_equal(kp_batch_parse(empty, sizeof(empty), &b, &why), 0);
        assert_int_equal(kp_batch_verify(&b, cc, 0, &info, &why), 0);
        assert_int_equal(info.records, 0);
        assert_int_equal(info.max_timestamp, -1);
        assert_int_equal(kp_batch_verify(&b, cc, KP_VERIFY_PRODUCE, &info, &why),
                         KP_ERR_INVALID_RECORD);
        /* A COMMIT marker built through the builder. */
        uint8_t key[4] = {0, 0, 0, KP_CONTROL_COMMIT}, val[6] = {0, 0, 0, 0, 0, 9};
        kp_record_in marker = {1700000000000LL, {key, 4}, {val, 6}, NULL, 0};
        kp_batch_spec spec = {
            77, 3, KP_CODEC_NONE, KP_BATCH_ATTR_CONTROL | KP_BATCH_ATTR_TRANSACTIONAL, 1000, 2, -1};
        uint8_t out[128];
        size_t len;
        assert_int_equal(kp_batch_build(cc, &spec, &marker, 1, out, sizeof(out), &len), 0);
        assert_int_equal(kp_batch_parse(out, len, &b, &why), 0);
        assert_true(kp_batch_is_control(&b));
        assert_int_equal(kp_batch_verify(&b, cc, 0, &info, &why), 0);
        assert_int_equal(info.control_type, KP_CONTROL_COMMIT);
        /* A marker without the transactional bit is not a valid marker. */
        out[22] &= (uint8_t)~KP_BATCH_ATTR_TRANSACTIONAL;
        fix_crc(out, len);
        assert_int_equal(kp_batch_parse(out, len, &b, &why), 0);
        assert_int_equal(kp_batch_verify(&b, cc, 0, &info, &why), KP_ERR_CORRUPT_MESSAGE);
        /* A control key shorter than 4 bytes. */
        marker.key.len = 3;
        assert_int_equal(kp_batch_build(cc, &spec, &marker, 1, out, sizeof(out), &len), 0);
        assert_int_equal(kp_batch_parse(out, len, &b, &why), 0);
        assert_int_equal(kp_batch_verify(&b, cc, 0, &info, &why), KP_ERR_CORRUPT_MESSAGE);
}

static void test_batch_iter(void **state)
{
        (void)state;
        uint8_t buf[3 * sizeof(vector)];
        for (int i = 0; i < 3; i++)
                memcpy(buf + i * sizeof(vector), vector, sizeof(vector));
        kp_batch_iter it;
        kp_batch b;
        kp_batch_iter_init(&it, buf, sizeof(buf));
        int n = 0;
        while (kp_batch_next(&it, &b))
                n++;
        assert_int_equal(n, 3);
        assert_int_equal(it.err, 0);
        /* A partial last batch (as a Fetch response may end). */
        kp_batch_iter_init(&it, buf, sizeof(buf) - 10);
        n = 0;
        while (kp_batch_next(&it, &b))
                n++;
        assert_int_equal(n, 2);
        assert_int_equal(it.err, KP_ERR_CORRUPT_MESSAGE);
        /* batchLength below the minimum. */
        buf[11] = 48;
        kp_batch_iter_init(&it, buf, sizeof(buf));
        assert_false(kp_batch_next(&it, &b));
        assert_int_equal(it.err, KP_ERR_CORRUPT_MESSAGE);
}

static void test_builder_errors(void **state)
{
        (void)state;
        make_records();
        kp_batch_spec spec = {0, -1, KP_CODEC_NONE, 0, -1, -1, -1};
        uint8_t small[100];
        size_t len;
        assert_int_equal(kp_batch_build(cc, &spec, recs, 0, small, sizeof(small), &len), -EINVAL);
        assert_int_equal(kp_batch_build(cc, &spec, recs, 10, small, sizeof(small), &len), -ENOBUFS);
        spec.codec = 5;
        assert_int_equal(kp_batch_build(cc, &spec, recs, 1, small, sizeof(small), &len), -EINVAL);
        assert_int_equal(kp_batch_build_bound(&spec, recs, 1), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vector),           cmocka_unit_test(test_build_round_trip),
            cmocka_unit_test(test_bit_flips_caught), cmocka_unit_test(test_rewrites),
            cmocka_unit_test(test_produce_rules),    cmocka_unit_test(test_malformed_records),
            cmocka_unit_test(test_log_rules),        cmocka_unit_test(test_batch_iter),
            cmocka_unit_test(test_builder_errors),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
