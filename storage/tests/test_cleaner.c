/* storage/tests/test_cleaner.c — log compaction (storage/cleaner*.c): keeps
 * only the latest record per key with its original offset, drops tombstones
 * after delete.retention.ms, honours the dirty ratio and compaction lag,
 * rebuilds compressed and idempotent batches correctly, keeps `verify`
 * passing after cleaning and still locating damage in cleaned segments,
 * keeps fetch ranges pinned across the swap, and recovers a consistent log
 * after a crash at every file operation of a cleaning. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "batchgen.h"
#include "crashfs.h"
#include "fileops_int.h"
#include "format_int.h"
#include "log.h"
#include "record_batch.h"
#include "verify.h"

#define NOW 1000000

typedef struct rec {
        int64_t offset;
        char key[16];
        char value[24]; /* "" and tomb for a tombstone */
        bool tomb;
} rec;

static kp_codec_ctx *cc;

static sl_log_config cfg_small(void)
{
        sl_log_config c = sl_log_config_default();
        c.segment_bytes = 2048;
        c.index_interval_bytes = 256;
        return c;
}

static sl_clean_config clean_cfg(void)
{
        sl_clean_config c = sl_clean_config_default();
        c.min_cleanable_dirty_ratio = 0.0;
        c.delete_retention_ms = 1000;
        return c;
}

static sl_log *open_log(const char *dir)
{
        sl_log_config cfg = cfg_small();
        sl_log *log = NULL;
        sl_log_error err;
        if (sl_log_open(dir, &cfg, NOW, &log, &err) != 0)
                fail_msg("open: %s", err.message);
        return log;
}

/* Appends one batch of n records: keys k<key+i>, values v<offset> (or
 * tombstones), with codec and optional producer id. */
static void append_keys(sl_log *log, const int *keys, int n, bool tomb, int codec, int64_t pid,
                        int32_t seq, int64_t ts)
{
        kp_record_in in[64];
        char kb[64][16], vb[64][24];
        int64_t off = sl_log_end_offset(log);
        for (int i = 0; i < n; i++) {
                snprintf(kb[i], sizeof(kb[i]), "k%03d", keys[i]);
                snprintf(vb[i], sizeof(vb[i]), "v%08lld", (long long)(off + i));
                in[i] = (kp_record_in){
                    .timestamp = ts,
                    .key = {.p = (const uint8_t *)kb[i], .len = (int32_t)strlen(kb[i])},
                    .value = {.p = (const uint8_t *)vb[i],
                              .len = tomb ? -1 : (int32_t)strlen(vb[i])}};
        }
        kp_batch_spec spec = {.partition_leader_epoch = -1,
                              .codec = codec,
                              .producer_id = pid,
                              .producer_epoch = (int16_t)(pid >= 0 ? 0 : -1),
                              .base_sequence = pid >= 0 ? seq : -1};
        uint8_t buf[8192];
        size_t len;
        assert_int_equal(kp_batch_build(cc, &spec, in, n, buf, sizeof(buf), &len), 0);
        sl_append_result res;
        assert_int_equal(sl_log_append(log, buf, len, 1, ts, &res), 0);
        assert_int_equal(res.base_offset, off);
}

/* Appends are made durable (acked) before cleaning: only segments whose seal
 * is written (after their data was synced) are cleanable. */
static int clean(sl_log *log, const sl_clean_config *cfg, int64_t now, sl_clean_stats *st)
{
        assert_int_equal(sl_log_sync(log), 0);
        return sl_log_clean(log, cfg, now, st);
}

static void append1(sl_log *log, int key, bool tomb, int64_t ts)
{
        append_keys(log, &key, 1, tomb, KP_CODEC_NONE, -1, -1, ts);
}

