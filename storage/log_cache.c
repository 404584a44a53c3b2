/* storage/log_cache.c — write-behind and drop-behind: which byte ranges of a
 * partition's segments a sync job starts writing back, and which (written
 * back, older than the retained tail) it drops from the page cache.
 *
 * Why: on a VM whose hypervisor takes free guest memory back (virtio_balloon
 * free page reporting), every page the page cache grows into is a first touch
 * for the host, and writing new data cost 1.5-2.5 CPU-s/GB here, against about
 * 0.25 into recycled pages. Starting writeback every writeback_bytes appended
 * (sync_file_range WRITE, no wait) and dropping written-back data more than
 * cache_retain_bytes behind the log end (DONTNEED) lets the kernel hand the
 * same warm pages to the next appends. It also bounds each log's dirty data,
 * so an acks=-1 fdatasync does not wait behind gigabytes of writeback.
 * Ranges are chosen here on the owner thread; the syscalls run in
 * sl_sync_job_run (log_sync.c), which waits for a range to be written back
 * before dropping it, so no unsynced byte is ever dropped. */
#include "log_int.h"

#include <string.h>

#define CACHE_PAGE 4096
/* Work is due every this many appended bytes when write-behind is off but
 * drop-behind is on. */
#define CACHE_TRIGGER_DEFAULT (8LL << 20)

static int64_t trigger_bytes(const sl_log *log)
{
        return log->cfg.writeback_bytes > 0 ? log->cfg.writeback_bytes : CACHE_TRIGGER_DEFAULT;
}

bool sl_log_cache_due(const sl_log *log)
{
        if (log->fatal || log->cache_busy)
                return false;
        if (log->cfg.writeback_bytes <= 0 && log->cfg.cache_retain_bytes <= 0)
                return false;
        return log->cache_unsent >= trigger_bytes(log);
}

static void add_range(sl_cache_range *r, int *n, sl_segment *seg, int64_t off, int64_t end)
{
        if (*n >= SL_CACHE_MAX_RANGES || end <= off)
                return;
        r[*n] = (sl_cache_range){.fd = seg->fd, .off = off, .len = end - off, .seg = seg};
        (*n)++;
        seg->refs++;
}

/* Write-behind: the newest segments' bytes whose writeback was not started.
 * The active segment's last partial page is left for later: writing it back
 * now could make the next append to that page wait for the I/O (stable
 * pages). */
static void fill_writeback(sl_log *log, sl_sync_job *job)
{
        int first = log->nsegs;
        while (first > 0 && log->nsegs - first < SL_CACHE_MAX_RANGES) {
                const sl_segment *s = log->segs[first - 1];
                int64_t done = s->wb_size > s->dropped_size ? s->wb_size : s->dropped_size;
                if (done >= s->size)
                        break;
                first--;
        }
        for (int i = first; i < log->nsegs; i++) {
                sl_segment *seg = log->segs[i];
                int64_t from = seg->wb_size > seg->dropped_size ? seg->wb_size : seg->dropped_size;
                int64_t end = seg->size;
                if (i == log->nsegs - 1)
                        end &= ~(int64_t)(CACHE_PAGE - 1);
                add_range(job->wb, &job->nwb, seg, from, end);
        }
}

/* Drop-behind: whole segments older than the retained tail, oldest first,
 * then the part of the segment holding the tail's start, in steps of at
 * least the trigger size. */
