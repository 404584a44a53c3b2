/* broker/tests/test_commit_overlap.c — the rule for two group commit batches
 * in flight (partition_ops.h): a batch may start while the previous one is
 * still in fdatasync, batches complete in the order they started whatever
 * order their helpers finish in, and the flushed offset (what acks=-1 answers
 * wait for) never passes what a finished, in-order fdatasync covered. An
 * earlier job's failure latches the log before a later job's success could
 * be believed. A batch with page-cache work completes in two steps: its
 * fdatasyncs answer before that work is done, and a later batch completes
 * only after it. Drives the slot bookkeeping of partition_sync.c against
 * real storage logs: deterministic cases, then random interleavings of
 * appends, prepares, steps and out-of-order finishes under the crash layer,
 * each ended by a simulated power cut and a reopen that must keep every
 * flushed offset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "batchgen.h"
#include "crashfs.h"
#include "partition_ops.h"

#define SEEDS 60

static sl_log *open_log(const char *dir, bool cache_work)
{
        sl_log *log = NULL;
        sl_log_error err;
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 8192; /* rolls while jobs are in flight */
        if (cache_work) {         /* write-behind and drop-behind every few appends */
                cfg.writeback_bytes = 4096;
                cfg.cache_retain_bytes = 8192;
        }
        if (sl_log_open(dir, &cfg, 1000, &log, &err) != 0)
                return NULL;
        return log;
}

static int append_n(sl_log *log, int n, uint32_t seq)
{
        uint8_t buf[4096];
        for (int i = 0; i < n; i++) {
                size_t len = bg_batch(buf, sizeof(buf), 2, 100, 5, seq + (uint32_t)i);
                sl_append_result res;
                int rc = sl_log_append(log, buf, len, 1, 5, &res);
                if (rc)
                        return rc;
        }
        return 0;
}

/* What partition.c does to start a one-log batch in a free slot. */
static sl_commit_slot *start(sl_commit *c, sl_commit_entry *mem, sl_log *log)
{
        sl_commit_slot *sl = sl_commit_free_slot(c);
        if (!sl)
                return NULL;
        sl->c = c;
        sl->e = mem;
        sl->cap = 1;
        if (sl_log_sync_prepare(log, &sl->e[0].job) != 1)
                return NULL;
        sl->n = 1;
        sl->two_step = sl->e[0].job.cache;
        sl->running = true;
        sl->durable_done = sl->durable_taken = sl->finished = false;
        sl->seq = c->next_seq++;
        return sl;
}

/* The helper's fdatasync step, then (two-step batches) its cache step. */
static void helper_durable(sl_commit_slot *sl, int rc_override)
{
        int rc = sl_sync_job_run_durable(&sl->e[0].job);
        sl->e[0].rc = rc_override ? rc_override : rc;
        sl->durable_done = true;
        if (!sl->two_step)
                sl->finished = true;
}

static void helper_cache(sl_commit_slot *sl)
{
        sl->e[0].cache_rc = sl_sync_job_run_cache(&sl->e[0].job);
        sl->finished = true;
}

/* What partition.c's completion does for each step the rule hands back:
 * returns how many durable steps completed (their results in rcs), checks
 * that steps come in start order, each batch's durable step first. */
static int complete_ready(sl_commit *c, sl_log *log, uint64_t *last_seq, int *rcs)
{
        int k = 0;
        sl_commit_slot *sl;
        bool cache;
        while ((sl = sl_commit_next_step(c, &cache))) {
                if (!cache) {
                        assert_true(sl->seq >= *last_seq);
                        *last_seq = sl->seq;
                        rcs[k++] = sl_log_sync_complete_durable(log, &sl->e[0].job, sl->e[0].rc);
                        sl->durable_taken = true;
                        continue;
                }
                assert_int_equal(sl->seq, *last_seq);
                *last_seq = sl->seq + 1;
                sl_log_sync_complete_cache(log, &sl->e[0].job, sl->e[0].cache_rc);
                sl->n = 0;
                sl->running = sl->durable_done = sl->durable_taken = sl->finished = false;
        }
        return k;
}