/* Every record readable from the log start, in order. */
static int collect(sl_log *log, rec *out, int cap, int *empty_batches)
{
        int64_t off = sl_log_start_offset(log), end = sl_log_end_offset(log);
        int k = 0;
        if (empty_batches)
                *empty_batches = 0;
        while (off < end) {
                sl_file_range r[16];
                int n = 0;
                assert_int_equal(sl_log_read(log, off, end, 1 << 20, r, 16, &n), 0);
                if (n == 0)
                        break;
                size_t len;
                uint8_t *buf = bg_read_ranges(r, n, &len);
                sl_log_release_ranges(log, r, n);
                kp_batch_iter it;
                kp_batch b;
                kp_batch_iter_init(&it, buf, len);
                while (kp_batch_next(&it, &b)) {
                        const char *why = NULL;
                        if (kp_batch_verify(&b, cc, 0, NULL, &why) != 0)
                                fail_msg("batch at %lld: %s", (long long)b.base_offset, why);
                        assert_true(b.base_offset >= off || kp_batch_last_offset(&b) >= off);
                        if (b.records_count == 0 && empty_batches)
                                (*empty_batches)++;
                        const uint8_t *recs = b.records.p;
                        size_t rlen = (size_t)b.records.len;
                        if (kp_batch_codec(&b))
                                assert_int_equal(kp_decompress(cc, kp_batch_codec(&b), b.records.p,
                                                               rlen, &recs, &rlen, &why),
                                                 0);
                        kp_record_iter ri;
                        kp_record rc;
                        kp_record_iter_init(&ri, recs, rlen, b.records_count);
                        while (kp_record_next(&ri, &rc)) {
                                assert_true(k < cap);
                                rec *o = &out[k++];
                                memset(o, 0, sizeof(*o));
                                o->offset = b.base_offset + rc.offset_delta;
                                snprintf(o->key, sizeof(o->key), "%.*s", (int)rc.key.len,
                                         (const char *)rc.key.p);
                                o->tomb = rc.value.len < 0;
                                if (!o->tomb)
                                        snprintf(o->value, sizeof(o->value), "%.*s",
                                                 (int)rc.value.len, (const char *)rc.value.p);
                        }
                        assert_int_equal(ri.rd.err, 0);
                        off = kp_batch_last_offset(&b) + 1;
                }
                free(buf);
        }
        return k;
}

static void assert_verify_ok(const char *dir)
{
        sl_verify_report rep;
        int rc = sl_verify_dir(dir, &rep);
        if (rc != 0 || !rep.ok)
                fail_msg("verify: %s", rep.message);
}

static int64_t active_base(const char *dir)
{
        int64_t bases[512];
        int n = bg_list_segments(dir, bases, 512);
        return bases[n - 1];
}

/* Each record's value names its own offset: offsets survived cleaning. */
static void assert_offsets_kept(const rec *r, int n)
{
        for (int i = 0; i < n; i++) {
                if (r[i].tomb)
                        continue;
                char want[24];
                snprintf(want, sizeof(want), "v%08lld", (long long)r[i].offset);
                assert_string_equal(r[i].value, want);
                if (i > 0)
                        assert_true(r[i].offset > r[i - 1].offset);
        }
}

