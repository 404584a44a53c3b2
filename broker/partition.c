/* broker/partition.c — partitions on their owner shard: the per-shard table,
 * opening/closing storage logs, group commit and periodic maintenance.
 *
 * Group commit (Produce acks=-1, after storage/log_append.c — path 4/5 —
 * appended the batch): the handler calls sl_partition_sync_wait(); in the
 * reactor's before-sleep hook every partition with waiters gets one
 * sl_log_sync_prepare, the whole batch of jobs goes to one of the shard's two
 * disk helper lanes (shard_lanes.h), and when its fdatasyncs are done
 * sl_log_sync_complete_durable runs on the shard and the waiters fire. A
 * second batch may start while the first is still in fdatasync (then new
 * waiters collect for the next); batches complete in the order they started
 * (partition_ops.h says why). One sync per log per batch covers every append
 * before it, and the reactor never blocks on disk. The same batches carry
 * each log's page-cache work (write-behind, drop-behind: storage/log_cache.c),
 * run after the fdatasyncs and completed as a second step, so no acks=-1
 * answer waits for it; a log with no waiters and no flush due gets a job with
 * only that work. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "broker_int.h"
#include "partition_clean.h"
#include "partition_ops.h"
#include "shard_lanes.h"

static int64_t wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_partition_dir(const sl_topic_info *t, int32_t index, char *buf, size_t len)
{
        snprintf(buf, len, "%s/%.*s-%d", g_sl.cfg.data_dir, (int)t->name.len, t->name.p, index);
}

int sl_partition_remove_dir(const char *dir)
{
        struct stat st;
        if (stat(dir, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        return sl_log_remove_dir(dir);
}

static sl_log_config log_config_of(const sl_topic_config *tc, const sl_config *b)
{
        sl_log_config c = sl_log_config_default();
        c.segment_bytes = sl_topic_config_i64(tc, b, SL_TOPIC_SEGMENT_BYTES);
        c.segment_ms = sl_topic_config_i64(tc, b, SL_TOPIC_SEGMENT_MS);
        c.segment_index_bytes = sl_topic_config_i64(tc, b, SL_TOPIC_SEGMENT_INDEX_BYTES);
        c.index_interval_bytes = (int32_t)sl_topic_config_i64(tc, b, SL_TOPIC_INDEX_INTERVAL_BYTES);
        c.retention_ms = sl_topic_config_i64(tc, b, SL_TOPIC_RETENTION_MS);
        c.retention_bytes = sl_topic_config_i64(tc, b, SL_TOPIC_RETENTION_BYTES);
        c.flush_messages = sl_topic_config_i64(tc, b, SL_TOPIC_FLUSH_MESSAGES);
        c.flush_ms = sl_topic_config_i64(tc, b, SL_TOPIC_FLUSH_MS);
        c.log_append_time =
            sl_topic_config_i64(tc, b, SL_TOPIC_MESSAGE_TIMESTAMP_TYPE) == SL_TS_LOG_APPEND_TIME;
        c.max_message_bytes = (int32_t)sl_topic_config_i64(tc, b, SL_TOPIC_MAX_MESSAGE_BYTES);
        c.cache_retain_bytes = b->log_page_cache_retain_bytes;
        return c;
}

static sl_log_config log_config_for(const sl_topic_info *t)
{
        return log_config_of(&t->config, sl_shard_config());
}

int sl_partition_config_check(const sl_topic_config *tc, const sl_config *broker)
{
        sl_log_config c = log_config_of(tc, broker);
        return sl_log_config_check(&c);
}

/* --- table --- */

static uint32_t part_hash(kp_uuid id, int32_t index)
{
        uint32_t h = 2166136261u;
        for (int i = 0; i < 16; i++)
                h = (h ^ id.b[i]) * 16777619u;
        return (h ^ (uint32_t)index) * 16777619u;
}

static int table_grow(sl_shard *s)
{
        uint32_t n = s->ptab ? (s->ptab_mask + 1) * 2 : 64;
        sl_partition **nt = calloc(n, sizeof(*nt));
        if (!nt)
                return -ENOMEM;
        if (s->ptab) {
                for (uint32_t i = 0; i <= s->ptab_mask; i++) {
                        sl_partition *p = s->ptab[i], *next;
                        for (; p; p = next) {
                                next = p->hash_next;
                                uint32_t b = part_hash(p->topic_id, p->index) & (n - 1);
                                p->hash_next = nt[b];
                                nt[b] = p;
                        }
                }
                free(s->ptab);
        }
        s->ptab = nt;
        s->ptab_mask = n - 1;
        return 0;
}