static void test_newer_finishing_first_waits(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir, false);
        assert_non_null(log);
        assert_int_equal(append_n(log, 3, 0), 0);
        assert_int_equal(sl_log_sync(log), 0);
        int64_t f0 = sl_log_flushed_offset(log);
        sl_commit c = {0};
        sl_commit_entry m0, m1;
        assert_int_equal(append_n(log, 3, 10), 0);
        sl_commit_slot *a = start(&c, &m0, log);
        assert_non_null(a);
        int64_t off_a = a->e[0].job.offset;
        assert_int_equal(append_n(log, 3, 20), 0);
        sl_commit_slot *b = start(&c, &m1, log);
        assert_non_null(b);
        int64_t off_b = b->e[0].job.offset;
        assert_true(off_b > off_a && off_a > f0);
        /* Two in flight: no third. */
        assert_null(sl_commit_free_slot(&c));
        /* The newer job's fdatasync ends first: nothing is published. */
        helper_durable(b, 0);
        assert_int_equal(b->e[0].rc, 0);
        bool cache;
        assert_null(sl_commit_next_step(&c, &cache));
        assert_int_equal(sl_log_flushed_offset(log), f0);
        /* The older one ends: both complete, older first. */
        helper_durable(a, 0);
        uint64_t last = 0;
        int rcs[2];
        assert_int_equal(complete_ready(&c, log, &last, rcs), 2);
        assert_int_equal(rcs[0], 0);
        assert_int_equal(rcs[1], 0);
        assert_int_equal(sl_log_flushed_offset(log), off_b);
        assert_non_null(sl_commit_free_slot(&c));
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_older_failure_poisons_newer(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir, false);
        assert_non_null(log);
        assert_int_equal(append_n(log, 3, 0), 0);
        assert_int_equal(sl_log_sync(log), 0);
        int64_t f0 = sl_log_flushed_offset(log);
        sl_commit c = {0};
        sl_commit_entry m0, m1;
        assert_int_equal(append_n(log, 3, 10), 0);
        sl_commit_slot *a = start(&c, &m0, log);
        assert_int_equal(append_n(log, 3, 20), 0);
        sl_commit_slot *b = start(&c, &m1, log);
        assert_non_null(a);
        assert_non_null(b);
        /* The newer fdatasync returns 0, but a writeback error of the shared
         * file was reported to the older one instead (errseq on one fd). */
        helper_durable(b, 0);
        assert_int_equal(b->e[0].rc, 0);
        bool cache;
        assert_null(sl_commit_next_step(&c, &cache));
        helper_durable(a, -EIO);
        uint64_t last = 0;
        int rcs[2];
        assert_int_equal(complete_ready(&c, log, &last, rcs), 2);
        assert_int_equal(rcs[0], SL_EFATAL); /* latched by the older failure */
        assert_int_equal(rcs[1], SL_EFATAL); /* the later success is not believed */
        assert_true(sl_log_failed(log));
        assert_int_equal(sl_log_flushed_offset(log), f0);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

static void test_two_step_answers_before_cache_work(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir, true);
        assert_non_null(log);
        sl_commit c = {0};
        sl_commit_entry m0, m1;
        assert_int_equal(append_n(log, 20, 0), 0); /* past the write-behind size */
        sl_commit_slot *a = start(&c, &m0, log);
        assert_non_null(a);
        assert_true(a->two_step);
        int64_t off_a = a->e[0].job.offset;
        assert_int_equal(append_n(log, 2, 20), 0);
        sl_commit_slot *b = start(&c, &m1, log);
        assert_non_null(b);
        assert_false(b->two_step); /* one cache job per log at a time */
        /* The older batch's fdatasyncs end: its durable step completes
         * while its page-cache work still runs. */
        helper_durable(a, 0);
        uint64_t last = 0;
        int rcs[2];
        assert_int_equal(complete_ready(&c, log, &last, rcs), 1);
        assert_int_equal(rcs[0], 0);
        assert_int_equal(sl_log_flushed_offset(log), off_a);
        assert_true(a->durable_taken);
        /* The newer batch finishes: it waits for the older page-cache step
         * (which may take a writeback error its fdatasync would miss). */
        helper_durable(b, 0);
        bool cache;
        assert_null(sl_commit_next_step(&c, &cache));
        assert_int_equal(sl_log_flushed_offset(log), off_a);
        helper_cache(a);
        assert_int_equal(a->e[0].cache_rc, 0);
        assert_int_equal(complete_ready(&c, log, &last, rcs), 1);
        assert_int_equal(rcs[0], 0);
        assert_int_equal(sl_log_flushed_offset(log), b->e[0].job.offset);
        assert_false(a->running);
        assert_false(b->running);
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

