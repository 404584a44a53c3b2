/* storage/tests/test_torn_roll.c — power cuts after several segment rolls
 * between two syncs (the crash-test finding: a middle segment's header never
 * synced, garbled, and open refused the whole partition).
 *
 * The rule under test (FORMAT.md, "Recovery"): an unsealed segment whose
 * header is bad, and everything after it, is a torn tail that open drops and
 * verify reports as torn; a bad header under a seal, or followed by a sealed
 * or indexed segment, is damage that open refuses with file, offset and
 * position; likewise a missing segment file before an indexed one. A
 * randomized soak (crash layer, tiny segments, many rolls per sync) checks
 * that open keeps every synced batch and that verify agrees with open. */
#include <errno.h>
#include <fcntl.h>
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
#include "recovery_check.h"
#include "format_int.h"
#include "log.h"
#include "verify.h"

#define SOAK_SEEDS 40

static uint64_t env_u64(const char *name, uint64_t dflt)
{
        const char *e = getenv(name);
        return e && *e ? (uint64_t)strtoull(e, NULL, 10) : dflt;
}

/* Batch k of seed s: 1-4 records of 100-600 bytes, so a 3-6 KiB segment
 * holds only a few and most appends roll. */
static size_t gen_batch(uint64_t seed, int64_t k, uint8_t *buf, size_t cap)
{
        uint64_t r = seed * 7919u + (uint64_t)k * 104729u + 1;
        int nrec = 1 + (int)(bg_rand(&r) % 4);
        size_t vlen = 100 + bg_rand(&r) % 500;
        return bg_batch(buf, cap, nrec, vlen, 1000 + k, (uint32_t)(seed * 31u + (uint64_t)k));
}

static sl_log_config tiny_cfg(uint64_t seed)
{
        uint64_t r = seed * 2654435761u + 7;
        sl_log_config c = sl_log_config_default();
        c.segment_bytes = 3072 + bg_rand(&r) % 3072; /* > the largest batch */
        c.index_interval_bytes = 64 + (int32_t)(bg_rand(&r) % 2000);
        return c;
}

static int64_t append_one(sl_log *log, uint64_t seed, int64_t k)
{
        static uint8_t buf[8192];
        size_t len = gen_batch(seed, k, buf, sizeof(buf));
        sl_append_result res;
        if (sl_log_append(log, buf, len, 1, 1000, &res) != 0)
                abort();
        return k + 1;
}

/* Reopens dir and checks it holds a prefix of the batches of seed, at least
 * up to flushed, then appends, closes and verifies with no damage. */
static void check_recovered(const char *dir, uint64_t seed, int64_t flushed)
{
        sl_log_config cfg = tiny_cfg(seed);
        rc_check_recovered(dir, &cfg, seed, flushed, -1, gen_batch);
}

/* Runs `steps` random appends/syncs of seed in a child that then loses
 * power (crash layer) or, with garble_after_sync, leaves its files as they
 * are for the parent to damage. Returns the flushed offset; *base_out gets
 * the base of the first segment created after the last sync (-1 if none). */
