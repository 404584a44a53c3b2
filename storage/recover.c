/* storage/recover.c — opening a partition directory: finding the segments,
 * proving that sealed segments link into one chain, recovering the active
 * segment's tail and (re)building indexes.
 *
 * sl_log_open runs in numbered passes (Kafka's LogLoader):
 *   0. finish a compaction swap whose `.swap` files exist, drop `.cleaned`
 *      leftovers (cleaner_swap.c);
 *   1. list the directory: segments by base offset, drop temp files and
 *      indexes without a log;
 *   2. read each segment header; each must name the previous seal's last
 *      offset + 1 and final chain value, else open stops with file, offset
 *      and position, except for a torn tail that no seal or index entry
 *      vouches for (FORMAT.md, "Recovery"): dropped and logged;
 *   3. the active segment: load its index, restart at the last entry whose
 *      batch is where it says, scan the tail (CRC + chain), truncate a torn
 *      last batch and rebuild the index entries past the restart point;
 *   4. leader-epoch cache and log start offset.
 * Only header and seal of sealed segments are read, so open time does not grow
 * with the log; their indexes load (and are checked) on first lookup. */
#include "fileops_int.h"
#include "log_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void set_err(sl_log_error *err, int code, const char *file, int64_t offset, int64_t pos,
                    const char *fmt, ...)
{
        if (!err)
                return;
        err->code = code;
        err->offset = offset;
        err->position = pos;
        snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
        char what[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        snprintf(err->message, sizeof(err->message),
                 "%s: %s (offset %" PRId64 ", position %" PRId64 ")", file && *file ? file : "log",
                 what, offset, pos);
}

sl_log_config sl_log_config_default(void)
{
        return (sl_log_config){
            .segment_bytes = 1LL << 30,
            .segment_ms = 7LL * 24 * 3600 * 1000,
            .segment_index_bytes = 10LL << 20,
            .index_interval_bytes = 4096,
            .retention_ms = 7LL * 24 * 3600 * 1000,
            .retention_bytes = -1,
            .flush_messages = -1,
            .flush_ms = -1,
            .log_append_time = false,
            .max_message_bytes = 1048588,
            .writeback_bytes = 8LL << 20,
            .cache_retain_bytes = 64LL << 20,
        };
}

int sl_log_config_check(const sl_log_config *c)
{
        /* Positions are stored as u32 in index entries. */
        if (c->segment_bytes < 1024 || c->segment_bytes > (int64_t)UINT32_MAX - SL_SEAL_BYTES)
                return SL_ECONFIG;
        if (c->segment_ms <= 0 || c->index_interval_bytes <= 0 || c->max_message_bytes <= 0)
                return SL_ECONFIG;
        if (c->segment_index_bytes < SL_OIDX_BYTES * 4)
                return SL_ECONFIG;
        if (c->writeback_bytes < 0 || c->cache_retain_bytes < 0)
                return SL_ECONFIG;
        return 0;
}

static int cmp_i64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

static int read_file(int fd, uint8_t **out, int64_t *len)
{
        int64_t size;
        int rc = sl_fileops_current->fsize(fd, &size);
        if (rc < 0)
                return rc;
        *out = malloc(size > 0 ? (size_t)size : 1);
        if (!*out)
                return -ENOMEM;
        ssize_t r = sl_pread_full(fd, *out, (size_t)size, 0);
        if (r < 0) {
                free(*out);
                *out = NULL;
                return (int)r;
        }
        *len = r;
        return 0;
}

/* Reads the valid prefix of the segment's index files into seg->idx. */
static int load_index_files(sl_log *log, sl_segment *seg, int64_t data_limit)
{
        char path[4096];
        sl_index *x = &seg->idx;
        uint8_t *buf = NULL;
        int64_t len = 0;
        x->on = x->tn = 0;
        sl_log_path(log, path, sizeof(path), seg->base_offset, "index");
        int fd = sl_fileops_current->open(path, O_RDONLY, 0);
        if (fd >= 0) {
                int rc = read_file(fd, &buf, &len);
                sl_fileops_current->close(fd);
                if (rc < 0)
                        return rc;
                uint32_t n = (uint32_t)(len / SL_OIDX_BYTES);
                if (sl_grow((void **)&x->oe, &x->ocap, n, sizeof(*x->oe)) < 0) {
                        free(buf);
                        return -ENOMEM;
                }
                for (uint32_t i = 0; i < n; i++) {
                        sl_oidx_entry e;
                        /* Entry rules: checksum; the first indexes the first batch;
                         * offsets and positions strictly ascend; inside the data. */
                        if (!sl_oidx_decode(buf + (size_t)i * SL_OIDX_BYTES, &e))
                                break;
                        /* (A cleaned segment's first batch may start past
                         * its base offset: compaction leaves gaps.) */
                        if (i == 0 &&
                            ((e.rel_offset != 0 && !seg->cleaned) || e.pos != SL_SEG_HDR_BYTES))
                                break;
                        if (i > 0 &&
                            (e.rel_offset <= x->oe[i - 1].rel_offset || e.pos <= x->oe[i - 1].pos))
                                break;
                        if ((int64_t)e.pos >= data_limit)
                                break;
                        x->oe[x->on++] = e;
                }
                free(buf);
                buf = NULL;
        }
        sl_log_path(log, path, sizeof(path), seg->base_offset, "timeindex");
        fd = sl_fileops_current->open(path, O_RDONLY, 0);
        if (fd >= 0) {
                int rc = read_file(fd, &buf, &len);
                sl_fileops_current->close(fd);
                if (rc < 0)
                        return rc;
                uint32_t n = (uint32_t)(len / SL_TIDX_BYTES);
                if (sl_grow((void **)&x->te, &x->tcap, n, sizeof(*x->te)) < 0) {
                        free(buf);
                        return -ENOMEM;
                }
                for (uint32_t i = 0; i < n; i++) {
                        sl_tidx_entry e;
                        if (!sl_tidx_decode(buf + (size_t)i * SL_TIDX_BYTES, &e))
                                break;
                        if (i > 0 && e.ts <= x->te[i - 1].ts)
                                break;
                        x->te[x->tn++] = e;
                }
                free(buf);
        }
        return 0;
}

/* Does the batch at e->pos start with the offset the entry names? */
static bool entry_points_at_batch(const sl_segment *seg, const sl_oidx_entry *e)
{
        uint8_t b[12];
        if (sl_pread_full(seg->fd, b, sizeof(b), e->pos) != (ssize_t)sizeof(b))
                return false;
        return (int64_t)sl_be64(b) == seg->base_offset + e->rel_offset;
}

int sl_segment_recover(sl_log *log, sl_segment *seg, bool active, sl_log_error *err)
{
        char name[64];
        sl_seg_name(name, sizeof(name), seg->base_offset, "log");
        int64_t file_size;
        int rc = sl_fileops_current->fsize(seg->fd, &file_size);
        if (rc < 0)
                return rc;
        int64_t data_limit = active ? file_size : seg->data_end;
        rc = load_index_files(log, seg, data_limit);
        if (rc < 0)
                return rc;
        sl_index *x = &seg->idx;
        uint32_t on_disk_o = x->on, on_disk_t = x->tn;

        /* Restart at the last entry that points at its batch. */
        while (x->on > 0 && !entry_points_at_batch(seg, &x->oe[x->on - 1]))
                x->on--;
        sl_scan s = {.fd = seg->fd,
                     .file_size = data_limit,
                     .index_into = seg,
                     .index_interval = log->cfg.index_interval_bytes,
                     .max_ts = -1,
                     .max_ts_offset = -1,
                     .allow_gaps = seg->cleaned};
        if (x->on > 0) {
                sl_oidx_entry e = x->oe[--x->on];
                s.pos = e.pos;
                s.next_offset = seg->base_offset + e.rel_offset;
                s.chain = e.chain;
                seg->max_ts = e.max_ts_before;
                seg->max_ts_offset = e.max_ts_before < 0 ? -1 : seg->base_offset + e.max_ts_rel;
                while (x->tn > 0 && x->te[x->tn - 1].rel_offset >= e.rel_offset)
                        x->tn--;
        } else {
                s.pos = SL_SEG_HDR_BYTES;
                s.next_offset = seg->base_offset;
                s.chain = seg->prev_chain;
                seg->max_ts = seg->max_ts_offset = -1;
                x->tn = 0;
        }
        x->bytes_since = INT64_MAX / 2; /* the restart batch gets its entry back */
        uint32_t kept_o = x->on, kept_t = x->tn;
        if (active) {
                s.on_batch = sl_epoch_scan_hook;
                s.arg = log;
        }
        rc = sl_scan_run(&s);
        if (rc < 0)
                return rc;

        if (!active) {
                /* A sealed segment must scan cleanly to exactly its seal. */
                sl_seal seal = {.chain = seg->chain, .last_offset = seg->next_offset - 1};
                /* (A cleaned segment may end in a gap: its seal keeps the
                 * last offset of the segments it replaced.) */
                bool end_ok = seg->cleaned ? s.next_offset <= seg->next_offset
                                           : s.next_offset == seg->next_offset;
                if (s.why || s.pos != seg->data_end || !sl_chain_eq(&s.chain, &seal.chain) ||
                    !end_ok) {
                        seg->corrupt = true;
                        set_err(err, SL_ECORRUPT, name, s.why ? s.bad_offset : s.next_offset,
                                s.why ? s.bad_pos : s.pos, "%s",
                                s.why ? s.why : "chain does not match the seal");
                        return SL_ECORRUPT;
                }
        } else {
                /* A torn or garbage tail of the active segment is dropped
                 * from the first bad batch on (never acked as durable: a sync
                 * covers only whole batches before it). Truncating a clean
                 * segment to its own size still releases the blocks a crash
                 * left preallocated past the end. */
                rc = sl_fileops_current->ftruncate(seg->fd, s.pos);
                if (rc < 0)
                        return rc;
                seg->data_end = seg->size = s.pos;
                seg->next_offset = s.next_offset;
                seg->chain = s.chain;
        }
        /* Index files: drop what did not survive, append what the scan rebuilt. */
        if (kept_o != on_disk_o || kept_t != on_disk_t || x->on != kept_o || x->tn != kept_t) {
                char path[4096];
                x->o_persisted = kept_o;
                x->t_persisted = kept_t;
                const char *exts[2] = {"index", "timeindex"};
                int64_t keep[2] = {(int64_t)kept_o * SL_OIDX_BYTES,
                                   (int64_t)kept_t * SL_TIDX_BYTES};
                for (int i = 0; i < 2; i++) {
                        sl_log_path(log, path, sizeof(path), seg->base_offset, exts[i]);
                        int fd = sl_fileops_current->open(path, O_RDWR | O_CREAT, 0644);
                        if (fd < 0)
                                return fd;
                        rc = sl_fileops_current->ftruncate(fd, keep[i]);
                        sl_fileops_current->close(fd);
                        if (rc < 0)
                                return rc;
                }
                rc = sl_segment_flush_index(log, seg);
                if (rc < 0)
                        return rc;
        } else {
                x->o_persisted = x->on;
                x->t_persisted = x->tn;
        }
        x->loaded = true;
        if (!active)
                sl_segment_close_index(seg);
        return 0;
}

int sl_segment_load_index(sl_log *log, sl_segment *seg)
{
        if (seg->idx.loaded)
                return 0;
        if (seg->corrupt)
                return SL_ECORRUPT;
        return sl_segment_recover(log, seg, false, NULL);
}

/* Pass 1: bases of every <base>.log; removes temp files and orphan indexes. */
static int list_dir(sl_log *log, int64_t **bases, int *n)
{
        DIR *d = opendir(log->dir);
        if (!d)
                return -errno;
        int cap = 16, rc = 0;
        *n = 0;
        *bases = malloc((size_t)cap * sizeof(**bases));
        if (!*bases) {
                closedir(d);
                return -ENOMEM;
        }
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d))) {
                int64_t base;
                size_t len = strlen(e->d_name);
                if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0) {
                        snprintf(path, sizeof(path), "%s/%s", log->dir, e->d_name);
                        sl_fileops_current->unlink(path);
                        continue;
                }
                if (!sl_seg_name_parse(e->d_name, "log", &base))
                        continue;
                if (*n == cap) {
                        cap *= 2;
                        int64_t *nb = realloc(*bases, (size_t)cap * sizeof(**bases));
                        if (!nb) {
                                rc = -ENOMEM;
                                break;
                        }
                        *bases = nb;
                }
                (*bases)[(*n)++] = base;
        }
        closedir(d);
        if (rc < 0)
                return rc;
        qsort(*bases, (size_t)*n, sizeof(**bases), cmp_i64);
        /* Orphan indexes (their log was deleted first) go. */
        d = opendir(log->dir);
        if (!d)
                return -errno;
        while ((e = readdir(d))) {
                int64_t base;
                if (!sl_seg_name_parse(e->d_name, "index", &base) &&
                    !sl_seg_name_parse(e->d_name, "timeindex", &base))
                        continue;
                if (!bsearch(&base, *bases, (size_t)*n, sizeof(**bases), cmp_i64)) {
                        snprintf(path, sizeof(path), "%s/%s", log->dir, e->d_name);
                        sl_fileops_current->unlink(path);
                }
        }
        closedir(d);
        return 0;
}

