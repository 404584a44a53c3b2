/* storage/segment.c — segment files: create, seal, roll, delete, pin, and the
 * in-memory sparse offset/time index each segment keeps.
 *
 * Index entries are added in memory as batches are appended (no syscall per
 * batch) and written to <base>.index / <base>.timeindex in bulk by
 * sl_segment_flush_index (at sync completion, roll and close). The index files
 * are never fsynced: recovery checks them and rebuilds what is missing from
 * the log itself. */
#include "fileops_int.h"
#include "log_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

int sl_grow(void **arr, uint32_t *cap, uint32_t need, size_t sz)
{
        if (need <= *cap)
                return 0;
        uint32_t ncap = *cap ? *cap : 64;
        while (ncap < need) {
                if (ncap > UINT32_MAX / 2)
                        return -ENOMEM;
                ncap *= 2;
        }
        void *p = realloc(*arr, (size_t)ncap * sz);
        if (!p)
                return -ENOMEM;
        *arr = p;
        *cap = ncap;
        return 0;
}

void sl_log_path(const sl_log *log, char *buf, size_t cap, int64_t base, const char *ext)
{
        char name[64];
        sl_seg_name(name, sizeof(name), base, ext);
        snprintf(buf, cap, "%s/%s", log->dir, name);
}

static int open_index_files(sl_log *log, sl_segment *seg, int extra_flags)
{
        char path[4096];
        const sl_fileops *ops = sl_fileops_current;
        if (seg->idx.ofd < 0) {
                sl_log_path(log, path, sizeof(path), seg->base_offset, "index");
                int fd = ops->open(path, O_RDWR | O_CREAT | extra_flags, 0644);
                if (fd < 0)
                        return fd;
                seg->idx.ofd = fd;
        }
        if (seg->idx.tfd < 0) {
                sl_log_path(log, path, sizeof(path), seg->base_offset, "timeindex");
                int fd = ops->open(path, O_RDWR | O_CREAT | extra_flags, 0644);
                if (fd < 0)
                        return fd;
                seg->idx.tfd = fd;
        }
        return 0;
}

static void close_index_files(sl_segment *seg)
{
        if (seg->idx.ofd >= 0)
                sl_fileops_current->close(seg->idx.ofd);
        if (seg->idx.tfd >= 0)
                sl_fileops_current->close(seg->idx.tfd);
        seg->idx.ofd = seg->idx.tfd = -1;
}

void sl_segment_close_index(sl_segment *seg)
{
        close_index_files(seg);
}

int sl_segment_create(sl_log *log, int64_t base, const sl_chain *prev, int64_t now_ms,
                      sl_segment **out)
{
        char path[4096];
        int rc;
        sl_segment *seg = calloc(1, sizeof(*seg));
        if (!seg)
                return -ENOMEM;
        seg->fd = seg->idx.ofd = seg->idx.tfd = -1;
        seg->base_offset = seg->next_offset = base;
        seg->prev_chain = seg->chain = *prev;
        seg->created_ms = now_ms;
        seg->max_ts = seg->max_ts_offset = -1;
        seg->idx.loaded = true;

        sl_log_path(log, path, sizeof(path), base, "log");
        seg->fd = sl_fileops_current->open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (seg->fd < 0) {
                rc = seg->fd;
                goto fail_free;
        }
        uint8_t hdr[SL_SEG_HDR_BYTES];
        sl_seg_hdr h = {.base_offset = base, .prev_chain = *prev, .created_ms = now_ms};
        sl_seg_hdr_encode(hdr, &h);
        rc = sl_pwrite_full(seg->fd, hdr, sizeof(hdr), 0);
        if (rc < 0)
                goto fail_close;
        rc = open_index_files(log, seg, O_TRUNC);
        if (rc < 0)
                goto fail_close;
        seg->size = seg->data_end = SL_SEG_HDR_BYTES;
        log->dir_gen++;
        *out = seg;
        return 0;

fail_close:
        close_index_files(seg);
        sl_fileops_current->close(seg->fd);
        sl_fileops_current->unlink(path);
fail_free:
        free(seg);
        return rc;
}

static int write_entries(int fd, const void *entries, uint32_t from, uint32_t to, size_t esz,
                         bool time_index)
{
        uint8_t buf[256 * SL_OIDX_BYTES];
        uint32_t per = (uint32_t)(sizeof(buf) / esz);
        while (from < to) {
                uint32_t n = to - from < per ? to - from : per;
                for (uint32_t i = 0; i < n; i++) {
                        if (time_index)
                                sl_tidx_encode(buf + i * esz,
                                               (const sl_tidx_entry *)entries + from + i);
                        else
                                sl_oidx_encode(buf + i * esz,
                                               (const sl_oidx_entry *)entries + from + i);
                }
                int rc = sl_pwrite_full(fd, buf, n * esz, (int64_t)from * (int64_t)esz);
                if (rc < 0)
                        return rc;
                from += n;
        }
        return 0;
}

