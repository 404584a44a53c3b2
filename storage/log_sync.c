/* storage/log_sync.c — group commit: one fdatasync per file covers every byte
 * appended to it since the previous sync, and the flushed offset (what
 * acks=-1 completions wait for) advances only after it succeeded.
 *
 * Split in three so the owner shard never blocks on the disk: prepare (owner)
 * captures fds, sizes and the covered offset and pins the segments; run (any
 * thread) does only the syscalls; complete (owner) publishes the result. A
 * failed fdatasync latches the log: the kernel may have dropped the dirty
 * pages, so retrying would report success for lost data (the 2018 "fsyncgate"
 * PostgreSQL lesson). Appends then fail with KAFKA_STORAGE_ERROR until reopen.
 * A job may also carry page-cache work (log_cache.c): writeback started and
 * written-back ranges dropped; a failed sync_file_range latches too, since it
 * consumes the file's writeback error that a later fdatasync would report.
 * A leader-epoch checkpoint rewritten since the last job (epoch.c) is synced
 * by the job too, before the directory and the data, so an epoch change costs
 * the owner no disk wait and no new epoch's data is durable before its entry.
 * Run and complete come whole or in two steps (durable, then page cache), so
 * a caller can answer acks=-1 waiters before the page-cache work is done.
 * Jobs may overlap: one prepared while an earlier one runs syncs the same
 * files again and covers more. Completion only ever raises the flushed offset
 * and synced sizes, and a latched log believes no success, so a caller that
 * completes overlapping jobs in prepare order never publishes more than a
 * finished fdatasync covered (broker/partition_ops.h, group commit). */
#include "fileops_int.h"
#include "log_int.h"

#include <errno.h>
#include <string.h>

int sl_log_sync_prepare(sl_log *log, sl_sync_job *job)
{
        memset(job, 0, sizeof(*job));
        job->dir_fd = -1;
        if (log->fatal)
                return SL_EFATAL;
        /* Dirty segments are the newest ones; find the oldest dirty one. A
         * clean active segment does not end the search: the completion that
         * made it clean may just have written seals on the segments before
         * it, and those must become durable too. */
        int first = log->nsegs;
        int i = log->nsegs - 1;
        if (i >= 0 && log->segs[i]->synced_size >= log->segs[i]->size)
                i--;
        for (; i >= 0 && log->segs[i]->synced_size < log->segs[i]->size; i--)
                first = i;
        bool epoch_due = log->epoch_synced_gen != log->epoch_gen;
        if (first == log->nsegs && log->dir_synced_gen == log->dir_gen && !epoch_due) {
                log->flushed_offset = log->end_offset; /* e.g. after open */
                return 0;
        }
        /* A rewritten leader-epoch checkpoint (epoch.c) goes first: the data
         * of a new epoch must not be durable before the file naming it. The
         * job opens the current file (a path lookup, no disk wait). */
        if (epoch_due) {
                int fd = sl_epoch_open_for_sync(log);
                if (fd < 0)
                        return sl_log_latch(log, fd);
                job->fds[0] = fd;
                job->sizes[0] = (int64_t)log->epoch_gen;
                job->segs[0] = NULL; /* marks the checkpoint slot */
                job->nfiles = 1;
        }
        int last = log->nsegs - 1;
        if (last - first + 1 > SL_SYNC_MAX_FILES - job->nfiles)
                last = first + SL_SYNC_MAX_FILES - job->nfiles - 1;
        for (int i = first; i <= last; i++) {
                sl_segment *seg = log->segs[i];
                if (seg->synced_size >= seg->size)
                        continue;
                job->fds[job->nfiles] = seg->fd;
                job->sizes[job->nfiles] = seg->size;
                job->segs[job->nfiles] = seg;
                job->nfiles++;
                seg->refs++;
        }
        /* A job covering fewer than all dirty files covers offsets only up to
         * the last one it syncs. */
        job->offset = last == log->nsegs - 1 ? log->end_offset : log->segs[last]->next_offset;
        if (log->dir_synced_gen != log->dir_gen) {
                job->dir_fd = log->dir_fd;
                job->dir_gen = log->dir_gen;
        }
        job->messages = log->unflushed_msgs;
        job->trunc_gen = log->trunc_gen;
        job->durable = true;
        if (last == log->nsegs - 1) {
                log->unflushed_msgs = 0;
                log->unflushed_since_ms = -1;
        }
        if (sl_log_cache_due(log))
                sl_log_cache_fill(log, job);
        return 1;
}

