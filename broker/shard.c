/* broker/shard.c — shard messaging: cross-shard calls over SPSC rings, gather,
 * the per-shard I/O helper thread, and partition placement.
 *
 * An xcall travels origin -> target in ring out[target] and comes back in the
 * target's ring to the origin; when a ring is full the xcall waits in a FIFO
 * on the sending shard (its memory is the caller's, nothing is allocated) and
 * the shard stops reading sockets until the FIFOs drain (backpressure). Rings
 * are drained after every epoll wake-up; the target reactor is woken once per
 * turn and only if it announced it may sleep.
 *
 * Every shard also counts what it has in flight (calls sent and not yet home,
 * calls received and not yet answered, jobs on its I/O helper): at shutdown
 * the quiescence barrier (end of this file) lets the shards leave their
 * loops only together, once nothing is in flight anywhere.
 *
 * Helper threads (shard_lanes.h): two lanes of disk work per shard, pinned
 * away from the shard's CPU. */
#include "broker_int.h"
#include "shard_lanes.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

enum { PHASE_CALL = 0, PHASE_REPLY = 1, PHASE_OFFLOAD = 2 };

static _Thread_local sl_shard *t_self;

/* What one shard has in flight, for the shutdown barrier. Counted always
 * (a few increments per xcall); published only while quiescing. */
typedef struct shard_q {
        uint32_t *to_open;   /* per target: calls sent whose reply has not run */
        uint32_t *from_open; /* per origin: calls received and not yet answered */
        uint64_t sent_open;  /* sum of to_open */
        uint64_t recv_open;  /* sum of from_open */
        uint64_t io_open;    /* jobs offloaded to the I/O helper, done not yet run */
        bool quiescing;      /* in sl_shard_quiesce: publish at every turn */
        bool pub_quiet;      /* the published word says quiet */
        bool reported;       /* logged its state for a barrier timeout */
        uint64_t epoch;      /* bumped when a quiet word is withdrawn */
        /* epoch << 1 | quiet, written by this shard, read by the main thread */
        atomic_uint_fast64_t word;
} shard_q;

/* One helper thread and its queue (lane 0: the fields in sl_shard). */
typedef struct shard_lane {
        sl_shard *s;
        int idx;
        sl_xcall_fifo *jobs; /* under io_mu */
        pthread_cond_t *cv;  /* signalled under io_mu */
        pthread_t *thread;
        bool started;
} shard_lane;

/* The shard and its bookkeeping in one allocation (sl_shard first). */
typedef struct shard_box {
        sl_shard s;
        shard_q q;
        int cpu; /* the reactor's CPU, -1 when unknown */
        bool helpers_known;
        cpu_set_t helpers; /* the helper threads' CPUs */
        shard_lane lanes[SL_SHARD_LANES];
        sl_xcall_fifo jobs1; /* lane 1's queue, under io_mu */
        pthread_cond_t cv1;
        pthread_t thread1;
} shard_box;

static shard_q *q_of(sl_shard *s)
{
        return &((shard_box *)s)->q;
}

static shard_box *box_of(const sl_shard *s)
{
        return (shard_box *)s;
}

/* The barrier's broker-wide flags (set up by sl_shards_link, see the end of
 * this file). */
static atomic_uint q_entered;  /* shards inside sl_shard_quiesce */
static atomic_bool q_release;  /* main thread: leave the barrier */
static atomic_bool q_report;   /* main thread: timed out, log what you wait for */
static atomic_uint q_reported; /* shards that logged */

/* Any cross-shard or I/O-helper traffic: a quiet word published before it no
 * longer holds. Called before the traffic becomes visible to anyone. */
static inline void q_busy(shard_q *q)
{
        if (q->pub_quiet) {
                q->pub_quiet = false;
                q->epoch++;
                atomic_store(&q->word, q->epoch << 1);
        }
}

sl_shard *sl_shard_self(void)
{
        return t_self;
}

