/* broker/producer_partition.c — producer state of the partitions a shard
 * owns: the per-shard table partition → sl_producer_state, its rebuild from
 * the stored batch headers, expiry, and the two hooks of the Produce append
 * path (partition_ops.c: one call before sl_log_append, one after).
 *
 * Produce path 4/5: an idempotent batch reaching its owner shard is checked
 * against the partition's state; a retry of one of the last five batches is
 * answered with the original offsets without appending (so a producer that
 * lost a response never writes twice), a gap or a fenced epoch with Kafka's
 * error. The state is built the first time a partition needs it after the
 * broker started, by scanning every batch header of its log, so deduplication
 * survives restarts. That scan reads the whole log (seconds at 100 GB), so it
 * runs on the shard's I/O helper, one chunk of pinned ranges at a time, while
 * the partition's produces wait in order and the shard serves everything else.
 * Table entries are keyed by topic id + partition and remember the sl_log they
 * were built from: a reopened partition rebuilds. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "broker_int.h"
#include "kafka_errors.h"
#include "producer_state.h"

#define LOAD_WINDOW    (64u << 10)  /* bytes read per pread while scanning headers */
#define LOAD_CHUNK     (256u << 20) /* bytes of batches asked from sl_log_read at a time */
#define SWEEP_EVERY_MS 60000        /* expiry / stale-entry sweep, at most this often */
#define LOAD_RANGES    4            /* ranges pinned per helper round */
/* Bytes of batches per helper round: ~5 ms of header walking, so the shard's
 * other I/O helper work (group commit fdatasyncs) waits at most that long. */
#define LOAD_ROUND_BYTES (32 << 20)

_Atomic int sl_producer_load_delay_us;
_Atomic int sl_producer_load_tid;
_Atomic long sl_producer_load_round_bytes = LOAD_ROUND_BYTES;

struct pstate_load;

typedef struct pstate_ent {
        kp_uuid topic_id;
        int32_t partition;
        const sl_log *log; /* the log the state describes (compared, never used) */
        sl_producer_state *ps;
        struct pstate_load *load;                  /* rebuild running: ps belongs to the helper */
        sl_producer_waiter *wait_head, *wait_tail; /* produces parked meanwhile */
        struct pstate_ent *next;
} pstate_ent;

/* One rebuild: the owner pins a chunk of ranges, the helper walks their batch
 * headers into ps, the owner unpins and pins the next chunk. */
typedef struct pstate_load {
        sl_xcall io;
        pstate_ent *e;
        sl_partition *p; /* valid while ranges are pinned (read_pins) */
        sl_file_range rg[LOAD_RANGES];
        int n;
        int64_t off;  /* next offset to read */
        int64_t next; /* helper: one past the last batch walked */
        int64_t now_ms;
        int rc; /* helper's result */
        uint8_t *buf;
} pstate_load;

/* One per shard thread: chained hash table of the partitions with state. */
typedef struct pstate_table {
        pstate_ent **buckets;
        uint32_t mask; /* buckets - 1 (power of two) */
        uint32_t count;
        int64_t last_sweep_ms;
} pstate_table;

static _Thread_local pstate_table *t_tab;
static pthread_key_t tab_key;
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void ent_free(pstate_ent *e)
{
        sl_producer_state_free(e->ps);
        free(e);
}

static void tab_destroy(void *p)
{
        pstate_table *t = p;
        for (uint32_t i = 0; i <= t->mask; i++) {
                while (t->buckets[i]) {
                        pstate_ent *e = t->buckets[i];
                        t->buckets[i] = e->next;
                        ent_free(e);
                }
        }
        free(t->buckets);
        free(t);
}

static uint32_t part_hash(kp_uuid id, int32_t index)
{
        uint32_t h = 2166136261u;
        for (int i = 0; i < 16; i++)
                h = (h ^ id.b[i]) * 16777619u;
        return (h ^ (uint32_t)index) * 16777619u;
}

/* Doubles the buckets when entries outnumber them twice (best effort). */
static void tab_grow(pstate_table *t)
{
        uint32_t n = (t->mask + 1) * 2;
        pstate_ent **nb = calloc(n, sizeof(*nb));
        if (!nb)
                return;
        for (uint32_t i = 0; i <= t->mask; i++) {
                pstate_ent *e, *next;
                for (e = t->buckets[i]; e; e = next) {
                        next = e->next;
                        uint32_t b = part_hash(e->topic_id, e->partition) & (n - 1);
                        e->next = nb[b];
                        nb[b] = e;
                }
        }
        free(t->buckets);
        t->buckets = nb;
        t->mask = n - 1;
}

