/* tests/fuzz/fuzz_segment.c — libFuzzer harness for the storage recovery and
 * verify paths: the input is unpacked into a partition directory of arbitrary
 * segment, index, time-index, epoch-checkpoint and log-start files, which is
 * then verified, opened (recovered), read, queried, appended to and closed.
 * None of that may crash, hang or read out of bounds, whatever the bytes.
 *
 * Input: records of [kind u8][slot u8][len u16 BE][len bytes]; kind 0-4 =
 * .log, .index, .timeindex, leader-epoch-checkpoint, log-start-offset; slot
 * picks one of 4 segments, whose base offset is taken from bytes 8..15 of its
 * .log record (the header's base field) so valid seeds keep valid names.
 * Seeds: tests/fuzz/corpus/segment/ (written by fuzz_segment_corpus). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "verify.h"

#define SLOTS 4

static char dir[256];

static void setup_dir(void)
{
        if (dir[0])
                return;
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof(dir), "%s/sl-fuzz-seg-XXXXXX", base);
        if (!mkdtemp(dir))
                abort();
}

static void clear_dir(void)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char p[600];
        while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
                unlink(p);
        }
        if (d)
                closedir(d);
}

static void write_file(const char *name, const uint8_t *p, size_t n)
{
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
                return;
        if (n && write(fd, p, n) != (ssize_t)n)
                abort();
        close(fd);
}

/* A minimal valid batch (one empty record) for the append step. */
static void try_append(sl_log *log)
{
        uint8_t b[70] = {0};
        b[11] = 58; /* batchLength = 70 - 12 */
        b[16] = 2;  /* magic */
        b[60] = 1;  /* recordsCount 1 (lastOffsetDelta 0) */
        b[61] = 14; /* record: length 7 (zigzag), then 7 bytes */
        b[64] = 1;  /* key length -1 */
        uint32_t crc = kp_crc32c(0, b + 21, sizeof(b) - 21);
        b[17] = (uint8_t)(crc >> 24);
        b[18] = (uint8_t)(crc >> 16);
        b[19] = (uint8_t)(crc >> 8);
        b[20] = (uint8_t)crc;
        sl_append_result res;
        if (sl_log_append(log, b, sizeof(b), 7, 1000, &res) == 0)
                sl_log_sync(log);
}

static int count_batch(void *arg, const sl_batch_meta *m)
{
        if (m->last_offset < m->base_offset || m->size_bytes < 61)
                abort();
        ++*(int *)arg;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        setup_dir();
        clear_dir();
        int64_t bases[SLOTS];
        for (int i = 0; i < SLOTS; i++)
                bases[i] = i * 1000;
        /* First pass: bases from .log headers; second: write the files. */
        for (int pass = 0; pass < 2; pass++) {
                size_t off = 0;
                while (off + 4 <= size) {
                        uint8_t kind = data[off] % 5, slot = data[off + 1] % SLOTS;
                        size_t len = (size_t)data[off + 2] << 8 | data[off + 3];
                        off += 4;
                        if (len > size - off)
                                len = size - off;
                        const uint8_t *p = data + off;
                        off += len;
                        if (pass == 0) {
                                if (kind == 0 && len >= 16) {
                                        uint64_t v = 0;
                                        for (int i = 8; i < 16; i++)
                                                v = v << 8 | p[i];
                                        bases[slot] = (int64_t)(v & ((1ull << 40) - 1));
                                }
                                continue;
                        }
                        char name[64];
                        static const char *ext[3] = {"log", "index", "timeindex"};
                        if (kind < 3)
                                snprintf(name, sizeof(name), "%020lld.%s", (long long)bases[slot],
                                         ext[kind]);
                        else
                                snprintf(name, sizeof(name), "%s",
                                         kind == 3 ? "leader-epoch-checkpoint"
                                                   : "log-start-offset");
                        write_file(name, p, len);
                }
        }

        sl_verify_report rep;
        sl_verify_dir(dir, &rep);

        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 1 << 20;
        cfg.index_interval_bytes = 64;
        sl_log *log = NULL;
        sl_log_error err;
        if (sl_log_open(dir, &cfg, 1000, &log, &err) != 0)
                return 0;
        int64_t start = sl_log_start_offset(log), end = sl_log_end_offset(log);
        int64_t probes[4] = {start, start + (end - start) / 2, end - 1, end};
        for (int i = 0; i < 4; i++) {
                sl_file_range r[8];
                int n = 0;
                if (sl_log_read(log, probes[i], INT64_MAX, 1 << 16, r, 8, &n) == 0) {
                        for (int k = 0; k < n; k++) {
                                uint8_t buf[64];
                                if (r[k].len < 0 || r[k].pos < 0)
                                        abort();
                                if (pread(r[k].fd, buf, sizeof(buf), r[k].pos) < 0)
                                        abort();
                        }
                        sl_log_release_ranges(log, r, n);
                }
        }
        int64_t o, t;
        int32_t ep;
        sl_log_offset_for_timestamp(log, 0, &o, &t);
        sl_log_offset_for_timestamp(log, INT64_MAX / 2, &o, &t);
        sl_log_max_timestamp(log, &t, &o);
        sl_log_end_offset_for_epoch(log, 3, &ep, &o);
        int walked = 0;
        sl_log_for_each_batch(log, start, end, count_batch, &walked);
        try_append(log);
        sl_log_close(log);
        sl_verify_dir(dir, &rep);
        return 0;
}
