/* storage/retention.c — removing the old end of the log: retention.ms and
 * retention.bytes delete whole segments, DeleteRecords advances the log start
 * offset (persisted in `log-start-offset`) and drops segments wholly below it,
 * and topic deletion removes the directory. Also live config changes.
 *
 * Order matters for crashes: the new log start offset is made durable before
 * any segment is unlinked, and a segment's .log goes before its indexes, so
 * open never sees data below the start offset or an index without its log
 * that it would trust. Pinned segments (a fetch's sendfile, a sync job) are
 * unlinked but keep their fd until the last unpin. */
#include "fileops_int.h"
#include "log_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define START_FILE "log-start-offset"

int sl_log_start_store(sl_log *log)
{
        char path[4096], tmp[4200], buf[32];
        snprintf(path, sizeof(path), "%s/%s", log->dir, START_FILE);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        int len = snprintf(buf, sizeof(buf), "%" PRId64 "\n", log->start_offset);
        const sl_fileops *ops = sl_fileops_current;
        int fd = ops->open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
                return fd;
        int rc = sl_pwrite_full(fd, buf, (size_t)len, 0);
        if (rc == 0)
                rc = ops->fdatasync(fd);
        ops->close(fd);
        if (rc == 0)
                rc = ops->rename(tmp, path);
        if (rc == 0 && log->dir_fd >= 0)
                rc = ops->fsync(log->dir_fd);
        return rc;
}

int sl_log_start_load(sl_log *log, int64_t *start)
{
        char path[4096], buf[32];
        snprintf(path, sizeof(path), "%s/%s", log->dir, START_FILE);
        int fd = sl_fileops_current->open(path, O_RDONLY, 0);
        if (fd < 0)
                return fd;
        ssize_t n = sl_pread_full(fd, buf, sizeof(buf) - 1, 0);
        sl_fileops_current->close(fd);
        if (n <= 0)
                return n < 0 ? (int)n : SL_ECORRUPT;
        buf[n] = 0;
        char *end;
        long long v = strtoll(buf, &end, 10);
        if (end == buf || *end != '\n' || v < 0)
                return SL_ECORRUPT;
        *start = v;
        return 0;
}

static int64_t wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drops the oldest segment after persisting the start offset past it. */
static int drop_oldest(sl_log *log)
{
        sl_segment *seg = log->segs[0];
        if (seg->next_offset > log->start_offset) {
                log->start_offset = seg->next_offset;
                int rc = sl_log_start_store(log);
                if (rc < 0)
                        return rc;
        }
        return sl_segment_delete(log, seg);
}

int sl_log_enforce_retention(sl_log *log, int64_t now_ms)
{
        if (log->fatal)
                return SL_EFATAL;
        int64_t total = 0;
        int deleted = 0;
        for (int i = 0; i < log->nsegs; i++)
                total += log->segs[i]->size;
        /* Never the active (last) segment: its end is where appends go. */
        while (log->nsegs > 1) {
                sl_segment *seg = log->segs[0];
                /* Kafka: a segment expires when its largest timestamp is older
                 * than retention.ms; without timestamps, its creation time. */
                int64_t ts = seg->max_ts >= 0 ? seg->max_ts : seg->created_ms;
                bool by_time = log->cfg.retention_ms >= 0 && now_ms - ts > log->cfg.retention_ms;
                bool by_size =
                    log->cfg.retention_bytes >= 0 && total - seg->size >= log->cfg.retention_bytes;
                if (!by_time && !by_size)
                        break;
                total -= seg->size;
                int rc = drop_oldest(log);
                if (rc < 0)
                        return rc;
                deleted++;
        }
        return deleted;
}

int sl_log_delete_records(sl_log *log, int64_t new_start_offset)
{
        if (log->fatal)
                return SL_EFATAL;
        if (new_start_offset > log->end_offset || new_start_offset < 0)
                return SL_EOFFSET;
        if (new_start_offset <= log->start_offset)
                return 0;
        log->start_offset = new_start_offset;
        int rc = sl_log_start_store(log);
        if (rc < 0)
                return rc;
        while (log->nsegs > 0 && log->segs[0]->next_offset <= new_start_offset) {
                if (log->nsegs == 1) {
                        /* Everything is below the start: start a fresh segment at
                         * the log end so the old one can go. */
                        if (log->segs[0]->next_offset == log->segs[0]->base_offset)
                                break;
                        rc = sl_segment_roll(log, wall_ms());
                        if (rc < 0)
                                return sl_log_latch(log, rc);
                }
                rc = sl_segment_delete(log, log->segs[0]);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

int sl_log_set_config(sl_log *log, const sl_log_config *cfg)
{
        int rc = sl_log_config_check(cfg);
        if (rc < 0)
                return rc;
        log->cfg = *cfg;
        return 0;
}

int sl_log_remove_dir(const char *dir)
{
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        struct dirent *e;
        char path[4096];
        int rc = 0;
        while ((e = readdir(d))) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (unlink(path) < 0 && !rc)
                        rc = -errno;
        }
        closedir(d);
        if (rmdir(dir) < 0 && !rc)
                rc = -errno;
        return rc;
}