static sl_partition *table_find(sl_shard *s, kp_uuid id, int32_t index)
{
        if (!s->ptab)
                return NULL;
        sl_partition *p = s->ptab[part_hash(id, index) & s->ptab_mask];
        for (; p; p = p->hash_next)
                if (p->index == index && !memcmp(p->topic_id.b, id.b, 16))
                        return p;
        return NULL;
}

sl_partition *sl_partition_find(kp_uuid topic_id, int32_t index)
{
        return table_find(sl_shard_self(), topic_id, index);
}

static void table_remove(sl_shard *s, sl_partition *p)
{
        sl_partition **pp = &s->ptab[part_hash(p->topic_id, p->index) & s->ptab_mask];
        while (*pp && *pp != p)
                pp = &(*pp)->hash_next;
        if (*pp)
                *pp = p->hash_next;
        s->nparts--;
}

/* --- open / close --- */

int sl_partition_open(sl_shard *s, const sl_topic_info *t, int32_t index, bool fresh)
{
        if (table_find(s, t->id, index))
                return 0;
        if ((!s->ptab || s->nparts >= s->ptab_mask + 1) && table_grow(s) < 0)
                return -ENOMEM;
        char dir[SL_CONFIG_PATH_MAX + 300];
        sl_partition_dir(t, index, dir, sizeof(dir));
        if (fresh) {
                /* Left over from a deletion interrupted by a crash: never revive. */
                int rc = sl_partition_remove_dir(dir);
                if (rc < 0)
                        return rc;
        }
        sl_partition *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->topic_name = strndup(t->name.p, (size_t)t->name.len);
        if (!p->topic_name) {
                free(p);
                return -ENOMEM;
        }
        p->topic_id = t->id;
        p->index = index;
        p->leader_epoch = 0;
        sl_log_config cfg = log_config_for(t);
        sl_log_error lerr = {0};
        int rc = sl_log_open(dir, &cfg, wall_ms(), &p->log, &lerr);
        if (rc < 0) {
                SL_ERROR("opening %s: %s", dir,
                         lerr.message[0] ? lerr.message : sl_log_strerror(rc));
                free(p->topic_name);
                free(p);
                return rc;
        }
        uint32_t b = part_hash(p->topic_id, index) & s->ptab_mask;
        p->hash_next = s->ptab[b];
        s->ptab[b] = p;
        s->nparts++;
        return 0;
}

int sl_partition_reconfigure(sl_partition *p, const sl_topic_info *t)
{
        sl_log_config cfg = log_config_for(t);
        return sl_log_set_config(p->log, &cfg);
}

static void fire_waiters(sl_sync_waiter *w, int err)
{
        while (w) {
                sl_sync_waiter *next = w->next;
                w->cb(w, err);
                w = next;
        }
}

/* Off the dirty list, waiters told: the partition is going away. */
static void partition_detach(sl_shard *s, sl_partition *p)
{
        sl_partition_clean_stop(p); /* a running compaction is cancelled, joined */
        if (p->sync_queued) {
                sl_partition **pp = &s->dirty_head;
                while (*pp && *pp != p)
                        pp = &(*pp)->dirty_next;
                if (*pp)
                        *pp = p->dirty_next;
                p->sync_queued = false;
        }
        sl_sync_waiter *w = p->sync_wait;
        p->sync_wait = p->sync_tail = NULL;
        fire_waiters(w, -ECANCELED);
}

static void partition_free(sl_shard *s, sl_partition *p, bool remove_dir)
{
        char dir[SL_CONFIG_PATH_MAX + 300];
        if (p->gone_dir)
                snprintf(dir, sizeof(dir), "%s", p->gone_dir);
        else
                snprintf(dir, sizeof(dir), "%s/%s-%d", g_sl.cfg.data_dir, p->topic_name, p->index);
        partition_detach(s, p);
        if (!remove_dir)
                sl_log_sync(p->log); /* shutdown: make everything durable */
        sl_log_close(p->log);
        if (remove_dir) {
                int rc = sl_log_remove_dir(dir);
                if (rc < 0)
                        SL_WARN("removing %s: %s", dir, sl_log_strerror(rc));
        }
        free(p->gone_dir);
        free(p->topic_name);
        free(p);
}

/* A deleted partition whose ranges are still being sent: its directory moves
 * aside at once (a topic re-created under the same name gets a clean one,
 * and the open fds stay valid), the log closes when the last pin returns. */
