/* config/topic_config.h — Kafka's per-topic configs (retention.ms,
 * segment.bytes, cleanup.policy, ...): names, types, validators, defaults taken
 * from the broker config, and a small value type holding one topic's overrides.
 * CreateTopics/AlterConfigs handlers call sl_topic_config_set; DescribeConfigs
 * iterates with sl_topic_config_describe; storage reads effective values with
 * sl_topic_config_i64. Overrides persist as `name=value` lines in a file in the
 * topic's directory (sl_topic_config_save/load). Not used per record. */
#ifndef SL_TOPIC_CONFIG_H
#define SL_TOPIC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Keys, in DescribeConfigs order (alphabetical, as Kafka lists them). */
enum sl_topic_key {
        SL_TOPIC_CLEANUP_POLICY,   /* mask of enum sl_cleanup_policy */
        SL_TOPIC_COMPRESSION_TYPE, /* enum sl_compression */
        SL_TOPIC_DELETE_RETENTION_MS,
        SL_TOPIC_FILE_DELETE_DELAY_MS,
        SL_TOPIC_FLUSH_MESSAGES,
        SL_TOPIC_FLUSH_MS,
        SL_TOPIC_INDEX_INTERVAL_BYTES,
        SL_TOPIC_LOCAL_RETENTION_BYTES,
        SL_TOPIC_LOCAL_RETENTION_MS,
        SL_TOPIC_MAX_COMPACTION_LAG_MS,
        SL_TOPIC_MAX_MESSAGE_BYTES,
        SL_TOPIC_MESSAGE_DOWNCONVERSION_ENABLE, /* bool as 0/1 */
        SL_TOPIC_MESSAGE_TIMESTAMP_AFTER_MAX_MS,
        SL_TOPIC_MESSAGE_TIMESTAMP_BEFORE_MAX_MS,
        SL_TOPIC_MESSAGE_TIMESTAMP_TYPE,    /* enum sl_timestamp_type */
        SL_TOPIC_MIN_CLEANABLE_DIRTY_RATIO, /* double: use sl_topic_config_double */
        SL_TOPIC_MIN_COMPACTION_LAG_MS,
        SL_TOPIC_MIN_INSYNC_REPLICAS,
        SL_TOPIC_PREALLOCATE,           /* bool as 0/1 */
        SL_TOPIC_REMOTE_STORAGE_ENABLE, /* bool; only false is accepted */
        SL_TOPIC_RETENTION_BYTES,
        SL_TOPIC_RETENTION_MS,
        SL_TOPIC_SEGMENT_BYTES,
        SL_TOPIC_SEGMENT_INDEX_BYTES,
        SL_TOPIC_SEGMENT_JITTER_MS,
        SL_TOPIC_SEGMENT_MS,
        SL_TOPIC_UNCLEAN_LEADER_ELECTION_ENABLE, /* bool as 0/1 */
        SL_TOPIC_KEY_COUNT
};

/* One topic's overrides (DYNAMIC_TOPIC_CONFIG). Zero-initialise or call
 * sl_topic_config_init: no overrides. A value type; owned by the partition's
 * owner shard or the controller, copied freely. */
typedef struct sl_topic_config {
        uint64_t set;                    /* bit k: key k overridden */
        int64_t i64[SL_TOPIC_KEY_COUNT]; /* ints, bools (0/1), enums, masks */
        double dbl[SL_TOPIC_KEY_COUNT];  /* only for DOUBLE keys */
} sl_topic_config;

void sl_topic_config_init(sl_topic_config *tc);

/* Key id of a Kafka topic config name, or -1 if unknown. */
int sl_topic_config_key(const char *name);
const char *sl_topic_config_name(enum sl_topic_key key);

/* Validate and set an override. Returns KP_ERR_NONE or KP_ERR_INVALID_CONFIG
 * (Kafka answers INVALID_CONFIG for unknown names and bad values alike); err
 * gets e.g. `retention.ms: expected an integer >= -1, got "x"`. tc is
 * unchanged on error, so a handler can validate a whole request first. */
int16_t sl_topic_config_set(sl_topic_config *tc, const char *name, const char *value, char *err,
                            size_t errlen);

/* Remove an override (IncrementalAlterConfigs DELETE). Unknown name:
 * KP_ERR_INVALID_CONFIG; a name that was not overridden: KP_ERR_NONE. */
int16_t sl_topic_config_delete(sl_topic_config *tc, const char *name, char *err, size_t errlen);

bool sl_topic_config_is_set(const sl_topic_config *tc, enum sl_topic_key key);

/* Effective value: the override, else the broker key that supplies the
 * default (retention.ms <- log.retention.ms), else Kafka's default. */
int64_t sl_topic_config_i64(const sl_topic_config *tc, const sl_config *broker,
                            enum sl_topic_key key);
double sl_topic_config_double(const sl_topic_config *tc, const sl_config *broker,
                              enum sl_topic_key key);
/* Effective value as Kafka's text ("compact,delete", "CreateTime", "true"). */
const char *sl_topic_config_text(const sl_topic_config *tc, const sl_config *broker,
                                 enum sl_topic_key key, char *buf, size_t buflen);

/* DescribeConfigs(TOPIC) row for key idx (0..SL_TOPIC_KEY_COUNT-1) with the
 * effective value, its source (TOPIC, STATIC_BROKER, DYNAMIC_BROKER or
 * DEFAULT), type, synonym and documentation. */
void sl_topic_config_describe(const sl_topic_config *tc, const sl_config *broker, size_t idx,
                              sl_config_entry *out);

/* Overrides as `name=value\n` lines, sorted by name. Returns the length
 * needed excluding the NUL (like snprintf); output is truncated if larger. */
size_t sl_topic_config_format(const sl_topic_config *tc, char *buf, size_t buflen);

/* Parse `name=value` lines ('#' comments and blank lines allowed) into tc,
 * replacing its overrides. `origin` names the source in errors
 * ("origin:line: ..."). 0 or -EINVAL; tc unchanged on error. */
int sl_topic_config_parse(sl_topic_config *tc, const char *origin, const char *text, size_t len,
                          char *err, size_t errlen);

/* File wrappers. save writes path.tmp, fsyncs, renames over path and fsyncs
 * the directory. load of a missing file gives no overrides and returns 0.
 * 0, -EINVAL (bad content) or -errno. */
int sl_topic_config_save(const sl_topic_config *tc, const char *path, char *err, size_t errlen);
int sl_topic_config_load(sl_topic_config *tc, const char *path, char *err, size_t errlen);

#endif