static int64_t run_child(const char *dir, uint64_t seed, int steps, int rolls_after_sync,
                         bool power_cut, int64_t *base_out)
{
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        if (pid == 0) {
                close(fds[0]);
                uint64_t rng = seed;
                crashfs_install();
                sl_log_config cfg = tiny_cfg(seed);
                sl_log *log;
                if (sl_log_open(dir, &cfg, 1000, &log, NULL) != 0)
                        _exit(2);
                int64_t k = 0, out[2] = {0, -1};
                for (int s = 0; s < steps; s++) {
                        k = append_one(log, seed, k);
                        if (bg_rand(&rng) % 6 == 0) {
                                if (sl_log_sync(log) != 0)
                                        _exit(3);
                                out[0] = sl_log_flushed_offset(log);
                        }
                }
                if (sl_log_sync(log) != 0)
                        _exit(3);
                out[0] = sl_log_flushed_offset(log);
                /* Appends until rolls_after_sync new segments exist. */
                int64_t bases[4096];
                int before = bg_list_segments(dir, bases, 4096);
                while (bg_list_segments(dir, bases, 4096) < before + rolls_after_sync)
                        k = append_one(log, seed, k);
                if (rolls_after_sync > 0)
                        out[1] = bases[before];
                if (power_cut)
                        crashfs_crash(&rng);
                if (write(fds[1], out, sizeof(out)) != (ssize_t)sizeof(out))
                        _exit(4);
                _exit(0); /* no close: the process dies here */
        }
        close(fds[1]);
        int64_t out[2];
        ssize_t got = read(fds[0], out, sizeof(out));
        close(fds[0]);
        int st;
        waitpid(pid, &st, 0);
        if (got != (ssize_t)sizeof(out) || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fail_msg("seed %llu: child failed (status %#x)", (unsigned long long)seed, st);
        *base_out = out[1];
        return out[0];
}

static void garble_header(const char *dir, int64_t base)
{
        char p[4096];
        bg_seg_path(p, sizeof(p), dir, base, "log");
        int fd = open(p, O_WRONLY);
        assert_true(fd >= 0);
        uint8_t junk[SL_SEG_HDR_BYTES];
        for (int i = 0; i < (int)sizeof(junk); i++)
                junk[i] = (uint8_t)(i * 37 + 11);
        assert_int_equal(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
        close(fd);
}

/* The finding, deterministically: three rolls after the last sync, then the
 * first new segment's (never synced) header garbled while the later ones
 * reached the disk through writeback. Open drops the torn tail. */
static void test_middle_header_torn(void **state)
{
        (void)state;
        for (uint64_t seed = 1; seed <= 6; seed++) {
                char *dir = bg_tempdir();
                int64_t torn;
                int64_t flushed = run_child(dir, seed, 10, 3, false, &torn);
                assert_true(torn >= 0);
                garble_header(dir, torn);
                int64_t bases[4096];
                int n = bg_list_segments(dir, bases, 4096);
                assert_true(bases[n - 1] > torn); /* a later segment exists */
                sl_verify_report rep;
                if (sl_verify_dir(dir, &rep) != 0 || !rep.torn_tail)
                        fail_msg("seed %llu: verify before open: ok %d torn %d: %s",
                                 (unsigned long long)seed, rep.ok, rep.torn_tail, rep.message);
                assert_true(rep.next_offset >= flushed);
                check_recovered(dir, seed, flushed);
                /* The torn segment and the ones after it are gone or rewritten. */
                n = bg_list_segments(dir, bases, 4096);
                for (int i = 0; i < n; i++)
                        assert_true(bases[i] <= torn);
                bg_rmdir(dir);
                free(dir);
        }
}

/* Builds a cleanly closed log (every rolled segment sealed) of seed. */
static void build_sealed(const char *dir, uint64_t seed, int batches)
{
        sl_log_config cfg = tiny_cfg(seed);
        sl_log *log;
        assert_int_equal(sl_log_open(dir, &cfg, 1000, &log, NULL), 0);
        for (int64_t k = 0; k < batches;)
                k = append_one(log, seed, k);
        assert_int_equal(sl_log_sync(log), 0);
        sl_log_close(log);
}

static void expect_refused(const char *dir, uint64_t seed, int64_t base)
{
        char name[64];
        snprintf(name, sizeof(name), "%020lld.log", (long long)base);
        sl_log_config cfg = tiny_cfg(seed);
        sl_log *log = NULL;
        sl_log_error err;
        int rc = sl_log_open(dir, &cfg, 5000, &log, &err);
        assert_int_equal(rc, SL_ECORRUPT);
        assert_null(log);
        assert_string_equal(err.file, name);
        assert_int_equal(err.offset, base);
        assert_int_equal(err.position, 0);
        assert_non_null(strstr(err.message, name));
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), SL_ECORRUPT);
        assert_false(rep.ok);
        assert_string_equal(rep.file, name);
        assert_int_equal(rep.offset, base);
        assert_int_equal(rep.position, 0);
        /* Refused means left as found: the damaged file is still there. */
        char p[4096];
        bg_seg_path(p, sizeof(p), dir, base, "log");
        assert_true(bg_file_size(p) > 0);
}