int sl_segment_flush_index(sl_log *log, sl_segment *seg)
{
        sl_index *x = &seg->idx;
        if (!x->loaded || seg->deleted)
                return 0;
        /* Only entries for durable bytes reach the file: recovery restarts
         * at the last entry that points at its batch, so an entry past a
         * hole of lost unsynced bytes would make it skip the hole. */
        uint32_t on = x->on, tn = x->tn;
        while (on > x->o_persisted && (int64_t)x->oe[on - 1].pos >= seg->synced_size)
                on--;
        if (on < x->on)
                while (tn > x->t_persisted && x->te[tn - 1].rel_offset >= x->oe[on].rel_offset)
                        tn--;
        if (on == x->o_persisted && tn == x->t_persisted)
                return 0;
        int rc = open_index_files(log, seg, 0);
        if (rc < 0)
                return rc;
        rc = write_entries(x->ofd, x->oe, x->o_persisted, on, SL_OIDX_BYTES, false);
        if (rc < 0)
                return rc;
        x->o_persisted = on;
        rc = write_entries(x->tfd, x->te, x->t_persisted, tn, SL_TIDX_BYTES, true);
        if (rc < 0)
                return rc;
        x->t_persisted = tn;
        if (seg->sealed && on == x->on && tn == x->tn)
                close_index_files(seg);
        return 0;
}

int sl_segment_seal(sl_log *log, sl_segment *seg)
{
        (void)log;
        uint8_t buf[SL_SEAL_BYTES];
        sl_seal s = {.chain = seg->chain,
                     .last_offset = seg->next_offset - 1,
                     .max_ts = seg->max_ts,
                     .max_ts_offset = seg->max_ts_offset};
        sl_seal_encode(buf, &s);
        int rc = sl_pwrite_full(seg->fd, buf, sizeof(buf), seg->data_end);
        if (rc < 0)
                return rc;
        seg->size = seg->data_end + SL_SEAL_BYTES;
        seg->sealed = true;
        seg->seal_written = true;
        /* Release blocks preallocated past the end (log_append.c). */
        if (seg->prealloc_end > seg->size) {
                rc = sl_fileops_current->ftruncate(seg->fd, seg->size);
                seg->prealloc_end = seg->size;
        }
        return rc;
}

int sl_segment_write_due_seals(sl_log *log)
{
        /* Pending seals are on the newest sealed segments only. */
        for (int i = log->nsegs - 1; i >= 0; i--) {
                sl_segment *seg = log->segs[i];
                if (!seg->sealed)
                        continue;
                if (seg->seal_written)
                        break;
                if (seg->synced_size >= seg->data_end) {
                        int rc = sl_segment_seal(log, seg);
                        if (rc < 0)
                                return rc;
                }
        }
        return 0;
}

int sl_segment_roll(sl_log *log, int64_t now_ms)
{
        sl_segment *act = log->segs[log->nsegs - 1];
        int rc;
        if (!act->sealed) {
                /* No more appends here. The seal itself is written only
                 * once the data before it is durable (sync completion), so
                 * a seal on disk always vouches for durable bytes and open
                 * can trust sealed segments without scanning them. */
                act->sealed = true;
                rc = sl_segment_flush_index(log, act);
                close_index_files(act);
                if (rc < 0)
                        return rc;
                rc = sl_segment_write_due_seals(log);
                if (rc < 0)
                        return rc;
        }
        if (log->nsegs == log->segcap) {
                uint32_t cap = (uint32_t)log->segcap;
                rc = sl_grow((void **)&log->segs, &cap, cap + 1, sizeof(*log->segs));
                if (rc < 0)
                        return rc;
                log->segcap = (int)cap;
        }
        sl_segment *seg;
        rc = sl_segment_create(log, log->end_offset, &act->chain, now_ms, &seg);
        if (rc < 0)
                return rc;
        log->segs[log->nsegs++] = seg;
        return 0;
}

void sl_segment_free(sl_segment *seg)
{
        if (!seg)
                return;
        close_index_files(seg);
        if (seg->fd >= 0)
                sl_fileops_current->close(seg->fd);
        free(seg->idx.oe);
        free(seg->idx.te);
        free(seg);
}

