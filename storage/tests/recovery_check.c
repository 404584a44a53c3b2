/* storage/tests/recovery_check.c — see recovery_check.h. */
#include "recovery_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batchgen.h"
#include "format_int.h"
#include "verify.h"

void rc_check_recovered(const char *dir, const sl_log_config *cfg, uint64_t seed, int64_t flushed,
                        int64_t written, rc_gen_fn gen)
{
        sl_log *log = NULL;
        sl_log_error err;
        if (sl_log_open(dir, cfg, 5000, &log, &err) != 0)
                fail_msg("seed %llu: open refused: %s", (unsigned long long)seed, err.message);
        int64_t end = sl_log_end_offset(log);
        if (end < flushed)
                fail_msg("seed %llu: lost synced data: end %lld < flushed %lld",
                         (unsigned long long)seed, (long long)end, (long long)flushed);
        static sl_file_range r[1024];
        int n;
        assert_int_equal(sl_log_read(log, 0, INT64_MAX, SIZE_MAX / 2, r, 1024, &n), 0);
        size_t len;
        uint8_t *got = bg_read_ranges(r, n, &len);
        sl_log_release_ranges(log, r, n);
        static uint8_t want[65536];
        size_t off = 0;
        int64_t k = 0, next = 0;
        while (off < len) {
                if (written >= 0)
                        assert_true(k < written);
                size_t wl = gen(seed, k, want, sizeof(want));
                if (off + wl > len || (int64_t)sl_be64(got + off) != next ||
                    memcmp(got + off + 21, want + 21, wl - 21) != 0)
                        fail_msg("seed %llu: batch %lld (at byte %zu of the log) differs from "
                                 "what was written, in %s",
                                 (unsigned long long)seed, (long long)k, off, dir);
                next += (int32_t)sl_be32(want + 23) + 1;
                off += wl;
                k++;
        }
        free(got);
        assert_int_equal(next, end);
        /* Appends continue where the prefix ends. */
        uint8_t buf[4096];
        size_t bl = bg_batch(buf, sizeof(buf), 2, 10, 1, 1);
        sl_append_result res;
        assert_int_equal(sl_log_append(log, buf, bl, 2, 6000, &res), 0);
        assert_int_equal(res.base_offset, end);
        assert_int_equal(sl_log_sync(log), 0);
        sl_log_close(log);
        sl_verify_report rep;
        if (sl_verify_dir(dir, &rep) != 0 || rep.torn_tail)
                fail_msg("seed %llu: verify after recovery: %s", (unsigned long long)seed,
                         rep.message);
}
