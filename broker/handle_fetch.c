/* broker/handle_fetch.c — Fetch (key 1), versions 4-17.
 *
 * Called from broker/dispatch.c on the connection's shard. Steps:
 *  1. decode; apply the KIP-227 session (fetch_session.h) to get the list of
 *     partitions to read (the request's, or the session's for incremental
 *     fetches); resolve topics (names, or ids from v13: UNKNOWN_TOPIC_ID);
 *  2. read: one xcall per owner shard (fetch_owner.c) returns the high
 *     watermark (single node: the log end offset, which is also the last
 *     stable offset without transactions) and pinned file ranges of whole
 *     batches, at most partition_max_bytes each (KIP-74: a first batch goes
 *     whole); the response's max_bytes is applied here in response order;
 *  3. long poll: if fewer than min_bytes are ready and max_wait_ms allows,
 *     the pins are dropped and a watch is parked on each owner; the first
 *     append to a watched partition, or the reactor timer, ends the wait;
 *     watches come home with a fresh read of their partitions, and the
 *     fetch answers as soon as those reach min_bytes, without waiting for
 *     the other owners to confirm their cancels (fetch_wait.c);
 *  4. answer: memory from fetch_response.c with the record bytes sent by
 *     sendfile straight from the segment files; the pins are released (a
 *     message to each owner) once the response has been written. Ranges not
 *     in the page cache (a lagging consumer's) are first read in by the
 *     shard's I/O helper, so sendfile never waits for the disk here. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "conn_int.h"
#include "dispatch.h"
#include "fetch_response.h"
#include "fetch_session.h"
#include "gen/kp_messages.h"
#include "partition_ops.h"

#define SESSIONS_PER_BROKER 1000 /* Kafka's max.incremental.fetch.session.cache.slots */
#define DEAD_CHECK_MS       50   /* how often a long poll checks that its client is there */

/* One partition of the response: the item read, where it comes from. */
typedef struct fpart {
        kp_str name;        /* topic name (v4-12 responses) */
        kp_uuid id;         /* topic id (v13+) */
        sl_shard_id owner;  /* SL_FANOUT_SKIP: answered here with `error` */
        int32_t sess_index; /* index in the session's parts, -1 if none */
} fpart;

typedef struct fetch_ctx {
        sl_fetch_fanout_ctx fc; /* first: owners read items from it */
        sl_request *req;
        kp_fetch_request m;
        fpart *parts; /* parallel to fc.items */
        int32_t nitems;
        sl_shard_id *owners;
        int32_t max_bytes;
        int32_t min_bytes;
        int64_t deadline_ms; /* monotonic end of the long poll */
        bool read_committed;
        int sess_kind; /* SL_FSESS_* */
        int32_t sess_id;
        sl_fanout f;         /* read groups */
        sl_fetch_wait *wait; /* the long poll in progress, or NULL */
        bool final_read;     /* no more waiting after this read */
        bool cold_checked;   /* ranges checked for page-cache residency */
        sl_timer timer;
} fetch_ctx;

/* ---- the shard's session cache ---- */

static _Thread_local sl_fsess_cache *t_sessions;
static pthread_key_t sess_key;
static pthread_once_t sess_once = PTHREAD_ONCE_INIT;

static void sessions_destroy(void *p)
{
        sl_fsess_cache_free(p);
        free(p);
}
static void sess_key_init(void)
{
        pthread_key_create(&sess_key, sessions_destroy);
}
static sl_fsess_cache *sessions(void)
{
        if (!t_sessions) {
                pthread_once(&sess_once, sess_key_init);
                sl_fsess_cache *c = malloc(sizeof(*c));
                uint32_t n = sl_shard_count() ? sl_shard_count() : 1;
                int32_t cap = SESSIONS_PER_BROKER / (int32_t)n;
                sl_shard *self = sl_shard_self();
                uint32_t id = self ? sl_shard_index(self) : 0;
                if (!c || sl_fsess_cache_init(c, cap > 16 ? cap : 16, id,
                                              (uint32_t)sl_wall_ms() ^ (id * 2654435761u)) < 0) {
                        free(c);
                        return NULL;
                }
                t_sessions = c;
                pthread_setspecific(sess_key, c);
        }
        return t_sessions;
}