/* A sealed segment's header is durable: damage there is refused, with a
 * single flipped bit as with a garbled header, in the middle or first. */
static void test_sealed_header_refused(void **state)
{
        (void)state;
        for (uint64_t seed = 1; seed <= 3; seed++) {
                char *dir = bg_tempdir();
                build_sealed(dir, seed, 30);
                int64_t bases[4096];
                int n = bg_list_segments(dir, bases, 4096);
                assert_true(n >= 4);
                char p[4096];
                bg_seg_path(p, sizeof(p), dir, bases[n / 2], "log");
                bg_flip_bit(p, 9 + (int64_t)seed, (int)seed);
                expect_refused(dir, seed, bases[n / 2]);
                bg_flip_bit(p, 9 + (int64_t)seed, (int)seed);
                garble_header(dir, bases[0]);
                expect_refused(dir, seed, bases[0]);
                bg_rmdir(dir);
                free(dir);
        }
}

/* An unsealed segment with a bad header but a sealed one after it: the later
 * seal proves a sync covered this header too, so it is damage. */
static void test_bad_header_before_seal_refused(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        build_sealed(dir, 9, 30);
        int64_t bases[4096];
        int n = bg_list_segments(dir, bases, 4096);
        assert_true(n >= 4);
        char p[4096];
        bg_seg_path(p, sizeof(p), dir, bases[1], "log");
        assert_int_equal(truncate(p, bg_file_size(p) - SL_SEAL_BYTES), 0);
        garble_header(dir, bases[1]);
        expect_refused(dir, 9, bases[1]);
        bg_rmdir(dir);
        free(dir);
}

/* Index entries are written only for synced bytes: a later segment with an
 * index entry proves a sync covered the damaged header too. */
static void test_bad_header_before_index_refused(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        build_sealed(dir, 11, 30);
        int64_t bases[4096];
        int n = bg_list_segments(dir, bases, 4096);
        assert_true(n >= 4);
        char p[4096];
        bg_seg_path(p, sizeof(p), dir, bases[n - 1], "index");
        assert_true(bg_file_size(p) >= SL_OIDX_BYTES); /* the active one is indexed */
        bg_seg_path(p, sizeof(p), dir, bases[n - 2], "log");
        assert_int_equal(truncate(p, bg_file_size(p) - SL_SEAL_BYTES), 0);
        garble_header(dir, bases[n - 2]);
        expect_refused(dir, 11, bases[n - 2]);
        bg_rmdir(dir);
        free(dir);
}

/* A segment file missing after a sealed one: a lost directory entry of a
 * never-synced segment (the tail after it is dropped) unless a later segment
 * is indexed or sealed (then it is damage, refused at the next segment). */
static void test_missing_segment(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        build_sealed(dir, 12, 30);
        int64_t bases[4096];
        int n = bg_list_segments(dir, bases, 4096);
        assert_true(n >= 4);
        char p[4096];
        bg_seg_path(p, sizeof(p), dir, bases[n - 2], "log");
        assert_int_equal(unlink(p), 0);
        expect_refused(dir, 12, bases[n - 1]); /* the last one is indexed */
        bg_seg_path(p, sizeof(p), dir, bases[n - 1], "index");
        assert_int_equal(unlink(p), 0);
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        assert_true(rep.torn_tail);
        assert_int_equal(rep.next_offset, bases[n - 2]);
        sl_log_config cfg = tiny_cfg(12);
        sl_log *log;
        sl_log_error err;
        assert_int_equal(sl_log_open(dir, &cfg, 5000, &log, &err), 0);
        assert_int_equal(sl_log_end_offset(log), bases[n - 2]);
        sl_log_close(log);
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        assert_false(rep.torn_tail);
        bg_rmdir(dir);
        free(dir);
}