static void partition_defer_close(sl_partition *p, bool remove_dir)
{
        p->close_pending = true;
        p->remove_pending = remove_dir;
        if (!remove_dir || p->gone_dir)
                return;
        char from[SL_CONFIG_PATH_MAX + 300], to[SL_CONFIG_PATH_MAX + 340];
        snprintf(from, sizeof(from), "%s/%s-%d", g_sl.cfg.data_dir, p->topic_name, p->index);
        snprintf(to, sizeof(to), "%s.%p.deleted", from, (void *)p);
        if (rename(from, to) == 0)
                p->gone_dir = strdup(to);
        else
                SL_WARN("moving %s aside: %s", from, strerror(errno));
}

void sl_partition_unpinned(sl_partition *p, int n)
{
        p->read_pins -= n;
        if (p->read_pins == 0 && p->close_pending && !p->sync_running)
                partition_free(sl_shard_self(), p, p->remove_pending);
}

void sl_partition_close(sl_shard *s, sl_partition *p, bool remove_dir)
{
        table_remove(s, p);
        if (p->sync_running) {
                p->close_pending = true;
                p->remove_pending = remove_dir;
                return;
        }
        partition_free(s, p, remove_dir);
}

/* --- admin changes: disk work on the I/O helper --- */

/* Some partitions of one topic opened or closed on this (owner) shard. The
 * reactor only touches the table; mkdir, log open/recovery, close and rm -r
 * run on the shard's I/O helper thread (a topic's deletion may unlink
 * gigabytes). A log opened there is handed to the shard through the helper's
 * completion queue (a mutex: the hand-over publishes it) before any use. */
typedef struct part_batch {
        sl_xcall io;
        sl_shard *s;
        bool close;
        bool remove;
        sl_log_config cfg; /* open: computed on the shard (per-shard config) */
        int32_t n;
        sl_partition **parts; /* open: new; close: unlinked, or NULL (dir only) */
        char (*dirs)[SL_CONFIG_PATH_MAX + 300];
        int err;
        void (*done)(void *arg, int err);
        void *arg;
} part_batch;

static part_batch *batch_new(sl_shard *s, int32_t n)
{
        part_batch *b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        b->s = s;
        b->parts = calloc((size_t)(n ? n : 1), sizeof(*b->parts));
        b->dirs = calloc((size_t)(n ? n : 1), sizeof(*b->dirs));
        if (!b->parts || !b->dirs) {
                free(b->parts);
                free(b->dirs);
                free(b);
                return NULL;
        }
        return b;
}

static void batch_finish(part_batch *b)
{
        void (*done)(void *, int) = b->done;
        void *arg = b->arg;
        int err = b->err;
        free(b->parts);
        free(b->dirs);
        free(b);
        done(arg, err);
}

static void open_io(sl_xcall *x)
{
        part_batch *b = x->arg;
        for (int32_t i = 0; i < b->n; i++) {
                sl_partition *p = b->parts[i];
                /* Left over from a deletion interrupted by a crash: never revive. */
                int rc = sl_partition_remove_dir(b->dirs[i]);
                sl_log_error lerr = {0};
                if (!rc)
                        rc = sl_log_open(b->dirs[i], &b->cfg, wall_ms(), &p->log, &lerr);
                if (rc < 0) {
                        p->log = NULL;
                        SL_ERROR("opening %s: %s", b->dirs[i],
                                 lerr.message[0] ? lerr.message : sl_log_strerror(rc));
                        if (!b->err)
                                b->err = rc;
                }
        }
}

static void open_done(sl_xcall *x)
{
        part_batch *b = x->arg;
        sl_shard *s = b->s;
        for (int32_t i = 0; i < b->n; i++) {
                sl_partition *p = b->parts[i];
                if (p->log && (s->nparts < s->ptab_mask + 1 || table_grow(s) == 0)) {
                        uint32_t h = part_hash(p->topic_id, p->index) & s->ptab_mask;
                        p->hash_next = s->ptab[h];
                        s->ptab[h] = p;
                        s->nparts++;
                        continue;
                }
                if (p->log) {
                        sl_log_close(p->log);
                        if (!b->err)
                                b->err = -ENOMEM;
                }
                free(p->topic_name);
                free(p);
        }
        batch_finish(b);
}

