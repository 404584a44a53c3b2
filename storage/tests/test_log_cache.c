/* storage/tests/test_log_cache.c — write-behind and drop-behind (log_cache.c):
 * the ranges sync jobs start writing back and drop from the page cache.
 *
 * A recording file-ops layer tracks which 4 KiB pages of each file are dirty
 * (written since the last fdatasync or waited writeback) and counts every
 * drop that touches a dirty page: that count must stay 0, so nothing unsynced
 * is ever dropped. Also checked: the retained tail is never dropped, whole
 * older segments are, jobs keep up with appends, a cache-only job never
 * advances the flushed offset, a failed writeback latches the log and drops
 * nothing, retain 0 drops nothing, truncation restarts the positions, and
 * (on a disk file system) the dropped pages really leave the page cache. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "batchgen.h"
#include "fileops_int.h"
#include "log_int.h"

#define PG       4096
#define MAXFD    1024
#define MAXPAGES (256 * 1024) /* 1 GiB per file */
#define MIB      (1LL << 20)

/* ---- recording layer ---- */
static struct {
        uint8_t *dirty[MAXFD]; /* page flags per fd, allocated on first write */
        int violations;        /* drops that touched a dirty page */
        int wb_calls, wait_calls, drop_calls;
        int64_t dropped_end[MAXFD]; /* highest byte a drop reached per fd */
        int fail_wait;              /* errno for waited sync_range, 0 = none */
} rec;
static sl_fileops rec_ops;

static void mark(int fd, int64_t off, int64_t len, uint8_t v)
{
        if (fd < 0 || fd >= MAXFD || len <= 0)
                return;
        if (!rec.dirty[fd]) {
                rec.dirty[fd] = calloc(MAXPAGES, 1);
                assert_non_null(rec.dirty[fd]);
        }
        for (int64_t p = off / PG; p <= (off + len - 1) / PG && p < MAXPAGES; p++)
                rec.dirty[fd][p] = v;
}

static ssize_t r_pwritev(int fd, const struct iovec *iov, int n, int64_t off)
{
        ssize_t w = sl_fileops_posix.pwritev(fd, iov, n, off);
        if (w > 0)
                mark(fd, off, w, 1);
        return w;
}

static int r_fdatasync(int fd)
{
        int rc = sl_fileops_posix.fdatasync(fd);
        if (rc == 0 && fd >= 0 && fd < MAXFD && rec.dirty[fd])
                memset(rec.dirty[fd], 0, MAXPAGES);
        return rc;
}

static int r_close(int fd)
{
        if (fd >= 0 && fd < MAXFD) {
                free(rec.dirty[fd]);
                rec.dirty[fd] = NULL;
                rec.dropped_end[fd] = 0;
        }
        return sl_fileops_posix.close(fd);
}

static int r_sync_range(int fd, int64_t off, int64_t len, bool wait)
{
        if (!wait) {
                rec.wb_calls++;
                return sl_fileops_posix.sync_range(fd, off, len, false);
        }
        rec.wait_calls++;
        if (rec.fail_wait)
                return -rec.fail_wait;
        int rc = sl_fileops_posix.sync_range(fd, off, len, true);
        if (rc == 0)
                mark(fd, off, len, 0);
        return rc;
}

static int r_drop(int fd, int64_t off, int64_t len)
{
        rec.drop_calls++;
        if (fd >= 0 && fd < MAXFD && rec.dirty[fd]) {
                for (int64_t p = off / PG; p <= (off + len - 1) / PG && p < MAXPAGES; p++)
                        if (rec.dirty[fd][p])
                                rec.violations++;
        }
        if (fd >= 0 && fd < MAXFD && off + len > rec.dropped_end[fd])
                rec.dropped_end[fd] = off + len;
        return sl_fileops_posix.drop_cache(fd, off, len);
}

static void rec_install(void)
{
        memset(&rec, 0, sizeof(rec));
        rec_ops = sl_fileops_posix;
        rec_ops.pwritev = r_pwritev;
        rec_ops.fdatasync = r_fdatasync;
        rec_ops.close = r_close;
        rec_ops.sync_range = r_sync_range;
        rec_ops.drop_cache = r_drop;
        sl_fileops_set(&rec_ops);
}