static void tab_key_init(void)
{
        pthread_key_create(&tab_key, tab_destroy);
}

static pstate_table *table(void)
{
        if (!t_tab) {
                pthread_once(&tab_once, tab_key_init);
                pstate_table *t = calloc(1, sizeof(*t));
                if (!t || !(t->buckets = calloc(64, sizeof(*t->buckets)))) {
                        free(t);
                        return NULL;
                }
                t->mask = 63;
                t_tab = t;
                pthread_setspecific(tab_key, t_tab);
        }
        return t_tab;
}

/* ---- rebuild from the log ---- */

/* Walks the batches of one file range, recording the idempotent ones. */
static int load_range(sl_producer_state *ps, const sl_file_range *r, uint8_t *buf, int64_t now_ms,
                      int64_t *next_offset)
{
        int64_t pos = r->pos, end = r->pos + r->len;
        int64_t at = 0, last = 0; /* last: bytes of the previous batch */
        size_t have = 0;
        while (pos < end) {
                if (end - pos < 61)
                        return SL_ECORRUPT;
                if (!(have && pos >= at && pos + 61 <= at + (int64_t)have)) {
                        /* After a batch as large as the window the next header
                         * is alone in any window: read only the header. */
                        size_t want = last >= (int64_t)LOAD_WINDOW ? 61 : LOAD_WINDOW;
                        if (pos + (int64_t)want > end)
                                want = (size_t)(end - pos);
                        ssize_t got = pread(r->fd, buf, want, pos);
                        if (got < 0)
                                return -errno;
                        if (got < 61)
                                return SL_ECORRUPT;
                        at = pos;
                        have = (size_t)got;
                }
                const uint8_t *h = buf + (pos - at);
                int32_t blen = (int32_t)((uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 |
                                         (uint32_t)h[10] << 8 | h[11]);
                sl_producer_batch_info bi;
                if (blen < 49 || sl_producer_batch_parse(h, 61, &bi) < 0)
                        return SL_ECORRUPT;
                int delay = atomic_load_explicit(&sl_producer_load_delay_us, memory_order_relaxed);
                if (delay > 0)
                        usleep((useconds_t)delay);
                if (bi.producer_id >= 0 && bi.first_seq >= 0) {
                        int rc = sl_producer_state_update(ps, &bi, now_ms);
                        if (rc < 0)
                                return rc;
                }
                *next_offset = bi.last_offset + 1;
                last = 12 + (int64_t)blen;
                pos += last;
        }
        return 0;
}

int sl_producer_state_load(sl_producer_state *ps, sl_log *log, int64_t now_ms)
{
        atomic_store(&sl_producer_load_tid, (int)syscall(SYS_gettid));
        uint8_t *buf = malloc(LOAD_WINDOW);
        if (!buf)
                return -ENOMEM;
        int rc = 0;
        int64_t off = sl_log_start_offset(log), end = sl_log_end_offset(log);
        while (off < end) {
                sl_file_range rg[4];
                int n = 0;
                rc = sl_log_read(log, off, end, LOAD_CHUNK, rg, 4, &n);
                if (rc < 0 || n == 0)
                        break;
                int64_t next = off;
                for (int i = 0; i < n && rc == 0; i++)
                        rc = load_range(ps, &rg[i], buf, now_ms, &next);
                sl_log_release_ranges(log, rg, n);
                if (rc < 0)
                        break;
                if (next <= off) {
                        rc = SL_ECORRUPT; /* no progress */
                        break;
                }
                off = next;
        }
        free(buf);
        return rc;
}

/* ---- the shard's table ---- */

/* Frees entries of partitions this shard no longer has open (deleted topics),
 * producers idle past producer.id.expiration.ms and producers whose batches
 * are all below the log start offset (DeleteRecords, retention). */
static void sweep(pstate_table *t, int64_t now_ms)
{
        t->last_sweep_ms = now_ms;
        for (uint32_t i = 0; i <= t->mask; i++) {
                for (pstate_ent **pp = &t->buckets[i]; *pp;) {
                        pstate_ent *e = *pp;
                        if (e->load) { /* the helper owns ps; load_end cleans up */
                                pp = &e->next;
                                continue;
                        }
                        sl_partition *p = sl_partition_find(e->topic_id, e->partition);
                        if (!p || p->log != e->log) {
                                *pp = e->next;
                                ent_free(e);
                                t->count--;
                                continue;
                        }
                        sl_producer_state_expire(e->ps, now_ms, SL_PRODUCER_EXPIRATION_MS);
                        sl_producer_state_truncate_head(e->ps, sl_log_start_offset(p->log));
                        pp = &e->next;
                }
        }
}

/* ---- asynchronous rebuild ---- */

static void tab_unlink(pstate_table *t, pstate_ent *e)
{
        pstate_ent **pp = &t->buckets[part_hash(e->topic_id, e->partition) & t->mask];
        while (*pp && *pp != e)
                pp = &(*pp)->next;
        if (*pp) {
                *pp = e->next;
                t->count--;
        }
}

/* Owner: the rebuild is over (rc 0: ps ready). Wakes the parked produces in
 * arrival order; a failed rebuild drops the entry (the next produce retries). */
static void load_end(pstate_load *l, int rc)
{
        pstate_ent *e = l->e;
        e->load = NULL;
        free(l->buf);
        free(l);
        sl_producer_waiter *w = e->wait_head;
        e->wait_head = e->wait_tail = NULL;
        if (rc < 0) {
                if (rc != -ECANCELED)
                        SL_ERROR("partition %d: rebuilding producer state: %s", e->partition,
                                 sl_log_strerror(rc));
                pstate_table *t = table();
                if (t)
                        tab_unlink(t, e);
                ent_free(e);
        }
        while (w) {
                sl_producer_waiter *next = w->next;
                w->next = NULL;
                w->cb(w, rc);
                w = next;
        }
}

static void load_io(sl_xcall *x)
{
        pstate_load *l = x->arg;
        l->next = l->off;
        l->rc = 0;
        for (int i = 0; i < l->n && l->rc == 0; i++)
                l->rc = load_range(l->e->ps, &l->rg[i], l->buf, l->now_ms, &l->next);
        atomic_store(&sl_producer_load_tid, (int)syscall(SYS_gettid));
}

static int load_step(pstate_load *l);

static void load_io_done(sl_xcall *x)
{
        pstate_load *l = x->arg;
        sl_partition *p = l->p;
        sl_log_release_ranges(p->log, l->rg, l->n);
        /* Closed meanwhile (deleted topic, shutdown): the pins held it open;
         * unpinning may free it now. */
        bool closing = p->close_pending;
        sl_partition_unpinned(p, l->n);
        l->n = 0;
        if (closing)
                load_end(l, -ECANCELED);
        else if (l->rc < 0)
                load_end(l, l->rc);
        else if (l->next <= l->off)
                load_end(l, SL_ECORRUPT); /* no progress */
        else {
                l->off = l->next;
                (void)load_step(l);
        }
}

/* Owner: pins the next chunk and sends it to the helper (1), or ends the
 * load: 0 (state ready) or its error (the entry is gone). */
static int load_step(pstate_load *l)
{
        sl_partition *p = l->p;
        int64_t end = sl_log_end_offset(p->log);
        if (l->off < sl_log_start_offset(p->log))
                l->off = sl_log_start_offset(p->log); /* DeleteRecords/retention meanwhile */
        int rc = 0;
        l->n = 0;
        if (l->off < end)
                rc = sl_log_read(p->log, l->off, end,
                                 (size_t)atomic_load(&sl_producer_load_round_bytes), l->rg,
                                 LOAD_RANGES, &l->n);
        if (rc < 0 || l->n == 0) {
                l->n = 0;
                load_end(l, rc);
                return rc;
        }
        p->read_pins += l->n;
        l->io = (sl_xcall){.run = load_io, .done = load_io_done, .arg = l};
        sl_shard_offload(&l->io);
        return 1;
}

/* The entry of p (any log), or NULL; a stale idle entry (reopened partition)
 * is dropped. */
static pstate_ent *ent_find(pstate_table *t, sl_partition *p)
{
        pstate_ent **pp = &t->buckets[part_hash(p->topic_id, p->index) & t->mask];
        for (; *pp; pp = &(*pp)->next) {
                pstate_ent *e = *pp;
                if (e->partition == p->index && !memcmp(e->topic_id.b, p->topic_id.b, 16))
                        break;
        }
        pstate_ent *e = *pp;
        if (e && e->log != p->log && !e->load) { /* the partition was reopened */
                *pp = e->next;
                ent_free(e);
                t->count--;
                return NULL;
        }
        return e;
}

/* Adds p's entry and starts its rebuild; the entry (ready when the log had
 * nothing to scan), or NULL with *err. */
static pstate_ent *load_start(pstate_table *t, sl_partition *p, int64_t now_ms, int *err)
{
        pstate_ent *e = calloc(1, sizeof(*e));
        pstate_load *l = calloc(1, sizeof(*l));
        if (!e || !l || !(e->ps = sl_producer_state_new()) || !(l->buf = malloc(LOAD_WINDOW))) {
                if (e)
                        sl_producer_state_free(e->ps);
                free(e);
                if (l)
                        free(l->buf);
                free(l);
                *err = -ENOMEM;
                return NULL;
        }
        e->topic_id = p->topic_id;
        e->partition = p->index;
        e->log = p->log;
        e->load = l;
        uint32_t b = part_hash(p->topic_id, p->index) & t->mask;
        e->next = t->buckets[b];
        t->buckets[b] = e;
        if (++t->count > 2 * (t->mask + 1))
                tab_grow(t);
        l->e = e;
        l->p = p;
        l->off = sl_log_start_offset(p->log);
        l->now_ms = now_ms;
        int rc = load_step(l);
        if (rc < 0) {
                *err = rc; /* load_end freed e */
                return NULL;
        }
        return e;
}

sl_producer_state *sl_producer_state_of(sl_partition *p, int64_t now_ms, int *err)
{
        *err = 0;
        pstate_table *t = table();
        if (!t) {
                *err = -ENOMEM;
                return NULL;
        }
        if (now_ms - t->last_sweep_ms >= SWEEP_EVERY_MS)
                sweep(t, now_ms);
        pstate_ent *e = ent_find(t, p);
        if (!e)
                e = load_start(t, p, now_ms, err);
        if (!e)
                return NULL;
        if (e->load || e->log != p->log) {
                *err = -EAGAIN; /* rebuilding on the I/O helper */
                return NULL;
        }
        return e->ps;
}

bool sl_producer_park(sl_partition *p, const uint8_t *records, size_t len, int64_t now_ms,
                      sl_producer_waiter *w)
{
        pstate_table *t = table();
        if (!t)
                return false;
        pstate_ent *e = ent_find(t, p);
        if (!e) {
                sl_producer_batch_info bi;
                if (len < 61 || sl_producer_batch_parse(records, len, &bi) < 0 ||
                    bi.producer_id < 0)
                        return false; /* no state needed */
                int err;
                e = load_start(t, p, now_ms, &err);
                if (!e)
                        return false; /* before_append reports the failure */
        }
        if (!e->load)
                return false;
        w->next = NULL;
        if (e->wait_tail)
                e->wait_tail->next = w;
        else
                e->wait_head = w;
        e->wait_tail = w;
        return true;
}

/* ---- Produce hooks ---- */

bool sl_producer_before_append(sl_partition *p, const uint8_t *records, size_t len, int64_t now_ms,
                               sl_producer_append *pa, sl_append_result *res)
{
        pa->ps = NULL;
        if (len < 61 || sl_producer_batch_parse(records, len, &pa->bi) < 0 ||
            pa->bi.producer_id < 0)
                return true; /* not idempotent (or malformed: the append says so) */
        int err;
        sl_producer_state *ps = sl_producer_state_of(p, now_ms, &err);
        *res = (sl_append_result){.base_offset = -1, .last_offset = -1, .log_append_time = -1};
        if (!ps) {
                res->error_code =
                    err == -ENOMEM ? KP_ERR_UNKNOWN_SERVER_ERROR : KP_ERR_KAFKA_STORAGE_ERROR;
                res->err = err;
                return false;
        }
        const sl_producer_batch *dup;
        int16_t code = sl_producer_state_check(ps, &pa->bi, &dup);
        if (code) {
                res->error_code = code;
                return false;
        }
        if (dup) {
                /* Kafka answers a duplicate with the original batch's offsets and
                 * its stored timestamp as the append time. */
                res->base_offset = dup->first_offset;
                res->last_offset = dup->last_offset;
                res->log_append_time = dup->timestamp;
                return false;
        }
        pa->ps = ps;
        pa->now_ms = now_ms;
        return true;
}

void sl_producer_after_append(sl_producer_append *pa, const uint8_t *records, size_t len,
                              const sl_append_result *res)
{
        if (!pa->ps || res->error_code)
                return;
        /* Re-read the header: offsets and (LogAppendTime) maxTimestamp are set now. */
        sl_producer_batch_info bi;
        if (sl_producer_batch_parse(records, len, &bi) < 0)
                return;
        if (sl_producer_state_update(pa->ps, &bi, pa->now_ms) < 0)
                SL_ERROR("producer %lld: out of memory recording a batch; a retry of it "
                         "would be appended again",
                         (long long)bi.producer_id);
}
