/* broker/fetch_wait.c — the connection-shard side of a Fetch long poll: one
 * watch per owner shard, parked there (fetch_owner.c) until an append or a
 * cancel sends it home with a fresh read of its partitions.
 *
 * The watches live in a block of their own, pooled per shard, not in the
 * request's arena: the owners link the block's copies of the items into their
 * tables, so the block must outlive the request when the fetch answers as
 * soon as the first watch comes home with enough bytes. That answer does not
 * wait for the other owners to acknowledge their cancels (one cross-shard
 * round trip less on the end-to-end path); the block frees itself, releasing
 * any pins the late reads brought, when its last xcall is home. While the
 * fetch is attached, every fresh read is moved into the fetch's own items
 * (pins included). No allocation in steady state: blocks are reused. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "partition_ops.h"

#define WAIT_POOL_KEEP 64 /* idle blocks kept per shard */

struct sl_fetch_wait {
        sl_fetch_fanout_ctx fc; /* first: what the owners see (copies of the items) */
        sl_fanout f;            /* one group per owner; f.ctx = &fc */
        sl_xcall *cancel_x;     /* per group */
        bool *back;             /* per group: its watch came home */
        int32_t out;            /* watch and cancel xcalls not yet home */
        bool cancelling;
        bool attached;        /* the fetch still listens */
        sl_fetch_item *items; /* the fetch's items (while attached) */
        sl_fetch_wait_cb cb;
        size_t cap; /* bytes of this block */
        struct sl_fetch_wait *next_free;
};

/* ---- pool ---- */

static _Thread_local sl_fetch_wait *t_free;
static _Thread_local int t_nfree;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void pool_destroy(void *head)
{
        sl_fetch_wait *w = head;
        while (w) {
                sl_fetch_wait *next = w->next_free;
                free(w);
                w = next;
        }
}

static void pool_key_init(void)
{
        pthread_key_create(&pool_key, pool_destroy);
}

static size_t align16(size_t n)
{
        return (n + 15) & ~(size_t)15;
}

static sl_fetch_wait *block_get(size_t need)
{
        sl_fetch_wait **pp = &t_free;
        for (; *pp; pp = &(*pp)->next_free) {
                if ((*pp)->cap >= need) {
                        sl_fetch_wait *w = *pp;
                        *pp = w->next_free;
                        t_nfree--;
                        pthread_setspecific(pool_key, t_free);
                        return w;
                }
        }
        pthread_once(&pool_once, pool_key_init);
        sl_fetch_wait *w = malloc(need);
        if (w)
                w->cap = need;
        return w;
}

static void block_put(sl_fetch_wait *w)
{
        if (t_nfree >= WAIT_POOL_KEEP) {
                free(w);
                return;
        }
        w->next_free = t_free;
        t_free = w;
        t_nfree++;
        pthread_setspecific(pool_key, t_free);
}

/* ---- watching ---- */

static sl_fetch_wait *wait_of(sl_fanout_group *grp)
{
        return (sl_fetch_wait *)((char *)grp->f - offsetof(sl_fetch_wait, f));
}

/* Moves a fresh read (and its pins) from the block into the fetch's item. */
static void take_read(sl_fetch_item *dst, sl_fetch_item *src)
{
        dst->error_code = src->error_code;
        dst->high_watermark = src->high_watermark;
        dst->log_start_offset = src->log_start_offset;
        dst->diverged = src->diverged;
        dst->diverging_epoch = src->diverging_epoch;
        dst->diverging_end_offset = src->diverging_end_offset;
        memcpy(dst->ranges, src->ranges, sizeof(dst->ranges));
        dst->nranges = src->nranges;
        dst->bytes = src->bytes;
        dst->part = src->part;
        src->nranges = 0;
        src->bytes = 0;
}

static void finish_if_home(sl_fetch_wait *w)
{
        if (w->out > 0)
                return;
        if (w->attached) {
                w->attached = false;
                sl_fetch_wait_cb cb = w->cb;
                block_put(w);
                cb.over(cb.ctx);
                return;
        }
        /* Detached: late reads still hold pins. */
        for (int32_t g = 0; g < w->f.ngroups; g++) {
                sl_fanout_group *grp = &w->f.groups[g];
                for (int32_t i = 0; i < grp->n; i++)
                        sl_fetch_release(grp->owner, &w->fc.items[grp->items[i]]);
        }
        block_put(w);
}

