/* storage/tests/test_crash.c — randomized crash tests.
 *
 * Each seed picks random batch sizes, segment and index sizes (so rolls land
 * anywhere) and a crash point. A forked child appends and syncs, then either
 * (a) "loses power": the crash layer (crashfs.c) drops, truncates or garbles
 * everything not made durable, and the child exits without closing; or
 * (b) is killed with SIGKILL by the parent at a random moment, after which the
 * parent tears the active segment at a random byte past its synced size.
 * The parent reopens and checks: the log is a prefix of the batches written,
 * byte for byte; it holds every batch that a completed sync covered; it
 * verifies; and it accepts appends again. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "batchgen.h"
#include "crashfs.h"
#include "recovery_check.h"
#include "format_int.h"
#include "log.h"
#include "verify.h"

/* Seeds per run; SL_CRASH_SEEDS=n multiplies them for a soak, and
 * SL_CRASH_SEED0 shifts the first seed (to replay or explore). */
#define LAYER_SEEDS 60
#define KILL_SEEDS  16

static uint64_t seed_mul(void)
{
        const char *e = getenv("SL_CRASH_SEEDS");
        return e && atoi(e) > 0 ? (uint64_t)atoi(e) : 1;
}

static uint64_t seed0(void)
{
        const char *e = getenv("SL_CRASH_SEED0");
        return e ? (uint64_t)strtoull(e, NULL, 10) : 0;
}

/* Batch k of seed s: deterministic sizes and contents. */
static size_t gen_batch(uint64_t seed, int64_t k, uint8_t *buf, size_t cap)
{
        uint64_t r = seed * 1000003u + (uint64_t)k;
        int nrec = 1 + (int)(bg_rand(&r) % 8);
        size_t vlen = bg_rand(&r) % 3 == 0 ? bg_rand(&r) % 3000 : bg_rand(&r) % 200;
        return bg_batch(buf, cap, nrec, vlen, 1000 + k, (uint32_t)(seed ^ (uint64_t)k));
}

static sl_log_config seed_cfg(uint64_t seed)
{
        uint64_t r = seed * 31337u;
        sl_log_config c = sl_log_config_default();
        c.segment_bytes = 30000 + bg_rand(&r) % 60000; /* > the largest batch */
        c.index_interval_bytes = 64 + (int32_t)(bg_rand(&r) % 4000);
        return c;
}

/* Appends batches k.. in groups of 1-3 buffers; returns the next k. */
static int64_t append_some(sl_log *log, uint64_t seed, int64_t k, uint64_t *rng)
{
        static uint8_t bufs[3][65536];
        sl_append_buf b[3];
        sl_append_result res[3];
        int n = 1 + (int)(bg_rand(rng) % 3);
        for (int i = 0; i < n; i++) {
                b[i].p = bufs[i];
                b[i].len = gen_batch(seed, k + i, bufs[i], sizeof(bufs[i]));
                b[i].crc_checked = false;
        }
        if (sl_log_append_v(log, b, n, 1, 1000, res) != 0)
                abort();
        return k + n;
}

/* The parent's check of a recovered directory. */
static void check_prefix(const char *dir, uint64_t seed, int64_t flushed, int64_t written)
{
        sl_log_config cfg = seed_cfg(seed);
        rc_check_recovered(dir, &cfg, seed, flushed, written, gen_batch);
}

typedef struct child_out {
        int64_t flushed;
        int64_t written;
} child_out;

