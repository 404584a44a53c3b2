/* broker/fetch_response.c — FetchResponse v4-17 around file-backed records
 * (see fetch_response.h). One routine walks the message for both size and
 * encoding (a writer without a buffer only counts), so the two never differ.
 * Field order and version gates follow FetchResponse.json as the generated
 * codec does; the record bytes are length-prefixed here and spliced in by
 * the caller at the cut points. At the end: getting those records into the
 * page cache off the reactor before they are sent (the cold path). */
#include <string.h>
#include <time.h>

#include "broker_int.h"
#include "fetch_response.h"
#include "residency.h"
#include "reactor.h"
#include "shard.h"

/* A writer that counts when buf is NULL. */
typedef struct enc {
        kp_wr wr;
        size_t n; /* bytes produced */
        bool size_only;
        size_t *cuts;
        int32_t ncut;
} enc;

static void put_u8(enc *e, uint8_t v)
{
        e->n += 1;
        if (!e->size_only)
                kp_wr_u8(&e->wr, v);
}
static void put_i16(enc *e, int16_t v)
{
        e->n += 2;
        if (!e->size_only)
                kp_wr_i16(&e->wr, v);
}
static void put_i32(enc *e, int32_t v)
{
        e->n += 4;
        if (!e->size_only)
                kp_wr_i32(&e->wr, v);
}
static void put_i64(enc *e, int64_t v)
{
        e->n += 8;
        if (!e->size_only)
                kp_wr_i64(&e->wr, v);
}
static void put_uvarint(enc *e, uint32_t v)
{
        e->n += kp_uvarint_size(v);
        if (!e->size_only)
                kp_wr_uvarint(&e->wr, v);
}
static void put_uuid(enc *e, kp_uuid u)
{
        e->n += 16;
        if (!e->size_only)
                kp_wr_uuid(&e->wr, u);
}
/* Array count / bytes length: compact (uvarint n+1, 0 = null) or int32. */
static void put_len(enc *e, bool compact, int64_t n)
{
        if (compact)
                put_uvarint(e, n < 0 ? 0 : (uint32_t)n + 1);
        else
                put_i32(e, n < 0 ? -1 : (int32_t)n);
}
static void put_string(enc *e, bool compact, kp_str s)
{
        int32_t len = s.len < 0 ? 0 : s.len;
        if (compact)
                put_uvarint(e, (uint32_t)len + 1);
        else
                put_i16(e, (int16_t)len);
        e->n += (size_t)len;
        if (!e->size_only && len)
                kp_wr_raw(&e->wr, s.p, (size_t)len);
}

static void put_part(enc *e, int16_t v, const sl_fresp_part *p)
{
        bool flex = v >= 12;
        put_i32(e, p->partition_index);
        put_i16(e, p->error_code);
        put_i64(e, p->high_watermark);
        put_i64(e, p->last_stable_offset); /* v4+ */
        if (v >= 5)
                put_i64(e, p->log_start_offset);
        /* AbortedTransactions: null unless read_committed; no transactions
         * exist, so read_committed gets an empty list. */
        put_len(e, flex, p->read_committed ? 0 : -1);
        if (v >= 11)
                put_i32(e, -1); /* PreferredReadReplica: none (single node) */
        put_len(e, flex, p->records_bytes);
        if (e->cuts)
                e->cuts[e->ncut] = e->n;
        e->ncut++;
        if (flex) {
                bool div = p->diverging_epoch != -1 || p->diverging_end_offset != -1;
                put_uvarint(e, div ? 1 : 0);
                if (div) {
                        put_uvarint(e, 0);  /* tag: DivergingEpoch */
                        put_uvarint(e, 13); /* i32 + i64 + empty tag buffer */
                        put_i32(e, p->diverging_epoch);
                        put_i64(e, p->diverging_end_offset);
                        put_uvarint(e, 0);
                }
        }
}

