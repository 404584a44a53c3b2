/* storage/cleaner_swap.c — putting cleaned segments in place of the ones they
 * replace, crash-safely, and finishing an interrupted swap at open.
 *
 * Kafka's .cleaned/.swap protocol. The run step left `<base>.log.cleaned`
 * (fdatasync'd) and its index files. The swap (owner thread):
 *   1. rename index, timeindex, then log `.cleaned` -> `.swap`; fsync the
 *      directory. A durable `<base>.log.swap` is the commit point: from here
 *      recovery finishes the swap, before it recovery deletes `.cleaned`.
 *   2. delete the replaced segments (log first, then indexes; a segment pinned
 *      by a fetch's sendfile or a sync job keeps its fd until unpinned);
 *   3. rename index, timeindex, then log `.swap` -> final name; fsync the
 *      directory; the new segment joins the log.
 * Open pass 0 (sl_clean_finish_swaps): unlink `*.cleaned`; for each
 * `<base>.log.swap` read its seal (its end offset), delete every segment whose
 * base lies in [base, end), rename the swap files into place; unlink index
 * `.swap` files whose log is not there (already renamed ones are rebuilt). */
#include "cleaner_int.h"
#include "fileops_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

static const char *const EXT[3] = {"index", "timeindex", "log"}; /* the log last */

static int rename_ext(const char *dir, int64_t base, const char *from, const char *to)
{
        char a[4200], b[4200];
        int rc = 0;
        for (int f = 0; f < 3 && rc == 0; f++) {
                char ea[32], eb[32];
                snprintf(ea, sizeof(ea), "%s%s", EXT[f], from);
                snprintf(eb, sizeof(eb), "%s%s", EXT[f], to);
                char na[64], nb[64];
                sl_seg_name(na, sizeof(na), base, ea);
                sl_seg_name(nb, sizeof(nb), base, eb);
                snprintf(a, sizeof(a), "%s/%s", dir, na);
                snprintf(b, sizeof(b), "%s/%s", dir, nb);
                rc = sl_fileops_current->rename(a, b);
                /* Index files are optional (rebuilt when missing). */
                if (rc == -ENOENT && f < 2)
                        rc = 0;
        }
        return rc;
}

static int insert_segment(sl_log *log, sl_segment *seg)
{
        if (log->nsegs == log->segcap) {
                uint32_t cap = (uint32_t)log->segcap;
                int rc = sl_grow((void **)&log->segs, &cap, cap + 1, sizeof(*log->segs));
                if (rc < 0)
                        return rc;
                log->segcap = (int)cap;
        }
        int i = 0;
        while (i < log->nsegs && log->segs[i]->base_offset < seg->base_offset)
                i++;
        memmove(&log->segs[i + 1], &log->segs[i], (size_t)(log->nsegs - i) * sizeof(*log->segs));
        log->segs[i] = seg;
        log->nsegs++;
        return 0;
}

int cl_swap_in(sl_log *log, sl_clean_job *j)
{
        const sl_fileops *ops = sl_fileops_current;
        int rc = 0;
        bool any = false;
        /* 1. commit */
        for (int k = 0; k < j->nout && rc == 0; k++) {
                if (!j->out[k].changed)
                        continue;
                rc = rename_ext(log->dir, j->out[k].base, ".cleaned", ".swap");
                any = true;
        }
        if (rc < 0) {
                /* Nothing is committed while no `.log.swap` is left: remove
                 * those already renamed (a stale one would be finished at the
                 * next open, over whatever the log became meanwhile). */
                bool stuck = false;
                char path[4200];
                for (int k = 0; k < j->nout; k++) {
                        for (int f = 0; f < 3 && j->out[k].changed; f++) {
                                char ext[32];
                                snprintf(ext, sizeof(ext), "%s.swap", EXT[f]);
                                cl_path(j, path, sizeof(path), j->out[k].base, ext);
                                int r = ops->unlink(path);
                                stuck |= f == 2 && r < 0 && r != -ENOENT;
                        }
                }
                cl_discard_outputs(j);
                /* A swap file that cannot be removed: stop, let reopen decide. */
                return stuck ? sl_log_latch(log, rc) : rc;
        }
        if (!any)
                return 0;
        rc = ops->fsync(log->dir_fd);
        if (rc < 0)
                return sl_log_latch(log, rc); /* reopen decides */
        /* 2. + 3. */
        for (int k = 0; k < j->nout; k++) {
                cl_out *o = &j->out[k];
                if (!o->changed)
                        continue;
                for (int i = o->first; i < o->first + o->count; i++) {
                        rc = sl_segment_delete(log, j->src[i].seg);
                        if (rc < 0)
                                return sl_log_latch(log, rc);
                }
                rc = rename_ext(log->dir, o->base, ".swap", "");
                if (rc < 0)
                        return sl_log_latch(log, rc);
                o->written = false;
                char path[4200];
                cl_path(j, path, sizeof(path), o->base, "log");
                o->seg->fd = ops->open(path, O_RDWR, 0);
                if (o->seg->fd < 0)
                        return sl_log_latch(log, o->seg->fd);
                rc = insert_segment(log, o->seg);
                if (rc < 0)
                        return sl_log_latch(log, rc);
                o->seg = NULL; /* the log owns it now */
        }
        log->dir_gen++;
        rc = ops->fsync(log->dir_fd);
        if (rc < 0)
                return sl_log_latch(log, rc);
        log->dir_synced_gen = log->dir_gen;
        return 0;
}

