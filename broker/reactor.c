/* broker/reactor.c — the epoll event loop of one shard (see reactor.h).
 *
 * Per turn: before_sleep hook, announce "may sleep", ask the pending hook,
 * epoll_wait until the next timer, then fd callbacks, expired timers and the
 * after_wake hook. The fd table is indexed by fd and grows on demand; timers
 * live in a binary min-heap of pointers to caller-owned sl_timer structs. */
#include "reactor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct fd_slot {
        sl_fd_fn *fn;
        void *arg;
        int mask;
        bool used;
} fd_slot;

struct sl_reactor {
        int epfd;
        int wakefd;
        fd_slot *fds; /* indexed by fd */
        int nfds;     /* capacity of fds */
        sl_timer **heap;
        int32_t heap_len;
        int32_t heap_cap;
        sl_reactor_hooks hooks;
        atomic_bool stop;
        atomic_int sleeping; /* 1 between "may sleep" and wake-up */
        struct epoll_event events[256];
};

int64_t sl_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drain_wakefd(sl_reactor *r, int fd, void *arg, int mask)
{
        (void)r;
        (void)arg;
        (void)mask;
        uint64_t v;
        while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
                ;
}

sl_reactor *sl_reactor_new(void)
{
        sl_reactor *r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        r->wakefd = -1;
        r->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (r->epfd < 0)
                goto out_free;
        r->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (r->wakefd < 0)
                goto out_close_ep;
        if (sl_reactor_watch(r, r->wakefd, SL_READABLE, drain_wakefd, NULL) < 0)
                goto out_close_wake;
        return r;

out_close_wake:
        close(r->wakefd);
out_close_ep:
        close(r->epfd);
out_free:
        free(r->fds);
        free(r);
        return NULL;
}

void sl_reactor_free(sl_reactor *r)
{
        if (!r)
                return;
        close(r->wakefd);
        close(r->epfd);
        free(r->fds);
        free(r->heap);
        free(r);
}

void sl_reactor_set_hooks(sl_reactor *r, const sl_reactor_hooks *h)
{
        r->hooks = *h;
}

static int grow_fds(sl_reactor *r, int fd)
{
        if (fd < r->nfds)
                return 0;
        int n = r->nfds ? r->nfds : 64;
        while (n <= fd)
                n *= 2;
        fd_slot *nf = realloc(r->fds, (size_t)n * sizeof(*nf));
        if (!nf)
                return -ENOMEM;
        memset(nf + r->nfds, 0, (size_t)(n - r->nfds) * sizeof(*nf));
        r->fds = nf;
        r->nfds = n;
        return 0;
}

static uint32_t ep_mask(int mask)
{
        uint32_t ev = 0;
        if (mask & SL_READABLE)
                ev |= EPOLLIN | EPOLLRDHUP;
        if (mask & SL_WRITABLE)
                ev |= EPOLLOUT;
        return ev;
}

