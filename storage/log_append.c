/* storage/log_append.c — Produce path 4/5 (storage half): called on the owner
 * shard with the views of one partition's record batches; validates each
 * batch header, assigns offsets, stamps the leader epoch (and LogAppendTime),
 * extends the chain, notes index entries in memory and writes everything with
 * one pwritev per segment touched. Durability comes later from a sync job
 * (log_sync.c): nothing here calls fdatasync.
 *
 * No allocation and no syscall per record or per batch: the iovec array is
 * reused between calls, index entries grow amortized arrays, and the only
 * extra syscalls are at a segment roll or when a new leader epoch starts. */
#include "fileops_int.h"
#include "log_int.h"
#include "kafka_errors.h"

#include <errno.h>
#include <string.h>

int sl_log_latch(sl_log *log, int err)
{
        if (!log->fatal) {
                log->fatal = true;
                log->fatal_err = err;
        }
        return SL_EFATAL;
}

static int fail_res(sl_append_result *r, int err, int16_t kerr)
{
        r->base_offset = r->last_offset = -1;
        r->log_append_time = -1;
        r->err = err;
        r->error_code = kerr;
        return err;
}

/* Header-level checks of every batch in buf (the broker has decoded the
 * records already, protocol/record_batch.h). Returns the batch count or a
 * negative SL_E* code with *kerr set. */
static int validate(const sl_log *log, const uint8_t *p, size_t len, bool crc_checked,
                    bool keep_epochs, int16_t *kerr)
{
        int n = 0;
        size_t off = 0;
        /* Follower path (batches keep their epochs): epochs may only grow, so
         * a stale one fails this buffer here rather than mid-write. */
        int32_t min_epoch = keep_epochs ? sl_log_latest_epoch(log) : INT32_MIN;
        if (len == 0) {
                *kerr = KP_ERR_CORRUPT_MESSAGE;
                return SL_EINVALID;
        }
        while (off < len) {
                size_t left = len - off;
                sl_batch_hdr h;
                if (left < SL_BATCH_HDR_BYTES) {
                        *kerr = KP_ERR_CORRUPT_MESSAGE;
                        return SL_EINVALID;
                }
                sl_batch_hdr_decode(p + off, &h);
                if (sl_batch_hdr_check(&h)) {
                        *kerr = KP_ERR_CORRUPT_MESSAGE;
                        return SL_EINVALID;
                }
                size_t size = 12 + (size_t)h.batch_len;
                if (size > left) {
                        *kerr = KP_ERR_CORRUPT_MESSAGE;
                        return SL_EINVALID;
                }
                if (size > (size_t)log->cfg.max_message_bytes) {
                        *kerr = KP_ERR_MESSAGE_TOO_LARGE;
                        return SL_ETOOLARGE;
                }
                if ((int64_t)size > log->cfg.segment_bytes - SL_SEG_HDR_BYTES - SL_SEAL_BYTES) {
                        *kerr = KP_ERR_RECORD_LIST_TOO_LARGE;
                        return SL_ETOOLARGE;
                }
                if (h.epoch < min_epoch) {
                        *kerr = KP_ERR_FENCED_LEADER_EPOCH;
                        return SL_ESTALE_EPOCH;
                }
                if (keep_epochs)
                        min_epoch = h.epoch;
                if (h.records != h.last_offset_delta + 1) {
                        *kerr = KP_ERR_INVALID_RECORD;
                        return SL_EINVALID;
                }
                if (!crc_checked && !sl_batch_crc_ok(p + off, size)) {
                        *kerr = KP_ERR_CORRUPT_MESSAGE;
                        return SL_EINVALID;
                }
                off += size;
                n++;
        }
        return n;
}

static bool roll_due(const sl_log *log, const sl_segment *act, int64_t size, int64_t last,
                     int64_t now_ms)
{
        if (act->sealed)
                return true;
        if (act->next_offset == act->base_offset)
                return false; /* never roll an empty segment */
        if (act->data_end + size > log->cfg.segment_bytes)
                return true;
        if (now_ms - act->created_ms >= log->cfg.segment_ms)
                return true;
        if ((int64_t)act->idx.on >= log->cfg.segment_index_bytes / SL_OIDX_BYTES)
                return true;
        /* Relative offsets are u32 in the index. */
        return last - act->base_offset > (int64_t)UINT32_MAX - 1;
}