static void test_latest_per_key(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        for (int i = 0; i < 400; i++)
                append1(log, i % 10, false, NOW - 100000 + i);
        sl_log_stats st0;
        sl_log_get_stats(log, &st0);
        assert_true(st0.segments > 10);
        sl_clean_config cfg = clean_cfg();
        sl_clean_stats cs;
        assert_int_equal(clean(log, &cfg, NOW, &cs), 1);
        assert_true(cs.segments_in > 1);
        assert_true(cs.segments_out <= cs.segments_in);
        assert_true(cs.bytes_out < cs.bytes_in);
        assert_true(cs.records_dropped > 300);
        int64_t act = active_base(dir);

        static rec r[1000];
        int n = collect(log, r, 1000, NULL);
        assert_offsets_kept(r, n);
        /* Below the active segment: each key once, at its latest offset there. */
        int seen[10] = {0};
        for (int i = 0; i < n; i++) {
                if (r[i].offset >= act)
                        continue;
                int key = atoi(r[i].key + 1);
                seen[key]++;
                int64_t latest = -1;
                for (int64_t o = 0; o < act; o++)
                        if (o % 10 == key)
                                latest = o;
                assert_int_equal(r[i].offset, latest);
        }
        for (int k = 0; k < 10; k++)
                assert_int_equal(seen[k], 1);
        /* The active segment is untouched. */
        int tail = 0;
        for (int i = 0; i < n; i++)
                tail += r[i].offset >= act;
        assert_int_equal(tail, 400 - act);
        assert_int_equal(sl_log_end_offset(log), 400);
        assert_int_equal(sl_log_start_offset(log), 0);
        /* Fetch from an offset that compaction removed: the next record. */
        sl_file_range fr[4];
        int nr = 0;
        assert_int_equal(sl_log_read(log, 5, 400, 1 << 20, fr, 4, &nr), 0);
        assert_true(nr > 0);
        sl_log_release_ranges(log, fr, nr);

        /* Nothing dirty now: no second cleaning. */
        assert_int_equal(clean(log, &cfg, NOW, NULL), 0);
        sl_log_close(log);
        assert_verify_ok(dir);
        /* Reopen: the same records. */
        log = open_log(dir);
        static rec r2[1000];
        int n2 = collect(log, r2, 1000, NULL);
        assert_int_equal(n2, n);
        assert_memory_equal(r, r2, sizeof(rec) * (size_t)n);
        /* More data, clean again: the clean section is rewritten with it. */
        for (int i = 0; i < 100; i++)
                append1(log, i % 10, false, NOW - 1000 + i);
        assert_int_equal(clean(log, &cfg, NOW, &cs), 1);
        /* The segments the first cleaning shrank merge now. */
        assert_true(cs.segments_out < cs.segments_in);
        n2 = collect(log, r2, 1000, NULL);
        assert_offsets_kept(r2, n2);
        act = active_base(dir);
        int below = 0;
        for (int i = 0; i < n2; i++)
                below += r2[i].offset < act;
        assert_int_equal(below, 10);
        sl_log_close(log);
        assert_verify_ok(dir);
        bg_rmdir(dir);
        free(dir);
}

static void test_tombstones(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        for (int i = 0; i < 60; i++)
                append1(log, i % 3, false, NOW + i);
        append1(log, 1, true, NOW + 100); /* delete key 1 */
        for (int i = 0; i < 60; i++)
                append1(log, 5 + i % 3, false, NOW + 200 + i);
        sl_clean_config cfg = clean_cfg();
        assert_int_equal(clean(log, &cfg, NOW + 300, NULL), 1);
        static rec r[400];
        int n = collect(log, r, 400, NULL);
        int tombs = 0, k1 = 0;
        for (int i = 0; i < n; i++) {
                tombs += r[i].tomb;
                k1 += strcmp(r[i].key, "k001") == 0;
        }
        /* The value of key 1 is gone, its tombstone stays (first cleaning). */
        assert_int_equal(tombs, 1);
        assert_int_equal(k1, 1);
        /* New data; a cleaning within delete.retention.ms keeps it ... */
        for (int i = 0; i < 60; i++)
                append1(log, 10 + i % 3, false, NOW + 400 + i);
        assert_int_equal(clean(log, &cfg, NOW + 500, NULL), 1);
        n = collect(log, r, 400, NULL);
        tombs = 0;
        for (int i = 0; i < n; i++)
                tombs += r[i].tomb;
        assert_int_equal(tombs, 1);
        /* ... and one after it drops it. */
        for (int i = 0; i < 60; i++)
                append1(log, 20 + i % 3, false, NOW + 600 + i);
        sl_clean_stats cs;
        assert_int_equal(clean(log, &cfg, NOW + 100000, &cs), 1);
        assert_int_equal(cs.tombstones_dropped, 1);
        n = collect(log, r, 400, NULL);
        for (int i = 0; i < n; i++) {
                assert_false(r[i].tomb);
                assert_string_not_equal(r[i].key, "k001");
        }
        assert_offsets_kept(r, n);
        sl_log_close(log);
        assert_verify_ok(dir);
        bg_rmdir(dir);
        free(dir);
}

