/* storage/tests/test_log_read_bound.c — sl_log_read's end-boundary search:
 * the ranges it returns follow the rules exactly (from the batch holding the
 * offset, whole batches below max_offset, at most max_bytes except that the
 * first batch always goes whole: KIP-74, continuing across segments) for many
 * batch sizes, index intervals, segment sizes and budgets, checked against a
 * model of every appended batch; and it finds the boundary through the sparse
 * offset index, reading only a few KiB of batch headers for a 1 MiB range
 * instead of preading through the data (counted by a file-ops layer).
 * sl_residency_log_read (residency.h), the reactor's variant: its ranges are
 * whole-batch prefixes of sl_log_read's, short by at most an index interval
 * plus a batch; on a file dropped from the page cache it reads nothing and
 * names the window to bring in, and after sl_residency_fill of it, it reads. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "batchgen.h"
#include "fileops_int.h"
#include "format_int.h"
#include "log.h"
#include "residency.h"

#define MAXB 60000

typedef struct mb {
        int64_t base, last;
        size_t len;
} mb;

static mb B[MAXB];
static int NB;

/* ---- a pread-counting file-ops layer ---- */

static int64_t g_pread_bytes, g_pread_calls;

static ssize_t counting_pread(int fd, void *buf, size_t n, int64_t off)
{
        g_pread_calls++;
        ssize_t r = sl_fileops_posix.pread(fd, buf, n, off);
        if (r > 0)
                g_pread_bytes += r;
        return r;
}

static sl_fileops counting_ops;

static void counting_install(void)
{
        counting_ops = sl_fileops_posix;
        counting_ops.pread = counting_pread;
        sl_fileops_set(&counting_ops);
        g_pread_bytes = g_pread_calls = 0;
}

/* ---- fixture ---- */

static sl_log *open_log(const char *dir, const sl_log_config *cfg)
{
        sl_log *log = NULL;
        sl_log_error err;
        if (sl_log_open(dir, cfg, 1000, &log, &err) != 0)
                fail_msg("open: %s", err.message);
        return log;
}

static void append(sl_log *log, int nrec, size_t vlen)
{
        static uint8_t buf[1 << 17];
        size_t len = bg_batch(buf, sizeof(buf), nrec, vlen, 1000 + NB, (uint32_t)NB);
        assert_true(len > 0);
        sl_append_result res;
        assert_int_equal(sl_log_append(log, buf, len, 1, 2000, &res), 0);
        assert_int_equal(res.error_code, 0);
        assert_true(NB < MAXB);
        B[NB++] = (mb){res.base_offset, res.last_offset, len};
}

/* The rule, on the model: batches [first, first + count). */
static void expect(int64_t offset, int64_t max_offset, size_t max_bytes, int *first, int *count)
{
        int i = 0;
        while (i < NB && B[i].last < offset)
                i++;
        *first = i;
        int64_t used = 0;
        int c = 0;
        for (; i < NB && B[i].base < max_offset; i++, c++) {
                if (c > 0 && used + (int64_t)B[i].len > (int64_t)max_bytes)
                        break;
                used += (int64_t)B[i].len;
        }
        *count = c;
}

/* Reads and compares with the rule: batch count and total bytes, ranges
 * contiguous within a segment file and starting at batch boundaries (their
 * bytes decode as the model's batches in order). */
