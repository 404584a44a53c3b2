/* broker/topics.h — the topic registry, and partitions on their owner shards.
 *
 * Shard 0 owns the registry: topic name, id (random UUIDv4, persisted), partition
 * count and config overrides (config/topic_config.h), stored as
 * `<data>/__topics/<name>.meta` (written to a temp file, fsynced, renamed,
 * directory fsynced; layout in topics_store.c) beside the partition
 * directories `<data>/<topic>-<partition>/` that storage/ manages. Every
 * change produces a new immutable snapshot that shard 0 sends to every shard;
 * a shard reads only its current snapshot (no locks, no mutable sharing) and
 * sends the old one home to shard 0, which frees it when all have let go.
 *
 * Changes (create, delete, add partitions) are asynchronous calls from any
 * shard: shard 0 validates, persists, has each owner shard open or close its
 * partition logs, installs the new snapshot everywhere, then calls op->done on
 * the calling shard — after the caller's own shard has the new snapshot, so a
 * client that creates then produces on the same connection finds the topic.
 * Once the broker is shutting down (phase CLOSE) a change not started yet is
 * answered NOT_CONTROLLER at once; one under way runs to its end.
 *
 * Partition state (sl_partition: the open log) lives only on the owner shard
 * (sl_shard_for_partition); look it up there with sl_partition_find(). */
#ifndef SL_TOPICS_H
#define SL_TOPICS_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "shard.h"
#include "topic_config.h"
#include "wire.h"

#define SL_TOPIC_NAME_MAX 249

/* A topic config override, Kafka's name and value ("retention.ms", "1000"). */
typedef struct sl_topic_kv {
        kp_str key;
        kp_str value;
} sl_topic_kv;

/* One topic in a snapshot. Immutable; name is NUL-terminated too. */
typedef struct sl_topic_info {
        kp_str name;
        kp_uuid id;
        int32_t partitions;
        bool internal;          /* name starts with "__" (e.g. __consumer_offsets) */
        sl_topic_config config; /* overrides; effective values: sl_topic_config_i64 */
} sl_topic_info;

/* A shard's view of all topics, sorted by name. */
typedef struct sl_topics_snap {
        uint64_t version; /* increases with every change */
        int32_t count;
        const sl_topic_info *topics;
} sl_topics_snap;

/* The calling shard's current snapshot (valid until this handler returns to
 * its loop; copy what must live longer). Never NULL once the broker runs. */
const sl_topics_snap *sl_topics_current(void);
const sl_topic_info *sl_topics_find(const sl_topics_snap *s, kp_str name);
const sl_topic_info *sl_topics_find_id(const sl_topics_snap *s, kp_uuid id);

/* Kafka's topic name rule: 1..249 chars of [a-zA-Z0-9._-], not "." or "..".
 * Returns 0 or KP_ERR_INVALID_TOPIC_EXCEPTION. */
int16_t sl_topic_name_check(kp_str name);

/* A registry change. The caller owns it and everything it points to until
 * done() runs on the calling shard. */
typedef struct sl_topic_op {
        /* in */
        kp_str name;                /* topic (delete: name or, if null, id) */
        kp_uuid id;                 /* delete by id when name.len < 0 */
        int32_t partitions;         /* create: count (<= 0: num.partitions); add: new total */
        const sl_topic_kv *configs; /* create: overrides */
        int32_t config_count;       /* entries in configs */
        bool validate_only;         /* check everything, change nothing */
        /* alter: runs on shard 0 with the topic's current overrides and edits
         * them in place; returns 0 or a Kafka code (text in message_buf). */
        int16_t (*edit_config)(struct sl_topic_op *op, sl_topic_config *config);
        void (*done)(struct sl_topic_op *op);
        void *arg;
        /* out */
        int16_t error;             /* Kafka code: 0, TOPIC_ALREADY_EXISTS, INVALID_* ... */
        const char *error_message; /* NULL, or text (points into message_buf or static) */
        char message_buf[160];
        kp_uuid out_id;         /* id of the created/deleted topic */
        int32_t out_partitions; /* partition count after the change */
        /* internal */
        sl_xcall x;
} sl_topic_op;

void sl_topics_create(sl_topic_op *op);
void sl_topics_delete(sl_topic_op *op);
void sl_topics_add_partitions(sl_topic_op *op);
/* Replaces a topic's config overrides with what op->edit_config makes of
 * them (run against the registry's copy, so concurrent alters never lose an
 * update): persisted, installed everywhere, then each owner shard applies
 * the new settings to its open logs before done() runs. */
void sl_topics_alter_config(sl_topic_op *op);

/* A partition on its owner shard. Owned by that shard; other modules may add
 * their per-partition state here (producer state, fetch waiters...). */
typedef struct sl_partition {
        kp_uuid topic_id;
        int32_t index;
        char *topic_name;     /* NUL-terminated copy */
        struct sl_log *log;   /* open storage log */
        int32_t leader_epoch; /* single node: 0, leadership never moves */
        /* group commit (partition.c), owner shard only */
        bool sync_queued;                 /* on the shard's dirty list */
        uint8_t sync_running;             /* its jobs on the disk helpers (0-2) */
        struct sl_sync_waiter *sync_wait; /* waiting for the next sync */
        struct sl_sync_waiter *sync_tail;
        bool close_pending; /* closed while syncing or pinned: finish afterwards */
        bool remove_pending;
        /* Fetch ranges of this log not yet released by the connection shards
         * (fetch_owner.c): while > 0 the segment fds may be under sendfile, so
         * a deleted topic's log closes only when the last one comes back. */
        int32_t read_pins;
        char *gone_dir;                  /* a deleted partition's directory, renamed aside */
        struct sl_part_clean *clean;     /* compaction state (partition_clean.c), or NULL */
        struct sl_partition *dirty_next; /* shard's list of partitions to sync */
        struct sl_partition *hash_next;  /* shard's partition table chain */
} sl_partition;

/* The partition on the calling shard, or NULL (not owned here / not open). */
sl_partition *sl_partition_find(kp_uuid topic_id, int32_t index);
/* n fetch ranges of p came back from the connection shards (owner shard). */
void sl_partition_unpinned(sl_partition *p, int n);

/* Group commit: call after appending to p->log; cb runs on this shard once
 * every byte appended before the call is durable (err 0) or the sync failed
 * (err < 0: the log then latches and answers KAFKA_STORAGE_ERROR, see
 * storage/log.h; -ECANCELED if the partition was deleted meanwhile). All
 * waiters of a loop turn share one fdatasync per log, run on the shard's I/O
 * helper thread, never on the reactor; callbacks fire in arrival order. */
typedef struct sl_sync_waiter {
        void (*cb)(struct sl_sync_waiter *w, int err);
        void *arg;
        struct sl_sync_waiter *next;
} sl_sync_waiter;
void sl_partition_sync_wait(sl_partition *p, sl_sync_waiter *w);

#endif
