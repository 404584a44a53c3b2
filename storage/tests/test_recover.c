/* storage/tests/test_recover.c — recovery at open: a torn last batch is
 * truncated wherever the file was cut, garbage after the last batch goes,
 * missing or damaged indexes are rebuilt (same lookups as before), a lost
 * epoch checkpoint is rebuilt, and a partition whose sealed segments do not
 * chain (missing, swapped, replaced segment) is refused with an error naming
 * file, offset and position while other partitions still open. */
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
#include "format_int.h"
#include "log.h"
#include "verify.h"

static sl_log_config small_cfg(void)
{
        sl_log_config c = sl_log_config_default();
        c.segment_bytes = 8192;
        c.index_interval_bytes = 256;
        return c;
}

/* Builds a log of n batches; returns end offsets per batch in ends[]. */
static void build(const char *dir, int n, int64_t *ends, uint64_t seed)
{
        sl_log_config cfg = small_cfg();
        sl_log *log = NULL;
        assert_int_equal(sl_log_open(dir, &cfg, 1000, &log, NULL), 0);
        uint8_t buf[8192];
        for (int i = 0; i < n; i++) {
                size_t len = bg_batch(buf, sizeof(buf), 1 + (int)(bg_rand(&seed) % 4),
                                      10 + bg_rand(&seed) % 300, 1000 + i, (uint32_t)i);
                sl_append_result res;
                assert_int_equal(sl_log_append(log, buf, len, 1 + i / 20, 1000, &res), 0);
                if (ends)
                        ends[i] = res.last_offset + 1;
        }
        assert_int_equal(sl_log_sync(log), 0);
        sl_log_close(log);
}

static int open_rc(const char *dir, sl_log **out, sl_log_error *err)
{
        sl_log_config cfg = small_cfg();
        return sl_log_open(dir, &cfg, 2000, out, err);
}

/* Every offset reads back, and timestamp lookups agree with a scan. */
static void check_reads(sl_log *log)
{
        int64_t end = sl_log_end_offset(log);
        for (int64_t off = sl_log_start_offset(log); off < end; off++) {
                sl_file_range r[4];
                int n;
                assert_int_equal(sl_log_read(log, off, INT64_MAX, 1, r, 4, &n), 0);
                assert_int_equal(n, 1);
                uint8_t h[61];
                assert_int_equal(pread(r[0].fd, h, sizeof(h), r[0].pos), (ssize_t)sizeof(h));
                int64_t base = (int64_t)sl_be64(h);
                assert_true(base <= off && off <= base + (int32_t)sl_be32(h + 23));
                sl_log_release_ranges(log, r, n);
        }
}

static void test_torn_tail_every_cut(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        int64_t ends[40];
        build(dir, 30, ends, 3);
        int64_t bases[64];
        int nseg = bg_list_segments(dir, bases, 64);
        char path[4096], saved[4096];
        bg_seg_path(path, sizeof(path), dir, bases[nseg - 1], "log");
        snprintf(saved, sizeof(saved), "%s.orig", path);
        int64_t size = bg_file_size(path);
        /* Find the last batch's start in the active segment. */
        int fd = open(path, O_RDONLY);
        int64_t pos = SL_SEG_HDR_BYTES, last_start = pos;
        while (pos < size) {
                uint8_t h[12];
                assert_int_equal(pread(fd, h, 12, pos), 12);
                last_start = pos;
                pos += 12 + (int32_t)sl_be32(h + 8);
        }
        close(fd);
        char cmd[9000];
        snprintf(cmd, sizeof(cmd), "cp %s %s", path, saved);
        assert_int_equal(system(cmd), 0);
        /* Cut the file at every byte of the last batch. */
        for (int64_t cut = last_start; cut < size; cut++) {
                snprintf(cmd, sizeof(cmd), "cp %s %s", saved, path);
                assert_int_equal(system(cmd), 0);
                assert_int_equal(truncate(path, cut), 0);
                sl_log *log;
                sl_log_error err;
                assert_int_equal(open_rc(dir, &log, &err), 0);
                assert_int_equal(sl_log_end_offset(log), ends[28]);
                assert_int_equal(bg_file_size(path), last_start);
                sl_log_close(log);
        }
        /* Garbage after the last batch is dropped too. */
        snprintf(cmd, sizeof(cmd), "cp %s %s && head -c 777 /dev/urandom >> %s", saved, path, path);
        assert_int_equal(system(cmd), 0);
        sl_log *log;
        assert_int_equal(open_rc(dir, &log, NULL), 0);
        assert_int_equal(sl_log_end_offset(log), ends[29]);
        assert_int_equal(bg_file_size(path), size);
        check_reads(log);
        sl_log_close(log);
        unlink(saved);
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        bg_rmdir(dir);
        free(dir);
}

