/* storage/tests/test_log_append.c — append and read: offset assignment,
 * epoch and LogAppendTime stamping, header validation errors, append_v,
 * segment rolls (bytes, time, full index), read ranges (KIP-74, max_offset),
 * timestamp lookups, leader epochs, truncation, reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batchgen.h"
#include "format_int.h"
#include "kafka_errors.h"
#include "log.h"
#include "verify.h"

typedef struct model_batch {
        int64_t base, last, max_ts;
        uint8_t *bytes;
        size_t len;
} model_batch;

typedef struct model {
        model_batch b[4096];
        int n;
} model;

static model M;

static void model_reset(void)
{
        for (int i = 0; i < M.n; i++)
                free(M.b[i].bytes);
        M.n = 0;
}

/* Appends one generated batch and records what the log should hold. */
static void append_one(sl_log *log, int nrec, size_t vlen, int64_t ts, int32_t epoch, int64_t now)
{
        uint8_t buf[1 << 16];
        size_t len = bg_batch(buf, sizeof(buf), nrec, vlen, ts, (uint32_t)M.n);
        assert_true(len > 0);
        sl_append_result res;
        assert_int_equal(sl_log_append(log, buf, len, epoch, now, &res), 0);
        assert_int_equal(res.error_code, 0);
        model_batch *b = &M.b[M.n++];
        b->base = res.base_offset;
        b->last = res.last_offset;
        assert_int_equal(b->last - b->base + 1, nrec);
        b->max_ts = (int64_t)sl_be64(buf + 35);
        b->bytes = malloc(len);
        memcpy(b->bytes, buf, len);
        b->len = len;
}

/* Reads from offset and checks the bytes are the model's batches from the
 * batch containing offset, whole. Returns the number of batches returned. */
static int check_read(sl_log *log, int64_t offset, int64_t max_offset, size_t max_bytes)
{
        sl_file_range r[64];
        int n;
        assert_int_equal(sl_log_read(log, offset, max_offset, max_bytes, r, 64, &n), 0);
        size_t len;
        uint8_t *got = bg_read_ranges(r, n, &len);
        assert_non_null(got);
        sl_log_release_ranges(log, r, n);
        int i = 0;
        while (i < M.n && M.b[i].last < offset)
                i++;
        size_t off = 0;
        int count = 0;
        while (off < len) {
                assert_true(i < M.n);
                assert_true(M.b[i].base < max_offset);
                assert_true(off + M.b[i].len <= len);
                assert_memory_equal(got + off, M.b[i].bytes, M.b[i].len);
                off += M.b[i].len;
                i++;
                count++;
        }
        free(got);
        /* Stopped for a reason: budget, max_offset or the end. */
        if (i < M.n && M.b[i].base < max_offset && count > 0)
                assert_true(len + M.b[i].len > max_bytes);
        return count;
}

static sl_log *open_log(const char *dir, const sl_log_config *cfg)
{
        sl_log *log = NULL;
        sl_log_error err;
        int rc = sl_log_open(dir, cfg, 1000, &log, &err);
        if (rc != 0)
                fail_msg("open: %s", err.message);
        return log;
}

static void test_append_read_reopen(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        model_reset();
        sl_log *log = open_log(dir, NULL);
        assert_int_equal(sl_log_end_offset(log), 0);
        uint64_t rs = 1;
        for (int i = 0; i < 300; i++)
                append_one(log, 1 + (int)(bg_rand(&rs) % 20), bg_rand(&rs) % 300, 1000 + i, 3,
                           2000);
        assert_int_equal(sl_log_end_offset(log), M.b[M.n - 1].last + 1);
        for (int i = 0; i < 50; i++) {
                int64_t off = bg_rand(&rs) % sl_log_end_offset(log);
                check_read(log, off, INT64_MAX, 1 + bg_rand(&rs) % 20000);
        }
        assert_int_equal(sl_log_sync(log), 0);
        assert_int_equal(sl_log_flushed_offset(log), sl_log_end_offset(log));
        sl_log_close(log);
        log = open_log(dir, NULL);
        assert_int_equal(sl_log_end_offset(log), M.b[M.n - 1].last + 1);
        assert_int_equal(check_read(log, 0, INT64_MAX, 1 << 30), M.n);
        append_one(log, 5, 10, 5000, 3, 3000);
        assert_int_equal(check_read(log, 0, INT64_MAX, 1 << 30), M.n);
        sl_log_close(log);
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        assert_true(rep.ok);
        assert_int_equal(rep.batches, M.n);
        bg_rmdir(dir);
        free(dir);
}

