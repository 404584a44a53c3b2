/* storage/epoch.c — the leader-epoch cache: (epoch, start offset) pairs in
 * ascending order, kept in `leader-epoch-checkpoint` (Kafka's text format:
 * a version line "0", a count line, then "<epoch> <start_offset>" lines).
 *
 * It answers OffsetForLeaderEpoch (Raft/KIP-101 truncation) and lets verify
 * check each batch's partitionLeaderEpoch, the one batch field that neither
 * the CRC nor offset continuity covers, so a flipped epoch bit is located at
 * its batch. Rewritten (temp file, rename) only when a new epoch starts,
 * before the first batch of that epoch is written; its fdatasync and the
 * directory fsync ride on the log's next sync job (log_sync.c), so the owner
 * thread never waits on the disk for an epoch change. */
#include "fileops_int.h"
#include "log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EPOCH_FILE "leader-epoch-checkpoint"

int sl_epoch_parse_file(const char *path, sl_epoch_entry **out, int *n)
{
        *out = NULL;
        *n = 0;
        int fd = sl_fileops_current->open(path, O_RDONLY, 0);
        if (fd < 0)
                return fd;
        char buf[65536];
        ssize_t len = sl_pread_full(fd, buf, sizeof(buf) - 1, 0);
        sl_fileops_current->close(fd);
        if (len < 0)
                return (int)len;
        buf[len] = 0;
        char *p = buf, *end;
        long version = strtol(p, &end, 10);
        if (end == p || version != 0 || *end != '\n')
                return SL_ECORRUPT;
        p = end + 1;
        long count = strtol(p, &end, 10);
        if (end == p || count < 0 || count > 4096 || *end != '\n')
                return SL_ECORRUPT;
        p = end + 1;
        sl_epoch_entry *e = calloc((size_t)count + 1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        for (long i = 0; i < count; i++) {
                long long ep = strtoll(p, &end, 10);
                if (end == p || *end != ' ' || ep < 0 || ep > INT32_MAX)
                        goto bad;
                p = end + 1;
                long long off = strtoll(p, &end, 10);
                if (end == p || *end != '\n' || off < 0)
                        goto bad;
                p = end + 1;
                /* Epochs and start offsets strictly ascend. */
                if (i > 0 && (ep <= e[i - 1].epoch || off < e[i - 1].start_offset))
                        goto bad;
                e[i] = (sl_epoch_entry){(int32_t)ep, off};
        }
        if (*p != 0)
                goto bad;
        *out = e;
        *n = (int)count;
        return 0;
bad:
        free(e);
        return SL_ECORRUPT;
}

int sl_epoch_load(sl_log *log)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", log->dir, EPOCH_FILE);
        sl_epoch_entry *e;
        int n;
        int rc = sl_epoch_parse_file(path, &e, &n);
        if (rc < 0)
                return rc;
        free(log->epochs);
        log->epochs = e;
        log->nepochs = n;
        log->epochcap = n + 1;
        return 0;
}

int sl_epoch_store(sl_log *log, bool durable)
{
        char path[4096], tmp[4200];
        snprintf(path, sizeof(path), "%s/%s", log->dir, EPOCH_FILE);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        size_t cap = 32 + (size_t)log->nepochs * 34, len = 0;
        char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        len += (size_t)snprintf(buf, cap, "0\n%d\n", log->nepochs);
        for (int i = 0; i < log->nepochs; i++)
                len += (size_t)snprintf(buf + len, cap - len, "%" PRId32 " %" PRId64 "\n",
                                        log->epochs[i].epoch, log->epochs[i].start_offset);
        const sl_fileops *ops = sl_fileops_current;
        int rc, fd = ops->open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                free(buf);
                return fd;
        }
        rc = sl_pwrite_full(fd, buf, len, 0);
        free(buf);
        if (rc == 0 && durable)
                rc = ops->fdatasync(fd);
        if (rc == 0)
                rc = ops->rename(tmp, path);
        ops->close(fd);
        if (rc < 0)
                return rc;
        log->epoch_gen++;
        log->dir_gen++; /* the rename: the job's directory fsync covers it */
        if (!durable)
                return 0;
        if (log->dir_fd >= 0)
                rc = ops->fsync(log->dir_fd);
        if (rc == 0)
                log->epoch_synced_gen = log->epoch_gen;
        return rc;
}

int sl_epoch_open_for_sync(const sl_log *log)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", log->dir, EPOCH_FILE);
        return sl_fileops_current->open(path, O_RDONLY | O_CLOEXEC, 0);
}