static bool has_suffix(const char *s, const char *suf)
{
        size_t a = strlen(s), b = strlen(suf);
        return a > b && strcmp(s + a - b, suf) == 0;
}

int sl_clean_swap_end(const char *path, int64_t base, int64_t *end)
{
        const sl_fileops *ops = sl_fileops_current;
        int fd = ops->open(path, O_RDONLY, 0);
        if (fd < 0)
                return fd;
        int64_t size = 0;
        uint8_t hb[SL_SEG_HDR_BYTES], sb[SL_SEAL_BYTES];
        sl_seg_hdr h;
        sl_seal seal;
        int rc = ops->fsize(fd, &size);
        if (rc == 0 &&
            (size < SL_SEG_HDR_BYTES + SL_SEAL_BYTES ||
             sl_pread_full(fd, hb, sizeof(hb), 0) != (ssize_t)sizeof(hb) ||
             sl_pread_full(fd, sb, sizeof(sb), size - SL_SEAL_BYTES) != (ssize_t)sizeof(sb) ||
             sl_seg_hdr_decode(hb, &h) || h.base_offset != base || !sl_seal_decode(sb, &seal) ||
             seal.last_offset < base - 1))
                rc = SL_ECORRUPT;
        ops->close(fd);
        if (rc == 0)
                *end = seal.last_offset + 1;
        return rc;
}

int sl_clean_finish_swaps(sl_log *log)
{
        const sl_fileops *ops = sl_fileops_current;
        char path[4200];
        int rc = 0;
        bool changed = false;
        int64_t *swaps = NULL;
        int nswaps = 0, cap = 0;
        DIR *d = opendir(log->dir);
        if (!d)
                return -errno;
        struct dirent *e;
        while ((e = readdir(d))) {
                int64_t base;
                snprintf(path, sizeof(path), "%s/%s", log->dir, e->d_name);
                if (has_suffix(e->d_name, ".cleaned")) {
                        ops->unlink(path);
                        changed = true;
                } else if (sl_seg_name_parse(e->d_name, "log.swap", &base)) {
                        if (nswaps == cap) {
                                cap = cap ? cap * 2 : 8;
                                int64_t *n = realloc(swaps, (size_t)cap * sizeof(*n));
                                if (!n) {
                                        rc = -ENOMEM;
                                        break;
                                }
                                swaps = n;
                        }
                        swaps[nswaps++] = base;
                }
        }
        closedir(d);
        for (int s = 0; s < nswaps && rc == 0; s++) {
                int64_t base = swaps[s], end = 0;
                char name[64];
                sl_seg_name(name, sizeof(name), base, "log.swap");
                snprintf(path, sizeof(path), "%s/%s", log->dir, name);
                rc = sl_clean_swap_end(path, base, &end);
                if (rc < 0)
                        break;
                d = opendir(log->dir);
                if (!d) {
                        rc = -errno;
                        break;
                }
                /* The replaced segments: logs first (an index without its log
                 * is dropped at open; a log without its replacement is not). */
                for (int pass = 0; pass < 2; pass++) {
                        rewinddir(d);
                        while ((e = readdir(d))) {
                                int64_t b;
                                bool match =
                                    pass == 0 ? sl_seg_name_parse(e->d_name, "log", &b)
                                              : sl_seg_name_parse(e->d_name, "index", &b) ||
                                                    sl_seg_name_parse(e->d_name, "timeindex", &b);
                                if (match && b >= base && b < end) {
                                        snprintf(path, sizeof(path), "%s/%s", log->dir, e->d_name);
                                        ops->unlink(path);
                                }
                        }
                }
                closedir(d);
                rc = rename_ext(log->dir, base, ".swap", "");
                changed = true;
        }
        free(swaps);
        if (rc < 0)
                return rc;
        /* Index swaps whose log was already renamed (or never committed). */
        d = opendir(log->dir);
        if (!d)
                return -errno;
        while ((e = readdir(d))) {
                int64_t b;
                if (sl_seg_name_parse(e->d_name, "index.swap", &b) ||
                    sl_seg_name_parse(e->d_name, "timeindex.swap", &b)) {
                        snprintf(path, sizeof(path), "%s/%s", log->dir, e->d_name);
                        ops->unlink(path);
                        changed = true;
                }
        }
        closedir(d);
        if (changed && log->dir_fd >= 0)
                rc = ops->fsync(log->dir_fd);
        return rc;
}
