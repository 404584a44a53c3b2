/* storage/tests/test_retention.c — retention.bytes and retention.ms delete
 * whole segments oldest first (never the active one); DeleteRecords advances
 * the log start offset, persists it and drops segments wholly below it; a
 * fetch's pinned range stays readable while its segment is deleted; topic
 * deletion removes the directory. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "batchgen.h"
#include "format_int.h"
#include "log.h"
#include "verify.h"

static sl_log_config cfg_small(void)
{
        sl_log_config c = sl_log_config_default();
        c.segment_bytes = 4096;
        c.index_interval_bytes = 512;
        return c;
}

static sl_log *open_log(const char *dir, const sl_log_config *cfg)
{
        sl_log *log = NULL;
        sl_log_error err;
        if (sl_log_open(dir, cfg, 1000, &log, &err) != 0)
                fail_msg("open: %s", err.message);
        return log;
}

/* Appends n batches of ~500 bytes with timestamps ts0 + i. */
static void fill(sl_log *log, int n, int64_t ts0)
{
        uint8_t buf[4096];
        for (int i = 0; i < n; i++) {
                size_t len = bg_batch(buf, sizeof(buf), 2, 220, ts0 + i, (uint32_t)i);
                sl_append_result res;
                assert_int_equal(sl_log_append(log, buf, len, 1, ts0 + i, &res), 0);
        }
}

static void test_retention_bytes(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log_config cfg = cfg_small();
        sl_log *log = open_log(dir, &cfg);
        fill(log, 100, 1000);
        sl_log_stats st;
        sl_log_get_stats(log, &st);
        int64_t before = st.segments;
        assert_true(before > 8);
        assert_int_equal(sl_log_enforce_retention(log, 2000), 0); /* nothing expired */
        cfg.retention_bytes = 5 * 4096;
        assert_int_equal(sl_log_set_config(log, &cfg), 0);
        int deleted = sl_log_enforce_retention(log, 2000);
        assert_true(deleted > 0);
        sl_log_get_stats(log, &st);
        assert_int_equal(st.segments, before - deleted);
        assert_true(st.size_bytes <= cfg.retention_bytes + 4096 + SL_SEAL_BYTES);
        int64_t start = sl_log_start_offset(log);
        int64_t bases[256];
        assert_int_equal(bg_list_segments(dir, bases, 256), st.segments);
        assert_int_equal(start, bases[0]);
        sl_file_range r[4];
        int n;
        assert_int_equal(sl_log_read(log, start - 1, INT64_MAX, 100, r, 4, &n), SL_EOFFSET);
        assert_int_equal(sl_log_read(log, start, INT64_MAX, 100, r, 4, &n), 0);
        assert_int_equal(n, 1);
        sl_log_release_ranges(log, r, n);
        sl_log_close(log);
        log = open_log(dir, &cfg);
        assert_int_equal(sl_log_start_offset(log), start);
        sl_log_close(log);
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        bg_rmdir(dir);
        free(dir);
}

