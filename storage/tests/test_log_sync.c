/* storage/tests/test_log_sync.c — group commit and the fatal latch: one
 * fdatasync covers many appends, jobs run on a helper thread while the owner
 * appends, the flushed offset only advances after a successful sync, a
 * failed fdatasync or write latches the log until reopen, rolled segments stay
 * valid while a job holds them, and the flush.messages / flush.ms policy. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "batchgen.h"
#include "crashfs.h"
#include "faultops.h"
#include "kafka_errors.h"
#include "log.h"

static sl_log *open_log(const char *dir, const sl_log_config *cfg)
{
        sl_log *log = NULL;
        sl_log_error err;
        if (sl_log_open(dir, cfg, 1000, &log, &err) != 0)
                fail_msg("open: %s", err.message);
        return log;
}

static int append_n(sl_log *log, int n, int64_t now)
{
        uint8_t buf[4096];
        int rc = 0;
        for (int i = 0; i < n && rc == 0; i++) {
                size_t len = bg_batch(buf, sizeof(buf), 2, 100, now, (uint32_t)i);
                sl_append_result res;
                rc = sl_log_append(log, buf, len, 1, now, &res);
        }
        return rc;
}

static void test_group_commit_one_sync(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir, NULL);
        /* The first batch of epoch 1 rewrites the epoch checkpoint, whose
         * fdatasync rides on the next sync job: take that one first. */
        assert_int_equal(append_n(log, 1, 5), 0);
        assert_int_equal(sl_log_sync(log), 0);
        faultops_install();
        assert_int_equal(append_n(log, 99, 5), 0);
        assert_int_equal(sl_log_flushed_offset(log), 2);
        assert_int_equal(atomic_load(&fo.calls[FO_FDATASYNC]), 0); /* no sync per append */
        assert_int_equal(atomic_load(&fo.calls[FO_PWRITEV]), 99);  /* one write per append */
        assert_int_equal(sl_log_sync(log), 0);
        assert_int_equal(atomic_load(&fo.calls[FO_FDATASYNC]), 1); /* one for all 100 */
        assert_int_equal(sl_log_flushed_offset(log), 200);
        /* Nothing new: no syscall. */
        assert_int_equal(sl_log_sync(log), 0);
        assert_int_equal(atomic_load(&fo.calls[FO_FDATASYNC]), 1);
        /* append_v writes a group with one pwritev. */
        uint8_t b[3][4096];
        sl_append_buf bufs[3];
        sl_append_result res[3];
        for (int i = 0; i < 3; i++) {
                bufs[i].p = b[i];
                bufs[i].len = bg_batch(b[i], sizeof(b[i]), 3, 50, 5, (uint32_t)i);
                bufs[i].crc_checked = false;
        }
        int writes = atomic_load(&fo.calls[FO_PWRITEV]);
        assert_int_equal(sl_log_append_v(log, bufs, 3, 1, 5, res), 0);
        assert_int_equal(atomic_load(&fo.calls[FO_PWRITEV]), writes + 1);
        faultops_uninstall();
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

typedef struct job_arg {
        sl_sync_job *job;
        int rc;
} job_arg;

static void *run_job(void *p)
{
        job_arg *a = p;
        a->rc = sl_sync_job_run(a->job);
        return NULL;
}

