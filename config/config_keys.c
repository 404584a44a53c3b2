/* config/config_keys.c — the table of broker keys: name, validator, where the
 * value lives in sl_config, default, Kafka type, whether AlterConfigs may
 * change it, and documentation. Defaults, the YAML loader, flags, help text
 * and DescribeConfigs(BROKER) all read this one table, so a key is added in
 * exactly one place. Kafka's names and defaults are used where Kafka has the
 * key; cores, connection.max.unanswered.bytes, admin.listen, network.backend
 * and log.level are SerpentLog's own. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"
#include "kafka_errors.h"

#define I32MAX INT32_MAX
#define I64MAX INT64_MAX
#define INTV(lo, hi, u)                                                                            \
        {                                                                                          \
                .kind = CK_INT, .unit = (u), .min = (lo), .max = (hi)                              \
        }
#define ENUMV(kd, n)                                                                               \
        {                                                                                          \
                .kind = (kd), .names = (n)                                                         \
        }
#define BOOLV                                                                                      \
        {                                                                                          \
                .kind = CK_BOOL                                                                    \
        }
#define ADDRV(m)                                                                                   \
        {                                                                                          \
                .kind = CK_ADDR, .min = (m)                                                        \
        }
#define AT(store, f) (store), offsetof(sl_config, f), sizeof(((sl_config *)0)->f)

static const char *const backend_names[] = {"kernel", "dpdk", NULL};
static const char *const fetch_send_names[] = {"auto", "sendfile", "copy", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", "trace", NULL};
const char *const cfg_compression_names[] = {"producer", "uncompressed", "gzip", "snappy",
                                             "lz4",      "zstd",         NULL};
static const char *const assignor_names[] = {"uniform", "range", NULL};
const char *const cfg_ts_names[] = {"CreateTime", "LogAppendTime", NULL};
const char *const cfg_cleanup_names[] = {"delete", "compact", NULL};

/* Order = DescribeConfigs order = help order; source[] is indexed by it. */
const cfg_key cfg_keys[] = {
    {"node.id", INTV(0, I32MAX, CU_NONE), AT(ST_I64, node_id), "0", SL_CONFIG_TYPE_INT, false, NULL,
     "Broker id, unique in the cluster."},
    {"cluster.id",
     {.kind = CK_STR, .id_chars = true, .min = 0, .max = SL_CONFIG_ID_MAX - 1},
     AT(ST_STR, cluster_id),
     "",
     SL_CONFIG_TYPE_STRING,
     false,
     NULL,
     "Cluster id; empty: generated at first start and kept in data.dir."},
    {"listen", ADDRV(0), AT(ST_STR, listen), "127.0.0.1:9092", SL_CONFIG_TYPE_STRING, false,
     "--listen", "Address the Kafka listener binds (port 0: any free port)."},
    {"advertised.listen", ADDRV(1), AT(ST_STR, advertised_listen), "", SL_CONFIG_TYPE_STRING, false,
     "--advertised", "Address given to clients in Metadata; empty: listen."},
    {"admin.listen", ADDRV(2), AT(ST_STR, admin_listen), "127.0.0.1:9644", SL_CONFIG_TYPE_STRING,
     false, NULL, "HTTP address serving /metrics, /health and /ready; off: disabled."},
    {"data.dir",
     {.kind = CK_STR, .min = 1, .max = SL_CONFIG_PATH_MAX - 1},
     AT(ST_STR, data_dir),
     "./serpentlog-data",
     SL_CONFIG_TYPE_STRING,
     false,
     "--data-dir",
     "Directory of all partition logs and metadata (Kafka: log.dirs)."},
    {"cores", INTV(1, 1024, CU_NONE), AT(ST_I64, cores), NULL, SL_CONFIG_TYPE_INT, false, "--cores",
     "Shards: one pinned thread each, each owning a share of the partitions."},
    {"network.backend", ENUMV(CK_ENUM, backend_names), AT(ST_INT, network_backend), "kernel",
     SL_CONFIG_TYPE_STRING, false, NULL,
     "kernel: epoll sockets; dpdk: userspace TCP (needs a DPDK build)."},
    {"fetch.send.mode", ENUMV(CK_ENUM, fetch_send_names), AT(ST_INT, fetch_send_mode), "auto",
     SL_CONFIG_TYPE_STRING, false, NULL,
     "How Fetch sends record bytes: sendfile (no copy in the broker), copy (through a "
     "buffer), auto: copy to clients on this host (loopback), sendfile to the rest."},
    {"log.level", ENUMV(CK_ENUM, level_names), AT(ST_INT, log_level), "info", SL_CONFIG_TYPE_STRING,
     true, NULL, "Least severe level written to stderr."},
    {"num.partitions", INTV(1, I32MAX, CU_NONE), AT(ST_I64, num_partitions), "1",
     SL_CONFIG_TYPE_INT, false, NULL, "Partitions of an auto-created topic."},
    {"default.replication.factor", INTV(1, 32767, CU_NONE), AT(ST_I64, default_replication_factor),
     "1", SL_CONFIG_TYPE_INT, false, NULL, "Replicas of an auto-created topic."},
    {"auto.create.topics.enable", BOOLV, AT(ST_BOOL, auto_create_topics_enable), "true",
     SL_CONFIG_TYPE_BOOLEAN, false, NULL,
     "Create a topic when Metadata or Produce names one that does not exist."},
    {"delete.topic.enable", BOOLV, AT(ST_BOOL, delete_topic_enable), "true", SL_CONFIG_TYPE_BOOLEAN,
     false, NULL, "Allow DeleteTopics (false: TOPIC_DELETION_DISABLED)."},
    {"socket.request.max.bytes", INTV(1, I32MAX, CU_BYTES), AT(ST_I64, socket_request_max_bytes),
     "104857600", SL_CONFIG_TYPE_INT, false, NULL,
     "Largest request frame; a bigger size prefix closes the connection."},
    {"max.connections", INTV(1, I32MAX, CU_NONE), AT(ST_I64, max_connections), "10000",
     SL_CONFIG_TYPE_INT, true, NULL, "Open client connections per broker; more are refused."},
    {"connection.max.unanswered.bytes", INTV(1, I64MAX, CU_BYTES),
     AT(ST_I64, connection_max_unanswered_bytes), "67108864", SL_CONFIG_TYPE_LONG, false, NULL,
     "Request bytes read but not yet answered on one connection before it stops being read "
     "(one request is always accepted)."},
    {"message.max.bytes", INTV(0, I32MAX, CU_BYTES), AT(ST_I64, message_max_bytes), "1048588",
     SL_CONFIG_TYPE_INT, true, NULL,
     "Largest record batch accepted (default of topic max.message.bytes)."},
    {"compression.type", ENUMV(CK_ENUM, cfg_compression_names), AT(ST_INT, compression_type),
     "producer", SL_CONFIG_TYPE_STRING, true, NULL,
     "Codec of stored batches; producer keeps what was sent."},
    {"min.insync.replicas", INTV(1, I32MAX, CU_NONE), AT(ST_I64, min_insync_replicas), "1",
     SL_CONFIG_TYPE_INT, true, NULL, "Replicas that must have an acks=all write."},
    {"log.segment.bytes", INTV(14, I32MAX, CU_BYTES), AT(ST_I64, log_segment_bytes), "1073741824",
     SL_CONFIG_TYPE_INT, true, NULL, "Segment size that triggers a roll."},
    {"log.roll.ms", INTV(1, I64MAX, CU_MS), AT(ST_I64, log_roll_ms), "604800000",
     SL_CONFIG_TYPE_LONG, true, NULL, "Segment age that triggers a roll."},
    {"log.retention.ms", INTV(-1, I64MAX, CU_MS), AT(ST_I64, log_retention_ms), "604800000",
     SL_CONFIG_TYPE_LONG, true, NULL, "Delete segments older than this; -1: keep forever."},
    {"log.retention.bytes", INTV(-1, I64MAX, CU_BYTES), AT(ST_I64, log_retention_bytes), "-1",
     SL_CONFIG_TYPE_LONG, true, NULL,
     "Delete oldest segments while a partition is larger; -1: no limit."},
    {"log.index.interval.bytes", INTV(0, I32MAX, CU_BYTES), AT(ST_I64, log_index_interval_bytes),
     "4096", SL_CONFIG_TYPE_INT, true, NULL, "Log bytes between offset index entries."},
    {"log.flush.interval.messages", INTV(1, I64MAX, CU_NONE),
     AT(ST_I64, log_flush_interval_messages), "9223372036854775807", SL_CONFIG_TYPE_LONG, true,
     NULL, "Force an fsync after this many messages (acks=all is synced regardless)."},
    {"log.flush.interval.ms", INTV(0, I64MAX, CU_MS), AT(ST_I64, log_flush_interval_ms),
     "9223372036854775807", SL_CONFIG_TYPE_LONG, true, NULL,
     "Force an fsync when unsynced data is this old (acks=all is synced regardless)."},
    {"log.message.timestamp.type", ENUMV(CK_ENUM, cfg_ts_names),
     AT(ST_INT, log_message_timestamp_type), "CreateTime", SL_CONFIG_TYPE_STRING, true, NULL,
     "CreateTime keeps the producer's timestamp; LogAppendTime stamps the broker's."},
    {"log.cleanup.policy", ENUMV(CK_LIST, cfg_cleanup_names), AT(ST_INT, log_cleanup_policy),
     "delete", SL_CONFIG_TYPE_LIST, true, NULL,
     "delete (by retention), compact (last record per key), or both."},
    {"log.page.cache.retain.bytes", INTV(0, I64MAX, CU_BYTES),
     AT(ST_I64, log_page_cache_retain_bytes), "67108864", SL_CONFIG_TYPE_LONG, false, NULL,
     "Newest bytes of each partition kept in the page cache; older written-back data is "
     "dropped from it (0: never drop)."},
    {"offsets.topic.num.partitions", INTV(1, I32MAX, CU_NONE),
     AT(ST_I64, offsets_topic_num_partitions), "50", SL_CONFIG_TYPE_INT, false, NULL,
     "Partitions of __consumer_offsets (fixed once it exists)."},
    {"group.initial.rebalance.delay.ms", INTV(0, I32MAX, CU_MS),
     AT(ST_I64, group_initial_rebalance_delay_ms), "3000", SL_CONFIG_TYPE_INT, false, NULL,
     "Wait for more members before the first rebalance of an empty group."},
    {"group.min.session.timeout.ms", INTV(0, I32MAX, CU_MS),
     AT(ST_I64, group_min_session_timeout_ms), "6000", SL_CONFIG_TYPE_INT, false, NULL,
     "Smallest session timeout a consumer may ask for."},
    {"group.max.session.timeout.ms", INTV(0, I32MAX, CU_MS),
     AT(ST_I64, group_max_session_timeout_ms), "1800000", SL_CONFIG_TYPE_INT, false, NULL,
     "Largest session timeout a consumer may ask for."},
    {"group.max.size", INTV(1, I32MAX, CU_NONE), AT(ST_I64, group_max_size), "2147483647",
     SL_CONFIG_TYPE_INT, false, NULL,
     "Members of one consumer group; a join beyond it gets GROUP_MAX_SIZE_REACHED."},
    {"offsets.retention.minutes", INTV(1, I32MAX, CU_NONE), AT(ST_I64, offsets_retention_minutes),
     "10080", SL_CONFIG_TYPE_INT, false, NULL,
     "Committed offsets of a group that has been empty this long are deleted."},
    {"offset.metadata.max.bytes", INTV(0, I32MAX, CU_BYTES), AT(ST_I64, offset_metadata_max_bytes),
     "4096", SL_CONFIG_TYPE_INT, false, NULL,
     "Largest metadata string of one committed offset (OFFSET_METADATA_TOO_LARGE beyond)."},
    {"group.consumer.heartbeat.interval.ms", INTV(1, I32MAX, CU_MS),
     AT(ST_I64, group_consumer_heartbeat_interval_ms), "5000", SL_CONFIG_TYPE_INT, false, NULL,
     "How often members of a KIP-848 consumer group heartbeat (told in every answer)."},
    {"group.consumer.session.timeout.ms", INTV(1, I32MAX, CU_MS),
     AT(ST_I64, group_consumer_session_timeout_ms), "45000", SL_CONFIG_TYPE_INT, false, NULL,
     "A KIP-848 consumer group member silent this long is removed from its group."},
    {"group.consumer.assignors", ENUMV(CK_LIST, assignor_names),
     AT(ST_INT, group_consumer_assignors), "uniform,range", SL_CONFIG_TYPE_LIST, false, NULL,
     "Server-side assignors of KIP-848 consumer groups; uniform is the default when enabled."},
    {"group.consumer.max.size", INTV(1, I32MAX, CU_NONE), AT(ST_I64, group_consumer_max_size),
     "2147483647", SL_CONFIG_TYPE_INT, false, NULL,
     "Members of one KIP-848 consumer group; a join beyond it gets GROUP_MAX_SIZE_REACHED."},
};
const size_t cfg_nkeys = sizeof(cfg_keys) / sizeof(cfg_keys[0]);
_Static_assert(sizeof(cfg_keys) / sizeof(cfg_keys[0]) <= SL_CONFIG_MAX_KEYS,
               "sl_config.source[] too small");