sl_shard_id sl_shard_index(const sl_shard *s)
{
        return s->id;
}

uint32_t sl_shard_count(void)
{
        return g_sl.nshards;
}

sl_reactor *sl_shard_reactor(sl_shard *s)
{
        return s->reactor;
}

const sl_config *sl_shard_config(void)
{
        /* Per shard: dynamic broker config changes swap it (broker_config.c). */
        const sl_shard *s = t_self;
        return s && s->cfg ? s->cfg : &g_sl.cfg;
}

bool sl_shard_backpressured(const sl_shard *s)
{
        return s->pend_count > 0;
}

void sl_shard_bind_thread(sl_shard *s)
{
        t_self = s;
}

/* dpdk/net_dpdk.c defines it in -DSL_DPDK=ON builds; absent (NULL) otherwise. */
extern const sl_net_ops sl_net_dpdk_ops __attribute__((weak));

const sl_net_ops *sl_net_ops_for(int backend)
{
        if (backend == SL_NET_DPDK)
                return &sl_net_dpdk_ops ? &sl_net_dpdk_ops : NULL;
        return &sl_net_posix_ops;
}

/* --- placement --- */

uint32_t sl_jump_hash(uint64_t key, uint32_t buckets)
{
        int64_t b = -1, j = 0;
        while (j < (int64_t)buckets) {
                b = j;
                key = key * 2862933555777941757ULL + 1;
                j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
        }
        return (uint32_t)b;
}

sl_shard_id sl_shard_for_partition(kp_uuid topic_id, int32_t partition)
{
        uint8_t key[20];
        memcpy(key, topic_id.b, 16);
        memcpy(key + 16, &partition, 4);
        return sl_jump_hash(XXH3_64bits(key, sizeof(key)), g_sl.nshards ? g_sl.nshards : 1);
}

/* --- FIFOs --- */

static void fifo_push(sl_xcall_fifo *f, sl_xcall *x)
{
        x->next = NULL;
        if (f->tail)
                f->tail->next = x;
        else
                f->head = x;
        f->tail = x;
}

static sl_xcall *fifo_pop(sl_xcall_fifo *f)
{
        sl_xcall *x = f->head;
        if (x) {
                f->head = x->next;
                if (!f->head)
                        f->tail = NULL;
                x->next = NULL;
        }
        return x;
}

/* --- sending --- */

/* Sends x from shard s to shard `to` (a call or a reply), keeping FIFO order
 * with anything already waiting for that ring. */
static void send_to(sl_shard *s, sl_shard_id to, sl_xcall *x)
{
        if (to == s->id) {
                fifo_push(&s->local, x);
                return;
        }
        sl_xcall_fifo *p = &s->pend[to];
        if (!p->head && sl_ring_push(s->out[to], x)) {
                s->wake[to] = true;
                return;
        }
        /* Ring full: ask the consumer to wake us once it has made room. */
        atomic_store(&s->out[to]->producer_waiting, 1);
        fifo_push(p, x);
        s->pend_count++;
}

void sl_shard_call(sl_shard_id target, sl_xcall *x)
{
        sl_shard *s = t_self;
        shard_q *q = q_of(s);
        q_busy(q);
        q->sent_open++;
        q->to_open[target]++;
        x->origin = s->id;
        x->target = target;
        x->phase = PHASE_CALL;
        send_to(s, target, x);
}

void sl_xcall_reply(sl_xcall *x)
{
        sl_shard *s = t_self;
        shard_q *q = q_of(s);
        q_busy(q);
        q->recv_open--;
        q->from_open[x->origin]--;
        x->phase = PHASE_REPLY;
        send_to(s, x->origin, x);
}

/* --- gather --- */

static void gather_one_done(sl_xcall *x)
{
        sl_gather *g = x->gather;
        x->gather = NULL;
        g->pending--;
        if (g->pending == 0 && g->armed && g->done)
                g->done(g);
}