static void test_sync_on_helper_thread(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 16384; /* rolls happen while jobs are in flight */
        sl_log *log = open_log(dir, &cfg);
        for (int round = 0; round < 30; round++) {
                assert_int_equal(append_n(log, 10, 5), 0);
                sl_sync_job job;
                assert_int_equal(sl_log_sync_prepare(log, &job), 1);
                int64_t covered = job.offset;
                assert_int_equal(covered, sl_log_end_offset(log));
                job_arg a = {.job = &job};
                pthread_t t;
                pthread_create(&t, NULL, run_job, &a);
                /* The owner keeps appending (and rolling) during the sync. */
                assert_int_equal(append_n(log, 10, 5), 0);
                pthread_join(t, NULL);
                assert_int_equal(a.rc, 0);
                assert_int_equal(sl_log_sync_complete(log, &job, a.rc), 0);
                /* Only what the job covered is flushed, not the later appends. */
                assert_int_equal(sl_log_flushed_offset(log), covered);
                assert_true(sl_log_end_offset(log) > covered);
        }
        assert_int_equal(sl_log_sync(log), 0);
        assert_int_equal(sl_log_flushed_offset(log), sl_log_end_offset(log));
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_pinned_segment_survives_delete(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 4096;
        sl_log *log = open_log(dir, &cfg);
        assert_int_equal(append_n(log, 5, 5), 0);
        sl_sync_job job;
        assert_int_equal(sl_log_sync_prepare(log, &job), 1);
        int fd0 = job.fds[0];
        /* Roll past the first segment and delete it while the job holds it. */
        assert_int_equal(append_n(log, 40, 5), 0);
        assert_int_equal(sl_log_delete_records(log, sl_log_end_offset(log) - 2), 0);
        char p[4096];
        bg_seg_path(p, sizeof(p), dir, 0, "log");
        struct stat st;
        assert_int_not_equal(stat(p, &st), 0); /* unlinked */
        assert_int_equal(fstat(fd0, &st), 0);  /* but its fd is still open */
        assert_int_equal(sl_sync_job_run(&job), 0);
        assert_int_equal(sl_log_sync_complete(log, &job, 0), 0);
        assert_int_not_equal(fstat(fd0, &st), 0); /* closed on the last unpin */
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_truncate_during_sync(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir, NULL);
        assert_int_equal(append_n(log, 10, 5), 0);
        assert_int_equal(sl_log_sync(log), 0);
        assert_int_equal(append_n(log, 10, 5), 0); /* offsets 20..39 */
        sl_sync_job job;
        assert_int_equal(sl_log_sync_prepare(log, &job), 1);
        assert_int_equal(job.offset, 40);
        /* A follower truncates and appends other bytes at the same offsets
         * before the job completes: the job must not vouch for them. */
        assert_int_equal(sl_log_truncate(log, 20), 0);
        assert_int_equal(append_n(log, 10, 5), 0);
        assert_int_equal(sl_log_sync_complete(log, &job, sl_sync_job_run(&job)), 0);
        assert_int_equal(sl_log_flushed_offset(log), 20);
        /* The next sync really syncs the new bytes (not taken as synced). */
        faultops_install();
        assert_int_equal(sl_log_sync(log), 0);
        assert_true(atomic_load(&fo.calls[FO_FDATASYNC]) >= 1);
        faultops_uninstall();
        assert_int_equal(sl_log_flushed_offset(log), 40);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_fsync_failure_latches(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir, NULL);
        faultops_install();
        assert_int_equal(append_n(log, 10, 5), 0);
        faultops_arm(FO_FDATASYNC, 0, EIO);
        assert_int_equal(sl_log_sync(log), SL_EFATAL);
        assert_true(sl_log_failed(log));
        assert_int_equal(sl_log_flushed_offset(log), 0); /* never acked */
        faultops_arm(-1, 0, 0);
        /* No retry that would report success: appends and syncs keep failing. */
        uint8_t buf[4096];
        size_t len = bg_batch(buf, sizeof(buf), 1, 10, 1, 1);
        sl_append_result res;
        assert_int_equal(sl_log_append(log, buf, len, 1, 5, &res), SL_EFATAL);
        assert_int_equal(res.error_code, KP_ERR_KAFKA_STORAGE_ERROR);
        assert_int_equal(sl_log_sync(log), SL_EFATAL);
        sl_file_range r[4];
        int n;
        assert_int_equal(sl_log_read(log, 0, INT64_MAX, 1000, r, 4, &n), SL_EFATAL);
        faultops_uninstall();
        sl_log_close(log);
        /* Reopen recovers: the page cache still had the bytes. */
        log = open_log(dir, NULL);
        assert_false(sl_log_failed(log));
        assert_int_equal(sl_log_end_offset(log), 20);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_write_failure_latches(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir, NULL);
        faultops_install();
        assert_int_equal(append_n(log, 3, 5), 0);
        faultops_arm(FO_PWRITEV, 0, ENOSPC);
        uint8_t buf[4096];
        size_t len = bg_batch(buf, sizeof(buf), 1, 10, 1, 1);
        sl_append_result res;
        assert_int_equal(sl_log_append(log, buf, len, 1, 5, &res), SL_EFATAL);
        assert_int_equal(res.error_code, KP_ERR_KAFKA_STORAGE_ERROR);
        assert_true(sl_log_failed(log));
        faultops_arm(-1, 0, 0);
        len = bg_batch(buf, sizeof(buf), 1, 10, 1, 1);
        assert_int_equal(sl_log_append(log, buf, len, 1, 5, &res), SL_EFATAL);
        faultops_uninstall();
        sl_log_close(log);
        log = open_log(dir, NULL);
        assert_int_equal(sl_log_end_offset(log), 6);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_sync_policy(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log_config cfg = sl_log_config_default();
        sl_log *log = open_log(dir, &cfg);
        assert_int_equal(append_n(log, 50, 5), 0);
        assert_false(sl_log_sync_due(log, 1LL << 40)); /* default: page cache only */
        cfg.flush_messages = 10;
        assert_int_equal(sl_log_set_config(log, &cfg), 0);
        assert_true(sl_log_sync_due(log, 5));
        assert_int_equal(sl_log_sync(log), 0);
        assert_false(sl_log_sync_due(log, 5));
        assert_int_equal(append_n(log, 4, 5), 0); /* 8 records */
        assert_false(sl_log_sync_due(log, 5));
        assert_int_equal(append_n(log, 1, 5), 0); /* 10 */
        assert_true(sl_log_sync_due(log, 5));
        assert_int_equal(sl_log_sync(log), 0);
        cfg.flush_messages = -1;
        cfg.flush_ms = 100;
        assert_int_equal(sl_log_set_config(log, &cfg), 0);
        assert_int_equal(append_n(log, 1, 1000), 0);
        assert_int_equal(append_n(log, 1, 1050), 0);
        assert_false(sl_log_sync_due(log, 1099));
        assert_true(sl_log_sync_due(log, 1100));
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

/* A sync that seals a rolled segment leaves the active one clean: the seal
 * must still reach the disk before sl_log_sync returns (a power cut right
 * after it then finds the segment whole). The child dies without closing. */
static void test_seal_after_roll_is_synced(void **state)
{
        (void)state;
        for (uint64_t seed = 1; seed <= 6; seed++) {
                char *dir = bg_tempdir();
                char path[4096];
                snprintf(path, sizeof(path), "%s/%020d.log", dir, 0);
                int fds[2];
                assert_int_equal(pipe(fds), 0);
                pid_t pid = fork();
                if (pid == 0) {
                        close(fds[0]);
                        crashfs_install();
                        sl_log_config cfg = sl_log_config_default();
                        cfg.segment_bytes = 4096;
                        sl_log *log;
                        if (sl_log_open(dir, &cfg, 1000, &log, NULL) != 0)
                                _exit(2);
                        int64_t bases[8];
                        while (bg_list_segments(dir, bases, 8) < 2)
                                if (append_n(log, 1, 5) != 0)
                                        _exit(3);
                        if (sl_log_sync(log) != 0)
                                _exit(4);
                        struct stat st;
                        if (stat(path, &st) != 0)
                                _exit(5);
                        int64_t size = st.st_size;
                        uint64_t rng = seed;
                        crashfs_crash(&rng);
                        if (write(fds[1], &size, sizeof(size)) != (ssize_t)sizeof(size))
                                _exit(6);
                        _exit(0);
                }
                close(fds[1]);
                int64_t before = -1;
                assert_int_equal(read(fds[0], &before, sizeof(before)), sizeof(before));
                close(fds[0]);
                int status;
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                struct stat st;
                assert_int_equal(stat(path, &st), 0);
                assert_int_equal(st.st_size, before); /* the seal survived the cut */
                bg_rmdir(dir);
                free(dir);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_group_commit_one_sync),
            cmocka_unit_test(test_sync_on_helper_thread),
            cmocka_unit_test(test_pinned_segment_survives_delete),
            cmocka_unit_test(test_truncate_during_sync),
            cmocka_unit_test(test_fsync_failure_latches),
            cmocka_unit_test(test_write_failure_latches),
            cmocka_unit_test(test_sync_policy),
            cmocka_unit_test(test_seal_after_roll_is_synced),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