static void put_resp(enc *e, int16_t v, const sl_fresp *r)
{
        bool flex = v >= 12;
        put_i32(e, r->throttle_time_ms); /* v1+ */
        if (v >= 7) {
                put_i16(e, r->error_code);
                put_i32(e, r->session_id);
        }
        put_len(e, flex, r->ntopics);
        for (int32_t t = 0; t < r->ntopics; t++) {
                const sl_fresp_topic *tp = &r->topics[t];
                if (v >= 13)
                        put_uuid(e, tp->id);
                else
                        put_string(e, flex, tp->name);
                put_len(e, flex, tp->nparts);
                for (int32_t i = 0; i < tp->nparts; i++)
                        put_part(e, v, &tp->parts[i]);
                if (flex)
                        put_uvarint(e, 0);
        }
        if (flex)
                put_u8(e, 0); /* no tagged fields (NodeEndpoints only for NOT_LEADER) */
}

size_t sl_fresp_mem_size(const sl_fresp *r, int16_t version)
{
        enc e = {.size_only = true};
        put_resp(&e, version, r);
        return e.n;
}

int sl_fresp_encode(const sl_fresp *r, int16_t version, uint8_t *buf, size_t len, size_t *cuts)
{
        if (version < 4 || version > 17)
                return -1;
        enc e = {.cuts = cuts};
        kp_wr_init(&e.wr, buf, len);
        put_resp(&e, version, r);
        if (e.wr.err || e.wr.p != e.wr.end)
                return -1;
        return 0;
}

/* ---- the cold path: ranges read in by the I/O helper before sending ---- */

struct sl_fresp_cold {
        sl_xcall x; /* the helper job */
        void (*done)(void *arg);
        void *arg;
        int32_t n, cap;
        int64_t bytes;
        int fill_rc; /* first failure of the helper's fill */
        sl_file_range r[];
};

_Atomic int sl_fresp_cold_delay_ms;

static _Atomic uint64_t st_fills, st_ranges, st_bytes, st_errors, st_hdr_fills;
static _Atomic bool method_logged;

/* Cold streams of this shard: where the helper's last fill of a file ended.
 * The helper's read leaves the kernel's readahead going past the range, with
 * readahead marks in pages nobody has read yet. The next range of the same
 * consumer starts exactly there and often looks cached (its pages are in the
 * page cache, some still being read); sent from the reactor it would wait for
 * that read and, at each mark, start the next one on the reactor. So a range
 * that continues a stream goes through the helper too, whose read waits for
 * what is in flight and moves the readahead on; the reactor only ever sends
 * pages the helper has read. A stream is forgotten after STREAM_IDLE_MS. */
#define STREAMS        32
#define FILL_TAIL      4096 /* storage/log_read.c's FETCH_WINDOW */
#define STREAM_IDLE_MS 2000

typedef struct cold_stream {
        int fd;
        int64_t end;
        int64_t used_ms;
} cold_stream;

static _Thread_local cold_stream t_streams[STREAMS];
static _Thread_local int t_nstreams;

static bool stream_continues(const sl_file_range *r)
{
        for (int i = 0; i < t_nstreams; i++) {
                cold_stream *s = &t_streams[i];
                if (s->fd != r->fd || s->end != r->pos)
                        continue;
                if (sl_now_ms() - s->used_ms > STREAM_IDLE_MS) {
                        *s = t_streams[--t_nstreams];
                        return false;
                }
                return true;
        }
        return false;
}

/* After a fill of [pos, end) of fd (on the shard): that stream's new end. */
static void stream_note(int fd, int64_t pos, int64_t end)
{
        int64_t now = sl_now_ms();
        cold_stream *slot = NULL;
        for (int i = 0; i < t_nstreams && !slot; i++)
                if (t_streams[i].fd == fd && t_streams[i].end == pos)
                        slot = &t_streams[i];
        if (!slot && t_nstreams < STREAMS)
                slot = &t_streams[t_nstreams++];
        for (int i = 0; i < t_nstreams && !slot; i++)
                if (now - t_streams[i].used_ms > STREAM_IDLE_MS)
                        slot = &t_streams[i];
        if (!slot) {
                slot = &t_streams[0]; /* all busy: the oldest */
                for (int i = 1; i < t_nstreams; i++)
                        if (t_streams[i].used_ms < slot->used_ms)
                                slot = &t_streams[i];
        }
        *slot = (cold_stream){.fd = fd, .end = end, .used_ms = now};
}

