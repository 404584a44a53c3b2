/* storage/tests/fuzz_cleaner.c — libFuzzer harness for log compaction: the
 * input becomes a stream of appended batches (keys, values, tombstones,
 * codecs, producer ids, control bits, and some raw record bytes with a valid
 * CRC), the log is cleaned twice (the second time past delete.retention.ms),
 * and then: the cleaning may refuse (SL_ECORRUPT on records it cannot parse)
 * but never crash; `verify` must pass; the log must reopen and read to its
 * end; and every record read must be one that was appended at that offset
 * with that key (latest-per-key is the unit test's job; here: no invented or
 * moved records, whatever the bytes).
 *
 * Input: chunks of [op u8][n u8][payload...]; op bits pick codec (0-4),
 * tombstones, producer id, control bit, raw mode; n records whose key is one
 * of 16 and whose value length comes from the payload.
 * Seeds: storage/tests/corpus_cleaner/. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "log.h"
#include "record_batch.h"
#include "verify.h"

#define MAX_RECS 4096

typedef struct appended {
        int64_t offset;
        uint8_t key; /* 0xff: raw bytes, unchecked */
} appended;

static char dir[256];
static appended recs[MAX_RECS];
static int nrecs;
static kp_codec_ctx *cc;

static void setup(void)
{
        if (dir[0])
                return;
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof(dir), "%s/sl-fuzz-clean-XXXXXX", base);
        if (!mkdtemp(dir))
                abort();
        cc = kp_codec_ctx_new(8 << 20);
        if (!cc)
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

static uint8_t take(const uint8_t **p, const uint8_t *end)
{
        return *p < end ? *(*p)++ : 0;
}

/* Appends one batch built from the input; returns false at the end. */
static bool append_one(sl_log *log, const uint8_t **p, const uint8_t *end, int64_t ts)
{
        static uint8_t buf[64 << 10];
        static char keys[64][8];
        static uint8_t vals[64][64];
        if (*p >= end)
                return false;
        uint8_t op = take(p, end);
        int n = 1 + take(p, end) % 32;
        kp_record_in in[64];
        uint8_t keyno[64];
        for (int i = 0; i < n; i++) {
                uint8_t k = take(p, end);
                uint8_t vl = take(p, end) % 64;
                keyno[i] = k & 15;
                snprintf(keys[i], sizeof(keys[i]), "k%u", keyno[i]);
                for (int j = 0; j < vl; j++)
                        vals[i][j] = take(p, end);
                in[i] = (kp_record_in){.timestamp = ts,
                                       .key = {.p = (const uint8_t *)keys[i],
                                               .len = (k & 0x80) ? -1 : (int32_t)strlen(keys[i])},
                                       .value = {.p = vals[i], .len = (k & 0x40) ? -1 : vl}};
                if (k & 0x80)
                        keyno[i] = 0xfe; /* null key */
        }
        kp_batch_spec spec = {.partition_leader_epoch = -1,
                              .codec = op % 5,
                              .producer_id = (op & 0x08) ? 1 + (op >> 6) : -1,
                              .producer_epoch = (op & 0x08) ? 0 : -1,
                              .base_sequence = (op & 0x08) ? 0 : -1};
        size_t len;
        if (kp_batch_build(cc, &spec, in, n, buf, sizeof(buf), &len) != 0)
                return true;
        bool raw = (op & 0x30) == 0x30;
        if (raw && len > 61) {
                /* Garble the records area but keep the CRC right: the cleaner
                 * must refuse, not crash. */
                buf[61 + take(p, end) % (len - 61)] ^= take(p, end) | 1;
                uint32_t crc = kp_batch_compute_crc(buf, len);
                buf[17] = (uint8_t)(crc >> 24);
                buf[18] = (uint8_t)(crc >> 16);
                buf[19] = (uint8_t)(crc >> 8);
                buf[20] = (uint8_t)crc;
        }
        sl_append_result res;
        if (sl_log_append(log, buf, len, 1, ts, &res) != 0)
                return true;
        for (int i = 0; i < n && nrecs < MAX_RECS; i++)
                recs[nrecs++] = (appended){res.base_offset + i, raw ? 0xff : keyno[i]};
        return true;
}