static void test_crash_layer(void **state)
{
        (void)state;
        for (uint64_t seed = seed0() + 1; seed <= seed0() + LAYER_SEEDS * seed_mul(); seed++) {
                char *dir = bg_tempdir();
                int fds[2];
                assert_int_equal(pipe(fds), 0);
                pid_t pid = fork();
                if (pid == 0) {
                        close(fds[0]);
                        uint64_t rng = seed;
                        crashfs_install();
                        sl_log_config cfg = seed_cfg(seed);
                        sl_log *log;
                        if (sl_log_open(dir, &cfg, 1000, &log, NULL) != 0)
                                _exit(2);
                        int steps = 20 + (int)(bg_rand(&rng) % 200);
                        child_out out = {0, 0};
                        for (int s = 0; s < steps; s++) {
                                uint32_t op = bg_rand(&rng) % 8;
                                if (op == 0) {
                                        if (sl_log_sync(log) != 0)
                                                _exit(3);
                                        out.flushed = sl_log_flushed_offset(log);
                                } else if (op == 1) {
                                        /* A job prepared, appends during it, then done. */
                                        sl_sync_job job;
                                        int rc = sl_log_sync_prepare(log, &job);
                                        out.written = append_some(log, seed, out.written, &rng);
                                        if (rc == 1) {
                                                rc = sl_log_sync_complete(log, &job,
                                                                          sl_sync_job_run(&job));
                                                if (rc != 0)
                                                        _exit(3);
                                        }
                                        out.flushed = sl_log_flushed_offset(log);
                                } else {
                                        out.written = append_some(log, seed, out.written, &rng);
                                }
                        }
                        crashfs_crash(&rng);
                        if (write(fds[1], &out, sizeof(out)) != (ssize_t)sizeof(out))
                                _exit(4);
                        _exit(0); /* no close: the process dies here */
                }
                close(fds[1]);
                child_out out;
                ssize_t got = read(fds[0], &out, sizeof(out));
                close(fds[0]);
                int st;
                waitpid(pid, &st, 0);
                if (got != (ssize_t)sizeof(out) || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                        fail_msg("seed %llu: child failed (status %#x)", (unsigned long long)seed,
                                 st);
                check_prefix(dir, seed, out.flushed, out.written);
                bg_rmdir(dir);
                free(dir);
        }
}

/* Shared with the killed child: what its last completed sync covered, in
 * two slots flipped atomically so a kill never leaves a half-written one. */
typedef struct sync_point {
        int64_t flushed;  /* flushed offset after the sync */
        int64_t seg_base; /* last segment then, -1 none */
        int64_t seg_size; /* its size then */
} sync_point;

typedef struct shared_state {
        sync_point slot[2];
        _Atomic int cur;
        _Atomic int64_t written;
        _Atomic int ready;
} shared_state;

static void test_kill9(void **state)
{
        (void)state;
        shared_state *sh =
            mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(sh != MAP_FAILED);
        for (uint64_t seed = seed0() + 1000; seed < seed0() + 1000 + KILL_SEEDS * seed_mul();
             seed++) {
                char *dir = bg_tempdir();
                memset(sh, 0, sizeof(*sh));
                sh->slot[0].seg_base = sh->slot[1].seg_base = -1;
                pid_t pid = fork();
                if (pid == 0) {
                        uint64_t rng = seed;
                        sl_log_config cfg = seed_cfg(seed);
                        sl_log *log;
                        if (sl_log_open(dir, &cfg, 1000, &log, NULL) != 0)
                                _exit(2);
                        int64_t k = 0;
                        atomic_store(&sh->ready, 1);
                        for (;;) {
                                k = append_some(log, seed, k, &rng);
                                atomic_store(&sh->written, k);
                                if (bg_rand(&rng) % 4 == 0) {
                                        if (sl_log_sync(log) != 0)
                                                _exit(3);
                                        int64_t bases[4096];
                                        int n = bg_list_segments(dir, bases, 4096);
                                        char p[4096];
                                        bg_seg_path(p, sizeof(p), dir, bases[n - 1], "log");
                                        int nxt = 1 - atomic_load(&sh->cur);
                                        sh->slot[nxt].seg_size = bg_file_size(p);
                                        sh->slot[nxt].seg_base = bases[n - 1];
                                        sh->slot[nxt].flushed = sl_log_flushed_offset(log);
                                        atomic_store(&sh->cur, nxt);
                                }
                        }
                }
                while (!atomic_load(&sh->ready))
                        usleep(100);
                uint64_t rng = seed;
                struct timespec ts = {0, (long)(1 + bg_rand(&rng) % 40) * 1000000L};
                nanosleep(&ts, NULL);
                kill(pid, SIGKILL);
                int st;
                waitpid(pid, &st, 0);
                sync_point sp = sh->slot[atomic_load(&sh->cur)];
                int64_t flushed = sp.flushed;
                /* Tear the active segment somewhere past what was synced. */
                int64_t bases[4096];
                int n = bg_list_segments(dir, bases, 4096);
                char p[4096];
                bg_seg_path(p, sizeof(p), dir, bases[n - 1], "log");
                int64_t size = bg_file_size(p);
                int64_t from = bases[n - 1] == sp.seg_base ? sp.seg_size : SL_SEG_HDR_BYTES;
                if (size > from) {
                        int64_t cut = from + (int64_t)(bg_rand(&rng) % (uint64_t)(size - from + 1));
                        assert_int_equal(truncate(p, cut), 0);
                }
                check_prefix(dir, seed, flushed, atomic_load(&sh->written) + 3);
                bg_rmdir(dir);
                free(dir);
        }
        munmap(sh, sizeof(*sh));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_crash_layer),
            cmocka_unit_test(test_kill9),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
