/* storage/tests/test_epoch_defer.c — a new leader epoch costs the owner thread
 * no disk wait: the checkpoint rewrite is temp file + rename only, and its
 * fdatasync and the directory fsync run inside the next sync job, before the
 * data's fdatasync (so acks=-1 data is never durable before its epoch entry).
 *
 * A recording file-ops layer notes which thread made every fdatasync/fsync and
 * on what file. Crash cases: the checkpoint that names a new epoch lost while
 * batches of that epoch reached the disk (stale, empty or missing checkpoint),
 * and random power cuts through the crash layer; each must reopen with the
 * epochs the batches carry (verify checks every batch against the cache). */
#include <fcntl.h>
#include <pthread.h>
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
#include "log_int.h"
#include "verify.h"

/* ---- recording layer ---- */

enum { REC_MAX = 256 };
typedef struct rec_call {
        bool owner;     /* made by the test's main (owner) thread */
        bool dir;       /* fsync of a directory */
        char file[128]; /* last path component of the fd's file */
} rec_call;

static rec_call calls[REC_MAX];
static int ncalls;
static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t owner_thread;
static sl_fileops rec_ops;

static void record(int fd, bool is_fsync)
{
        char link[64], target[512];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = 0;
        const char *base = strrchr(target, '/');
        pthread_mutex_lock(&rec_mu);
        if (ncalls < REC_MAX) {
                rec_call *c = &calls[ncalls++];
                c->owner = pthread_equal(pthread_self(), owner_thread);
                c->dir = is_fsync && strstr(target, ".log") == NULL &&
                         strstr(target, "checkpoint") == NULL;
                snprintf(c->file, sizeof(c->file), "%s", base ? base + 1 : target);
        }
        pthread_mutex_unlock(&rec_mu);
}

static int r_fdatasync(int fd)
{
        record(fd, false);
        return sl_fileops_posix.fdatasync(fd);
}

static int r_fsync(int fd)
{
        record(fd, true);
        return sl_fileops_posix.fsync(fd);
}

static void rec_install(void)
{
        ncalls = 0;
        owner_thread = pthread_self();
        rec_ops = sl_fileops_posix;
        rec_ops.fdatasync = r_fdatasync;
        rec_ops.fsync = r_fsync;
        sl_fileops_set(&rec_ops);
}

static int owner_calls(void)
{
        int n = 0;
        for (int i = 0; i < ncalls; i++)
                n += calls[i].owner;
        return n;
}

/* ---- helpers ---- */

static sl_log_config small_cfg(void)
{
        sl_log_config c = sl_log_config_default();
        c.segment_bytes = 16384;
        c.index_interval_bytes = 256;
        return c;
}

static sl_log *open_log_cfg(const char *dir, sl_log_config cfg)
{
        sl_log *log = NULL;
        sl_log_error err;
        if (sl_log_open(dir, &cfg, 1000, &log, &err) != 0)
                fail_msg("open %s: %s", dir, err.message);
        return log;
}

static sl_log *open_log(const char *dir)
{
        return open_log_cfg(dir, small_cfg());
}

/* Appends n batches of 3 records stamped with epoch. */
static void append_epoch(sl_log *log, int n, int32_t epoch, uint32_t salt)
{
        uint8_t buf[4096];
        for (int i = 0; i < n; i++) {
                size_t len = bg_batch(buf, sizeof(buf), 3, 300, 1000, salt + (uint32_t)i);
                sl_append_result res;
                assert_int_equal(sl_log_append(log, buf, len, epoch, 1000, &res), 0);
        }
}

static void *run_job(void *arg)
{
        sl_sync_job *job = arg;
        return (void *)(intptr_t)sl_sync_job_run(job);
}

/* One sync job the way a shard runs it: prepare and complete on the owner,
 * the syscalls on a helper thread. */
static void sync_on_helper(sl_log *log)
{
        sl_sync_job job;
        assert_int_equal(sl_log_sync_prepare(log, &job), 1);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, run_job, &job), 0);
        void *rc;
        pthread_join(t, &rc);
        assert_int_equal((int)(intptr_t)rc, 0);
        assert_int_equal(sl_log_sync_complete(log, &job, 0), 0);
}

static void read_checkpoint(const char *dir, sl_epoch_entry **e, int *n)
{
        char path[600];
        snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", dir);
        assert_int_equal(sl_epoch_parse_file(path, e, n), 0);
}

static void copy_file(const char *from, const char *to)
{
        FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
        assert_non_null(in);
        assert_non_null(out);
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
                assert_int_equal(fwrite(buf, 1, n, out), n);
        fclose(in);
        fclose(out);
}

/* What a power cut can leave when the kernel wrote back every data page but
 * not the checkpoint rewrite: the files of src as they are now, copied to a
 * fresh directory, with the checkpoint replaced by old_ckpt (NULL: removed). */