/* Reads a valid seal at the end of a segment file of the given size. */
static bool read_seal(int fd, int64_t base, int64_t size, sl_seal *seal)
{
        uint8_t sb[SL_SEAL_BYTES];
        if (size < SL_SEG_HDR_BYTES + SL_SEAL_BYTES ||
            sl_pread_full(fd, sb, sizeof(sb), size - SL_SEAL_BYTES) != (ssize_t)sizeof(sb))
                return false;
        return sl_seal_decode(sb, seal) && seal->last_offset >= base - 1;
}

/* Opens one segment and reads its header and (if present) seal. A bad or
 * short header of an unsealed segment is a crash signature, not damage: a
 * header that a completed sync covered is durable, and no sync covers a
 * segment without covering every older dirty one (log_sync.c), so nothing in
 * it or after it was acknowledged. It is marked hdr_bad (*why says what was
 * wrong) and pass 2 decides: the last segment's header is rewritten from the
 * file name and the previous chain, an earlier one starts a torn tail. A bad
 * header under a valid seal is damage: seals are written after a sync. */
static int open_segment(sl_log *log, int64_t base, sl_segment **out, const char **why_out,
                        sl_log_error *err)
{
        char path[4096], name[64];
        sl_seg_name(name, sizeof(name), base, "log");
        sl_log_path(log, path, sizeof(path), base, "log");
        sl_segment *seg = calloc(1, sizeof(*seg));
        if (!seg)
                return -ENOMEM;
        seg->idx.ofd = seg->idx.tfd = -1;
        seg->max_ts = seg->max_ts_offset = -1;
        int rc = seg->fd = sl_fileops_current->open(path, O_RDWR, 0);
        if (rc < 0)
                goto fail;
        int64_t size;
        rc = sl_fileops_current->fsize(seg->fd, &size);
        if (rc < 0)
                goto fail;
        uint8_t hdr[SL_SEG_HDR_BYTES];
        sl_seg_hdr h;
        const char *why = "segment shorter than its header";
        if (size >= SL_SEG_HDR_BYTES) {
                ssize_t r = sl_pread_full(seg->fd, hdr, sizeof(hdr), 0);
                if (r != (ssize_t)sizeof(hdr)) {
                        rc = r < 0 ? (int)r : -EIO;
                        goto fail;
                }
                why = sl_seg_hdr_decode(hdr, &h);
                if (!why && h.base_offset != base)
                        why = "header base offset differs from the file name";
        }
        sl_seal seal;
        bool sealed = read_seal(seg->fd, base, size, &seal);
        *why_out = why;
        if (why && !sealed) {
                seg->hdr_bad = true;
                seg->base_offset = seg->next_offset = base;
                seg->size = seg->data_end = size > SL_SEG_HDR_BYTES ? size : SL_SEG_HDR_BYTES;
                *out = seg;
                return 0;
        }
        if (why) {
                rc = SL_ECORRUPT;
                set_err(err, rc, name, base, 0, "%s (the segment is sealed, so it was durable)",
                        why);
                goto fail;
        }
        seg->base_offset = seg->next_offset = base;
        seg->prev_chain = seg->chain = h.prev_chain;
        seg->created_ms = h.created_ms;
        seg->cleaned = (h.flags & SL_SEG_FLAG_CLEANED) != 0;
        seg->link_out = h.link_out;
        seg->size = seg->data_end = seg->synced_size = size;
        if (sealed) {
                seg->sealed = true;
                seg->seal_written = true;
                seg->data_end = size - SL_SEAL_BYTES;
                seg->next_offset = seal.last_offset + 1;
                seg->chain = seal.chain;
                seg->max_ts = seal.max_ts;
                seg->max_ts_offset = seal.max_ts_offset;
        }
        *out = seg;
        return 0;
fail:
        sl_segment_free(seg);
        return rc;
}