int cfg_key_find(const char *name)
{
        for (size_t i = 0; i < cfg_nkeys; i++) {
                if (strcmp(cfg_keys[i].name, name) == 0)
                        return (int)i;
        }
        return -1;
}

int cfg_key_apply(sl_config *cfg, size_t idx, const char *text, char *why, size_t whylen)
{
        const cfg_key *k = &cfg_keys[idx];
        char *field = (char *)cfg + k->offset;
        cfg_val v;
        int rc = cfg_parse(&k->spec, text, &v, why, whylen);
        if (rc != 0)
                return rc;
        switch (k->store) {
        case ST_I64:
                memcpy(field, &v.i, sizeof(int64_t));
                break;
        case ST_BOOL:
                *(bool *)field = v.i != 0;
                break;
        case ST_INT:
                *(int *)field = (int)v.i;
                break;
        case ST_STR:
                /* zero-filled, so equal configs compare equal with memcmp */
                memset(field, 0, k->size);
                memcpy(field, v.s, strlen(v.s)); /* length < size: checked by the spec */
                break;
        }
        return 0;
}

int64_t cfg_key_i64(const sl_config *cfg, size_t idx)
{
        const cfg_key *k = &cfg_keys[idx];
        const char *field = (const char *)cfg + k->offset;
        int64_t v = 0;
        if (k->store == ST_I64)
                memcpy(&v, field, sizeof(v));
        else if (k->store == ST_BOOL)
                v = *(const bool *)field;
        else if (k->store == ST_INT)
                v = *(const int *)field;
        return v;
}