int sl_epoch_assign(sl_log *log, int32_t epoch, int64_t offset)
{
        /* Unstamped (-1) batches are accepted only before any epoch exists, so
         * verify can hold every batch to the epoch cache. */
        if (epoch < 0)
                return log->nepochs > 0 ? SL_ESTALE_EPOCH : 0;
        if (log->nepochs > 0) {
                int32_t last = log->epochs[log->nepochs - 1].epoch;
                if (epoch == last)
                        return 0;
                if (epoch < last)
                        return SL_ESTALE_EPOCH;
        }
        uint32_t cap = (uint32_t)log->epochcap;
        int rc =
            sl_grow((void **)&log->epochs, &cap, (uint32_t)log->nepochs + 1, sizeof(*log->epochs));
        if (rc < 0)
                return rc;
        log->epochcap = (int)cap;
        log->epochs[log->nepochs++] = (sl_epoch_entry){epoch, offset};
        /* No sync on the owner thread: the batch this entry is for becomes
         * durable only through a sync job, and every job fdatasyncs a pending
         * checkpoint (and fsyncs the directory for its rename) before the
         * data. Data the kernel writes back earlier is not acknowledged; if a
         * crash leaves it behind a stale checkpoint, open rebuilds the cache
         * from the batch headers (recover.c). */
        rc = sl_epoch_store(log, false);
        if (rc < 0)
                log->nepochs--;
        return rc;
}

int sl_epoch_truncate(sl_log *log, int64_t end_offset)
{
        int n = log->nepochs;
        while (log->nepochs > 0 && log->epochs[log->nepochs - 1].start_offset >= end_offset)
                log->nepochs--;
        /* Durable at once (truncation is rare and off the append path): a
         * stale checkpoint naming truncated epochs could otherwise outlive
         * a crash and misplace a re-assigned epoch's start. */
        return n != log->nepochs ? sl_epoch_store(log, true) : 0;
}

int32_t sl_epoch_for_offset(const sl_epoch_entry *e, int n, int64_t offset)
{
        int lo = 0, hi = n;
        if (n == 0 || offset < e[0].start_offset)
                return -1;
        while (hi - lo > 1) {
                int mid = lo + (hi - lo) / 2;
                if (e[mid].start_offset <= offset)
                        lo = mid;
                else
                        hi = mid;
        }
        return e[lo].epoch;
}

const char *sl_epoch_scan_hook(void *arg, const sl_batch_hdr *h, int64_t pos,
                               const sl_chain *before)
{
        (void)pos;
        (void)before;
        sl_log *log = arg;
        if (h->epoch >= 0 &&
            (log->nepochs == 0 || h->epoch > log->epochs[log->nepochs - 1].epoch)) {
                uint32_t cap = (uint32_t)log->epochcap;
                if (sl_grow((void **)&log->epochs, &cap, (uint32_t)log->nepochs + 1,
                            sizeof(*log->epochs)) < 0)
                        return "out of memory";
                log->epochcap = (int)cap;
                log->epochs[log->nepochs++] = (sl_epoch_entry){h->epoch, h->base_offset};
        }
        return NULL;
}

int sl_epoch_rebuild(sl_log *log)
{
        log->nepochs = 0;
        for (int i = 0; i < log->nsegs; i++) {
                sl_segment *seg = log->segs[i];
                sl_scan s = {.fd = seg->fd,
                             .pos = SL_SEG_HDR_BYTES,
                             .file_size = seg->size,
                             .next_offset = seg->base_offset,
                             .chain = seg->prev_chain,
                             .allow_seal = true,
                             .max_ts = -1,
                             .max_ts_offset = -1,
                             .on_batch = sl_epoch_scan_hook,
                             .arg = log};
                int rc = sl_scan_run(&s);
                if (rc < 0)
                        return rc;
        }
        /* Made durable by the sync at the end of open. */
        return sl_epoch_store(log, false);
}

int32_t sl_log_latest_epoch(const sl_log *log)
{
        return log->nepochs ? log->epochs[log->nepochs - 1].epoch : -1;
}

int sl_log_end_offset_for_epoch(sl_log *log, int32_t epoch, int32_t *found_epoch,
                                int64_t *end_offset)
{
        /* Kafka's LeaderEpochFileCache.endOffsetFor: the largest epoch <= the
         * requested one, ending where the next epoch starts (or the log end). */
        int i = log->nepochs - 1;
        while (i >= 0 && log->epochs[i].epoch > epoch)
                i--;
        if (i < 0)
                return SL_ENOTFOUND;
        *found_epoch = log->epochs[i].epoch;
        *end_offset = i + 1 < log->nepochs ? log->epochs[i + 1].start_offset : log->end_offset;
        return 0;
}