static void fill_drop(sl_log *log, sl_sync_job *job)
{
        int64_t retain = log->cfg.cache_retain_bytes;
        int64_t tail = 0; /* bytes of the segments after the one looked at */
        int boundary = -1;
        int64_t cut = 0;
        /* The oldest SL_CACHE_MAX_RANGES - 1 candidates met walking back (a
         * ring), so jobs work from the oldest data up and a walk can stop at
         * the first segment already dropped. */
        int ring[SL_CACHE_MAX_RANGES - 1];
        int nring = 0, ringpos = 0;
        for (int i = log->nsegs - 1; i >= 0; i--) {
                const sl_segment *s = log->segs[i];
                if (tail >= retain) {
                        if (s->dropped_size >= s->data_end)
                                break; /* this one and the older ones are done */
                        ring[ringpos] = i;
                        ringpos = (ringpos + 1) % (SL_CACHE_MAX_RANGES - 1);
                        if (nring < SL_CACHE_MAX_RANGES - 1)
                                nring++;
                } else if (tail + s->size > retain) {
                        boundary = i;
                        cut = (s->size - (retain - tail)) & ~(int64_t)(CACHE_PAGE - 1);
                }
                tail += s->size;
        }
        /* Oldest first: the ring's oldest entry is the last one written. */
        for (int k = 0; k < nring; k++) {
                int idx = ring[(ringpos - 1 - k + 2 * (SL_CACHE_MAX_RANGES - 1)) %
                               (SL_CACHE_MAX_RANGES - 1)];
                sl_segment *seg = log->segs[idx];
                add_range(job->drop, &job->ndrop, seg, seg->dropped_size, seg->size);
        }
        if (boundary >= 0) {
                sl_segment *seg = log->segs[boundary];
                if (cut - seg->dropped_size >= trigger_bytes(log))
                        add_range(job->drop, &job->ndrop, seg, seg->dropped_size, cut);
        }
}

void sl_log_cache_fill(sl_log *log, sl_sync_job *job)
{
        job->nwb = job->ndrop = 0;
        job->cache = false;
        if (log->fatal || log->cache_busy || log->nsegs == 0)
                return;
        if (log->cache_trunc_gen != log->trunc_gen) {
                /* A truncation cut the active segment (and deleted the ones
                 * after it): appends reuse the positions, start it over. */
                sl_segment *act = log->segs[log->nsegs - 1];
                act->wb_size = act->dropped_size = 0;
                log->cache_trunc_gen = log->trunc_gen;
        }
        log->cache_unsent = 0;
        if (log->cfg.writeback_bytes > 0)
                fill_writeback(log, job);
        if (log->cfg.cache_retain_bytes > 0)
                fill_drop(log, job);
        if (job->nwb || job->ndrop) {
                job->cache = true;
                log->cache_busy = true;
        }
}

int sl_log_cache_prepare(sl_log *log, sl_sync_job *job)
{
        memset(job, 0, sizeof(*job));
        job->dir_fd = -1;
        if (log->fatal)
                return SL_EFATAL;
        if (!sl_log_cache_due(log))
                return 0;
        job->trunc_gen = log->trunc_gen;
        job->offset = -1;
        sl_log_cache_fill(log, job);
        return job->cache ? 1 : 0;
}

void sl_log_cache_complete(sl_log *log, sl_sync_job *job, int rc)
{
        /* A truncation since prepare may have rewritten the ranges' bytes:
         * the work proves nothing about them then (dropping clean pages
         * never loses data either way). */
        bool ok = rc == 0 && job->trunc_gen == log->trunc_gen;
        for (int i = 0; i < job->nwb; i++) {
                sl_cache_range *r = &job->wb[i];
                sl_segment *seg = r->seg;
                if (ok && r->off + r->len > seg->wb_size) {
                        seg->wb_size = r->off + r->len;
                        log->wb_bytes += r->len;
                }
                sl_segment_unpin(log, seg);
        }
        for (int i = 0; i < job->ndrop; i++) {
                sl_cache_range *r = &job->drop[i];
                sl_segment *seg = r->seg;
                if (ok && r->off + r->len > seg->dropped_size) {
                        seg->dropped_size = r->off + r->len;
                        log->dropped_bytes += r->len;
                }
                sl_segment_unpin(log, seg);
        }
        job->nwb = job->ndrop = 0;
        if (job->cache)
                log->cache_busy = false;
        job->cache = false;
}
