/* broker/fetch_owner.c — Fetch on the partition's owner shard: reading file
 * ranges (pinned for sendfile on the connection's shard), unpinning them
 * afterwards, and the long-poll watches an append wakes.
 *
 * Pins: sl_log_read pins the segments its ranges cover; the connection's
 * shard sends the bytes with sendfile and, once the response is written (or
 * its connection closed), sends a pooled "release" message back here. The
 * pool is per shard and only grows, so steady state allocates nothing.
 *
 * Cold headers: batch headers are read from the page cache only; when the
 * first one is on disk the shard's I/O helper brings it in before the read
 * is repeated and the reply goes home (see "cold batch headers" below), so a
 * lagging consumer's reads never wait for the disk on this reactor.
 *
 * Watches: a long-polling Fetch parks one xcall per owner shard here; its
 * items are linked into this shard's hash table by (topic id, partition)
 * until sl_fetch_notify (called after every append) finds one of them, or the
 * connection shard sends a cancel. The items live in a wait block of the
 * other shard (fetch_wait.c); they are touched here only while the watch
 * xcall is parked (shard.h: the target owns arg until it replies). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "block_pool.h"
#include "fetch_response.h"
#include "kafka_errors.h"
#include "partition_ops.h"
#include "residency.h"
#include "shard.h"

/* ---- reading ---- */

/* Kafka's Partition.readRecords divergence test (KIP-320, Fetch v12+): the
 * end offset of the client's last fetched epoch, by the same rule as
 * OffsetForLeaderEpoch; diverging when that epoch is unknown here or ends
 * below the fetch offset. */
static bool diverging(sl_log *log, sl_fetch_item *it)
{
        int32_t latest = sl_log_latest_epoch(log);
        int32_t fe = -1;
        int64_t eo = -1;
        if (latest >= 0 && it->last_fetched_epoch == latest) {
                fe = latest;
                eo = sl_log_end_offset(log);
        } else if (latest >= 0 && it->last_fetched_epoch < latest) {
                if (sl_log_end_offset_for_epoch(log, it->last_fetched_epoch, &fe, &eo) < 0) {
                        fe = it->last_fetched_epoch;
                        eo = sl_log_start_offset(log);
                }
        }
        if (fe < it->last_fetched_epoch || eo < it->fetch_offset) {
                it->diverged = true;
                it->diverging_epoch = fe;
                it->diverging_end_offset = eo;
                return true;
        }
        return false;
}

/* Reads one item. With need, from the page cache only: returns true (item
 * unread, nothing pinned) when the first batch header is not cached, with
 * *need the file window to bring in. */
static bool fetch_read_one(sl_fetch_item *it, sl_file_range *need)
{
        it->nranges = 0;
        it->bytes = 0;
        it->part = NULL;
        it->diverged = false;
        it->diverging_epoch = -1;
        it->diverging_end_offset = -1;
        it->high_watermark = -1;
        it->log_start_offset = -1;
        sl_partition *p = sl_partition_readable(it->topic_id, it->partition,
                                                it->current_leader_epoch, &it->error_code);
        if (!p)
                return false;
        sl_log *log = p->log;
        /* Single node: the high watermark is the log end offset. */
        it->high_watermark = sl_log_end_offset(log);
        it->log_start_offset = sl_log_start_offset(log);
        if (it->last_fetched_epoch >= 0 && diverging(log, it))
                return false;
        if (it->fetch_offset < it->log_start_offset || it->fetch_offset > it->high_watermark) {
                it->error_code = KP_ERR_OFFSET_OUT_OF_RANGE;
                return false;
        }
        size_t budget = it->max_bytes > 0 ? (size_t)it->max_bytes : 0;
        int n = 0;
        int rc = need ? sl_residency_log_read(log, it->fetch_offset, it->high_watermark, budget,
                                              it->ranges, SL_FETCH_MAX_RANGES, &n, need)
                      : sl_log_read(log, it->fetch_offset, it->high_watermark, budget, it->ranges,
                                    SL_FETCH_MAX_RANGES, &n);
        if (rc == -EAGAIN && need)
                return true;
        if (rc < 0) {
                it->error_code =
                    rc == SL_EOFFSET ? KP_ERR_OFFSET_OUT_OF_RANGE : KP_ERR_KAFKA_STORAGE_ERROR;
                return false;
        }
        it->nranges = n;
        for (int i = 0; i < n; i++)
                it->bytes += it->ranges[i].len;
        if (n) {
                it->part = p;
                p->read_pins += n;
        }
        return false;
}