/* Does the segment's index vouch for a completed sync? Entries are written
 * only for synced bytes, so a valid first entry naming the header's chain
 * proves a sync covered the segment (its absence proves nothing). */
static bool index_vouches(sl_log *log, const sl_segment *seg)
{
        char path[4096];
        uint8_t b[SL_OIDX_BYTES];
        sl_oidx_entry e;
        if (seg->hdr_bad)
                return false;
        sl_log_path(log, path, sizeof(path), seg->base_offset, "index");
        int fd = sl_fileops_current->open(path, O_RDONLY, 0);
        if (fd < 0)
                return false;
        ssize_t r = sl_pread_full(fd, b, sizeof(b), 0);
        sl_fileops_current->close(fd);
        return r == (ssize_t)sizeof(b) && sl_oidx_decode(b, &e) && e.rel_offset == 0 &&
               e.pos == SL_SEG_HDR_BYTES && sl_chain_eq(&e.chain, &seg->prev_chain);
}

/* Drops segments [from, end) as a torn tail: allowed only when none of them
 * is sealed or (use_index) has index entries (a seal or an entry proves a
 * completed sync, which covered every older byte too). Says loudly what goes;
 * else refuses. (use_index is off after an unsealed segment whose scan ended
 * early: there the tail was always dropped, indexed or not.) */
