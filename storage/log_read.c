/* storage/log_read.c — Fetch and ListOffsets support: file ranges covering
 * whole batches for sendfile, pins that keep them valid across retention,
 * timestamp and max-timestamp lookups, and suffix truncation for followers.
 *
 * Lookups are O(log n): binary search over segments, then over the segment's
 * sparse offset (or time) index, then a walk of at most index.interval.bytes
 * of batch headers read through a window (one pread per window, not per
 * batch). A Fetch range finds both ends that way: the start from the entry
 * at or below the offset, the end from the last entry the byte budget
 * reaches, so it reads two small windows of headers (4 KiB each), never the
 * record bytes in between, which go out by sendfile. Sequential walks over
 * every header (timestamps, producer state, truncation) use 64 KiB windows.
 * sl_residency_log_read is the same read for a reactor: it reads a window
 * only when cachestat says it is cached, and past the start's windows only
 * while the range has less than half its budget; otherwise it ends the range
 * at the last boundary it knows (the index entry the budget reaches, or a
 * header already read) instead of reading the end's window. It names the
 * window it lacks when it cannot start. */
#include "fileops_int.h"
#include "log_int.h"
#include "residency.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define READ_WINDOW  (64u << 10) /* walks over every header */
#define FETCH_WINDOW (4u << 10)  /* boundary lookups of sl_log_read */
#define HDR_NEED     61          /* the whole batch header */

typedef struct hdr_reader {
        uint8_t *buf; /* cap bytes, on the caller's stack */
        size_t cap;
        int fd;
        int64_t at;
        size_t len;
        bool nowait;         /* page cache only (sl_residency_log_read) */
        bool may_read;       /* nowait: new windows may be read (when cached) */
        sl_file_range *need; /* nowait: the window that was not cached */
} hdr_reader;

/* Reads the header of the batch at pos (pos < limit). Returns 0, or
 * SL_ECORRUPT when the bytes there are not a batch header. */
static int read_hdr(hdr_reader *r, int64_t pos, int64_t limit, sl_batch_hdr *h)
{
        if (!(r->len && pos >= r->at && pos + HDR_NEED <= r->at + (int64_t)r->len)) {
                size_t want = r->cap;
                if (pos + (int64_t)want > limit)
                        want = (size_t)(limit - pos);
                if (want < HDR_NEED)
                        return SL_ECORRUPT;
                /* Page cache only: a window is read when every page of it
                 * is cached (cachestat, which starts no I/O; RWF_NOWAIT would
                 * start readahead), and only while seeking the start. */
                if (r->nowait && (!r->may_read || !sl_residency_check(r->fd, pos, (int64_t)want))) {
                        *r->need = (sl_file_range){.fd = r->fd, .pos = pos, .len = (int64_t)want};
                        return -EAGAIN;
                }
                ssize_t got = sl_pread_full(r->fd, r->buf, want, pos);
                if (got < 0)
                        return (int)got;
                if ((size_t)got < HDR_NEED)
                        return SL_ECORRUPT;
                r->at = pos;
                r->len = (size_t)got;
        }
        const uint8_t *p = r->buf + (pos - r->at);
        h->base_offset = (int64_t)sl_be64(p);
        h->batch_len = (int32_t)sl_be32(p + 8);
        h->magic = (int8_t)p[16];
        h->last_offset_delta = (int32_t)sl_be32(p + 23);
        h->max_ts = (int64_t)sl_be64(p + 35);
        h->epoch = (int32_t)sl_be32(p + 12);
        h->attributes = (int16_t)sl_be16(p + 21);
        h->records = (int32_t)sl_be32(p + 57);
        if (h->magic != 2 || h->batch_len < SL_BATCH_MIN_LEN || h->last_offset_delta < 0 ||
            pos + 12 + (int64_t)h->batch_len > limit)
                return SL_ECORRUPT;
        return 0;
}

/* Position and header of the batch of seg containing offset. */
static int seek_batch(hdr_reader *r, const sl_segment *seg, int64_t offset, int64_t *pos,
                      sl_batch_hdr *h)
{
        const sl_oidx_entry *e = sl_index_floor(seg, offset);
        int64_t p = e ? e->pos : SL_SEG_HDR_BYTES;
        while (p < seg->data_end) {
                int rc = read_hdr(r, p, seg->data_end, h);
                if (rc < 0)
                        return rc;
                if (h->base_offset + h->last_offset_delta >= offset) {
                        *pos = p;
                        return 0;
                }
                p += 12 + (int64_t)h->batch_len;
        }
        return SL_ENOTFOUND;
}

