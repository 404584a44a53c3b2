/* storage/tests/test_big_segment.c — segments at Kafka's default size (1 GiB)
 * and past 2 GiB (storage allows up to UINT32_MAX - 64), filled to exactly segment.bytes.
 *
 * Writing gigabytes per run would be too slow for the suite, so the batches'
 * values are zeros and a file-ops layer turns whole zero pages into holes
 * (FALLOC_FL_PUNCH_HOLE) instead of writing them: the files read back byte
 * for byte as written, CRCs and the chain run over every byte, but only the
 * batch headers reach the page cache. Each case appends 1 MiB batches until a
 * last batch fills the segment to exactly segment.bytes (no roll), one more
 * batch rolls, then checks the sealed file's size, reads the last batches of
 * the big segment back (positions near and above 2^31), reopens (recovery)
 * and runs verify. */
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
#include "crc32c.h"
#include "fileops_int.h"
#include "format_int.h"
#include "log.h"
#include "verify.h"

#define MIB  (1LL << 20)
#define PAGE 4096

static const uint8_t zero_page[PAGE];
static int64_t holes_punched; /* bytes */

/* Writes [p, p + n) at off, punching a hole for each whole zero page. */
static int sparse_write(int fd, const uint8_t *p, size_t n, int64_t off)
{
        size_t i = 0;
        while (i < n) {
                int64_t at = off + (int64_t)i;
                size_t step = PAGE - (size_t)(at % PAGE);
                if (step > n - i)
                        step = n - i;
                bool hole = step == PAGE && memcmp(p + i, zero_page, PAGE) == 0;
                size_t run = step;
                /* Extend the run over pages of the same kind. */
                while (i + run < n) {
                        size_t s2 = n - i - run < PAGE ? n - i - run : PAGE;
                        bool h2 = s2 == PAGE && memcmp(p + i + run, zero_page, PAGE) == 0;
                        if (h2 != hole)
                                break;
                        run += s2;
                }
                if (hole) {
                        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at,
                                      (off_t)run) != 0)
                                return -errno;
                        holes_punched += (int64_t)run;
                } else {
                        for (size_t done = 0; done < run;) {
                                ssize_t w = pwrite(fd, p + i + done, run - done,
                                                   (off_t)(at + (int64_t)done));
                                if (w <= 0)
                                        return w < 0 ? -errno : -EIO;
                                done += (size_t)w;
                        }
                }
                i += run;
        }
        return 0;
}

static ssize_t sparse_pwritev(int fd, const struct iovec *iov, int iovcnt, int64_t off)
{
        int64_t at = off;
        for (int k = 0; k < iovcnt; k++) {
                int rc = sparse_write(fd, iov[k].iov_base, iov[k].iov_len, at);
                if (rc < 0)
                        return rc;
                at += (int64_t)iov[k].iov_len;
        }
        struct stat st;
        if (fstat(fd, &st) != 0)
                return -errno;
        if (st.st_size < at && ftruncate(fd, at) != 0) /* a trailing hole */
                return -errno;
        return at - off;
}

static int no_fallocate(int fd, int64_t off, int64_t len)
{
        (void)fd;
        (void)off;
        (void)len;
        return 0; /* preallocation would allocate the holes' blocks */
}

static sl_fileops sparse_ops;

static int setup(void **state)
{
        (void)state;
        sparse_ops = sl_fileops_posix;
        sparse_ops.pwritev = sparse_pwritev;
        sparse_ops.fallocate = no_fallocate;
        sl_fileops_set(&sparse_ops);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        sl_fileops_set(&sl_fileops_posix);
        return 0;
}

static size_t record_len(size_t vlen)
{
        uint8_t tmp[16];
        size_t body = 1 + 1 + 1 + 1 + bg_put_varint(tmp, (int64_t)vlen) + vlen + 1;
        return bg_put_varint(tmp, (int64_t)body) + body;
}

/* A one-record batch of exactly size bytes (value zeros, key null) in buf. */
static void zero_batch(uint8_t *buf, size_t size, int64_t ts)
{
        size_t vlen = size - 61 - 8;
        while (61 + record_len(vlen) > size)
                vlen--;
        while (61 + record_len(vlen) < size)
                vlen++;
        assert_int_equal(61 + record_len(vlen), size);
        uint8_t tmp[16];
        memset(buf, 0, size);
        size_t off = 61, body = 1 + 1 + 1 + 1 + bg_put_varint(tmp, (int64_t)vlen) + vlen + 1;
        off += bg_put_varint(buf + off, (int64_t)body);
        buf[off++] = 0;                      /* attributes */
        off += bg_put_varint(buf + off, 0);  /* timestampDelta */
        off += bg_put_varint(buf + off, 0);  /* offsetDelta */
        off += bg_put_varint(buf + off, -1); /* null key */
        off += bg_put_varint(buf + off, (int64_t)vlen);
        off += vlen;    /* zeros */
        buf[off++] = 0; /* no headers */
        assert_int_equal(off, size);
        sl_put64(buf, 0);
        sl_put32(buf + 8, (uint32_t)(size - 12));
        sl_put32(buf + 12, UINT32_MAX);
        buf[16] = 2;
        sl_put32(buf + 23, 0);
        sl_put64(buf + 27, (uint64_t)ts);
        sl_put64(buf + 35, (uint64_t)ts);
        sl_put64(buf + 43, UINT64_MAX);
        sl_put16(buf + 51, UINT16_MAX);
        sl_put32(buf + 53, UINT32_MAX);
        sl_put32(buf + 57, 1);
        sl_put32(buf + 17, kp_crc32c(0, buf + 21, size - 21));
}