/* ---- cold batch headers: read in by this shard's I/O helper ----
 *
 * sl_log_read preads batch headers on this reactor. For a lagging consumer
 * they are on disk, so the items are read from the page cache only
 * (sl_residency_log_read); an item whose first header is not cached waits
 * while the helper brings its window in (sl_residency_fill), then is read
 * again, and the group's reply goes home after that. A range's end header
 * that is not cached just ends the range early. After HDR_ROUNDS trips an
 * item is read the blocking way (the pages keep being dropped: memory is
 * that short). The jobs are pooled per shard like the release messages. A
 * window's segment is not pinned meanwhile: if retention deletes it, the
 * helper reads a closed (or reused) fd into the page cache or fails, and the
 * re-read finds what is there now. */

#define HDR_ROUNDS  4
#define HDR_JOB_CAP 16 /* windows per job; more items wait for the next round */

typedef struct hdr_job {
        sl_xcall x;
        sl_fanout_group *grp;
        sl_xcall *reply; /* the group's xcall, replied when every item is read */
        int rounds;
        int32_t n;
        int32_t items[HDR_JOB_CAP]; /* indexes into grp->items */
        sl_file_range need[HDR_JOB_CAP];
} hdr_job;

static sl_block_pool hdr_pool = SL_BLOCK_POOL_INIT(sizeof(hdr_job));

static hdr_job *hdr_get(void)
{
        hdr_job *j = sl_block_get(&hdr_pool);
        if (j)
                memset(j, 0, offsetof(hdr_job, items));
        return j;
}

/* On the helper thread. */
static void hdr_run(sl_xcall *x)
{
        hdr_job *j = x->arg;
        for (int32_t i = 0; i < j->n; i++)
                sl_residency_fill(j->need[i].fd, j->need[i].pos, j->need[i].len);
}

static void read_items(sl_fanout_group *grp, sl_xcall *reply, hdr_job *prev);

static void hdr_done(sl_xcall *x)
{
        hdr_job *j = x->arg;
        sl_fresp_cold_count_header_fill();
        read_items(j->grp, j->reply, j);
}

/* Reads the group's items (those of prev only, after a helper trip), sends
 * the cold ones' windows to the helper, and replies once none is left. */
static void read_items(sl_fanout_group *grp, sl_xcall *reply, hdr_job *prev)
{
        sl_fetch_fanout_ctx *c = grp->f->ctx;
        int rounds = prev ? prev->rounds + 1 : 0;
        int32_t count = prev ? prev->n : grp->n;
        hdr_job *job = NULL;
        for (int32_t k = 0; k < count; k++) {
                int32_t gi = prev ? prev->items[k] : k;
                sl_fetch_item *it = &c->items[grp->items[gi]];
                sl_file_range need;
                if (!fetch_read_one(it, rounds < HDR_ROUNDS ? &need : NULL))
                        continue;
                if (!job)
                        job = hdr_get();
                if (!job || job->n == HDR_JOB_CAP) {
                        fetch_read_one(it, NULL); /* no room: read it the blocking way */
                        continue;
                }
                job->items[job->n] = gi;
                job->need[job->n++] = need;
        }
        if (prev)
                sl_block_put(&hdr_pool, prev);
        if (!job) {
                sl_xcall_reply(reply);
                return;
        }
        job->grp = grp;
        job->reply = reply;
        job->rounds = rounds;
        job->x.run = hdr_run;
        job->x.done = hdr_done;
        job->x.arg = job;
        sl_shard_offload(&job->x);
}

void sl_fetch_read_on_owner(sl_xcall *x)
{
        read_items(x->arg, x, NULL);
}

/* Owner side: unpins ranges; the partition outlives its pins even when its
 * topic was deleted meanwhile (sl_partition_unpinned finishes that close). */
static void unpin(sl_partition *p, const sl_file_range *r, int n)
{
        sl_log_release_ranges(p->log, r, n);
        sl_partition_unpinned(p, n);
}

/* ---- release messages (pooled per shard) ---- */

#define REL_CAP 16 /* ranges per message */

typedef struct rel_msg {
        sl_xcall x;
        int n;
        struct {
                sl_partition *part;
                sl_file_range r;
        } e[REL_CAP];
} rel_msg;

static sl_block_pool rel_pool = SL_BLOCK_POOL_INIT(sizeof(rel_msg));

static rel_msg *rel_get(void)
{
        rel_msg *m = sl_block_get(&rel_pool);
        if (m) {
                memset(&m->x, 0, sizeof(m->x));
                m->n = 0;
        }
        return m;
}

static void rel_run(sl_xcall *x)
{
        rel_msg *m = x->arg;
        for (int i = 0; i < m->n; i++)
                unpin(m->e[i].part, &m->e[i].r, 1);
        sl_xcall_reply(x);
}

/* Back on the sending shard: to the pool (the key's destructor frees the
 * pool when the shard thread exits). */