const char *cfg_key_text(const sl_config *cfg, size_t idx, char *buf, size_t buflen)
{
        const cfg_key *k = &cfg_keys[idx];
        if (k->store == ST_STR)
                return (const char *)cfg + k->offset;
        cfg_val v = {.i = cfg_key_i64(cfg, idx)};
        return cfg_format(&k->spec, &v, buf, buflen);
}

void cfg_key_copy(sl_config *dst, const sl_config *src, size_t idx)
{
        const cfg_key *k = &cfg_keys[idx];
        memcpy((char *)dst + k->offset, (const char *)src + k->offset, k->size);
        dst->source[idx] = src->source[idx];
}

void sl_config_defaults(sl_config *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        for (size_t i = 0; i < cfg_nkeys; i++) {
                cfg->source[i] = SL_CONFIG_SOURCE_DEFAULT;
                if (cfg_keys[i].def)
                        cfg_key_apply(cfg, i, cfg_keys[i].def, NULL, 0); /* tested to parse */
        }
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->cores = n < 1 ? 1 : n > 1024 ? 1024 : n;
}

int sl_config_set(sl_config *cfg, const char *key, const char *value, const char *origin, char *err,
                  size_t errlen)
{
        char why[256];
        int idx = cfg_key_find(key);
        if (idx < 0) {
                cfg_errf(err, errlen, "%s: %s: unknown key", origin, key);
                return -EINVAL;
        }
        if (cfg_key_apply(cfg, (size_t)idx, value, why, sizeof(why)) != 0) {
                cfg_errf(err, errlen, "%s: %s: %s", origin, key, why);
                return -EINVAL;
        }
        cfg->source[idx] = SL_CONFIG_SOURCE_STATIC_BROKER;
        return 0;
}