int sl_reactor_watch(sl_reactor *r, int fd, int mask, sl_fd_fn *fn, void *arg)
{
        if (fd < 0)
                return -EBADF;
        int err = grow_fds(r, fd);
        if (err)
                return err;
        fd_slot *s = &r->fds[fd];
        struct epoll_event ev = {.events = ep_mask(mask), .data.fd = fd};
        if (epoll_ctl(r->epfd, s->used ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0)
                return -errno;
        s->used = true;
        s->fn = fn;
        s->arg = arg;
        s->mask = mask;
        return 0;
}

int sl_reactor_set_mask(sl_reactor *r, int fd, int mask)
{
        if (fd < 0 || fd >= r->nfds || !r->fds[fd].used)
                return -EBADF;
        if (r->fds[fd].mask == mask)
                return 0;
        struct epoll_event ev = {.events = ep_mask(mask), .data.fd = fd};
        if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
                return -errno;
        r->fds[fd].mask = mask;
        return 0;
}

int sl_reactor_mask(const sl_reactor *r, int fd)
{
        if (fd < 0 || fd >= r->nfds || !r->fds[fd].used)
                return 0;
        return r->fds[fd].mask;
}

void sl_reactor_unwatch(sl_reactor *r, int fd)
{
        if (fd < 0 || fd >= r->nfds || !r->fds[fd].used)
                return;
        epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
        memset(&r->fds[fd], 0, sizeof(r->fds[fd]));
}

/* --- timer heap --- */

static void heap_set(sl_reactor *r, int32_t i, sl_timer *t)
{
        r->heap[i] = t;
        t->heap_index = i;
}

static void heap_up(sl_reactor *r, int32_t i)
{
        sl_timer *t = r->heap[i];
        while (i > 0) {
                int32_t parent = (i - 1) / 2;
                if (r->heap[parent]->when_ms <= t->when_ms)
                        break;
                heap_set(r, i, r->heap[parent]);
                i = parent;
        }
        heap_set(r, i, t);
}

static void heap_down(sl_reactor *r, int32_t i)
{
        sl_timer *t = r->heap[i];
        for (;;) {
                int32_t c = 2 * i + 1;
                if (c >= r->heap_len)
                        break;
                if (c + 1 < r->heap_len && r->heap[c + 1]->when_ms < r->heap[c]->when_ms)
                        c++;
                if (t->when_ms <= r->heap[c]->when_ms)
                        break;
                heap_set(r, i, r->heap[c]);
                i = c;
        }
        heap_set(r, i, t);
}

void sl_timer_stop(sl_reactor *r, sl_timer *t)
{
        int32_t i = t->heap_index;
        if (i < 0)
                return;
        t->heap_index = -1;
        r->heap_len--;
        if (i == r->heap_len)
                return;
        r->heap[i] = r->heap[r->heap_len];
        r->heap[i]->heap_index = i;
        heap_down(r, i);
        heap_up(r, r->heap[i]->heap_index);
}

void sl_timer_start(sl_reactor *r, sl_timer *t, int64_t delay_ms)
{
        sl_timer_stop(r, t);
        if (r->heap_len == r->heap_cap) {
                int32_t n = r->heap_cap ? r->heap_cap * 2 : 64;
                sl_timer **nh = realloc(r->heap, (size_t)n * sizeof(*nh));
                if (!nh)
                        abort(); /* a timer that silently never fires is worse */
                r->heap = nh;
                r->heap_cap = n;
        }
        t->when_ms = sl_now_ms() + (delay_ms > 0 ? delay_ms : 0);
        heap_set(r, r->heap_len++, t);
        heap_up(r, t->heap_index);
}

static int run_timers(sl_reactor *r)
{
        int n = 0;
        int64_t now = sl_now_ms();
        while (r->heap_len > 0 && r->heap[0]->when_ms <= now) {
                sl_timer *t = r->heap[0];
                sl_timer_stop(r, t);
                t->fn(t);
                n++;
        }
        return n;
}

static int next_timeout(const sl_reactor *r, int timeout_ms)
{
        if (r->heap_len == 0)
                return timeout_ms;
        int64_t d = r->heap[0]->when_ms - sl_now_ms();
        if (d < 0)
                d = 0;
        if (timeout_ms >= 0 && d > timeout_ms)
                return timeout_ms;
        return d > 1000000 ? 1000000 : (int)d;
}

/* --- loop --- */

int sl_reactor_turn(sl_reactor *r, int timeout_ms)
{
        if (r->hooks.before_sleep)
                r->hooks.before_sleep(r->hooks.arg);
        int timeout = next_timeout(r, timeout_ms);
        if (timeout != 0) {
                /* Announce the sleep, then look for work once more: a producer that
                 * published before this store is seen by pending(); one after it
                 * sees sleeping == 1 and writes the eventfd. */
                atomic_store(&r->sleeping, 1);
                if ((r->hooks.pending && r->hooks.pending(r->hooks.arg)) || atomic_load(&r->stop))
                        timeout = 0;
        }
        int n = epoll_wait(r->epfd, r->events, (int)(sizeof(r->events) / sizeof(r->events[0])),
                           timeout);
        atomic_store(&r->sleeping, 0);
        int handled = 0;
        for (int i = 0; i < n; i++) {
                int fd = r->events[i].data.fd;
                uint32_t ev = r->events[i].events;
                int mask = 0;
                if (ev & (EPOLLIN | EPOLLRDHUP))
                        mask |= SL_READABLE;
                if (ev & EPOLLOUT)
                        mask |= SL_WRITABLE;
                /* A callback may unwatch (or close) any fd, including later ones. */
                if (fd >= r->nfds || !r->fds[fd].used)
                        continue;
                fd_slot *s = &r->fds[fd];
                mask &= s->mask;
                /* HUP/ERR are reported even with an empty mask: always deliver
                 * them, or a paused fd would spin the loop. */
                if (ev & (EPOLLHUP | EPOLLERR))
                        mask |= SL_HANGUP;
                if (mask && s->fn) {
                        s->fn(r, fd, s->arg, mask);
                        handled++;
                }
        }
        handled += run_timers(r);
        if (r->hooks.after_wake)
                r->hooks.after_wake(r->hooks.arg);
        return handled;
}

void sl_reactor_run(sl_reactor *r)
{
        while (!atomic_load(&r->stop))
                sl_reactor_turn(r, -1);
}

void sl_reactor_stop(sl_reactor *r)
{
        atomic_store(&r->stop, true);
        sl_reactor_wake(r);
}

bool sl_reactor_stopping(const sl_reactor *r)
{
        return atomic_load(&r->stop);
}

void sl_reactor_wake(sl_reactor *r)
{
        uint64_t one = 1;
        ssize_t w = write(r->wakefd, &one, sizeof(one));
        (void)w; /* EAGAIN: the counter is already non-zero, the loop will wake */
}

void sl_reactor_wake_if_sleeping(sl_reactor *r)
{
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&r->sleeping, memory_order_relaxed))
                sl_reactor_wake(r);
}