static void test_ratio_and_lag(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        for (int i = 0; i < 100; i++)
                append1(log, i % 5, false, NOW + i);
        sl_clean_config cfg = clean_cfg();
        /* Every record is younger than min.compaction.lag.ms: nothing. */
        cfg.min_compaction_lag_ms = 10000;
        assert_int_equal(clean(log, &cfg, NOW + 200, NULL), 0);
        /* Old enough now. */
        assert_int_equal(clean(log, &cfg, NOW + 20000, NULL), 1);
        /* A little new data: its share is below the 0.5 ratio. */
        for (int i = 0; i < 12; i++)
                append1(log, i % 5, false, NOW + 300 + i);
        cfg = clean_cfg();
        cfg.min_cleanable_dirty_ratio = 0.99;
        assert_int_equal(clean(log, &cfg, NOW + 20000, NULL), 0);
        /* max.compaction.lag.ms overrides the ratio once the dirty part is old. */
        for (int i = 0; i < 40; i++)
                append1(log, i % 5, false, NOW + 400 + i);
        cfg.max_compaction_lag_ms = 50000;
        assert_int_equal(clean(log, &cfg, NOW + 20000, NULL), 0);
        cfg.max_compaction_lag_ms = 1000;
        assert_int_equal(clean(log, &cfg, NOW + 20000, NULL), 1);
        /* The high watermark bounds it too. */
        cfg = clean_cfg();
        cfg.max_offset = 0;
        assert_int_equal(clean(log, &cfg, NOW + 20000, NULL), 0);
        sl_log_close(log);
        assert_verify_ok(dir);
        bg_rmdir(dir);
        free(dir);
}

static void test_compressed_and_producer(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        int keys[8];
        int32_t seq = 0;
        int codecs[] = {KP_CODEC_LZ4, KP_CODEC_ZSTD, KP_CODEC_GZIP, KP_CODEC_SNAPPY};
        for (int b = 0; b < 40; b++) {
                for (int i = 0; i < 8; i++)
                        keys[i] = (b * 8 + i) % 12;
                append_keys(log, keys, 8, false, codecs[b % 4], 7, seq, NOW + b);
                seq += 8;
        }
        /* Producer 9's last batch holds only keys that are rewritten later. */
        keys[0] = 0;
        keys[1] = 1;
        append_keys(log, keys, 2, false, KP_CODEC_NONE, 9, 0, NOW + 50);
        for (int i = 0; i < 40; i++)
                append1(log, i % 12, false, NOW + 60 + i);
        sl_clean_config cfg = clean_cfg();
        assert_int_equal(clean(log, &cfg, NOW + 1000, NULL), 1);
        static rec r[1000];
        int empty = 0;
        int n = collect(log, r, 1000, &empty);
        assert_offsets_kept(r, n);
        /* Producer 9's batch survives without records (idempotence state). */
        int found9 = 0;
        int64_t from = 0;
        for (;;) {
                sl_file_range fr[16];
                int nr = 0;
                assert_int_equal(
                    sl_log_read(log, from, sl_log_end_offset(log), 1 << 20, fr, 16, &nr), 0);
                if (!nr)
                        break;
                size_t len;
                uint8_t *buf = bg_read_ranges(fr, nr, &len);
                sl_log_release_ranges(log, fr, nr);
                kp_batch_iter it;
                kp_batch b;
                kp_batch_iter_init(&it, buf, len);
                while (kp_batch_next(&it, &b)) {
                        if (b.producer_id == 9) {
                                found9++;
                                assert_int_equal(b.records_count, 0);
                                assert_int_equal(b.last_offset_delta, 1);
                                assert_int_equal(b.base_sequence, 0);
                                assert_int_equal(b.producer_epoch, 0);
                        }
                        from = kp_batch_last_offset(&b) + 1;
                }
                free(buf);
        }
        assert_int_equal(found9, 1);
        assert_true(empty >= 1);
        sl_log_close(log);
        assert_verify_ok(dir);
        bg_rmdir(dir);
        free(dir);
}

/* First cleaned segment (with the flag) of dir holding some batches. */
static int64_t first_cleaned(const char *dir, char *path, size_t cap)
{
        int64_t bases[512];
        int n = bg_list_segments(dir, bases, 512);
        for (int i = 0; i < n; i++) {
                bg_seg_path(path, cap, dir, bases[i], "log");
                int fd = open(path, O_RDONLY);
                uint8_t h[64];
                assert_int_equal(pread(fd, h, 64, 0), 64);
                close(fd);
                if ((sl_be32(h + 40) & SL_SEG_FLAG_CLEANED) && bg_file_size(path) > 1000)
                        return bases[i];
        }
        return -1;
}