/* A process crash after rolls with no sync, a reopen (which calls the log
 * flushed to its end), then a power cut: the reopen must have made the
 * killed process's new segment files durable, directory entries included. */
static void test_reopen_after_kill_then_power_cut(void **state)
{
        (void)state;
        for (uint64_t seed = 21; seed <= 28; seed++) {
                char *dir = bg_tempdir();
                int fds[2];
                assert_int_equal(pipe(fds), 0);
                pid_t pid = fork();
                if (pid == 0) {
                        close(fds[0]);
                        uint64_t rng = seed;
                        crashfs_install();
                        sl_log_config cfg = tiny_cfg(seed);
                        sl_log *dead, *log;
                        if (sl_log_open(dir, &cfg, 1000, &dead, NULL) != 0)
                                _exit(2);
                        int64_t k = 0, bases[4096];
                        while (bg_list_segments(dir, bases, 4096) < 5)
                                k = append_one(dead, seed, k);
                        /* `dead` is abandoned unsynced, as by kill -9. */
                        if (sl_log_open(dir, &cfg, 2000, &log, NULL) != 0)
                                _exit(3);
                        int64_t flushed = sl_log_flushed_offset(log);
                        if (flushed != sl_log_end_offset(log) || flushed <= 0)
                                _exit(5);
                        crashfs_crash(&rng);
                        if (write(fds[1], &flushed, sizeof(flushed)) != (ssize_t)sizeof(flushed))
                                _exit(4);
                        _exit(0);
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
                assert_true(flushed > 0);
                check_recovered(dir, seed, flushed);
                bg_rmdir(dir);
                free(dir);
        }
}

/* Random seeds: tiny segments, several rolls between syncs, a power cut.
 * Verify before open never reports damage, and open keeps what was synced. */
static void test_soak(void **state)
{
        (void)state;
        uint64_t s0 = env_u64("SL_TORN_SEED0", 0), count = env_u64("SL_TORN_SEEDS", SOAK_SEEDS);
        uint64_t seal_slots = 0;
        for (uint64_t seed = s0 + 100; seed < s0 + 100 + count; seed++) {
                char *dir = bg_tempdir();
                uint64_t r = seed;
                int64_t torn;
                int steps = 5 + (int)(bg_rand(&r) % 40);
                int rolls = 1 + (int)(bg_rand(&r) % 4);
                int64_t flushed = run_child(dir, seed, steps, rolls, true, &torn);
                sl_verify_report rep;
                if (sl_verify_dir(dir, &rep) != 0) {
                        /* The one report allowed: a full seal slot that a
                         * power cut garbled (open rescans that segment). */
                        char p[4096];
                        snprintf(p, sizeof(p), "%s/%s", dir, rep.file);
                        if (rep.position != bg_file_size(p) - SL_SEAL_BYTES ||
                            !strstr(rep.message, "seal slot"))
                                fail_msg("seed %llu: verify before open reports damage: %s",
                                         (unsigned long long)seed, rep.message);
                        seal_slots++;
                } else if (rep.next_offset > flushed) {
                        flushed = rep.next_offset; /* open keeps what verify read */
                }
                check_recovered(dir, seed, flushed);
                bg_rmdir(dir);
                free(dir);
        }
        /* A power cut rarely garbles a whole seal slot; never most seeds. */
        assert_true(seal_slots * 4 <= count);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_middle_header_torn),
            cmocka_unit_test(test_sealed_header_refused),
            cmocka_unit_test(test_bad_header_before_seal_refused),
            cmocka_unit_test(test_bad_header_before_index_refused),
            cmocka_unit_test(test_missing_segment),
            cmocka_unit_test(test_reopen_after_kill_then_power_cut),
            cmocka_unit_test(test_soak),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