static void rel_done(sl_xcall *x)
{
        sl_block_put(&rel_pool, x->arg);
}

static void rel_send(sl_shard_id owner, rel_msg *m)
{
        m->x.run = rel_run;
        m->x.done = rel_done;
        m->x.arg = m;
        sl_shard_call(owner, &m->x);
}

void sl_fetch_release(sl_shard_id owner, sl_fetch_item *it)
{
        if (!it->nranges)
                return;
        rel_msg *m = NULL;
        for (int32_t i = 0; i < it->nranges; i++) {
                if (!m && !(m = rel_get())) {
                        /* Out of memory: the pin stays (a leaked segment pin
                         * delays one file's close; never a wrong read). */
                        continue;
                }
                m->e[m->n].part = it->part;
                m->e[m->n].r = it->ranges[i];
                if (++m->n == REL_CAP) {
                        rel_send(owner, m);
                        m = NULL;
                }
        }
        if (m)
                rel_send(owner, m);
        it->nranges = 0;
        it->bytes = 0;
}

/* ---- watches ---- */

#define WATCH_BUCKETS 1024 /* per shard; chains hold only long-polling items */

static _Thread_local sl_fetch_item *t_watch[WATCH_BUCKETS];

static uint32_t watch_hash(kp_uuid id, int32_t partition)
{
        uint32_t h = 2166136261u;
        for (int i = 0; i < 16; i++)
                h = (h ^ id.b[i]) * 16777619u;
        return ((h ^ (uint32_t)partition) * 16777619u) & (WATCH_BUCKETS - 1);
}

static void watch_link(sl_fetch_item *it, sl_fanout_group *grp)
{
        sl_fetch_item **head = &t_watch[watch_hash(it->topic_id, it->partition)];
        it->w_grp = grp;
        it->w_prev = NULL;
        it->w_next = *head;
        if (*head)
                (*head)->w_prev = it;
        *head = it;
        it->w_linked = true;
}

static void watch_unlink(sl_fetch_item *it)
{
        if (!it->w_linked)
                return;
        if (it->w_prev)
                it->w_prev->w_next = it->w_next;
        else
                t_watch[watch_hash(it->topic_id, it->partition)] = it->w_next;
        if (it->w_next)
                it->w_next->w_prev = it->w_prev;
        it->w_next = it->w_prev = NULL;
        it->w_grp = NULL;
        it->w_linked = false;
}

/* Sends a watch home with a fresh read of its partitions: the connection's
 * shard answers from that without another round trip to the owners. */
static void watch_reply_with_read(sl_fanout_group *grp)
{
        grp->pending = 0;
        read_items(grp, &grp->x, NULL);
}

/* Unregisters every item of a parked watch and sends it home. */
static void watch_fire(sl_fanout_group *grp)
{
        sl_fetch_fanout_ctx *c = grp->f->ctx;
        for (int32_t i = 0; i < grp->n; i++)
                watch_unlink(&c->items[grp->items[i]]);
        watch_reply_with_read(grp);
}

void sl_fetch_watch_on_owner(sl_xcall *x)
{
        sl_fanout_group *grp = x->arg;
        sl_fetch_fanout_ctx *c = grp->f->ctx;
        bool ready = false;
        for (int32_t i = 0; i < grp->n; i++) {
                sl_fetch_item *it = &c->items[grp->items[i]];
                if (it->nranges) {
                        unpin(it->part, it->ranges, it->nranges);
                        it->nranges = 0;
                        it->bytes = 0;
                }
                /* Appended (or gone) since the read: no need to park. */
                sl_partition *p = sl_partition_find(it->topic_id, it->partition);
                if (!p || sl_log_end_offset(p->log) != it->high_watermark)
                        ready = true;
        }
        if (ready) {
                watch_reply_with_read(grp);
                return;
        }
        for (int32_t i = 0; i < grp->n; i++)
                watch_link(&c->items[grp->items[i]], grp);
        grp->pending = 1; /* parked */
}

void sl_fetch_watch_cancel_on_owner(sl_xcall *x)
{
        sl_fanout_group *grp = x->arg;
        if (grp->pending == 1)
                watch_fire(grp);
        sl_xcall_reply(x);
}

void sl_fetch_notify(kp_uuid topic_id, int32_t partition)
{
        sl_fetch_item **head = &t_watch[watch_hash(topic_id, partition)];
        bool again = true;
        while (again) {
                again = false;
                for (sl_fetch_item *it = *head; it; it = it->w_next) {
                        if (it->partition == partition &&
                            !memcmp(it->topic_id.b, topic_id.b, sizeof(topic_id.b))) {
                                /* Firing unlinks several items: rescan. */
                                watch_fire(it->w_grp);
                                again = true;
                                break;
                        }
                }
        }
}