static void test_verify_locates_damage(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        for (int i = 0; i < 300; i++)
                append1(log, i % 40, false, NOW + i);
        sl_clean_config cfg = clean_cfg();
        assert_int_equal(clean(log, &cfg, NOW + 1000, NULL), 1);
        sl_log_close(log);
        assert_verify_ok(dir);
        char path[4096], copy[4200];
        int64_t base = first_cleaned(dir, path, sizeof(path));
        assert_true(base >= 0);
        int64_t size = bg_file_size(path);
        snprintf(copy, sizeof(copy), "%s.keep", path);
        char cmd[9000];
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, copy);
        assert_int_equal(system(cmd), 0);
        /* A bit flipped anywhere in the batches is found in this file, at the
         * batch that holds it (or, for a base offset, where order breaks). */
        uint64_t rng = 42;
        for (int t = 0; t < 40; t++) {
                int64_t pos = SL_SEG_HDR_BYTES + bg_rand(&rng) % (uint32_t)(size - 128);
                int bit = (int)(bg_rand(&rng) % 8);
                bg_flip_bit(path, pos, bit);
                sl_verify_report rep;
                assert_int_not_equal(sl_verify_dir(dir, &rep), 0);
                assert_false(rep.ok);
                char name[64];
                sl_seg_name(name, sizeof(name), base, "log");
                assert_string_equal(rep.file, name);
                if (rep.position > pos || pos - rep.position >= 1024)
                        fail_msg("flip at %lld bit %d: %s", (long long)pos, bit, rep.message);
                bg_flip_bit(path, pos, bit);
        }
        assert_verify_ok(dir);
        /* The header's link-out value is covered by its checksum. */
        bg_flip_bit(path, 50, 3);
        sl_verify_report rep;
        assert_int_not_equal(sl_verify_dir(dir, &rep), 0);
        bg_flip_bit(path, 50, 3);
        /* A cleaned segment that is lost breaks the offsets between headers. */
        int64_t bases[512];
        int n = bg_list_segments(dir, bases, 512);
        assert_true(n >= 3);
        char p2[4096];
        bg_seg_path(p2, sizeof(p2), dir, bases[1], "log");
        snprintf(cmd, sizeof(cmd), "mv '%s' '%s.gone'", p2, p2);
        assert_int_equal(system(cmd), 0);
        assert_int_not_equal(sl_verify_dir(dir, &rep), 0);
        snprintf(cmd, sizeof(cmd), "mv '%s.gone' '%s'", p2, p2);
        assert_int_equal(system(cmd), 0);
        assert_verify_ok(dir);
        /* Open refuses a cleaned segment whose chain does not reach its seal
         * (lazy load), and reads the intact one fine. */
        unlink(copy);
        bg_rmdir(dir);
        free(dir);
}

static void test_pinned_read_survives(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        for (int i = 0; i < 200; i++)
                append1(log, i % 4, false, NOW + i);
        sl_file_range fr[8];
        int nr = 0;
        assert_int_equal(sl_log_read(log, 0, 200, 1500, fr, 8, &nr), 0);
        assert_true(nr > 0);
        size_t before_len;
        uint8_t *before = bg_read_ranges(fr, nr, &before_len);
        sl_clean_config cfg = clean_cfg();
        assert_int_equal(clean(log, &cfg, NOW + 1000, NULL), 1);
        /* The pinned old segment still reads the same bytes (sendfile). */
        size_t after_len;
        uint8_t *after = bg_read_ranges(fr, nr, &after_len);
        assert_int_equal(before_len, after_len);
        assert_memory_equal(before, after, before_len);
        sl_log_release_ranges(log, fr, nr);
        free(before);
        free(after);
        sl_log_close(log);
        assert_verify_ok(dir);
        bg_rmdir(dir);
        free(dir);
}

/* A damaged source is never laundered into a fresh chain: the cleaning
 * fails and the log is left as it was. */