static void append(sl_log *log, uint8_t *buf, size_t size, int64_t now, int64_t want_offset)
{
        sl_append_result res;
        assert_int_equal(sl_log_append(log, buf, size, 0, now, &res), 0);
        assert_int_equal(res.error_code, 0);
        assert_int_equal(res.base_offset, want_offset);
}

/* Reads the batch at offset and compares it with buf (its base offset set). */
static void check_batch(sl_log *log, int64_t offset, uint8_t *buf, size_t size, int64_t want_pos)
{
        sl_file_range r[4];
        int n;
        assert_int_equal(sl_log_read(log, offset, INT64_MAX, size, r, 4, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(r[0].pos, want_pos);
        assert_int_equal(r[0].len, (int64_t)size);
        size_t len;
        uint8_t *got = bg_read_ranges(r, n, &len);
        sl_log_release_ranges(log, r, n);
        assert_non_null(got);
        assert_int_equal(len, size);
        sl_put64(buf, (uint64_t)offset);
        /* The stored batch carries the leader epoch the append stamped (0). */
        assert_memory_equal(got, buf, 12);
        assert_memory_equal(got + 16, buf + 16, size - 16);
        free(got);
}

static void fill_exactly(int64_t seg_bytes)
{
        holes_punched = 0;
        char *dir = bg_tempdir();
        assert_non_null(dir);
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = seg_bytes;
        cfg.max_message_bytes = 2 * MIB;
        cfg.writeback_bytes = 0;
        cfg.cache_retain_bytes = 0;
        assert_int_equal(sl_log_config_check(&cfg), 0);
        int64_t now = 1700000000000;
        sl_log *log;
        assert_int_equal(sl_log_open(dir, &cfg, now, &log, NULL), 0);

        uint8_t *big = malloc(MIB), *last = malloc(2 * MIB), *small = malloc(4096);
        assert_non_null(big);
        assert_non_null(last);
        assert_non_null(small);
        zero_batch(big, MIB, now);
        /* Whole 1 MiB batches while more than one fits, then the rest. */
        int64_t room = seg_bytes - SL_SEG_HDR_BYTES, off = 0;
        while (room - MIB >= MIB) {
                append(log, big, MIB, now, off++);
                room -= MIB;
        }
        size_t last_size = (size_t)room;
        assert_true(last_size >= MIB && last_size < 2 * MIB);
        zero_batch(last, last_size, now);
        append(log, last, last_size, now, off++);
        int64_t bases[4];
        assert_int_equal(bg_list_segments(dir, bases, 4), 1); /* exactly full: no roll */
        zero_batch(small, 200, now);
        append(log, small, 200, now, off++);
        assert_int_equal(bg_list_segments(dir, bases, 4), 2);
        assert_int_equal(bases[1], off - 1);
        assert_int_equal(sl_log_sync(log), 0); /* seals the big segment */
        char path[4200];
        bg_seg_path(path, sizeof(path), dir, 0, "log");
        assert_int_equal(bg_file_size(path), seg_bytes + SL_SEAL_BYTES);
        /* Only headers were written: the test stays sparse. */
        assert_true(holes_punched > seg_bytes - 64 * MIB);

        /* Read back the last whole batches of the big segment and the small one. */
        int64_t last_pos = seg_bytes - (int64_t)last_size;
        check_batch(log, off - 2, last, last_size, last_pos);
        check_batch(log, off - 3, big, MIB, last_pos - MIB);
        check_batch(log, off - 1, small, 200, SL_SEG_HDR_BYTES);
        sl_log_close(log);

        /* Recovery, then verify, then one more append after the reopen. */
        sl_log_error err;
        assert_int_equal(sl_log_open(dir, &cfg, now, &log, &err), 0);
        assert_int_equal(sl_log_end_offset(log), off);
        check_batch(log, off - 2, last, last_size, last_pos);
        append(log, small, 200, now, off++);
        sl_log_close(log);
        sl_verify_report rep;
        assert_int_equal(sl_verify_dir(dir, &rep), 0);
        assert_true(rep.ok);
        assert_int_equal(rep.segments, 2);
        assert_int_equal(rep.next_offset, off);
        assert_true(rep.bytes > seg_bytes);
        free(big);
        free(last);
        free(small);
        bg_rmdir(dir);
        free(dir);
}

/* Kafka's default segment.bytes. */
static void test_fill_1gib(void **state)
{
        (void)state;
        fill_exactly(1LL << 30);
}

/* The broker's largest segment.bytes (INT32_MAX): the seal ends past 2^31. */
static void test_fill_int32_max(void **state)
{
        (void)state;
        fill_exactly(INT32_MAX);
}

/* Storage's largest segment.bytes (the seal ends at UINT32_MAX): batch
 * positions past 2^31, where a signed 32-bit position would go negative. */
static void test_fill_storage_max(void **state)
{
        (void)state;
        fill_exactly((int64_t)UINT32_MAX - SL_SEAL_BYTES);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_fill_1gib, setup, teardown),
            cmocka_unit_test_setup_teardown(test_fill_int32_max, setup, teardown),
            cmocka_unit_test_setup_teardown(test_fill_storage_max, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
