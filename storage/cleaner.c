/* storage/cleaner.c — log compaction (cleanup.policy=compact): choosing what
 * to clean, building the offset map, and the prepare/run/complete steps.
 *
 * Kafka's LogCleaner, per partition: the log is a clean section (segments the
 * cleaner wrote, a prefix of the log) followed by a dirty section, and the
 * active segment (never cleaned). When the dirty section's share of the
 * cleanable bytes reaches min.cleanable.dirty.ratio, an offset map (key ->
 * latest offset) is built over the dirty section, then every cleanable
 * segment, clean and dirty, is rewritten keeping only records that are the
 * latest for their key; neighbouring segments merge up to segment.bytes. A
 * segment is cleanable only once sealed (and its seal written), below the
 * caller's max_offset (high watermark), and when its newest timestamp is older
 * than min.compaction.lag.ms; a dirty section whose oldest segment was created
 * more than max.compaction.lag.ms ago is cleaned whatever its ratio. Writing the output is
 * cleaner_write.c, the swap and its crash recovery cleaner_swap.c, the map cleaner_map.c. */
#include "cleaner_int.h"
#include "fileops_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CL_MAX_DECOMPRESSED (64u << 20)

sl_clean_config sl_clean_config_default(void)
{
        return (sl_clean_config){
            .min_cleanable_dirty_ratio = 0.5,
            .min_compaction_lag_ms = 0,
            .max_compaction_lag_ms = INT64_MAX,
            .delete_retention_ms = 86400000,
            .max_offset = INT64_MAX,
            .dedupe_bytes = 16u << 20,
            .io_buffer_bytes = 1u << 20,
        };
}

static int64_t seg_time(const sl_segment *seg)
{
        return seg->max_ts >= 0 ? seg->max_ts : seg->created_ms;
}

void sl_clean_job_free(sl_clean_job *j)
{
        if (!j)
                return;
        for (int i = 0; j->hold_fds && i < j->nsrc; i++)
                if (j->hold_fds[i] >= 0)
                        close(j->hold_fds[i]);
        free(j->hold_fds);
        for (int k = 0; k < j->nout; k++)
                sl_segment_free(j->out[k].seg);
        cl_map_free(&j->map);
        cl_pids_free(&j->pids);
        if (j->cc)
                kp_codec_ctx_free(j->cc);
        free(j->rbuf);
        free(j->wbuf);
        free(j->kbuf);
        free(j->zbuf);
        free(j->out);
        free(j->src);
        free(j->dir);
        free(j);
}

