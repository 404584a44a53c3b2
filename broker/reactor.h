/* broker/reactor.h — one event loop per shard (Redis ae-sized, epoll).
 *
 * File events (readable/writable callbacks per fd), timers (an intrusive min
 * heap: long-poll Fetch, session timeouts; no allocation per timer), an
 * eventfd other threads use to wake the loop, and three hooks the shard
 * installs: before_sleep (flush queued cross-shard calls, start group commit),
 * pending (is there work that must not wait, e.g. non-empty rings — checked
 * after the loop announced it may sleep, which closes the lost-wakeup race
 * with sl_reactor_wake_if_sleeping) and after_wake (drain rings).
 * Owner: the shard thread; only sl_reactor_wake* and sl_reactor_stop may be
 * called from other threads. */
#ifndef SL_REACTOR_H
#define SL_REACTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct sl_reactor sl_reactor;

#define SL_READABLE 1
#define SL_WRITABLE 2
#define SL_HANGUP   4 /* delivered whatever the mask: peer gone or socket error */

typedef void sl_fd_fn(sl_reactor *r, int fd, void *arg, int mask);

typedef struct sl_timer {
        void (*fn)(struct sl_timer *t); /* set by the caller */
        void *arg;                      /* set by the caller */
        int64_t when_ms;                /* internal: monotonic deadline */
        int32_t heap_index;             /* internal: -1 when not armed */
} sl_timer;

typedef struct sl_reactor_hooks {
        void (*before_sleep)(void *arg);
        bool (*pending)(void *arg); /* true: poll without sleeping */
        void (*after_wake)(void *arg);
        void *arg;
} sl_reactor_hooks;

/* Monotonic clock in milliseconds. */
int64_t sl_now_ms(void);

/* Creates a loop (epoll + eventfd). NULL on failure (errno set). */
sl_reactor *sl_reactor_new(void);
void sl_reactor_free(sl_reactor *r);
void sl_reactor_set_hooks(sl_reactor *r, const sl_reactor_hooks *h);

/* Watches fd for `mask` (SL_READABLE|SL_WRITABLE) calling fn; calling it again
 * for the same fd replaces fn/arg/mask; mask 0 keeps the fd registered but
 * silent. Returns 0 or -errno. */
int sl_reactor_watch(sl_reactor *r, int fd, int mask, sl_fd_fn *fn, void *arg);
/* Changes only the mask of a watched fd. Returns 0 or -errno. */
int sl_reactor_set_mask(sl_reactor *r, int fd, int mask);
int sl_reactor_mask(const sl_reactor *r, int fd);
/* Stops watching fd (call before close). */
void sl_reactor_unwatch(sl_reactor *r, int fd);

/* Arms t to fire after delay_ms (re-arming moves it). */
void sl_timer_start(sl_reactor *r, sl_timer *t, int64_t delay_ms);
void sl_timer_stop(sl_reactor *r, sl_timer *t);
static inline void sl_timer_init(sl_timer *t, void (*fn)(sl_timer *t), void *arg)
{
        t->fn = fn;
        t->arg = arg;
        t->when_ms = 0;
        t->heap_index = -1;
}
static inline bool sl_timer_armed(const sl_timer *t)
{
        return t->heap_index >= 0;
}

/* Runs until sl_reactor_stop(). */
void sl_reactor_run(sl_reactor *r);
/* One loop turn; timeout_ms -1 = until an event. Returns events handled. */
int sl_reactor_turn(sl_reactor *r, int timeout_ms);
/* Thread-safe. */
void sl_reactor_stop(sl_reactor *r);
bool sl_reactor_stopping(const sl_reactor *r);
/* Thread-safe: wakes the loop unconditionally. */
void sl_reactor_wake(sl_reactor *r);
/* Thread-safe: wakes the loop only if it announced it may sleep. Call after
 * publishing work (the seq_cst fence inside pairs with the loop's). */
void sl_reactor_wake_if_sleeping(sl_reactor *r);

#endif