int sl_sync_job_run_durable(const sl_sync_job *job)
{
        /* Order: the epoch checkpoint (slot 0 when present), then the
         * directory (its rename, new segment files), then the data. */
        int i = 0;
        if (job->nfiles > 0 && job->segs[0] == NULL) {
                int rc = sl_fileops_current->fdatasync(job->fds[0]);
                if (rc < 0)
                        return rc;
                i = 1;
        }
        if (job->dir_fd >= 0) {
                int rc = sl_fileops_current->fsync(job->dir_fd);
                if (rc < 0)
                        return rc;
        }
        for (; i < job->nfiles; i++) {
                int rc = sl_fileops_current->fdatasync(job->fds[i]);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

int sl_sync_job_run_cache(const sl_sync_job *job)
{
        for (int i = 0; i < job->nwb; i++) {
                const sl_cache_range *r = &job->wb[i];
                int rc = sl_fileops_current->sync_range(r->fd, r->off, r->len, false);
                if (rc < 0)
                        return rc;
        }
        for (int i = 0; i < job->ndrop; i++) {
                const sl_cache_range *r = &job->drop[i];
                /* Only what is written back is dropped: wait for it first. */
                int rc = sl_fileops_current->sync_range(r->fd, r->off, r->len, true);
                if (rc < 0)
                        return rc;
                /* A hint: failing leaves pages cached, nothing else. */
                (void)sl_fileops_current->drop_cache(r->fd, r->off, r->len);
        }
        return 0;
}

int sl_sync_job_run(const sl_sync_job *job)
{
        int rc = sl_sync_job_run_durable(job);
        return rc < 0 ? rc : sl_sync_job_run_cache(job);
}

int sl_log_sync_complete_durable(sl_log *log, sl_sync_job *job, int rc)
{
        uint64_t epoch_gen = 0;
        for (int i = 0; i < job->nfiles; i++) {
                sl_segment *seg = job->segs[i];
                if (!seg) {
                        /* The checkpoint slot: the job's own descriptor. */
                        epoch_gen = (uint64_t)job->sizes[i];
                        sl_fileops_current->close(job->fds[i]);
                        continue;
                }
                /* A latched log believes no later success: an earlier
                 * overlapping fdatasync on the same file may have taken the
                 * writeback error this one would have reported. */
                if (rc == 0 && !log->fatal && job->trunc_gen == log->trunc_gen &&
                    job->sizes[i] > seg->synced_size) {
                        seg->synced_size = job->sizes[i];
                        /* Index entries for what is now durable go to the
                         * index files, in bulk (never fsynced: rebuildable). */
                        sl_segment_flush_index(log, seg);
                }
                sl_segment_unpin(log, seg);
        }
        job->nfiles = 0;
        if (rc < 0)
                return sl_log_latch(log, rc);
        if (log->fatal)
                return SL_EFATAL;
        if (!job->durable)
                return 0; /* page-cache work only */
        if (job->dir_fd >= 0 && job->dir_gen > log->dir_synced_gen)
                log->dir_synced_gen = job->dir_gen;
        if (epoch_gen > log->epoch_synced_gen)
                log->epoch_synced_gen = epoch_gen;
        /* A truncation since prepare may have reused the offsets the job
         * covered for bytes it never saw: then it proves nothing. */
        if (job->trunc_gen == log->trunc_gen && job->offset > log->flushed_offset)
                log->flushed_offset = job->offset;
        log->syncs++;
        /* Rolled segments whose data just became durable get their seal now;
         * the next job makes the seal durable too. */
        int src = sl_segment_write_due_seals(log);
        if (src < 0)
                return sl_log_latch(log, src);
        return 0;
}

int sl_log_sync_complete_cache(sl_log *log, sl_sync_job *job, int rc)
{
        sl_log_cache_complete(log, job, rc);
        if (rc < 0)
                return sl_log_latch(log, rc);
        return log->fatal ? SL_EFATAL : 0;
}

int sl_log_sync_complete(sl_log *log, sl_sync_job *job, int rc)
{
        /* One result for both steps: a failure of either latches. */
        int drc = sl_log_sync_complete_durable(log, job, rc);
        int crc = sl_log_sync_complete_cache(log, job, rc);
        return drc < 0 ? drc : crc;
}

int sl_log_sync(sl_log *log)
{
        /* Until nothing is dirty: a completion may write seals to sync. */
        for (;;) {
                sl_sync_job job;
                int rc = sl_log_sync_prepare(log, &job);
                if (rc <= 0)
                        return rc;
                rc = sl_log_sync_complete(log, &job, sl_sync_job_run(&job));
                if (rc < 0)
                        return rc;
        }
}

bool sl_log_sync_due(const sl_log *log, int64_t now_ms)
{
        if (log->fatal || log->unflushed_msgs == 0)
                return false;
        if (log->cfg.flush_messages > 0 && log->unflushed_msgs >= log->cfg.flush_messages)
                return true;
        return log->cfg.flush_ms >= 0 && log->unflushed_since_ms >= 0 &&
               now_ms - log->unflushed_since_ms >= log->cfg.flush_ms;
}