static void cancel_back(sl_xcall *x)
{
        sl_fetch_wait *w = wait_of(x->arg);
        w->out--;
        finish_if_home(w);
}

static void cancel_rest(sl_fetch_wait *w)
{
        if (w->cancelling)
                return;
        w->cancelling = true;
        for (int32_t g = 0; g < w->f.ngroups; g++) {
                if (w->back[g])
                        continue;
                sl_xcall *x = &w->cancel_x[g];
                memset(x, 0, sizeof(*x));
                x->run = sl_fetch_watch_cancel_on_owner;
                x->done = cancel_back;
                x->arg = &w->f.groups[g];
                w->out++;
                sl_shard_call(w->f.groups[g].owner, x);
        }
}

static void watch_back(sl_xcall *x)
{
        sl_fanout_group *grp = x->arg;
        sl_fetch_wait *w = wait_of(grp);
        w->back[grp - w->f.groups] = true;
        w->out--;
        if (w->attached) {
                for (int32_t i = 0; i < grp->n; i++)
                        take_read(&w->items[grp->items[i]], &w->fc.items[grp->items[i]]);
                if (!w->cancelling && w->cb.woken(w->cb.ctx)) {
                        /* Answered: never touch the fetch again. */
                        w->attached = false;
                        w->items = NULL;
                }
        }
        cancel_rest(w);
        finish_if_home(w);
}

sl_fetch_wait *sl_fetch_wait_start(sl_fetch_item *items, int32_t nitems, const sl_fanout *plan,
                                   sl_fetch_wait_cb cb)
{
        int32_t ng = plan->ngroups;
        size_t need = align16(sizeof(sl_fetch_wait)) +
                      align16((size_t)nitems * sizeof(sl_fetch_item)) +
                      align16((size_t)ng * sizeof(sl_fanout_group)) +
                      align16((size_t)nitems * sizeof(int32_t)) +
                      align16((size_t)ng * sizeof(sl_xcall)) + align16((size_t)ng);
        sl_fetch_wait *w = block_get(need);
        if (!w)
                return NULL;
        size_t cap = w->cap;
        char *p = (char *)w;
        memset(w, 0, sizeof(*w));
        w->cap = cap;
        p += align16(sizeof(sl_fetch_wait));
        w->fc.items = (sl_fetch_item *)p;
        p += align16((size_t)nitems * sizeof(sl_fetch_item));
        w->f.groups = (sl_fanout_group *)p;
        p += align16((size_t)ng * sizeof(sl_fanout_group));
        int32_t *idx = (int32_t *)p;
        p += align16((size_t)nitems * sizeof(int32_t));
        w->cancel_x = (sl_xcall *)p;
        p += align16((size_t)ng * sizeof(sl_xcall));
        w->back = (bool *)p;
        /* The block's items take over the read's pins (the watch run on the
         * owner releases them). */
        memcpy(w->fc.items, items, (size_t)nitems * sizeof(sl_fetch_item));
        for (int32_t i = 0; i < nitems; i++) {
                items[i].nranges = 0;
                items[i].bytes = 0;
                w->fc.items[i].w_linked = false;
        }
        w->f.ngroups = ng;
        w->f.ctx = &w->fc;
        for (int32_t g = 0; g < ng; g++) {
                const sl_fanout_group *src = &plan->groups[g];
                sl_fanout_group *grp = &w->f.groups[g];
                memset(grp, 0, sizeof(*grp));
                grp->f = &w->f;
                grp->owner = src->owner;
                grp->items = idx;
                grp->n = src->n;
                memcpy(idx, src->items, (size_t)src->n * sizeof(*idx));
                idx += src->n;
                w->back[g] = false;
        }
        w->items = items;
        w->cb = cb;
        w->attached = true;
        w->out = ng;
        for (int32_t g = 0; g < ng; g++) {
                sl_fanout_group *grp = &w->f.groups[g];
                grp->x.run = sl_fetch_watch_on_owner;
                grp->x.done = watch_back;
                grp->x.arg = grp;
                sl_shard_call(grp->owner, &grp->x);
        }
        return w;
}

void sl_fetch_wait_cancel(sl_fetch_wait *w)
{
        cancel_rest(w);
}