static void check(sl_log *log, int64_t offset, int64_t max_offset, size_t max_bytes)
{
        static sl_file_range r[1024]; /* more than the segments of any log here */
        int n = -1;
        assert_int_equal(sl_log_read(log, offset, max_offset, max_bytes, r, 1024, &n), 0);
        int first, count;
        expect(offset, max_offset, max_bytes, &first, &count);
        int b = first;
        int64_t total = 0;
        for (int k = 0; k < n; k++) {
                assert_true(r[k].len > 0);
                for (int j = 0; j < k; j++)
                        assert_true(r[j].fd != r[k].fd); /* one range per segment */
                /* Walk the range's batch headers: they are the model's, in order. */
                int64_t p = r[k].pos, end = r[k].pos + r[k].len;
                while (p < end) {
                        uint8_t h[61];
                        assert_int_equal(sl_fileops_posix.pread(r[k].fd, h, sizeof(h), p),
                                         (ssize_t)sizeof(h));
                        assert_true(b < first + count);
                        assert_int_equal((int64_t)sl_be64(h), B[b].base);
                        assert_int_equal(12 + (int64_t)sl_be32(h + 8), (int64_t)B[b].len);
                        p += (int64_t)B[b].len;
                        b++;
                }
                assert_int_equal(p, end);
                total += r[k].len;
        }
        if (b != first + count)
                fail_msg("offset %lld max_offset %lld max_bytes %zu: %d batches, expected %d",
                         (long long)offset, (long long)max_offset, max_bytes, b - first, count);
        (void)total;
        sl_log_release_ranges(log, r, n);
}

/* Many shapes: segment sizes (rolls), index intervals (every batch indexed
 * .. almost none), batch sizes from ~80 bytes to ~40 KiB, budgets from 1
 * byte (first batch only) to the whole log, max offsets inside batches. */
static void test_same_ranges(void **state)
{
        (void)state;
        static const int32_t intervals[] = {1, 100, 4096, 20000, 1 << 20};
        static const int64_t segs[] = {1 << 16, 300000, 1 << 30};
        uint64_t rs = 7;
        for (size_t ii = 0; ii < sizeof(intervals) / sizeof(intervals[0]); ii++) {
                for (size_t si = 0; si < sizeof(segs) / sizeof(segs[0]); si++) {
                        char *dir = bg_tempdir();
                        sl_log_config cfg = sl_log_config_default();
                        cfg.index_interval_bytes = intervals[ii];
                        cfg.segment_bytes = segs[si];
                        sl_log *log = open_log(dir, &cfg);
                        NB = 0;
                        for (int i = 0; i < 600; i++) {
                                uint32_t shape = bg_rand(&rs) % 10;
                                if (shape < 6)
                                        append(log, 1 + (int)(bg_rand(&rs) % 5),
                                               bg_rand(&rs) % 200);
                                else if (shape < 9)
                                        append(log, 1 + (int)(bg_rand(&rs) % 8),
                                               1000 + bg_rand(&rs) % 2000);
                                else
                                        append(log, 2, 8000 + bg_rand(&rs) % 12000);
                        }
                        int64_t end = sl_log_end_offset(log);
                        static const size_t budgets[] = {0,     1,     61,       4096,
                                                         16384, 65536, 1u << 20, SIZE_MAX / 4};
                        for (int k = 0; k < 400; k++) {
                                int64_t off = (int64_t)(bg_rand(&rs) % (uint64_t)end);
                                size_t mbytes =
                                    k % 3 ? budgets[bg_rand(&rs) % 8] : bg_rand(&rs) % 200000;
                                int64_t mo = k % 4 ? end : off + 1 + (int64_t)(bg_rand(&rs) % 500);
                                check(log, off, mo, mbytes);
                        }
                        /* Every batch start with a budget that ends exactly at
                         * a batch boundary, and one byte short of it. */
                        for (int i = 0; i + 3 < NB; i += 7) {
                                size_t exact = B[i].len + B[i + 1].len + B[i + 2].len;
                                check(log, B[i].base, end, exact);
                                check(log, B[i].base, end, exact - 1);
                                check(log, B[i].last, end, exact + 1);
                        }
                        sl_log_close(log);
                        bg_rmdir(dir);
                        free(dir);
                }
        }
}

/* 1 MiB ranges of small batches (~1 KiB and ~200 bytes) and of 16 KiB
 * batches, default index interval: the boundary is found through the index,
 * reading at most a few KiB of headers per read, not the data. */