void sl_gather_init(sl_gather *g, void (*done)(sl_gather *g), void *arg)
{
        g->done = done;
        g->arg = arg;
        g->pending = 0;
        g->armed = false;
}

void sl_gather_call(sl_gather *g, sl_shard_id target, sl_xcall *x)
{
        x->gather = g;
        g->pending++;
        sl_shard_call(target, x);
}

void sl_gather_arm(sl_gather *g)
{
        g->armed = true;
        if (g->pending == 0 && g->done)
                g->done(g);
}

/* --- receiving --- */

static void deliver(sl_shard *s, sl_xcall *x)
{
        shard_q *q = q_of(s);
        q_busy(q);
        if (x->phase == PHASE_CALL) {
                q->recv_open++;
                q->from_open[x->origin]++;
                x->run(x);
                return;
        }
        /* Home: counted out only after done (and the gather) ran, so work they
         * start is in flight before this call stops being. x may be gone. */
        sl_shard_id target = x->target;
        sl_gather *g = x->gather;
        if (x->done)
                x->done(x);
        if (g)
                gather_one_done(x);
        q->sent_open--;
        q->to_open[target]--;
}

/* Drains every inbound ring and the local FIFO; bounded per turn so one busy
 * peer cannot starve the sockets. */
static void drain_inbound(sl_shard *s)
{
        for (int round = 0; round < 4; round++) {
                int n = 0;
                for (uint32_t j = 0; j < g_sl.nshards; j++) {
                        if (j == s->id)
                                continue;
                        sl_xcall *x;
                        int k = 0;
                        for (; k < 256 && (x = sl_ring_pop(s->in[j])); k++, n++)
                                deliver(s, x);
                        /* Room made for a producer with messages waiting: wake it. */
                        if (k) {
                                atomic_thread_fence(memory_order_seq_cst);
                                if (atomic_load_explicit(&s->in[j]->producer_waiting,
                                                         memory_order_relaxed)) {
                                        atomic_store(&s->in[j]->producer_waiting, 0);
                                        sl_reactor_wake(g_sl.shards[j]->reactor);
                                }
                        }
                }
                sl_xcall_fifo local = s->local;
                s->local.head = s->local.tail = NULL;
                sl_xcall *x;
                while ((x = fifo_pop(&local))) {
                        deliver(s, x);
                        n++;
                }
                if (!n)
                        break;
        }
}

static void flush_pending(sl_shard *s)
{
        if (!s->pend_count)
                return;
        for (uint32_t j = 0; j < g_sl.nshards; j++) {
                sl_xcall_fifo *p = &s->pend[j];
                if (!p->head)
                        continue;
                /* Flag first, then retry (Dekker with drain_inbound): either we
                 * see the room it made or it sees the flag and wakes us. */
                atomic_store(&s->out[j]->producer_waiting, 1);
                while (p->head && sl_ring_push(s->out[j], p->head)) {
                        fifo_pop(p);
                        s->pend_count--;
                        s->wake[j] = true;
                }
        }
        if (!s->pend_count)
                sl_conn_resume_all(s);
}

static void wake_targets(sl_shard *s)
{
        for (uint32_t j = 0; j < g_sl.nshards; j++) {
                if (s->wake[j]) {
                        s->wake[j] = false;
                        sl_reactor_wake_if_sleeping(g_sl.shards[j]->reactor);
                }
        }
}

/* --- CPU placement --- */

/* From the CPUs this (main) thread may use, normally the process's set at
 * startup: shard k gets the k-th (modulo their number), helpers the rest. */
static void place(shard_box *box)
{
        cpu_set_t all;
        CPU_ZERO(&all);
        box->cpu = -1;
        box->helpers_known = false;
        if (sched_getaffinity(0, sizeof(all), &all) < 0)
                return;
        int n = CPU_COUNT(&all);
        if (n <= 0)
                return;
        int k = (int)(box->s.id % (uint32_t)n);
        for (int c = 0; c < CPU_SETSIZE; c++) {
                if (CPU_ISSET(c, &all) && k-- == 0) {
                        box->cpu = c;
                        break;
                }
        }
        box->helpers = all;
        if (n > 1 && box->cpu >= 0)
                CPU_CLR(box->cpu, &box->helpers);
        box->helpers_known = true;
}

