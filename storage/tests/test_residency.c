/* storage/tests/test_residency.c — sl_residency_check and sl_residency_fill
 * on a real file: written, synced and dropped from the page cache
 * (POSIX_FADV_DONTNEED), the check says "not cached" for the whole file and
 * for any part of it, "cached" for a part read back; fill brings a range in
 * (the check then says cached, the bytes are unchanged, the rest of the file
 * stays out). Each case runs with cachestat and with the mincore fallback;
 * the "assume" method answers cached. On a file system whose page cache
 * cannot be dropped (tmpfs) the cases are skipped. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "residency.h"

#define FILE_BYTES (8 << 20)

static char path[4200];

static int make_file(void)
{
        const char *base = getenv("TMPDIR");
        /* tmpfs pages cannot be dropped: use the disk the logs live on. */
        snprintf(path, sizeof(path), "%s/sl-residency-XXXXXX",
                 base && strncmp(base, "/dev/shm", 8) ? base : "/tmp");
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        static uint8_t buf[1 << 20];
        for (int i = 0; i < FILE_BYTES / (int)sizeof(buf); i++) {
                for (size_t k = 0; k < sizeof(buf); k++)
                        buf[k] = (uint8_t)(k * 7 + (size_t)i);
                assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
        }
        assert_int_equal(fdatasync(fd), 0);
        return fd;
}

static void drop(int fd)
{
        assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
}

/* True when this file system really drops clean pages (checked with the
 * method under test; the "assume" method never gets here). */
static bool drops(int fd)
{
        drop(fd);
        return sl_residency_check(fd, 0, FILE_BYTES) == 0;
}

static void run_method(enum sl_residency_method m)
{
        sl_residency_method_set(m);
        int fd = make_file();
        assert_int_equal(sl_residency_check(fd, 0, FILE_BYTES), 1); /* just written */
        assert_int_equal(sl_residency_method_get(), m);
        if (!drops(fd)) {
                close(fd);
                unlink(path);
                skip();
        }
        /* Unaligned parts, a single byte, the last page. */
        assert_int_equal(sl_residency_check(fd, 4095, 2), 0);
        assert_int_equal(sl_residency_check(fd, FILE_BYTES - 1, 1), 0);
        /* Read a middle part back: that part is cached, the whole is not. */
        static uint8_t got[2 << 20];
        assert_int_equal(pread(fd, got, 100000, 3 << 20), 100000);
        assert_int_equal(sl_residency_check(fd, (3 << 20) + 10, 90000), 1);
        assert_int_equal(sl_residency_check(fd, 0, FILE_BYTES), 0);
        /* Fill an unaligned 1 MiB range well away from it. */
        drop(fd);
        int64_t off = (5 << 20) + 1234, len = (1 << 20) + 77;
        assert_int_equal(sl_residency_check(fd, off, len), 0);
        assert_int_equal(sl_residency_fill(fd, off, len), 0);
        assert_int_equal(sl_residency_check(fd, off, len), 1);
        /* Nothing before it was read (readahead only goes forward). */
        assert_int_equal(sl_residency_check(fd, 0, 1 << 20), 0);
        assert_int_equal(pread(fd, got, (size_t)len, off), len);
        for (int64_t k = 0; k < len; k++) {
                int64_t at = off + k;
                uint8_t want = (uint8_t)((at % (1 << 20)) * 7 + at / (1 << 20));
                if (got[k] != want)
                        fail_msg("byte %lld differs", (long long)at);
        }
        /* A whole-file fill. */
        drop(fd);
        assert_int_equal(sl_residency_fill(fd, 0, FILE_BYTES), 0);
        assert_int_equal(sl_residency_check(fd, 0, FILE_BYTES), 1);
        close(fd);
        unlink(path);
}

static void test_cachestat(void **state)
{
        (void)state;
        /* Detection: on this kernel cachestat exists or the fallback is picked. */
        sl_residency_method_set(SL_RESIDENCY_UNKNOWN);
        int fd = make_file();
        assert_int_equal(sl_residency_check(fd, 0, 4096), 1);
        enum sl_residency_method m = sl_residency_method_get();
        print_message("residency method picked: %s\n", sl_residency_method_name(m));
        assert_true(m == SL_RESIDENCY_CACHESTAT || m == SL_RESIDENCY_MINCORE);
        close(fd);
        unlink(path);
        if (m != SL_RESIDENCY_CACHESTAT)
                skip(); /* kernel < 6.5 */
        run_method(SL_RESIDENCY_CACHESTAT);
}

static void test_mincore(void **state)
{
        (void)state;
        run_method(SL_RESIDENCY_MINCORE);
}

static void test_assume(void **state)
{
        (void)state;
        sl_residency_method_set(SL_RESIDENCY_ASSUME);
        int fd = make_file();
        drop(fd);
        assert_int_equal(sl_residency_check(fd, 0, FILE_BYTES), 1);
        assert_int_equal(sl_residency_fill(fd, 0, 4096), 0);
        close(fd);
        unlink(path);
        /* A bad fd never reads as "not cached" (sendfile reports the error). */
        sl_residency_method_set(SL_RESIDENCY_UNKNOWN);
        assert_int_equal(sl_residency_check(-1, 0, 4096), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cachestat),
            cmocka_unit_test(test_mincore),
            cmocka_unit_test(test_assume),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