/* One random schedule in a child process, ended by a power cut. Writes the
 * highest flushed offset it saw to fd. Half the seeds carry page-cache work
 * (two-step batches). */
static void child_schedule(const char *dir, uint64_t seed, int fd)
{
        uint64_t rng = seed;
        crashfs_install();
        sl_log *log = open_log(dir, seed % 2);
        if (!log)
                _exit(2);
        sl_commit c = {0};
        sl_commit_entry mem[SL_COMMIT_SLOTS];
        int64_t covered = sl_log_flushed_offset(log); /* by in-order finished jobs */
        uint64_t last = 0; /* seq of the batch whose steps complete now */
        uint32_t seq = 0;
        for (int step = 0; step < 150; step++) {
                uint32_t op = bg_rand(&rng) % 4;
                if (op == 0) {
                        int n = 1 + (int)(bg_rand(&rng) % 4);
                        if (append_n(log, n, seq))
                                _exit(3);
                        seq += (uint32_t)n;
                        continue;
                }
                if (op == 1) {
                        sl_commit_slot *sl = sl_commit_free_slot(&c);
                        if (sl)
                                start(&c, &mem[sl - c.slot], log);
                        continue;
                }
                /* A random in-flight slot's helper ends a step. */
                sl_commit_slot *sl = &c.slot[bg_rand(&rng) % SL_COMMIT_SLOTS];
                if (!sl->running || sl->finished)
                        continue;
                if (!sl->durable_done)
                        helper_durable(sl, 0);
                else
                        helper_cache(sl);
                sl_commit_slot *nx;
                bool cache;
                while ((nx = sl_commit_next_step(&c, &cache))) {
                        if (nx->seq != last)
                                _exit(4); /* out of start order */
                        if (!cache) {
                                int64_t off = nx->e[0].job.offset;
                                if (sl_log_sync_complete_durable(log, &nx->e[0].job, nx->e[0].rc) !=
                                    0)
                                        _exit(5);
                                if (off > covered)
                                        covered = off;
                                nx->durable_taken = true;
                                continue;
                        }
                        if (sl_log_sync_complete_cache(log, &nx->e[0].job, nx->e[0].cache_rc))
                                _exit(5);
                        nx->running = nx->durable_done = nx->durable_taken = nx->finished = false;
                        last++;
                }
                /* Never more than the finished, in-order jobs covered. */
                if (sl_log_flushed_offset(log) != covered)
                        _exit(6);
        }
        crashfs_crash(&rng);
        if (write(fd, &covered, sizeof(covered)) != (ssize_t)sizeof(covered))
                _exit(7);
        _exit(0); /* no close: the process dies here */
}

static void test_random_overlaps_survive_power_cut(void **state)
{
        (void)state;
        for (uint64_t seed = 1; seed <= SEEDS; seed++) {
                char *dir = bg_tempdir();
                int fds[2];
                assert_int_equal(pipe(fds), 0);
                pid_t pid = fork();
                if (pid == 0) {
                        close(fds[0]);
                        child_schedule(dir, seed * 7919, fds[1]);
                }
                close(fds[1]);
                int64_t flushed = -1;
                ssize_t got = read(fds[0], &flushed, sizeof(flushed));
                close(fds[0]);
                int st;
                waitpid(pid, &st, 0);
                if (got != (ssize_t)sizeof(flushed) || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        fail_msg("seed %llu: child failed (status %#x)", (unsigned long long)seed,
                                 st);
                sl_log *log = open_log(dir, false);
                if (!log)
                        fail_msg("seed %llu: reopen after the power cut failed",
                                 (unsigned long long)seed);
                if (sl_log_end_offset(log) < flushed)
                        fail_msg("seed %llu: flushed %lld but %lld survived the power cut",
                                 (unsigned long long)seed, (long long)flushed,
                                 (long long)sl_log_end_offset(log));
                sl_log_close(log);
                bg_rmdir(dir);
                free(dir);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_newer_finishing_first_waits),
            cmocka_unit_test(test_older_failure_poisons_newer),
            cmocka_unit_test(test_two_step_answers_before_cache_work),
            cmocka_unit_test(test_random_overlaps_survive_power_cut),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