int sl_shard_cpu(const sl_shard *s)
{
        return box_of(s)->cpu;
}

int sl_shard_helper_cpus(const sl_shard *s, cpu_set_t *out)
{
        const shard_box *box = box_of(s);
        if (!box->helpers_known)
                return -1;
        *out = box->helpers;
        return 0;
}

int sl_shard_lane_affinity(const sl_shard *s, int lane, cpu_set_t *out)
{
        if (lane < 0 || lane >= SL_SHARD_LANES || !box_of(s)->lanes[lane].started)
                return ESRCH;
        return pthread_getaffinity_np(*box_of(s)->lanes[lane].thread, sizeof(*out), out);
}

/* --- I/O helper threads --- */

static void *io_main(void *arg)
{
        shard_lane *l = arg;
        sl_shard *s = l->s;
        pthread_mutex_lock(&s->io_mu);
        for (;;) {
                sl_xcall *x = fifo_pop(l->jobs);
                if (!x) {
                        if (s->io_stop)
                                break;
                        pthread_cond_wait(l->cv, &s->io_mu);
                        continue;
                }
                pthread_mutex_unlock(&s->io_mu);
                x->run(x);
                pthread_mutex_lock(&s->io_mu);
                fifo_push(&s->io_done, x);
                sl_reactor_wake(s->reactor);
        }
        pthread_mutex_unlock(&s->io_mu);
        return NULL;
}

void sl_shard_offload_lane(sl_xcall *x, int lane, sl_xcall *early)
{
        sl_shard *s = t_self;
        shard_q *q = q_of(s);
        if (early) { /* its completion is counted like a job's */
                q_busy(q);
                q->io_open++;
                early->origin = early->target = s->id;
                early->phase = PHASE_OFFLOAD;
        }
        if (lane < 0 || lane >= SL_SHARD_LANES || !box_of(s)->lanes[lane].started)
                lane = 0; /* lane 1 did not start: share lane 0 */
        shard_lane *l = &box_of(s)->lanes[lane];
        q_busy(q);
        q->io_open++;
        x->origin = x->target = s->id;
        x->phase = PHASE_OFFLOAD;
        pthread_mutex_lock(&s->io_mu);
        fifo_push(l->jobs, x);
        pthread_cond_signal(l->cv);
        pthread_mutex_unlock(&s->io_mu);
}

void sl_shard_offload(sl_xcall *x)
{
        sl_shard_offload_lane(x, 0, NULL);
}

void sl_shard_io_post(sl_shard *s, sl_xcall *x)
{
        pthread_mutex_lock(&s->io_mu);
        fifo_push(&s->io_done, x);
        sl_reactor_wake(s->reactor);
        pthread_mutex_unlock(&s->io_mu);
}

static void io_completions(sl_shard *s)
{
        pthread_mutex_lock(&s->io_mu);
        sl_xcall_fifo done = s->io_done;
        s->io_done.head = s->io_done.tail = NULL;
        pthread_mutex_unlock(&s->io_mu);
        shard_q *q = q_of(s);
        sl_xcall *x;
        while ((x = fifo_pop(&done))) {
                q_busy(q);
                if (x->done)
                        x->done(x);
                q->io_open--;
        }
}