static void corrupt_indexes(const char *dir, int mode)
{
        int64_t bases[64];
        int nseg = bg_list_segments(dir, bases, 64);
        for (int i = 0; i < nseg; i++) {
                char p[4096];
                const char *exts[2] = {"index", "timeindex"};
                for (int e = 0; e < 2; e++) {
                        bg_seg_path(p, sizeof(p), dir, bases[i], exts[e]);
                        if (mode == 0) {
                                unlink(p);
                        } else {
                                char cmd[5000];
                                snprintf(
                                    cmd, sizeof(cmd),
                                    "head -c %d /dev/urandom | dd of=%s bs=1 seek=%d conv=notrunc "
                                    "status=none",
                                    37, p, 40 * (i % 3));
                                assert_int_equal(system(cmd), 0);
                        }
                }
        }
}

static void test_index_rebuild(void **state)
{
        (void)state;
        for (int mode = 0; mode < 2; mode++) {
                char *dir = bg_tempdir();
                build(dir, 120, NULL, 5);
                sl_log *log;
                assert_int_equal(open_rc(dir, &log, NULL), 0);
                int64_t end = sl_log_end_offset(log);
                int64_t tsoff[50], tsval[50];
                for (int q = 0; q < 50; q++)
                        assert_int_equal(
                            sl_log_offset_for_timestamp(log, 1000 + q * 2, &tsoff[q], &tsval[q]),
                            0);
                sl_log_close(log);
                char p[4096];
                int64_t bases[64];
                int nseg = bg_list_segments(dir, bases, 64);
                bg_seg_path(p, sizeof(p), dir, bases[0], "index");
                int64_t isize = bg_file_size(p);
                corrupt_indexes(dir, mode);
                assert_int_equal(open_rc(dir, &log, NULL), 0);
                assert_int_equal(sl_log_end_offset(log), end);
                check_reads(log);
                for (int q = 0; q < 50; q++) {
                        int64_t o, t;
                        assert_int_equal(sl_log_offset_for_timestamp(log, 1000 + q * 2, &o, &t), 0);
                        assert_int_equal(o, tsoff[q]);
                        assert_int_equal(t, tsval[q]);
                }
                sl_log_close(log);
                /* The rebuilt index files are whole again. */
                assert_int_equal(bg_file_size(p), isize);
                (void)nseg;
                sl_verify_report rep;
                assert_int_equal(sl_verify_dir(dir, &rep), 0);
                assert_int_equal(rep.index_problems, 0);
                bg_rmdir(dir);
                free(dir);
        }
}

static void test_epoch_checkpoint_rebuilt(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        build(dir, 70, NULL, 9); /* epochs 1..4 */
        char p[4096];
        snprintf(p, sizeof(p), "%s/leader-epoch-checkpoint", dir);
        assert_int_equal(unlink(p), 0);
        sl_log *log;
        assert_int_equal(open_rc(dir, &log, NULL), 0);
        assert_int_equal(sl_log_latest_epoch(log), 4);
        int32_t ep;
        int64_t end;
        assert_int_equal(sl_log_end_offset_for_epoch(log, 2, &ep, &end), 0);
        assert_int_equal(ep, 2);
        sl_log_close(log);
        assert_true(bg_file_size(p) > 0);
        bg_rmdir(dir);
        free(dir);
}

static void expect_refused(const char *dir, int64_t want_base)
{
        sl_log *log = NULL;
        sl_log_error err;
        assert_int_equal(open_rc(dir, &log, &err), SL_ECORRUPT);
        assert_null(log);
        char name[64];
        snprintf(name, sizeof(name), "%020lld.log", (long long)want_base);
        assert_string_equal(err.file, name);
        assert_non_null(strstr(err.message, name));
        assert_non_null(strstr(err.message, "offset"));
        assert_non_null(strstr(err.message, "position"));
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), SL_ECORRUPT);
        assert_string_equal(rep.file, name);
}