static const appended *find(int64_t off)
{
        int lo = 0, hi = nrecs;
        while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (recs[mid].offset < off)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < nrecs && recs[lo].offset == off ? &recs[lo] : NULL;
}

/* Reads the whole log: every record must be one appended at its offset. */
static void check_reads(sl_log *log)
{
        int64_t off = sl_log_start_offset(log), end = sl_log_end_offset(log);
        while (off < end) {
                sl_file_range r[8];
                int n = 0;
                if (sl_log_read(log, off, end, 1 << 20, r, 8, &n) != 0 || n == 0)
                        abort(); /* a gap must never stop a reader */
                int64_t next = off;
                for (int i = 0; i < n; i++) {
                        uint8_t *b = malloc((size_t)r[i].len);
                        if (!b || pread(r[i].fd, b, (size_t)r[i].len, r[i].pos) != r[i].len)
                                abort();
                        kp_batch_iter it;
                        kp_batch bt;
                        kp_batch_iter_init(&it, b, (size_t)r[i].len);
                        while (kp_batch_next(&it, &bt)) {
                                next = kp_batch_last_offset(&bt) + 1;
                                /* A garbled batch's records may claim any
                                 * offset: only its CRC is checked. */
                                const appended *first = find(bt.base_offset);
                                if (first && first->key == 0xff) {
                                        if (!kp_batch_crc_ok(&bt))
                                                abort();
                                        continue;
                                }
                                const uint8_t *rp = bt.records.p;
                                size_t rl = (size_t)bt.records.len;
                                const char *why;
                                if (!kp_batch_crc_ok(&bt))
                                        abort();
                                if (kp_batch_codec(&bt) &&
                                    kp_decompress(cc, kp_batch_codec(&bt), rp, rl, &rp, &rl, &why))
                                        continue; /* garbled raw input, kept as is */
                                kp_record_iter ri;
                                kp_record rec;
                                kp_record_iter_init(&ri, rp, rl, bt.records_count);
                                while (kp_record_next(&ri, &rec)) {
                                        const appended *a = find(bt.base_offset + rec.offset_delta);
                                        if (!a)
                                                abort(); /* invented or moved */
                                        char k[8];
                                        snprintf(k, sizeof(k), "k%u", a->key);
                                        if (a->key < 16 &&
                                            (rec.key.len != (int32_t)strlen(k) ||
                                             memcmp(rec.key.p, k, (size_t)rec.key.len)))
                                                abort(); /* another key's record */
                                }
                        }
                        free(b);
                }
                sl_log_release_ranges(log, r, n);
                if (next <= off)
                        abort();
                off = next;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        setup();
        clear_dir();
        nrecs = 0;
        sl_log_config cfg = sl_log_config_default();
        cfg.segment_bytes = 1024;
        cfg.index_interval_bytes = 128;
        sl_log *log;
        if (sl_log_open(dir, &cfg, 1000, &log, NULL) != 0)
                abort();
        const uint8_t *p = data, *end = data + size;
        int64_t ts = 1000;
        sl_clean_config cc_cfg = sl_clean_config_default();
        cc_cfg.min_cleanable_dirty_ratio = 0;
        cc_cfg.delete_retention_ms = 100;
        cc_cfg.dedupe_bytes = 1 << 16;
        int batches = 0;
        while (append_one(log, &p, end, ts++)) {
                if (++batches % 40 == 0) {
                        sl_log_sync(log);
                        sl_log_clean(log, &cc_cfg, ts, NULL);
                }
        }
        sl_log_sync(log);
        sl_log_clean(log, &cc_cfg, ts + 1000, NULL);
        check_reads(log);
        sl_log_close(log);
        sl_verify_report rep;
        if (sl_verify_dir(dir, &rep) != 0)
                abort();
        if (sl_log_open(dir, &cfg, 5000, &log, NULL) != 0)
                abort();
        check_reads(log);
        sl_log_close(log);
        return 0;
}