static char *crash_copy(const char *src, const char *old_ckpt, size_t old_len)
{
        char *dst = bg_tempdir();
        int64_t bases[64];
        int nb = bg_list_segments(src, bases, 64);
        const char *exts[] = {"log", "index", "timeindex"};
        for (int i = 0; i < nb; i++)
                for (int k = 0; k < 3; k++) {
                        char a[600], b[600];
                        bg_seg_path(a, sizeof(a), src, bases[i], exts[k]);
                        bg_seg_path(b, sizeof(b), dst, bases[i], exts[k]);
                        if (access(a, F_OK) == 0)
                                copy_file(a, b);
                }
        if (old_ckpt) {
                char p[600];
                snprintf(p, sizeof(p), "%s/leader-epoch-checkpoint", dst);
                FILE *f = fopen(p, "wb");
                assert_non_null(f);
                assert_int_equal(fwrite(old_ckpt, 1, old_len, f), old_len);
                fclose(f);
        }
        return dst;
}

static void assert_epochs(sl_log *log, const sl_epoch_entry *want, int n)
{
        assert_int_equal(log->nepochs, n);
        for (int i = 0; i < n; i++) {
                assert_int_equal(log->epochs[i].epoch, want[i].epoch);
                assert_int_equal(log->epochs[i].start_offset, want[i].start_offset);
        }
}

static void verify_ok(const char *dir)
{
        sl_verify_report rep;
        if (sl_verify_dir(dir, &rep) != 0)
                fail_msg("verify %s: %s", dir, rep.message);
}

/* ---- tests ---- */

static void test_owner_never_syncs_on_epoch_change(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        rec_install();
        append_epoch(log, 4, 1, 0);
        append_epoch(log, 4, 2, 100);
        append_epoch(log, 4, 5, 200);
        /* Three epoch changes, three checkpoint rewrites: no sync at all. */
        assert_int_equal(ncalls, 0);
        sl_epoch_entry *e;
        int n;
        read_checkpoint(dir, &e, &n);
        assert_int_equal(n, 3);
        assert_int_equal(e[2].epoch, 5);
        assert_int_equal(e[2].start_offset, 24);
        free(e);
        assert_int_equal(sl_log_flushed_offset(log), 0);
        /* The job carries the checkpoint: fdatasync first, then the directory
         * (its rename), then the data; all on the helper thread. */
        sync_on_helper(log);
        assert_int_equal(owner_calls(), 0);
        assert_true(ncalls >= 3);
        assert_string_equal(calls[0].file, "leader-epoch-checkpoint");
        assert_false(calls[0].dir);
        assert_true(calls[1].dir);
        for (int i = 2; i < ncalls; i++)
                assert_non_null(strstr(calls[i].file, ".log"));
        assert_int_equal(sl_log_flushed_offset(log), 36);
        /* Same epoch, more data: the next job syncs only the data. */
        ncalls = 0;
        append_epoch(log, 2, 5, 300);
        assert_int_equal(ncalls, 0);
        sync_on_helper(log);
        assert_int_equal(owner_calls(), 0);
        for (int i = 0; i < ncalls; i++)
                assert_null(strstr(calls[i].file, "checkpoint"));
        /* A change with no data after it still gets synced by a job. */
        ncalls = 0;
        append_epoch(log, 1, 6, 400);
        sync_on_helper(log);
        assert_string_equal(calls[0].file, "leader-epoch-checkpoint");
        sl_fileops_set(NULL);
        sl_log_close(log);
        verify_ok(dir);
        bg_rmdir(dir);
        free(dir);
}

/* Epoch 1 durable, then epoch 2 written across several segment rolls and
 * index entries with no sync: the crash keeps the data, not the checkpoint. */
