/* broker/group/group_shard.c — the group coordinator inside the broker: one
 * sl_group_coord per shard (thread-local, built on the first group call that
 * shard serves), replay of the __consumer_offsets partitions the shard owns,
 * the environment it runs in (monotonic and wall clocks, appends through
 * storage/log.h followed by the shard's group commit, so an OffsetCommit is
 * answered only once its records are fdatasynced), one reactor timer for
 * session/rebalance deadlines, and the forwarding of handler calls to the
 * owner shard (sl_group_forward). Replay reads the log with pread on the shard
 * thread: it happens once per shard, before its first group answer. */
#include "group_shard.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"
#include "conn_int.h"
#include "partition_ops.h"

typedef struct gshard {
        sl_group_coord *gc;
        kp_uuid topic_id;
        int32_t partitions;
        sl_timer timer;
        uint8_t *scratch; /* batch being built (reused) */
        size_t scratch_cap;
        sl_reactor *reactor;
        sl_shard *shard; /* an in-process runtime restarted (tests): rebuild */
        bool dropping;   /* being freed: answer calls, arm nothing */
} gshard;

static _Thread_local gshard *tl;

/* The coordinator goes with its shard thread (a thread-specific destructor:
 * the shard loop has stopped, its reactor still exists). Calls still parked
 * then belong to connections that are gone. */
static pthread_key_t gkey;
static pthread_once_t gkey_once = PTHREAD_ONCE_INIT;

/* Frees the shard's coordinator. live: this runtime goes on (the offsets
 * topic was replaced), so parked calls are answered and their xcalls go home;
 * otherwise (thread exit, a runtime already torn down) nobody is listening. */
static void gshard_drop(gshard *s, bool live)
{
        if (live) {
                s->dropping = true;
                sl_timer_stop(s->reactor, &s->timer);
                sl_group_coord_free(s->gc); /* answers parked calls */
        }
        tl = NULL; /* owner_done must not reply any more */
        pthread_setspecific(gkey, NULL);
        if (!live)
                sl_group_coord_free(s->gc);
        free(s->scratch);
        free(s);
}

static void gshard_free(void *arg)
{
        gshard *s = arg;
        sl_timer_stop(s->reactor, &s->timer); /* the loop stopped; the reactor is still there */
        gshard_drop(s, false);
}

static void gkey_create(void)
{
        pthread_key_create(&gkey, gshard_free);
}

_Static_assert(sizeof(sl_sync_waiter) <= sizeof(((sl_group_persist *)0)->env_slot),
               "sl_group_persist.env_slot must hold an sl_sync_waiter");

sl_group_cfg sl_group_cfg_from_broker(int32_t partitions)
{
        const sl_config *b = &g_sl.cfg;
        sl_group_cfg c = {
            .partitions = partitions,
            .initial_rebalance_delay_ms = b->group_initial_rebalance_delay_ms,
            .min_session_timeout_ms = b->group_min_session_timeout_ms,
            .max_session_timeout_ms = b->group_max_session_timeout_ms,
            .max_size = (int32_t)b->group_max_size,
            .offsets_retention_ms = b->offsets_retention_minutes * 60 * 1000,
            .offset_metadata_max = (int32_t)b->offset_metadata_max_bytes,
            .cg_heartbeat_interval_ms = (int32_t)b->group_consumer_heartbeat_interval_ms,
            .cg_session_timeout_ms = (int32_t)b->group_consumer_session_timeout_ms,
            .cg_max_size = (int32_t)b->group_consumer_max_size,
        };
        /* group.consumer.assignors: uniform (the default) first when enabled */
        for (uint8_t i = 0; i < 2; i++)
                if (b->group_consumer_assignors & (1 << i))
                        c.cg_assignors[c.cg_nassignors++] = i;
        return c;
}

static int64_t env_now(void *arg)
{
        (void)arg;
        return sl_now_ms();
}

static int64_t env_wall(void *arg)
{
        (void)arg;
        return sl_wall_ms();
}

/* Topic metadata of the coordinator's shard snapshot (KIP-848 assignment). */
static int env_topic_by_name(void *arg, kp_str name, kp_uuid *id, int32_t *partitions)
{
        (void)arg;
        const sl_topic_info *t = sl_topics_find(sl_topics_current(), name);
        if (!t)
                return -1;
        *id = t->id;
        *partitions = t->partitions;
        return 0;
}