/* Writes the pending vectors [*from, niov) at the active segment's pending
 * position. */
/* Block reservation ahead of the writes, 64 MiB at a time (Kafka's
 * file.preallocate, in steps): the filesystem allocates extents once instead of
 * on every write. KEEP_SIZE leaves the file size, which recovery relies on, alone;
 * the unused rest is released by the ftruncate at seal and close. Best effort:
 * an ENOSPC here shows up again, and latches, in the write itself. */
#define PREALLOC_STEP (64LL << 20)

static void preallocate(const sl_log *log, sl_segment *seg)
{
        if (seg->data_end <= seg->prealloc_end)
                return;
        int64_t cap = log->cfg.segment_bytes + SL_SEAL_BYTES;
        int64_t to = seg->prealloc_end + PREALLOC_STEP;
        if (to < seg->data_end)
                to = seg->data_end;
        if (to > cap)
                to = cap > seg->data_end ? cap : seg->data_end;
        int64_t from = seg->prealloc_end > seg->size ? seg->prealloc_end : seg->size;
        from = from < seg->data_end ? from : seg->data_end;
        if (sl_fileops_current->fallocate)
                sl_fileops_current->fallocate(seg->fd, from, to - from);
        seg->prealloc_end = to;
}

static int flush_pending(sl_log *log, sl_segment *seg, int from, int niov, int64_t at)
{
        if (niov == from)
                return 0;
        preallocate(log, seg);
        return sl_pwritev_full(seg->fd, log->iov + from, niov - from, at);
}

int sl_log_append_v(sl_log *log, sl_append_buf *bufs, int n, int32_t leader_epoch, int64_t now_ms,
                    sl_append_result *res)
{
        int first_err = 0, rc;
        if (log->fatal) {
                for (int i = 0; i < n; i++)
                        fail_res(&res[i], SL_EFATAL, KP_ERR_KAFKA_STORAGE_ERROR);
                return SL_EFATAL;
        }
        /* Validate everything first and size the iovec array (one per batch). */
        int total = 0;
        for (int i = 0; i < n; i++) {
                int16_t kerr = 0;
                rc = validate(log, bufs[i].p, bufs[i].len, bufs[i].crc_checked, leader_epoch < 0,
                              &kerr);
                if (rc < 0) {
                        fail_res(&res[i], rc, kerr);
                        if (!first_err)
                                first_err = rc;
                        continue;
                }
                res[i].err = 0;
                res[i].error_code = 0;
                total += rc;
        }
        if (total > log->iovcap) {
                uint32_t cap = (uint32_t)log->iovcap;
                rc = sl_grow((void **)&log->iov, &cap, (uint32_t)total, sizeof(*log->iov));
                if (rc < 0) {
                        for (int i = 0; i < n; i++)
                                if (res[i].err == 0)
                                        fail_res(&res[i], rc, KP_ERR_KAFKA_STORAGE_ERROR);
                        return rc;
                }
                log->iovcap = (int)cap;
        }

        sl_segment *act = log->segs[log->nsegs - 1];
        int niov = 0, pend_from = 0, pend_buf = 0;
        int64_t pend_at = act->data_end;
        for (int i = 0; i < n; i++) {
                if (res[i].err)
                        continue;
                uint8_t *p = bufs[i].p;
                size_t len = bufs[i].len, off = 0;
                res[i].base_offset = log->end_offset;
                res[i].log_append_time = log->cfg.log_append_time ? now_ms : -1;
                while (off < len) {
                        uint8_t *b = p + off;
                        sl_batch_hdr h;
                        sl_batch_hdr_decode(b, &h);
                        int64_t size = 12 + (int64_t)h.batch_len;
                        int64_t base = log->end_offset, last = base + h.last_offset_delta;
                        if (roll_due(log, act, size, last, now_ms)) {
                                rc = flush_pending(log, act, pend_from, niov, pend_at);
                                if (rc == 0)
                                        rc = sl_segment_roll(log, now_ms);
                                if (rc < 0)
                                        goto io_fail;
                                act = log->segs[log->nsegs - 1];
                                pend_from = niov;
                                pend_buf = i;
                                pend_at = act->data_end;
                        }
                        /* A new epoch is checkpointed before its first batch. */
                        int32_t epoch = leader_epoch >= 0 ? leader_epoch : h.epoch;
                        rc = sl_epoch_assign(log, epoch, base);
                        if (rc == SL_ESTALE_EPOCH && off == 0) {
                                fail_res(&res[i], rc, KP_ERR_FENCED_LEADER_EPOCH);
                                if (!first_err)
                                        first_err = rc;
                                break;
                        }
                        if (rc < 0)
                                goto io_fail; /* I/O: epochs within a buffer were validated */
                        /* Rewrites: offset and epoch are outside the CRC;
                         * LogAppendTime changes attributes and maxTimestamp, so
                         * the CRC is recomputed (ENCODING.md §3.8). */
                        sl_put64(b, (uint64_t)base);
                        sl_put32(b + 12, (uint32_t)epoch);
                        if (log->cfg.log_append_time) {
                                sl_put16(b + 21,
                                         (uint16_t)(h.attributes | SL_ATTR_LOG_APPEND_TIME));
                                sl_put64(b + 35, (uint64_t)now_ms);
                                h.max_ts = now_ms;
                                sl_batch_crc_store(b, (size_t)size);
                        }
                        rc = sl_index_note_batch(act, log->cfg.index_interval_bytes, base, last,
                                                 h.max_ts, act->data_end, size, &act->chain);
                        if (rc < 0)
                                goto io_fail;
                        sl_chain_next(&act->chain, b, (size_t)size, &act->chain);
                        act->data_end += size;
                        act->size = act->data_end;
                        act->next_offset = last + 1;
                        log->end_offset = last + 1;
                        log->iov[niov].iov_base = b;
                        log->iov[niov].iov_len = (size_t)size;
                        niov++;
                        log->appends++;
                        log->cache_unsent += size;
                        log->unflushed_msgs += h.records;
                        off += (size_t)size;
                }
                if (res[i].err == 0)
                        res[i].last_offset = log->end_offset - 1;
        }
        rc = flush_pending(log, act, pend_from, niov, pend_at);
        if (rc < 0)
                goto io_fail;
        if (log->unflushed_msgs > 0 && log->unflushed_since_ms < 0)
                log->unflushed_since_ms = now_ms;
        return first_err;

io_fail:
        /* The files no longer match memory: latch (LMDB's MDB_FATAL_ERROR) and
         * fail every buffer from the unwritten group on; reopen recovers. */
        sl_log_latch(log, rc);
        for (int i = pend_buf; i < n; i++)
                if (res[i].err == 0)
                        fail_res(&res[i], SL_EFATAL, KP_ERR_KAFKA_STORAGE_ERROR);
        return SL_EFATAL;
}