static void test_reads_few_header_bytes(void **state)
{
        (void)state;
        static const size_t vlens[] = {1000, 180, 16000};
        static const int nrecs[] = {1, 1, 1};
        for (size_t v = 0; v < sizeof(vlens) / sizeof(vlens[0]); v++) {
                char *dir = bg_tempdir();
                sl_log *log = open_log(dir, NULL);
                NB = 0;
                int64_t bytes = 0;
                while (bytes < (8 << 20)) {
                        append(log, nrecs[v], vlens[v]);
                        bytes += (int64_t)B[NB - 1].len;
                }
                int64_t end = sl_log_end_offset(log);
                uint64_t rs = 3;
                int64_t worst = 0, sum = 0;
                int reads = 50;
                for (int k = 0; k < reads; k++) {
                        int64_t off = (int64_t)(bg_rand(&rs) % (uint64_t)(end / 2));
                        counting_install();
                        sl_file_range r[4];
                        int n = 0;
                        assert_int_equal(sl_log_read(log, off, end, 1 << 20, r, 4, &n), 0);
                        int64_t got = g_pread_bytes;
                        sl_fileops_set(NULL);
                        assert_int_equal(n, 1);
                        assert_true(r[0].len > (1 << 20) - 17000 && r[0].len <= (1 << 20));
                        sl_log_release_ranges(log, r, n);
                        if (got > worst)
                                worst = got;
                        sum += got;
                        check(log, off, end, 1 << 20);
                }
                print_message("value %zu bytes: header bytes read per 1 MiB range: mean %lld, "
                              "worst %lld\n",
                              vlens[v], (long long)(sum / reads), (long long)worst);
                /* Two header windows (the start's and the end's) of 4 KiB,
                 * plus one more when a walk crosses a window edge. */
                assert_true(worst <= 12 * 1024);
                sl_log_close(log);
                bg_rmdir(dir);
                free(dir);
        }
}

/* Ranges of the page-cache-only read: a prefix of sl_log_read's. */
static void check_nowait_prefix(sl_log *log, int64_t offset, int64_t max_offset, size_t max_bytes,
                                int64_t slack)
{
        sl_file_range a[64], b[64], need;
        int na = 0, nb = 0;
        assert_int_equal(sl_log_read(log, offset, max_offset, max_bytes, a, 64, &na), 0);
        assert_int_equal(
            sl_residency_log_read(log, offset, max_offset, max_bytes, b, 64, &nb, &need), 0);
        int64_t la = 0, lb = 0;
        for (int k = 0; k < na; k++)
                la += a[k].len;
        for (int k = 0; k < nb; k++) {
                assert_true(k < na);
                assert_int_equal(b[k].fd, a[k].fd);
                assert_int_equal(b[k].pos, a[k].pos);
                assert_true(b[k].len <= a[k].len);
                if (k + 1 < nb)
                        assert_int_equal(b[k].len, a[k].len);
                lb += b[k].len;
        }
        if (na > 0)
                assert_true(nb >= 1); /* the first batch always */
        assert_true(lb <= la);
        /* Short by an index interval and a batch at most, or holding at
         * least half the budget (less one batch). */
        if (la - lb > slack && lb + 40000 < (int64_t)(max_bytes / 2))
                fail_msg("offset %lld max_bytes %zu: %lld of %lld bytes", (long long)offset,
                         max_bytes, (long long)lb, (long long)la);
        /* Whole batches: b ends where a batch of the model starts or ends. */
        if (nb > 0) {
                int64_t end_off = -1;
                uint8_t h[61];
                int64_t p = b[nb - 1].pos, end = p + b[nb - 1].len;
                while (p < end) {
                        assert_int_equal(sl_fileops_posix.pread(b[nb - 1].fd, h, 61, p), 61);
                        p += 12 + (int64_t)sl_be32(h + 8);
                        end_off = (int64_t)sl_be64(h);
                }
                assert_int_equal(p, end);
                (void)end_off;
        }
        sl_log_release_ranges(log, a, na);
        sl_log_release_ranges(log, b, nb);
}