static int drop_torn_tail(sl_log *log, int from, bool use_index, const char *why, sl_log_error *err)
{
        char name[64], last[64];
        sl_seg_name(name, sizeof(name), log->segs[from]->base_offset, "log");
        for (int j = from; j < log->nsegs; j++) {
                bool sealed = log->segs[j]->sealed;
                if (!sealed && !(use_index && index_vouches(log, log->segs[j])))
                        continue;
                sl_seg_name(last, sizeof(last), log->segs[j]->base_offset, "log");
                set_err(err, SL_ECORRUPT, name, log->segs[from]->base_offset, 0,
                        "%s, but segment %s is %s, so a sync covered this", why, last,
                        sealed ? "sealed" : "indexed");
                return SL_ECORRUPT;
        }
        sl_seg_name(last, sizeof(last), log->segs[log->nsegs - 1]->base_offset, "log");
        fprintf(stderr,
                "serpentlog storage: %s: %s/%s (offset %" PRId64 ", position 0): %s; "
                "dropping %d unsealed segment(s) %s..%s as a torn tail (never covered by a "
                "completed sync, so never acknowledged)\n",
                log->dir, log->dir, name, log->segs[from]->base_offset, why, log->nsegs - from,
                name, last);
        while (log->nsegs > from) {
                int rc = sl_segment_delete(log, log->segs[log->nsegs - 1]);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

/* The first index entry holds the chain value before the first batch. */
static sl_chain chain_from_index(sl_log *log, int64_t base)
{
        char path[4096];
        uint8_t b[SL_OIDX_BYTES];
        sl_oidx_entry e;
        sl_chain zero = {{0}};
        sl_log_path(log, path, sizeof(path), base, "index");
        int fd = sl_fileops_current->open(path, O_RDONLY, 0);
        if (fd < 0)
                return zero;
        ssize_t r = sl_pread_full(fd, b, sizeof(b), 0);
        sl_fileops_current->close(fd);
        if (r != (ssize_t)sizeof(b) || !sl_oidx_decode(b, &e) || e.rel_offset != 0)
                return zero;
        return e.chain;
}

static int rewrite_header(sl_log *log, sl_segment *seg, int64_t now_ms)
{
        if (log->nsegs == 1)
                seg->prev_chain = seg->chain = chain_from_index(log, seg->base_offset);
        uint8_t hdr[SL_SEG_HDR_BYTES];
        sl_seg_hdr h = {
            .base_offset = seg->base_offset, .prev_chain = seg->prev_chain, .created_ms = now_ms};
        sl_seg_hdr_encode(hdr, &h);
        int rc = sl_pwrite_full(seg->fd, hdr, sizeof(hdr), 0);
        if (rc < 0)
                return rc;
        seg->created_ms = now_ms;
        seg->hdr_bad = false;
        seg->synced_size = 0;
        return 0;
}

static int open_segments(sl_log *log, int64_t *bases, int n, int64_t now_ms, sl_log_error *err)
{
        int rc;
        char name[64];
        log->segs = calloc((size_t)(n + 1), sizeof(*log->segs));
        if (!log->segs)
                return -ENOMEM;
        log->segcap = n + 1;
        const char *torn_why = NULL;
        int torn_at = -1;
        for (int i = 0; i < n; i++) {
                sl_segment *seg;
                const char *why = NULL;
                rc = open_segment(log, bases[i], &seg, &why, err);
                if (rc < 0)
                        return rc;
                if (seg->hdr_bad && torn_at < 0 && i < n - 1) {
                        torn_at = i;
                        torn_why = why;
                }
                log->segs[log->nsegs++] = seg;
        }
        /* An unsealed segment with a bad header before the last one (e.g. two
         * rolls between syncs, then a power cut): it and everything after it
         * are a torn tail. The last segment's header is repaired instead (pass
         * 3): its batches are still checked against the previous chain. */
        if (torn_at >= 0) {
                rc = drop_torn_tail(log, torn_at, true, torn_why, err);
                if (rc < 0)
                        return rc;
        }
        /* Pass 2: every segment but the last is sealed, and they chain. */
        for (int i = 0; i + 1 < log->nsegs; i++) {
                sl_segment *a = log->segs[i], *b = log->segs[i + 1];
                sl_seg_name(name, sizeof(name), a->base_offset, "log");
                bool links;
                if (!a->sealed) {
                        /* A seal that never reached the disk: a roll writes the
                         * seal unsynced, and the next sync job covers it together
                         * with everything after it. So while a is unsealed nothing
                         * in later segments was ever acknowledged as durable.
                         * Recover a like an active segment; if it still links to
                         * b, write the seal again, else drop the later segments
                         * (unacknowledged data) and a is the active one again. */
                        int rc2 = sl_segment_recover(log, a, true, err);
                        if (rc2 < 0)
                                return rc2;
                        links = a->next_offset == b->base_offset &&
                                (b->hdr_bad || sl_segment_links_to(a, &b->prev_chain));
                        if (links) {
                                /* Seal again once a sync made a durable. */
                                a->sealed = true;
                                a->synced_size = 0;
                                sl_segment_close_index(a);
                        } else {
                                char why[128];
                                snprintf(why, sizeof(why),
                                         "does not continue the unsealed segment before it "
                                         "(which ends at offset %" PRId64 ")",
                                         a->next_offset);
                                rc = drop_torn_tail(log, i + 1, false, why, err);
                                if (rc < 0)
                                        return rc;
                                break;
                        }
                }
                if (b->hdr_bad && b->base_offset == a->next_offset)
                        b->prev_chain = b->chain = a->cleaned ? a->link_out : a->chain;
                if (b->base_offset > a->next_offset) {
                        /* Segments missing after a sealed one: a directory
                         * entry that never became durable (no sync since its
                         * creation, or it would have fsynced the directory),
                         * so nothing from here on was acknowledged, unless a
                         * seal or index entry from here on says otherwise. */
                        char why[128];
                        snprintf(why, sizeof(why),
                                 "offsets %" PRId64 "..%" PRId64 " are missing (a segment file "
                                 "was lost)",
                                 a->next_offset, b->base_offset - 1);
                        rc = drop_torn_tail(log, i + 1, true, why, err);
                        if (rc < 0)
                                return rc;
                        break;
                }
                if (b->base_offset != a->next_offset || !sl_segment_links_to(a, &b->prev_chain)) {
                        char want[17], got[17];
                        sl_chain_hex(&a->chain, want);
                        sl_chain_hex(&b->prev_chain, got);
                        sl_seg_name(name, sizeof(name), b->base_offset, "log");
                        set_err(err, SL_ECORRUPT, name, b->base_offset, 0,
                                "segment does not continue the chain (expected offset %" PRId64
                                " chain %s.., found chain %s..): a segment is missing, swapped "
                                "or damaged",
                                a->next_offset, want, got);
                        return SL_ECORRUPT;
                }
        }
        if (log->nsegs == 0) {
                sl_segment *seg;
                sl_chain zero = {{0}};
                int64_t start = n > 0 ? bases[0] : 0, saved = 0;
                if (sl_log_start_load(log, &saved) == 0 && saved > start)
                        start = saved;
                rc = sl_segment_create(log, start, &zero, now_ms, &seg);
                if (rc < 0)
                        return rc;
                log->segs[log->nsegs++] = seg;
                return 0;
        }
        /* Pass 3: the active segment's tail (and its header, if torn). */
        sl_segment *act = log->segs[log->nsegs - 1];
        if (act->hdr_bad) {
                rc = rewrite_header(log, act, now_ms);
                if (rc < 0)
                        return rc;
        }
        if (!act->sealed) {
                rc = sl_segment_recover(log, act, true, err);
                if (rc < 0) {
                        sl_seg_name(name, sizeof(name), act->base_offset, "log");
                        if (err && !err->message[0])
                                set_err(err, rc, name, act->base_offset, -1, "recovery failed: %s",
                                        sl_log_strerror(rc));
                        return rc;
                }
        }
        return 0;
}

int sl_log_open(const char *dir, const sl_log_config *cfg, int64_t now_ms, sl_log **out,
                sl_log_error *err)
{
        int rc;
        int64_t *bases = NULL;
        int n = 0;
        if (err)
                memset(err, 0, sizeof(*err));
        sl_log_config c = cfg ? *cfg : sl_log_config_default();
        rc = sl_log_config_check(&c);
        if (rc < 0) {
                set_err(err, rc, NULL, -1, -1, "invalid configuration");
                return rc;
        }
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                rc = -errno;
                set_err(err, rc, dir, -1, -1, "cannot create directory");
                return rc;
        }
        sl_log *log = calloc(1, sizeof(*log));
        if (!log)
                return -ENOMEM;
        log->cfg = c;
        log->dir_fd = -1;
        log->unflushed_since_ms = -1;
        log->dir = strdup(dir);
        if (!log->dir) {
                rc = -ENOMEM;
                goto fail;
        }
        log->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (log->dir_fd < 0) {
                rc = -errno;
                set_err(err, rc, dir, -1, -1, "cannot open directory");
                goto fail;
        }
        /* Pass 0: finish or roll back an interrupted compaction swap. */
        rc = sl_clean_finish_swaps(log);
        if (rc < 0) {
                set_err(err, rc, dir, -1, -1, "cannot finish an interrupted compaction swap");
                goto fail;
        }
        rc = list_dir(log, &bases, &n);
        if (rc < 0) {
                set_err(err, rc, dir, -1, -1, "cannot list directory");
                goto fail;
        }
        /* Pass 4 (first half): the epoch cache, so the tail scan can extend it. */
        bool have_epochs = sl_epoch_load(log) == 0;
        int nepochs_loaded = log->nepochs;
        rc = open_segments(log, bases, n, now_ms, err);
        if (rc < 0)
                goto fail;
        sl_segment *act = log->segs[log->nsegs - 1];
        log->end_offset = act->next_offset;
        /* The tail scan met an epoch the checkpoint does not name: a crash
         * kept batches the kernel wrote back while the checkpoint naming
         * their epoch was not yet durable (its sync rides on the next sync
         * job, epoch.c). Those batches were never acknowledged, but the scan
         * started at an index entry, so where the epoch began is unknown:
         * rebuild the cache from every batch header. */
        bool stale = have_epochs && log->nepochs > nepochs_loaded;
        if ((!have_epochs || stale) && log->end_offset > log->segs[0]->base_offset) {
                rc = sl_epoch_rebuild(log);
                if (rc < 0)
                        goto fail;
        } else {
                sl_epoch_truncate(log, log->end_offset);
                if (log->nepochs != nepochs_loaded || !have_epochs)
                        sl_epoch_store(log, false);
        }
        int64_t start = 0;
        if (sl_log_start_load(log, &start) < 0)
                start = 0;
        log->start_offset = start > log->segs[0]->base_offset ? start : log->segs[0]->base_offset;
        if (log->start_offset > log->end_offset)
                log->start_offset = log->end_offset;
        /* What is in the files now is what a crash would leave: make it
         * durable (and write seals still pending) so the flushed offset starts
         * at the log end. */
        act->synced_size = 0;
        /* And the directory: after a process crash (not a power cut) its
         * entries for segments created since the last sync may still be only
         * in memory, and the data now called flushed lives in them. */
        log->dir_gen++;
        rc = sl_log_sync(log);
        if (rc < 0)
                goto fail;
        free(bases);
        *out = log;
        return 0;
fail:
        if (err && !err->message[0])
                set_err(err, rc, dir, -1, -1, "open failed: %s", sl_log_strerror(rc));
        free(bases);
        log->fatal = true; /* close without syncing or writing indexes: a refused
                            * partition is left as found, for inspection */
        sl_log_close(log);
        return rc;
}

void sl_log_close(sl_log *log)
{
        if (!log)
                return;
        /* A clean shutdown leaves everything durable and every rolled
         * segment sealed, as Kafka flushes on shutdown. */
        if (!log->fatal && log->nsegs > 0) {
                sl_log_sync(log);
                /* Release blocks preallocated past the active segment's end. */
                sl_segment *act = log->segs[log->nsegs - 1];
                if (act->prealloc_end > act->size)
                        sl_fileops_current->ftruncate(act->fd, act->size);
        }
        for (int i = 0; i < log->nsegs; i++) {
                if (!log->fatal)
                        sl_segment_flush_index(log, log->segs[i]);
                sl_segment_free(log->segs[i]);
        }
        for (int i = 0; i < log->nzombies; i++)
                sl_segment_free(log->zombies[i]);
        if (log->dir_fd >= 0)
                close(log->dir_fd);
        free(log->segs);
        free(log->zombies);
        free(log->epochs);
        free(log->iov);
        free(log->dir);
        free(log);
}
