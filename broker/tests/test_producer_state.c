/* broker/tests/test_producer_state.c — the idempotent producer state machine
 * (broker/producer_state.c) and the producer id reservation file
 * (broker/producer_ids.c), without a broker: duplicates answered with the
 * original offsets, sequence gaps, fenced and bumped epochs, int32 sequence
 * wraparound, the five-batch window, unknown producers (KIP-360), expiry,
 * table growth/deletion, header parsing, the rebuild from a many-segment
 * log (small batches, and batches larger than the read window), and id
 * blocks surviving a reload. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kafka_errors.h"
#include "log.h"
#include "producer_ids.h"
#include "producer_state.h"
#include "record_batch.h"

static int64_t next_offset;

/* A batch of n records of producer pid/epoch starting at seq (offsets are
 * assigned from next_offset when appended). */
static sl_producer_batch_info mk(int64_t pid, int16_t epoch, int32_t seq, int32_t n)
{
        return (sl_producer_batch_info){.producer_id = pid,
                                        .epoch = epoch,
                                        .first_seq = seq,
                                        .last_seq = sl_producer_seq_add(seq, n - 1),
                                        .base_offset = -1,
                                        .last_offset = -1,
                                        .max_timestamp = 1000 + (int64_t)seq};
}

/* Checks then appends like the owner shard does; returns the Kafka code, the
 * base offset in *base (the original one for a duplicate). */
static int16_t produce(sl_producer_state *ps, sl_producer_batch_info bi, int64_t *base)
{
        const sl_producer_batch *dup;
        int16_t code = sl_producer_state_check(ps, &bi, &dup);
        *base = -1;
        if (code)
                return code;
        if (dup) {
                *base = dup->first_offset;
                return 0;
        }
        int64_t d = (int64_t)bi.last_seq - bi.first_seq; /* modulo 2^31 */
        if (d < 0)
                d += (int64_t)INT32_MAX + 1;
        int64_t n = d + 1;
        bi.base_offset = next_offset;
        bi.last_offset = next_offset + n - 1;
        next_offset += n;
        assert_int_equal(sl_producer_state_update(ps, &bi, 5000), 0);
        *base = bi.base_offset;
        return 0;
}

