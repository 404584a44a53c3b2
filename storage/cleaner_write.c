/* storage/cleaner_write.c — writing one cleaned segment: reads its source
 * segments batch by batch (checking each CRC and each source's chain against
 * its seal, so a damaged source is never laundered into a fresh chain),
 * filters records, and writes `<base>.log.cleaned` with its index files.
 *
 * Per batch (Kafka's MemoryRecords.filterTo for magic 2): control batches are
 * kept whole (there are no transactions yet, so no marker is ever removable);
 * a batch whose records all stay is copied byte for byte; one that loses some
 * is rebuilt with the same header (baseOffset, lastOffsetDelta, timestamps,
 * producer id/epoch/baseSequence) and the kept records' bytes unchanged (their
 * offset deltas stay valid), recompressed with its codec, batchLength and CRC
 * recomputed; one that loses all is dropped, unless it is its producer's last
 * batch in the cleaned range: then its header stays, with no records (as
 * Kafka keeps it, so producer state is still rebuildable from the log). Output
 * goes through one write buffer: no syscall per batch or record. */
#include "cleaner_int.h"
#include "fileops_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

void cl_path(const sl_clean_job *j, char *buf, size_t cap, int64_t base, const char *ext)
{
        char name[64];
        sl_seg_name(name, sizeof(name), base, ext);
        snprintf(buf, cap, "%s/%s", j->dir, name);
}

static int ensure(sl_clean_job *j, const cl_src *s, int64_t pos, size_t n, int64_t *at, size_t *len)
{
        if (*len && pos >= *at && pos + (int64_t)n <= *at + (int64_t)*len)
                return 0;
        if (n > j->rcap) {
                uint8_t *b = realloc(j->rbuf, n);
                if (!b)
                        return -ENOMEM;
                j->rbuf = b;
                j->rcap = n;
        }
        size_t rd = j->rcap;
        if (pos + (int64_t)rd > s->data_end)
                rd = (size_t)(s->data_end - pos);
        ssize_t got = sl_pread_full(s->fd, j->rbuf, rd, pos);
        if (got < 0)
                return (int)got;
        *at = pos;
        *len = (size_t)got;
        return (size_t)got < n ? SL_ECORRUPT : 0;
}

int cl_read_batch(sl_clean_job *j, const cl_src *s, int64_t *pos, int64_t *win_at, size_t *win_len,
                  const uint8_t **p, size_t *size)
{
        if (atomic_load_explicit(&j->cancel, memory_order_relaxed))
                return -ECANCELED;
        if (*pos >= s->data_end)
                return 0;
        if (s->data_end - *pos < 12)
                return SL_ECORRUPT;
        int rc = ensure(j, s, *pos, 12, win_at, win_len);
        if (rc < 0)
                return rc;
        int32_t blen = (int32_t)sl_be32(j->rbuf + (*pos - *win_at) + 8);
        if (blen < SL_BATCH_MIN_LEN || *pos + 12 + (int64_t)blen > s->data_end)
                return SL_ECORRUPT;
        *size = 12 + (size_t)blen;
        rc = ensure(j, s, *pos, *size, win_at, win_len);
        if (rc < 0)
                return rc;
        *p = j->rbuf + (*pos - *win_at);
        *pos += (int64_t)*size;
        return 1;
}

int cl_batch_records(sl_clean_job *j, const kp_batch *b, const uint8_t **recs, size_t *len)
{
        int codec = kp_batch_codec(b);
        if (codec == KP_CODEC_NONE) {
                *recs = b->records.p;
                *len = (size_t)b->records.len;
                return 0;
        }
        const char *why;
        if (kp_decompress(j->cc, codec, b->records.p, (size_t)b->records.len, recs, len, &why))
                return SL_ECORRUPT;
        return 0;
}

/* The output being written. */
typedef struct wr {
        sl_clean_job *j;
        sl_segment *seg; /* new segment: index, chain, max timestamp */
        int fd;
        int64_t pos;  /* file position of the next batch */
        int64_t wat;  /* file position of wbuf[0] */
        size_t wlen;  /* bytes pending in wbuf */
        bool changed; /* a record was dropped or a batch rebuilt */
} wr;

static int wr_flush(wr *w)
{
        if (!w->wlen)
                return 0;
        int rc = sl_pwrite_full(w->fd, w->j->wbuf, w->wlen, w->wat);
        w->wat += (int64_t)w->wlen;
        w->wlen = 0;
        return rc;
}