size_t sl_config_key_count(void)
{
        return cfg_nkeys;
}

void sl_config_describe(const sl_config *cfg, size_t idx, sl_config_entry *out)
{
        const cfg_key *k = &cfg_keys[idx];
        memset(out, 0, sizeof(*out));
        out->name = k->name;
        out->value = cfg_key_text(cfg, idx, out->buf, sizeof(out->buf));
        out->doc = k->doc;
        out->source = (int8_t)cfg->source[idx];
        out->type = k->kafka_type;
        out->read_only = !k->dynamic;
}

int16_t sl_config_alter(sl_config *cfg, const sl_config *static_cfg, const char *key,
                        const char *value, char *err, size_t errlen)
{
        char why[256];
        int idx = cfg_key_find(key);
        if (idx < 0) {
                cfg_errf(err, errlen, "%s: unknown broker config", key);
                return KP_ERR_INVALID_CONFIG;
        }
        if (!cfg_keys[idx].dynamic) {
                cfg_errf(err, errlen, "%s: cannot be updated dynamically (read-only)", key);
                return KP_ERR_INVALID_CONFIG;
        }
        if (!value) {
                cfg_key_copy(cfg, static_cfg, (size_t)idx);
                return KP_ERR_NONE;
        }
        if (cfg_key_apply(cfg, (size_t)idx, value, why, sizeof(why)) != 0) {
                cfg_errf(err, errlen, "%s: %s", key, why);
                return KP_ERR_INVALID_CONFIG;
        }
        cfg->source[idx] = SL_CONFIG_SOURCE_DYNAMIC_BROKER;
        return KP_ERR_NONE;
}