int sl_partitions_open_async(sl_shard *s, const sl_topic_info *t, int32_t from, int32_t to,
                             void (*done)(void *arg, int err), void *arg)
{
        if (!s->ptab && table_grow(s) < 0)
                return -ENOMEM;
        part_batch *b = batch_new(s, to - from);
        if (!b)
                return -ENOMEM;
        b->cfg = log_config_for(t);
        b->done = done;
        b->arg = arg;
        for (int32_t i = from; i < to; i++) {
                if (sl_shard_for_partition(t->id, i) != s->id || table_find(s, t->id, i))
                        continue;
                sl_partition *p = calloc(1, sizeof(*p));
                char *name = strndup(t->name.p, (size_t)t->name.len);
                if (!p || !name) {
                        free(p);
                        free(name);
                        b->err = -ENOMEM;
                        break;
                }
                p->topic_name = name;
                p->topic_id = t->id;
                p->index = i;
                p->leader_epoch = 0;
                sl_partition_dir(t, i, b->dirs[b->n], sizeof(b->dirs[b->n]));
                b->parts[b->n++] = p;
        }
        b->io.run = open_io;
        b->io.done = open_done;
        b->io.arg = b;
        sl_shard_offload(&b->io);
        return 0;
}

static void close_io(sl_xcall *x)
{
        part_batch *b = x->arg;
        for (int32_t i = 0; i < b->n; i++) {
                if (b->parts[i])
                        sl_log_close(b->parts[i]->log);
                if (b->remove) {
                        int rc = sl_partition_remove_dir(b->dirs[i]);
                        if (rc < 0)
                                SL_WARN("removing %s: %s", b->dirs[i], sl_log_strerror(rc));
                }
        }
}

static void close_done(sl_xcall *x)
{
        part_batch *b = x->arg;
        for (int32_t i = 0; i < b->n; i++) {
                if (b->parts[i]) {
                        free(b->parts[i]->topic_name);
                        free(b->parts[i]);
                }
        }
        batch_finish(b);
}

int sl_partitions_close_async(sl_shard *s, const sl_topic_info *t, int32_t from, int32_t to,
                              bool remove_dirs, void (*done)(void *arg, int err), void *arg)
{
        part_batch *b = batch_new(s, to - from);
        if (!b)
                return -ENOMEM;
        b->close = true;
        b->remove = remove_dirs;
        b->done = done;
        b->arg = arg;
        for (int32_t i = from; i < to; i++) {
                if (sl_shard_for_partition(t->id, i) != s->id)
                        continue;
                sl_partition *p = table_find(s, t->id, i);
                if (p) {
                        table_remove(s, p);
                        partition_detach(s, p);
                        if (p->sync_running || p->read_pins > 0) {
                                /* A sync job on the helper or a sendfile from
                                 * its segments: finish the close after. */
                                partition_defer_close(p, remove_dirs);
                                continue;
                        }
                }
                b->parts[b->n] = p;
                sl_partition_dir(t, i, b->dirs[b->n], sizeof(b->dirs[b->n]));
                b->n++;
        }
        b->io.run = close_io;
        b->io.done = close_done;
        b->io.arg = b;
        sl_shard_offload(&b->io);
        return 0;
}

int sl_partitions_open_owned(sl_shard *s, const sl_topics_snap *snap)
{
        for (int32_t i = 0; i < snap->count; i++) {
                const sl_topic_info *t = &snap->topics[i];
                for (int32_t k = 0; k < t->partitions; k++) {
                        if (sl_shard_for_partition(t->id, k) != s->id)
                                continue;
                        int rc = sl_partition_open(s, t, k, false);
                        if (rc < 0)
                                return rc;
                }
        }
        return 0;
}

void sl_partitions_close_all(sl_shard *s)
{
        if (!s->ptab)
                return;
        for (uint32_t i = 0; i <= s->ptab_mask; i++) {
                sl_partition *p;
                while ((p = s->ptab[i]))
                        sl_partition_close(s, p, false);
        }
}

/* --- group commit --- */

static void mark_dirty(sl_shard *s, sl_partition *p)
{
        if (!p->sync_queued) {
                p->sync_queued = true;
                p->dirty_next = s->dirty_head;
                s->dirty_head = p;
        }
}

void sl_partition_sync_wait(sl_partition *p, sl_sync_waiter *w)
{
        w->next = NULL;
        if (p->sync_tail)
                p->sync_tail->next = w;
        else
                p->sync_wait = w;
        p->sync_tail = w;
        mark_dirty(sl_shard_self(), p);
}