int sl_clean_prepare(sl_log *log, const sl_clean_config *cfg, int64_t now_ms, sl_clean_job **job)
{
        *job = NULL;
        if (log->fatal)
                return SL_EFATAL;
        sl_clean_config c = cfg ? *cfg : sl_clean_config_default();
        if (c.min_cleanable_dirty_ratio < 0 || c.min_cleanable_dirty_ratio > 1 ||
            c.delete_retention_ms < 0 || c.min_compaction_lag_ms < 0 || c.io_buffer_bytes < 4096)
                return SL_ECONFIG;
        /* Cleanable: a prefix of sealed segments, never the active one. */
        int k = 0;
        while (k < log->nsegs - 1) {
                const sl_segment *seg = log->segs[k];
                if (!seg->sealed || !seg->seal_written || seg->corrupt ||
                    seg->next_offset > c.max_offset)
                        break;
                if (c.min_compaction_lag_ms > 0 && now_ms - seg_time(seg) < c.min_compaction_lag_ms)
                        break;
                k++;
        }
        /* The clean section: the cleaner's segments, always a prefix. */
        int d = 0;
        while (d < k && log->segs[d]->cleaned)
                d++;
        if (d >= k)
                return 0;
        int64_t clean_bytes = 0, dirty_bytes = 0;
        for (int i = 0; i < k; i++)
                *(i < d ? &clean_bytes : &dirty_bytes) += log->segs[i]->size;
        double ratio = (double)dirty_bytes / (double)(clean_bytes + dirty_bytes);
        /* max.compaction.lag.ms: the oldest dirty segment (by creation) waited
         * long enough, whatever the ratio. */
        bool overdue = c.max_compaction_lag_ms < INT64_MAX &&
                       now_ms - log->segs[d]->created_ms > c.max_compaction_lag_ms;
        if (ratio < c.min_cleanable_dirty_ratio && !overdue)
                return 0;

        sl_clean_job *j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        j->dir = strdup(log->dir);
        j->src = calloc((size_t)k, sizeof(*j->src));
        j->hold_fds = malloc((size_t)k * sizeof(*j->hold_fds));
        if (!j->dir || !j->src || !j->hold_fds) {
                sl_clean_job_free(j);
                return -ENOMEM;
        }
        j->nsrc = k;
        for (int i = 0; i < k; i++)
                j->hold_fds[i] = -1;
        j->cfg = c;
        j->segment_bytes = log->cfg.segment_bytes;
        j->index_interval = log->cfg.index_interval_bytes;
        j->now_ms = now_ms;
        j->trunc_gen = log->trunc_gen;
        j->first_dirty = d;
        j->st.first_dirty = log->segs[d]->base_offset;
        j->st.end = log->segs[k - 1]->next_offset;
        j->st.dirty_ratio = ratio;
        for (int i = 0; i < k; i++) {
                sl_segment *seg = log->segs[i];
                cl_src *s = &j->src[i];
                seg->refs++; /* the fd stays open even if the segment is deleted */
                /* ... and its last close happens in sl_clean_job_free. */
                j->hold_fds[i] = fcntl(seg->fd, F_DUPFD_CLOEXEC, 0);
                s->seg = seg;
                s->fd = seg->fd;
                s->base = seg->base_offset;
                s->next = seg->next_offset;
                s->data_end = seg->data_end;
                s->size = seg->size;
                s->time_ms = seg_time(seg);
                s->created_ms = seg->created_ms;
                s->prev_chain = seg->prev_chain;
                s->chain = seg->chain;
                s->link_out = seg->link_out;
                s->next_prev = log->segs[i + 1]->prev_chain;
                s->cleaned = seg->cleaned;
                s->dirty = i >= d;
                /* Kafka: tombstones go once they have been in the clean
                 * section and their segment is older than delete.retention.ms. */
                s->drop_tombstones = !s->dirty && now_ms - s->time_ms > c.delete_retention_ms;
        }
        *job = j;
        return 1;
}

/* Pass 1: producers' last batches over every source, keys of the dirty
 * ones into the offset map; stops after the segment that filled the map. */
static int build_map(sl_clean_job *j)
{
        j->nclean = j->nsrc;
        for (int i = 0; i < j->nsrc; i++) {
                const cl_src *s = &j->src[i];
                int64_t pos = SL_SEG_HDR_BYTES, at = 0;
                size_t wl = 0;
                const uint8_t *p;
                size_t size;
                bool full = false;
                int rc;
                while ((rc = cl_read_batch(j, s, &pos, &at, &wl, &p, &size)) == 1) {
                        kp_batch b;
                        const char *why;
                        if (kp_batch_parse(p, size, &b, &why) != 0)
                                return SL_ECORRUPT;
                        if (b.producer_id >= 0) {
                                rc = cl_pids_put(&j->pids, b.producer_id, b.base_offset);
                                if (rc < 0)
                                        return rc;
                        }
                        if (!s->dirty || kp_batch_is_control(&b))
                                continue;
                        const uint8_t *recs;
                        size_t rlen;
                        rc = cl_batch_records(j, &b, &recs, &rlen);
                        if (rc < 0)
                                return rc;
                        kp_record_iter it;
                        kp_record r;
                        kp_record_iter_init(&it, recs, rlen, b.records_count);
                        while (kp_record_next(&it, &r)) {
                                /* Once full, keys already in the map still
                                 * move to their later offsets. */
                                if (r.key.len >= 0 &&
                                    cl_map_put(&j->map, r.key.p, (size_t)r.key.len,
                                               b.base_offset + r.offset_delta) == -ENOSPC)
                                        full = true;
                        }
                        if (it.rd.err)
                                return SL_ECORRUPT;
                }
                if (rc < 0)
                        return rc;
                if (full) {
                        /* Keys of this segment partly in the map still name
                         * records that exist: cleaning before it stays right,
                         * and it stays dirty for the next cleaning. Unless it
                         * is the first dirty one: then it is cleaned too (a
                         * record is dropped only for a later one of its key,
                         * so this is still right; duplicates among the keys
                         * that did not fit stay until their key is written
                         * again — Kafka would mark the log dirty from the
                         * middle of the segment instead). */
                        j->nclean = i == j->first_dirty ? i + 1 : i;
                        break;
                }
        }
        return 0;
}