static void test_damaged_source_refused(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        for (int i = 0; i < 100; i++)
                append1(log, i % 5, false, NOW + i);
        assert_int_equal(sl_log_sync(log), 0);
        int64_t bases[64];
        int n = bg_list_segments(dir, bases, 64);
        assert_true(n > 3);
        char path[4096];
        bg_seg_path(path, sizeof(path), dir, bases[1], "log");
        bg_flip_bit(path, SL_SEG_HDR_BYTES + 70, 2); /* inside the first batch's records */
        sl_clean_config cfg = clean_cfg();
        assert_int_equal(sl_log_clean(log, &cfg, NOW + 1000, NULL), SL_ECORRUPT);
        assert_int_equal(bg_list_segments(dir, bases, 64), n);
        sl_log_close(log);
        char cmd[4300];
        snprintf(cmd, sizeof(cmd), "ls '%s' | grep -qE '\\.(cleaned|swap)$' && exit 1 || exit 0",
                 dir);
        assert_int_equal(system(cmd), 0);
        sl_verify_report rep;
        assert_int_not_equal(sl_verify_dir(dir, &rep), 0); /* still reported, not hidden */
        bg_rmdir(dir);
        free(dir);
}

/* The three steps: a cancelled run, or a source deleted (DeleteRecords)
 * between prepare and complete, leaves the log unchanged and no files. */
static void test_cancel_and_stale_job(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        for (int i = 0; i < 100; i++)
                append1(log, i % 5, false, NOW + i);
        assert_int_equal(sl_log_sync(log), 0);
        sl_clean_config cfg = clean_cfg();
        static rec before[200], after[200];
        int nb = collect(log, before, 200, NULL);
        sl_clean_job *job;
        assert_int_equal(sl_clean_prepare(log, &cfg, NOW + 1000, &job), 1);
        sl_clean_job_cancel(job);
        int rc = sl_clean_job_run(job);
        assert_int_equal(rc, -ECANCELED);
        assert_int_equal(sl_clean_complete(log, job, rc, NULL), -ECANCELED);
        sl_clean_job_free(job);
        assert_int_equal(collect(log, after, 200, NULL), nb);

        assert_int_equal(sl_clean_prepare(log, &cfg, NOW + 1000, &job), 1);
        assert_int_equal(sl_clean_job_run(job), 0);
        int64_t bases[64];
        assert_true(bg_list_segments(dir, bases, 64) > 2);
        assert_int_equal(sl_log_delete_records(log, bases[1]), 0); /* drops a source */
        sl_clean_stats st;
        assert_int_equal(sl_clean_complete(log, job, 0, &st), 0);
        sl_clean_job_free(job);
        int na = collect(log, after, 200, NULL);
        assert_int_equal(na, nb - bases[1]); /* only DeleteRecords' effect */
        char cmd[4300];
        snprintf(cmd, sizeof(cmd), "ls '%s' | grep -qE '\\.(cleaned|swap)$' && exit 1 || exit 0",
                 dir);
        assert_int_equal(system(cmd), 0);
        /* The next cleaning goes through. */
        assert_int_equal(sl_log_clean(log, &cfg, NOW + 1000, NULL), 1);
        sl_log_close(log);
        assert_verify_ok(dir);
        bg_rmdir(dir);
        free(dir);
}

/* An offset map too small for the first dirty segment's keys: that segment is
 * still cleaned with the keys that fit, and nothing that must stay goes. */
static void test_small_offset_map(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log_config lc = cfg_small();
        lc.segment_bytes = 128 << 10; /* ~1500 records a segment */
        sl_log *log = NULL;
        sl_log_error err;
        if (sl_log_open(dir, &lc, NOW, &log, &err) != 0)
                fail_msg("open: %s", err.message);
        /* Keys 0..999 three times. */
        for (int i = 0; i < 3000; i++)
                append1(log, i % 1000, false, NOW + i);
        sl_clean_config cfg = clean_cfg();
        cfg.dedupe_bytes = 1; /* the smallest map: 1024 slots, 921 keys */
        sl_clean_stats cs;
        assert_int_equal(clean(log, &cfg, NOW + 10000, &cs), 1);
        assert_true(cs.records_dropped > 0);
        static rec r[4000];
        int n = collect(log, r, 4000, NULL);
        assert_offsets_kept(r, n);
        /* Every key's latest record is still there. */
        static int64_t latest[1000];
        for (int i = 0; i < 3000; i++)
                latest[i % 1000] = i;
        int found = 0;
        for (int i = 0; i < n; i++)
                found += r[i].offset == latest[atoi(r[i].key + 1)];
        assert_int_equal(found, 1000);
        assert_true(n < 3000);
        sl_log_close(log);
        assert_verify_ok(dir);
        bg_rmdir(dir);
        free(dir);
}

