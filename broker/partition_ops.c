/* broker/partition_ops.c — the fan-out of a request's partitions to their
 * owner shards, and the owner-side work of Produce (append, group commit),
 * ListOffsets and OffsetForLeaderEpoch. Fetch's owner side is in
 * fetch_owner.c.
 *
 * Produce path 3/5 → 4/5: handle_produce.c validates batches on the
 * connection's shard (spreading decompression over connection shards), then
 * sl_produce_on_owner appends each partition's batch with one pwritev
 * (storage/log_append.c), wakes long-polling fetches and, for acks=-1, holds
 * its reply until the shard's group-commit fdatasync covers the batch. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compress.h"
#include "kafka_errors.h"
#include "partition_ops.h"
#include "record_batch.h"
#include "producer_state.h"

int64_t sl_wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- per-shard scratch ---- */

#define DECOMPRESS_CAP (64u << 20) /* bound on one batch's records after decompression */

typedef struct dp_scratch {
        kp_codec_ctx *cc;
        uint8_t *buf;
        size_t cap;
} dp_scratch;

static _Thread_local dp_scratch *t_scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
        dp_scratch *d = p;
        kp_codec_ctx_free(d->cc);
        free(d->buf);
        free(d);
}

static void scratch_key_init(void)
{
        pthread_key_create(&scratch_key, scratch_free);
}

static dp_scratch *scratch(void)
{
        if (!t_scratch) {
                pthread_once(&scratch_once, scratch_key_init);
                dp_scratch *d = calloc(1, sizeof(*d));
                if (!d)
                        return NULL;
                t_scratch = d;
                pthread_setspecific(scratch_key, d);
        }
        return t_scratch;
}

kp_codec_ctx *sl_dp_codec_ctx(void)
{
        dp_scratch *d = scratch();
        if (d && !d->cc)
                d->cc = kp_codec_ctx_new(DECOMPRESS_CAP);
        return d ? d->cc : NULL;
}

uint8_t *sl_dp_scratch(size_t n)
{
        dp_scratch *d = scratch();
        if (!d)
                return NULL;
        if (d->cap < n) {
                uint8_t *nb = realloc(d->buf, n);
                if (!nb)
                        return NULL;
                d->buf = nb;
                d->cap = n;
        }
        return d->buf;
}

int16_t sl_leader_epoch_check(const sl_partition *p, int32_t current_leader_epoch)
{
        if (current_leader_epoch < 0)
                return 0;
        if (current_leader_epoch < p->leader_epoch)
                return KP_ERR_FENCED_LEADER_EPOCH;
        if (current_leader_epoch > p->leader_epoch)
                return KP_ERR_UNKNOWN_LEADER_EPOCH;
        return 0;
}

/* ---- fan-out ---- */

int sl_fanout_plan(sl_fanout *f, kp_arena *a, const sl_shard_id *owners, int32_t n,
                   uint32_t nshards)
{
        memset(f, 0, sizeof(*f));
        if (n <= 0 || nshards == 0)
                return 0;
        int32_t *count = kp_arena_alloc(a, nshards, sizeof(*count));
        int32_t *slot = kp_arena_alloc(a, nshards, sizeof(*slot));
        if (!count || !slot)
                return -1;
        int32_t ngroups = 0;
        for (int32_t i = 0; i < n; i++) {
                if (owners[i] == SL_FANOUT_SKIP || owners[i] >= nshards)
                        continue;
                if (count[owners[i]]++ == 0)
                        ngroups++;
        }
        if (!ngroups)
                return 0;
        f->groups = kp_arena_alloc(a, (size_t)ngroups, sizeof(*f->groups));
        if (!f->groups)
                return -1;
        int32_t g = 0;
        for (uint32_t s = 0; s < nshards; s++) {
                if (!count[s])
                        continue;
                sl_fanout_group *grp = &f->groups[g];
                grp->items = kp_arena_alloc(a, (size_t)count[s], sizeof(*grp->items));
                if (!grp->items)
                        return -1;
                grp->owner = s;
                grp->f = f;
                slot[s] = g++;
        }
        for (int32_t i = 0; i < n; i++) {
                if (owners[i] == SL_FANOUT_SKIP || owners[i] >= nshards)
                        continue;
                sl_fanout_group *grp = &f->groups[slot[owners[i]]];
                grp->items[grp->n++] = i;
        }
        f->ngroups = ngroups;
        return 0;
}