static int env_topic_by_id(void *arg, kp_uuid id, kp_str *name)
{
        (void)arg;
        const sl_topic_info *t = sl_topics_find_id(sl_topics_current(), id);
        if (!t)
                return -1;
        *name = t->name;
        return 0;
}

static int env_topic_at(void *arg, int32_t i, kp_str *name)
{
        (void)arg;
        const sl_topics_snap *s = sl_topics_current();
        if (i < 0 || i >= s->count)
                return -1;
        *name = s->topics[i].name;
        return 0;
}

static void rearm(void);

static void synced(sl_sync_waiter *w, int err)
{
        sl_group_persist *p = w->arg;
        p->cb(p, err ? KP_ERR_COORDINATOR_NOT_AVAILABLE : 0);
        if (tl)
                rearm(); /* the callback may have moved a group on */
}

static int16_t env_append(void *arg, int32_t partition, const kp_record_in *recs, int32_t n,
                          sl_group_persist *p)
{
        gshard *s = arg;
        sl_partition *part = sl_partition_find(s->topic_id, partition);
        if (!part || !part->log)
                return KP_ERR_NOT_COORDINATOR;
        kp_batch_spec spec = {0, -1, KP_CODEC_NONE, 0, -1, -1, -1};
        size_t need = kp_batch_build_bound(&spec, recs, n);
        if (need > s->scratch_cap) {
                uint8_t *nb = realloc(s->scratch, need);
                if (!nb)
                        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
                s->scratch = nb;
                s->scratch_cap = need;
        }
        size_t len = 0;
        if (kp_batch_build(NULL, &spec, recs, n, s->scratch, s->scratch_cap, &len))
                return KP_ERR_UNKNOWN_SERVER_ERROR;
        sl_append_result res;
        if (sl_log_append(part->log, s->scratch, len, part->leader_epoch, sl_wall_ms(), &res)) {
                SL_WARN("%s-%d: group append: %s", SL_OFFSETS_TOPIC, partition,
                        sl_log_strerror(res.err));
                /* Kafka maps a failed offsets append to a retriable coordinator error */
                return res.error_code == KP_ERR_MESSAGE_TOO_LARGE ||
                               res.error_code == KP_ERR_RECORD_LIST_TOO_LARGE
                           ? KP_ERR_INVALID_COMMIT_OFFSET_SIZE
                           : KP_ERR_COORDINATOR_NOT_AVAILABLE;
        }
        sl_fetch_notify(s->topic_id, partition);
        if (p) {
                sl_sync_waiter *w = (sl_sync_waiter *)(void *)p->env_slot;
                w->cb = synced;
                w->arg = p;
                w->next = NULL;
                sl_partition_sync_wait(part, w);
        }
        return 0;
}

static void rearm(void)
{
        int64_t d = sl_group_coord_next_deadline(tl->gc);
        sl_reactor *r = sl_shard_reactor(sl_shard_self());
        if (d == INT64_MAX) {
                sl_timer_stop(r, &tl->timer);
                return;
        }
        int64_t delay = d - sl_now_ms();
        sl_timer_start(r, &tl->timer, delay > 0 ? delay : 0);
}

static void on_timer(sl_timer *t)
{
        (void)t;
        sl_group_coord_tick(tl->gc);
        rearm();
}

/* Replays one partition's log into gc. */
static void replay_partition(sl_group_coord *gc, sl_partition *p)
{
        int64_t off = sl_log_start_offset(p->log), end = sl_log_end_offset(p->log);
        int64_t now = sl_now_ms();
        uint8_t *buf = NULL;
        size_t cap = 0;
        int64_t records = 0, bad = 0;
        while (off < end) {
                sl_file_range r[SL_FETCH_MAX_RANGES];
                int n = 0;
                if (sl_log_read(p->log, off, end, 1 << 20, r, SL_FETCH_MAX_RANGES, &n) || !n)
                        break;
                int64_t next = off;
                for (int i = 0; i < n; i++) {
                        if ((size_t)r[i].len > cap) {
                                uint8_t *nb = realloc(buf, (size_t)r[i].len);
                                if (!nb)
                                        break;
                                buf = nb;
                                cap = (size_t)r[i].len;
                        }
                        if (pread(r[i].fd, buf, (size_t)r[i].len, r[i].pos) != r[i].len)
                                break;
                        kp_batch_iter it;
                        kp_batch b;
                        kp_batch_iter_init(&it, buf, (size_t)r[i].len);
                        while (kp_batch_next(&it, &b)) {
                                next = kp_batch_last_offset(&b) + 1;
                                if (kp_batch_is_control(&b) ||
                                    kp_batch_codec(&b) != KP_CODEC_NONE ||
                                    b.base_offset + b.last_offset_delta < off)
                                        continue; /* we write uncompressed data batches */
                                kp_record_iter ri;
                                kp_record rec;
                                kp_record_iter_init(&ri, b.records.p, (size_t)b.records.len,
                                                    b.records_count);
                                while (kp_record_next(&ri, &rec)) {
                                        records++;
                                        if (sl_group_coord_replay(gc, rec.key, rec.value, now))
                                                bad++;
                                }
                        }
                }
                sl_log_release_ranges(p->log, r, n);
                if (next <= off)
                        break;
                off = next;
        }
        free(buf);
        if (records)
                SL_INFO("%s-%d: loaded %lld group records (%lld skipped)", SL_OFFSETS_TOPIC,
                        p->index, (long long)records, (long long)bad);
}