static int emit(wr *w, const uint8_t *b, size_t size)
{
        sl_segment *seg = w->seg;
        int64_t base = (int64_t)sl_be64(b);
        int64_t last = base + (int32_t)sl_be32(b + 23);
        int rc = sl_index_note_batch(seg, w->j->index_interval, base, last,
                                     (int64_t)sl_be64(b + 35), w->pos, (int64_t)size, &seg->chain);
        if (rc < 0)
                return rc;
        sl_chain_next(&seg->chain, b, size, &seg->chain);
        if (w->wlen + size > w->j->wcap) {
                rc = wr_flush(w);
                if (rc < 0)
                        return rc;
        }
        if (size > w->j->wcap) {
                rc = sl_pwrite_full(w->fd, b, size, w->pos);
                w->wat = w->pos + (int64_t)size;
        } else {
                memcpy(w->j->wbuf + w->wlen, b, size);
                w->wlen += size;
        }
        w->pos += (int64_t)size;
        return rc;
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
        if (need <= *cap)
                return 0;
        size_t n = *cap ? *cap : 4096;
        while (n < need)
                n *= 2;
        uint8_t *b = realloc(*buf, n);
        if (!b)
                return -ENOMEM;
        *buf = b;
        *cap = n;
        return 0;
}

/* Filters one source batch into the output. */
static int filter_batch(wr *w, const cl_src *s, const uint8_t *p, size_t size)
{
        sl_clean_job *j = w->j;
        kp_batch b;
        const char *why;
        if (kp_batch_parse(p, size, &b, &why) != 0 || !kp_batch_crc_ok(&b))
                return SL_ECORRUPT;
        if (kp_batch_is_control(&b)) {
                j->st.records_kept += b.records_count;
                return emit(w, p, size);
        }
        const uint8_t *recs;
        size_t rlen;
        int rc = cl_batch_records(j, &b, &recs, &rlen);
        if (rc < 0)
                return rc;
        rc = grow(&j->kbuf, &j->kcap, rlen);
        if (rc < 0)
                return rc;
        size_t klen = 0;
        int32_t kept = 0;
        kp_record_iter it;
        kp_record r;
        kp_record_iter_init(&it, recs, rlen, b.records_count);
        for (;;) {
                const uint8_t *start = it.rd.p;
                if (!kp_record_next(&it, &r))
                        break;
                int64_t off = b.base_offset + r.offset_delta;
                if (r.key.len >= 0 && cl_map_get(&j->map, r.key.p, (size_t)r.key.len) > off) {
                        j->st.records_dropped++;
                        continue;
                }
                if (r.value.len < 0 && s->drop_tombstones) {
                        j->st.tombstones_dropped++;
                        continue;
                }
                memcpy(j->kbuf + klen, start, (size_t)(it.rd.p - start));
                klen += (size_t)(it.rd.p - start);
                kept++;
        }
        if (it.rd.err)
                return SL_ECORRUPT;
        j->st.records_kept += kept;
        bool last_of_producer =
            b.producer_id >= 0 && cl_pids_last(&j->pids, b.producer_id) == b.base_offset;
        if (kept == b.records_count && (kept > 0 || last_of_producer))
                return emit(w, p, size);
        w->changed = true;
        if (kept == 0 && !last_of_producer)
                return 0;
        int codec = kp_batch_codec(&b);
        if (kept == 0)
                codec = KP_CODEC_NONE; /* an empty batch has no blob to decompress */
        size_t bound = KP_BATCH_HEADER_BYTES +
                       (codec == KP_CODEC_NONE ? klen : kp_compress_bound(codec, klen));
        rc = grow(&j->zbuf, &j->zcap, bound);
        if (rc < 0)
                return rc;
        uint8_t *nb = j->zbuf;
        memcpy(nb, p, KP_BATCH_HEADER_BYTES);
        size_t body = klen;
        if (codec == KP_CODEC_NONE) {
                if (klen)
                        memcpy(nb + KP_BATCH_HEADER_BYTES, j->kbuf, klen);
        } else {
                rc = kp_compress(j->cc, codec, j->kbuf, klen, nb + KP_BATCH_HEADER_BYTES,
                                 bound - KP_BATCH_HEADER_BYTES, &body);
                if (rc < 0)
                        return rc;
        }
        size_t nsize = KP_BATCH_HEADER_BYTES + body;
        uint16_t attrs = (uint16_t)((b.attributes & ~KP_BATCH_ATTR_CODEC_MASK) | codec);
        sl_put16(nb + KP_BATCH_OFF_ATTRIBUTES, attrs);
        sl_put32(nb + KP_BATCH_OFF_LENGTH, (uint32_t)(nsize - 12));
        sl_put32(nb + KP_BATCH_OFF_RECORDS_COUNT, (uint32_t)kept);
        sl_batch_crc_store(nb, nsize);
        return emit(w, nb, nsize);
}

static int write_index(sl_clean_job *j, const sl_segment *seg, int64_t base)
{
        char path[4200];
        const sl_index *x = &seg->idx;
        size_t on = (size_t)x->on * SL_OIDX_BYTES, tn = (size_t)x->tn * SL_TIDX_BYTES;
        uint8_t *buf = malloc(on + tn + 1);
        if (!buf)
                return -ENOMEM;
        for (uint32_t i = 0; i < x->on; i++)
                sl_oidx_encode(buf + (size_t)i * SL_OIDX_BYTES, &x->oe[i]);
        for (uint32_t i = 0; i < x->tn; i++)
                sl_tidx_encode(buf + on + (size_t)i * SL_TIDX_BYTES, &x->te[i]);
        int rc = 0;
        const char *ext[2] = {"index.cleaned", "timeindex.cleaned"};
        for (int f = 0; f < 2 && rc == 0; f++) {
                cl_path(j, path, sizeof(path), base, ext[f]);
                int fd = sl_fileops_current->open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
                if (fd < 0) {
                        rc = fd;
                        break;
                }
                /* Not synced: index files are checked at load and rebuilt. */
                if (f ? tn : on)
                        rc = sl_pwrite_full(fd, f ? buf + on : buf, f ? tn : on, 0);
                sl_fileops_current->close(fd);
        }
        free(buf);
        return rc;
}