void sl_shard_io_start(sl_shard *s)
{
        shard_box *box = box_of(s);
        /* Created on their CPUs (not inheriting the shard's pin first). */
        pthread_attr_t attr;
        bool have_attr = pthread_attr_init(&attr) == 0;
        cpu_set_t cpus;
        if (have_attr && sl_shard_helper_cpus(s, &cpus) == 0) {
                int rc = pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
                if (rc)
                        SL_WARN("shard %u: cannot place its disk helpers: %s", s->id, strerror(rc));
        }
        for (int i = 0; i < SL_SHARD_LANES; i++) {
                shard_lane *l = &box->lanes[i];
                int rc = pthread_create(l->thread, have_attr ? &attr : NULL, io_main, l);
                if (rc == EINVAL && have_attr) /* CPUs refused: as the shard */
                        rc = pthread_create(l->thread, NULL, io_main, l);
                l->started = rc == 0;
                if (l->started) { /* named before anyone looks (top, perf, tests) */
                        char name[16];
                        snprintf(name, sizeof(name), i == 0 ? "sl-io%u" : "sl-commit%u", s->id);
                        pthread_setname_np(*l->thread, name);
                }
                if (rc)
                        SL_ERROR("shard %u: cannot start disk helper %d: %s", s->id, i,
                                 strerror(rc));
        }
        if (have_attr)
                pthread_attr_destroy(&attr);
}

void sl_shard_io_stop(sl_shard *s)
{
        shard_box *box = box_of(s);
        pthread_mutex_lock(&s->io_mu);
        s->io_stop = true;
        for (int i = 0; i < SL_SHARD_LANES; i++)
                pthread_cond_signal(box->lanes[i].cv);
        pthread_mutex_unlock(&s->io_mu);
        for (int i = 0; i < SL_SHARD_LANES; i++) {
                if (box->lanes[i].started)
                        pthread_join(*box->lanes[i].thread, NULL);
                box->lanes[i].started = false;
        }
        io_completions(s);
}

/* --- loop hooks --- */

static void q_publish(sl_shard *s);

static void hook_before_sleep(void *arg)
{
        sl_shard *s = arg;
        /* Work queued to ourselves must not wait for an epoll timeout. */
        if (s->local.head)
                drain_inbound(s);
        sl_commit_before_sleep(s);
        sl_conn_flush_all(s);
        flush_pending(s);
        wake_targets(s);
        if (q_of(s)->quiescing)
                q_publish(s);
}

static bool hook_pending(void *arg)
{
        sl_shard *s = arg;
        if (s->local.head)
                return true;
        for (uint32_t j = 0; s->pend_count && j < g_sl.nshards; j++)
                if (s->pend[j].head && sl_ring_has_room(s->out[j]))
                        return true;
        for (uint32_t j = 0; j < g_sl.nshards; j++)
                if (j != s->id && !sl_ring_empty(s->in[j]))
                        return true;
        return false;
}

static void hook_after_wake(void *arg)
{
        sl_shard *s = arg;
        io_completions(s);
        drain_inbound(s);
        flush_pending(s);
        wake_targets(s);
}

void sl_shard_loop_hooks(sl_shard *s)
{
        sl_reactor_hooks h = {
            .before_sleep = hook_before_sleep,
            .pending = hook_pending,
            .after_wake = hook_after_wake,
            .arg = s,
        };
        sl_reactor_set_hooks(s->reactor, &h);
}

/* --- lifecycle --- */