/* ---- building the partition list ---- */

static int16_t unknown_topic_error(int16_t v)
{
        return v >= 13 ? KP_ERR_UNKNOWN_TOPIC_ID : KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
}

/* Resolves a request topic (by id from v13, else by name). */
static const sl_topic_info *resolve(const sl_topics_snap *snap, int16_t v, kp_str name, kp_uuid id)
{
        if (!snap)
                return NULL;
        return v >= 13 ? sl_topics_find_id(snap, id) : sl_topics_find(snap, name);
}

/* Appends one item; t NULL = unknown topic. */
static sl_fetch_item *add_item(fetch_ctx *c, const sl_topic_info *t, kp_str name, kp_uuid id,
                               int32_t partition)
{
        int32_t i = c->nitems++;
        sl_fetch_item *it = &c->fc.items[i];
        fpart *fp = &c->parts[i];
        memset(it, 0, sizeof(*it));
        it->partition = partition;
        it->current_leader_epoch = -1;
        it->last_fetched_epoch = -1;
        it->high_watermark = -1;
        it->log_start_offset = -1;
        it->diverging_epoch = -1;
        it->diverging_end_offset = -1;
        /* Never the snapshot's name: a long poll outlives the snapshot. */
        fp->name = name;
        fp->id = t ? t->id : id;
        fp->sess_index = -1;
        fp->owner = SL_FANOUT_SKIP;
        if (!t) {
                it->error_code = unknown_topic_error(c->req->api_version);
        } else if (partition < 0 || partition >= t->partitions) {
                it->error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else {
                it->topic_id = t->id;
                fp->owner = sl_shard_for_partition(t->id, partition);
        }
        return it;
}

static void item_from_request(sl_fetch_item *it, const kp_fetch_request_fetch_partition *rp)
{
        it->fetch_offset = rp->fetch_offset;
        it->max_bytes = rp->partition_max_bytes;
        it->current_leader_epoch = rp->current_leader_epoch;
        it->last_fetched_epoch = rp->last_fetched_epoch;
}

static void sess_store(sl_fsess_part *sp, const kp_fetch_request_fetch_partition *rp)
{
        sp->fetch_offset = rp->fetch_offset;
        sp->max_bytes = rp->partition_max_bytes;
        sp->current_leader_epoch = rp->current_leader_epoch;
        sp->last_fetched_epoch = rp->last_fetched_epoch;
}

/* Full (or sessionless) fetch: the request's partitions, stored in the new
 * session if there is one. */
static int build_full(fetch_ctx *c, const sl_topics_snap *snap, sl_fsess *s)
{
        kp_fetch_request *m = &c->m;
        int16_t v = c->req->api_version;
        for (int32_t i = 0; i < m->topics_count; i++) {
                const kp_fetch_request_fetch_topic *rt = &m->topics[i];
                const sl_topic_info *t = resolve(snap, v, rt->topic, rt->topic_id);
                for (int32_t k = 0; k < rt->partitions_count; k++) {
                        const kp_fetch_request_fetch_partition *rp = &rt->partitions[k];
                        sl_fetch_item *it = add_item(c, t, rt->topic, rt->topic_id, rp->partition);
                        item_from_request(it, rp);
                        if (!s || !t)
                                continue;
                        sl_fsess_part *sp = sl_fsess_upsert(s, t->id, t->name, rp->partition);
                        if (!sp)
                                return -1;
                        sess_store(sp, rp);
                        c->parts[c->nitems - 1].sess_index = (int32_t)(sp - s->parts);
                }
        }
        return 0;
}

/* Incremental fetch: update the session from the request (changed and added
 * partitions, forgotten ones), then read every partition of the session.
 * Unknown topics in the request are answered once, not stored. */
static int build_incremental(fetch_ctx *c, const sl_topics_snap *snap, sl_fsess *s)
{
        kp_fetch_request *m = &c->m;
        kp_arena *a = &c->req->arena;
        int16_t v = c->req->api_version;
        for (int32_t i = 0; i < m->topics_count; i++) {
                const kp_fetch_request_fetch_topic *rt = &m->topics[i];
                const sl_topic_info *t = resolve(snap, v, rt->topic, rt->topic_id);
                for (int32_t k = 0; k < rt->partitions_count; k++) {
                        const kp_fetch_request_fetch_partition *rp = &rt->partitions[k];
                        if (!t) {
                                add_item(c, NULL, rt->topic, rt->topic_id, rp->partition);
                                continue;
                        }
                        sl_fsess_part *sp = sl_fsess_upsert(s, t->id, t->name, rp->partition);
                        if (!sp)
                                return -1;
                        sess_store(sp, rp);
                }
        }
        for (int32_t i = 0; i < m->forgotten_topics_data_count; i++) {
                const kp_fetch_request_forgotten_topic *ft = &m->forgotten_topics_data[i];
                kp_uuid id = ft->topic_id;
                if (v < 13) {
                        int32_t ti = sl_fsess_topic_by_name(s, ft->topic);
                        if (ti < 0)
                                continue;
                        id = s->topics[ti].id;
                }
                for (int32_t k = 0; k < ft->partitions_count; k++)
                        sl_fsess_forget(s, id, ft->partitions[k]);
        }
        for (int32_t i = 0; i < s->nparts; i++) {
                const sl_fsess_part *sp = &s->parts[i];
                const sl_fsess_topic *st = &s->topics[sp->topic];
                const sl_topic_info *t = snap ? sl_topics_find_id(snap, st->id) : NULL;
                /* The name must outlive a session evicted during the wait. */
                char *name = kp_arena_alloc(a, (size_t)st->name_len + 1, 1);
                if (!name)
                        return -1;
                memcpy(name, st->name, (size_t)st->name_len);
                sl_fetch_item *it =
                    add_item(c, t, (kp_str){name, st->name_len}, st->id, sp->partition);
                it->fetch_offset = sp->fetch_offset;
                it->max_bytes = sp->max_bytes;
                it->current_leader_epoch = sp->current_leader_epoch;
                it->last_fetched_epoch = sp->last_fetched_epoch;
                c->parts[c->nitems - 1].sess_index = i;
        }
        return 0;
}

/* ---- answering ---- */

static void fetch_sent(sl_request *req, void *arg)
{
        (void)req;
        fetch_ctx *c = arg;
        for (int32_t i = 0; i < c->nitems; i++)
                if (c->fc.items[i].nranges)
                        sl_fetch_release(c->parts[i].owner, &c->fc.items[i]);
}

static void release_all(fetch_ctx *c)
{
        fetch_sent(c->req, c);
}

static void respond_error(fetch_ctx *c, int16_t err)
{
        release_all(c);
        sl_fresp r = {.error_code = err};
        sl_request *req = c->req;
        size_t n = sl_fresp_mem_size(&r, req->api_version);
        kp_wr *w = sl_request_body(req, n);
        if (w && sl_fresp_encode(&r, req->api_version, w->p, n, NULL) == 0)
                w->p = w->end;
        sl_request_respond(req);
}

/* Which items go into the response: all, or for incremental sessions those
 * with news (KIP-227). Records what was sent in the session. */
static bool *select_items(fetch_ctx *c, sl_fsess *s)
{
        bool *inc = kp_arena_alloc(&c->req->arena, (size_t)c->nitems + 1, sizeof(*inc));
        if (!inc)
                return NULL;
        for (int32_t i = 0; i < c->nitems; i++) {
                sl_fetch_item *it = &c->fc.items[i];
                int32_t si = c->parts[i].sess_index;
                sl_fsess_part *sp = s && si >= 0 && si < s->nparts ? &s->parts[si] : NULL;
                bool changed = true;
                if (sp && sp->partition == it->partition)
                        changed =
                            sl_fsess_part_changed(sp, it->bytes > 0 || it->diverged, it->error_code,
                                                  it->high_watermark, it->log_start_offset);
                inc[i] = c->sess_kind != SL_FSESS_INCREMENTAL || changed || !sp;
        }
        if (!s || !s->nparts)
                return inc;
        /* Partitions that returned records go to the back of the session. */
        bool *moved = kp_arena_alloc(&c->req->arena, (size_t)s->nparts, sizeof(*moved));
        sl_fsess_part *scratch =
            kp_arena_alloc(&c->req->arena, (size_t)s->nparts, sizeof(*scratch));
        if (!moved || !scratch)
                return inc;
        bool any = false;
        for (int32_t i = 0; i < c->nitems; i++) {
                int32_t si = c->parts[i].sess_index;
                if (c->fc.items[i].bytes > 0 && si >= 0 && si < s->nparts)
                        any = moved[si] = true;
        }
        if (any)
                sl_fsess_rotate(s, moved, scratch);
        return inc;
}

static bool same_topic(const fpart *a, const fpart *b, int16_t v)
{
        if (v >= 13)
                return !memcmp(a->id.b, b->id.b, sizeof(a->id.b));
        return kp_str_eq(a->name, b->name);
}

static void respond_data(fetch_ctx *c);

static void cold_filled(void *arg)
{
        respond_data(arg);
}

/* Lagging consumers: ranges no longer in the page cache are read in by the
 * shard's I/O helper first, so sendfile never waits for the disk on this
 * reactor (fetch_response.h). One residency syscall per range when they are
 * cached. True when the response waits for the helper (cold_filled). */
static bool wait_for_cold(fetch_ctx *c)
{
        c->cold_checked = true;
        if (c->req->conn && c->req->conn->dead)
                return false; /* nobody will read it */
        sl_fresp_cold *cold = NULL;
        int32_t max = c->nitems * SL_FETCH_MAX_RANGES;
        for (int32_t i = 0; i < c->nitems; i++) {
                const sl_fetch_item *it = &c->fc.items[i];
                for (int32_t j = 0; j < it->nranges; j++)
                        sl_fresp_range_cached(&c->req->arena, &cold, max, &it->ranges[j]);
        }
        if (!cold)
                return false;
        sl_fresp_cold_fill(cold, cold_filled, c);
        return true;
}

static void respond_data(fetch_ctx *c)
{
        if (!c->cold_checked && wait_for_cold(c))
                return;
        sl_request *req = c->req;
        int16_t v = req->api_version;
        sl_fsess *s = NULL;
        if (c->sess_kind != SL_FSESS_NONE) {
                s = sessions() ? sl_fsess_find(sessions(), c->sess_id) : NULL;
                if (!s && c->sess_kind == SL_FSESS_INCREMENTAL) {
                        respond_error(c, KP_ERR_FETCH_SESSION_ID_NOT_FOUND);
                        return;
                }
        }
        bool *inc = select_items(c, s);
        sl_fresp_topic *topics =
            kp_arena_alloc(&req->arena, (size_t)c->nitems + 1, sizeof(*topics));
        sl_fresp_part *rp = kp_arena_alloc(&req->arena, (size_t)c->nitems + 1, sizeof(*rp));
        int32_t *order = kp_arena_alloc(&req->arena, (size_t)c->nitems + 1, sizeof(*order));
        if (!inc || !topics || !rp || !order) {
                release_all(c);
                sl_request_close(req, "out of memory");
                return;
        }
        sl_fresp r = {.session_id = s ? s->id : 0, .topics = topics};
        int32_t n = 0;
        const fpart *prev = NULL;
        for (int32_t i = 0; i < c->nitems; i++) {
                if (!inc[i])
                        continue;
                const sl_fetch_item *it = &c->fc.items[i];
                const fpart *fp = &c->parts[i];
                if (!prev || !same_topic(prev, fp, v)) {
                        topics[r.ntopics++] =
                            (sl_fresp_topic){.name = fp->name, .id = fp->id, .parts = &rp[n]};
                }
                prev = fp;
                topics[r.ntopics - 1].nparts++;
                rp[n] = (sl_fresp_part){
                    .partition_index = it->partition,
                    .error_code = it->error_code,
                    .high_watermark = it->high_watermark,
                    .last_stable_offset = it->high_watermark,
                    .log_start_offset = it->log_start_offset,
                    .diverging_epoch = it->diverging_epoch,
                    .diverging_end_offset = it->diverging_end_offset,
                    .read_committed = c->read_committed,
                    .records_bytes = it->bytes,
                };
                order[n++] = i;
        }
        size_t mem = sl_fresp_mem_size(&r, v);
        uint8_t *buf = kp_arena_alloc(&req->arena, mem, 1);
        size_t *cuts = kp_arena_alloc(&req->arena, (size_t)n + 1, sizeof(*cuts));
        if (!buf || !cuts || sl_fresp_encode(&r, v, buf, mem, cuts) < 0) {
                release_all(c);
                sl_request_close(req, "fetch response encoding failed");
                return;
        }
        /* memory · ranges of item 0 · memory · ranges of item 1 · ... */
        size_t at = 0;
        for (int32_t k = 0; k <= n; k++) {
                size_t end = k < n ? cuts[k] : mem;
                if (end > at) {
                        kp_wr *w = sl_request_body(req, end - at);
                        if (w)
                                kp_wr_raw(w, buf + at, end - at);
                }
                at = end;
                if (k == n)
                        break;
                const sl_fetch_item *it = &c->fc.items[order[k]];
                for (int32_t j = 0; j < it->nranges; j++)
                        sl_request_file(req, it->ranges[j].fd, it->ranges[j].pos,
                                        (size_t)it->ranges[j].len);
        }
        sl_request_on_sent(req, fetch_sent, c);
        sl_request_respond(req);
}

/* ---- read / wait cycle ---- */

static void read_done(sl_fanout *f);

static void stop_timer(fetch_ctx *c)
{
        if (sl_timer_armed(&c->timer))
                sl_timer_stop(sl_shard_reactor(c->req->shard), &c->timer);
}

/* Kafka's DelayedFetch completion test: min_bytes ready, or an error or a
 * divergence to report. */
static bool enough(const fetch_ctx *c)
{
        int64_t total = 0;
        for (int32_t i = 0; i < c->nitems; i++) {
                const sl_fetch_item *it = &c->fc.items[i];
                if (it->error_code || it->diverged)
                        return true;
                total += it->bytes;
        }
        return total >= c->min_bytes;
}

/* A watch came home with fresh reads: answer at once if they suffice, without
 * waiting for the other owners (fetch_wait.c cleans up behind us). */
static bool wait_woken(void *arg)
{
        fetch_ctx *c = arg;
        if (!enough(c))
                return false;
        stop_timer(c);
        c->wait = NULL;
        c->final_read = true;
        read_done(&c->f);
        return true;
}

/* Every watch is home (timeout, or a wake-up that did not suffice). */
static void wait_over(void *arg)
{
        fetch_ctx *c = arg;
        c->wait = NULL;
        stop_timer(c);
        if (sl_now_ms() >= c->deadline_ms)
                c->final_read = true;
        read_done(&c->f);
}

/* The long-poll timer ticks at most every DEAD_CHECK_MS: a client that hung
 * up gets its fetch ended (pins, watches and the connection freed) instead
 * of held for the whole max_wait, as group/group_shard.c does for JoinGroup. */
static void arm_timer(fetch_ctx *c)
{
        int64_t left = c->deadline_ms - sl_now_ms();
        sl_timer_start(sl_shard_reactor(c->req->shard), &c->timer,
                       left < DEAD_CHECK_MS ? left : DEAD_CHECK_MS);
}

static void wait_timeout(sl_timer *t)
{
        fetch_ctx *c = t->arg;
        bool hung_up = c->req->conn && c->req->conn->dead;
        if (!hung_up && sl_now_ms() < c->deadline_ms) {
                arm_timer(c);
                return;
        }
        c->final_read = true;
        if (c->wait)
                sl_fetch_wait_cancel(c->wait);
}

static void start_wait(fetch_ctx *c)
{
        sl_fetch_wait_cb cb = {.woken = wait_woken, .over = wait_over, .ctx = c};
        c->wait = sl_fetch_wait_start(c->fc.items, c->nitems, &c->f, cb);
        if (!c->wait) {
                c->final_read = true;
                respond_data(c);
                return;
        }
        sl_timer_init(&c->timer, wait_timeout, c);
        arm_timer(c);
}

/* After a read: applies max_bytes in response order (a later partition that
 * would overflow it is dropped, its pins released; the first partition with
 * data always stays: KIP-74), then answers or waits. */
static void read_done(sl_fanout *f)
{
        fetch_ctx *c = f->ctx;
        int64_t total = 0;
        bool any_data = false, force = false;
        for (int32_t i = 0; i < c->nitems; i++) {
                sl_fetch_item *it = &c->fc.items[i];
                if (it->error_code || it->diverged)
                        force = true; /* Kafka's DelayedFetch completes at once */
                if (!it->bytes)
                        continue;
                if (any_data && total + it->bytes > c->max_bytes) {
                        sl_fetch_release(c->parts[i].owner, it);
                        continue;
                }
                any_data = true;
                total += it->bytes;
        }
        if (c->final_read || force || total >= c->min_bytes || !c->f.ngroups ||
            sl_now_ms() >= c->deadline_ms) {
                respond_data(c);
                return;
        }
        start_wait(c);
}

static void start_read(fetch_ctx *c)
{
        sl_fanout_start(&c->f, sl_fetch_read_on_owner, read_done, c);
}

void sl_handle_fetch(sl_request *req)
{
        fetch_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->req = req;
        req->user = c;
        kp_fetch_request *m = &c->m;
        if (kp_fetch_request_decode(&req->body, req->api_version, m) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "undecodable Fetch");
                return;
        }
        if (m->topics_count < 0)
                m->topics_count = 0;
        if (m->forgotten_topics_data_count < 0)
                m->forgotten_topics_data_count = 0;
        c->max_bytes = m->max_bytes > 0 ? m->max_bytes : 0;
        c->min_bytes = m->min_bytes;
        c->read_committed = m->isolation_level == 1;
        c->deadline_ms = req->received_ms + (m->max_wait_ms > 0 ? m->max_wait_ms : 0);

        /* Sessions (v7+; earlier versions send nothing and get none). */
        sl_fsess *s = NULL;
        int32_t nreq = 0;
        for (int32_t i = 0; i < m->topics_count; i++)
                nreq += m->topics[i].partitions_count > 0 ? m->topics[i].partitions_count : 0;
        int64_t now = sl_now_ms();
        if (req->api_version >= 7) {
                sl_fsess_cache *cache = sessions();
                int16_t err = cache ? sl_fsess_begin(cache, m->session_id, m->session_epoch, nreq,
                                                     now, &c->sess_kind, &s)
                                    : 0;
                if (err) {
                        respond_error(c, err);
                        return;
                }
                if (s)
                        c->sess_id = s->id;
        }
        int32_t cap = nreq + (c->sess_kind == SL_FSESS_INCREMENTAL ? s->nparts : 0);
        /* incremental: the session may grow by the request's partitions */
        cap += c->sess_kind == SL_FSESS_INCREMENTAL ? nreq : 0;
        c->fc.items = kp_arena_alloc(&req->arena, (size_t)cap + 1, sizeof(*c->fc.items));
        c->parts = kp_arena_alloc(&req->arena, (size_t)cap + 1, sizeof(*c->parts));
        if (!c->fc.items || !c->parts) {
                sl_request_close(req, "out of memory");
                return;
        }
        const sl_topics_snap *snap = sl_topics_current();
        int rc = c->sess_kind == SL_FSESS_INCREMENTAL ? build_incremental(c, snap, s)
                                                      : build_full(c, snap, s);
        c->owners = kp_arena_alloc(&req->arena, (size_t)c->nitems + 1, sizeof(*c->owners));
        if (rc < 0 || !c->owners) {
                sl_request_close(req, "out of memory");
                return;
        }
        int32_t budget = c->max_bytes;
        for (int32_t i = 0; i < c->nitems; i++) {
                c->owners[i] = c->parts[i].owner;
                sl_fetch_item *it = &c->fc.items[i];
                if (it->max_bytes > budget)
                        it->max_bytes = budget;
        }
        if (sl_fanout_plan(&c->f, &req->arena, c->owners, c->nitems, sl_shard_count()) < 0) {
                sl_request_close(req, "out of memory");
                return;
        }
        start_read(c);
}