/* The calling shard's coordinator, built and loaded on first use. */
static sl_group_coord *coord_here(kp_uuid topic_id, int32_t partitions)
{
        if (tl && tl->shard != sl_shard_self())
                gshard_drop(tl, false); /* another runtime's (its reactor is gone) */
        if (tl && memcmp(&tl->topic_id, &topic_id, sizeof(topic_id)))
                gshard_drop(tl, true); /* __consumer_offsets was recreated */
        if (tl)
                return tl->gc;
        gshard *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->topic_id = topic_id;
        s->partitions = partitions;
        sl_group_cfg cfg = sl_group_cfg_from_broker(partitions);
        sl_group_env env = {env_now,           env_wall,        env_append,  s,
                            env_topic_by_name, env_topic_by_id, env_topic_at};
        s->gc = sl_group_coord_new(&cfg, &env);
        if (!s->gc) {
                free(s);
                return NULL;
        }
        sl_timer_init(&s->timer, on_timer, s);
        s->reactor = sl_shard_reactor(sl_shard_self());
        s->shard = sl_shard_self();
        tl = s;
        pthread_once(&gkey_once, gkey_create);
        pthread_setspecific(gkey, s);
        sl_shard_id me = sl_shard_index(sl_shard_self());
        for (int32_t i = 0; i < partitions; i++) {
                if (sl_shard_for_partition(topic_id, i) != me)
                        continue;
                sl_partition *p = sl_partition_find(topic_id, i);
                if (p && p->log)
                        replay_partition(s->gc, p);
        }
        sl_group_coord_loaded(s->gc);
        sl_group_coord_tick(s->gc);
        rearm();
        return s->gc;
}

static void owner_done(sl_group_call *c)
{
        sl_group_fwd *f = c->arg;
        if (!tl)
                return; /* shard exiting */
        if (!tl->dropping)
                rearm();
        sl_xcall_reply(&f->x);
}

static void on_owner(sl_xcall *x)
{
        sl_group_fwd *f = x->arg;
        sl_group_coord *gc = coord_here(f->topic_id, f->partitions);
        if (!gc) {
                f->call.error = KP_ERR_COORDINATOR_NOT_AVAILABLE;
                sl_xcall_reply(x);
                return;
        }
        if (f->op && !sl_partition_find(f->topic_id, f->partition)) {
                /* not (or no longer) this broker's partition: the client must
                 * look the coordinator up again */
                f->call.error = KP_ERR_NOT_COORDINATOR;
                sl_xcall_reply(x);
                return;
        }
        f->call.done = owner_done;
        f->call.arg = f;
        if (f->op)
                f->op(gc, &f->call);
        else
                sl_group_list(gc, &f->call);
        /* a call that parks (JoinGroup, SyncGroup) may have set an earlier
         * deadline (the initial rebalance delay) without answering yet; f may
         * be gone here, tl is not */
        if (tl && !tl->dropping)
                rearm();
}

static void back_home(sl_xcall *x)
{
        sl_group_fwd *f = x->arg;
        if (sl_timer_armed(&f->watch))
                sl_timer_stop(sl_shard_reactor(f->req->shard), &f->watch);
        if (f->cancel_pending) {
                f->home = true; /* f must live until cancel_x is back too */
                return;
        }
        f->done(f);
}