bool sl_fresp_range_cached(kp_arena *a, sl_fresp_cold **cold, int32_t max, const sl_file_range *r)
{
        if (sl_residency_check(r->fd, r->pos, r->len) && !(t_nstreams && stream_continues(r)))
                return true;
        sl_fresp_cold *w = *cold;
        if (!w) {
                w = kp_arena_alloc(a, 1, sizeof(*w) + (size_t)max * sizeof(w->r[0]));
                if (!w)
                        return true; /* out of memory: send it as it is */
                memset(w, 0, sizeof(*w));
                w->cap = max;
                *cold = w;
        }
        if (w->n >= w->cap)
                return true;
        w->r[w->n++] = *r;
        w->bytes += r->len;
        return false;
}

/* On the helper thread: must not touch shard state (shard.h). */
static void cold_run(sl_xcall *x)
{
        sl_fresp_cold *w = x->arg;
        for (int32_t i = 0; i < w->n; i++) {
                /* Plus the next fetch's first header window (the owner reads
                 * it from the reactor only once it is cached). */
                int rc = sl_residency_fill(w->r[i].fd, w->r[i].pos, w->r[i].len + FILL_TAIL);
                if (rc < 0 && !w->fill_rc)
                        w->fill_rc = rc;
        }
        int delay = atomic_load_explicit(&sl_fresp_cold_delay_ms, memory_order_relaxed);
        if (delay > 0) {
                struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
                while (nanosleep(&ts, &ts) < 0)
                        ;
        }
}

/* Back on the shard. */
static void cold_done(sl_xcall *x)
{
        sl_fresp_cold *w = x->arg;
        atomic_fetch_add_explicit(&st_fills, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st_ranges, (uint64_t)w->n, memory_order_relaxed);
        atomic_fetch_add_explicit(&st_bytes, (uint64_t)w->bytes, memory_order_relaxed);
        for (int32_t i = 0; i < w->n; i++)
                stream_note(w->r[i].fd, w->r[i].pos, w->r[i].pos + w->r[i].len);
        if (w->fill_rc) {
                /* sendfile meets the same error and closes the connection. */
                atomic_fetch_add_explicit(&st_errors, 1, memory_order_relaxed);
                SL_DEBUG("reading %d cold ranges in: %s", (int)w->n, strerror(-w->fill_rc));
        }
        w->done(w->arg);
}

void sl_fresp_cold_fill(sl_fresp_cold *cold, void (*done)(void *arg), void *arg)
{
        if (!atomic_exchange(&method_logged, true))
                SL_INFO("fetch: cold file ranges are read in by the I/O helper; page-cache "
                        "residency check: %s",
                        sl_residency_method_name(sl_residency_method_get()));
        cold->done = done;
        cold->arg = arg;
        memset(&cold->x, 0, sizeof(cold->x));
        cold->x.run = cold_run;
        cold->x.done = cold_done;
        cold->x.arg = cold;
        sl_shard_offload(&cold->x);
}

void sl_fresp_cold_stats_get(sl_fresp_cold_stats *out)
{
        out->fills = atomic_load(&st_fills);
        out->ranges = atomic_load(&st_ranges);
        out->bytes = atomic_load(&st_bytes);
        out->fill_errors = atomic_load(&st_errors);
        out->header_fills = atomic_load(&st_hdr_fills);
}

void sl_fresp_cold_count_header_fill(void)
{
        atomic_fetch_add_explicit(&st_hdr_fills, 1, memory_order_relaxed);
}