int sl_shard_create(sl_shard_id id, sl_shard **out)
{
        shard_box *box = calloc(1, sizeof(*box));
        if (!box)
                return -ENOMEM;
        sl_shard *s = &box->s;
        s->id = id;
        s->lsock = -1;
        sl_timer_init(&s->flush_timer, NULL, s);
        s->reactor = sl_reactor_new();
        if (!s->reactor)
                goto out_free;
        s->net.ops = sl_net_ops_for(g_sl.cfg.network_backend);
        if (!s->net.ops) {
                SL_ERROR("network.backend: dpdk is not built into this binary "
                         "(configure with -DSL_DPDK=ON)");
                sl_reactor_free(s->reactor);
                free(s);
                return -ENOTSUP;
        }
        s->net.reactor = s->reactor;
        uint32_t n = g_sl.nshards;
        s->out = calloc(n, sizeof(*s->out));
        s->in = calloc(n, sizeof(*s->in));
        s->pend = calloc(n, sizeof(*s->pend));
        s->wake = calloc(n, sizeof(*s->wake));
        box->q.to_open = calloc(n, sizeof(*box->q.to_open));
        box->q.from_open = calloc(n, sizeof(*box->q.from_open));
        atomic_init(&box->q.word, 0);
        if (!s->out || !s->in || !s->pend || !s->wake || !box->q.to_open || !box->q.from_open)
                goto out_free_arrays;
        pthread_mutex_init(&s->io_mu, NULL);
        pthread_cond_init(&s->io_cv, NULL);
        pthread_cond_init(&box->cv1, NULL);
        /* Jobs offloaded before sl_shard_io_start wait in lane 0's queue. */
        box->lanes[0] = (shard_lane){s, 0, &s->io_jobs, &s->io_cv, &s->io_thread, false};
        box->lanes[1] = (shard_lane){s, 1, &box->jobs1, &box->cv1, &box->thread1, false};
        place(box);
        *out = s;
        return 0;

out_free_arrays:
        free(s->out);
        free(s->in);
        free(s->pend);
        free(s->wake);
        free(box->q.to_open);
        free(box->q.from_open);
        sl_reactor_free(s->reactor);
out_free:
        free(s);
        return -ENOMEM;
}

int sl_shards_link(void)
{
        atomic_store(&q_entered, 0);
        atomic_store(&q_release, false);
        atomic_store(&q_report, false);
        atomic_store(&q_reported, 0);
        for (uint32_t i = 0; i < g_sl.nshards; i++) {
                for (uint32_t j = 0; j < g_sl.nshards; j++) {
                        if (i == j)
                                continue;
                        sl_ring *r = sl_ring_new(SL_RING_SLOTS);
                        if (!r)
                                return -ENOMEM;
                        g_sl.shards[i]->out[j] = r;
                        g_sl.shards[j]->in[i] = r;
                }
        }
        return 0;
}

void sl_shard_destroy(sl_shard *s)
{
        if (!s)
                return;
        for (uint32_t j = 0; j < g_sl.nshards; j++)
                sl_ring_free(s->out[j]); /* each ring is freed by its producer */
        free(s->out);
        free(s->in);
        free(s->pend);
        free(s->wake);
        free(s->ptab);
        sl_commit_free(s);
        free(q_of(s)->to_open);
        free(q_of(s)->from_open);
        pthread_mutex_destroy(&s->io_mu);
        pthread_cond_destroy(&s->io_cv);
        pthread_cond_destroy(&box_of(s)->cv1);
        sl_reactor_free(s->reactor);
        free(s);
}

/* --- shutdown: the quiescence barrier ---
 *
 * No shard may leave its loop while a call it sent or received is in flight:
 * the reply would land in a ring nobody drains (leaking what it points to) or
 * run against freed state. Once a shard takes no new work (server.c: listener
 * and connections closed, maintenance timer stopped; the registry refuses new
 * changes), it enters sl_shard_quiesce and keeps turning: it answers calls,
 * collects replies and I/O completions, and at the end of every turn publishes
 * a word: quiet (no call of its own out, none received unanswered, no I/O job,
 * no connection, nothing queued) and an epoch, bumped whenever it withdraws
 * quiet, which it does before any send, delivery or offload. The main thread
 * reads every word twice (sl_shards_quiesce). The same quiet word from every
 * shard in both passes means that for a moment between the passes all shards
 * were quiet at once: no call was out anywhere (its origin counts a call until
 * its reply has run), so nothing can start one again (only connections and
 * timers start work; the timers left, e.g. the group coordinator's, only
 * answer parked calls, which would be out). Then all shards are released
 * together. A timeout bounds it: each shard logs what it still waits for. */