static void test_nowait_prefix(void **state)
{
        (void)state;
        static const int32_t intervals[] = {1, 4096, 20000, 1 << 20};
        uint64_t rs = 11;
        for (size_t ii = 0; ii < sizeof(intervals) / sizeof(intervals[0]); ii++) {
                char *dir = bg_tempdir();
                sl_log_config cfg = sl_log_config_default();
                cfg.index_interval_bytes = intervals[ii];
                cfg.segment_bytes = 300000;
                sl_log *log = open_log(dir, &cfg);
                NB = 0;
                for (int i = 0; i < 800; i++)
                        append(log, 1 + (int)(bg_rand(&rs) % 4),
                               i % 9 ? bg_rand(&rs) % 1500 : 9000 + bg_rand(&rs) % 9000);
                int64_t end = sl_log_end_offset(log);
                for (int k = 0; k < 300; k++) {
                        int64_t off = (int64_t)(bg_rand(&rs) % (uint64_t)end);
                        size_t mb = k % 2 ? 1u << 20 : bg_rand(&rs) % 100000;
                        /* Short by at most an interval, a batch and a window. */
                        check_nowait_prefix(log, off, end, mb, intervals[ii] + 40000 + 4096);
                }
                sl_log_close(log);
                bg_rmdir(dir);
                free(dir);
        }
}

static int64_t g_cold_preads;
static ssize_t cold_counting_pread(int fd, void *buf, size_t n, int64_t off)
{
        g_cold_preads++;
        return sl_fileops_posix.pread(fd, buf, n, off);
}

static void drop_dir(const char *dir)
{
        int64_t bases[64];
        int n = bg_list_segments(dir, bases, 64);
        for (int i = 0; i < n; i++) {
                char path[4200];
                bg_seg_path(path, sizeof(path), dir, bases[i], "log");
                int fd = open(path, O_RDONLY);
                assert_true(fd >= 0);
                assert_int_equal(fdatasync(fd), 0);
                assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
                close(fd);
        }
}

/* Dropped from the page cache: no read at all, the window named; filled by
 * the helper's routine, the read goes through with the same first batch. */
static void test_nowait_cold(void **state)
{
        (void)state;
        char *dir = bg_tempdir();
        sl_log *log = open_log(dir, NULL);
        NB = 0;
        for (int i = 0; i < 3000; i++)
                append(log, 1, 1000);
        assert_int_equal(sl_log_sync(log), 0);
        int64_t end = sl_log_end_offset(log);
        uint64_t rs = 5;
        for (int k = 0; k < 20; k++) {
                drop_dir(dir);
                int64_t off = (int64_t)(bg_rand(&rs) % (uint64_t)end);
                sl_file_range r[4], need = {0};
                int n = -1;
                counting_ops = sl_fileops_posix;
                counting_ops.pread = cold_counting_pread;
                sl_fileops_set(&counting_ops);
                g_cold_preads = 0;
                int rc = sl_residency_log_read(log, off, end, 1 << 20, r, 4, &n, &need);
                sl_fileops_set(NULL);
                if (rc == 0 && k == 0)
                        skip(); /* this file system keeps its pages (tmpfs) */
                assert_int_equal(rc, -EAGAIN);
                assert_int_equal(n, 0);
                assert_int_equal(g_cold_preads, 0);
                assert_true(need.len > 0 && need.len <= 4096);
                /* Fill what it names until it reads (a walk from the index
                 * entry may need a second window). */
                for (int round = 0; round < 4 && rc == -EAGAIN; round++) {
                        assert_int_equal(sl_residency_fill(need.fd, need.pos, need.len), 0);
                        rc = sl_residency_log_read(log, off, end, 1 << 20, r, 4, &n, &need);
                }
                assert_int_equal(rc, 0);
                assert_true(n >= 1);
                sl_file_range a[4];
                int na = 0;
                assert_int_equal(sl_log_read(log, off, end, 1 << 20, a, 4, &na), 0);
                assert_int_equal(r[0].pos, a[0].pos);
                assert_true(r[0].len >= 1000 && r[0].len <= a[0].len);
                sl_log_release_ranges(log, r, n);
                sl_log_release_ranges(log, a, na);
        }
        sl_log_close(log);
        bg_rmdir(dir);
        free(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_same_ranges),
            cmocka_unit_test(test_reads_few_header_bytes),
            cmocka_unit_test(test_nowait_prefix),
            cmocka_unit_test(test_nowait_cold),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