/* Follower truncation into a cleaned segment: it becomes the active segment
 * again (gaps and all), takes appends, rolls, and the log still verifies and
 * reopens (the next segment links to its real chain, not its link-out). */
static void test_truncate_into_cleaned(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        for (int i = 0; i < 200; i++)
                append1(log, i % 8, false, NOW + i);
        sl_clean_config cfg = clean_cfg();
        assert_int_equal(clean(log, &cfg, NOW + 1000, NULL), 1);
        static rec r[600];
        int n = collect(log, r, 600, NULL);
        /* Cut in the middle of the cleaned records (a gap or a record). */
        assert_true(n > 8);
        int64_t cut = r[3].offset + 1;
        assert_true(cut < active_base(dir));
        assert_int_equal(sl_log_truncate(log, cut), 0);
        assert_int_equal(sl_log_end_offset(log), cut);
        for (int i = 0; i < 100; i++)
                append1(log, 20 + i % 3, false, NOW + 2000 + i);
        assert_int_equal(sl_log_sync(log), 0);
        int n2 = collect(log, r, 600, NULL);
        assert_offsets_kept(r, n2);
        assert_int_equal(r[n2 - 1].offset, cut + 99);
        sl_log_close(log);
        assert_verify_ok(dir);
        log = open_log(dir);
        assert_int_equal(collect(log, r, 600, NULL), n2);
        assert_int_equal(clean(log, &cfg, NOW + 5000, NULL) >= 0, 1);
        sl_log_close(log);
        assert_verify_ok(dir);
        bg_rmdir(dir);
        free(dir);
}

/* ---- crash at every file operation ---- */

static int crash_left = -1; /* mutating calls before the "crash"; -1 never */
static const sl_fileops *base_ops = &sl_fileops_posix; /* below the crash layer */
static int crash_calls;

static bool dead(void)
{
        crash_calls++;
        if (crash_left < 0)
                return false;
        if (crash_left == 0)
                return true;
        crash_left--;
        return false;
}
static int c_open(const char *p, int flags, int mode)
{
        if ((flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) && (flags & (O_CREAT | O_TRUNC)) &&
            dead())
                return -EIO;
        return base_ops->open(p, flags, mode);
}
static ssize_t c_pwritev(int fd, const struct iovec *iov, int n, int64_t off)
{
        return dead() ? -EIO : base_ops->pwritev(fd, iov, n, off);
}
static int c_fdatasync(int fd)
{
        return dead() ? -EIO : base_ops->fdatasync(fd);
}
static int c_fsync(int fd)
{
        return dead() ? -EIO : base_ops->fsync(fd);
}
static int c_ftruncate(int fd, int64_t len)
{
        return dead() ? -EIO : base_ops->ftruncate(fd, len);
}
static int c_unlink(const char *p)
{
        return dead() ? -EIO : base_ops->unlink(p);
}
static int c_rename(const char *a, const char *b)
{
        return dead() ? -EIO : base_ops->rename(a, b);
}

static sl_fileops crash_ops;

static void fill_crash_log(const char *dir)
{
        sl_log *log = open_log(dir);
        for (int i = 0; i < 150; i++)
                append1(log, i % 7, i == 100, NOW + i);
        sl_log_close(log);
}