int sl_log_append(sl_log *log, uint8_t *batches, size_t len, int32_t leader_epoch, int64_t now_ms,
                  sl_append_result *res)
{
        sl_append_buf b = {batches, len, false};
        return sl_log_append_v(log, &b, 1, leader_epoch, now_ms, res);
}

int64_t sl_log_start_offset(const sl_log *log)
{
        return log->start_offset;
}

int64_t sl_log_end_offset(const sl_log *log)
{
        return log->end_offset;
}

int64_t sl_log_flushed_offset(const sl_log *log)
{
        return log->flushed_offset;
}

bool sl_log_failed(const sl_log *log)
{
        return log->fatal;
}

void sl_log_get_stats(const sl_log *log, sl_log_stats *st)
{
        st->segments = log->nsegs;
        st->size_bytes = 0;
        for (int i = 0; i < log->nsegs; i++)
                st->size_bytes += log->segs[i]->size;
        st->syncs = log->syncs;
        st->appends = log->appends;
        st->writeback_bytes = log->wb_bytes;
        st->dropped_bytes = log->dropped_bytes;
}

const char *sl_log_strerror(int err)
{
        switch (err) {
        case 0:
                return "success";
        case SL_ECORRUPT:
                return "log data fails a CRC, checksum or the chain";
        case SL_EFATAL:
                return "log latched after an I/O failure; reopen it";
        case SL_EINVALID:
                return "malformed record batch";
        case SL_ETOOLARGE:
                return "record batch too large";
        case SL_EOFFSET:
                return "offset out of range";
        case SL_ENOTFOUND:
                return "not found";
        case SL_ECONFIG:
                return "invalid log configuration";
        case SL_EPIN:
                return "bad pin";
        case SL_ESTALE_EPOCH:
                return "leader epoch older than the latest stored";
        default:
                return err < 0 && err > -4096 ? strerror(-err) : "unknown error";
        }
}