void sl_partition_cache_kick(sl_partition *p)
{
        if (!p->sync_queued && !p->sync_running && sl_log_cache_due(p->log))
                mark_dirty(sl_shard_self(), p);
}

/* Once a second: logs whose flush.messages / flush.ms policy says their
 * unsynced data waited long enough join the next group commit; every
 * SL_RETENTION_CHECK_MS, retention deletes expired segments (Kafka's
 * log.retention.check.interval.ms default). */
static void maintenance_tick(sl_timer *t)
{
        sl_shard *s = t->arg;
        int64_t now = wall_ms();
        bool retention = now - s->last_retention_ms >= SL_RETENTION_CHECK_MS;
        if (retention)
                s->last_retention_ms = now;
        for (uint32_t i = 0; s->ptab && i <= s->ptab_mask; i++) {
                for (sl_partition *p = s->ptab[i]; p; p = p->hash_next) {
                        if (!p->sync_running && sl_log_sync_due(p->log, now))
                                mark_dirty(s, p);
                        /* cleanup.policy: delete -> retention, compact -> cleaning. */
                        sl_partition_clean_tick(s, p, now);
                        if (retention && sl_partition_policy_delete(s, p)) {
                                int rc = sl_log_enforce_retention(p->log, now);
                                if (rc < 0)
                                        SL_WARN("%s-%d: retention: %s", p->topic_name, p->index,
                                                sl_log_strerror(rc));
                        }
                }
        }
        sl_timer_start(s->reactor, t, SL_MAINTENANCE_TICK_MS);
}

void sl_partitions_start_maintenance(sl_shard *s)
{
        s->last_retention_ms = wall_ms();
        sl_timer_init(&s->flush_timer, maintenance_tick, s);
        sl_timer_start(s->reactor, &s->flush_timer, SL_MAINTENANCE_TICK_MS);
}

/* Disk helper thread: the fdatasyncs, then (two-step batches) their
 * completion posted early and the page-cache calls. */
static void commit_io(sl_xcall *x)
{
        sl_commit_slot *sl = x->arg;
        sl_shard *s = sl->c->s;
        sl_commit_entries_run(sl->e, sl->n, sl_shard_index(s), false);
        if (sl->two_step) {
                sl_shard_io_post(s, &sl->x_durable);
                sl_commit_entries_run(sl->e, sl->n, sl_shard_index(s), true);
        }
}

static void log_failure(const sl_partition *p, bool was_failed, int rc, int run_rc)
{
        if (rc < 0 && !was_failed)
                SL_ERROR("%s-%d: fdatasync/writeback failed: %s; the log refuses appends until "
                         "reopened",
                         p->topic_name, p->index, sl_log_strerror(run_rc < 0 ? run_rc : rc));
}

/* Shard: a batch's fdatasync results published, its waiters answered. */
static void commit_durable_step(sl_commit_slot *sl)
{
        for (uint32_t i = 0; i < sl->n; i++) {
                sl_commit_entry *e = &sl->e[i];
                sl_partition *p = e->p;
                /* After a failure of an earlier overlapping job the log is
                 * latched, and this fails whatever e->rc says. */
                bool was_failed = sl_log_failed(p->log);
                int rc = sl_log_sync_complete_durable(p->log, &e->job, e->rc);
                log_failure(p, was_failed, rc, e->rc);
                sl_sync_waiter *w = e->busy;
                e->busy = NULL;
                fire_waiters(w, rc < 0 ? rc : 0);
        }
        sl->durable_taken = true;
}

/* Shard: a batch's page-cache results published, the slot free again. */
static void commit_cache_step(sl_shard *s, sl_commit_slot *sl)
{
        for (uint32_t i = 0; i < sl->n; i++) {
                sl_commit_entry *e = &sl->e[i];
                sl_partition *p = e->p;
                bool was_failed = sl_log_failed(p->log);
                int rc = sl_log_sync_complete_cache(p->log, &e->job, e->cache_rc);
                log_failure(p, was_failed, rc, e->cache_rc);
                e->p = NULL;
                p->sync_running--;
                if (p->close_pending && p->read_pins == 0 && !p->sync_running)
                        partition_free(s, p, p->remove_pending);
        }
        sl->n = 0;
        sl->running = sl->durable_done = sl->durable_taken = sl->finished = false;
}

/* Whatever steps are now due, oldest batch first. */
static void commit_steps(sl_commit *c)
{
        sl_commit_slot *sl;
        bool cache;
        while ((sl = sl_commit_next_step(c, &cache))) {
                if (cache)
                        commit_cache_step(c->s, sl);
                else
                        commit_durable_step(sl);
        }
}