static void fanout_gathered(sl_gather *g)
{
        sl_fanout *f = g->arg;
        f->done(f);
}

void sl_fanout_start(sl_fanout *f, sl_xcall_fn *run, void (*done)(sl_fanout *f), void *ctx)
{
        f->done = done;
        f->ctx = ctx;
        sl_gather_init(&f->g, fanout_gathered, f);
        for (int32_t i = 0; i < f->ngroups; i++) {
                sl_fanout_group *grp = &f->groups[i];
                memset(&grp->x, 0, sizeof(grp->x));
                grp->x.run = run;
                grp->x.arg = grp;
                grp->pending = 0;
                sl_gather_call(&f->g, grp->owner, &grp->x);
        }
        sl_gather_arm(&f->g);
}

/* ---- Produce ---- */

static void group_release(sl_fanout_group *grp)
{
        if (--grp->pending == 0)
                sl_xcall_reply(&grp->x);
}

static void produce_synced(sl_sync_waiter *w, int err)
{
        sl_produce_item *it = w->arg;
        if (err) {
                /* Appended but not durable: never acknowledge it. A deleted
                 * partition (-ECANCELED) is gone; anything else latched the log. */
                it->error_code = err == -ECANCELED ? KP_ERR_UNKNOWN_TOPIC_OR_PARTITION
                                                   : KP_ERR_KAFKA_STORAGE_ERROR;
                it->base_offset = -1;
                it->log_append_time = -1;
        }
        group_release(it->grp);
}

static void produce_one(sl_fanout_group *grp, sl_produce_item *it, int64_t now);

/* The partition's producer state is loaded (or its load ended): the parked
 * item goes on where it stopped. */
static void produce_resume(sl_producer_waiter *pw, int err)
{
        sl_produce_item *it = pw->arg;
        sl_fanout_group *grp = it->grp;
        if (err && err != -ECANCELED) {
                it->error_code =
                    err == -ENOMEM ? KP_ERR_UNKNOWN_SERVER_ERROR : KP_ERR_KAFKA_STORAGE_ERROR;
                it->base_offset = -1;
                it->log_append_time = -1;
        } else {
                produce_one(grp, it, sl_wall_ms()); /* -ECANCELED: found again, or not */
        }
        group_release(grp);
}

static void produce_one(sl_fanout_group *grp, sl_produce_item *it, int64_t now)
{
        sl_partition *p = sl_partition_find(it->topic_id, it->partition);
        if (!p) {
                it->error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                return;
        }
        /* A first idempotent batch after start: the producer state is rebuilt
         * from the log on the I/O helper while this partition's produces
         * wait, in order; the group answers once they are done. */
        it->grp = grp;
        it->pw.cb = produce_resume;
        it->pw.arg = it;
        if (sl_producer_park(p, it->records, it->len, now, &it->pw)) {
                grp->pending++;
                return;
        }
        sl_append_result res;
        sl_producer_append pa; /* idempotence: duplicates answered, gaps refused */
        /* handle_produce.c verified the batch's CRC-32C (or re-stamped it
         * after a rewrite): storage need not checksum the bytes again. */
        sl_append_buf ab = {.p = it->records, .len = it->len, .crc_checked = true};
        if (sl_producer_before_append(p, it->records, it->len, now, &pa, &res))
                sl_log_append_v(p->log, &ab, 1, p->leader_epoch, now, &res);
        sl_producer_after_append(&pa, it->records, it->len, &res);
        it->log_start_offset = sl_log_start_offset(p->log);
        if (res.error_code) {
                it->error_code = res.error_code;
                return;
        }
        it->error_code = 0;
        it->base_offset = res.base_offset;
        it->log_append_time = res.log_append_time;
        sl_fetch_notify(it->topic_id, it->partition);
        sl_partition_cache_kick(p);
        if (it->wait_sync) {
                it->w.cb = produce_synced;
                it->w.arg = it;
                grp->pending++;
                sl_partition_sync_wait(p, &it->w);
        }
}

