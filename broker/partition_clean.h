/* broker/partition_clean.h — log compaction of the partitions a shard owns
 * (cleanup.policy=compact), driven by the shard's maintenance tick.
 *
 * The cleaning itself (storage/log.h, sl_clean_*) runs on a cleaner thread
 * of its own, not on the shard's I/O helper (whose fdatasyncs acks=-1
 * producers wait for) and not on the reactor: prepare and complete (the
 * swap: renames, unlinks, two directory fsyncs) run on the shard. At most one
 * cleaning per shard at a time (Kafka's log.cleaner.threads = 1 per broker). */
#ifndef SL_PARTITION_CLEAN_H
#define SL_PARTITION_CLEAN_H

#include <stdbool.h>
#include <stdint.h>

struct sl_shard;
struct sl_partition;

/* Maintenance tick (owner shard): completes p's finished cleaning, or starts
 * one when p's topic has cleanup.policy compact, log.cleaner.backoff.ms has
 * passed since the last look and the log has enough dirty bytes. */
void sl_partition_clean_tick(struct sl_shard *s, struct sl_partition *p, int64_t now_ms);
/* Before p's log closes (owner shard): stops a running cleaning (its output is
 * discarded; the log is unchanged) and frees the cleaning state. */
void sl_partition_clean_stop(struct sl_partition *p);
/* True unless p's topic has a cleanup.policy without delete (compact only):
 * retention.ms / retention.bytes then delete nothing, as in Kafka. */
bool sl_partition_policy_delete(struct sl_shard *s, const struct sl_partition *p);

#endif