static void rec_uninstall(void)
{
        sl_fileops_set(NULL);
        for (int i = 0; i < MAXFD; i++)
                free(rec.dirty[i]);
        memset(&rec, 0, sizeof(rec));
}

/* ---- helpers ---- */
static sl_log *open_log(const char *dir, const sl_log_config *cfg)
{
        sl_log *log = NULL;
        sl_log_error err;
        if (sl_log_open(dir, cfg, 1000, &log, &err) != 0)
                fail_msg("open: %s", err.message);
        return log;
}

static uint8_t *batch_buf;

/* Appends one ~64 KiB batch. */
static void append_big(sl_log *log, uint32_t seed)
{
        size_t len = bg_batch(batch_buf, 128 * 1024, 63, 1000, 5, seed);
        assert_true(len > 60000);
        sl_append_result res;
        assert_int_equal(sl_log_append(log, batch_buf, len, 1, 5, &res), 0);
}

/* Appends total bytes; whenever cache work is due, prepares a job, appends
 * one more batch (the owner keeps going while the helper runs), runs and
 * completes it. Returns the number of cache jobs. */
static int feed(sl_log *log, int64_t total, uint32_t *seed)
{
        int jobs = 0;
        sl_log_stats st;
        sl_log_get_stats(log, &st);
        int64_t target = st.size_bytes + total;
        while (st.size_bytes < target) {
                append_big(log, (*seed)++);
                if (sl_log_cache_due(log)) {
                        sl_sync_job job;
                        int rc = sl_log_cache_prepare(log, &job);
                        assert_true(rc >= 0);
                        if (rc == 1) {
                                assert_false(job.durable);
                                append_big(log, (*seed)++);
                                int64_t flushed = sl_log_flushed_offset(log);
                                assert_int_equal(
                                    sl_log_sync_complete(log, &job, sl_sync_job_run(&job)), 0);
                                /* Page-cache work proves nothing durable. */
                                assert_int_equal(sl_log_flushed_offset(log), flushed);
                                jobs++;
                        }
                }
                sl_log_get_stats(log, &st);
        }
        return jobs;
}

/* Tail invariants: no segment dropped into the last `retain` bytes; data
 * older than retain + slack all dropped. */
static void check_tail(const sl_log *log, int64_t retain, int64_t slack)
{
        int64_t total = 0, prefix = 0, max_dropped = 0;
        for (int i = 0; i < log->nsegs; i++)
                total += log->segs[i]->size;
        for (int i = 0; i < log->nsegs; i++) {
                const sl_segment *s = log->segs[i];
                int64_t g = prefix + s->dropped_size;
                assert_true(total - g >= retain);
                if (s->dropped_size > 0 && g > max_dropped)
                        max_dropped = g;
                /* A segment ending before the tail window minus slack is
                 * dropped whole. */
                if (prefix + s->size < total - retain - slack)
                        assert_true(s->dropped_size >= s->data_end);
                prefix += s->size;
        }
        assert_true(max_dropped >= total - retain - slack);
}

static void setup_buf(void)
{
        batch_buf = malloc(128 * 1024);
        assert_non_null(batch_buf);
}

/* ---- tests ---- */
static void test_drop_behind_keeps_tail(void **state)
{
        (void)state;
        setup_buf();
        char *dir = bg_tempdir();
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 6 * MIB;
        cfg.writeback_bytes = 1 * MIB;
        cfg.cache_retain_bytes = 4 * MIB;
        sl_log *log = open_log(dir, &cfg);
        rec_install();
        uint32_t seed = 1;
        int jobs = feed(log, 40 * MIB, &seed);
        assert_true(jobs >= 30); /* about one per MiB appended */
        assert_int_equal(rec.violations, 0);
        assert_true(rec.wb_calls > 0 && rec.drop_calls > 0);
        sl_log_stats st;
        sl_log_get_stats(log, &st);
        assert_true(st.segments >= 6); /* rolled: whole segments dropped too */
        assert_true(st.dropped_bytes >= 40 * MIB - 4 * MIB - 3 * MIB);
        assert_true(st.writeback_bytes >= 40 * MIB - 3 * MIB);
        /* Slack: one trigger step, the job in flight, a page. */
        check_tail(log, 4 * MIB, 3 * MIB);
        /* The active segment's write-behind never ends inside a page that
         * appends still fill. */
        const sl_segment *act = log->segs[log->nsegs - 1];
        assert_int_equal(act->wb_size % PG, 0);
        rec_uninstall();
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
        free(batch_buf);
}