/* Groups sources [0, nclean) into outputs of at most segment.bytes (by their
 * size before cleaning, as Kafka does) and a u32 offset span. */
static int plan(sl_clean_job *j)
{
        j->out = calloc((size_t)j->nclean, sizeof(*j->out));
        if (!j->out)
                return -ENOMEM;
        for (int i = 0; i < j->nclean;) {
                cl_out *o = &j->out[j->nout++];
                int64_t bytes = j->src[i].size;
                o->first = i;
                o->count = 1;
                while (i + o->count < j->nclean) {
                        const cl_src *n = &j->src[i + o->count];
                        if (bytes + n->size - SL_SEG_HDR_BYTES - SL_SEAL_BYTES > j->segment_bytes ||
                            n->next - j->src[i].base > (int64_t)UINT32_MAX)
                                break;
                        bytes += n->size - SL_SEG_HDR_BYTES - SL_SEAL_BYTES;
                        o->count++;
                }
                const cl_src *last = &j->src[i + o->count - 1];
                o->base = j->src[i].base;
                o->next = last->next;
                o->link_out = last->next_prev;
                o->created_ms = last->created_ms;
                i += o->count;
        }
        return 0;
}

int sl_clean_job_run(sl_clean_job *j)
{
        int rc = cl_map_init(&j->map, j->cfg.dedupe_bytes);
        if (rc < 0)
                return rc;
        j->cc = kp_codec_ctx_new(CL_MAX_DECOMPRESSED);
        j->rcap = j->wcap = j->cfg.io_buffer_bytes;
        j->rbuf = malloc(j->rcap);
        j->wbuf = malloc(j->wcap);
        if (!j->cc || !j->rbuf || !j->wbuf)
                return -ENOMEM;
        rc = build_map(j);
        if (rc < 0)
                return rc;
        rc = plan(j);
        for (int k = 0; rc == 0 && k < j->nout; k++)
                rc = cl_write_output(j, k);
        return rc;
}

void sl_clean_job_cancel(sl_clean_job *j)
{
        atomic_store(&j->cancel, 1);
}

int sl_clean_complete(sl_log *log, sl_clean_job *j, int rc, sl_clean_stats *st)
{
        bool intact = !log->fatal && log->trunc_gen == j->trunc_gen;
        for (int i = 0; i < j->nsrc && intact; i++)
                intact = !j->src[i].seg->deleted;
        if (rc == 0 && intact)
                rc = cl_swap_in(log, j);
        else
                cl_discard_outputs(j);
        for (int i = 0; i < j->nsrc; i++)
                sl_segment_unpin(log, j->src[i].seg);
        if (st)
                *st = j->st;
        return rc;
}

int sl_log_clean(sl_log *log, const sl_clean_config *cfg, int64_t now_ms, sl_clean_stats *st)
{
        sl_clean_job *j;
        int rc = sl_clean_prepare(log, cfg, now_ms, &j);
        if (rc <= 0)
                return rc;
        rc = sl_clean_job_run(j);
        rc = sl_clean_complete(log, j, rc, st);
        sl_clean_job_free(j);
        return rc < 0 ? rc : 1;
}