static void commit_durable_done(sl_xcall *x)
{
        sl_commit_slot *sl = x->arg;
        sl->durable_done = true;
        commit_steps(sl->c);
}

static void commit_done(sl_xcall *x)
{
        sl_commit_slot *sl = x->arg;
        sl->durable_done = true; /* one-step batches post nothing early */
        sl->finished = true;
        commit_steps(sl->c);
}

bool sl_commit_busy(const sl_shard *s)
{
        for (int i = 0; s->commit && i < SL_COMMIT_SLOTS; i++)
                if (s->commit->slot[i].running)
                        return true;
        return false;
}

void sl_commit_free(sl_shard *s)
{
        if (!s->commit)
                return;
        for (int i = 0; i < SL_COMMIT_SLOTS; i++)
                free(s->commit->slot[i].e);
        free(s->commit);
        s->commit = NULL;
}

/* A free batch slot with room for every partition on the dirty list, or
 * NULL (all slots in flight, or out of memory: retried next turn). Slots
 * grow to the largest batch seen, not to the shard's partition count. */
static sl_commit_slot *commit_slot(sl_shard *s)
{
        if (!s->commit) {
                s->commit = calloc(1, sizeof(*s->commit));
                if (!s->commit)
                        return NULL;
                s->commit->s = s;
                for (int i = 0; i < SL_COMMIT_SLOTS; i++)
                        s->commit->slot[i].c = s->commit;
        }
        sl_commit_slot *sl = sl_commit_free_slot(s->commit);
        if (!sl)
                return NULL;
        uint32_t need = 0;
        for (const sl_partition *p = s->dirty_head; p; p = p->dirty_next)
                need++;
        if (sl->cap < need) {
                uint32_t cap = need + need / 2 + 4;
                sl_commit_entry *ne = realloc(sl->e, cap * sizeof(*ne));
                if (!ne)
                        return NULL;
                sl->e = ne;
                sl->cap = cap;
        }
        return sl;
}

void sl_commit_before_sleep(sl_shard *s)
{
        if (!s->dirty_head)
                return;
        sl_commit_slot *sl = commit_slot(s);
        if (!sl)
                return; /* two batches in flight: the next one starts when one ends */
        uint32_t n = 0;
        int64_t now = -1;
        sl_partition *p = s->dirty_head;
        s->dirty_head = NULL;
        while (p) {
                sl_partition *next = p->dirty_next;
                p->dirty_next = NULL;
                p->sync_queued = false;
                sl_sync_waiter *w = p->sync_wait;
                p->sync_wait = p->sync_tail = NULL;
                sl_commit_entry *e = &sl->e[n];
                /* Durable when someone waits or the flush policy says so;
                 * else queued by sl_partition_cache_kick: page cache only. */
                bool durable = w != NULL;
                if (!durable) {
                        if (now < 0)
                                now = wall_ms();
                        durable = sl_log_sync_due(p->log, now);
                }
                int rc = durable ? sl_log_sync_prepare(p->log, &e->job) : 0;
                if (rc == 0) {
                        fire_waiters(w, 0); /* already durable */
                        w = NULL;
                        rc = sl_log_cache_prepare(p->log, &e->job);
                }
                if (rc <= 0) {
                        /* 0: already durable; < 0: latched after an earlier failure. */
                        fire_waiters(w, rc);
                } else {
                        e->p = p;
                        e->busy = w;
                        e->rc = e->cache_rc = 0;
                        p->sync_running++;
                        n++;
                }
                p = next;
        }
        if (!n)
                return;
        sl_commit *c = s->commit;
        sl->n = n;
        sl->two_step = false;
        for (uint32_t i = 0; i < n && !sl->two_step; i++)
                sl->two_step = sl->e[i].job.cache;
        sl->running = true;
        sl->durable_done = sl->durable_taken = sl->finished = false;
        sl->seq = c->next_seq++;
        memset(&sl->x, 0, sizeof(sl->x));
        sl->x.run = commit_io;
        sl->x.done = commit_done;
        sl->x.arg = sl;
        memset(&sl->x_durable, 0, sizeof(sl->x_durable));
        sl->x_durable.done = commit_durable_done;
        sl->x_durable.arg = sl;
        sl_shard_offload_lane(&sl->x, (int)(sl - c->slot), sl->two_step ? &sl->x_durable : NULL);
}