static void test_duplicates_and_gaps(void **state)
{
        (void)state;
        next_offset = 100;
        sl_producer_state *ps = sl_producer_state_new();
        assert_non_null(ps);
        int64_t b;
        assert_int_equal(produce(ps, mk(7, 0, 0, 10), &b), 0);
        assert_int_equal(b, 100);
        assert_int_equal(produce(ps, mk(7, 0, 10, 5), &b), 0);
        assert_int_equal(b, 110);
        /* A retry of either batch: the original offsets, nothing appended. */
        assert_int_equal(produce(ps, mk(7, 0, 0, 10), &b), 0);
        assert_int_equal(b, 100);
        assert_int_equal(produce(ps, mk(7, 0, 10, 5), &b), 0);
        assert_int_equal(b, 110);
        assert_int_equal(next_offset, 115);
        /* Same first sequence, different last: not a duplicate, out of order. */
        assert_int_equal(produce(ps, mk(7, 0, 10, 4), &b), KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
        /* A gap (15 expected) and a step back. */
        assert_int_equal(produce(ps, mk(7, 0, 16, 1), &b), KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_int_equal(produce(ps, mk(7, 0, 14, 2), &b), KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_int_equal(produce(ps, mk(7, 0, 15, 1), &b), 0);
        assert_int_equal(b, 115);
        /* Another producer is independent; an unknown one may start anywhere. */
        assert_int_equal(produce(ps, mk(8, 3, 42, 2), &b), 0);
        assert_int_equal(b, 116);
        assert_int_equal(produce(ps, mk(8, 3, 44, 1), &b), 0);
        assert_int_equal(sl_producer_state_count(ps), 2);
        const sl_producer_entry *e = sl_producer_state_find(ps, 8);
        assert_non_null(e);
        assert_int_equal(e->epoch, 3);
        assert_int_equal(sl_producer_entry_last(e)->last_seq, 44);
        assert_null(sl_producer_state_find(ps, 9));
        sl_producer_state_free(ps);
}

static void test_epochs(void **state)
{
        (void)state;
        next_offset = 0;
        sl_producer_state *ps = sl_producer_state_new();
        int64_t b;
        assert_int_equal(produce(ps, mk(1, 5, 0, 3), &b), 0);
        assert_int_equal(produce(ps, mk(1, 5, 3, 3), &b), 0);
        /* Older epoch: fenced, even for what would be the next sequence or a
         * duplicate's sequences. */
        assert_int_equal(produce(ps, mk(1, 4, 6, 1), &b), KP_ERR_INVALID_PRODUCER_EPOCH);
        assert_int_equal(produce(ps, mk(1, 4, 0, 3), &b), KP_ERR_INVALID_PRODUCER_EPOCH);
        /* A bumped epoch must restart at sequence 0. */
        assert_int_equal(produce(ps, mk(1, 6, 6, 1), &b), KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_int_equal(produce(ps, mk(1, 6, 0, 2), &b), 0);
        assert_int_equal(b, 6);
        /* The new epoch forgot the old epoch's batches: (0, 2) of epoch 5 is no
         * duplicate any more, and epoch 5 is fenced. */
        assert_int_equal(produce(ps, mk(1, 5, 0, 3), &b), KP_ERR_INVALID_PRODUCER_EPOCH);
        assert_int_equal(produce(ps, mk(1, 6, 0, 2), &b), 0);
        assert_int_equal(b, 6); /* duplicate of the new epoch's batch */
        const sl_producer_entry *e = sl_producer_state_find(ps, 1);
        assert_int_equal(e->epoch, 6);
        assert_int_equal(e->n, 1);
        sl_producer_state_free(ps);
}

static void test_wraparound(void **state)
{
        (void)state;
        assert_int_equal(sl_producer_seq_add(INT32_MAX, 1), 0);
        assert_int_equal(sl_producer_seq_add(INT32_MAX - 1, 3), 1);
        assert_int_equal(sl_producer_seq_add(5, 3), 8);
        next_offset = 0;
        sl_producer_state *ps = sl_producer_state_new();
        int64_t b;
        /* Unknown producer starts near the top; a batch spanning the wrap. */
        assert_int_equal(produce(ps, mk(2, 0, INT32_MAX - 4, 3), &b), 0); /* ..MAX-2 */
        assert_int_equal(produce(ps, mk(2, 0, INT32_MAX - 1, 4), &b), 0); /* MAX-1..1 */
        assert_int_equal(sl_producer_entry_last(sl_producer_state_find(ps, 2))->last_seq, 1);
        assert_int_equal(produce(ps, mk(2, 0, INT32_MAX - 1, 4), &b), 0);
        assert_int_equal(b, 3); /* duplicate across the wrap */
        assert_int_equal(produce(ps, mk(2, 0, 3, 1), &b), KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_int_equal(produce(ps, mk(2, 0, 2, 1), &b), 0);
        /* A batch ending exactly at MAX is followed by 0. */
        assert_int_equal(produce(ps, mk(3, 0, INT32_MAX - 1, 2), &b), 0);
        assert_int_equal(produce(ps, mk(3, 0, 1, 1), &b), KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_int_equal(produce(ps, mk(3, 0, 0, 1), &b), 0);
        sl_producer_state_free(ps);
}

static void test_five_batch_window(void **state)
{
        (void)state;
        next_offset = 0;
        sl_producer_state *ps = sl_producer_state_new();
        int64_t b;
        for (int i = 0; i < 8; i++) {
                assert_int_equal(produce(ps, mk(9, 0, i * 2, 2), &b), 0);
                assert_int_equal(b, i * 2);
        }
        /* Batches 3..7 (seq 6..15) are remembered: duplicates. */
        for (int i = 3; i < 8; i++) {
                assert_int_equal(produce(ps, mk(9, 0, i * 2, 2), &b), 0);
                assert_int_equal(b, i * 2);
        }
        assert_int_equal(next_offset, 16);
        /* Batch 2 fell out of the window: now just out of order. */
        assert_int_equal(produce(ps, mk(9, 0, 4, 2), &b), KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert_int_equal(sl_producer_state_find(ps, 9)->n, SL_PRODUCER_BATCHES);
        sl_producer_state_free(ps);
}

static void test_table_and_expiry(void **state)
{
        (void)state;
        next_offset = 0;
        sl_producer_state *ps = sl_producer_state_new();
        int64_t b;
        for (int64_t pid = 0; pid < 1000; pid++) {
                sl_producer_batch_info bi = mk(pid * 7919, 0, 0, 1);
                assert_int_equal(produce(ps, bi, &b), 0);
        }
        assert_int_equal(sl_producer_state_count(ps), 1000);
        /* Refresh every third producer later; expire the rest. */
        for (int64_t pid = 0; pid < 1000; pid += 3) {
                sl_producer_batch_info bi = mk(pid * 7919, 0, 1, 1);
                bi.base_offset = bi.last_offset = next_offset++;
                assert_int_equal(sl_producer_state_update(ps, &bi, 90000), 0);
        }
        assert_int_equal(sl_producer_state_expire(ps, 100000, 50000), 1000 - 334);
        assert_int_equal(sl_producer_state_count(ps), 334);
        for (int64_t pid = 0; pid < 1000; pid++) {
                const sl_producer_entry *e = sl_producer_state_find(ps, pid * 7919);
                if (pid % 3 == 0) {
                        assert_non_null(e);
                        assert_int_equal(sl_producer_entry_last(e)->last_seq, 1);
                } else {
                        assert_null(e);
                }
        }
        /* Producers whose batches all lie below the log start are dropped. */
        int64_t cut = sl_producer_entry_last(sl_producer_state_find(ps, 999 * 7919))->last_offset;
        int before = sl_producer_state_count(ps);
        int gone = sl_producer_state_truncate_head(ps, cut);
        assert_true(gone > 0);
        assert_int_equal(sl_producer_state_count(ps), before - gone);
        assert_non_null(sl_producer_state_find(ps, 999 * 7919));
        assert_null(sl_producer_state_find(ps, 0));
        /* An expired producer is unknown again: any sequence is accepted. */
        assert_int_equal(produce(ps, mk(1 * 7919, 0, 77, 1), &b), 0);
        sl_producer_state_free(ps);
}

static void test_header_parse(void **state)
{
        (void)state;
        uint8_t h[61] = {0};
        h[7] = 42;    /* baseOffset */
        h[16] = 2;    /* magic */
        h[22] = 0x10; /* transactional attribute */
        h[26] = 4;    /* lastOffsetDelta */
        h[42] = 9;    /* maxTimestamp */
        h[50] = 77;   /* producerId */
        h[52] = 3;    /* epoch */
        h[53] = 0x7f; /* baseSequence = 0x7ffffffe */
        h[54] = h[55] = 0xff;
        h[56] = 0xfe;
        sl_producer_batch_info bi;
        assert_int_equal(sl_producer_batch_parse(h, sizeof(h), &bi), 0);
        assert_int_equal(bi.base_offset, 42);
        assert_int_equal(bi.last_offset, 46);
        assert_int_equal(bi.max_timestamp, 9);
        assert_int_equal(bi.producer_id, 77);
        assert_int_equal(bi.epoch, 3);
        assert_int_equal(bi.first_seq, INT32_MAX - 1);
        assert_int_equal(bi.last_seq, 2);
        assert_true(bi.transactional);
        assert_int_equal(sl_producer_batch_parse(h, 60, &bi), -1);
        h[16] = 1;
        assert_int_equal(sl_producer_batch_parse(h, sizeof(h), &bi), -1);
}

/* The rebuilt entry of pid equals the one recorded at append time. */
static void assert_same_entry(const sl_producer_state *live, const sl_producer_state *ps,
                              int64_t pid)
{
        const sl_producer_entry *a = sl_producer_state_find(live, pid);
        const sl_producer_entry *b = sl_producer_state_find(ps, pid);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(a->epoch, b->epoch);
        assert_int_equal(a->n, b->n);
        for (int k = 0; k < a->n; k++) {
                const sl_producer_batch *x = &a->batches[(a->head + k) % SL_PRODUCER_BATCHES];
                const sl_producer_batch *y = &b->batches[(b->head + k) % SL_PRODUCER_BATCHES];
                assert_int_equal(x->first_seq, y->first_seq);
                assert_int_equal(x->last_seq, y->last_seq);
                assert_int_equal(x->first_offset, y->first_offset);
                assert_int_equal(x->last_offset, y->last_offset);
        }
}

/* Rebuild from batches larger than the 64 KiB read window (only their headers
 * are read) mixed with small ones (read a window at a time), across
 * segments: the same state as recorded at append time. */
static void test_load_large_batches(void **state)
{
        (void)state;
        char dir[] = "/tmp/sl_test_pload_big_XXXXXX";
        assert_non_null(mkdtemp(dir));
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 1 << 20;
        sl_log *log = NULL;
        assert_int_equal(sl_log_open(dir, &cfg, 1000, &log, NULL), 0);
        kp_codec_ctx *cc = kp_codec_ctx_new(1 << 20);
        sl_producer_state *live = sl_producer_state_new();
        static uint8_t b[200 << 10], val[1000];
        static kp_record_in recs[100];
        memset(val, 'v', sizeof(val));
        int32_t seq[2] = {0, 0};
        for (int i = 0; i < 60; i++) {
                int k = i % 2;
                int n = i % 5 < 2 ? 100 : 1 + i % 3; /* about 100 KB, or under 4 KB */
                for (int r = 0; r < n; r++)
                        recs[r] = (kp_record_in){.timestamp = 5000 + i,
                                                 .key = KP_BYTES_NULL,
                                                 .value = {val, (int32_t)sizeof(val)}};
                kp_batch_spec spec = {.partition_leader_epoch = -1,
                                      .codec = KP_CODEC_NONE,
                                      .producer_id = 200 + k,
                                      .producer_epoch = 0,
                                      .base_sequence = seq[k]};
                size_t len = 0;
                assert_int_equal(kp_batch_build(cc, &spec, recs, n, b, sizeof(b), &len), 0);
                if (n == 100)
                        assert_true(len > (64u << 10));
                sl_append_result res;
                assert_int_equal(sl_log_append(log, b, len, 0, 1000, &res), 0);
                sl_producer_batch_info bi;
                assert_int_equal(sl_producer_batch_parse(b, len, &bi), 0);
                assert_int_equal(sl_producer_state_update(live, &bi, 1000), 0);
                seq[k] = sl_producer_seq_add(seq[k], n);
        }
        sl_log_stats st;
        sl_log_get_stats(log, &st);
        assert_true(st.segments >= 3);
        sl_producer_state *ps = sl_producer_state_new();
        assert_int_equal(sl_producer_state_load(ps, log, 1000), 0);
        assert_int_equal(sl_producer_state_count(ps), 2);
        assert_same_entry(live, ps, 200);
        assert_same_entry(live, ps, 201);
        sl_producer_state_free(ps);
        sl_producer_state_free(live);
        kp_codec_ctx_free(cc);
        sl_log_close(log);
        assert_int_equal(sl_log_remove_dir(dir), 0);
}

static void test_producer_ids_file(void **state)
{
        (void)state;
        char dir[] = "/tmp/sl_test_pids_XXXXXX";
        assert_non_null(mkdtemp(dir));
        int64_t end = -1;
        assert_int_equal(sl_producer_ids_load(dir, &end), 0);
        assert_int_equal(end, 0);
        sl_producer_ids a = {0};
        int64_t id;
        assert_int_equal(sl_producer_ids_take(&a, &id), -EAGAIN); /* not loaded */
        a.loaded = true;
        assert_int_equal(sl_producer_ids_store(dir, SL_PRODUCER_ID_BLOCK), 0);
        sl_producer_ids_extend(&a, SL_PRODUCER_ID_BLOCK);
        for (int i = 0; i < SL_PRODUCER_ID_BLOCK; i++) {
                assert_int_equal(sl_producer_ids_take(&a, &id), 0);
                assert_int_equal(id, i);
        }
        assert_int_equal(sl_producer_ids_take(&a, &id), -EAGAIN);
        assert_int_equal(sl_producer_ids_store(dir, 123456789012345LL), 0);
        assert_int_equal(sl_producer_ids_load(dir, &end), 0);
        assert_int_equal(end, 123456789012345LL);
        /* A damaged file is refused, never guessed. */
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir, SL_PRODUCER_IDS_FILE);
        FILE *f = fopen(path, "w");
        fputs("serpentlog-producer-ids 1 12x4\n", f);
        fclose(f);
        assert_int_equal(sl_producer_ids_load(dir, &end), SL_ECORRUPT);
        f = fopen(path, "w");
        fputs("serpentlog-producer-ids 1 1234", f); /* torn: no newline */
        fclose(f);
        assert_int_equal(sl_producer_ids_load(dir, &end), SL_ECORRUPT);
        unlink(path);
        assert_int_equal(rmdir(dir), 0);
}

/* Rebuild from a log of many small segments: the same state as recorded at
 * append time (every producer's epoch and last five batches). */
static void test_load_from_log(void **state)
{
        (void)state;
        char dir[] = "/tmp/sl_test_pload_XXXXXX";
        assert_non_null(mkdtemp(dir));
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 2048;
        sl_log *log = NULL;
        assert_int_equal(sl_log_open(dir, &cfg, 1000, &log, NULL), 0);
        kp_codec_ctx *cc = kp_codec_ctx_new(1 << 20);
        sl_producer_state *live = sl_producer_state_new();
        int32_t seq[3] = {0, 0, INT32_MAX - 20};
        for (int i = 0; i < 120; i++) {
                int64_t pid = i % 4 == 3 ? -1 : 100 + i % 4; /* some non-idempotent */
                int k = i % 4 == 3 ? 0 : i % 4;
                int16_t epoch = (int16_t)(i >= 60 && k == 0 ? 1 : 0);
                if (i == 60)
                        seq[0] = 0; /* producer 100 bumps its epoch */
                kp_record_in recs[4];
                for (int r = 0; r < 4; r++)
                        recs[r] = (kp_record_in){.timestamp = 5000 + i,
                                                 .key = KP_BYTES_NULL,
                                                 .value = {(const uint8_t *)"value", 5}};
                kp_batch_spec spec = {.partition_leader_epoch = -1,
                                      .codec = KP_CODEC_NONE,
                                      .producer_id = pid,
                                      .producer_epoch = pid >= 0 ? epoch : -1,
                                      .base_sequence = pid >= 0 ? seq[k] : -1};
                uint8_t b[1024];
                size_t len = 0;
                assert_int_equal(kp_batch_build(cc, &spec, recs, 4, b, sizeof(b), &len), 0);
                sl_append_result res;
                assert_int_equal(sl_log_append(log, b, len, 0, 1000, &res), 0);
                sl_producer_batch_info bi;
                assert_int_equal(sl_producer_batch_parse(b, len, &bi), 0);
                assert_int_equal(sl_producer_state_update(live, &bi, 1000), 0);
                if (pid >= 0)
                        seq[k] = sl_producer_seq_add(seq[k], 4);
        }
        sl_log_stats st;
        sl_log_get_stats(log, &st);
        assert_true(st.segments >= 4);
        sl_producer_state *ps = sl_producer_state_new();
        assert_int_equal(sl_producer_state_load(ps, log, 1000), 0);
        assert_int_equal(sl_producer_state_count(ps), 3);
        for (int64_t pid = 100; pid < 103; pid++) {
                const sl_producer_entry *a = sl_producer_state_find(live, pid);
                const sl_producer_entry *b = sl_producer_state_find(ps, pid);
                assert_non_null(b);
                assert_int_equal(a->epoch, b->epoch);
                assert_int_equal(a->n, SL_PRODUCER_BATCHES);
                assert_int_equal(b->n, SL_PRODUCER_BATCHES);
                for (int k = 0; k < SL_PRODUCER_BATCHES; k++) {
                        const sl_producer_batch *x = &a->batches[(a->head + k) % 5];
                        const sl_producer_batch *y = &b->batches[(b->head + k) % 5];
                        assert_int_equal(x->first_seq, y->first_seq);
                        assert_int_equal(x->last_seq, y->last_seq);
                        assert_int_equal(x->first_offset, y->first_offset);
                        assert_int_equal(x->last_offset, y->last_offset);
                }
        }
        assert_int_equal(sl_producer_state_find(ps, 100)->epoch, 1);
        /* A retry of producer 102's last batch is a duplicate after the rebuild. */
        const sl_producer_batch *last = sl_producer_entry_last(sl_producer_state_find(ps, 102));
        sl_producer_batch_info retry = {.producer_id = 102,
                                        .epoch = 0,
                                        .first_seq = last->first_seq,
                                        .last_seq = last->last_seq};
        const sl_producer_batch *dup = NULL;
        assert_int_equal(sl_producer_state_check(ps, &retry, &dup), 0);
        assert_non_null(dup);
        assert_int_equal(dup->first_offset, last->first_offset);
        sl_producer_state_free(ps);
        sl_producer_state_free(live);
        kp_codec_ctx_free(cc);
        sl_log_close(log);
        assert_int_equal(sl_log_remove_dir(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_duplicates_and_gaps), cmocka_unit_test(test_epochs),
            cmocka_unit_test(test_wraparound),          cmocka_unit_test(test_five_batch_window),
            cmocka_unit_test(test_table_and_expiry),    cmocka_unit_test(test_header_parse),
            cmocka_unit_test(test_producer_ids_file),   cmocka_unit_test(test_load_from_log),
            cmocka_unit_test(test_load_large_batches),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