static void test_validation(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log_config cfg = sl_log_config_default();
        cfg.max_message_bytes = 2000;
        sl_log *log = open_log(dir, &cfg);
        uint8_t a[4096], b[4096], c[8192];
        size_t la = bg_batch(a, sizeof(a), 3, 10, 1, 1);
        sl_append_result res[3];

        memcpy(b, a, la);
        b[la - 1] ^= 1; /* record bytes: CRC mismatch */
        assert_int_equal(sl_log_append(log, b, la, 0, 1, res), SL_EINVALID);
        assert_int_equal(res[0].error_code, KP_ERR_CORRUPT_MESSAGE);
        memcpy(b, a, la);
        sl_put32(b + 57, 4); /* recordsCount != lastOffsetDelta + 1 */
        sl_batch_crc_store(b, la);
        assert_int_equal(sl_log_append(log, b, la, 0, 1, res), SL_EINVALID);
        assert_int_equal(res[0].error_code, KP_ERR_INVALID_RECORD);
        memcpy(b, a, la);
        b[16] = 1; /* magic */
        assert_int_equal(sl_log_append(log, b, la, 0, 1, res), SL_EINVALID);
        assert_int_equal(res[0].error_code, KP_ERR_CORRUPT_MESSAGE);
        assert_int_equal(sl_log_append(log, a, la - 1, 0, 1, res), SL_EINVALID); /* short */
        assert_int_equal(res[0].error_code, KP_ERR_CORRUPT_MESSAGE);
        size_t lc = bg_batch(c, sizeof(c), 2, 2100, 1, 2);
        assert_int_equal(sl_log_append(log, c, lc, 0, 1, res), SL_ETOOLARGE);
        assert_int_equal(res[0].error_code, KP_ERR_MESSAGE_TOO_LARGE);
        assert_int_equal(sl_log_end_offset(log), 0);

        /* append_v: the bad buffer fails alone; the others get contiguous offsets,
         * and two batches in one buffer are both stamped. */
        uint8_t two[8192];
        size_t l1 = bg_batch(two, sizeof(two), 2, 5, 1, 3);
        size_t l2 = bg_batch(two + l1, sizeof(two) - l1, 4, 5, 1, 4);
        sl_append_buf bufs[3] = {{a, la, false}, {c, lc, false}, {two, l1 + l2, false}};
        assert_int_equal(sl_log_append_v(log, bufs, 3, 7, 1, res), SL_ETOOLARGE);
        assert_int_equal(res[0].error_code, 0);
        assert_int_equal(res[0].base_offset, 0);
        assert_int_equal(res[0].last_offset, 2);
        assert_int_equal(res[1].error_code, KP_ERR_MESSAGE_TOO_LARGE);
        assert_int_equal(res[2].base_offset, 3);
        assert_int_equal(res[2].last_offset, 8);
        assert_int_equal((int64_t)sl_be64(two + l1), 5);
        assert_int_equal((int32_t)sl_be32(two + l1 + 12), 7);
        assert_int_equal(sl_log_end_offset(log), 9);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_epoch_and_log_append_time(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log_config cfg = sl_log_config_default();
        cfg.log_append_time = true;
        sl_log *log = open_log(dir, &cfg);
        uint8_t a[4096];
        size_t la = bg_batch(a, sizeof(a), 3, 10, 111, 1);
        sl_append_result res;
        assert_int_equal(sl_log_append(log, a, la, 5, 424242, &res), 0);
        assert_int_equal(res.log_append_time, 424242);
        assert_int_equal((int32_t)sl_be32(a + 12), 5);
        assert_true(sl_be16(a + 21) & SL_ATTR_LOG_APPEND_TIME);
        assert_int_equal((int64_t)sl_be64(a + 35), 424242);
        assert_true(sl_batch_crc_ok(a, la));
        la = bg_batch(a, sizeof(a), 2, 10, 111, 1);
        assert_int_equal(sl_log_append(log, a, la, 5, 424243, &res), 0);
        la = bg_batch(a, sizeof(a), 2, 10, 111, 1);
        assert_int_equal(sl_log_append(log, a, la, 9, 424244, &res), 0); /* epoch 9 at 5 */
        la = bg_batch(a, sizeof(a), 2, 10, 111, 1);
        assert_int_equal(sl_log_append(log, a, la, 4, 424245, &res), SL_ESTALE_EPOCH);
        assert_int_equal(res.error_code, KP_ERR_FENCED_LEADER_EPOCH);
        int32_t ep;
        int64_t end;
        assert_int_equal(sl_log_end_offset_for_epoch(log, 5, &ep, &end), 0);
        assert_int_equal(ep, 5);
        assert_int_equal(end, 5);
        assert_int_equal(sl_log_end_offset_for_epoch(log, 7, &ep, &end), 0);
        assert_int_equal(ep, 5);
        assert_int_equal(end, 5);
        assert_int_equal(sl_log_end_offset_for_epoch(log, 9, &ep, &end), 0);
        assert_int_equal(ep, 9);
        assert_int_equal(end, 7);
        assert_int_equal(sl_log_end_offset_for_epoch(log, 2, &ep, &end), SL_ENOTFOUND);
        int64_t ts, off;
        sl_log_max_timestamp(log, &ts, &off);
        assert_int_equal(ts, 424244);
        assert_int_equal(off, 6);
        sl_log_close(log);
        /* The epoch cache survives a reopen (checkpoint file). */
        log = open_log(dir, &cfg);
        assert_int_equal(sl_log_latest_epoch(log), 9);
        assert_int_equal(sl_log_end_offset_for_epoch(log, 5, &ep, &end), 0);
        assert_int_equal(end, 5);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_follower_keeps_epochs(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir, NULL);
        uint8_t a[8192];
        sl_append_result res;
        /* Two batches stamped by a leader with epochs 3 and 4, in one buffer. */
        size_t l1 = bg_batch(a, sizeof(a), 2, 10, 1, 1);
        size_t l2 = bg_batch(a + l1, sizeof(a) - l1, 2, 10, 1, 2);
        sl_put32(a + 12, 3);
        sl_put32(a + l1 + 12, 4);
        assert_int_equal(sl_log_append(log, a, l1 + l2, -1, 5, &res), 0);
        assert_int_equal(sl_log_latest_epoch(log), 4);
        int32_t ep;
        int64_t end;
        assert_int_equal(sl_log_end_offset_for_epoch(log, 3, &ep, &end), 0);
        assert_int_equal(end, 2);
        /* Decreasing epochs inside a buffer, or below the latest: refused,
         * and the log stays usable (not latched). */
        l1 = bg_batch(a, sizeof(a), 1, 10, 1, 1);
        l2 = bg_batch(a + l1, sizeof(a) - l1, 1, 10, 1, 2);
        sl_put32(a + 12, 5);
        sl_put32(a + l1 + 12, 4);
        assert_int_equal(sl_log_append(log, a, l1 + l2, -1, 5, &res), SL_ESTALE_EPOCH);
        assert_int_equal(res.error_code, KP_ERR_FENCED_LEADER_EPOCH);
        sl_put32(a + 12, 2);
        assert_int_equal(sl_log_append(log, a, l1, -1, 5, &res), SL_ESTALE_EPOCH);
        assert_false(sl_log_failed(log));
        assert_int_equal(sl_log_end_offset(log), 4);
        sl_put32(a + 12, 4);
        assert_int_equal(sl_log_append(log, a, l1, -1, 5, &res), 0);
        assert_int_equal(res.base_offset, 4);
        sl_log_close(log);
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        bg_rmdir(dir);
        free(dir);
}

typedef struct walk {
        int n;
        int64_t first, last, next;
        int stop_after;
} walk;

static int walk_fn(void *arg, const sl_batch_meta *m)
{
        walk *w = arg;
        if (w->n == 0)
                w->first = m->base_offset;
        else
                assert_int_equal(m->base_offset, w->next);
        int i = 0;
        while (M.b[i].base != m->base_offset)
                i++;
        assert_int_equal(m->last_offset, M.b[i].last);
        assert_int_equal(m->size_bytes, (int32_t)M.b[i].len);
        assert_int_equal(m->producer_id, 1000 + i);
        assert_int_equal(m->producer_epoch, 3);
        assert_int_equal(m->base_sequence, 7 * i);
        assert_int_equal(m->attributes & 0x10, (i % 2) ? 0x10 : 0);
        assert_int_equal(m->leader_epoch, 2);
        w->next = m->last_offset + 1;
        w->last = m->last_offset;
        return ++w->n == w->stop_after ? 42 : 0;
}

static void test_for_each_batch(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        model_reset();
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 4096;
        cfg.index_interval_bytes = 300;
        sl_log *log = open_log(dir, &cfg);
        for (int i = 0; i < 60; i++) {
                uint8_t buf[4096];
                size_t len = bg_batch(buf, sizeof(buf), 1 + i % 4, 90, 10, (uint32_t)i);
                sl_put64(buf + 43, (uint64_t)(1000 + i)); /* producerId */
                sl_put16(buf + 51, 3);                    /* producerEpoch */
                sl_put32(buf + 53, (uint32_t)(7 * i));    /* baseSequence */
                sl_put16(buf + 21, (i % 2) ? 0x10 : 0);   /* transactional */
                sl_batch_crc_store(buf, len);
                sl_append_result res;
                assert_int_equal(sl_log_append(log, buf, len, 2, 5, &res), 0);
                model_batch *b = &M.b[M.n++];
                b->base = res.base_offset;
                b->last = res.last_offset;
                b->bytes = NULL;
                b->len = len;
        }
        for (int pass = 0; pass < 2; pass++) {
                walk w = {0};
                assert_int_equal(sl_log_for_each_batch(log, 0, INT64_MAX, walk_fn, &w), 0);
                assert_int_equal(w.n, 60);
                assert_int_equal(w.next, sl_log_end_offset(log));
                /* From inside a batch, up to (exclusive) a bound, stopping early. */
                w = (walk){0};
                int64_t from = M.b[21].base + 1, to = M.b[40].base; /* batch 21: 2 records */
                assert_int_equal(sl_log_for_each_batch(log, from, to, walk_fn, &w), 0);
                assert_int_equal(w.first, M.b[21].base);
                assert_int_equal(w.last, M.b[39].last);
                w = (walk){.stop_after = 5};
                assert_int_equal(sl_log_for_each_batch(log, 0, INT64_MAX, walk_fn, &w), 42);
                assert_int_equal(w.n, 5);
                sl_log_close(log);
                log = open_log(dir, &cfg); /* again with lazily loaded indexes */
        }
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_roll(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        model_reset();
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 8192;
        cfg.index_interval_bytes = 512;
        sl_log *log = open_log(dir, &cfg);
        uint64_t rs = 7;
        for (int i = 0; i < 200; i++)
                append_one(log, 1 + (int)(bg_rand(&rs) % 5), 20 + bg_rand(&rs) % 200, i, 1, 1000);
        int64_t bases[256];
        int nseg = bg_list_segments(dir, bases, 256);
        assert_true(nseg > 5);
        /* Every segment stays within segment.bytes (plus seal). */
        for (int i = 0; i < nseg; i++) {
                char p[4096];
                bg_seg_path(p, sizeof(p), dir, bases[i], "log");
                assert_true(bg_file_size(p) <= cfg.segment_bytes + SL_SEAL_BYTES);
        }
        /* Reads cross segment boundaries with one range per segment. */
        assert_int_equal(check_read(log, 0, INT64_MAX, 1 << 30), M.n);
        for (int i = 0; i < 100; i++)
                check_read(log, bg_rand(&rs) % sl_log_end_offset(log), INT64_MAX,
                           bg_rand(&rs) % 30000);
        /* segment.ms: an old segment rolls on the next append. */
        cfg.segment_ms = 100;
        assert_int_equal(sl_log_set_config(log, &cfg), 0);
        append_one(log, 1, 10, 0, 1, 1000000);
        append_one(log, 1, 10, 0, 1, 1000050);
        int nseg2 = bg_list_segments(dir, bases, 256);
        append_one(log, 1, 10, 0, 1, 1000200);
        assert_int_equal(bg_list_segments(dir, bases, 256), nseg2 + 1);
        sl_log_close(log);

        /* A full offset index rolls too: 4 entries of 40 bytes. */
        char *dir2 = bg_tempdir();
        model_reset();
        cfg = sl_log_config_default();
        cfg.segment_index_bytes = 4 * SL_OIDX_BYTES;
        cfg.index_interval_bytes = 1;
        log = open_log(dir2, &cfg);
        for (int i = 0; i < 12; i++)
                append_one(log, 1, 10, 0, 1, 1000);
        assert_int_equal(bg_list_segments(dir2, bases, 256), 3);
        sl_log_close(log);
        log = open_log(dir2, &cfg);
        assert_int_equal(check_read(log, 0, INT64_MAX, 1 << 30), 12);
        sl_log_close(log);
        bg_rmdir(dir);
        bg_rmdir(dir2);
        free(dir);
        free(dir2);
}

static void test_read_limits(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        model_reset();
        sl_log *log = open_log(dir, NULL);
        append_one(log, 10, 1000, 0, 1, 1); /* ~10 KB, offsets 0..9 */
        append_one(log, 2, 10, 0, 1, 1);    /* 10..11 */
        append_one(log, 2, 10, 0, 1, 1);    /* 12..13 */
        sl_file_range r[8];
        int n;
        /* KIP-74: a first batch larger than max_bytes still comes whole. */
        assert_int_equal(sl_log_read(log, 3, INT64_MAX, 100, r, 8, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(r[0].pos, SL_SEG_HDR_BYTES);
        assert_int_equal(r[0].len, (int64_t)M.b[0].len);
        sl_log_release_ranges(log, r, n);
        /* max_offset (high watermark) is exclusive and cuts at batch starts. */
        assert_int_equal(check_read(log, 0, 12, 1 << 20), 2);
        assert_int_equal(check_read(log, 10, 11, 1 << 20), 1);
        assert_int_equal(sl_log_read(log, 12, 12, 1 << 20, r, 8, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(sl_log_read(log, 14, INT64_MAX, 1 << 20, r, 8, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(sl_log_read(log, 15, INT64_MAX, 1 << 20, r, 8, &n), SL_EOFFSET);
        assert_int_equal(sl_log_read(log, -1, INT64_MAX, 1 << 20, r, 8, &n), SL_EOFFSET);
        /* The second batch fits the budget with the first only if room. */
        assert_int_equal(check_read(log, 10, INT64_MAX, M.b[1].len + M.b[2].len), 2);
        assert_int_equal(check_read(log, 10, INT64_MAX, M.b[1].len + M.b[2].len - 1), 1);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_timestamps(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        model_reset();
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 16384;
        cfg.index_interval_bytes = 300;
        sl_log *log = open_log(dir, &cfg);
        uint64_t rs = 99;
        int64_t ts = 1000;
        for (int i = 0; i < 400; i++) {
                ts += (int64_t)(bg_rand(&rs) % 50) - 10; /* mostly rising, sometimes not */
                append_one(log, 1 + (int)(bg_rand(&rs) % 4), 30, ts, 1, 5);
        }
        for (int pass = 0; pass < 2; pass++) {
                for (int q = 0; q < 300; q++) {
                        int64_t want_ts = 900 + (int64_t)(bg_rand(&rs) % 9000);
                        int64_t off, found;
                        int rc = sl_log_offset_for_timestamp(log, want_ts, &off, &found);
                        int i = 0;
                        while (i < M.n && M.b[i].max_ts < want_ts)
                                i++;
                        if (i == M.n) {
                                assert_int_equal(rc, SL_ENOTFOUND);
                        } else {
                                assert_int_equal(rc, 0);
                                assert_int_equal(off, M.b[i].base);
                                assert_int_equal(found, M.b[i].max_ts);
                        }
                }
                /* Again after a reopen: sealed segments' indexes load lazily. */
                sl_log_close(log);
                log = open_log(dir, &cfg);
        }
        int64_t mts = -1, moff = -1;
        for (int i = 0; i < M.n; i++)
                if (M.b[i].max_ts > mts) {
                        mts = M.b[i].max_ts;
                        moff = M.b[i].last;
                }
        int64_t gts, goff;
        sl_log_max_timestamp(log, &gts, &goff);
        assert_int_equal(gts, mts);
        assert_int_equal(goff, moff);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_truncate(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        model_reset();
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 4096;
        cfg.index_interval_bytes = 256;
        sl_log *log = open_log(dir, &cfg);
        for (int i = 0; i < 100; i++)
                append_one(log, 2, 50, i, i < 50 ? 1 : 2, 5);
        /* Truncate inside a sealed segment, at a batch boundary. */
        int64_t cut = M.b[37].base;
        assert_int_equal(sl_log_truncate(log, cut), 0);
        assert_int_equal(sl_log_end_offset(log), cut);
        int32_t ep;
        int64_t end;
        assert_int_equal(sl_log_latest_epoch(log), 1);
        assert_int_equal(sl_log_end_offset_for_epoch(log, 2, &ep, &end), 0);
        assert_int_equal(ep, 1);
        assert_int_equal(end, cut);
        for (int i = 37; i < M.n; i++)
                free(M.b[i].bytes);
        M.n = 37;
        for (int i = 0; i < 20; i++)
                append_one(log, 3, 40, 1000 + i, 3, 5);
        assert_int_equal(check_read(log, 0, INT64_MAX, 1 << 30), M.n);
        sl_log_close(log);
        log = open_log(dir, &cfg);
        assert_int_equal(check_read(log, 0, INT64_MAX, 1 << 30), M.n);
        sl_log_close(log);
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        bg_rmdir(dir);
        free(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_append_read_reopen),
            cmocka_unit_test(test_validation),
            cmocka_unit_test(test_epoch_and_log_append_time),
            cmocka_unit_test(test_follower_keeps_epochs),
            cmocka_unit_test(test_for_each_batch),
            cmocka_unit_test(test_roll),
            cmocka_unit_test(test_read_limits),
            cmocka_unit_test(test_timestamps),
            cmocka_unit_test(test_truncate),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        model_reset();
        return rc;
}