void sl_produce_on_owner(sl_xcall *x)
{
        sl_fanout_group *grp = x->arg;
        sl_produce_fanout_ctx *c = grp->f->ctx;
        int64_t now = sl_wall_ms();
        grp->pending = 1; /* held until every item is started */
        for (int32_t i = 0; i < grp->n; i++) {
                sl_produce_item *it = &c->items[grp->items[i]];
                it->base_offset = -1;
                it->log_append_time = -1;
                it->log_start_offset = -1;
                produce_one(grp, it, now);
        }
        group_release(grp);
}

/* ---- ListOffsets ---- */

static int16_t storage_error(int rc)
{
        return rc == SL_EOFFSET ? KP_ERR_OFFSET_OUT_OF_RANGE : KP_ERR_KAFKA_STORAGE_ERROR;
}

/* Storage finds the first batch whose max timestamp reaches the target;
 * Kafka answers the first *record* at or after it. Reads that one batch (a
 * pread: ListOffsets by time is a seek, not a hot path) and walks its
 * records to refine (*off, *ts); leaves them as they are if it cannot. */
static void exact_record(sl_log *log, int64_t target, int64_t hw, int64_t *off, int64_t *ts)
{
        sl_file_range r;
        int n = 0;
        if (sl_log_read(log, *off, hw, 1, &r, 1, &n) < 0 || n != 1)
                return;
        size_t len = (size_t)r.len;
        uint8_t *buf = sl_dp_scratch(len);
        ssize_t got = buf ? pread(r.fd, buf, len, r.pos) : -1;
        sl_log_release_ranges(log, &r, 1);
        kp_batch b;
        const char *why;
        if (got != (ssize_t)len || kp_batch_parse(buf, len, &b, &why) ||
            (b.attributes & KP_BATCH_ATTR_LOG_APPEND_TIME))
                return; /* LogAppendTime: every record has the batch's time */
        const uint8_t *rec = b.records.p;
        size_t rec_len = (size_t)b.records.len;
        kp_codec_ctx *cc = sl_dp_codec_ctx();
        if (kp_batch_codec(&b) &&
            (!cc || kp_decompress(cc, kp_batch_codec(&b), rec, rec_len, &rec, &rec_len, &why)))
                return;
        kp_record_iter it;
        kp_record rr;
        kp_record_iter_init(&it, rec, rec_len, b.records_count);
        while (kp_record_next(&it, &rr)) {
                int64_t t = b.base_timestamp + rr.timestamp_delta;
                int64_t o = b.base_offset + rr.offset_delta;
                if (t >= target && o >= *off && o < hw) {
                        *off = o;
                        *ts = t;
                        return;
                }
        }
}

/* The partition a read (Fetch, ListOffsets, OffsetForLeaderEpoch) may use, or
 * NULL with the error to put in its slot. */
sl_partition *sl_partition_readable(kp_uuid topic_id, int32_t partition,
                                    int32_t current_leader_epoch, int16_t *error_code)
{
        sl_partition *p = sl_partition_find(topic_id, partition);
        *error_code = 0;
        if (!p) {
                *error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                return NULL;
        }
        *error_code = sl_leader_epoch_check(p, current_leader_epoch);
        if (*error_code)
                return NULL;
        if (sl_log_failed(p->log)) {
                *error_code = KP_ERR_KAFKA_STORAGE_ERROR;
                return NULL;
        }
        return p;
}

/* Kafka's Partition.fetchOffsetForTimestamp on a single node, where the high
 * watermark (and, without transactions, the last stable offset) is the log
 * end offset; so read_committed answers the same as read_uncommitted. */