static void test_durable_job_carries_cache_work(void **state)
{
        (void)state;
        setup_buf();
        char *dir = bg_tempdir();
        sl_log_config cfg = sl_log_config_default();
        cfg.writeback_bytes = 1 * MIB;
        cfg.cache_retain_bytes = 2 * MIB;
        sl_log *log = open_log(dir, &cfg);
        rec_install();
        /* acks=-1 style: a group commit after every few appends. */
        for (uint32_t i = 0; i < 200; i++) {
                append_big(log, i);
                if (i % 4 == 3) {
                        assert_int_equal(sl_log_sync(log), 0);
                        assert_int_equal(sl_log_flushed_offset(log), sl_log_end_offset(log));
                }
        }
        assert_int_equal(rec.violations, 0);
        sl_log_stats st;
        sl_log_get_stats(log, &st);
        assert_true(st.dropped_bytes > 5 * MIB);
        check_tail(log, 2 * MIB, 3 * MIB);
        rec_uninstall();
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
        free(batch_buf);
}

static void test_retain_zero_drops_nothing(void **state)
{
        (void)state;
        setup_buf();
        char *dir = bg_tempdir();
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 4 * MIB;
        cfg.writeback_bytes = 1 * MIB;
        cfg.cache_retain_bytes = 0;
        sl_log *log = open_log(dir, &cfg);
        rec_install();
        uint32_t seed = 1;
        assert_true(feed(log, 12 * MIB, &seed) > 5);
        assert_true(rec.wb_calls > 0); /* write-behind still runs */
        assert_int_equal(rec.drop_calls, 0);
        assert_int_equal(rec.wait_calls, 0);
        /* Both off: never due, no job. */
        cfg.writeback_bytes = 0;
        assert_int_equal(sl_log_set_config(log, &cfg), 0);
        int wb = rec.wb_calls;
        assert_int_equal(feed(log, 4 * MIB, &seed), 0);
        assert_false(sl_log_cache_due(log));
        assert_int_equal(rec.wb_calls, wb);
        rec_uninstall();
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
        free(batch_buf);
}

static void test_failed_writeback_latches(void **state)
{
        (void)state;
        setup_buf();
        char *dir = bg_tempdir();
        sl_log_config cfg = sl_log_config_default();
        cfg.writeback_bytes = 1 * MIB;
        cfg.cache_retain_bytes = 1 * MIB;
        sl_log *log = open_log(dir, &cfg);
        rec_install();
        uint32_t seed = 1;
        for (int i = 0; i < 40; i++)
                append_big(log, seed++);
        rec.fail_wait = EIO;
        sl_sync_job job;
        assert_int_equal(sl_log_cache_prepare(log, &job), 1);
        assert_true(job.ndrop > 0);
        int rc = sl_sync_job_run(&job);
        assert_int_equal(rc, -EIO);
        assert_int_equal(rec.drop_calls, 0); /* never dropped what did not write back */
        assert_int_equal(sl_log_sync_complete(log, &job, rc), SL_EFATAL);
        assert_true(sl_log_failed(log));
        sl_log_stats st;
        sl_log_get_stats(log, &st);
        assert_int_equal(st.dropped_bytes, 0);
        assert_false(sl_log_cache_due(log));
        assert_int_equal(sl_log_cache_prepare(log, &job), SL_EFATAL);
        size_t len = bg_batch(batch_buf, 128 * 1024, 1, 10, 5, 1);
        sl_append_result res;
        assert_int_equal(sl_log_append(log, batch_buf, len, 1, 5, &res), SL_EFATAL);
        rec_uninstall();
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
        free(batch_buf);
}