static void lost_checkpoint_case(int variant)
{
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir);
        append_epoch(log, 20, 1, 0);
        assert_int_equal(sl_log_sync(log), 0);
        char old[256];
        char p[600];
        snprintf(p, sizeof(p), "%s/leader-epoch-checkpoint", dir);
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        size_t old_len = fread(old, 1, sizeof(old), f);
        fclose(f);
        /* Variant 3: a job prepared before the change completes after it:
         * it covers epoch 1 only and must not carry the new checkpoint. */
        sl_sync_job job;
        if (variant == 3) {
                append_epoch(log, 3, 1, 500);
                assert_int_equal(sl_log_sync_prepare(log, &job), 1);
                assert_true(job.segs[0] != NULL);
        }
        int64_t start2 = sl_log_end_offset(log);
        append_epoch(log, 60, 2, 1000);
        if (variant == 3) {
                assert_int_equal(sl_log_sync_complete(log, &job, sl_sync_job_run(&job)), 0);
                assert_int_equal(sl_log_flushed_offset(log), start2);
                assert_true(log->epoch_synced_gen != log->epoch_gen);
        }
        int64_t start3 = sl_log_end_offset(log);
        append_epoch(log, 30, 3, 2000);
        int64_t end = sl_log_end_offset(log);
        assert_true(bg_list_segments(dir, (int64_t[64]){0}, 64) > 3);
        char *copy = variant == 0 || variant == 3 ? crash_copy(dir, old, old_len)
                     : variant == 1               ? crash_copy(dir, "", 0)
                                                  : crash_copy(dir, NULL, 0);
        sl_log_close(log);

        log = open_log(copy);
        assert_int_equal(sl_log_end_offset(log), end);
        sl_epoch_entry want[] = {{1, 0}, {2, start2}, {3, start3}};
        assert_epochs(log, want, 3);
        /* The rebuilt checkpoint is made durable by open's own sync. */
        assert_int_equal(log->epoch_synced_gen, log->epoch_gen);
        sl_log_close(log);
        verify_ok(copy);
        bg_rmdir(copy);
        free(copy);
        bg_rmdir(dir);
        free(dir);
}

static void test_crash_stale_checkpoint(void **state)
{
        (void)state;
        lost_checkpoint_case(0);
}

static void test_crash_stale_checkpoint_job_in_flight(void **state)
{
        (void)state;
        lost_checkpoint_case(3);
}

static void test_crash_empty_checkpoint(void **state)
{
        (void)state;
        lost_checkpoint_case(1);
}

static void test_crash_missing_checkpoint(void **state)
{
        (void)state;
        lost_checkpoint_case(2);
}

/* Random power cuts (crash layer): epochs change every few batches, syncs come
 * at random points; after the cut, every synced batch is there and every
 * batch's epoch matches the reopened cache (verify), and the cache's last
 * epoch is the last batch's. One segment: two rolls between syncs followed by
 * a cut can garble a middle segment's header, which open refuses whatever the
 * epochs (a recovery limit outside this test; the cases above roll). */
static void test_crash_random(void **state)
{
        (void)state;
        for (uint64_t seed = 1; seed <= 40; seed++) {
                uint64_t rng = seed * 7919u;
                char *dir = bg_tempdir();
                crashfs_install();
                sl_log_config big = small_cfg();
                big.segment_bytes = 1 << 20;
                sl_log *log = open_log_cfg(dir, big);
                int32_t epoch = 0;
                int64_t flushed = 0;
                int steps = 10 + (int)(bg_rand(&rng) % 40);
                for (int s = 0; s < steps; s++) {
                        if (bg_rand(&rng) % 4 == 0)
                                epoch += 1 + (int32_t)(bg_rand(&rng) % 3);
                        append_epoch(log, 1 + (int)(bg_rand(&rng) % 4), epoch,
                                     (uint32_t)(seed * 100000 + (uint64_t)s * 10));
                        if (bg_rand(&rng) % 5 == 0) {
                                assert_int_equal(sl_log_sync(log), 0);
                                flushed = sl_log_flushed_offset(log);
                        }
                }
                crashfs_crash(&rng);
                log->fatal = true; /* the process died: no sync, no index flush */
                sl_log_close(log);
                crashfs_uninstall();

                log = open_log_cfg(dir, big);
                if (sl_log_end_offset(log) < flushed)
                        fail_msg("seed %llu: lost synced data", (unsigned long long)seed);
                if (sl_log_end_offset(log) > 0) {
                        sl_file_range r[256];
                        int n;
                        int64_t last = sl_log_end_offset(log) - 1;
                        assert_int_equal(sl_log_read(log, last, INT64_MAX, 1 << 20, r, 256, &n), 0);
                        assert_true(n > 0);
                        uint8_t hdr[61];
                        assert_int_equal(pread(r[0].fd, hdr, sizeof(hdr), r[0].pos),
                                         (ssize_t)sizeof(hdr));
                        sl_log_release_ranges(log, r, n);
                        assert_int_equal(sl_log_latest_epoch(log), (int32_t)sl_be32(hdr + 12));
                }
                sl_log_close(log);
                sl_verify_report rep;
                if (sl_verify_dir(dir, &rep) != 0)
                        fail_msg("seed %llu: verify: %s", (unsigned long long)seed, rep.message);
                bg_rmdir(dir);
                free(dir);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_owner_never_syncs_on_epoch_change),
            cmocka_unit_test(test_crash_stale_checkpoint),
            cmocka_unit_test(test_crash_stale_checkpoint_job_in_flight),
            cmocka_unit_test(test_crash_empty_checkpoint),
            cmocka_unit_test(test_crash_missing_checkpoint),
            cmocka_unit_test(test_crash_random),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
