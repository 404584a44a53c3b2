/* storage/scan.c — walks the record batches of a segment file, checking each
 * one and extending the chain; used by recovery (the tail past the last index
 * entry), lazy index rebuilds and `verify` (whole segments).
 *
 * Validity rules for the batch at position p, checked in this order:
 *   1. at least 12 bytes remain (baseOffset, batchLength), else torn;
 *   2. a seal prefix here is a seal: 64 valid bytes ending the file;
 *   3. batchLength >= 49 and p + 12 + batchLength <= file size, else torn;
 *   4. magic == 2; 5. baseOffset == the expected next offset (in a
 *      cleaned segment: at least it, compaction leaves gaps);
 *   6. lastOffsetDelta >= 0; 7. CRC32C over [21, end) matches.
 * Reads go through a window buffer (one pread per ~1 MiB, not per batch). */
#include "fileops_int.h"
#include "log_int.h"

#include <errno.h>
#include <stdlib.h>

#define SCAN_WINDOW (1u << 20)

typedef struct window {
        uint8_t *buf;
        size_t cap;
        int64_t at; /* file position of buf[0] */
        size_t len; /* valid bytes in buf */
} window;

/* Makes [pos, pos + n) available; returns a pointer or NULL (*err set). */
static const uint8_t *win_get(window *w, int fd, int64_t pos, size_t n, int64_t file_size, int *err)
{
        if (w->buf && pos >= w->at && pos + (int64_t)n <= w->at + (int64_t)w->len)
                return w->buf + (pos - w->at);
        size_t want = n > SCAN_WINDOW ? n : SCAN_WINDOW;
        if (want > w->cap) {
                uint8_t *b = realloc(w->buf, want);
                if (!b) {
                        *err = -ENOMEM;
                        return NULL;
                }
                w->buf = b;
                w->cap = want;
        }
        size_t rd = w->cap;
        if (pos + (int64_t)rd > file_size)
                rd = (size_t)(file_size - pos);
        ssize_t r = sl_pread_full(fd, w->buf, rd, pos);
        if (r < 0) {
                *err = (int)r;
                return NULL;
        }
        w->at = pos;
        w->len = (size_t)r;
        if (w->len < n) {
                *err = -EIO; /* the file shrank under us */
                return NULL;
        }
        return w->buf;
}

static void fail(sl_scan *s, const char *why)
{
        s->why = why;
        s->bad_pos = s->pos;
        s->bad_offset = s->next_offset;
}

int sl_scan_run(sl_scan *s)
{
        window w = {0};
        int err = 0;
        s->why = NULL;
        s->bad_pos = s->bad_offset = -1;
        s->sealed = false;
        while (s->pos < s->file_size) {
                int64_t left = s->file_size - s->pos;
                if (left < 12) {
                        fail(s, "torn batch header at end of file");
                        break;
                }
                const uint8_t *p = win_get(&w, s->fd, s->pos, 12, s->file_size, &err);
                if (!p)
                        goto out;
                if (sl_seal_prefix(p)) {
                        if (!s->allow_seal) {
                                fail(s, "seal where a batch was expected");
                                break;
                        }
                        if (left != SL_SEAL_BYTES) {
                                fail(s, left < SL_SEAL_BYTES ? "torn seal" : "data after the seal");
                                break;
                        }
                        p = win_get(&w, s->fd, s->pos, SL_SEAL_BYTES, s->file_size, &err);
                        if (!p)
                                goto out;
                        if (!sl_seal_decode(p, &s->seal)) {
                                fail(s, "seal checksum mismatch");
                                break;
                        }
                        s->sealed = true;
                        break;
                }
                int32_t blen = (int32_t)sl_be32(p + 8);
                if (blen < SL_BATCH_MIN_LEN) {
                        fail(s, "batchLength below the minimum");
                        break;
                }
                int64_t size = 12 + (int64_t)blen;
                if (size > left) {
                        fail(s, "batch extends past the end of the file (torn write)");
                        break;
                }
                p = win_get(&w, s->fd, s->pos, (size_t)size, s->file_size, &err);
                if (!p)
                        goto out;
                sl_batch_hdr h;
                sl_batch_hdr_decode(p, &h);
                if (h.magic != 2) {
                        fail(s, "batch magic is not 2");
                        break;
                }
                if (s->allow_gaps ? h.base_offset < s->next_offset
                                  : h.base_offset != s->next_offset) {
                        fail(s, "batch baseOffset does not follow the previous batch");
                        break;
                }
                if (h.last_offset_delta < 0 || h.last_offset_delta > INT32_MAX - 1) {
                        fail(s, "negative lastOffsetDelta");
                        break;
                }
                if (!sl_batch_crc_ok(p, (size_t)size)) {
                        fail(s, "batch CRC32C mismatch");
                        break;
                }
                if (s->on_batch) {
                        const char *why = s->on_batch(s->arg, &h, s->pos, &s->chain);
                        if (why) {
                                fail(s, why);
                                break;
                        }
                }
                int64_t last = h.base_offset + h.last_offset_delta;
                if (s->index_into) {
                        err = sl_index_note_batch(s->index_into, s->index_interval, h.base_offset,
                                                  last, h.max_ts, s->pos, size, &s->chain);
                        if (err < 0)
                                goto out;
                }
                sl_chain_next(&s->chain, p, (size_t)size, &s->chain);
                if (h.max_ts > s->max_ts) {
                        s->max_ts = h.max_ts;
                        s->max_ts_offset = last;
                }
                s->last_epoch = h.epoch;
                s->next_offset = last + 1;
                s->pos += size;
                s->batches++;
        }
out:
        free(w.buf);
        return err;
}