static void test_truncate_restarts_positions(void **state)
{
        (void)state;
        setup_buf();
        char *dir = bg_tempdir();
        sl_log_config cfg = sl_log_config_default();
        cfg.writeback_bytes = 1 * MIB;
        cfg.cache_retain_bytes = 2 * MIB;
        sl_log *log = open_log(dir, &cfg);
        rec_install();
        uint32_t seed = 1;
        feed(log, 10 * MIB, &seed);
        assert_true(log->segs[0]->dropped_size > 4 * MIB);
        /* A job prepared before a truncation proves nothing about the bytes
         * appended after it at the same positions. */
        append_big(log, seed++);
        sl_sync_job job;
        for (int i = 0; i < 20 && !sl_log_cache_due(log); i++)
                append_big(log, seed++);
        assert_int_equal(sl_log_cache_prepare(log, &job), 1);
        assert_int_equal(sl_log_truncate(log, 63 * 10), 0); /* ~640 KiB in */
        append_big(log, seed++);
        int64_t dropped_before = log->segs[0]->dropped_size;
        assert_int_equal(sl_log_sync_complete(log, &job, sl_sync_job_run(&job)), 0);
        assert_true(log->segs[0]->dropped_size <= dropped_before);
        feed(log, 8 * MIB, &seed);
        assert_int_equal(rec.violations, 0);
        check_tail(log, 2 * MIB, 3 * MIB);
        rec_uninstall();
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
        free(batch_buf);
}

/* On a disk file system the dropped pages leave the page cache and the tail
 * stays: mincore over a mapping of the segment. */
static void test_pages_really_dropped(void **state)
{
        (void)state;
        setup_buf();
        char *dir = bg_tempdir();
        struct statfs sf;
        assert_int_equal(statfs(dir, &sf), 0);
        if (sf.f_type == 0x01021994 /* tmpfs */) {
                bg_rmdir(dir);
                free(dir);
                free(batch_buf);
                skip();
        }
        sl_log_config cfg = sl_log_config_default();
        cfg.writeback_bytes = 1 * MIB;
        cfg.cache_retain_bytes = 4 * MIB;
        sl_log *log = open_log(dir, &cfg);
        uint32_t seed = 1;
        feed(log, 24 * MIB, &seed);
        const sl_segment *s = log->segs[0];
        assert_int_equal(log->nsegs, 1);
        int64_t size = s->size, dropped = s->dropped_size;
        assert_true(dropped >= 24 * MIB - 4 * MIB - 3 * MIB);
        void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, s->fd, 0);
        assert_true(m != MAP_FAILED);
        size_t npages = (size_t)(size + PG - 1) / PG;
        unsigned char *vec = malloc(npages);
        assert_non_null(vec);
        assert_int_equal(mincore(m, (size_t)size, vec), 0);
        size_t in_dropped = 0, res_dropped = 0, in_tail = 0, res_tail = 0;
        for (size_t p = 0; p < npages; p++) {
                int64_t pos = (int64_t)p * PG;
                if (pos + PG <= dropped) {
                        in_dropped++;
                        res_dropped += vec[p] & 1;
                } else if (pos >= size - 4 * MIB) {
                        in_tail++;
                        res_tail += vec[p] & 1;
                }
        }
        print_message("dropped range: %zu of %zu pages resident; tail: %zu of %zu\n", res_dropped,
                      in_dropped, res_tail, in_tail);
        assert_true(res_dropped * 10 <= in_dropped); /* at most 10% left */
        assert_true(res_tail * 10 >= in_tail * 9);   /* at least 90% kept */
        munmap(m, (size_t)size);
        free(vec);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
        free(batch_buf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_drop_behind_keeps_tail),
            cmocka_unit_test(test_durable_job_carries_cache_work),
            cmocka_unit_test(test_retain_zero_drops_nothing),
            cmocka_unit_test(test_failed_writeback_latches),
            cmocka_unit_test(test_truncate_restarts_positions),
            cmocka_unit_test(test_pages_really_dropped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