int sl_segment_delete(sl_log *log, sl_segment *seg)
{
        char path[4096];
        int rc = 0, r;
        const char *exts[] = {"log", "index", "timeindex"};
        /* The log first: an orphaned index is dropped at open, an orphaned log
         * would be read as data. */
        for (int i = 0; i < 3; i++) {
                sl_log_path(log, path, sizeof(path), seg->base_offset, exts[i]);
                r = sl_fileops_current->unlink(path);
                if (r < 0 && r != -ENOENT && !rc)
                        rc = r;
        }
        log->dir_gen++;
        for (int i = 0; i < log->nsegs; i++) {
                if (log->segs[i] == seg) {
                        memmove(&log->segs[i], &log->segs[i + 1],
                                (size_t)(log->nsegs - i - 1) * sizeof(*log->segs));
                        log->nsegs--;
                        break;
                }
        }
        seg->deleted = true;
        close_index_files(seg);
        if (seg->refs == 0) {
                sl_segment_free(seg);
                return rc;
        }
        /* Pinned by a fetch's sendfile or a sync job: keep the fd until unpinned. */
        uint32_t cap = (uint32_t)log->zombiecap;
        r = sl_grow((void **)&log->zombies, &cap, (uint32_t)log->nzombies + 1,
                    sizeof(*log->zombies));
        if (r < 0)
                return r; /* leaks one fd until close; never frees a pinned segment */
        log->zombiecap = (int)cap;
        log->zombies[log->nzombies++] = seg;
        return rc;
}

void sl_segment_unpin(sl_log *log, sl_segment *seg)
{
        if (--seg->refs > 0 || !seg->deleted)
                return;
        for (int i = 0; i < log->nzombies; i++) {
                if (log->zombies[i] == seg) {
                        log->zombies[i] = log->zombies[--log->nzombies];
                        break;
                }
        }
        sl_segment_free(seg);
}

int sl_index_note_batch(sl_segment *seg, int64_t interval, int64_t base_offset, int64_t last_offset,
                        int64_t max_ts, int64_t pos, int64_t size, const sl_chain *chain_before)
{
        sl_index *x = &seg->idx;
        bool add = x->on == 0 || x->bytes_since >= interval;
        if (add) {
                int rc = sl_grow((void **)&x->oe, &x->ocap, x->on + 1, sizeof(*x->oe));
                if (rc < 0)
                        return rc;
                sl_oidx_entry *e = &x->oe[x->on++];
                e->rel_offset = (uint32_t)(base_offset - seg->base_offset);
                e->pos = (uint32_t)pos;
                e->chain = *chain_before;
                e->max_ts_before = seg->max_ts;
                e->max_ts_rel =
                    seg->max_ts < 0 ? 0 : (uint32_t)(seg->max_ts_offset - seg->base_offset);
                x->bytes_since = 0;
        }
        if (max_ts > seg->max_ts) {
                seg->max_ts = max_ts;
                seg->max_ts_offset = last_offset;
        }
        if (add && seg->max_ts >= 0 && (x->tn == 0 || seg->max_ts > x->te[x->tn - 1].ts)) {
                int rc = sl_grow((void **)&x->te, &x->tcap, x->tn + 1, sizeof(*x->te));
                if (rc < 0)
                        return rc;
                x->te[x->tn].ts = seg->max_ts;
                x->te[x->tn].rel_offset = (uint32_t)(seg->max_ts_offset - seg->base_offset);
                x->tn++;
        }
        x->bytes_since += size;
        return 0;
}

const sl_oidx_entry *sl_index_floor(const sl_segment *seg, int64_t offset)
{
        const sl_index *x = &seg->idx;
        if (x->on == 0)
                return NULL;
        int64_t rel = offset - seg->base_offset;
        if (rel < 0)
                return &x->oe[0];
        /* Binary search: last entry with rel_offset <= rel. */
        uint32_t lo = 0, hi = x->on;
        while (hi - lo > 1) {
                uint32_t mid = lo + (hi - lo) / 2;
                if ((int64_t)x->oe[mid].rel_offset <= rel)
                        lo = mid;
                else
                        hi = mid;
        }
        return &x->oe[lo];
}

int sl_log_find_segment(const sl_log *log, int64_t offset)
{
        int lo = 0, hi = log->nsegs;
        if (hi == 0 || offset < log->segs[0]->base_offset)
                return -1;
        while (hi - lo > 1) {
                int mid = lo + (hi - lo) / 2;
                if (log->segs[mid]->base_offset <= offset)
                        lo = mid;
                else
                        hi = mid;
        }
        return lo;
}