static void test_broken_chain_refused(void **state)
{
        (void)state;
        char *dir = bg_tempdir(), *other = bg_tempdir(), *twin = bg_tempdir();
        build(dir, 80, NULL, 11);
        build(other, 10, NULL, 12);
        int64_t bases[64];
        int nseg = bg_list_segments(dir, bases, 64);
        assert_true(nseg >= 5);
        char a[4096], b[4096], t[4096], cmd[9000];
        /* A sealed segment replaced by a different one with the same offsets:
         * only the chain notices. Same sizes and offsets, other contents. */
        build(twin, 80, NULL, 11);
        {
                /* twin has the same framing; flip a record byte and fix its CRC
                 * so the replacement is a valid segment with other data. */
                bg_seg_path(t, sizeof(t), twin, bases[2], "log");
                int fd = open(t, O_RDWR);
                uint8_t h[12];
                assert_int_equal(pread(fd, h, 12, SL_SEG_HDR_BYTES), 12);
                int64_t size = 12 + (int32_t)sl_be32(h + 8);
                uint8_t *batch = malloc((size_t)size);
                assert_int_equal(pread(fd, batch, (size_t)size, SL_SEG_HDR_BYTES), size);
                batch[size - 2] ^= 0x40;
                sl_batch_crc_store(batch, (size_t)size);
                assert_int_equal(pwrite(fd, batch, (size_t)size, SL_SEG_HDR_BYTES), size);
                free(batch);
                close(fd);
        }
        bg_seg_path(a, sizeof(a), dir, bases[2], "log");
        snprintf(cmd, sizeof(cmd), "cp %s %s.orig && cp %s %s", a, a, t, a);
        assert_int_equal(system(cmd), 0);
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), SL_ECORRUPT);
        char name[64];
        snprintf(name, sizeof(name), "%020lld.log", (long long)bases[2]);
        assert_string_equal(rep.file, name);
        assert_non_null(strstr(rep.message, "chain"));
        snprintf(cmd, sizeof(cmd), "mv %s.orig %s", a, a);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(sl_verify_dir(dir, &rep), 0);

        /* Two swapped segments. */
        bg_seg_path(a, sizeof(a), dir, bases[1], "log");
        bg_seg_path(b, sizeof(b), dir, bases[3], "log");
        snprintf(cmd, sizeof(cmd), "mv %s %s.x && mv %s %s && mv %s.x %s", a, a, b, a, a, b);
        assert_int_equal(system(cmd), 0);
        expect_refused(dir, bases[1]);
        assert_int_equal(system(cmd), 0); /* swap back */
        assert_int_equal(sl_verify_dir(dir, &rep), 0);

        /* A deleted middle segment (with its indexes). */
        snprintf(cmd, sizeof(cmd), "mkdir -p %s.keep && mv %s/%020lld.* %s.keep/", dir, dir,
                 (long long)bases[2], dir);
        assert_int_equal(system(cmd), 0);
        expect_refused(dir, bases[3]);

        /* The other partition is unaffected. */
        sl_log *log;
        assert_int_equal(open_rc(other, &log, NULL), 0);
        assert_true(sl_log_end_offset(log) > 0);
        sl_log_close(log);
        snprintf(cmd, sizeof(cmd), "rm -rf %s.keep", dir);
        assert_int_equal(system(cmd), 0);
        bg_rmdir(dir);
        bg_rmdir(other);
        bg_rmdir(twin);
        free(dir);
        free(other);
        free(twin);
}

static void test_lost_seal_repaired(void **state)
{
        (void)state;
        for (int variant = 0; variant < 3; variant++) {
                char *dir = bg_tempdir();
                int64_t ends[40];
                build(dir, 40, ends, 13);
                int64_t bases[64];
                int nseg = bg_list_segments(dir, bases, 64);
                char a[4096], b[4096];
                bg_seg_path(a, sizeof(a), dir, bases[nseg - 2], "log");
                bg_seg_path(b, sizeof(b), dir, bases[nseg - 1], "log");
                int64_t want_end;
                /* The roll wrote a's seal and then b's data; the crash lost the
                 * seal (0: b empty, 1: b kept its data, 2: a's last bytes were
                 * lost too, so b cannot follow it and is dropped). */
                assert_int_equal(truncate(a, bg_file_size(a) - SL_SEAL_BYTES - (variant == 2)), 0);
                if (variant == 0) {
                        assert_int_equal(truncate(b, SL_SEG_HDR_BYTES), 0);
                        want_end = bases[nseg - 1];
                } else if (variant == 1) {
                        want_end = ends[39];
                } else {
                        want_end = -1; /* a's last batch is torn: ends before it */
                }
                sl_log *log;
                sl_log_error err;
                assert_int_equal(open_rc(dir, &log, &err), 0);
                if (want_end >= 0)
                        assert_int_equal(sl_log_end_offset(log), want_end);
                else
                        assert_true(sl_log_end_offset(log) < bases[nseg - 1]);
                check_reads(log);
                uint8_t buf[4096];
                size_t len = bg_batch(buf, sizeof(buf), 2, 10, 1, 1);
                sl_append_result res;
                assert_int_equal(sl_log_append(log, buf, len, 9, 3000, &res), 0);
                sl_log_close(log);
                sl_verify_report rep;
                assert_int_equal(sl_verify_dir(dir, &rep), 0);
                bg_rmdir(dir);
                free(dir);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_torn_tail_every_cut),
            cmocka_unit_test(test_index_rebuild),
            cmocka_unit_test(test_epoch_checkpoint_rebuilt),
            cmocka_unit_test(test_broken_chain_refused),
            cmocka_unit_test(test_lost_seal_repaired),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