static void list_offsets_one(sl_offsets_item *it)
{
        it->offset = -1;
        it->found_timestamp = -1;
        it->found_epoch = -1;
        sl_partition *p = sl_partition_readable(it->topic_id, it->partition,
                                                it->current_leader_epoch, &it->error_code);
        if (!p)
                return;
        sl_log *log = p->log;
        int64_t hw = sl_log_end_offset(log);
        int32_t latest_epoch = sl_log_latest_epoch(log);
        switch (it->timestamp) {
        case SL_TS_LATEST:
                it->offset = hw;
                it->found_epoch = latest_epoch;
                return;
        case SL_TS_EARLIEST:
        case SL_TS_EARLIEST_LOCAL: /* no tiered storage: local start = start */
                it->offset = sl_log_start_offset(log);
                it->found_epoch = it->offset < hw ? latest_epoch : -1;
                return;
        case SL_TS_LATEST_TIERED: /* nothing tiered: Kafka answers -1 */
                return;
        case SL_TS_MAX: {
                int64_t ts, off;
                int rc = sl_log_max_timestamp(log, &ts, &off);
                if (rc < 0) {
                        it->error_code = storage_error(rc);
                        return;
                }
                if (off >= 0 && off < hw) {
                        it->offset = off;
                        it->found_timestamp = ts;
                        it->found_epoch = latest_epoch;
                }
                return;
        }
        default: {
                int64_t off, ts;
                int rc = sl_log_offset_for_timestamp(log, it->timestamp, &off, &ts);
                if (rc == SL_ENOTFOUND)
                        return;
                if (rc < 0) {
                        it->error_code = storage_error(rc);
                        return;
                }
                if (off < hw) {
                        exact_record(log, it->timestamp, hw, &off, &ts);
                        it->offset = off;
                        it->found_timestamp = ts;
                        it->found_epoch = latest_epoch;
                }
                return;
        }
        }
}

void sl_list_offsets_on_owner(sl_xcall *x)
{
        sl_fanout_group *grp = x->arg;
        sl_offsets_fanout_ctx *c = grp->f->ctx;
        for (int32_t i = 0; i < grp->n; i++)
                list_offsets_one(&c->items[grp->items[i]]);
        sl_xcall_reply(x);
}

/* ---- OffsetForLeaderEpoch ---- */

/* Kafka's LeaderEpochFileCache.endOffsetFor: the requested epoch if it is the
 * latest (ending at the log end), UNDEFINED (-1, -1) above the latest or for
 * an undefined request, else the largest epoch <= requested ending where the
 * next one starts. */
static void epoch_end_one(sl_offsets_item *it)
{
        it->found_epoch = -1;
        it->offset = -1;
        sl_partition *p = sl_partition_readable(it->topic_id, it->partition,
                                                it->current_leader_epoch, &it->error_code);
        if (!p)
                return;
        sl_log *log = p->log;
        int32_t latest = sl_log_latest_epoch(log);
        if (it->leader_epoch < 0 || latest < 0 || it->leader_epoch > latest)
                return;
        if (it->leader_epoch == latest) {
                it->found_epoch = latest;
                it->offset = sl_log_end_offset(log);
                return;
        }
        int32_t found;
        int64_t end;
        int rc = sl_log_end_offset_for_epoch(log, it->leader_epoch, &found, &end);
        if (rc == SL_ENOTFOUND) {
                /* Below every stored epoch: Kafka answers the requested epoch
                 * ending where the first stored one starts; the log start is
                 * where that is for a log that never truncated its head. */
                it->found_epoch = it->leader_epoch;
                it->offset = sl_log_start_offset(log);
                return;
        }
        if (rc < 0) {
                it->error_code = storage_error(rc);
                return;
        }
        it->found_epoch = found;
        it->offset = end;
}

void sl_epoch_end_on_owner(sl_xcall *x)
{
        sl_fanout_group *grp = x->arg;
        sl_offsets_fanout_ctx *c = grp->f->ctx;
        for (int32_t i = 0; i < grp->n; i++)
                epoch_end_one(&c->items[grp->items[i]]);
        sl_xcall_reply(x);
}
