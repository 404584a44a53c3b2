/* broker/partition_sync.c — runs one group commit's fdatasync jobs in
 * parallel, on the shard's I/O helper thread plus short-lived helpers.
 *
 * Why: every partition has its own segment file, so a group commit that
 * covers k partitions needs k fdatasyncs. Run one after another they cost k
 * journal commits (measured here on ext4/virtio: 3 files 8.5 ms p50 serial,
 * 0.5 ms p50 concurrent, because jbd2 folds concurrent waiters into one
 * commit). acks=-1 latency is the time of that whole batch, so this is what
 * keeps it near a single fdatasync. Threads are created per batch (tens of
 * microseconds, against milliseconds of fdatasync) and never touch shard
 * state: each only calls sl_sync_job_run and stores its result. */
#include <pthread.h>

#include "partition_ops.h"

#define SYNC_THREADS_MAX 8 /* concurrent fdatasyncs per shard batch */

typedef struct sync_worker {
        sl_partition **parts;
        uint32_t n;
        uint32_t first; /* this worker runs parts first, first + stride, ... */
        uint32_t stride;
        pthread_t thread;
        bool started;
} sync_worker;

static void *sync_worker_run(void *arg)
{
        sync_worker *w = arg;
        for (uint32_t i = w->first; i < w->n; i += w->stride) {
                sl_partition *p = w->parts[i];
                p->sync_rc = sl_sync_job_run(&p->sync_job);
        }
        return NULL;
}

void sl_partitions_sync_run(sl_partition **parts, uint32_t n)
{
        uint32_t t = n < SYNC_THREADS_MAX ? n : SYNC_THREADS_MAX;
        if (t <= 1) {
                sync_worker w = {.parts = parts, .n = n, .first = 0, .stride = 1};
                sync_worker_run(&w);
                return;
        }
        sync_worker w[SYNC_THREADS_MAX];
        for (uint32_t k = 0; k < t; k++)
                w[k] = (sync_worker){.parts = parts, .n = n, .first = k, .stride = t};
        /* Worker 0 runs here; the others on helpers (inline if none starts). */
        for (uint32_t k = 1; k < t; k++)
                w[k].started = pthread_create(&w[k].thread, NULL, sync_worker_run, &w[k]) == 0;
        sync_worker_run(&w[0]);
        for (uint32_t k = 1; k < t; k++) {
                if (w[k].started)
                        pthread_join(w[k].thread, NULL);
                else
                        sync_worker_run(&w[k]);
        }
}