static void test_crash_every_step(void **state)
{
        (void)state;
        crash_ops = sl_fileops_posix;
        crash_ops.open = c_open;
        crash_ops.pwritev = c_pwritev;
        crash_ops.fdatasync = c_fdatasync;
        crash_ops.fsync = c_fsync;
        crash_ops.ftruncate = c_ftruncate;
        crash_ops.unlink = c_unlink;
        crash_ops.rename = c_rename;
        sl_clean_config cfg = clean_cfg();
        /* Reference: the same log cleaned without a crash. */
        char *ref = bg_tempdir();
        fill_crash_log(ref);
        sl_log *log = open_log(ref);
        static rec pre[400], post[400], got[400];
        int npre = collect(log, pre, 400, NULL);
        sl_fileops_set(&crash_ops);
        crash_left = -1;
        crash_calls = 0;
        assert_int_equal(sl_log_clean(log, &cfg, NOW + 1000, NULL), 1);
        int total = crash_calls;
        sl_fileops_set(&sl_fileops_posix);
        int npost = collect(log, post, 400, NULL);
        assert_true(npost < npre);
        sl_log_close(log);
        assert_true(total > 8);
        int outcomes[2] = {0, 0}, pending_swaps = 0;
        uint64_t rng = 7;
        /* power 0: the process dies (the page cache survives); power 1: the
         * machine loses power too (crashfs drops or garbles what was not
         * synced, and unsynced directory entries may vanish). */
        for (int run = 0; run <= 2 * total + 1; run++) {
                int step = run % (total + 1), power = run > total;
                char *dir = bg_tempdir();
                fill_crash_log(dir);
                if (power) {
                        crashfs_install();
                        base_ops = sl_fileops_current;
                }
                crash_left = -1;
                sl_fileops_set(&crash_ops);
                log = open_log(dir);
                crash_left = step;
                int rc = sl_log_clean(log, &cfg, NOW + 1000, NULL);
                sl_log_close(log); /* a dead process: the rest fails too */
                if (power)
                        crashfs_crash(&rng);
                sl_fileops_set(&sl_fileops_posix);
                base_ops = &sl_fileops_posix;
                crash_left = -1;
                (void)rc;
                /* verify sees what open will make of it (an unfinished swap
                 * in place of the segments it replaces): no damage. */
                char lsw[4300];
                snprintf(lsw, sizeof(lsw), "ls '%s' | grep -q 'log\\.swap$'", dir);
                pending_swaps += system(lsw) == 0;
                sl_verify_report vr;
                if (sl_verify_dir(dir, &vr) != 0)
                        fail_msg("step %d power %d: verify before reopen: %s", step, power,
                                 vr.message);
                /* Reopen: finished or rolled back, and consistent. */
                sl_log_error err;
                sl_log_config lc = cfg_small();
                if (sl_log_open(dir, &lc, NOW, &log, &err) != 0)
                        fail_msg("step %d: open: %s", step, err.message);
                int n = collect(log, got, 400, NULL);
                sl_log_close(log);
                assert_verify_ok(dir);
                /* post ⊆ got ⊆ pre, by offset (and the same record). */
                int a = 0;
                for (int i = 0; i < n; i++) {
                        while (a < npre && pre[a].offset < got[i].offset)
                                a++;
                        assert_true(a < npre);
                        assert_memory_equal(&pre[a], &got[i], sizeof(rec));
                }
                int b = 0;
                for (int i = 0; i < npost; i++) {
                        while (b < n && got[b].offset < post[i].offset)
                                b++;
                        if (b >= n || got[b].offset != post[i].offset)
                                fail_msg("step %d: offset %lld lost", step,
                                         (long long)post[i].offset);
                }
                outcomes[n == npost ? 1 : 0]++;
                /* No leftovers of the swap. */
                char cmd[4300];
                snprintf(cmd, sizeof(cmd),
                         "ls '%s' | grep -qE '\\.(cleaned|swap)$' && exit 1 || exit 0", dir);
                assert_int_equal(system(cmd), 0);
                bg_rmdir(dir);
                free(dir);
        }
        /* Early crashes roll back, late ones finish; some left a swap pending. */
        assert_true(pending_swaps > 0);
        assert_true(outcomes[0] > 0);
        assert_true(outcomes[1] > 0);
        bg_rmdir(ref);
        free(ref);
}

static int setup(void **state)
{
        (void)state;
        cc = kp_codec_ctx_new(16 << 20);
        return cc ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        kp_codec_ctx_free(cc);
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_latest_per_key),
            cmocka_unit_test(test_tombstones),
            cmocka_unit_test(test_ratio_and_lag),
            cmocka_unit_test(test_compressed_and_producer),
            cmocka_unit_test(test_verify_locates_damage),
            cmocka_unit_test(test_pinned_read_survives),
            cmocka_unit_test(test_damaged_source_refused),
            cmocka_unit_test(test_cancel_and_stale_job),
            cmocka_unit_test(test_small_offset_map),
            cmocka_unit_test(test_truncate_into_cleaned),
            cmocka_unit_test(test_crash_every_step),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
