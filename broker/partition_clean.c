/* broker/partition_clean.c — compaction of a shard's partitions: when to
 * clean, and the cleaner thread (see partition_clean.h).
 *
 * Every maintenance tick (1 s) a partition whose topic has cleanup.policy
 * containing compact is looked at once per log.cleaner.backoff.ms (15 s,
 * Kafka's default): sl_clean_prepare decides from min.cleanable.dirty.ratio,
 * min.compaction.lag.ms and the durable end (sl_log_flushed_offset: only acked
 * data is ever rewritten). A job is handed to a thread created for it (a rare
 * event: one thread per cleaning, joined at completion); the thread sets an
 * atomic flag when done and the next tick completes the job on the shard
 * (the swap), so no cross-thread message machinery is needed. Closing the
 * partition (topic deletion, shutdown) cancels a running job and joins it. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "log.h"
#include "partition_clean.h"

#define SL_CLEANER_BACKOFF_MS 15000 /* log.cleaner.backoff.ms */
/* Offset map memory per cleaning (one per shard at a time): 24 MiB of slots,
 * ~940k distinct keys per dirty segment (Kafka: log.cleaner.dedupe.buffer.size,
 * 128 MiB shared by the cleaner threads). */
#define SL_CLEANER_DEDUPE (32u << 20)

typedef struct sl_part_clean {
        int64_t next_look_ms; /* backoff */
        sl_clean_job *job;    /* running, or NULL */
        pthread_t thread;
        atomic_int done; /* the thread finished job_run */
        int rc;          /* its result */
} sl_part_clean;

/* Cleanings running on this shard (one at a time). */
static _Thread_local int shard_running;

static void *cleaner_main(void *arg)
{
        sl_part_clean *c = arg;
        c->rc = sl_clean_job_run(c->job);
        atomic_store(&c->done, 1);
        return NULL;
}

/* The last close of the replaced segments frees their blocks and page cache:
 * off the shard. */
static void *free_main(void *arg)
{
        sl_clean_job_free(arg);
        return NULL;
}

static void free_job_elsewhere(sl_clean_job *job)
{
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, free_main, job) != 0)
                sl_clean_job_free(job);
        pthread_attr_destroy(&a);
}

static void finish(sl_partition *p, sl_part_clean *c, int64_t now_ms)
{
        pthread_join(c->thread, NULL);
        sl_clean_stats st;
        int rc = sl_clean_complete(p->log, c->job, c->rc, &st);
        free_job_elsewhere(c->job);
        c->job = NULL;
        shard_running--;
        c->next_look_ms = now_ms + SL_CLEANER_BACKOFF_MS;
        if (rc < 0 && rc != -ECANCELED)
                SL_WARN("%s-%d: compaction: %s", p->topic_name, p->index, sl_log_strerror(rc));
        else if (rc == 0 && st.segments_in > 0)
                SL_INFO("%s-%d: compacted offsets %lld..%lld: %lld segments (%lld bytes) -> "
                        "%lld (%lld bytes), %lld records dropped, %lld tombstones",
                        p->topic_name, p->index, (long long)st.first_dirty, (long long)st.end,
                        (long long)st.segments_in, (long long)st.bytes_in,
                        (long long)st.segments_out, (long long)st.bytes_out,
                        (long long)st.records_dropped, (long long)st.tombstones_dropped);
}

static bool config_of(sl_shard *s, const sl_partition *p, sl_clean_config *cc)
{
        const sl_topic_info *t = s->topics ? sl_topics_find_id(s->topics, p->topic_id) : NULL;
        if (!t)
                return false;
        const sl_config *b = sl_shard_config();
        if (!(sl_topic_config_i64(&t->config, b, SL_TOPIC_CLEANUP_POLICY) & SL_CLEANUP_COMPACT))
                return false;
        *cc = sl_clean_config_default();
        cc->min_cleanable_dirty_ratio =
            sl_topic_config_double(&t->config, b, SL_TOPIC_MIN_CLEANABLE_DIRTY_RATIO);
        cc->min_compaction_lag_ms =
            sl_topic_config_i64(&t->config, b, SL_TOPIC_MIN_COMPACTION_LAG_MS);
        cc->delete_retention_ms = sl_topic_config_i64(&t->config, b, SL_TOPIC_DELETE_RETENTION_MS);
        cc->max_compaction_lag_ms =
            sl_topic_config_i64(&t->config, b, SL_TOPIC_MAX_COMPACTION_LAG_MS);
        cc->max_offset = sl_log_flushed_offset(p->log);
        cc->dedupe_bytes = SL_CLEANER_DEDUPE;
        return true;
}

void sl_partition_clean_tick(sl_shard *s, sl_partition *p, int64_t now_ms)
{
        sl_part_clean *c = p->clean;
        if (!c) {
                c = p->clean = calloc(1, sizeof(*c));
                if (!c)
                        return;
        }
        if (c->job) {
                if (atomic_load(&c->done))
                        finish(p, c, now_ms);
                return;
        }
        if (now_ms < c->next_look_ms)
                return;
        /* The topic's policy and settings are looked up once per backoff. */
        c->next_look_ms = now_ms + SL_CLEANER_BACKOFF_MS;
        sl_clean_config cc;
        if (shard_running > 0 || !config_of(s, p, &cc))
                return;
        sl_clean_job *job;
        int rc = sl_clean_prepare(p->log, &cc, now_ms, &job);
        if (rc <= 0) {
                if (rc < 0 && rc != SL_EFATAL)
                        SL_WARN("%s-%d: compaction: %s", p->topic_name, p->index,
                                sl_log_strerror(rc));
                return;
        }
        c->job = job;
        c->rc = 0;
        atomic_store(&c->done, 0);
        if (pthread_create(&c->thread, NULL, cleaner_main, c) != 0) {
                sl_clean_complete(p->log, job, -EAGAIN, NULL);
                sl_clean_job_free(job);
                c->job = NULL;
                return;
        }
        shard_running++;
}

bool sl_partition_policy_delete(sl_shard *s, const sl_partition *p)
{
        const sl_topic_info *t = s->topics ? sl_topics_find_id(s->topics, p->topic_id) : NULL;
        if (!t)
                return true;
        return (sl_topic_config_i64(&t->config, sl_shard_config(), SL_TOPIC_CLEANUP_POLICY) &
                SL_CLEANUP_DELETE) != 0;
}

void sl_partition_clean_stop(sl_partition *p)
{
        sl_part_clean *c = p->clean;
        if (!c)
                return;
        if (c->job) {
                sl_clean_job_cancel(c->job);
                finish(p, c, 0);
        }
        free(c);
        p->clean = NULL;
}