/* The last index entry of seg at or before pos_limit whose batch starts
 * below max_offset (both grow with the entry), or -1. Every batch before such
 * an entry starts below max_offset and ends by its position. */
static int64_t last_entry_within(const sl_segment *seg, int64_t pos_limit, int64_t max_offset)
{
        const sl_index *x = &seg->idx;
        uint32_t lo = 0, hi = x->on; /* entries [0, lo) qualify, [hi, on) do not */
        while (lo < hi) {
                uint32_t mid = lo + (hi - lo) / 2;
                if ((int64_t)x->oe[mid].pos <= pos_limit &&
                    seg->base_offset + x->oe[mid].rel_offset < max_offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo > 0 ? (int64_t)x->oe[lo - 1].pos : -1;
}

/* sl_log_read, and with need != NULL sl_residency_log_read (residency.h). */
static int log_read(sl_log *log, int64_t offset, int64_t max_offset, size_t max_bytes,
                    sl_file_range *ranges, int max_ranges, int *n_out, sl_file_range *need)
{
        *n_out = 0;
        if (log->fatal)
                return SL_EFATAL;
        if (offset < log->start_offset || offset > log->end_offset)
                return SL_EOFFSET;
        if (max_offset > log->end_offset)
                max_offset = log->end_offset;
        if (offset >= max_offset || max_ranges <= 0)
                return 0;
        uint8_t buf[FETCH_WINDOW];
        hdr_reader r = {
            .buf = buf, .cap = sizeof(buf), .fd = -1, .nowait = need != NULL, .need = need};
        int si = sl_log_find_segment(log, offset);
        int64_t used = 0;
        int n = 0, rc = 0;
        for (; si >= 0 && si < log->nsegs && n < max_ranges; si++) {
                sl_segment *seg = log->segs[si];
                if (seg->next_offset <= offset)
                        continue;
                if (seg->base_offset >= max_offset)
                        break;
                rc = sl_segment_load_index(log, seg);
                if (rc < 0)
                        break;
                r.fd = seg->fd;
                r.len = 0;
                int64_t start, p;
                sl_batch_hdr h;
                r.may_read = true;
                rc = seek_batch(&r, seg, offset, &start, &h);
                r.may_read = false;
                if (rc == SL_ENOTFOUND) {
                        /* offset lies in the gap a compaction left at the
                         * end of a cleaned segment: go on to the next one. */
                        rc = 0;
                        offset = seg->next_offset;
                        continue;
                }
                if (rc < 0)
                        break;
                /* Jump to the last index entry the budget reaches: the
                 * batches before it fit whole (entries are batch starts), so
                 * only the headers from there to the boundary are read. */
                p = start;
                int64_t left = (int64_t)max_bytes - used;
                int64_t reach = left > INT64_MAX - start ? INT64_MAX : start + left;
                int64_t e = last_entry_within(seg, reach, max_offset);
                if (e > p)
                        p = e;
                /* The rest of the segment fits whole: no header to read. */
                if (seg->next_offset <= max_offset && seg->data_end <= reach)
                        p = seg->data_end;
                bool budget_hit = false;
                while (p < seg->data_end) {
                        /* Page cache only: past the start's windows, a new
                         * window is read (when cached) only while the range
                         * has less than half the budget, e.g. with an index
                         * too sparse to jump near the end. */
                        r.may_read = used + (p - start) < (int64_t)(max_bytes / 2);
                        rc = read_hdr(&r, p, seg->data_end, &h);
                        if (rc == -EAGAIN && p > start) {
                                /* End at the last boundary known (whole
                                 * batches, within the budget). */
                                rc = 0;
                                budget_hit = true;
                                break;
                        }
                        if (rc < 0)
                                goto out;
                        int64_t size = 12 + (int64_t)h.batch_len;
                        if (h.base_offset >= max_offset)
                                break;
                        /* KIP-74: the first batch goes whole even past max_bytes. */
                        if (used + (p - start) + size > (int64_t)max_bytes &&
                            (used > 0 || p > start)) {
                                budget_hit = true;
                                break;
                        }
                        p += size;
                }
                if (p > start) {
                        ranges[n++] =
                            (sl_file_range){.fd = seg->fd, .pos = start, .len = p - start};
                        seg->refs++;
                        used += p - start;
                }
                if (budget_hit || p < seg->data_end)
                        break;
                offset = seg->next_offset;
        }
out:
        *n_out = n;
        if (rc < 0 && n == 0)
                return rc == SL_ENOTFOUND ? 0 : rc;
        return 0;
}

int sl_log_read(sl_log *log, int64_t offset, int64_t max_offset, size_t max_bytes,
                sl_file_range *ranges, int max_ranges, int *n_out)
{
        return log_read(log, offset, max_offset, max_bytes, ranges, max_ranges, n_out, NULL);
}

int sl_residency_log_read(sl_log *log, int64_t offset, int64_t max_offset, size_t max_bytes,
                          sl_file_range *ranges, int max_ranges, int *n_out, sl_file_range *need)
{
        return log_read(log, offset, max_offset, max_bytes, ranges, max_ranges, n_out, need);
}

static sl_segment *seg_by_fd(sl_log *log, int fd)
{
        for (int i = log->nsegs - 1; i >= 0; i--)
                if (log->segs[i]->fd == fd)
                        return log->segs[i];
        for (int i = 0; i < log->nzombies; i++)
                if (log->zombies[i]->fd == fd)
                        return log->zombies[i];
        return NULL;
}

void sl_log_release_ranges(sl_log *log, const sl_file_range *ranges, int n)
{
        for (int i = 0; i < n; i++) {
                sl_segment *seg = seg_by_fd(log, ranges[i].fd);
                if (seg && seg->refs > 0)
                        sl_segment_unpin(log, seg);
        }
}

int sl_log_offset_for_timestamp(sl_log *log, int64_t ts, int64_t *offset, int64_t *found_ts)
{
        uint8_t buf[READ_WINDOW];
        hdr_reader r = {.buf = buf, .cap = sizeof(buf), .fd = -1};
        for (int si = 0; si < log->nsegs; si++) {
                sl_segment *seg = log->segs[si];
                if (seg->max_ts < ts || seg->next_offset <= log->start_offset)
                        continue;
                int rc = sl_segment_load_index(log, seg);
                if (rc < 0)
                        return rc;
                /* Last time entry below ts: no batch before its batch reaches ts. */
                const sl_index *x = &seg->idx;
                uint32_t lo = 0, hi = x->tn;
                while (lo < hi) {
                        uint32_t mid = lo + (hi - lo) / 2;
                        if (x->te[mid].ts < ts)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                int64_t from =
                    lo > 0 ? seg->base_offset + x->te[lo - 1].rel_offset : seg->base_offset;
                if (from < log->start_offset)
                        from = log->start_offset;
                r.fd = seg->fd;
                r.len = 0;
                int64_t p;
                sl_batch_hdr h;
                rc = seek_batch(&r, seg, from, &p, &h);
                if (rc == SL_ENOTFOUND)
                        continue;
                if (rc < 0)
                        return rc;
                while (p < seg->data_end) {
                        rc = read_hdr(&r, p, seg->data_end, &h);
                        if (rc < 0)
                                return rc;
                        if (h.max_ts >= ts) {
                                *offset = h.base_offset > log->start_offset ? h.base_offset
                                                                            : log->start_offset;
                                *found_ts = h.max_ts;
                                return 0;
                        }
                        p += 12 + (int64_t)h.batch_len;
                }
        }
        return SL_ENOTFOUND;
}

int sl_log_for_each_batch(sl_log *log, int64_t from, int64_t to,
                          int (*fn)(void *arg, const sl_batch_meta *m), void *arg)
{
        if (log->fatal)
                return SL_EFATAL;
        if (from < log->start_offset)
                from = log->start_offset;
        uint8_t buf[READ_WINDOW];
        hdr_reader r = {.buf = buf, .cap = sizeof(buf), .fd = -1};
        int si = sl_log_find_segment(log, from);
        for (; si >= 0 && si < log->nsegs; si++) {
                sl_segment *seg = log->segs[si];
                if (seg->base_offset >= to)
                        break;
                if (seg->next_offset <= from)
                        continue;
                int rc = sl_segment_load_index(log, seg);
                if (rc < 0)
                        return rc;
                r.fd = seg->fd;
                r.len = 0;
                int64_t p;
                sl_batch_hdr h;
                rc = seek_batch(&r, seg, from, &p, &h);
                if (rc == SL_ENOTFOUND)
                        continue;
                if (rc < 0)
                        return rc;
                while (p < seg->data_end) {
                        rc = read_hdr(&r, p, seg->data_end, &h);
                        if (rc < 0)
                                return rc;
                        if (h.base_offset >= to)
                                return 0;
                        const uint8_t *q = r.buf + (p - r.at);
                        sl_batch_meta m = {
                            .base_offset = h.base_offset,
                            .last_offset = h.base_offset + h.last_offset_delta,
                            .max_timestamp = h.max_ts,
                            .producer_id = (int64_t)sl_be64(q + 43),
                            .producer_epoch = (int16_t)sl_be16(q + 51),
                            .base_sequence = (int32_t)sl_be32(q + 53),
                            .attributes = h.attributes,
                            .leader_epoch = h.epoch,
                            .size_bytes = 12 + h.batch_len,
                        };
                        rc = fn(arg, &m);
                        if (rc)
                                return rc;
                        p += 12 + (int64_t)h.batch_len;
                }
                from = seg->next_offset;
        }
        return 0;
}

int sl_log_max_timestamp(sl_log *log, int64_t *ts, int64_t *offset)
{
        *ts = *offset = -1;
        for (int i = 0; i < log->nsegs; i++) {
                const sl_segment *seg = log->segs[i];
                if (seg->max_ts > *ts && seg->max_ts_offset >= log->start_offset) {
                        *ts = seg->max_ts;
                        *offset = seg->max_ts_offset;
                }
        }
        return 0;
}

int sl_log_truncate(sl_log *log, int64_t offset)
{
        if (log->fatal)
                return SL_EFATAL;
        if (offset >= log->end_offset)
                return 0;
        if (offset < log->start_offset)
                return SL_EOFFSET;
        int si = sl_log_find_segment(log, offset);
        if (si < 0)
                return SL_EOFFSET;
        log->trunc_gen++; /* sync jobs prepared before this prove nothing now */
        /* A truncation point at a segment's base empties the previous one's
         * successors; keep the segment holding offset - 1 when possible. */
        if (si > 0 && log->segs[si]->base_offset == offset)
                si--;
        int rc;
        while (log->nsegs > si + 1) {
                rc = sl_segment_delete(log, log->segs[log->nsegs - 1]);
                if (rc < 0)
                        return sl_log_latch(log, rc);
        }
        sl_segment *seg = log->segs[si];
        int64_t cut = SL_SEG_HDR_BYTES;
        if (offset > seg->base_offset) {
                uint8_t buf[READ_WINDOW];
                hdr_reader r = {.buf = buf, .cap = sizeof(buf), .fd = seg->fd};
                sl_batch_hdr h;
                rc = sl_segment_load_index(log, seg);
                if (rc == 0)
                        rc = seek_batch(&r, seg, offset, &cut, &h);
                if (rc == SL_ENOTFOUND)
                        cut = seg->data_end;
                else if (rc < 0)
                        return rc;
        }
        /* Persist what the index knows, cut the file, and let recovery rebuild
         * chain, max timestamp and index from the remaining bytes. */
        rc = sl_segment_flush_index(log, seg);
        if (rc == 0)
                rc = sl_fileops_current->ftruncate(seg->fd, cut);
        if (rc < 0)
                return sl_log_latch(log, rc);
        seg->sealed = false;
        seg->seal_written = false;
        seg->data_end = seg->size = cut;
        if (seg->synced_size > cut)
                seg->synced_size = cut;
        seg->idx.loaded = false;
        rc = sl_segment_recover(log, seg, true, NULL);
        if (rc < 0)
                return sl_log_latch(log, rc);
        log->end_offset = seg->next_offset;
        if (log->flushed_offset > log->end_offset)
                log->flushed_offset = log->end_offset;
        return sl_epoch_truncate(log, log->end_offset);
}