static void test_retention_ms(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log_config cfg = cfg_small();
        cfg.retention_ms = 1000;
        sl_log *log = open_log(dir, &cfg);
        fill(log, 40, 10000); /* old records */
        fill(log, 40, 50000); /* new records */
        sl_log_stats st;
        sl_log_get_stats(log, &st);
        int deleted = sl_log_enforce_retention(log, 50500);
        assert_true(deleted > 0);
        /* Every remaining segment but the active has a recent max timestamp;
         * nothing of the new records was dropped. */
        int64_t off, ts;
        assert_int_equal(sl_log_offset_for_timestamp(log, 50000, &off, &ts), 0);
        assert_int_equal(off, 80);
        assert_true(sl_log_start_offset(log) <= 80);
        assert_true(sl_log_start_offset(log) > 0);
        /* Much later everything but the active segment goes. */
        deleted = sl_log_enforce_retention(log, 1000000);
        sl_log_get_stats(log, &st);
        assert_int_equal(st.segments, 1);
        assert_int_equal(sl_log_end_offset(log), 160);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_delete_records(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log_config cfg = cfg_small();
        sl_log *log = open_log(dir, &cfg);
        fill(log, 60, 1000);
        int64_t bases[256];
        int nseg = bg_list_segments(dir, bases, 256);
        int64_t mid = bases[3] + 1; /* inside the 4th segment */
        assert_int_equal(sl_log_delete_records(log, mid), 0);
        assert_int_equal(sl_log_start_offset(log), mid);
        assert_int_equal(bg_list_segments(dir, bases, 256), nseg - 3);
        sl_file_range r[4];
        int n;
        assert_int_equal(sl_log_read(log, mid - 1, INT64_MAX, 100, r, 4, &n), SL_EOFFSET);
        assert_int_equal(sl_log_read(log, mid, INT64_MAX, 100, r, 4, &n), 0);
        assert_int_equal(n, 1);
        sl_log_release_ranges(log, r, n);
        assert_int_equal(sl_log_delete_records(log, 10000), SL_EOFFSET);
        assert_int_equal(sl_log_delete_records(log, 5), 0); /* below start: no-op */
        assert_int_equal(sl_log_start_offset(log), mid);
        sl_log_close(log);
        log = open_log(dir, &cfg);
        assert_int_equal(sl_log_start_offset(log), mid); /* persisted */
        /* Up to the end: every old segment goes, appends continue. */
        int64_t end = sl_log_end_offset(log);
        assert_int_equal(sl_log_delete_records(log, end), 0);
        assert_int_equal(bg_list_segments(dir, bases, 256), 1);
        assert_int_equal(bases[0], end);
        fill(log, 3, 2000);
        assert_int_equal(sl_log_end_offset(log), end + 6);
        sl_log_close(log);
        log = open_log(dir, &cfg);
        assert_int_equal(sl_log_start_offset(log), end);
        assert_int_equal(sl_log_end_offset(log), end + 6);
        sl_log_close(log);
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        bg_rmdir(dir);
        free(dir);
}

static void test_pinned_read_survives_retention(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log_config cfg = cfg_small();
        sl_log *log = open_log(dir, &cfg);
        fill(log, 30, 1000);
        sl_file_range r[4];
        int n;
        assert_int_equal(sl_log_read(log, 0, INT64_MAX, 3000, r, 4, &n), 0);
        assert_int_equal(n, 1);
        size_t len;
        uint8_t *before = bg_read_ranges(r, n, &len);
        cfg.retention_bytes = 0;
        assert_int_equal(sl_log_set_config(log, &cfg), 0);
        assert_true(sl_log_enforce_retention(log, 2000) > 0);
        char p[4096];
        bg_seg_path(p, sizeof(p), dir, 0, "log");
        struct stat st;
        assert_int_not_equal(stat(p, &st), 0);
        /* sendfile would still work: the fd and bytes are intact. */
        uint8_t *after = bg_read_ranges(r, n, &len);
        assert_non_null(after);
        assert_memory_equal(before, after, len);
        sl_log_release_ranges(log, r, n);
        assert_int_equal(fcntl(r[0].fd, F_GETFD), -1); /* closed on unpin */
        free(before);
        free(after);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_remove_dir(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir, NULL);
        fill(log, 5, 1);
        sl_log_close(log);
        assert_int_equal(sl_log_remove_dir(dir), 0);
        struct stat st;
        assert_int_not_equal(stat(dir, &st), 0);
        assert_int_equal(sl_log_remove_dir(dir), 0); /* already gone */
        free(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_retention_bytes),
            cmocka_unit_test(test_retention_ms),
            cmocka_unit_test(test_delete_records),
            cmocka_unit_test(test_pinned_read_survives_retention),
            cmocka_unit_test(test_remove_dir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