static void cancel_on_owner(sl_xcall *x)
{
        sl_group_fwd *f = x->arg;
        if (tl) {
                sl_group_cancel(tl->gc, &f->call, f->cancel_err); /* no-op once answered */
                rearm();
        }
        sl_xcall_reply(x);
}

/* Replies between two shards keep their order: x (answered before or by
 * the cancel) is always home before cancel_x. */
static void cancel_back(sl_xcall *x)
{
        sl_group_fwd *f = x->arg;
        f->cancel_pending = false;
        if (f->home)
                f->done(f);
}

#define WATCH_MS 50 /* how often a waiting JoinGroup/SyncGroup checks its client */

static void watch_fire(sl_timer *t)
{
        sl_group_fwd *f = t->arg;
        sl_conn *conn = f->req->conn;
        bool gone = !conn || conn->dead;
        /* shutdown: members look for the coordinator again (after restart) */
        bool draining = atomic_load(&g_sl.phase) >= SL_PHASE_DRAIN;
        if (!gone && !draining) {
                sl_timer_start(sl_shard_reactor(f->req->shard), &f->watch, WATCH_MS);
                return;
        }
        f->cancel_err = gone ? KP_ERR_UNKNOWN_MEMBER_ID : KP_ERR_NOT_COORDINATOR;
        f->cancel_sent = f->cancel_pending = true;
        f->cancel_x.run = cancel_on_owner;
        f->cancel_x.done = cancel_back;
        f->cancel_x.arg = f;
        sl_shard_call(f->owner, &f->cancel_x);
}

static const sl_topic_info *offsets_topic(void)
{
        return sl_topics_find(sl_topics_current(), kp_str_c(SL_OFFSETS_TOPIC));
}

static void route(sl_group_fwd *f)
{
        const sl_topic_info *t = offsets_topic();
        if (!t) {
                f->call.error = KP_ERR_COORDINATOR_NOT_AVAILABLE;
                f->done(f);
                return;
        }
        f->topic_id = t->id;
        f->partitions = t->partitions;
        f->partition = sl_group_partition_for(f->call.group_id, t->partitions);
        f->x.run = on_owner;
        f->x.done = back_home;
        f->x.arg = f;
        f->owner = sl_shard_for_partition(t->id, f->partition);
        sl_shard_call(f->owner, &f->x);
        if (f->req->conn && (f->call.api_key == 11 || f->call.api_key == 14)) {
                sl_timer_init(&f->watch, watch_fire, f);
                sl_timer_start(sl_shard_reactor(f->req->shard), &f->watch, WATCH_MS);
        }
}

void sl_group_forward_shard(sl_group_fwd *f, sl_shard_id target, sl_gather *g)
{
        const sl_topic_info *t = offsets_topic();
        f->op = NULL;
        f->topic_id = t ? t->id : (kp_uuid){{0}};
        f->partitions = t ? t->partitions : 1;
        f->x.run = on_owner;
        f->x.done = NULL;
        f->x.arg = f;
        sl_gather_call(g, target, &f->x);
}

/* __consumer_offsets is created on first use, as Kafka does: the request
 * that finds it missing starts the creation and is answered
 * COORDINATOR_NOT_AVAILABLE at once (retriable: clients look the coordinator
 * up again), so no request waits on 50 partition directories being made. One
 * creation per shard at a time; the op lives in thread-local memory. */
typedef struct create_ctx {
        sl_topic_op op;
        sl_topic_kv kv[3];
        bool running;
} create_ctx;

static _Thread_local create_ctx creating;

static void created(sl_topic_op *op)
{
        if (op->error && op->error != KP_ERR_TOPIC_ALREADY_EXISTS)
                SL_WARN("creating %s: %s", SL_OFFSETS_TOPIC,
                        op->error_message ? op->error_message : "failed");
        creating.running = false;
}