static void unlink_cleaned(const sl_clean_job *j, int64_t base)
{
        char path[4200];
        const char *ext[3] = {"log.cleaned", "index.cleaned", "timeindex.cleaned"};
        for (int f = 0; f < 3; f++) {
                cl_path(j, path, sizeof(path), base, ext[f]);
                sl_fileops_current->unlink(path);
        }
}

void cl_discard_outputs(sl_clean_job *j)
{
        for (int k = 0; k < j->nout; k++)
                if (j->out[k].written || j->out[k].seg)
                        unlink_cleaned(j, j->out[k].base);
}

int cl_write_output(sl_clean_job *j, int k)
{
        cl_out *o = &j->out[k];
        char path[4200];
        sl_segment *seg = calloc(1, sizeof(*seg));
        if (!seg)
                return -ENOMEM;
        o->seg = seg;
        seg->fd = seg->idx.ofd = seg->idx.tfd = -1;
        seg->base_offset = o->base;
        seg->next_offset = o->next;
        seg->max_ts = seg->max_ts_offset = -1;
        seg->prev_chain = seg->chain = j->src[o->first].prev_chain;
        seg->created_ms = o->created_ms;
        seg->cleaned = true;
        seg->link_out = o->link_out;
        seg->idx.loaded = true;

        cl_path(j, path, sizeof(path), o->base, "log.cleaned");
        wr w = {.j = j, .seg = seg, .pos = SL_SEG_HDR_BYTES, .wat = SL_SEG_HDR_BYTES};
        w.changed = o->count > 1 || !j->src[o->first].cleaned ||
                    !sl_chain_eq(&j->src[o->first].link_out, &o->link_out);
        w.fd = sl_fileops_current->open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (w.fd < 0)
                return w.fd;
        uint8_t hb[SL_SEG_HDR_BYTES];
        sl_seg_hdr h = {.base_offset = o->base,
                        .prev_chain = seg->prev_chain,
                        .created_ms = o->created_ms,
                        .flags = SL_SEG_FLAG_CLEANED,
                        .link_out = o->link_out};
        sl_seg_hdr_encode(hb, &h);
        int rc = sl_pwrite_full(w.fd, hb, sizeof(hb), 0);
        for (int i = o->first; rc == 0 && i < o->first + o->count; i++) {
                const cl_src *s = &j->src[i];
                int64_t pos = SL_SEG_HDR_BYTES, at = 0;
                size_t wl = 0, size;
                const uint8_t *p;
                sl_chain chain = s->prev_chain;
                while ((rc = cl_read_batch(j, s, &pos, &at, &wl, &p, &size)) == 1) {
                        sl_chain_next(&chain, p, size, &chain);
                        rc = filter_batch(&w, s, p, size);
                        if (rc < 0)
                                break;
                }
                /* The source must prove itself against its seal. */
                if (rc == 0 && !sl_chain_eq(&chain, &s->chain))
                        rc = SL_ECORRUPT;
        }
        if (rc == 0)
                rc = wr_flush(&w);
        if (rc == 0) {
                seg->data_end = w.pos;
                uint8_t sb[SL_SEAL_BYTES];
                sl_seal seal = {.chain = seg->chain,
                                .last_offset = o->next - 1,
                                .max_ts = seg->max_ts,
                                .max_ts_offset = seg->max_ts_offset};
                sl_seal_encode(sb, &seal);
                rc = sl_pwrite_full(w.fd, sb, sizeof(sb), w.pos);
                seg->size = seg->synced_size = w.pos + SL_SEAL_BYTES;
        }
        if (rc == 0)
                rc = sl_fileops_current->fdatasync(w.fd);
        sl_fileops_current->close(w.fd);
        o->written = true;
        if (rc == 0)
                rc = write_index(j, seg, o->base);
        if (rc < 0)
                return rc;
        seg->sealed = seg->seal_written = true;
        seg->idx.o_persisted = seg->idx.on;
        seg->idx.t_persisted = seg->idx.tn;
        o->changed = w.changed;
        if (!o->changed) {
                /* Already clean and nothing dropped: keep the source. */
                unlink_cleaned(j, o->base);
                o->written = false;
        } else {
                j->st.segments_out++;
                j->st.bytes_out += seg->size;
                for (int i = o->first; i < o->first + o->count; i++) {
                        j->st.segments_in++;
                        j->st.bytes_in += j->src[i].size;
                }
        }
        return 0;
}
