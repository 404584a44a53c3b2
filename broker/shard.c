/* broker/shard.c — shard messaging: cross-shard calls over SPSC rings, gather,
 * the per-shard I/O helper thread, and partition placement.
 *
 * An xcall travels origin -> target in ring out[target] and comes back in the
 * target's ring to the origin; when a ring is full the xcall waits in a FIFO
 * on the sending shard (its memory is the caller's, nothing is allocated) and
 * the shard stops reading sockets until the FIFOs drain (backpressure). Rings
 * are drained after every epoll wake-up; the target reactor is woken once per
 * turn and only if it announced it may sleep. */
#include "broker_int.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

enum { PHASE_CALL = 0, PHASE_REPLY = 1, PHASE_OFFLOAD = 2 };

static _Thread_local sl_shard *t_self;

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
        x->origin = s->id;
        x->target = target;
        x->phase = PHASE_CALL;
        send_to(s, target, x);
}

void sl_xcall_reply(sl_xcall *x)
{
        sl_shard *s = t_self;
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
        (void)s;
        if (x->phase == PHASE_CALL) {
                x->run(x);
                return;
        }
        sl_gather *g = x->gather;
        if (x->done)
                x->done(x);
        if (g)
                gather_one_done(x);
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

/* --- I/O helper thread --- */

static void *io_main(void *arg)
{
        sl_shard *s = arg;
        pthread_mutex_lock(&s->io_mu);
        for (;;) {
                sl_xcall *x = fifo_pop(&s->io_todo);
                if (!x) {
                        if (s->io_stop)
                                break;
                        pthread_cond_wait(&s->io_cv, &s->io_mu);
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

void sl_shard_offload(sl_xcall *x)
{
        sl_shard *s = t_self;
        x->origin = x->target = s->id;
        x->phase = PHASE_OFFLOAD;
        pthread_mutex_lock(&s->io_mu);
        fifo_push(&s->io_todo, x);
        pthread_cond_signal(&s->io_cv);
        pthread_mutex_unlock(&s->io_mu);
}

static void io_completions(sl_shard *s)
{
        pthread_mutex_lock(&s->io_mu);
        sl_xcall_fifo done = s->io_done;
        s->io_done.head = s->io_done.tail = NULL;
        pthread_mutex_unlock(&s->io_mu);
        sl_xcall *x;
        while ((x = fifo_pop(&done)))
                if (x->done)
                        x->done(x);
}

void sl_shard_io_start(sl_shard *s)
{
        pthread_create(&s->io_thread, NULL, io_main, s);
}

void sl_shard_io_stop(sl_shard *s)
{
        pthread_mutex_lock(&s->io_mu);
        s->io_stop = true;
        pthread_cond_signal(&s->io_cv);
        pthread_mutex_unlock(&s->io_mu);
        pthread_join(s->io_thread, NULL);
        io_completions(s);
}

/* --- loop hooks --- */

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
        sl_shard *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
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
        if (!s->out || !s->in || !s->pend || !s->wake)
                goto out_free_arrays;
        pthread_mutex_init(&s->io_mu, NULL);
        pthread_cond_init(&s->io_cv, NULL);
        *out = s;
        return 0;

out_free_arrays:
        free(s->out);
        free(s->in);
        free(s->pend);
        free(s->wake);
        sl_reactor_free(s->reactor);
out_free:
        free(s);
        return -ENOMEM;
}

int sl_shards_link(void)
{
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
        free(s->commit_batch);
        pthread_mutex_destroy(&s->io_mu);
        pthread_cond_destroy(&s->io_cv);
        sl_reactor_free(s->reactor);
        free(s);
}