int16_t sl_group_ensure_topic(void)
{
        if (offsets_topic())
                return 0;
        if (creating.running)
                return KP_ERR_COORDINATOR_NOT_AVAILABLE;
        create_ctx *e = &creating;
        memset(e, 0, sizeof(*e));
        e->running = true;
        /* compacted, as Kafka's: the log cleaner (broker/partition_clean.c)
         * keeps the last record of each key in sealed segments once their
         * dirty share passes min.cleanable.dirty.ratio (0.5), tombstones
         * for delete.retention.ms (1 day); never deleted by time. Segments
         * of 100 MiB as Kafka's offsets.topic.segment.bytes: cleaning starts
         * once one rolls (or at segment.ms, 7 days); replay reads what is
         * left, the last record of a key winning */
        e->kv[0] = (sl_topic_kv){kp_str_c("cleanup.policy"), kp_str_c("compact")};
        e->kv[1] = (sl_topic_kv){kp_str_c("retention.ms"), kp_str_c("-1")};
        e->kv[2] = (sl_topic_kv){kp_str_c("segment.bytes"), kp_str_c("104857600")};
        e->op.name = kp_str_c(SL_OFFSETS_TOPIC);
        e->op.partitions = (int32_t)g_sl.cfg.offsets_topic_num_partitions;
        e->op.configs = e->kv;
        e->op.config_count = 3;
        e->op.done = created;
        sl_topics_create(&e->op);
        return KP_ERR_COORDINATOR_NOT_AVAILABLE;
}

void sl_group_forward(sl_request *req, sl_group_fwd *f)
{
        f->req = req;
        int16_t err = sl_group_ensure_topic();
        if (err) {
                f->call.error = err;
                f->done(f);
                return;
        }
        route(f);
}

void sl_group_fwd_init(sl_group_fwd *f, sl_request *req, kp_str group_id, const void *rq, void *rs)
{
        memset(f, 0, sizeof(*f));
        f->req = req;
        sl_timer_init(&f->watch, NULL, f);
        f->call.api_key = req->api_key;
        f->call.version = req->api_version;
        f->call.rq = rq;
        f->call.rs = rs;
        f->call.group_id = group_id;
        f->call.client_id = req->client_id;
        /* Kafka reports the host as "/ip" */
        const char *peer = req->conn ? sl_conn_peer(req->conn) : "";
        size_t plen = strlen(peer);
        const char *colon = strrchr(peer, ':');
        if (colon)
                plen = (size_t)(colon - peer);
        char *h = kp_arena_alloc(&req->arena, 1, plen + 2);
        if (h) {
                h[0] = '/';
                memcpy(h + 1, peer, plen);
                f->call.client_host = (kp_str){h, (int32_t)plen + 1};
        } else {
                f->call.client_host = (kp_str){"", 0};
        }
        kp_arena_init(&f->call.arena, 1024);
}

void sl_group_fwd_release(sl_group_fwd *f)
{
        kp_arena_release(&f->call.arena);
}

int sl_group_fanout_alloc(sl_group_fanout *fo, sl_request *req, int32_t n, size_t result_size)
{
        memset(fo, 0, sizeof(*fo));
        fo->req = req;
        fo->n = n > 0 ? n : 0;
        if (!fo->n)
                return 0;
        fo->results = kp_arena_alloc(&req->arena, (size_t)fo->n, result_size);
        fo->f = kp_arena_alloc(&req->arena, (size_t)fo->n, sizeof(*fo->f));
        return fo->results && fo->f ? 0 : -1;
}

static void fanout_done(sl_group_fwd *f)
{
        sl_group_fanout *fo = f->ctx;
        if (f->call.error)
                fo->ops->fail(fo->ctx, (int32_t)(f - fo->f), f->call.error);
        if (--fo->pending == 0)
                fo->ops->finish(fo->ctx);
}

void sl_group_fanout_run(sl_group_fanout *fo, const sl_group_fanout_ops *ops, void *ctx)
{
        fo->ops = ops;
        fo->ctx = ctx;
        fo->pending = 1;
        for (int32_t i = 0; i < fo->n; i++) {
                sl_group_fanout_item it = {{"", 0}, NULL, NULL};
                ops->init(ctx, i, &it);
                sl_group_fwd_init(&fo->f[i], fo->req, it.group_id, it.rq, it.rs);
                fo->f[i].op = ops->op;
                fo->f[i].done = fanout_done;
                fo->f[i].ctx = fo;
                int16_t err = sl_group_id_check(it.group_id);
                if (err) {
                        ops->fail(ctx, i, err);
                        continue;
                }
                fo->pending++;
                sl_group_forward(fo->req, &fo->f[i]);
        }
        if (--fo->pending == 0)
                ops->finish(ctx);
}

void sl_group_fanout_release(sl_group_fanout *fo)
{
        for (int32_t i = 0; i < fo->n; i++)
                sl_group_fwd_release(&fo->f[i]);
}