static void q_publish(sl_shard *s)
{
        shard_q *q = q_of(s);
        bool quiet = !q->sent_open && !q->recv_open && !q->io_open && !s->nconns &&
                     !s->pend_count && !s->local.head;
        if (quiet && !q->pub_quiet) {
                q->pub_quiet = true;
                atomic_store(&q->word, q->epoch << 1 | 1);
        } else if (!quiet) {
                q_busy(q);
        }
}

/* Appends "[to shard j: k, ...]" for the non-zero entries of v. */
static size_t q_list(char *buf, size_t len, const char *what, const uint32_t *v)
{
        size_t o = 0;
        const char *sep = " [";
        for (uint32_t j = 0; j < g_sl.nshards && o < len; j++) {
                if (!v[j])
                        continue;
                o += (size_t)snprintf(buf + o, len - o, "%s%s shard %u: %u", sep, what, j, v[j]);
                sep = ",";
        }
        if (o && o < len)
                o += (size_t)snprintf(buf + o, len - o, "]");
        return o < len ? o : len;
}

static void q_log_pending(sl_shard *s)
{
        shard_q *q = q_of(s);
        char to[512] = "", from[512] = "";
        q_list(to, sizeof(to), "to", q->to_open);
        q_list(from, sizeof(from), "from", q->from_open);
        SL_WARN(
            "shutdown barrier: shard %u still has %llu call(s) awaiting a reply%s, %llu call(s) "
            "received and unanswered%s, %llu I/O job(s)%s, %u connection(s), %u call(s) "
            "waiting for ring room",
            s->id, (unsigned long long)q->sent_open, to, (unsigned long long)q->recv_open, from,
            (unsigned long long)q->io_open, sl_commit_busy(s) ? " (a group commit)" : "", s->nconns,
            s->pend_count);
}

void sl_shard_quiesce(sl_shard *s)
{
        shard_q *q = q_of(s);
        q->quiescing = true;
        atomic_fetch_add(&q_entered, 1);
        while (!atomic_load(&q_release)) {
                if (atomic_load(&q_report) && !q->reported) {
                        q->reported = true;
                        q_log_pending(s);
                        atomic_fetch_add(&q_reported, 1);
                }
                /* before_sleep publishes; the release and report wake us */
                sl_reactor_turn(s->reactor, 100);
        }
        q->quiescing = false;
}

static void nap_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
}

/* Two passes over the first n shards' words: all quiet, none changed. */
static bool quiet_twice(uint32_t n, uint64_t *w)
{
        for (uint32_t i = 0; i < n; i++) {
                w[i] = atomic_load(&q_of(g_sl.shards[i])->word);
                if (!(w[i] & 1))
                        return false;
        }
        for (uint32_t i = 0; i < n; i++)
                if (atomic_load(&q_of(g_sl.shards[i])->word) != w[i])
                        return false;
        return true;
}

bool sl_shards_quiesce(uint32_t n, int64_t timeout_ms)
{
        uint64_t *w = calloc(n ? n : 1, sizeof(*w));
        int64_t start = sl_now_ms(), deadline = start + timeout_ms;
        bool ok = false;
        while (w && !ok) {
                ok = atomic_load(&q_entered) >= n && quiet_twice(n, w);
                if (ok || sl_now_ms() >= deadline)
                        break;
                nap_ms(1);
        }
        free(w);
        if (!ok) {
                uint32_t in = atomic_load(&q_entered);
                SL_WARN("shutdown barrier: shards not quiet after %lld ms (%u of %u reached it); "
                        "leaving with work in flight",
                        (long long)(sl_now_ms() - start), in, n);
                atomic_store(&q_report, true);
                for (uint32_t i = 0; i < n; i++)
                        sl_reactor_wake(g_sl.shards[i]->reactor);
                for (int k = 0; k < 1000 && atomic_load(&q_reported) < in; k++)
                        nap_ms(1);
        }
        atomic_store(&q_release, true);
        for (uint32_t i = 0; i < n; i++)
                sl_reactor_wake(g_sl.shards[i]->reactor);
        return ok;
}
